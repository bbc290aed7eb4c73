//! Password hashes (the guide's "Password Hash Format"). CoreForge verifies only Argon2id; the
//! password policy (`cf_configure('users', '{"passwords": {...}}')`) says per format whether a hash
//! is kept or stored as NULL, so the user must reset. The formats are recognised by
//! `coreforge_sync.password_format()` (sql/passwords.sql). Nothing here ever shows a hash.

use crate::db::{catalog, config, state};
use crate::errors::{raise, Error, Result};
use crate::mapping::{kept_formats, Entity};
use crate::quote::{ident, literal};
use crate::settings::{EntityKind, PASSWORD_FORMATS};
use pgrx::prelude::*;

fn users() -> Result<(Entity, String)> {
    let e = config::entity(EntityKind::Users, &state::cf_schema()?)?;
    catalog::check_entity(&e)?;
    let Some(col) = e.secret.clone() else {
        return Err(Error::invalid("coreforge_sync: no legacy column is mapped to password_hash").hint(
            "Map one: SELECT cf_configure('users', '{\"columns\": {..., \"password_hash\": \"<column>\"}}');",
        ));
    };
    Ok((e, col))
}

fn action(format: &str, kept: &[&str]) -> &'static str {
    if format == "empty" {
        "none (no password)"
    } else if kept.contains(&format) {
        "keep"
    } else {
        "reset"
    }
}

/// Per format of the live legacy users' password hashes: how many users, and what the policy does.
#[pg_extern]
#[search_path(pg_catalog, pg_temp)]
fn cf_password_report(
) -> TableIterator<'static, (name!(format, String), name!(users, i64), name!(action, String))> {
    raise((|| -> Result<_> {
        let (e, col) = users()?;
        let policy = config::settings(EntityKind::Users)?.passwords;
        let kept = kept_formats(policy.as_ref());
        let sql = format!(
            "SELECT coreforge_sync.password_format({a}.{col}::text) AS f, pg_catalog.count(*) \
             FROM {from} WHERE {live} GROUP BY 1",
            a = e.primary.alias,
            col = ident(&col),
            from = e.from(false),
            live = e.live(),
        );
        let counts: Vec<(String, i64)> = Spi::connect(|client| -> Result<_> {
            Ok(client
                .select(sql.as_str(), None, &[])?
                .map(|r| {
                    (
                        r.get::<String>(1).ok().flatten().unwrap_or_default(),
                        r.get::<i64>(2).ok().flatten().unwrap_or(0),
                    )
                })
                .collect())
        })?;
        let rows: Vec<_> = PASSWORD_FORMATS
            .iter()
            .filter_map(|f| {
                counts
                    .iter()
                    .find(|(g, _)| g == f)
                    .map(|(_, n)| (f.to_string(), *n, action(f, &kept).to_string()))
            })
            .collect();
        Ok(TableIterator::new(rows))
    })())
}

/// The CoreForge users whose legacy password hash the policy does not keep: they must reset it.
#[pg_extern]
#[search_path(pg_catalog, pg_temp)]
fn cf_password_resets(
) -> TableIterator<'static, (name!(id, pgrx::Uuid), name!(email, String), name!(format, String))> {
    raise((|| -> Result<_> {
        let (e, col) = users()?;
        let policy = config::settings(EntityKind::Users)?.passwords;
        let kept: Vec<String> = kept_formats(policy.as_ref()).iter().map(|f| literal(f)).collect();
        let kept = if kept.is_empty() { "NULL".to_string() } else { kept.join(", ") };
        let sql = format!(
            "SELECT c.id, c.email::text, f.format FROM {from} \
             JOIN {cf} c ON {join} \
             CROSS JOIN LATERAL (SELECT coreforge_sync.password_format({a}.{col}::text) AS format) f \
             WHERE {live} AND f.format NOT IN ('empty', {kept}) ORDER BY c.email",
            a = e.primary.alias,
            col = ident(&col),
            from = e.from(false),
            cf = e.cf_table(),
            join = e.key_join("c"),
            live = e.live(),
        );
        let rows = Spi::connect(|client| -> Result<_> {
            Ok(client
                .select(sql.as_str(), None, &[])?
                .filter_map(|r| {
                    Some((
                        r.get::<pgrx::Uuid>(1).ok().flatten()?,
                        r.get::<String>(2).ok().flatten().unwrap_or_default(),
                        r.get::<String>(3).ok().flatten().unwrap_or_default(),
                    ))
                })
                .collect::<Vec<_>>())
        })?;
        Ok(TableIterator::new(rows))
    })())
}
