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

use crate::actors::reverse;
use crate::admin::archive;
use crate::admin::steps::{cf_tables, legacy_tables, not_null, record, refuse_failing, validate};
use crate::db::config::entities;
use crate::db::phase::{begin, current, lock, Phase};
use crate::db::{catalog, rights, triggers};
use crate::errors::{raise, Error, Result};
use pgrx::prelude::*;

/// The current phase.
#[pg_extern]
#[search_path(pg_catalog, pg_temp)]
fn cf_phase() -> String {
    raise(cf_phase_impl())
}

fn cf_phase_impl() -> Result<String> {
    Ok(current()?.to_string())
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
    raise((|| -> Result<_> {
        let rows = Spi::connect(|client| -> Result<_> {
            Ok(client
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
                )?
                .filter_map(|r| {
                    let text = |i| r.get::<String>(i).ok().flatten().unwrap_or_default();
                    Some((
                        r.get::<TimestampWithTimeZone>(1).ok().flatten()?,
                        text(2),
                        text(3),
                        text(4),
                        text(5),
                        text(6),
                        r.get::<bool>(7).ok().flatten().unwrap_or(false),
                        r.get::<String>(8).ok().flatten(),
                        r.get::<String>(9).ok().flatten(),
                    ))
                })
                .collect::<Vec<_>>())
        })?;
        Ok(TableIterator::new(rows))
    })())
}

/// Makes CoreForge the source of truth: from now on CoreForge writes are mirrored back into the
/// legacy tables, and legacy writes keep being mirrored forward (old and new application instances
/// can run side by side). Refuses while the validation fails, unless forced with a reason.
#[pg_extern]
#[search_path(pg_catalog, pg_temp)]
fn cf_cutover(force: default!(Option<bool>, false), reason: default!(Option<&str>, "NULL")) -> String {
    raise(cf_cutover_impl(force, reason))
}

fn cf_cutover_impl(force: Option<bool>, reason: Option<&str>) -> Result<String> {
    rights::authorize("run cf_cutover()")?;
    let force = not_null(force, "force")?;
    let phase = begin()?;
    if phase != Phase::SideBySide {
        return Ok(format!("already cut over (phase {phase}): nothing to do"));
    }
    let reason = reason.map(str::trim).filter(|r| !r.is_empty());
    if force && reason.is_none() {
        return Err(Error::invalid("coreforge_sync: a forced cutover needs a reason")
            .detail("It is recorded in cf_history() with the failing checks.")
            .hint("SELECT cf_cutover(force => true, reason => 'why the failing checks are acceptable');"));
    }
    let entities = entities()?;
    let mut off: Vec<String> = Vec::new();
    for e in &entities {
        if !triggers::sync_enabled(e)? {
            off.push(e.primary.display());
        }
    }
    if !off.is_empty() {
        return Err(Error::out_of_order(format!("coreforge_sync: cannot cut over: sync is off for {}", off.join(", ")))
.detail("During cutover the legacy writes of instances not yet switched keep being mirrored into CoreForge.")
.hint("SELECT cf_enable_sync(); then CALL cf_backfill(); and check SELECT * FROM cf_validation_report();"));
    }
    // A replica's rows come from the legacy server: the reverse sync would write CoreForge's changes
    // into the replica only, where the subscription overwrites them or stops on them.
    let mut replicas = Vec::new();
    for e in &entities {
        if let Some(sub) = catalog::subscription_of(&e.primary.schema, &e.primary.name)? {
            replicas.push(format!("{} (subscription {})", e.primary.display(), sub.name));
        }
    }
    if !replicas.is_empty() {
        return Err(Error::out_of_order(format!(
            "coreforge_sync: cannot cut over: the legacy tables here are replicas of another server's: {}",
            replicas.join(", ")
        ))
        .detail("The reverse sync would write CoreForge's changes into the replicas, not into the legacy server.")
        .hint("Cutover across servers is not built yet (docs/remote.md); stay in side_by_side, or cut over on the legacy server."));
    }
    let problems = reverse::problems(&entities)?;
    if !problems.is_empty() {
        return Err(Error::out_of_order("coreforge_sync: cannot cut over: the legacy tables could not take every CoreForge row")
.detail(format!("{}.", problems.join("; ")))
.hint("Give a NOT NULL column a value for the rows born in CoreForge (\"reverse_defaults\" in cf_configure(), or a column default); change the mapping with cf_configure() for the rest."));
    }
    let v = validate(&entities)?;
    // Live legacy rows that are neither in CoreForge nor rejected would be taken for rows CoreForge
    // deleted (by cf_sync_legacy(), a restore): no force covers them.
    let missing: Vec<String> =
        v.failed.iter().filter(|(_, c, _)| c == "missing").map(|(e, c, n)| format!("{e}.{c}: {n}")).collect();
    if !missing.is_empty() {
        return Err(refuse_failing(
            "cannot cut over while legacy rows are missing from CoreForge, forced or not",
            &missing,
            "A backfill migrates them or records why it cannot (SELECT * FROM cf_sync_all(); or CALL cf_backfill();).",
        ));
    }
    let failing = v.failing_except(&[]);
    if !failing.is_empty() && !force {
        return Err(refuse_failing(
            "cannot cut over while the validation fails",
            &failing,
            "Fix them (SELECT * FROM cf_validation_report() WHERE status = 'fail'), or SELECT cf_cutover(force => true, reason => '...');",
        ));
    }
    lock(&cf_tables(&entities), "SHARE ROW EXCLUSIVE")?;
    triggers::arm(Phase::Cutover, &entities)?;
    record("cf_cutover", phase, Phase::Cutover, reason, force, Some(&v), None)?;
    let pairs: Vec<String> =
        entities.iter().map(|e| format!("{} -> {}", e.cf_display(), e.primary.display())).collect();
    Ok(format!(
        "phase cutover: CoreForge is the source of truth; its writes are mirrored back ({}), legacy writes still forward",
        pairs.join(", ")
    ))
}

/// Returns to side_by_side (the guide's USE_OLD_TABLES): the legacy tables are the source of
/// truth again. From archived, restores them first. Refuses unless the legacy tables hold
/// everything CoreForge holds.
#[pg_extern]
#[search_path(pg_catalog, pg_temp)]
fn cf_rollback() -> String {
    raise(cf_rollback_impl())
}

fn cf_rollback_impl() -> Result<String> {
    rights::authorize("run cf_rollback()")?;
    let mut phase = begin()?;
    match phase {
        Phase::SideBySide => return Ok("already side_by_side: nothing to do".into()),
        Phase::Dropped => {
            return Err(Error::out_of_order(
                "coreforge_sync: cannot roll back: the legacy tables were dropped (phase dropped)",
            )
            .hint(phase.hint()))
        }
        Phase::Archived => {
            archive::restore(phase)?;
            phase = Phase::LegacyFrozen;
        }
        Phase::Cutover | Phase::LegacyFrozen => {}
    }
    let entities = entities()?;
    let v = validate(&entities)?;
    // Rejected legacy rows were never in CoreForge: the legacy side holds them.
    let failing = v.failing_except(&["rejected"]);
    if !failing.is_empty() {
        return Err(refuse_failing(
            "cannot roll back: the legacy tables do not hold everything CoreForge holds",
            &failing,
            "SELECT * FROM cf_sync_legacy(); writes CoreForge into them; then SELECT cf_rollback(); again.",
        ));
    }
    // Dropping triggers takes ACCESS EXCLUSIVE: taken up front, CoreForge's tables first (the order
    // of a mirrored write), so that no lock is upgraded halfway.
    lock(&cf_tables(&entities), "ACCESS EXCLUSIVE")?;
    lock(&legacy_tables(&entities), "ACCESS EXCLUSIVE")?;
    triggers::arm(Phase::SideBySide, &entities)?;
    record("cf_rollback", phase, Phase::SideBySide, None, false, Some(&v), None)?;
    Ok("phase side_by_side: the legacy tables are the source of truth again; CoreForge writes are no longer mirrored back".into())
}

/// Stops the application's writes to the legacy tables (the guide's "disable old writes"); the
/// mirror from CoreForge still writes them.
#[pg_extern]
#[search_path(pg_catalog, pg_temp)]
fn cf_freeze_legacy() -> String {
    raise(cf_freeze_legacy_impl())
}

fn cf_freeze_legacy_impl() -> Result<String> {
    rights::authorize("run cf_freeze_legacy()")?;
    let phase = begin()?;
    match phase {
        Phase::LegacyFrozen => return Ok("already frozen (phase legacy_frozen): nothing to do".into()),
        Phase::Cutover => {}
        Phase::SideBySide => return Err(Error::out_of_order("coreforge_sync: cannot freeze the legacy tables: they are the source of truth (phase side_by_side)")
.detail("Freezing them would stop the application.")
.hint("SELECT cf_cutover(); first.")),
        Phase::Archived | Phase::Dropped => return Err(Error::out_of_order(format!("coreforge_sync: cannot freeze the legacy tables in phase {phase}: they are not in place"))
.hint(phase.hint())),
    }
    let entities = entities()?;
    let v = validate(&entities)?;
    lock(&legacy_tables(&entities), "SHARE ROW EXCLUSIVE")?;
    triggers::arm(Phase::LegacyFrozen, &entities)?;
    record("cf_freeze_legacy", phase, Phase::LegacyFrozen, None, false, Some(&v), None)?;
    let tables: Vec<String> = entities.iter().map(|e| e.primary.display()).collect();
    Ok(format!("phase legacy_frozen: application writes to {} now fail; CoreForge writes are still mirrored into them", tables.join(", ")))
}

/// Lets the application write the legacy tables again (phase cutover).
#[pg_extern]
#[search_path(pg_catalog, pg_temp)]
fn cf_unfreeze_legacy() -> String {
    raise(cf_unfreeze_legacy_impl())
}

fn cf_unfreeze_legacy_impl() -> Result<String> {
    rights::authorize("run cf_unfreeze_legacy()")?;
    let phase = begin()?;
    match phase {
        Phase::LegacyFrozen => {}
        Phase::SideBySide | Phase::Cutover => {
            return Ok(format!("not frozen (phase {phase}): nothing to do"))
        }
        Phase::Archived | Phase::Dropped => {
            return Err(Error::out_of_order(format!(
                "coreforge_sync: cannot unfreeze the legacy tables in phase {phase}: they are not in place"
            ))
            .hint(phase.hint()))
        }
    }
    let entities = entities()?;
    let v = validate(&entities)?;
    lock(&legacy_tables(&entities), "ACCESS EXCLUSIVE")?;
    triggers::arm(Phase::Cutover, &entities)?;
    record("cf_unfreeze_legacy", phase, Phase::Cutover, None, false, Some(&v), None)?;
    Ok("phase cutover: the application may write the legacy tables again; both directions are mirrored"
        .into())
}
