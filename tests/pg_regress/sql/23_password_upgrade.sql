-- No forced password reset: cf_upgrade_password(user_id, password) checks a password against the
-- user's legacy hash at their next login and gives CoreForge a fresh Argon2id hash of it
-- (m=65536, t=3, p=2). The legacy hashes here come from independent implementations: pgcrypto's
-- crypt() (bcrypt), md5(), pgcrypto's digest() (sha256), and, made with Python's Django, passlib
-- and argon2-cffi, Django's PBKDF2, passlib's scrypt and argon2-cffi's argon2i.
\i fixtures/legacy.sql
CREATE EXTENSION IF NOT EXISTS pgcrypto;
UPDATE users SET password_hash = crypt('ada-secret', gen_salt('bf', 4)) WHERE email = 'ada@example.com';
UPDATE users SET password_hash = md5('jose-secret') WHERE email = 'jose@example.com';
UPDATE users SET password_hash = encode(digest('grace-secret', 'sha256'), 'hex') WHERE email = 'grace@example.com';
INSERT INTO users (id, email, name, password_hash, created_at) VALUES
  ('a0000000-0000-0000-0000-000000000011', 'django@example.com', 'Django User',
   'pbkdf2_sha256$1000$s4ltS4lt1234$1XgvLNc7yRMop6UC/YvZQnaMytityQ9t91/ONr4HflA=', '2024-01-01'),
  ('a0000000-0000-0000-0000-000000000012', 'scrypt@example.com', 'Scrypt User',
   '$scrypt$ln=10,r=8,p=1$MDEyMzQ1Njc4OWFiY2RlZg$7AnzIswxwEinpwz+ntydndYfVHPvOACmX9Vvo8hO1qM', '2024-01-01'),
  ('a0000000-0000-0000-0000-000000000013', 'argon2i@example.com', 'Argon2i User',
   '$argon2i$v=19$m=2048,t=2,p=2$YXJnb25zYWx0YXJnb25zYWx0$QXXOzBAUZUtNVKptMeXsETA5v6tamaSI', '2024-01-01'),
  ('a0000000-0000-0000-0000-000000000014', 'ldap@example.com', 'LDAP User', '{SSHA}aGFzaA==', '2024-01-01');
CREATE EXTENSION coreforge_sync;
SELECT cf_create_tables() IS NOT NULL AS created;
SELECT cf_enable_sync() IS NOT NULL AS enabled;
SELECT entity, inserted FROM cf_sync_all() WHERE entity = 'users';

-- Before: who can be upgraded at their next login (the default policy keeps bcrypt and argon2id in
-- CoreForge, and stores NULL for the rest). The LDAP user's hash cannot be checked: they must
-- reset; everyone else logs in as before.
SELECT * FROM cf_password_report();
SELECT email, format FROM cf_password_resets();

-- Not for PUBLIC: the new application's login role gets EXECUTE with one GRANT.
CREATE ROLE coreforge_app LOGIN;
SET ROLE coreforge_app;
SELECT cf_upgrade_password('a0000000-0000-0000-0000-000000000001', 'ada-secret');
RESET ROLE;
GRANT EXECUTE ON FUNCTION cf_upgrade_password(uuid, text) TO coreforge_app;
SET ROLE coreforge_app;

-- Side by side, the legacy application owns the passwords: a match is reported, nothing written.
SELECT cf_upgrade_password('a0000000-0000-0000-0000-000000000001', 'ada-secret') AS right_password,
       cf_upgrade_password('a0000000-0000-0000-0000-000000000001', 'ada-secreT') AS wrong_password,
       cf_upgrade_password('a0000000-0000-0000-0000-000000000001', '') AS empty_password,
       cf_upgrade_password('a0000000-0000-0000-0000-000000000001', NULL) AS null_password,
       cf_upgrade_password('a0000000-0000-0000-0000-0000000000ff', 'ada-secret') AS unknown_user,
       cf_upgrade_password('a0000000-0000-0000-0000-000000000014', '{SSHA}aGFzaA==') AS unverifiable;
RESET ROLE;
SELECT email, coreforge_sync.password_format(password_hash) AS cf_format FROM cf_users WHERE email = 'ada@example.com';

-- From cutover on, a match gives CoreForge a fresh Argon2id hash, which the reverse sync writes
-- into the legacy row; the validation still passes.
SELECT cf_cutover() IS NOT NULL AS cutover;
SET ROLE coreforge_app;
SELECT cf_upgrade_password('a0000000-0000-0000-0000-000000000001', 'ada-secreT') AS ada_wrong,
       cf_upgrade_password('a0000000-0000-0000-0000-000000000001', 'ada-secret') AS ada,
       cf_upgrade_password('a0000000-0000-0000-0000-000000000002', 'jose-secret') AS jose_md5,
       cf_upgrade_password('a0000000-0000-0000-0000-000000000011', 'correct horse battery staple') AS django_pbkdf2;
RESET ROLE;
SELECT c.email, c.password_hash ~ '^\$argon2id\$v=19\$m=65536,t=3,p=2\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$' AS coreforge_argon2id,
       u.password_hash = c.password_hash AS legacy_row_has_it
  FROM cf_users c JOIN users u ON u.id = c.id
 WHERE c.email IN ('ada@example.com', 'jose@example.com', 'django@example.com') ORDER BY 1;
-- Salted: the same password never gives the same hash.
SELECT count(DISTINCT password_hash) AS distinct_hashes FROM cf_users WHERE email IN ('ada@example.com', 'jose@example.com');
SELECT check_name, status FROM cf_validation_report() WHERE status <> 'ok';
-- A second login of an upgraded user has nothing to upgrade: CoreForge verifies the hash itself.
SELECT cf_upgrade_password('a0000000-0000-0000-0000-000000000001', 'ada-secret') AS again;
SELECT * FROM cf_password_report();

-- A password set on CoreForge's side makes the legacy hash void: the old password no longer
-- upgrades, and the new hash stays.
UPDATE cf_users SET password_hash = '$argon2id$v=19$m=65536,t=3,p=2$bmV3c2FsdG5ld3NhbHQ$bmV3aGFzaG5ld2hhc2huZXdoYXNobmV3aGFzaG5ldw'
 WHERE email = 'grace@example.com';
SELECT cf_upgrade_password('a0000000-0000-0000-0000-000000000005', 'grace-secret') AS grace_old_password;
SELECT left(password_hash, 40) AS grace_hash FROM cf_users WHERE email = 'grace@example.com';

-- The archive keeps a copy of each hash that can still be upgraded, so that upgrades go on after
-- the legacy tables are gone.
SELECT cf_freeze_legacy() IS NOT NULL AS frozen;
SELECT cf_archive_legacy();
SELECT u.email, p.format FROM coreforge_sync.legacy_passwords p JOIN cf_users u ON u.id = p.user_id ORDER BY 1;
SET ROLE coreforge_app;
SELECT cf_upgrade_password('a0000000-0000-0000-0000-000000000012', 'correct horse battery staple') AS scrypt;
RESET ROLE;
-- A successful upgrade deletes that user's copy.
SELECT u.email FROM coreforge_sync.legacy_passwords p JOIN cf_users u ON u.id = p.user_id ORDER BY 1;
-- A password changed in CoreForge voids a copy too, and the call deletes it.
UPDATE cf_users SET password_hash = '$argon2id$v=19$m=65536,t=3,p=2$bmV3c2FsdG5ld3NhbHQ$bmV3aGFzaG5ld2hhc2huZXdoYXNobmV3aGFzaG5ldw'
 WHERE email = 'argon2i@example.com';
SELECT cf_upgrade_password('a0000000-0000-0000-0000-000000000013', 'correct horse battery staple') AS argon2i_after_reset;
SELECT u.email FROM coreforge_sync.legacy_passwords p JOIN cf_users u ON u.id = p.user_id ORDER BY 1;
SELECT * FROM cf_password_report();

-- pg_dump dumps the copies and the record of upgrades with the extension's other state.
SELECT c::regclass FROM pg_extension x, unnest(x.extconfig) c
 WHERE x.extname = 'coreforge_sync' AND c::regclass::text LIKE '%pass%' ORDER BY 1;

-- The copies can be forgotten: guarded, and recorded in the history.
SELECT cf_forget_legacy_passwords();
SELECT cf_forget_legacy_passwords(confirm => NULL);
SELECT cf_forget_legacy_passwords(confirm => true);
SELECT action, from_phase, to_phase, reason FROM cf_history() ORDER BY at DESC LIMIT 1;
SELECT cf_forget_legacy_passwords(confirm => true);
SELECT cf_phase();
-- Not for a role without the owner's rights.
GRANT EXECUTE ON FUNCTION cf_forget_legacy_passwords(boolean) TO coreforge_app;
SET ROLE coreforge_app;
SELECT cf_forget_legacy_passwords(confirm => true);
RESET ROLE;

-- No password reached any table.
SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind = 'r' AND n.nspname IN ('public', 'coreforge_sync', 'archive')
   AND query_to_xml(format('SELECT * FROM %I.%I', n.nspname, c.relname), false, false, '')::text
       ~ '(ada|jose|grace)-secret|correct horse';

SET client_min_messages = warning;
DROP EXTENSION coreforge_sync CASCADE;
DROP EXTENSION pgcrypto;
DROP SCHEMA archive CASCADE;
DROP OWNED BY coreforge_app;
DROP ROLE coreforge_app;
