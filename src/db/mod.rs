//! Layer 4, database access: SPI execution, the catalog, the extension's own state tables, the
//! phase as recorded, rights checks, and the trigger objects. Everything that reads or writes the
//! database, except the actors' own statements, goes through here.

pub mod catalog;
pub mod config;
pub mod expression;
pub mod guard;
pub mod ids;
pub mod internal;
pub mod owner;
pub mod phase;
pub mod rights;
pub mod spi;
pub mod state;
pub mod transition;
pub mod triggers;
