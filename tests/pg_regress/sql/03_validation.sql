-- Validation: a row changed by hand on either side shows up as a 'fail' whose discrepancies
-- count exactly the affected rows, and cf_missing / cf_mismatches / cf_extra name them.
\i fixtures/legacy.sql
CREATE EXTENSION coreforge_sync;
SELECT cf_create_tables();
SELECT cf_enable_sync();
SELECT * FROM cf_sync_all();

-- Hand edits on the CoreForge side: two names changed, one user deleted, one extra user.
UPDATE cf_users SET name = 'Ada' WHERE email = 'ada@example.com';
UPDATE cf_users SET name = 'W. Fang', avatar_url = 'https://x.invalid/w.png' WHERE email = 'wang@example.com';
DELETE FROM cf_memberships WHERE user_id = 'a0000000-0000-0000-0000-000000000005';
DELETE FROM cf_users WHERE email = 'grace@example.com';
INSERT INTO cf_users (id, email, name, created_at) VALUES ('c0000000-0000-0000-0000-000000000001', 'ghost@example.com', 'Ghost', now());
-- A hand edit on the legacy side, with sync off for the moment.
SELECT cf_disable_sync();
UPDATE tenants SET name = 'ACME Corp' WHERE slug = 'acme';

SELECT entity, check_name, legacy_count, coreforge_count, discrepancies, status
  FROM cf_validation_report();
SELECT * FROM cf_missing('users');
SELECT * FROM cf_missing('memberships');
SELECT * FROM cf_mismatches('users');
SELECT * FROM cf_mismatches('organizations');
SELECT * FROM cf_extra('users');

-- Rows that cannot be migrated are accounted for: rejected (with the reason) and orphaned.
ALTER TABLE tenant_members DROP CONSTRAINT tenant_members_user_id_fkey;
INSERT INTO tenant_members (user_id, tenant_id, role) VALUES
  ('dead0000-0000-0000-0000-000000000000', 'b0000000-0000-0000-0000-000000000001', 'member');
UPDATE users SET name = '' WHERE email = 'jose@example.com';
SELECT entity, check_name, discrepancies, status FROM cf_validation_report()
 WHERE check_name IN ('rejected', 'orphaned');
SELECT * FROM cf_missing('memberships');
SELECT * FROM cf_missing('users');

-- A backfill records a row it cannot mirror as a reject, says so, and goes on.
SELECT cf_enable_sync();
SELECT cf_sync_users();
SELECT entity, legacy_id, reason, message FROM cf_rejects();

-- Entities are users, organizations, memberships; anything else is a clear error.
SELECT * FROM cf_missing('accounts');
SELECT * FROM cf_mismatches(NULL);
