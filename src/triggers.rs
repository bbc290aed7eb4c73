//! Sync on every write: `cf_enable_sync()` / `cf_disable_sync()` and the trigger function.
//!
//! Each legacy table gets four statement-level AFTER triggers (INSERT, UPDATE, DELETE with
//! transition tables, and TRUNCATE). The trigger runs the entity's mirror statement
//! (`mirror.rs`) over the keys in the transition tables: one SPI call per statement, whatever
//! the number of rows, with a plan kept for the backend's lifetime for ordinary statements.

use crate::mapping::{self, Entity};
use crate::mirror::{
    lock_statement, needs_locks, probe, statement, OnError, Scope, BOOKKEEPING, FIRST_BACKFILL_LOCK, NEW_TABLE,
    OLD_TABLE,
};
use crate::errors::fail;
use crate::owner::{self, Write};
use crate::phases::{self, Phase};
use crate::{backfill, catalog, config, guard, reverse, state};
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

/// Statements writing up to this many rows lock the emails and slugs they write before they
/// mirror (see `mirror::probe`); bigger ones do not, to keep clear of the lock table's limits.
const VALUE_LOCKS_MAX_ROWS: i64 = 64;

/// The extension's three kinds of trigger.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    /// Legacy -> CoreForge, on the legacy tables (`mirror_trigger`): from sync on until archived.
    Forward,
    /// CoreForge -> legacy, on the cf_ tables (`reverse_trigger`): from cutover until archived.
    Reverse,
    /// Refuses the application's writes to the legacy tables (`freeze_trigger`): legacy_frozen.
    Freeze,
}

/// (trigger name, when, transition tables it keeps: old, new).
type Spec = (&'static str, &'static str, bool, bool);

impl Kind {
    fn function(self) -> &'static str {
        match self {
            Kind::Forward => "mirror_trigger",
            Kind::Reverse => "reverse_trigger",
            Kind::Freeze => "freeze_trigger",
        }
    }

    fn specs(self) -> &'static [Spec] {
        match self {
            Kind::Forward => &[
                ("coreforge_sync_insert", "AFTER INSERT", false, true),
                ("coreforge_sync_update", "AFTER UPDATE", true, true),
                ("coreforge_sync_delete", "AFTER DELETE", true, false),
                ("coreforge_sync_truncate", "AFTER TRUNCATE", false, false),
            ],
            Kind::Reverse => &[
                ("coreforge_sync_reverse_insert", "AFTER INSERT", false, true),
                ("coreforge_sync_reverse_update", "AFTER UPDATE", true, true),
                ("coreforge_sync_reverse_delete", "AFTER DELETE", true, false),
                ("coreforge_sync_reverse_truncate", "AFTER TRUNCATE", false, false),
            ],
            Kind::Freeze => &[("coreforge_sync_freeze", "BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE", false, false)],
        }
    }

    /// The table the triggers of this kind sit on.
    fn table(self, e: &Entity) -> String {
        match self {
            Kind::Reverse => e.cf_table(),
            Kind::Forward | Kind::Freeze => e.primary.table(),
        }
    }

    /// The trigger function's arguments.
    fn args(self, e: &Entity) -> String {
        match self {
            Kind::Forward | Kind::Reverse => format!(
                "{}, {}, {}",
                crate::sql::literal(e.name),
                crate::sql::literal(&e.cf_schema),
                crate::sql::literal(&config::generation().to_string())
            ),
            Kind::Freeze => crate::sql::literal(&e.primary.display()),
        }
    }

    /// Whether the phase wants this kind armed.
    fn wanted(self, phase: Phase) -> bool {
        match self {
            Kind::Forward => matches!(phase, Phase::SideBySide | Phase::Cutover | Phase::LegacyFrozen),
            Kind::Reverse => matches!(phase, Phase::Cutover | Phase::LegacyFrozen),
            Kind::Freeze => phase == Phase::LegacyFrozen,
        }
    }
}

/// What a trigger's statements are built from: the entity, the cf_ schema and the configuration
/// generation (all three are the trigger's arguments, so a configuration change, which reinstalls
/// the triggers, makes every backend build anew).
#[derive(Clone, PartialEq, Eq, Hash)]
struct Target {
    entity: String,
    schema: String,
    generation: String,
}

/// A kept plan: which statement, for which target.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Key {
    target: Target,
    plan: Plan,
}

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Plan {
    Probe { old: bool, new: bool, lock_values: bool },
    Assign,
    Lock(Scope),
    Mirror(Scope, OnError),
    Bookkeeping,
    /// A step (0 read, 1 write, 2 after: `owner::Write`) of a reverse write.
    Reverse(ReverseWrite, u8),
}

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum ReverseWrite {
    Assign,
    /// Part `part` of `reverse::statement(old, new)`.
    Statement { old: bool, new: bool, part: usize },
    Revived,
}

thread_local! {
    static PLANS: RefCell<HashMap<Key, OwnedPreparedStatement>> = RefCell::new(HashMap::new());
    static ENTITIES: RefCell<HashMap<Target, Rc<Entity>>> = RefCell::new(HashMap::new());
}

/// The entity of a trigger, built once per backend and target.
fn target_entity(target: &Target) -> Rc<Entity> {
    if let Some(e) = ENTITIES.with(|m| m.borrow().get(target).cloned()) {
        return e;
    }
    let e = Rc::new(mapping::entity(&target.entity, &target.schema));
    ENTITIES.with(|m| m.borrow_mut().insert(target.clone(), e.clone()));
    e
}

/// Runs `run` with the backend's kept plan for `key`, preparing it from `sql()` the first time.
fn with_plan<R>(
    client: &mut SpiClient<'_>,
    key: Key,
    sql: impl FnOnce() -> String,
    args: &[PgOid],
    run: impl FnOnce(&mut SpiClient<'_>, &OwnedPreparedStatement) -> R,
) -> R {
    PLANS.with(|plans| {
        let mut plans = plans.borrow_mut();
        if !plans.contains_key(&key) {
            let plan = client.prepare_mut(sql().as_str(), args).unwrap_or_else(|err| panic!("{err}")).keep();
            plans.insert(key.clone(), plan);
        }
        run(client, &plans[&key])
    })
}

/// The triggers of `kind` on its table of `e`, by name, and whether each fires (enabled, for
/// origin or always; a disabled or replica-only trigger does not).
fn present(kind: Kind, e: &Entity) -> Vec<(String, bool)> {
    Spi::connect(|client| {
        client
            .select(
                "SELECT t.tgname::text, t.tgenabled IN ('O', 'A') FROM pg_catalog.pg_trigger t \
                 JOIN pg_catalog.pg_proc p ON p.oid = t.tgfoid \
                 JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace \
                 WHERE t.tgrelid = pg_catalog.to_regclass($1) AND n.nspname = 'coreforge_sync' AND p.proname = $2",
                None,
                &[kind.table(e).into(), kind.function().into()],
            )
            .expect("read pg_trigger")
            .filter_map(|r| Some((r.get::<String>(1).ok().flatten()?, r.get::<bool>(2).ok().flatten()?)))
            .collect()
    })
}

/// Whether every trigger of `kind` is on its table of `e`, and fires.
fn armed(kind: Kind, e: &Entity) -> bool {
    let triggers = present(kind, e);
    kind.specs().iter().all(|(name, ..)| triggers.iter().any(|(n, fires)| n == name && *fires))
}

/// Whether all four sync triggers are on the legacy table of `e` and enabled.
pub fn sync_enabled(e: &Entity) -> bool {
    armed(Kind::Forward, e)
}

fn all_entities() -> Vec<Entity> {
    mapping::all(&state::cf_schema())
}

/// Whether sync is on for any entity (cf_configure() reinstalls the triggers when it is).
pub fn any_sync_enabled() -> bool {
    Spi::get_one::<bool>(
        "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_proc p ON p.oid = t.tgfoid \
         JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace \
         WHERE n.nspname = 'coreforge_sync' AND p.proname = 'mirror_trigger')",
    )
    .ok()
    .flatten()
    .unwrap_or(false)
}

/// Drops every trigger of the extension, wherever it is (the configuration may be about to move
/// a table).
pub fn drop_all_triggers() {
    let present: Vec<(String, String)> = Spi::connect(|client| {
        client
            .select(
                "SELECT t.tgname::text, t.tgrelid::regclass::text FROM pg_catalog.pg_trigger t \
                 JOIN pg_catalog.pg_proc p ON p.oid = t.tgfoid \
                 JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace \
                 WHERE n.nspname = 'coreforge_sync' \
                   AND p.proname IN ('mirror_trigger', 'reverse_trigger', 'freeze_trigger')",
                None,
                &[],
            )
            .expect("read pg_trigger")
            .filter_map(|r| Some((r.get::<String>(1).ok().flatten()?, r.get::<String>(2).ok().flatten()?)))
            .collect()
    });
    for (name, table) in present {
        Spi::run(&format!("DROP TRIGGER {} ON {table}", crate::sql::ident(&name))).expect("drop trigger");
    }
}

/// Installs the sync triggers of every entity under the current configuration.
pub fn install_all_triggers() {
    let entities = all_entities();
    entities.iter().for_each(catalog::check_entity);
    for e in &entities {
        install(Kind::Forward, e);
    }
}

/// (Re)creates the triggers of `kind` on its table of `e`.
fn install(kind: Kind, e: &Entity) {
    remove(kind, e);
    let table = kind.table(e);
    for (name, when, old, new) in kind.specs() {
        let mut referencing = String::new();
        if *old {
            referencing.push_str(&format!(" OLD TABLE AS {OLD_TABLE}"));
        }
        if *new {
            referencing.push_str(&format!(" NEW TABLE AS {NEW_TABLE}"));
        }
        if !referencing.is_empty() {
            referencing.insert_str(0, "REFERENCING");
        }
        Spi::run(&format!(
            "CREATE TRIGGER {name} {when} ON {table} {referencing} FOR EACH STATEMENT \
             EXECUTE FUNCTION coreforge_sync.{function}({args})",
            function = kind.function(),
            args = kind.args(e),
        ))
        .expect("create trigger");
    }
}

/// Drops the triggers of `kind` from its table of `e`.
fn remove(kind: Kind, e: &Entity) {
    for (name, _) in present(kind, e) {
        Spi::run(&format!("DROP TRIGGER {} ON {}", crate::sql::ident(&name), kind.table(e)))
            .expect("drop trigger");
    }
}

/// Puts the triggers `phase` wants on the tables of `entities`, and takes the others off: the
/// forward mirror until archived, the reverse mirror from cutover, the freeze in legacy_frozen.
/// Triggers already in place stay as they are.
pub fn arm(phase: Phase, entities: &[Entity]) {
    for kind in [Kind::Forward, Kind::Reverse, Kind::Freeze] {
        for e in entities {
            if !kind.wanted(phase) {
                remove(kind, e);
            } else if !armed(kind, e) {
                install(kind, e);
            }
        }
    }
}

/// Installs the sync triggers on users, tenants and tenant_members. Idempotent. Switching sync on
/// means CoreForge may have drifted meanwhile, so the next backfill is what makes it complete.
#[pg_extern]
#[search_path(pg_catalog, pg_temp)]
fn cf_enable_sync() -> String {
    crate::privileges::authorize("run cf_enable_sync()");
    let phase = phases::current_shared();
    if !Kind::Forward.wanted(phase) {
        fail(
            &format!("coreforge_sync: there are no legacy tables to sync in phase {phase}"),
            None,
            Some(phase.hint()),
        );
    }
    let entities = all_entities();
    entities.iter().for_each(catalog::check_entity);
    crate::privileges::require_mirror_rights(&entities);
    let was_on = entities.iter().all(sync_enabled);
    for e in &entities {
        install(Kind::Forward, e);
    }
    arm(phase, &entities);
    if !was_on {
        state::forget_backfills();
    }
    let pairs: Vec<String> =
        entities.iter().map(|e| format!("{} -> {}", e.primary.display(), e.cf_display())).collect();
    format!("sync enabled: {}", pairs.join(", "))
}

/// Removes the sync triggers. The cf_ tables keep their rows; a later cf_enable_sync() must be
/// followed by a backfill to catch up with the writes made meanwhile. Phase side_by_side only:
/// from cutover on, the sync is what keeps rollback possible.
#[pg_extern]
#[search_path(pg_catalog, pg_temp)]
fn cf_disable_sync() -> String {
    crate::privileges::authorize("run cf_disable_sync()");
    phases::require_side_by_side("switch sync off");
    drop_all_triggers();
    state::forget_backfills();
    let tables: Vec<String> = mapping::ENTITY_NAMES.iter().map(|n| config::settings(n).table).collect();
    format!("sync disabled: {}", tables.join(", "))
}

/// Runs a trigger's statement: with the backend's kept plan for `key`, or planned afresh for a
/// statement of more than [`KEPT_PLAN_MAX_ROWS`] rows.
fn run_statement(client: &mut SpiClient<'_>, key: Key, rows: i64, sql: &dyn Fn() -> String) {
    run_with(client, key, rows, sql, None, |_| ());
}

/// [`run_statement`] with one text argument, if given, and a reader of the result.
fn run_with<R>(
    client: &mut SpiClient<'_>,
    key: Key,
    rows: i64,
    sql: &dyn Fn() -> String,
    arg: Option<&str>,
    read: impl FnOnce(SpiTupleTable<'_>) -> R,
) -> R {
    let args: Vec<DatumWithOid> = arg.map(|a| a.into()).into_iter().collect();
    let types: Vec<PgOid> = arg.map(|_| PgOid::BuiltIn(PgBuiltInOids::TEXTOID)).into_iter().collect();
    if rows > KEPT_PLAN_MAX_ROWS {
        read(client.update(sql().as_str(), None, &args).unwrap_or_else(|err| panic!("{err}")))
    } else {
        with_plan(client, key, sql, &types, |client, plan| {
            read(client.update(plan, None, &args).unwrap_or_else(|err| panic!("{err}")))
        })
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
) {
    let built: OnceCell<Write> = OnceCell::new();
    owner::run_steps(&e.primary.schema, &e.primary.name, || built.get_or_init(build), |i, sql, arg| {
        run_with(client, key(i), rows, sql, arg, owner::written)
    });
}

/// The (entity, cf_ schema, generation) arguments of a forward or reverse trigger.
fn trigger_target(trigger: &PgTrigger<'_>) -> Result<Target, PgTriggerError> {
    let args = trigger.extra_args()?;
    let (Some(name), Some(schema), Some(generation)) = (args.first(), args.get(1), args.get(2)) else {
        error!("coreforge_sync: a sync trigger needs three arguments: entity, CoreForge schema, generation");
    };
    if !mapping::ENTITY_NAMES.contains(&name.as_str()) {
        error!("coreforge_sync: a sync trigger names an unknown entity \"{name}\"");
    }
    Ok(Target { entity: name.clone(), schema: schema.clone(), generation: generation.clone() })
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

/// The trigger function (created by sql/finalize.sql as SECURITY DEFINER with a fixed
/// search_path, so the application role needs no rights on the cf_ tables).
/// Arguments: the entity, the schema of the cf_ tables and the configuration generation.
#[pg_trigger(sql = false)]
fn mirror_trigger<'a>(
    trigger: &'a PgTrigger<'a>,
) -> Result<Option<PgHeapTuple<'a, AllocatedByRust>>, PgTriggerError> {
    if guard::active() {
        // The legacy rows were written by the reverse mirror: CoreForge already holds them.
        return Ok(None);
    }
    let target = trigger_target(trigger)?;
    let e = target_entity(&target);
    let on_error = on_error();
    let _guard = guard::Mirroring::begin();
    let (old, new) = match trigger.op()? {
        PgTriggerOperation::Truncate => {
            backfill::reconcile(&e, on_error);
            return Ok(None);
        }
        PgTriggerOperation::Insert => (false, true),
        PgTriggerOperation::Update => (true, true),
        PgTriggerOperation::Delete => (true, false),
    };
    let td = trigger.trigger_data();
    let rows = transition_rows(td);
    if rows == 0 {
        return Ok(None);
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
            || probe(&e, old, new, lock_values),
            &[],
            |client, plan| {
                let row = client.update(plan, None, &[]).unwrap_or_else(|err| panic!("{err}"));
                let row = row.first();
                let get = |i| row.get::<bool>(i).unwrap_or_else(|err| panic!("{err}"));
                (
                    get(1).unwrap_or(true),
                    get(2).unwrap_or(true),
                    get(3).unwrap_or(false),
                    get(4).unwrap_or(true),
                    get(5).unwrap_or(true),
                )
            },
        );
        if !settled {
            // This statement may leave memberships for the backfill: hold the lock that makes the
            // backfill wait for this transaction (or, if the backfill holds it, wait for the
            // backfill and then see its rows: the mirror statement below takes a new snapshot).
            client
                .update(
                    &format!("SELECT pg_catalog.pg_advisory_xact_lock_shared({FIRST_BACKFILL_LOCK})"),
                    None,
                    &[],
                )
                .unwrap_or_else(|err| panic!("{err}"));
        }
        let scope = Scope::Statement { old, new, remove, cascade, clear };
        let run = |client: &mut SpiClient<'_>, plan: Plan, sql: &dyn Fn() -> String| {
            run_statement(client, key(plan), rows, sql)
        };
        // New legacy ids get their CoreForge ids (mapped ids only); then the locks (they may wait
        // for other writers); then the mirror statement, whose fresh snapshot sees the newest
        // versions of the rows now locked.
        if new {
            if let Some(assign) = crate::ids::assign_statement(&e.primary, NEW_TABLE, false) {
                run(client, Plan::Assign, &|| assign.clone());
            }
        }
        if needs_locks(&e, scope) {
            run(client, Plan::Lock(scope), &|| lock_statement(&e, scope));
        }
        // The mirror writes the cf_ table with its owner's rights, the rejects with the extension's.
        let mirror = |client: &mut SpiClient<'_>, scope: Scope, on_error: OnError| {
            let sql = || statement(&e, scope, on_error);
            let book = owner::as_owner(&e.cf_schema, e.cf_name, || {
                run_with(client, key(Plan::Mirror(scope, on_error)), rows, &sql, None, |t| backfill::counted(t).1)
            });
            if let Some(book) = book {
                run_with(client, key(Plan::Bookkeeping), rows, &|| BOOKKEEPING.to_string(), Some(&book), |_| ());
            }
        };
        mirror(client, scope, on_error);
        // Rows rejected because this statement's rows held their email or slug follow now, in a
        // statement of their own (they are not this write's rows: they are recorded, never raised).
        if retry {
            mirror(client, Scope::Retry, OnError::Record);
        }
    });
    Ok(None)
}

/// The reverse trigger on the cf_ tables, from cutover on (created by sql/finalize.sql as SECURITY
/// DEFINER with a fixed search_path): writes the statement's rows back into the legacy table
/// (`reverse.rs`). Arguments as for `mirror_trigger`. A legacy table that cannot take a row fails
/// the CoreForge write: the legacy side must hold every row for rollback to stay possible.
#[pg_trigger(sql = false)]
fn reverse_trigger<'a>(
    trigger: &'a PgTrigger<'a>,
) -> Result<Option<PgHeapTuple<'a, AllocatedByRust>>, PgTriggerError> {
    if guard::active() {
        // The cf_ rows were written by the forward mirror: the legacy side already holds them.
        return Ok(None);
    }
    let target = trigger_target(trigger)?;
    let e = target_entity(&target);
    let _guard = guard::Mirroring::begin();
    let (old, new) = match trigger.op()? {
        PgTriggerOperation::Truncate => {
            reverse::remove_back(&e);
            return Ok(None);
        }
        PgTriggerOperation::Insert => (false, true),
        PgTriggerOperation::Update => (true, true),
        PgTriggerOperation::Delete => (true, false),
    };
    let td = trigger.trigger_data();
    let rows = transition_rows(td);
    if rows == 0 {
        return Ok(None);
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
        if new && e.primary.map.is_some() {
            run(client, ReverseWrite::Assign, &e, &|| {
                reverse::assign_write(&e, NEW_TABLE).expect("cf_cutover checked the legacy id's default")
            });
        }
        // The statement's parts: the upsert of its new rows, the removal of the keys it took away.
        let parts = usize::from(new) + usize::from(old);
        for part in 0..parts {
            run(client, ReverseWrite::Statement { old, new, part }, &e, &|| {
                reverse::statement(&e, old, new).swap_remove(part)
            });
        }
        // Only an insert can bring a soft-deleted legacy row back (an update finds no cf_ row
        // whose legacy row is soft-deleted: the forward mirror removed it).
        if new && !old && e.name != "memberships" {
            let memberships = target_entity(&Target { entity: "memberships".into(), ..target.clone() });
            if memberships.parent(e.name).is_some() {
                run(client, ReverseWrite::Revived, &memberships, &|| {
                    reverse::revived_dependents_write(&memberships, &e, NEW_TABLE).expect("checked above")
                });
            }
        }
    });
    Ok(None)
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
    fail(
        &format!("coreforge_sync: {table} is frozen by coreforge_sync (phase legacy_frozen): CoreForge is the source of truth"),
        Some("Writes go to the CoreForge tables, which coreforge_sync mirrors into this table."),
        Some("To let the application write here again: SELECT cf_unfreeze_legacy(); (phase cutover)."),
    )
}
