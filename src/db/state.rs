//! The extension's own state, kept in the schema `coreforge_sync` (see sql/bootstrap.sql).

use crate::errors::{Error, Result};
use crate::settings::EntityKind;
use crate::sqlgen::mirror::Counts;
use pgrx::prelude::*;

/// The value of `key` in coreforge_sync.settings, None when it has none. A read that fails is an
/// error, never a default.
pub fn setting(key: &str) -> Result<Option<String>> {
    Spi::get_one_with_args::<String>(
        "SELECT (SELECT value FROM coreforge_sync.settings WHERE key = $1)",
        &[key.into()],
    )
    .map_err(|e| unreadable(&format!("coreforge_sync.settings (key {key})"), &e.to_string()))
}

/// A record of the extension's state that cannot be read: an error naming it (fail closed).
pub fn unreadable(record: &str, why: &str) -> Error {
    Error::corrupted(format!("coreforge_sync: cannot read {record}: {why}"))
        .detail("coreforge_sync does not fall back to a default when its own state is unreadable.")
        .hint("Restore the record (pg_dump of schema coreforge_sync), or ask the extension's owner.")
}

pub fn set_setting(key: &str, value: &str) -> Result<()> {
    Ok(Spi::run_with_args(
        "INSERT INTO coreforge_sync.settings (key, value) VALUES ($1, $2) \
         ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
        &[key.into(), value.into()],
    )?)
}

pub fn clear_setting(key: &str) -> Result<()> {
    Ok(Spi::run_with_args("DELETE FROM coreforge_sync.settings WHERE key = $1", &[key.into()])?)
}

/// The schema holding the cf_ tables, or an error telling to run cf_create_tables() first.
pub fn cf_schema() -> Result<String> {
    setting("cf_schema")?.ok_or_else(|| {
        Error::out_of_order("coreforge_sync: the CoreForge tables have not been created yet")
            .hint("Run SELECT cf_create_tables(); first.")
    })
}

pub fn mark_backfilled(entity: EntityKind) -> Result<()> {
    Ok(Spi::run_with_args(
        "INSERT INTO coreforge_sync.entity_state (entity, backfilled_at) VALUES ($1, pg_catalog.now()) \
         ON CONFLICT (entity) DO UPDATE SET backfilled_at = EXCLUDED.backfilled_at",
        &[entity.as_str().into()],
    )?)
}

/// Sync switched on or off: CoreForge may have drifted, so no entity counts as backfilled.
pub fn forget_backfills() -> Result<()> {
    Ok(Spi::run("UPDATE coreforge_sync.entity_state SET backfilled_at = NULL")?)
}

pub fn is_backfilled(entity: EntityKind) -> Result<bool> {
    Ok(Spi::get_one_with_args::<bool>(
        "SELECT EXISTS (SELECT 1 FROM coreforge_sync.entity_state WHERE entity = $1 AND backfilled_at IS NOT NULL)",
        &[entity.as_str().into()],
    )
    .map_err(|e| unreadable(&format!("coreforge_sync.entity_state (entity {entity})"), &e.to_string()))?
    .unwrap_or(false))
}

pub fn record_run(entity: EntityKind, started_at: TimestampWithTimeZone, c: Counts) -> Result<()> {
    Ok(Spi::run_with_args(
        "INSERT INTO coreforge_sync.sync_runs (entity, started_at, inserted, updated, deleted, rejected) \
         VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            entity.as_str().into(),
            started_at.into(),
            c.inserted.into(),
            c.updated.into(),
            c.deleted.into(),
            c.rejected.into(),
        ],
    )?)
}
