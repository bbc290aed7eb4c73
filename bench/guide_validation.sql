-- The migration guide's validation queries, one after another: compare counts (three entities),
-- find missing users, compare data.
SELECT (SELECT COUNT(*) FROM users WHERE deleted_at IS NULL) AS old_count, (SELECT COUNT(*) FROM cf_users) AS new_count;
SELECT (SELECT COUNT(*) FROM tenants WHERE deleted_at IS NULL) AS old_count, (SELECT COUNT(*) FROM cf_organizations) AS new_count;
SELECT (SELECT COUNT(*) FROM tenant_members) AS old_count, (SELECT COUNT(*) FROM cf_memberships) AS new_count;
SELECT u.id, u.email FROM users u LEFT JOIN cf_users cf ON u.id = cf.id WHERE u.deleted_at IS NULL AND cf.id IS NULL;
SELECT u.id, u.email AS old_email, cf.email AS new_email FROM users u JOIN cf_users cf ON u.id = cf.id WHERE u.email != cf.email;
