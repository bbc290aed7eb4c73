-- Writes made under session_replication_role = replica: logical replication's apply and
-- table-sync workers make them (a subscriber's legacy tables), and so does a bulk load that sets
-- the role by hand. Those sessions fire row-level triggers only, never statement-level ones, so
-- a sync made of statement triggers alone would miss every such write. The sync's row triggers
-- fire there (ENABLE REPLICA), each row taking the statement path as a one-row statement; in
-- ordinary sessions only the statement triggers fire.
\i fixtures/legacy.sql
CREATE EXTENSION coreforge_sync;
SELECT cf_create_tables() IS NOT NULL AS created;
SELECT cf_enable_sync() IS NOT NULL AS enabled;
SELECT count(*) FROM cf_sync_all();

-- Which sync trigger fires in which session: O origin (ordinary sessions), R replica, A always.
SELECT tgrelid::regclass AS legacy_table, tgname, tgenabled,
       CASE WHEN tgtype & 1 = 1 THEN 'row' ELSE 'statement' END AS level
  FROM pg_trigger WHERE tgname LIKE 'coreforge_sync%' ORDER BY 1, 2;

SET session_replication_role = replica;
-- A new user, a rename, a new tenant with its member: each row reaches CoreForge.
INSERT INTO users (id, email, name, created_at)
VALUES ('c1000000-0000-0000-0000-000000000001', 'rita@replica.example', 'Rita Replica', '2024-02-01');
UPDATE users SET name = 'Ada King' WHERE email = 'ada@example.com';
INSERT INTO tenants (id, name, slug, created_at)
VALUES ('c2000000-0000-0000-0000-000000000001', 'Replicated Ltd', 'replicated', '2024-02-01');
INSERT INTO tenant_members (user_id, tenant_id, role, created_at)
VALUES ('c1000000-0000-0000-0000-000000000001', 'c2000000-0000-0000-0000-000000000001', 'owner', '2024-02-01');
SELECT u.email, u.name, o.slug, m.role
  FROM cf_memberships m JOIN cf_users u ON u.id = m.user_id JOIN cf_organizations o ON o.id = m.organization_id
 WHERE o.slug = 'replicated';
SELECT name FROM cf_users WHERE email = 'ada@example.com';

-- A statement of several rows fires one row trigger per row, after all of them: each sees the
-- others' legacy rows already written. Kim takes the email Sam lets go, in one statement: when
-- Kim's row is mirrored first it is rejected (Sam's CoreForge row still holds the email), and the
-- retry that follows Sam's row lets it in.
INSERT INTO users (id, email, name, created_at) VALUES
  ('c1000000-0000-0000-0000-000000000003', 'kim@replica.example', 'Kim', '2024-02-03'),
  ('c1000000-0000-0000-0000-000000000002', 'sam@replica.example', 'Sam', '2024-02-02');
UPDATE users SET email = CASE name WHEN 'Sam' THEN 'samuel@replica.example' ELSE 'sam@replica.example' END
 WHERE name IN ('Sam', 'Kim');
SELECT name, email FROM cf_users WHERE email LIKE '%@replica.example' ORDER BY name;
SELECT count(*) AS rejects FROM cf_rejects('users');

-- A soft delete takes the user and their memberships out of CoreForge; an undelete brings them back.
UPDATE users SET deleted_at = '2024-03-01' WHERE email = 'rita@replica.example';
SELECT count(*) AS rita_rows FROM cf_users WHERE email = 'rita@replica.example';
SELECT count(*) AS replicated_members FROM cf_memberships m JOIN cf_organizations o ON o.id = m.organization_id
 WHERE o.slug = 'replicated';
UPDATE users SET deleted_at = NULL WHERE email = 'rita@replica.example';
SELECT count(*) AS replicated_members FROM cf_memberships m JOIN cf_organizations o ON o.id = m.organization_id
 WHERE o.slug = 'replicated';

-- A touch that changes nothing CoreForge holds, a delete, and a row the sync rejects.
UPDATE users SET updated_at = now() WHERE email = 'samuel@replica.example';
DELETE FROM tenant_members WHERE tenant_id = 'c2000000-0000-0000-0000-000000000001';
DELETE FROM tenants WHERE slug = 'replicated';
SELECT count(*) AS replicated_orgs FROM cf_organizations WHERE slug = 'replicated';
INSERT INTO users (id, email, name, created_at)
VALUES ('c1000000-0000-0000-0000-000000000004', 'sam@replica.example', 'Kim Again', '2024-02-04');
SELECT legacy_id, reason FROM cf_rejects('users');

-- TRUNCATE fires its statement trigger in every session (replication applies it too).
TRUNCATE tenant_members;
SELECT count(*) AS memberships FROM cf_memberships;
RESET session_replication_role;

-- The two sessions agree: CoreForge matches the legacy tables, apart from the one reject.
SELECT entity, check_name, discrepancies FROM cf_validation_report() WHERE status = 'fail';

-- A row trigger disabled (or set to fire in ordinary sessions) is sync off: cf_status() says so,
-- and cf_enable_sync() puts it back as it was.
ALTER TABLE users ENABLE TRIGGER coreforge_sync_replica;
SELECT entity, sync_enabled FROM cf_status() ORDER BY 1;
SELECT cf_enable_sync() IS NOT NULL AS enabled;
SELECT tgenabled FROM pg_trigger WHERE tgname = 'coreforge_sync_replica' AND tgrelid = 'users'::regclass;

SET client_min_messages = warning;
DROP EXTENSION coreforge_sync CASCADE;
