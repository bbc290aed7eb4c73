//! Who may run what. The install script (sql/finalize.sql) takes EXECUTE on every routine of the
//! extension away from PUBLIC: only superusers, the extension's owner and the roles given
//! `cf_grant_admin()` run them. The application keeps its DML rights on its own tables; the sync
//! triggers run as the extension's owner (SECURITY DEFINER, fixed search_path).

use crate::errors::fail_with;
use crate::sql::ident;
use pgrx::prelude::*;

/// The extension's routines, as `regprocedure` text (`cf_sync_users()`, `coreforge_sync.uuid_v5(uuid,text)`).
fn routines() -> Vec<String> {
    Spi::connect(|client| {
        client
            .select(
                "SELECT d.objid::pg_catalog.regprocedure::text FROM pg_catalog.pg_depend d \
                 JOIN pg_catalog.pg_extension x ON x.oid = d.refobjid \
                 WHERE d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass AND x.extname = 'coreforge_sync' \
                   AND d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND d.deptype = 'e' ORDER BY 1",
                None,
                &[],
            )
            .unwrap_or_else(|e| panic!("{e}"))
            .filter_map(|r| r.get::<String>(1).ok().flatten())
            .collect()
    })
}

/// The statements that give `role` (or take from it, with `revoke`) what running the migration
/// needs from the extension: EXECUTE on its routines, and its state in schema coreforge_sync
/// (settings, configuration, rejects, id mappings, checkpoints, history).
fn statements(role: &str, revoke: bool) -> Vec<String> {
    let (verb, to) = if revoke { ("REVOKE", "FROM") } else { ("GRANT", "TO") };
    let role = ident(role);
    let mut out: Vec<String> =
        routines().iter().map(|f| format!("{verb} EXECUTE ON ROUTINE {f} {to} {role}")).collect();
    out.push(format!("{verb} USAGE ON SCHEMA coreforge_sync {to} {role}"));
    out.push(format!("{verb} ALL ON ALL TABLES IN SCHEMA coreforge_sync {to} {role}"));
    out.push(format!("{verb} ALL ON ALL SEQUENCES IN SCHEMA coreforge_sync {to} {role}"));
    out.push(format!("{verb} SELECT ON @extschema@.cf_backfill_progress {to} {role}"));
    out
}

fn apply(role: Option<&str>, revoke: bool) -> String {
    let Some(role) = role.filter(|r| !r.is_empty()) else {
        fail_with(
            PgSqlErrorCode::ERRCODE_NULL_VALUE_NOT_ALLOWED,
            "coreforge_sync: role must not be NULL or empty",
            None,
            Some("SELECT cf_grant_admin('coreforge_sync_admin');"),
        )
    };
    let exists = Spi::get_one_with_args::<bool>(
        "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1)",
        &[role.into()],
    )
    .ok()
    .flatten()
    .unwrap_or(false);
    if !exists {
        fail_with(
            PgSqlErrorCode::ERRCODE_UNDEFINED_OBJECT,
            &format!("coreforge_sync: role \"{role}\" does not exist"),
            None,
            Some(&format!("CREATE ROLE {} NOLOGIN; first.", ident(role))),
        );
    }
    let extschema = Spi::get_one::<String>(
        "SELECT pg_catalog.quote_ident(n.nspname) FROM pg_catalog.pg_extension x \
         JOIN pg_catalog.pg_namespace n ON n.oid = x.extnamespace WHERE x.extname = 'coreforge_sync'",
    )
    .ok()
    .flatten()
    .unwrap_or_else(|| "public".into());
    let all = statements(role, revoke);
    for sql in &all {
        Spi::run(&sql.replace("@extschema@", &extschema)).unwrap_or_else(|e| panic!("{e}"));
    }
    format!(
        "{} {role}: EXECUTE on {} routines, schema coreforge_sync and its tables",
        if revoke { "revoked from" } else { "granted to" },
        all.len() - 4
    )
}

/// Lets `role` run the migration: EXECUTE on every routine of the extension and its state in
/// schema coreforge_sync. The role also needs the rights of the tables' owner on the legacy and
/// cf_ tables (triggers, archive): make it their owner, or a member of their owner.
#[pg_extern]
#[search_path(pg_catalog, pg_temp)]
fn cf_grant_admin(role: Option<&str>) -> String {
    apply(role, false)
}

/// Takes back what `cf_grant_admin(role)` gave.
#[pg_extern]
#[search_path(pg_catalog, pg_temp)]
fn cf_revoke_admin(role: Option<&str>) -> String {
    apply(role, true)
}
