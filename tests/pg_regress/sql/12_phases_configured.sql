-- The phases on a configured schema (crm, see 06_configure): integer ids through the id mappings,
-- value maps written back, a boolean soft delete, a table without soft delete, rejected rows.
\i fixtures/legacy.sql
\i fixtures/crm_schema.sql
\i fixtures/crm_data.sql
\set ECHO none
SET client_min_messages = warning;
CREATE EXTENSION coreforge_sync;
SELECT FROM cf_create_tables();
SELECT FROM cf_configure('users', '{
  "table": "crm.accounts",
  "id": {"column": "account_id", "strategy": "uuidv5", "namespace": "6ba7b811-9dad-11d1-80b4-00c04fd430c8"},
  "soft_delete": {"column": "is_deleted", "kind": "boolean"},
  "columns": {"email": "email_address", "name": "full_name", "avatar_url": "photo_url",
              "password_hash": "pw_digest", "created_at": "signup_at"}}');
SELECT FROM cf_configure('organizations', '{
  "table": "crm.companies", "id": {"column": "company_id", "strategy": "random"},
  "soft_delete": null,
  "columns": {"name": "company_name", "slug": "handle", "plan": "tier", "created_at": "created"},
  "values": {"plan": {"basic": "starter", "premium": "pro", "enterprise": "enterprise", "*": "free"}},
  "defaults": {"org_type": "team"}}');
SELECT FROM cf_configure('memberships', '{
  "table": "crm.company_users", "user_ref": "account_id", "organization_ref": "company_id",
  "columns": {"role": "access_level", "created_at": "joined_at"},
  "values": {"role": {"superuser": "owner", "manager": "admin", "staff": "member", "*": "reject"}}}');
SELECT FROM cf_enable_sync();
SELECT FROM cf_sync_all();
RESET client_min_messages;
\set ECHO all

-- Some legacy rows were rejected: the validation fails on them, so cutover needs force and a reason.
SELECT entity, check_name, discrepancies FROM cf_validation_report() WHERE status = 'fail';
SELECT cf_cutover();

-- A NOT NULL legacy column that no CoreForge column fills, without a default, would make every
-- row born in CoreForge fail: cutover refuses, forced or not.
ALTER TABLE crm.accounts ADD COLUMN region text NOT NULL DEFAULT 'eu';
ALTER TABLE crm.accounts ALTER COLUMN region DROP DEFAULT;
SELECT cf_cutover(force => true, reason => 'rejected rows stay in the legacy tables');
ALTER TABLE crm.accounts ALTER COLUMN region SET DEFAULT 'eu';

-- A generated column (GENERATED ALWAYS AS ... STORED) can be read, but no write may set it: mapped,
-- it is read forward, and cutover refuses, forced or not, naming it.
ALTER TABLE crm.accounts ADD COLUMN display_name text GENERATED ALWAYS AS (full_name) STORED;
SELECT settings AS users_settings FROM cf_config() WHERE entity = 'users' \gset
SET client_min_messages = warning;
SELECT FROM cf_configure('users', jsonb_set(:'users_settings'::jsonb, '{columns,name}', '"display_name"'));
RESET client_min_messages;
SELECT cf_cutover(force => true, reason => 'rejected rows stay in the legacy tables');
SET client_min_messages = warning;
SELECT FROM cf_configure('users', :'users_settings'::jsonb);
RESET client_min_messages;
ALTER TABLE crm.accounts DROP COLUMN display_name;

-- A value map that cannot bring every CoreForge plan back (with "*": "reject", a plan no tier maps
-- to would be rejected once written back): refused too.
SELECT settings AS organizations_settings FROM cf_config() WHERE entity = 'organizations' \gset
SELECT FROM cf_configure('organizations', :'organizations_settings'::jsonb
  || '{"values": {"plan": {"basic": "starter", "premium": "pro", "*": "reject"}}}');
SELECT cf_cutover(force => true, reason => 'rejected rows stay in the legacy tables');
SET client_min_messages = warning;
SELECT FROM cf_configure('organizations', :'organizations_settings'::jsonb);
SELECT count(*) FROM cf_sync_all();
RESET client_min_messages;

-- A NOT NULL legacy column that CoreForge may leave NULL takes '' (which its projection reads as NULL).
UPDATE crm.accounts SET photo_url = '' WHERE photo_url IS NULL;
ALTER TABLE crm.accounts ALTER COLUMN photo_url SET NOT NULL;

SELECT cf_cutover(force => true, reason => 'rejected rows stay in the legacy tables');

-- A user born in CoreForge gets the next legacy id from the identity column, and its mapping.
INSERT INTO cf_users (id, email, name, created_at)
VALUES ('c0000000-0000-0000-0000-000000000001', 'born@cf.example', 'Born In CoreForge', '2026-01-01 00:00+00');
SELECT m.old_id, a.email_address, a.full_name, a.photo_url = '' AS photo_url_empty, a.signup_at, a.is_deleted, a.region
  FROM coreforge_sync.user_id_mapping m JOIN crm.accounts a ON a.account_id = m.old_id
 WHERE m.new_id = 'c0000000-0000-0000-0000-000000000001';

-- An organization too; its plan goes back through the value map read backwards (pro -> premium),
-- and a membership's role as well (admin -> manager, member -> staff).
INSERT INTO cf_organizations (id, name, slug, plan, created_at)
VALUES ('d0000000-0000-0000-0000-000000000001', 'New Co', 'new-co', 'pro', '2026-01-02 00:00+00');
INSERT INTO cf_memberships (user_id, organization_id, role, created_at)
VALUES ('c0000000-0000-0000-0000-000000000001', 'd0000000-0000-0000-0000-000000000001', 'admin', '2026-01-03 00:00+00');
SELECT c.company_id = m.old_id AS mapped, c.company_name, c.handle, c.tier
  FROM crm.companies c JOIN coreforge_sync.organization_id_mapping m ON m.old_id = c.company_id
 WHERE m.new_id = 'd0000000-0000-0000-0000-000000000001';
UPDATE cf_memberships SET role = 'member' WHERE user_id = 'c0000000-0000-0000-0000-000000000001';
SELECT cu.access_level, cu.joined_at FROM crm.company_users cu JOIN crm.companies c USING (company_id)
 WHERE c.handle = 'new-co';

-- A legacy value that projects to what CoreForge holds is kept: initrode's tier 'basic' is plan
-- 'starter'; setting 'starter' again writes nothing, setting 'pro' writes 'premium'.
UPDATE cf_organizations SET plan = 'starter' WHERE slug = 'initrode';
SELECT tier FROM crm.companies WHERE handle = 'initrode';
UPDATE cf_organizations SET plan = 'pro' WHERE slug = 'initrode';
SELECT tier FROM crm.companies WHERE handle = 'initrode';

-- Deletes: accounts have a boolean soft delete, companies and their members none (hard deletes).
DELETE FROM cf_memberships WHERE organization_id = 'd0000000-0000-0000-0000-000000000001';
DELETE FROM cf_organizations WHERE id = 'd0000000-0000-0000-0000-000000000001';
SELECT count(*) AS new_co_rows FROM crm.companies WHERE handle = 'new-co';
DELETE FROM cf_users WHERE id = 'c0000000-0000-0000-0000-000000000001';
SELECT email_address, is_deleted FROM crm.accounts WHERE email_address = 'born@cf.example';
SELECT count(*) AS mappings_kept FROM coreforge_sync.organization_id_mapping
 WHERE new_id = 'd0000000-0000-0000-0000-000000000001';

-- A sequence behind the table's ids would write a CoreForge row over another legacy row: refused.
SELECT setval(pg_get_serial_sequence('crm.accounts', 'account_id'), 1);
INSERT INTO cf_users (email, name, created_at) VALUES ('late@cf.example', 'Late', now());
SELECT setval(pg_get_serial_sequence('crm.accounts', 'account_id'), (SELECT max(account_id) FROM crm.accounts));

-- Apart from the rejected rows (which stay in the legacy tables), both sides agree.
SELECT entity, check_name, discrepancies FROM cf_validation_report() WHERE status = 'fail';

-- Archive refuses while rows are rejected: archived, they would be only in the archive.
SELECT cf_freeze_legacy();
SELECT cf_archive_legacy('crm_archive');

-- Rollback accepts them: the legacy tables hold them.
SELECT cf_rollback();
SELECT action, from_phase, to_phase, forced, reason, validation FROM cf_history();

-- Settle the rejected rows in the legacy tables (soft-delete or fix them), then the whole way.
UPDATE crm.accounts SET is_deleted = true WHERE account_id IN
  (SELECT substr(legacy_id, length('account_id=') + 1)::int FROM coreforge_sync.rejects WHERE entity = 'users');
DELETE FROM crm.company_users WHERE (account_id, company_id) IN
  (SELECT a.account_id, c.company_id FROM crm.company_users a JOIN crm.companies c USING (company_id)
    WHERE a.access_level NOT IN ('superuser', 'manager', 'staff') OR c.handle !~ '^[a-z][a-z0-9-]{1,61}[a-z0-9]$'
       OR c.company_id IN (SELECT substr(legacy_id, length('company_id=') + 1)::int FROM coreforge_sync.rejects WHERE entity = 'organizations'));
DELETE FROM crm.companies WHERE company_id IN
  (SELECT substr(legacy_id, length('company_id=') + 1)::int FROM coreforge_sync.rejects WHERE entity = 'organizations');
SELECT entity, check_name, discrepancies FROM cf_validation_report() WHERE status = 'fail';
SELECT cf_cutover();
SELECT cf_freeze_legacy();
SELECT cf_archive_legacy('crm_archive');
SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'crm_archive' ORDER BY c.relname;

-- Compatibility views in crm: ids read through the mappings, value-mapped columns and the soft-delete
-- column are read-only; the plain columns can be written through (an unmapped legacy column, such
-- as accounts.region, is not in the view).
SELECT * FROM cf_create_compat_views();
SELECT account_id, email_address, full_name, is_deleted FROM crm.accounts ORDER BY account_id LIMIT 3;
SELECT company_id, handle, tier FROM crm.companies ORDER BY company_id;
UPDATE crm.accounts SET full_name = 'Amara O.' WHERE account_id = 1;
SELECT name FROM cf_users WHERE email = 'amara.okafor@example.com';
UPDATE crm.companies SET tier = 'basic' WHERE handle = 'acme';

-- Restore brings the tables back and writes Amara's new name into them.
SELECT cf_restore_legacy();
SELECT full_name FROM crm.accounts WHERE account_id = 1;
SELECT entity, check_name, discrepancies FROM cf_validation_report() WHERE status = 'fail';
