//! `cf_create_tables()`: creates cf_users, cf_organizations and cf_memberships exactly as
//! CoreForge's Ent schema does (DDL in sql/coreforge_tables/), or adopts tables that already
//! exist when they are compatible with what the extension writes. The cf_ tables are ordinary
//! application tables, never members of the extension.

use crate::errors::fail_with;
use crate::mapping::{entity, Entity, ENTITY_NAMES};
use crate::sql::ident;
use crate::{catalog, state};
use pgrx::prelude::*;

const CF_USERS: &str = include_str!("../sql/coreforge_tables/cf_users.sql");
const CF_ORGANIZATIONS: &str = include_str!("../sql/coreforge_tables/cf_organizations.sql");
const CF_PRINCIPALS_FK: &str = include_str!("../sql/coreforge_tables/cf_organizations_principals_fk.sql");
const CF_MEMBERSHIPS: &str = include_str!("../sql/coreforge_tables/cf_memberships.sql");

/// Types of the columns the extension writes, as Ent creates them.
fn expected_type(column: &str) -> &'static str {
    match column {
        "id" | "user_id" | "organization_id" => "uuid",
        "created_at" | "updated_at" => "timestamp with time zone",
        "settings" => "jsonb",
        _ => "character varying",
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
                &[crate::sql::qualified(schema, table).into()],
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

/// Whether a unique, non-partial index covers exactly the key columns (ON CONFLICT needs it).
fn has_unique_key(e: &Entity) -> bool {
    let keys: Vec<String> = e.key.iter().map(|k| k.cf.to_string()).collect();
    Spi::get_one_with_args::<bool>(
        "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_index i WHERE i.indrelid = pg_catalog.to_regclass($1) \
           AND i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL \
           AND (SELECT pg_catalog.array_agg(a.attname::text ORDER BY a.attname) FROM pg_catalog.pg_attribute a \
                WHERE a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)) \
               = (SELECT pg_catalog.array_agg(k ORDER BY k) FROM pg_catalog.unnest($2::text[]) k))",
        &[e.cf_table().into(), keys.into()],
    )
    .ok()
    .flatten()
    .unwrap_or(false)
}

/// Every reason the existing table of `e` cannot take what the extension writes.
fn incompatibilities(e: &Entity) -> Vec<String> {
    let cols = column_info(&e.cf_schema, e.cf_name);
    let t = e.cf_name;
    let mut written: Vec<(&str, bool)> = e.key.iter().map(|k| (k.cf, false)).collect();
    // (column, may be written as NULL)
    written.extend(e.columns.iter().map(|c| (c.cf, nullable(c.cf))));
    written.extend(e.insert_only.iter().map(|c| (c.cf, false)));
    written.push(("updated_at", false));
    let mut problems = Vec::new();
    for (name, may_be_null) in &written {
        match cols.iter().find(|c| c.name == *name) {
            None => problems.push(format!("{t}.{name} is missing")),
            Some(c) => {
                let want = expected_type(name);
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
        if c.not_null && !c.has_default && !written.iter().any(|(w, _)| *w == c.name) {
            problems.push(format!("{t}.{} is NOT NULL without a default and is not migrated", c.name));
        }
    }
    if !has_unique_key(e) {
        let keys: Vec<&str> = e.key.iter().map(|k| k.cf).collect();
        problems.push(format!("{t} has no unique index on ({})", keys.join(", ")));
    }
    problems
}

/// Columns CoreForge allows to be NULL among those the mapping writes.
fn nullable(column: &str) -> bool {
    matches!(column, "avatar_url" | "password_hash" | "logo_url" | "settings")
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

    let entities: Vec<Entity> = ENTITY_NAMES.iter().map(|n| entity(n, schema).expect("known")).collect();
    let problems: Vec<String> = entities
        .iter()
        .filter(|e| catalog::table_exists(schema, e.cf_name))
        .flat_map(incompatibilities)
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
    for e in &entities {
        if catalog::table_exists(schema, e.cf_name) {
            actions.push(format!("{}: exists, compatible", e.cf_name));
            continue;
        }
        let template = match e.name {
            "users" => CF_USERS,
            "organizations" => CF_ORGANIZATIONS,
            _ => CF_MEMBERSHIPS,
        };
        Spi::run(&ddl(template, schema)).expect("create CoreForge table");
        if e.name == "organizations" && catalog::table_exists(schema, "cf_principals") {
            Spi::run(&ddl(CF_PRINCIPALS_FK, schema)).expect("add cf_principals foreign key");
        }
        actions.push(format!("{}: created", e.cf_name));
    }
    state::set_setting("cf_schema", schema);
    format!("{} (schema {schema})", actions.join(", "))
}
