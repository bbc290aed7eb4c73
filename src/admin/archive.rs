//! The guide's phase 3: `cf_archive_legacy()`, `cf_restore_legacy()`, `cf_drop_archive()`, and the
//! setting `coreforge_sync.archive_retention`.
//!
//! Archiving moves the legacy tables, with their data, indexes, owned sequences and grants, into
//! an archive schema (`ALTER TABLE ... SET SCHEMA`), after taking every trigger off. While archived,
//! the configuration reads them there (config.rs), so the validation still compares them with
//! CoreForge; nothing is mirrored. Restoring moves them back, brings them up to date with
//! CoreForge (the reverse backfill) and re-arms the sync, frozen. Dropping needs the schema's name
//! and the retention period (or force); the id mapping tables stay.

use crate::actors::{passwords, reverse};
use crate::admin::compat;
use crate::admin::steps::{cf_tables, legacy_tables, not_null, record, validate};
use crate::db::config::entities;
use crate::db::phase::{archive_schema, begin, lock, Phase};
use crate::db::spi::optional;
use crate::db::{config, rights, state, triggers};
use crate::errors::{raise, Error, Result};
use crate::quote::ident;
use crate::settings::EntityKind;
use pgrx::prelude::*;
use pgrx::{GucContext, GucFlags, GucRegistry, GucSetting};
use std::ffi::CString;

static ARCHIVE_RETENTION: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(Some(c"30 days"));

pub fn register_settings() {
    GucRegistry::define_string_guc(
        c"coreforge_sync.archive_retention",
        c"How long cf_drop_archive() keeps an archive of the legacy tables before it may drop it.",
        c"An interval (default 30 days, as in the migration guide); superusers set it. cf_drop_archive(..., force => true) drops it sooner, recorded in cf_history().",
        &ARCHIVE_RETENTION,
        GucContext::Suset,
        GucFlags::default(),
    );
}

/// The schema a legacy table lives in when not archived (its configured `table`).
fn home_schema(entity: EntityKind) -> Result<String> {
    Ok(config::home_table(entity)?.map(|(schema, _)| schema).unwrap_or_else(|| "public".into()))
}

/// The schema the legacy tables are archived in (an error naming the record when there is none).
fn archived_in() -> Result<String> {
    archive_schema()?.ok_or_else(|| {
        state::unreadable(
            "coreforge_sync.settings (key archive_schema)",
            "the phase is archived but no schema is recorded",
        )
    })
}

/// Whether a relation (table, view, sequence...) `schema.name` exists.
fn relation_exists(schema: &str, name: &str) -> Result<bool> {
    Ok(Spi::get_one_with_args::<bool>(
        "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n \
         ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2)",
        &[schema.into(), name.into()],
    )?
    .unwrap_or(false))
}

/// Moves the legacy tables into `archive_schema` (phase legacy_frozen -> archived). Refuses unless
/// the legacy tables are frozen and the validation is clean.
#[pg_extern]
#[search_path(pg_catalog, pg_temp)]
fn cf_archive_legacy(archive_schema: default!(Option<&str>, "'archive'")) -> String {
    raise(cf_archive_legacy_impl(archive_schema))
}

fn cf_archive_legacy_impl(archive_schema: Option<&str>) -> Result<String> {
    rights::authorize("run cf_archive_legacy()")?;
    let archive_schema = archive_schema.unwrap_or_default();
    if archive_schema.trim().is_empty() {
        return Err(Error::null_value("coreforge_sync: the archive schema's name must not be NULL or empty")
            .hint("SELECT cf_archive_legacy('archive');"));
    }
    let phase = begin()?;
    match phase {
        Phase::LegacyFrozen => {}
        Phase::Archived if self::archive_schema()?.as_deref() == Some(archive_schema) => {
            return Ok(format!("already archived in schema {archive_schema}: nothing to do"));
        }
        Phase::Archived => {
            return Err(Error::out_of_order(format!(
                "coreforge_sync: the legacy tables are archived in schema {}, not {archive_schema}",
                self::archive_schema()?.unwrap_or_default()
            ))
            .hint(phase.hint()))
        }
        Phase::SideBySide | Phase::Cutover => {
            return Err(Error::out_of_order(format!(
            "coreforge_sync: cannot archive the legacy tables in phase {phase}: they must be frozen first"
        ))
            .detail("Archiving takes them away from any application instance still writing them.")
            .hint(if phase == Phase::Cutover {
                "SELECT cf_freeze_legacy(); first."
            } else {
                "SELECT cf_cutover(); then SELECT cf_freeze_legacy(); first."
            }))
        }
        Phase::Dropped => {
            return Err(Error::out_of_order(
                "coreforge_sync: the legacy tables were already archived and dropped",
            )
            .hint(phase.hint()))
        }
    }
    let entities = entities()?;
    let v = validate(&entities)?;
    let failing = v.failing_except(&[]);
    if !failing.is_empty() {
        return Err(Error::out_of_order("coreforge_sync: cannot archive while the validation fails")
.detail(format!(
                "Failing checks of cf_validation_report(): {}. Archived, those rows would be only in the archive.",
                failing.join(", ")
            ))
.hint("Fix them first: SELECT cf_unfreeze_legacy(); lets legacy rows be fixed or soft-deleted; SELECT * FROM cf_sync_legacy(); writes CoreForge into the legacy tables."));
    }
    for e in &entities {
        if e.primary.schema == archive_schema {
            return Err(Error::invalid(format!(
                "coreforge_sync: {} is already in schema {archive_schema}",
                e.primary.display()
            ))
            .hint("Archive into another schema: SELECT cf_archive_legacy('legacy_archive');"));
        }
        if relation_exists(archive_schema, &e.primary.name)? {
            return Err(Error::duplicate_table(format!(
                "coreforge_sync: {archive_schema}.{} exists already",
                e.primary.name
            ))
            .hint("Move it away, or archive into another schema."));
        }
    }
    if Spi::get_one_with_args::<bool>(
        "SELECT NOT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1)",
        &[archive_schema.into()],
    )?
    .unwrap_or(false)
    {
        Spi::run(&format!("CREATE SCHEMA {}", ident(archive_schema)))?;
    }
    // CoreForge's tables first (the order of a mirrored write), each as its trigger drop needs.
    lock(&cf_tables(&entities), "ACCESS EXCLUSIVE")?;
    lock(&legacy_tables(&entities), "ACCESS EXCLUSIVE")?;
    triggers::arm(Phase::Archived, &entities)?;
    // The legacy hashes cf_upgrade_password() can still upgrade, kept past the archive's drop.
    let copies = passwords::keep_copies()?;
    for e in &entities {
        Spi::run(&format!("ALTER TABLE {} SET SCHEMA {}", e.primary.table(), ident(archive_schema)))?;
    }
    state::set_setting("archive_schema", archive_schema)?;
    record(
        &format!("cf_archive_legacy({})", crate::quote::literal(archive_schema)),
        phase,
        Phase::Archived,
        None,
        false,
        Some(&v),
        Some(archive_schema),
    )?;
    let moved: Vec<String> =
        entities.iter().map(|e| format!("{archive_schema}.{}", e.primary.name)).collect();
    Ok(format!(
        "phase archived: {} (CoreForge writes are no longer mirrored; cf_restore_legacy() brings them back){}",
        moved.join(", "),
        if copies > 0 {
            format!("; {copies} legacy password {} kept for cf_upgrade_password()", hashes(copies))
        } else {
            String::new()
        }
    ))
}

/// Moves the archived legacy tables back, brings them up to date with CoreForge, and re-arms the
/// sync, frozen (archived -> legacy_frozen). Used by cf_restore_legacy() and cf_rollback().
pub fn restore(from: Phase) -> Result<()> {
    let archive = archived_in()?;
    compat::drop_views()?;
    let archived = entities()?;
    for e in &archived {
        let home = home_schema(e.kind)?;
        if relation_exists(&home, &e.primary.name)? {
            return Err(Error::duplicate_table(format!(
                "coreforge_sync: cannot restore {}: {home}.{} exists",
                e.primary.display(),
                e.primary.name
            ))
            .hint("Move it away first."));
        }
    }
    lock(&legacy_tables(&archived), "ACCESS EXCLUSIVE")?;
    for e in &archived {
        Spi::run(&format!("ALTER TABLE {} SET SCHEMA {}", e.primary.table(), ident(&home_schema(e.kind)?)))?;
    }
    state::clear_setting("archive_schema")?;
    // The legacy rows hold the hashes again.
    passwords::forget_copies()?;
    let restored = entities()?;
    // CoreForge writes wait from here on, so the reverse backfill misses none before the triggers.
    lock(&cf_tables(&restored), "SHARE ROW EXCLUSIVE")?;
    reverse::reconcile_all()?;
    triggers::arm(Phase::LegacyFrozen, &restored)?;
    let v = validate(&restored)?;
    record("cf_restore_legacy", from, Phase::LegacyFrozen, None, false, Some(&v), Some(&archive))
}

/// Brings the archived legacy tables back (archived -> legacy_frozen): moved back, brought up to
/// date with everything CoreForge holds, the sync re-armed. Works as long as the archive exists.
#[pg_extern]
#[search_path(pg_catalog, pg_temp)]
fn cf_restore_legacy() -> String {
    raise(cf_restore_legacy_impl())
}

fn cf_restore_legacy_impl() -> Result<String> {
    rights::authorize("run cf_restore_legacy()")?;
    let phase = begin()?;
    match phase {
        Phase::Archived => {}
        Phase::SideBySide | Phase::Cutover | Phase::LegacyFrozen => {
            return Ok(format!("not archived (phase {phase}): nothing to do"));
        }
        Phase::Dropped => {
            return Err(Error::out_of_order(
                "coreforge_sync: cannot restore the legacy tables: the archive was dropped",
            )
            .hint(phase.hint()))
        }
    }
    restore(phase)?;
    let tables: Vec<String> = entities()?.iter().map(|e| e.primary.display()).collect();
    Ok(format!(
        "phase legacy_frozen: {} restored and brought up to date with CoreForge; sync re-armed",
        tables.join(", ")
    ))
}

/// Drops the archive (archived -> dropped) when `confirm` is the archive schema's name and the
/// archive is older than `coreforge_sync.archive_retention`; `force` skips the retention (recorded).
/// The id mapping tables stay.
#[pg_extern]
#[search_path(pg_catalog, pg_temp)]
fn cf_drop_archive(confirm: Option<&str>, force: default!(Option<bool>, false)) -> String {
    raise(cf_drop_archive_impl(confirm, force))
}

fn cf_drop_archive_impl(confirm: Option<&str>, force: Option<bool>) -> Result<String> {
    rights::authorize("run cf_drop_archive()")?;
    let force = not_null(force, "force")?;
    let phase = begin()?;
    match phase {
        Phase::Archived => {}
        Phase::Dropped => return Ok("already dropped: nothing to do".into()),
        _ => {
            return Err(Error::out_of_order(format!(
                "coreforge_sync: there is no archive to drop (phase {phase})"
            ))
            .hint(phase.hint()))
        }
    }
    let archive = archived_in()?;
    if confirm != Some(archive.as_str()) {
        return Err(Error::invalid(format!(
            "coreforge_sync: confirm with the archive schema's name, {archive}"
        ))
        .detail("Dropping the archive deletes the legacy tables for good.")
        .hint(format!("SELECT cf_drop_archive({});", crate::quote::literal(&archive))));
    }
    let retention =
        Spi::get_one::<String>("SELECT pg_catalog.current_setting('coreforge_sync.archive_retention')")?
            .unwrap_or_default();
    let young = PgTryBuilder::new(|| -> Result<bool> {
        Ok(optional(Spi::get_one_with_args::<bool>(
            "SELECT at > pg_catalog.now() - $1::interval FROM coreforge_sync.phase_history \
             WHERE to_phase = 'archived' AND from_phase <> 'archived' ORDER BY id DESC LIMIT 1",
            &[retention.clone().into()],
        ))?
        .unwrap_or(false))
    })
    .catch_when(PgSqlErrorCode::ERRCODE_INVALID_DATETIME_FORMAT, |_| {
        Err(Error::invalid_datetime(format!(
            "coreforge_sync: coreforge_sync.archive_retention is not an interval: {retention}"
        ))
        .hint("SET coreforge_sync.archive_retention = '30 days';"))
    })
    .execute()?;
    let (archived_at, droppable_at) = Spi::get_two_with_args::<String, String>(
        "SELECT (SELECT at::text FROM coreforge_sync.phase_history \
                  WHERE to_phase = 'archived' AND from_phase <> 'archived' ORDER BY id DESC LIMIT 1), \
                (SELECT (at + $1::interval)::text FROM coreforge_sync.phase_history \
                  WHERE to_phase = 'archived' AND from_phase <> 'archived' ORDER BY id DESC LIMIT 1)",
        &[retention.clone().into()],
    )?;
    let archived_at = archived_at.unwrap_or_default();
    if young && !force {
        return Err(Error::out_of_order(format!(
            "coreforge_sync: the archive is younger than coreforge_sync.archive_retention ({retention})"
        ))
        .detail(format!(
            "Archived at {archived_at}; it may be dropped from {}.",
            droppable_at.unwrap_or_default()
        ))
        .hint(format!(
            "Wait, or SELECT cf_drop_archive({}, force => true); (recorded in cf_history()).",
            crate::quote::literal(&archive)
        )));
    }
    let archived = entities()?;
    lock(&legacy_tables(&archived), "ACCESS EXCLUSIVE")?;
    let tables: Vec<String> = archived.iter().rev().map(|e| e.primary.table()).collect();
    Spi::run(&format!("DROP TABLE {}", tables.join(", ")))?;
    let empty = Spi::get_one_with_args::<bool>(
        "SELECT NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_namespace n ON n.oid = d.refobjid \
         WHERE d.refclassid = 'pg_catalog.pg_namespace'::pg_catalog.regclass AND n.nspname = $1)",
        &[archive.clone().into()],
    )?
    .unwrap_or(false);
    if empty {
        Spi::run(&format!("DROP SCHEMA {}", ident(&archive)))?;
    }
    let reason = if young && force {
        format!("forced within the retention period ({retention})")
    } else {
        format!("older than the retention period ({retention})")
    };
    record(
        &format!("cf_drop_archive({}, force => {force})", crate::quote::literal(&archive)),
        phase,
        Phase::Dropped,
        Some(&reason),
        force,
        None,
        Some(&archive),
    )?;
    let shown: Vec<String> = archived.iter().map(|e| e.primary.display()).collect();
    Ok(format!(
        "phase dropped: {} dropped{}; the id mappings stay in coreforge_sync",
        shown.join(", "),
        if empty { format!(", and schema {archive}") } else { String::new() }
    ))
}

/// Deletes the legacy password hashes `cf_archive_legacy()` kept for `cf_upgrade_password()`
/// (recorded in cf_history()): the users who have not logged in since must then reset their
/// password. Refuses unless `confirm` is true, and says how many users that is.
#[pg_extern]
#[search_path(pg_catalog, pg_temp)]
fn cf_forget_legacy_passwords(confirm: default!(Option<bool>, false)) -> String {
    raise(cf_forget_legacy_passwords_impl(confirm))
}

fn cf_forget_legacy_passwords_impl(confirm: Option<bool>) -> Result<String> {
    rights::authorize("run cf_forget_legacy_passwords()")?;
    let confirm = not_null(confirm, "confirm")?;
    let phase = begin()?;
    let kept = passwords::copies()?;
    if kept == 0 {
        return Ok("no legacy password hashes are kept: nothing to do".into());
    }
    if !confirm {
        return Err(Error::out_of_order(format!(
            "coreforge_sync: {kept} {} can still upgrade their legacy password at their next login",
            if kept == 1 { "user" } else { "users" }
        ))
        .detail("Once their hashes are forgotten, those users must reset their password.")
        .hint("SELECT cf_forget_legacy_passwords(confirm => true);"));
    }
    let forgotten = passwords::forget_copies()?;
    record(
        "cf_forget_legacy_passwords(confirm => true)",
        phase,
        phase,
        Some(&format!("{forgotten} legacy password {} deleted", hashes(forgotten))),
        false,
        None,
        None,
    )?;
    Ok(format!(
        "{forgotten} legacy password {} deleted; cf_upgrade_password() returns false for those users from now on",
        hashes(forgotten)
    ))
}

fn hashes(n: i64) -> &'static str {
    if n == 1 {
        "hash"
    } else {
        "hashes"
    }
}
