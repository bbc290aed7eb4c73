//! What the catalog says about the tables the extension reads and writes: columns and their
//! types, unique keys, and (before any work) that the cf_ table of an entity exists.

use crate::db::spi::optional;
use crate::errors::{Error, Result};
use crate::mapping::{Catalog, ColumnInfo, Entity, Expression};
use pgrx::prelude::*;

/// The catalog of the database the extension runs in, as the mapping reads it. `foreign`: the
/// legacy tables are read as foreign tables of the legacy server's (a validation across servers,
/// `config::reading_from`), whose keys and foreign keys are the legacy server's, not in this
/// catalog: they are taken as configured.
pub struct Live {
    pub foreign: bool,
}

impl Catalog for Live {
    fn columns(&self, schema: &str, table: &str) -> Result<Option<Vec<ColumnInfo>>> {
        columns_of(schema, table, if self.foreign { "'r', 'p', 'f'" } else { "'r', 'p'" })
    }
    fn unique_index(&self, schema: &str, table: &str, columns: &[String]) -> Result<Option<Vec<String>>> {
        if self.foreign {
            return Ok(Some(columns.to_vec()));
        }
        unique_index_columns(schema, table, columns)
    }
    fn new_value(&self, schema: &str, table: &str, column: &str) -> Result<Option<String>> {
        new_value(schema, table, column)
    }
    fn fits(&self, sample: &str, target: &str) -> Result<bool> {
        Ok(Spi::get_one_with_args::<bool>(
            &format!("SELECT coreforge_sync.fits(pg_catalog.to_jsonb({sample}), $1::pg_catalog.regtype)"),
            &[target.into()],
        )?
        .unwrap_or(false))
    }
    fn references(
        &self,
        schema: &str,
        table: &str,
        column: &str,
        ref_schema: &str,
        ref_table: &str,
    ) -> Result<bool> {
        if self.foreign {
            return Ok(false);
        }
        Ok(Spi::get_one_with_args::<bool>(
            "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint c \
               JOIN pg_catalog.pg_class r ON r.oid = c.conrelid JOIN pg_catalog.pg_namespace n ON n.oid = r.relnamespace \
               JOIN pg_catalog.pg_class f ON f.oid = c.confrelid JOIN pg_catalog.pg_namespace fs ON fs.oid = f.relnamespace \
               JOIN pg_catalog.pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] \
              WHERE c.contype = 'f' AND c.convalidated AND NOT c.condeferrable \
                AND pg_catalog.cardinality(c.conkey) = 1 AND a.attname = $3 \
                AND n.nspname = $1 AND r.relname = $2 AND fs.nspname = $4 AND f.relname = $5)",
            &[schema.into(), table.into(), column.into(), ref_schema.into(), ref_table.into()],
        )?
        .unwrap_or(false))
    }
    fn expression(
        &self,
        (schema, table): (&str, &str),
        expr: &str,
        cast: Option<&str>,
    ) -> Result<std::result::Result<Expression, String>> {
        let read = match crate::db::expression::read(schema, table, expr, cast) {
            Ok(read) => read,
            Err(why) => return Ok(Err(why)),
        };
        // A function outside pg_catalog is called by the triggers, the backfill and the validation,
        // with the rights of whoever runs them (a table's owner, the extension's owner, a superuser
        // validating): only a superuser's, which nobody else can redefine, is safe to call.
        let untrusted = Spi::get_one_with_args::<String>(
            "SELECT pg_catalog.string_agg(pg_catalog.format('%s (owned by %s)', p.oid::pg_catalog.regprocedure, \
                      pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(p.proowner))), ', ' ORDER BY p.oid) \
             FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_roles o ON o.oid = p.proowner \
             WHERE p.oid = ANY ($1) AND p.pronamespace <> 'pg_catalog'::pg_catalog.regnamespace AND NOT o.rolsuper",
            &[read.functions.clone().into()],
        )?;
        if let Some(functions) = untrusted {
            return Ok(Err(format!(
                "it calls {functions}: a function outside pg_catalog must belong to a superuser (it runs in the sync, the backfill and the validation with the rights of whoever runs them, and its owner could redefine it)"
            )));
        }
        let (type_name, type_display, category, type_base) = Spi::connect(|client| {
            let row = client
                .select(
                    "SELECT t.typname::text, pg_catalog.format_type(t.oid, NULL), t.typcategory::text, \
                            CASE WHEN t.oid = 'pg_catalog.bpchar'::pg_catalog.regtype THEN 'pg_catalog.bpchar' \
                                 ELSE pg_catalog.format_type(t.oid, NULL) END \
                     FROM pg_catalog.pg_type t WHERE t.oid = $1",
                    None,
                    &[read.result.into()],
                )?
                .first();
            Ok::<_, Error>((
                row.get::<String>(1)?.unwrap_or_default(),
                row.get::<String>(2)?.unwrap_or_default(),
                row.get::<String>(3)?.unwrap_or_default(),
                row.get::<String>(4)?.unwrap_or_default(),
            ))
        })?;
        let result =
            ColumnInfo { name: String::new(), type_name, type_display, type_base, category, not_null: false };
        Ok(Ok(Expression { sql: read.sql, result, reads: read.reads }))
    }
    fn canonical(&self, value: &str, target: &str) -> Result<Option<String>> {
        Ok(Spi::get_one_with_args::<String>(
            "SELECT coreforge_sync.canonical($1, $2::pg_catalog.regtype)",
            &[value.into(), target.into()],
        )?)
    }
}

/// The columns of `schema.table`, or None when there is no such table.
pub fn table_columns(schema: &str, table: &str) -> Result<Option<Vec<ColumnInfo>>> {
    columns_of(schema, table, "'r', 'p'")
}

/// The columns of `schema.table` of one of the relation kinds `relkinds` (SQL literals).
fn columns_of(schema: &str, table: &str, relkinds: &str) -> Result<Option<Vec<ColumnInfo>>> {
    Spi::connect(|client| {
        let rows = client
            .select(
                &format!("SELECT a.attname::text, t.typname::text, pg_catalog.format_type(a.atttypid, a.atttypmod), \
                        t.typcategory::text, a.attnotnull, \
                        CASE WHEN a.atttypid = 'pg_catalog.bpchar'::pg_catalog.regtype THEN 'pg_catalog.bpchar' \
                             ELSE pg_catalog.format_type(a.atttypid, NULL) END \
                 FROM pg_catalog.pg_class r \
                 JOIN pg_catalog.pg_namespace n ON n.oid = r.relnamespace \
                 LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped \
                 LEFT JOIN pg_catalog.pg_type t ON t.oid = a.atttypid \
                 WHERE n.nspname = $1 AND r.relname = $2 AND r.relkind IN ({relkinds})"
                ),
                None,
                &[schema.into(), table.into()],
            )?;
        if rows.is_empty() {
            return Ok(None);
        }
        Ok(Some(
            rows.filter_map(|r| {
                Some(ColumnInfo {
                    name: r.get::<String>(1).ok().flatten()?,
                    type_name: r.get::<String>(2).ok().flatten()?,
                    type_display: r.get::<String>(3).ok().flatten()?,
                    category: r.get::<String>(4).ok().flatten()?,
                    not_null: r.get::<bool>(5).ok().flatten()?,
                    type_base: r.get::<String>(6).ok().flatten()?,
                })
            })
            .collect(),
        ))
    })
}

pub fn table_exists(schema: &str, table: &str) -> Result<bool> {
    Ok(table_columns(schema, table)?.is_some())
}

/// The columns, in index order, of a primary key or unique index (not partial, not an expression) of
/// `schema.table` on exactly `columns` (in any order); None when there is none. A keyset walk over
/// the key follows this order, so that it reads the index.
pub fn unique_index_columns(schema: &str, table: &str, columns: &[String]) -> Result<Option<Vec<String>>> {
    optional(Spi::get_one_with_args::<Vec<String>>(
        "SELECT (SELECT pg_catalog.array_agg(a.attname::text ORDER BY k.ord) \
                   FROM pg_catalog.unnest(i.indkey::int2[]) WITH ORDINALITY k(attnum, ord) \
                   JOIN pg_catalog.pg_attribute a ON a.attrelid = r.oid AND a.attnum = k.attnum) \
           FROM pg_catalog.pg_index i \
           JOIN pg_catalog.pg_class r ON r.oid = i.indrelid \
           JOIN pg_catalog.pg_namespace n ON n.oid = r.relnamespace \
          WHERE n.nspname = $1 AND r.relname = $2 AND i.indisunique AND i.indpred IS NULL \
            AND i.indexprs IS NULL AND i.indnkeyatts = pg_catalog.cardinality($3) \
            AND (SELECT pg_catalog.array_agg(a.attname::text ORDER BY a.attname) \
                   FROM pg_catalog.pg_attribute a \
                  WHERE a.attrelid = r.oid AND a.attnum = ANY (i.indkey::int2[])) \
                = (SELECT pg_catalog.array_agg(c ORDER BY c) FROM pg_catalog.unnest($3) c) \
          ORDER BY i.indisprimary DESC LIMIT 1",
        &[schema.into(), table.into(), columns.to_vec().into()],
    ))
}

/// Whether `schema.table` has a primary key or a unique index on exactly `columns`.
pub fn is_unique(schema: &str, table: &str, columns: &[String]) -> Result<bool> {
    Ok(unique_index_columns(schema, table, columns)?.is_some())
}

/// The cf_ table of `e` exists (the legacy side was checked when `e` was built).
pub fn check_entity(e: &Entity) -> Result<()> {
    if !table_exists(&e.cf_schema, e.cf_name)? {
        return Err(Error::no_table(format!(
            "coreforge_sync: CoreForge table {}.{} does not exist",
            e.cf_schema, e.cf_name
        ))
        .hint("Run SELECT cf_create_tables(); first."));
    }
    Ok(())
}

/// The SQL expression that gives a new row of `schema.table` its `column`: the column's default,
/// or the next value of its identity sequence; None when it has neither. (Read under the
/// extension's fixed search_path, every name in it is schema-qualified.)
pub fn new_value(schema: &str, table: &str, column: &str) -> Result<Option<String>> {
    optional(Spi::get_one_with_args::<String>(
        "SELECT CASE WHEN a.attidentity <> '' THEN \
                  'pg_catalog.nextval(' || pg_catalog.quote_literal(pg_catalog.pg_get_serial_sequence(\
                     pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(r.relname), a.attname)) \
                  || '::pg_catalog.regclass)' \
                ELSE pg_catalog.pg_get_expr(d.adbin, d.adrelid) END \
           FROM pg_catalog.pg_attribute a \
           JOIN pg_catalog.pg_class r ON r.oid = a.attrelid \
           JOIN pg_catalog.pg_namespace n ON n.oid = r.relnamespace \
           LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
          WHERE n.nspname = $1 AND r.relname = $2 AND a.attname = $3 AND a.attgenerated = ''",
        &[schema.into(), table.into(), column.into()],
    ))
}

/// The NOT NULL columns of `schema.table` that a new row cannot leave out: no default, no
/// identity, not generated.
pub fn required_columns(schema: &str, table: &str) -> Result<Vec<String>> {
    column_names(
        schema,
        table,
        "a.attnotnull AND NOT a.atthasdef AND a.attidentity = '' AND a.attgenerated = ''",
    )
}

/// The generated columns of `schema.table` (`GENERATED ALWAYS AS ... STORED`): no write may set them.
pub fn generated_columns(schema: &str, table: &str) -> Result<Vec<String>> {
    column_names(schema, table, "a.attgenerated <> ''")
}

/// The names of the columns of `schema.table` that `cond` (over `pg_attribute a`) holds for.
fn column_names(schema: &str, table: &str, cond: &str) -> Result<Vec<String>> {
    Spi::get_one_with_args::<Vec<String>>(
        &format!(
            "SELECT pg_catalog.array_agg(a.attname::text ORDER BY a.attnum) \
               FROM pg_catalog.pg_attribute a \
               JOIN pg_catalog.pg_class r ON r.oid = a.attrelid \
               JOIN pg_catalog.pg_namespace n ON n.oid = r.relnamespace \
              WHERE n.nspname = $1 AND r.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped AND {cond}"
        ),
        &[schema.into(), table.into()],
    )
    .map(Option::unwrap_or_default)
    .map_err(Error::from)
}

/// A logical replication subscription that writes a legacy table (the legacy tables are a replica
/// of another server's: `docs/remote.md`), and how it is doing as this server sees it.
pub struct Subscription {
    pub name: String,
    pub enabled: bool,
    /// Whether its apply worker runs.
    pub streaming: bool,
    /// The table's own state in it: `r` ready (copied, then applied), else its initial copy is not
    /// done (`i`, `d`, `f`, `s`).
    pub table_state: String,
    /// Seconds since the last message from the publisher (None without a worker).
    pub silent_for: Option<f64>,
}

/// The subscription that writes `schema.table`, None when no subscription does.
pub fn subscription_of(schema: &str, table: &str) -> Result<Option<Subscription>> {
    Spi::connect(|client| {
        let rows = client.select(
            "SELECT s.subname::text, s.subenabled, st.pid IS NOT NULL, r.srsubstate::text, \
                    pg_catalog.date_part('epoch', pg_catalog.now() - st.last_msg_receipt_time) \
             FROM pg_catalog.pg_subscription_rel r \
             JOIN pg_catalog.pg_subscription s ON s.oid = r.srsubid \
             JOIN pg_catalog.pg_class c ON c.oid = r.srrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             LEFT JOIN pg_catalog.pg_stat_subscription st ON st.subid = s.oid AND st.relid IS NULL \
             WHERE n.nspname = $1 AND c.relname = $2 ORDER BY s.subname LIMIT 1",
            None,
            &[schema.into(), table.into()],
        )?;
        Ok(rows.into_iter().next().map(|r| Subscription {
            name: r.get::<String>(1).ok().flatten().unwrap_or_default(),
            enabled: r.get::<bool>(2).ok().flatten().unwrap_or(false),
            streaming: r.get::<bool>(3).ok().flatten().unwrap_or(false),
            table_state: r.get::<String>(4).ok().flatten().unwrap_or_default(),
            silent_for: r.get::<f64>(5).ok().flatten(),
        }))
    })
}

impl Subscription {
    /// Why the replica may not hold what the legacy server holds, None while it streams.
    pub fn behind(&self) -> Option<String> {
        if !self.enabled {
            Some(format!("subscription {} is disabled: the replica takes no changes", self.name))
        } else if self.table_state != "r" {
            Some(format!(
                "subscription {} has not finished copying this table (state {})",
                self.name, self.table_state
            ))
        } else if !self.streaming {
            Some(format!("subscription {} has no apply worker running (see the server log)", self.name))
        } else {
            None
        }
    }

    /// How it stands, in words.
    pub fn describe(&self) -> String {
        match (self.behind(), self.silent_for) {
            (Some(why), _) => why,
            (None, Some(s)) => format!("subscription {} streaming, last message {s:.1} s ago", self.name),
            (None, None) => format!("subscription {} streaming", self.name),
        }
    }
}
