//! coreforge_sync: moves an application's legacy identity tables onto CoreForge's cf_ tables,
//! inside PostgreSQL. Where things are:
//! - `mapping.rs`    the projection of each entity (legacy columns -> cf_ columns), defined once
//! - `mirror.rs`     the statement that applies a projection to a scope (used by backfill and triggers)
//! - `backfill.rs`   cf_sync_users(), cf_sync_organizations(), cf_sync_memberships(), cf_sync_all()
//! - `triggers.rs`   cf_enable_sync(), cf_disable_sync() and the trigger function
//! - `validation.rs` cf_validation_report(), cf_missing(), cf_mismatches(), cf_extra()
//! - `tables.rs`     cf_create_tables() (DDL in sql/coreforge_tables/)
//! - `status.rs`     cf_status()
//! - `state.rs`      the extension's own tables (sql/bootstrap.sql)

// pgrx set-returning functions spell out their row types in the signature.
#![allow(clippy::type_complexity)]

use pgrx::prelude::*;

mod backfill;
mod catalog;
mod errors;
mod internal;
mod mapping;
mod mirror;
mod sql;
mod state;
mod status;
mod tables;
mod triggers;
mod validation;

#[cfg(any(test, feature = "pg_test"))]
mod tests;

::pgrx::pg_module_magic!(name, version);

extension_sql_file!("../sql/bootstrap.sql", name = "bootstrap", bootstrap);
extension_sql_file!("../sql/finalize.sql", name = "finalize", finalize);

/// This module is required by `cargo pgrx test` invocations.
#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}

    #[must_use]
    pub fn postgresql_conf_options() -> Vec<&'static str> {
        vec![]
    }
}
