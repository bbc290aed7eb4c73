//! Who may run what. The install script (sql/finalize.sql) takes EXECUTE on every routine of the
//! extension away from PUBLIC: only superusers, the extension's owner and the roles given
//! `cf_grant_admin()` run them.
//!
//! The routines that change anything (the steps of the migration) are SECURITY DEFINER, with a
//! fixed search_path: they write the extension's state (phase_history, rejects, configuration,
//! mappings) with the extension's rights, so that a delegated admin holds no write right on schema
//! coreforge_sync and cannot rewrite what happened. Each first checks its caller with
//! [`authorize`]: a superuser, or a role with the rights of the owner of every legacy and cf_
//! table the migration touches. Every write to those tables then runs as the table's owner
//! (`owner.rs`). The routines that only read are SECURITY INVOKER: they read with the caller's
//! rights. The sync triggers are SECURITY DEFINER too (an application role needs no right on the
//! other side's tables), and they also write each table as its owner.

use crate::errors::fail_with;
use crate::mapping::ENTITY_NAMES;
use crate::sql::{ident, qualified};
use crate::{config, state};
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
    // Read only: the state changes through the extension's SECURITY DEFINER routines.
    out.push(format!("{verb} SELECT ON ALL TABLES IN SCHEMA coreforge_sync {to} {role}"));
    out.push(format!("{verb} SELECT ON @extschema@.cf_backfill_progress {to} {role}"));
    if revoke {
        // What cf_grant_admin() gave before 0.3.0 (ALL), taken back too.
        out.push(format!("REVOKE ALL ON ALL TABLES IN SCHEMA coreforge_sync FROM {role}"));
        out.push(format!("REVOKE ALL ON ALL SEQUENCES IN SCHEMA coreforge_sync FROM {role}"));
    }
    out
}

/// The role that called the extension: its SECURITY DEFINER routines run as the extension's
/// owner, and this is who called them (the session's role, as SET ROLE left it).
fn caller() -> pg_sys::Oid {
    // SAFETY: reads the backend's outer user id.
    unsafe { pg_sys::GetOuterUserId() }
}

/// The name of the role that called the extension (recorded as `run_as` in the phase history).
pub fn caller_name() -> String {
    Spi::get_one_with_args::<String>("SELECT pg_catalog.pg_get_userbyid($1)::text", &[caller().into()])
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_default()
}

/// Refuses, unless the caller is a superuser or has the rights of the owner of each of `tables`
/// (quoted qualified names; those that do not exist are not checked), to `what`.
pub fn require_owner_rights(tables: &[String], what: &str) {
    let caller = caller();
    // SAFETY: a catalog lookup.
    if unsafe { pg_sys::superuser_arg(caller) } {
        return;
    }
    let missing = Spi::get_two_with_args::<String, String>(
        "SELECT pg_catalog.string_agg(pg_catalog.format('%s (owner %I)', c.oid::pg_catalog.regclass,                     pg_catalog.pg_get_userbyid(c.relowner)), ', ' ORDER BY c.oid::pg_catalog.regclass::text),                 pg_catalog.string_agg(DISTINCT pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(c.relowner)), ', ')          FROM pg_catalog.pg_class c          WHERE c.oid IN (SELECT pg_catalog.to_regclass(t) FROM pg_catalog.unnest($1::text[]) t)            AND NOT pg_catalog.pg_has_role($2, c.relowner, 'USAGE')",
        &[tables.to_vec().into(), caller.into()],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    if let (Some(list), Some(owners)) = missing {
        let who = caller_name();
        fail_with(
            PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
            &format!("coreforge_sync: role \"{who}\" may not {what}: it does not have the rights of the owner of {list}"),
            Some("The migration writes these tables with their owners' rights; whoever runs it must hold them."),
            Some(&format!("GRANT {owners} TO {};", ident(&who))),
        );
    }
}

/// [`require_owner_rights`] over every table of the migration: the configured legacy tables and,
/// once created, the cf_ tables. The first call of every routine that changes anything.
pub fn authorize(what: &str) {
    // SAFETY: a catalog lookup.
    if unsafe { pg_sys::superuser_arg(caller()) } {
        return;
    }
    let mut tables: Vec<String> = Vec::new();
    for name in ENTITY_NAMES {
        if let Some((schema, table)) = config::split_table(&config::settings(name).table, &mut Vec::new()) {
            tables.push(qualified(&schema, &table));
        }
    }
    if let Some(cf) = state::setting("cf_schema") {
        tables.extend(["cf_users", "cf_organizations", "cf_memberships"].iter().map(|t| qualified(&cf, t)));
    }
    require_owner_rights(&tables, what);
}

/// Refuses, unless the caller is a superuser or may create tables in `schema`.
pub fn require_create_in(schema: &str) {
    let may = Spi::get_one_with_args::<bool>(
        "SELECT pg_catalog.has_schema_privilege($1, pg_catalog.quote_ident($2), 'CREATE')",
        &[caller().into(), schema.into()],
    )
    .unwrap_or_else(|e| panic!("{e}"))
    .unwrap_or(false);
    if !may {
        let who = caller_name();
        fail_with(
            PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
            &format!("coreforge_sync: role \"{who}\" may not create tables in schema \"{schema}\""),
            None,
            Some(&format!("GRANT CREATE ON SCHEMA {} TO {};", ident(schema), ident(&who))),
        );
    }
}

/// Hands `table` (just created by the extension) to the caller, so that the tables belong to whoever
/// ran cf_create_tables(), as they would without SECURITY DEFINER.
pub fn give_to_caller(table: &str) {
    let caller = caller();
    // SAFETY: reads the backend's current user id.
    if caller != unsafe { pg_sys::GetUserId() } {
        Spi::run(&format!("ALTER TABLE {table} OWNER TO {}", ident(&caller_name()))).unwrap_or_else(|e| panic!("{e}"));
    }
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
    let routines = routines().len();
    let all = statements(role, revoke);
    for sql in &all {
        Spi::run(&sql.replace("@extschema@", &extschema)).unwrap_or_else(|e| panic!("{e}"));
    }
    format!(
        "{} {role}: EXECUTE on {routines} routines, reading schema coreforge_sync and its tables",
        if revoke { "revoked from" } else { "granted to" },
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

/// Hands `view` (just created by the extension over `table`) to the owner of `table`: reads and
/// writes through the view are then checked with that owner's rights, as writes to the table are.
pub fn give_to_owner_of(view: &str, table: &str) {
    let owner = Spi::get_one_with_args::<String>(
        "SELECT pg_catalog.pg_get_userbyid(c.relowner)::text FROM pg_catalog.pg_class c \
         WHERE c.oid = pg_catalog.to_regclass($1)",
        &[table.into()],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    if let Some(owner) = owner {
        Spi::run(&format!("ALTER VIEW {view} OWNER TO {}", ident(&owner))).unwrap_or_else(|e| panic!("{e}"));
    }
}

/// Refuses to switch sync on when the owner of a cf_ table could not run the mirror statement that
/// writes it: that statement runs with the owner's rights, reads the legacy tables (locking the rows
/// it copies) and the extension's state, and writes the cf_ tables (memberships go with their user
/// or organization). Without this check the first legacy write would fail on a missing right.
pub fn require_mirror_rights(entities: &[crate::mapping::Entity]) {
    let legacy: Vec<String> = entities.iter().map(|e| e.primary.table()).collect();
    let cf: Vec<String> = entities.iter().map(|e| e.cf_table()).collect();
    let missing: Vec<String> = Spi::connect(|client| {
        client
            .select(
                "WITH owners AS (SELECT DISTINCT c.relowner AS owner FROM pg_catalog.pg_class c \
                   WHERE c.oid IN (SELECT pg_catalog.to_regclass(t) FROM pg_catalog.unnest($2::text[]) t)), \
                 needed (kind, object, privilege) AS ( \
                   SELECT 'table', t, p FROM pg_catalog.unnest($1::text[]) t, \
                          pg_catalog.unnest(ARRAY['SELECT', 'UPDATE']) p \
                   UNION ALL SELECT 'table', t, p FROM pg_catalog.unnest($2::text[]) t, \
                          pg_catalog.unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE']) p \
                   UNION ALL SELECT 'schema', 'coreforge_sync', 'USAGE' \
                   UNION ALL SELECT 'table', 'coreforge_sync.rejects', 'SELECT' \
                   UNION ALL SELECT 'function', 'coreforge_sync.password_format(text)', 'EXECUTE') \
                 SELECT pg_catalog.format('%I lacks %s on %s %s', pg_catalog.pg_get_userbyid(o.owner), n.privilege, n.kind, n.object) \
                 FROM owners o CROSS JOIN needed n \
                 WHERE NOT CASE n.kind \
                     WHEN 'table' THEN pg_catalog.has_table_privilege(o.owner, n.object, n.privilege) \
                     WHEN 'schema' THEN pg_catalog.has_schema_privilege(o.owner, n.object, n.privilege) \
                     ELSE pg_catalog.has_function_privilege(o.owner, n.object, n.privilege) END \
                 ORDER BY 1",
                None,
                &[legacy.into(), cf.into()],
            )
            .unwrap_or_else(|e| panic!("{e}"))
            .filter_map(|r| r.get::<String>(1).ok().flatten())
            .collect()
    });
    if !missing.is_empty() {
        fail_with(
            PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
            &format!(
                "coreforge_sync: the owner of the CoreForge tables cannot mirror into them: {}",
                missing.join("; ")
            ),
            Some("Every write into a cf_ table runs with the rights of its owner, and the mirror statement reads the legacy tables and the extension's state."),
            Some("Make the cf_ tables belong to the role that runs the migration (it has cf_grant_admin() and owns the legacy tables), or grant the rights listed."),
        );
    }
}
