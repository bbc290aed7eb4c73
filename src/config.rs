//! Configuration of each entity's legacy side: `cf_configure(entity, settings)` and `cf_config()`.
//!
//! Settings are JSON, parsed with serde, merged over the migration guide's tables (the defaults)
//! and checked against the catalog before anything is stored: every problem is listed in one error
//! and nothing changes. `mapping.rs` turns the effective settings into the projection.
//! The keys are documented in the README ("Configuring a real schema").

use crate::catalog::{self, ColumnInfo};
use crate::errors::{fail, fail_with, require_entity};
use crate::sql::literal;
use pgrx::prelude::*;
use pgrx::JsonB;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// The password formats `coreforge_sync.password_format()` recognises (sql/passwords.sql).
pub const PASSWORD_FORMATS: [&str; 11] = [
    "argon2id", "argon2i", "argon2d", "bcrypt", "scrypt", "pbkdf2", "md5", "sha1", "sha256", "empty",
    "unknown",
];

/// CoreForge's allowed values of the columns that have a fixed set (coreforge-identity.md).
pub fn allowed_values(cf_col: &str) -> Option<&'static [&'static str]> {
    match cf_col {
        "plan" => Some(&["free", "starter", "pro", "enterprise"]),
        "org_type" => Some(&["personal", "team", "enterprise"]),
        _ => None,
    }
}

/// How a cf_ column is filled and checked.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    /// Text that must not be NULL or empty (email, name, slug, role).
    Required,
    /// Optional text: an empty string becomes NULL.
    Optional,
    /// Text from a fixed set (plan, org_type); NULL or empty takes CoreForge's default.
    Set(&'static str),
    /// The password hash, filtered by the password policy.
    Password,
    Timestamp,
    Json,
    /// A boolean; NULL takes CoreForge's default.
    Bool(bool),
}

/// A cf_ column the configuration may fill: its kind, and the longest text CoreForge takes.
#[derive(Clone, Copy, Debug)]
pub struct CfColumn {
    pub name: &'static str,
    pub kind: Kind,
    pub max_len: Option<i32>,
}

const fn col(name: &'static str, kind: Kind, max_len: Option<i32>) -> CfColumn {
    CfColumn { name, kind, max_len }
}

use Kind::*;

const USER_COLUMNS: &[CfColumn] = &[
    col("email", Required, Some(254)),
    col("name", Required, Some(255)),
    col("avatar_url", Optional, Some(2048)),
    col("password_hash", Password, None),
    col("created_at", Timestamp, None),
    col("is_platform_admin", Bool(false), None),
    col("active", Bool(true), None),
];

const ORGANIZATION_COLUMNS: &[CfColumn] = &[
    col("name", Required, Some(255)),
    col("slug", Required, Some(63)),
    col("org_type", Set("team"), None),
    col("logo_url", Optional, Some(2048)),
    col("description", Optional, Some(4096)),
    col("website_url", Optional, Some(2048)),
    col("settings", Json, None),
    col("plan", Set("free"), None),
    col("created_at", Timestamp, None),
    col("active", Bool(true), None),
];

const MEMBERSHIP_COLUMNS: &[CfColumn] =
    &[col("role", Required, Some(64)), col("permissions", Json, None), col("created_at", Timestamp, None)];

/// The cf_ columns each entity may map or default (the keys and foreign keys are the extension's).
pub fn cf_columns(entity: &str) -> &'static [CfColumn] {
    match entity {
        "users" => USER_COLUMNS,
        "organizations" => ORGANIZATION_COLUMNS,
        "memberships" => MEMBERSHIP_COLUMNS,
        _ => &[],
    }
}

pub fn cf_column(entity: &str, name: &str) -> Option<CfColumn> {
    cf_columns(entity).iter().copied().find(|c| c.name == name)
}

#[derive(Deserialize, Serialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct IdSettings {
    pub column: String,
    /// `keep` (the legacy uuid is the CoreForge id), `random` or `uuidv5`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The legacy id's type: read from the catalog; when given, it must match.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub id_type: Option<String>,
}

#[derive(Deserialize, Serialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SoftDelete {
    pub column: String,
    /// `timestamp` (live while NULL) or `boolean` (live while false or NULL).
    pub kind: String,
}

/// One entity's settings, every key resolved (the effective settings).
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq)]
pub struct Settings {
    /// The legacy table, `schema.table` with SQL quoting rules (`crm."Odd Name"`).
    pub table: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<IdSettings>,
    pub soft_delete: Option<SoftDelete>,
    /// cf_ column -> legacy column.
    pub columns: BTreeMap<String, String>,
    /// cf_ column -> (legacy value -> CoreForge value); key `*` is the fallback, `reject` rejects.
    pub values: BTreeMap<String, BTreeMap<String, String>>,
    /// cf_ column -> constant.
    pub defaults: BTreeMap<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passwords: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_ref: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization_ref: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub normalize_slugs: Option<bool>,
}

/// The migration guide's tables: the settings of an entity nobody configured.
pub fn guide_defaults(entity: &str) -> Value {
    let identity = |cols: &[&str]| -> Value {
        Value::Object(cols.iter().map(|c| (c.to_string(), json!(c))).collect::<Map<String, Value>>())
    };
    let deleted_at = json!({"column": "deleted_at", "kind": "timestamp"});
    match entity {
        "users" => json!({
            "table": "public.users",
            "id": {"column": "id", "strategy": "keep"},
            "soft_delete": deleted_at,
            "columns": identity(&["email", "name", "avatar_url", "password_hash", "created_at"]),
            "values": {}, "defaults": {},
            "passwords": {"argon2id": "keep", "bcrypt": "keep", "*": "reset"},
        }),
        "organizations" => json!({
            "table": "public.tenants",
            "id": {"column": "id", "strategy": "keep"},
            "soft_delete": deleted_at,
            "columns": identity(&["name", "slug", "logo_url", "settings", "plan", "created_at"]),
            "values": {}, "defaults": {},
            "normalize_slugs": false,
        }),
        _ => json!({
            "table": "public.tenant_members",
            "soft_delete": null,
            "columns": identity(&["role", "created_at"]),
            "values": {}, "defaults": {},
            "user_ref": "user_id",
            "organization_ref": "tenant_id",
        }),
    }
}

/// The keys an entity's settings may have.
fn known_keys(entity: &str) -> &'static [&'static str] {
    match entity {
        "users" => &["table", "id", "soft_delete", "columns", "values", "defaults", "passwords"],
        "organizations" => {
            &["table", "id", "soft_delete", "columns", "values", "defaults", "normalize_slugs"]
        }
        _ => &["table", "soft_delete", "columns", "values", "defaults", "user_ref", "organization_ref"],
    }
}

/// `given` merged over the guide's defaults (a key given replaces the default's value whole),
/// parsed. Unknown keys and wrong shapes are collected into `problems`.
fn effective(entity: &str, given: &Value, problems: &mut Vec<String>) -> Option<Settings> {
    let Value::Object(given) = given else {
        problems.push("settings must be a JSON object".into());
        return None;
    };
    let mut merged = match guide_defaults(entity) {
        Value::Object(m) => m,
        _ => unreachable!(),
    };
    for (k, v) in given {
        if !known_keys(entity).contains(&k.as_str()) {
            problems.push(format!(
                "unknown key \"{k}\" (the keys for {entity} are: {})",
                known_keys(entity).join(", ")
            ));
        } else {
            merged.insert(k.clone(), v.clone());
        }
    }
    match serde_json::from_value::<Settings>(Value::Object(merged)) {
        Ok(s) => Some(s),
        Err(e) => {
            problems.push(format!("malformed settings: {e}"));
            None
        }
    }
}

/// The id settings, checked: (strategy, namespace).
#[derive(Clone, Debug, PartialEq)]
pub enum IdStrategy {
    Keep,
    Random,
    UuidV5(String),
}

/// An entity's settings, checked against the catalog, ready for `mapping.rs`.
#[derive(Clone, Debug)]
pub struct Resolved {
    pub entity: &'static str,
    pub settings: Settings,
    pub schema: String,
    pub table: String,
    /// Legacy id column (users, organizations), its strategy and SQL type.
    pub id: Option<(String, IdStrategy, String)>,
}

/// Splits `schema.table` by SQL's quoting rules (as `parse_ident` does): unquoted parts are folded
/// to lower case, `"..."` parts are taken as written (`""` is a quote). No schema means public.
pub fn split_table(table: &str, problems: &mut Vec<String>) -> Option<(String, String)> {
    let parsed = parse_ident(table);
    match parsed.as_deref() {
        Some([name]) => Some(("public".into(), name.clone())),
        Some([schema, name]) => Some((schema.clone(), name.clone())),
        _ => {
            problems.push(format!(
                "\"table\": {} is not a table name (write schema.table; quote odd names: crm.\"My Table\")",
                literal(table)
            ));
            None
        }
    }
}

pub(crate) fn parse_ident(s: &str) -> Option<Vec<String>> {
    let mut parts = Vec::new();
    let mut chars = s.trim().chars().peekable();
    loop {
        let mut part = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next()? {
                    '"' if chars.peek() == Some(&'"') => {
                        chars.next();
                        part.push('"');
                    }
                    '"' => break,
                    c => part.push(c),
                }
            }
        } else {
            // As PostgreSQL's scanner: letters, digits, `_`, `$` and any non-ASCII character; and
            // as its downcase_identifier() in a multibyte encoding: only ASCII letters are folded
            // (`crm.Überkunden` names the table "Überkunden").
            while let Some(&c) = chars.peek() {
                if c.is_ascii_alphanumeric() || c == '_' || c == '$' || !c.is_ascii() {
                    part.push(c.to_ascii_lowercase());
                    chars.next();
                } else {
                    break;
                }
            }
        }
        if part.is_empty() {
            return None;
        }
        parts.push(part);
        match chars.next() {
            None => return Some(parts),
            Some('.') => continue,
            Some(_) => return None,
        }
    }
}

fn type_fits(kind: Kind, c: &ColumnInfo) -> bool {
    match kind {
        Kind::Required | Kind::Optional | Kind::Set(_) | Kind::Password => c.category == "S",
        Kind::Timestamp => matches!(c.type_name.as_str(), "timestamptz" | "timestamp" | "date"),
        Kind::Json => matches!(c.type_name.as_str(), "json" | "jsonb"),
        Kind::Bool(_) => c.type_name == "bool",
    }
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Required | Kind::Optional | Kind::Set(_) | Kind::Password => "text",
        Kind::Timestamp => "timestamptz",
        Kind::Json => "jsonb",
        Kind::Bool(_) => "boolean",
    }
}

const ID_TYPES: [&str; 5] = ["uuid", "int2", "int4", "int8", "text"];

/// The SQL type name users know for an id type: `integer` rather than `int4`.
fn sql_type(type_name: &str) -> &str {
    match type_name {
        "int2" => "smallint",
        "int4" => "integer",
        "int8" => "bigint",
        "varchar" => "text",
        t => t,
    }
}

/// Checks `s` for `entity` against the catalog; problems are collected, not raised.
/// `refs`: for memberships, the resolved users and organizations (their id types).
pub fn resolve(
    entity: &'static str,
    s: Settings,
    refs: Option<(&Resolved, &Resolved)>,
    problems: &mut Vec<String>,
) -> Option<Resolved> {
    let (home, table) = split_table(&s.table, problems)?;
    // While archived (phases.rs), the legacy tables are read where they are: in the archive.
    let schema = crate::state::setting("archive_schema").unwrap_or(home);
    let shown = format!("{schema}.{table}");
    let Some(cols) = catalog::table_columns(&schema, &table) else {
        problems.push(format!("legacy table {shown} does not exist"));
        return None;
    };
    let column = |name: &str, what: &str, problems: &mut Vec<String>| -> Option<ColumnInfo> {
        let found = cols.iter().find(|c| c.name == name).cloned();
        if found.is_none() {
            problems.push(format!("{what}: {shown} has no column {}", crate::sql::ident(name)));
        }
        found
    };

    let mut id = None;
    if s.id.is_none() && entity != "memberships" {
        problems.push(format!(
            "\"id\": {entity} need an id column (null is not one), e.g. {{\"column\": \"id\", \"strategy\": \"keep\"}}"
        ));
    }
    if let Some(ids) = &s.id {
        if let Some(c) = column(&ids.column, "\"id\"", problems) {
            let t = if c.type_name == "varchar" { "text".to_string() } else { c.type_name.clone() };
            if !ID_TYPES.contains(&t.as_str()) {
                problems.push(format!(
                    "\"id\": column {} is {}; ids must be uuid, smallint, integer, bigint or text",
                    ids.column, c.type_display
                ));
            }
            if let Some(declared) = &ids.id_type {
                if sql_type(&t) != declared.as_str() && &t != declared {
                    problems.push(format!(
                        "\"id\": \"type\" is {declared} but column {} is {}",
                        ids.column, c.type_display
                    ));
                }
            }
            if !catalog::is_unique(&schema, &table, std::slice::from_ref(&ids.column)) {
                problems.push(format!(
                    "\"id\": column {} of {shown} has no primary key or unique index of its own",
                    ids.column
                ));
            }
            if !c.not_null {
                problems.push(format!(
                    "\"id\": column {} of {shown} allows NULL: a row without an id could not be migrated (make it NOT NULL)",
                    ids.column
                ));
            }
            let strategy = match (ids.strategy.as_deref(), t.as_str()) {
                (None | Some("keep"), "uuid") => Some(IdStrategy::Keep),
                (None | Some("keep"), _) => {
                    problems.push(format!(
                        "\"id\": column {} is {}, not uuid: choose \"strategy\": \"random\" or \"uuidv5\"",
                        ids.column, c.type_display
                    ));
                    None
                }
                (Some("random"), _) => Some(IdStrategy::Random),
                (Some("uuidv5"), _) => match ids.namespace.as_deref().map(|n| (n, is_uuid(n))) {
                    Some((n, true)) => Some(IdStrategy::UuidV5(n.to_lowercase())),
                    Some((n, false)) => {
                        problems.push(format!("\"id\": \"namespace\" {} is not a uuid", literal(n)));
                        None
                    }
                    None => {
                        problems.push("\"id\": strategy uuidv5 needs a \"namespace\" (a uuid)".into());
                        None
                    }
                },
                (Some(other), _) => {
                    problems.push(format!(
                        "\"id\": unknown strategy {} (keep, random or uuidv5)",
                        literal(other)
                    ));
                    None
                }
            };
            if ids.namespace.is_some() && !matches!(ids.strategy.as_deref(), Some("uuidv5")) {
                problems.push("\"id\": \"namespace\" is only for strategy uuidv5".into());
            }
            if let Some(st) = strategy {
                id = Some((ids.column.clone(), st, sql_type(&t).to_string()));
            }
        }
    }

    if let Some(sd) = &s.soft_delete {
        if let Some(c) = column(&sd.column, "\"soft_delete\"", problems) {
            match sd.kind.as_str() {
                "timestamp" => {}
                "boolean" if c.type_name == "bool" => {}
                "boolean" => problems.push(format!(
                    "\"soft_delete\": column {} is {}, not boolean",
                    sd.column, c.type_display
                )),
                other => problems
                    .push(format!("\"soft_delete\": unknown kind {} (timestamp or boolean)", literal(other))),
            }
        }
    }

    for (cf, legacy) in &s.columns {
        match cf_column(entity, cf) {
            None => problems.push(format!(
                "\"columns\": {cf} is not a CoreForge column coreforge_sync fills for {entity} (it fills: {})",
                cf_columns(entity).iter().map(|c| c.name).collect::<Vec<_>>().join(", ")
            )),
            Some(cc) => {
                if let Some(c) = column(legacy, &format!("\"columns\".{cf}"), problems) {
                    if !type_fits(cc.kind, &c) {
                        problems.push(format!(
                            "\"columns\".{cf}: column {legacy} is {}, which does not fit {cf} ({})",
                            c.type_display,
                            kind_name(cc.kind)
                        ));
                    }
                }
            }
        }
    }
    for required in cf_columns(entity).iter().filter(|c| c.kind == Kind::Required) {
        if !s.columns.contains_key(required.name) && !s.defaults.contains_key(required.name) {
            problems.push(format!(
                "\"columns\": {} is required by CoreForge: map it to a legacy column",
                required.name
            ));
        }
    }

    for (cf, v) in &s.defaults {
        let Some(cc) = cf_column(entity, cf) else {
            problems.push(format!(
                "\"defaults\": {cf} is not a CoreForge column coreforge_sync fills for {entity}"
            ));
            continue;
        };
        if s.columns.contains_key(cf) {
            problems.push(format!("\"defaults\": {cf} is also in \"columns\"; give it one or the other"));
        }
        let fits = match cc.kind {
            Kind::Bool(_) => v.is_boolean(),
            Kind::Json => v.is_object() || v.is_array(),
            // CoreForge stamps a row it is not told the creation time of with now().
            Kind::Timestamp => false,
            Kind::Set(_) => v.as_str().is_some_and(|t| allowed_values(cf).is_some_and(|a| a.contains(&t))),
            _ => v.as_str().is_some_and(|t| !t.is_empty()),
        };
        if !fits {
            problems.push(format!(
                "\"defaults\": {v} does not fit {cf} ({}{})",
                kind_name(cc.kind),
                allowed_values(cf).map(|a| format!(": one of {}", a.join(", "))).unwrap_or_default()
            ));
        }
    }

    for (cf, map) in &s.values {
        if !matches!(cf.as_str(), "plan" | "org_type" | "role") || cf_column(entity, cf).is_none() {
            problems.push(format!("\"values\": {cf} cannot have a value map for {entity} (plan and org_type for organizations, role for memberships)"));
            continue;
        }
        if !s.columns.contains_key(cf) {
            problems.push(format!(
                "\"values\".{cf}: {cf} is not in \"columns\", so there is no legacy value to map"
            ));
        }
        for (from, to) in map {
            let ok = if from == "*" && to == "reject" {
                true
            } else {
                match allowed_values(cf) {
                    Some(a) => a.contains(&to.as_str()),
                    None => !to.is_empty() && to != "reject",
                }
            };
            if !ok {
                problems.push(format!(
                    "\"values\".{cf}: {} -> {} is not a CoreForge {cf}{}",
                    literal(from),
                    literal(to),
                    allowed_values(cf).map(|a| format!(" ({})", a.join(", "))).unwrap_or_default()
                ));
            }
        }
    }

    if let Some(policy) = &s.passwords {
        if entity != "users" {
            problems.push("\"passwords\" applies to users only".into());
        }
        for (format, action) in policy {
            if format != "*" && !PASSWORD_FORMATS.contains(&format.as_str()) {
                problems.push(format!(
                    "\"passwords\": unknown format {} (formats: {}, and * for the rest)",
                    literal(format),
                    PASSWORD_FORMATS.join(", ")
                ));
            }
            if action != "keep" && action != "reset" {
                problems.push(format!(
                    "\"passwords\".{format}: action must be keep or reset, not {}",
                    literal(action)
                ));
            }
        }
    }

    if entity == "memberships" {
        let pair = [s.user_ref.clone().unwrap_or_default(), s.organization_ref.clone().unwrap_or_default()];
        let mut found = true;
        for ((key, col), parent) in ["user_ref", "organization_ref"].iter().zip(&pair).zip([0, 1]) {
            match column(col, &format!("\"{key}\""), problems) {
                None => found = false,
                Some(c) => {
                    if !c.not_null {
                        problems.push(format!(
                            "\"{key}\": column {col} of {shown} allows NULL: a membership without it could not be migrated (make it NOT NULL)"
                        ));
                    }
                    if let Some(r) = refs.map(|(u, o)| if parent == 0 { u } else { o }) {
                        if let Some((_, _, t)) = &r.id {
                            if sql_type(&c.type_name) != t.as_str() {
                                problems.push(format!(
                                    "\"{key}\": column {col} is {}, but the {} id is {t}",
                                    c.type_display, r.entity
                                ));
                            }
                        }
                    }
                }
            }
        }
        if found && !catalog::is_unique(&schema, &table, &pair) {
            problems.push(format!(
                "{shown} has no primary key or unique index on ({}, {}): a membership is known by its pair",
                pair[0], pair[1]
            ));
        }
    }
    Some(Resolved { entity, settings: s, schema, table, id })
}

/// Whether `s` is a uuid in its canonical text form (`8-4-4-4-12` hex digits).
fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices()
            .all(|(i, c)| if [8, 13, 18, 23].contains(&i) { c == '-' } else { c.is_ascii_hexdigit() })
}

/// The stored settings of `entity` (as given to cf_configure), or `{}` when it was never
/// configured. A record that cannot be read is an error, not the guide's defaults.
fn stored(entity: &str) -> Value {
    let record = format!("coreforge_sync.entity_config (entity {entity})");
    let (found, settings) = Spi::get_two_with_args::<bool, JsonB>(
        "SELECT EXISTS (SELECT 1 FROM coreforge_sync.entity_config WHERE entity = $1),                 (SELECT settings FROM coreforge_sync.entity_config WHERE entity = $1)",
        &[entity.into()],
    )
    .unwrap_or_else(|e| crate::state::unreadable(&record, &e.to_string()));
    match (found, settings) {
        (Some(true), Some(j)) if j.0.is_object() => j.0,
        (Some(true), _) => crate::state::unreadable(&record, "its settings are not a JSON object"),
        _ => json!({}),
    }
}

/// The effective settings of `entity`, without catalog checks (stored ones were checked).
pub fn settings(entity: &str) -> Settings {
    let mut problems = Vec::new();
    effective(entity, &stored(entity), &mut problems).unwrap_or_else(|| {
        fail(
            &format!("coreforge_sync: the stored settings of {entity} are invalid: {}", problems.join("; ")),
            None,
            Some(&format!("Run SELECT cf_configure('{entity}', '{{}}'); to go back to the guide's tables.")),
        )
    })
}

/// Resolves every entity's settings against the catalog; raises one error listing every problem.
pub fn resolve_all() -> [Resolved; 3] {
    let mut problems = Vec::new();
    match resolve_all_into(&mut problems) {
        Some(r) if problems.is_empty() => r,
        _ => mismatch(&problems),
    }
}

fn resolve_all_into(problems: &mut Vec<String>) -> Option<[Resolved; 3]> {
    let u = resolve("users", settings("users"), None, problems);
    let o = resolve("organizations", settings("organizations"), None, problems);
    let m = match (&u, &o) {
        (Some(u), Some(o)) => resolve("memberships", settings("memberships"), Some((u, o)), problems),
        _ => None,
    };
    Some([u?, o?, m?])
}

/// Resolves the settings of users or organizations alone (memberships need all three).
pub fn resolve_one(entity: &'static str) -> Resolved {
    let mut problems = Vec::new();
    match resolve(entity, settings(entity), None, &mut problems) {
        Some(r) if problems.is_empty() => r,
        _ => mismatch(&problems),
    }
}

fn mismatch(problems: &[String]) -> ! {
    fail_with(
        PgSqlErrorCode::ERRCODE_UNDEFINED_OBJECT,
        "coreforge_sync: the legacy tables do not match the configuration",
        Some(&problems.join("\n")),
        Some("Fix the legacy tables, or change the settings with cf_configure(); SELECT * FROM cf_config(); shows them."),
    )
}

/// A generation number, bumped by every configuration change; the sync triggers carry it, so
/// that every backend builds its statements anew after a change.
pub fn generation() -> i64 {
    match crate::state::setting("config_generation") {
        None => 0,
        Some(g) => g.parse().unwrap_or_else(|_| {
            crate::state::unreadable("coreforge_sync.settings (key config_generation)", &format!("{g:?} is not a number"))
        }),
    }
}

/// Sets the configuration of one entity and returns its effective settings. Keys left out take
/// the migration guide's defaults; `'{}'` goes back to the guide's tables.
#[pg_extern]
#[search_path(pg_catalog, pg_temp)]
fn cf_configure(entity: Option<&str>, settings: Option<JsonB>) -> JsonB {
    crate::privileges::authorize("run cf_configure()");
    let name = require_entity(entity);
    let entity: &'static str = crate::mapping::ENTITY_NAMES.iter().find(|n| **n == name).expect("known");
    let Some(JsonB(given)) = settings else {
        fail_with(
            PgSqlErrorCode::ERRCODE_NULL_VALUE_NOT_ALLOWED,
            "coreforge_sync: settings must not be NULL",
            None,
            Some("Pass '{}' to go back to the migration guide's tables."),
        )
    };
    crate::phases::require_side_by_side("change the configuration");
    let mut problems = Vec::new();
    let parsed = effective(entity, &given, &mut problems);
    let resolved = parsed.and_then(|s| {
        let refs = if entity == "memberships" {
            let mut ignore = Vec::new();
            let u = resolve("users", crate::config::settings("users"), None, &mut ignore);
            let o = resolve("organizations", crate::config::settings("organizations"), None, &mut ignore);
            u.zip(o)
        } else {
            None
        };
        resolve(entity, s, refs.as_ref().map(|(u, o)| (u, o)), &mut problems)
    });
    let resolved = match resolved {
        Some(r) if problems.is_empty() => r,
        _ => fail_with(
            PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            &format!(
                "coreforge_sync: invalid settings for {entity} ({} problem{})",
                problems.len(),
                if problems.len() == 1 { "" } else { "s" }
            ),
            Some(&problems.join("\n")),
            Some("Nothing was changed. The keys are documented in the README, section \"Configuring a real schema\"."),
        ),
    };
    crate::privileges::require_owner_rights(
        &[crate::sql::qualified(&resolved.schema, &resolved.table)],
        &format!("configure {entity} on {}.{}", resolved.schema, resolved.table),
    );
    Spi::run_with_args(
        "INSERT INTO coreforge_sync.entity_config (entity, settings) VALUES ($1, $2) \
         ON CONFLICT (entity) DO UPDATE SET settings = EXCLUDED.settings, configured_at = pg_catalog.now()",
        &[entity.into(), JsonB(given).into()],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    crate::state::set_setting("config_generation", &(generation() + 1).to_string());
    crate::state::forget_backfills();
    if let Some((_, strategy, id_type)) = &resolved.id {
        if *strategy != IdStrategy::Keep {
            crate::ids::ensure_mapping_table(entity, id_type);
        }
    }
    // Sync on: the triggers move to the configured tables and carry the new generation. That needs
    // the whole configuration to hold together (a membership's references and its parents' ids).
    if crate::triggers::any_sync_enabled() {
        let mut problems = Vec::new();
        resolve_all_into(&mut problems);
        if !problems.is_empty() {
            fail_with(
                PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                &format!("coreforge_sync: with sync on, this change would leave the configuration incomplete ({entity} was not changed)"),
                Some(&problems.join("\n")),
                Some("Switch sync off (SELECT cf_disable_sync();), configure every entity, then SELECT cf_enable_sync(); and backfill."),
            );
        }
        crate::triggers::drop_all_triggers();
        crate::triggers::install_all_triggers();
    }
    JsonB(serde_json::to_value(&resolved.settings).expect("settings serialize"))
}

/// One row per entity: its legacy table, id strategy and effective settings.
#[pg_extern]
#[search_path(pg_catalog, pg_temp)]
fn cf_config() -> TableIterator<
    'static,
    (
        name!(entity, String),
        name!(legacy_table, String),
        name!(id_strategy, Option<String>),
        name!(configured, bool),
        name!(settings, JsonB),
    ),
> {
    let rows: Vec<_> = crate::mapping::ENTITY_NAMES
        .iter()
        .map(|n| {
            let s = settings(n);
            let configured = stored(n) != json!({});
            let strategy = s.id.as_ref().map(|i| i.strategy.clone().unwrap_or_else(|| "keep".into()));
            let table = s.table.clone();
            (n.to_string(), table, strategy, configured, JsonB(serde_json::to_value(&s).expect("serialize")))
        })
        .collect();
    TableIterator::new(rows)
}
