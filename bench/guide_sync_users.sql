-- The migration guide's syncUsers, ported: one transaction, the live users read once, then one
-- prepared upsert per row, each a round trip over the local socket (\gexec runs the statements one
-- by one, as the Go loop's stmt.ExecContext does).
BEGIN;
PREPARE guide_upsert (uuid, text, text, text, text, timestamptz) AS
  INSERT INTO guide_users (id, email, name, avatar_url, password_hash, created_at, updated_at)
  VALUES ($1, $2, $3, NULLIF($4, ''), NULLIF($5, ''), $6, $6)
  ON CONFLICT (id) DO UPDATE SET email = EXCLUDED.email, name = EXCLUDED.name,
    avatar_url = EXCLUDED.avatar_url, password_hash = EXCLUDED.password_hash, updated_at = now();
SELECT format('EXECUTE guide_upsert(%L, %L, %L, %L, %L, %L)', id, email, name,
              COALESCE(avatar_url, ''), COALESCE(password_hash, ''), created_at)
  FROM users WHERE deleted_at IS NULL \gexec
COMMIT;
