//! The extension's own state, kept in the schema `coreforge_sync` (see sql/bootstrap.sql).

use crate::errors::fail;
use crate::mirror::Counts;
use pgrx::prelude::*;

pub fn setting(key: &str) -> Option<String> {
    Spi::get_one_with_args::<String>(
        "SELECT value FROM coreforge_sync.settings WHERE key = $1",
        &[key.into()],
    )
    .unwrap_or(None)
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
        "SELECT backfilled_at IS NOT NULL FROM coreforge_sync.entity_state WHERE entity = $1",
        &[entity.into()],
    )
    .unwrap_or(None)
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
