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

use crate::mapping::Source;
use crate::quote::{ident, literal};
use crate::settings::IdStrategy;

/// The CoreForge id a strategy gives to the legacy id `old`; None for kept ids (not mapped).
fn new_id(strategy: &IdStrategy, old: &str) -> Option<String> {
    match strategy {
        IdStrategy::Random => Some("pg_catalog.gen_random_uuid()".into()),
        IdStrategy::UuidV5(ns) => Some(format!("coreforge_sync.uuid_v5({}::uuid, {old}::text)", literal(ns))),
        IdStrategy::Keep => None,
    }
}

/// `INSERT INTO <mapping> ...`: assigns ids to the rows of `from` (the legacy table, or a
/// trigger's transition table, or a batch) that have none. None when the source keeps its uuids.
/// `probe`: look each id up in the mapping (a batch, whose cost must not grow with the table)
/// rather than letting the planner hash the whole mapping.
pub fn assign_statement(src: &Source, from: &str, probe: bool) -> Option<String> {
    let (Some(map), Some(id)) = (&src.map, &src.id) else { return None };
    let old = format!("s.{}", ident(id));
    let new = new_id(&src.strategy, &old)?;
    Some(format!(
        "INSERT INTO {map} (old_id, new_id) SELECT {old}, {new} FROM {from} s \
         WHERE {old} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {map} mp WHERE mp.old_id = {old}{fence}) \
         ON CONFLICT DO NOTHING",
        fence = if probe { " OFFSET 0" } else { "" },
    ))
}
