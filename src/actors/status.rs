//! `cf_status()`: per entity, its tables, whether sync is on, row counts, the last backfill, and,
//! for a legacy table that is a replica of another server's, its subscription's state.

use crate::db::{catalog, config, triggers};
use crate::errors::{raise, Result};
use pgrx::prelude::*;

#[pg_extern]
#[search_path(pg_catalog, pg_temp)]
fn cf_status() -> TableIterator<
    'static,
    (
        name!(entity, String),
        name!(legacy_table, String),
        name!(coreforge_table, String),
        name!(sync_enabled, bool),
        name!(legacy_rows, i64),
        name!(legacy_live_rows, i64),
        name!(coreforge_rows, i64),
        name!(last_sync, Option<TimestampWithTimeZone>),
        name!(last_sync_rows, Option<i64>),
        name!(replica, Option<String>),
    ),
> {
    raise((|| -> Result<_> {
        let mut rows = Vec::new();
        for e in config::entities()? {
            let count = |sql: String| -> Result<i64> { Ok(Spi::get_one::<i64>(&sql)?.unwrap_or(0)) };
            let legacy_rows = count(format!("SELECT pg_catalog.count(*) FROM {}", e.primary.table()))?;
            let live_rows =
                count(format!("SELECT pg_catalog.count(*) FROM {} WHERE {}", e.from(false), e.live()))?;
            let cf_rows = count(format!("SELECT pg_catalog.count(*) FROM {}", e.cf_table()))?;
            let (last, written) = Spi::get_two_with_args::<TimestampWithTimeZone, i64>(
                "SELECT (SELECT finished_at FROM coreforge_sync.sync_runs WHERE entity = $1 ORDER BY id DESC LIMIT 1), \
                        (SELECT inserted + updated + deleted FROM coreforge_sync.sync_runs WHERE entity = $1 \
                          ORDER BY id DESC LIMIT 1)",
                &[e.name().into()],
            )?;
            rows.push((
                e.name().to_string(),
                e.primary.display(),
                e.cf_display(),
                triggers::sync_enabled(&e)?,
                legacy_rows,
                live_rows,
                cf_rows,
                last,
                written,
                catalog::subscription_of(&e.primary.schema, &e.primary.name)?.map(|s| s.describe()),
            ));
        }
        Ok(TableIterator::new(rows))
    })())
}
