//! Layer 5, the actors: the triggers that mirror every write, the backfills, the validation and
//! the reports. They read the mapping, run the generated SQL through the database layer, and check
//! the phase through `db::phase`.

pub mod backfill;
pub mod batched;
pub mod hashes;
pub mod passwords;
pub mod rejects;
pub mod reverse;
pub mod status;
pub mod triggers;
pub mod validation;
