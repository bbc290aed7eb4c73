-- coreforge_sync 0.3.0 -> 0.4.0: writes made under session_replication_role = replica are mirrored.
-- Logical replication's apply and table-sync workers (and any session that sets the role) fire
-- row-level triggers only, and only those set ENABLE REPLICA or ENABLE ALWAYS: the statement
-- triggers of 0.3.0 never fired there, so such writes were not mirrored. From 0.4.0 each legacy
-- table (and, from cutover, each cf_ table) also has a row trigger set ENABLE REPLICA, which runs
-- the statement path for its one row, and the TRUNCATE trigger fires in every session (ENABLE
-- ALWAYS). No routine or table changes; this script gives the tables that already have sync
-- triggers the new ones, so that sync stays on (cf_status(), the phase guards) through the update.
-- tests/upgrade.sh checks it.
\echo Use "ALTER EXTENSION coreforge_sync UPDATE TO '0.4.0'" to load this file. \quit

DO $$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT tg.tgrelid::pg_catalog.regclass AS tab, tg.tgname::text AS name,
                    pg_catalog.pg_get_triggerdef(tg.oid) AS def
               FROM pg_catalog.pg_trigger tg
               JOIN pg_catalog.pg_proc p ON p.oid = tg.tgfoid
               JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
              WHERE n.nspname = 'coreforge_sync' AND p.proname IN ('mirror_trigger', 'reverse_trigger')
                AND tg.tgname IN ('coreforge_sync_update', 'coreforge_sync_reverse_update',
                                  'coreforge_sync_truncate', 'coreforge_sync_reverse_truncate')
    LOOP
        IF t.name LIKE '%truncate' THEN
            EXECUTE pg_catalog.format('ALTER TABLE %s ENABLE ALWAYS TRIGGER %I', t.tab, t.name);
        ELSE
            -- The row trigger calls the function with the update trigger's arguments.
            EXECUTE pg_catalog.format('CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE ON %s FOR EACH ROW %s',
                pg_catalog.replace(t.name, '_update', '_replica'), t.tab,
                pg_catalog.substring(t.def, 'EXECUTE FUNCTION .*$'));
            EXECUTE pg_catalog.format('ALTER TABLE %s ENABLE REPLICA TRIGGER %I', t.tab,
                pg_catalog.replace(t.name, '_update', '_replica'));
        END IF;
    END LOOP;
END
$$;
