//! The extension's triggers as database objects: which are on which table, and putting them on
//! or taking them off as the phase wants (the trigger functions are in `actors/triggers.rs`).

use crate::db::config;
use crate::db::phase::Phase;
use crate::errors::Result;
use crate::mapping::Entity;
use crate::quote::{ident, literal};
use crate::sqlgen::mirror::{NEW_TABLE, OLD_TABLE};
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
}

const fn statement(name: &'static str, when: &'static str, old: bool, new: bool, fires: Fires) -> Spec {
    Spec { name, when, row: false, old, new, fires }
}

const fn replica_rows(name: &'static str) -> Spec {
    Spec {
        name,
        when: "AFTER INSERT OR UPDATE OR DELETE",
        row: true,
        old: false,
        new: false,
        fires: Fires::Replica,
    }
}

const FORWARD: &[Spec] = &[
    statement("coreforge_sync_insert", "AFTER INSERT", false, true, Fires::Origin),
    statement("coreforge_sync_update", "AFTER UPDATE", true, true, Fires::Origin),
    statement("coreforge_sync_delete", "AFTER DELETE", true, false, Fires::Origin),
    statement("coreforge_sync_truncate", "AFTER TRUNCATE", false, false, Fires::Always),
    replica_rows("coreforge_sync_replica"),
];

const REVERSE: &[Spec] = &[
    statement("coreforge_sync_reverse_insert", "AFTER INSERT", false, true, Fires::Origin),
    statement("coreforge_sync_reverse_update", "AFTER UPDATE", true, true, Fires::Origin),
    statement("coreforge_sync_reverse_delete", "AFTER DELETE", true, false, Fires::Origin),
    statement("coreforge_sync_reverse_truncate", "AFTER TRUNCATE", false, false, Fires::Always),
    replica_rows("coreforge_sync_reverse_replica"),
];

const FREEZE: &[Spec] = &[statement(
    "coreforge_sync_freeze",
    "BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE",
    false,
    false,
    Fires::Origin,
)];

impl Kind {
    fn function(self) -> &'static str {
        match self {
            Kind::Forward => "mirror_trigger",
            Kind::Reverse => "reverse_trigger",
            Kind::Freeze => "freeze_trigger",
        }
    }

    /// Its triggers. The sync triggers are statement-level, one per operation, with a row-level
    /// one for the sessions that fire row triggers only (`Fires::Replica`); the actors run one
    /// mechanism for both (`actors/triggers.rs`). TRUNCATE fires in every session.
    fn specs(self) -> &'static [Spec] {
        match self {
            Kind::Forward => FORWARD,
            Kind::Reverse => REVERSE,
            Kind::Freeze => FREEZE,
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
    fn args(self, e: &Entity) -> Result<String> {
        Ok(match self {
            Kind::Forward | Kind::Reverse => format!(
                "{}, {}, {}",
                literal(e.name()),
                literal(&e.cf_schema),
                literal(&config::generation()?.to_string())
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

/// The triggers of `kind` on its table of `e`: (name, `tgenabled`).
fn present(kind: Kind, e: &Entity) -> Result<Vec<(String, String)>> {
    Spi::connect(|client| {
        Ok(client
            .select(
                "SELECT t.tgname::text, t.tgenabled::text FROM pg_catalog.pg_trigger t \
                 JOIN pg_catalog.pg_proc p ON p.oid = t.tgfoid \
                 JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace \
                 WHERE t.tgrelid = pg_catalog.to_regclass($1) AND n.nspname = 'coreforge_sync' AND p.proname = $2",
                None,
                &[kind.table(e).into(), kind.function().into()],
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
        .specs()
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
                   AND p.proname IN ('mirror_trigger', 'reverse_trigger', 'freeze_trigger')",
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
    for spec in kind.specs() {
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
        Spi::run(&format!(
            "CREATE TRIGGER {name} {when} ON {table} {referencing} FOR EACH {level} \
             EXECUTE FUNCTION coreforge_sync.{function}({args})",
            name = spec.name,
            when = spec.when,
            level = if spec.row { "ROW" } else { "STATEMENT" },
            function = kind.function(),
            args = kind.args(e)?,
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
