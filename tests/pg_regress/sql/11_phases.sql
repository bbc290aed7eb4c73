-- The guide's phases 2 and 3 in psql, on its legacy tables: cutover with the reverse sync,
-- freeze, archive, compatibility views, restore, rollback, and (a second time) the final drop.
-- Every step that would lose data is refused, with the reason.
\i fixtures/legacy.sql

CREATE EXTENSION coreforge_sync;
SELECT cf_create_tables();
SELECT cf_enable_sync();
SELECT * FROM cf_sync_all();

-- Phase 1: the legacy tables are the source of truth.
SELECT cf_phase();

-- Steps of later phases are refused (or are no-ops) here.
SELECT cf_freeze_legacy();
SELECT cf_archive_legacy();
SELECT cf_drop_archive('archive');
SELECT cf_sync_legacy();
SELECT * FROM cf_create_compat_views();
SELECT cf_rollback();
SELECT cf_restore_legacy();
SELECT cf_unfreeze_legacy();

-- Cutover needs the forward sync on (instances not yet switched keep writing the legacy tables)...
SELECT cf_disable_sync();
SELECT cf_cutover();
-- (A row written meanwhile is missing from CoreForge: no force covers that, a backfill does.)
INSERT INTO users (id, email, name, created_at)
VALUES ('a0000000-0000-0000-0000-000000000006', 'meanwhile@example.com', 'Written Meanwhile', '2024-05-01 00:00+00');
SELECT cf_enable_sync();
SELECT cf_cutover(force => true, reason => 'it will be fine');
SELECT * FROM cf_sync_all();
-- A sync trigger disabled by hand is sync off too; cf_enable_sync() puts it back.
ALTER TABLE users DISABLE TRIGGER coreforge_sync_update;
SELECT cf_cutover();
SELECT cf_enable_sync();

-- ...and a clean validation: a hand edit in CoreForge is a failing check.
UPDATE cf_users SET name = 'Edited By Hand' WHERE email = 'jose@example.com';
SELECT cf_cutover();
-- Forcing needs a reason (and force is true or false, never NULL).
SELECT cf_cutover(force => true);
SELECT cf_cutover(force => NULL);
SELECT cf_sync_users();

-- Phase 2: CoreForge becomes the source of truth. A second call does nothing.
SELECT cf_cutover();
SELECT cf_cutover();
SELECT cf_phase();

-- Steps that would overwrite CoreForge from the legacy tables, or break rollback, are refused.
SELECT cf_sync_users();
CALL cf_backfill();
SELECT cf_disable_sync();
SELECT cf_configure('users', '{}');

-- A CoreForge write is mirrored back, exactly once: one row written on each side (counted by a
-- row trigger of this test), and CoreForge keeps the updated_at the application set: the forward
-- mirror does not answer the reverse one.
CREATE TABLE row_writes (tbl text);
CREATE FUNCTION count_write() RETURNS trigger LANGUAGE plpgsql AS
  $$ BEGIN INSERT INTO public.row_writes VALUES (TG_TABLE_NAME); RETURN NULL; END $$;
CREATE TRIGGER count_write AFTER INSERT OR UPDATE OR DELETE ON users FOR EACH ROW EXECUTE FUNCTION count_write();
CREATE TRIGGER count_write AFTER INSERT OR UPDATE OR DELETE ON cf_users FOR EACH ROW EXECUTE FUNCTION count_write();
UPDATE cf_users SET name = 'Ada King', updated_at = '2030-01-01 00:00+00' WHERE email = 'ada@example.com';
SELECT tbl, count(*) AS rows_written FROM row_writes GROUP BY tbl ORDER BY tbl;
SELECT name FROM users WHERE email = 'ada@example.com';
SELECT name, updated_at FROM cf_users WHERE email = 'ada@example.com';

-- A legacy write (an instance not switched yet) is mirrored forward, exactly once too, and the
-- legacy row keeps the updated_at its application set.
TRUNCATE row_writes;
UPDATE users SET name = 'Grace B. Hopper', updated_at = '2031-01-01 00:00+00' WHERE email = 'grace@example.com';
SELECT tbl, count(*) AS rows_written FROM row_writes GROUP BY tbl ORDER BY tbl;
SELECT name FROM cf_users WHERE email = 'grace@example.com';
SELECT name, updated_at FROM users WHERE email = 'grace@example.com';
DROP TRIGGER count_write ON users;
DROP TRIGGER count_write ON cf_users;

-- The new application's role needs rights on the cf_ tables only (it cannot even read the legacy
-- tables): the reverse mirror writes them with the rights of their owner (16_owner_rights).
DROP ROLE IF EXISTS coreforge_regress_new_app;
CREATE ROLE coreforge_regress_new_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON cf_users, cf_organizations, cf_memberships TO coreforge_regress_new_app;
SET ROLE coreforge_regress_new_app;
UPDATE cf_users SET avatar_url = 'https://example.com/jose.png' WHERE email = 'jose@example.com';
SELECT name FROM users WHERE email = 'jose@example.com';
RESET ROLE;
SELECT avatar_url FROM users WHERE email = 'jose@example.com';
-- (A grant on a legacy table, to see it travel with the table into the archive.)
GRANT SELECT ON users TO coreforge_regress_new_app;

-- A user and an organization born in CoreForge get their legacy rows (kept uuid ids: the same id);
-- a membership born in CoreForge keeps its own id and is known to the legacy side by its pair.
INSERT INTO cf_users (id, email, name, password_hash, created_at)
VALUES ('c0000000-0000-0000-0000-000000000001', 'new@example.com', 'New Person', '$argon2id$v=19$m=65536,t=3,p=2$bmV3$bmV3', '2026-01-01 00:00+00');
INSERT INTO cf_organizations (id, name, slug, plan, created_at)
VALUES ('d0000000-0000-0000-0000-000000000001', 'Umbrella', 'umbrella', 'enterprise', '2026-01-02 00:00+00');
INSERT INTO cf_memberships (id, user_id, organization_id, role, created_at)
VALUES ('e0000000-0000-0000-0000-000000000001', 'c0000000-0000-0000-0000-000000000001', 'd0000000-0000-0000-0000-000000000001', 'owner', '2026-01-03 00:00+00');
SELECT id, email, name, password_hash IS NOT NULL AS has_password, created_at, deleted_at FROM users WHERE email = 'new@example.com';
SELECT id, name, slug, plan, created_at FROM tenants WHERE slug = 'umbrella';
SELECT user_id, tenant_id, role, created_at FROM tenant_members WHERE tenant_id = 'd0000000-0000-0000-0000-000000000001';
SELECT id FROM cf_memberships WHERE organization_id = 'd0000000-0000-0000-0000-000000000001';

-- A legacy value that already means what CoreForge holds is left as it is: Globex's plan is ''
-- in the legacy table and 'free' in CoreForge; renaming Globex does not rewrite its plan.
UPDATE cf_organizations SET name = 'Globex Corporation' WHERE slug = 'globex';
SELECT name, plan FROM tenants WHERE slug = 'globex';

-- Deletes in CoreForge: users and tenants have a soft-delete rule (deleted_at), memberships none.
DELETE FROM cf_memberships WHERE user_id = 'a0000000-0000-0000-0000-000000000003';
DELETE FROM cf_users WHERE email = 'wang@example.com';
SELECT email, deleted_at IS NOT NULL AS soft_deleted FROM users WHERE email = 'wang@example.com';
SELECT count(*) AS wang_memberships FROM tenant_members WHERE user_id = 'a0000000-0000-0000-0000-000000000003';

-- Both sides agree.
SELECT entity, check_name, discrepancies FROM cf_validation_report() WHERE status = 'fail';
\ir fixtures/oracle.sql
SELECT * FROM pg_temp.invariant() WHERE entity <> 'memberships';
DROP VIEW expected_users, expected_organizations, expected_memberships;

-- Freeze: the application's legacy writes fail, the mirror from CoreForge still writes.
SELECT cf_freeze_legacy();
SELECT cf_freeze_legacy();
UPDATE users SET name = 'Not Allowed' WHERE email = 'grace@example.com';
INSERT INTO tenant_members (user_id, tenant_id) VALUES ('a0000000-0000-0000-0000-000000000005', 'b0000000-0000-0000-0000-000000000001');
TRUNCATE tenant_members;
UPDATE cf_users SET name = 'Grace Hopper' WHERE email = 'grace@example.com';
SELECT name FROM users WHERE email = 'grace@example.com';
-- Unfreeze and freeze again: both are transitions.
SELECT cf_unfreeze_legacy();
SELECT cf_freeze_legacy();

-- Archive refuses while the validation fails. (A reverse trigger switched off by hand: a table
-- owner's drift.)
ALTER TABLE cf_users DISABLE TRIGGER coreforge_sync_reverse_update;
UPDATE cf_users SET name = 'Drifted' WHERE email = 'jose@example.com';
ALTER TABLE cf_users ENABLE TRIGGER coreforge_sync_reverse_update;
SELECT cf_archive_legacy();
-- The reverse backfill writes CoreForge into the legacy tables; a second run writes nothing.
SELECT * FROM cf_sync_legacy();
SELECT * FROM cf_sync_legacy();

-- Phase 3: the legacy tables move into schema archive, with their data, indexes and grants.
SELECT cf_archive_legacy();
SELECT cf_archive_legacy();
SELECT cf_archive_legacy('elsewhere');
SELECT cf_archive_legacy(NULL);
SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'archive' ORDER BY c.relname;
SELECT to_regclass('public.users') AS public_users;
SELECT has_table_privilege('coreforge_regress_new_app', 'cf_users', 'UPDATE') AS new_app_on_cf,
       has_table_privilege('coreforge_regress_new_app', 'archive.users', 'SELECT') AS new_app_on_archive;
SELECT count(*) AS triggers_left FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid
 WHERE p.proname IN ('mirror_trigger', 'reverse_trigger', 'freeze_trigger');
-- While archived, CoreForge writes are not mirrored; the validation compares with the archive.
INSERT INTO cf_users (id, email, name, created_at)
VALUES ('c0000000-0000-0000-0000-000000000002', 'archived.era@example.com', 'Archived Era', '2026-02-01 00:00+00');
SELECT entity, check_name, discrepancies FROM cf_validation_report() WHERE status = 'fail';

-- Compatibility views, named like the old tables, over the cf_ tables; PostgreSQL writes through
-- them (kept uuid ids, no value maps).
SELECT * FROM cf_create_compat_views();
SELECT id, email, name, deleted_at FROM users ORDER BY email;
SELECT user_id, tenant_id, role FROM tenant_members ORDER BY created_at;
UPDATE users SET name = 'José Álvarez' WHERE email = 'jose@example.com';
SELECT name FROM cf_users WHERE email = 'jose@example.com';
SELECT * FROM cf_create_compat_views();

-- Dropping needs the archive schema's name, and the retention period (30 days by default).
SELECT cf_drop_archive('public');
SELECT cf_drop_archive(NULL);
SELECT cf_drop_archive('archive', force => NULL);
\set VERBOSITY terse
SELECT cf_drop_archive('archive');
\set VERBOSITY default

-- Restore: the tables come back (the views go), are brought up to date with everything CoreForge
-- holds (the user created while archived, José's name), and the sync is re-armed, frozen.
SELECT cf_restore_legacy();
SELECT cf_restore_legacy();
SELECT cf_phase();
SELECT email, name, deleted_at IS NULL AS live FROM users ORDER BY email;
SELECT entity, check_name, discrepancies FROM cf_validation_report() WHERE status = 'fail';

-- Rollback: the legacy tables are the source of truth again, and hold every write made while
-- CoreForge was: Ada's new name, the new user, organization and membership, Wang's soft delete.
SELECT cf_rollback();
SELECT cf_rollback();
SELECT email, name, deleted_at IS NULL AS live FROM users ORDER BY email;
SELECT slug, name, plan FROM tenants ORDER BY slug;
SELECT u.email, t.slug, m.role FROM tenant_members m JOIN users u ON u.id = m.user_id
  JOIN tenants t ON t.id = m.tenant_id ORDER BY u.email, t.slug;
-- CoreForge writes are no longer mirrored back; legacy writes are mirrored forward as in phase 1.
UPDATE cf_users SET name = 'Not Mirrored Back' WHERE email = 'grace@example.com';
SELECT name FROM users WHERE email = 'grace@example.com';
SELECT cf_sync_users();
SELECT name FROM cf_users WHERE email = 'grace@example.com';

-- The whole way once more, to the end: cutover, freeze, archive, drop.
SELECT cf_cutover(reason => 'second attempt, after the rollback drill');
SELECT cf_freeze_legacy();
SELECT cf_archive_legacy();
-- A retention of zero lets the drop through (rolled back here)...
BEGIN;
SET LOCAL coreforge_sync.archive_retention = '0';
SELECT cf_drop_archive('archive');
ROLLBACK;
-- ...a retention that is no interval is an error...
SET coreforge_sync.archive_retention = 'a while';
SELECT cf_drop_archive('archive');
RESET coreforge_sync.archive_retention;
-- ...the default one refuses (its detail says since when and until when)...
\set VERBOSITY terse
SELECT cf_drop_archive('archive');
\set VERBOSITY default
-- ...a view someone made on an archived table keeps it (nothing is dropped with CASCADE)...
CREATE VIEW archive.recent_users AS SELECT email FROM archive.users WHERE created_at > '2025-01-01';
SELECT cf_drop_archive('archive', force => true);
DROP VIEW archive.recent_users;
-- ...and force skips the retention, recorded in the history. A second call does nothing.
SELECT cf_drop_archive('archive', force => true);
SELECT cf_drop_archive('archive');
SELECT cf_phase();
SELECT to_regclass('archive.users') AS archived_users, to_regnamespace('archive') AS archive_schema;
SELECT count(*) AS cf_users_rows FROM cf_users;

-- After the drop there is no way back, and nothing legacy to read.
SELECT cf_rollback();
SELECT cf_restore_legacy();
SELECT cf_cutover();
SELECT * FROM cf_validation_report();
SELECT cf_enable_sync();

-- Every transition: who, what, from, to, forced and why, and the validation of that moment.
SELECT run_by = current_user AS by_me, action, from_phase, to_phase, forced, reason, validation
  FROM cf_history();

DROP OWNED BY coreforge_regress_new_app;
DROP ROLE coreforge_regress_new_app;
