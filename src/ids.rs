//! Ids for legacy rows whose ids are not uuids (the guide's "UUID Mismatches"): the mapping tables
//! `coreforge_sync.user_id_mapping` and `coreforge_sync.organization_id_mapping`, `(old_id, new_id)`.
//!
//! An id is assigned once, by the statement of [`assign_statement`] that the backfill and the
//! triggers run before they mirror, and never changes (not when the row is soft-deleted and
//! restored, not when the configuration changes). Strategy `random` draws it with
//! gen_random_uuid(); `uuidv5` derives it from the old id's text under a namespace, as uuid-ossp's
//! `uuid_generate_v5(namespace, old_id::text)` does, so every environment computes the same ids.
//! The mapping tables are not members of the extension: they outlive DROP EXTENSION, and pg_dump
//! dumps them with their rows.

use crate::config::IdStrategy;
use crate::errors::fail;
use crate::mapping::{mapping_table, Source};
use crate::sql::{ident, literal};
use pgrx::prelude::*;

/// Creates the mapping table of `entity` with `old_id` of `id_type`, unless it exists; an existing
/// one with another `old_id` type and rows is an error (an assigned id never changes).
pub fn ensure_mapping_table(entity: &str, id_type: &str) {
    let table = mapping_table(entity);
    let existing: Option<String> = Spi::get_one_with_args(
        "SELECT pg_catalog.format_type(a.atttypid, NULL) FROM pg_catalog.pg_attribute a \
         WHERE a.attrelid = pg_catalog.to_regclass($1) AND a.attname = 'old_id'",
        &[table.clone().into()],
    )
    .unwrap_or(None);
    match existing {
        None => Spi::run(&format!(
            "CREATE TABLE {table} (\
               old_id {id_type} PRIMARY KEY, \
               new_id uuid NOT NULL UNIQUE, \
               assigned_at timestamptz NOT NULL DEFAULT pg_catalog.now())"
        ))
        .unwrap_or_else(|e| panic!("{e}")),
        Some(t) if t == id_type => {}
        Some(t) => {
            let rows =
                Spi::get_one::<i64>(&format!("SELECT pg_catalog.count(*) FROM {table}")).ok().flatten();
            if rows.unwrap_or(0) > 0 {
                fail(
                    &format!("coreforge_sync: {table} maps {t} ids, not {id_type}"),
                    Some("Its ids were assigned to legacy rows and are kept forever."),
                    Some("Configure the id column of the same type, or move the mapping table away first."),
                );
            }
            Spi::run(&format!("DROP TABLE {table}")).unwrap_or_else(|e| panic!("{e}"));
            ensure_mapping_table(entity, id_type);
        }
    }
}

/// The CoreForge id a strategy gives to the legacy id `old`.
fn new_id(strategy: &IdStrategy, old: &str) -> String {
    match strategy {
        IdStrategy::Random => "pg_catalog.gen_random_uuid()".into(),
        IdStrategy::UuidV5(ns) => format!("coreforge_sync.uuid_v5({}::uuid, {old}::text)", literal(ns)),
        IdStrategy::Keep => unreachable!("kept ids are not mapped"),
    }
}

/// `INSERT INTO <mapping> ...`: assigns ids to the rows of `from` (the legacy table, or a
/// trigger's transition table, or a batch) that have none. None when the source keeps its uuids.
/// `probe`: look each id up in the mapping (a batch, whose cost must not grow with the table)
/// rather than letting the planner hash the whole mapping.
pub fn assign_statement(src: &Source, from: &str, probe: bool) -> Option<String> {
    let (Some(map), Some(id)) = (&src.map, &src.id) else { return None };
    let old = format!("s.{}", ident(id));
    Some(format!(
        "INSERT INTO {map} (old_id, new_id) SELECT {old}, {new} FROM {from} s \
         WHERE {old} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {map} mp WHERE mp.old_id = {old}{fence}) \
         ON CONFLICT DO NOTHING",
        new = new_id(&src.strategy, &old),
        fence = if probe { " OFFSET 0" } else { "" },
    ))
}
