-- Bad settings: each is refused with an error that lists every problem, and nothing changes.
-- Names are always names: a table called "Users; DROP TABLE x" is quoted, never run.
\i fixtures/legacy.sql
\set ECHO none
\i fixtures/crm_schema.sql
\i fixtures/crm_data.sql
\set ECHO all
CREATE EXTENSION coreforge_sync;
SELECT cf_create_tables();
SELECT md5(string_agg(settings::text, ',' ORDER BY entity)) AS config_before FROM cf_config() \gset

-- Not JSON settings, NULLs, unknown entities.
SELECT cf_configure('users', '[1, 2]');
SELECT cf_configure('users', '"crm.accounts"');
SELECT cf_configure('users', NULL);
SELECT cf_configure(NULL, '{}');
SELECT cf_configure('accounts', '{}');
-- Unknown keys, all of them named, and keys of another entity.
SELECT cf_configure('users', '{"tabel": "crm.accounts", "colums": {}, "user_ref": "x"}');
-- Wrong shapes.
SELECT cf_configure('users', '{"table": 42}');
SELECT cf_configure('users', '{"id": {"column": "account_id", "strategy": "uuidv5", "namespce": "x"}}');
SELECT cf_configure('users', '{"id": null}');
SELECT cf_configure('organizations', '{"id": null}');
SELECT cf_configure('users', '{"soft_delete": {"column": "is_deleted"}}');
-- A table that does not exist, and one that is not a name.
SELECT cf_configure('users', '{"table": "crm.nobody"}');
SELECT cf_configure('users', '{"table": "crm.accounts; DROP TABLE crm.accounts"}');
-- The guide's column names on another table: every missing column is listed.
SELECT cf_configure('users', '{"table": "crm.accounts", "id": {"column": "account_id", "strategy": "random"}}');
-- Integer ids need a strategy; uuidv5 needs a namespace that is a uuid; no such strategy.
SELECT cf_configure('users', '{"table": "crm.accounts", "id": {"column": "account_id"}, "soft_delete": null,
  "columns": {"email": "email_address", "name": "full_name"}}');
SELECT cf_configure('users', '{"table": "crm.accounts", "id": {"column": "account_id", "strategy": "uuidv5"}, "soft_delete": null,
  "columns": {"email": "email_address", "name": "full_name"}}');
SELECT cf_configure('users', '{"table": "crm.accounts", "id": {"column": "account_id", "strategy": "uuidv5", "namespace": "not-a-uuid"},
  "soft_delete": null, "columns": {"email": "email_address", "name": "full_name"}}');
SELECT cf_configure('users', '{"table": "crm.accounts", "id": {"column": "account_id", "strategy": "sequential", "type": "bigint"},
  "soft_delete": null, "columns": {"email": "email_address", "name": "full_name"}}');
-- An id a row may lack: unique, but nullable.
CREATE TABLE crm.loose_accounts (id integer UNIQUE, email text, name text);
SELECT cf_configure('users', '{"table": "crm.loose_accounts", "id": {"column": "id", "strategy": "random"},
  "soft_delete": null, "columns": {"email": "email", "name": "name"}}');
-- Incompatible types: a boolean soft delete that is not boolean, a name that is a timestamp.
SELECT cf_configure('users', '{"table": "crm.accounts", "id": {"column": "account_id", "strategy": "random"},
  "soft_delete": {"column": "signup_at", "kind": "boolean"},
  "columns": {"email": "email_address", "name": "signup_at", "created_at": "full_name"}}');
-- Required CoreForge columns left unmapped; a column CoreForge does not have.
SELECT cf_configure('users', '{"table": "crm.accounts", "id": {"column": "account_id", "strategy": "random"},
  "soft_delete": null, "columns": {"avatar_url": "photo_url", "nickname": "full_name"}}');
-- Value maps: onto values CoreForge does not know, on a column that has none, unmapped.
SELECT cf_configure('organizations', '{"table": "crm.companies", "id": {"column": "company_id", "strategy": "random"},
  "soft_delete": null, "columns": {"name": "company_name", "slug": "handle"},
  "values": {"plan": {"basic": "bronze"}, "name": {"a": "b"}}}');
-- Defaults that do not fit, or clash with a mapped column.
SELECT cf_configure('organizations', '{"table": "crm.companies", "id": {"column": "company_id", "strategy": "random"},
  "soft_delete": null, "columns": {"name": "company_name", "slug": "handle", "plan": "tier"},
  "defaults": {"org_type": "guild", "plan": "free", "active": "yes", "created_at": "2020-01-01"}}');
-- A password policy with an unknown format and action, on the wrong entity too.
SELECT cf_configure('users', '{"passwords": {"argon2id": "keep", "rot13": "keep", "bcrypt": "maybe"}}');
SELECT cf_configure('organizations', '{"passwords": {"*": "keep"}}');
-- Memberships: references that are missing, or not of the type of the ids they reference.
SELECT cf_configure('memberships', '{"table": "crm.company_users", "user_ref": "user_id", "organization_ref": "company_id"}');
SELECT cf_configure('memberships', '{"table": "crm.company_users", "user_ref": "account_id", "organization_ref": "company_id",
  "columns": {"role": "access_level"}}');

-- None of this changed anything.
SELECT md5(string_agg(settings::text, ',' ORDER BY entity)) = :'config_before' AS unchanged FROM cf_config();
SELECT count(*) AS stored_settings FROM coreforge_sync.entity_config;

-- A hostile table name is a name: configured, synced, and the table is still there.
SELECT cf_configure('users', '{"table": "crm.\"Users; DROP TABLE x\"", "id": {"column": "id", "strategy": "uuidv5",
  "namespace": "6ba7b811-9dad-11d1-80b4-00c04fd430c8"}, "soft_delete": null,
  "columns": {"email": "e-mail", "name": "Name", "created_at": "created_at"}}') ->> 'table' AS hostile_table;
SELECT cf_sync_users();
SELECT email, name FROM cf_users ORDER BY email;
SELECT count(*) AS accounts_still_there FROM crm.accounts;
-- Back to the guide's tables.
SELECT cf_configure('users', '{}') ->> 'table' AS users_table;
