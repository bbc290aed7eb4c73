//! The migration's phases, a state machine that refuses unsafe steps: `cf_phase()`,
//! `cf_history()`, `cf_cutover()`, `cf_rollback()`, `cf_freeze_legacy()`, `cf_unfreeze_legacy()`
//! (the archive steps are in `archive.rs`).
//!
//! | phase           | source of truth | triggers armed (`triggers::arm`)            |
//! |-----------------|-----------------|---------------------------------------------|
//! | `side_by_side`  | legacy          | forward                                     |
//! | `cutover`       | CoreForge       | forward, reverse                            |
//! | `legacy_frozen` | CoreForge       | forward, reverse, freeze                    |
//! | `archived`      | CoreForge       | none (the legacy tables are in the archive) |
//! | `dropped`       | CoreForge       | none (the archive is gone)                  |
//!
//! Every transition runs in the caller's transaction, one at a time (an advisory lock), takes the
//! table locks it needs within `lock_timeout` (5 s, set on the functions by sql/finalize.sql)
//! instead of queueing behind the application, is a no-op when already done, and records itself
//! in `coreforge_sync.phase_history` with the validation summary of that moment.

use crate::errors::fail;
use crate::mapping::Entity;
use crate::{catalog, mapping, reverse, state, triggers, validation};
use pgrx::prelude::*;
use serde_json::json;
use std::fmt;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Phase {
    SideBySide,
    Cutover,
    LegacyFrozen,
    Archived,
    Dropped,
}

impl Phase {
    fn parse(s: &str) -> Option<Phase> {
        match s {
            "side_by_side" => Some(Phase::SideBySide),
            "cutover" => Some(Phase::Cutover),
            "legacy_frozen" => Some(Phase::LegacyFrozen),
            "archived" => Some(Phase::Archived),
            "dropped" => Some(Phase::Dropped),
            _ => None,
        }
    }

    /// What can be done from this phase.
    pub fn hint(self) -> &'static str {
        match self {
            Phase::SideBySide => {
                "The legacy tables are the source of truth; SELECT cf_cutover(); makes CoreForge the source."
            }
            Phase::Cutover => {
                "SELECT cf_freeze_legacy(); stops the application's legacy writes; SELECT cf_rollback(); returns to side_by_side."
            }
            Phase::LegacyFrozen => {
                "SELECT cf_archive_legacy(); archives the legacy tables; SELECT cf_unfreeze_legacy(); lets the application write them again; SELECT cf_rollback(); returns to side_by_side."
            }
            Phase::Archived => {
                "SELECT cf_restore_legacy(); brings the legacy tables back (phase legacy_frozen); SELECT cf_rollback(); returns to side_by_side."
            }
            Phase::Dropped => {
                "The legacy tables were dropped with the archive: CoreForge is the only copy (restore a backup to go back)."
            }
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Phase::SideBySide => "side_by_side",
            Phase::Cutover => "cutover",
            Phase::LegacyFrozen => "legacy_frozen",
            Phase::Archived => "archived",
            Phase::Dropped => "dropped",
        })
    }
}

/// The current phase. (Before `ALTER EXTENSION coreforge_sync UPDATE` from 0.1.0 has created the
/// history, this library runs under 0.1.0's objects: phase side_by_side, the only one 0.1.0 had.)
/// The phase: the newest transition's, side_by_side before the first. A history that cannot be
/// read, or that names no phase, is an error naming the record (never a guess).
pub fn current() -> Phase {
    // An install of 0.1.0 (before the phases) has no history: it is side by side.
    let exists = Spi::get_one::<bool>("SELECT pg_catalog.to_regclass('coreforge_sync.phase_history') IS NOT NULL")
        .unwrap_or_else(|e| state::unreadable("coreforge_sync.phase_history", &e.to_string()))
        .unwrap_or(false);
    if !exists {
        return Phase::SideBySide;
    }
    let (id, to) = Spi::get_two::<i64, String>(
        "SELECT (SELECT max(id) FROM coreforge_sync.phase_history),                 (SELECT to_phase FROM coreforge_sync.phase_history ORDER BY id DESC LIMIT 1)",
    )
    .unwrap_or_else(|e| state::unreadable("coreforge_sync.phase_history", &e.to_string()));
    match (id, to) {
        (None, _) => Phase::SideBySide,
        (Some(id), to) => to.as_deref().and_then(Phase::parse).unwrap_or_else(|| {
            state::unreadable(
                &format!("coreforge_sync.phase_history (id {id})"),
                &format!("{:?} is not a phase", to.unwrap_or_default()),
            )
        }),
    }
}

/// Refuses `what` outside phase side_by_side (where the legacy tables are the source of truth).
pub fn require_side_by_side(what: &str) {
    let phase = current_shared();
    if phase != Phase::SideBySide {
        fail(
            &format!("coreforge_sync: cannot {what} in phase {phase}"),
            Some("From cutover on, CoreForge is the source of truth and the sync keeps rollback possible; this is a side_by_side step."),
            Some(phase.hint()),
        );
    }
}

/// The advisory lock that orders the phase transitions (exclusive) against the steps that depend
/// on the phase: backfills, configuration, sync on or off, the reverse backfill (shared).
const PHASE_LOCK: &str = "1128682329, 3";

/// Serializes transitions and reads the phase.
pub fn begin() -> Phase {
    wait_for(
        &format!("SELECT pg_catalog.pg_advisory_xact_lock({PHASE_LOCK})"),
        "another coreforge_sync step (a backfill, a configuration change, a transition)",
    );
    current()
}

/// The phase, held until the end of the transaction against transitions.
pub fn current_shared() -> Phase {
    wait_for(
        &format!("SELECT pg_catalog.pg_advisory_xact_lock_shared({PHASE_LOCK})"),
        "a phase transition",
    );
    current()
}

/// Runs `sql`, a lock request, within `lock_timeout`; when `holder` holds it longer, a refusal
/// that names it (nothing was changed: the transaction is rolled back).
fn wait_for(sql: &str, holder: &str) {
    PgTryBuilder::new(|| Spi::run(sql).unwrap_or_else(|e| panic!("{e}")))
        .catch_when(PgSqlErrorCode::ERRCODE_LOCK_NOT_AVAILABLE, |_| {
            let timeout = Spi::get_one::<String>("SELECT pg_catalog.current_setting('lock_timeout')")
                .ok()
                .flatten()
                .unwrap_or_default();
            fail(
                &format!("coreforge_sync: {holder} held the lock longer than lock_timeout ({timeout})"),
                Some("Nothing was changed."),
                Some("Try again when it is done (long transactions: see pg_stat_activity)."),
            )
        })
        .execute();
}

/// Locks `tables` in `mode`, each within `lock_timeout`.
pub fn lock(tables: &[(String, String)], mode: &str) {
    for (table, shown) in tables {
        wait_for(&format!("LOCK TABLE {table} IN {mode} MODE"), &format!("an application transaction on {shown}"));
    }
}

/// The legacy tables of `entities`: (SQL name, as shown).
pub fn legacy_tables(entities: &[Entity]) -> Vec<(String, String)> {
    entities.iter().map(|e| (e.primary.table(), e.primary.display())).collect()
}

/// The cf_ tables of `entities`: (SQL name, as shown).
pub fn cf_tables(entities: &[Entity]) -> Vec<(String, String)> {
    entities.iter().map(|e| (e.cf_table(), e.cf_display())).collect()
}

/// The validation of this moment: the failing checks, and the summary recorded in the history.
pub struct Validation {
    pub failed: Vec<(String, String, i64)>,
    pub summary: serde_json::Value,
}

pub fn validate(entities: &[Entity]) -> Validation {
    let (checks, failed) = validation::failures(entities);
    let list: Vec<serde_json::Value> =
        failed.iter().map(|(e, c, n)| json!({"entity": e, "check": c, "discrepancies": n})).collect();
    Validation { failed, summary: json!({"checks": checks, "failed": list}) }
}

impl Validation {
    /// The failing checks other than those named in `except`.
    pub fn failing_except(&self, except: &[&str]) -> Vec<String> {
        self.failed
            .iter()
            .filter(|(_, c, _)| !except.contains(&c.as_str()))
            .map(|(e, c, n)| format!("{e}.{c}: {n}"))
            .collect()
    }
}

/// Records a transition.
pub fn record(
    action: &str,
    from: Phase,
    to: Phase,
    reason: Option<&str>,
    forced: bool,
    validation: Option<&Validation>,
    archive_schema: Option<&str>,
) {
    Spi::run_with_args(
        "INSERT INTO coreforge_sync.phase_history \
           (action, from_phase, to_phase, reason, forced, validation, archive_schema, run_as) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        &[
            action.into(),
            from.to_string().into(),
            to.to_string().into(),
            reason.into(),
            forced.into(),
            validation.map(|v| pgrx::JsonB(v.summary.clone())).into(),
            archive_schema.into(),
            crate::privileges::caller_name().into(),
        ],
    )
    .unwrap_or_else(|e| panic!("{e}"));
}

/// All three entities, their cf_ tables checked.
pub fn entities() -> Vec<Entity> {
    let entities = mapping::all(&state::cf_schema());
    entities.iter().for_each(catalog::check_entity);
    entities
}

/// Refuses a transition: `message`, the failing checks as detail, `hint`.
fn refuse_failing(message: &str, failing: &[String], hint: &str) -> ! {
    fail(
        &format!("coreforge_sync: {message}"),
        Some(&format!(
            "Failing checks of cf_validation_report(): {}.",
            failing.join(", ")
        )),
        Some(hint),
    )
}

/// A boolean argument that must not be NULL (a NULL `force` is neither yes nor no).
pub fn not_null(value: Option<bool>, name: &str) -> bool {
    value.unwrap_or_else(|| {
        crate::errors::fail_with(
            PgSqlErrorCode::ERRCODE_NULL_VALUE_NOT_ALLOWED,
            &format!("coreforge_sync: {name} must not be NULL"),
            None,
            Some(&format!("Pass {name} => true or {name} => false.")),
        )
    })
}

/// The current phase.
#[pg_extern]
#[search_path(pg_catalog, pg_temp)]
fn cf_phase() -> String {
    current().to_string()
}

/// Every phase transition, oldest first: when, by whom (the session's user, and the role it ran as),
/// what, from and to which phase, whether
/// forced and why, and the validation summary of that moment.
#[pg_extern]
#[search_path(pg_catalog, pg_temp)]
fn cf_history() -> TableIterator<
    'static,
    (
        name!(at, TimestampWithTimeZone),
        name!(run_by, String),
        name!(run_as, String),
        name!(action, String),
        name!(from_phase, String),
        name!(to_phase, String),
        name!(forced, bool),
        name!(reason, Option<String>),
        name!(validation, Option<String>),
    ),
> {
    let rows = Spi::connect(|client| {
        client
            .select(
                "SELECT at, run_by::text, run_as::text, action, from_phase, to_phase, forced, reason, \
                   CASE WHEN validation IS NULL THEN NULL \
                        WHEN pg_catalog.jsonb_array_length(validation->'failed') = 0 \
                        THEN 'ok (' || (validation->>'checks') || ' checks)' \
                        ELSE 'fail: ' || (SELECT pg_catalog.string_agg((f->>'entity') || '.' || (f->>'check') \
                                             || ' ' || (f->>'discrepancies'), ', ') \
                                            FROM pg_catalog.jsonb_array_elements(validation->'failed') f) \
                   END \
                 FROM coreforge_sync.phase_history ORDER BY id",
                None,
                &[],
            )
            .unwrap_or_else(|e| panic!("{e}"))
            .map(|r| {
                let text = |i| r.get::<String>(i).ok().flatten().unwrap_or_default();
                (
                    r.get::<TimestampWithTimeZone>(1).ok().flatten().expect("at is NOT NULL"),
                    text(2),
                    text(3),
                    text(4),
                    text(5),
                    text(6),
                    r.get::<bool>(7).ok().flatten().unwrap_or(false),
                    r.get::<String>(8).ok().flatten(),
                    r.get::<String>(9).ok().flatten(),
                )
            })
            .collect::<Vec<_>>()
    });
    TableIterator::new(rows)
}

/// Makes CoreForge the source of truth: from now on CoreForge writes are mirrored back into the
/// legacy tables, and legacy writes keep being mirrored forward (old and new application instances
/// can run side by side). Refuses while the validation fails, unless forced with a reason.
#[pg_extern]
#[search_path(pg_catalog, pg_temp)]
fn cf_cutover(force: default!(Option<bool>, false), reason: default!(Option<&str>, "NULL")) -> String {
    crate::privileges::authorize("run cf_cutover()");
    let force = not_null(force, "force");
    let phase = begin();
    if phase != Phase::SideBySide {
        return format!("already cut over (phase {phase}): nothing to do");
    }
    let reason = reason.map(str::trim).filter(|r| !r.is_empty());
    if force && reason.is_none() {
        fail(
            "coreforge_sync: a forced cutover needs a reason",
            Some("It is recorded in cf_history() with the failing checks."),
            Some("SELECT cf_cutover(force => true, reason => 'why the failing checks are acceptable');"),
        );
    }
    let entities = entities();
    let off: Vec<String> =
        entities.iter().filter(|e| !triggers::sync_enabled(e)).map(|e| e.primary.display()).collect();
    if !off.is_empty() {
        fail(
            &format!("coreforge_sync: cannot cut over: sync is off for {}", off.join(", ")),
            Some("During cutover the legacy writes of instances not yet switched keep being mirrored into CoreForge."),
            Some("SELECT cf_enable_sync(); then CALL cf_backfill(); and check SELECT * FROM cf_validation_report();"),
        );
    }
    let problems = reverse::problems(&entities);
    if !problems.is_empty() {
        fail(
            "coreforge_sync: cannot cut over: the legacy tables could not take every CoreForge row",
            Some(&format!("{}.", problems.join("; "))),
            Some("Give those columns defaults (ALTER TABLE ... ALTER COLUMN ... SET DEFAULT), or change the mapping with cf_configure()."),
        );
    }
    let v = validate(&entities);
    // Live legacy rows that are neither in CoreForge nor rejected would be taken for rows CoreForge
    // deleted (by cf_sync_legacy(), a restore): no force covers them.
    let missing: Vec<String> =
        v.failed.iter().filter(|(_, c, _)| c == "missing").map(|(e, c, n)| format!("{e}.{c}: {n}")).collect();
    if !missing.is_empty() {
        refuse_failing(
            "cannot cut over while legacy rows are missing from CoreForge, forced or not",
            &missing,
            "A backfill migrates them or records why it cannot (SELECT * FROM cf_sync_all(); or CALL cf_backfill();).",
        );
    }
    let failing = v.failing_except(&[]);
    if !failing.is_empty() && !force {
        refuse_failing(
            "cannot cut over while the validation fails",
            &failing,
            "Fix them (SELECT * FROM cf_validation_report() WHERE status = 'fail'), or SELECT cf_cutover(force => true, reason => '...');",
        );
    }
    lock(&cf_tables(&entities), "SHARE ROW EXCLUSIVE");
    triggers::arm(Phase::Cutover, &entities);
    record("cf_cutover", phase, Phase::Cutover, reason, force, Some(&v), None);
    let pairs: Vec<String> =
        entities.iter().map(|e| format!("{} -> {}", e.cf_display(), e.primary.display())).collect();
    format!(
        "phase cutover: CoreForge is the source of truth; its writes are mirrored back ({}), legacy writes still forward",
        pairs.join(", ")
    )
}

/// Returns to side_by_side (the guide's USE_OLD_TABLES): the legacy tables are the source of
/// truth again. From archived, restores them first. Refuses unless the legacy tables hold
/// everything CoreForge holds.
#[pg_extern]
#[search_path(pg_catalog, pg_temp)]
fn cf_rollback() -> String {
    crate::privileges::authorize("run cf_rollback()");
    let mut phase = begin();
    match phase {
        Phase::SideBySide => return "already side_by_side: nothing to do".into(),
        Phase::Dropped => fail(
            "coreforge_sync: cannot roll back: the legacy tables were dropped (phase dropped)",
            None,
            Some(phase.hint()),
        ),
        Phase::Archived => {
            crate::archive::restore(phase);
            phase = Phase::LegacyFrozen;
        }
        Phase::Cutover | Phase::LegacyFrozen => {}
    }
    let entities = entities();
    let v = validate(&entities);
    // Rejected legacy rows were never in CoreForge: the legacy side holds them.
    let failing = v.failing_except(&["rejected"]);
    if !failing.is_empty() {
        refuse_failing(
            "cannot roll back: the legacy tables do not hold everything CoreForge holds",
            &failing,
            "SELECT * FROM cf_sync_legacy(); writes CoreForge into them; then SELECT cf_rollback(); again.",
        );
    }
    // Dropping triggers takes ACCESS EXCLUSIVE: taken up front, CoreForge's tables first (the order
    // of a mirrored write), so that no lock is upgraded halfway.
    lock(&cf_tables(&entities), "ACCESS EXCLUSIVE");
    lock(&legacy_tables(&entities), "ACCESS EXCLUSIVE");
    triggers::arm(Phase::SideBySide, &entities);
    record("cf_rollback", phase, Phase::SideBySide, None, false, Some(&v), None);
    "phase side_by_side: the legacy tables are the source of truth again; CoreForge writes are no longer mirrored back".into()
}

/// Stops the application's writes to the legacy tables (the guide's "disable old writes"); the
/// mirror from CoreForge still writes them.
#[pg_extern]
#[search_path(pg_catalog, pg_temp)]
fn cf_freeze_legacy() -> String {
    crate::privileges::authorize("run cf_freeze_legacy()");
    let phase = begin();
    match phase {
        Phase::LegacyFrozen => return "already frozen (phase legacy_frozen): nothing to do".into(),
        Phase::Cutover => {}
        Phase::SideBySide => fail(
            "coreforge_sync: cannot freeze the legacy tables: they are the source of truth (phase side_by_side)",
            Some("Freezing them would stop the application."),
            Some("SELECT cf_cutover(); first."),
        ),
        Phase::Archived | Phase::Dropped => fail(
            &format!("coreforge_sync: cannot freeze the legacy tables in phase {phase}: they are not in place"),
            None,
            Some(phase.hint()),
        ),
    }
    let entities = entities();
    let v = validate(&entities);
    lock(&legacy_tables(&entities), "SHARE ROW EXCLUSIVE");
    triggers::arm(Phase::LegacyFrozen, &entities);
    record("cf_freeze_legacy", phase, Phase::LegacyFrozen, None, false, Some(&v), None);
    let tables: Vec<String> = entities.iter().map(|e| e.primary.display()).collect();
    format!("phase legacy_frozen: application writes to {} now fail; CoreForge writes are still mirrored into them", tables.join(", "))
}

/// Lets the application write the legacy tables again (phase cutover).
#[pg_extern]
#[search_path(pg_catalog, pg_temp)]
fn cf_unfreeze_legacy() -> String {
    crate::privileges::authorize("run cf_unfreeze_legacy()");
    let phase = begin();
    match phase {
        Phase::LegacyFrozen => {}
        Phase::SideBySide | Phase::Cutover => return format!("not frozen (phase {phase}): nothing to do"),
        Phase::Archived | Phase::Dropped => fail(
            &format!("coreforge_sync: cannot unfreeze the legacy tables in phase {phase}: they are not in place"),
            None,
            Some(phase.hint()),
        ),
    }
    let entities = entities();
    let v = validate(&entities);
    lock(&legacy_tables(&entities), "ACCESS EXCLUSIVE");
    triggers::arm(Phase::Cutover, &entities);
    record("cf_unfreeze_legacy", phase, Phase::Cutover, None, false, Some(&v), None);
    "phase cutover: the application may write the legacy tables again; both directions are mirrored".into()
}
