//! The migration's phase, as recorded in `coreforge_sync.phase_history`, and the checks the
//! actors make against it (`require_side_by_side` and friends). The transitions are in
//! `admin/phases.rs`.

use crate::db::state;
use crate::errors::{Error, Result};
use pgrx::prelude::*;
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
pub fn current() -> Result<Phase> {
    let unreadable =
        |e: pgrx::spi::SpiError| state::unreadable("coreforge_sync.phase_history", &e.to_string());
    // An install of 0.1.0 (before the phases) has no history: it is side by side.
    let exists =
        Spi::get_one::<bool>("SELECT pg_catalog.to_regclass('coreforge_sync.phase_history') IS NOT NULL")
            .map_err(unreadable)?
            .unwrap_or(false);
    if !exists {
        return Ok(Phase::SideBySide);
    }
    let (id, to) = Spi::get_two::<i64, String>(
        "SELECT (SELECT max(id) FROM coreforge_sync.phase_history), \
                (SELECT to_phase FROM coreforge_sync.phase_history ORDER BY id DESC LIMIT 1)",
    )
    .map_err(unreadable)?;
    match (id, to) {
        (None, _) => Ok(Phase::SideBySide),
        (Some(id), to) => to.as_deref().and_then(Phase::parse).ok_or_else(|| {
            state::unreadable(
                &format!("coreforge_sync.phase_history (id {id})"),
                &format!("{:?} is not a phase", to.unwrap_or_default()),
            )
        }),
    }
}

/// Refuses `what` outside phase side_by_side (where the legacy tables are the source of truth).
pub fn require_side_by_side(what: &str) -> Result<()> {
    let phase = current_shared()?;
    if phase != Phase::SideBySide {
        return Err(Error::out_of_order(format!("coreforge_sync: cannot {what} in phase {phase}"))
            .detail("From cutover on, CoreForge is the source of truth and the sync keeps rollback possible; this is a side_by_side step.")
            .hint(phase.hint()));
    }
    Ok(())
}

/// The advisory lock that orders the phase transitions (exclusive) against the steps that depend
/// on the phase: backfills, configuration, sync on or off, the reverse backfill (shared).
const PHASE_LOCK: &str = "1128682329, 3";

/// Serializes transitions and reads the phase.
pub fn begin() -> Result<Phase> {
    wait_for(
        &format!("SELECT pg_catalog.pg_advisory_xact_lock({PHASE_LOCK})"),
        "another coreforge_sync step (a backfill, a configuration change, a transition)",
    )?;
    current()
}

/// The phase, held until the end of the transaction against transitions.
pub fn current_shared() -> Result<Phase> {
    wait_for(&format!("SELECT pg_catalog.pg_advisory_xact_lock_shared({PHASE_LOCK})"), "a phase transition")?;
    current()
}

/// Runs `sql`, a lock request, within `lock_timeout`; when `holder` holds it longer, a refusal
/// that names it (nothing was changed: the transaction is rolled back).
fn wait_for(sql: &str, holder: &str) -> Result<()> {
    PgTryBuilder::new(|| Spi::run(sql).map_err(Error::from))
        .catch_when(PgSqlErrorCode::ERRCODE_LOCK_NOT_AVAILABLE, |_| {
            let timeout = Spi::get_one::<String>("SELECT pg_catalog.current_setting('lock_timeout')")
                .ok()
                .flatten()
                .unwrap_or_default();
            // 55000, not PostgreSQL's 55P03: CALL cf_backfill() retries a batch on 55P03 (a row
            // lock), and a coreforge_sync step holding the phase lock is not one to wait out.
            Err(Error::out_of_order(format!(
                "coreforge_sync: {holder} held the lock longer than lock_timeout ({timeout})"
            ))
            .detail("Nothing was changed.")
            .hint("Try again when it is done (long transactions: see pg_stat_activity)."))
        })
        .execute()
}

/// Locks `tables` in `mode`, each within `lock_timeout`.
pub fn lock(tables: &[(String, String)], mode: &str) -> Result<()> {
    for (table, shown) in tables {
        wait_for(
            &format!("LOCK TABLE {table} IN {mode} MODE"),
            &format!("an application transaction on {shown}"),
        )?;
    }
    Ok(())
}

/// The schema the legacy tables were archived into, while archived or dropped.
pub fn archive_schema() -> Result<Option<String>> {
    state::setting("archive_schema")
}

/// Whether the legacy tables are where the configuration reads them (not dropped): refuses with
/// the phase's explanation otherwise.
pub fn require_legacy_tables() -> Result<()> {
    if archive_schema()?.is_some() && current()? == Phase::Dropped {
        return Err(Error::out_of_order(
            "coreforge_sync: the legacy tables were dropped (phase dropped): there is nothing to read, compare or sync",
        )
        .hint(Phase::Dropped.hint()));
    }
    Ok(())
}
