//! `cf_create_tables()`: creates cf_users, cf_organizations and cf_memberships exactly as
//! CoreForge's Ent schema does (DDL in sql/coreforge_tables/), or adopts tables that already
//! exist when they are compatible with what the extension writes. The cf_ tables are ordinary
//! application tables, never members of the extension.

use crate::db::{catalog, config, rights, state};
use crate::errors::{raise, Error, Result};
use crate::quote::{ident, qualified};
use crate::settings::{cf_columns, EntityKind, Kind, NOT_IN_GUIDE_DDL};
use pgrx::prelude::*;

const CF_USERS: &str = include_str!("../../sql/coreforge_tables/cf_users.sql");
const CF_ORGANIZATIONS: &str = include_str!("../../sql/coreforge_tables/cf_organizations.sql");
const CF_PRINCIPALS_FK: &str = include_str!("../../sql/coreforge_tables/cf_organizations_principals_fk.sql");
const CF_MEMBERSHIPS: &str = include_str!("../../sql/coreforge_tables/cf_memberships.sql");

/// The cf_ table of an entity, and the key the extension upserts on.
fn cf_table(entity: EntityKind) -> (&'static str, &'static [&'static str]) {
    let key: &'static [&'static str] = match entity {
        EntityKind::Users | EntityKind::Organizations => &["id"],
        EntityKind::Memberships => &["user_id", "organization_id"],
    };
    (entity.cf_table(), key)
}

/// Types of the columns the extension writes, as Ent creates them.
fn expected_type(kind: Option<Kind>) -> &'static str {
    match kind {
        None => "uuid",
        Some(Kind::Timestamp | Kind::OptionalTimestamp) => "timestamp with time zone",
        Some(Kind::Json) => "jsonb",
        Some(Kind::Bool(_)) => "boolean",
        Some(Kind::Uuid) => "uuid",
        Some(_) => "character varying",
    }
}

fn compatible_type(expected: &str, actual: &str) -> bool {
    match expected {
        "character varying" => actual == "text" || actual.starts_with("character varying"),
        _ => actual == expected,
    }
}

/// A column of an existing cf_ table, as adoption checks it.
struct CfColumnInfo {
    name: String,
    type_name: String,
    not_null: bool,
    has_default: bool,
}

fn column_info(schema: &str, table: &str) -> Result<Vec<CfColumnInfo>> {
    Spi::connect(|client| {
        Ok(client
            .select(
                "SELECT a.attname::text, pg_catalog.format_type(a.atttypid, a.atttypmod), a.attnotnull, \
                        a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> '' \
                 FROM pg_catalog.pg_attribute a \
                 WHERE a.attrelid = pg_catalog.to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped",
                None,
                &[qualified(schema, table).into()],
            )?
            .map(|r| CfColumnInfo {
                name: r.get::<String>(1).ok().flatten().unwrap_or_default(),
                type_name: r.get::<String>(2).ok().flatten().unwrap_or_default(),
                not_null: r.get::<bool>(3).ok().flatten().unwrap_or(false),
                has_default: r.get::<bool>(4).ok().flatten().unwrap_or(false),
            })
            .collect())
    })
}

/// Every reason the existing cf_ table of `entity` in `schema` cannot take what the extension
/// may write there (any column a configuration can fill; of the columns the guide's DDL lacks,
/// those the current configuration maps).
fn incompatibilities(entity: EntityKind, schema: &str) -> Result<Vec<String>> {
    let (t, key) = cf_table(entity);
    let cols = column_info(schema, t)?;
    let mapped = config::settings(entity)?.columns;
    // (column, its kind (None: a uuid key), may be written as NULL)
    let mut written: Vec<(&str, Option<Kind>, bool)> = key.iter().map(|k| (*k, None, false)).collect();
    if entity == EntityKind::Memberships {
        written.push(("id", None, false));
    }
    written.extend(cf_columns(entity).iter().map(|c| {
        (
            c.name,
            Some(c.kind),
            matches!(
                c.kind,
                Kind::Optional | Kind::Password | Kind::Json | Kind::OptionalTimestamp | Kind::Uuid
            ),
        )
    }));
    written.push(("updated_at", Some(Kind::Timestamp), false));
    let mut problems = Vec::new();
    for (name, kind, may_be_null) in &written {
        match cols.iter().find(|c| c.name == *name) {
            None if NOT_IN_GUIDE_DDL.contains(name) && !mapped.contains_key(*name) => {}
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
    if !catalog::is_unique(schema, t, &keys)? {
        problems.push(format!("{t} has no unique index on ({})", key.join(", ")));
    }
    Ok(problems)
}

/// For `cf_configure()`: the columns of `mapped` that the guide's DDL lacks and that the existing
/// cf_ table of `entity` lacks too (nothing when the cf_ tables have not been created yet:
/// `cf_create_tables()` then checks them against the configuration).
pub fn missing_mapped(entity: EntityKind, mapped: &[&str]) -> Result<Vec<String>> {
    let Some(schema) = state::setting("cf_schema")? else { return Ok(vec![]) };
    let (t, _) = cf_table(entity);
    if !catalog::table_exists(&schema, t)? {
        return Ok(vec![]);
    }
    let cols = column_info(&schema, t)?;
    Ok(mapped
        .iter()
        .filter(|m| NOT_IN_GUIDE_DDL.contains(m) && !cols.iter().any(|c| c.name == **m))
        .map(|m| {
            format!(
                "\"columns\".{m}: {} has no column {m} (the migration guide's DDL lacks it): \
                 ALTER TABLE {} ADD COLUMN {m} uuid UNIQUE, as CoreForge's Ent schema has it",
                qualified(&schema, t),
                qualified(&schema, t)
            )
        })
        .collect())
}

fn ddl(template: &str, schema: &str) -> String {
    template.replace("@schema@", &ident(schema))
}

/// Creates (or adopts) the three cf_ tables in `target_schema`. Idempotent.
#[pg_extern]
#[search_path(pg_catalog, pg_temp)]
fn cf_create_tables(target_schema: default!(Option<&str>, "'public'")) -> String {
    raise(cf_create_tables_impl(target_schema))
}

fn cf_create_tables_impl(target_schema: Option<&str>) -> Result<String> {
    let Some(schema) = target_schema else {
        return Err(Error::invalid("coreforge_sync: target_schema must not be NULL")
            .hint("Call SELECT cf_create_tables(); for schema public, or name a schema."));
    };
    let exists = Spi::get_one_with_args::<bool>(
        "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1)",
        &[schema.into()],
    )?
    .unwrap_or(false);
    if !exists {
        return Err(Error::no_schema(format!("coreforge_sync: schema \"{schema}\" does not exist"))
            .hint(format!("CREATE SCHEMA {} first.", ident(schema))));
    }
    if let Some(current) = state::setting("cf_schema")? {
        if current != schema && catalog::table_exists(&current, "cf_users")? {
            return Err(Error::duplicate_table(format!(
                "coreforge_sync: the CoreForge tables already live in schema \"{current}\""
            ))
            .hint("coreforge_sync manages one set of cf_ tables per database."));
        }
    }

    // Whoever runs it adopts the existing tables (with their owners' rights) and creates the others.
    let mut exists = Vec::new();
    for kind in EntityKind::ALL {
        exists.push((kind, catalog::table_exists(schema, cf_table(kind).0)?));
    }
    let existing: Vec<String> =
        exists.iter().filter(|(_, x)| *x).map(|(k, _)| qualified(schema, cf_table(*k).0)).collect();
    rights::require_owner_rights(&existing, "adopt the CoreForge tables")?;
    if exists.iter().any(|(_, x)| !x) {
        rights::require_create_in(schema)?;
    }
    let mut problems: Vec<String> = Vec::new();
    for (kind, _) in exists.iter().filter(|(_, x)| *x) {
        problems.extend(incompatibilities(*kind, schema)?);
    }
    if !problems.is_empty() {
        return Err(Error::bad_table(format!(
            "coreforge_sync: existing CoreForge tables in schema \"{schema}\" are not compatible: {}",
            problems.join("; ")
        ))
        .hint("Fix or drop these tables; cf_create_tables() creates them as CoreForge's Ent schema does."));
    }

    let mut actions = Vec::new();
    for kind in EntityKind::ALL {
        let (t, _) = cf_table(kind);
        if catalog::table_exists(schema, t)? {
            actions.push(format!("{t}: exists, compatible"));
            continue;
        }
        let template = match kind {
            EntityKind::Users => CF_USERS,
            EntityKind::Organizations => CF_ORGANIZATIONS,
            EntityKind::Memberships => CF_MEMBERSHIPS,
        };
        Spi::run(&ddl(template, schema))?;
        rights::give_to_caller(&qualified(schema, t))?;
        if kind == EntityKind::Organizations && catalog::table_exists(schema, "cf_principals")? {
            Spi::run(&ddl(CF_PRINCIPALS_FK, schema))?;
        }
        actions.push(format!("{t}: created"));
    }
    state::set_setting("cf_schema", schema)?;
    Ok(format!("{} (schema {schema})", actions.join(", ")))
}
