-- Objects planted where a careless extension would pick them up: functions and operators in a
-- schema ahead of pg_catalog on the search_path, named like those the extension's SQL calls, and
-- temporary tables named like the legacy and CoreForge tables. Every one of them raises if called
-- or counts if written: the whole migration runs through them and never touches one.
\i fixtures/legacy.sql
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS evil CASCADE;
RESET client_min_messages;
CREATE SCHEMA evil;
CREATE FUNCTION evil.trap(VARIADIC args text[]) RETURNS text LANGUAGE plpgsql AS
  $$ BEGIN RAISE EXCEPTION 'a planted object was called: %', args; END $$;
CREATE FUNCTION evil.now() RETURNS timestamptz LANGUAGE plpgsql AS $$ BEGIN PERFORM evil.trap('now'); RETURN NULL; END $$;
CREATE FUNCTION evil.lower(text) RETURNS text LANGUAGE plpgsql AS $$ BEGIN RETURN evil.trap('lower'); END $$;
CREATE FUNCTION evil.length(text) RETURNS integer LANGUAGE plpgsql AS $$ BEGIN PERFORM evil.trap('length'); RETURN 0; END $$;
CREATE FUNCTION evil.btrim(text, text) RETURNS text LANGUAGE plpgsql AS $$ BEGIN RETURN evil.trap('btrim'); END $$;
CREATE FUNCTION evil.substr(text, integer) RETURNS text LANGUAGE plpgsql AS $$ BEGIN RETURN evil.trap('substr'); END $$;
CREATE FUNCTION evil.split_part(text, text, integer) RETURNS text LANGUAGE plpgsql AS $$ BEGIN RETURN evil.trap('split_part'); END $$;
CREATE FUNCTION evil.quote_literal(text) RETURNS text LANGUAGE plpgsql AS $$ BEGIN RETURN evil.trap('quote_literal'); END $$;
CREATE FUNCTION evil.gen_random_uuid() RETURNS uuid LANGUAGE plpgsql AS $$ BEGIN PERFORM evil.trap('gen_random_uuid'); RETURN NULL; END $$;
CREATE FUNCTION evil.to_jsonb(anyelement) RETURNS jsonb LANGUAGE plpgsql AS $$ BEGIN PERFORM evil.trap('to_jsonb'); RETURN NULL; END $$;
CREATE FUNCTION evil.set_config(text, text, boolean) RETURNS text LANGUAGE plpgsql AS $$ BEGIN RETURN evil.trap('set_config'); END $$;
CREATE FUNCTION evil.current_setting(text) RETURNS text LANGUAGE plpgsql AS $$ BEGIN RETURN evil.trap('current_setting'); END $$;
CREATE FUNCTION evil.pg_advisory_xact_lock(integer, integer) RETURNS void LANGUAGE plpgsql AS $$ BEGIN PERFORM evil.trap('pg_advisory_xact_lock'); END $$;
CREATE FUNCTION evil.uuid_eq(uuid, uuid) RETURNS boolean LANGUAGE plpgsql AS $$ BEGIN PERFORM evil.trap('= (uuid)'); RETURN false; END $$;
CREATE OPERATOR evil.= (LEFTARG = uuid, RIGHTARG = uuid, FUNCTION = evil.uuid_eq);
CREATE FUNCTION evil.text_eq(text, text) RETURNS boolean LANGUAGE plpgsql AS $$ BEGIN PERFORM evil.trap('= (text)'); RETURN false; END $$;
CREATE OPERATOR evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.text_eq);
CREATE FUNCTION evil.text_cat(text, text) RETURNS text LANGUAGE plpgsql AS $$ BEGIN RETURN evil.trap('|| (text)'); END $$;
CREATE OPERATOR evil.|| (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.text_cat);
CREATE FUNCTION evil.int_ge(integer, integer) RETURNS boolean LANGUAGE plpgsql AS $$ BEGIN PERFORM evil.trap('>= (integer)'); RETURN false; END $$;
CREATE OPERATOR evil.>= (LEFTARG = integer, RIGHTARG = integer, FUNCTION = evil.int_ge);

-- Temporary tables named like the real ones (pg_temp comes first on a search_path that does not
-- name it): an INSERT into them is counted.
CREATE TEMP TABLE users (LIKE public.users);
CREATE TEMP TABLE tenants (LIKE public.tenants);
CREATE TEMP TABLE tenant_members (LIKE public.tenant_members);
CREATE TEMP TABLE cf_users (id uuid, email text, name text);
CREATE TEMP TABLE cf_memberships (id uuid, user_id uuid, organization_id uuid);

-- The planted objects are live: an unqualified call reaches them.
SET search_path = evil, pg_catalog, public;
SELECT now();
SELECT 'a0000000-0000-0000-0000-000000000001'::uuid = 'a0000000-0000-0000-0000-000000000001'::uuid;

-- The whole migration under that search_path (the test's own statements qualify every name and
-- operator, so only the extension could reach a planted object).
CREATE EXTENSION coreforge_sync SCHEMA public;
SELECT public.cf_create_tables();
SELECT public.cf_enable_sync();
CALL public.cf_backfill(batch_size => 2);
SELECT * FROM public.cf_sync_all();
INSERT INTO public.users (id, email, name, created_at)
  VALUES ('a0000000-0000-0000-0000-000000000009', 'planted@example.com', 'Planted', '2024-01-01 00:00+00');
UPDATE public.tenants SET plan = 'enterprise' WHERE slug OPERATOR(pg_catalog.=) 'acme';
DELETE FROM public.tenant_members WHERE role OPERATOR(pg_catalog.=) 'admin';
INSERT INTO public.users (id, email, name) VALUES ('a0000000-0000-0000-0000-000000000010', 'planted@example.com', '');
SELECT entity, reason FROM public.cf_rejects();
SELECT entity, check_name, discrepancies FROM public.cf_validation_report() WHERE status OPERATOR(pg_catalog.=) 'fail';
SELECT count(*) FROM public.cf_missing('users');
SELECT count(*) FROM public.cf_mismatches('organizations');
SELECT count(*) FROM public.cf_extra('memberships');
SELECT entity, legacy_rows, coreforge_rows FROM public.cf_status();
SELECT * FROM public.cf_password_report();
DELETE FROM public.users WHERE id OPERATOR(pg_catalog.=) 'a0000000-0000-0000-0000-000000000010';
SELECT public.cf_cutover();
INSERT INTO public.cf_users (id, email, name, created_at)
  VALUES ('c0000000-0000-0000-0000-000000000009', 'born@example.com', 'Born', '2024-01-01 00:00+00');
UPDATE public.cf_organizations SET name = 'Acme Inc' WHERE slug OPERATOR(pg_catalog.=) 'acme';
SELECT * FROM public.cf_sync_legacy();
SELECT public.cf_freeze_legacy();
SELECT public.cf_archive_legacy();
SELECT view FROM public.cf_create_compat_views();
SELECT public.cf_restore_legacy();
SELECT public.cf_rollback();
SELECT jsonb_typeof(public.cf_configure('organizations', '{"normalize_slugs": true}'));
SELECT action, to_phase FROM public.cf_history();
RESET search_path;

-- What the real tables hold, and the planted tables never received a row.
SELECT email, name FROM public.users WHERE email IN ('planted@example.com', 'born@example.com') ORDER BY email;
SELECT name, plan FROM public.tenants WHERE slug = 'acme';
SELECT (SELECT count(*) FROM pg_temp.users) + (SELECT count(*) FROM pg_temp.tenants)
     + (SELECT count(*) FROM pg_temp.tenant_members) + (SELECT count(*) FROM pg_temp.cf_users)
     + (SELECT count(*) FROM pg_temp.cf_memberships) AS rows_in_planted_tables;
SET client_min_messages = warning;
DROP SCHEMA evil CASCADE;
