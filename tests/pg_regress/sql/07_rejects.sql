-- Rejected rows: a legacy row that cannot become a valid CoreForge row is recorded with its
-- reason, the rest of the work goes on, and the row is migrated as soon as it is fixed.
-- Every reason code is shown here or in 06_configure.
\i fixtures/legacy.sql
CREATE EXTENSION coreforge_sync;
SELECT cf_create_tables();
SELECT cf_enable_sync();
SELECT * FROM cf_sync_all();

-- invalid_value: a plan CoreForge does not know (free, starter, pro, enterprise).
UPDATE tenants SET plan = 'gold' WHERE slug = 'globex';
-- too_long: an email longer than 254 characters.
INSERT INTO users (id, email, name, created_at) VALUES
  ('a0000000-0000-0000-0000-000000000010', repeat('x', 250) || '@example.com', 'Long Email', '2024-01-01 00:00+00');
-- missing_value, with the password column redacted in the recorded row.
INSERT INTO users (id, email, name, password_hash, created_at) VALUES
  ('a0000000-0000-0000-0000-000000000011', 'nameless@example.com', '', '$argon2id$v=19$m=65536,t=3,p=2$c2FsdA$c2VjcmV0', '2024-01-01 00:00+00');
SELECT entity, legacy_id, reason, message FROM cf_rejects();
SELECT legacy_row ->> 'email' AS email, legacy_row ->> 'password_hash' AS password_hash
  FROM cf_rejects('users') WHERE reason = 'missing_value';

-- CoreForge keeps the last good version of a rejected row: Globex is still on its old plan.
SELECT slug, plan FROM cf_organizations WHERE slug = 'globex';

-- duplicate_email: the row already in CoreForge keeps its email, even against an older row.
INSERT INTO users (id, email, name, created_at) VALUES
  ('a0000000-0000-0000-0000-000000000012', 'ada@example.com', 'Ada Again', '2000-01-01 00:00+00');
-- Between rows new to CoreForge, the oldest (created_at, then id) wins.
INSERT INTO users (id, email, name, created_at) VALUES
  ('a0000000-0000-0000-0000-000000000013', 'twin@example.com', 'Younger Twin', '2024-02-02 00:00+00'),
  ('a0000000-0000-0000-0000-000000000014', 'twin@example.com', 'Older Twin',   '2024-02-01 00:00+00');
SELECT name FROM cf_users WHERE email = 'twin@example.com';
SELECT legacy_id, reason, message FROM cf_rejects('users') WHERE reason = 'duplicate_email';

-- parent_rejected: a membership whose user is rejected waits with it, and comes back with it.
INSERT INTO tenant_members (user_id, tenant_id, role, created_at) VALUES
  ('a0000000-0000-0000-0000-000000000011', 'b0000000-0000-0000-0000-000000000001', 'member', '2024-01-02 00:00+00');
SELECT legacy_id, reason, message FROM cf_rejects('memberships');
UPDATE users SET name = 'Named At Last' WHERE id = 'a0000000-0000-0000-0000-000000000011';
SELECT entity, legacy_id FROM cf_rejects() WHERE legacy_id LIKE '%000000000011%';
SELECT u.name, m.role FROM cf_memberships m JOIN cf_users u ON u.id = m.user_id
 WHERE u.id = 'a0000000-0000-0000-0000-000000000011';

-- A reject goes when its row no longer needs migrating: soft-deleted or deleted.
UPDATE users SET deleted_at = now() WHERE id = 'a0000000-0000-0000-0000-000000000012';
DELETE FROM users WHERE id = 'a0000000-0000-0000-0000-000000000010';
-- Fixed, a row is migrated and its reject goes.
UPDATE tenants SET plan = 'starter' WHERE slug = 'globex';
SELECT entity, legacy_id, reason FROM cf_rejects();

-- The validation counts rejects as fail (accounted for, not ok); nothing else fails.
SELECT entity, check_name, discrepancies, status FROM cf_validation_report() WHERE status = 'fail';
SELECT * FROM cf_missing('users');

-- invalid_slug, and the slug-normalising option (off by default).
UPDATE tenants SET slug = 'Acme Corp!' WHERE slug = 'acme';
SELECT legacy_id, reason, message FROM cf_rejects('organizations');
SELECT cf_configure('organizations', '{"normalize_slugs": true}') ->> 'normalize_slugs' AS normalize_slugs;
SELECT * FROM cf_sync_organizations();
SELECT slug FROM cf_organizations ORDER BY slug;
SELECT count(*) AS organization_rejects FROM cf_rejects('organizations');

-- duplicate_slug under normalisation: two legacy slugs that normalise alike.
INSERT INTO tenants (id, name, slug, created_at) VALUES
  ('b0000000-0000-0000-0000-000000000009', 'Acme Copy', 'ACME corp', '2024-03-03 00:00+00');
SELECT legacy_id, reason, message FROM cf_rejects('organizations');

-- With coreforge_sync.on_error = 'raise' a trigger fails the write instead of recording it.
SET coreforge_sync.on_error = 'raise';
UPDATE users SET email = 'grace@example.com' WHERE email = 'wang@example.com';
SELECT email FROM users WHERE id = 'a0000000-0000-0000-0000-000000000003';
RESET coreforge_sync.on_error;
SET coreforge_sync.on_error = 'ignore';

-- A row rejected because another held its email follows as soon as the email is let go.
UPDATE users SET deleted_at = now() WHERE id = 'a0000000-0000-0000-0000-000000000014';
SELECT name FROM cf_users WHERE email = 'twin@example.com';
SELECT entity, legacy_id, reason FROM cf_rejects('users');
SELECT * FROM pg_temp.invariant() WHERE entity = 'users';
