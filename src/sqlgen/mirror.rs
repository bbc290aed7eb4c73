//! The mirror statement: one SQL statement that makes the cf_ rows of a scope equal to the
//! projection of their legacy rows. The backfill runs it over every row, the triggers run it
//! over the keys a statement touched. Both go through [`statement`], so they cannot drift apart.
//!
//! Correctness against concurrent writers (see README "How a write is never lost"):
//! - a row is copied only when it differs from its cf_ row, and the legacy rows it is computed
//!   from (the row and, for a membership, its user and tenant) are locked `FOR SHARE` (by the
//!   backfill in the copying statement): a concurrent writer of those rows is ordered before or
//!   after the copy, and the copy reads the newest version, so a stale copy is never written;
//! - a trigger takes those locks in a statement of its own ([`lock_statement`]), live rows or not,
//!   before it decides liveness in a fresh snapshot, so two writers whose changes together decide a
//!   membership (a user's undelete, its tenant's undelete) never both miss it;
//! - the upsert's `ON CONFLICT ... DO UPDATE ... WHERE <differs>` absorbs a row inserted at the same
//!   moment by another session, and leaves `updated_at` alone when nothing changed;
//! - removals of users and organizations remove their memberships in the same statement
//!   (the cf_ foreign keys are NO ACTION), and a user or organization that comes back to life
//!   brings its live memberships back.

use crate::mapping::{problem_code, problem_message, Entity, Parent, ParentCheck};
use crate::quote::{ident, literal};
use crate::settings::EntityKind;

/// Which rows a mirror statement covers.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Scope {
    /// Every legacy row: the backfill's copy pass (inserts and updates only).
    All,
    /// The cf_ rows whose ids are in `$1 uuid[]`: the backfill's removal pass (deletes only).
    CfIds,
    /// The keys one statement touched, read from its transition tables `coreforge_old` /
    /// `coreforge_new`. `remove`: some key may lose its cf_ row (see [`probe`]); `cascade`: the
    /// dependents (memberships) of keys whose presence in CoreForge may change follow; `clear`:
    /// there are rejects, which the statement's rows may clear.
    Statement { old: bool, new: bool, remove: bool, cascade: bool, clear: bool },
    /// The legacy rows rejected because another row held their email or slug: run by a trigger
    /// after a statement that may have let such a value go, so that they follow at once.
    Retry,
    /// One batch of the batched backfill: the legacy rows whose key (in the order of its unique
    /// index, [`Entity::keyset`]) is above `$1 text[]` (when `lower`) and at most `$2 text[]`.
    Range { lower: bool },
}

/// `(m."tenant_id", m."user_id") > ($1[1]::uuid, $1[2]::uuid)`: a keyset bound over `alias`.
fn keyset_bound(e: &Entity, alias: &str, op: &str, param: &str) -> String {
    let cols: Vec<String> = e.keyset.iter().map(|(c, _)| format!("{alias}.{}", ident(c))).collect();
    let vals: Vec<String> =
        e.keyset.iter().enumerate().map(|(i, (_, t))| format!("{param}[{}]::{t}", i + 1)).collect();
    format!("({}) {op} ({})", cols.join(", "), vals.join(", "))
}

/// The dependents of `e` among `deps`, each with its link to `e` (a membership's user or
/// organization).
fn links<'a>(e: &Entity, deps: &[&'a Entity]) -> Vec<(&'a Entity, &'a Parent)> {
    deps.iter().filter_map(|d| d.parent(e.kind).map(|p| (*d, p))).collect()
}

/// The keyset filter of [`Scope::Range`] over `alias`.
pub fn range_filter(e: &Entity, alias: &str, lower: bool) -> String {
    let upper = keyset_bound(e, alias, "<=", "$2");
    if lower {
        format!("{} AND {upper}", keyset_bound(e, alias, ">", "$1"))
    } else {
        upper
    }
}

/// The fast path of an UPDATE that changed no key, no soft-delete column and no unique value
/// (email, slug) in any row, so that no row comes into CoreForge, leaves it, or claims a value:
/// one statement that updates the cf_ rows of the statement's rows, with the projection's own
/// expressions, when every one of them is ready (live, without a problem, in CoreForge and not
/// rejected) or [`settled`] (not live, not in CoreForge, not rejected: nothing to do). Otherwise it
/// writes nothing, and the trigger takes the full path (the probe, the locks, the mirror
/// statement). It returns one row: `(not_ready, updated)`.
///
/// It only ever updates cf_ rows that exist (never inserts), and only for users and organizations,
/// whose cf_ rows no one writes but the holders of their legacy rows (whose own statement orders
/// them) and, from cutover on, the new application: it needs none of the full path's locks.
/// Memberships take it only one row at a time ([`fast_update_one`]): their cf_ rows are written by
/// their parents' writers too, and a membership writer of several rows is ordered against those only
/// through the parents' rows, which the full path locks first (without that order, a role change of
/// a tenant's members and a bulk removal of users deadlock on cf_memberships; `bench/deadlocks.sh`
/// showed it). Running the full path's lock statement and then this one was tried for them: a role
/// change of a tenant's 120 members took 20 ms against the full path's 8 to 9 ms (the projection's
/// joins over the parents, and the settled rows' own).
pub fn fast_update(e: &Entity) -> String {
    let keys = e.legacy_key_names();
    let touched = format!("({}) IN (SELECT {keys} FROM {NEW_TABLE})", e.legacy_key(e.primary.alias));
    let sets: Vec<String> = e
        .columns
        .iter()
        .map(|c| format!("{0} = r.{0}", ident(c.cf)))
        .chain(std::iter::once("updated_at = pg_catalog.now()".to_string()))
        .collect();
    format!(
        "WITH p AS MATERIALIZED ({projection}), \
         ready AS MATERIALIZED (SELECT p.* FROM p JOIN {cf} c ON {pc} WHERE p.problem IS NULL \
           AND NOT EXISTS (SELECT 1 FROM coreforge_sync.rejects x WHERE x.entity = {name} AND x.legacy_id = p.legacy_key)), \
         s AS MATERIALIZED ({settled}), \
         n AS (SELECT (SELECT pg_catalog.count(*) FROM {NEW_TABLE}) - (SELECT pg_catalog.count(*) FROM s) AS rows), \
         up AS (UPDATE {cf} c SET {sets} FROM ready r \
           WHERE (SELECT pg_catalog.count(*) FROM ready) = (SELECT n.rows FROM n) AND {rc} \
             AND {cf_row} IS DISTINCT FROM {ready_row} RETURNING 1) \
         SELECT (SELECT n.rows FROM n) - (SELECT pg_catalog.count(*) FROM ready) AS not_ready, \
                (SELECT pg_catalog.count(*) FROM up) AS updated",
        projection = e.projection(&touched),
        settled = settled(e, &touched),
        cf = e.cf_table(),
        pc = e.cf_key_match("c", "p"),
        rc = e.cf_key_match("c", "r"),
        name = literal(e.name()),
        sets = sets.join(", "),
        cf_row = e.cf_row("c"),
        ready_row = e.cf_row("r"),
    )
}

/// `SELECT 1 FROM <legacy rows> WHERE <filter> AND ...`: the legacy rows of `filter` that the sync
/// has nothing to do for: not live (soft-deleted, or a membership of a soft-deleted user or
/// organization), with no cf_ row and no reject. (Empty for an entity without soft delete.)
fn settled(e: &Entity, filter: &str) -> String {
    format!(
        "SELECT 1 FROM {from} WHERE {filter} AND NOT ({live}) \
         AND NOT EXISTS (SELECT 1 FROM {cf} c WHERE {join}) \
         AND NOT EXISTS (SELECT 1 FROM coreforge_sync.rejects x WHERE x.entity = {name} AND x.legacy_id = {key_text})",
        from = e.from(false),
        live = e.live(),
        cf = e.cf_table(),
        join = e.key_join("c"),
        name = literal(e.name()),
        key_text = e.legacy_key_text(e.primary.alias),
    )
}

/// The fast path of a one-row INSERT of a user or organization whose key is its CoreForge id, or of
/// a membership (after [`fast_lock_one`], in a snapshot of its own): one `INSERT` of the row's
/// projection (the backfill's expressions), the row found by its key (`$1`, ..., parameters of a
/// kept plan). It inserts only a row that is live, has no problem, no reject, and no legacy
/// membership pointing at it, and (a membership) whose parents have been backfilled: such a row
/// brings nothing else into CoreForge and clears nothing. It first locks the row's unique values as
/// the probe does (so a writer of the same value on the full path is ordered against it), and does
/// nothing on any conflict (its key already in CoreForge, a value held, or being written by another
/// transaction, which it waits for). It returns `(done)`: 1 when it inserted the row or the row has
/// nothing to mirror ([`settled`]: born soft-deleted, or a membership of a soft-deleted parent); 0
/// sends the write down the full path, which decides and records.
pub fn fast_insert_one(e: &Entity, deps: &[&Entity]) -> String {
    insert_one(e, deps, false)
}

/// The fast path of a one-row undelete of a user or organization whose key is its CoreForge id,
/// run after [`fast_revive_lock`] (in a snapshot of its own): [`fast_insert_one`]'s `INSERT`, and
/// in the same statement the live memberships that come back with the row (those whose other
/// parent is live), with the backfill's expressions. It writes only when nothing else is to be
/// decided: the row and each membership that comes back are without a problem, neither the row
/// nor any of its legacy memberships has a reject to clear, the memberships' parents have been
/// backfilled, and no row of the entity waits for an email or slug (the full path retries those).
/// The memberships are inserted only with their parent (0 rows: the full path).
pub fn fast_revive_one(e: &Entity, deps: &[&Entity]) -> String {
    insert_one(e, deps, true)
}

/// [`fast_insert_one`], and with `revive` [`fast_revive_one`].
fn insert_one(e: &Entity, deps: &[&Entity], revive: bool) -> String {
    let a = e.primary.alias;
    let from = e.from(false);
    let by_key = e.legacy_key_params(a);
    let key = format!("$1::{}", e.primary.id_type);
    let values = unique_values_by_key(e);
    let mut ok = vec![format!(
        "NOT EXISTS (SELECT 1 FROM coreforge_sync.rejects x WHERE x.entity = {} AND x.legacy_id = {})",
        literal(e.name()),
        e.legacy_key_text(a)
    )];
    let mut ctes = Vec::new();
    let mut brought = Vec::new();
    for (i, (d, parent)) in links(e, deps).into_iter().enumerate() {
        if !revive {
            ok.push(format!("NOT {}", legacy_referenced(d, parent, &key)));
            continue;
        }
        // The memberships that come back: live (their other parent too), each checked as the
        // mirror statement checks it, with this statement's parent counted as present.
        let fresh = format!("SELECT {}", e.key[0].cf_of(&key));
        let mut exprs: Vec<String> = d.key.iter().map(|k| k.proj.clone()).collect();
        exprs.extend(d.columns.iter().chain(&d.insert_only).map(|c| c.expr.clone()));
        let names = written_names(d);
        ctes.push(format!(
            "b{i} AS MATERIALIZED (SELECT {exprs}, {problem} AS problem FROM {from} WHERE {m}.{fk} = {key} AND {live})",
            exprs = exprs.iter().zip(&names).map(|(x, n)| format!("{x} AS {n}")).collect::<Vec<_>>().join(", "),
            problem = d.problem(ParentCheck::LookupOrFresh(&fresh)),
            from = d.from(false),
            m = d.primary.alias,
            fk = ident(&parent.fk_legacy),
            live = d.live(),
        ));
        ok.push(format!("NOT EXISTS (SELECT 1 FROM b{i} WHERE problem IS NOT NULL)"));
        ok.push(format!(
            "NOT EXISTS (SELECT 1 FROM coreforge_sync.rejects x WHERE x.entity = {} AND x.legacy_id IN \
             (SELECT {} FROM {} m WHERE m.{} = {key}))",
            literal(d.name()),
            d.legacy_key_text("m"),
            d.primary.table(),
            ident(&parent.fk_legacy),
        ));
        ok.push(parents_backfilled(d));
        brought.push(format!(
            "b{i}_up AS (INSERT INTO {cf} ({names}, updated_at) SELECT {names}, pg_catalog.now() FROM b{i} \
             WHERE EXISTS (SELECT 1 FROM up) ON CONFLICT DO NOTHING)",
            cf = d.cf_table(),
            names = names.join(", "),
        ));
    }
    if revive && !e.unique.is_empty() {
        ok.push(format!("NOT {}", values_awaited(e)));
    }
    ok.push(parents_backfilled(e));
    // An undelete's row is live: only an insert may have nothing to mirror.
    let done = if revive {
        "0".to_string()
    } else {
        format!("(SELECT pg_catalog.count(*) FROM ({}) s)", settled(e, &by_key))
    };
    let mut exprs: Vec<String> = e.key.iter().map(|k| k.proj.clone()).collect();
    exprs.extend(e.columns.iter().chain(&e.insert_only).map(|c| c.expr.clone()));
    format!(
        "WITH v AS MATERIALIZED (SELECT {locks} AS n), {ctes}\
         up AS (INSERT INTO {cf} ({names}, updated_at) SELECT {exprs}, pg_catalog.now() FROM {from} CROSS JOIN v \
           WHERE {by_key} AND {live} AND {problem} IS NULL AND {ok} \
           ON CONFLICT DO NOTHING RETURNING 1){brought} \
         SELECT CASE WHEN EXISTS (SELECT 1 FROM up) THEN 1 ELSE {done} END",
        locks = value_locks(&values),
        ctes = ctes.iter().map(|c| format!("{c}, ")).collect::<String>(),
        cf = e.cf_table(),
        names = written_names(e).join(", "),
        exprs = exprs.join(", "),
        live = e.live(),
        problem = e.problem(ParentCheck::Lookup),
        ok = ok.join(" AND "),
        brought = brought.iter().map(|c| format!(", {c}")).collect::<String>(),
    )
}

/// The first of the two statements of the fast path of a one-row INSERT of a membership
/// ([`fast_insert_one`]): the membership with its user and organization locked `FOR SHARE`, as
/// the full path's lock statement locks them, so that a parent's soft delete or undelete at the
/// same moment is ordered against it and the insert's fresh snapshot sees the parent's commit
/// (`cascade_race`, `fk_race`). It returns the number of rows locked: 0 (a parent missing on
/// the legacy side) sends the write down the full path.
pub fn fast_lock_one(e: &Entity) -> String {
    format!(
        "SELECT pg_catalog.count(*) FROM (SELECT 1 FROM {} WHERE {} FOR SHARE OF {}) l",
        e.from(false),
        e.legacy_key_params(e.primary.alias),
        e.lock_aliases()
    )
}

/// `SELECT <n> AS n`: a one-row membership write's lock of its user and organization, found by the
/// key (`$1`, `$2`: the parents' legacy ids), each `FOR SHARE SKIP LOCKED` (see [`fast_delete_one`]),
/// for a write that inserts nothing into CoreForge: its outcome does not depend on the lock, which
/// only orders a parent's later writer after it.
fn parent_locks(e: &Entity) -> String {
    let locks: Vec<String> = e
        .parents
        .iter()
        .filter_map(|p| {
            let i = e.key.iter().position(|k| k.legacy == p.fk_legacy)?;
            let src = &p.source;
            Some(format!(
                "(SELECT pg_catalog.count(*) FROM (SELECT 1 FROM {} {a} WHERE {a}.{} = {} FOR SHARE OF {a} SKIP LOCKED) l)",
                src.table(),
                ident(src.id.as_deref().unwrap_or("id")),
                e.key_param(i),
                a = src.alias,
            ))
        })
        .collect();
    format!("SELECT {} AS n", if locks.is_empty() { "0".to_string() } else { locks.join(" + ") })
}

/// The fast path of a one-row DELETE of a membership: its cf_ row deleted by the key (`$1`, `$2`,
/// parameters of a kept plan, mapped as the projection maps them), when no legacy row keeps the key
/// and the key has no reject to clear. It first locks the membership's user and organization `FOR
/// SHARE SKIP LOCKED`: a parent that no one is writing is locked, so that a soft delete of it
/// waits at its own statement instead of for this cf_ row while this transaction goes on to write
/// the parent (`membership_race`: a deadlock without the lock); a parent that another transaction
/// holds is skipped, since waiting for it would close a cycle with that transaction's own delete of
/// the membership (a tenant locked `FOR UPDATE`, then its memberships deleted). The lock orders,
/// it decides nothing: the legacy row is gone, and a parent's writer that removes the same cf_ row
/// waits for it or finds it gone. It returns `(done)`: 1 when the cf_ row was deleted or was not
/// there, 0 (a reject) sends the write down the full path.
pub fn fast_delete_one(e: &Entity) -> String {
    let a = e.primary.alias;
    format!(
        "WITH l AS MATERIALIZED ({locks}), \
         ok AS MATERIALIZED (SELECT 1 FROM l WHERE NOT EXISTS (SELECT 1 FROM {legacy} {a} WHERE {by_key}) \
           AND NOT EXISTS (SELECT 1 FROM coreforge_sync.rejects x WHERE x.entity = {name} AND x.legacy_id = {key_text})), \
         gone AS (DELETE FROM {cf} c WHERE {cf_key} AND EXISTS (SELECT 1 FROM ok)) \
         SELECT pg_catalog.count(*) FROM ok",
        locks = parent_locks(e),
        legacy = e.primary.table(),
        by_key = e.legacy_key_params(a),
        name = literal(e.name()),
        key_text = e.legacy_key_text_of(&(0..e.key.len()).map(|i| e.key_param(i)).collect::<Vec<_>>()),
        cf = e.cf_table(),
        cf_key = e.cf_key_params("c"),
    )
}

/// The first of the two statements of the fast path of a one-row undelete ([`fast_revive_one`]):
/// the locks the full path's lock statement takes for a row that comes into CoreForge, in the same
/// order: the row's unique values (as the probe does), then each of its legacy memberships with
/// its *other* parent `FOR SHARE` (see [`lock_statement`]), by the other parent's id. It returns
/// 1 and the number of rows locked.
pub fn fast_revive_lock(e: &Entity, deps: &[&Entity]) -> String {
    let key = format!("$1::{}", e.primary.id_type);
    let mut locks = vec![format!("SELECT {} AS n", value_locks(&unique_values_by_key(e)))];
    for (d, parent) in links(e, deps) {
        let others: Vec<_> = d.parents.iter().filter(|p| p.entity != e.kind).collect();
        let locked: Vec<&str> =
            std::iter::once(d.primary.alias).chain(others.iter().map(|p| p.source.alias)).collect();
        let order: Vec<String> = others
            .iter()
            .map(|p| format!("{}.{}", p.source.alias, ident(p.source.id.as_deref().unwrap_or("id"))))
            .chain(std::iter::once(d.legacy_key(d.primary.alias)))
            .collect();
        locks.push(format!(
            "SELECT 1 FROM {from} WHERE {m}.{fk} = {key} ORDER BY {order} FOR SHARE OF {locked}",
            from = d.from(false),
            m = d.primary.alias,
            fk = ident(&parent.fk_legacy),
            order = order.join(", "),
            locked = locked.join(", "),
        ));
    }
    let ctes: Vec<String> =
        locks.iter().enumerate().map(|(i, l)| format!("l{i} AS MATERIALIZED ({l})")).collect();
    let counts: Vec<String> =
        (0..locks.len()).map(|i| format!(" + (SELECT pg_catalog.count(*) FROM l{i})")).collect();
    format!("WITH {} SELECT 1{}", ctes.join(", "), counts.concat())
}

/// The first of the two statements of the fast path of a one-row removal ([`fast_remove_one`]):
/// the cf_ row of the legacy key (`$1`, text) locked `FOR UPDATE`. A CoreForge membership being
/// inserted for that row (the new application, from cutover on) holds it `FOR KEY SHARE` until it
/// commits: waiting for it here lets the removal's fresh snapshot see it and remove it with its
/// parent, instead of failing on CoreForge's foreign key (`fk_race_cutover`).
pub fn fast_remove_lock(e: &Entity) -> String {
    format!(
        "SELECT pg_catalog.count(*) FROM (SELECT 1 FROM {cf} c WHERE c.id = {id} FOR UPDATE OF c) l",
        cf = e.cf_table(),
        id = e.key[0].cf_of(&format!("$1::{}", e.primary.id_type)),
    )
}

/// The fast path of a one-row DELETE or soft delete of a user or organization whose key is its
/// CoreForge id, run after [`fast_remove_lock`] (in a snapshot of its own): the cf_ row and its
/// memberships deleted in one statement, as the full path would, when nothing else follows: the
/// legacy row is gone or soft-deleted, it has no reject to clear, neither have its legacy
/// memberships, and no row of its entity waits for an email or slug (the full path retries those).
/// It returns `(deleted)`: 0 sends the write down the full path, which decides (and does nothing
/// when CoreForge never held the row).
pub fn fast_remove_one(e: &Entity, deps: &[&Entity]) -> String {
    let a = e.primary.alias;
    let key = format!("$1::{}", e.primary.id_type);
    let id = e.key[0].cf_of(&key);
    let mut ok = vec![
        format!(
            "NOT EXISTS (SELECT 1 FROM {} {a} WHERE {} AND {})",
            e.primary.table(),
            e.legacy_key_params(a),
            e.primary.live(a)
        ),
        format!(
            "NOT EXISTS (SELECT 1 FROM coreforge_sync.rejects x WHERE x.entity = {} AND x.legacy_id = {})",
            literal(e.name()),
            e.legacy_key_text_of(std::slice::from_ref(&key))
        ),
    ];
    if !e.unique.is_empty() {
        ok.push(format!("NOT {}", values_awaited(e)));
    }
    let mut ctes = Vec::new();
    for (i, (d, parent)) in links(e, deps).into_iter().enumerate() {
        ok.push(format!(
            "NOT EXISTS (SELECT 1 FROM coreforge_sync.rejects x WHERE x.entity = {} AND x.legacy_id IN \
             (SELECT {} FROM {} m WHERE m.{} = {key}))",
            literal(d.name()),
            d.legacy_key_text("m"),
            d.primary.table(),
            ident(&parent.fk_legacy),
        ));
        ctes.push(format!(
            "d{i} AS (DELETE FROM {} m WHERE m.{} = {id} AND EXISTS (SELECT 1 FROM ok))",
            d.cf_table(),
            ident(parent.fk_cf),
        ));
    }
    format!(
        "WITH ok AS MATERIALIZED (SELECT 1 WHERE {ok}), {deps}\
         gone AS (DELETE FROM {cf} c WHERE c.id = {id} AND EXISTS (SELECT 1 FROM ok) RETURNING 1) \
         SELECT pg_catalog.count(*) FROM gone",
        ok = ok.join(" AND "),
        deps = ctes.iter().map(|c| format!("{c}, ")).collect::<String>(),
        cf = e.cf_table(),
    )
}

/// [`fast_update`] for a statement of one row, whose legacy key is `$1`, ... (text, in key order):
/// one `UPDATE` of its cf_ row, read from the legacy table by key, with the projection's
/// expressions, when the row is ready and differs. It returns `(done)`: 1 when it updated the row,
/// 0 when it updated nothing; then [`fast_update_settled_one`] says whether there was nothing to do
/// (two statements in place of one, where the one had to start the executor for both halves on
/// every call: most one-row updates change their row). Memberships take it too (a
/// role change), first locking their user and tenant `FOR SHARE SKIP LOCKED` ([`parent_locks`]):
/// a parent's soft delete, which removes the membership's cf_ row, then waits for this transaction
/// at its own statement, instead of waiting for the cf_ row while this transaction goes on to write
/// the parent (`role_change_race`: a deadlock without the lock); a parent another transaction holds
/// is not waited for (an application's hard delete holds its tenant `FOR UPDATE` while it deletes
/// the memberships, this one's included: waiting would close a cycle). The `UPDATE` inserts nothing,
/// so no decision rests on the lock: a parent that left CoreForge first took the cf_ row with it,
/// and the `UPDATE` finds it gone (0, the full path). A membership with nothing to do writes no cf_
/// row: a parent's writer has nothing of this transaction's to wait for.
pub fn fast_update_one(e: &Entity) -> String {
    let a = e.primary.alias;
    let (lock, locked) = if e.parents.is_empty() {
        (String::new(), String::new())
    } else {
        (format!("l AS MATERIALIZED ({}), ", parent_locks(e)), " AND EXISTS (SELECT 1 FROM l)".to_string())
    };
    let sets: Vec<String> = e
        .columns
        .iter()
        .map(|c| format!("{} = {}", ident(c.cf), c.expr))
        .chain(std::iter::once("updated_at = pg_catalog.now()".to_string()))
        .collect();
    format!(
        "WITH {lock}up AS (UPDATE {cf} c SET {sets} FROM {from} \
           WHERE {by_key}{locked} AND {join} AND {ready} AND {cf_row} IS DISTINCT FROM {legacy_row} RETURNING 1) \
         SELECT pg_catalog.count(*) FROM up",
        cf = e.cf_table(),
        sets = sets.join(", "),
        from = e.from(false),
        by_key = e.legacy_key_params(a),
        join = e.key_join("c"),
        ready = ready_one(e),
        cf_row = e.cf_row("c"),
        legacy_row = e.legacy_row(),
    )
}

/// After a [`fast_update_one`] that updated nothing, in a snapshot of its own: 1 when the row has
/// nothing to do (ready and equal to its cf_ row, or [`settled`]), 0 when it was not ready (the
/// trigger then takes the full path, which decides).
pub fn fast_update_settled_one(e: &Entity) -> String {
    let by_key = e.legacy_key_params(e.primary.alias);
    format!(
        "SELECT pg_catalog.count(*) FROM (SELECT 1 FROM {from} JOIN {cf} c ON {join} WHERE {by_key} AND {ready} \
           AND {cf_row} IS NOT DISTINCT FROM {legacy_row} \
           UNION ALL {settled}) done",
        cf = e.cf_table(),
        from = e.from(false),
        join = e.key_join("c"),
        ready = ready_one(e),
        cf_row = e.cf_row("c"),
        legacy_row = e.legacy_row(),
        settled = settled(e, &by_key),
    )
}

/// The one-row fast update's test that the row is ready: live, without a problem, not rejected.
fn ready_one(e: &Entity) -> String {
    let a = e.primary.alias;
    format!(
        "{live} AND {problem} IS NULL \
         AND NOT EXISTS (SELECT 1 FROM coreforge_sync.rejects x WHERE x.entity = {name} AND x.legacy_id = {key_text})",
        live = e.live(),
        problem = e.problem(ParentCheck::Lookup),
        name = literal(e.name()),
        key_text = e.legacy_key_text(a),
    )
}

/// What happens to a legacy row that cannot be mirrored (`coreforge_sync.on_error`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum OnError {
    /// Record it in coreforge_sync.rejects and go on (the backfill always does).
    Record,
    /// Raise an error: the application's write fails.
    Raise,
}

pub const OLD_TABLE: &str = "coreforge_old";
pub const NEW_TABLE: &str = "coreforge_new";

/// Builds the mirror statement of `e` over `scope`. It returns one row:
/// `(inserted, updated, deleted, rejected)` for the entity itself.
pub fn statement(e: &Entity, deps: &[&Entity], scope: Scope, on_error: OnError) -> String {
    let mut ctes: Vec<String> = Vec::new();
    let mut book = Book::default();
    let alias = e.primary.alias;
    let legacy_keys = e.legacy_key_names();

    let (legacy_filter, cf_filter, clear_filter, copy, remove) = match scope {
        Scope::All => ("true".to_string(), String::new(), Some("true".to_string()), true, false),
        Scope::CfIds => (String::new(), "c.id = ANY($1::uuid[])".to_string(), None, false, true),
        Scope::Retry => {
            let k = &e.key[0];
            let retried = format!("r.entity = {} AND r.reason LIKE 'duplicate\\_%'", literal(e.name()));
            (
                format!(
                    "{alias}.{} IN (SELECT pg_catalog.substr(r.legacy_id, {})::{} FROM coreforge_sync.rejects r WHERE {retried})",
                    ident(&k.legacy),
                    k.legacy.chars().count() + 2,
                    e.primary.id_type,
                ),
                String::new(),
                Some("r.reason LIKE 'duplicate\\_%'".to_string()),
                true,
                false,
            )
        }
        Scope::Range { lower } => (
            range_filter(e, alias, lower),
            String::new(),
            Some(format!(
                "r.legacy_id IN (SELECT {} FROM {} x WHERE {})",
                e.legacy_key_text("x"),
                e.primary.table(),
                range_filter(e, "x", lower)
            )),
            true,
            false,
        ),
        Scope::Statement { old, new, remove, clear, .. } => {
            // Without removals, every old key is among the live new ones: the new rows suffice.
            let old_keys = old && (remove || !new);
            let tables: Vec<&str> = [(old_keys, OLD_TABLE), (new, NEW_TABLE)]
                .iter()
                .filter(|(on, _)| *on)
                .map(|(_, t)| *t)
                .collect();
            let selects: Vec<String> =
                tables.iter().map(|t| format!("SELECT {legacy_keys} FROM {t}")).collect();
            ctes.push(format!("touched AS ({})", selects.join(" UNION ALL ")));
            if remove {
                ctes.push(format!("gone_candidates AS ({})", gone_candidates(e, old, new)));
            }
            (
                format!("({}) IN (SELECT {legacy_keys} FROM touched)", e.legacy_key(alias)),
                format!(
                    "({}) IN ({})",
                    e.cf_key("c"),
                    e.cf_keys_of(&format!("SELECT {legacy_keys} FROM gone_candidates"))
                ),
                clear.then(|| format!("r.legacy_id IN (SELECT {} FROM touched x)", e.legacy_key_text("x"))),
                true,
                remove,
            )
        }
    };
    let trigger = matches!(scope, Scope::Statement { .. });
    let own = Part {
        prefix: "e",
        legacy_filter: &legacy_filter,
        cf_filter: &cf_filter,
        clear_filter: clear_filter.as_deref(),
        copy,
        remove,
        prelocked: trigger,
        on_error,
        fresh: None,
        batch: match scope {
            Scope::Range { lower } => Some(lower),
            _ => None,
        },
    };
    apply(&mut ctes, &mut book, e, own);

    // Users and organizations carry their memberships: those of a removed row go first
    // (NO ACTION foreign keys); those of a row that came back to life, or came into CoreForge
    // (a rejected row, fixed), come back.
    let cascade = match scope {
        Scope::All | Scope::Range { .. } => false,
        Scope::CfIds | Scope::Retry => true,
        Scope::Statement { cascade, .. } => cascade,
    };
    let deps: &[&Entity] = if cascade { deps } else { &[] };
    if !deps.is_empty() {
        let k = &e.key[0];
        let mut legacy_ids = Vec::new();
        let mut cf_ids = Vec::new();
        if remove {
            legacy_ids.push(format!("SELECT {} AS id FROM e_gone g", k.legacy_of("g.id")));
            cf_ids.push("SELECT id FROM e_gone".to_string());
        }
        if let Scope::Statement { old, new, .. } = scope {
            ctes.push(format!("live_changed AS ({})", live_changed(e, old, new)));
            legacy_ids.push("SELECT id FROM live_changed".into());
            cf_ids.push(format!("SELECT {} AS id FROM live_changed l", k.cf_of("l.id")));
        }
        if copy {
            legacy_ids.push(format!("SELECT {} AS id FROM e_up g WHERE g.inserted", k.legacy_of("g.id")));
            cf_ids.push("SELECT id FROM e_up WHERE inserted".into());
        }
        ctes.push(format!("dep_legacy AS ({})", legacy_ids.join(" UNION ")));
        ctes.push(format!("dep_cf AS ({})", cf_ids.join(" UNION ")));
        let fresh = copy.then_some("SELECT id FROM e_up WHERE inserted");
        for (i, (d, parent)) in links(e, deps).into_iter().enumerate() {
            let fk = format!("{}.{}", d.primary.alias, ident(&parent.fk_legacy));
            let legacy_filter = format!("{fk} IN (SELECT id FROM dep_legacy)");
            let cf_filter = format!("c.{} IN (SELECT id FROM dep_cf)", ident(parent.fk_cf));
            let clear_filter = format!(
                "r.legacy_id IN (SELECT {} FROM {} x WHERE x.{} IN (SELECT id FROM dep_legacy))",
                d.legacy_key_text("x"),
                d.primary.table(),
                ident(&parent.fk_legacy)
            );
            let prefix = format!("d{i}");
            let part = Part {
                prefix: &prefix,
                legacy_filter: &legacy_filter,
                cf_filter: &cf_filter,
                clear_filter: (copy && !matches!(scope, Scope::Statement { clear: false, .. }))
                    .then_some(clear_filter.as_str()),
                copy,
                remove: true,
                prelocked: trigger,
                on_error,
                fresh,
                batch: None,
            };
            apply(&mut ctes, &mut book, d, part);
        }
    }

    let count = |cte: &str, filter: &str, present: bool| {
        if present {
            format!("(SELECT pg_catalog.count(*) FROM {cte} WHERE {filter})")
        } else {
            "0::bigint".into()
        }
    };
    let listed = |ctes: &[String]| {
        if ctes.is_empty() {
            return "'[]'::jsonb".to_string();
        }
        let all: Vec<String> = ctes.iter().map(|c| format!("SELECT * FROM {c}")).collect();
        format!(
            "COALESCE((SELECT pg_catalog.jsonb_agg(pg_catalog.to_jsonb(b)) FROM ({}) b), '[]'::jsonb)",
            all.join(" UNION ALL ")
        )
    };
    format!(
        "WITH {} SELECT {} AS inserted, {} AS updated, {} AS deleted, {} AS rejected, \
         NULLIF(pg_catalog.jsonb_build_object('clear', {}, 'rejects', {})::text, \
         '{{\"clear\": [], \"rejects\": []}}') AS bookkeeping",
        ctes.join(",\n"),
        count("e_up", "inserted", copy),
        count("e_up", "NOT inserted", copy),
        count("e_gone", "true", remove),
        count("e_rej", "true", copy && on_error == OnError::Record),
        listed(&book.clear),
        listed(&book.rejects),
    )
}

/// The rejects a mirror statement found (its `bookkeeping` column, the CTEs named here).
#[derive(Default)]
struct Book {
    rejects: Vec<String>,
    clear: Vec<String>,
}

/// The extension's bookkeeping of one mirror statement, with its own rights, over `$1`: that
/// statement's `bookkeeping` (the rejects it cleared and the ones it recorded).
pub const BOOKKEEPING: &str = "WITH b AS (SELECT $1::jsonb AS j), \
    clr AS (DELETE FROM coreforge_sync.rejects r \
      USING pg_catalog.jsonb_to_recordset((SELECT b.j -> 'clear' FROM b)) AS k(entity text, legacy_id text) \
      WHERE r.entity = k.entity AND r.legacy_id = k.legacy_id RETURNING 1) \
    INSERT INTO coreforge_sync.rejects AS r (entity, legacy_id, reason, message, legacy_row) \
    SELECT x.entity, x.legacy_id, x.reason, x.message, x.legacy_row \
      FROM pg_catalog.jsonb_to_recordset((SELECT b.j -> 'rejects' FROM b)) \
        AS x(entity text, legacy_id text, reason text, message text, legacy_row jsonb) \
    ON CONFLICT (entity, legacy_id) DO UPDATE SET reason = EXCLUDED.reason, message = EXCLUDED.message, \
      legacy_row = EXCLUDED.legacy_row, last_seen = pg_catalog.now()";

/// The cf_ columns a copy writes, quoted: the key, the mapped columns, the insert-only ones.
fn written_names(e: &Entity) -> Vec<String> {
    e.key
        .iter()
        .map(|k| ident(k.cf))
        .chain(e.columns.iter().chain(&e.insert_only).map(|c| ident(c.cf)))
        .collect()
}

/// `EXISTS (...)`: whether a legacy row of the dependent `d` points at `key` through `parent`.
fn legacy_referenced(d: &Entity, parent: &Parent, key: &str) -> String {
    format!("EXISTS (SELECT 1 FROM {} m WHERE m.{} = {key})", d.primary.table(), ident(&parent.fk_legacy))
}

/// `EXISTS (...)`: whether rows of `e` are rejected for an email or slug another row holds (a write
/// that lets such a value go retries them).
fn values_awaited(e: &Entity) -> String {
    format!(
        "EXISTS (SELECT 1 FROM coreforge_sync.rejects r WHERE r.entity = {} AND r.reason LIKE 'duplicate\\_%')",
        literal(e.name())
    )
}

/// For [`value_locks`]: a `SELECT` of each value of `e` that CoreForge keeps unique (email, slug,
/// federation_id), as text, from the legacy row whose key is `$1`, ....
fn unique_values_by_key(e: &Entity) -> Vec<String> {
    let (from, by_key) = (e.from(false), e.legacy_key_params(e.primary.alias));
    e.columns
        .iter()
        .filter(|c| e.unique.contains(&c.cf))
        .map(|c| format!("SELECT ({})::text AS v FROM {from} WHERE {by_key}", c.expr))
        .collect()
}

/// `(SELECT count(*) ...)`: takes the transaction-level advisory lock of each value the `values`
/// selects (column `v`) return, in hash order (so two writers never wait for each other in a
/// cycle); `0` when there are none.
fn value_locks(values: &[String]) -> String {
    if values.is_empty() {
        return "0::bigint".to_string();
    }
    format!(
        "(SELECT pg_catalog.count(pg_catalog.pg_advisory_xact_lock({UNIQUE_VALUE_LOCK}, pg_catalog.hashtext(l.v))) \
         FROM (SELECT DISTINCT pg_catalog.hashtext(v) AS h, v FROM ({}) x WHERE v IS NOT NULL ORDER BY 1) l)",
        values.join(" UNION ALL ")
    )
}

/// `ON CONFLICT (key) DO UPDATE ... WHERE <differs> RETURNING <id>, <inserted?>`: a row inserted
/// at the same moment by another session is absorbed, and an unchanged row keeps its `updated_at`.
fn on_conflict(e: &Entity) -> String {
    let updates: Vec<String> = e
        .columns
        .iter()
        .map(|c| format!("{0} = EXCLUDED.{0}", ident(c.cf)))
        .chain(std::iter::once("updated_at = EXCLUDED.updated_at".to_string()))
        .collect();
    format!(
        "ON CONFLICT ({keys}) DO UPDATE SET {updates} WHERE {cf_row} IS DISTINCT FROM {excluded_row} \
         RETURNING c.id, (c.xmax::text = '0') AS inserted",
        keys = e.key.iter().map(|k| ident(k.cf)).collect::<Vec<_>>().join(", "),
        updates = updates.join(", "),
        cf_row = e.cf_row("c"),
        excluded_row = e.cf_row("EXCLUDED"),
    )
}

/// Keys that may lose their cf_ row: deleted, soft-deleted, or given another key by the statement.
fn gone_candidates(e: &Entity, old: bool, new: bool) -> String {
    let keys = e.legacy_key_names();
    match (old, new) {
        (false, _) => format!("SELECT {keys} FROM {NEW_TABLE} WHERE false"),
        (true, false) => format!("SELECT {keys} FROM {OLD_TABLE}"),
        (true, true) => format!(
            "SELECT {keys} FROM {OLD_TABLE} EXCEPT SELECT {keys} FROM {NEW_TABLE} x WHERE {}",
            e.primary.live("x")
        ),
    }
}

/// Legacy ids whose presence in CoreForge the statement may change, so that their dependents
/// (memberships) must follow: liveness changed, or (updates) a live row that the statement may
/// bring into CoreForge: one that is not there yet (written while sync was off, not backfilled
/// yet) or a rejected row that the statement may have fixed. The copy brings the memberships of
/// every row it inserts, so [`lock_statement`] must lock them all: a membership copied without its
/// tenant locked could be decided on a tenant whose removal from CoreForge is about to commit.
fn presence_changed(e: &Entity, old: bool, new: bool) -> String {
    let mut parts = vec![live_changed(e, old, new)];
    if old && new {
        let k = &e.key[0];
        parts.push(format!(
            "SELECT x.{id} AS id FROM {NEW_TABLE} x WHERE {live} AND (EXISTS \
             (SELECT 1 FROM coreforge_sync.rejects r WHERE r.entity = {name} AND r.legacy_id = {key}) \
             OR NOT EXISTS (SELECT 1 FROM {cf} c WHERE c.id = {cf_id}))",
            id = ident(&k.legacy),
            live = e.primary.live("x"),
            name = literal(e.name()),
            key = e.legacy_key_text("x"),
            cf = e.cf_table(),
            cf_id = k.cf_of(&format!("x.{}", ident(&k.legacy))),
        ));
    }
    parts.join(" UNION ")
}

/// A trigger's locks, taken in a statement of their own before the mirror statement, so that a
/// writer whose change together with another's decides a membership waits for the other and then,
/// in the mirror statement's fresh snapshot, sees its commit. The global order is: the
/// application's own row locks (taken by its statement), then these, each `FOR SHARE` of legacy
/// rows (or `FOR UPDATE` of cf_ rows) that another writer holds only through its own statement:
/// - a membership statement locks its memberships with their users and tenants, live or not. Every
///   writer of a user or tenant holds that row's lock from its own statement on, so a membership
///   writer and a parent writer are always ordered by the parent's row, whichever comes first;
/// - a user or organization statement locks, for the keys it may bring into CoreForge (a row that
///   comes to life, or that is live and not there yet), each of their memberships with its *other*
///   parent (the tenant of a user's membership): whether the membership follows depends on that
///   parent being live, and on its cf_ row not being about to go; and from cutover on the reverse
///   mirror writes memberships without locking their parents (tests/chaos.sh part 2 found a
///   membership copied while its reverse removal committed). It locks nothing for the
///   keys it takes out of CoreForge: their memberships go whatever the other parent does, and the
///   membership writers order themselves on the parent row;
/// - the cf_ rows that may go, `FOR UPDATE`: a membership being inserted into CoreForge for one of
///   them (the new application, from cutover on) holds it `FOR KEY SHARE` until it commits; waiting
///   here lets the mirror statement's fresh snapshot see it and remove it with its parent, instead
///   of failing on CoreForge's foreign key.
///
/// Taking the locks apart from the reads means no decision rests on READ COMMITTED's re-check of
/// a join. Only for scopes where [`needs_locks`] holds.
pub fn lock_statement(e: &Entity, deps: &[&Entity], scope: Scope) -> String {
    // Only a trigger's scope takes its locks apart ([`needs_locks`]); any other locks nothing.
    let Scope::Statement { old, new, remove, cascade, .. } = scope else {
        return "SELECT 1 WHERE false".into();
    };
    let legacy_keys = e.legacy_key_names();
    let mut locks: Vec<String> = Vec::new();
    if !e.parents.is_empty() {
        let tables: Vec<String> = [(old, OLD_TABLE), (new, NEW_TABLE)]
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, t)| format!("SELECT {legacy_keys} FROM {t}"))
            .collect();
        locks.push(format!(
            "SELECT 1 FROM {from} WHERE ({keys}) IN ({touched}) ORDER BY {keys} FOR SHARE OF {aliases}",
            from = e.from(false),
            keys = e.legacy_key(e.primary.alias),
            touched = tables.join(" UNION ALL "),
            aliases = e.lock_aliases(),
        ));
    }
    if cascade && !deps.is_empty() {
        let id = ident(&e.key[0].legacy);
        let changed = presence_changed(e, old, new);
        if new {
            let arriving = format!(
                "SELECT p.id FROM ({changed}) p WHERE p.id IN (SELECT x.{id} FROM {NEW_TABLE} x WHERE {live})",
                live = e.primary.live("x"),
            );
            for (d, parent) in links(e, deps) {
                let others: Vec<_> = d.parents.iter().filter(|p| p.entity != e.kind).collect();
                if others.is_empty() {
                    continue;
                }
                // The membership rows too: from cutover on, the reverse mirror writes them without
                // locking their parents, so their own row is what orders it against this copy.
                let locked: Vec<&str> =
                    std::iter::once(d.primary.alias).chain(others.iter().map(|p| p.source.alias)).collect();
                let order: Vec<String> = others
                    .iter()
                    .map(|p| format!("{}.{}", p.source.alias, ident(p.source.id.as_deref().unwrap_or("id"))))
                    .collect();
                locks.push(format!(
                    "SELECT 1 FROM {from} WHERE {a}.{fk} IN ({arriving}) ORDER BY {order} FOR SHARE OF {others}",
                    from = d.from(false),
                    a = d.primary.alias,
                    fk = ident(&parent.fk_legacy),
                    order = order.join(", "),
                    others = locked.join(", "),
                ));
            }
        }
        if remove {
            locks.push(format!(
                "SELECT 1 FROM {cf} c WHERE c.id IN (SELECT {cf_id} FROM ({changed} UNION ALL \
                 SELECT {id} AS id FROM ({gone}) g) g) ORDER BY c.id FOR UPDATE OF c",
                cf = e.cf_table(),
                cf_id = e.key[0].cf_of("g.id"),
                gone = gone_candidates(e, old, new),
            ));
        }
    }
    if locks.is_empty() {
        return "SELECT 0".into();
    }
    let ctes: Vec<String> =
        locks.iter().enumerate().map(|(i, l)| format!("l{i} AS MATERIALIZED ({l})")).collect();
    let counts: Vec<String> =
        (0..locks.len()).map(|i| format!("(SELECT pg_catalog.count(*) FROM l{i})")).collect();
    format!("WITH {} SELECT {}", ctes.join(", "), counts.join(" + "))
}

/// Whether a trigger's statement over `scope` has rows to lock first: a membership's own rows, or
/// the memberships of users and organizations it cascades to. (Users and organizations lock their
/// own rows by writing them.) Cheap: the trigger asks on every call, and builds the SQL only once.
pub fn needs_locks(e: &Entity, scope: Scope) -> bool {
    match scope {
        Scope::Statement { cascade, .. } => {
            !e.parents.is_empty() || (cascade && e.kind != EntityKind::Memberships)
        }
        _ => false,
    }
}

/// The trigger's first, tiny query over the transition tables alone: `(remove, cascade)` for
/// [`Scope::Statement`], whether the memberships it may write have their parents backfilled, and
/// whether rows rejected for a taken email or slug should be retried after it ([`Scope::Retry`]),
/// whether there are rejects at all (else the statement has none to clear); with `lock_values`, it
/// also locks the emails or slugs the statement writes.
/// Most statements (an update that deletes nothing and changes no row's presence) then run a
/// mirror statement without the removal and cascade parts.
pub fn probe(e: &Entity, deps: &[&Entity], old: bool, new: bool, lock_values: bool) -> String {
    let remove = if old { format!("EXISTS ({})", gone_candidates(e, old, new)) } else { "false".into() };
    // Presence may change for a key that memberships point at, on the legacy or the CoreForge side.
    let changed = if deps.is_empty() {
        "false".to_string()
    } else {
        let k = &e.key[0];
        let referenced: Vec<String> = links(e, deps)
            .into_iter()
            .map(|(d, parent)| {
                format!(
                    "{} OR EXISTS (SELECT 1 FROM {} m WHERE m.{} = {})",
                    legacy_referenced(d, parent, "lc.id"),
                    d.cf_table(),
                    ident(parent.fk_cf),
                    k.cf_of("lc.id"),
                )
            })
            .collect();
        format!(
            "EXISTS (SELECT 1 FROM ({}) lc WHERE {})",
            presence_changed(e, old, new),
            referenced.join(" OR ")
        )
    };
    // Memberships written by this statement, directly or by cascade, may wait for their parents.
    let settled = deps.iter().copied().chain(std::iter::once(e)).map(parents_backfilled).collect::<Vec<_>>();
    // An update or delete may let go of an email or slug that rejected rows wait for.
    let retry = if old && !e.unique.is_empty() { values_awaited(e) } else { "false".into() };
    // A small statement that writes an email or slug first locks each value (transaction-level
    // advisory locks), so that two transactions giving two rows the same value at the same moment
    // are ordered: the second waits for the first to commit, then its mirror statement, in a fresh
    // snapshot, sees the first one's row and rejects its own cleanly.
    let mut values: Vec<String> = Vec::new();
    if new && lock_values {
        for c in e.columns.iter().filter(|c| e.unique.contains(&c.cf)) {
            values.push(format!("SELECT ({})::text AS v FROM {NEW_TABLE} {}", c.expr, e.primary.alias));
        }
    }
    let locked = value_locks(&values);
    // (`OFFSET 0` keeps `remove` computed once, though two columns read it.)
    format!(
        "SELECT p.remove, p.remove OR {changed} AS cascade, {} AS parents_backfilled, {retry} AS retry, \
         EXISTS (SELECT 1 FROM coreforge_sync.rejects) AS clear, {locked} AS values_locked \
         FROM (SELECT {remove} AS remove OFFSET 0) p",
        settled.join(" AND ")
    )
}

/// Keys whose liveness a statement changed: the symmetric difference of the live keys before
/// and after (an insert of a live row, a soft delete, an undelete, a delete of a live row).
fn live_changed(e: &Entity, old: bool, new: bool) -> String {
    let key = ident(&e.key[0].legacy);
    let live = |t: &str| format!("SELECT {key} AS id FROM {t} x WHERE {}", e.primary.live("x"));
    match (old, new) {
        (true, true) => {
            format!("({n} EXCEPT {o}) UNION ({o} EXCEPT {n})", n = live(NEW_TABLE), o = live(OLD_TABLE))
        }
        (false, true) => live(NEW_TABLE),
        (true, false) => live(OLD_TABLE),
        (false, false) => format!("SELECT {key} AS id FROM {NEW_TABLE} x WHERE false"),
    }
}

/// One entity's part of a mirror statement.
struct Part<'a> {
    /// Prefix of its CTEs' names.
    prefix: &'a str,
    /// The legacy rows to copy (over the projection's aliases), when `copy`.
    legacy_filter: &'a str,
    /// The cf_ rows (alias `c`) to remove unless their projection exists, when `remove`.
    cf_filter: &'a str,
    /// The rejects (alias `r`) this part decides anew: cleared unless rejected again.
    clear_filter: Option<&'a str>,
    copy: bool,
    remove: bool,
    /// A trigger's part: its rows were locked by [`lock_statement`] before this statement, whose
    /// fresh snapshot then sees their newest versions; it reads them without locking again.
    prelocked: bool,
    on_error: OnError,
    /// cf_ ids of parents inserted by this same statement (not visible to its snapshot).
    fresh: Option<&'a str>,
    /// A batch of the batched backfill (`Some(lower)`, see [`Scope::Range`]): its cf_ rows are
    /// looked up by key (an index range scan, or a probe per row) rather than by hashing the whole
    /// cf_ table, so that a batch's cost does not grow with the table.
    batch: Option<bool>,
}

/// Appends the CTEs `{p}_gone` (when `remove`), `{p}_locked`, `{p}_src`, `{p}_rej`, `{p}_clear`
/// and `{p}_up` (when `copy`) that mirror entity `e` for the rows of `part`.
fn apply(ctes: &mut Vec<String>, book: &mut Book, e: &Entity, part: Part) {
    let Part {
        prefix: p,
        legacy_filter,
        cf_filter,
        clear_filter,
        copy,
        remove,
        prelocked,
        on_error,
        fresh,
        batch,
    } = part;
    // The backfill locks the live rows it copies, in the copying statement: READ COMMITTED then
    // re-reads the newest version of a row it had to wait for. (A row made live by a concurrent
    // writer is that writer's trigger's to mirror.) A trigger's rows are locked beforehand.
    let lock = if prelocked { String::new() } else { format!(" FOR SHARE OF {}", e.lock_aliases()) };
    let cf = e.cf_table();
    if remove {
        ctes.push(format!(
            "{p}_gone AS (DELETE FROM {cf} c WHERE {cf_filter} AND NOT EXISTS \
             (SELECT 1 FROM {from} WHERE {live} AND {join}) RETURNING c.id)",
            from = e.from(false),
            live = e.live(),
            join = e.key_join("c"),
        ));
    }
    if !copy {
        return;
    }
    let a = e.primary.alias;
    let names = written_names(e);
    let lk: Vec<String> = (0..e.key.len()).map(|i| format!("lk{i}")).collect();
    let mut exprs: Vec<String> = e.key.iter().map(|k| format!("{} AS {}", k.proj, ident(k.cf))).collect();
    exprs.extend(e.columns.iter().chain(&e.insert_only).map(|c| format!("{} AS {}", c.expr, ident(c.cf))));
    exprs.extend(e.key.iter().zip(&lk).map(|(k, l)| format!("{a}.{} AS {l}", ident(&k.legacy))));
    exprs.extend(e.unique.iter().map(|u| format!("c.{} AS cf_{u}", ident(u))));
    ctes.push(format!(
        "{p}_locked AS MATERIALIZED (SELECT {exprs}, {problem} AS problem \
         FROM {from} {cf_join} \
         WHERE {legacy_filter} AND {live} AND (c.{k0} IS NULL OR {cf_row} IS DISTINCT FROM {legacy_row}) \
         AND {guard}{lock})",
        exprs = exprs.join(", "),
        live = e.live(),
        problem = e.problem(parent_check(fresh)),
        from = e.from(false),
        cf_join = match batch {
            // Rows whose uuid is their CoreForge id: their cf_ rows are the same key range of the
            // cf_ table's primary key, read in one index range scan.
            Some(lower) if e.key.len() == 1 && e.key[0].map.is_none() => {
                let above = if lower { " AND c0.id > ($1[1])::uuid" } else { "" };
                format!(
                    "LEFT JOIN (SELECT c0.* FROM {cf} c0 WHERE c0.id <= ($2[1])::uuid{above}) c ON {}",
                    e.key_join("c")
                )
            }
            Some(_) => format!(
                "LEFT JOIN LATERAL (SELECT c0.* FROM {cf} c0 WHERE {} OFFSET 0) c ON true",
                e.key_join("c0")
            ),
            None => format!("LEFT JOIN {cf} c ON {}", e.key_join("c")),
        },
        k0 = ident(e.key[0].cf),
        cf_row = e.cf_row("c"),
        legacy_row = e.legacy_row(),
        guard = parents_guard(e, fresh),
    ));

    // A value CoreForge keeps unique (email, slug) goes to the row that holds it in CoreForge;
    // between rows new to it, to the oldest (created_at, then legacy id). Only rows whose value
    // changes are checked, and only those sharing a value with another are ranked. (`OFFSET 0`
    // below keeps the planner from copying these checks into every expression that reads them.)
    let mut problem = "y.problem".to_string();
    for u in &e.unique {
        let col = ident(u);
        // The shared values first, on their own: whatever the planner believes of the row counts,
        // the grouping is computed once, not once per row.
        ctes.push(format!(
            "{p}_shared_{u} AS MATERIALIZED (SELECT x.{col} AS v FROM {p}_locked x WHERE x.problem IS NULL \
             AND x.cf_{u} IS DISTINCT FROM x.{col} GROUP BY 1 HAVING pg_catalog.count(*) > 1), \
             {p}_dup_{u} AS MATERIALIZED (SELECT y.* FROM {p}_locked y WHERE y.problem IS NULL \
             AND y.{col} IN (SELECT s.v FROM {p}_shared_{u} s))"
        ));
        let created = e.columns.iter().any(|c| c.cf == "created_at");
        let (older, mine) =
            if created { ("d.created_at, d.lk0", "y.created_at, y.lk0") } else { ("d.lk0", "y.lk0") };
        let shown = format!("{} || pg_catalog.quote_literal(y.{col})", literal(&format!("{u} ")));
        problem = format!(
            "CASE WHEN y.problem IS NOT NULL OR y.cf_{u} IS NOT DISTINCT FROM y.{col} THEN {problem} \
             WHEN EXISTS (SELECT 1 FROM {cf} c2 WHERE c2.{col} = y.{col} AND c2.id <> y.id) \
               THEN {held} || {shown} || {held_tail} \
             WHEN EXISTS (SELECT 1 FROM {p}_dup_{u} d WHERE d.{col} = y.{col} AND d.lk0 <> y.lk0 \
                          AND d.cf_{u} IS DISTINCT FROM d.{col} AND ({older}) < ({mine})) \
               THEN {held} || {shown} || {older_tail} \
             ELSE {problem} END",
            held = literal(&format!("duplicate_{u}:")),
            held_tail = literal(&format!(" belongs to another row of {}", e.cf_name)),
            older_tail = literal(" is also taken by an older legacy row"),
        );
    }
    let key_text = e.legacy_key_text_of(&lk.iter().map(|l| format!("z.{l}")).collect::<Vec<_>>());
    let raise = match on_error {
        OnError::Raise => format!(
            ", CASE WHEN w.code IS NULL THEN true ELSE coreforge_sync.reject({}, w.legacy_key, w.message) END AS checked",
            literal(e.name())
        ),
        OnError::Record => String::new(),
    };
    ctes.push(format!(
        "{p}_src AS MATERIALIZED (SELECT w.*{raise} FROM \
           (SELECT z.*, {code} AS code, {message} AS message, \
                   CASE WHEN z.found IS NOT NULL THEN {key_text} END AS legacy_key \
            FROM (SELECT y.*, {problem} AS found FROM {p}_locked y OFFSET 0) z) w)",
        code = problem_code("z.found"),
        message = problem_message("z.found"),
    ));
    // The rejects to record and to clear are only selected here: the statement runs with the
    // rights of the cf_ table's owner, and [`BOOKKEEPING`] writes them with the extension's.
    if on_error == OnError::Record {
        let keys: Vec<String> = (0..e.key.len()).map(|i| format!("x.lk{i}")).collect();
        ctes.push(format!(
            "{p}_rej AS (SELECT {entity} AS entity, x.legacy_key AS legacy_id, x.code AS reason, x.message, \
             {row} AS legacy_row FROM {p}_src x WHERE x.code IS NOT NULL)",
            entity = literal(e.name()),
            row = e.legacy_row_json(&keys),
        ));
        book.rejects.push(format!("{p}_rej"));
    }
    if let Some(filter) = clear_filter {
        ctes.push(format!(
            "{p}_clear AS (SELECT r.entity, r.legacy_id FROM coreforge_sync.rejects r WHERE r.entity = {entity} \
             AND {filter} AND r.legacy_id NOT IN (SELECT x.legacy_key FROM {p}_src x WHERE x.code IS NOT NULL))",
            entity = literal(e.name()),
        ));
        book.clear.push(format!("{p}_clear"));
    }
    ctes.push(format!(
        "{p}_up AS (INSERT INTO {cf} AS c ({names}, updated_at) SELECT {names}, pg_catalog.now() \
         FROM {p}_src WHERE code IS NULL {})",
        on_conflict(e),
        names = names.join(", "),
    ));
}

/// Whether the parents of `e`'s rows (a membership's users and organizations) have been
/// backfilled: an expression, `true` for an entity without parents.
fn parents_backfilled(e: &Entity) -> String {
    if e.parents.is_empty() {
        return "true".into();
    }
    let names: Vec<String> = e.parents.iter().map(|p| literal(p.entity.as_str())).collect();
    format!(
        "((SELECT pg_catalog.count(*) FROM coreforge_sync.entity_state s \
           WHERE s.entity IN ({}) AND s.backfilled_at IS NOT NULL) = {})",
        names.join(", "),
        e.parents.len()
    )
}

/// Until both parents have been backfilled, a membership whose user or organization is not in
/// CoreForge yet is left for the backfill; from then on it is rejected (`parent_rejected`). A
/// trigger that may leave rows for the backfill first takes [`FIRST_BACKFILL_LOCK`] shared, so
/// the backfill sees them (see `triggers.rs`).
fn parents_guard(e: &Entity, fresh: Option<&str>) -> String {
    if e.parents.is_empty() {
        return "true".into();
    }
    let present: Vec<String> =
        (0..e.parents.len()).map(|i| e.parent_present(i, parent_check(fresh))).collect();
    format!("({} OR ({}))", parents_backfilled(e), present.join(" AND "))
}

fn parent_check(fresh: Option<&str>) -> ParentCheck<'_> {
    match fresh {
        Some(q) => ParentCheck::LookupOrFresh(q),
        None => ParentCheck::Lookup,
    }
}

/// A transaction-level advisory lock (key pair 'CFSY', 1) that orders the memberships backfill
/// after every trigger that left a membership for it: such a trigger holds it shared until it
/// commits, the backfill takes it exclusive before it reads, so it sees what they left.
pub const FIRST_BACKFILL_LOCK: &str = "1128682329, 1";

/// The advisory lock class (key pair `1128682330, hashtext(value)`, "CFSZ") of the emails and
/// slugs a small statement writes (see [`probe`]).
pub const UNIQUE_VALUE_LOCK: &str = "1128682330";

/// The counts one mirror statement reports.
#[derive(Default, Clone, Copy, Debug)]
pub struct Counts {
    pub inserted: i64,
    pub updated: i64,
    pub deleted: i64,
    pub rejected: i64,
}

impl Counts {
    pub fn add(&mut self, o: Counts) {
        self.inserted += o.inserted;
        self.updated += o.updated;
        self.deleted += o.deleted;
        self.rejected += o.rejected;
    }
    pub fn written(&self) -> i64 {
        self.inserted + self.updated + self.deleted
    }
}
