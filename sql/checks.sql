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
