//! The recursion guard of two-way sync: while the extension writes one side to mirror the other,
//! the triggers on the side it writes stand down, so every application write is mirrored exactly
//! once (no loop, no ping-pong of `updated_at`, no double work), and the freeze lets the mirror
//! through.
//!
//! The guard is a counter in the backend's memory, raised only by the extension's own code around
//! its own statements. No SQL can set it: not a GUC, not a table, nothing an application role can
//! reach to skip the mirror or pass the freeze. It is lowered when the guarded work ends, by
//! unwinding when that work fails, and at the end of every transaction whatever happened.

use pgrx::pg_sys;
use std::cell::Cell;

thread_local! {
    static DEPTH: Cell<u32> = const { Cell::new(0) };
}

/// Whether the extension is writing right now (a trigger that fires inside stands down).
pub fn active() -> bool {
    DEPTH.with(|d| d.get() > 0)
}

/// Raised while alive.
pub struct Mirroring(());

impl Mirroring {
    pub fn begin() -> Mirroring {
        DEPTH.with(|d| d.set(d.get() + 1));
        Mirroring(())
    }
}

impl Drop for Mirroring {
    fn drop(&mut self) {
        DEPTH.with(|d| d.set(d.get().saturating_sub(1)));
    }
}

/// Runs `f` with the guard raised.
pub fn mirroring<R>(f: impl FnOnce() -> R) -> R {
    let _guard = Mirroring::begin();
    f()
}

unsafe extern "C-unwind" fn at_transaction_end(event: pg_sys::XactEvent::Type, _arg: *mut std::ffi::c_void) {
    if event == pg_sys::XactEvent::XACT_EVENT_ABORT
        || event == pg_sys::XactEvent::XACT_EVENT_COMMIT
        || event == pg_sys::XactEvent::XACT_EVENT_PARALLEL_ABORT
    {
        DEPTH.with(|d| d.set(0));
    }
}

/// Called once per backend, from `_PG_init`.
pub fn register() {
    // SAFETY: registers a plain function with no argument, for the backend's lifetime.
    unsafe { pg_sys::RegisterXactCallback(Some(at_transaction_end), std::ptr::null_mut()) };
}
