//! `cf_grant_admin()` and `cf_revoke_admin()`: what running the migration needs from the
//! extension (see `db/rights.rs` for the checks every step makes).

use crate::db::spi::optional;
use crate::errors::{raise, Error, Result};
use crate::quote::ident;
use pgrx::prelude::*;

/// The extension's routines, as `regprocedure` text (`cf_sync_users()`, `coreforge_sync.uuid_v5(uuid,text)`).
fn routines() -> Result<Vec<String>> {
    Spi::connect(|client| {
        Ok(client
            .select(
                "SELECT d.objid::pg_catalog.regprocedure::text FROM pg_catalog.pg_depend d \
                 JOIN pg_catalog.pg_extension x ON x.oid = d.refobjid \
                 WHERE d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass AND x.extname = 'coreforge_sync' \
                   AND d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND d.deptype = 'e' ORDER BY 1",
                None,
                &[],
            )?
            .filter_map(|r| r.get::<String>(1).ok().flatten())
            .collect())
    })
}

/// The statements that give `role` (or take from it, with `revoke`) what running the migration
/// needs from the extension: EXECUTE on its routines, and its state in schema coreforge_sync
/// (settings, configuration, rejects, id mappings, checkpoints, history).
fn statements(role: &str, revoke: bool) -> Result<Vec<String>> {
    let (verb, to) = if revoke { ("REVOKE", "FROM") } else { ("GRANT", "TO") };
    let role = ident(role);
    let mut out: Vec<String> =
        routines()?.iter().map(|f| format!("{verb} EXECUTE ON ROUTINE {f} {to} {role}")).collect();
    out.push(format!("{verb} USAGE ON SCHEMA coreforge_sync {to} {role}"));
    // Read only: the state changes through the extension's SECURITY DEFINER routines.
    out.push(format!("{verb} SELECT ON ALL TABLES IN SCHEMA coreforge_sync {to} {role}"));
    out.push(format!("{verb} SELECT ON @extschema@.cf_backfill_progress {to} {role}"));
    if revoke {
        // What cf_grant_admin() gave before 0.3.0 (ALL), taken back too.
        out.push(format!("REVOKE ALL ON ALL TABLES IN SCHEMA coreforge_sync FROM {role}"));
        out.push(format!("REVOKE ALL ON ALL SEQUENCES IN SCHEMA coreforge_sync FROM {role}"));
    }
    Ok(out)
}

fn apply(role: Option<&str>, revoke: bool) -> Result<String> {
    let Some(role) = role.filter(|r| !r.is_empty()) else {
        return Err(Error::null_value("coreforge_sync: role must not be NULL or empty")
            .hint("SELECT cf_grant_admin('coreforge_sync_admin');"));
    };
    let exists = Spi::get_one_with_args::<bool>(
        "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1)",
        &[role.into()],
    )?
    .unwrap_or(false);
    if !exists {
        return Err(Error::mismatch(format!("coreforge_sync: role \"{role}\" does not exist"))
            .hint(format!("CREATE ROLE {} NOLOGIN; first.", ident(role))));
    }
    let extschema = optional(Spi::get_one::<String>(
        "SELECT pg_catalog.quote_ident(n.nspname) FROM pg_catalog.pg_extension x \
         JOIN pg_catalog.pg_namespace n ON n.oid = x.extnamespace WHERE x.extname = 'coreforge_sync'",
    ))?
    .unwrap_or_else(|| "public".into());
    let routines = routines()?.len();
    let all = statements(role, revoke)?;
    for sql in &all {
        Spi::run(&sql.replace("@extschema@", &extschema))?;
    }
    Ok(format!(
        "{} {role}: EXECUTE on {routines} routines, reading schema coreforge_sync and its tables",
        if revoke { "revoked from" } else { "granted to" },
    ))
}

/// Lets `role` run the migration: EXECUTE on every routine of the extension and its state in
/// schema coreforge_sync. The role also needs the rights of the tables' owner on the legacy and
/// cf_ tables (triggers, archive): make it their owner, or a member of their owner.
#[pg_extern]
#[search_path(pg_catalog, pg_temp)]
fn cf_grant_admin(role: Option<&str>) -> String {
    raise(apply(role, false))
}

/// Takes back what `cf_grant_admin(role)` gave.
#[pg_extern]
#[search_path(pg_catalog, pg_temp)]
fn cf_revoke_admin(role: Option<&str>) -> String {
    raise(apply(role, true))
}
