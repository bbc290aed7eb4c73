-- Value maps over columns that are not text: a plan from a smallint tier code, a role from a boolean
-- (Django's organization users have is_admin). The map's keys are the legacy values as PostgreSQL
-- writes them as text ('true', '2'); a key written otherwise is refused with the spelling to use.
-- A plan is one of a fixed set, so the map brings every CoreForge plan back and cutover takes it; a
-- role is free text in CoreForge, which a boolean cannot hold, so cutover refuses that mapping and
-- says why (side by side, it is only read).
\i fixtures/legacy.sql
ALTER TABLE tenants ADD COLUMN tier smallint;
UPDATE tenants SET tier = CASE plan WHEN 'pro' THEN 3 WHEN 'free' THEN 1 ELSE NULL END;
ALTER TABLE tenant_members ADD COLUMN is_admin boolean;
UPDATE tenant_members SET is_admin = role IN ('owner', 'admin');
CREATE EXTENSION coreforge_sync;
SELECT cf_create_tables() IS NOT NULL AS created;

-- Keys as PostgreSQL writes the values: 't' is written 'true', '02' is '2', 'x' is no smallint.
SELECT cf_configure('memberships', '{"columns": {"role": "is_admin", "created_at": "created_at"},
  "values": {"role": {"t": "admin", "false": "member"}}}');
SELECT cf_configure('organizations', '{"columns": {"name": "name", "slug": "slug", "plan": "tier", "created_at": "created_at"},
  "values": {"plan": {"01": "free", "x": "pro"}}}');
-- Without a map, a boolean still does not fit a role.
SELECT cf_configure('memberships', '{"columns": {"role": "is_admin", "created_at": "created_at"}}');

SELECT cf_configure('organizations', '{"columns": {"name": "name", "slug": "slug", "logo_url": "logo_url",
  "settings": "settings", "plan": "tier", "created_at": "created_at"},
  "values": {"plan": {"1": "free", "2": "starter", "3": "pro", "4": "enterprise", "*": "free"}}}') -> 'values' AS organizations_values;
SELECT cf_configure('memberships', '{"columns": {"role": "is_admin", "created_at": "created_at"},
  "values": {"role": {"true": "admin", "false": "member"}}}') -> 'values' AS memberships_values;
SELECT cf_enable_sync() IS NOT NULL AS enabled;
SELECT entity, inserted, rejected FROM cf_sync_all() ORDER BY entity;
SELECT o.slug, o.plan, t.tier FROM cf_organizations o JOIN tenants t ON t.id = o.id ORDER BY 1;
SELECT u.email, o.slug, m.role, tm.is_admin
  FROM cf_memberships m JOIN cf_users u ON u.id = m.user_id JOIN cf_organizations o ON o.id = m.organization_id
  JOIN tenant_members tm ON tm.user_id = m.user_id AND tm.tenant_id = m.organization_id ORDER BY 1, 2;
-- Legacy writes are mirrored through the maps.
UPDATE tenants SET tier = 4 WHERE slug = 'acme';
UPDATE tenant_members SET is_admin = true WHERE user_id = (SELECT id FROM users WHERE email = 'jose@example.com')
   AND tenant_id = (SELECT id FROM tenants WHERE slug = 'acme');
SELECT (SELECT plan FROM cf_organizations WHERE slug = 'acme') AS acme_plan,
       (SELECT role FROM cf_memberships m JOIN cf_users u ON u.id = m.user_id JOIN cf_organizations o ON o.id = m.organization_id
         WHERE u.email = 'jose@example.com' AND o.slug = 'acme') AS jose_role;
SELECT check_name, status FROM cf_validation_report() WHERE status <> 'ok';

-- The role from a boolean cannot go back: cutover refuses it.
SELECT cf_cutover();

-- With the role from its text column again, cutover takes the plan's map, and CoreForge's plans go
-- back as tier codes.
SELECT cf_configure('memberships', '{}') IS NOT NULL AS memberships_guide;
SELECT entity, inserted, updated FROM cf_sync_all() WHERE entity = 'memberships';
SELECT cf_cutover() IS NOT NULL AS cutover;
UPDATE cf_organizations SET plan = 'starter' WHERE slug = 'acme';
UPDATE cf_organizations SET plan = 'enterprise' WHERE slug = 'globex';
SELECT slug, tier FROM tenants ORDER BY slug;
SELECT check_name, status FROM cf_validation_report() WHERE status <> 'ok';
SELECT * FROM cf_sync_legacy() WHERE entity = 'organizations';
SELECT cf_rollback() IS NOT NULL AS rolled_back;
SELECT check_name, status FROM cf_validation_report() WHERE status <> 'ok';

SET client_min_messages = warning;
DROP EXTENSION coreforge_sync CASCADE;
