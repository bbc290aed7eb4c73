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
    WHEN hash OPERATOR(pg_catalog.^@) '$argon2i$' THEN 'argon2i'
    WHEN hash OPERATOR(pg_catalog.^@) '$argon2d$' THEN 'argon2d'
    WHEN hash OPERATOR(pg_catalog.~) '^\$2[abxy]?\$[0-9]{2}\$[./A-Za-z0-9]{53}$' THEN 'bcrypt'
    WHEN hash OPERATOR(pg_catalog.^@) '$scrypt$' OR hash OPERATOR(pg_catalog.^@) '$7$'
      OR hash OPERATOR(pg_catalog.^@) 'scrypt$' THEN 'scrypt'
    WHEN hash OPERATOR(pg_catalog.~) '^(pbkdf2_sha(1|256|512)\$[0-9]+\$|\$pbkdf2(-sha(1|256|512))?\$)' THEN 'pbkdf2'
    WHEN hash OPERATOR(pg_catalog.~) '^[0-9a-fA-F]{32}$' THEN 'md5'
    WHEN hash OPERATOR(pg_catalog.~) '^[0-9a-fA-F]{40}$' THEN 'sha1'
    WHEN hash OPERATOR(pg_catalog.~) '^[0-9a-fA-F]{64}$' THEN 'sha256'
    ELSE 'unknown'
END;
