-- cf_organizations as CoreForge's Ent schema creates it (identity/ent/schema/organization.go).
-- The foreign key to cf_principals is added by cf_create_tables() only where that table exists.
CREATE TABLE @schema@.cf_organizations (
    id                 uuid NOT NULL DEFAULT pg_catalog.gen_random_uuid(),
    created_at         timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at         timestamptz NOT NULL DEFAULT pg_catalog.now(),
    name               character varying NOT NULL,
    slug               character varying NOT NULL,
    org_type           character varying NOT NULL DEFAULT 'team',
    logo_url           character varying,
    description        character varying,
    website_url        character varying,
    settings           jsonb,
    plan               character varying NOT NULL DEFAULT 'free',
    active             boolean NOT NULL DEFAULT true,
    owner_principal_id uuid,
    CONSTRAINT cf_organizations_pkey PRIMARY KEY (id)
);
CREATE UNIQUE INDEX organization_slug ON @schema@.cf_organizations (slug);
CREATE INDEX organization_active ON @schema@.cf_organizations (active);
CREATE INDEX organization_org_type ON @schema@.cf_organizations (org_type);
CREATE INDEX organization_owner_principal_id ON @schema@.cf_organizations (owner_principal_id);
CREATE INDEX organization_org_type_active ON @schema@.cf_organizations (org_type, active);
