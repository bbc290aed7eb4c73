//! The backfill: `cf_sync_users()`, `cf_sync_organizations()`, `cf_sync_memberships()`,
//! `cf_sync_all()`. Each makes the whole cf_ table equal to the projection of its legacy table,
//! set-based, in the caller's transaction, with the mirror statement of `mirror.rs`.

use crate::errors::fail;
use crate::mapping::{entity, Entity, ENTITY_NAMES};
use crate::mirror::{statement, Counts, OnError, Scope, BOOKKEEPING, FIRST_BACKFILL_LOCK};
use crate::sql::literal;
use crate::{catalog, state, triggers};
use pgrx::datum::DatumWithOid;
use pgrx::prelude::*;

/// Runs one mirror statement of `e`, which writes its cf_ table, with that table's owner's rights
/// (`owner.rs`), reads its `(inserted, updated, deleted, rejected)` counts, and records its rejects
/// with the extension's rights ([`BOOKKEEPING`]).
pub fn execute(e: &Entity, sql: &str, args: &[DatumWithOid]) -> Counts {
    Spi::connect_mut(|client| {
        let (counts, book) = crate::owner::as_owner(&e.cf_schema, e.cf_name, || {
            let row = client.update(sql, None, args).unwrap_or_else(|e| panic!("{e}"));
            counted(row)
        });
        if let Some(book) = book {
            client.update(BOOKKEEPING, None, &[book.into()]).unwrap_or_else(|e| panic!("{e}"));
        }
        counts
    })
}

/// The counts of a mirror statement, and its `bookkeeping` (None when it has none).
pub fn counted(row: pgrx::spi::SpiTupleTable<'_>) -> (Counts, Option<String>) {
    let row = row.first();
    let get = |i| row.get::<i64>(i).unwrap_or_else(|e| panic!("{e}")).unwrap_or(0);
    let counts = Counts { inserted: get(1), updated: get(2), deleted: get(3), rejected: get(4) };
    (counts, row.get::<String>(5).unwrap_or_else(|e| panic!("{e}")))
}

/// Makes the cf_ table of `e` equal to its projection. Two passes:
/// 1. removal ([`remove_stale`]);
/// 2. copy: insert or update every row that differs, locking its legacy rows `FOR SHARE`; a row
///    that cannot be mirrored is recorded in coreforge_sync.rejects (`on_error`: or raised).
///
/// Legacy rows without a CoreForge id get one first (mapped ids, see `ids.rs`).
pub fn reconcile(e: &Entity, on_error: OnError) -> Counts {
    if let Some(assign) = crate::ids::assign_statement(&e.primary, &e.primary.table(), false) {
        Spi::run(&assign).unwrap_or_else(|err| panic!("{err}"));
    }
    let mut counts = remove_stale(e, None);
    counts.add(execute(e, &statement(e, Scope::All, on_error), &[]));
    counts
}

/// Removes the cf_ rows of `e` that have no live legacy row (those with ids in `(lower, upper]`
/// when `range` is given): locks them `FOR UPDATE`, then deletes those that still have none in a
/// fresh snapshot, so that a row brought back to life by a concurrent writer, whose trigger waited
/// on that lock, is not removed on the strength of an old snapshot. Memberships go with their
/// user or organization.
pub fn remove_stale(e: &Entity, range: Option<(Option<&str>, &str)>) -> Counts {
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
    let stale: Option<Vec<pgrx::Uuid>> = Spi::get_one(&stale_sql).unwrap_or_else(|err| panic!("{err}"));
    match stale {
        Some(ids) => execute(e, &statement(e, Scope::CfIds, OnError::Record), &[ids.into()]),
        None => Counts::default(),
    }
}

/// The entity `name`, checked before a backfill (`cf_sync_*` or a batched pass): its tables exist,
/// its parents are backfilled (`hint` says how), and a NOTICE when sync is off.
pub fn checked_for_backfill(name: &str, verb: &str, hint: &str) -> Entity {
    crate::phases::require_side_by_side("backfill CoreForge from the legacy tables");
    let e = entity(name, &state::cf_schema());
    catalog::check_entity(&e);
    require_parents_backfilled(&e, verb, hint);
    if !triggers::sync_enabled(&e) {
        notice!(
            "coreforge_sync: sync is not enabled on {}: writes made after this backfill will not reach {} (run SELECT cf_enable_sync(); before backfilling)",
            e.primary.display(),
            e.cf_display()
        );
    }
    e
}

/// A membership is backfilled after its users and organizations (`hint` says how).
pub fn require_parents_backfilled(e: &Entity, verb: &str, hint: &str) {
    for parent in &e.parents {
        if !state::is_backfilled(parent.entity) {
            fail(
                &format!("coreforge_sync: {} cannot be {verb} before {}", e.name, parent.entity),
                Some("A membership needs its user and its organization in CoreForge."),
                Some(hint),
            );
        }
    }
}

/// The backfill of one entity, with its checks, its NOTICEs and its record in sync_runs.
fn backfill(name: &str) -> Counts {
    let e = checked_for_backfill(
        name,
        "synced",
        "Run SELECT cf_sync_users(); and SELECT cf_sync_organizations(); first, or SELECT * FROM cf_sync_all();",
    );
    if !e.parents.is_empty() {
        // Wait for every transaction whose trigger left a membership for this backfill.
        Spi::run(&format!("SELECT pg_catalog.pg_advisory_xact_lock({FIRST_BACKFILL_LOCK})"))
            .unwrap_or_else(|err| panic!("{err}"));
    }
    let started = now();
    let counts = reconcile(&e, OnError::Record);
    state::record_run(e.name, started, counts);
    if counts.rejected > 0 {
        notice!(
            "coreforge_sync: {} {} rows could not be migrated and were rejected: SELECT * FROM cf_rejects('{}')",
            counts.rejected,
            e.primary.display(),
            e.name
        );
    }
    state::mark_backfilled(e.name);
    counts
}

fn now() -> TimestampWithTimeZone {
    Spi::get_one("SELECT pg_catalog.clock_timestamp()").ok().flatten().expect("clock_timestamp")
}

/// Backfills cf_users from users; returns the number of cf_users rows written (inserted, updated
/// or deleted). A second run over unchanged data writes nothing.
#[pg_extern]
#[search_path(pg_catalog, pg_temp)]
fn cf_sync_users() -> i64 {
    crate::privileges::authorize("run cf_sync_users()");
    backfill("users").written()
}

/// Backfills cf_organizations from tenants; returns the number of rows written.
#[pg_extern]
#[search_path(pg_catalog, pg_temp)]
fn cf_sync_organizations() -> i64 {
    crate::privileges::authorize("run cf_sync_organizations()");
    backfill("organizations").written()
}

/// Backfills cf_memberships from tenant_members; returns the number of rows written.
#[pg_extern]
#[search_path(pg_catalog, pg_temp)]
fn cf_sync_memberships() -> i64 {
    crate::privileges::authorize("run cf_sync_memberships()");
    backfill("memberships").written()
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
    crate::privileges::authorize("run cf_sync_all()");
    let rows: Vec<_> = ENTITY_NAMES
        .iter()
        .map(|n| {
            let c = backfill(n);
            (n.to_string(), c.inserted, c.updated, c.deleted, c.rejected)
        })
        .collect();
    TableIterator::new(rows)
}
