-- A Rails application's identity tables (Devise's users, an accounts plugin's accounts and
-- account_users: fixtures/rails_schema.sql), configured, backfilled, written the way the ORM writes
-- (every write touches updated_at, soft deletes through discard), cut over, written on both sides,
-- and rolled back; at each step checked against an independent oracle (fixtures/rails_oracle.sql)
-- that restates the rules in plain SQL. What the schema needs of the configuration: bigint ids
-- (uuidv5), the name from first_name and last_name with the email as a fallback, and written back
-- split; the role from the enum integer, and written back as one; a timestamp soft delete; and, for
-- rows born in CoreForge, updated_at, which Rails fills and the database does not.
\i fixtures/legacy.sql
\i fixtures/rails_schema.sql
CREATE EXTENSION coreforge_sync;
SELECT cf_create_tables() IS NOT NULL AS created;
SET timezone = 'UTC';

SELECT cf_configure('users', '{"table": "rails.users",
  "id": {"column": "id", "strategy": "uuidv5", "namespace": "6ba7b811-9dad-11d1-80b4-00c04fd430c8"},
  "soft_delete": {"column": "discarded_at", "kind": "timestamp"},
  "columns": {"email": "email", "password_hash": "encrypted_password", "created_at": "created_at",
              "last_login_at": "last_sign_in_at"},
  "expressions": {"name": "concat_ws('' '', NULLIF(first_name, ''''), NULLIF(last_name, ''''))"},
  "fallbacks": {"name": ["email"]},
  "write_back": {"first_name": "split_part(name, '' '', 1)",
                 "last_name": "NULLIF(substr(name, length(split_part(name, '' '', 1)) + 2), '''')"},
  "reverse_defaults": {"updated_at": {"from": "updated_at"}}}') IS NOT NULL AS users;
SELECT cf_configure('organizations', '{"table": "rails.accounts",
  "id": {"column": "id", "strategy": "uuidv5", "namespace": "6ba7b812-9dad-11d1-80b4-00c04fd430c8"},
  "soft_delete": null,
  "columns": {"name": "name", "slug": "subdomain", "created_at": "created_at"},
  "reverse_defaults": {"updated_at": {"from": "updated_at"}}}') IS NOT NULL AS organizations;
SELECT cf_configure('memberships', '{"table": "rails.account_users", "soft_delete": null,
  "user_ref": "user_id", "organization_ref": "account_id",
  "columns": {"created_at": "created_at"},
  "expressions": {"role": "CASE role WHEN 2 THEN ''owner'' WHEN 1 THEN ''admin'' WHEN 0 THEN ''member'' END"},
  "write_back": {"role": "CASE role WHEN ''owner'' THEN 2 WHEN ''admin'' THEN 1 ELSE 0 END"},
  "reverse_defaults": {"updated_at": {"from": "updated_at"}}}') IS NOT NULL AS memberships;
-- (The oracle reads the id mappings, which the configuration made.)
\i fixtures/rails_oracle.sql
SELECT cf_enable_sync() IS NOT NULL AS enabled;
SELECT entity, inserted, rejected FROM cf_sync_all() ORDER BY entity;
SELECT email, name, password_hash IS NOT NULL AS has_password, last_login_at FROM cf_users ORDER BY email;
SELECT entity, legacy_id, reason FROM cf_rejects() ORDER BY 1, 2;
SELECT * FROM pg_temp.rails_diff();
-- The oracle sees a wrong CoreForge row (a hand edit, no trigger on cf_users side by side); a sync
-- repairs it.
UPDATE cf_users SET name = 'Wrong' WHERE email = 'ada@example.com';
SELECT entity, side FROM pg_temp.rails_diff() ORDER BY 2;
SELECT entity, updated FROM cf_sync_all() WHERE entity = 'users';
SELECT count(*) AS differences FROM pg_temp.rails_diff();
-- The legacy ids of the fixture's rows have their uuid v5 ids in the mapping.
SELECT count(*) AS not_v5 FROM coreforge_sync.user_id_mapping m
 WHERE m.new_id <> uuid_generate_v5('6ba7b811-9dad-11d1-80b4-00c04fd430c8', m.old_id::text);

-- The application writes as Rails does: each write sets updated_at; discard and undiscard.
UPDATE rails.users SET last_name = 'Hopper', updated_at = now() WHERE email = 'grace@example.com';
UPDATE rails.users SET first_name = 'Anonymous', updated_at = now() WHERE email = 'anon@example.com';
UPDATE rails.users SET discarded_at = now(), updated_at = now() WHERE email = 'cher@example.com';
UPDATE rails.users SET discarded_at = NULL, updated_at = now() WHERE email = 'gone@example.com';
UPDATE rails.users SET email = 'blank.no.more@example.com', updated_at = now() WHERE email = '';
INSERT INTO rails.users (email, encrypted_password, first_name, last_name, created_at, updated_at)
VALUES ('new@example.com', '$2a$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW', 'New', 'User', now(), now());
UPDATE rails.account_users SET role = 2, updated_at = now() WHERE account_id = 1 AND user_id = 2;
UPDATE rails.account_users SET role = 1, updated_at = now() WHERE account_id = 2 AND user_id = 4;
UPDATE rails.accounts SET subdomain = 'bad-sub-fixed', updated_at = now() WHERE id = 3;
UPDATE rails.users SET updated_at = now();   -- a touch of every row: nothing CoreForge holds
SELECT email, name FROM cf_users ORDER BY email;
SELECT u.email, o.slug, m.role FROM cf_memberships m JOIN cf_users u ON u.id = m.user_id
  JOIN cf_organizations o ON o.id = m.organization_id ORDER BY 1, 2;
SELECT * FROM pg_temp.rails_diff();
SELECT check_name, status FROM cf_validation_report() WHERE status <> 'ok';

-- Cutover: CoreForge writes go back split, the role as its integer, new rows with updated_at.
SELECT cf_cutover() IS NOT NULL AS cutover;
UPDATE cf_users SET name = 'Grace Brewster Hopper', updated_at = now() WHERE email = 'grace@example.com';
INSERT INTO cf_users (id, email, name, created_at, updated_at)
VALUES ('c0000000-0000-0000-0000-000000000001', 'born@example.com', 'Born In CoreForge', now(), now());
INSERT INTO cf_memberships (id, user_id, organization_id, role, created_at, updated_at)
SELECT 'd0000000-0000-0000-0000-000000000001', 'c0000000-0000-0000-0000-000000000001', o.id, 'admin', now(), now()
  FROM cf_organizations o WHERE o.slug = 'acme';
UPDATE cf_memberships SET role = 'member', updated_at = now()
 WHERE user_id = (SELECT id FROM cf_users WHERE email = 'ada@example.com')
   AND organization_id = (SELECT id FROM cf_organizations WHERE slug = 'acme');
DELETE FROM cf_users WHERE email = 'linus@example.com';
-- The old application, where it still runs, writes too (mirrored forward as before).
UPDATE rails.users SET first_name = 'Augusta Ada', updated_at = now() WHERE email = 'ada@example.com';
SELECT u.id > 7 AS new_legacy_id, u.email, u.first_name, u.last_name, u.discarded_at IS NOT NULL AS discarded,
       u.updated_at IS NOT NULL AS updated
  FROM rails.users u ORDER BY u.email;
SELECT u.email, a.subdomain, au.role FROM rails.account_users au JOIN rails.users u ON u.id = au.user_id
  JOIN rails.accounts a ON a.id = au.account_id ORDER BY 1, 2;
SELECT * FROM pg_temp.rails_diff();
SELECT check_name, status FROM cf_validation_report() WHERE status <> 'ok';

-- Rollback: the legacy tables are the source of truth again, holding every CoreForge write.
SELECT cf_rollback() IS NOT NULL AS rolled_back;
UPDATE rails.users SET last_name = 'Lovelace King', updated_at = now() WHERE email = 'ada@example.com';
SELECT email, name FROM cf_users ORDER BY email;
SELECT * FROM pg_temp.rails_diff();
SELECT check_name, status FROM cf_validation_report() WHERE status <> 'ok';

SET client_min_messages = warning;
DROP EXTENSION coreforge_sync CASCADE;
DROP SCHEMA rails CASCADE;
