//! Sync on every write: the trigger functions (forward, reverse, freeze). `cf_enable_sync()` puts
//! them on the tables (`admin/sync.rs`, with `db/triggers.rs`).
//!
//! Each legacy table gets four statement-level AFTER triggers (INSERT, UPDATE, DELETE with
//! transition tables, and TRUNCATE). The trigger runs the entity's mirror statement
//! (`mirror.rs`) over the keys in the transition tables: one SPI call per statement, whatever
//! the number of rows, with a plan kept for the backend's lifetime for ordinary statements.

use crate::actors::{backfill, reverse};
use crate::db::spi::counted;
use crate::db::{config, guard, owner, transition};
use crate::errors::{raise, Error, Result};
use crate::mapping::Entity;
use crate::settings::EntityKind;
use crate::sqlgen::ids::assign_statement;
use crate::sqlgen::mirror as mirror_sql;
use crate::sqlgen::mirror::{
    lock_statement, needs_locks, probe, statement, Counts, OnError, Scope, BOOKKEEPING, FIRST_BACKFILL_LOCK,
    NEW_TABLE,
};
use crate::sqlgen::reverse::{self as reverse_sql, Write};
use pgrx::datum::DatumWithOid;
use pgrx::prelude::*;
use pgrx::spi::{OwnedPreparedStatement, SpiClient, SpiTupleTable};
use pgrx::{GucContext, GucFlags, GucRegistry, GucSetting, PostgresGucEnum};
use std::cell::{OnceCell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

/// `coreforge_sync.on_error`: what a trigger does with a legacy row that cannot be mirrored.
#[derive(PostgresGucEnum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum OnErrorSetting {
    /// Record it in coreforge_sync.rejects; the application's write succeeds.
    #[name = c"reject"]
    Reject,
    /// Raise an error; the application's write fails.
    #[name = c"raise"]
    Raise,
}

static ON_ERROR: GucSetting<OnErrorSetting> = GucSetting::<OnErrorSetting>::new(OnErrorSetting::Reject);

pub fn register_settings() {
    GucRegistry::define_enum_guc(
        c"coreforge_sync.on_error",
        c"What a sync trigger does with a legacy row that cannot be mirrored into CoreForge.",
        c"reject (default): the write succeeds and the row is recorded in coreforge_sync.rejects; raise: the write fails.",
        &ON_ERROR,
        GucContext::Userset,
        GucFlags::default(),
    );
}

fn on_error() -> OnError {
    match ON_ERROR.get() {
        OnErrorSetting::Reject => OnError::Record,
        OnErrorSetting::Raise => OnError::Raise,
    }
}

/// Statements touching up to this many rows run a kept plan; bigger ones are planned afresh,
/// so that a plan made for one row is never used for a million (or the reverse).
const KEPT_PLAN_MAX_ROWS: i64 = 1000;

/// At most this many retry passes follow one statement (each gives the rows whose value the last
/// one freed their turn); what is left waits for the next write of the table or the backfill.
const MAX_RETRY_PASSES: usize = 8;

/// Statements writing up to this many rows lock the emails and slugs they write before they
/// mirror (see `mirror::probe`); bigger ones do not, to keep clear of the lock table's limits.
const VALUE_LOCKS_MAX_ROWS: i64 = 64;

/// What a trigger's statements are built from: the entity, the cf_ schema and the configuration
/// generation (all three are the trigger's arguments, so a configuration change, which reinstalls
/// the triggers, makes every backend build anew).
#[derive(Clone, PartialEq, Eq, Hash)]
struct Target {
    entity: EntityKind,
    schema: String,
    generation: String,
    /// The reverse trigger's: its entity is built when the reverse sync first runs, so that it
    /// reads the legacy columns (their types, NOT NULL) as they are from cutover on.
    reverse: bool,
}

/// A kept plan: which statement, for which target (kept per [`size_class`] as well).
#[derive(Clone, PartialEq, Eq, Hash)]
struct Key {
    target: Target,
    plan: Plan,
}

/// The size class of a statement of `rows` rows. The planner sizes a transition table by its rows
/// when the plan is made, so a kept plan fits the statement it was first made for: one made for a
/// statement of a hundred rows (hash joins over whole tables) would be run for every later
/// single-row write, and one made for one row (a probe per row) for a thousand. Plans are kept
/// per class: one row, a few, many.
fn size_class(rows: i64) -> u8 {
    match rows {
        ..=1 => 0,
        2..=32 => 1,
        _ => 2,
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Plan {
    /// `sqlgen::mirror::fast_update`.
    Fast,
    /// `sqlgen::mirror::fast_update_one`.
    FastOne,
    /// `sqlgen::mirror::fast_update_settled_one`, after a `FastOne` that updated nothing.
    FastOneSettled,
    /// `sqlgen::mirror::fast_insert_one`.
    FastInsert,
    /// `sqlgen::mirror::fast_remove_lock`.
    FastRemoveLock,
    /// `sqlgen::mirror::fast_remove_one`, after `FastRemoveLock`.
    FastRemove,
    /// `sqlgen::mirror::fast_revive_lock`.
    FastReviveLock,
    /// `sqlgen::mirror::fast_revive_one`, after `FastReviveLock`.
    FastRevive,
    /// `sqlgen::mirror::fast_lock_one` (a membership), before `FastInsert`.
    FastLock,
    /// `sqlgen::mirror::fast_delete_one` (a membership).
    FastDelete,
    Probe {
        old: bool,
        new: bool,
        lock_values: bool,
    },
    Assign,
    Lock(Scope),
    Mirror(Scope, OnError),
    Bookkeeping,
    /// A step (0 read, 1 write, 2 after: `owner::Write`) of a reverse write.
    Reverse(ReverseWrite, u8),
    /// `sqlgen::reverse::fast_write_back_one` for the written columns of this mask (bit i: the
    /// i-th of `reverse::written`).
    ReverseFastOne(u64),
    /// `sqlgen::reverse::fast_clear_rejects_one`, after a `ReverseFastOne` or `ReverseFastInsert`
    /// that wrote its row.
    ReverseFastClear,
    /// `sqlgen::reverse::fast_insert_back_one`.
    ReverseFastInsert,
    /// `sqlgen::reverse::fast_write_back` (an UPDATE of several rows).
    ReverseFast,
    /// `sqlgen::reverse::clear_rejects`, after a `ReverseFast` that wrote rows.
    ReverseFastClearMany,
    /// `sqlgen::reverse::fast_remove_back_one`.
    ReverseFastRemove,
}

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum ReverseWrite {
    Assign,
    /// Part `part` of `reverse::statement(old, new)`.
    Statement {
        old: bool,
        new: bool,
        part: usize,
    },
    Revived,
}

thread_local! {
    static PLANS: RefCell<HashMap<(Key, u8), OwnedPreparedStatement>> = RefCell::new(HashMap::new());
    static ENTITIES: RefCell<HashMap<Target, Rc<Entity>>> = RefCell::new(HashMap::new());
}

/// The entity of a trigger as this backend built it, if it did.
fn cached_entity(target: &Target) -> Option<Rc<Entity>> {
    ENTITIES.with(|m| m.borrow().get(target).cloned())
}

/// The entity of a trigger, built once per backend and target.
fn target_entity(target: &Target) -> Result<Rc<Entity>> {
    if let Some(e) = cached_entity(target) {
        return Ok(e);
    }
    let e = Rc::new(config::entity(target.entity, &target.schema)?);
    ENTITIES.with(|m| m.borrow_mut().insert(target.clone(), e.clone()));
    Ok(e)
}

/// The entities that reference the trigger's (memberships, for users and organizations).
fn target_dependents(target: &Target) -> Result<Vec<Rc<Entity>>> {
    match target.entity {
        EntityKind::Memberships => Ok(vec![]),
        _ => Ok(vec![target_entity(&Target { entity: EntityKind::Memberships, ..target.clone() })?]),
    }
}

/// Runs `run` with the backend's kept plan for `key` and statements of `rows` rows, preparing it
/// from `sql()` the first time.
fn with_plan<R>(
    client: &mut SpiClient<'_>,
    key: Key,
    rows: i64,
    sql: impl FnOnce() -> String,
    args: &[PgOid],
    run: impl FnOnce(&mut SpiClient<'_>, &OwnedPreparedStatement) -> Result<R>,
) -> Result<R> {
    let key = (key, size_class(rows));
    PLANS.with(|plans| {
        let mut plans = plans.borrow_mut();
        if !plans.contains_key(&key) {
            let plan = client.prepare_mut(sql().as_str(), args)?.keep();
            plans.insert(key.clone(), plan);
        }
        run(client, &plans[&key])
    })
}

/// Runs a trigger's statement: with the backend's kept plan for `key`, or planned afresh for a
/// statement of more than [`KEPT_PLAN_MAX_ROWS`] rows.
fn run_statement(client: &mut SpiClient<'_>, key: Key, rows: i64, sql: &dyn Fn() -> String) -> Result<()> {
    run_with(client, key, rows, sql, &[], |_| Ok(()))
}

/// [`run_statement`] with text arguments (`$1`, ...), and a reader of the result.
fn run_with<R>(
    client: &mut SpiClient<'_>,
    key: Key,
    rows: i64,
    sql: &dyn Fn() -> String,
    arg: &[Option<&str>],
    read: impl FnOnce(SpiTupleTable<'_>) -> Result<R>,
) -> Result<R> {
    let args: Vec<DatumWithOid> = arg.iter().map(|a| (*a).into()).collect();
    let types: Vec<PgOid> = arg.iter().map(|_| PgOid::BuiltIn(PgBuiltInOids::TEXTOID)).collect();
    if rows > KEPT_PLAN_MAX_ROWS {
        read(client.update(sql().as_str(), None, &args)?)
    } else {
        with_plan(client, key, rows, sql, &types, |client, plan| read(client.update(plan, None, &args)?))
    }
}

/// Runs a write of the legacy table of `e` (`owner::Write`), each step with a kept plan as in
/// [`run_statement`], the write step with the table owner's rights.
fn run_reverse_write(
    client: &mut SpiClient<'_>,
    key: &dyn Fn(u8) -> Key,
    rows: i64,
    e: &Entity,
    build: &dyn Fn() -> Write,
) -> Result<()> {
    let built: OnceCell<Write> = OnceCell::new();
    owner::run_steps(
        &e.primary.schema,
        &e.primary.name,
        || built.get_or_init(build),
        |i, sql, arg| run_with(client, key(i), rows, sql, arg.map(Some).as_slice(), owner::written),
    )?;
    Ok(())
}

/// The (entity, cf_ schema, generation) arguments of a forward or reverse trigger.
fn trigger_target(args: &[String], reverse: bool) -> Result<Target> {
    let (Some(name), Some(schema), Some(generation)) = (args.first(), args.get(1), args.get(2)) else {
        return Err(Error::invalid(
            "coreforge_sync: a sync trigger needs three arguments: entity, CoreForge schema, generation",
        ));
    };
    let Some(entity) = EntityKind::parse(name) else {
        return Err(Error::invalid(format!(
            "coreforge_sync: a sync trigger names an unknown entity \"{name}\""
        )));
    };
    Ok(Target { entity, schema: schema.clone(), generation: generation.clone(), reverse })
}

/// What a statement trigger fired for: (old rows, new rows), or None for TRUNCATE.
fn operation(trigger: &PgTrigger<'_>) -> Result<Option<(bool, bool)>, PgTriggerError> {
    Ok(match trigger.op()? {
        PgTriggerOperation::Truncate => None,
        PgTriggerOperation::Insert => Some((false, true)),
        PgTriggerOperation::Update => Some((true, true)),
        PgTriggerOperation::Delete => Some((true, false)),
    })
}

/// Whether the firing statement is an UPDATE that changed none of `columns` in any row: then
/// there is nothing to mirror, and the trigger runs no statement at all.
fn unchanged(td: &pg_sys::TriggerData, old: bool, new: bool, columns: &[&str]) -> bool {
    old && new && transition::attnums(td, columns).is_some_and(|a| !transition::update_changes(td, &a))
}

/// Whether a one-row UPDATE that keeps its key changes its liveness: `Some(true)` when it undeletes
/// the row, `Some(false)` when it soft-deletes it, None otherwise (no soft delete, or the key or
/// liveness unchanged).
fn liveness_change(e: &Entity, td: &pg_sys::TriggerData) -> Option<bool> {
    let column = e.primary.soft_delete_column()?;
    let a = transition::attnums(td, &[column])?;
    let live = |old| e.primary.is_live(transition::single_value(td, old, a[0]).as_deref());
    let (before, after) = (live(true), live(false));
    (before != after && unchanged(td, true, true, &e.legacy_key_columns())).then_some(after)
}

/// How many rows the firing statement touched (its transition table's size).
fn transition_rows(td: &pg_sys::TriggerData) -> i64 {
    let table = if td.tg_newtable.is_null() { td.tg_oldtable } else { td.tg_newtable };
    // SAFETY: the transition table of the firing statement, valid for this call.
    if table.is_null() {
        0
    } else {
        unsafe { pg_sys::tuplestore_tuple_count(table) }
    }
}

/// The trigger function (created by sql/finalize.sql; it runs as the extension's owner with a
/// fixed search_path once it has work, `fire`, so the application role needs no rights on the cf_
/// tables).
/// Arguments: the entity, the schema of the cf_ tables and the configuration generation.
#[pg_trigger(sql = false)]
fn mirror_trigger<'a>(
    trigger: &'a PgTrigger<'a>,
) -> Result<Option<PgHeapTuple<'a, AllocatedByRust>>, PgTriggerError> {
    // Inside the extension's own writes the legacy rows come from the reverse mirror: CoreForge
    // already holds them.
    fire(trigger, false, mirror)
}

/// A sync trigger's call: nothing while the extension itself is writing (the recursion guard),
/// else `run` over the trigger's arguments, its operation and its transition tables, its error
/// raised here. A row trigger's call (`Fires::Replica` in `db/triggers.rs`: logical replication's
/// workers fire no statement trigger) runs the same `run` as a statement of its one row.
///
/// The trigger functions are neither SECURITY DEFINER nor given settings (sql/finalize.sql): a
/// statement with nothing to mirror (no row, or an UPDATE that changed no column the sync reads,
/// seen in the transition tables with the entity this backend built) returns here, before any
/// SQL, with the caller's rights; any other runs as the extension's owner with a fixed
/// search_path (`owner::as_function_owner`), what SECURITY DEFINER would give every call.
fn fire<'a>(
    trigger: &'a PgTrigger<'a>,
    reverse: bool,
    run: fn(&[String], Option<(bool, bool)>, &pg_sys::TriggerData) -> Result<()>,
) -> Result<Option<PgHeapTuple<'a, AllocatedByRust>>, PgTriggerError> {
    if guard::active() {
        return Ok(None);
    }
    let args = trigger.extra_args()?;
    let op = operation(trigger)?;
    let td = trigger.trigger_data();
    let row = match (trigger.level(), op) {
        (PgTriggerLevel::Row, Some((old, new))) => Some(transition::OneRow::new(td, old, new)),
        _ => None,
    };
    let data = row.as_ref().map_or(td, |r| r.data());
    if let (Some(op), Ok(target)) = (op, trigger_target(&args, reverse)) {
        if cached_entity(&target).is_some_and(|e| idle(&e, reverse, op, data)) {
            return Ok(None);
        }
    }
    // SAFETY: tg_trigger is valid for the call.
    let function = unsafe { (*td.tg_trigger).tgfoid };
    raise(owner::as_function_owner(function, || run(&args, op, data)));
    Ok(None)
}

/// Whether a statement of `op` (old rows, new rows) over the transition tables of `td` has nothing
/// for the sync of `e` (`reverse`: the reverse sync's): no row, or an UPDATE that changed none of the
/// columns it reads in any row.
fn idle(e: &Entity, reverse: bool, (old, new): (bool, bool), td: &pg_sys::TriggerData) -> bool {
    let columns = if reverse { e.cf_columns_read() } else { e.legacy_columns_read() };
    transition_rows(td) == 0 || unchanged(td, old, new, &columns)
}

/// The forward mirror of one statement (`op`: its old and new rows, None for TRUNCATE).
fn mirror(args: &[String], op: Option<(bool, bool)>, td: &pg_sys::TriggerData) -> Result<()> {
    let target = trigger_target(args, false)?;
    let e = target_entity(&target)?;
    let on_error = on_error();
    let _guard = guard::Mirroring::begin();
    let Some((old, new)) = op else {
        backfill::reconcile(&e, on_error)?;
        return Ok(());
    };
    if idle(&e, false, (old, new), td) {
        return Ok(());
    }
    let rows = transition_rows(td);
    // (Memberships only one row at a time: their cf_ rows are also written by their parents'
    // writers, and two statements each updating several of them in their own order deadlock; the
    // full path's parent locks order those.)
    if (e.parents.is_empty() || rows == 1)
        && unchanged(td, old, new, &e.legacy_identity_columns())
        && fast_update(&e, &target, td, rows)?
    {
        return Ok(());
    }
    let deps = target_dependents(&target)?;
    let deps: Vec<&Entity> = deps.iter().map(|d| d.as_ref()).collect();
    // One-row statements have fast paths of their own. A user or organization keyed by its
    // CoreForge id: an INSERT in one statement, a DELETE or soft delete in a lock and the write, an
    // undelete in the locks and the write. A membership: an INSERT in the full path's locks and the
    // write, a DELETE in one statement. (Updates went to fast_update above.)
    if rows == 1 {
        let insert = || mirror_sql::fast_insert_one(&e, &deps);
        let (lock, remove) = (|| mirror_sql::fast_remove_lock(&e), || mirror_sql::fast_remove_one(&e, &deps));
        let (revive_lock, revive) =
            (|| mirror_sql::fast_revive_lock(&e, &deps), || mirror_sql::fast_revive_one(&e, &deps));
        let (member_lock, member_delete) =
            (|| mirror_sql::fast_lock_one(&e), || mirror_sql::fast_delete_one(&e));
        let steps: &[(Plan, &dyn Fn() -> String)] = if !e.parents.is_empty() {
            match (old, new) {
                (false, _) => &[(Plan::FastLock, &member_lock), (Plan::FastInsert, &insert)],
                (true, false) => &[(Plan::FastDelete, &member_delete)],
                (true, true) => &[],
            }
        } else if e.key.len() == 1 && e.key[0].map.is_none() {
            match (old, new.then(|| liveness_change(&e, td))) {
                (false, _) => &[(Plan::FastInsert, &insert)],
                (true, None | Some(Some(false))) => {
                    &[(Plan::FastRemoveLock, &lock), (Plan::FastRemove, &remove)]
                }
                (true, Some(Some(true))) => {
                    &[(Plan::FastReviveLock, &revive_lock), (Plan::FastRevive, &revive)]
                }
                (true, Some(None)) => &[],
            }
        } else {
            &[]
        };
        if !steps.is_empty() && one_row(&e, &target, td, old, steps)? {
            return Ok(());
        }
    }
    Spi::connect_mut(|client| {
        // SAFETY: td is the TriggerData of this call; registering exposes its transition tables
        // to the statements of this SPI connection under their REFERENCING names.
        unsafe { pg_sys::SPI_register_trigger_data(td as *const _ as *mut _) };
        let key = |plan| Key { target: target.clone(), plan };
        let lock_values = rows <= VALUE_LOCKS_MAX_ROWS;
        let probe_key = key(Plan::Probe { old, new, lock_values });
        let (remove, cascade, settled, retry, clear) = with_plan(
            client,
            probe_key,
            rows,
            || probe(&e, &deps, old, new, lock_values),
            &[],
            |client, plan| {
                let row = client.update(plan, None, &[])?;
                let row = row.first();
                let get = |i| -> Result<Option<bool>> { Ok(row.get::<bool>(i)?) };
                Ok((
                    get(1)?.unwrap_or(true),
                    get(2)?.unwrap_or(true),
                    get(3)?.unwrap_or(false),
                    get(4)?.unwrap_or(true),
                    get(5)?.unwrap_or(true),
                ))
            },
        )?;
        if !settled {
            // This statement may leave memberships for the backfill: hold the lock that makes the
            // backfill wait for this transaction (or, if the backfill holds it, wait for the
            // backfill and then see its rows: the mirror statement below takes a new snapshot).
            client.update(
                &format!("SELECT pg_catalog.pg_advisory_xact_lock_shared({FIRST_BACKFILL_LOCK})"),
                None,
                &[],
            )?;
        }
        let scope = Scope::Statement { old, new, remove, cascade, clear };
        let run = |client: &mut SpiClient<'_>, plan: Plan, sql: &dyn Fn() -> String| {
            run_statement(client, key(plan), rows, sql)
        };
        // New legacy ids get their CoreForge ids (mapped ids only); then the locks (they may wait
        // for other writers); then the mirror statement, whose fresh snapshot sees the newest
        // versions of the rows now locked.
        if new {
            if let Some(assign) = assign_statement(&e.primary, NEW_TABLE, false) {
                run(client, Plan::Assign, &|| assign.clone())?;
            }
        }
        if needs_locks(&e, scope) {
            run(client, Plan::Lock(scope), &|| lock_statement(&e, &deps, scope))?;
        }
        // The mirror writes the cf_ table with its owner's rights, the rejects with the extension's.
        // What a mirror statement wrote, and whether it rejected a row as a duplicate.
        let mirror =
            |client: &mut SpiClient<'_>, scope: Scope, on_error: OnError| -> Result<(Counts, bool)> {
                let sql = || statement(&e, &deps, scope, on_error);
                let (counts, book) = owner::as_owner(&e.cf_schema, e.cf_name, || {
                    run_with(client, key(Plan::Mirror(scope, on_error)), rows, &sql, &[], counted)
                })?;
                let duplicate = book.as_deref().is_some_and(|b| b.contains("\"duplicate_"));
                if let Some(book) = book {
                    run_with(
                        client,
                        key(Plan::Bookkeeping),
                        rows,
                        &|| BOOKKEEPING.to_string(),
                        &[Some(book.as_str())],
                        |_| Ok(()),
                    )?;
                }
                Ok((counts, duplicate))
            };
        let (_, duplicate) = mirror(client, scope, on_error)?;
        // Rows rejected because another row held their email or slug follow now, in a statement of
        // their own (they are not this write's rows: they are recorded, never raised): when rows
        // waited before this statement (`retry`), or when the statement rejected one itself while
        // it may have let a value go (an update or delete: the holder can go in the same
        // statement). A retry that gives a row its value may let go of that row's old one, which
        // another row waits for: retries follow until one writes nothing.
        let mut again = retry || (old && duplicate && !e.unique.is_empty());
        let mut passes = 0;
        while again && passes < MAX_RETRY_PASSES {
            let (counts, _) = mirror(client, Scope::Retry, OnError::Record)?;
            again = counts.written() > 0;
            passes += 1;
        }
        Ok(())
    })
}

/// The reverse trigger on the cf_ tables, from cutover on (created by sql/finalize.sql, run as
/// `mirror_trigger` is, `fire`): writes the statement's rows back into the legacy table
/// (`reverse.rs`). Arguments as for `mirror_trigger`. A legacy table that cannot take a row fails
/// the CoreForge write: the legacy side must hold every row for rollback to stay possible.
#[pg_trigger(sql = false)]
fn reverse_trigger<'a>(
    trigger: &'a PgTrigger<'a>,
) -> Result<Option<PgHeapTuple<'a, AllocatedByRust>>, PgTriggerError> {
    // Inside the extension's own writes the cf_ rows come from the forward mirror: the legacy side
    // already holds them.
    fire(trigger, true, mirror_back)
}

/// The fast path of an UPDATE that changed no key, soft-delete column or unique value
/// (`sqlgen::mirror::fast_update`): one statement, as the cf_ table's owner. Whether it did the
/// whole job; when some row was not ready, it wrote nothing and the full path follows.
fn fast_update(e: &Entity, target: &Target, td: &pg_sys::TriggerData, rows: i64) -> Result<bool> {
    // One row: by its key, in one UPDATE; when it updates nothing, a read says whether there was
    // nothing to do, else the full path follows.
    if rows == 1 {
        return Ok(one_row(e, target, td, false, &[(Plan::FastOne, &|| mirror_sql::fast_update_one(e))])?
            || one_row(
                e,
                target,
                td,
                false,
                &[(Plan::FastOneSettled, &|| mirror_sql::fast_update_settled_one(e))],
            )?);
    }
    Spi::connect_mut(|client| {
        // SAFETY: as in mirror(): exposes this call's transition tables to its statements.
        unsafe { pg_sys::SPI_register_trigger_data(td as *const _ as *mut _) };
        let key = Key { target: target.clone(), plan: Plan::Fast };
        let not_ready = owner::as_owner(&e.cf_schema, e.cf_name, || {
            run_with(client, key, rows, &|| mirror_sql::fast_update(e), &[], |t| {
                Ok(t.first().get::<i64>(1)?.unwrap_or(1))
            })
        })?;
        Ok(not_ready == 0)
    })
}

/// A one-row fast path: its statements (`steps`: FastOne, FastOneSettled, FastInsert, FastRemoveLock then
/// FastRemove, FastReviveLock then FastRevive, FastLock then FastInsert, or FastDelete), one
/// after the other as the cf_ table's owner, each with the key of the statement's one row (from
/// its old row with `from_old`, else its new one) as its parameters, in key order.
/// Whether every step found its row; when one finds nothing (no cf_ row, the row not ready, nothing
/// to change, a conflict), the steps after it do not run, and the full path decides.
fn one_row(
    e: &Entity,
    target: &Target,
    td: &pg_sys::TriggerData,
    from_old: bool,
    steps: &[(Plan, &dyn Fn() -> String)],
) -> Result<bool> {
    let Some(key) = transition::attnums(td, &e.legacy_key_columns()).and_then(|attnums| {
        attnums.iter().map(|a| transition::single_value(td, from_old, *a)).collect::<Option<Vec<String>>>()
    }) else {
        return Ok(false);
    };
    let key: Vec<Option<&str>> = key.iter().map(|k| Some(k.as_str())).collect();
    Spi::connect_mut(|client| {
        owner::as_owner(&e.cf_schema, e.cf_name, || {
            for (plan, sql) in steps {
                let plan = Key { target: target.clone(), plan: *plan };
                // A step that finds nothing (no cf_ row to lock, nothing written) ends the fast path.
                let found =
                    run_with(client, plan, 1, *sql, &key, |t| Ok(t.first().get::<i64>(1)?.unwrap_or(0)))?;
                if found == 0 {
                    return Ok(false);
                }
            }
            Ok(true)
        })
    })
}

/// The reverse mirror of one statement on a cf_ table.
fn mirror_back(args: &[String], op: Option<(bool, bool)>, td: &pg_sys::TriggerData) -> Result<()> {
    let target = trigger_target(args, true)?;
    let e = target_entity(&target)?;
    let _guard = guard::Mirroring::begin();
    let Some((old, new)) = op else {
        reverse::remove_back(&e)?;
        return Ok(());
    };
    if idle(&e, true, (old, new), td) {
        return Ok(());
    }
    let rows = transition_rows(td);
    let keys: Vec<&str> = e.key.iter().map(|k| k.cf).collect();
    let same_keys = unchanged(td, old, new, &keys);
    // Keyed as in the legacy table: a fast path (`fast_back`) when it can.
    let fast = fast_back(&e, &target, td, (old, new), same_keys, rows)?;
    // Only an insert can bring a soft-deleted legacy row back (an update finds no cf_ row
    // whose legacy row is soft-deleted: the forward mirror removed it). A fast insert made a row
    // new to the legacy table: it has legacy memberships only where no foreign key forbids them.
    let revived: Vec<Rc<Entity>> = if new && !old {
        let enforced = |d: &Entity| fast && d.parent(e.kind).is_some_and(|p| p.enforced);
        target_dependents(&target)?.into_iter().filter(|d| !enforced(d)).collect()
    } else {
        vec![]
    };
    if fast && revived.is_empty() {
        return Ok(());
    }
    Spi::connect_mut(|client| {
        // SAFETY: as in mirror_trigger.
        unsafe { pg_sys::SPI_register_trigger_data(td as *const _ as *mut _) };
        let run = |client: &mut SpiClient<'_>, what: ReverseWrite, on: &Entity, w: &dyn Fn() -> Write| {
            let key = |step| Key { target: target.clone(), plan: Plan::Reverse(what, step) };
            run_reverse_write(client, &key, rows, on, w)
        };
        // Rows born in CoreForge get legacy ids first (mapped ids; cf_cutover refuses a mapping
        // that has no way to make them).
        if !fast && new && e.primary.map.is_some() {
            run(client, ReverseWrite::Assign, &e, &|| {
                reverse_sql::assign_write(&e, NEW_TABLE).unwrap_or_else(Write::none)
            })?;
        }
        // The statement's parts: the upsert of its new rows, the removal of the keys it took away
        // (none when an UPDATE kept every row's key: the upsert alone).
        let parts = if fast {
            0
        } else if same_keys {
            1
        } else {
            usize::from(new) + usize::from(old)
        };
        for part in 0..parts {
            run(client, ReverseWrite::Statement { old, new, part }, &e, &|| {
                reverse_sql::statement(&e, old, new).swap_remove(part)
            })?;
        }
        // Then the legacy memberships a revived parent brought back, which CoreForge's new row
        // does not have (a statement that finds none, after a fast insert).
        for memberships in &revived {
            run(client, ReverseWrite::Revived, memberships, &|| {
                reverse_sql::revived_dependents_write(memberships, &e, NEW_TABLE).unwrap_or_else(Write::none)
            })?;
        }
        Ok(())
    })
}

/// The fast paths of a statement on a cf_ table (`op`: its old and new rows; `rows` of them) whose
/// key is the legacy table's own (no id mapping), each run as the legacy table's owner
/// (`sqlgen::reverse`): an `UPDATE` that kept every key writes the legacy rows' changed columns by
/// key (`fast_write_back_one` for one row, `fast_write_back` joined to the transition tables for
/// several); for one row, an `INSERT` inserts the legacy row when its key is free
/// (`fast_insert_back_one`); each then drops the written row's rejects. A `DELETE` soft-deletes or
/// deletes the legacy row by key (`fast_remove_back_one`), one statement. Whether it did the whole
/// job; when a legacy row is not there (an update) or its key is taken (an insert), the full path
/// follows (after an update of several rows, for the rows not written).
fn fast_back(
    e: &Entity,
    target: &Target,
    td: &pg_sys::TriggerData,
    op: (bool, bool),
    same_keys: bool,
    rows: i64,
) -> Result<bool> {
    let plan = |plan| Key { target: target.clone(), plan };
    match op {
        // (A write-back rule's value is an expression over the cf_ row: its one row takes the
        // statement's path too.)
        (true, true) if same_keys && (rows > 1 || !e.write_back.is_empty()) => {
            let Some(sql) = reverse_sql::fast_write_back(e) else { return Ok(false) };
            let written = reverse_sql::written(e);
            let mut columns: Vec<&str> = written.iter().flat_map(|w| w.reads()).collect();
            columns.sort_unstable();
            columns.dedup();
            let Some(changed) =
                transition::attnums(td, &columns).and_then(|a| transition::changed_rows(td, &a))
            else {
                return Ok(false);
            };
            Spi::connect_mut(|client| {
                // SAFETY: as in mirror(): exposes this call's transition tables to its statements.
                unsafe { pg_sys::SPI_register_trigger_data(td as *const _ as *mut _) };
                let (count, ids) = owner::as_owner(&e.primary.schema, &e.primary.name, || {
                    run_with(client, plan(Plan::ReverseFast), rows, &|| sql.clone(), &[], |t| {
                        let row = t.first();
                        Ok((row.get::<i64>(1)?.unwrap_or(0), row.get::<String>(2)?))
                    })
                })?;
                if let Some(ids) = ids {
                    let clear = || reverse_sql::clear_rejects(e);
                    run_with(client, plan(Plan::ReverseFastClearMany), rows, &clear, &[Some(&ids)], |_| {
                        Ok(())
                    })?;
                }
                // Fewer rows written than changed: some had no legacy row, and the full path follows
                // (it finds the rows written here in step, and inserts the others back).
                Ok(count == changed)
            })
        }
        (true, true) if same_keys && rows == 1 => {
            let written = reverse_sql::written(e);
            let columns: Vec<&str> = written.iter().map(|w| w.shown()).collect();
            let (Some(col_attnums), Some(key)) = (transition::attnums(td, &columns), cf_key(e, td, false))
            else {
                return Ok(false);
            };
            let Some(changed) = transition::single_changes(td, &col_attnums) else { return Ok(false) };
            let changed_attnums: Vec<usize> =
                col_attnums.iter().zip(&changed).filter(|(_, c)| **c).map(|(a, _)| *a).collect();
            let Some(values) = transition::single_values(td, false, &changed_attnums) else {
                return Ok(false);
            };
            let Some(sql) = reverse_sql::fast_write_back_one(e, &changed).filter(|_| changed.len() <= 64)
            else {
                return Ok(false);
            };
            let mask = changed.iter().enumerate().fold(0u64, |m, (i, c)| if *c { m | 1 << i } else { m });
            let args: Vec<Option<&str>> =
                key.iter().map(|k| Some(k.as_str())).chain(values.iter().map(Option::as_deref)).collect();
            write_back_one(e, target, plan(Plan::ReverseFastOne(mask)), &sql, &args)
        }
        (false, true) if rows == 1 => {
            let Some((sql, columns)) = reverse_sql::fast_insert_back_one(e) else { return Ok(false) };
            let Some(values) =
                transition::attnums(td, &columns).and_then(|a| transition::single_values(td, false, &a))
            else {
                return Ok(false);
            };
            if values[..e.key.len()].iter().any(Option::is_none) {
                return Ok(false);
            }
            let args: Vec<Option<&str>> = values.iter().map(Option::as_deref).collect();
            write_back_one(e, target, plan(Plan::ReverseFastInsert), &sql, &args)
        }
        (true, false) if rows == 1 => {
            let (Some(sql), Some(key)) = (reverse_sql::fast_remove_back_one(e), cf_key(e, td, true)) else {
                return Ok(false);
            };
            let args: Vec<Option<&str>> = key.iter().map(|k| Some(k.as_str())).collect();
            Spi::connect_mut(|client| {
                owner::as_owner(&e.primary.schema, &e.primary.name, || {
                    run_with(client, plan(Plan::ReverseFastRemove), 1, &|| sql.clone(), &args, |_| Ok(()))
                })
            })?;
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// Runs a fast write of one legacy row (`key`'s plan of `sql` with `args`) as the legacy table's
/// owner; when it wrote the row (it returns the row's key as the rejects name it), drops that
/// row's rejects. Whether it wrote the row.
fn write_back_one(e: &Entity, target: &Target, key: Key, sql: &str, args: &[Option<&str>]) -> Result<bool> {
    Spi::connect_mut(|client| {
        let Some(legacy_id) = owner::as_owner(&e.primary.schema, &e.primary.name, || {
            run_with(client, key, 1, &|| sql.to_string(), args, |t| {
                Ok(if t.is_empty() { None } else { t.first().get::<String>(1)? })
            })
        })?
        else {
            return Ok(false);
        };
        let plan = Key { target: target.clone(), plan: Plan::ReverseFastClear };
        run_with(client, plan, 1, &|| reverse_sql::fast_clear_rejects_one(e), &[Some(&legacy_id)], |_| {
            Ok(())
        })?;
        Ok(true)
    })
}

/// The cf_ key of the one row of a statement on a cf_ table (from its old row with `old`), as text,
/// in key order; None when there is not exactly one row, or a key column is NULL.
fn cf_key(e: &Entity, td: &pg_sys::TriggerData, old: bool) -> Option<Vec<String>> {
    let keys: Vec<&str> = e.key.iter().map(|k| k.cf).collect();
    transition::single_values(td, old, &transition::attnums(td, &keys)?)?.into_iter().collect()
}

/// The freeze (phase legacy_frozen), a BEFORE statement trigger on each legacy table: refuses the
/// application's writes, lets the extension's own through. Argument: the table, as shown.
#[pg_trigger(sql = false)]
fn freeze_trigger<'a>(
    trigger: &'a PgTrigger<'a>,
) -> Result<Option<PgHeapTuple<'a, AllocatedByRust>>, PgTriggerError> {
    if guard::active() {
        return Ok(None);
    }
    let args = trigger.extra_args()?;
    let table = args.first().cloned().unwrap_or_default();
    Error::out_of_order(format!(
        "coreforge_sync: {table} is frozen by coreforge_sync (phase legacy_frozen): CoreForge is the source of truth"
    ))
    .detail("Writes go to the CoreForge tables, which coreforge_sync mirrors into this table.")
    .hint("To let the application write here again: SELECT cf_unfreeze_legacy(); (phase cutover).")
    .raise()
}
