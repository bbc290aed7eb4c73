//! Sync on every write: `cf_enable_sync()` / `cf_disable_sync()` and the trigger function.
//!
//! Each legacy table gets four statement-level AFTER triggers (INSERT, UPDATE, DELETE with
//! transition tables, and TRUNCATE). The trigger runs the entity's mirror statement
//! (`mirror.rs`) over the keys in the transition tables: one SPI call per statement, whatever
//! the number of rows, with a plan kept for the backend's lifetime for ordinary statements.

use crate::mapping::{self, Entity};
use crate::mirror::{
    lock_statement, needs_locks, probe, statement, OnError, Scope, FIRST_BACKFILL_LOCK, NEW_TABLE, OLD_TABLE,
};
use crate::{backfill, catalog, config, state};
use pgrx::prelude::*;
use pgrx::spi::{OwnedPreparedStatement, SpiClient};
use pgrx::{GucContext, GucFlags, GucRegistry, GucSetting, PostgresGucEnum};
use std::cell::RefCell;
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

/// (trigger name, event, transition tables it keeps: old, new).
const TRIGGERS: [(&str, &str, bool, bool); 4] = [
    ("coreforge_sync_insert", "INSERT", false, true),
    ("coreforge_sync_update", "UPDATE", true, true),
    ("coreforge_sync_delete", "DELETE", true, false),
    ("coreforge_sync_truncate", "TRUNCATE", false, false),
];

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
    run: impl FnOnce(&mut SpiClient<'_>, &OwnedPreparedStatement) -> R,
) -> R {
    PLANS.with(|plans| {
        let mut plans = plans.borrow_mut();
        if !plans.contains_key(&key) {
            let plan = client.prepare_mut(sql().as_str(), &[]).unwrap_or_else(|err| panic!("{err}")).keep();
            plans.insert(key.clone(), plan);
        }
        run(client, &plans[&key])
    })
}

/// Whether all four sync triggers are on the legacy table of `e` and enabled.
pub fn sync_enabled(e: &Entity) -> bool {
    Spi::get_one_with_args::<bool>(
        "SELECT pg_catalog.count(*) = 4 FROM pg_catalog.pg_trigger \
         WHERE tgrelid = pg_catalog.to_regclass($1) AND tgname LIKE 'coreforge\\_sync\\_%' AND tgenabled <> 'D'",
        &[e.primary.table().into()],
    )
    .ok()
    .flatten()
    .unwrap_or(false)
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

/// Drops every sync trigger, wherever it is (the configuration may be about to move a table).
pub fn drop_all_triggers() {
    let present: Vec<(String, String)> = Spi::connect(|client| {
        client
            .select(
                "SELECT t.tgname::text, t.tgrelid::regclass::text FROM pg_catalog.pg_trigger t \
                 JOIN pg_catalog.pg_proc p ON p.oid = t.tgfoid \
                 JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace \
                 WHERE n.nspname = 'coreforge_sync' AND p.proname = 'mirror_trigger'",
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
        install_triggers(e);
    }
}

fn install_triggers(e: &Entity) {
    drop_triggers(e);
    let generation = config::generation().to_string();
    for (name, event, old, new) in TRIGGERS {
        let mut referencing = String::new();
        if old {
            referencing.push_str(&format!(" OLD TABLE AS {OLD_TABLE}"));
        }
        if new {
            referencing.push_str(&format!(" NEW TABLE AS {NEW_TABLE}"));
        }
        if !referencing.is_empty() {
            referencing.insert_str(0, "REFERENCING");
        }
        Spi::run(&format!(
            "CREATE TRIGGER {name} AFTER {event} ON {table} {referencing} FOR EACH STATEMENT \
             EXECUTE FUNCTION coreforge_sync.mirror_trigger({entity}, {schema}, {generation})",
            table = e.primary.table(),
            entity = crate::sql::literal(e.name),
            schema = crate::sql::literal(&e.cf_schema),
            generation = crate::sql::literal(&generation),
        ))
        .expect("create trigger");
    }
}

fn drop_triggers(e: &Entity) {
    let present: Vec<String> = Spi::connect(|client| {
        client
            .select(
                "SELECT tgname::text FROM pg_catalog.pg_trigger \
                 WHERE tgrelid = pg_catalog.to_regclass($1) AND tgname LIKE 'coreforge\\_sync\\_%'",
                None,
                &[e.primary.table().into()],
            )
            .expect("read pg_trigger")
            .filter_map(|r| r.get::<String>(1).ok().flatten())
            .collect()
    });
    for name in present {
        Spi::run(&format!("DROP TRIGGER {} ON {}", crate::sql::ident(&name), e.primary.table()))
            .expect("drop trigger");
    }
}

/// Installs the sync triggers on users, tenants and tenant_members. Idempotent. Switching sync on
/// means CoreForge may have drifted meanwhile, so the next backfill is what makes it complete.
#[pg_extern]
#[search_path(pg_catalog, pg_temp)]
fn cf_enable_sync() -> String {
    let entities = all_entities();
    entities.iter().for_each(catalog::check_entity);
    let was_on = entities.iter().all(sync_enabled);
    for e in &entities {
        install_triggers(e);
    }
    if !was_on {
        state::forget_backfills();
    }
    let pairs: Vec<String> =
        entities.iter().map(|e| format!("{} -> {}", e.primary.display(), e.cf_display())).collect();
    format!("sync enabled: {}", pairs.join(", "))
}

/// Removes the sync triggers. The cf_ tables keep their rows; a later cf_enable_sync() must be
/// followed by a backfill to catch up with the writes made meanwhile.
#[pg_extern]
#[search_path(pg_catalog, pg_temp)]
fn cf_disable_sync() -> String {
    drop_all_triggers();
    state::forget_backfills();
    let tables: Vec<String> = mapping::ENTITY_NAMES.iter().map(|n| config::settings(n).table).collect();
    format!("sync disabled: {}", tables.join(", "))
}

/// The trigger function (created by sql/finalize.sql as SECURITY DEFINER with a fixed
/// search_path, so the application role needs no rights on the cf_ tables).
/// Arguments: the entity, the schema of the cf_ tables and the configuration generation.
#[pg_trigger(sql = false)]
fn mirror_trigger<'a>(
    trigger: &'a PgTrigger<'a>,
) -> Result<Option<PgHeapTuple<'a, AllocatedByRust>>, PgTriggerError> {
    let args = trigger.extra_args()?;
    let (Some(name), Some(schema), Some(generation)) = (args.first(), args.get(1), args.get(2)) else {
        error!("coreforge_sync.mirror_trigger needs three arguments: entity, CoreForge schema, generation");
    };
    if !mapping::ENTITY_NAMES.contains(&name.as_str()) {
        error!("coreforge_sync.mirror_trigger: unknown entity \"{name}\"");
    }
    let target = Target { entity: name.clone(), schema: schema.clone(), generation: generation.clone() };
    let e = target_entity(&target);
    let on_error = on_error();
    let td = trigger.trigger_data();
    let (old, new) = match trigger.op()? {
        PgTriggerOperation::Truncate => {
            backfill::reconcile(&e, on_error);
            return Ok(None);
        }
        PgTriggerOperation::Insert => (false, true),
        PgTriggerOperation::Update => (true, true),
        PgTriggerOperation::Delete => (true, false),
    };
    let table = if td.tg_newtable.is_null() { td.tg_oldtable } else { td.tg_newtable };
    // SAFETY: the transition table of the firing statement, valid for this call.
    let rows = if table.is_null() { 0 } else { unsafe { pg_sys::tuplestore_tuple_count(table) } };
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
            if rows > KEPT_PLAN_MAX_ROWS {
                client.update(sql().as_str(), None, &[]).unwrap_or_else(|err| panic!("{err}"));
            } else {
                with_plan(client, key(plan), sql, |client, plan| {
                    client.update(plan, None, &[]).unwrap_or_else(|err| panic!("{err}"));
                });
            }
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
        run(client, Plan::Mirror(scope, on_error), &|| statement(&e, scope, on_error));
        // Rows rejected because this statement's rows held their email or slug follow now, in a
        // statement of their own (they are not this write's rows: they are recorded, never raised).
        if retry {
            run(client, Plan::Mirror(Scope::Retry, OnError::Record), &|| {
                statement(&e, Scope::Retry, OnError::Record)
            });
        }
    });
    Ok(None)
}
