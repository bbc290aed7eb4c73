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
\echo '== 7. Passwords: CoreForge verifies only Argon2id; the policy keeps argon2id and bcrypt, resets the rest'
SELECT * FROM cf_password_report();
SELECT count(*) AS users_who_must_reset FROM cf_password_resets();

\echo
\echo '== 8. Dirty data is rejected with its reason, the rest goes on; fixed, a row is migrated'
INSERT INTO users (email, name) VALUES ('jose.alvarez@example.com', 'José Again'), ('no.name@example.com', '');
UPDATE tenants SET plan = 'gold' WHERE slug = 'acme';
SELECT entity, reason, message FROM cf_rejects();
SELECT entity, check_name, discrepancies, status FROM cf_validation_report() WHERE status = 'fail';
UPDATE tenants SET plan = 'enterprise' WHERE slug = 'acme';
UPDATE users SET name = 'No Name Yet' WHERE email = 'no.name@example.com';
DELETE FROM users WHERE name = 'José Again';
SELECT count(*) AS rejects_left FROM cf_rejects();

\echo
\echo '== 9. Status'
SELECT * FROM cf_status();

\echo
\echo '== 10. Cutover: CoreForge becomes the source of truth; its writes are mirrored back, legacy ones still forward'
SELECT cf_cutover();
UPDATE cf_users SET name = 'José Álvarez-Pérez' WHERE email = 'jose.alvarez@example.com';
SELECT name AS legacy_name FROM users WHERE email = 'jose.alvarez@example.com';
SELECT cf_freeze_legacy();
SELECT entity, check_name, discrepancies FROM cf_validation_report() WHERE status = 'fail';

\echo
\echo '== 11. The rollback drill: the legacy tables hold every CoreForge write, and are the source again'
SELECT cf_rollback();
SELECT action, from_phase, to_phase, validation FROM cf_history();
