-- Fail closed. The extension never reads its own state with a permissive default: a record that
-- is broken is an error that names it. And writes made while a table owner had switched the sync
-- triggers off by hand (ALTER TABLE ... DISABLE TRIGGER) bypass the sync: the validation names
-- exactly the rows they changed, and one backfill repairs them.
\i fixtures/legacy.sql
CREATE EXTENSION coreforge_sync;
SELECT cf_create_tables();
SELECT cf_enable_sync();
SELECT * FROM cf_sync_all();

-- A configuration record that is not a JSON object is not taken for "the guide's defaults".
SELECT cf_configure('users', '{}');
UPDATE coreforge_sync.entity_config SET settings = '["users"]' WHERE entity = 'users';
\set VERBOSITY default
SELECT entity, check_name, status FROM cf_validation_report() WHERE status = 'fail';
\set VERBOSITY terse
UPDATE coreforge_sync.entity_config SET settings = '{}' WHERE entity = 'users';

-- A phase that is none of the five is not taken for side_by_side.
ALTER TABLE coreforge_sync.phase_history DROP CONSTRAINT phase_history_to_phase_check;
INSERT INTO coreforge_sync.phase_history (action, from_phase, to_phase) VALUES ('forged', 'side_by_side', 'sideways');
\set VERBOSITY default
SELECT cf_phase();
SELECT * FROM cf_sync_all();
\set VERBOSITY terse
DELETE FROM coreforge_sync.phase_history WHERE to_phase = 'sideways';
ALTER TABLE coreforge_sync.phase_history ADD CONSTRAINT phase_history_to_phase_check
    CHECK (to_phase IN ('side_by_side', 'cutover', 'legacy_frozen', 'archived', 'dropped'));
SELECT cf_phase();

-- A configuration generation that is not a number.
UPDATE coreforge_sync.settings SET value = 'seven' WHERE key = 'config_generation';
SELECT cf_enable_sync();
UPDATE coreforge_sync.settings SET value = '1' WHERE key = 'config_generation';

-- Writes made with the sync triggers off: two renames, a sign-up, a removed membership and a soft
-- delete. None reaches CoreForge.
ALTER TABLE users DISABLE TRIGGER coreforge_sync_update, DISABLE TRIGGER coreforge_sync_insert;
ALTER TABLE tenants DISABLE TRIGGER coreforge_sync_update;
ALTER TABLE tenant_members DISABLE TRIGGER coreforge_sync_delete;
UPDATE users SET name = 'Ada Byron' WHERE email = 'ada@example.com';
UPDATE tenants SET name = 'Acme Corporation' WHERE slug = 'acme';
INSERT INTO users (id, email, name) VALUES ('a0000000-0000-0000-0000-0000000000d1', 'dark@example.com', 'Dark Write');
DELETE FROM tenant_members WHERE user_id = 'a0000000-0000-0000-0000-000000000002' AND tenant_id = 'b0000000-0000-0000-0000-000000000002';
UPDATE users SET deleted_at = '2026-01-01 00:00+00' WHERE email = 'grace@example.com';
ALTER TABLE users ENABLE TRIGGER coreforge_sync_update, ENABLE TRIGGER coreforge_sync_insert;
ALTER TABLE tenants ENABLE TRIGGER coreforge_sync_update;
ALTER TABLE tenant_members ENABLE TRIGGER coreforge_sync_delete;
-- The validation counts them, and names each one.
SELECT entity, check_name, discrepancies FROM cf_validation_report() WHERE status = 'fail' ORDER BY 1, 2;
SELECT * FROM cf_missing('users');
SELECT * FROM cf_mismatches('users');
SELECT * FROM cf_mismatches('organizations');
SELECT * FROM cf_extra('users');
SELECT * FROM cf_extra('memberships');
-- One backfill repairs them all.
SELECT * FROM cf_sync_all();
SELECT entity, check_name FROM cf_validation_report() WHERE status = 'fail';
SELECT * FROM pg_temp.invariant();
