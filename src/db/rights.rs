//! Who may run what: the checks every routine that changes anything makes first, and the
//! hand-over of the objects the extension creates. (`cf_grant_admin()` is in `admin/privileges.rs`.) The install script (sql/finalize.sql) takes EXECUTE on every routine of the
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

use crate::db::{config, state};
use crate::errors::{Error, Result};
use crate::mapping::Entity;
use crate::quote::{ident, qualified};
use pgrx::prelude::*;

/// The role that called the extension: its SECURITY DEFINER routines run as the extension's
/// owner, and this is who called them (the session's role, as SET ROLE left it).
fn caller() -> pg_sys::Oid {
    // SAFETY: reads the backend's outer user id.
    unsafe { pg_sys::GetOuterUserId() }
}

/// The name of the role that called the extension (recorded as `run_as` in the phase history).
pub fn caller_name() -> Result<String> {
    Ok(Spi::get_one_with_args::<String>("SELECT pg_catalog.pg_get_userbyid($1)::text", &[caller().into()])?
        .unwrap_or_default())
}

/// Refuses, unless the caller is a superuser or has the rights of the owner of each of `tables`
/// (quoted qualified names; those that do not exist are not checked), to `what`.
pub fn require_owner_rights(tables: &[String], what: &str) -> Result<()> {
    let caller = caller();
    // SAFETY: a catalog lookup.
    if unsafe { pg_sys::superuser_arg(caller) } {
        return Ok(());
    }
    let missing = Spi::get_two_with_args::<String, String>(
        "SELECT pg_catalog.string_agg(pg_catalog.format('%s (owner %I)', c.oid::pg_catalog.regclass,                     pg_catalog.pg_get_userbyid(c.relowner)), ', ' ORDER BY c.oid::pg_catalog.regclass::text),                 pg_catalog.string_agg(DISTINCT pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(c.relowner)), ', ')          FROM pg_catalog.pg_class c          WHERE c.oid IN (SELECT pg_catalog.to_regclass(t) FROM pg_catalog.unnest($1::text[]) t)            AND NOT pg_catalog.pg_has_role($2, c.relowner, 'USAGE')",
        &[tables.to_vec().into(), caller.into()],
    )?;
    if let (Some(list), Some(owners)) = missing {
        let who = caller_name()?;
        return Err(Error::rights(format!(
            "coreforge_sync: role \"{who}\" may not {what}: it does not have the rights of the owner of {list}"
        ))
        .detail("The migration writes these tables with their owners' rights; whoever runs it must hold them.")
        .hint(format!("GRANT {owners} TO {};", ident(&who))));
    }
    Ok(())
}

/// [`require_owner_rights`] over every table of the migration: the configured legacy tables and,
/// once created, the cf_ tables. The first call of every routine that changes anything.
pub fn authorize(what: &str) -> Result<()> {
    // SAFETY: a catalog lookup.
    if unsafe { pg_sys::superuser_arg(caller()) } {
        return Ok(());
    }
    let mut tables = config::legacy_table_names()?;
    if let Some(cf) = state::setting("cf_schema")? {
        tables.extend(["cf_users", "cf_organizations", "cf_memberships"].iter().map(|t| qualified(&cf, t)));
    }
    require_owner_rights(&tables, what)
}

/// Refuses, unless the caller is a superuser or may create tables in `schema`.
pub fn require_create_in(schema: &str) -> Result<()> {
    let may = Spi::get_one_with_args::<bool>(
        "SELECT pg_catalog.has_schema_privilege($1, pg_catalog.quote_ident($2), 'CREATE')",
        &[caller().into(), schema.into()],
    )?
    .unwrap_or(false);
    if !may {
        let who = caller_name()?;
        return Err(Error::rights(format!(
            "coreforge_sync: role \"{who}\" may not create tables in schema \"{schema}\""
        ))
        .hint(format!("GRANT CREATE ON SCHEMA {} TO {};", ident(schema), ident(&who))));
    }
    Ok(())
}

/// Hands `table` (just created by the extension) to the caller, so that the tables belong to whoever
/// ran cf_create_tables(), as they would without SECURITY DEFINER.
pub fn give_to_caller(table: &str) -> Result<()> {
    let caller = caller();
    // SAFETY: reads the backend's current user id.
    if caller != unsafe { pg_sys::GetUserId() } {
        Spi::run(&format!("ALTER TABLE {table} OWNER TO {}", ident(&caller_name()?)))?;
    }
    Ok(())
}

/// Hands `view` (just created by the extension over `table`) to the owner of `table`: reads and
/// writes through the view are then checked with that owner's rights, as writes to the table are.
pub fn give_to_owner_of(view: &str, table: &str) -> Result<()> {
    let owner = Spi::get_one_with_args::<String>(
        "SELECT pg_catalog.pg_get_userbyid(c.relowner)::text FROM pg_catalog.pg_class c \
         WHERE c.oid = pg_catalog.to_regclass($1)",
        &[table.into()],
    )?;
    if let Some(owner) = owner {
        Spi::run(&format!("ALTER VIEW {view} OWNER TO {}", ident(&owner)))?;
    }
    Ok(())
}

/// Refuses to switch sync on when the owner of a cf_ table could not run the mirror statement that
/// writes it: that statement runs with the owner's rights, reads the legacy tables (locking the rows
/// it copies) and the extension's state, and writes the cf_ tables (memberships go with their user
/// or organization). Without this check the first legacy write would fail on a missing right.
pub fn require_mirror_rights(entities: &[Entity]) -> Result<()> {
    let legacy: Vec<String> = entities.iter().map(|e| e.primary.table()).collect();
    let cf: Vec<String> = entities.iter().map(|e| e.cf_table()).collect();
    let missing: Vec<String> = Spi::connect(|client| -> Result<Vec<String>> {
        Ok(client
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
            )?
            .filter_map(|r| r.get::<String>(1).ok().flatten())
            .collect::<Vec<String>>())
    })?;
    if !missing.is_empty() {
        return Err(Error::rights(format!(
            "coreforge_sync: the owner of the CoreForge tables cannot mirror into them: {}",
            missing.join("; ")
        ))
        .detail("Every write into a cf_ table runs with the rights of its owner, and the mirror statement reads the legacy tables and the extension's state.")
        .hint("Make the cf_ tables belong to the role that runs the migration (it has cf_grant_admin() and owns the legacy tables), or grant the rights listed."));
    }
    Ok(())
}
