-- cf_memberships as CoreForge's Ent schema creates it (identity/ent/schema/membership.go).
-- The foreign keys are NO ACTION: memberships go before their user or organization.
CREATE TABLE @schema@.cf_memberships (
    id              uuid NOT NULL DEFAULT pg_catalog.gen_random_uuid(),
    created_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    role            character varying NOT NULL,
    permissions     jsonb,
    organization_id uuid NOT NULL,
    user_id         uuid NOT NULL,
    CONSTRAINT cf_memberships_pkey PRIMARY KEY (id),
    CONSTRAINT cf_memberships_cf_organizations_memberships
        FOREIGN KEY (organization_id) REFERENCES @schema@.cf_organizations (id),
    CONSTRAINT cf_memberships_cf_users_memberships
        FOREIGN KEY (user_id) REFERENCES @schema@.cf_users (id)
);
CREATE UNIQUE INDEX membership_user_id_organization_id ON @schema@.cf_memberships (user_id, organization_id);
CREATE INDEX membership_user_id ON @schema@.cf_memberships (user_id);
CREATE INDEX membership_organization_id ON @schema@.cf_memberships (organization_id);
CREATE INDEX membership_role ON @schema@.cf_memberships (role);
