-- Benchmark data in the guide's legacy tables (demo/legacy_schema.sql): :users users (2% soft-deleted),
-- :orgs tenants, and three memberships per user. Deterministic ids (md5 of the row number), so the
-- memberships can reference them without a join. Password hashes: 60% argon2id, 30% bcrypt, 10% md5.
INSERT INTO users (id, email, name, avatar_url, password_hash, created_at, deleted_at)
SELECT md5('u' || i)::uuid,
       'user' || i || '@example.com',
       'User ' || i,
       CASE WHEN i % 3 = 0 THEN 'https://img.example.com/' || i || '.png' END,
       CASE WHEN i % 10 < 6 THEN '$argon2id$v=19$m=65536,t=3,p=2$' || md5('s' || i) || '$' || md5('h' || i)
            WHEN i % 10 < 9 THEN '$2b$12$' || rpad(md5('b' || i) || md5('c' || i), 53, 'x')
            ELSE md5('p' || i) END,
       '2020-01-01'::timestamptz + i * interval '1 minute',
       CASE WHEN i % 50 = 0 THEN '2024-01-01'::timestamptz END
FROM generate_series(1, :users) i;

INSERT INTO tenants (id, name, slug, logo_url, settings, plan, created_at, deleted_at)
SELECT md5('t' || i)::uuid, 'Org ' || i, 'org-' || i,
       CASE WHEN i % 4 = 0 THEN 'https://img.example.com/org' || i || '.svg' END,
       CASE WHEN i % 2 = 0 THEN jsonb_build_object('seats', i % 100) END,
       (ARRAY['free', 'starter', 'pro', 'enterprise'])[1 + i % 4],
       '2019-01-01'::timestamptz + i * interval '1 hour',
       CASE WHEN i % 100 = 0 THEN '2024-01-01'::timestamptz END
FROM generate_series(1, :orgs) i;

INSERT INTO tenant_members (user_id, tenant_id, role, created_at)
SELECT md5('u' || i)::uuid, md5('t' || (1 + (i + k * (:orgs / 3)) % :orgs))::uuid,
       (ARRAY['owner', 'admin', 'member'])[1 + (i + k) % 3],
       '2020-01-01'::timestamptz + i * interval '1 minute' + k * interval '1 second'
FROM generate_series(1, :users) i, generate_series(0, 2) k;

VACUUM ANALYZE users, tenants, tenant_members;
