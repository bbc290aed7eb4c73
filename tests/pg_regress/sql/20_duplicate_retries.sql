-- A row rejected because another row holds its email goes into CoreForge as soon as the value is
-- free: in the statement that frees it, also when that statement rejected the row itself, and down
-- a chain of rows each waiting for the value the previous one lets go.
\i fixtures/legacy.sql
CREATE EXTENSION coreforge_sync;
SELECT cf_create_tables() IS NOT NULL AS created;
SELECT cf_enable_sync() IS NOT NULL AS enabled;
SELECT count(*) FROM cf_sync_all();

-- Two users, one live holding ann@retry.example, one soft-deleted with the same email. One
-- statement swaps them: the holder goes, the other comes back and takes the email (the same
-- statement both lets the value go and rejects the newcomer, since its snapshot still sees the
-- holder's CoreForge row; the retry that follows lets the newcomer in).
INSERT INTO users (id, email, name, created_at, deleted_at) VALUES
  ('e0000000-0000-0000-0000-000000000001', 'ann@retry.example', 'Ann One', '2024-01-01', NULL),
  ('e0000000-0000-0000-0000-000000000002', 'ann@retry.example', 'Ann Two', '2024-01-02', '2024-06-01');
UPDATE users SET deleted_at = CASE WHEN deleted_at IS NULL THEN now() END
 WHERE id IN ('e0000000-0000-0000-0000-000000000001', 'e0000000-0000-0000-0000-000000000002');
SELECT id, email, name FROM cf_users WHERE email = 'ann@retry.example';
SELECT legacy_id, reason FROM cf_rejects('users') WHERE legacy_id LIKE 'id=e%';

-- A chain: Bo holds bo@, Cy holds cy@, and Di waits for cy@ (rejected: Cy holds it).
INSERT INTO users (id, email, name, created_at) VALUES
  ('e0000000-0000-0000-0000-000000000011', 'bo@retry.example', 'Bo', '2024-01-01'),
  ('e0000000-0000-0000-0000-000000000012', 'cy@retry.example', 'Cy', '2024-01-02'),
  ('e0000000-0000-0000-0000-000000000013', 'cy@retry.example', 'Di', '2024-01-03');
-- Cy moves to bo@, which Bo holds: Cy is rejected, and its CoreForge row keeps cy@, so Di waits on.
UPDATE users SET email = 'bo@retry.example' WHERE name = 'Cy';
SELECT legacy_id, reason FROM cf_rejects('users') WHERE legacy_id LIKE 'id=e%' ORDER BY 1;
-- Bo goes: Cy takes bo@, which lets cy@ go, which Di takes, in the same statement's retries.
DELETE FROM users WHERE name = 'Bo';
SELECT name, email FROM cf_users WHERE email LIKE '%@retry.example' ORDER BY name;
SELECT count(*) AS rejects_left FROM cf_rejects('users') WHERE legacy_id LIKE 'id=e%';
SELECT entity, check_name, discrepancies FROM cf_validation_report() WHERE status = 'fail';

SET client_min_messages = warning;
DROP EXTENSION coreforge_sync CASCADE;
