-- The legacy application keeps writing with its own role: it needs DML rights on its tables
-- only. The sync trigger runs as the extension's owner (SECURITY DEFINER, fixed search_path) and
-- writes each cf_ table with the rights of that table's owner (16_owner_rights), so the mirror
-- works without any right of the role on the cf_ tables, and the role cannot use the
-- extension's functions to reach them: PUBLIC may execute none of them.
\i fixtures/legacy.sql
CREATE EXTENSION coreforge_sync;
SELECT cf_create_tables();
SELECT cf_enable_sync();
SELECT * FROM cf_sync_all();

SET client_min_messages = warning;
DROP ROLE IF EXISTS coreforge_regress_app;
RESET client_min_messages;
CREATE ROLE coreforge_regress_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON users, tenants, tenant_members TO coreforge_regress_app;

SET ROLE coreforge_regress_app;
UPDATE users SET name = 'Ada (via the app)' WHERE email = 'ada@example.com';
UPDATE users SET deleted_at = now() WHERE email = 'jose@example.com';
INSERT INTO tenant_members (user_id, tenant_id, role)
  VALUES ('a0000000-0000-0000-0000-000000000005', 'b0000000-0000-0000-0000-000000000001', 'member');
-- A row the role writes that cannot be mirrored is recorded as a reject all the same.
INSERT INTO users (id, email, name) VALUES ('a0000000-0000-0000-0000-000000000077', 'app@example.com', '');
-- The role sees nothing of CoreForge, of the rejects or of the configuration, and cannot run the
-- extension's functions.
SELECT count(*) FROM cf_users;
SELECT cf_sync_users();
SELECT count(*) FROM coreforge_sync.rejects;
SELECT * FROM cf_rejects();
SELECT cf_configure('users', '{}');
SELECT cf_cutover(force => true, reason => 'let me');
SELECT cf_phase();
SELECT coreforge_sync.uuid_v5('6ba7b811-9dad-11d1-80b4-00c04fd430c8', 'x');
CALL cf_backfill();
SELECT * FROM cf_backfill_progress;
SELECT cf_grant_admin('coreforge_regress_app');
-- Nor can it switch the recursion guard on: there is no setting, table or function for it.
SELECT name, setting FROM pg_settings WHERE name LIKE 'coreforge_sync.%' ORDER BY name;
RESET ROLE;
SELECT entity, legacy_id, reason FROM cf_rejects();
DELETE FROM users WHERE id = 'a0000000-0000-0000-0000-000000000077';

SELECT name FROM cf_users WHERE email = 'ada@example.com';
SELECT * FROM pg_temp.invariant();

-- No routine of the extension is executable by PUBLIC.
SELECT count(*) AS routines, count(*) FILTER (WHERE has_function_privilege('public', p.oid, 'EXECUTE')) AS public_may_run
  FROM pg_depend d JOIN pg_proc p ON p.oid = d.objid
 WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'coreforge_sync')
   AND d.classid = 'pg_proc'::regclass AND d.deptype = 'e';

-- A DBA delegates the migration to a role of its own: cf_grant_admin() gives it the extension's
-- routines and state; the tables' rights come from owning them.
SET client_min_messages = warning;
DROP ROLE IF EXISTS coreforge_regress_admin;
RESET client_min_messages;
CREATE ROLE coreforge_regress_admin;
SELECT cf_grant_admin('coreforge_regress_admin');
SELECT cf_grant_admin('nobody_by_that_name');
SELECT cf_grant_admin(NULL);
ALTER TABLE users OWNER TO coreforge_regress_admin;
ALTER TABLE tenants OWNER TO coreforge_regress_admin;
ALTER TABLE tenant_members OWNER TO coreforge_regress_admin;
ALTER TABLE cf_users OWNER TO coreforge_regress_admin;
ALTER TABLE cf_organizations OWNER TO coreforge_regress_admin;
ALTER TABLE cf_memberships OWNER TO coreforge_regress_admin;
SET ROLE coreforge_regress_admin;
SELECT * FROM cf_sync_all();
SELECT entity, check_name FROM cf_validation_report() WHERE status = 'fail';
SELECT cf_cutover();
SELECT cf_rollback();
SELECT action, from_phase, to_phase, run_by, run_as FROM cf_history();
-- It runs the migration, but cannot rewrite what happened: the steps are SECURITY DEFINER
-- routines, and the role may read the extension's state but not write it, nor attach code to it.
UPDATE coreforge_sync.phase_history SET reason = 'nothing happened';
DELETE FROM coreforge_sync.phase_history;
TRUNCATE coreforge_sync.phase_history;
INSERT INTO coreforge_sync.phase_history (action, from_phase, to_phase) VALUES ('forged', 'cutover', 'side_by_side');
DELETE FROM coreforge_sync.rejects;
UPDATE coreforge_sync.entity_config SET settings = '{}';
INSERT INTO coreforge_sync.settings (key, value) VALUES ('cf_schema', 'elsewhere');
TRUNCATE coreforge_sync.sync_runs;
CREATE TRIGGER forge BEFORE INSERT ON coreforge_sync.phase_history
    FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger();
SELECT count(*) AS transitions FROM coreforge_sync.phase_history;
RESET ROLE;
-- A role given cf_grant_admin() without the rights of the tables' owners may read, not run.
SET client_min_messages = warning;
DROP ROLE IF EXISTS coreforge_regress_stranger;
RESET client_min_messages;
CREATE ROLE coreforge_regress_stranger;
SELECT cf_grant_admin('coreforge_regress_stranger');
SET ROLE coreforge_regress_stranger;
SELECT * FROM cf_sync_all();
SELECT cf_cutover();
SELECT cf_configure('users', '{}');
SELECT cf_phase();
RESET ROLE;
SELECT cf_revoke_admin('coreforge_regress_stranger');
DROP ROLE coreforge_regress_stranger;
SELECT cf_revoke_admin('coreforge_regress_admin');
SET ROLE coreforge_regress_admin;
SELECT cf_phase();
RESET ROLE;

DROP OWNED BY coreforge_regress_app;
DROP ROLE coreforge_regress_app;
REASSIGN OWNED BY coreforge_regress_admin TO CURRENT_USER;
DROP OWNED BY coreforge_regress_admin;
DROP ROLE coreforge_regress_admin;
