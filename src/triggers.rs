//! Sync on every write: `cf_enable_sync()` / `cf_disable_sync()` and the trigger function.
//!
//! Each legacy table gets four statement-level AFTER triggers (INSERT, UPDATE, DELETE with
//! transition tables, and TRUNCATE). The trigger runs the entity's mirror statement
//! (`mirror.rs`) over the keys in the transition tables: one SPI call per statement, whatever
//! the number of rows, with a plan kept for the backend's lifetime for ordinary statements.

use crate::mapping::{entity, Entity, ENTITY_NAMES};
use crate::mirror::{
    lock_statement, needs_locks, probe, statement, Scope, FIRST_BACKFILL_LOCK, NEW_TABLE, OLD_TABLE,
};
use crate::{backfill, catalog, state};
use pgrx::prelude::*;
use pgrx::spi::{OwnedPreparedStatement, SpiClient};
use std::cell::RefCell;
use std::collections::HashMap;

/// Statements touching up to this many rows run a kept plan; bigger ones are planned afresh,
/// so that a plan made for one row is never used for a million (or the reverse).
const KEPT_PLAN_MAX_ROWS: i64 = 1000;

/// (trigger name, event, transition tables it keeps: old, new).
const TRIGGERS: [(&str, &str, bool, bool); 4] = [
    ("coreforge_sync_insert", "INSERT", false, true),
    ("coreforge_sync_update", "UPDATE", true, true),
    ("coreforge_sync_delete", "DELETE", true, false),
    ("coreforge_sync_truncate", "TRUNCATE", false, false),
];

/// A kept plan: which statement, for which entity and cf_ schema.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Key {
    schema: String,
    entity: &'static str,
    plan: Plan,
}

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Plan {
    Probe { old: bool, new: bool },
    Lock(Scope),
    Mirror(Scope),
}

thread_local! {
    static PLANS: RefCell<HashMap<Key, OwnedPreparedStatement>> = RefCell::new(HashMap::new());
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
    let schema = state::cf_schema();
    ENTITY_NAMES.iter().map(|n| entity(n, &schema).expect("known entity")).collect()
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
        drop_triggers(e);
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
                 EXECUTE FUNCTION coreforge_sync.mirror_trigger({entity}, {schema})",
                table = e.primary.table(),
                entity = crate::sql::literal(e.name),
                schema = crate::sql::literal(&e.cf_schema),
            ))
            .expect("create trigger");
        }
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
    let entities = all_entities();
    entities.iter().for_each(drop_triggers);
    state::forget_backfills();
    let tables: Vec<String> = entities.iter().map(|e| e.primary.display()).collect();
    format!("sync disabled: {}", tables.join(", "))
}

/// The trigger function (created by sql/finalize.sql as SECURITY DEFINER with a fixed
/// search_path, so the application role needs no rights on the cf_ tables).
/// Arguments: the entity and the schema of the cf_ tables.
#[pg_trigger(sql = false)]
fn mirror_trigger<'a>(
    trigger: &'a PgTrigger<'a>,
) -> Result<Option<PgHeapTuple<'a, AllocatedByRust>>, PgTriggerError> {
    let args = trigger.extra_args()?;
    let (Some(name), Some(schema)) = (args.first(), args.get(1)) else {
        error!("coreforge_sync.mirror_trigger needs two arguments: entity and CoreForge schema");
    };
    let Some(e) = entity(name, schema) else {
        error!("coreforge_sync.mirror_trigger: unknown entity \"{name}\"");
    };
    let td = trigger.trigger_data();
    let (old, new) = match trigger.op()? {
        PgTriggerOperation::Truncate => {
            backfill::reconcile(&e);
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
        let probe_key = Key { schema: e.cf_schema.clone(), entity: e.name, plan: Plan::Probe { old, new } };
        let (remove, cascade, settled) = with_plan(
            client,
            probe_key,
            || probe(&e, old, new),
            |client, plan| {
                let row = client.update(plan, None, &[]).unwrap_or_else(|err| panic!("{err}"));
                let (r, c, s) =
                    row.first().get_three::<bool, bool, bool>().unwrap_or_else(|err| panic!("{err}"));
                (r.unwrap_or(true), c.unwrap_or(true), s.unwrap_or(false))
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
        let scope = Scope::Statement { old, new, remove, cascade };
        let key = |plan| Key { schema: e.cf_schema.clone(), entity: e.name, plan };
        let run = |client: &mut SpiClient<'_>, plan: Plan, sql: &dyn Fn() -> String| {
            if rows > KEPT_PLAN_MAX_ROWS {
                client.update(sql().as_str(), None, &[]).unwrap_or_else(|err| panic!("{err}"));
            } else {
                with_plan(client, key(plan), sql, |client, plan| {
                    client.update(plan, None, &[]).unwrap_or_else(|err| panic!("{err}"));
                });
            }
        };
        // First the locks (they may wait for other writers), then the mirror statement, whose
        // fresh snapshot sees the newest versions of the rows now locked.
        if needs_locks(&e, scope) {
            run(client, Plan::Lock(scope), &|| lock_statement(&e, scope));
        }
        run(client, Plan::Mirror(scope), &|| statement(&e, scope));
    });
    Ok(None)
}
