//! Layer 2, the mapping: from the legacy tables to the CoreForge tables, built once per entity
//! from its settings (layer 1), checked against the catalog ([`resolve`]). Pure: the catalog is
//! read through [`Catalog`], which the database layer implements.
//!
//! An [`Entity`] describes the *projection*: the SQL query over the legacy tables that says what
//! CoreForge should hold for them, and why a live row cannot be mirrored (its reject reason).
//! The backfill upserts that projection, the triggers apply it to the keys a statement touched,
//! and the validation diffs it against the cf_ tables (see `mirror.rs` and `validation.rs`).
//! Nothing else knows a column name.

mod resolve;

pub use resolve::{resolve, Resolved};

use crate::errors::{Error, Result};
use crate::quote::{ident, literal, qualified};
use crate::settings::{
    allowed_values, cf_columns, EntityKind, IdStrategy, Kind, PasswordEncoding, PASSWORD_FORMATS,
};
use std::fmt;

/// A column of a table as the catalog describes it: its name, type (`pg_type.typname` and as
/// SQL shows it) and category.
#[derive(Clone, Debug)]
pub struct ColumnInfo {
    pub name: String,
    pub type_name: String,
    pub type_display: String,
    /// The type without its length or precision (`character varying`, `numeric`), for casts that
    /// must not cut a value; blank-padded `character` is `pg_catalog.bpchar` (bare `character` is char(1)).
    pub type_base: String,
    pub category: String,
    pub not_null: bool,
}

/// What the mapping needs to know of the catalog.
pub trait Catalog {
    /// The columns of `schema.table`, or None when there is no such table.
    fn columns(&self, schema: &str, table: &str) -> Result<Option<Vec<ColumnInfo>>>;
    /// The columns, in index order, of a primary key or unique index (not partial, not an
    /// expression) of `schema.table` on exactly `columns` (in any order); None when there is none.
    fn unique_index(&self, schema: &str, table: &str, columns: &[String]) -> Result<Option<Vec<String>>>;
    /// The SQL expression that gives a new row of `schema.table` its `column`: the column's
    /// default, or the next value of its identity sequence; None when it has neither.
    fn new_value(&self, schema: &str, table: &str, column: &str) -> Result<Option<String>>;
    /// Whether the jsonb value of the SQL expression `sample` goes into a column of type `target`
    /// (as the reverse sync hands values over: through `jsonb_to_recordset`).
    fn fits(&self, sample: &str, target: &str) -> Result<bool>;
    /// Whether `schema.table` has a foreign key on exactly `column` to `ref_schema.ref_table` that
    /// holds for every row: validated, and checked at once (not deferrable).
    fn references(
        &self,
        schema: &str,
        table: &str,
        column: &str,
        ref_schema: &str,
        ref_table: &str,
    ) -> Result<bool>;
    /// `value` read as a `target` and written back as text, as PostgreSQL writes it ('t' as a
    /// boolean is 'true'); None when it is not a `target` at all.
    fn canonical(&self, value: &str, target: &str) -> Result<Option<String>>;
    /// The SQL expression `expr` over a row of `schema.table` (cast to the type `cast`, when
    /// given), as PostgreSQL parses and analyzes it ([`Expression`]), or why it cannot be one
    /// (PostgreSQL's error, or what an expression may not do, such as calling a function whose
    /// owner could redefine it: only superusers' functions are called outside pg_catalog).
    fn expression(
        &self,
        table: (&str, &str),
        expr: &str,
        cast: Option<&str>,
    ) -> Result<std::result::Result<Expression, String>>;
}

/// A SQL expression of the configuration over one row of a table, as PostgreSQL read it: printed
/// back by PostgreSQL's own deparser (every column qualified by [`Expression::ROW`], every name
/// outside pg_catalog qualified by its schema), so that it carries nothing but what PostgreSQL
/// parsed: no text of the configuration is spliced into SQL as it was given.
#[derive(Clone, Debug)]
pub struct Expression {
    pub sql: String,
    /// Its result type.
    pub result: ColumnInfo,
    /// The columns it reads.
    pub reads: Vec<String>,
}

impl Expression {
    /// The alias its columns are qualified with in [`Expression::sql`]; a configured expression may
    /// not mention it, so that every occurrence followed by a dot is a column reference.
    pub const ROW: &'static str = "cf_sync_row";

    /// The expression over the row `alias`, parenthesised.
    pub fn over(&self, alias: &str) -> String {
        format!("({})", self.sql.replace(&format!("{}.", Self::ROW), &format!("{alias}.")))
    }
}

/// A write-back rule (`"write_back"`): a legacy column the reverse sync writes from an
/// expression over the cf_ row.
#[derive(Clone, Debug)]
pub struct WriteBack {
    pub legacy: String,
    pub expr: Expression,
}

/// The SQL type of a legacy id (uuid, smallint, integer, bigint or text): the only type names
/// spliced into the generated SQL's casts, so a cast is safe by construction.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct SqlType(&'static str);

impl SqlType {
    pub const UUID: SqlType = SqlType("uuid");

    /// The id type `name` (as SQL shows it), None for any other type.
    pub fn id(name: &str) -> Option<SqlType> {
        ["uuid", "smallint", "integer", "bigint", "text"].into_iter().find(|t| *t == name).map(SqlType)
    }

    pub fn as_str(self) -> &'static str {
        self.0
    }
}

impl fmt::Display for SqlType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// Namespace of the version-5 UUIDs given to memberships (the legacy join table has no id):
/// uuid5(NAMESPACE_URL, "https://github.com/grokify/coreforge#coreforge_sync/memberships").
pub const MEMBERSHIP_NAMESPACE: &str = "83037461-3d09-54f0-8241-7f5058c6160d";

/// CoreForge's slug rule: 3 to 63 characters, `^[a-z][a-z0-9-]*[a-z0-9]$`.
const SLUG_RULE: &str = "^[a-z][a-z0-9-]{1,61}[a-z0-9]$";

/// A cf_ column and the legacy expression (over the projection's aliases) that fills it.
pub struct Col {
    pub cf: &'static str,
    pub expr: String,
    /// The legacy column it is read from (None: a default, or derived), and the value map read
    /// backwards (CoreForge value -> legacy value): what the reverse sync writes (`reverse.rs`).
    pub legacy: Option<String>,
    pub inverse: Vec<(String, String)>,
    /// Other legacy columns its expression reads (its fallbacks): never written back.
    pub also_reads: Vec<String>,
    /// The legacy framework's encoding of a password hash (the password column only, and only one
    /// other than PHC): how its values are written back.
    pub encoding: Option<PasswordEncoding>,
}

impl Col {
    /// The legacy columns its value is read from: its column, or those its expression reads, and
    /// its fallbacks.
    pub fn reads(&self) -> impl Iterator<Item = &str> {
        self.legacy.as_deref().into_iter().chain(self.also_reads.iter().map(String::as_str))
    }
}

/// One key column: its name in the legacy table, its cf_ column, and the expression (over the
/// projection's aliases) of its CoreForge value; `map` is the id mapping table when ids are mapped.
pub struct KeyCol {
    pub legacy: String,
    pub cf: &'static str,
    pub proj: String,
    pub map: Option<String>,
}

impl KeyCol {
    /// The CoreForge id of a legacy id expression.
    pub fn cf_of(&self, legacy_expr: &str) -> String {
        match &self.map {
            None => legacy_expr.to_string(),
            Some(map) => format!("(SELECT mp.new_id FROM {map} mp WHERE mp.old_id = {legacy_expr})"),
        }
    }

    /// The legacy id of a CoreForge id expression.
    pub fn legacy_of(&self, cf_expr: &str) -> String {
        match &self.map {
            None => cf_expr.to_string(),
            Some(map) => format!("(SELECT mp.old_id FROM {map} mp WHERE mp.new_id = {cf_expr})"),
        }
    }
}

/// The soft-delete rule of a legacy table.
pub enum SoftDelete {
    /// Live while this timestamp column is NULL.
    Timestamp(String),
    /// Live while this boolean column is false (or NULL).
    Boolean(String),
}

/// A legacy table the projection reads.
pub struct Source {
    pub schema: String,
    pub name: String,
    pub alias: &'static str,
    pub soft_delete: Option<SoftDelete>,
    /// The id column (users, organizations) and, when ids are mapped, the mapping table.
    pub id: Option<String>,
    pub map: Option<String>,
    pub strategy: IdStrategy,
    /// The SQL type of the id column.
    pub id_type: SqlType,
    /// The table's columns, as the catalog describes them.
    pub columns: Vec<ColumnInfo>,
    /// Mapped ids: how a new legacy row gets its id (see [`Resolved::id_default`]).
    pub id_default: Option<String>,
}

impl Source {
    pub fn table(&self) -> String {
        qualified(&self.schema, &self.name)
    }

    /// `crm.accounts`, for messages and listings.
    pub fn display(&self) -> String {
        format!("{}.{}", self.schema, self.name)
    }

    /// `alias.deleted_at IS NULL`, `alias.is_deleted IS NOT TRUE`, or `true` without soft delete.
    pub fn live(&self, alias: &str) -> String {
        match &self.soft_delete {
            Some(SoftDelete::Timestamp(col)) => format!("{alias}.{} IS NULL", ident(col)),
            Some(SoftDelete::Boolean(col)) => format!("{alias}.{} IS NOT TRUE", ident(col)),
            None => "true".into(),
        }
    }

    /// Whether a row whose soft-delete column holds `value` (as text, None for NULL) is live: the
    /// Rust side of [`Source::live`].
    pub fn is_live(&self, value: Option<&str>) -> bool {
        match &self.soft_delete {
            Some(SoftDelete::Timestamp(_)) => value.is_none(),
            Some(SoftDelete::Boolean(_)) => value != Some("t"),
            None => true,
        }
    }

    /// The column a soft delete sets, if any.
    pub fn soft_delete_column(&self) -> Option<&str> {
        match &self.soft_delete {
            Some(SoftDelete::Timestamp(c) | SoftDelete::Boolean(c)) => Some(c.as_str()),
            None => None,
        }
    }

    /// The alias of this table's id mapping in the projection (`ux`, `tx`).
    fn map_alias(&self) -> String {
        format!("{}x", self.alias)
    }

    /// The CoreForge id of this table's row `alias` in the projection.
    fn cf_id(&self) -> String {
        match &self.map {
            Some(_) => format!("{}.new_id", self.map_alias()),
            None => format!("{}.{}", self.alias, ident(self.id.as_deref().unwrap_or("id"))),
        }
    }

    /// `LEFT JOIN <mapping> ux ON ux.old_id = <legacy id expr>`, or nothing for kept ids.
    fn map_join(&self, legacy_id: &str) -> String {
        match &self.map {
            Some(map) => format!(" LEFT JOIN {map} {a} ON {a}.old_id = {legacy_id}", a = self.map_alias()),
            None => String::new(),
        }
    }
}

/// A parent a membership needs: the row it references must be live and migrated.
pub struct Parent {
    pub entity: EntityKind,
    pub source: Source,
    /// The referencing column in the membership table, and in the cf_ table.
    pub fk_legacy: String,
    pub fk_cf: &'static str,
    pub cf_table: &'static str,
    /// The expression of the parent's CoreForge id in the projection.
    pub cf_id: String,
    /// Whether a legacy foreign key on `fk_legacy` holds every legacy membership to an existing
    /// legacy parent row (`Resolved::enforced_refs`): then a parent row new to the legacy table
    /// has no legacy memberships.
    pub enforced: bool,
}

/// Why a live row cannot be mirrored: a condition over the projection's aliases, a reason code
/// and a message (an SQL expression).
pub struct Problem {
    pub cond: String,
    pub code: &'static str,
    pub message: String,
}

pub struct Entity {
    pub kind: EntityKind,
    pub cf_schema: String,
    pub cf_name: &'static str,
    pub primary: Source,
    pub parents: Vec<Parent>,
    pub key: Vec<KeyCol>,
    /// Mapped columns: written on insert and update, compared by the validation.
    pub columns: Vec<Col>,
    /// Written on insert only (a membership's derived id).
    pub insert_only: Vec<Col>,
    /// Why a live row cannot be mirrored, checked in order: first match wins.
    pub problems: Vec<Problem>,
    /// Legacy columns CoreForge does not know, and their values in a legacy row born in CoreForge:
    /// SQL over the cf_ row `c` (a constant, or one of its columns).
    pub reverse_defaults: Vec<(String, String)>,
    /// Legacy columns the reverse sync writes from an expression over the cf_ row (`"write_back"`).
    pub write_back: Vec<WriteBack>,
    /// cf_ columns CoreForge keeps unique (email, slug): a row that would take a value another
    /// row holds is rejected.
    pub unique: Vec<&'static str>,
    /// The legacy column holding a password hash, never shown in a reject.
    pub secret: Option<String>,
    /// A short human label of a legacy row, for listings (email, slug, role).
    pub label: String,
    /// The legacy key's columns in the order of its unique index, with their SQL types: what a
    /// keyset walk of the legacy table (the batched backfill) orders by.
    pub keyset: Vec<(String, SqlType)>,
}

impl Entity {
    /// `users`, `organizations` or `memberships`.
    pub fn name(&self) -> &'static str {
        self.kind.as_str()
    }

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

    /// The FROM clause of the projection: the table, its id mapping, and (memberships) the
    /// user and organization with theirs. With `outer`, parents are LEFT JOINed (to count orphans
    /// and excluded rows).
    pub fn from(&self, outer: bool) -> String {
        let p = &self.primary;
        let mut s = format!("{} {}", p.table(), p.alias);
        if let Some(id) = &p.id {
            s.push_str(&p.map_join(&format!("{}.{}", p.alias, ident(id))));
        }
        for parent in &self.parents {
            let src = &parent.source;
            let fk = format!("{}.{}", p.alias, ident(&parent.fk_legacy));
            s.push_str(&format!(
                " {} {} {} ON {}.{} = {fk}",
                if outer { "LEFT JOIN" } else { "JOIN" },
                src.table(),
                src.alias,
                src.alias,
                ident(src.id.as_deref().unwrap_or("id")),
            ));
            s.push_str(&src.map_join(&fk));
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

    /// The legacy key columns, quoted: `"id"` or `"user_id", "tenant_id"`.
    pub fn legacy_key_names(&self) -> String {
        self.key.iter().map(|k| ident(&k.legacy)).collect::<Vec<_>>().join(", ")
    }

    /// Legacy key expressions, e.g. `u."id"` or `m."user_id", m."tenant_id"`.
    pub fn legacy_key(&self, alias: &str) -> String {
        self.key.iter().map(|k| format!("{alias}.{}", ident(&k.legacy))).collect::<Vec<_>>().join(", ")
    }

    pub fn cf_key(&self, alias: &str) -> String {
        self.key.iter().map(|k| format!("{alias}.{}", ident(k.cf))).collect::<Vec<_>>().join(", ")
    }

    /// The legacy key columns, in key order.
    pub fn legacy_key_columns(&self) -> Vec<&str> {
        self.key.iter().map(|k| k.legacy.as_str()).collect()
    }

    /// The columns of the legacy table the projection reads: the key, the mapped columns and the
    /// soft-delete column. An UPDATE that changes none of them changes nothing CoreForge holds.
    pub fn legacy_columns_read(&self) -> Vec<&str> {
        let mut cols = self.legacy_key_columns();
        cols.extend(self.columns.iter().flat_map(Col::reads));
        cols.extend(self.primary.soft_delete_column());
        cols.sort_unstable();
        cols.dedup();
        cols
    }

    /// The legacy columns whose change can bring a row into CoreForge, take it out, or make it
    /// claim a value: the key, the soft-delete column, and the columns of the unique values (email,
    /// slug). An UPDATE that changes none of them takes the fast path (`sqlgen::mirror::fast_update`).
    pub fn legacy_identity_columns(&self) -> Vec<&str> {
        let mut cols = self.legacy_key_columns();
        cols.extend(self.columns.iter().filter(|c| self.unique.contains(&c.cf)).flat_map(Col::reads));
        cols.extend(self.primary.soft_delete_column());
        cols
    }

    /// The columns of the cf_ table the reverse sync reads: the key, the mapped columns and those
    /// the write-back rules read.
    pub fn cf_columns_read(&self) -> Vec<&str> {
        let mut cols: Vec<&str> =
            self.key.iter().map(|k| k.cf).chain(self.columns.iter().map(|c| c.cf)).collect();
        cols.extend(self.write_back.iter().flat_map(|w| w.expr.reads.iter().map(String::as_str)));
        cols.sort_unstable();
        cols.dedup();
        cols
    }

    /// `SELECT <cf key> FROM (<legacy keys query>) g`: the CoreForge keys of legacy keys.
    pub fn cf_keys_of(&self, legacy_keys: &str) -> String {
        let exprs: Vec<String> =
            self.key.iter().map(|k| k.cf_of(&format!("g.{}", ident(&k.legacy)))).collect();
        format!("SELECT {} FROM ({legacy_keys}) g", exprs.join(", "))
    }

    /// `a.id = b.id` (or both membership key columns) over the cf_ key's names: a cf_ row and a row
    /// that carries its key under the same names (a projection's, say).
    pub fn cf_key_match(&self, a: &str, b: &str) -> String {
        self.key.iter().map(|k| format!("{a}.{0} = {b}.{0}", ident(k.cf))).collect::<Vec<_>>().join(" AND ")
    }

    /// `c.id = ux.new_id` (or both membership key columns): a cf_ row and its projection row.
    pub fn key_join(&self, cf_alias: &str) -> String {
        self.key
            .iter()
            .map(|k| format!("{cf_alias}.{} = {}", ident(k.cf), k.proj))
            .collect::<Vec<_>>()
            .join(" AND ")
    }

    /// `u."id" = $1::uuid` (and so on over a composite key): the legacy row whose key is the
    /// parameters `$1`, `$2`, ... (text, in key order), each cast to its column's type.
    pub fn legacy_key_params(&self, alias: &str) -> String {
        self.key
            .iter()
            .enumerate()
            .map(|(i, k)| format!("{alias}.{} = {}", ident(&k.legacy), self.key_param(i)))
            .collect::<Vec<_>>()
            .join(" AND ")
    }

    /// `c.id = $1::uuid` (or both membership key columns, through the id mappings): the cf_ row of
    /// the legacy key in the parameters `$1`, `$2`, ... (as [`Entity::legacy_key_params`]).
    pub fn cf_key_params(&self, cf_alias: &str) -> String {
        self.key
            .iter()
            .enumerate()
            .map(|(i, k)| format!("{cf_alias}.{} = {}", ident(k.cf), k.cf_of(&self.key_param(i))))
            .collect::<Vec<_>>()
            .join(" AND ")
    }

    /// `$i+1::<type>`: key column `i`'s value, a parameter of a kept plan, cast to its column's type.
    pub fn key_param(&self, i: usize) -> String {
        let column = self.primary.columns.iter().find(|c| c.name == self.key[i].legacy);
        // (Always found in a resolved configuration; the table's id type otherwise.)
        let ty = column.map_or(self.primary.id_type.as_str(), |c| c.type_base.as_str());
        format!("${}::{ty}", i + 1)
    }

    /// A legacy row's key as text, for messages and rejects: `account_id=17` or
    /// `user_id=..., tenant_id=...`, over the legacy columns of `alias`.
    pub fn legacy_key_text(&self, alias: &str) -> String {
        let values: Vec<String> = self.key.iter().map(|k| format!("{alias}.{}", ident(&k.legacy))).collect();
        self.legacy_key_text_of(&values)
    }

    /// The same over expressions of the key's values, in key order.
    pub fn legacy_key_text_of(&self, values: &[String]) -> String {
        let parts: Vec<String> = self
            .key
            .iter()
            .zip(values)
            .map(|(k, v)| format!("{}||{v}::text", literal(&format!("{}=", k.legacy))))
            .collect();
        parts.join("||', '||")
    }

    /// A cf_ row's key as text: `id=...` or `user_id=..., organization_id=...`.
    pub fn cf_key_text(&self, alias: &str) -> String {
        let parts: Vec<String> = self
            .key
            .iter()
            .map(|k| format!("{}||{alias}.{}::text", literal(&format!("{}=", k.cf)), ident(k.cf)))
            .collect();
        parts.join("||', '||")
    }

    /// `CASE WHEN <cond> THEN '<code>:' || <message> ... END`: NULL when the row can be mirrored,
    /// as far as the row itself tells (unique columns are checked against other rows by the mirror
    /// statement). Read it with [`problem_code`] and [`problem_message`]. `parents`: how a
    /// membership's parents are found in CoreForge.
    pub fn problem(&self, parents: ParentCheck) -> String {
        let parent_problems = self.parent_problems(parents);
        let all: Vec<&Problem> = parent_problems.iter().chain(&self.problems).collect();
        if all.is_empty() {
            return "NULL::text".into();
        }
        let whens: Vec<String> = all
            .iter()
            .map(|p| format!("WHEN {} THEN {} || {}", p.cond, literal(&format!("{}:", p.code)), p.message))
            .collect();
        format!("CASE {} END", whens.join(" "))
    }

    /// A membership needs its user and its organization in CoreForge: when one was rejected, the
    /// membership is rejected too (and comes back with it, see mirror.rs).
    fn parent_problems(&self, check: ParentCheck) -> Vec<Problem> {
        self.parents
            .iter()
            .enumerate()
            .map(|(i, p)| Problem {
                cond: format!("NOT {}", self.parent_present(i, check)),
                code: "parent_rejected",
                message: format!(
                    "{} || {}.{}::text || {}",
                    literal(&format!("its {} (", p.entity.as_str().trim_end_matches('s'))),
                    self.primary.alias,
                    ident(&p.fk_legacy),
                    literal(&format!(") is not in CoreForge: SELECT * FROM cf_rejects('{}')", p.entity))
                ),
            })
            .collect()
    }

    /// Whether parent `i`'s cf_ row exists, as `check` finds it.
    pub fn parent_present(&self, i: usize, check: ParentCheck) -> String {
        let p = &self.parents[i];
        let exists =
            format!("EXISTS (SELECT 1 FROM {} px WHERE px.id = {})", self.cf_table_of(p.cf_table), p.cf_id);
        match check {
            ParentCheck::Lookup => format!("({exists})"),
            // The fresh parents first: a parent this statement inserts is never looked up.
            ParentCheck::LookupOrFresh(q) => format!("({} IN ({q}) OR {exists})", p.cf_id),
            ParentCheck::Joined => format!("(cfp{i}.id IS NOT NULL)"),
        }
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

    /// `SELECT key..., columns..., problem, label, legacy_key FROM ... WHERE live AND <filter>`:
    /// what CoreForge should hold, named by cf_ column.
    pub fn projection(&self, filter: &str) -> String {
        let mut cols: Vec<String> =
            self.key.iter().map(|k| format!("{} AS {}", k.proj, ident(k.cf))).collect();
        cols.extend(
            self.columns.iter().chain(&self.insert_only).map(|c| format!("{} AS {}", c.expr, ident(c.cf))),
        );
        cols.push(format!("{} AS problem", self.problem(ParentCheck::Joined)));
        cols.push(format!("{} AS label", self.label));
        cols.push(format!("{} AS legacy_key", self.legacy_key_text(self.primary.alias)));
        // Each parent's cf_ row joined (the validation reads every row: a join, not a probe per row).
        let parents: String = self
            .parents
            .iter()
            .enumerate()
            .map(|(i, p)| {
                format!(" LEFT JOIN {} cfp{i} ON cfp{i}.id = {}", self.cf_table_of(p.cf_table), p.cf_id)
            })
            .collect();
        format!(
            "SELECT {} FROM {}{parents} WHERE {} AND {}",
            cols.join(", "),
            self.from(false),
            self.live(),
            filter
        )
    }

    pub fn parent(&self, entity: EntityKind) -> Option<&Parent> {
        self.parents.iter().find(|p| p.entity == entity)
    }

    /// The legacy row of a key as jsonb, its password column redacted: `(SELECT ... FROM t WHERE key)`.
    /// `keys` are the expressions of the legacy key values, in key order.
    pub fn legacy_row_json(&self, keys: &[String]) -> String {
        let a = "l";
        let cond: Vec<String> =
            self.key.iter().zip(keys).map(|(k, v)| format!("{a}.{} = {v}", ident(&k.legacy))).collect();
        let json = match &self.secret {
            Some(col) => format!(
                "pg_catalog.jsonb_set(pg_catalog.to_jsonb({a}), ARRAY[{}], '\"[redacted]\"'::jsonb)",
                literal(col)
            ),
            None => format!("pg_catalog.to_jsonb({a})"),
        };
        format!("(SELECT {json} FROM {} {a} WHERE {})", self.primary.table(), cond.join(" AND "))
    }
}

/// How the problems of a membership find its parents' cf_ rows.
#[derive(Clone, Copy)]
pub enum ParentCheck<'a> {
    /// A lookup per row (`EXISTS`).
    Lookup,
    /// A lookup, or the parent's id among those a query returns (inserted by the same statement).
    LookupOrFresh(&'a str),
    /// The projection joins each parent's cf_ row as `cfp<i>`.
    Joined,
}

/// The reason code of a [`Entity::problem`] value.
pub fn problem_code(problem: &str) -> String {
    format!("pg_catalog.split_part({problem}, ':', 1)")
}

/// The message of a [`Entity::problem`] value.
pub fn problem_message(problem: &str) -> String {
    format!("pg_catalog.substr({problem}, pg_catalog.strpos({problem}, ':') + 1)")
}

/// The name of the id mapping table of `entity` (the guide's names).
pub fn mapping_table(entity: EntityKind) -> String {
    let name = if entity == EntityKind::Users { "user_id_mapping" } else { "organization_id_mapping" };
    qualified("coreforge_sync", name)
}

fn source(r: &Resolved, alias: &'static str) -> Source {
    let soft_delete = r.settings.soft_delete.as_ref().map(|sd| match sd.kind.as_str() {
        "boolean" => SoftDelete::Boolean(sd.column.clone()),
        _ => SoftDelete::Timestamp(sd.column.clone()),
    });
    let (id, map, strategy, id_type) = match &r.id {
        Some((col, strategy, id_type)) => (
            Some(col.clone()),
            (*strategy != IdStrategy::Keep).then(|| mapping_table(r.entity)),
            strategy.clone(),
            *id_type,
        ),
        None => (None, None, IdStrategy::Keep, SqlType::UUID),
    };
    Source {
        schema: r.schema.clone(),
        name: r.table.clone(),
        alias,
        soft_delete,
        id,
        map,
        strategy,
        id_type,
        columns: r.columns.clone(),
        id_default: r.id_default.clone(),
    }
}

/// The columns of `r` over alias `a`, with their problems.
fn columns(r: &Resolved, a: &str) -> (Vec<Col>, Vec<Problem>) {
    let s = &r.settings;
    let encoding = PasswordEncoding::parse(s.password_encoding.as_deref()).unwrap_or(PasswordEncoding::Phc);
    let mut cols = Vec::new();
    let mut problems = Vec::new();
    let mut too_long = Vec::new();
    for cc in cf_columns(r.entity) {
        let name = cc.name;
        let expression = r.expressions.get(name);
        let raw = match (s.columns.get(name), s.defaults.get(name)) {
            (Some(legacy), _) => format!("{a}.{}", ident(legacy)),
            _ if expression.is_some() => expression.map(|x| x.over(a)).unwrap_or_default(),
            (None, Some(v)) => match v {
                serde_json::Value::String(t) => literal(t),
                other => literal(&other.to_string()),
            },
            (None, None) => continue,
        };
        // With fallbacks: the first of the mapped column and its fallbacks that is neither NULL nor empty.
        let fallbacks = s.fallbacks.get(name).cloned().unwrap_or_default();
        let text = if fallbacks.is_empty() {
            format!("({raw})::text")
        } else {
            let tried: Vec<String> = std::iter::once(raw.clone())
                .chain(fallbacks.iter().map(|f| format!("{a}.{}", ident(f))))
                .map(|x| format!("NULLIF(({x})::text, '')"))
                .collect();
            format!("COALESCE({})", tried.join(", "))
        };
        let expr = match cc.kind {
            Kind::Required => {
                let base = if name == "slug" && s.normalize_slugs == Some(true) {
                    format!(
                        "NULLIF(pg_catalog.btrim(pg_catalog.regexp_replace(pg_catalog.lower({text}), '[^a-z0-9]+', '-', 'g'), '-'), '')"
                    )
                } else {
                    text.clone()
                };
                let e = value_mapped(r, name, &base, "NULL::text", &mut problems);
                problems.insert(
                    0,
                    Problem {
                        cond: format!("COALESCE({base}, '') = ''"),
                        code: "missing_value",
                        message: literal(&format!("{name} is NULL or empty")),
                    },
                );
                e
            }
            Kind::Optional => format!("NULLIF({text}, '')"),
            Kind::Set(default) => {
                let e = value_mapped(r, name, &text, &literal(default), &mut problems);
                let allowed = allowed_values(name).unwrap_or_default();
                let list = allowed.iter().map(|v| literal(v)).collect::<Vec<_>>().join(", ");
                problems.push(Problem {
                    cond: format!("{e} NOT IN ({list})"),
                    code: "invalid_value",
                    message: format!(
                        "{} || pg_catalog.quote_literal({e}) || {}",
                        literal(&format!("{name} ")),
                        literal(&format!(
                            " is not a CoreForge {name} ({}): map it in \"values\"",
                            allowed.join(", ")
                        ))
                    ),
                });
                e
            }
            Kind::Password => password_expr(s.passwords.as_ref(), &decoded_password(encoding, &text)),
            Kind::Timestamp => {
                let e = format!("({raw})::timestamptz");
                problems.push(Problem {
                    cond: format!("{e} IS NULL"),
                    code: "missing_value",
                    message: literal(&format!("{name} is NULL")),
                });
                e
            }
            Kind::OptionalTimestamp => format!("({raw})::timestamptz"),
            Kind::Json => format!("({raw})::jsonb"),
            Kind::Bool(default) => format!("COALESCE(({raw})::boolean, {default})"),
            Kind::Uuid => format!("({raw})::uuid"),
        };
        if let Some(max) = cc.max_len {
            too_long.push(Problem {
                cond: format!("pg_catalog.length({expr}) > {max}"),
                code: "too_long",
                message: literal(&format!("{name} is longer than {max} characters")),
            });
        }
        if name == "slug" {
            problems.push(Problem {
                cond: format!("{expr} !~ '{SLUG_RULE}'"),
                code: "invalid_slug",
                message: format!(
                    "'slug ' || pg_catalog.quote_literal({expr}) || ' does not match CoreForge''s rule (3-63 characters, a-z, 0-9 and -, starting with a letter){}'",
                    if s.normalize_slugs == Some(true) { "" } else { "; \"normalize_slugs\": true may help" }
                ),
            });
        }
        cols.push(Col {
            cf: name,
            expr,
            legacy: s.columns.get(name).cloned(),
            inverse: inverse(r, name),
            also_reads: expression
                .into_iter()
                .flat_map(|x| x.reads.iter().cloned())
                .chain(fallbacks)
                .collect(),
            encoding: (cc.kind == Kind::Password && encoding != PasswordEncoding::Phc).then_some(encoding),
        });
    }
    // Missing values first (they make the others moot), then length, then the rest in order.
    let (mut ordered, rest): (Vec<Problem>, Vec<Problem>) =
        problems.into_iter().partition(|p| p.code == "missing_value");
    ordered.extend(too_long);
    ordered.extend(rest);
    (cols, ordered)
}

/// `CASE raw WHEN 'basic' THEN 'starter' ... ELSE <fallback> END` for a value-mapped column, with
/// an `unmapped_value` problem when the fallback is `reject`. `empty`: the value of NULL or ''.
fn value_mapped(r: &Resolved, name: &str, text: &str, empty: &str, problems: &mut Vec<Problem>) -> String {
    let Some(map) = r.settings.values.get(name) else {
        return if empty == "NULL::text" {
            text.to_string()
        } else {
            format!("COALESCE(NULLIF({text}, ''), {empty})")
        };
    };
    let whens: Vec<String> = map
        .iter()
        .filter(|(from, _)| from.as_str() != "*")
        .map(|(from, to)| format!("WHEN {text} = {} THEN {}", literal(from), literal(to)))
        .collect();
    let fallback = match map.get("*").map(String::as_str) {
        Some("reject") => {
            let keys: Vec<String> = map.keys().filter(|k| k.as_str() != "*").map(|k| literal(k)).collect();
            let known = if keys.is_empty() {
                "false".to_string()
            } else {
                format!("{text} IN ({})", keys.join(", "))
            };
            problems.push(Problem {
                cond: format!("NULLIF({text}, '') IS NOT NULL AND NOT ({known})"),
                code: "unmapped_value",
                message: format!(
                    "{} || pg_catalog.quote_literal({text}) || {}",
                    literal(&format!("{name} ")),
                    literal(&format!(" has no mapping in \"values\".{name}"))
                ),
            });
            "NULL::text".to_string()
        }
        Some(v) => literal(v),
        None => text.to_string(),
    };
    format!("(CASE WHEN NULLIF({text}, '') IS NULL THEN {empty} {} ELSE {fallback} END)", whens.join(" "))
}

/// The value map of `name` read backwards: for each CoreForge value, the first legacy value (in
/// the map's order) that maps to it. A value no entry maps to is written back as it is.
fn inverse(r: &Resolved, name: &str) -> Vec<(String, String)> {
    let mut back: Vec<(String, String)> = Vec::new();
    for (from, to) in r.settings.values.get(name).into_iter().flatten() {
        if from != "*" && !back.iter().any(|(cf, _)| cf == to) {
            back.push((to.clone(), from.clone()));
        }
    }
    back
}

/// The CoreForge column `name` of `entity` a reverse default may copy: its SQL type, a sample value
/// of it (SQL), whether CoreForge keeps it unique, and its longest text.
pub fn copyable(entity: EntityKind, name: &str) -> Option<(&'static str, &'static str, bool, Option<i32>)> {
    const UUID: &str = "'00000000-0000-0000-0000-000000000000'::uuid";
    const NOW: &str = "pg_catalog.now()";
    let unique = match entity {
        EntityKind::Users => ["id", "email", "federation_id"].contains(&name),
        EntityKind::Organizations => ["id", "slug"].contains(&name),
        EntityKind::Memberships => name == "id",
    };
    if name == "id" {
        return Some(("uuid", UUID, true, None));
    }
    if name == "updated_at" {
        return Some(("timestamptz", NOW, false, None));
    }
    let c = cf_columns(entity).iter().find(|c| c.name == name)?;
    let sample = match c.kind {
        Kind::Required | Kind::Optional | Kind::Set(_) | Kind::Password => "'x'::text",
        Kind::Timestamp | Kind::OptionalTimestamp => NOW,
        Kind::Json => "'{}'::jsonb",
        Kind::Bool(_) => "true",
        Kind::Uuid => UUID,
    };
    Some((c.kind.sql_type(), sample, unique, c.max_len))
}

/// The reverse defaults of `r`: (legacy column, SQL over the cf_ row `c`).
fn reverse_defaults(r: &Resolved) -> Vec<(String, String)> {
    r.settings
        .reverse_defaults
        .iter()
        .map(|(legacy, v)| {
            let value = match v {
                serde_json::Value::Object(o) => {
                    format!("c.{}", ident(o.get("from").and_then(|f| f.as_str()).unwrap_or("id")))
                }
                serde_json::Value::String(t) => literal(t),
                other => literal(&other.to_string()),
            };
            (legacy.clone(), value)
        })
        .collect()
}

/// The formats whose hashes are kept under `policy` (the rest become NULL: the user must reset).
pub fn kept_formats(policy: Option<&std::collections::BTreeMap<String, String>>) -> Vec<&'static str> {
    let action =
        |f: &str| policy.and_then(|p| p.get(f).or_else(|| p.get("*"))).map(String::as_str).unwrap_or("reset");
    PASSWORD_FORMATS.iter().copied().filter(|f| *f != "empty" && action(f) == "keep").collect()
}

/// The hash CoreForge reads from the legacy text `t` of a password column written in `encoding`:
/// Django's wrappers taken off its PHC strings, its `!` marker read as no password. (Idempotent:
/// a decoded hash decodes to itself.)
pub fn decoded_password(encoding: PasswordEncoding, t: &str) -> String {
    match encoding {
        PasswordEncoding::Phc => t.to_string(),
        PasswordEncoding::Django => format!(
            "(CASE WHEN {t} ^@ '!' THEN NULL WHEN {t} ^@ 'argon2$argon2' THEN pg_catalog.substr({t}, 7) \
             WHEN {t} ^@ 'bcrypt$$2' THEN pg_catalog.substr({t}, 8) ELSE {t} END)"
        ),
    }
}

/// The legacy text of CoreForge's hash `v` in `encoding` (None: as it is), so that
/// [`decoded_password`] of it gives `v` back; NULL becomes the framework's no-password marker.
pub fn encoded_password(encoding: PasswordEncoding, v: &str) -> Option<String> {
    match encoding {
        PasswordEncoding::Phc => None,
        PasswordEncoding::Django => Some(format!(
            "(CASE WHEN NULLIF({v}, '') IS NULL THEN '!' WHEN {v} ^@ '$argon2' THEN 'argon2' || {v} \
             WHEN {v} ^@ '$2' THEN 'bcrypt$' || {v} ELSE {v} END)"
        )),
    }
}

fn password_expr(policy: Option<&std::collections::BTreeMap<String, String>>, text: &str) -> String {
    let kept = kept_formats(policy);
    let list = kept.iter().map(|f| literal(f)).collect::<Vec<_>>().join(", ");
    if kept.is_empty() {
        "NULL::text".into()
    } else {
        format!("CASE WHEN coreforge_sync.password_format({text}) IN ({list}) THEN {text} END")
    }
}

/// Users or organizations.
pub fn build_single(r: &Resolved, cf_schema: &str) -> Result<Entity> {
    let kind = r.entity;
    let (alias, cf_name, unique) = if kind == EntityKind::Users {
        ("u", "cf_users", "email")
    } else {
        ("t", "cf_organizations", "slug")
    };
    let primary = source(r, alias);
    let (columns, problems) = columns(r, alias);
    let id = primary_id(r)?;
    let key = KeyCol { legacy: id, cf: "id", proj: primary.cf_id(), map: primary.map.clone() };
    let label = columns.iter().find(|c| c.cf == unique).map(|c| c.expr.clone()).unwrap_or("NULL".into());
    // The values CoreForge keeps unique; federation_id only when mapped (the unique checks read it
    // from the projection).
    let unique: Vec<&'static str> = std::iter::once(unique)
        .chain(columns.iter().any(|c| c.cf == "federation_id").then_some("federation_id"))
        .collect();
    let secret =
        if kind == EntityKind::Users { r.settings.columns.get("password_hash").cloned() } else { None };
    Ok(Entity {
        kind,
        cf_schema: cf_schema.to_string(),
        cf_name,
        primary,
        parents: vec![],
        columns,
        insert_only: vec![],
        problems,
        reverse_defaults: reverse_defaults(r),
        write_back: r.write_back.clone(),
        unique,
        secret,
        label,
        keyset: vec![(key.legacy.clone(), r.id.as_ref().map(|i| i.2).unwrap_or(SqlType::UUID))],
        key: vec![key],
    })
}

/// The id column of users or organizations (resolve() refuses their settings without one).
fn primary_id(r: &Resolved) -> Result<String> {
    r.id.as_ref()
        .map(|i| i.0.clone())
        .ok_or_else(|| Error::invalid(format!("coreforge_sync: {} need an id column", r.entity)))
}

pub fn build_memberships(ru: &Resolved, ro: &Resolved, rm: &Resolved, cf_schema: &str) -> Result<Entity> {
    let primary = source(rm, "m");
    let parent =
        |entity: EntityKind, r: &Resolved, alias: &'static str, fk: &str, fk_cf, cf_table, enforced| {
            let source = source(r, alias);
            // A kept id is the reference itself; a mapped one is read from the mapping.
            let cf_id = match &source.map {
                Some(_) => source.cf_id(),
                None => format!("m.{}", ident(fk)),
            };
            Parent { entity, source, fk_legacy: fk.to_string(), fk_cf, cf_table, cf_id, enforced }
        };
    let missing = |key: &str| Error::invalid(format!("coreforge_sync: memberships need \"{key}\""));
    let user_ref = rm.settings.user_ref.as_deref().ok_or_else(|| missing("user_ref"))?;
    let org_ref = rm.settings.organization_ref.as_deref().ok_or_else(|| missing("organization_ref"))?;
    let pu = parent(EntityKind::Users, ru, "u", user_ref, "user_id", "cf_users", rm.enforced_refs[0]);
    let po = parent(
        EntityKind::Organizations,
        ro,
        "t",
        org_ref,
        "organization_id",
        "cf_organizations",
        rm.enforced_refs[1],
    );
    let (columns, problems) = columns(rm, "m");
    let label =
        format!("{} || ' in ' || {}", build_single(ru, cf_schema)?.label, build_single(ro, cf_schema)?.label);
    let id = format!(
        "coreforge_sync.uuid_v5('{MEMBERSHIP_NAMESPACE}'::uuid, {}::text || ':' || {}::text)",
        pu.cf_id, po.cf_id
    );
    let key = [&pu, &po]
        .iter()
        .map(|p| KeyCol {
            legacy: p.fk_legacy.clone(),
            cf: p.fk_cf,
            proj: p.cf_id.clone(),
            map: p.source.map.clone(),
        })
        .collect();
    let refs = [(user_ref.to_string(), pu.source.id_type), (org_ref.to_string(), po.source.id_type)];
    let order: Vec<String> = if rm.key_order.is_empty() {
        refs.iter().map(|(c, _)| c.clone()).collect()
    } else {
        rm.key_order.clone()
    };
    let keyset = order.iter().filter_map(|c| refs.iter().find(|(r, _)| r == c).cloned()).collect();
    Ok(Entity {
        kind: EntityKind::Memberships,
        cf_schema: cf_schema.to_string(),
        cf_name: "cf_memberships",
        primary,
        key,
        parents: vec![pu, po],
        columns,
        insert_only: vec![Col {
            cf: "id",
            expr: id,
            legacy: None,
            inverse: vec![],
            also_reads: vec![],
            encoding: None,
        }],
        problems,
        reverse_defaults: reverse_defaults(rm),
        write_back: rm.write_back.clone(),
        unique: vec![],
        secret: None,
        label,
        keyset,
    })
}
