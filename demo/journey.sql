-- The journey of a migration's phase 1 (side by side), as a DBA runs it in psql.
-- Run by scripts/demo.sh against the demo database (demo/legacy_schema.sql + demo/legacy_data.sql).
\set ON_ERROR_STOP 1
\pset null '∅'

\echo
\echo '== 1. Install the extension, and create the CoreForge tables as CoreForge''s Ent schema does'
CREATE EXTENSION coreforge_sync;
SELECT cf_create_tables();

\echo
\echo '== 2. Sync on every write first, then backfill: nothing written meanwhile can be lost'
SELECT cf_enable_sync();
SELECT cf_sync_users();
SELECT cf_sync_organizations();
SELECT cf_sync_memberships();

\echo
\echo '== 3. The legacy application keeps writing; every write is mirrored in the same transaction'
UPDATE users SET name = 'José Álvarez García' WHERE email = 'jose.alvarez@example.com';
UPDATE tenants SET settings = coalesce(settings, '{}') || '{"sso": true}', plan = 'enterprise' WHERE slug = 'acme';
INSERT INTO users (email, name, avatar_url, password_hash)
  VALUES ('new.hire@example.com', 'Åsa Ødegård-Nilsen', '', NULL);
INSERT INTO tenant_members (user_id, tenant_id, role)
  SELECT u.id, t.id, 'member' FROM users u, tenants t
   WHERE u.email = 'new.hire@example.com' AND t.slug = 'acme';
-- A soft delete takes the user's memberships out of CoreForge with her; an undelete brings them back.
UPDATE users SET deleted_at = now() WHERE email = 'wang.fang@example.cn';
SELECT count(*) AS wang_memberships_in_coreforge FROM cf_memberships m JOIN users u ON u.id = m.user_id
 WHERE u.email = 'wang.fang@example.cn';
UPDATE users SET deleted_at = NULL WHERE email = 'wang.fang@example.cn';
SELECT count(*) AS wang_memberships_in_coreforge FROM cf_memberships m JOIN users u ON u.id = m.user_id
 WHERE u.email = 'wang.fang@example.cn';
SELECT c.name, c.avatar_url, c.password_hash FROM cf_users c WHERE c.email IN ('jose.alvarez@example.com', 'new.hire@example.com');

\echo
\echo '== 4. A second backfill finds nothing left to do'
SELECT * FROM cf_sync_all();

\echo
\echo '== 5. The proof: one row per entity and check'
SELECT * FROM cf_validation_report();

\echo
\echo '== 6. A hand edit on the CoreForge side is caught, named, and repaired by a backfill'
UPDATE cf_users SET name = 'Someone Else' WHERE email = 'zoe.mueller@example.de';
SELECT entity, check_name, discrepancies, status FROM cf_validation_report() WHERE status = 'fail';
SELECT * FROM cf_mismatches('users');
SELECT cf_sync_users();
SELECT * FROM cf_missing('users');

\echo
\echo '== 7. Status'
SELECT * FROM cf_status();
