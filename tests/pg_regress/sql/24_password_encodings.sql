-- A legacy framework's own encoding of password hashes ("password_encoding"). Django stores
-- "argon2$argon2id$...", "bcrypt$$2b$...", "bcrypt_sha256$$2b$..." and its "pbkdf2_sha256$...", and
-- marks a user without a password with a value starting with "!". With "password_encoding": "django",
-- CoreForge reads the PHC string inside, the marker reads as no password, and every hash written
-- back (a CoreForge password change, an upgrade at login, a user born in CoreForge) is in Django's
-- encoding. The hashes below were made by Django's own hashers.
\i fixtures/legacy.sql
UPDATE users SET password_hash = 'argon2$argon2id$v=19$m=1024,t=1,p=1$ZGphbmdvc2FsdDEyMzQ1Ng$wgVVnvykgTumw0wlB+bZTxJmcfYodrXn03OnTZaVREU'
 WHERE email = 'ada@example.com';
UPDATE users SET password_hash = '!q3VbXgkT0pWmZr8sLhN2yJcA5eUoD7iFtKwE9nHx' WHERE email = 'jose@example.com';
UPDATE users SET password_hash = 'bcrypt_sha256$$2b$04$xvmQxeUYUkfQGQR5lamxdu4NMuUjNcVH/eOtuiR7LCi4f6Y5/sZ1u'
 WHERE email = 'wang@example.com';
UPDATE users SET password_hash = 'pbkdf2_sha256$1000$s4ltS4lt1234$1XgvLNc7yRMop6UC/YvZQnaMytityQ9t91/ONr4HflA='
 WHERE email = 'grace@example.com';
INSERT INTO users (id, email, name, password_hash, created_at) VALUES
  ('a0000000-0000-0000-0000-000000000021', 'bcrypt@example.com', 'Bcrypt User',
   'bcrypt$$2b$04$tEN13ggiDKhsfFzE4L9B4u3TGtVVp2qRCM3M10YR8uOYxBJI5qefi', '2024-01-01');
CREATE EXTENSION coreforge_sync;
SELECT cf_create_tables() IS NOT NULL AS created;

-- Refused: an unknown encoding, an encoding for another entity.
SELECT cf_configure('users', '{"password_encoding": "rails"}');
SELECT cf_configure('organizations', '{"password_encoding": "django"}');
SELECT cf_configure('users', '{"password_encoding": "django"}') -> 'password_encoding' AS encoding;

-- Read the Django way: the marker is no password, the Argon2 and bcrypt strings are the PHC inside.
SELECT * FROM cf_password_report();
SELECT cf_enable_sync() IS NOT NULL AS enabled;
SELECT entity, inserted FROM cf_sync_all() WHERE entity = 'users';
SELECT email, password_hash FROM cf_users ORDER BY email;
SELECT check_name, status FROM cf_validation_report() WHERE status <> 'ok';

-- From cutover on, what CoreForge writes goes back in Django's encoding.
SELECT cf_cutover() IS NOT NULL AS cutover;
SELECT cf_upgrade_password('a0000000-0000-0000-0000-000000000005', 'correct horse battery staple') AS grace_pbkdf2,
       cf_upgrade_password('a0000000-0000-0000-0000-000000000003', 'correct horse battery staple') AS wang_bcrypt_sha256,
       cf_upgrade_password('a0000000-0000-0000-0000-000000000001', 'correct horse battery staple') AS ada_other_argon2,
       cf_upgrade_password('a0000000-0000-0000-0000-000000000021', 'pässwörd ü') AS bcrypt_user;
-- A user born in CoreForge, without a password; a password taken away in CoreForge.
INSERT INTO cf_users (id, email, name, created_at, updated_at)
VALUES ('a0000000-0000-0000-0000-000000000022', 'new@example.com', 'New User', '2024-06-01', now());
UPDATE cf_users SET password_hash = NULL WHERE email = 'bcrypt@example.com';
SELECT u.email, left(u.password_hash, 37) AS legacy_hash,
       u.password_hash = 'argon2' || c.password_hash AS django_wraps_coreforge_hash
  FROM users u JOIN cf_users c ON c.id = u.id ORDER BY u.email;
SELECT check_name, status FROM cf_validation_report() WHERE status <> 'ok';
-- A second pass writes nothing back: every legacy hash reads as what CoreForge holds.
SELECT * FROM cf_sync_legacy() WHERE entity = 'users';

-- Rollback keeps the new passwords, in the encoding the old application reads.
SELECT cf_rollback() IS NOT NULL AS rolled_back;
SELECT entity, inserted, updated, deleted FROM cf_sync_all() WHERE entity = 'users';
SELECT check_name, status FROM cf_validation_report() WHERE status <> 'ok';

SET client_min_messages = warning;
DROP EXTENSION coreforge_sync CASCADE;
