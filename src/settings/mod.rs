//! Layer 1, settings: the JSON an entity is configured with (`cf_configure`), parsed with serde and
//! merged over the migration guide's tables (the defaults). Pure: no SPI, no catalog. The mapping
//! layer checks the result against the catalog. The keys are documented in the README
//! ("Configuring a real schema").

mod columns;
pub mod ident;

pub use columns::*;
pub use ident::split_table;

use crate::errors::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::fmt;

/// The three entities, in dependency order (memberships reference the other two).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub enum EntityKind {
    Users,
    Organizations,
    Memberships,
}

impl EntityKind {
    pub const ALL: [EntityKind; 3] = [EntityKind::Users, EntityKind::Organizations, EntityKind::Memberships];

    pub fn as_str(self) -> &'static str {
        match self {
            EntityKind::Users => "users",
            EntityKind::Organizations => "organizations",
            EntityKind::Memberships => "memberships",
        }
    }

    /// The name of its cf_ table.
    pub fn cf_table(self) -> &'static str {
        match self {
            EntityKind::Users => "cf_users",
            EntityKind::Organizations => "cf_organizations",
            EntityKind::Memberships => "cf_memberships",
        }
    }

    pub fn parse(name: &str) -> Option<EntityKind> {
        EntityKind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// A function's `entity` argument: one of users, organizations, memberships.
    pub fn from_arg(entity: Option<&str>) -> Result<EntityKind> {
        match entity {
            Some(e) => EntityKind::parse(e)
                .ok_or_else(|| Error::invalid(format!("coreforge_sync: unknown entity \"{e}\""))),
            None => Err(Error::invalid("coreforge_sync: entity must not be NULL")),
        }
        .map_err(|e| e.hint("The entities are users, organizations and memberships."))
    }
}

impl fmt::Display for EntityKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
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
    /// cf_ column -> a SQL expression over the legacy row's columns, read instead of one column
    /// (`first_name || ' ' || last_name`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub expressions: BTreeMap<String, String>,
    /// Legacy column -> a SQL expression over the CoreForge row's columns: what the reverse sync
    /// writes into a legacy column an expression reads (`split_part(name, ' ', 1)`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub write_back: BTreeMap<String, String>,
    /// cf_ column -> (legacy value -> CoreForge value); key `*` is the fallback, `reject` rejects.
    pub values: BTreeMap<String, BTreeMap<String, String>>,
    /// cf_ column -> constant.
    pub defaults: BTreeMap<String, Value>,
    /// cf_ column -> legacy columns read in turn when its mapped column is NULL or empty.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fallbacks: BTreeMap<String, Vec<String>>,
    /// Legacy column -> its value in a legacy row born in CoreForge (a column CoreForge does not
    /// know): a constant, or `{"from": "<CoreForge column>"}`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub reverse_defaults: BTreeMap<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passwords: Option<BTreeMap<String, String>>,
    /// How the legacy framework writes a password hash: `phc` (as CoreForge does, the default) or
    /// `django` (`argon2$argon2id$...`, `bcrypt$...`, and `!` for no password).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_encoding: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_ref: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization_ref: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub normalize_slugs: Option<bool>,
}

impl Settings {
    /// Whether the cf_ column `cf` is read from the legacy row: from a column or an expression.
    pub fn maps(&self, cf: &str) -> bool {
        self.columns.contains_key(cf) || self.expressions.contains_key(cf)
    }

    /// Whether the reverse sync writes the legacy column `legacy` as a mapped column, a key, the
    /// soft-delete column or a membership's reference (so no other rule may write it).
    pub fn writes_back(&self, legacy: &str) -> bool {
        self.columns.values().any(|l| l == legacy)
            || self.id.as_ref().is_some_and(|i| i.column == legacy)
            || self.soft_delete.as_ref().is_some_and(|sd| sd.column == legacy)
            || [&self.user_ref, &self.organization_ref].iter().any(|r| r.as_deref() == Some(legacy))
    }
}

/// The migration guide's tables: the settings of an entity nobody configured.
pub fn guide_defaults(entity: EntityKind) -> Value {
    let identity = |cols: &[&str]| -> Value {
        Value::Object(cols.iter().map(|c| (c.to_string(), json!(c))).collect::<Map<String, Value>>())
    };
    let deleted_at = json!({"column": "deleted_at", "kind": "timestamp"});
    match entity {
        EntityKind::Users => json!({
            "table": "public.users",
            "id": {"column": "id", "strategy": "keep"},
            "soft_delete": deleted_at,
            "columns": identity(&["email", "name", "avatar_url", "password_hash", "created_at"]),
            "values": {}, "defaults": {},
            "passwords": {"argon2id": "keep", "bcrypt": "keep", "*": "reset"},
        }),
        EntityKind::Organizations => json!({
            "table": "public.tenants",
            "id": {"column": "id", "strategy": "keep"},
            "soft_delete": deleted_at,
            "columns": identity(&["name", "slug", "logo_url", "settings", "plan", "created_at"]),
            "values": {}, "defaults": {},
            "normalize_slugs": false,
        }),
        EntityKind::Memberships => json!({
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
fn known_keys(entity: EntityKind) -> &'static [&'static str] {
    match entity {
        EntityKind::Users => &[
            "table",
            "id",
            "soft_delete",
            "columns",
            "expressions",
            "write_back",
            "values",
            "defaults",
            "fallbacks",
            "reverse_defaults",
            "passwords",
            "password_encoding",
        ],
        EntityKind::Organizations => &[
            "table",
            "id",
            "soft_delete",
            "columns",
            "expressions",
            "write_back",
            "values",
            "defaults",
            "fallbacks",
            "reverse_defaults",
            "normalize_slugs",
        ],
        EntityKind::Memberships => &[
            "table",
            "soft_delete",
            "columns",
            "expressions",
            "write_back",
            "values",
            "defaults",
            "fallbacks",
            "reverse_defaults",
            "user_ref",
            "organization_ref",
        ],
    }
}

/// `given` merged over the guide's defaults (a key given replaces the default's value whole),
/// parsed. Unknown keys and wrong shapes are collected into `problems`.
pub fn effective(entity: EntityKind, given: &Value, problems: &mut Vec<String>) -> Option<Settings> {
    let Value::Object(given) = given else {
        problems.push("settings must be a JSON object".into());
        return None;
    };
    let Value::Object(mut merged) = guide_defaults(entity) else { return None };
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
