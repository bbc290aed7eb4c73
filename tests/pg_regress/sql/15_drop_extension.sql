-- DROP EXTENSION in the middle of a migration (phase legacy_frozen: forward, reverse and freeze
-- triggers all installed) leaves the legacy tables, the cf_ tables, their rows and the id mappings
-- as they are, and removes every trigger it installed.
\i fixtures/legacy.sql
CREATE EXTENSION coreforge_sync;
SELECT cf_create_tables();
SELECT cf_enable_sync();
SELECT count(*) FROM cf_sync_all();
SELECT cf_cutover();
SELECT cf_freeze_legacy();
CREATE TEMP TABLE counts_before AS
  SELECT (SELECT count(*) FROM users) AS users, (SELECT count(*) FROM tenants) AS tenants,
         (SELECT count(*) FROM tenant_members) AS tenant_members, (SELECT count(*) FROM cf_users) AS cf_users,
         (SELECT count(*) FROM cf_organizations) AS cf_organizations, (SELECT count(*) FROM cf_memberships) AS cf_memberships;
SELECT tgrelid::regclass AS on_table, count(*) AS triggers FROM pg_trigger
 WHERE tgname LIKE 'coreforge_sync%' GROUP BY 1 ORDER BY 1;

-- Without CASCADE it refuses: the triggers depend on it.
\set VERBOSITY terse
DROP EXTENSION coreforge_sync;
\set VERBOSITY default
SET client_min_messages = warning;
DROP EXTENSION coreforge_sync CASCADE;
RESET client_min_messages;

SELECT count(*) AS triggers_left FROM pg_trigger WHERE tgname LIKE 'coreforge_sync%';
SELECT (SELECT count(*) FROM users) = b.users AND (SELECT count(*) FROM tenants) = b.tenants
   AND (SELECT count(*) FROM tenant_members) = b.tenant_members AND (SELECT count(*) FROM cf_users) = b.cf_users
   AND (SELECT count(*) FROM cf_organizations) = b.cf_organizations
   AND (SELECT count(*) FROM cf_memberships) = b.cf_memberships AS every_row_kept
  FROM counts_before b;
-- The freeze went with it: the legacy tables take writes again (and nothing mirrors them).
UPDATE users SET name = 'After The Drop' WHERE email = 'ada@example.com';
SELECT (SELECT name FROM users WHERE email = 'ada@example.com') AS legacy,
       (SELECT name FROM cf_users WHERE email = 'ada@example.com') AS coreforge;
-- What stays in schema coreforge_sync: what is not the extension's (the id mapping tables, when
-- configured; none here).
SELECT count(*) AS objects_left FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'coreforge_sync';
