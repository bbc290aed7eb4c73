//! The extension's own state, kept in the schema `coreforge_sync` (see sql/bootstrap.sql).

use crate::errors::fail;
use crate::mirror::Counts;
use pgrx::prelude::*;

/// The value of `key` in coreforge_sync.settings, None when it has none. A read that fails is an
/// error, never a default.
pub fn setting(key: &str) -> Option<String> {
    Spi::get_one_with_args::<String>(
        "SELECT (SELECT value FROM coreforge_sync.settings WHERE key = $1)",
        &[key.into()],
    )
    .unwrap_or_else(|e| unreadable(&format!("coreforge_sync.settings (key {key})"), &e.to_string()))
}

/// A record of the extension's state that cannot be read: an error naming it (fail closed).
pub fn unreadable(record: &str, why: &str) -> ! {
    crate::errors::fail_with(
        PgSqlErrorCode::ERRCODE_DATA_CORRUPTED,
        &format!("coreforge_sync: cannot read {record}: {why}"),
        Some("coreforge_sync does not fall back to a default when its own state is unreadable."),
        Some("Restore the record (pg_dump of schema coreforge_sync), or ask the extension's owner."),
    )
}

pub fn set_setting(key: &str, value: &str) {
    Spi::run_with_args(
        "INSERT INTO coreforge_sync.settings (key, value) VALUES ($1, $2) \
         ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
        &[key.into(), value.into()],
    )
    .expect("write coreforge_sync.settings");
}

/// The schema holding the cf_ tables, or an error telling to run cf_create_tables() first.
pub fn cf_schema() -> String {
    setting("cf_schema").unwrap_or_else(|| {
        fail(
            "coreforge_sync: the CoreForge tables have not been created yet",
            None,
            Some("Run SELECT cf_create_tables(); first."),
        )
    })
}

pub fn mark_backfilled(entity: &str) {
    Spi::run_with_args(
        "INSERT INTO coreforge_sync.entity_state (entity, backfilled_at) VALUES ($1, pg_catalog.now()) \
         ON CONFLICT (entity) DO UPDATE SET backfilled_at = EXCLUDED.backfilled_at",
        &[entity.into()],
    )
    .expect("write coreforge_sync.entity_state");
}

/// Sync switched on or off: CoreForge may have drifted, so no entity counts as backfilled.
pub fn forget_backfills() {
    Spi::run("UPDATE coreforge_sync.entity_state SET backfilled_at = NULL").expect("reset entity_state");
}

pub fn is_backfilled(entity: &str) -> bool {
    Spi::get_one_with_args::<bool>(
        "SELECT EXISTS (SELECT 1 FROM coreforge_sync.entity_state WHERE entity = $1 AND backfilled_at IS NOT NULL)",
        &[entity.into()],
    )
    .unwrap_or_else(|e| unreadable(&format!("coreforge_sync.entity_state (entity {entity})"), &e.to_string()))
    .unwrap_or(false)
}

pub fn record_run(entity: &str, started_at: TimestampWithTimeZone, c: Counts) {
    Spi::run_with_args(
        "INSERT INTO coreforge_sync.sync_runs (entity, started_at, inserted, updated, deleted, rejected) \
         VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            entity.into(),
            started_at.into(),
            c.inserted.into(),
            c.updated.into(),
            c.deleted.into(),
            c.rejected.into(),
        ],
    )
    .expect("write coreforge_sync.sync_runs");
}

pub fn clear_setting(key: &str) {
    Spi::run_with_args("DELETE FROM coreforge_sync.settings WHERE key = $1", &[key.into()])
        .expect("write coreforge_sync.settings");
}
