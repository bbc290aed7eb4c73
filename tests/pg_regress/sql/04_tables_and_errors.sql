-- cf_create_tables(): Ent's tables, idempotent, adoption of compatible existing tables,
-- a clear error for incompatible ones; errors before setup; DROP EXTENSION keeps the data.
\i fixtures/legacy.sql
CREATE EXTENSION coreforge_sync;

-- Before cf_create_tables(), every function says what to do.
SELECT cf_enable_sync();
SELECT cf_sync_users();
SELECT * FROM cf_validation_report();
SELECT * FROM cf_status();

-- Created as CoreForge's Ent schema does: columns, types, nullability, defaults ...
SELECT cf_create_tables();
SELECT table_name, column_name, data_type, is_nullable, column_default
  FROM information_schema.columns
 WHERE table_schema = 'public' AND table_name IN ('cf_users', 'cf_organizations', 'cf_memberships')
 ORDER BY table_name, ordinal_position;
-- ... Ent's index names, and NO ACTION foreign keys.
SELECT tablename, indexname, indexdef FROM pg_indexes
 WHERE schemaname = 'public' AND tablename LIKE 'cf\_%' ORDER BY tablename, indexname;
SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
 WHERE conrelid IN ('cf_memberships'::regclass, 'cf_organizations'::regclass) AND contype = 'f' ORDER BY conname;

-- Idempotent.
SELECT cf_create_tables();

-- The cf_ tables are application tables: DROP EXTENSION leaves them and their rows.
SELECT cf_enable_sync();
SELECT * FROM cf_sync_all();
DROP EXTENSION coreforge_sync;
DROP EXTENSION coreforge_sync CASCADE;
SELECT (SELECT count(*) FROM cf_users) AS cf_users, (SELECT count(*) FROM cf_memberships) AS cf_memberships;
SELECT count(*) AS triggers_left FROM pg_trigger WHERE tgname LIKE 'coreforge_sync%';

-- A new install adopts them; rows are kept.
CREATE EXTENSION coreforge_sync;
SELECT cf_create_tables();
SELECT cf_enable_sync();
SELECT * FROM cf_sync_all();

-- One set of cf_ tables per database: not a second one in another schema.
CREATE SCHEMA identity;
SELECT cf_create_tables('identity');

-- Tables made elsewhere, e.g. from the guide's own SQL (VARCHAR(255), TEXT), are adopted.
DROP EXTENSION coreforge_sync CASCADE;
DROP TABLE cf_memberships, cf_organizations, cf_users;
CREATE EXTENSION coreforge_sync;
CREATE TABLE identity.cf_users (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  email VARCHAR(255) NOT NULL UNIQUE,
  name VARCHAR(255) NOT NULL,
  avatar_url TEXT,
  password_hash TEXT,
  is_platform_admin BOOLEAN NOT NULL DEFAULT false,
  active BOOLEAN NOT NULL DEFAULT true,
  last_login_at TIMESTAMPTZ,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  updated_at TIMESTAMPTZ NOT NULL DEFAULT now());
-- With cf_principals present, cf_organizations gets Ent's foreign key to it.
CREATE TABLE identity.cf_principals (id uuid PRIMARY KEY);
SELECT cf_create_tables('identity');
SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
 WHERE conrelid = 'identity.cf_organizations'::regclass AND contype = 'f';
SELECT cf_enable_sync();
SELECT * FROM cf_sync_all();
SELECT count(*) FROM identity.cf_users;
SET search_path = identity, public;
SELECT * FROM pg_temp.invariant();
RESET search_path;

-- Incompatible tables: one error naming every problem, and nothing created.
DROP EXTENSION coreforge_sync CASCADE;
DROP SCHEMA identity CASCADE;
CREATE EXTENSION coreforge_sync;
CREATE TABLE cf_users (id integer PRIMARY KEY, email text, name text NOT NULL, avatar_url text NOT NULL,
                       created_at timestamp, tenant_code text NOT NULL);
SELECT cf_create_tables();
SELECT count(*) AS cf_organizations FROM pg_class WHERE relname = 'cf_organizations';
SELECT cf_create_tables('no_such_schema');
SELECT cf_create_tables(NULL);
DROP TABLE cf_users;

-- A legacy table or column missing: the error names it.
SELECT cf_create_tables();
ALTER TABLE tenants RENAME COLUMN slug TO handle;
SELECT cf_enable_sync();
SELECT cf_sync_organizations();
ALTER TABLE tenants RENAME COLUMN handle TO slug;
DROP TABLE tenant_members CASCADE;
SELECT cf_sync_memberships();
