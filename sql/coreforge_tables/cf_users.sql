-- cf_users as CoreForge's Ent schema creates it (identity/ent/schema/user.go).
-- @schema@ is replaced by the quoted target schema.
CREATE TABLE @schema@.cf_users (
    id                uuid NOT NULL DEFAULT pg_catalog.gen_random_uuid(),
    created_at        timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at        timestamptz NOT NULL DEFAULT pg_catalog.now(),
    email             character varying NOT NULL,
    name              character varying NOT NULL,
    avatar_url        character varying,
    password_hash     character varying,
    is_platform_admin boolean NOT NULL DEFAULT false,
    active            boolean NOT NULL DEFAULT true,
    last_login_at     timestamptz,
    federation_id     uuid,
    CONSTRAINT cf_users_pkey PRIMARY KEY (id)
);
CREATE UNIQUE INDEX user_email ON @schema@.cf_users (email);
CREATE INDEX user_active ON @schema@.cf_users (active);
CREATE UNIQUE INDEX user_federation_id ON @schema@.cf_users (federation_id);
