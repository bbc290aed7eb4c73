//! Layer 6, the phases and admin functions: configuration, sync on and off, the phase machine
//! (cutover, rollback, freeze, archive), the cf_ tables, compatibility views and rights.

pub mod archive;
pub mod compat;
pub mod config;
pub mod phases;
pub mod privileges;
pub mod steps;
pub mod sync;
pub mod tables;
