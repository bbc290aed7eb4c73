//! `cf_rejects(entity)`: the legacy rows that cannot become valid CoreForge rows, with the reason.
//! The mirror statement (`mirror.rs`) records them in coreforge_sync.rejects and clears them when
//! the row is fixed or no longer needs migrating. Password columns are redacted when recorded.

use crate::errors::{raise, Result};
use crate::settings::EntityKind;
use pgrx::prelude::*;
use pgrx::JsonB;

#[pg_extern]
#[search_path(pg_catalog, pg_temp)]
fn cf_rejects(
    entity: default!(Option<&str>, "NULL"),
) -> TableIterator<
    'static,
    (
        name!(entity, String),
        name!(legacy_id, String),
        name!(reason, String),
        name!(message, String),
        name!(legacy_row, Option<JsonB>),
        name!(first_seen, TimestampWithTimeZone),
        name!(last_seen, TimestampWithTimeZone),
    ),
> {
    raise((|| -> Result<_> {
        let filter = entity.map(|e| EntityKind::from_arg(Some(e)).map(|k| k.to_string())).transpose()?;
        let rows = Spi::connect(|client| -> Result<_> {
            Ok(client
                .select(
                    "SELECT entity, legacy_id, reason, message, legacy_row, first_seen, last_seen \
                     FROM coreforge_sync.rejects WHERE $1::text IS NULL OR entity = $1 \
                     ORDER BY array_position(ARRAY['users', 'organizations', 'memberships'], entity), \
                              legacy_id COLLATE \"C\"",
                    None,
                    &[filter.into()],
                )?
                .filter_map(|r| {
                    let text = |i| r.get::<String>(i).ok().flatten().unwrap_or_default();
                    let ts = |i| r.get::<TimestampWithTimeZone>(i).ok().flatten();
                    Some((
                        text(1),
                        text(2),
                        text(3),
                        text(4),
                        r.get::<JsonB>(5).ok().flatten(),
                        ts(6)?,
                        ts(7)?,
                    ))
                })
                .collect::<Vec<_>>())
        })?;
        Ok(TableIterator::new(rows))
    })())
}
