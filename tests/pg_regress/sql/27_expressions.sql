-- A CoreForge column read from an expression over the legacy row ("expressions"), and legacy
-- columns written back from expressions over the CoreForge row ("write_back"): a name kept in two
-- columns (first_name, last_name), a role kept as a boolean (is_admin).
-- cf_configure() has PostgreSQL parse and analyze each expression over the table (nothing is run):
-- PostgreSQL's own errors, and what an expression may not do (statements, other tables or rows,
-- aggregates, volatile functions), are refused with the key they came from. The expression is then
-- printed back by PostgreSQL, every column qualified, and only that text goes into the generated SQL.
-- Forward, the expression is the column's value wherever the projection is read (backfill,
-- triggers, validation); a change of any column it reads is mirrored. Cutover refuses a column an
-- expression reads that nothing writes back; with the rules, CoreForge's writes go back split.
\i fixtures/legacy.sql
ALTER TABLE users ADD COLUMN first_name text NOT NULL DEFAULT '', ADD COLUMN last_name text NOT NULL DEFAULT '';
UPDATE users SET first_name = split_part(name, ' ', 1), last_name = substr(name, length(split_part(name, ' ', 1)) + 2);
ALTER TABLE users DROP COLUMN name CASCADE;
ALTER TABLE tenant_members ADD COLUMN is_admin boolean NOT NULL DEFAULT false;
UPDATE tenant_members SET is_admin = role IN ('owner', 'admin');
ALTER TABLE tenant_members DROP COLUMN role CASCADE;
INSERT INTO users (id, email, first_name, last_name, created_at)
VALUES ('a0000000-0000-0000-0000-000000000006', 'nameless@example.com', '', '', '2024-01-01 00:00+00');
CREATE EXTENSION coreforge_sync;
SELECT cf_create_tables() IS NOT NULL AS created;

-- Refused, every problem listed: a column the table does not have, statements, a text that ends the
-- expression early to read another table, a subquery, a volatile function, an aggregate, a result
-- that does not fit, a column given twice, the alias the generated SQL uses.
SELECT cf_configure('users', '{"columns": {"email": "email", "created_at": "created_at"},
  "expressions": {"name": "first_name || '' '' || nickname"}}');
SELECT cf_configure('users', '{"columns": {"email": "email", "created_at": "created_at"},
  "expressions": {"name": "first_name); DROP TABLE users; --"}}');
SELECT cf_configure('users', '{"columns": {"email": "email", "created_at": "created_at"},
  "expressions": {"name": "slug) FROM ONLY public.tenants --"}}');
SELECT cf_configure('users', '{"columns": {"email": "email", "created_at": "created_at"},
  "expressions": {"name": "(SELECT min(name) FROM public.tenants)", "avatar_url": "first_name || random()::text",
                  "last_login_at": "max(created_at)"}}');
SELECT cf_configure('users', '{"columns": {"email": "email", "created_at": "created_at"},
  "expressions": {"name": "created_at", "email": "lower(email)", "avatar_url": "cf_sync_row.first_name",
                  "password_hash": "password_hash"}}');
SELECT count(*) AS users_still_there FROM users;
-- A function that is not a superuser's: its owner could redefine it, and the expression runs in the
-- sync, the backfill and the validation with the rights of whoever runs them. (Names outside
-- pg_catalog are given qualified.)
CREATE ROLE cf27_app;
CREATE FUNCTION public.initial(t text) RETURNS text LANGUAGE sql IMMUTABLE RETURN left(t, 1) || '.';
ALTER FUNCTION public.initial(text) OWNER TO cf27_app;
SELECT cf_configure('users', '{"columns": {"email": "email", "created_at": "created_at"},
  "expressions": {"name": "first_name || '' '' || public.initial(last_name)"}}');
SELECT cf_configure('users', '{"columns": {"email": "email", "created_at": "created_at"},
  "expressions": {"name": "first_name || '' '' || initial(last_name)"}}');
ALTER FUNCTION public.initial(text) OWNER TO CURRENT_USER;
SELECT cf_configure('users', '{"columns": {"email": "email", "created_at": "created_at"},
  "expressions": {"name": "first_name || '' '' || public.initial(last_name)"}}') -> 'expressions' AS by_a_superuser;
DROP FUNCTION public.initial(text);
DROP ROLE cf27_app;
-- A write-back rule needs a legacy column nothing else writes, and reads the CoreForge row.
SELECT cf_configure('users', '{"columns": {"email": "email", "created_at": "created_at"},
  "expressions": {"name": "first_name"},
  "write_back": {"email": "lower(email)", "nickname": "name", "first_name": "split_part(full_name, '' '', 1)"}}');

-- Accepted: the name from both columns (an empty part left out; a user with neither is rejected as
-- missing_value), the role from the boolean. The settings show the expressions as given.
SELECT cf_configure('users', '{"columns": {"email": "email", "avatar_url": "avatar_url", "password_hash": "password_hash",
  "created_at": "created_at"},
  "expressions": {"name": "concat_ws('' '', NULLIF(first_name, ''''), NULLIF(last_name, ''''))"}}') -> 'expressions' AS expressions;
SELECT cf_configure('memberships', '{"columns": {"created_at": "created_at"},
  "expressions": {"role": "CASE WHEN is_admin THEN ''admin'' ELSE ''member'' END"}}') -> 'expressions' AS expressions;
SELECT cf_enable_sync() IS NOT NULL AS enabled;
SELECT entity, inserted, rejected FROM cf_sync_all() ORDER BY entity;
SELECT email, name FROM cf_users ORDER BY email;
SELECT legacy_id, reason FROM cf_rejects() WHERE entity = 'users';
SELECT u.email, o.slug, m.role FROM cf_memberships m JOIN cf_users u ON u.id = m.user_id
  JOIN cf_organizations o ON o.id = m.organization_id ORDER BY 1, 2;

-- Legacy writes of any column an expression reads are mirrored.
UPDATE users SET last_name = 'Brewster Hopper' WHERE email = 'grace@example.com';
UPDATE users SET first_name = 'Augusta Ada' WHERE email = 'ada@example.com';
UPDATE users SET first_name = 'Nameless', last_name = 'No More' WHERE email = 'nameless@example.com';
UPDATE tenant_members SET is_admin = true WHERE user_id = 'a0000000-0000-0000-0000-000000000002';
SELECT email, name FROM cf_users ORDER BY email;
SELECT u.email, o.slug, m.role FROM cf_memberships m JOIN cf_users u ON u.id = m.user_id
  JOIN cf_organizations o ON o.id = m.organization_id WHERE u.email = 'jose@example.com' ORDER BY 1, 2;
SELECT check_name, status FROM cf_validation_report() WHERE status <> 'ok';

-- Nothing writes first_name, last_name or is_admin back: cutover refuses, and says which.
SELECT cf_cutover();

-- The rules: the first word into first_name, the rest into last_name; is_admin from the role.
SELECT cf_configure('users', '{"columns": {"email": "email", "avatar_url": "avatar_url", "password_hash": "password_hash",
  "created_at": "created_at"},
  "expressions": {"name": "concat_ws('' '', NULLIF(first_name, ''''), NULLIF(last_name, ''''))"},
  "write_back": {"first_name": "split_part(name, '' '', 1)",
                 "last_name": "substr(name, length(split_part(name, '' '', 1)) + 2)"}}') -> 'write_back' AS write_back;
SELECT cf_configure('memberships', '{"columns": {"created_at": "created_at"},
  "expressions": {"role": "CASE WHEN is_admin THEN ''admin'' ELSE ''member'' END"},
  "write_back": {"is_admin": "role IN (''admin'', ''owner'')"}}') -> 'write_back' AS write_back;
SELECT entity, inserted, updated FROM cf_sync_all() ORDER BY entity;
SELECT cf_cutover() IS NOT NULL AS cutover;

-- CoreForge's writes go back through the rules: one rename, a sign-up, a rename of two rows, a role.
UPDATE cf_users SET name = 'Grace Hopper Haddad', updated_at = now() WHERE email = 'grace@example.com';
INSERT INTO cf_users (id, email, name, created_at, updated_at)
VALUES ('c0000000-0000-0000-0000-000000000001', 'cher@example.com', 'Cher', now(), now());
UPDATE cf_users SET name = name || ' Jr', updated_at = now() WHERE email IN ('ada@example.com', 'wang@example.com');
UPDATE cf_memberships SET role = 'member', updated_at = now()
 WHERE user_id = 'a0000000-0000-0000-0000-000000000003';
INSERT INTO cf_memberships (id, user_id, organization_id, role, created_at, updated_at)
VALUES ('d0000000-0000-0000-0000-000000000001', 'c0000000-0000-0000-0000-000000000001',
        'b0000000-0000-0000-0000-000000000002', 'admin', now(), now());
SELECT email, first_name, last_name FROM users ORDER BY email;
SELECT u.email, tm.is_admin FROM tenant_members tm JOIN users u ON u.id = tm.user_id ORDER BY 1, tm.tenant_id;
SELECT check_name, status FROM cf_validation_report() WHERE status <> 'ok';

-- A boolean holds less than CoreForge's role: an owner set in CoreForge reads back as admin, and the
-- validation names the row and the column.
UPDATE cf_memberships SET role = 'owner', updated_at = now() WHERE user_id = 'a0000000-0000-0000-0000-000000000003';
SELECT check_name, status, detail FROM cf_validation_report() WHERE status <> 'ok';
SELECT * FROM cf_mismatches('memberships');
UPDATE cf_memberships SET role = 'admin', updated_at = now() WHERE user_id = 'a0000000-0000-0000-0000-000000000003';
SELECT check_name, status FROM cf_validation_report() WHERE status <> 'ok';
SELECT cf_rollback() IS NOT NULL AS rolled_back;
SELECT check_name, status FROM cf_validation_report() WHERE status <> 'ok';

SET client_min_messages = warning;
DROP EXTENSION coreforge_sync CASCADE;
