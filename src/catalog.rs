//! Checks, before any work, that the tables an entity reads and writes exist with the columns
//! the mapping uses. A missing piece is an error that names it and says what to do.

use crate::errors::fail_with;
use crate::mapping::{Entity, Source, LEGACY_SCHEMA};
use pgrx::prelude::*;

/// Column names of `schema.table`, or None when the table does not exist.
pub fn columns(schema: &str, table: &str) -> Option<Vec<String>> {
    Spi::connect(|client| {
        let rows = client
            .select(
                "SELECT a.attname::text FROM pg_catalog.pg_class r \
                 JOIN pg_catalog.pg_namespace n ON n.oid = r.relnamespace \
                 LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped \
                 WHERE n.nspname = $1 AND r.relname = $2 AND r.relkind IN ('r', 'p')",
                None,
                &[schema.into(), table.into()],
            )
            .expect("read pg_attribute");
        if rows.is_empty() {
            return None;
        }
        Some(rows.filter_map(|r| r.get::<String>(1).ok().flatten()).collect())
    })
}

pub fn table_exists(schema: &str, table: &str) -> bool {
    columns(schema, table).is_some()
}

/// The cf_ table of `e` and the legacy tables it reads exist, with every mapped column.
pub fn check_entity(e: &Entity) {
    let mut problems = Vec::new();
    if !table_exists(&e.cf_schema, e.cf_name) {
        fail_with(
            PgSqlErrorCode::ERRCODE_UNDEFINED_TABLE,
            &format!("coreforge_sync: CoreForge table {}.{} does not exist", e.cf_schema, e.cf_name),
            None,
            Some("Run SELECT cf_create_tables(); first."),
        );
    }
    let mut sources: Vec<&Source> = vec![&e.primary];
    sources.extend(e.parents.iter().map(|p| &p.source));
    for s in sources {
        match columns(LEGACY_SCHEMA, s.name) {
            None => problems.push(format!("legacy table {LEGACY_SCHEMA}.{} does not exist", s.name)),
            Some(have) => {
                for col in s.columns {
                    if !have.iter().any(|h| h == col) {
                        problems
                            .push(format!("legacy table {LEGACY_SCHEMA}.{} has no column \"{col}\"", s.name));
                    }
                }
            }
        }
    }
    if !problems.is_empty() {
        fail_with(
            PgSqlErrorCode::ERRCODE_UNDEFINED_OBJECT,
            &format!("coreforge_sync: cannot migrate {}: {}", e.name, problems.join("; ")),
            None,
            Some(
                "coreforge_sync reads the migration guide's legacy tables public.users(id, email, name, avatar_url, \
                 password_hash, created_at, deleted_at), public.tenants(id, name, slug, logo_url, settings, plan, \
                 created_at, deleted_at) and public.tenant_members(user_id, tenant_id, role, created_at).",
            ),
        );
    }
}
