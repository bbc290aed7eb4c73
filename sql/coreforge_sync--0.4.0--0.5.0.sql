-- coreforge_sync 0.4.0 -> 0.5.0: legacy passwords upgraded at the next login.
-- cf_upgrade_password(user_id, password) checks a password against the user's legacy hash and,
-- on a match, gives CoreForge a fresh Argon2id hash; cf_archive_legacy() keeps the hashes it can
-- still upgrade in coreforge_sync.legacy_passwords, which cf_forget_legacy_passwords() empties;
-- cf_password_report() gains the columns upgradable and upgraded; password_format() recognises
-- Django's argon2$..., bcrypt$... and bcrypt_sha256$... hashes; coreforge_sync.fits() and
-- canonical() let cf_configure() check the values of the new setting "reverse_defaults" and the
-- keys of value maps over boolean, number and enum columns; cf_status() gains the column replica,
-- and cf_validation_report(legacy_schema) validates against foreign tables of the legacy server's.
-- (The users' new setting
-- "password_encoding" needs no object.) The sync triggers' functions take their rights and settings themselves
-- (at the end). tests/upgrade.sh checks that an updated install equals a fresh one.
\echo Use "ALTER EXTENSION coreforge_sync UPDATE TO '0.5.0'" to load this file. \quit

CREATE OR REPLACE FUNCTION coreforge_sync.password_format(hash text) RETURNS text
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

-- Whether a jsonb value goes into a column of type `target` the way the reverse sync hands values
-- over (jsonb_to_recordset): cf_configure() checks each constant of "reverse_defaults", and a sample
-- of each CoreForge column one copies, before a CoreForge write could fail on it. (PL/pgSQL for its
-- exception block: the failed conversion is rolled back with its subtransaction.)
CREATE FUNCTION coreforge_sync.fits(sample jsonb, target pg_catalog.regtype) RETURNS boolean
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    EXECUTE pg_catalog.format(
        'SELECT s.d FROM pg_catalog.jsonb_to_recordset(pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(''d'', $1))) AS s(d %s)',
        target)
    USING sample;
    RETURN true;
EXCEPTION WHEN OTHERS THEN
    RETURN false;
END
$$;

-- `value` read as a `target` and written as text again, as PostgreSQL writes it ('t' as a boolean
-- is 'true'), NULL when it is not a `target`: cf_configure() checks with it that the keys of a value
-- map over a boolean, number or enum column are those the mapping compares with.
CREATE FUNCTION coreforge_sync.canonical(value text, target pg_catalog.regtype) RETURNS text
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    written text;
BEGIN
    EXECUTE pg_catalog.format('SELECT ($1::%s)::text', target) INTO written USING value;
    RETURN written;
EXCEPTION WHEN OTHERS THEN
    RETURN NULL;
END
$$;

CREATE FUNCTION coreforge_sync."password_upgradable"(
	"hash" TEXT /* Option < & str > */
) RETURNS bool /* bool */
IMMUTABLE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'password_upgradable_wrapper';

CREATE FUNCTION @extschema@."cf_upgrade_password"(
	"user_id" uuid, /* Option < pgrx :: Uuid > */
	"password" TEXT /* Option < & str > */
) RETURNS bool /* bool */
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'cf_upgrade_password_wrapper';

CREATE FUNCTION @extschema@."cf_forget_legacy_passwords"(
	"confirm" bool DEFAULT false /* Option < bool > */
) RETURNS TEXT /* String */
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'cf_forget_legacy_passwords_wrapper';

-- Two more columns: dropped and made again (nothing depends on it).
DROP FUNCTION @extschema@.cf_password_report();
CREATE FUNCTION @extschema@."cf_password_report"() RETURNS TABLE (
	"format" TEXT,  /* String */
	"users" bigint,  /* i64 */
	"action" TEXT,  /* String */
	"upgradable" bigint,  /* i64 */
	"upgraded" bigint  /* i64 */
)
STRICT
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'cf_password_report_wrapper';
ALTER FUNCTION @extschema@.cf_password_report() SET jit = off;

-- cf_status() gains the column replica: the state of the subscription that writes a legacy table
-- that is a replica of another server's (docs/remote.md). A new result column is a new function.
DROP FUNCTION @extschema@.cf_status();
CREATE FUNCTION @extschema@."cf_status"() RETURNS TABLE (
	"entity" TEXT,  /* String */
	"legacy_table" TEXT,  /* String */
	"coreforge_table" TEXT,  /* String */
	"sync_enabled" bool,  /* bool */
	"legacy_rows" bigint,  /* i64 */
	"legacy_live_rows" bigint,  /* i64 */
	"coreforge_rows" bigint,  /* i64 */
	"last_sync" timestamp with time zone,  /* Option < TimestampWithTimeZone > */
	"last_sync_rows" bigint,  /* Option < i64 > */
	"replica" TEXT  /* Option < String > */
)
STRICT
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'cf_status_wrapper';
ALTER FUNCTION @extschema@.cf_status() SET jit = off;
REVOKE ALL ON ROUTINE @extschema@.cf_status() FROM PUBLIC;

-- cf_validation_report(legacy_schema): the validation with the legacy tables read as foreign tables
-- of the legacy server's (postgres_fdw), for legacy tables on another server (docs/remote.md).
CREATE FUNCTION @extschema@."cf_validation_report"(
	"legacy_schema" TEXT /* Option < & str > */
) RETURNS TABLE (
	"entity" TEXT,  /* String */
	"check_name" TEXT,  /* String */
	"legacy_count" bigint,  /* Option < i64 > */
	"coreforge_count" bigint,  /* Option < i64 > */
	"discrepancies" bigint,  /* i64 */
	"status" TEXT,  /* String */
	"detail" TEXT  /* String */
)
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'cf_validation_report_in_wrapper';
ALTER FUNCTION @extschema@.cf_validation_report(text) SET jit = off;
REVOKE ALL ON ROUTINE @extschema@.cf_validation_report(text) FROM PUBLIC;

-- As finalize.sql does for every routine: no EXECUTE for PUBLIC; the two that write run as the
-- extension's owner.
REVOKE ALL ON ROUTINE coreforge_sync.password_upgradable(text) FROM PUBLIC;
REVOKE ALL ON ROUTINE coreforge_sync.fits(jsonb, pg_catalog.regtype) FROM PUBLIC;
REVOKE ALL ON ROUTINE coreforge_sync.canonical(text, pg_catalog.regtype) FROM PUBLIC;
REVOKE ALL ON ROUTINE @extschema@.cf_upgrade_password(uuid, text) FROM PUBLIC;
REVOKE ALL ON ROUTINE @extschema@.cf_forget_legacy_passwords(boolean) FROM PUBLIC;
REVOKE ALL ON ROUTINE @extschema@.cf_password_report() FROM PUBLIC;
ALTER ROUTINE @extschema@.cf_upgrade_password(uuid, text) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER ROUTINE @extschema@.cf_forget_legacy_passwords(boolean) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

-- The roles cf_grant_admin() gave the migration (they hold EXECUTE on cf_cutover()) get what it
-- gives from 0.5.0 on, as if it ran again: the new routines, and reading the new tables.
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT DISTINCT pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(a.grantee)) AS role
               FROM pg_catalog.pg_proc p, pg_catalog.aclexplode(p.proacl) a
              WHERE p.oid = '@extschema@.cf_cutover(boolean, text)'::pg_catalog.regprocedure
                AND a.privilege_type = 'EXECUTE' AND a.grantee <> 0 AND a.grantee <> p.proowner
    LOOP
        EXECUTE pg_catalog.format('GRANT EXECUTE ON ROUTINE coreforge_sync.password_upgradable(text), '
            'coreforge_sync.fits(jsonb, pg_catalog.regtype), coreforge_sync.canonical(text, pg_catalog.regtype), '
            '@extschema@.cf_upgrade_password(uuid, text), @extschema@.cf_forget_legacy_passwords(boolean), '
            '@extschema@.cf_password_report(), @extschema@.cf_status(), @extschema@.cf_validation_report(text) TO %s', r.role);
        EXECUTE pg_catalog.format('GRANT SELECT ON coreforge_sync.legacy_passwords, coreforge_sync.password_upgrades TO %s', r.role);
    END LOOP;
END
$$;

-- The sync triggers' functions take the extension owner's rights and their fixed search_path
-- themselves, once they know a statement has something to mirror (finalize.sql): a statement
-- with nothing to mirror no longer switches them, and back, on every call.
ALTER FUNCTION coreforge_sync.mirror_trigger() SECURITY INVOKER RESET ALL;
ALTER FUNCTION coreforge_sync.reverse_trigger() SECURITY INVOKER RESET ALL;
