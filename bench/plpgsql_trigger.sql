-- A hand-written PL/pgSQL row trigger, the usual way to keep cf_users in sync: upsert the row, or
-- delete it when it is soft-deleted.
CREATE OR REPLACE FUNCTION bench_plpgsql_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.deleted_at IS NOT NULL THEN
    DELETE FROM cf_users WHERE id = NEW.id;
  ELSE
    INSERT INTO cf_users (id, email, name, avatar_url, password_hash, created_at, updated_at)
    VALUES (NEW.id, NEW.email, NEW.name, NULLIF(NEW.avatar_url, ''), NULLIF(NEW.password_hash, ''), NEW.created_at, now())
    ON CONFLICT (id) DO UPDATE SET email = EXCLUDED.email, name = EXCLUDED.name, avatar_url = EXCLUDED.avatar_url,
      password_hash = EXCLUDED.password_hash, updated_at = now();
  END IF;
  RETURN NULL;
END $$;
