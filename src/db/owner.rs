//! Owner's rights. Every write the sync makes to a table runs with the rights of that table's
//! owner, inside a security-restricted operation, the rule PostgreSQL applies to its own
//! maintenance commands since CVE-2022-1552 (`vacuum.c`, `cluster.c`). Code the owner attached to
//! the table (triggers, column defaults, CHECK constraints, index expressions, rules, policies)
//! therefore runs as the owner, and cannot `SET ROLE`, create temporary objects or otherwise
//! escape into the rights of the extension, whose trigger functions are SECURITY DEFINER.
//!
//! Inside, `row_security` is off: a write that a row-level security policy would filter fails
//! with PostgreSQL's own error instead of silently writing (or removing) fewer rows.

use crate::errors::Result;
use crate::sqlgen::reverse::Write;
use pgrx::pg_sys;
use std::ffi::CString;

/// The owner of `schema.name`, None when there is no such relation.
fn owner_of(schema: &str, name: &str) -> Option<pg_sys::Oid> {
    let (schema, name) = (CString::new(schema).ok()?, CString::new(name).ok()?);
    // SAFETY: catalog lookups by name and oid through the syscache; the tuple is released.
    unsafe {
        let ns = pg_sys::get_namespace_oid(schema.as_ptr(), true);
        if ns == pg_sys::InvalidOid {
            return None;
        }
        let rel = pg_sys::get_relname_relid(name.as_ptr(), ns);
        if rel == pg_sys::InvalidOid {
            return None;
        }
        let tuple =
            pg_sys::SearchSysCache1(pg_sys::SysCacheIdentifier::RELOID as _, pg_sys::Datum::from(rel));
        if tuple.is_null() {
            return None;
        }
        let owner = (*pg_sys::heap_tuple_get_struct::<pg_sys::FormData_pg_class>(tuple)).relowner;
        pg_sys::ReleaseSysCache(tuple);
        Some(owner)
    }
}

/// Puts the user id and security context back, and the settings changed inside.
struct Restore {
    user: pg_sys::Oid,
    sec: i32,
    nest: i32,
}

impl Drop for Restore {
    fn drop(&mut self) {
        // SAFETY: restores what `as_owner` saved (settings made inside are undone, as vacuum.c
        // does). While an error unwinds, the (sub)transaction's abort resets the settings itself;
        // the user id is put back in either case.
        unsafe {
            if !std::thread::panicking() {
                pg_sys::AtEOXact_GUC(false, self.nest);
            }
            pg_sys::SetUserIdAndSecContext(self.user, self.sec);
        }
    }
}

/// Runs `f`, which writes the table `schema.name`, as that table's owner in a security-restricted
/// operation. A table that does not exist runs `f` as it is (its statement then fails on the name).
pub fn as_owner<R>(schema: &str, name: &str, f: impl FnOnce() -> R) -> R {
    let Some(owner) = owner_of(schema, name) else { return f() };
    let mut user = pg_sys::InvalidOid;
    let mut sec = 0;
    // SAFETY: the vacuum.c sequence: save, switch, open a GUC nest level; `Restore` undoes it.
    let _restore = unsafe {
        pg_sys::GetUserIdAndSecContext(&mut user, &mut sec);
        pg_sys::SetUserIdAndSecContext(owner, sec | pg_sys::SECURITY_RESTRICTED_OPERATION as i32);
        let nest = pg_sys::NewGUCNestLevel();
        pg_sys::set_config_option(
            c"row_security".as_ptr(),
            c"off".as_ptr(),
            pg_sys::GucContext::PGC_USERSET,
            pg_sys::GucSource::PGC_S_SESSION,
            pg_sys::GucAction::GUC_ACTION_SAVE,
            true,
            0,
            false,
        );
        Restore { user, sec, nest }
    };
    f()
}

/// Runs `f` as the owner of the function `function` (a trigger's `tgfoid`: one of the extension's,
/// so its owner is the extension's) with `search_path = pg_catalog, pg_temp` and `jit = off`:
/// what `SECURITY DEFINER` with those two settings gives a function (`fmgr_security_definer`),
/// done by the sync triggers only once they know there is work (`actors/triggers.rs`): their
/// functions are neither SECURITY DEFINER nor given settings, which PostgreSQL would switch, and
/// switch back, on every call, also for the many statements with nothing to mirror (an
/// `updated_at` touch; 8.6% of a touch's time in the backend, docs/benchmarks.md).
pub fn as_function_owner<R>(function: pg_sys::Oid, f: impl FnOnce() -> R) -> R {
    // SAFETY: a syscache lookup of the function by oid; the tuple is released.
    let owner = unsafe {
        let tuple =
            pg_sys::SearchSysCache1(pg_sys::SysCacheIdentifier::PROCOID as _, pg_sys::Datum::from(function));
        if tuple.is_null() {
            pgrx::error!("coreforge_sync: cache lookup failed for function {function:?}");
        }
        let owner = (*pg_sys::heap_tuple_get_struct::<pg_sys::FormData_pg_proc>(tuple)).proowner;
        pg_sys::ReleaseSysCache(tuple);
        owner
    };
    let mut user = pg_sys::InvalidOid;
    let mut sec = 0;
    // SAFETY: fmgr_security_definer's sequence: save, open a GUC nest level, set, switch;
    // `Restore` undoes it.
    let _restore = unsafe {
        pg_sys::GetUserIdAndSecContext(&mut user, &mut sec);
        let nest = pg_sys::NewGUCNestLevel();
        for (name, value) in [(c"search_path", c"pg_catalog, pg_temp"), (c"jit", c"off")] {
            pg_sys::set_config_option(
                name.as_ptr(),
                value.as_ptr(),
                pg_sys::GucContext::PGC_USERSET,
                pg_sys::GucSource::PGC_S_SESSION,
                pg_sys::GucAction::GUC_ACTION_SAVE,
                true,
                0,
                false,
            );
        }
        pg_sys::SetUserIdAndSecContext(owner, sec | pg_sys::SECURITY_LOCAL_USERID_CHANGE as i32);
        Restore { user, sec, nest }
    };
    f()
}

/// What a step reports.
#[derive(Default)]
pub struct Written {
    pub inserted: i64,
    pub updated: i64,
    pub deleted: i64,
    pub payload: Option<String>,
}

/// Runs the steps of the write that `w` builds (built only if a step needs its SQL) on
/// `schema.name`: `step(i, sql, arg)` executes step `i` (0, 1, 2) and reads its row; the write
/// step runs as the table's owner.
pub fn run_steps<'w>(
    schema: &str,
    name: &str,
    w: impl Fn() -> &'w Write,
    mut step: impl FnMut(u8, &dyn Fn() -> String, Option<&str>) -> Result<Written>,
) -> Result<Written> {
    let Some(rows) = step(0, &|| w().read.clone(), None)?.payload else { return Ok(Written::default()) };
    let out = as_owner(schema, name, || step(1, &|| w().write.clone(), Some(&rows)))?;
    // A write step hands a payload to an after step only (a write without one hands over none), so
    // the write need not be built to know whether one follows.
    if let Some(payload) = &out.payload {
        step(2, &|| w().after.clone().unwrap_or_else(|| NOTHING.into()), Some(payload))?;
    }
    Ok(out)
}

/// An after step that does nothing (never run: see [`run_steps`]).
const NOTHING: &str = "SELECT 0::bigint, 0::bigint, 0::bigint, NULL::text";

/// [`run_steps`], each step planned afresh (the backfills).
pub fn run(schema: &str, name: &str, w: &Write) -> Result<Written> {
    pgrx::spi::Spi::connect_mut(|client| {
        run_steps(
            schema,
            name,
            || w,
            |_, sql, arg| {
                let args: Vec<pgrx::datum::DatumWithOid> = arg.map(Into::into).into_iter().collect();
                written(client.update(sql().as_str(), None, &args)?)
            },
        )
    })
}

/// The `(inserted, updated, deleted, payload)` row of a step.
pub fn written(row: pgrx::spi::SpiTupleTable<'_>) -> Result<Written> {
    let row = row.first();
    let count = |i| -> Result<i64> { Ok(row.get::<i64>(i)?.unwrap_or(0)) };
    Ok(Written {
        inserted: count(1)?,
        updated: count(2)?,
        deleted: count(3)?,
        payload: row.get::<String>(4)?,
    })
}
