//! `cf_create_compat_views()`: after archiving, views named like the old legacy tables over the
//! cf_ tables, so that code nobody migrated yet keeps reading (and, where PostgreSQL can write
//! through a view, writing).
//!
//! Each view has the legacy key with its old type (through the id mappings), every mapped legacy
//! column (value maps read backwards), and the soft-delete column (always "live"). It gets the
//! grants the legacy table had. PostgreSQL writes through a view by itself when it reads one
//! table and its columns are plain columns: kept uuid ids and unmapped values are; mapped ids,
//! value maps and the soft-delete column are read-only.

use crate::db::config::{entities, home_table};
use crate::db::phase::{self, Phase};
use crate::db::{catalog, rights, state};
use crate::errors::{raise, Error, Result};
use crate::mapping::SoftDelete;
use crate::quote::{ident, literal, qualified};
use crate::sqlgen::reverse as reverse_sql;
use pgrx::prelude::*;

/// Drops the compatibility views this extension created (before a restore, or to recreate them).
pub fn drop_views() -> Result<()> {
    let Some(list) = state::setting("compat_views")? else { return Ok(()) };
    // (schema, name) pairs, quoted here: the setting is data, never SQL.
    let views: Vec<(String, String)> = serde_json::from_str(&list).unwrap_or_default();
    for (schema, name) in views {
        let is_view = Spi::get_one_with_args::<bool>(
            "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n \
               ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind = 'v')",
            &[schema.as_str().into(), name.as_str().into()],
        )?
        .unwrap_or(false);
        if is_view {
            Spi::run(&format!("DROP VIEW {}", qualified(&schema, &name)))?;
        }
    }
    state::clear_setting("compat_views")
}

/// Creates (or recreates) the compatibility views; one row per view: what it reads, and which of
/// its columns PostgreSQL can write through (INSERT and UPDATE; DELETE works on every view).
#[pg_extern]
#[search_path(pg_catalog, pg_temp)]
fn cf_create_compat_views() -> TableIterator<
    'static,
    (name!(view, String), name!(reads, String), name!(writable, String), name!(read_only, String)),
> {
    raise((|| -> Result<_> {
        rights::authorize("run cf_create_compat_views()")?;
        let phase = phase::begin()?;
        if phase != Phase::Archived {
            return Err(Error::out_of_order(format!("coreforge_sync: compatibility views are made in phase archived, not {phase}"))
    .detail("They take the legacy tables' names once cf_archive_legacy() has moved the tables away, need the archived tables' column types, and are dropped by cf_restore_legacy().")
    .hint(phase.hint()));
        }
        drop_views()?;
        let entities = entities()?;
        let mut created = Vec::new();
        let mut rows = Vec::new();
        for e in &entities {
            let home = home_table(e.kind)?.map(|(schema, _)| schema).unwrap_or_else(|| "public".into());
            let view = qualified(&home, &e.primary.name);
            let mut cols: Vec<String> = e
                .key
                .iter()
                .map(|k| format!("{} AS {}", k.legacy_of(&format!("c.{}", ident(k.cf))), ident(&k.legacy)))
                .collect();
            for w in reverse_sql::written(e) {
                // A plain column stays writable through the view; a mapped one is computed.
                let value = match &w.from {
                    reverse_sql::From::Column(c) if c.inverse.is_empty() && c.encoding.is_none() => {
                        w.source("c")
                    }
                    _ => reverse_sql::back(&w, &w.source("c")),
                };
                cols.push(format!("{value} AS {}", ident(w.legacy)));
            }
            match &e.primary.soft_delete {
                Some(SoftDelete::Timestamp(c)) => {
                    let ty = catalog::table_columns(&e.primary.schema, &e.primary.name)?
                        .unwrap_or_default()
                        .into_iter()
                        .find(|col| col.name == *c)
                        .map(|col| col.type_display)
                        .unwrap_or_else(|| "timestamptz".into());
                    cols.push(format!("NULL::{ty} AS {}", ident(c)));
                }
                Some(SoftDelete::Boolean(c)) => cols.push(format!("false AS {}", ident(c))),
                None => {}
            }
            Spi::run(&format!("CREATE VIEW {view} AS SELECT {} FROM {} c", cols.join(", "), e.cf_table()))?;
            Spi::run(&format!(
                "COMMENT ON VIEW {view} IS {}",
                literal(&format!(
                    "coreforge_sync compatibility view over {}: the archived {} as CoreForge holds it",
                    e.cf_display(),
                    e.primary.display()
                ))
            ))?;
            rights::give_to_owner_of(&view, &e.cf_table())?;
            copy_grants(&e.primary.table(), &view)?;
            let (writable, read_only) = Spi::get_two_with_args::<String, String>(
                "SELECT pg_catalog.string_agg(column_name::text, ', ' ORDER BY ordinal_position) \
                          FILTER (WHERE is_updatable = 'YES'), \
                        pg_catalog.string_agg(column_name::text, ', ' ORDER BY ordinal_position) \
                          FILTER (WHERE is_updatable = 'NO') \
                 FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2",
                &[home.as_str().into(), e.primary.name.as_str().into()],
            )?;
            rows.push((
                format!("{home}.{}", e.primary.name),
                e.cf_display(),
                writable.unwrap_or_default(),
                read_only.unwrap_or_default(),
            ));
            created.push((home.clone(), e.primary.name.clone()));
        }
        let list = serde_json::Value::from(
            created.iter().map(|(s, n)| vec![s.clone(), n.clone()]).collect::<Vec<_>>(),
        );
        state::set_setting("compat_views", &list.to_string())?;
        Ok(TableIterator::new(rows))
    })())
}

/// Gives `view` the privileges on `table` (SELECT, INSERT, UPDATE, DELETE) of every role but the owner.
fn copy_grants(table: &str, view: &str) -> Result<()> {
    let grants: Vec<(String, String)> = Spi::connect(|client| -> Result<_> {
        Ok(client
            .select(
                "SELECT a.privilege_type, CASE WHEN a.grantee = 0 THEN 'PUBLIC' \
                        ELSE pg_catalog.quote_ident(r.rolname) END \
                 FROM pg_catalog.pg_class c, pg_catalog.aclexplode(c.relacl) a \
                 LEFT JOIN pg_catalog.pg_roles r ON r.oid = a.grantee \
                 WHERE c.oid = pg_catalog.to_regclass($1) AND a.grantee <> c.relowner \
                   AND a.privilege_type IN ('SELECT', 'INSERT', 'UPDATE', 'DELETE')",
                None,
                &[table.into()],
            )?
            .filter_map(|r| Some((r.get::<String>(1).ok().flatten()?, r.get::<String>(2).ok().flatten()?)))
            .collect())
    })?;
    for (privilege, grantee) in grants {
        Spi::run(&format!("GRANT {privilege} ON {view} TO {grantee}"))?;
    }
    Ok(())
}
