//! The id mapping tables `coreforge_sync.user_id_mapping` and
//! `coreforge_sync.organization_id_mapping`, `(old_id, new_id)`, for legacy ids that are not
//! uuids (the guide's "UUID Mismatches"). The statement that fills them is
//! `sqlgen::ids::assign_statement`. They are not members of the extension: they outlive DROP
//! EXTENSION, and pg_dump dumps them with their rows.

use crate::db::spi::optional;
use crate::errors::{Error, Result};
use crate::mapping::{mapping_table, SqlType};
use crate::settings::EntityKind;
use pgrx::prelude::*;

/// Creates the mapping table of `entity` with `old_id` of `id_type`, unless it exists; an existing
/// one with another `old_id` type and rows is an error (an assigned id never changes).
pub fn ensure_mapping_table(entity: EntityKind, id_type: SqlType) -> Result<()> {
    let table = mapping_table(entity);
    let existing: Option<String> = optional(Spi::get_one_with_args(
        "SELECT pg_catalog.format_type(a.atttypid, NULL) FROM pg_catalog.pg_attribute a \
         WHERE a.attrelid = pg_catalog.to_regclass($1) AND a.attname = 'old_id'",
        &[table.clone().into()],
    ))?;
    match existing {
        None => Spi::run(&format!(
            "CREATE TABLE {table} (\
               old_id {id_type} PRIMARY KEY, \
               new_id uuid NOT NULL UNIQUE, \
               assigned_at timestamptz NOT NULL DEFAULT pg_catalog.now())"
        ))?,
        Some(t) if t == id_type.as_str() => {}
        Some(t) => {
            let rows = Spi::get_one::<i64>(&format!("SELECT pg_catalog.count(*) FROM {table}"))?;
            if rows.unwrap_or(0) > 0 {
                return Err(Error::out_of_order(format!(
                    "coreforge_sync: {table} maps {t} ids, not {id_type}"
                ))
                .detail("Its ids were assigned to legacy rows and are kept forever.")
                .hint("Configure the id column of the same type, or move the mapping table away first."));
            }
            Spi::run(&format!("DROP TABLE {table}"))?;
            ensure_mapping_table(entity, id_type)?;
        }
    }
    Ok(())
}
