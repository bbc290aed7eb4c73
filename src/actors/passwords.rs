//! Password hashes (the guide's "Password Hash Format"). CoreForge verifies only Argon2id; the
//! password policy (`cf_configure('users', '{"passwords": {...}}')`) says per format whether a hash
//! is kept or stored as NULL, so the user must reset. The formats are recognised by
//! `coreforge_sync.password_format()` (sql/passwords.sql). Nothing here ever shows a hash.
//!
//! `cf_upgrade_password()` is the lazy migration of the identity providers: at a user's next
//! successful login, the password is checked against the legacy hash (`hashes.rs`) and CoreForge
//! gets a fresh Argon2id hash of it. The legacy hash is read from the legacy row until the legacy
//! tables are archived, and from then on from `coreforge_sync.legacy_passwords`, the copies
//! `cf_archive_legacy()` takes (see [`keep_copies`]). The password itself never reaches SQL: it
//! is hashed in Rust, and no statement, message or table sees it.

use crate::actors::hashes;
use crate::db::owner::as_owner;
use crate::db::phase::{self, Phase};
use crate::db::{catalog, config, state};
use crate::errors::{raise, Error, Result};
use crate::mapping::{decoded_password, kept_formats, Entity};
use crate::quote::{ident, literal};
use crate::settings::{EntityKind, PasswordEncoding, PASSWORD_FORMATS};
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

/// Where the legacy hashes are read in `phase`: a FROM clause and its filter, in which `x.h` is a
/// user's legacy hash (text, as CoreForge reads it: Django's wrappers taken off), `c` its cf_users row (NULLs for a user not in CoreForge), and the legacy column is readable under its
/// own name through the legacy alias, so that the projection of the password (`proj`) reads it as
/// the sync does. Before the archive, the live legacy rows; from then on, the copies.
struct HashSource {
    from: String,
    filter: String,
    proj: String,
}

fn hash_source(e: &Entity, col: &str, phase: Phase) -> HashSource {
    let a = e.primary.alias;
    let column = e.columns.iter().find(|c| c.cf == "password_hash");
    let proj = column.map(|c| c.expr.clone()).unwrap_or_else(|| "NULL::text".into());
    let encoding = column.and_then(|c| c.encoding).unwrap_or(PasswordEncoding::Phc);
    if matches!(phase, Phase::Archived | Phase::Dropped) {
        let from = format!(
            "coreforge_sync.legacy_passwords p CROSS JOIN LATERAL (SELECT p.hash AS {col}) {a} \
             CROSS JOIN LATERAL (SELECT p.hash AS h) x JOIN {cf} c ON c.id = p.user_id",
            col = ident(col),
            cf = e.cf_table(),
        );
        HashSource { from, filter: "true".into(), proj }
    } else {
        let from = format!(
            "{from} LEFT JOIN {cf} c ON {join} CROSS JOIN LATERAL (SELECT {h} AS h) x",
            from = e.from(false),
            cf = e.cf_table(),
            join = e.key_join("c"),
            h = decoded_password(encoding, &format!("{a}.{}::text", ident(col))),
        );
        HashSource { from, filter: e.live(), proj }
    }
}

/// Of the rows of [`hash_source`]: the legacy hash can be upgraded (a password can be checked
/// against it, CoreForge cannot) and is still what CoreForge holds, as the sync made it (a
/// password changed on CoreForge's side since makes it void).
fn still_upgradable(s: &HashSource) -> String {
    format!(
        "c.id IS NOT NULL AND coreforge_sync.password_upgradable(x.h) AND c.password_hash IS NOT DISTINCT FROM {}",
        s.proj
    )
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

/// Per format of the live legacy users' password hashes: how many users, what the policy does,
/// how many of them `cf_upgrade_password()` can still upgrade at their next login, and how many
/// users it has upgraded from that format. Once the legacy tables are archived, the users are
/// those whose hash `cf_archive_legacy()` kept for the upgrade.
#[pg_extern]
#[search_path(pg_catalog, pg_temp)]
fn cf_password_report() -> TableIterator<
    'static,
    (
        name!(format, String),
        name!(users, i64),
        name!(action, String),
        name!(upgradable, i64),
        name!(upgraded, i64),
    ),
> {
    raise((|| -> Result<_> {
        let (e, col) = users()?;
        let policy = config::settings(EntityKind::Users)?.passwords;
        let kept = kept_formats(policy.as_ref());
        let source = hash_source(&e, &col, phase::current()?);
        let sql = format!(
            "SELECT f, pg_catalog.sum(users)::bigint, pg_catalog.sum(upgradable)::bigint, pg_catalog.sum(upgraded)::bigint FROM ( \
               SELECT coreforge_sync.password_format(x.h) AS f, pg_catalog.count(*) AS users, \
                      pg_catalog.count(*) FILTER (WHERE {upgradable}) AS upgradable, 0 AS upgraded \
                 FROM {from} WHERE {filter} GROUP BY 1 \
               UNION ALL \
               SELECT from_format, 0, 0, pg_catalog.count(*) FROM coreforge_sync.password_upgrades GROUP BY 1) r \
             GROUP BY f",
            from = source.from,
            filter = source.filter,
            upgradable = still_upgradable(&source),
        );
        let counts: Vec<(String, [i64; 3])> = Spi::connect(|client| -> Result<_> {
            Ok(client
                .select(sql.as_str(), None, &[])?
                .map(|r| {
                    let n = |i| r.get::<i64>(i).ok().flatten().unwrap_or(0);
                    (r.get::<String>(1).ok().flatten().unwrap_or_default(), [n(2), n(3), n(4)])
                })
                .collect())
        })?;
        let rows: Vec<_> = PASSWORD_FORMATS
            .iter()
            .filter_map(|f| {
                counts.iter().find(|(g, _)| g == f).map(|(_, [users, upgradable, upgraded])| {
                    (f.to_string(), *users, action(f, &kept).to_string(), *upgradable, *upgraded)
                })
            })
            .collect();
        Ok(TableIterator::new(rows))
    })())
}

/// The CoreForge users who must reset their password: CoreForge cannot verify the hash it holds
/// (the policy's `reset` left it NULL, or kept a hash of another format), and
/// `cf_upgrade_password()` cannot check a password against their legacy hash either.
#[pg_extern]
#[search_path(pg_catalog, pg_temp)]
fn cf_password_resets(
) -> TableIterator<'static, (name!(id, pgrx::Uuid), name!(email, String), name!(format, String))> {
    raise((|| -> Result<_> {
        let (e, col) = users()?;
        let source = hash_source(&e, &col, phase::current()?);
        let sql = format!(
            "SELECT c.id, c.email::text, f.format FROM {from} \
             CROSS JOIN LATERAL (SELECT coreforge_sync.password_format(x.h) AS format) f \
             WHERE {filter} AND c.id IS NOT NULL AND f.format <> 'empty' AND (c.password_hash ^@ {prefix}) IS NOT TRUE \
               AND NOT ({upgradable}) ORDER BY c.email",
            from = source.from,
            filter = source.filter,
            prefix = literal(hashes::COREFORGE_PREFIX),
            upgradable = still_upgradable(&source),
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

/// Whether `cf_upgrade_password()` can check a password against `hash` and CoreForge cannot: a
/// hash of a format it verifies, other than CoreForge's own Argon2id.
#[pg_extern(schema = "coreforge_sync", immutable, parallel_safe)]
fn password_upgradable(hash: Option<&str>) -> bool {
    hash.is_some_and(hashes::upgradable)
}

/// At a user's login: whether `password` is the one of the CoreForge user `user_id`'s legacy
/// password hash. On a match, from cutover on, CoreForge gets a fresh Argon2id hash of it
/// (m=65536, t=3, p=2) in `cf_users.password_hash`, and the reverse sync carries it to the legacy
/// row. Before cutover the legacy application owns the passwords: a match is reported, nothing is
/// written. A wrong password, an unknown user, a user without a legacy hash (or with one CoreForge
/// verifies itself), and a legacy hash made void by a password changed on CoreForge's side all
/// return false and write nothing (a void copy is deleted); none of them raises, so the password
/// never reaches the server log.
#[pg_extern]
#[search_path(pg_catalog, pg_temp)]
fn cf_upgrade_password(user_id: Option<pgrx::Uuid>, password: Option<&str>) -> bool {
    raise((|| -> Result<bool> {
        let (Some(user_id), Some(password)) = (user_id, password) else { return Ok(false) };
        let (e, col) = users()?;
        let phase = phase::current_shared()?;
        let source = hash_source(&e, &col, phase);
        // The legacy hash, what CoreForge holds, and whether it is still the sync's (not void).
        let sql = format!(
            "SELECT x.h, c.password_hash::text, c.password_hash IS NOT DISTINCT FROM {proj} \
               FROM {from} WHERE {filter} AND c.id = $1",
            proj = source.proj,
            from = source.from,
            filter = source.filter,
        );
        let row = Spi::connect(|client| -> Result<_> {
            let rows = client.select(&sql, Some(1), &[user_id.into()])?;
            Ok(rows.into_iter().next().map(|r| {
                (
                    r.get::<String>(1).ok().flatten(),
                    r.get::<String>(2).ok().flatten(),
                    r.get::<bool>(3).ok().flatten().unwrap_or(false),
                )
            }))
        })?;
        let Some((Some(legacy), held, current)) = row else { return Ok(false) };
        // (A legacy hash CoreForge verifies itself has nothing to upgrade.)
        if !hashes::upgradable(&legacy) {
            return Ok(false);
        }
        if !current {
            forget_copy(user_id)?;
            return Ok(false);
        }
        if !hashes::verify(&legacy, password) {
            return Ok(false);
        }
        if phase == Phase::SideBySide {
            return Ok(true);
        }
        let fresh = hashes::coreforge_hash(password)?;
        // Only over the hash read above: a password changed meanwhile is never overwritten.
        let written = as_owner(&e.cf_schema, e.cf_name, || {
            Spi::get_one_with_args::<i64>(
                &format!(
                    "WITH w AS (UPDATE {cf} SET password_hash = $2, updated_at = pg_catalog.now() \
                       WHERE id = $1 AND password_hash::text IS NOT DISTINCT FROM $3 RETURNING 1) \
                     SELECT pg_catalog.count(*) FROM w",
                    cf = e.cf_table()
                ),
                &[user_id.into(), fresh.into(), held.into()],
            )
        })?
        .unwrap_or(0);
        if written == 0 {
            // Changed since it was read: by a login of the same user that upgraded the same
            // password first (CoreForge verifies it now), or by a new password, which stays.
            let now = Spi::get_one_with_args::<String>(
                &format!("SELECT password_hash::text FROM {} WHERE id = $1", e.cf_table()),
                &[user_id.into()],
            )?;
            return Ok(now.is_some_and(|h| hashes::is_coreforge(&h) && hashes::verify(&h, password)));
        }
        forget_copy(user_id)?;
        Spi::run_with_args(
            "INSERT INTO coreforge_sync.password_upgrades (user_id, from_format) \
             VALUES ($1, coreforge_sync.password_format($2)) \
             ON CONFLICT (user_id) DO UPDATE SET from_format = EXCLUDED.from_format, upgraded_at = pg_catalog.now()",
            &[user_id.into(), legacy.into()],
        )?;
        Ok(true)
    })())
}

fn forget_copy(user_id: pgrx::Uuid) -> Result<()> {
    Ok(Spi::run_with_args(
        "DELETE FROM coreforge_sync.legacy_passwords WHERE user_id = $1",
        &[user_id.into()],
    )?)
}

/// Copies the legacy hashes `cf_upgrade_password()` can still upgrade into
/// `coreforge_sync.legacy_passwords` (by `cf_archive_legacy()`, while the legacy tables are still
/// where the configuration reads them): the number of copies. Nothing without a mapped password.
pub fn keep_copies() -> Result<i64> {
    let e = config::entity(EntityKind::Users, &state::cf_schema()?)?;
    let Some(col) = e.secret.clone() else { return Ok(0) };
    let source = hash_source(&e, &col, Phase::LegacyFrozen);
    Ok(Spi::get_one::<i64>(&format!(
        "WITH k AS (INSERT INTO coreforge_sync.legacy_passwords (user_id, hash, format) \
           SELECT c.id, x.h, coreforge_sync.password_format(x.h) FROM {from} WHERE {filter} AND {upgradable} \
           ON CONFLICT (user_id) DO UPDATE SET hash = EXCLUDED.hash, format = EXCLUDED.format, copied_at = pg_catalog.now() \
           RETURNING 1) \
         SELECT pg_catalog.count(*) FROM k",
        from = source.from,
        filter = source.filter,
        upgradable = still_upgradable(&source),
    ))?
    .unwrap_or(0))
}

/// Deletes every copy: the number deleted.
pub fn forget_copies() -> Result<i64> {
    Ok(Spi::get_one::<i64>(
        "WITH d AS (DELETE FROM coreforge_sync.legacy_passwords RETURNING 1) SELECT pg_catalog.count(*) FROM d",
    )?
    .unwrap_or(0))
}

/// The number of copies kept.
pub fn copies() -> Result<i64> {
    Ok(Spi::get_one::<i64>("SELECT pg_catalog.count(*) FROM coreforge_sync.legacy_passwords")?.unwrap_or(0))
}
