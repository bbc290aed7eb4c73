-- The SQLSTATE of each class of mistake, for scripts that branch on it (psql's
-- :LAST_ERROR_SQLSTATE, a driver's error code). Each error is raised once, at the SQL boundary,
-- with its message, DETAIL and HINT; a PostgreSQL error raised inside a statement the extension
-- runs keeps its own SQLSTATE.
\i fixtures/legacy.sql
CREATE EXTENSION coreforge_sync;
\set SHOW_CONTEXT never

-- 55000 object_not_in_prerequisite_state: a step out of order.
SELECT cf_sync_users();
\echo :LAST_ERROR_SQLSTATE
SELECT cf_create_tables();
SELECT cf_sync_memberships();
\echo :LAST_ERROR_SQLSTATE
SELECT cf_freeze_legacy();
\echo :LAST_ERROR_SQLSTATE

-- 22023 invalid_parameter_value: a bad argument or setting.
SELECT cf_configure('accounts', '{}');
\echo :LAST_ERROR_SQLSTATE
SELECT cf_configure('users', '{"table": "public.users", "colums": {}}');
\echo :LAST_ERROR_SQLSTATE
CALL cf_backfill('users', batch_size => 0);
\echo :LAST_ERROR_SQLSTATE
SELECT FROM cf_configure('users', '{"columns": {"email": "email", "name": "name"}}');
SELECT * FROM cf_password_report();
\echo :LAST_ERROR_SQLSTATE
SELECT FROM cf_configure('users', '{}');
SELECT cf_cutover(force => true, reason => ' ');
\echo :LAST_ERROR_SQLSTATE

-- 22004 null_value_not_allowed: a NULL where a value is needed.
SELECT cf_configure('users', NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT cf_cutover(force => NULL);
\echo :LAST_ERROR_SQLSTATE

-- 3F000 invalid_schema_name and 42P07 duplicate_table: where the cf_ tables go.
SELECT cf_create_tables('nowhere');
\echo :LAST_ERROR_SQLSTATE
CREATE SCHEMA elsewhere;
SELECT cf_create_tables('elsewhere');
\echo :LAST_ERROR_SQLSTATE

-- 42704 undefined_object: legacy tables that do not match the configuration, or an unknown role.
ALTER TABLE tenant_members RENAME TO tenant_members_old;
SELECT * FROM cf_validation_report();
\echo :LAST_ERROR_SQLSTATE
ALTER TABLE tenant_members_old RENAME TO tenant_members;
SELECT cf_grant_admin('coreforge_regress_nobody');
\echo :LAST_ERROR_SQLSTATE

-- 42P01 undefined_table: a cf_ table that is gone.
BEGIN;
DROP TABLE cf_memberships;
SELECT * FROM cf_status();
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;

-- 42501 insufficient_privilege: a caller without the rights of the tables' owner.
SET client_min_messages = warning;
DROP ROLE IF EXISTS coreforge_regress_stranger;
RESET client_min_messages;
CREATE ROLE coreforge_regress_stranger;
SELECT cf_grant_admin('coreforge_regress_stranger');
SET ROLE coreforge_regress_stranger;
SELECT cf_enable_sync();
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;

-- 23514 check_violation: a legacy row that cannot be mirrored, with on_error = raise.
SELECT cf_enable_sync();
SELECT count(*) FROM cf_sync_all();
SET coreforge_sync.on_error = raise;
UPDATE users SET name = '' WHERE email = 'ada@example.com';
\echo :LAST_ERROR_SQLSTATE
RESET coreforge_sync.on_error;

-- XX001 data_corrupted: the extension's own state cannot be read (it fails closed).
BEGIN;
UPDATE coreforge_sync.settings SET value = 'many' WHERE key = 'config_generation';
INSERT INTO coreforge_sync.settings (key, value) VALUES ('config_generation', 'many') ON CONFLICT DO NOTHING;
SELECT cf_configure('users', '{}');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;

-- A PostgreSQL error inside a statement the extension runs keeps its own SQLSTATE: the legacy
-- table's own CHECK constraint refuses a row written back from CoreForge (23514 from PostgreSQL).
ALTER TABLE users ADD CONSTRAINT users_name_not_x CHECK (name <> 'x') NOT VALID;
SELECT cf_cutover();
\set VERBOSITY terse
UPDATE cf_users SET name = 'x' WHERE email = 'grace@example.com';
\echo :LAST_ERROR_SQLSTATE
\set VERBOSITY default
SELECT cf_rollback();

SELECT cf_revoke_admin('coreforge_regress_stranger');
DROP ROLE coreforge_regress_stranger;
SET client_min_messages = warning;
DROP EXTENSION coreforge_sync CASCADE;
DROP SCHEMA elsewhere;
