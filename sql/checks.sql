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
