-- A user's last login (cf_users.last_login_at, NULL for one who never logged in) is mapped like any
-- other column: the legacy column's value, or NULL; mirrored on every write, compared by the
-- validation, written back from cutover on.
\i fixtures/legacy.sql
ALTER TABLE users ADD COLUMN last_login timestamptz;
UPDATE users SET last_login = '2024-11-30 08:15:00+00' WHERE email = 'ada@example.com';
UPDATE users SET last_login = '2024-10-01 17:45:30+00' WHERE email = 'jose@example.com';
CREATE EXTENSION coreforge_sync;
SET timezone = 'UTC';
SELECT cf_create_tables() IS NOT NULL AS created;

-- A column of another type does not fit, and a default makes no sense for it.
SELECT cf_configure('users', '{"columns": {"email": "email", "name": "name", "last_login_at": "name"}}');
SELECT cf_configure('users', '{"defaults": {"last_login_at": "2020-01-01"}}');

SELECT cf_configure('users', '{"columns": {"email": "email", "name": "name", "avatar_url": "avatar_url",
  "password_hash": "password_hash", "created_at": "created_at", "last_login_at": "last_login"}}') -> 'columns' AS columns;
SELECT cf_enable_sync() IS NOT NULL AS enabled;
SELECT count(*) FROM cf_sync_all();
SELECT email, last_login_at FROM cf_users ORDER BY email;

-- A login, on the fast path; a login forgotten (set back to NULL).
UPDATE users SET last_login = '2024-12-01 09:00:00+00' WHERE email = 'grace@example.com';
UPDATE users SET last_login = NULL WHERE email = 'jose@example.com';
SELECT email, last_login_at FROM cf_users WHERE email IN ('grace@example.com', 'jose@example.com') ORDER BY email;

-- A difference made behind the sync's back is named by the validation, row and column.
SELECT cf_disable_sync() IS NOT NULL AS disabled;
UPDATE users SET last_login = '2024-12-02 10:00:00+00' WHERE email = 'ada@example.com';
SELECT check_name, status, detail FROM cf_validation_report() WHERE status <> 'ok';
SELECT * FROM cf_mismatches('users');
SELECT cf_enable_sync() IS NOT NULL AS enabled;
SELECT count(*) FROM cf_sync_users();
SELECT check_name, status FROM cf_validation_report() WHERE status <> 'ok';

-- From cutover on, CoreForge's logins are written back.
SELECT cf_cutover() IS NOT NULL AS cut_over;
UPDATE cf_users SET last_login_at = '2024-12-03 11:30:00+00' WHERE email = 'wang@example.com';
SELECT email, last_login FROM users WHERE email = 'wang@example.com';
SELECT cf_rollback() IS NOT NULL AS rolled_back;
SELECT check_name, status FROM cf_validation_report() WHERE status <> 'ok';
SET client_min_messages = warning;
DROP EXTENSION coreforge_sync CASCADE;
