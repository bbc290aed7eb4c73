-- How many statements the sync triggers run for one application write, counted by
-- pg_stat_statements (nested statements, track = all). A write that changes nothing CoreForge
-- holds runs none: an UPDATE that touches no column the mapping reads (updated_at, a column the
-- configuration does not map) is seen unchanged in the transition tables, before any SQL.
\i fixtures/legacy.sql
CREATE EXTENSION coreforge_sync;
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
SELECT cf_create_tables() IS NOT NULL AS created;
SELECT cf_enable_sync() IS NOT NULL AS enabled;
SELECT count(*) FROM cf_sync_all();
SET pg_stat_statements.track = 'all';

-- The statements the triggers ran (nested ones) since the last reset, less the reset itself and
-- PostgreSQL's own foreign-key checks (`SELECT 1 FROM ONLY ...`, which a DELETE of a referenced row
-- runs with or without the extension).
CREATE FUNCTION pg_temp.trigger_statements() RETURNS bigint LANGUAGE sql AS $$
  SELECT COALESCE(sum(calls), 0)::bigint FROM pg_stat_statements
   WHERE NOT toplevel AND query NOT LIKE '%pg_stat_statements%' AND query !~ '^SELECT (1|\$[0-9]+) FROM ONLY '
     AND dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
$$;

-- A backend builds an entity's statements at the first write it mirrors (reading the settings
-- and the catalog) and keeps them: renames (one rejected, then fixed) and tenant updates warm it up, so that what is
-- counted below is what every later write costs.
UPDATE users SET name = 'Ada Lovelace' WHERE email = 'ada@example.com';
UPDATE users SET name = '' WHERE email = 'ada@example.com';
UPDATE users SET name = 'Ada Lovelace' WHERE email = 'ada@example.com';
UPDATE tenants SET name = name || '.' WHERE slug = 'acme';
UPDATE tenants SET name = rtrim(name, '.') WHERE slug = 'acme';

-- An updated_at touch: nothing to mirror, no statement.
SELECT pg_stat_statements_reset() IS NOT NULL AS reset;
UPDATE users SET updated_at = now() WHERE email = 'grace@example.com';
SELECT pg_temp.trigger_statements() AS statements_for_a_touch;

-- The same for many rows at once.
SELECT pg_stat_statements_reset() IS NOT NULL AS reset;
UPDATE users SET updated_at = now();
UPDATE tenants SET updated_at = now();
SELECT pg_temp.trigger_statements() AS statements_for_bulk_touches;

-- An UPDATE that sets a mapped column to the value it has already.
SELECT pg_stat_statements_reset() IS NOT NULL AS reset;
UPDATE users SET name = name WHERE email = 'grace@example.com';
SELECT pg_temp.trigger_statements() AS statements_for_a_same_value;

-- A rename is mirrored in one statement: no key, soft delete or email changed, so no row comes into
-- CoreForge, leaves it or claims a value, and the fast path updates the cf_ row.
SELECT pg_stat_statements_reset() IS NOT NULL AS reset;
UPDATE users SET name = 'Grace Brewster Hopper' WHERE email = 'grace@example.com';
SELECT pg_temp.trigger_statements() AS statements_for_a_rename;
SELECT left(regexp_replace(query, '\s+', ' ', 'g'), 60) AS statement, calls FROM pg_stat_statements
 WHERE NOT toplevel AND query NOT LIKE '%pg_stat_statements%' ORDER BY 1;
SELECT name FROM cf_users WHERE email = 'grace@example.com';

-- A rename that makes the row unmirrorable: the fast path's UPDATE finds it not ready and writes
-- nothing, its read finds it has something to do, then the full path (the probe, the mirror
-- statement, the bookkeeping of the reject) runs.
SELECT pg_stat_statements_reset() IS NOT NULL AS reset;
UPDATE users SET name = '' WHERE email = 'grace@example.com';
SELECT pg_temp.trigger_statements() AS statements_for_a_rejected_rename;
SELECT reason FROM cf_rejects('users') WHERE legacy_id LIKE '%-000000000005';
SELECT name FROM cf_users WHERE email = 'grace@example.com';
-- Fixed: the row is rejected, so it is not ready for the fast path either; the full path clears it.
UPDATE users SET name = 'Grace Brewster Hopper' WHERE email = 'grace@example.com';
SELECT count(*) AS rejects FROM cf_rejects('users');

-- A sign-up is mirrored in one statement: the INSERT's fast path locks the new email, and inserts
-- the row's projection when it is live, has no problem, and no legacy membership points at it.
-- (The first sign-up builds the statement; the second is counted.)
INSERT INTO users (id, email, name, created_at) VALUES ('a0000000-0000-0000-0000-000000000010', 'alan@example.com', 'Alan Turing', now());
SELECT pg_stat_statements_reset() IS NOT NULL AS reset;
INSERT INTO users (id, email, name, created_at) VALUES ('a0000000-0000-0000-0000-000000000011', 'edsger@example.com', 'Edsger Dijkstra', now());
SELECT pg_temp.trigger_statements() AS statements_for_a_sign_up;
SELECT left(regexp_replace(query, '\s+', ' ', 'g'), 60) AS statement, calls FROM pg_stat_statements
 WHERE NOT toplevel AND query NOT LIKE '%pg_stat_statements%' ORDER BY 1;
SELECT email, name FROM cf_users WHERE id = 'a0000000-0000-0000-0000-000000000011';

-- A sign-up whose email CoreForge already holds: the fast path's INSERT meets the conflict and
-- writes nothing, and the full path records the reject (the application's INSERT succeeds).
SELECT pg_stat_statements_reset() IS NOT NULL AS reset;
INSERT INTO users (id, email, name, created_at) VALUES ('a0000000-0000-0000-0000-000000000012', 'edsger@example.com', 'E. W. Dijkstra', now());
SELECT pg_temp.trigger_statements() > 1 AS the_full_path_ran;
SELECT reason FROM cf_rejects('users') WHERE legacy_id LIKE '%-000000000012';
SELECT count(*) AS cf_rows_for_the_email FROM cf_users WHERE email = 'edsger@example.com';
DELETE FROM users WHERE id = 'a0000000-0000-0000-0000-000000000012';
SELECT count(*) AS rejects FROM cf_rejects('users');

-- An unmirrorable sign-up (no name): the fast path's INSERT finds a problem, the full path records it.
INSERT INTO users (id, email, name, created_at) VALUES ('a0000000-0000-0000-0000-000000000013', 'anon@example.com', '', now());
SELECT reason FROM cf_rejects('users') WHERE legacy_id LIKE '%-000000000013';
SELECT count(*) AS mirrored FROM cf_users WHERE id = 'a0000000-0000-0000-0000-000000000013';
DELETE FROM users WHERE id = 'a0000000-0000-0000-0000-000000000013';

-- A membership's role changed: one statement as well, one row at a time (a statement of several
-- memberships takes the full path, whose parent locks order it against their parents' writers).
-- (The first change builds the statement; the second is counted.)
UPDATE tenant_members SET role = 'member'
 WHERE user_id = 'a0000000-0000-0000-0000-000000000001' AND tenant_id = 'b0000000-0000-0000-0000-000000000001';
SELECT pg_stat_statements_reset() IS NOT NULL AS reset;
UPDATE tenant_members SET role = 'owner'
 WHERE user_id = 'a0000000-0000-0000-0000-000000000001' AND tenant_id = 'b0000000-0000-0000-0000-000000000001';
SELECT pg_temp.trigger_statements() AS statements_for_a_role_change;
SELECT role FROM cf_memberships
 WHERE user_id = 'a0000000-0000-0000-0000-000000000001' AND organization_id = 'b0000000-0000-0000-0000-000000000001';

-- A write of a row that is not in CoreForge because it is soft-deleted (no cf_ row, no reject) has
-- nothing to mirror: two statements, the fast path's UPDATE, which updates nothing, and its read,
-- which finds that there is nothing to do (the UPDATE alone serves the common case, a row that
-- changed, at a smaller cost). A soft-deleted user renamed:
SELECT pg_stat_statements_reset() IS NOT NULL AS reset;
UPDATE users SET name = 'Zoë Müller-Lutz' WHERE email = 'zoe@example.com';
SELECT pg_temp.trigger_statements() AS statements_for_renaming_a_soft_deleted_user;
-- A membership of a soft-deleted tenant given another role:
SELECT pg_stat_statements_reset() IS NOT NULL AS reset;
UPDATE tenant_members SET role = 'admin'
 WHERE user_id = 'a0000000-0000-0000-0000-000000000001' AND tenant_id = 'b0000000-0000-0000-0000-000000000003';
SELECT pg_temp.trigger_statements() AS statements_for_a_role_change_in_a_soft_deleted_tenant;
SELECT (SELECT count(*) FROM cf_users WHERE email = 'zoe@example.com') AS soft_deleted_users_in_coreforge,
       (SELECT count(*) FROM cf_memberships WHERE organization_id = 'b0000000-0000-0000-0000-000000000003') AS soft_deleted_tenants_members,
       (SELECT count(*) FROM cf_rejects()) AS rejects;

-- A membership added: two statements. The first locks it with its user and tenant FOR SHARE (the
-- full path's lock, which orders it against its parents' writers); the second, in a fresh snapshot,
-- inserts its projection when it is live, has no problem and no reject, and its parents have been
-- backfilled. A membership removed: one statement, which deletes its cf_ row when its key has no
-- reject to clear. (The first of each builds the statements; the second is counted.)
INSERT INTO tenant_members (user_id, tenant_id, role) VALUES ('a0000000-0000-0000-0000-000000000005', 'b0000000-0000-0000-0000-000000000001', 'member');
DELETE FROM tenant_members WHERE user_id = 'a0000000-0000-0000-0000-000000000005' AND tenant_id = 'b0000000-0000-0000-0000-000000000001';
SELECT pg_stat_statements_reset() IS NOT NULL AS reset;
INSERT INTO tenant_members (user_id, tenant_id, role) VALUES ('a0000000-0000-0000-0000-000000000005', 'b0000000-0000-0000-0000-000000000001', 'admin');
SELECT pg_temp.trigger_statements() AS statements_for_a_membership_insert;
SELECT role FROM cf_memberships
 WHERE user_id = 'a0000000-0000-0000-0000-000000000005' AND organization_id = 'b0000000-0000-0000-0000-000000000001';
SELECT pg_stat_statements_reset() IS NOT NULL AS reset;
DELETE FROM tenant_members WHERE user_id = 'a0000000-0000-0000-0000-000000000005' AND tenant_id = 'b0000000-0000-0000-0000-000000000001';
SELECT pg_temp.trigger_statements() AS statements_for_a_membership_delete;
SELECT count(*) AS left_in_coreforge FROM cf_memberships
 WHERE user_id = 'a0000000-0000-0000-0000-000000000005' AND organization_id = 'b0000000-0000-0000-0000-000000000001';
-- A membership of a soft-deleted tenant has nothing to mirror: the same two statements, then one.
SELECT pg_stat_statements_reset() IS NOT NULL AS reset;
INSERT INTO tenant_members (user_id, tenant_id, role) VALUES ('a0000000-0000-0000-0000-000000000005', 'b0000000-0000-0000-0000-000000000003', 'member');
DELETE FROM tenant_members WHERE user_id = 'a0000000-0000-0000-0000-000000000005' AND tenant_id = 'b0000000-0000-0000-0000-000000000003';
SELECT pg_temp.trigger_statements() AS statements_for_a_membership_in_a_soft_deleted_tenant;
-- A membership CoreForge cannot take (a role over 64 characters): the insert finds a problem and the
-- full path records it; its delete finds the reject and the full path clears it.
SELECT pg_stat_statements_reset() IS NOT NULL AS reset;
INSERT INTO tenant_members (user_id, tenant_id, role) VALUES ('a0000000-0000-0000-0000-000000000005', 'b0000000-0000-0000-0000-000000000001', repeat('r', 65));
SELECT pg_temp.trigger_statements() > 2 AS the_full_path_ran;
SELECT reason FROM cf_rejects('memberships');
SELECT pg_stat_statements_reset() IS NOT NULL AS reset;
DELETE FROM tenant_members WHERE user_id = 'a0000000-0000-0000-0000-000000000005' AND tenant_id = 'b0000000-0000-0000-0000-000000000001';
SELECT pg_temp.trigger_statements() > 1 AS the_full_path_ran;
SELECT (SELECT count(*) FROM cf_rejects()) AS rejects,
       (SELECT count(*) FROM cf_memberships WHERE user_id = 'a0000000-0000-0000-0000-000000000005') AS graces_memberships;

-- The same for several rows: a bulk change of avatars over live users and a soft-deleted one
-- (Zoë) is one statement. (The first builds it; the second is counted.)
UPDATE users SET avatar_url = 'https://example.com/x.png' WHERE avatar_url IS NULL;
SELECT pg_stat_statements_reset() IS NOT NULL AS reset;
UPDATE users SET avatar_url = NULL WHERE avatar_url = 'https://example.com/x.png';
SELECT pg_temp.trigger_statements() AS statements_for_a_bulk_avatar_change;
SELECT count(*) FILTER (WHERE avatar_url IS NULL) AS without_avatar, count(*) AS users FROM cf_users;

-- Deleting the holder of an email that a rejected row waits for: the DELETE's fast path leaves
-- it to the full path, which retries the waiting row and gives it the email.
INSERT INTO users (id, email, name, created_at) VALUES ('a0000000-0000-0000-0000-000000000014', 'alan@example.com', 'A. M. Turing', now());
SELECT reason FROM cf_rejects('users') WHERE legacy_id LIKE '%-000000000014';
SELECT pg_stat_statements_reset() IS NOT NULL AS reset;
DELETE FROM users WHERE id = 'a0000000-0000-0000-0000-000000000010';
SELECT pg_temp.trigger_statements() > 2 AS the_full_path_ran;
SELECT id, name FROM cf_users WHERE email = 'alan@example.com';
SELECT count(*) AS rejects FROM cf_rejects('users');

-- A deletion is mirrored in two statements: the DELETE's fast path locks the cf_ row (a CoreForge
-- membership being inserted for it, from cutover on, is waited for), then, in a fresh snapshot,
-- deletes it with its memberships when it has no reject to clear, none of its legacy memberships
-- is rejected, and no row waits for an email. (The first deletion builds the statements; the
-- second is counted.)
DELETE FROM users WHERE id = 'a0000000-0000-0000-0000-000000000014';
SELECT pg_stat_statements_reset() IS NOT NULL AS reset;
DELETE FROM users WHERE id = 'a0000000-0000-0000-0000-000000000011';
SELECT pg_temp.trigger_statements() AS statements_for_a_deletion;
SELECT left(regexp_replace(query, '\s+', ' ', 'g'), 60) AS statement, calls FROM pg_stat_statements
 WHERE NOT toplevel AND query NOT LIKE '%pg_stat_statements%' AND query !~ '^SELECT (1|\$[0-9]+) FROM ONLY ' ORDER BY 1;
SELECT count(*) AS left_in_coreforge FROM cf_users
 WHERE id IN ('a0000000-0000-0000-0000-000000000010', 'a0000000-0000-0000-0000-000000000011', 'a0000000-0000-0000-0000-000000000014');

-- A user with memberships: the legacy foreign keys want the memberships deleted first (each
-- statement mirrored on its own), then the user, on the fast path.
SELECT count(*) AS memberships_in_coreforge FROM cf_memberships m JOIN cf_users u ON u.id = m.user_id WHERE u.email = 'wang@example.com';
DELETE FROM tenant_members WHERE user_id = (SELECT id FROM users WHERE email = 'wang@example.com');
SELECT pg_stat_statements_reset() IS NOT NULL AS reset;
DELETE FROM users WHERE email = 'wang@example.com';
SELECT pg_temp.trigger_statements() AS statements_for_deleting_a_former_member;
SELECT count(*) AS left_in_coreforge FROM cf_users WHERE email = 'wang@example.com';

-- A soft delete takes the same two statements: the cf_ row and its memberships deleted together.
SELECT pg_stat_statements_reset() IS NOT NULL AS reset;
UPDATE users SET deleted_at = now() WHERE email = 'jose@example.com';
SELECT pg_temp.trigger_statements() AS statements_for_a_soft_delete;
SELECT (SELECT count(*) FROM cf_users WHERE email = 'jose@example.com') AS users_left,
       (SELECT count(*) FROM cf_memberships WHERE user_id = 'a0000000-0000-0000-0000-000000000002') AS memberships_left;
-- An undelete is two statements as well: the locks the full path would take (the user's email, then
-- each of its memberships with its tenant, FOR SHARE), then, in a fresh snapshot, one INSERT of the
-- user and the memberships that come back with it, when none of them is rejected or has a reject to
-- clear.
SELECT pg_stat_statements_reset() IS NOT NULL AS reset;
UPDATE users SET deleted_at = NULL WHERE email = 'jose@example.com';
SELECT pg_temp.trigger_statements() AS statements_for_an_undelete;
SELECT o.slug, m.role FROM cf_memberships m JOIN cf_organizations o ON o.id = m.organization_id
 WHERE m.user_id = 'a0000000-0000-0000-0000-000000000002' ORDER BY 1;
-- The same for a tenant, with its members.
SELECT pg_stat_statements_reset() IS NOT NULL AS reset;
UPDATE tenants SET deleted_at = now() WHERE slug = 'globex';
SELECT pg_temp.trigger_statements() AS statements_for_a_tenant_soft_delete;
SELECT (SELECT count(*) FROM cf_organizations WHERE slug = 'globex') AS organizations_left,
       (SELECT count(*) FROM cf_memberships WHERE organization_id = 'b0000000-0000-0000-0000-000000000002') AS memberships_left;
SELECT pg_stat_statements_reset() IS NOT NULL AS reset;
UPDATE tenants SET deleted_at = NULL WHERE slug = 'globex';
SELECT pg_temp.trigger_statements() AS statements_for_a_tenant_undelete;
SELECT u.email, m.role FROM cf_memberships m JOIN cf_users u ON u.id = m.user_id
 WHERE m.organization_id = 'b0000000-0000-0000-0000-000000000002' ORDER BY 1;
-- A user whose membership is rejected: the reject is the full path's to clear (the membership is
-- excluded while its user is soft-deleted), so the soft delete leaves it to the full path.
UPDATE tenant_members SET role = repeat('r', 65) WHERE user_id = 'a0000000-0000-0000-0000-000000000002' AND tenant_id = 'b0000000-0000-0000-0000-000000000002';
SELECT entity, reason FROM cf_rejects('memberships');
SELECT pg_stat_statements_reset() IS NOT NULL AS reset;
UPDATE users SET deleted_at = now() WHERE email = 'jose@example.com';
SELECT pg_temp.trigger_statements() > 2 AS the_full_path_ran;
SELECT count(*) AS rejects FROM cf_rejects('memberships');
SELECT count(*) AS memberships_left FROM cf_memberships WHERE user_id = 'a0000000-0000-0000-0000-000000000002';
UPDATE tenant_members SET role = 'member' WHERE user_id = 'a0000000-0000-0000-0000-000000000002' AND tenant_id = 'b0000000-0000-0000-0000-000000000002';
UPDATE users SET deleted_at = NULL WHERE email = 'jose@example.com';
SELECT count(*) AS memberships_back FROM cf_memberships WHERE user_id = 'a0000000-0000-0000-0000-000000000002';
-- An undelete that would bring back a membership CoreForge cannot take (a role too long, set while
-- the user was soft-deleted, when the membership was excluded): the fast path writes nothing, and
-- the full path mirrors the user and its other membership and records the reject.
UPDATE users SET deleted_at = now() WHERE email = 'jose@example.com';
UPDATE tenant_members SET role = repeat('r', 65) WHERE user_id = 'a0000000-0000-0000-0000-000000000002' AND tenant_id = 'b0000000-0000-0000-0000-000000000002';
SELECT count(*) AS rejects FROM cf_rejects('memberships');
SELECT pg_stat_statements_reset() IS NOT NULL AS reset;
UPDATE users SET deleted_at = NULL WHERE email = 'jose@example.com';
SELECT pg_temp.trigger_statements() > 2 AS the_full_path_ran;
SELECT entity, reason FROM cf_rejects('memberships');
SELECT o.slug FROM cf_memberships m JOIN cf_organizations o ON o.id = m.organization_id
 WHERE m.user_id = 'a0000000-0000-0000-0000-000000000002' ORDER BY 1;
UPDATE tenant_members SET role = 'member' WHERE user_id = 'a0000000-0000-0000-0000-000000000002' AND tenant_id = 'b0000000-0000-0000-0000-000000000002';
SELECT count(*) AS memberships_back FROM cf_memberships WHERE user_id = 'a0000000-0000-0000-0000-000000000002';

-- From cutover on, a CoreForge write that changes no mapped column is not written back either.
SELECT cf_cutover() IS NOT NULL AS cut_over;
UPDATE cf_users SET name = 'Ada King' WHERE email = 'ada@example.com';
SELECT pg_stat_statements_reset() IS NOT NULL AS reset;
UPDATE cf_users SET updated_at = now() WHERE email = 'grace@example.com';
SELECT pg_temp.trigger_statements() AS statements_for_a_cf_touch;
SELECT pg_stat_statements_reset() IS NOT NULL AS reset;
-- A one-row CoreForge rename is written back in two statements: the UPDATE of the legacy row by its
-- key, setting the columns the rename changed (with the legacy table owner's rights), and the
-- clearing of that row's rejects (with the extension's).
UPDATE cf_users SET name = 'Grace Hopper' WHERE email = 'grace@example.com';
SELECT pg_temp.trigger_statements() AS statements_for_a_cf_rename;
SELECT left(regexp_replace(query, '\s+', ' ', 'g'), 60) AS statement, calls FROM pg_stat_statements
 WHERE NOT toplevel AND query NOT LIKE '%pg_stat_statements%' AND query !~ '^SELECT (1|\$[0-9]+) FROM ONLY ' ORDER BY 1;
SELECT name, email FROM users WHERE email = 'grace@example.com';
-- The same for a role changed in CoreForge: two statements, and the legacy role follows.
UPDATE cf_memberships SET role = 'admin'
 WHERE user_id = 'a0000000-0000-0000-0000-000000000002' AND organization_id = 'b0000000-0000-0000-0000-000000000002';
SELECT pg_stat_statements_reset() IS NOT NULL AS reset;
UPDATE cf_memberships SET role = 'member'
 WHERE user_id = 'a0000000-0000-0000-0000-000000000002' AND organization_id = 'b0000000-0000-0000-0000-000000000002';
SELECT pg_temp.trigger_statements() AS statements_for_a_cf_role_change;
SELECT role FROM tenant_members
 WHERE user_id = 'a0000000-0000-0000-0000-000000000002' AND tenant_id = 'b0000000-0000-0000-0000-000000000002';
-- A CoreForge UPDATE of several rows that keeps their keys: two statements, the UPDATE of their
-- legacy rows joined by key to the statement's old and new rows (each row's changed columns), and
-- the clearing of their rejects. (The first reverse write of organizations in this session builds
-- their statements: it goes first.)
UPDATE cf_organizations SET logo_url = NULL WHERE logo_url IS NOT NULL;
SELECT pg_stat_statements_reset() IS NOT NULL AS reset;
UPDATE cf_organizations SET name = name || ' Ltd';
SELECT pg_temp.trigger_statements() AS statements_for_a_cf_bulk_rename;
SELECT count(*) FILTER (WHERE t.name = o.name) AS in_step, count(*) AS organizations
  FROM cf_organizations o JOIN tenants t ON t.id = o.id;
-- A legacy row the application made unmirrorable (a blank name: rejected, CoreForge keeps its
-- value) is made whole again by CoreForge's next write of the row, and its reject goes.
UPDATE users SET name = '' WHERE email = 'grace@example.com';
SELECT entity, legacy_id, reason FROM cf_rejects('users');
UPDATE cf_users SET name = 'Grace B. Hopper' WHERE email = 'grace@example.com';
SELECT name FROM users WHERE email = 'grace@example.com';
SELECT count(*) AS rejects_left FROM cf_rejects('users');
-- A user born in CoreForge: two statements, the INSERT of the legacy row (with the legacy table
-- owner's rights) and the clearing of its rejects. The row is new to the legacy table, and
-- tenant_members' foreign key to users says that no legacy membership points at it, so the read of
-- the memberships a revived legacy row brings back does not run (without such a key it does). A
-- membership born in CoreForge: two as well.
SELECT pg_stat_statements_reset() IS NOT NULL AS reset;
INSERT INTO cf_users (id, email, name) VALUES ('c0000000-0000-0000-0000-000000000001', 'born@coreforge.test', 'Born in CoreForge');
SELECT pg_temp.trigger_statements() AS statements_for_a_cf_sign_up;
SELECT pg_stat_statements_reset() IS NOT NULL AS reset;
INSERT INTO cf_memberships (user_id, organization_id, role)
VALUES ('c0000000-0000-0000-0000-000000000001', 'b0000000-0000-0000-0000-000000000001', 'member');
SELECT pg_temp.trigger_statements() AS statements_for_a_cf_membership;
SELECT u.email, m.role FROM tenant_members m JOIN users u ON u.id = m.user_id
 WHERE m.user_id = 'c0000000-0000-0000-0000-000000000001';
-- A CoreForge user deleted: one statement, the soft delete of the legacy row by its key (its
-- membership first: one statement too, the legacy membership deleted by its key).
DELETE FROM cf_memberships WHERE user_id = 'c0000000-0000-0000-0000-000000000001';
SELECT count(*) AS legacy_memberships_left FROM tenant_members WHERE user_id = 'c0000000-0000-0000-0000-000000000001';
SELECT pg_stat_statements_reset() IS NOT NULL AS reset;
DELETE FROM cf_users WHERE id = 'c0000000-0000-0000-0000-000000000001';
SELECT pg_temp.trigger_statements() AS statements_for_a_cf_delete;
SELECT name, deleted_at IS NOT NULL AS soft_deleted FROM users WHERE id = 'c0000000-0000-0000-0000-000000000001';
-- A CoreForge row whose legacy row is gone (deleted with the triggers off) takes the full path,
-- which writes the row back whole.
ALTER TABLE users DISABLE TRIGGER coreforge_sync_delete;
DELETE FROM tenant_members WHERE user_id = (SELECT id FROM users WHERE email = 'grace@example.com');
DELETE FROM users WHERE email = 'grace@example.com';
ALTER TABLE users ENABLE TRIGGER coreforge_sync_delete;
UPDATE cf_users SET name = 'Grace Hopper' WHERE email = 'grace@example.com';
SELECT name, email FROM users WHERE email = 'grace@example.com';
SELECT cf_rollback() IS NOT NULL AS rolled_back;

SELECT check_name, status FROM cf_validation_report() WHERE status = 'fail';
SET client_min_messages = warning;
DROP EXTENSION coreforge_sync CASCADE;
DROP EXTENSION pg_stat_statements;
