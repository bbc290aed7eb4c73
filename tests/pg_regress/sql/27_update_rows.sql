-- How an UPDATE reaches the mirror: a row trigger whose WHEN clause fires only for a row whose
-- mirrored columns changed gathers the rows, and the statement trigger after it mirrors just those.
-- A statement's rows are gathered and mirrored in its own subtransaction; rows gathered by a
-- statement that then failed are never mirrored.
\i fixtures/legacy.sql
CREATE EXTENSION coreforge_sync;
SELECT cf_create_tables() IS NOT NULL AS created;
SELECT cf_enable_sync() IS NOT NULL AS enabled;
SELECT count(*) FROM cf_sync_all();
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
SET pg_stat_statements.track = 'all';
-- The statements the triggers ran since the last reset (as in 19_statements_per_write).
CREATE FUNCTION pg_temp.trigger_statements() RETURNS bigint LANGUAGE sql AS $$
  SELECT COALESCE(sum(calls), 0)::bigint FROM pg_stat_statements
   WHERE NOT toplevel AND query NOT LIKE '%pg_stat_statements%' AND query !~ '^SELECT (1|\$[0-9]+) FROM ONLY '
     AND dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
$$;

-- The UPDATE triggers on users: the row trigger compares the mirrored columns byte for byte
-- (updated_at is not one of them), the statement trigger has no transition tables.
SELECT tgname, regexp_replace(pg_get_triggerdef(oid), '^.* ON public.users ', '') AS definition
  FROM pg_trigger WHERE tgrelid = 'users'::regclass AND tgname LIKE 'coreforge_sync_update%' ORDER BY 1;

-- One statement, three rows: two renamed, one only touched. The two are mirrored.
UPDATE users SET name = CASE email WHEN 'ada@example.com' THEN 'Ada King' WHEN 'grace@example.com' THEN 'Grace B. Hopper' ELSE name END,
                 updated_at = now()
 WHERE email IN ('ada@example.com', 'grace@example.com', 'jose@example.com');
SELECT email, name FROM cf_users ORDER BY email;

-- An application trigger fails the statement after the sync gathered its rows (it sorts after
-- coreforge_sync_update_rows, so it fires after it for each row). Inside a savepoint, the failed
-- statement is rolled back, and so is what it gathered: the next UPDATE mirrors only its own row,
-- a one-row statement (one statement; a row left over would make it two and take the full path).
CREATE FUNCTION refuse_bad_names() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.name = 'refused' THEN RAISE EXCEPTION 'the application refuses the name %', NEW.name; END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER zz_refuse AFTER UPDATE ON users FOR EACH ROW EXECUTE FUNCTION refuse_bad_names();
BEGIN;
SAVEPOINT s;
UPDATE users SET name = 'refused' WHERE email = 'wang@example.com';
ROLLBACK TO SAVEPOINT s;
SELECT pg_stat_statements_reset() IS NOT NULL AS reset;
UPDATE users SET name = 'Ada Lovelace' WHERE email = 'ada@example.com';
SELECT pg_temp.trigger_statements() AS statements;
COMMIT;
SELECT email, name FROM cf_users WHERE email IN ('ada@example.com', 'wang@example.com') ORDER BY email;
-- The same outside a savepoint: the transaction ends, and the next one starts clean.
UPDATE users SET name = 'refused' WHERE email = 'wang@example.com';
SELECT pg_stat_statements_reset() IS NOT NULL AS reset;
UPDATE users SET name = 'Wang Fang' WHERE email = 'wang@example.com';
SELECT pg_temp.trigger_statements() AS statements;
SELECT email, name FROM cf_users WHERE email = 'wang@example.com';
DROP TRIGGER zz_refuse ON users;

-- An application trigger that updates another row of the same table: both statements' rows
-- are mirrored.
CREATE FUNCTION echo_rename() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE users SET name = NEW.name || ' (echo)' WHERE email = 'jose@example.com';
  RETURN NULL;
END $$;
CREATE TRIGGER echo AFTER UPDATE ON users FOR EACH ROW WHEN (NEW.email = 'grace@example.com')
  EXECUTE FUNCTION echo_rename();
UPDATE users SET name = 'Grace Hopper' WHERE email = 'grace@example.com';
SELECT email, name FROM cf_users WHERE email IN ('grace@example.com', 'jose@example.com') ORDER BY email;
DROP TRIGGER echo ON users;

-- An application function that catches the error of a failing UPDATE (a subtransaction of its
-- own), then renames: only the rename reaches CoreForge.
CREATE TRIGGER zz_refuse AFTER UPDATE ON users FOR EACH ROW EXECUTE FUNCTION refuse_bad_names();
DO $$
BEGIN
  BEGIN
    UPDATE users SET name = 'refused' WHERE email = 'ada@example.com';
  EXCEPTION WHEN raise_exception THEN
    RAISE NOTICE 'caught: %', SQLERRM;
  END;
  UPDATE users SET name = 'Ada L.' WHERE email = 'grace@example.com';
END $$;
SELECT email, name FROM cf_users WHERE email IN ('ada@example.com', 'grace@example.com') ORDER BY email;
DROP TRIGGER zz_refuse ON users;

-- Nothing differs.
SELECT entity, check_name, discrepancies FROM cf_validation_report() WHERE status = 'fail' AND check_name <> 'rejected';
