-- coreforge_sync 0.2.0 -> 0.3.0: owner's rights and an audit trail a delegated admin cannot rewrite.
-- - The sync writes every table with the rights of its owner, in a security-restricted operation
--   (the library's code: owner.rs); no SQL object changes for that.
-- - The routines that change anything become SECURITY DEFINER (as a fresh 0.3.0 install makes
--   them), and cf_grant_admin() now gives read rights only on schema coreforge_sync: the write
--   rights that 0.2.0's cf_grant_admin() gave (ALL) are taken back from every role here.
-- tests/upgrade.sh checks, object by object, that an updated 0.2.0 equals a fresh 0.3.0.
\echo Use "ALTER EXTENSION coreforge_sync UPDATE TO '0.3.0'" to load this file. \quit

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
                                  'cf_create_compat_views', 'cf_sync_legacy')
    LOOP
        EXECUTE pg_catalog.format('ALTER ROUTINE %s SECURITY DEFINER SET search_path = pg_catalog, pg_temp', f);
    END LOOP;
END
$$;

-- What 0.2.0's cf_grant_admin() gave beyond reading: taken back from every role but the owners.
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT DISTINCT c.oid::pg_catalog.regclass AS rel, c.relkind, a.grantee,
                    EXISTS (SELECT 1 FROM pg_catalog.aclexplode(c.relacl) s
                             WHERE s.grantee = a.grantee AND s.privilege_type = 'SELECT') AS had_select
               FROM pg_catalog.pg_class c, pg_catalog.aclexplode(c.relacl) a
              WHERE c.relnamespace = 'coreforge_sync'::pg_catalog.regnamespace AND c.relkind IN ('r', 'S')
                AND a.grantee <> c.relowner AND a.privilege_type <> 'SELECT'
    LOOP
        EXECUTE pg_catalog.format('REVOKE ALL ON %s %s FROM %s',
            CASE r.relkind WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END, r.rel,
            CASE WHEN r.grantee = 0 THEN 'PUBLIC' ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(r.grantee)) END);
        IF r.relkind = 'r' AND r.had_select THEN
            EXECUTE pg_catalog.format('GRANT SELECT ON TABLE %s TO %s', r.rel,
                CASE WHEN r.grantee = 0 THEN 'PUBLIC' ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(r.grantee)) END);
        END IF;
    END LOOP;
END
$$;
