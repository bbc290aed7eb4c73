-- Owner's rights: every write the extension makes to a table runs with the rights of that
-- table's owner, inside a security-restricted operation, never with the rights of the extension
-- (whose trigger functions are SECURITY DEFINER, owned by the superuser who installed it).
--
-- The legacy tables belong to the application's role (appowner). cf_users was adopted from
-- CoreForge's own migration: it belongs to another role (cfowner, who runs the migration with
-- cf_grant_admin() and may read the legacy tables). Each owner attached code to its table that
-- tries to make its owner a superuser: a trigger, a column DEFAULT, a CHECK and an index
-- expression on users, a trigger on cf_users. Every probe records who it ran as, and what its
-- attempts to become a superuser (ALTER ROLE) and to leave its rights (SET ROLE) gave.
\i fixtures/legacy.sql
CREATE EXTENSION coreforge_sync;
SELECT cf_create_tables();

SET client_min_messages = warning;
DROP ROLE IF EXISTS coreforge_regress_appowner;
DROP ROLE IF EXISTS coreforge_regress_cfowner;
DROP ROLE IF EXISTS coreforge_regress_newapp;
RESET client_min_messages;
CREATE ROLE coreforge_regress_appowner;
CREATE ROLE coreforge_regress_cfowner;
CREATE ROLE coreforge_regress_newapp;
ALTER TABLE users OWNER TO coreforge_regress_appowner;
ALTER TABLE tenants OWNER TO coreforge_regress_appowner;
ALTER TABLE tenant_members OWNER TO coreforge_regress_appowner;
ALTER TABLE cf_users OWNER TO coreforge_regress_cfowner;
SELECT cf_grant_admin('coreforge_regress_cfowner');
-- The mirror into cf_users reads the legacy tables and locks the rows it copies (FOR SHARE, which
-- takes UPDATE rights); it also writes cf_memberships, whose rows go with their user.
GRANT SELECT, UPDATE ON users, tenants, tenant_members TO coreforge_regress_cfowner;
GRANT CREATE ON SCHEMA public TO coreforge_regress_appowner;
GRANT ALL ON cf_organizations, cf_memberships TO coreforge_regress_cfowner;
GRANT SELECT, INSERT, UPDATE, DELETE ON cf_users, cf_organizations, cf_memberships TO coreforge_regress_newapp;

-- The probes. `probe.step` names the step of the test that made the write. (Their names are
-- schema-qualified: the extension's writes run with search_path = pg_catalog, pg_temp.)
CREATE TABLE public.probe_log (n serial, step text, site text, who text, alter_role text, set_role text);
GRANT SELECT, INSERT ON probe_log TO PUBLIC;
GRANT USAGE ON SEQUENCE probe_log_n_seq TO PUBLIC;
CREATE FUNCTION public.probe(site text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    alter_role text := 'succeeded';
    set_role text := 'succeeded';
BEGIN
    BEGIN
        EXECUTE 'ALTER ROLE coreforge_regress_appowner SUPERUSER';
    EXCEPTION WHEN OTHERS THEN
        alter_role := SQLSTATE;
    END;
    -- (A SET ROLE that succeeds is undone with its block.)
    BEGIN
        PERFORM pg_catalog.set_config('role', 'postgres', true);
        RAISE EXCEPTION 'undo';
    EXCEPTION WHEN OTHERS THEN
        IF SQLERRM <> 'undo' THEN
            set_role := SQLERRM;
        END IF;
    END;
    INSERT INTO public.probe_log (step, site, who, alter_role, set_role)
    VALUES (current_setting('probe.step', true), site, current_user, alter_role, set_role);
    RETURN true;
END $$;
CREATE FUNCTION public.probe_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM public.probe(TG_ARGV[0]);
    RETURN NULL;
END $$;
-- An index expression must be immutable; this one only says so.
CREATE FUNCTION public.probe_index(email text) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    PERFORM public.probe('users index expression');
    RETURN pg_catalog.lower(email);
END $$;
CREATE FUNCTION public.probe_default() RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    PERFORM public.probe('users DEFAULT');
    RETURN current_user;
END $$;

SET ROLE coreforge_regress_appowner;
CREATE TRIGGER zz_probe AFTER INSERT OR UPDATE OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION public.probe_trigger('users trigger');
ALTER TABLE users ADD COLUMN probed_by text;
ALTER TABLE users ALTER COLUMN probed_by SET DEFAULT public.probe_default();
ALTER TABLE users ADD CONSTRAINT probe_check CHECK (public.probe('users CHECK')) NOT VALID;
CREATE INDEX users_probe ON users (public.probe_index(email));
RESET ROLE;
SET ROLE coreforge_regress_cfowner;
CREATE TRIGGER zz_probe AFTER INSERT OR UPDATE OR DELETE ON cf_users
    FOR EACH ROW EXECUTE FUNCTION public.probe_trigger('cf_users trigger');
RESET ROLE;
TRUNCATE probe_log;

-- Sync is not switched on while the owner of cf_users could not run the mirror into it: the
-- first legacy write would fail on the missing right.
REVOKE UPDATE ON users FROM coreforge_regress_cfowner;
\set VERBOSITY default
SELECT cf_enable_sync();
\set VERBOSITY terse
GRANT UPDATE ON users TO coreforge_regress_cfowner;

-- Every direction and phase transition, each step named.
SET probe.step = '1 sync on, cf_sync_all()';
SELECT cf_enable_sync();
SELECT * FROM cf_sync_all();
SET probe.step = '2 the legacy app renames a user';
SET SESSION AUTHORIZATION coreforge_regress_appowner;
UPDATE users SET name = 'Ada King' WHERE email = 'ada@example.com';
RESET SESSION AUTHORIZATION;
SET probe.step = '3 CALL cf_backfill()';
CALL cf_backfill();
SET probe.step = '4 cf_cutover()';
SELECT cf_cutover();
SET probe.step = '5 the new app renames a user';
SET SESSION AUTHORIZATION coreforge_regress_newapp;
UPDATE cf_users SET name = 'Ada, Countess of Lovelace' WHERE email = 'ada@example.com';
RESET SESSION AUTHORIZATION;
SET probe.step = '6 the new app signs a user up';
SET SESSION AUTHORIZATION coreforge_regress_newapp;
INSERT INTO cf_users (id, email, name, created_at)
VALUES ('a0000000-0000-0000-0000-0000000000c1', 'new@example.com', 'New User', '2026-01-01 00:00+00');
RESET SESSION AUTHORIZATION;
SET probe.step = '7 the new app deletes a user';
SET SESSION AUTHORIZATION coreforge_regress_newapp;
DELETE FROM cf_users WHERE email = 'new@example.com';
RESET SESSION AUTHORIZATION;
SET probe.step = '8 cf_sync_legacy()';
-- (A CoreForge change the reverse trigger did not see, for the reverse backfill to write back.)
ALTER TABLE cf_users DISABLE TRIGGER coreforge_sync_reverse_update;
SET SESSION AUTHORIZATION coreforge_regress_newapp;
UPDATE cf_users SET name = 'Grace Brewster Hopper' WHERE email = 'grace@example.com';
RESET SESSION AUTHORIZATION;
ALTER TABLE cf_users ENABLE TRIGGER coreforge_sync_reverse_update;
SELECT * FROM cf_sync_legacy();
SELECT name FROM users WHERE email = 'grace@example.com';
SET probe.step = '9 freeze, unfreeze, rollback';
SELECT cf_freeze_legacy();
SELECT cf_unfreeze_legacy();
SELECT cf_rollback();
SET probe.step = '10 the legacy app signs a user up, side by side again';
SET SESSION AUTHORIZATION coreforge_regress_appowner;
INSERT INTO users (email, name) VALUES ('later@example.com', 'Later User');
RESET SESSION AUTHORIZATION;
RESET probe.step;

-- Who each probe ran as. Writes the extension made ran as the owner of the table written
-- (coreforge_regress_appowner for users, coreforge_regress_cfowner for cf_users); the others are
-- the applications' own writes. No probe ran as a superuser, none could make its owner one
-- (42501), and none could leave its rights: SET ROLE is refused inside a security-restricted
-- operation (and to a role without the right, outside one).
SELECT step, site, who, alter_role, set_role, count(*) AS calls
  FROM probe_log GROUP BY 1, 2, 3, 4, 5 ORDER BY min(n);
SELECT count(*) AS probes_as_superuser
  FROM probe_log p JOIN pg_roles r ON r.rolname = p.who WHERE r.rolsuper;

-- No role gained an attribute or a membership.
SELECT rolname, rolsuper, rolcreaterole, rolcreatedb, rolbypassrls, rolreplication
  FROM pg_roles WHERE rolname LIKE 'coreforge\_regress\_%' ORDER BY rolname;
SELECT count(*) AS memberships
  FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.member WHERE r.rolname LIKE 'coreforge\_regress\_%';

-- Row-level security on a legacy table: the extension's write does not bypass it, and does not
-- write fewer rows in silence either. The owner is subject to the policy here (FORCE), so the
-- reverse write fails with PostgreSQL's error, and the new application's write with it.
SELECT cf_cutover();
ALTER TABLE users ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY no_grace ON users USING (email <> 'grace@example.com');
\set VERBOSITY default
SET SESSION AUTHORIZATION coreforge_regress_newapp;
UPDATE cf_users SET name = 'Rear Admiral Grace Hopper' WHERE email = 'grace@example.com';
RESET SESSION AUTHORIZATION;
\set VERBOSITY terse
SELECT name FROM cf_users WHERE email = 'grace@example.com';
SELECT name FROM users WHERE email = 'grace@example.com';
ALTER TABLE users NO FORCE ROW LEVEL SECURITY, DISABLE ROW LEVEL SECURITY;
DROP POLICY no_grace ON users;
SET SESSION AUTHORIZATION coreforge_regress_newapp;
UPDATE cf_users SET name = 'Rear Admiral Grace Hopper' WHERE email = 'grace@example.com';
RESET SESSION AUTHORIZATION;
SELECT name FROM users WHERE email = 'grace@example.com';
SELECT cf_rollback();

SELECT * FROM pg_temp.invariant();

DROP EXTENSION coreforge_sync CASCADE;
DROP TABLE probe_log;
REASSIGN OWNED BY coreforge_regress_appowner, coreforge_regress_cfowner TO CURRENT_USER;
DROP OWNED BY coreforge_regress_appowner, coreforge_regress_cfowner, coreforge_regress_newapp;
DROP ROLE coreforge_regress_appowner;
DROP ROLE coreforge_regress_cfowner;
DROP ROLE coreforge_regress_newapp;
