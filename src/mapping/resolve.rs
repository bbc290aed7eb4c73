//! An entity's settings checked against the catalog ([`Catalog`]): every problem is collected,
//! none raised, so that one error can list them all. Pure: the catalog is read through the trait,
//! which the database layer implements.

use super::{Catalog, ColumnInfo, Expression, SqlType, WriteBack};
use crate::errors::Result;
use crate::quote::{ident, literal};
use crate::settings::{
    allowed_values, cf_column, cf_columns, split_table, EntityKind, IdStrategy, Kind, PasswordEncoding,
    Settings, PASSWORD_FORMATS,
};
use std::collections::BTreeMap;

/// An entity's settings, checked against the catalog, ready for `mapping.rs`.
#[derive(Clone, Debug)]
pub struct Resolved {
    pub entity: EntityKind,
    pub settings: Settings,
    pub schema: String,
    pub table: String,
    /// Legacy id column (users, organizations), its strategy and SQL type.
    pub id: Option<(String, IdStrategy, SqlType)>,
    /// Memberships: the (user_ref, organization_ref) columns in the order of their unique index.
    pub key_order: Vec<String>,
    /// The legacy table's columns.
    pub columns: Vec<ColumnInfo>,
    /// Mapped ids: the expression that gives a new legacy row its id (the column's default or
    /// identity), for rows born in CoreForge; None when it has neither.
    pub id_default: Option<String>,
    /// Memberships: whether a legacy foreign key holds user_ref, and organization_ref, to the
    /// parent's legacy table ([`Catalog::references`]).
    pub enforced_refs: [bool; 2],
    /// The cf_ columns read from expressions (`"expressions"`), as PostgreSQL read them.
    pub expressions: BTreeMap<String, Expression>,
    /// The write-back rules (`"write_back"`), as PostgreSQL read them over the cf_ table.
    pub write_back: Vec<WriteBack>,
}

fn type_fits(kind: Kind, c: &ColumnInfo) -> bool {
    match kind {
        Kind::Required | Kind::Optional | Kind::Set(_) | Kind::Password => c.category == "S",
        Kind::Timestamp | Kind::OptionalTimestamp => {
            matches!(c.type_name.as_str(), "timestamptz" | "timestamp" | "date")
        }
        Kind::Json => matches!(c.type_name.as_str(), "json" | "jsonb"),
        Kind::Bool(_) => c.type_name == "bool",
        Kind::Uuid => c.type_name == "uuid",
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

/// The length of a `character varying(n)` or `character(n)` type, as SQL shows it.
fn char_length(type_display: &str) -> Option<i32> {
    let rest = type_display
        .strip_prefix("character varying(")
        .or_else(|| type_display.strip_prefix("character("))?;
    rest.strip_suffix(')')?.parse().ok()
}

/// Checks `s` for `entity` against the catalog; problems are collected, not raised.
/// `refs`: for memberships, the resolved users and organizations (their id types); `cf_schema`:
/// where the cf_ tables are, once created (the write-back rules are read over them).
pub fn resolve(
    cat: &dyn Catalog,
    archive_schema: Option<&str>,
    cf_schema: Option<&str>,
    entity: EntityKind,
    s: Settings,
    refs: Option<(&Resolved, &Resolved)>,
    problems: &mut Vec<String>,
) -> Result<Option<Resolved>> {
    let Some((home, table)) = split_table(&s.table, problems) else { return Ok(None) };
    // While archived (admin/archive.rs), the legacy tables are read where they are: in the archive.
    let schema = archive_schema.map(str::to_string).unwrap_or(home);
    let shown = format!("{schema}.{table}");
    let Some(cols) = cat.columns(&schema, &table)? else {
        problems.push(format!("legacy table {shown} does not exist"));
        return Ok(None);
    };
    let column = |name: &str, what: &str, problems: &mut Vec<String>| -> Option<ColumnInfo> {
        let found = cols.iter().find(|c| c.name == name).cloned();
        if found.is_none() {
            problems.push(format!("{what}: {shown} has no column {}", ident(name)));
        }
        found
    };

    let mut id = None;
    let mut key_order = Vec::new();
    let mut id_default = None;
    if s.id.is_none() && entity != EntityKind::Memberships {
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
            if cat.unique_index(&schema, &table, std::slice::from_ref(&ids.column))?.is_none() {
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
            if let (Some(st), Some(ty)) = (strategy, SqlType::id(sql_type(&t))) {
                if st != IdStrategy::Keep {
                    id_default = cat.new_value(&schema, &table, &ids.column)?;
                }
                id = Some((ids.column.clone(), st, ty));
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
                    // A value-mapped column may come from a boolean, number or enum column: its
                    // values are compared as PostgreSQL writes them as text ('true', '2').
                    let mapped_from_other = s.values.contains_key(cf.as_str())
                        && matches!(c.category.as_str(), "B" | "N" | "E")
                        && matches!(cc.kind, Kind::Set(_) | Kind::Required);
                    if mapped_from_other {
                        for from in s.values[cf.as_str()].keys().filter(|k| k.as_str() != "*") {
                            let canonical = cat.canonical(from, &c.type_base)?;
                            if canonical.as_deref() != Some(from.as_str()) {
                                problems.push(format!(
                                    "\"values\".{cf}: {} is not a value of column {legacy} ({}) as PostgreSQL writes it as text{}",
                                    literal(from),
                                    c.type_display,
                                    canonical.map(|t| format!(": write {}", literal(&t))).unwrap_or_default()
                                ));
                            }
                        }
                    } else if !type_fits(cc.kind, &c) {
                        problems.push(format!(
                            "\"columns\".{cf}: column {legacy} is {}, which does not fit {cf} ({})",
                            c.type_display,
                            cc.kind.sql_type()
                        ));
                    }
                }
            }
        }
    }
    for required in cf_columns(entity).iter().filter(|c| c.kind == Kind::Required) {
        if !s.maps(required.name) && !s.defaults.contains_key(required.name) {
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
        if s.maps(cf) {
            problems.push(format!(
                "\"defaults\": {cf} is also in \"columns\" or \"expressions\"; give it one or the other"
            ));
        }
        let fits = match cc.kind {
            Kind::Bool(_) => v.is_boolean(),
            Kind::Json => v.is_object() || v.is_array(),
            // CoreForge stamps a row it is not told the creation time of with now().
            Kind::Timestamp => false,
            // (A user's last login is the legacy row's, or none.)
            Kind::OptionalTimestamp => false,
            // (One value for every row of a column CoreForge keeps unique.)
            Kind::Uuid => false,
            Kind::Set(_) => v.as_str().is_some_and(|t| allowed_values(cf).is_some_and(|a| a.contains(&t))),
            _ => v.as_str().is_some_and(|t| !t.is_empty()),
        };
        if !fits {
            problems.push(format!(
                "\"defaults\": {v} does not fit {cf} ({}{})",
                cc.kind.sql_type(),
                allowed_values(cf).map(|a| format!(": one of {}", a.join(", "))).unwrap_or_default()
            ));
        }
    }

    for (cf, list) in &s.fallbacks {
        let at = format!("\"fallbacks\".{cf}");
        match cf_column(entity, cf) {
            Some(cc)
                if matches!(cc.kind, Kind::Required | Kind::Optional)
                    && !matches!(cf.as_str(), "email" | "slug") => {}
            _ => {
                problems.push(format!(
                    "{at}: {cf} cannot have fallbacks (only text columns that CoreForge does not keep unique: name, avatar_url, logo_url, description, website_url, role)"
                ));
                continue;
            }
        }
        if !s.maps(cf) {
            problems.push(format!("{at}: {cf} is not in \"columns\" or \"expressions\": map it first, the fallbacks are read when its value is NULL or empty"));
        }
        if list.is_empty() {
            problems.push(format!("{at}: give at least one legacy column"));
        }
        for legacy in list {
            if s.columns.get(cf) == Some(legacy) {
                problems
                    .push(format!("{at}: {legacy} is the column {cf} is mapped to already, not a fallback"));
            } else if let Some(c) = column(legacy, &at, problems) {
                if c.category != "S" {
                    problems.push(format!(
                        "{at}: column {legacy} is {}, which does not fit {cf} (text)",
                        c.type_display
                    ));
                }
            }
        }
    }

    for (cf, map) in &s.values {
        if !matches!(cf.as_str(), "plan" | "org_type" | "role") || cf_column(entity, cf).is_none() {
            problems.push(format!("\"values\": {cf} cannot have a value map for {entity} (plan and org_type for organizations, role for memberships)"));
            continue;
        }
        if !s.maps(cf) {
            problems.push(format!(
                "\"values\".{cf}: {cf} is not in \"columns\" or \"expressions\", so there is no legacy value to map"
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
        if entity != EntityKind::Users {
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

    for (legacy, v) in &s.reverse_defaults {
        let at = format!("\"reverse_defaults\".{legacy}");
        let Some(c) = column(legacy, &at, problems) else { continue };
        if s.writes_back(legacy) || s.write_back.contains_key(legacy) {
            problems.push(format!(
                "{at}: the reverse sync writes {legacy} already (a mapped column, a key or the soft-delete column)"
            ));
            continue;
        }
        let unique = cat.unique_index(&schema, &table, std::slice::from_ref(legacy))?.is_some();
        let from = match v {
            serde_json::Value::Object(o) if o.len() == 1 && o.get("from").is_some_and(|f| f.is_string()) => {
                o.get("from").and_then(|f| f.as_str())
            }
            serde_json::Value::String(_) | serde_json::Value::Number(_) | serde_json::Value::Bool(_) => None,
            _ => {
                problems.push(format!(
                    "{at}: give a constant (a string, number or boolean) or {{\"from\": \"<CoreForge column>\"}}, not {v}"
                ));
                continue;
            }
        };
        let Some(from) = from else {
            if unique {
                problems.push(format!(
                    "{at}: {legacy} is unique, so one constant cannot fill it for every row born in CoreForge: copy a unique CoreForge column, e.g. {{\"from\": \"id\"}}"
                ));
            }
            let text = v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string());
            if !cat.fits(&format!("{}::text", literal(&text)), &c.type_base)? {
                problems.push(format!("{at}: {v} is not a value of column {legacy} ({})", c.type_display));
            }
            continue;
        };
        let Some((ty, sample, unique_source, max_len)) = super::copyable(entity, from) else {
            problems.push(format!(
                "{at}: {from} is not a CoreForge column of {entity} (id, updated_at, {})",
                cf_columns(entity).iter().map(|c| c.name).collect::<Vec<_>>().join(", ")
            ));
            continue;
        };
        if unique && !unique_source {
            problems.push(format!(
                "{at}: {legacy} is unique, and CoreForge does not keep {from} unique: copy id{}",
                match entity {
                    EntityKind::Users => ", email or federation_id",
                    EntityKind::Organizations => " or slug",
                    EntityKind::Memberships => "",
                }
            ));
        }
        if !cat.fits(sample, &c.type_base)? {
            problems.push(format!(
                "{at}: CoreForge's {from} is {ty}, which does not go into column {legacy} ({})",
                c.type_display
            ));
        } else if let (Some(max), Some(len)) = (max_len, char_length(&c.type_display)) {
            if len < max {
                problems.push(format!(
                    "{at}: column {legacy} is {}, shorter than CoreForge's {from} (up to {max} characters)",
                    c.type_display
                ));
            }
        }
    }

    if let Some(encoding) = &s.password_encoding {
        if entity != EntityKind::Users {
            problems.push("\"password_encoding\" applies to users only".into());
        } else if PasswordEncoding::parse(Some(encoding)).is_none() {
            problems.push(format!(
                "\"password_encoding\": unknown encoding {} ({})",
                literal(encoding),
                PasswordEncoding::NAMES.join(", ")
            ));
        } else if !s.columns.contains_key("password_hash") {
            problems.push("\"password_encoding\": password_hash is not in \"columns\": map it first".into());
        }
    }

    let mut enforced_refs = [false; 2];
    if entity == EntityKind::Memberships {
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
                        enforced_refs[parent] = cat.references(&schema, &table, col, &r.schema, &r.table)?;
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
        if found {
            match cat.unique_index(&schema, &table, &pair)? {
                Some(order) => key_order = order,
                None => problems.push(format!(
                    "{shown} has no primary key or unique index on ({}, {}): a membership is known by its pair",
                    pair[0], pair[1]
                )),
            }
        }
    }
    let expressions = expressions(cat, entity, &s, (&schema, &table), problems)?;
    let write_back = write_back(cat, entity, &s, &cols, cf_schema, problems)?;
    Ok(Some(Resolved {
        entity,
        settings: s,
        schema,
        table,
        id,
        key_order,
        columns: cols,
        id_default,
        enforced_refs,
        expressions,
        write_back,
    }))
}

/// The expressions of `"expressions"`, read by PostgreSQL over the legacy table `(schema, table)`.
fn expressions(
    cat: &dyn Catalog,
    entity: EntityKind,
    s: &Settings,
    (schema, table): (&str, &str),
    problems: &mut Vec<String>,
) -> Result<BTreeMap<String, Expression>> {
    let mut out = BTreeMap::new();
    for (cf, expr) in &s.expressions {
        let at = format!("\"expressions\".{cf}");
        let Some(cc) = cf_column(entity, cf) else {
            problems.push(format!(
                "{at}: {cf} is not a CoreForge column coreforge_sync fills for {entity} (it fills: {})",
                cf_columns(entity).iter().map(|c| c.name).collect::<Vec<_>>().join(", ")
            ));
            continue;
        };
        if s.columns.contains_key(cf) {
            problems.push(format!("{at}: {cf} is also in \"columns\"; give it one or the other"));
            continue;
        }
        if cc.kind == Kind::Password {
            problems.push(format!(
                "{at}: {cf} is read from its column only (map it in \"columns\"): that column is redacted in the rejects, read through its encoding, and what cf_upgrade_password() checks"
            ));
            continue;
        }
        match cat.expression((schema, table), expr, None)? {
            Err(why) => problems.push(format!("{at}: {why}")),
            Ok(x) => {
                // A value map reads any type as text; otherwise the result must fit the column.
                let mapped =
                    s.values.contains_key(cf.as_str()) && matches!(cc.kind, Kind::Set(_) | Kind::Required);
                if !mapped && !type_fits(cc.kind, &x.result) {
                    problems.push(format!(
                        "{at}: the expression is {}, which does not fit {cf} ({})",
                        x.result.type_display,
                        cc.kind.sql_type()
                    ));
                }
                out.insert(cf.clone(), x);
            }
        }
    }
    Ok(out)
}

/// The rules of `"write_back"`, read by PostgreSQL over the cf_ table of `entity` in `cf_schema`:
/// each writes a legacy column of `cols` that nothing else writes.
fn write_back(
    cat: &dyn Catalog,
    entity: EntityKind,
    s: &Settings,
    cols: &[ColumnInfo],
    cf_schema: Option<&str>,
    problems: &mut Vec<String>,
) -> Result<Vec<WriteBack>> {
    let mut out = Vec::new();
    let cf_table = entity.cf_table();
    for (legacy, expr) in &s.write_back {
        let at = format!("\"write_back\".{legacy}");
        let Some(c) = cols.iter().find(|c| &c.name == legacy) else {
            problems.push(format!("{at}: {} has no column {}", s.table, ident(legacy)));
            continue;
        };
        if s.writes_back(legacy) {
            problems.push(format!(
                "{at}: the reverse sync writes {legacy} already (a mapped column, a key or the soft-delete column)"
            ));
            continue;
        }
        let Some(cf_schema) = cf_schema else {
            problems.push(format!(
                "{at}: the rules are read over the CoreForge tables, which do not exist yet (run SELECT cf_create_tables(); first)"
            ));
            continue;
        };
        // Read as a value of the legacy column's type: a value that cannot be is PostgreSQL's error.
        match cat.expression((cf_schema, cf_table), expr, Some(&c.type_base))? {
            Err(why) => problems.push(format!("{at}: {why}")),
            Ok(x) => out.push(WriteBack { legacy: legacy.clone(), expr: x }),
        }
    }
    Ok(out)
}

/// Whether `s` is a uuid in its canonical text form (`8-4-4-4-12` hex digits).
fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices()
            .all(|(i, c)| if [8, 13, 18, 23].contains(&i) { c == '-' } else { c.is_ascii_hexdigit() })
}
