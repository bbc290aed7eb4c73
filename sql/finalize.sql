-- The trigger function behind cf_enable_sync(). SECURITY DEFINER, so that an application role
-- that may write the legacy tables needs no rights on the cf_ tables; its search_path is fixed
-- and every name it uses is schema-qualified.
CREATE FUNCTION coreforge_sync.mirror_trigger() RETURNS trigger
    LANGUAGE c
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'mirror_trigger_wrapper';

-- The schema outlives the extension (see bootstrap.sql).
ALTER EXTENSION coreforge_sync DROP SCHEMA coreforge_sync;
