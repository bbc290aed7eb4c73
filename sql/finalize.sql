-- The trigger function behind cf_enable_sync(). SECURITY DEFINER, so that an application role
-- that may write the legacy tables needs no rights on the cf_ tables; its search_path is fixed
-- and every name it uses is schema-qualified.
CREATE FUNCTION coreforge_sync.mirror_trigger() RETURNS trigger
    LANGUAGE c
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    SET jit = off
    AS 'MODULE_PATHNAME', 'mirror_trigger_wrapper';

-- The statements these functions generate are big (many CTEs and subplans) and their cost
-- estimates cross JIT's thresholds, while they spend their time in index lookups and writes:
-- compiling them cost more than a second per call in measurements, and won nothing.
ALTER FUNCTION @extschema@.cf_sync_users() SET jit = off;
ALTER FUNCTION @extschema@.cf_sync_organizations() SET jit = off;
ALTER FUNCTION @extschema@.cf_sync_memberships() SET jit = off;
ALTER FUNCTION @extschema@.cf_sync_all() SET jit = off;
ALTER FUNCTION coreforge_sync.backfill_batch(text) SET jit = off;
ALTER FUNCTION @extschema@.cf_validation_report() SET jit = off;
ALTER FUNCTION @extschema@.cf_missing(text) SET jit = off;
ALTER FUNCTION @extschema@.cf_mismatches(text) SET jit = off;
ALTER FUNCTION @extschema@.cf_extra(text) SET jit = off;
ALTER FUNCTION @extschema@.cf_status() SET jit = off;
ALTER FUNCTION @extschema@.cf_password_report() SET jit = off;
ALTER FUNCTION @extschema@.cf_password_resets() SET jit = off;

-- The schema outlives the extension (see bootstrap.sql).
ALTER EXTENSION coreforge_sync DROP SCHEMA coreforge_sync;
