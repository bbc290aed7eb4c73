-- CoreForge columns beyond the guide's: a user's last login (cf_users.last_login_at, NULL for one who
-- never logged in) and the id of the user in a federated identity provider (cf_users.federation_id,
-- which CoreForge keeps unique). Each is mapped like any other column: mirrored on every write,
-- compared by the validation, written back from cutover on; a federation id two users share goes to
-- one of them, the other is rejected until it is free.
\i fixtures/legacy.sql
ALTER TABLE users ADD COLUMN last_login timestamptz, ADD COLUMN sso_id uuid;
UPDATE users SET last_login = '2024-11-30 08:15:00+00' WHERE email = 'ada@example.com';
UPDATE users SET last_login = '2024-10-01 17:45:30+00' WHERE email = 'jose@example.com';
UPDATE users SET sso_id = 'f0000000-0000-0000-0000-00000000000a' WHERE email IN ('ada@example.com', 'grace@example.com');
UPDATE users SET sso_id = 'f0000000-0000-0000-0000-00000000000b' WHERE email = 'wang@example.com';
CREATE EXTENSION coreforge_sync;
SET timezone = 'UTC';
SELECT cf_create_tables() IS NOT NULL AS created;

-- Columns of other types do not fit, and defaults make no sense for them.
SELECT cf_configure('users', '{"columns": {"email": "email", "name": "name", "last_login_at": "name", "federation_id": "email"}}');
SELECT cf_configure('users', '{"defaults": {"last_login_at": "2020-01-01", "federation_id": "f0000000-0000-0000-0000-00000000000c"}}');

-- cf_ tables made from the migration guide's DDL have no federation_id, and are adopted without it;
-- mapping it then asks for the column.
ALTER TABLE cf_users DROP COLUMN federation_id;
SELECT cf_configure('users', '{"columns": {"email": "email", "name": "name", "federation_id": "sso_id"}}');
ALTER TABLE cf_users ADD COLUMN federation_id uuid;
CREATE UNIQUE INDEX user_federation_id ON cf_users (federation_id);

SELECT cf_configure('users', '{"columns": {"email": "email", "name": "name", "avatar_url": "avatar_url",
  "password_hash": "password_hash", "created_at": "created_at", "last_login_at": "last_login",
  "federation_id": "sso_id"}}') -> 'columns' AS columns;
SELECT cf_enable_sync() IS NOT NULL AS enabled;
SELECT count(*) FROM cf_sync_all();
-- Ada is older than Grace: the shared federation id is Ada's, Grace waits for it.
SELECT email, last_login_at, federation_id FROM cf_users ORDER BY email;
SELECT legacy_id, reason, message FROM cf_rejects('users');

-- A login, on the fast path; a login forgotten (set back to NULL).
UPDATE users SET last_login = '2024-12-01 09:00:00+00' WHERE email = 'wang@example.com';
UPDATE users SET last_login = NULL WHERE email = 'jose@example.com';
SELECT email, last_login_at FROM cf_users WHERE email IN ('wang@example.com', 'jose@example.com') ORDER BY email;

-- Ada is given another federation id: Grace gets the one Ada let go, in the same statement's retry.
UPDATE users SET sso_id = 'f0000000-0000-0000-0000-00000000000d' WHERE email = 'ada@example.com';
SELECT email, federation_id FROM cf_users WHERE email IN ('ada@example.com', 'grace@example.com') ORDER BY email;
SELECT count(*) AS rejects FROM cf_rejects('users');
-- Wang takes Ada's: rejected, and Wang's CoreForge row keeps its own.
UPDATE users SET sso_id = 'f0000000-0000-0000-0000-00000000000d' WHERE email = 'wang@example.com';
SELECT reason FROM cf_rejects('users');
SELECT federation_id FROM cf_users WHERE email = 'wang@example.com';
UPDATE users SET sso_id = NULL WHERE email = 'wang@example.com';
SELECT count(*) AS rejects, (SELECT federation_id FROM cf_users WHERE email = 'wang@example.com') AS wangs FROM cf_rejects('users');

-- A difference made behind the sync's back is named by the validation, row and column.
SELECT cf_disable_sync() IS NOT NULL AS disabled;
UPDATE users SET last_login = '2024-12-02 10:00:00+00' WHERE email = 'ada@example.com';
SELECT check_name, status, detail FROM cf_validation_report() WHERE status <> 'ok';
SELECT * FROM cf_mismatches('users');
SELECT cf_enable_sync() IS NOT NULL AS enabled;
SELECT count(*) FROM cf_sync_users();
SELECT check_name, status FROM cf_validation_report() WHERE status <> 'ok';

-- A NOT NULL legacy column cannot take CoreForge's NULL (a user created in CoreForge who never logged
-- in): cutover refuses, and says why.
UPDATE users SET last_login = created_at WHERE last_login IS NULL;
ALTER TABLE users ALTER COLUMN last_login SET NOT NULL;
SELECT cf_cutover();
ALTER TABLE users ALTER COLUMN last_login DROP NOT NULL;

-- From cutover on, CoreForge's logins and federation ids are written back.
SELECT cf_cutover() IS NOT NULL AS cut_over;
UPDATE cf_users SET last_login_at = '2024-12-03 11:30:00+00', federation_id = 'f0000000-0000-0000-0000-00000000000e'
 WHERE email = 'wang@example.com';
SELECT email, last_login, sso_id FROM users WHERE email = 'wang@example.com';
SELECT cf_rollback() IS NOT NULL AS rolled_back;
SELECT check_name, status FROM cf_validation_report() WHERE status <> 'ok';

-- Fallbacks for a value CoreForge requires: a user with an empty name (an ORM's default) is
-- rejected as missing_value, unless the configuration names legacy columns to read in turn.
ALTER TABLE users ADD COLUMN username text;
UPDATE users SET username = split_part(email, '@', 1);
INSERT INTO users (id, email, name, username, created_at)
VALUES ('a0000000-0000-0000-0000-000000000021', 'nameless@example.com', '', 'nameless', '2024-12-04');
SELECT reason FROM cf_rejects('users');
-- Only a text column CoreForge does not keep unique, already mapped, can have fallbacks, and they
-- are text columns of the legacy table.
SELECT cf_configure('users', '{"columns": {"email": "email", "name": "name"},
  "fallbacks": {"email": ["username"], "avatar_url": ["username"], "name": ["created_at", "nickname", "name"]}}');
SELECT cf_configure('users', '{"columns": {"email": "email", "name": "name", "avatar_url": "avatar_url",
  "password_hash": "password_hash", "created_at": "created_at", "last_login_at": "last_login",
  "federation_id": "sso_id"}, "fallbacks": {"name": ["username", "email"]}}') -> 'fallbacks' AS fallbacks;
SELECT count(*) FROM cf_sync_users();
SELECT name FROM cf_users WHERE email = 'nameless@example.com';
SELECT count(*) AS rejects FROM cf_rejects('users');
-- A change of the fallback column is mirrored while the name is empty; a name, once given, wins.
UPDATE users SET username = 'nameless-one' WHERE email = 'nameless@example.com';
SELECT name FROM cf_users WHERE email = 'nameless@example.com';
UPDATE users SET name = 'Nora Nameless' WHERE email = 'nameless@example.com';
SELECT name FROM cf_users WHERE email = 'nameless@example.com';
-- With neither name nor username, the email.
UPDATE users SET name = '', username = NULL WHERE email = 'nameless@example.com';
SELECT name FROM cf_users WHERE email = 'nameless@example.com';
SELECT check_name, status FROM cf_validation_report() WHERE status <> 'ok';
SET client_min_messages = warning;
DROP EXTENSION coreforge_sync CASCADE;
