//! Running the generated statements through SPI, and reading what they report.

use crate::db::owner;
use crate::errors::Result;
use crate::mapping::Entity;
use crate::sqlgen::mirror::{Counts, BOOKKEEPING};
use pgrx::datum::DatumWithOid;
use pgrx::prelude::*;
use pgrx::spi::{SpiError, SpiTupleTable};

/// The value of a query that may return no row: None then (SPI reports no row as an error).
pub fn optional<T>(result: Result<Option<T>, SpiError>) -> Result<Option<T>> {
    match result {
        Ok(v) => Ok(v),
        Err(SpiError::InvalidPosition) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Runs one mirror statement of `e`, which writes its cf_ table, with that table's owner's rights
/// (`owner.rs`), reads its `(inserted, updated, deleted, rejected)` counts, and records its rejects
/// with the extension's rights ([`BOOKKEEPING`]).
pub fn execute(e: &Entity, sql: &str, args: &[DatumWithOid]) -> Result<Counts> {
    Spi::connect_mut(|client| {
        let (counts, book) =
            owner::as_owner(&e.cf_schema, e.cf_name, || counted(client.update(sql, None, args)?))?;
        if let Some(book) = book {
            client.update(BOOKKEEPING, None, &[book.into()])?;
        }
        Ok(counts)
    })
}

/// The counts of a mirror statement, and its `bookkeeping` (None when it has none).
pub fn counted(row: SpiTupleTable<'_>) -> Result<(Counts, Option<String>)> {
    let row = row.first();
    let get = |i| -> Result<i64> { Ok(row.get::<i64>(i)?.unwrap_or(0)) };
    let counts = Counts { inserted: get(1)?, updated: get(2)?, deleted: get(3)?, rejected: get(4)? };
    Ok((counts, row.get::<String>(5)?))
}
