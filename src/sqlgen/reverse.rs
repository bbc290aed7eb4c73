//! The reverse sync's statements: CoreForge back into the legacy tables, from cutover on (run by
//! `actors/reverse.rs` and the reverse trigger).
//!
//! The statements here are the mirror statement of `mirror.rs` read backwards. A cf_ row becomes
//! the legacy row whose projection equals it:
//! - its legacy key: the same uuid for kept ids, the id mapping's `old_id` for mapped ones (a row
//!   born in CoreForge first gets a new legacy id from the legacy id column's default or identity,
//!   or its own id as text, and its mapping); a membership's key is its (user, organization) pair;
//! - each mapped column written back through the value map read backwards, and only when the
//!   legacy value does not already project to the CoreForge value (so `''` stays `''` where
//!   CoreForge holds NULL, `basic` stays `basic` where CoreForge holds `starter`, an old md5 hash
//!   stays where CoreForge holds none): a legacy row is written only when it says something else;
//! - a removed cf_ row soft-deletes its legacy row where the legacy table has a soft-delete rule,
//!   and deletes it otherwise.
//!
//! The triggers run [`statement`] over a statement's transition tables; the reverse backfill
//! (`cf_sync_legacy()`) runs the same pieces over whole tables.

use super::mirror::{NEW_TABLE, OLD_TABLE};
use crate::mapping::{copyable, encoded_password, Col, Entity, ParentCheck, SoftDelete, WriteBack};
use crate::quote::{ident, literal};
use crate::settings::{cf_column, Kind};

/// A write of a table the extension does not own, in three steps, so that only the middle one,
/// which writes the table, runs with the owner's rights, and it reads nothing but that table and
/// its argument. Each returns the row `(inserted, updated, deleted, payload)`, and each step's
/// payload, when not NULL, is the next one's `$1`:
/// 1. `read`, as the extension: the rows to write (jsonb), or NULL for none;
/// 2. `write`, as the owner: what the extension records;
/// 3. `after`, as the extension: its bookkeeping.
pub struct Write {
    pub read: String,
    pub write: String,
    pub after: Option<String>,
}

impl Write {
    /// A write with nothing to write: its read step hands over no rows.
    pub fn none() -> Write {
        Write { read: as_json("SELECT 1 WHERE false"), write: String::new(), after: None }
    }
}

/// A legacy column the reverse sync writes: where its value comes from, its type (without a
/// length: the assignment checks the length, an explicit cast would cut the value), and whether
/// it is NOT NULL.
pub struct Written<'a> {
    pub from: From<'a>,
    pub legacy: &'a str,
    pub ty: String,
    pub not_null: bool,
}

/// Where a written legacy column's value comes from.
pub enum From<'a> {
    /// The cf_ column mapped to it, through the value map read backwards.
    Column(&'a Col),
    /// A write-back rule: an expression over the cf_ row, already of the column's type.
    Rule(&'a WriteBack),
}

impl<'a> Written<'a> {
    /// The cf_ columns its value is read from.
    pub fn reads(&self) -> Vec<&'a str> {
        match self.from {
            From::Column(c) => vec![c.cf],
            From::Rule(r) => r.expr.reads.iter().map(String::as_str).collect(),
        }
    }

    /// Its CoreForge value over the cf_ row `alias` (before the value map).
    pub fn source(&self, alias: &str) -> String {
        match &self.from {
            From::Column(c) => format!("{alias}.{}", ident(c.cf)),
            From::Rule(r) => r.expr.over(alias),
        }
    }

    /// What CoreForge holds of it, over the cf_ row `alias` (a column's name, a rule's expression).
    pub fn shown(&self) -> &'a str {
        match self.from {
            From::Column(c) => c.cf,
            From::Rule(r) => r.legacy.as_str(),
        }
    }

    /// The two sides of "the legacy row already says this": the legacy row `a`'s projection of
    /// the column and the CoreForge value `v` the read step handed over (a rule: the legacy value
    /// itself and the rule's).
    fn in_step(&self, a: &str, v: &str) -> (String, String) {
        match &self.from {
            From::Column(c) => (c.expr.clone(), v.to_string()),
            From::Rule(_) => (format!("{a}.{}", ident(self.legacy)), format!("({v})::{}", self.ty)),
        }
    }
}

pub fn written(e: &Entity) -> Vec<Written<'_>> {
    let types = &e.primary.columns;
    let soft = e.primary.soft_delete_column();
    let mut out: Vec<Written> = Vec::new();
    let sources = e
        .columns
        .iter()
        .filter_map(|c| Some((c.legacy.as_deref()?, From::Column(c))))
        .chain(e.write_back.iter().map(|r| (r.legacy.as_str(), From::Rule(r))));
    for (legacy, from) in sources {
        if e.key.iter().any(|k| k.legacy == legacy)
            || soft == Some(legacy)
            || out.iter().any(|w| w.legacy == legacy)
        {
            continue;
        }
        let (ty, not_null) = types
            .iter()
            .find(|c| c.name == legacy)
            .map(|c| (c.type_base.clone(), c.not_null))
            .unwrap_or_else(|| ("text".into(), false));
        out.push(Written { from, legacy, ty, not_null });
    }
    out
}

/// The kind of `w`'s CoreForge column (None for a write-back rule).
pub fn kind(e: &Entity, w: &Written) -> Option<Kind> {
    match &w.from {
        From::Column(c) => cf_column(e.kind, c.cf).map(|c| c.kind),
        From::Rule(_) => None,
    }
}

/// Whether CoreForge's NULL of `w` goes into a NOT NULL legacy column as '' (optional text and
/// password hashes: their projection reads '' as NULL, so the round trip holds).
fn empty_for_null(e: &Entity, w: &Written) -> bool {
    w.not_null && matches!(kind(e, w), Some(Kind::Optional | Kind::Password))
}

/// The legacy value of the CoreForge value `v` of `w`'s column.
pub fn back(w: &Written, v: &str) -> String {
    let col = match &w.from {
        From::Column(c) => c,
        From::Rule(_) => return format!("({v})::{}", w.ty),
    };
    if let Some(encoded) = col.encoding.and_then(|e| encoded_password(e, v)) {
        return format!("({encoded})::{}", w.ty);
    }
    if col.inverse.is_empty() {
        return format!("({v})::{}", w.ty);
    }
    let whens: String = col
        .inverse
        .iter()
        .map(|(cf, legacy)| format!(" WHEN {} THEN {}", literal(cf), literal(legacy)))
        .collect();
    format!("(CASE ({v})::text{whens} ELSE ({v})::text END)::{}", w.ty)
}

/// [`back`], with '' for NULL where the legacy column is NOT NULL and the projection reads '' as NULL.
fn written_back(e: &Entity, w: &Written, v: &str) -> String {
    if empty_for_null(e, w) {
        format!("COALESCE({}, '')", back(w, v))
    } else {
        back(w, v)
    }
}

/// The legacy key columns of the cf_ row `alias`, named `k1`, `k2`.
fn legacy_keys_of(e: &Entity, alias: &str) -> String {
    e.key
        .iter()
        .enumerate()
        .map(|(i, k)| format!("{} AS k{}", k.legacy_of(&format!("{alias}.{}", ident(k.cf))), i + 1))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `a."id" = g.k1` (and `a."tenant_id" = g.k2`).
fn legacy_key_match(e: &Entity, a: &str, g: &str) -> String {
    e.key
        .iter()
        .enumerate()
        .map(|(i, k)| format!("{a}.{} = {g}.k{}", ident(&k.legacy), i + 1))
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// The expression of a new legacy id for a row born in CoreForge (mapped ids only): the id
/// column's default or identity, else the CoreForge id itself where the column takes text.
/// None when there is no way (`cf_cutover` refuses then).
pub fn new_legacy_id(e: &Entity, cf_id: &str) -> Option<String> {
    let p = &e.primary;
    p.id.as_ref()?;
    p.id_default.clone().or_else(|| {
        ["text", "character varying", "uuid"]
            .contains(&p.id_type.as_str())
            .then(|| format!("({cf_id})::text::{}", p.id_type))
    })
}

/// The SQL types of the legacy key columns, in key order (the rows a read step hands over).
fn key_types(e: &Entity) -> Vec<String> {
    let types = &e.primary.columns;
    e.key
        .iter()
        .map(|k| {
            types
                .iter()
                .find(|c| c.name == k.legacy)
                .map(|c| c.type_base.clone())
                .unwrap_or_else(|| "text".into())
        })
        .collect()
}

/// `k1 <type>, k2 <type>`: the keys in a `jsonb_to_recordset` column list.
fn key_defs(e: &Entity) -> Vec<String> {
    key_types(e).iter().enumerate().map(|(i, t)| format!("k{} {t}", i + 1)).collect()
}

/// A read step over `rows`: the row `(0, 0, 0, <the rows as one jsonb text>)`.
fn as_json(rows: &str) -> String {
    format!("SELECT 0::bigint, 0::bigint, 0::bigint, pg_catalog.jsonb_agg(pg_catalog.to_jsonb(d))::text FROM ({rows}) d")
}

/// The legacy ids for the cf_ rows of `rel` that have none (users and organizations with mapped
/// ids): the ids are drawn from the legacy id column's default (code of the table's owner, so with
/// the owner's rights), and recorded in the mapping by the extension. A new id already taken, by a
/// legacy row or a mapping, is an error (e.g. a sequence behind the table's ids): writing back
/// into someone else's row is not an option.
pub fn assign_write(e: &Entity, rel: &str) -> Option<Write> {
    let p = &e.primary;
    let (Some(map), Some(id)) = (&p.map, &p.id) else { return None };
    let fresh = new_legacy_id(e, "x")?;
    Some(Write {
        read: format!(
            "SELECT 0::bigint, 0::bigint, 0::bigint, pg_catalog.array_agg(c.id)::text FROM {rel} c \
             WHERE NOT EXISTS (SELECT 1 FROM {map} mp WHERE mp.new_id = c.id)"
        ),
        write: format!(
            "SELECT 0::bigint, 0::bigint, 0::bigint, \
             pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('old_id', {fresh}, 'new_id', x))::text \
             FROM pg_catalog.unnest($1::uuid[]) x"
        ),
        after: Some(format!(
            "WITH a AS (INSERT INTO {map} (old_id, new_id) SELECT n.old_id, n.new_id \
             FROM pg_catalog.jsonb_to_recordset($1::jsonb) AS n(old_id {ty}, new_id uuid) \
             WHERE CASE WHEN EXISTS (SELECT 1 FROM {table} l WHERE l.{id} = n.old_id) \
                          OR EXISTS (SELECT 1 FROM {map} mp WHERE mp.old_id = n.old_id) \
                   THEN coreforge_sync.legacy_id_taken({shown}, n.old_id::text) ELSE true END RETURNING 1) \
             SELECT (SELECT pg_catalog.count(*) FROM a), 0::bigint, 0::bigint, NULL::text",
            ty = p.id_type,
            table = p.table(),
            id = ident(id),
            shown = literal(&format!("{}.{}", p.display(), id)),
        )),
    })
}

/// The cf_ rows of `rel` written into the legacy table. The read step decides, per row, whether
/// it is new (`ins`), and for each mapped column whether it is written (`w1`...; only when the
/// legacy value does not already project to the CoreForge value) and its legacy value (`n1`...);
/// it hands over only the rows that say something else. The write step updates (a column not
/// written keeps the row's newest value) or inserts them; the rejects of the legacy rows written
/// are then dropped.
pub fn upsert_write(e: &Entity, rel: &str) -> Write {
    let a = e.primary.alias;
    let table = e.primary.table();
    let key0 = ident(&e.key[0].legacy);
    let cols = written(e);
    let values: Vec<String> = cols
        .iter()
        .enumerate()
        .map(|(i, w)| format!(", {} AS v{}", w.source("c"), i + 1))
        .chain(e.reverse_defaults.iter().enumerate().map(|(i, (_, v))| format!(", {v} AS d{}", i + 1)))
        .collect();
    // The legacy columns CoreForge does not know, for the rows born in CoreForge.
    let defaults: Vec<String> = (1..=e.reverse_defaults.len()).map(|n| format!(", s.d{n}")).collect();
    let keys: Vec<String> = (1..=e.key.len()).map(|n| format!("s.k{n}")).collect();
    let decided: Vec<String> = cols
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let (now, then) = w.in_step(a, &format!("s.v{}", i + 1));
            format!(
                ", ({a}.{key0} IS NULL OR {now} IS DISTINCT FROM {then}) AS w{n}, {back} AS n{n}",
                n = i + 1,
                back = written_back(e, w, &format!("s.v{}", i + 1)),
            )
        })
        .collect();
    let (fwd_row, cf_row): (Vec<String>, Vec<String>) =
        cols.iter().enumerate().map(|(i, w)| w.in_step(a, &format!("s.v{}", i + 1))).unzip();
    let differs = if cols.is_empty() {
        "false".to_string()
    } else {
        format!("ROW({}) IS DISTINCT FROM ROW({})", fwd_row.join(", "), cf_row.join(", "))
    };
    let read = as_json(&format!(
        "SELECT {keys}, {a}.{key0} IS NULL AS ins{decided}{defaults} \
         FROM (SELECT {legacy_keys}{values} FROM {rel} c) s LEFT JOIN {table} {a} ON {matched} \
         WHERE {a}.{key0} IS NULL OR NOT ({live}) OR {differs}",
        keys = keys.join(", "),
        decided = decided.concat(),
        defaults = defaults.concat(),
        legacy_keys = legacy_keys_of(e, "c"),
        values = values.concat(),
        matched = legacy_key_match(e, a, "s"),
        live = e.primary.live(a),
    ));
    let defs: Vec<String> = key_defs(e)
        .into_iter()
        .chain(std::iter::once("ins boolean".to_string()))
        .chain(cols.iter().enumerate().map(|(i, w)| format!("w{n} boolean, n{n} {}", w.ty, n = i + 1)))
        .chain(e.reverse_defaults.iter().enumerate().map(|(i, (legacy, _))| {
            let ty =
                e.primary.columns.iter().find(|c| &c.name == legacy).map_or("text", |c| c.type_base.as_str());
            format!("d{} {ty}", i + 1)
        }))
        .collect();
    let mut sets: Vec<String> = cols
        .iter()
        .enumerate()
        .map(|(i, w)| {
            format!("{lc} = CASE WHEN s.w{n} THEN s.n{n} ELSE {a}.{lc} END", lc = ident(w.legacy), n = i + 1)
        })
        .collect();
    sets.extend(made_live(e));
    // Nothing to set (no mapped column, no soft delete): the key itself.
    if sets.is_empty() {
        sets.push(format!("{key0} = {a}.{key0}"));
    }
    let (insert_names, insert_values) = new_legacy_row(
        e,
        &cols,
        keys,
        (1..=cols.len()).map(|n| format!("s.n{n}")).collect(),
        (1..=e.reverse_defaults.len()).map(|n| format!("s.d{n}")).collect(),
    );
    let key_text = e.legacy_key_text(a);
    let write = format!(
        "WITH s AS MATERIALIZED (SELECT * FROM pg_catalog.jsonb_to_recordset($1::jsonb) AS s({defs})), \
         rv_up AS (UPDATE {table} {a} SET {sets} FROM s WHERE NOT s.ins AND {matched} RETURNING {key_text} AS legacy_id), \
         rv_ins AS (INSERT INTO {table} AS {a} ({names}) OVERRIDING SYSTEM VALUE SELECT {vals} FROM s \
           WHERE s.ins AND NOT EXISTS (SELECT 1 FROM {table} x WHERE {matched_x}) RETURNING {key_text} AS legacy_id) \
         SELECT (SELECT pg_catalog.count(*) FROM rv_ins), (SELECT pg_catalog.count(*) FROM rv_up), 0::bigint, \
           (SELECT pg_catalog.array_agg(w.legacy_id) FROM (SELECT legacy_id FROM rv_up UNION ALL SELECT legacy_id FROM rv_ins) w)::text",
        defs = defs.join(", "),
        sets = sets.join(", "),
        matched = legacy_key_match(e, a, "s"),
        names = insert_names.join(", "),
        vals = insert_values.join(", "),
        matched_x = legacy_key_match(e, "x", "s"),
    );
    Write { read, write, after: Some(clear_rejects(e)) }
}

/// The rejects of the legacy rows written dropped: `$1` is their keys as the rejects name them (a
/// `text[]` as text). An after step: the row `(0, 0, deleted, NULL)`.
pub fn clear_rejects(e: &Entity) -> String {
    format!(
        "WITH d AS (DELETE FROM coreforge_sync.rejects r WHERE r.entity = {} AND r.legacy_id = ANY ($1::text[]) \
         RETURNING 1) SELECT 0::bigint, 0::bigint, (SELECT pg_catalog.count(*) FROM d), NULL::text",
        literal(e.name())
    )
}

/// The fast path of a CoreForge `UPDATE` of several rows that keeps every key (no id mapping): one
/// `UPDATE` of their legacy rows, joined by key to the statement's old and new rows, setting in each
/// row the [`written`] columns whose CoreForge value the statement changed, as
/// [`fast_write_back_one`] does for one row, and making it live; a row where none changed is not
/// written. It returns the row `(written rows, their keys as the rejects name them, a text[] as
/// text)`. It runs as the legacy table's owner, and reads that table and the statement's rows.
/// None when a key is mapped, or nothing is written back.
pub fn fast_write_back(e: &Entity) -> Option<String> {
    let cols = written(e);
    if e.key.iter().any(|k| k.map.is_some()) || cols.is_empty() {
        return None;
    }
    let a = e.primary.alias;
    let changed = |w: &Written| {
        let reads: Vec<String> =
            w.reads().iter().map(|c| format!("n.{0} IS DISTINCT FROM o.{0}", ident(c))).collect();
        if reads.len() == 1 {
            reads.concat()
        } else {
            format!("({})", reads.join(" OR "))
        }
    };
    let mut sets: Vec<String> = cols
        .iter()
        .map(|w| {
            format!(
                "{lc} = CASE WHEN {changed} THEN {back} ELSE {a}.{lc} END",
                lc = ident(w.legacy),
                changed = changed(w),
                back = written_back(e, w, &w.source("n")),
            )
        })
        .collect();
    sets.extend(made_live(e));
    let same: Vec<String> = e.key.iter().map(|k| format!("o.{0} = n.{0}", ident(k.cf))).collect();
    let matched: Vec<String> =
        e.key.iter().map(|k| format!("{a}.{} = n.{}", ident(&k.legacy), ident(k.cf))).collect();
    let any_changed: Vec<String> = cols.iter().map(changed).collect();
    Some(format!(
        "WITH w AS (UPDATE {table} {a} SET {sets} FROM {NEW_TABLE} n JOIN {OLD_TABLE} o ON {same} \
           WHERE {matched} AND ({any_changed}) RETURNING {key_text} AS legacy_id) \
         SELECT pg_catalog.count(*), pg_catalog.array_agg(w.legacy_id)::text FROM w",
        table = e.primary.table(),
        sets = sets.join(", "),
        same = same.join(" AND "),
        matched = matched.join(" AND "),
        any_changed = any_changed.join(" OR "),
        key_text = e.legacy_key_text(a),
    ))
}

/// The columns of a legacy row born in CoreForge, and their values: its key (`keys`, in key order),
/// the [`written`] columns (`values`, in that order), live (a boolean soft delete is written false,
/// a timestamp one is left NULL), and the reverse defaults (`defaults`, in order).
fn new_legacy_row(
    e: &Entity,
    cols: &[Written],
    keys: Vec<String>,
    values: Vec<String>,
    defaults: Vec<String>,
) -> (Vec<String>, Vec<String>) {
    let live_flag = match &e.primary.soft_delete {
        Some(SoftDelete::Boolean(c)) => Some(c),
        _ => None,
    };
    let names = e
        .key
        .iter()
        .map(|k| ident(&k.legacy))
        .chain(cols.iter().map(|w| ident(w.legacy)))
        .chain(live_flag.map(|c| ident(c)))
        .chain(e.reverse_defaults.iter().map(|(legacy, _)| ident(legacy)))
        .collect();
    let values = keys
        .into_iter()
        .chain(values)
        .chain(live_flag.map(|_| "false".to_string()))
        .chain(defaults)
        .collect();
    (names, values)
}

/// The `SET` of a legacy row written back: it is live (a soft-deleted one comes back).
fn made_live(e: &Entity) -> Option<String> {
    let a = e.primary.alias;
    match &e.primary.soft_delete {
        Some(SoftDelete::Timestamp(c)) => Some(format!("{} = NULL", ident(c))),
        Some(SoftDelete::Boolean(c)) => {
            Some(format!("{0} = CASE WHEN {a}.{0} THEN false ELSE {a}.{0} END", ident(c)))
        }
        None => None,
    }
}

/// The soft delete (or, without a soft-delete rule, the delete) of the live legacy rows that match
/// `matched`, joined to `from` (an `UPDATE`'s `FROM`) or `using` (a `DELETE`'s `USING`), returning 1
/// per row.
fn removal(e: &Entity, from: &str, using: &str, matched: &str) -> String {
    let a = e.primary.alias;
    let table = e.primary.table();
    match &e.primary.soft_delete {
        Some(sd) => {
            let set = match sd {
                SoftDelete::Timestamp(c) => format!("{} = pg_catalog.now()", ident(c)),
                SoftDelete::Boolean(c) => format!("{} = true", ident(c)),
            };
            format!(
                "UPDATE {table} {a} SET {set}{from} WHERE {matched} AND {} RETURNING 1",
                e.primary.live(a)
            )
        }
        None => format!("DELETE FROM {table} {a}{using} WHERE {matched} RETURNING 1"),
    }
}

/// The one-row fast path of a CoreForge `INSERT` (a key CoreForge and the legacy table share: no id
/// mapping): one `INSERT` of the legacy row [`upsert_write`] would insert for a new key, as the
/// legacy table's owner, when the table has no row of that key. Its parameters, as text, are the
/// values of the cf_ columns it returns, in order (the key, the written columns, the columns the
/// reverse defaults copy); the statement reads them as the cf_ row `c`, so that the value maps
/// read backwards and the reverse defaults are the same expressions as the full path's. It returns
/// the new row's key as the rejects name it, and no row when the key is taken (a soft-deleted row
/// comes back through the full path, with its memberships). None when a key is mapped.
pub fn fast_insert_back_one(e: &Entity) -> Option<(String, Vec<&str>)> {
    if e.key.iter().any(|k| k.map.is_some()) {
        return None;
    }
    let a = e.primary.alias;
    let cols = written(e);
    // The cf_ row `c`: its keys (uuids), written columns and the columns reverse defaults copy.
    let mut row: Vec<(&str, &str)> = e.key.iter().map(|k| (k.cf, "uuid")).collect();
    for w in &cols {
        row.push((w.shown(), kind(e, w)?.sql_type()));
    }
    for (_, v) in &e.reverse_defaults {
        let Some(from) = v.strip_prefix("c.") else { continue };
        let name = from.trim_matches('"');
        if !row.iter().any(|(c, _)| *c == name) {
            row.push((name, copyable(e.kind, name)?.0));
        }
    }
    let c_row: Vec<String> =
        row.iter().enumerate().map(|(i, (c, ty))| format!("(${})::{ty} AS {}", i + 1, ident(c))).collect();
    let (names, values) = new_legacy_row(
        e,
        &cols,
        e.key.iter().map(|k| format!("c.{}", ident(k.cf))).collect(),
        cols.iter().map(|w| written_back(e, w, &w.source("c"))).collect(),
        e.reverse_defaults.iter().map(|(_, v)| v.clone()).collect(),
    );
    let taken: Vec<String> =
        e.key.iter().map(|k| format!("x.{} = c.{}", ident(&k.legacy), ident(k.cf))).collect();
    let sql = format!(
        "INSERT INTO {table} AS {a} ({names}) OVERRIDING SYSTEM VALUE SELECT {values} FROM (SELECT {c_row}) c \
         WHERE NOT EXISTS (SELECT 1 FROM {table} x WHERE {taken}) RETURNING {key_text}",
        table = e.primary.table(),
        names = names.join(", "),
        values = values.join(", "),
        c_row = c_row.join(", "),
        taken = taken.join(" AND "),
        key_text = e.legacy_key_text(a),
    );
    Some((sql, row.into_iter().map(|(c, _)| c).collect()))
}

/// The one-row fast path of a CoreForge `DELETE` (a key CoreForge and the legacy table share: no
/// id mapping): the legacy row of the key (`$1`, `$2`, as text) soft-deleted, or deleted where the
/// table has no soft-delete rule, as [`statement`]'s removal does; one statement, as the legacy
/// table's owner, complete whatever it finds. None when a key is mapped.
pub fn fast_remove_back_one(e: &Entity) -> Option<String> {
    if e.key.iter().any(|k| k.map.is_some()) {
        return None;
    }
    Some(removal(e, "", "", &e.legacy_key_params(e.primary.alias)))
}

/// The one-row fast path of a CoreForge `UPDATE` that keeps its key (a key CoreForge and the legacy
/// table share: no id mapping): one `UPDATE` of the legacy row by its key (`$1`, `$2`: the cf_
/// row's key as text), setting the [`written`] columns this `UPDATE` changed (`changed`, in
/// [`written`] order; their CoreForge values as text follow the key, in order) through the value
/// map read backwards, as [`upsert_write`] does, and making the row live. It returns the written
/// row's key as the rejects name it, and no row when there is no legacy row (the full path then
/// decides). It runs as the legacy table's owner, and reads nothing but that table and its
/// parameters.
///
/// Unlike [`upsert_write`], it writes the changed columns without first reading whether the legacy
/// value already projects to the new CoreForge value: a CoreForge value that changed differs from
/// what a legacy row in step with its old value projects to.
/// None when a key is mapped, or nothing it writes changed.
pub fn fast_write_back_one(e: &Entity, changed: &[bool]) -> Option<String> {
    if e.key.iter().any(|k| k.map.is_some()) {
        return None;
    }
    let a = e.primary.alias;
    let mut param = e.key.len();
    let mut sets = Vec::new();
    for (w, _) in written(e).iter().zip(changed).filter(|(_, changed)| **changed) {
        param += 1;
        let value = format!("(${param})::{}", kind(e, w)?.sql_type());
        sets.push(format!("{} = {}", ident(w.legacy), written_back(e, w, &value)));
    }
    if sets.is_empty() {
        return None;
    }
    sets.extend(made_live(e));
    Some(format!(
        "UPDATE {table} {a} SET {sets} WHERE {by_key} RETURNING {key_text}",
        table = e.primary.table(),
        sets = sets.join(", "),
        by_key = e.legacy_key_params(a),
        key_text = e.legacy_key_text(a),
    ))
}

/// After a [`fast_write_back_one`] or [`fast_insert_back_one`] that wrote a row: its rejects dropped
/// (`$1`, the key it returned).
pub fn fast_clear_rejects_one(e: &Entity) -> String {
    format!(
        "DELETE FROM coreforge_sync.rejects r WHERE r.entity = {} AND r.legacy_id = $1",
        literal(e.name())
    )
}

/// The legacy rows whose keys `gone` returns (as `k1`, `k2`) soft-deleted, or deleted where the
/// legacy table has no soft-delete rule.
fn removal_write(e: &Entity, gone: &str) -> Write {
    let del = removal(e, " FROM g", " USING g", &legacy_key_match(e, e.primary.alias, "g"));
    Write {
        read: as_json(gone),
        write: format!(
            "WITH g AS MATERIALIZED (SELECT * FROM pg_catalog.jsonb_to_recordset($1::jsonb) AS g({defs})), \
             rv_del AS ({del}) SELECT 0::bigint, 0::bigint, (SELECT pg_catalog.count(*) FROM rv_del), NULL::text",
            defs = key_defs(e).join(", "),
        ),
        after: None,
    }
}

/// The reverse mirror of one statement on a cf_ table, over its transition tables: the new rows
/// written back, then the keys the statement removed (old keys no new row has) removed.
pub fn statement(e: &Entity, old: bool, new: bool) -> Vec<Write> {
    let mut out = Vec::new();
    if new {
        out.push(upsert_write(e, NEW_TABLE));
    }
    if old {
        let same_key: Vec<String> = e.key.iter().map(|k| format!("n.{0} = o.{0}", ident(k.cf))).collect();
        let not_kept = if new {
            format!(" WHERE NOT EXISTS (SELECT 1 FROM {NEW_TABLE} n WHERE {})", same_key.join(" AND "))
        } else {
            String::new()
        };
        out.push(removal_write(
            e,
            &format!("SELECT {} FROM {OLD_TABLE} o{not_kept}", legacy_keys_of(e, "o")),
        ));
    }
    out
}

/// The write of [`remove_back`] for the legacy rows of `e` that pass `filter` (over its aliases).
pub fn remove_back_write(e: &Entity, filter: &str) -> Write {
    let a = e.primary.alias;
    let keys: Vec<String> =
        e.key.iter().enumerate().map(|(i, k)| format!("{a}.{} AS k{}", ident(&k.legacy), i + 1)).collect();
    let gone = format!(
        "SELECT {keys} FROM {from} WHERE {live} AND {filter} AND {problem} IS NULL \
         AND NOT EXISTS (SELECT 1 FROM coreforge_sync.rejects r WHERE r.entity = {name} AND r.legacy_id = {key_text}) \
         AND NOT EXISTS (SELECT 1 FROM {cf} c WHERE {join})",
        keys = keys.join(", "),
        from = e.from(false),
        live = e.live(),
        problem = e.problem(ParentCheck::Lookup),
        name = literal(e.name()),
        key_text = e.legacy_key_text(a),
        cf = e.cf_table(),
        join = e.key_join("c"),
    );
    removal_write(e, &gone)
}

/// A row inserted in CoreForge whose legacy row was soft-deleted brings that row back to life, and
/// with it the legacy memberships it still had. CoreForge's new row has none of them: they go
/// (`dependent` is the memberships entity, `rel` holds the inserted cf_ rows of `parent`).
pub fn revived_dependents_write(dependent: &Entity, parent: &Entity, rel: &str) -> Option<Write> {
    let p = dependent.parent(parent.kind)?;
    let filter = format!(
        "{}.{} IN (SELECT {} FROM {rel} c)",
        dependent.primary.alias,
        ident(&p.fk_legacy),
        parent.key[0].legacy_of("c.id")
    );
    Some(remove_back_write(dependent, &filter))
}
