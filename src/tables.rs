//! `cf_create_tables()`: creates cf_users, cf_organizations and cf_memberships exactly as
//! CoreForge's Ent schema does (DDL in sql/coreforge_tables/), or adopts tables that already
//! exist when they are compatible with what the extension writes. The cf_ tables are ordinary
//! application tables, never members of the extension.

use crate::config::{cf_columns, Kind};
use crate::errors::fail_with;
use crate::mapping::ENTITY_NAMES;
use crate::sql::{ident, qualified};
use crate::{catalog, state};
use pgrx::prelude::*;

const CF_USERS: &str = include_str!("../sql/coreforge_tables/cf_users.sql");
const CF_ORGANIZATIONS: &str = include_str!("../sql/coreforge_tables/cf_organizations.sql");
const CF_PRINCIPALS_FK: &str = include_str!("../sql/coreforge_tables/cf_organizations_principals_fk.sql");
const CF_MEMBERSHIPS: &str = include_str!("../sql/coreforge_tables/cf_memberships.sql");

/// The cf_ table of an entity, and the key the extension upserts on.
fn cf_table(entity: &str) -> (&'static str, &'static [&'static str]) {
    match entity {
        "users" => ("cf_users", &["id"]),
        "organizations" => ("cf_organizations", &["id"]),
        _ => ("cf_memberships", &["user_id", "organization_id"]),
    }
}

/// Types of the columns the extension writes, as Ent creates them.
fn expected_type(kind: Option<Kind>) -> &'static str {
    match kind {
        None => "uuid",
        Some(Kind::Timestamp) => "timestamp with time zone",
        Some(Kind::Json) => "jsonb",
        Some(Kind::Bool(_)) => "boolean",
        Some(_) => "character varying",
    }
}

fn compatible_type(expected: &str, actual: &str) -> bool {
    match expected {
        "character varying" => actual == "text" || actual.starts_with("character varying"),
        _ => actual == expected,
    }
}

struct ColumnInfo {
    name: String,
    type_name: String,
    not_null: bool,
    has_default: bool,
}

fn column_info(schema: &str, table: &str) -> Vec<ColumnInfo> {
    Spi::connect(|client| {
        client
            .select(
                "SELECT a.attname::text, pg_catalog.format_type(a.atttypid, a.atttypmod), a.attnotnull, \
                        a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> '' \
                 FROM pg_catalog.pg_attribute a \
                 WHERE a.attrelid = pg_catalog.to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped",
                None,
                &[qualified(schema, table).into()],
            )
            .expect("read pg_attribute")
            .map(|r| ColumnInfo {
                name: r.get::<String>(1).ok().flatten().unwrap_or_default(),
                type_name: r.get::<String>(2).ok().flatten().unwrap_or_default(),
                not_null: r.get::<bool>(3).ok().flatten().unwrap_or(false),
                has_default: r.get::<bool>(4).ok().flatten().unwrap_or(false),
            })
            .collect()
    })
}

/// Every reason the existing cf_ table of `entity` in `schema` cannot take what the extension
/// may write there (any column a configuration can fill).
fn incompatibilities(entity: &str, schema: &str) -> Vec<String> {
    let (t, key) = cf_table(entity);
    let cols = column_info(schema, t);
    // (column, its kind (None: a uuid key), may be written as NULL)
    let mut written: Vec<(&str, Option<Kind>, bool)> = key.iter().map(|k| (*k, None, false)).collect();
    if entity == "memberships" {
        written.push(("id", None, false));
    }
    written.extend(
        cf_columns(entity)
            .iter()
            .map(|c| (c.name, Some(c.kind), matches!(c.kind, Kind::Optional | Kind::Password | Kind::Json))),
    );
    written.push(("updated_at", Some(Kind::Timestamp), false));
    let mut problems = Vec::new();
    for (name, kind, may_be_null) in &written {
        match cols.iter().find(|c| c.name == *name) {
            None => problems.push(format!("{t}.{name} is missing")),
            Some(c) => {
                let want = expected_type(*kind);
                if !compatible_type(want, &c.type_name) {
                    problems.push(format!("{t}.{name} has type {}, expected {want}", c.type_name));
                }
                if *may_be_null && c.not_null {
                    problems.push(format!("{t}.{name} is NOT NULL, but CoreForge allows NULL there"));
                }
            }
        }
    }
    for c in &cols {
        if c.not_null && !c.has_default && !written.iter().any(|(w, _, _)| *w == c.name) {
            problems.push(format!("{t}.{} is NOT NULL without a default and is not migrated", c.name));
        }
    }
    let keys: Vec<String> = key.iter().map(|k| k.to_string()).collect();
    if !catalog::is_unique(schema, t, &keys) {
        problems.push(format!("{t} has no unique index on ({})", key.join(", ")));
    }
    problems
}

fn ddl(template: &str, schema: &str) -> String {
    template.replace("@schema@", &ident(schema))
}

/// Creates (or adopts) the three cf_ tables in `target_schema`. Idempotent.
#[pg_extern]
#[search_path(pg_catalog, pg_temp)]
fn cf_create_tables(target_schema: default!(Option<&str>, "'public'")) -> String {
    let Some(schema) = target_schema else {
        fail_with(
            PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            "coreforge_sync: target_schema must not be NULL",
            None,
            Some("Call SELECT cf_create_tables(); for schema public, or name a schema."),
        );
    };
    let exists = Spi::get_one_with_args::<bool>(
        "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1)",
        &[schema.into()],
    )
    .ok()
    .flatten()
    .unwrap_or(false);
    if !exists {
        fail_with(
            PgSqlErrorCode::ERRCODE_INVALID_SCHEMA_NAME,
            &format!("coreforge_sync: schema \"{schema}\" does not exist"),
            None,
            Some(&format!("CREATE SCHEMA {} first.", ident(schema))),
        );
    }
    if let Some(current) = state::setting("cf_schema") {
        if current != schema && catalog::table_exists(&current, "cf_users") {
            fail_with(
                PgSqlErrorCode::ERRCODE_DUPLICATE_TABLE,
                &format!("coreforge_sync: the CoreForge tables already live in schema \"{current}\""),
                None,
                Some("coreforge_sync manages one set of cf_ tables per database."),
            );
        }
    }

    // Whoever runs it adopts the existing tables (with their owners' rights) and creates the others.
    let (existing, missing): (Vec<&str>, Vec<&str>) =
        ENTITY_NAMES.iter().map(|e| cf_table(e).0).partition(|t| catalog::table_exists(schema, t));
    let existing: Vec<String> = existing.iter().map(|t| qualified(schema, t)).collect();
    crate::privileges::require_owner_rights(&existing, "adopt the CoreForge tables");
    if !missing.is_empty() {
        crate::privileges::require_create_in(schema);
    }
    let problems: Vec<String> = ENTITY_NAMES
        .iter()
        .filter(|e| catalog::table_exists(schema, cf_table(e).0))
        .flat_map(|e| incompatibilities(e, schema))
        .collect();
    if !problems.is_empty() {
        fail_with(
            PgSqlErrorCode::ERRCODE_INVALID_TABLE_DEFINITION,
            &format!(
                "coreforge_sync: existing CoreForge tables in schema \"{schema}\" are not compatible: {}",
                problems.join("; ")
            ),
            None,
            Some("Fix or drop these tables; cf_create_tables() creates them as CoreForge's Ent schema does."),
        );
    }

    let mut actions = Vec::new();
    for e in ENTITY_NAMES {
        let (t, _) = cf_table(e);
        if catalog::table_exists(schema, t) {
            actions.push(format!("{t}: exists, compatible"));
            continue;
        }
        let template = match e {
            "users" => CF_USERS,
            "organizations" => CF_ORGANIZATIONS,
            _ => CF_MEMBERSHIPS,
        };
        Spi::run(&ddl(template, schema)).expect("create CoreForge table");
        crate::privileges::give_to_caller(&qualified(schema, t));
        if e == "organizations" && catalog::table_exists(schema, "cf_principals") {
            Spi::run(&ddl(CF_PRINCIPALS_FK, schema)).expect("add cf_principals foreign key");
        }
        actions.push(format!("{t}: created"));
    }
    state::set_setting("cf_schema", schema);
    format!("{} (schema {schema})", actions.join(", "))
}
