//! coreforge_sync: moves an application's legacy identity tables onto CoreForge's cf_ tables,
//! inside PostgreSQL. Where things are:
//! - `config.rs`     cf_configure(), cf_config(): the legacy tables, columns, ids, values, policies
//! - `mapping.rs`    the projection of each entity (legacy columns -> cf_ columns), built from the config
//! - `ids.rs`        CoreForge ids for integer and text legacy ids (the id mapping tables)
//! - `mirror.rs`     the statement that applies a projection to a scope (used by backfill and triggers)
//! - `backfill.rs`   cf_sync_users(), cf_sync_organizations(), cf_sync_memberships(), cf_sync_all()
//! - `batched.rs`    CALL cf_backfill(): batched, resumable, with progress (sql/batched_backfill.sql)
//! - `triggers.rs`   cf_enable_sync(), cf_disable_sync() and the trigger functions (forward,
//!                   reverse, freeze), armed per phase
//! - `guard.rs`      the recursion guard of two-way sync
//! - `reverse.rs`    the reverse sync, CoreForge -> legacy, and cf_sync_legacy()
//! - `phases.rs`     cf_phase(), cf_history(), cf_cutover(), cf_rollback(), cf_freeze_legacy(),
//!                   cf_unfreeze_legacy()
//! - `archive.rs`    cf_archive_legacy(), cf_restore_legacy(), cf_drop_archive()
//! - `compat.rs`     cf_create_compat_views()
//! - `privileges.rs` cf_grant_admin(), cf_revoke_admin() (EXECUTE is taken from PUBLIC)
//! - `validation.rs` cf_validation_report(), cf_missing(), cf_mismatches(), cf_extra()
//! - `rejects.rs`    cf_rejects(): legacy rows that cannot become CoreForge rows, and why
//! - `passwords.rs`  cf_password_report(), cf_password_resets() (formats in sql/passwords.sql)
//! - `tables.rs`     cf_create_tables() (DDL in sql/coreforge_tables/)
//! - `status.rs`     cf_status()
//! - `state.rs`      the extension's own tables (sql/bootstrap.sql)

// pgrx set-returning functions spell out their row types in the signature.
#![allow(clippy::type_complexity)]

use pgrx::prelude::*;

mod archive;
mod backfill;
mod batched;
mod catalog;
mod compat;
mod config;
mod errors;
mod guard;
mod ids;
mod internal;
mod mapping;
mod mirror;
mod owner;
mod passwords;
mod phases;
mod privileges;
mod rejects;
mod reverse;
mod sql;
mod state;
mod status;
mod tables;
mod triggers;
mod validation;

#[cfg(any(test, feature = "pg_test"))]
mod settings_fuzz;
#[cfg(any(test, feature = "pg_test"))]
mod tests;

::pgrx::pg_module_magic!(name, version);

extension_sql_file!("../sql/bootstrap.sql", name = "bootstrap", bootstrap);
extension_sql_file!("../sql/passwords.sql", name = "passwords");
extension_sql_file!("../sql/batched_backfill.sql", name = "batched_backfill");
extension_sql_file!("../sql/finalize.sql", name = "finalize", finalize);

#[pg_guard]
pub extern "C-unwind" fn _PG_init() {
    triggers::register_settings();
    archive::register_settings();
    guard::register();
}

/// This module is required by `cargo pgrx test` invocations.
#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}

    #[must_use]
    pub fn postgresql_conf_options() -> Vec<&'static str> {
        vec![]
    }
}
