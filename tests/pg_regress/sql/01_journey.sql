-- The psql journey of a migration's phase 1, on the guide's legacy tables:
-- create the CoreForge tables, switch sync on, backfill, and prove the result.
\i fixtures/legacy.sql

CREATE EXTENSION coreforge_sync;

-- The cf_ tables, exactly as CoreForge's Ent schema makes them.
SELECT cf_create_tables();

-- Sync first, then backfill: writes made while the backfill runs are carried by the triggers.
SELECT cf_enable_sync();

-- Each backfill returns the number of CoreForge rows it wrote.
-- Zoë is soft-deleted: she is not migrated.
SELECT cf_sync_users();
SELECT cf_sync_organizations();
-- Zoë's membership and Initech's (soft-deleted) are not migrated either.
SELECT cf_sync_memberships();

-- A second run over unchanged data writes nothing and leaves updated_at alone.
SELECT max(updated_at) AS users_updated_at FROM cf_users \gset
SELECT * FROM cf_sync_all();
SELECT max(updated_at) = :'users_updated_at' AS updated_at_unchanged FROM cf_users;

-- What CoreForge now holds: empty optional strings became NULL, created_at is kept,
-- an empty plan became CoreForge's default 'free'.
SELECT email, name, avatar_url, password_hash IS NOT NULL AS has_password, created_at
  FROM cf_users ORDER BY created_at;
SELECT slug, name, logo_url, settings, plan, org_type, created_at FROM cf_organizations ORDER BY slug;
SELECT u.email, o.slug, m.role, m.created_at
  FROM cf_memberships m JOIN cf_users u ON u.id = m.user_id JOIN cf_organizations o ON o.id = m.organization_id
  ORDER BY o.slug, u.email;

-- A membership's id is the version-5 UUID of "user_id:tenant_id": the same on every run
-- and in every environment.
SELECT id FROM cf_memberships
 WHERE user_id = 'a0000000-0000-0000-0000-000000000001' AND organization_id = 'b0000000-0000-0000-0000-000000000001';

-- The proof: every check ok; soft-deleted rows are reported as excluded, not missing.
SELECT * FROM cf_validation_report();
SELECT * FROM cf_missing('users');
SELECT * FROM cf_mismatches('users');

SELECT entity, legacy_table, coreforge_table, sync_enabled, legacy_rows, legacy_live_rows,
       coreforge_rows, last_sync IS NOT NULL AS synced, last_sync_rows
  FROM cf_status();

-- The same holds by an independent reading of the guide's rules.
SELECT * FROM pg_temp.invariant();
