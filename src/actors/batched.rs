//! The batched, resumable backfill: `CALL cf_backfill(entity, batch_size, pause_ms)`
//! (sql/batched_backfill.sql) and `cf_backfill_reset(entity)`.
//!
//! A pass walks the legacy table by its unique key (keyset, in index order), one committed batch at a
//! time, with the same mirror statement as `cf_sync_*` restricted to the batch's key range
//! ([`Scope::Range`]): the batch locks its legacy rows `FOR SHARE`, so a concurrent writer is ordered
//! against it. Then it walks the cf_ table by id and removes the rows that have no live legacy row,
//! as `cf_sync_*` does (lock them, then delete in a fresh snapshot). Every batch checkpoints the pass in
//! `coreforge_sync.backfill_state` in its own transaction: the next call after a cancel, a terminated
//! backend or a crash resumes after the last committed batch, and a finished pass makes the next call
//! start a new one.

use crate::actors::backfill::{checked_for_backfill, remove_stale, require_parents_backfilled};
use crate::db::spi::{execute, optional};
use crate::db::{catalog, config, phase, rights, state};
use crate::errors::{raise, Error, Result};
use crate::mapping::{Entity, SqlType};
use crate::quote::{ident, literal};
use crate::settings::EntityKind;
use crate::sqlgen::ids::assign_statement;
use crate::sqlgen::mirror::{range_filter, statement, Counts, OnError, Scope, FIRST_BACKFILL_LOCK};
use pgrx::prelude::*;
use std::cell::Cell;
use std::time::{Duration, Instant};

/// Batch sizes a pass accepts.
const BATCH_SIZES: std::ops::RangeInclusive<i32> = 1..=1_000_000;
/// Consecutive lock timeouts (or deadlocks) of one batch before the pass gives up.
const MAX_TRIES: i32 = 10;
/// How long a batch waits for a row lock before it backs off.
const LOCK_TIMEOUT: &str = "1s";
/// At most one progress NOTICE per this interval (and one when a pass ends).
const NOTICE_EVERY: Duration = Duration::from_secs(5);

thread_local! {
    static LAST_NOTICE: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// The entities a `CALL cf_backfill(entity, ...)` walks, in dependency order; checks the arguments.
#[pg_extern(schema = "coreforge_sync")]
#[search_path(pg_catalog, pg_temp)]
fn backfill_entities(entity: Option<&str>, batch_size: Option<i32>, pause_ms: Option<i32>) -> Vec<String> {
    raise(entities_to_walk(entity, batch_size, pause_ms))
}

fn entities_to_walk(
    entity: Option<&str>,
    batch_size: Option<i32>,
    pause_ms: Option<i32>,
) -> Result<Vec<String>> {
    rights::authorize("run CALL cf_backfill()")?;
    let shown = |n: Option<i32>| n.map(|n| n.to_string()).unwrap_or("NULL".into());
    if !batch_size.is_some_and(|n| BATCH_SIZES.contains(&n)) {
        return Err(Error::invalid(format!(
            "coreforge_sync: batch_size must be between 1 and 1000000, not {}",
            shown(batch_size)
        ))
        .hint("5000 (the default) suits most tables; smaller batches hold their locks for less time."));
    }
    if !pause_ms.is_some_and(|n| (0..=3_600_000).contains(&n)) {
        return Err(Error::invalid(format!(
            "coreforge_sync: pause_ms must be between 0 and 3600000, not {}",
            shown(pause_ms)
        )));
    }
    Ok(match entity {
        None => EntityKind::ALL.iter().map(|k| k.to_string()).collect(),
        Some(e) => vec![EntityKind::from_arg(Some(e))?.to_string()],
    })
}

/// One row of coreforge_sync.backfill_state.
struct Pass {
    pass: i64,
    phase: String,
    position: Option<Vec<String>>,
    batch_size: i32,
    rows_done: i64,
    counts: Counts,
    batches: i64,
    started: TimestampWithTimeZone,
}

fn load(kind: EntityKind) -> Result<Option<Pass>> {
    Spi::connect(|client| {
        let rows = client.select(
            "SELECT pass, phase, position, batch_size, rows_done, inserted, updated, \
                    deleted, rejected, batches, started_at \
               FROM coreforge_sync.backfill_state WHERE entity = $1 FOR UPDATE",
            None,
            &[kind.as_str().into()],
        )?;
        if rows.is_empty() {
            return Ok(None);
        }
        let r = rows.first();
        let i = |n| -> Result<i64> { Ok(r.get::<i64>(n)?.unwrap_or(0)) };
        let Some(started) = r.get::<TimestampWithTimeZone>(11)? else {
            return Err(state::unreadable(
                &format!("coreforge_sync.backfill_state (entity {kind})"),
                "no started_at",
            ));
        };
        Ok(Some(Pass {
            pass: i(1)?,
            phase: r.get::<String>(2)?.unwrap_or_default(),
            position: r.get::<Vec<String>>(3)?,
            batch_size: r.get::<i32>(4)?.unwrap_or(5000),
            rows_done: i(5)?,
            counts: Counts { inserted: i(6)?, updated: i(7)?, deleted: i(8)?, rejected: i(9)? },
            batches: i(10)?,
            started,
        }))
    })
}

/// The backend running a pass of `name`, if it is alive and busy (not this one).
fn running_elsewhere(kind: EntityKind) -> Result<Option<i32>> {
    optional(Spi::get_one_with_args::<i32>(
        "SELECT s.pid FROM coreforge_sync.backfill_state s \
           JOIN pg_catalog.pg_stat_activity a ON a.pid = s.pid AND a.state = 'active' \
          WHERE s.entity = $1 AND s.phase <> 'done' AND s.pid <> pg_catalog.pg_backend_pid()",
        &[kind.as_str().into()],
    ))
}

const PARENTS_HINT: &str = "CALL cf_backfill(); backfills all three in order.";

/// The entity of a batch, checked as at the pass's start (which also says when sync is off); a
/// cutover made meanwhile stops the pass.
fn checked(kind: EntityKind) -> Result<Entity> {
    phase::require_side_by_side("backfill CoreForge from the legacy tables")?;
    let e = config::entity(kind, &state::cf_schema()?)?;
    catalog::check_entity(&e)?;
    require_parents_backfilled(&e, "backfilled", PARENTS_HINT)?;
    Ok(e)
}

/// Starts a pass of `name`, or resumes the interrupted one.
#[pg_extern(schema = "coreforge_sync")]
#[search_path(pg_catalog, pg_temp)]
fn backfill_start(name: &str, batch_size: i32) {
    raise(start(name, batch_size))
}

fn start(name: &str, batch_size: i32) -> Result<()> {
    rights::authorize("run CALL cf_backfill()")?;
    let kind = EntityKind::from_arg(Some(name))?;
    let e = checked_for_backfill(kind, "backfilled", PARENTS_HINT)?;
    Spi::run_with_args(
        "INSERT INTO coreforge_sync.backfill_state (entity, pass, phase, batch_size, estimated_total, started_at) \
         VALUES ($1, 0, 'done', $2, 0, pg_catalog.now()) ON CONFLICT (entity) DO NOTHING",
        &[name.into(), batch_size.into()],
    )?;
    let Some(current) = load(kind)? else {
        return Err(state::unreadable(&format!("coreforge_sync.backfill_state (entity {kind})"), "no row"));
    };
    if let Some(pid) = running_elsewhere(kind)? {
        return Err(Error::out_of_order(format!(
            "coreforge_sync: a backfill of {name} is already running (backend {pid})"
        ))
        .hint("SELECT * FROM cf_backfill_progress; shows it."));
    }
    if current.phase == "done" {
        let estimate = estimate(&e)?;
        Spi::run_with_args(
            "UPDATE coreforge_sync.backfill_state SET pass = pass + 1, phase = 'copy', position = NULL, \
               batch_size = $2, estimated_total = $3, rows_done = 0, inserted = 0, updated = 0, deleted = 0, \
               rejected = 0, batches = 0, retries = 0, failed_tries = 0, started_at = pg_catalog.clock_timestamp(), \
               last_batch_at = NULL, finished_at = NULL, pid = pg_catalog.pg_backend_pid() \
             WHERE entity = $1",
            &[name.into(), batch_size.into(), estimate.into()],
        )?;
    } else {
        notice!(
            "coreforge_sync: {name}: resuming pass {} ({} phase) after {} rows in {} batches",
            current.pass,
            current.phase,
            current.rows_done,
            current.batches
        );
        Spi::run_with_args(
            "UPDATE coreforge_sync.backfill_state SET batch_size = $2, failed_tries = 0, \
               pid = pg_catalog.pg_backend_pid() WHERE entity = $1",
            &[name.into(), batch_size.into()],
        )?;
    }
    LAST_NOTICE.with(|t| t.set(Some(Instant::now())));
    Ok(())
}

/// The number of legacy rows a pass will walk: the planner's estimate, or a count when the table
/// was never analyzed.
fn estimate(e: &Entity) -> Result<i64> {
    let reltuples = optional(Spi::get_one_with_args::<f32>(
        "SELECT c.reltuples FROM pg_catalog.pg_class c WHERE c.oid = pg_catalog.to_regclass($1)",
        &[e.primary.table().into()],
    ))?
    .unwrap_or(-1.0);
    if reltuples >= 0.0 {
        return Ok(reltuples as i64);
    }
    Ok(Spi::get_one::<i64>(&format!("SELECT pg_catalog.count(*) FROM {}", e.primary.table()))?.unwrap_or(0))
}

/// The key of the last row among the next `n` after `position` in `table` (a keyset walk), and how
/// many rows that is; None when there are none. `cols`: the key's columns with their SQL types, in
/// the order of its unique index.
fn next_bound(
    table: &str,
    cols: &[(String, SqlType)],
    position: Option<&Vec<String>>,
    n: i32,
) -> Result<Option<(Vec<String>, i64)>> {
    let keys: Vec<String> = cols.iter().map(|(c, _)| format!("x.{}", ident(c))).collect();
    let lower = match position {
        Some(_) => {
            let vals: Vec<String> =
                cols.iter().enumerate().map(|(i, (_, t))| format!("$1[{}]::{t}", i + 1)).collect();
            format!("WHERE ({}) > ({})", keys.join(", "), vals.join(", "))
        }
        None => String::new(),
    };
    let texts: Vec<String> = cols.iter().map(|(c, _)| format!("w.{}::text", ident(c))).collect();
    let last: Vec<String> = cols.iter().map(|(c, _)| format!("w.{} DESC", ident(c))).collect();
    let sql = format!(
        "SELECT ARRAY[{texts}], w.batch_rows \
           FROM (SELECT b.*, pg_catalog.count(*) OVER () AS batch_rows \
                   FROM (SELECT {keys} FROM {table} x {lower} ORDER BY {keys} LIMIT $2) b) w \
          ORDER BY {last} LIMIT 1",
        texts = texts.join(", "),
        keys = keys.join(", "),
        last = last.join(", "),
    );
    let position: Option<Vec<String>> = position.cloned();
    Spi::connect(|client| {
        let rows = client.select(sql.as_str(), None, &[position.into(), n.into()])?;
        if rows.is_empty() {
            return Ok(None);
        }
        let r = rows.first();
        let bound = r.get::<Vec<String>>(1)?.unwrap_or_default();
        let count = r.get::<i64>(2)?.unwrap_or(0);
        Ok(Some((bound, count)))
    })
}

/// One batch of the pass of `name`: the next keyset range of the copy, or of the removal. Returns
/// whether the pass is finished, the rows it covered, and a progress line when one is due.
#[pg_extern(schema = "coreforge_sync")]
#[search_path(pg_catalog, pg_temp)]
fn backfill_batch(
    name: &str,
) -> TableIterator<'static, (name!(finished, bool), name!(batch_rows, i64), name!(notice, Option<String>))> {
    TableIterator::new(vec![raise(batch(name))])
}

fn batch(name: &str) -> Result<(bool, i64, Option<String>)> {
    rights::authorize("run CALL cf_backfill()")?;
    Spi::run(&format!("SELECT pg_catalog.set_config('lock_timeout', {}, true)", literal(LOCK_TIMEOUT)))?;
    let kind = EntityKind::from_arg(Some(name))?;
    let e = checked(kind)?;
    let Some(pass) = load(kind)?.filter(|p| p.phase != "done") else {
        return Err(Error::out_of_order(format!("coreforge_sync: no backfill pass of {name} is under way"))
            .hint(format!("CALL cf_backfill('{name}'); starts one.")));
    };
    let (finished, rows) = match pass.phase.as_str() {
        "copy" => copy_batch(&e, &pass)?,
        _ => remove_batch(&e, &pass)?,
    };
    let now = Instant::now();
    let due = finished || LAST_NOTICE.with(|t| t.get().is_none_or(|last| now - last >= NOTICE_EVERY));
    let notice = if due {
        LAST_NOTICE.with(|t| t.set(Some(now)));
        Some(progress_line(kind)?)
    } else {
        None
    };
    Ok((finished, rows, notice))
}

fn copy_batch(e: &Entity, pass: &Pass) -> Result<(bool, i64)> {
    let Some((upper, rows)) =
        next_bound(&e.primary.table(), &e.keyset, pass.position.as_ref(), pass.batch_size)?
    else {
        // Every legacy row is covered: on to the removal of CoreForge rows without one.
        Spi::run_with_args(
            "UPDATE coreforge_sync.backfill_state SET phase = 'remove', position = NULL, failed_tries = 0, \
               last_batch_at = pg_catalog.clock_timestamp() WHERE entity = $1",
            &[e.name().into()],
        )?;
        return Ok((false, 0));
    };
    if !e.parents.is_empty() {
        // Wait for every transaction whose trigger left a membership for the backfill.
        Spi::run(&format!("SELECT pg_catalog.pg_advisory_xact_lock({FIRST_BACKFILL_LOCK})"))?;
    }
    let lower = pass.position.is_some();
    let args = || vec![pass.position.clone().into(), upper.clone().into()];
    if let Some(assign) = assign_statement(
        &e.primary,
        &format!("(SELECT * FROM {} r WHERE {})", e.primary.table(), range_filter(e, "r", lower)),
        true,
    ) {
        Spi::connect_mut(|client| client.update(assign.as_str(), None, &args()).map(|_| ()))?;
    }
    let counts = execute(e, &statement(e, &[], Scope::Range { lower }, OnError::Record), &args())?;
    record_batch(e.kind, Some(&upper), rows, counts)?;
    Ok((false, rows))
}

fn remove_batch(e: &Entity, pass: &Pass) -> Result<(bool, i64)> {
    let cf_key = [("id".to_string(), SqlType::UUID)];
    let Some((upper, _)) = next_bound(&e.cf_table(), &cf_key, pass.position.as_ref(), pass.batch_size)?
    else {
        finish(e, pass)?;
        return Ok((true, 0));
    };
    let lower = pass.position.as_ref().and_then(|p| p.first().cloned());
    let upper_id = upper.first().cloned().unwrap_or_default();
    let counts = remove_stale(e, Some((lower.as_deref(), &upper_id)))?;
    record_batch(e.kind, Some(&upper), 0, counts)?;
    Ok((false, 0))
}

fn record_batch(kind: EntityKind, position: Option<&Vec<String>>, rows: i64, c: Counts) -> Result<()> {
    Ok(Spi::run_with_args(
        "UPDATE coreforge_sync.backfill_state SET position = $2, rows_done = rows_done + $3, \
           inserted = inserted + $4, updated = updated + $5, deleted = deleted + $6, rejected = rejected + $7, \
           batches = batches + 1, failed_tries = 0, last_batch_at = pg_catalog.clock_timestamp() \
         WHERE entity = $1",
        &[
            kind.as_str().into(),
            position.cloned().into(),
            rows.into(),
            c.inserted.into(),
            c.updated.into(),
            c.deleted.into(),
            c.rejected.into(),
        ],
    )?)
}

/// The end of a pass: rejects of rows no longer live go, the pass is recorded like a `cf_sync_*`
/// run, and the entity counts as backfilled.
fn finish(e: &Entity, pass: &Pass) -> Result<()> {
    Spi::run(&format!(
        "DELETE FROM coreforge_sync.rejects r WHERE r.entity = {name} AND NOT EXISTS \
           (SELECT 1 FROM {from} WHERE {live} AND {key} = r.legacy_id)",
        name = literal(e.name()),
        from = e.from(false),
        live = e.live(),
        key = e.legacy_key_text(e.primary.alias),
    ))?;
    Spi::run_with_args(
        "UPDATE coreforge_sync.backfill_state SET phase = 'done', position = NULL, \
           finished_at = pg_catalog.clock_timestamp(), last_batch_at = pg_catalog.clock_timestamp() \
         WHERE entity = $1",
        &[e.name().into()],
    )?;
    state::record_run(e.kind, pass.started, pass.counts)?;
    state::mark_backfilled(e.kind)
}

/// `users: 120000 of ~1000000 rows (12.0%), 24000 rows/s, ETA 37 s` (or the end of a pass).
fn progress_line(kind: EntityKind) -> Result<String> {
    Ok(optional(Spi::get_one_with_args::<String>(
        "SELECT CASE WHEN s.phase = 'done' THEN \
                  pg_catalog.format('coreforge_sync: %s: pass %s done: %s rows in %s batches; %s inserted, %s updated, %s deleted, %s rejected', \
                    s.entity, s.pass, s.rows_done, s.batches, s.inserted, s.updated, s.deleted, s.rejected) \
                ELSE pg_catalog.format('coreforge_sync: %s: %s of ~%s rows (%s%%), %s rows/s, ETA %s s (%s phase)', \
                    s.entity, s.rows_done, s.estimated_total, \
                    pg_catalog.round(100.0 * s.rows_done / GREATEST(s.estimated_total, s.rows_done, 1), 1), \
                    pg_catalog.round(r.rate), \
                    CASE WHEN r.rate > 0 THEN GREATEST(0, pg_catalog.round((s.estimated_total - s.rows_done) / r.rate)) END, \
                    s.phase) END \
           FROM coreforge_sync.backfill_state s \
          CROSS JOIN LATERAL (SELECT (s.rows_done / GREATEST(0.001, extract(epoch FROM \
                 COALESCE(s.last_batch_at, s.started_at) - s.started_at)))::numeric AS rate) r \
          WHERE s.entity = $1",
        &[kind.as_str().into()],
    ))?
    .unwrap_or_default())
}

/// After a batch timed out on a lock (or deadlocked) and was rolled back: counts it, waits with
/// exponential backoff and jitter, and gives up after too many in a row.
#[pg_extern(schema = "coreforge_sync")]
#[search_path(pg_catalog, pg_temp)]
fn backfill_retry(name: &str) {
    raise(retry(name))
}

fn retry(name: &str) -> Result<()> {
    rights::authorize("run CALL cf_backfill()")?;
    let tries = optional(Spi::get_one_with_args::<i32>(
        "UPDATE coreforge_sync.backfill_state SET retries = retries + 1, failed_tries = failed_tries + 1 \
         WHERE entity = $1 RETURNING failed_tries",
        &[name.into()],
    ))?
    .unwrap_or(MAX_TRIES + 1);
    if tries > MAX_TRIES {
        return Err(Error::lock_timeout(format!(
            "coreforge_sync: backfill of {name} gave up after {MAX_TRIES} batches in a row timed out on locks"
        ))
        .detail("Other transactions held the rows of the next batch for longer than the lock timeout, again and again.")
        .hint("The pass is checkpointed: CALL cf_backfill() again when the application is quieter, or with a smaller batch_size."));
    }
    let backoff_ms = (100u64 << tries.clamp(0, 6)) as f64;
    let jitter = Spi::get_one::<f64>("SELECT pg_catalog.random()")?.unwrap_or(0.5);
    pause(backoff_ms * (0.5 + jitter / 2.0))
}

/// The pause between two batches.
#[pg_extern(schema = "coreforge_sync")]
#[search_path(pg_catalog, pg_temp)]
fn backfill_pause(ms: i32) {
    if ms > 0 {
        raise(pause(ms as f64));
    }
}

fn pause(ms: f64) -> Result<()> {
    Ok(Spi::run_with_args("SELECT pg_catalog.pg_sleep($1)", &[(ms / 1000.0).into()])?)
}

/// Forgets the interrupted pass of `entity` (NULL: of every entity): the next `CALL cf_backfill()`
/// starts from the beginning. A pass that is running elsewhere is not forgotten.
#[pg_extern]
#[search_path(pg_catalog, pg_temp)]
fn cf_backfill_reset(entity: default!(Option<&str>, "NULL")) -> String {
    raise(reset(entity))
}

fn reset(entity: Option<&str>) -> Result<String> {
    rights::authorize("run cf_backfill_reset()")?;
    let kinds: Vec<EntityKind> = match entity {
        None => EntityKind::ALL.to_vec(),
        Some(e) => vec![EntityKind::from_arg(Some(e))?],
    };
    let mut forgotten = Vec::new();
    for kind in kinds {
        if let Some(pid) = running_elsewhere(kind)? {
            return Err(Error::out_of_order(format!(
                "coreforge_sync: the backfill of {kind} is running (backend {pid})"
            ))
            .hint(format!("Cancel it first: SELECT pg_cancel_backend({pid});")));
        }
        let gone = Spi::get_one_with_args::<i64>(
            "WITH d AS (DELETE FROM coreforge_sync.backfill_state WHERE entity = $1 AND phase <> 'done' RETURNING 1) \
             SELECT pg_catalog.count(*) FROM d",
            &[kind.as_str().into()],
        )?
        .unwrap_or(0);
        if gone > 0 {
            forgotten.push(kind.as_str());
        }
    }
    Ok(if forgotten.is_empty() {
        "no interrupted backfill pass".into()
    } else {
        format!("forgot the interrupted pass of {}", forgotten.join(", "))
    })
}
