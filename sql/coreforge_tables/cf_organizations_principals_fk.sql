-- Added only where @schema@.cf_principals exists (it is outside this migration).
ALTER TABLE @schema@.cf_organizations
    ADD CONSTRAINT cf_organizations_cf_principals_owned_organizations
    FOREIGN KEY (owner_principal_id) REFERENCES @schema@.cf_principals (id) ON DELETE SET NULL;
