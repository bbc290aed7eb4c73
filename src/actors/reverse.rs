//! The reverse sync: CoreForge back into the legacy tables, from cutover on (see
//! `admin/phases.rs`): the reverse backfill `cf_sync_legacy()`, what a TRUNCATE of a cf_ table
//! does, and what keeps the legacy tables from taking every CoreForge row. The statements are in
//! `sqlgen/reverse.rs`; the trigger is in `triggers.rs`.

use crate::db::phase::{self, Phase};
use crate::db::{catalog, config, guard, owner, rights};
use crate::errors::{raise, Error, Result};
use crate::mapping::Entity;
use crate::settings::{allowed_values, EntityKind, Kind};
use crate::sqlgen::mirror::Counts;
use crate::sqlgen::reverse::{
    assign_write, kind, new_legacy_id, remove_back_write, upsert_write, written, Write,
};
use pgrx::prelude::*;

/// Runs `w` on the legacy table of `e` (planned afresh: the reverse backfill and TRUNCATE).
fn run(e: &Entity, w: &Write) -> Result<Counts> {
    let out = owner::run(&e.primary.schema, &e.primary.name, w)?;
    Ok(Counts { inserted: out.inserted, updated: out.updated, deleted: out.deleted, rejected: 0 })
}

/// Writes every cf_ row of `e` into the legacy table (after giving rows born in CoreForge their
/// legacy ids): the copies of the reverse backfill.
fn copy_back(e: &Entity) -> Result<Counts> {
    if let Some(assign) = assign_write(e, &e.cf_table()) {
        run(e, &assign)?;
    }
    run(e, &upsert_write(e, &e.cf_table()))
}

/// Removes the live legacy rows of `e` that CoreForge no longer holds: rows that would be mirrored
/// (no problem of their own, not rejected) and have no cf_ row. Rejected rows were never in
/// CoreForge, so they stay. The removals of the reverse backfill (dependents first), and what a
/// TRUNCATE of a cf_ table does.
pub fn remove_back(e: &Entity) -> Result<Counts> {
    run(e, &remove_back_write(e, "true"))
}

/// The reverse backfill of every entity: removals first, dependents first (a value CoreForge moved
/// from a removed row to another, such as a slug, is free before the copy needs it); then copies in
/// dependency order; then memberships once more (a copy that revived a soft-deleted legacy parent
/// revives its stale memberships too).
pub fn reconcile_all() -> Result<Vec<(EntityKind, Counts)>> {
    let entities = config::entities()?;
    guard::mirroring(|| {
        let mut counts: Vec<Counts> = entities.iter().rev().map(remove_back).collect::<Result<_>>()?;
        counts.reverse();
        for (i, e) in entities.iter().enumerate() {
            counts[i].add(copy_back(e)?);
        }
        if let Some(last) = entities.last() {
            counts[entities.len() - 1].add(remove_back(last)?);
        }
        Ok(entities.iter().map(|e| e.kind).zip(counts).collect())
    })
}

/// What keeps the legacy tables from taking every CoreForge row (`cf_cutover` refuses on any):
/// generated columns it would write, NOT NULL columns the reverse sync does not write and that have no default, NOT NULL columns
/// CoreForge may leave NULL, mapped ids with no way to make a new one, a legacy column two
/// CoreForge columns are read from, and value maps that cannot bring a CoreForge value back.
pub fn problems(entities: &[Entity]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for e in entities {
        let p = &e.primary;
        let cols = written(e);
        let filled: Vec<&str> = e
            .key
            .iter()
            .map(|k| k.legacy.as_str())
            .chain(cols.iter().map(|w| w.legacy))
            .chain(e.primary.soft_delete_column())
            .chain(e.reverse_defaults.iter().map(|(legacy, _)| legacy.as_str()))
            .collect();
        for c in catalog::generated_columns(&p.schema, &p.name)? {
            if filled.contains(&c.as_str()) {
                out.push(format!(
                    "{}.{} is a generated column: the reverse sync would have to write it, and PostgreSQL lets no write set it (map the CoreForge column to a plain column, or stay in side_by_side, where it is only read)",
                    p.display(),
                    c
                ));
            }
        }
        for c in catalog::required_columns(&p.schema, &p.name)? {
            if !filled.contains(&c.as_str()) {
                out.push(format!(
                    "{}.{} is NOT NULL without a default, and no CoreForge column is mapped to it (give it a value in \"reverse_defaults\")",
                    p.display(),
                    c
                ));
            }
        }
        if p.map.is_some() && new_legacy_id(e, "c.id").is_none() {
            out.push(format!(
                "{}.{} ({}) has no default: rows created in CoreForge would have no legacy id",
                p.display(),
                p.id.as_deref().unwrap_or("id"),
                p.id_type
            ));
        }
        for w in &cols {
            if w.not_null && matches!(kind(e, w), Some(Kind::Json | Kind::OptionalTimestamp | Kind::Uuid)) {
                out.push(format!(
                    "{}.{} is NOT NULL, and CoreForge's {} may be NULL",
                    p.display(),
                    w.legacy,
                    w.shown()
                ));
            }
        }
        // A CoreForge column read from an expression goes back through the columns it reads: each
        // needs a write-back rule (or a mapping), else CoreForge's change would not reach it.
        for col in e.columns.iter().filter(|c| c.legacy.is_none()) {
            for read in &col.also_reads {
                if !filled.contains(&read.as_str()) {
                    out.push(format!(
                        "{}.{} is read by the expression of CoreForge's {}, and nothing writes it back: a CoreForge change of {} would not reach it (give it a rule in \"write_back\")",
                        p.display(),
                        read,
                        col.cf,
                        col.cf
                    ));
                }
            }
        }
        // A legacy column two CoreForge columns are read from takes only one of them back.
        for col in &e.columns {
            if let Some(legacy) = &col.legacy {
                if let Some(first) = cols.iter().find(|w| w.legacy == legacy && w.shown() != col.cf) {
                    out.push(format!(
                        "{}.{} fills both {} and {}: a change of {} could not be written back",
                        p.display(),
                        legacy,
                        first.shown(),
                        col.cf,
                        col.cf
                    ));
                }
            }
        }
        // A value map over a boolean, number or enum column brings back only the values it names:
        // enough for a fixed set (checked by one_way_values), not for CoreForge's free-text roles.
        for w in &cols {
            let Some(c) = p.columns.iter().find(|c| c.name == w.legacy) else { continue };
            if c.category != "S" && allowed_values(w.shown()).is_none() && kind(e, w) == Some(Kind::Required)
            {
                out.push(format!(
                    "{}.{} is {}: CoreForge's {} is free text, and a {} written in CoreForge that the value map has no legacy value for could not be written back (map {} to a text column for cutover; side by side, it is only read)",
                    p.display(),
                    w.legacy,
                    c.type_display,
                    w.shown(),
                    w.shown(),
                    w.shown()
                ));
            }
        }
        out.extend(one_way_values(e)?);
    }
    Ok(out)
}

/// CoreForge values of a fixed set (plan, org_type) that the value map cannot bring back: written
/// into the legacy table, they would not read as themselves (the map's `"*"` sends them elsewhere,
/// or rejects them).
fn one_way_values(e: &Entity) -> Result<Vec<String>> {
    let settings = config::settings(e.kind)?;
    let mut out = Vec::new();
    for col in &e.columns {
        let (Some(legacy), Some(allowed), Some(map)) =
            (&col.legacy, allowed_values(col.cf), settings.values.get(col.cf))
        else {
            continue;
        };
        let forward = |x: &str| -> Option<String> {
            match (map.get(x), map.get("*").map(String::as_str)) {
                (Some(to), _) => Some(to.clone()),
                (None, Some("reject")) => None,
                (None, Some(fallback)) => Some(fallback.to_string()),
                (None, None) => Some(x.to_string()),
            }
        };
        let lost: Vec<&str> = allowed
            .iter()
            .copied()
            .filter(|v| {
                let back = col.inverse.iter().find(|(cf, _)| cf == v).map(|(_, l)| l.as_str()).unwrap_or(v);
                forward(back).as_deref() != Some(*v)
            })
            .collect();
        if !lost.is_empty() {
            out.push(format!(
                "{}.{} cannot hold CoreForge's {} {} (add them to \"values\".{})",
                e.primary.display(),
                legacy,
                col.cf,
                lost.join(", "),
                col.cf
            ));
        }
    }
    Ok(out)
}

/// Brings the legacy tables up to date with CoreForge (phases cutover and legacy_frozen): writes
/// back every cf_ row that differs, and soft-deletes (or deletes) the legacy rows CoreForge no
/// longer holds. One row per entity. A second run writes nothing.
#[pg_extern]
#[search_path(pg_catalog, pg_temp)]
fn cf_sync_legacy() -> TableIterator<
    'static,
    (name!(entity, String), name!(inserted, i64), name!(updated, i64), name!(deleted, i64)),
> {
    raise((|| -> Result<_> {
        rights::authorize("run cf_sync_legacy()")?;
        let phase = phase::current_shared()?;
        if !matches!(phase, Phase::Cutover | Phase::LegacyFrozen) {
            return Err(Error::out_of_order(format!("coreforge_sync: cf_sync_legacy() writes CoreForge into the legacy tables, and the phase is {phase}"))
    .detail("Only from cutover on is CoreForge the source of truth; before it, the legacy tables are.")
    .hint(phase.hint()));
        }
        let rows: Vec<_> = reconcile_all()?
            .into_iter()
            .map(|(kind, c)| (kind.to_string(), c.inserted, c.updated, c.deleted))
            .collect();
        Ok(TableIterator::new(rows))
    })())
}
