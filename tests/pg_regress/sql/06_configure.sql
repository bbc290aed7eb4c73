-- Configuring a real schema. The crm tables are unlike the guide's: another schema, other table
-- and column names, integer ids, a boolean soft delete (and none at all for companies), plan and
-- role names of their own, passwords hashed by several frameworks, and dirty rows.
-- Everything is configured in SQL; every legacy row ends up migrated or accounted for.
\i fixtures/legacy.sql
\set ECHO none
\i fixtures/crm_schema.sql
\i fixtures/crm_data.sql
\set ECHO all
CREATE EXTENSION coreforge_sync;
SELECT cf_create_tables();

-- Users: integer ids become version-5 UUIDs under a namespace (every environment computes the
-- same ids); a boolean soft delete; argon2id and bcrypt hashes are kept, the others reset.
SELECT jsonb_pretty(cf_configure('users', '{
  "table": "crm.accounts",
  "id": {"column": "account_id", "strategy": "uuidv5", "namespace": "6ba7b811-9dad-11d1-80b4-00c04fd430c8"},
  "soft_delete": {"column": "is_deleted", "kind": "boolean"},
  "columns": {"email": "email_address", "name": "full_name", "avatar_url": "photo_url",
              "password_hash": "pw_digest", "created_at": "signup_at"},
  "passwords": {"argon2id": "keep", "bcrypt": "keep", "*": "reset"}}'));

-- Organizations: random ids (drawn once, kept forever), no soft delete, tiers mapped to plans.
SELECT jsonb_pretty(cf_configure('organizations', '{
  "table": "crm.companies", "id": {"column": "company_id", "strategy": "random"},
  "soft_delete": null,
  "columns": {"name": "company_name", "slug": "handle", "plan": "tier", "created_at": "created"},
  "values": {"plan": {"basic": "starter", "premium": "pro", "enterprise": "enterprise", "*": "free"}},
  "defaults": {"org_type": "team"}}'));

-- Memberships: the references to users and organizations, and access levels mapped to roles;
-- an access level nobody mapped is rejected.
SELECT jsonb_pretty(cf_configure('memberships', '{
  "table": "crm.company_users", "user_ref": "account_id", "organization_ref": "company_id",
  "columns": {"role": "access_level", "created_at": "joined_at"},
  "values": {"role": {"superuser": "owner", "manager": "admin", "staff": "member", "*": "reject"}}}'));

SELECT entity, legacy_table, id_strategy, configured FROM cf_config();

-- Sync on, then the backfill: the dirty rows are rejected, the rest is migrated.
SELECT cf_enable_sync();
SELECT * FROM cf_sync_all();
SELECT entity, legacy_id, reason, message FROM cf_rejects();

-- Every legacy row is migrated, excluded (soft-deleted) or rejected: nothing else fails.
SELECT entity, check_name, legacy_count, coreforge_count, discrepancies, status
  FROM cf_validation_report() WHERE check_name IN ('row_count', 'rejected', 'excluded') OR status = 'fail';

-- The id mappings: uuidv5 ids are what uuid-ossp computes; each legacy id has exactly one.
SELECT count(*) AS accounts_mapped,
       count(*) FILTER (WHERE new_id = uuid_generate_v5('6ba7b811-9dad-11d1-80b4-00c04fd430c8', old_id::text)) AS as_uuid_ossp
  FROM coreforge_sync.user_id_mapping;
SELECT count(*) AS companies_mapped, count(DISTINCT new_id) AS distinct_ids FROM coreforge_sync.organization_id_mapping;

-- What CoreForge holds, read back through the mappings.
SELECT m.old_id AS account_id, c.email, c.name, c.avatar_url, coreforge_sync.password_format(a.pw_digest) AS legacy_format,
       c.password_hash IS NOT NULL AS hash_kept
  FROM cf_users c JOIN coreforge_sync.user_id_mapping m ON m.new_id = c.id
  JOIN crm.accounts a ON a.account_id = m.old_id ORDER BY 1;
SELECT m.old_id AS company_id, c.slug, c.name, c.plan, c.org_type
  FROM cf_organizations c JOIN coreforge_sync.organization_id_mapping m ON m.new_id = c.id ORDER BY 1;
SELECT u.old_id AS account_id, o.old_id AS company_id, c.role
  FROM cf_memberships c
  JOIN coreforge_sync.user_id_mapping u ON u.new_id = c.user_id
  JOIN coreforge_sync.organization_id_mapping o ON o.new_id = c.organization_id ORDER BY 1, 2;

-- Writes are mirrored through the same configuration.
INSERT INTO crm.accounts (email_address, full_name, pw_digest, signup_at)
  VALUES ('new.hire@example.com', 'New Hire', '$argon2id$v=19$m=65536,t=3,p=2$bmV3c2FsdA$bmV3aGFzaA', '2024-05-01 09:00+00');
INSERT INTO crm.company_users VALUES (22, 1, 'staff', '2024-05-01 09:05+00');
SELECT c.email, c.name, m.old_id AS account_id FROM cf_users c
  JOIN coreforge_sync.user_id_mapping m ON m.new_id = c.id WHERE c.email = 'new.hire@example.com';
SELECT count(*) AS new_hire_memberships FROM cf_memberships
 WHERE user_id = uuid_generate_v5('6ba7b811-9dad-11d1-80b4-00c04fd430c8', '22');

-- A soft delete (is_deleted = true) removes the user and her memberships; undeleted, she comes
-- back with the same id.
SELECT id AS ada_id FROM cf_users WHERE email = (SELECT email_address FROM crm.accounts WHERE account_id = 1) \gset
UPDATE crm.accounts SET is_deleted = true WHERE account_id = 1;
SELECT count(*) AS users, (SELECT count(*) FROM cf_memberships WHERE user_id = :'ada_id') AS memberships
  FROM cf_users WHERE id = :'ada_id';
UPDATE crm.accounts SET is_deleted = false WHERE account_id = 1;
SELECT count(*) AS users, (SELECT count(*) FROM cf_memberships WHERE user_id = :'ada_id') AS memberships
  FROM cf_users WHERE id = :'ada_id';

-- Companies have no soft delete: a delete is a delete (the legacy foreign keys cascade).
DELETE FROM crm.companies WHERE company_id = 4;
SELECT count(*) AS stark_legacy FROM cf_organizations WHERE slug = 'stark-legacy';

-- A rejected row, fixed, is migrated and its reject cleared; so are its memberships.
UPDATE crm.accounts SET email_address = 'devon.price@example.com' WHERE account_id = 15;
SELECT entity, legacy_id, reason FROM cf_rejects() WHERE legacy_id LIKE 'account_id=15%';
SELECT count(*) AS account_15_memberships FROM cf_memberships
 WHERE user_id = uuid_generate_v5('6ba7b811-9dad-11d1-80b4-00c04fd430c8', '15');

-- An id mapping never changes: a new configuration of the same table keeps every assigned id.
SELECT count(*) AS mapped_before FROM coreforge_sync.user_id_mapping \gset
SELECT cf_configure('users', (SELECT settings FROM cf_config() WHERE entity = 'users') || '{"passwords": {"*": "keep"}}') ->> 'passwords' AS passwords;
SELECT count(*) = :mapped_before AS ids_kept FROM coreforge_sync.user_id_mapping;
-- The configuration changed while sync was on: the triggers follow it, and a backfill applies it
-- to the rows already migrated (every hash is kept now).
SELECT * FROM cf_sync_all();
SELECT count(*) FILTER (WHERE password_hash IS NOT NULL) AS hashes FROM cf_users;

-- The validation compares through the mappings: one change by hand is found.
UPDATE cf_organizations SET plan = 'enterprise' WHERE slug = 'initrode';
SELECT * FROM cf_mismatches('organizations');

-- The mapping tables outlive DROP EXTENSION, and the extension comes back over them.
SELECT cf_disable_sync();
DROP EXTENSION coreforge_sync;
SELECT count(*) AS mappings_kept FROM coreforge_sync.user_id_mapping;
CREATE EXTENSION coreforge_sync;
SELECT count(*) AS mappings_kept FROM coreforge_sync.user_id_mapping;
