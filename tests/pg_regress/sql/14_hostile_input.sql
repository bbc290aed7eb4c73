-- Every SQL function of the extension that takes arguments, called with NULLs, unknown entities,
-- empty strings, out-of-range numbers and JSON of the wrong shape: each answer is a clear error (its
-- SQLSTATE is never XX000, an internal error or a panic) or a documented result, and nothing that
-- was written before changes (a fingerprint of every table involved, taken before and after).
\i fixtures/legacy.sql
CREATE EXTENSION coreforge_sync;
SELECT cf_create_tables();
SELECT cf_enable_sync();
SELECT count(*) FROM cf_sync_all();
INSERT INTO users (id, email, name) VALUES ('a0000000-0000-0000-0000-000000000077', 'dirty@example.com', '');

CREATE FUNCTION pg_temp.fingerprint() RETURNS text LANGUAGE sql AS $$
  SELECT md5(string_agg(t, '|' ORDER BY t)) FROM (
    SELECT 'u' || u::text FROM public.users u UNION ALL SELECT 't' || t::text FROM public.tenants t
    UNION ALL SELECT 'm' || m::text FROM public.tenant_members m
    UNION ALL SELECT 'cu' || (c.id, c.email, c.name, c.updated_at)::text FROM public.cf_users c
    UNION ALL SELECT 'co' || (c.id, c.slug, c.plan, c.updated_at)::text FROM public.cf_organizations c
    UNION ALL SELECT 'cm' || (c.id, c.role, c.updated_at)::text FROM public.cf_memberships c
    UNION ALL SELECT 'r' || (r.entity, r.legacy_id, r.reason)::text FROM coreforge_sync.rejects r
    UNION ALL SELECT 's' || s::text FROM coreforge_sync.settings s
    UNION ALL SELECT 'c' || (c.entity, c.settings)::text FROM coreforge_sync.entity_config c
    UNION ALL SELECT 'h' || (h.action, h.to_phase)::text FROM coreforge_sync.phase_history h
    UNION ALL SELECT 'b' || (b.entity, b.pass, b.phase)::text FROM coreforge_sync.backfill_state b
    UNION ALL SELECT 'tg' || tgname || tgrelid::regclass::text FROM pg_trigger WHERE tgname LIKE 'coreforge%'
  ) x(t) $$;
SELECT pg_temp.fingerprint() AS before \gset

CREATE TEMP TABLE outcomes (n serial, call text, outcome text);
CREATE PROCEDURE pg_temp.try(call text) LANGUAGE plpgsql AS $$
DECLARE
  result text;
BEGIN
  BEGIN
    EXECUTE 'SELECT (' || call || ')::text' INTO result;
    INSERT INTO outcomes (call, outcome) VALUES (call, 'returned ' || coalesce(left(result, 60), 'NULL'));
  EXCEPTION WHEN OTHERS THEN
    INSERT INTO outcomes (call, outcome) VALUES (call, SQLSTATE || ' ' || SQLERRM);
  END;
END $$;

DO $$
DECLARE
  c text;
BEGIN
  FOREACH c IN ARRAY ARRAY[
    -- NULL for every argument
    'cf_configure(NULL, NULL)', 'cf_configure(''users'', NULL)', 'cf_configure(NULL, ''{}'')',
    'cf_create_tables(NULL)', 'cf_missing(NULL)', 'cf_mismatches(NULL)', 'cf_extra(NULL)',
    'cf_backfill_reset(NULL)', 'cf_cutover(NULL, NULL)', 'cf_archive_legacy(NULL)',
    'cf_drop_archive(NULL, NULL)', 'cf_grant_admin(NULL)', 'cf_revoke_admin(NULL)',
    -- unknown entities and empty strings
    'cf_configure(''accounts'', ''{}'')', 'cf_configure('''', ''{}'')', 'cf_missing(''accounts'')',
    'cf_mismatches(''USERS'')', 'cf_extra('''')', 'cf_rejects(''nobody'')', 'cf_backfill_reset(''x'')',
    'cf_create_tables('''')', 'cf_create_tables(''no_such_schema'')', 'cf_archive_legacy('''')',
    'cf_drop_archive('''', true)', 'cf_grant_admin('''')',
    -- JSON of the wrong shape
    'cf_configure(''users'', ''[]'')', 'cf_configure(''users'', ''"users"'')', 'cf_configure(''users'', ''null'')',
    'cf_configure(''users'', ''{"table": 42}'')', 'cf_configure(''users'', ''{"columns": {"email": null}}'')',
    'cf_configure(''users'', ''{"id": {"column": "id", "strategy": "uuidv5", "namespace": "not-a-uuid"}}'')',
    -- out-of-range numbers (cf_backfill is a procedure: its checks are coreforge_sync.backfill_entities')
    'coreforge_sync.backfill_entities(NULL, -1, 0)', 'coreforge_sync.backfill_entities(NULL, 0, 0)',
    'coreforge_sync.backfill_entities(NULL, 2147483647, 0)', 'coreforge_sync.backfill_entities(NULL, 100, -5)',
    'coreforge_sync.backfill_entities(NULL, NULL, NULL)', 'coreforge_sync.backfill_entities(''nobody'', 100, 0)',
    -- steps out of order
    'cf_sync_legacy()', 'cf_freeze_legacy()', 'cf_restore_legacy()', 'cf_drop_archive(''archive'', true)'
  ] LOOP
    CALL pg_temp.try(c);
  END LOOP;
END $$;

SELECT call, outcome FROM outcomes ORDER BY n;
SELECT count(*) FILTER (WHERE outcome LIKE 'XX%') AS internal_errors FROM outcomes;
SELECT pg_temp.fingerprint() = :'before' AS nothing_changed;
