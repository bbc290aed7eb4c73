//! The extension's triggers as database objects: which are on which table, and putting them on
//! or taking them off as the phase wants (the trigger functions are in `actors/triggers.rs`).

use crate::db::config;
use crate::db::phase::Phase;
use crate::errors::Result;
use crate::mapping::Entity;
use crate::quote::{ident, literal};
use crate::sqlgen::mirror::{NEW_TABLE, OLD_TABLE};
use crate::sqlgen::triggers::changed;
use pgrx::prelude::*;

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

/// When a trigger fires, by `session_replication_role` (`pg_trigger.tgenabled`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Fires {
    /// In ordinary sessions (`origin`, `local`): the default of CREATE TRIGGER.
    Origin,
    /// Only under `replica`: logical replication's apply and table-sync workers, and a session
    /// that sets the role itself. Those fire row-level triggers only, never statement-level
    /// ones (TRUNCATE excepted), so the row triggers are this kind.
    Replica,
    /// In every session.
    Always,
}

impl Fires {
    fn tgenabled(self) -> &'static str {
        match self {
            Fires::Origin => "O",
            Fires::Replica => "R",
            Fires::Always => "A",
        }
    }
}

/// One trigger of a kind.
struct Spec {
    name: &'static str,
    when: &'static str,
    /// FOR EACH ROW (else FOR EACH STATEMENT).
    row: bool,
    /// The transition tables it keeps: old, new (statement triggers only).
    old: bool,
    new: bool,
    fires: Fires,
    /// An UPDATE trigger of `collect_trigger` (the row trigger, `WHEN` the columns the sync reads
    /// changed, gathers the rows; the statement trigger mirrors them), else one of the kind's
    /// function.
    collects: bool,
}

const fn statement(name: &'static str, when: &'static str, old: bool, new: bool, fires: Fires) -> Spec {
    Spec { name, when, row: false, old, new, fires, collects: false }
}

const fn replica_rows(name: &'static str) -> Spec {
    Spec {
        name,
        when: "AFTER INSERT OR UPDATE OR DELETE",
        row: true,
        old: false,
        new: false,
        fires: Fires::Replica,
        collects: false,
    }
}

/// The two UPDATE triggers: the rows changed (`name_rows`), then the statement (`name`).
const fn update_rows(name: &'static str) -> Spec {
    Spec { name, when: "AFTER UPDATE", row: true, old: false, new: false, fires: Fires::Origin, collects: true }
}

const fn update_statement(name: &'static str) -> Spec {
    Spec { name, when: "AFTER UPDATE", row: false, old: false, new: false, fires: Fires::Origin, collects: true }
}

const FORWARD: &[Spec] = &[
    statement("coreforge_sync_insert", "AFTER INSERT", false, true, Fires::Origin),
    update_rows("coreforge_sync_update_rows"),
    update_statement("coreforge_sync_update"),
    statement("coreforge_sync_delete", "AFTER DELETE", true, false, Fires::Origin),
    statement("coreforge_sync_truncate", "AFTER TRUNCATE", false, false, Fires::Always),
    replica_rows("coreforge_sync_replica"),
];

const REVERSE: &[Spec] = &[
    statement("coreforge_sync_reverse_insert", "AFTER INSERT", false, true, Fires::Origin),
    update_rows("coreforge_sync_reverse_update_rows"),
    update_statement("coreforge_sync_reverse_update"),
    statement("coreforge_sync_reverse_delete", "AFTER DELETE", true, false, Fires::Origin),
    statement("coreforge_sync_reverse_truncate", "AFTER TRUNCATE", false, false, Fires::Always),
    replica_rows("coreforge_sync_reverse_replica"),
];

/// The UPDATE trigger that keeps PostgreSQL's transition tables (`keeps_transition_tables`: on a
/// partitioned table, row triggers fire on its partitions, whose rows need not have its layout).
const FORWARD_PARTITIONED: Spec = statement("coreforge_sync_update", "AFTER UPDATE", true, true, Fires::Origin);
const REVERSE_PARTITIONED: Spec =
    statement("coreforge_sync_reverse_update", "AFTER UPDATE", true, true, Fires::Origin);

const FREEZE: &[Spec] =
    &[statement("coreforge_sync_freeze", "BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE", false, false, Fires::Origin)];

impl Kind {
    fn function(self) -> &'static str {
        match self {
            Kind::Forward => "mirror_trigger",
            Kind::Reverse => "reverse_trigger",
            Kind::Freeze => "freeze_trigger",
        }
    }

    /// Its triggers on its table of `e`. The sync triggers are statement-level, one per operation,
    /// with a row-level one for the sessions that fire row triggers only (`Fires::Replica`); an
    /// UPDATE's statement trigger gets its rows from a row trigger that fires only for the rows
    /// whose read columns changed (`update_rows`). The actors run one mechanism for all of them
    /// (`actors/triggers.rs`). TRUNCATE fires in every session.
    fn specs(self, e: &Entity) -> Result<Vec<&'static Spec>> {
        let all = match self {
            Kind::Forward => FORWARD,
            Kind::Reverse => REVERSE,
            Kind::Freeze => FREEZE,
        };
        if self == Kind::Freeze || !keeps_transition_tables(&self.table(e))? {
            return Ok(all.iter().collect());
        }
        let update = if self == Kind::Forward { &FORWARD_PARTITIONED } else { &REVERSE_PARTITIONED };
        Ok(all
            .iter()
            .filter(|s| !s.collects)
            .chain(std::iter::once(update))
            .collect())
    }

    /// The columns whose change an UPDATE trigger of this kind mirrors.
    fn columns_read(self, e: &Entity) -> Vec<&str> {
        match self {
            Kind::Reverse => e.cf_columns_read(),
            Kind::Forward | Kind::Freeze => e.legacy_columns_read(),
        }
    }

    /// The table the triggers of this kind sit on.
    fn table(self, e: &Entity) -> String {
        match self {
            Kind::Reverse => e.cf_table(),
            Kind::Forward | Kind::Freeze => e.primary.table(),
        }
    }

    /// The trigger function's arguments (`collect_trigger`'s also say which way it mirrors).
    fn args(self, e: &Entity, collects: bool) -> Result<String> {
        Ok(match self {
            Kind::Forward | Kind::Reverse => format!(
                "{}, {}, {}{}",
                literal(e.name()),
                literal(&e.cf_schema),
                literal(&config::generation()?.to_string()),
                match (collects, self) {
                    (false, _) => "",
                    (true, Kind::Reverse) => ", 'reverse'",
                    (true, _) => ", 'forward'",
                }
            ),
            Kind::Freeze => literal(&e.primary.display()),
        })
    }

    /// Whether the phase wants this kind armed.
    pub fn wanted(self, phase: Phase) -> bool {
        match self {
            Kind::Forward => matches!(phase, Phase::SideBySide | Phase::Cutover | Phase::LegacyFrozen),
            Kind::Reverse => matches!(phase, Phase::Cutover | Phase::LegacyFrozen),
            Kind::Freeze => phase == Phase::LegacyFrozen,
        }
    }
}

/// Whether the UPDATE trigger of `table` keeps PostgreSQL's transition tables: for a partitioned
/// table, and while the extension's objects are those of a release before 0.5.0 (the library is
/// updated before `ALTER EXTENSION coreforge_sync UPDATE` runs) that has no `collect_trigger`.
fn keeps_transition_tables(table: &str) -> Result<bool> {
    Ok(Spi::get_one_with_args::<bool>(
        "SELECT c.relkind OPERATOR(pg_catalog.=) 'p' \
             OR pg_catalog.to_regprocedure('coreforge_sync.collect_trigger()') IS NULL \
           FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) pg_catalog.to_regclass($1)",
        &[table.into()],
    )?
    .unwrap_or(false))
}

/// The triggers of `kind` on its table of `e`: (name, `tgenabled`).
fn present(kind: Kind, e: &Entity) -> Result<Vec<(String, String)>> {
    Spi::connect(|client| {
        Ok(client
            .select(
                "SELECT t.tgname::text, t.tgenabled::text FROM pg_catalog.pg_trigger t \
                 JOIN pg_catalog.pg_proc p ON p.oid = t.tgfoid \
                 JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace \
                 WHERE t.tgrelid = pg_catalog.to_regclass($1) AND n.nspname = 'coreforge_sync' \
                   AND p.proname IN ($2, $3)",
                None,
                &[
                    kind.table(e).into(),
                    kind.function().into(),
                    (if kind == Kind::Freeze { kind.function() } else { "collect_trigger" }).into(),
                ],
            )?
            .filter_map(|r| Some((r.get::<String>(1).ok().flatten()?, r.get::<String>(2).ok().flatten()?)))
            .collect())
    })
}

/// Whether every trigger of `kind` is on its table of `e`, and fires as it was made to (a trigger
/// disabled by hand, or set to fire in other sessions, is not armed).
fn armed(kind: Kind, e: &Entity) -> Result<bool> {
    let triggers = present(kind, e)?;
    Ok(kind
        .specs(e)?
        .iter()
        .all(|spec| triggers.iter().any(|(n, fires)| n == spec.name && fires == spec.fires.tgenabled())))
}

/// Whether all the sync triggers are on the legacy table of `e` and enabled.
pub fn sync_enabled(e: &Entity) -> Result<bool> {
    armed(Kind::Forward, e)
}

/// Whether sync is on for any entity (cf_configure() reinstalls the triggers when it is).
pub fn any_sync_enabled() -> Result<bool> {
    Ok(Spi::get_one::<bool>(
        "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_proc p ON p.oid = t.tgfoid \
         JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace \
         WHERE n.nspname = 'coreforge_sync' AND p.proname = 'mirror_trigger')",
    )?
    .unwrap_or(false))
}

/// Drops every trigger of the extension, wherever it is (the configuration may be about to move
/// a table).
pub fn drop_all_triggers() -> Result<()> {
    let present: Vec<(String, String)> = Spi::connect(|client| -> Result<_> {
        Ok(client
            .select(
                "SELECT t.tgname::text, t.tgrelid::regclass::text FROM pg_catalog.pg_trigger t \
                 JOIN pg_catalog.pg_proc p ON p.oid = t.tgfoid \
                 JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace \
                 WHERE n.nspname = 'coreforge_sync' \
                   AND p.proname IN ('mirror_trigger', 'reverse_trigger', 'freeze_trigger', 'collect_trigger')",
                None,
                &[],
            )?
            .filter_map(|r| Some((r.get::<String>(1).ok().flatten()?, r.get::<String>(2).ok().flatten()?)))
            .collect())
    })?;
    for (name, table) in present {
        Spi::run(&format!("DROP TRIGGER {} ON {table}", ident(&name)))?;
    }
    Ok(())
}

/// Installs the sync triggers of every entity under the current configuration.
pub fn install_all_triggers() -> Result<()> {
    for e in &config::entities()? {
        install(Kind::Forward, e)?;
    }
    Ok(())
}

/// (Re)creates the triggers of `kind` on its table of `e`.
pub fn install(kind: Kind, e: &Entity) -> Result<()> {
    remove(kind, e)?;
    let table = kind.table(e);
    let changed = changed(&kind.columns_read(e));
    for spec in kind.specs(e)? {
        let mut referencing = String::new();
        if spec.old {
            referencing.push_str(&format!(" OLD TABLE AS {OLD_TABLE}"));
        }
        if spec.new {
            referencing.push_str(&format!(" NEW TABLE AS {NEW_TABLE}"));
        }
        if !referencing.is_empty() {
            referencing.insert_str(0, "REFERENCING");
        }
        let condition = if spec.collects && spec.row { format!("WHEN ({changed})") } else { String::new() };
        Spi::run(&format!(
            "CREATE TRIGGER {name} {when} ON {table} {referencing} FOR EACH {level} {condition} \
             EXECUTE FUNCTION coreforge_sync.{function}({args})",
            name = spec.name,
            when = spec.when,
            level = if spec.row { "ROW" } else { "STATEMENT" },
            function = if spec.collects { "collect_trigger" } else { kind.function() },
            args = kind.args(e, spec.collects)?,
        ))?;
        match spec.fires {
            Fires::Origin => {}
            Fires::Replica => Spi::run(&format!("ALTER TABLE {table} ENABLE REPLICA TRIGGER {}", spec.name))?,
            Fires::Always => Spi::run(&format!("ALTER TABLE {table} ENABLE ALWAYS TRIGGER {}", spec.name))?,
        }
    }
    Ok(())
}

/// Drops the triggers of `kind` from its table of `e`.
fn remove(kind: Kind, e: &Entity) -> Result<()> {
    for (name, _) in present(kind, e)? {
        Spi::run(&format!("DROP TRIGGER {} ON {}", ident(&name), kind.table(e)))?;
    }
    Ok(())
}

/// Puts the triggers `phase` wants on the tables of `entities`, and takes the others off: the
/// forward mirror until archived, the reverse mirror from cutover, the freeze in legacy_frozen.
/// Triggers already in place stay as they are.
pub fn arm(phase: Phase, entities: &[Entity]) -> Result<()> {
    for kind in [Kind::Forward, Kind::Reverse, Kind::Freeze] {
        for e in entities {
            if !kind.wanted(phase) {
                remove(kind, e)?;
            } else if !armed(kind, e)? {
                install(kind, e)?;
            }
        }
    }
    Ok(())
}
