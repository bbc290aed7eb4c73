//! coreforge_sync: moves an application's legacy identity tables onto CoreForge's cf_ tables,
//! inside PostgreSQL. The folders follow the data, and imports run downward only (checked by
//! scripts/check-layers.py, part of `make test`):
//! 0. `errors.rs`, `quote.rs`: typed errors with their SQLSTATE; quoting
//! 1. `settings/`  the JSON an entity is configured with (pure serde)
//! 2. `mapping/`   the settings checked against the catalog, and the projection of each entity (pure)
//! 3. `sqlgen/`    the statements: mirror, reverse, id assignment (pure string builders)
//! 4. `db/`        SPI, the catalog, the extension's state, the phase as recorded, rights, triggers
//! 5. `actors/`    the trigger functions, backfills, validation and reports
//! 6. `admin/`     configuration, sync on/off, the phase machine, tables, views, rights

// pgrx set-returning functions spell out their row types in the signature.
#![allow(clippy::type_complexity)]

use pgrx::prelude::*;

mod errors;
mod quote;

mod settings;

mod mapping;

mod sqlgen;

mod db;

mod actors;

mod admin;

#[cfg(any(test, feature = "pg_test"))]
mod settings_fuzz;
#[cfg(any(test, feature = "pg_test"))]
mod tests;

::pgrx::pg_module_magic!(name, version);

extension_sql_file!("../sql/bootstrap.sql", name = "bootstrap", bootstrap);
extension_sql_file!("../sql/passwords.sql", name = "passwords");
extension_sql_file!("../sql/checks.sql", name = "checks");
extension_sql_file!("../sql/batched_backfill.sql", name = "batched_backfill");
extension_sql_file!("../sql/finalize.sql", name = "finalize", finalize);

#[pg_guard]
pub extern "C-unwind" fn _PG_init() {
    actors::triggers::register_settings();
    admin::archive::register_settings();
    db::guard::register();
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
