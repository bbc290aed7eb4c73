-- Password hashes (the guide's "Password Hash Format"). CoreForge verifies only Argon2id; the
-- policy says per format whether a hash is kept or stored as NULL. A user whose legacy hash can be
-- checked is upgraded at their next login (cf_upgrade_password(), see 23_password_upgrade); the
-- others must reset (cf_password_resets()). No report, notice or error shows a hash.
\i fixtures/legacy.sql
\set ECHO none
\i fixtures/crm_schema.sql
\i fixtures/crm_data.sql
\set ECHO all
CREATE EXTENSION coreforge_sync;
SELECT cf_create_tables();

-- The formats, recognised by shape.
SELECT coreforge_sync.password_format(h) AS format, count(*)
  FROM (VALUES ('$argon2id$v=19$m=65536,t=3,p=2$c2FsdA$aGFzaA'), ('$argon2i$v=19$m=4096,t=3,p=1$c2FsdA$aGFzaA'),
               ('$argon2d$v=19$m=65536,t=2,p=1$c2FsdA$aGFzaA'),
               ('$2a$10$' || repeat('a', 53)), ('$2b$12$' || repeat('B', 53)), ('$2y$10$' || repeat('.', 53)),
               ('$scrypt$ln=16,r=8,p=1$c2FsdA$aGFzaA'), ('pbkdf2_sha256$600000$salt$aGFzaA=='),
               (md5('x')), (repeat('ab', 20)), (repeat('cd', 32)), (''), (NULL), ('{SSHA}aGFzaA=='),
               ('$2b$12$tooshort'), ('plaintext-password')) v(h)
 GROUP BY 1 ORDER BY 1;

-- The crm accounts: one per format (see fixtures/crm_data.sql).
SELECT cf_configure('users', '{
  "table": "crm.accounts",
  "id": {"column": "account_id", "strategy": "uuidv5", "namespace": "6ba7b811-9dad-11d1-80b4-00c04fd430c8"},
  "soft_delete": {"column": "is_deleted", "kind": "boolean"},
  "columns": {"email": "email_address", "name": "full_name", "password_hash": "pw_digest", "created_at": "signup_at"}}')
  -> 'passwords' AS default_policy;
SELECT * FROM cf_password_report();
SELECT cf_sync_users();
-- Who must reset: the users whose hash neither CoreForge nor cf_upgrade_password() can check (the
-- fixture's scrypt hash is not valid base64, {SSHA} is not a format it verifies).
SELECT * FROM cf_password_resets();
-- Once in CoreForge, the users whose hash can be checked are upgradable at their next login (those
-- CoreForge verifies itself, and the invalid ones, are not).
SELECT * FROM cf_password_report();

-- What CoreForge got: kept hashes as they were, the others NULL.
SELECT coreforge_sync.password_format(a.pw_digest) AS legacy_format, c.password_hash = a.pw_digest AS same_hash,
       c.password_hash IS NULL AS reset
  FROM cf_users c JOIN coreforge_sync.user_id_mapping m ON m.new_id = c.id
  JOIN crm.accounts a ON a.account_id = m.old_id ORDER BY m.old_id;

-- A policy of one's own: keep PBKDF2 too (the application verifies it), reset bcrypt.
SELECT cf_configure('users', (SELECT settings FROM cf_config() WHERE entity = 'users')
  || '{"passwords": {"argon2id": "keep", "pbkdf2": "keep", "*": "reset"}}') -> 'passwords' AS policy;
SELECT * FROM cf_password_report() WHERE format IN ('argon2id', 'bcrypt', 'pbkdf2');
SELECT cf_sync_users();
SELECT format, count(*) FROM cf_password_resets() GROUP BY 1 ORDER BY 1;

-- The validation expects the policy's result: a reset hash is not a mismatch.
SELECT (SELECT count(*) FROM cf_mismatches('users')) AS mismatched,
       (SELECT count(*) FROM cf_missing('users') WHERE reason = 'no CoreForge row') AS missing;

-- Nothing here shows a hash: the rejects redact the password column.
SELECT count(*) AS user_rejects, count(*) FILTER (WHERE legacy_row ->> 'pw_digest' = '[redacted]') AS redacted,
       count(*) FILTER (WHERE legacy_row::text LIKE '%$argon2%' OR legacy_row::text LIKE '%$2_$%') AS showing_a_hash
  FROM cf_rejects('users');

-- Without a mapped password column there is nothing to report.
SELECT cf_configure('users', (SELECT settings FROM cf_config() WHERE entity = 'users')
  || jsonb_build_object('columns', (SELECT settings -> 'columns' FROM cf_config() WHERE entity = 'users') - 'password_hash')) -> 'columns' AS columns;
SELECT * FROM cf_password_report();
