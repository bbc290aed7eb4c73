//! Snapshots of the generated SQL (insta), for the migration guide's schema and for the crm schema
//! of the tests (integer ids mapped to uuids, a boolean soft delete, value maps). Generation is
//! pure, so these run without PostgreSQL: the catalog is a fixed description of the tables.
//! A change to a statement shows up here as a diff to review (`cargo insta review`, or set
//! INSTA_UPDATE=always and read `git diff`).

use crate::errors::Result;
use crate::mapping::{
    build_memberships, build_single, resolve, Catalog, ColumnInfo, Entity, Expression, Resolved,
};
use crate::settings::{effective, EntityKind};
use crate::sqlgen::mirror::{fast_update, lock_statement, probe, statement, OnError, Scope, NEW_TABLE};
use crate::sqlgen::{ids, reverse};
use serde_json::{json, Value};

/// A table: its columns as (name, SQL type, NOT NULL), its unique keys, and the defaults of new ids.
struct Table {
    schema: &'static str,
    name: &'static str,
    columns: Vec<(&'static str, &'static str, bool)>,
    unique: Vec<Vec<&'static str>>,
    id_default: Option<&'static str>,
}

struct Fixed(Vec<Table>);

/// (typname, category) of the SQL types the fixtures use.
fn type_facts(sql_type: &str) -> (&'static str, &'static str) {
    match sql_type {
        "text" => ("text", "S"),
        "uuid" => ("uuid", "U"),
        "integer" => ("int4", "N"),
        "timestamp with time zone" => ("timestamptz", "D"),
        "jsonb" => ("jsonb", "U"),
        "boolean" => ("bool", "B"),
        other => panic!("the fixtures do not use type {other}"),
    }
}

impl Fixed {
    fn table(&self, schema: &str, table: &str) -> Option<&Table> {
        self.0.iter().find(|t| t.schema == schema && t.name == table)
    }
}

impl Catalog for Fixed {
    fn expression(
        &self,
        _table: (&str, &str),
        _expr: &str,
        _cast: Option<&str>,
    ) -> Result<std::result::Result<Expression, String>> {
        Ok(Err("the fixed catalog reads no expressions (pg_regress 27_expressions does)".into()))
    }

    fn columns(&self, schema: &str, table: &str) -> Result<Option<Vec<ColumnInfo>>> {
        Ok(self.table(schema, table).map(|t| {
            t.columns
                .iter()
                .map(|(name, ty, not_null)| {
                    let (type_name, category) = type_facts(ty);
                    ColumnInfo {
                        name: name.to_string(),
                        type_name: type_name.into(),
                        type_display: ty.to_string(),
                        type_base: ty.to_string(),
                        category: category.into(),
                        not_null: *not_null,
                    }
                })
                .collect()
        }))
    }

    fn unique_index(&self, schema: &str, table: &str, columns: &[String]) -> Result<Option<Vec<String>>> {
        Ok(self.table(schema, table).and_then(|t| {
            t.unique
                .iter()
                .find(|k| {
                    let mut a: Vec<&str> = k.to_vec();
                    let mut b: Vec<&str> = columns.iter().map(String::as_str).collect();
                    a.sort();
                    b.sort();
                    a == b
                })
                .map(|k| k.iter().map(|c| c.to_string()).collect())
        }))
    }

    fn new_value(&self, schema: &str, table: &str, _column: &str) -> Result<Option<String>> {
        Ok(self.table(schema, table).and_then(|t| t.id_default.map(str::to_string)))
    }
    fn fits(&self, _sample: &str, _target: &str) -> Result<bool> {
        Ok(true)
    }
    fn references(&self, _: &str, _: &str, _: &str, _: &str, _: &str) -> Result<bool> {
        Ok(true)
    }
    fn canonical(&self, value: &str, _target: &str) -> Result<Option<String>> {
        Ok(Some(value.to_string()))
    }
}

fn guide() -> Fixed {
    let ts = "timestamp with time zone";
    Fixed(vec![
        Table {
            schema: "public",
            name: "users",
            columns: vec![
                ("id", "uuid", true),
                ("email", "text", true),
                ("name", "text", true),
                ("avatar_url", "text", false),
                ("password_hash", "text", false),
                ("created_at", ts, true),
                ("updated_at", ts, true),
                ("deleted_at", ts, false),
            ],
            unique: vec![vec!["id"]],
            id_default: Some("pg_catalog.gen_random_uuid()"),
        },
        Table {
            schema: "public",
            name: "tenants",
            columns: vec![
                ("id", "uuid", true),
                ("name", "text", true),
                ("slug", "text", true),
                ("logo_url", "text", false),
                ("settings", "jsonb", false),
                ("plan", "text", true),
                ("created_at", ts, true),
                ("updated_at", ts, true),
                ("deleted_at", ts, false),
            ],
            unique: vec![vec!["id"], vec!["slug"]],
            id_default: Some("pg_catalog.gen_random_uuid()"),
        },
        Table {
            schema: "public",
            name: "tenant_members",
            columns: vec![
                ("user_id", "uuid", true),
                ("tenant_id", "uuid", true),
                ("role", "text", true),
                ("created_at", ts, true),
            ],
            unique: vec![vec!["tenant_id", "user_id"]],
            id_default: None,
        },
    ])
}

fn crm() -> Fixed {
    let ts = "timestamp with time zone";
    Fixed(vec![
        Table {
            schema: "crm",
            name: "accounts",
            columns: vec![
                ("account_id", "integer", true),
                ("email_address", "text", false),
                ("full_name", "text", false),
                ("photo_url", "text", false),
                ("pw_digest", "text", false),
                ("signup_at", ts, false),
                ("is_deleted", "boolean", true),
            ],
            unique: vec![vec!["account_id"]],
            id_default: Some("pg_catalog.nextval('crm.accounts_account_id_seq'::pg_catalog.regclass)"),
        },
        Table {
            schema: "crm",
            name: "companies",
            columns: vec![
                ("company_id", "integer", true),
                ("company_name", "text", false),
                ("handle", "text", false),
                ("tier", "text", false),
                ("created", ts, false),
            ],
            unique: vec![vec!["company_id"]],
            id_default: Some("pg_catalog.nextval('crm.companies_company_id_seq'::pg_catalog.regclass)"),
        },
        Table {
            schema: "crm",
            name: "company_users",
            columns: vec![
                ("account_id", "integer", true),
                ("company_id", "integer", true),
                ("access_level", "text", false),
                ("joined_at", ts, false),
            ],
            unique: vec![vec!["account_id", "company_id"]],
            id_default: None,
        },
    ])
}

/// The crm configuration of tests/pg_regress/sql/06_configure.sql.
fn crm_settings(kind: EntityKind) -> Value {
    match kind {
        EntityKind::Users => json!({"table": "crm.accounts",
            "id": {"column": "account_id", "strategy": "uuidv5", "namespace": "6ba7b811-9dad-11d1-80b4-00c04fd430c8"},
            "soft_delete": {"column": "is_deleted", "kind": "boolean"},
            "columns": {"email": "email_address", "name": "full_name", "avatar_url": "photo_url",
                        "password_hash": "pw_digest", "created_at": "signup_at"}}),
        EntityKind::Organizations => json!({"table": "crm.companies",
            "id": {"column": "company_id", "strategy": "random"}, "soft_delete": null,
            "columns": {"name": "company_name", "slug": "handle", "plan": "tier", "created_at": "created"},
            "values": {"plan": {"basic": "starter", "premium": "pro", "enterprise": "enterprise", "*": "free"}}}),
        EntityKind::Memberships => json!({"table": "crm.company_users",
            "user_ref": "account_id", "organization_ref": "company_id",
            "columns": {"role": "access_level", "created_at": "joined_at"},
            "values": {"role": {"superuser": "owner", "manager": "admin", "staff": "member", "*": "reject"}}}),
    }
}

/// The three entities of `cat` under `settings` (cf_ tables in public), with no problem.
fn entities(cat: &Fixed, settings: impl Fn(EntityKind) -> Value) -> Vec<Entity> {
    let mut problems = Vec::new();
    let mut resolved = |kind, refs: Option<(&Resolved, &Resolved)>| -> Resolved {
        let s = effective(kind, &settings(kind), &mut problems).expect("the settings parse");
        let r = resolve(cat, None, Some("public"), kind, s, refs, &mut problems)
            .expect("the fixed catalog answers");
        r.unwrap_or_else(|| panic!("{kind} does not resolve: {problems:?}"))
    };
    let u = resolved(EntityKind::Users, None);
    let o = resolved(EntityKind::Organizations, None);
    let m = resolved(EntityKind::Memberships, Some((&u, &o)));
    assert!(problems.is_empty(), "{problems:?}");
    let built =
        [build_single(&u, "public"), build_single(&o, "public"), build_memberships(&u, &o, &m, "public")];
    built.into_iter().map(|e| e.expect("the entities build")).collect()
}

/// Every statement of one entity, labelled, one after another.
fn statements(entities: &[Entity], i: usize) -> String {
    let e = &entities[i];
    let deps: Vec<&Entity> = entities.iter().filter(|d| d.parent(e.kind).is_some()).collect();
    let mut out = Vec::new();
    let mut add = |label: &str, sql: String| out.push(format!("-- {label}\n{sql}\n"));
    add("backfill copy (Scope::All)", statement(e, &deps, Scope::All, OnError::Record));
    add("backfill removal (Scope::CfIds)", statement(e, &deps, Scope::CfIds, OnError::Record));
    add("batch (Scope::Range)", statement(e, &deps, Scope::Range { lower: true }, OnError::Record));
    add("fast path of a one-row UPDATE", crate::sqlgen::mirror::fast_update_one(e));
    add(
        "fast path of a one-row UPDATE, when it updated nothing",
        crate::sqlgen::mirror::fast_update_settled_one(e),
    );
    if e.parents.is_empty() {
        add("fast path of an UPDATE", fast_update(e));
        if e.key.len() == 1 && e.key[0].map.is_none() {
            add("fast path of a one-row INSERT", crate::sqlgen::mirror::fast_insert_one(e, &deps));
            add("fast path of a one-row removal, its lock", crate::sqlgen::mirror::fast_remove_lock(e));
            add("fast path of a one-row removal", crate::sqlgen::mirror::fast_remove_one(e, &deps));
            add(
                "fast path of a one-row undelete, its locks",
                crate::sqlgen::mirror::fast_revive_lock(e, &deps),
            );
            add("fast path of a one-row undelete", crate::sqlgen::mirror::fast_revive_one(e, &deps));
        }
    } else {
        add("fast path of a one-row INSERT, its locks", crate::sqlgen::mirror::fast_lock_one(e));
        add("fast path of a one-row INSERT", crate::sqlgen::mirror::fast_insert_one(e, &[]));
        add("fast path of a one-row DELETE", crate::sqlgen::mirror::fast_delete_one(e));
    }
    add("probe of an UPDATE", probe(e, &deps, true, true, true));
    let small = Scope::Statement { old: true, new: true, remove: false, cascade: false, clear: false };
    add("trigger, an UPDATE that removes nothing", statement(e, &deps, small, OnError::Record));
    let full = Scope::Statement { old: true, new: true, remove: true, cascade: true, clear: true };
    add("trigger, an UPDATE that may remove and cascade, raising", statement(e, &deps, full, OnError::Raise));
    if e.kind == EntityKind::Memberships || full_locks(e) {
        add("trigger locks", lock_statement(e, &deps, full));
    }
    if let Some(assign) = ids::assign_statement(&e.primary, NEW_TABLE, false) {
        add("id assignment", assign);
    }
    for (n, w) in reverse::statement(e, true, true).iter().enumerate() {
        add(&format!("reverse part {n}: read"), w.read.clone());
        add(&format!("reverse part {n}: write"), w.write.clone());
        if let Some(after) = &w.after {
            add(&format!("reverse part {n}: after"), after.clone());
        }
    }
    // The reverse fast path with every written column changed (a rename sets one of them).
    let every = vec![true; reverse::written(e).len()];
    if let Some(sql) = reverse::fast_write_back_one(e, &every) {
        add("reverse fast path of a one-row UPDATE", sql);
        add("reverse fast path: rejects", reverse::fast_clear_rejects_one(e));
    }
    if let Some((sql, params)) = reverse::fast_insert_back_one(e) {
        add(&format!("reverse fast path of a one-row INSERT (parameters: {})", params.join(", ")), sql);
    }
    if let Some(sql) = reverse::fast_write_back(e) {
        add("reverse fast path of an UPDATE of several rows", sql);
    }
    if let Some(sql) = reverse::fast_remove_back_one(e) {
        add("reverse fast path of a one-row DELETE", sql);
    }
    if let Some(w) = reverse::assign_write(e, NEW_TABLE) {
        add("reverse id assignment: read", w.read);
        add("reverse id assignment: write", w.write);
        add("reverse id assignment: after", w.after.unwrap_or_default());
    }
    out.join("\n")
}

fn full_locks(e: &Entity) -> bool {
    crate::sqlgen::mirror::needs_locks(
        e,
        Scope::Statement { old: true, new: true, remove: true, cascade: true, clear: true },
    )
}

#[test]
fn guide_users() {
    insta::assert_snapshot!(statements(&entities(&guide(), |_| json!({})), 0));
}

#[test]
fn guide_organizations() {
    insta::assert_snapshot!(statements(&entities(&guide(), |_| json!({})), 1));
}

#[test]
fn guide_memberships() {
    insta::assert_snapshot!(statements(&entities(&guide(), |_| json!({})), 2));
}

#[test]
fn crm_users() {
    insta::assert_snapshot!(statements(&entities(&crm(), crm_settings), 0));
}

#[test]
fn crm_organizations() {
    insta::assert_snapshot!(statements(&entities(&crm(), crm_settings), 1));
}

#[test]
fn crm_memberships() {
    insta::assert_snapshot!(statements(&entities(&crm(), crm_settings), 2));
}
