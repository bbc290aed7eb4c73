-- The trigger function behind cf_enable_sync(). It acts for an application role that may write
-- the legacy tables and needs no rights on the cf_ tables: it runs as the extension's owner with
-- search_path = pg_catalog, pg_temp and jit = off, as SECURITY DEFINER and SET would make it, but
-- takes those itself (src/db/owner.rs, as_function_owner) once it knows the statement has
-- something to mirror. A statement with nothing to mirror (an UPDATE of columns nobody mirrors)
-- returns before any SQL and costs no switch of rights or settings. Every name it uses is
-- schema-qualified.
CREATE FUNCTION coreforge_sync.mirror_trigger() RETURNS trigger
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'mirror_trigger_wrapper';

-- The reverse trigger behind cf_cutover(), on the cf_ tables: made the same way (the application
-- writing CoreForge needs no rights on the legacy tables).
CREATE FUNCTION coreforge_sync.reverse_trigger() RETURNS trigger
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'reverse_trigger_wrapper';

-- The freeze behind cf_freeze_legacy(): only refuses, so it needs no rights of its own.
CREATE FUNCTION coreforge_sync.freeze_trigger() RETURNS trigger
    LANGUAGE c
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'freeze_trigger_wrapper';

-- The phase transitions wait at most this long for a table lock, then refuse (and change nothing)
-- rather than queue behind the application's transactions and block everyone queued behind them.
ALTER FUNCTION @extschema@.cf_cutover(boolean, text) SET lock_timeout = '5s';
ALTER FUNCTION @extschema@.cf_rollback() SET lock_timeout = '5s';
ALTER FUNCTION @extschema@.cf_freeze_legacy() SET lock_timeout = '5s';
ALTER FUNCTION @extschema@.cf_unfreeze_legacy() SET lock_timeout = '5s';
ALTER FUNCTION @extschema@.cf_archive_legacy(text) SET lock_timeout = '5s';
ALTER FUNCTION @extschema@.cf_restore_legacy() SET lock_timeout = '5s';
ALTER FUNCTION @extschema@.cf_drop_archive(text, boolean) SET lock_timeout = '5s';
ALTER FUNCTION @extschema@.cf_create_compat_views() SET lock_timeout = '5s';

-- The statements these functions generate are big (many CTEs and subplans) and their cost
-- estimates cross JIT's thresholds, while they spend their time in index lookups and writes:
-- compiling them cost more than a second per call in measurements, and won nothing.
ALTER FUNCTION @extschema@.cf_sync_users() SET jit = off;
ALTER FUNCTION @extschema@.cf_sync_organizations() SET jit = off;
ALTER FUNCTION @extschema@.cf_sync_memberships() SET jit = off;
ALTER FUNCTION @extschema@.cf_sync_all() SET jit = off;
ALTER FUNCTION coreforge_sync.backfill_batch(text) SET jit = off;
ALTER FUNCTION @extschema@.cf_validation_report() SET jit = off;
ALTER FUNCTION @extschema@.cf_validation_report(text) SET jit = off;
ALTER FUNCTION @extschema@.cf_missing(text) SET jit = off;
ALTER FUNCTION @extschema@.cf_mismatches(text) SET jit = off;
ALTER FUNCTION @extschema@.cf_extra(text) SET jit = off;
ALTER FUNCTION @extschema@.cf_status() SET jit = off;
ALTER FUNCTION @extschema@.cf_password_report() SET jit = off;
ALTER FUNCTION @extschema@.cf_password_resets() SET jit = off;
ALTER FUNCTION @extschema@.cf_sync_legacy() SET jit = off;
ALTER FUNCTION @extschema@.cf_cutover(boolean, text) SET jit = off;
ALTER FUNCTION @extschema@.cf_rollback() SET jit = off;
ALTER FUNCTION @extschema@.cf_freeze_legacy() SET jit = off;
ALTER FUNCTION @extschema@.cf_unfreeze_legacy() SET jit = off;
ALTER FUNCTION @extschema@.cf_archive_legacy(text) SET jit = off;
ALTER FUNCTION @extschema@.cf_restore_legacy() SET jit = off;

-- Only superusers, the extension's owner and the roles given cf_grant_admin() run the extension's
-- routines: PUBLIC has EXECUTE on a new function by default, and loses it here, on every one of
-- them (an application role writes its tables; the triggers act for it).
DO $$
DECLARE
    f pg_catalog.regprocedure;
BEGIN
    FOR f IN SELECT d.objid FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_extension x ON x.oid = d.refobjid
              WHERE d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass AND x.extname = 'coreforge_sync'
                AND d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND d.deptype = 'e'
    LOOP
        EXECUTE pg_catalog.format('REVOKE ALL ON ROUTINE %s FROM PUBLIC', f);
    END LOOP;
END
$$;

-- The schema outlives the extension (see bootstrap.sql).
ALTER EXTENSION coreforge_sync DROP SCHEMA coreforge_sync;

-- The routines that change anything run as the extension's owner (SECURITY DEFINER, fixed
-- search_path), so that a role given cf_grant_admin() needs, and gets, no write right on schema
-- coreforge_sync: the record of what happened (phase_history, rejects, runs, configuration) is
-- written by the extension only. Each checks its caller first (privileges.rs: a superuser, or a
-- role with the rights of the owner of every legacy and cf_ table), and writes those tables with
-- their owners' rights (owner.rs). The routines that only read run with the caller's rights.
DO $$
DECLARE
    f pg_catalog.regprocedure;
BEGIN
    FOR f IN SELECT p.oid FROM pg_catalog.pg_depend d
               JOIN pg_catalog.pg_extension x ON x.oid = d.refobjid
               JOIN pg_catalog.pg_proc p ON p.oid = d.objid
              WHERE d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass AND x.extname = 'coreforge_sync'
                AND d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND d.deptype = 'e'
                AND p.proname IN ('cf_create_tables', 'cf_configure', 'cf_enable_sync', 'cf_disable_sync',
                                  'cf_sync_users', 'cf_sync_organizations', 'cf_sync_memberships', 'cf_sync_all',
                                  'backfill_entities', 'backfill_start', 'backfill_batch', 'backfill_retry',
                                  'cf_backfill_reset', 'cf_cutover', 'cf_rollback', 'cf_freeze_legacy',
                                  'cf_unfreeze_legacy', 'cf_archive_legacy', 'cf_restore_legacy', 'cf_drop_archive',
                                  'cf_create_compat_views', 'cf_sync_legacy', 'cf_upgrade_password',
                                  'cf_forget_legacy_passwords')
    LOOP
        EXECUTE pg_catalog.format('ALTER ROUTINE %s SECURITY DEFINER SET search_path = pg_catalog, pg_temp', f);
    END LOOP;
END
$$;
