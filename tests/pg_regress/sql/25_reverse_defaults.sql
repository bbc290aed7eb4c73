-- A stock ORM schema (Django's auth_user and an organizations plugin, fixtures/django_schema.sql)
-- sets no database defaults: its NOT NULL columns that CoreForge does not know (username, last_name,
-- is_staff, modified, is_admin) would make every row born in CoreForge fail to go back, so cutover
-- refuses. "reverse_defaults" gives them values in the configuration instead of ALTERing the
-- application's tables: a constant, or a copy of a CoreForge column (a unique one for a unique
-- column, updated_at for a timestamp). Cutover accepts the configuration once every NOT NULL column
-- has a value from somewhere.
\i fixtures/legacy.sql
\i fixtures/django_schema.sql
CREATE EXTENSION coreforge_sync;
SELECT cf_create_tables() IS NOT NULL AS created;
SELECT cf_configure('users', '{"table": "django.auth_user",
  "id": {"column": "id", "strategy": "uuidv5", "namespace": "6ba7b811-9dad-11d1-80b4-00c04fd430c8"},
  "soft_delete": null,
  "columns": {"email": "email", "name": "first_name", "password_hash": "password", "created_at": "date_joined",
              "last_login_at": "last_login", "is_platform_admin": "is_superuser", "active": "is_active"},
  "fallbacks": {"name": ["username"]},
  "password_encoding": "django", "passwords": {"*": "keep"}}') IS NOT NULL AS users;
SELECT cf_configure('organizations', '{"table": "django.organizations_organization",
  "id": {"column": "id", "strategy": "uuidv5", "namespace": "6ba7b812-9dad-11d1-80b4-00c04fd430c8"},
  "soft_delete": null,
  "columns": {"name": "name", "slug": "slug", "created_at": "created", "active": "is_active"}}') IS NOT NULL AS organizations;
SELECT cf_configure('memberships', '{"table": "django.organizations_organizationuser",
  "soft_delete": null, "user_ref": "user_id", "organization_ref": "organization_id",
  "columns": {"created_at": "created"}, "defaults": {"role": "member"}}') IS NOT NULL AS memberships;
SELECT cf_enable_sync() IS NOT NULL AS enabled;
SELECT entity, inserted, rejected FROM cf_sync_all() ORDER BY entity;

-- Without values for those columns, cutover refuses and names each one.
SELECT cf_cutover();

-- Values that cannot work are refused at configure time, with nothing changed.
SELECT cf_configure('users', (SELECT settings FROM cf_config() WHERE entity = 'users')
  || '{"reverse_defaults": {"username": "someone", "last_name": {"from": "name"}, "is_staff": "maybe",
        "email": "x@example.com", "nope": 1, "date_joined": {"from": "password"}}}');
SELECT cf_configure('users', (SELECT settings FROM cf_config() WHERE entity = 'users')
  || '{"reverse_defaults": {"username": {"from": "email"}, "is_staff": {"from": "id"}, "last_name": null}}');
SELECT cf_configure('users', (SELECT settings FROM cf_config() WHERE entity = 'users')
  || '{"reverse_defaults": {"username": {"from": "name"}, "last_name": {"from": "nothing"}}}');

-- What works: the CoreForge id for the unique username, a constant for the others, the CoreForge
-- row's updated_at for a timestamp.
SELECT cf_configure('users', (SELECT settings FROM cf_config() WHERE entity = 'users')
  || '{"reverse_defaults": {"username": {"from": "id"}, "last_name": "", "is_staff": false}}') -> 'reverse_defaults' AS users_reverse_defaults;
SELECT cf_configure('organizations', (SELECT settings FROM cf_config() WHERE entity = 'organizations')
  || '{"reverse_defaults": {"modified": {"from": "updated_at"}}}') -> 'reverse_defaults' AS organizations_reverse_defaults;
SELECT cf_configure('memberships', (SELECT settings FROM cf_config() WHERE entity = 'memberships')
  || '{"reverse_defaults": {"is_admin": false, "modified": {"from": "created_at"}}}') -> 'reverse_defaults' AS memberships_reverse_defaults;
SELECT cf_cutover() IS NOT NULL AS cutover;

-- Rows born in CoreForge go back with those values; the ORM's own rows keep theirs.
INSERT INTO cf_users (id, email, name, created_at, updated_at)
VALUES ('c0000000-0000-0000-0000-000000000001', 'ada@example.com', 'Ada Lovelace', '2024-06-01 00:00+00', '2024-06-01 00:00+00');
INSERT INTO cf_organizations (id, name, slug, created_at, updated_at)
VALUES ('d0000000-0000-0000-0000-000000000001', 'Difference Engines', 'difference-engines', '2024-06-01 00:00+00', '2024-06-02 00:00+00');
INSERT INTO cf_memberships (id, user_id, organization_id, role, created_at, updated_at)
VALUES ('e0000000-0000-0000-0000-000000000001', 'c0000000-0000-0000-0000-000000000001',
        'd0000000-0000-0000-0000-000000000001', 'member', '2024-06-03 00:00+00', now());
SELECT username, first_name, last_name, email, is_staff, is_superuser, is_active, left(password, 1) AS password
  FROM django.auth_user ORDER BY id;
SELECT name, slug, is_active, created, modified FROM django.organizations_organization ORDER BY id;
SELECT o.slug, u.email, m.is_admin, m.created, m.modified
  FROM django.organizations_organizationuser m JOIN django.organizations_organization o ON o.id = m.organization_id
  JOIN django.auth_user u ON u.id = m.user_id ORDER BY m.id;
SELECT check_name, status FROM cf_validation_report() WHERE status <> 'ok';

-- Back to side by side: the legacy rows hold everything, the ORM reads them as its own.
SELECT cf_rollback() IS NOT NULL AS rolled_back;
SELECT entity, inserted, updated, deleted FROM cf_sync_all() ORDER BY entity;
SELECT check_name, status FROM cf_validation_report() WHERE status <> 'ok';

SET client_min_messages = warning;
DROP EXTENSION coreforge_sync CASCADE;
DROP SCHEMA django CASCADE;
