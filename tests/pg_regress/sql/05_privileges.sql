-- The legacy application keeps writing with its own role: it needs DML rights on its tables
-- only. The sync trigger runs as the extension's owner (SECURITY DEFINER, fixed search_path),
-- so the mirror works without any right on the cf_ tables, and the role cannot use the
-- extension's functions to reach them.
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
RESET ROLE;
SELECT entity, legacy_id, reason FROM cf_rejects();
DELETE FROM users WHERE id = 'a0000000-0000-0000-0000-000000000077';

SELECT name FROM cf_users WHERE email = 'ada@example.com';
SELECT * FROM pg_temp.invariant();

DROP OWNED BY coreforge_regress_app;
DROP ROLE coreforge_regress_app;
