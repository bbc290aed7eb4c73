//! The backfill: `cf_sync_users()`, `cf_sync_organizations()`, `cf_sync_memberships()`,
//! `cf_sync_all()`. Each makes the whole cf_ table equal to the projection of its legacy table,
//! set-based, in the caller's transaction, with the mirror statement (`sqlgen/mirror.rs`).

use crate::db::spi::execute;
use crate::db::{catalog, config, phase, rights, state, triggers};
use crate::errors::{raise, Error, Result};
use crate::mapping::Entity;
use crate::quote::literal;
use crate::settings::EntityKind;
use crate::sqlgen::ids::assign_statement;
use crate::sqlgen::mirror::{statement, Counts, OnError, Scope, FIRST_BACKFILL_LOCK};
use pgrx::prelude::*;

/// Makes the cf_ table of `e` equal to its projection. Two passes:
/// 1. removal ([`remove_stale`]);
/// 2. copy: insert or update every row that differs, locking its legacy rows `FOR SHARE`; a row
///    that cannot be mirrored is recorded in coreforge_sync.rejects (`on_error`: or raised).
///
/// Legacy rows without a CoreForge id get one first (mapped ids, see `sqlgen/ids.rs`).
pub fn reconcile(e: &Entity, on_error: OnError) -> Result<Counts> {
    if let Some(assign) = assign_statement(&e.primary, &e.primary.table(), false) {
        Spi::run(&assign)?;
    }
    let mut counts = remove_stale(e, None)?;
    counts.add(execute(e, &statement(e, &[], Scope::All, on_error), &[])?);
    Ok(counts)
}

/// Removes the cf_ rows of `e` that have no live legacy row (those with ids in `(lower, upper]`
/// when `range` is given): locks them `FOR UPDATE`, then deletes those that still have none in a
/// fresh snapshot, so that a row brought back to life by a concurrent writer, whose trigger waited
/// on that lock, is not removed on the strength of an old snapshot. Memberships go with their
/// user or organization.
pub fn remove_stale(e: &Entity, range: Option<(Option<&str>, &str)>) -> Result<Counts> {
    let within = match range {
        None => String::new(),
        Some((lower, upper)) => {
            let lower = lower.map(|l| format!(" AND c.id > {}::uuid", literal(l))).unwrap_or_default();
            format!("{lower} AND c.id <= {}::uuid", literal(upper))
        }
    };
    // A range (a batch) looks each cf_ row's legacy row up (`OFFSET 0` keeps the planner from
    // hashing the whole legacy table for every batch).
    let fence = if range.is_some() { " OFFSET 0" } else { "" };
    let stale_sql = format!(
        "SELECT pg_catalog.array_agg(s.id) FROM (SELECT c.id FROM {cf} c WHERE NOT EXISTS \
         (SELECT 1 FROM {from} WHERE {live} AND {join}{fence}){within} FOR UPDATE OF c) s",
        cf = e.cf_table(),
        from = e.from(false),
        live = e.live(),
        join = e.key_join("c"),
    );
    let stale: Option<Vec<pgrx::Uuid>> = Spi::get_one(&stale_sql)?;
    match stale {
        Some(ids) => {
            let deps = config::dependents(e.kind, &e.cf_schema)?;
            let deps: Vec<&Entity> = deps.iter().collect();
            execute(e, &statement(e, &deps, Scope::CfIds, OnError::Record), &[ids.into()])
        }
        None => Ok(Counts::default()),
    }
}

/// The entity `kind`, checked before a backfill (`cf_sync_*` or a batched pass): its tables exist,
/// its parents are backfilled (`hint` says how), and a NOTICE when sync is off.
pub fn checked_for_backfill(kind: EntityKind, verb: &str, hint: &str) -> Result<Entity> {
    phase::require_side_by_side("backfill CoreForge from the legacy tables")?;
    let e = config::entity(kind, &state::cf_schema()?)?;
    catalog::check_entity(&e)?;
    require_parents_backfilled(&e, verb, hint)?;
    if !triggers::sync_enabled(&e)? {
        notice!(
            "coreforge_sync: sync is not enabled on {}: writes made after this backfill will not reach {} (run SELECT cf_enable_sync(); before backfilling)",
            e.primary.display(),
            e.cf_display()
        );
    }
    Ok(e)
}

/// A membership is backfilled after its users and organizations (`hint` says how).
pub fn require_parents_backfilled(e: &Entity, verb: &str, hint: &str) -> Result<()> {
    for parent in &e.parents {
        if !state::is_backfilled(parent.entity)? {
            return Err(Error::out_of_order(format!(
                "coreforge_sync: {} cannot be {verb} before {}",
                e.name(),
                parent.entity
            ))
            .detail("A membership needs its user and its organization in CoreForge.")
            .hint(hint));
        }
    }
    Ok(())
}

/// The backfill of one entity, with its checks, its NOTICEs and its record in sync_runs.
fn backfill(kind: EntityKind) -> Result<Counts> {
    let e = checked_for_backfill(
        kind,
        "synced",
        "Run SELECT cf_sync_users(); and SELECT cf_sync_organizations(); first, or SELECT * FROM cf_sync_all();",
    )?;
    if !e.parents.is_empty() {
        // Wait for every transaction whose trigger left a membership for this backfill.
        Spi::run(&format!("SELECT pg_catalog.pg_advisory_xact_lock({FIRST_BACKFILL_LOCK})"))?;
    }
    let started = now()?;
    let counts = reconcile(&e, OnError::Record)?;
    state::record_run(e.kind, started, counts)?;
    if counts.rejected > 0 {
        notice!(
            "coreforge_sync: {} {} rows could not be migrated and were rejected: SELECT * FROM cf_rejects('{}')",
            counts.rejected,
            e.primary.display(),
            e.name()
        );
    }
    state::mark_backfilled(e.kind)?;
    Ok(counts)
}

/// The wall-clock time (a run's start).
pub fn now() -> Result<TimestampWithTimeZone> {
    Spi::get_one("SELECT pg_catalog.clock_timestamp()")?
        .ok_or_else(|| Error::corrupted("coreforge_sync: clock_timestamp() returned NULL"))
}

/// A `cf_sync_<entity>()`: authorized, then the backfill of `kind`; the rows written.
fn sync_one(kind: EntityKind, routine: &str) -> i64 {
    raise(rights::authorize(&format!("run {routine}")).and_then(|_| backfill(kind)).map(|c| c.written()))
}

/// Backfills cf_users from users; returns the number of cf_users rows written (inserted, updated
/// or deleted). A second run over unchanged data writes nothing.
#[pg_extern]
#[search_path(pg_catalog, pg_temp)]
fn cf_sync_users() -> i64 {
    sync_one(EntityKind::Users, "cf_sync_users()")
}

/// Backfills cf_organizations from tenants; returns the number of rows written.
#[pg_extern]
#[search_path(pg_catalog, pg_temp)]
fn cf_sync_organizations() -> i64 {
    sync_one(EntityKind::Organizations, "cf_sync_organizations()")
}

/// Backfills cf_memberships from tenant_members; returns the number of rows written.
#[pg_extern]
#[search_path(pg_catalog, pg_temp)]
fn cf_sync_memberships() -> i64 {
    sync_one(EntityKind::Memberships, "cf_sync_memberships()")
}

/// Backfills all three entities in dependency order; one row per entity.
#[pg_extern]
#[search_path(pg_catalog, pg_temp)]
fn cf_sync_all() -> TableIterator<
    'static,
    (
        name!(entity, String),
        name!(inserted, i64),
        name!(updated, i64),
        name!(deleted, i64),
        name!(rejected, i64),
    ),
> {
    let rows = raise((|| {
        rights::authorize("run cf_sync_all()")?;
        EntityKind::ALL
            .into_iter()
            .map(|kind| {
                let c = backfill(kind)?;
                Ok((kind.to_string(), c.inserted, c.updated, c.deleted, c.rejected))
            })
            .collect::<Result<Vec<_>>>()
    })());
    TableIterator::new(rows)
}
