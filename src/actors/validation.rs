//! Proof of the result: `cf_validation_report()`, `cf_missing()`, `cf_mismatches()`,
//! `cf_extra()`. Each diffs the entity's projection (`mapping.rs`) against its cf_ table, so the
//! validation checks exactly what the backfill and the triggers write.

use crate::db::{catalog, config, state};
use crate::errors::{raise, Error, Result};
use crate::mapping::{problem_message, Entity};
use crate::quote::{ident, literal};
use crate::settings::EntityKind;
use pgrx::prelude::*;

fn checked_entity(name: Option<&str>) -> Result<Entity> {
    let e = config::entity(EntityKind::from_arg(name)?, &state::cf_schema()?)?;
    catalog::check_entity(&e)?;
    Ok(e)
}

/// Every parent row of a legacy row exists (a membership's user and tenant).
fn parents_present(e: &Entity) -> String {
    let mut parts: Vec<String> = e
        .parents
        .iter()
        .map(|p| format!("{}.{} IS NOT NULL", p.source.alias, ident(p.source.id.as_deref().unwrap_or("id"))))
        .collect();
    parts.push("true".into());
    parts.join(" AND ")
}

/// The projection of every live legacy row, with `reject`: why it cannot become a CoreForge row
/// (its recorded reject, or a problem of the row itself, which a sync would record), or NULL.
/// (`OFFSET 0` computes each projected row once, however many expressions read it.)
fn projection_with_rejects(e: &Entity) -> String {
    format!(
        "SELECT p.*, COALESCE(r.message, {}) AS reject FROM ({} OFFSET 0) p \
         LEFT JOIN coreforge_sync.rejects r ON r.entity = {} AND r.legacy_id = p.legacy_key",
        problem_message("p.problem"),
        e.projection("true"),
        literal(e.name())
    )
}

/// One check of the validation report.
struct Check {
    entity: EntityKind,
    name: &'static str,
    legacy_count: Option<i64>,
    coreforge_count: Option<i64>,
    discrepancies: i64,
    failed: bool,
    detail: String,
}

type ReportRow = (String, String, Option<i64>, Option<i64>, i64, String, String);

impl Check {
    /// The row `cf_validation_report()` shows.
    fn row(self) -> ReportRow {
        let status = if self.failed { "fail" } else { "ok" };
        (
            self.entity.to_string(),
            self.name.to_string(),
            self.legacy_count,
            self.coreforge_count,
            self.discrepancies,
            status.to_string(),
            self.detail,
        )
    }
}

/// The `N` counts of the one row `sql` returns.
fn counts<const N: usize>(sql: &str) -> Result<[i64; N]> {
    Spi::connect(|client| {
        let t = client.select(sql, Some(1), &[])?;
        let r = t.first();
        let mut out = [0; N];
        for (i, v) in out.iter_mut().enumerate() {
            *v = r.get::<i64>(i + 1)?.unwrap_or(0);
        }
        Ok(out)
    })
}

fn checks(e: &Entity) -> Result<Vec<Check>> {
    let k0 = ident(e.key[0].cf);
    let diff_sql = format!(
        "SELECT pg_catalog.count(p.legacy_key), pg_catalog.count(c.{k0}), \
           pg_catalog.count(*) FILTER (WHERE c.{k0} IS NULL AND p.legacy_key IS NOT NULL AND p.reject IS NULL), \
           pg_catalog.count(*) FILTER (WHERE p.legacy_key IS NULL), \
           pg_catalog.count(*) FILTER (WHERE p.legacy_key IS NOT NULL AND c.{k0} IS NOT NULL \
             AND p.reject IS NULL AND {cf} IS DISTINCT FROM {proj}), \
           pg_catalog.count(*) FILTER (WHERE c.{k0} IS NULL AND p.reject IS NOT NULL), \
           pg_catalog.count(*) FILTER (WHERE p.reject IS NOT NULL) \
         FROM ({projection}) p FULL JOIN {table} c ON {join}",
        cf = e.cf_row("c"),
        proj = e.cf_row("p"),
        projection = projection_with_rejects(e),
        table = e.cf_table(),
        join = e.cf_key_match("c", "p"),
    );
    let legacy_sql = format!(
        "SELECT pg_catalog.count(*), \
           pg_catalog.count(*) FILTER (WHERE {present} AND NOT ({live})), \
           pg_catalog.count(*) FILTER (WHERE NOT ({present})) \
         FROM {from}",
        present = parents_present(e),
        live = e.live(),
        from = e.from(true),
    );
    let [legacy, cf, missing, extra, mismatched, rejected_absent, rejected] = counts(&diff_sql)?;
    let [total, excluded, orphaned] = counts(&legacy_sql)?;

    let n = e.name();
    let row = |name: &'static str, l: Option<i64>, c: Option<i64>, d: i64, failed: bool, detail: String| {
        Check { entity: e.kind, name, legacy_count: l, coreforge_count: c, discrepancies: d, failed, detail }
    };
    let count_gap = (legacy - rejected_absent - cf).abs();
    let mut rows = vec![
        row(
            "row_count",
            Some(legacy),
            Some(cf),
            count_gap,
            count_gap != 0,
            if rejected_absent > 0 {
                format!(
                    "live legacy rows vs {} rows ({rejected_absent} rejected rows not counted)",
                    e.cf_name
                )
            } else {
                format!("live legacy rows vs {} rows", e.cf_name)
            },
        ),
        row(
            "missing",
            Some(legacy),
            Some(cf),
            missing,
            missing > 0,
            format!("no CoreForge row: SELECT * FROM cf_missing('{n}')"),
        ),
        row(
            "extra",
            Some(legacy),
            Some(cf),
            extra,
            extra > 0,
            format!("no live legacy row: SELECT * FROM cf_extra('{n}')"),
        ),
        row(
            "mismatched",
            Some(legacy),
            Some(cf),
            mismatched,
            mismatched > 0,
            format!("fields differ: SELECT * FROM cf_mismatches('{n}')"),
        ),
        row(
            "rejected",
            Some(legacy),
            None,
            rejected,
            rejected > 0,
            format!("cannot become CoreForge rows, accounted for: SELECT * FROM cf_missing('{n}')"),
        ),
        row(
            "excluded",
            Some(total),
            None,
            excluded,
            false,
            if e.parents.is_empty() {
                "soft-deleted, not migrated".into()
            } else {
                "row, user or organization soft-deleted, not migrated".into()
            },
        ),
    ];
    // Legacy tables that are a replica of another server's (a subscription writes them): the
    // checks above compare the replica, so a replica that takes no changes is a failure of its own,
    // and the other checks may be stale until it does.
    if let Some(sub) = catalog::subscription_of(&e.primary.schema, &e.primary.name)? {
        let behind = sub.behind();
        rows.push(row(
            "replica",
            None,
            None,
            i64::from(behind.is_some()),
            behind.is_some(),
            match behind {
                Some(why) => format!("{why}; the checks of {n} compare a replica that may be behind"),
                None => format!("{} is a replica: {}", e.primary.display(), sub.describe()),
            },
        ));
    }
    if !e.parents.is_empty() {
        rows.push(row(
            "orphaned",
            Some(total),
            None,
            orphaned,
            orphaned > 0,
            format!("user or organization does not exist: SELECT * FROM cf_missing('{n}')"),
        ));
    }
    Ok(rows)
}

/// One row per entity and check; `status` is 'ok' or 'fail'. Excluded rows are information.
#[pg_extern]
#[search_path(pg_catalog, pg_temp)]
fn cf_validation_report() -> TableIterator<
    'static,
    (
        name!(entity, String),
        name!(check_name, String),
        name!(legacy_count, Option<i64>),
        name!(coreforge_count, Option<i64>),
        name!(discrepancies, i64),
        name!(status, String),
        name!(detail, String),
    ),
> {
    raise(config::entities().and_then(|entities| report(&entities)))
}

/// The rows of the validation report of `entities`.
fn report(entities: &[Entity]) -> Result<TableIterator<'static, ReportRow>> {
    let mut rows = Vec::new();
    for e in entities {
        rows.extend(checks(e)?.into_iter().map(Check::row));
    }
    Ok(TableIterator::new(rows))
}

/// `cf_validation_report()` with the legacy tables read in `legacy_schema`: foreign tables
/// (postgres_fdw) of the legacy server's own tables, under their names, for the legacy tables on
/// another server (docs/remote.md). The same checks, between CoreForge here and the legacy server
/// itself rather than its replica here.
#[pg_extern(name = "cf_validation_report")]
#[search_path(pg_catalog, pg_temp)]
fn cf_validation_report_in(
    legacy_schema: Option<&str>,
) -> TableIterator<
    'static,
    (
        name!(entity, String),
        name!(check_name, String),
        name!(legacy_count, Option<i64>),
        name!(coreforge_count, Option<i64>),
        name!(discrepancies, i64),
        name!(status, String),
        name!(detail, String),
    ),
> {
    raise((|| -> Result<_> {
        let Some(schema) = legacy_schema.filter(|s| !s.is_empty()) else {
            return Err(Error::null_value("coreforge_sync: legacy_schema must not be NULL or empty")
                .hint("Give the schema of the foreign tables of the legacy server's tables, e.g. SELECT * FROM cf_validation_report('legacy_remote');"));
        };
        report(&config::reading_from(schema, config::entities)?)
    })())
}

/// The checks of `cf_validation_report()` that fail, as `(entity, check, discrepancies)`, and how
/// many checks ran: what a phase transition decides on and records.
pub fn failures(entities: &[Entity]) -> Result<(usize, Vec<(String, String, i64)>)> {
    let mut all = Vec::new();
    for e in entities {
        all.extend(checks(e)?);
    }
    let failed = all
        .iter()
        .filter(|c| c.failed)
        .map(|c| (c.entity.to_string(), c.name.to_string(), c.discrepancies))
        .collect();
    Ok((all.len(), failed))
}

/// Orphans: legacy rows whose user or tenant row does not exist, with the reason.
fn orphan_reason(e: &Entity) -> String {
    let whens: Vec<String> = e
        .parents
        .iter()
        .map(|p| {
            format!(
                "WHEN {a}.{id} IS NULL THEN {msg} || {m}.{fk}::text || ' does not exist'",
                a = p.source.alias,
                id = ident(p.source.id.as_deref().unwrap_or("id")),
                msg = literal(&format!("legacy {} row ", p.source.display())),
                m = e.primary.alias,
                fk = ident(&p.fk_legacy),
            )
        })
        .collect();
    format!("CASE {} END", whens.join(" "))
}

/// Legacy rows that should be in CoreForge and are not: no cf_ row yet, rejected or cannot be
/// mirrored (the reason says why), or (memberships) pointing at a user or tenant that does not exist.
#[pg_extern]
#[search_path(pg_catalog, pg_temp)]
fn cf_missing(
    entity: Option<&str>,
) -> TableIterator<'static, (name!(key, String), name!(label, Option<String>), name!(reason, String))> {
    raise((|| -> Result<_> {
        let e = checked_entity(entity)?;
        let mut sql = format!(
            "SELECT p.legacy_key, p.label, \
               COALESCE('rejected: ' || p.reject, 'no CoreForge row') \
             FROM ({projection}) p LEFT JOIN {table} c ON {join} \
             WHERE c.{k0} IS NULL OR p.reject IS NOT NULL",
            projection = projection_with_rejects(&e),
            table = e.cf_table(),
            join = e.cf_key_match("c", "p"),
            k0 = ident(e.key[0].cf),
        );
        if !e.parents.is_empty() {
            sql.push_str(&format!(
                " UNION ALL SELECT {key}, NULL, {reason} FROM {from} WHERE NOT ({present})",
                key = e.legacy_key_text(e.primary.alias),
                reason = orphan_reason(&e),
                from = e.from(true),
                present = parents_present(&e),
            ));
        }
        sql.push_str(" ORDER BY 1");
        let rows = Spi::connect(|client| -> Result<_> {
            Ok(client
                .select(sql.as_str(), None, &[])?
                .map(|r| {
                    (
                        r.get::<String>(1).ok().flatten().unwrap_or_default(),
                        r.get::<String>(2).ok().flatten(),
                        r.get::<String>(3).ok().flatten().unwrap_or_default(),
                    )
                })
                .collect::<Vec<_>>())
        })?;
        Ok(TableIterator::new(rows))
    })())
}

/// Field by field differences between the projection and the cf_ rows of the same key.
#[pg_extern]
#[search_path(pg_catalog, pg_temp)]
fn cf_mismatches(
    entity: Option<&str>,
) -> TableIterator<
    'static,
    (
        name!(key, String),
        name!(column_name, String),
        name!(legacy_value, Option<String>),
        name!(coreforge_value, Option<String>),
    ),
> {
    raise((|| -> Result<_> {
        let e = checked_entity(entity)?;
        let values: Vec<String> = e
            .columns
            .iter()
            .map(|c| {
                let col = ident(c.cf);
                format!("({}, p.{col}::text, c.{col}::text, p.{col} IS DISTINCT FROM c.{col})", literal(c.cf))
            })
            .collect();
        let sql = format!(
            "SELECT p.legacy_key, v.col, v.legacy_value, v.cf_value \
             FROM ({projection}) p JOIN {table} c ON {join} \
             CROSS JOIN LATERAL (VALUES {values}) v(col, legacy_value, cf_value, differs) \
             WHERE v.differs AND p.reject IS NULL ORDER BY 1, 2",
            projection = projection_with_rejects(&e),
            table = e.cf_table(),
            join = e.cf_key_match("c", "p"),
            values = values.join(", "),
        );
        let rows = Spi::connect(|client| -> Result<_> {
            Ok(client
                .select(sql.as_str(), None, &[])?
                .map(|r| {
                    (
                        r.get::<String>(1).ok().flatten().unwrap_or_default(),
                        r.get::<String>(2).ok().flatten().unwrap_or_default(),
                        r.get::<String>(3).ok().flatten(),
                        r.get::<String>(4).ok().flatten(),
                    )
                })
                .collect::<Vec<_>>())
        })?;
        Ok(TableIterator::new(rows))
    })())
}

/// CoreForge rows with no live legacy row (a sync would remove them), and why.
#[pg_extern]
#[search_path(pg_catalog, pg_temp)]
fn cf_extra(entity: Option<&str>) -> TableIterator<'static, (name!(key, String), name!(reason, String))> {
    raise((|| -> Result<_> {
        let e = checked_entity(entity)?;
        let a = e.primary.alias;
        let sql = format!(
            "SELECT {key}, CASE WHEN EXISTS (SELECT 1 FROM {legacy} {a} WHERE {legacy_join}) \
               THEN 'legacy row not live (soft-deleted, or its user or tenant is)' ELSE 'no legacy row' END \
             FROM {table} c WHERE NOT EXISTS (SELECT 1 FROM {from} WHERE {live} AND {join}) ORDER BY 1",
            key = e.cf_key_text("c"),
            legacy = e.primary.table(),
            legacy_join = e
                .key
                .iter()
                .map(|k| format!("{a}.{} = {}", ident(&k.legacy), k.legacy_of(&format!("c.{}", ident(k.cf)))))
                .collect::<Vec<_>>()
                .join(" AND "),
            table = e.cf_table(),
            from = e.from(false),
            live = e.live(),
            join = e.key_join("c"),
        );
        let rows = Spi::connect(|client| -> Result<_> {
            Ok(client
                .select(sql.as_str(), None, &[])?
                .map(|r| {
                    (
                        r.get::<String>(1).ok().flatten().unwrap_or_default(),
                        r.get::<String>(2).ok().flatten().unwrap_or_default(),
                    )
                })
                .collect::<Vec<_>>())
        })?;
        Ok(TableIterator::new(rows))
    })())
}
