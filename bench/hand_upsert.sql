-- The ceiling: one hand-written set-based upsert of the live users (the same columns and rules the
-- extension applies: empty strings become NULL; the guide's unconditional DO UPDATE).
INSERT INTO hand_users (id, email, name, avatar_url, password_hash, created_at, updated_at)
SELECT id, email, name, NULLIF(avatar_url, ''), NULLIF(password_hash, ''), created_at, now()
  FROM users WHERE deleted_at IS NULL
ON CONFLICT (id) DO UPDATE SET email = EXCLUDED.email, name = EXCLUDED.name, avatar_url = EXCLUDED.avatar_url,
  password_hash = EXCLUDED.password_hash, created_at = EXCLUDED.created_at, updated_at = now();
