//! Helpers the generated SQL calls, in the schema `coreforge_sync` (not meant for users). Each is
//! a SQL boundary: the errors it raises are raised here.

#[pgrx::pg_schema]
mod coreforge_sync {
    use crate::errors::Error;
    use pgrx::prelude::*;

    /// The RFC 4122 version-5 UUID of `name` under `namespace`, as uuid-ossp's
    /// `uuid_generate_v5(namespace, name)` computes it (the `uuid` crate's). Memberships get their
    /// ids from it.
    #[pg_extern(immutable, parallel_safe)]
    fn uuid_v5(namespace: pgrx::Uuid, name: &str) -> pgrx::Uuid {
        let namespace = uuid::Uuid::from_bytes(*namespace.as_bytes());
        pgrx::Uuid::from_bytes(*uuid::Uuid::new_v5(&namespace, name.as_bytes()).as_bytes())
    }

    /// Raises the error of a legacy row that cannot be mirrored into CoreForge.
    /// Called by the mirror statement only for such rows; never returns.
    #[pg_extern(volatile)]
    fn reject(entity: &str, key: &str, reason: &str) -> bool {
        Error::check(format!("coreforge_sync: cannot mirror {entity} row {key}: {reason}"))
            .hint(format!(
                "Fix the legacy row (or soft-delete it). SELECT * FROM cf_missing('{entity}') lists every row that cannot be migrated."
            ))
            .raise()
    }

    /// Raises the error of a row born in CoreForge whose new legacy id is taken (the reverse
    /// sync never writes into another row). Called by the reverse id assignment only; never returns.
    #[pg_extern(volatile)]
    fn legacy_id_taken(column: &str, id: &str) -> bool {
        Error::unique(format!("coreforge_sync: the new legacy id {id} for a row created in CoreForge is taken ({column})"))
            .detail("The id column's default (its sequence) gave an id that a legacy row or an id mapping already has.")
            .hint("Move the sequence past the highest id in use: SELECT setval(pg_get_serial_sequence(...), max(id)) FROM ...;")
            .raise()
    }
}
