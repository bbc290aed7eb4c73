-- Sync on every write: with sync enabled, the cf_ tables always hold exactly what a full
-- backfill of the current legacy tables would produce. pg_temp.invariant() counts the
-- differences against an independent reading of the guide's rules; zero everywhere is the goal.
\i fixtures/legacy.sql
CREATE EXTENSION coreforge_sync;
SELECT cf_create_tables();
SELECT cf_enable_sync();
SELECT * FROM cf_sync_all();

-- An update of a mapped column.
UPDATE users SET name = 'Ada King', avatar_url = '' WHERE email = 'ada@example.com';
SELECT name, avatar_url FROM cf_users WHERE email = 'ada@example.com';

-- An update of an unmapped column leaves the CoreForge row, and its updated_at, alone.
SELECT updated_at AS before FROM cf_users WHERE email = 'grace@example.com' \gset
UPDATE users SET updated_at = now() WHERE email = 'grace@example.com';
SELECT updated_at = :'before' AS untouched FROM cf_users WHERE email = 'grace@example.com';

-- A soft delete removes the user and, first, her memberships (the cf_ foreign keys are NO ACTION).
UPDATE users SET deleted_at = now() WHERE email = 'jose@example.com';
SELECT count(*) AS jose_users FROM cf_users WHERE email = 'jose@example.com';
SELECT count(*) AS jose_memberships FROM cf_memberships WHERE user_id = 'a0000000-0000-0000-0000-000000000002';

-- An undelete brings her back with her live memberships.
UPDATE users SET deleted_at = NULL WHERE email = 'jose@example.com';
SELECT o.slug, m.role FROM cf_memberships m JOIN cf_organizations o ON o.id = m.organization_id
 WHERE m.user_id = 'a0000000-0000-0000-0000-000000000002' ORDER BY o.slug;

-- The same for an organization: Initech comes back with Ada's membership.
UPDATE tenants SET deleted_at = NULL WHERE slug = 'initech';
SELECT count(*) AS initech_memberships FROM cf_memberships WHERE organization_id = 'b0000000-0000-0000-0000-000000000003';

-- Inserts, a multi-row update, and deletes.
INSERT INTO users (id, email, name, avatar_url, password_hash, created_at) VALUES
  ('a0000000-0000-0000-0000-000000000006', 'nat@example.com', 'Наталья Иванова', '', NULL, '2024-02-02 00:00+00');
INSERT INTO tenant_members (user_id, tenant_id, role, created_at) VALUES
  ('a0000000-0000-0000-0000-000000000006', 'b0000000-0000-0000-0000-000000000002', 'admin', '2024-02-02 00:01+00');
UPDATE tenant_members SET role = 'admin' WHERE tenant_id = 'b0000000-0000-0000-0000-000000000001' AND role = 'member';
DELETE FROM tenant_members WHERE user_id = 'a0000000-0000-0000-0000-000000000005';
DELETE FROM users WHERE email = 'grace@example.com';
UPDATE tenants SET settings = settings || '{"beta": true}', plan = 'enterprise' WHERE slug = 'acme';
SELECT * FROM pg_temp.invariant();

-- Several writes in one transaction, then a rolled-back one.
BEGIN;
UPDATE users SET deleted_at = now() WHERE email = 'wang@example.com';
UPDATE users SET deleted_at = NULL, name = 'Wang Fang' WHERE email = 'wang@example.com';
INSERT INTO tenants (id, name, slug, created_at) VALUES ('b0000000-0000-0000-0000-000000000004', 'Hooli', 'hooli', '2024-03-03 00:00+00');
INSERT INTO tenant_members (user_id, tenant_id, role, created_at) VALUES
  ('a0000000-0000-0000-0000-000000000003', 'b0000000-0000-0000-0000-000000000004', 'owner', '2024-03-03 00:01+00');
COMMIT;
BEGIN;
DELETE FROM tenant_members;
ROLLBACK;
SELECT * FROM pg_temp.invariant();

-- A bulk statement is mirrored by one trigger call, not one per row.
INSERT INTO users (email, name, created_at)
  SELECT 'bulk' || i || '@example.com', 'Bulk ' || i, '2024-04-01'::timestamptz + i * interval '1 minute'
  FROM generate_series(1, 2000) i;
UPDATE users SET name = name || ' (imported)' WHERE email LIKE 'bulk%';
UPDATE users SET deleted_at = now() WHERE email LIKE 'bulk1%';
SELECT count(*) AS bulk_in_coreforge FROM cf_users WHERE email LIKE 'bulk%';
SELECT * FROM pg_temp.invariant();

-- TRUNCATE is mirrored too.
TRUNCATE tenant_members;
SELECT count(*) AS memberships_left FROM cf_memberships;
SELECT * FROM pg_temp.invariant();

-- A legacy write that cannot be mirrored is recorded as a reject (coreforge_sync.on_error =
-- 'reject', the default): the application's write succeeds, CoreForge keeps the last good
-- version of the row, and cf_rejects() says why.
UPDATE users SET email = '' WHERE id = 'a0000000-0000-0000-0000-000000000001';
SELECT email FROM cf_users WHERE id = 'a0000000-0000-0000-0000-000000000001';
SELECT entity, legacy_id, reason, message FROM cf_rejects();
SELECT entity, check_name, discrepancies, status FROM cf_validation_report() WHERE status = 'fail';
-- Fixed, the row is mirrored and its reject is gone.
UPDATE users SET email = 'ada@example.com' WHERE id = 'a0000000-0000-0000-0000-000000000001';
SELECT count(*) AS rejects FROM cf_rejects();

-- With coreforge_sync.on_error = 'raise', such a write fails instead, naming the row and the
-- reason; nothing is written.
SET coreforge_sync.on_error = 'raise';
UPDATE tenants SET slug = '' WHERE slug = 'acme';
INSERT INTO tenant_members (user_id, tenant_id, role) VALUES
  ('a0000000-0000-0000-0000-000000000001', 'b0000000-0000-0000-0000-000000000001', '');
-- A duplicate email among live users (CoreForge's email is unique): the row in CoreForge keeps it.
INSERT INTO users (id, email, name) VALUES ('a0000000-0000-0000-0000-000000000099', 'ada@example.com', 'Another Ada');
RESET coreforge_sync.on_error;
SELECT count(*) AS rejects FROM cf_rejects();

-- Sync off: writes are no longer mirrored, and the report shows the drift.
SELECT cf_disable_sync();
UPDATE users SET name = 'Countess of Lovelace' WHERE email = 'ada@example.com';
SELECT entity, check_name, discrepancies, status FROM cf_validation_report() WHERE status = 'fail';
SELECT * FROM cf_mismatches('users');

-- Sync on again and a backfill: everything is back in line.
SELECT cf_enable_sync();
SELECT * FROM cf_sync_all();
SELECT entity, check_name, discrepancies, status FROM cf_validation_report() WHERE status = 'fail';
SELECT * FROM pg_temp.invariant();
