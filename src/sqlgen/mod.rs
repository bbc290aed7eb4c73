//! Layer 3, SQL generation: the statements the extension runs, built from the mapping (layer 2)
//! as strings. Pure: nothing here runs SQL, so every statement can be read and tested without a
//! database (the snapshots in `snapshots.rs`).
//! - `mirror.rs`  legacy -> CoreForge: the mirror statement, its probe and its locks
//! - `reverse.rs` CoreForge -> legacy: the three-step writes of the reverse sync
//! - `ids.rs`     the id assignment of mapped ids

pub mod ids;
pub mod mirror;
pub mod reverse;

#[cfg(test)]
mod snapshots;
