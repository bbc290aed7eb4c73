-- The format of a legacy password hash, by its shape alone (never by trying it).
-- CoreForge verifies only Argon2id; the password policy (cf_configure('users', '{"passwords": ...}'))
-- says per format whether the hash is kept or the user must reset their password.
-- A SQL-standard body: parsed once at creation (no search_path lookups at run time) and inlined
-- into the statements that call it.
CREATE FUNCTION coreforge_sync.password_format(hash text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE
    WHEN hash IS NULL OR hash OPERATOR(pg_catalog.=) '' THEN 'empty'
    WHEN hash OPERATOR(pg_catalog.^@) '$argon2id$' THEN 'argon2id'
    -- cheap tests first, the pattern only for the candidates
    WHEN hash OPERATOR(pg_catalog.^@) '$2' AND pg_catalog.length(hash) IN (59, 60)
     AND hash OPERATOR(pg_catalog.~) '^\$2[abxy]?\$[0-9]{2}\$[./A-Za-z0-9]{53}$' THEN 'bcrypt'
    WHEN hash OPERATOR(pg_catalog.^@) '$argon2i$' THEN 'argon2i'
    WHEN hash OPERATOR(pg_catalog.^@) '$argon2d$' THEN 'argon2d'
    -- Django's Argon2 hasher: "argon2" before the PHC string
    WHEN hash OPERATOR(pg_catalog.^@) 'argon2$argon2id$' THEN 'argon2id'
    WHEN hash OPERATOR(pg_catalog.^@) 'argon2$argon2i$' THEN 'argon2i'
    WHEN hash OPERATOR(pg_catalog.^@) 'argon2$argon2d$' THEN 'argon2d'
    -- Django's bcrypt hashers: "bcrypt$" or "bcrypt_sha256$" before the bcrypt string
    WHEN (hash OPERATOR(pg_catalog.^@) 'bcrypt$$2' OR hash OPERATOR(pg_catalog.^@) 'bcrypt_sha256$$2') THEN 'bcrypt'
    WHEN hash OPERATOR(pg_catalog.^@) '$scrypt$' OR hash OPERATOR(pg_catalog.^@) '$7$'
      OR hash OPERATOR(pg_catalog.^@) 'scrypt$' THEN 'scrypt'
    WHEN (hash OPERATOR(pg_catalog.^@) 'pbkdf2_' OR hash OPERATOR(pg_catalog.^@) '$pbkdf2')
     AND hash OPERATOR(pg_catalog.~) '^(pbkdf2_sha(1|256|512)\$[0-9]+\$|\$pbkdf2(-sha(1|256|512))?\$)' THEN 'pbkdf2'
    WHEN pg_catalog.length(hash) OPERATOR(pg_catalog.=) 32 AND hash OPERATOR(pg_catalog.~) '^[0-9a-fA-F]+$' THEN 'md5'
    WHEN pg_catalog.length(hash) OPERATOR(pg_catalog.=) 40 AND hash OPERATOR(pg_catalog.~) '^[0-9a-fA-F]+$' THEN 'sha1'
    WHEN pg_catalog.length(hash) OPERATOR(pg_catalog.=) 64 AND hash OPERATOR(pg_catalog.~) '^[0-9a-fA-F]+$' THEN 'sha256'
    ELSE 'unknown'
END;

-- The legacy password hashes cf_upgrade_password() can still upgrade, copied by
-- cf_archive_legacy() (the legacy rows hold them until then), so that a user's first login after
-- the archive, and after cf_drop_archive(), still upgrades. A successful upgrade deletes the
-- user's copy; cf_forget_legacy_passwords() deletes them all; cf_restore_legacy() too (the legacy
-- rows hold them again). pg_dump dumps the rows.
CREATE TABLE coreforge_sync.legacy_passwords (
    user_id   uuid PRIMARY KEY,
    hash      text NOT NULL,
    format    text NOT NULL,
    copied_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
SELECT pg_catalog.pg_extension_config_dump('coreforge_sync.legacy_passwords', '');

-- The users cf_upgrade_password() gave a fresh Argon2id hash, and the format of the legacy hash
-- it checked (for cf_password_report()).
CREATE TABLE coreforge_sync.password_upgrades (
    user_id     uuid PRIMARY KEY,
    from_format text NOT NULL,
    upgraded_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
SELECT pg_catalog.pg_extension_config_dump('coreforge_sync.password_upgrades', '');
