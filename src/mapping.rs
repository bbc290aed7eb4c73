//! The mapping from the legacy tables to the CoreForge tables, defined once per entity.
//!
//! An [`Entity`] describes the *projection*: the SQL query over the legacy tables that says what
//! CoreForge should hold for them. The backfill upserts that projection, the triggers apply it to
//! the keys a statement touched, and the validation diffs it against the cf_ tables
//! (see `mirror.rs` and `validation.rs`). Nothing else knows a column name.

use crate::sql::{ident, literal, qualified};

/// Schema of the guide's legacy tables (`users`, `tenants`, `tenant_members`).
pub const LEGACY_SCHEMA: &str = "public";

/// Namespace of the version-5 UUIDs given to memberships (the legacy join table has no id):
/// uuid5(NAMESPACE_URL, "https://github.com/grokify/coreforge#coreforge_sync/memberships").
pub const MEMBERSHIP_NAMESPACE: &str = "83037461-3d09-54f0-8241-7f5058c6160d";

/// The three entities, in dependency order.
pub const ENTITY_NAMES: [&str; 3] = ["users", "organizations", "memberships"];

/// A cf_ column and the legacy expression (over the projection's aliases) that fills it.
pub struct Col {
    pub cf: &'static str,
    pub expr: String,
}

/// One key column: its name in the legacy primary table and in the cf_ table.
pub struct KeyCol {
    pub legacy: &'static str,
    pub cf: &'static str,
}

/// A legacy table the projection reads.
pub struct Source {
    /// The table's name, unqualified (for messages and catalog checks).
    pub name: &'static str,
    pub alias: &'static str,
    /// Columns the mapping reads (checked before any work).
    pub columns: &'static [&'static str],
    /// Soft-delete rule: the row is live while this is NULL.
    pub deleted_at: Option<&'static str>,
}

impl Source {
    pub fn table(&self) -> String {
        qualified(LEGACY_SCHEMA, self.name)
    }

    /// `public.users`, for messages and listings.
    pub fn display(&self) -> String {
        format!("{LEGACY_SCHEMA}.{}", self.name)
    }

    /// `alias.deleted_at IS NULL`, or `true` when the table has no soft delete.
    pub fn live(&self, alias: &str) -> String {
        match self.deleted_at {
            Some(col) => format!("{alias}.{} IS NULL", ident(col)),
            None => "true".into(),
        }
    }
}

/// A parent a membership needs: the row it references must be live and migrated.
pub struct Parent {
    pub entity: &'static str,
    pub source: Source,
    /// The referencing column in the primary table, and in the cf_ table.
    pub fk: KeyCol,
    /// The parent's key column in its legacy table.
    pub legacy_id: &'static str,
    pub cf_table: &'static str,
}

pub struct Entity {
    pub name: &'static str,
    pub cf_schema: String,
    pub cf_name: &'static str,
    pub primary: Source,
    pub parents: Vec<Parent>,
    pub key: Vec<KeyCol>,
    /// Mapped columns: written on insert and update, compared by the validation.
    pub columns: Vec<Col>,
    /// Written on insert only (a membership's derived id).
    pub insert_only: Vec<Col>,
    /// Why a live row cannot be mirrored: (condition, reason). First match wins.
    pub problems: Vec<(String, &'static str)>,
    /// A short human label of a legacy row, for listings (email, slug, role).
    pub label: String,
}

impl Entity {
    pub fn cf_table(&self) -> String {
        qualified(&self.cf_schema, self.cf_name)
    }

    /// `public.cf_users`, for messages and listings.
    pub fn cf_display(&self) -> String {
        format!("{}.{}", self.cf_schema, self.cf_name)
    }

    pub fn cf_table_of(&self, name: &str) -> String {
        qualified(&self.cf_schema, name)
    }

    /// `FROM users u` or `FROM tenant_members m JOIN users u ... JOIN tenants t ...`.
    /// With `outer`, parents are LEFT JOINed (to count orphans and excluded rows).
    pub fn from(&self, outer: bool) -> String {
        let p = &self.primary;
        let mut s = format!("{} {}", p.table(), p.alias);
        for parent in &self.parents {
            s.push_str(&format!(
                " {} {} {} ON {}.{} = {}.{}",
                if outer { "LEFT JOIN" } else { "JOIN" },
                parent.source.table(),
                parent.source.alias,
                parent.source.alias,
                ident(parent.legacy_id),
                p.alias,
                ident(parent.fk.legacy),
            ));
        }
        s
    }

    /// The projection's filter: the row and every parent it needs are live.
    pub fn live(&self) -> String {
        let mut parts = vec![self.primary.live(self.primary.alias)];
        for parent in &self.parents {
            parts.push(parent.source.live(parent.source.alias));
        }
        parts.retain(|p| p != "true");
        if parts.is_empty() {
            "true".into()
        } else {
            parts.join(" AND ")
        }
    }

    /// Aliases whose rows a copy must lock `FOR SHARE` (the row and its parents).
    pub fn lock_aliases(&self) -> String {
        let mut a = vec![self.primary.alias];
        a.extend(self.parents.iter().map(|p| p.source.alias));
        a.join(", ")
    }

    /// Legacy key expressions, e.g. `u.id` or `m.user_id, m.tenant_id`.
    pub fn legacy_key(&self, alias: &str) -> String {
        self.key.iter().map(|k| format!("{alias}.{}", ident(k.legacy))).collect::<Vec<_>>().join(", ")
    }

    pub fn cf_key(&self, alias: &str) -> String {
        self.key.iter().map(|k| format!("{alias}.{}", ident(k.cf))).collect::<Vec<_>>().join(", ")
    }

    /// `c.id = u.id` (or both membership key columns).
    pub fn key_join(&self, cf_alias: &str) -> String {
        self.key
            .iter()
            .map(|k| format!("{cf_alias}.{} = {}.{}", ident(k.cf), self.primary.alias, ident(k.legacy)))
            .collect::<Vec<_>>()
            .join(" AND ")
    }

    /// A legacy row's key as text, for messages: `id=...` or `user_id=..., tenant_id=...`.
    /// `projected` when `alias` is a projection row, whose columns carry the cf_ names.
    pub fn legacy_key_text(&self, alias: &str, projected: bool) -> String {
        self.key_text(alias, |k| (k.legacy, if projected { k.cf } else { k.legacy }))
    }

    /// A cf_ row's key as text: `id=...` or `user_id=..., organization_id=...`.
    pub fn cf_key_text(&self, alias: &str) -> String {
        self.key_text(alias, |k| (k.cf, k.cf))
    }

    fn key_text(&self, alias: &str, names: impl Fn(&KeyCol) -> (&'static str, &'static str)) -> String {
        let parts: Vec<String> = self
            .key
            .iter()
            .map(|k| {
                let (label, col) = names(k);
                format!("{}||{alias}.{}::text", literal(&format!("{label}=")), ident(col))
            })
            .collect();
        parts.join("||', '||")
    }

    /// `CASE WHEN <cond> THEN <reason> ... END`: NULL when the row can be mirrored.
    pub fn problem(&self) -> String {
        if self.problems.is_empty() {
            return "NULL::text".into();
        }
        let whens: Vec<String> =
            self.problems.iter().map(|(c, r)| format!("WHEN {c} THEN {}", literal(r))).collect();
        format!("CASE {} END", whens.join(" "))
    }

    /// The cf_ columns compared by the sync and the validation, as a row: `(c.email, c.name, ...)`.
    pub fn cf_row(&self, alias: &str) -> String {
        let cols: Vec<String> = self.columns.iter().map(|c| format!("{alias}.{}", ident(c.cf))).collect();
        format!("ROW({})", cols.join(", "))
    }

    /// The same columns computed from the legacy row.
    pub fn legacy_row(&self) -> String {
        let cols: Vec<&str> = self.columns.iter().map(|c| c.expr.as_str()).collect();
        format!("ROW({})", cols.join(", "))
    }

    /// `SELECT key..., columns..., insert_only..., problem FROM ... WHERE live AND <filter>`:
    /// what CoreForge should hold, named by cf_ column.
    pub fn projection(&self, filter: &str) -> String {
        let mut cols: Vec<String> = self
            .key
            .iter()
            .map(|k| format!("{}.{} AS {}", self.primary.alias, ident(k.legacy), ident(k.cf)))
            .collect();
        cols.extend(
            self.columns.iter().chain(&self.insert_only).map(|c| format!("{} AS {}", c.expr, ident(c.cf))),
        );
        cols.push(format!("{} AS problem", self.problem()));
        cols.push(format!("{} AS label", self.label));
        format!("SELECT {} FROM {} WHERE {} AND {}", cols.join(", "), self.from(false), self.live(), filter)
    }

    pub fn parent(&self, entity: &str) -> Option<&Parent> {
        self.parents.iter().find(|p| p.entity == entity)
    }
}

/// `nullif(alias.col, '')`: an empty optional string becomes NULL.
fn optional(alias: &str, col: &str) -> String {
    format!("NULLIF({alias}.{}, '')", ident(col))
}

fn plain(alias: &str, col: &str) -> String {
    format!("{alias}.{}", ident(col))
}

fn empty(alias: &str, col: &str) -> String {
    format!("COALESCE({alias}.{}, '') = ''", ident(col))
}

fn users_source() -> Source {
    Source {
        name: "users",
        alias: "u",
        columns: &["id", "email", "name", "avatar_url", "password_hash", "created_at", "deleted_at"],
        deleted_at: Some("deleted_at"),
    }
}

fn tenants_source() -> Source {
    Source {
        name: "tenants",
        alias: "t",
        columns: &["id", "name", "slug", "logo_url", "settings", "plan", "created_at", "deleted_at"],
        deleted_at: Some("deleted_at"),
    }
}

/// The guide's mapping of one entity, with the cf_ tables in `cf_schema`.
pub fn entity(name: &str, cf_schema: &str) -> Option<Entity> {
    let cf_schema = cf_schema.to_string();
    let e = match name {
        "users" => Entity {
            name: "users",
            cf_schema,
            cf_name: "cf_users",
            primary: users_source(),
            parents: vec![],
            key: vec![KeyCol { legacy: "id", cf: "id" }],
            columns: vec![
                Col { cf: "email", expr: plain("u", "email") },
                Col { cf: "name", expr: plain("u", "name") },
                Col { cf: "avatar_url", expr: optional("u", "avatar_url") },
                Col { cf: "password_hash", expr: optional("u", "password_hash") },
                Col { cf: "created_at", expr: plain("u", "created_at") },
            ],
            insert_only: vec![],
            problems: vec![
                (empty("u", "email"), "email is empty"),
                (empty("u", "name"), "name is empty"),
                ("u.created_at IS NULL".into(), "created_at is NULL"),
            ],
            label: plain("u", "email"),
        },
        "organizations" => Entity {
            name: "organizations",
            cf_schema,
            cf_name: "cf_organizations",
            primary: tenants_source(),
            parents: vec![],
            key: vec![KeyCol { legacy: "id", cf: "id" }],
            columns: vec![
                Col { cf: "name", expr: plain("t", "name") },
                Col { cf: "slug", expr: plain("t", "slug") },
                Col { cf: "logo_url", expr: optional("t", "logo_url") },
                Col { cf: "settings", expr: "t.settings::jsonb".into() },
                Col { cf: "plan", expr: format!("COALESCE({}, 'free')", optional("t", "plan")) },
                Col { cf: "created_at", expr: plain("t", "created_at") },
            ],
            insert_only: vec![],
            problems: vec![
                (empty("t", "name"), "name is empty"),
                (empty("t", "slug"), "slug is empty"),
                ("t.created_at IS NULL".into(), "created_at is NULL"),
            ],
            label: plain("t", "slug"),
        },
        "memberships" => Entity {
            name: "memberships",
            cf_schema,
            cf_name: "cf_memberships",
            primary: Source {
                name: "tenant_members",
                alias: "m",
                columns: &["user_id", "tenant_id", "role", "created_at"],
                deleted_at: None,
            },
            parents: vec![
                Parent {
                    entity: "users",
                    source: users_source(),
                    fk: KeyCol { legacy: "user_id", cf: "user_id" },
                    legacy_id: "id",
                    cf_table: "cf_users",
                },
                Parent {
                    entity: "organizations",
                    source: tenants_source(),
                    fk: KeyCol { legacy: "tenant_id", cf: "organization_id" },
                    legacy_id: "id",
                    cf_table: "cf_organizations",
                },
            ],
            key: vec![KeyCol { legacy: "user_id", cf: "user_id" }, KeyCol { legacy: "tenant_id", cf: "organization_id" }],
            columns: vec![
                Col { cf: "role", expr: plain("m", "role") },
                Col { cf: "created_at", expr: plain("m", "created_at") },
            ],
            insert_only: vec![Col {
                cf: "id",
                expr: format!(
                    "coreforge_sync.uuid_v5('{MEMBERSHIP_NAMESPACE}'::uuid, m.user_id::text || ':' || m.tenant_id::text)"
                ),
            }],
            problems: vec![
                (empty("m", "role"), "role is empty"),
                ("m.created_at IS NULL".into(), "created_at is NULL"),
            ],
            label: "u.email || ' in ' || t.slug".into(),
        },
        _ => return None,
    };
    Some(e)
}

/// Entities that reference `name` (memberships reference users and organizations).
pub fn dependents(name: &str, cf_schema: &str) -> Vec<Entity> {
    ENTITY_NAMES.iter().filter_map(|n| entity(n, cf_schema)).filter(|e| e.parent(name).is_some()).collect()
}
