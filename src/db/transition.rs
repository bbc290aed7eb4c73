//! The transition tables of the statement a trigger fires for, read directly (no SQL): whether an
//! UPDATE changed any of the columns the mirror reads. When it changed none (an `updated_at`
//! touch, a column the mapping does not read), the trigger has nothing to do and runs no statement.

use pgrx::pg_sys;
use std::ffi::CStr;

/// The attribute numbers of `columns` in the trigger's table; None when one of them is not there
/// (the caller then takes the full path).
pub fn attnums(td: &pg_sys::TriggerData, columns: &[&str]) -> Option<Vec<usize>> {
    // SAFETY: the relation and its tuple descriptor are valid for the trigger call.
    let desc = unsafe { &*(*td.tg_relation).rd_att };
    let attrs = unsafe { desc.attrs.as_slice(desc.natts as usize) };
    columns
        .iter()
        .map(|name| {
            attrs.iter().position(|a| {
                // SAFETY: attname is a NUL-terminated NameData.
                !a.attisdropped
                    && unsafe { CStr::from_ptr(a.attname.data.as_ptr()) }.to_bytes() == name.as_bytes()
            })
        })
        .collect()
}

/// Whether some row of an UPDATE has, in one of the columns `attnums` (0-based), a value other than
/// its old one. Rows are paired in order: PostgreSQL appends each updated row's old and new versions
/// to the two transition tables together. Values are compared as stored (a value stored
/// differently, say compressed on one side only, counts as changed: the full path then runs).
/// Anything unexpected (no tables, different row counts) counts as changed.
pub fn update_changes(td: &pg_sys::TriggerData, attnums: &[usize]) -> bool {
    let (old, new) = (td.tg_oldtable, td.tg_newtable);
    if old.is_null() || new.is_null() {
        return true;
    }
    // SAFETY: the transition tables and the relation are valid for this trigger call; each store is
    // read through a read pointer of our own ([`reader`]).
    unsafe {
        if pg_sys::tuplestore_tuple_count(old) != pg_sys::tuplestore_tuple_count(new) {
            return true;
        }
        let desc = (*td.tg_relation).rd_att;
        let natts = (*desc).natts;
        let attrs = (*desc).attrs.as_slice(natts as usize);
        let (old_slot, new_slot) = (reader(old, desc), reader(new, desc));
        let mut changed = false;
        loop {
            let more_old = pg_sys::tuplestore_gettupleslot(old, true, false, old_slot);
            let more_new = pg_sys::tuplestore_gettupleslot(new, true, false, new_slot);
            if more_old != more_new {
                changed = true;
                break;
            }
            if !more_old {
                break;
            }
            pg_sys::slot_getsomeattrs_int(old_slot, natts);
            pg_sys::slot_getsomeattrs_int(new_slot, natts);
            if attnums.iter().any(|&i| differs(&attrs[i], old_slot, new_slot, i)) {
                changed = true;
                break;
            }
        }
        pg_sys::ExecDropSingleTupleTableSlot(old_slot);
        pg_sys::ExecDropSingleTupleTableSlot(new_slot);
        changed
    }
}

/// A slot to read `store` into, through a read pointer of our own, rewound (the scans of the
/// statements that read the table later allocate, select and rewind their own,
/// nodeNamedtuplestorescan.c). The caller drops the slot.
///
/// # Safety
/// `store` is a transition table of the current trigger call, of rows of `desc`.
unsafe fn reader(
    store: *mut pg_sys::Tuplestorestate,
    desc: pg_sys::TupleDesc,
) -> *mut pg_sys::TupleTableSlot {
    let ptr = pg_sys::tuplestore_alloc_read_pointer(store, pg_sys::EXEC_FLAG_REWIND as i32);
    pg_sys::tuplestore_select_read_pointer(store, ptr);
    pg_sys::tuplestore_rescan(store);
    pg_sys::MakeSingleTupleTableSlot(desc, &pg_sys::TTSOpsMinimalTuple)
}

/// Whether attribute `i` of the two deformed slots differs, byte for byte.
///
/// # Safety
/// Both slots hold a deformed tuple of the descriptor `attr` belongs to.
unsafe fn differs(
    attr: &pg_sys::FormData_pg_attribute,
    a: *mut pg_sys::TupleTableSlot,
    b: *mut pg_sys::TupleTableSlot,
    i: usize,
) -> bool {
    let (a_null, b_null) = (*(*a).tts_isnull.add(i), *(*b).tts_isnull.add(i));
    if a_null || b_null {
        return a_null != b_null;
    }
    let (x, y) = (*(*a).tts_values.add(i), *(*b).tts_values.add(i));
    if attr.attbyval {
        return x != y;
    }
    let (p, q) = (x.cast_mut_ptr::<u8>(), y.cast_mut_ptr::<u8>());
    let len = |v: *mut u8| -> usize {
        match attr.attlen {
            -1 => pgrx::varlena::varsize_any(v.cast()),
            -2 => CStr::from_ptr(v.cast()).to_bytes_with_nul().len(),
            n => n as usize,
        }
    };
    let (lp, lq) = (len(p), len(q));
    lp != lq || std::slice::from_raw_parts(p, lp) != std::slice::from_raw_parts(q, lq)
}

/// The value of attribute `attnum` (0-based) of the only row of the statement's new rows (or, with
/// `old`, of its old rows), as text (the type's output function); None when there is not exactly one
/// row, or it is NULL.
pub fn single_value(td: &pg_sys::TriggerData, old: bool, attnum: usize) -> Option<String> {
    single_values(td, old, &[attnum])?.pop().flatten()
}

/// The values of attributes `attnums` (0-based) of the only row of the statement's new rows (or,
/// with `old`, of its old rows), as text (the types' output functions), None for NULL; None when
/// there is not exactly one row.
pub fn single_values(td: &pg_sys::TriggerData, old: bool, attnums: &[usize]) -> Option<Vec<Option<String>>> {
    let rows = if old { td.tg_oldtable } else { td.tg_newtable };
    // SAFETY: as in update_changes: our own read pointer, rewound, over this call's rows.
    unsafe {
        if rows.is_null() || pg_sys::tuplestore_tuple_count(rows) != 1 {
            return None;
        }
        let desc = (*td.tg_relation).rd_att;
        let attrs = (*desc).attrs.as_slice((*desc).natts as usize);
        let slot = reader(rows, desc);
        let mut out = None;
        if pg_sys::tuplestore_gettupleslot(rows, true, false, slot) {
            pg_sys::slot_getsomeattrs_int(slot, (*desc).natts);
            out = Some(
                attnums
                    .iter()
                    .map(|&i| {
                        if *(*slot).tts_isnull.add(i) {
                            return None;
                        }
                        let (mut output, mut varlena) = (pg_sys::InvalidOid, false);
                        pg_sys::getTypeOutputInfo(attrs[i].atttypid, &mut output, &mut varlena);
                        let text = pg_sys::OidOutputFunctionCall(output, *(*slot).tts_values.add(i));
                        let value = CStr::from_ptr(text).to_string_lossy().into_owned();
                        pg_sys::pfree(text.cast());
                        Some(value)
                    })
                    .collect(),
            );
        }
        pg_sys::ExecDropSingleTupleTableSlot(slot);
        out
    }
}

/// For an UPDATE: in how many of its rows some attribute of `attnums` (0-based) changed, compared as
/// [`update_changes`] compares them; None when the statement has no old and new rows to pair.
pub fn changed_rows(td: &pg_sys::TriggerData, attnums: &[usize]) -> Option<i64> {
    let (old, new) = (td.tg_oldtable, td.tg_newtable);
    // SAFETY: as in update_changes.
    unsafe {
        if old.is_null()
            || new.is_null()
            || pg_sys::tuplestore_tuple_count(old) != pg_sys::tuplestore_tuple_count(new)
        {
            return None;
        }
        let desc = (*td.tg_relation).rd_att;
        let natts = (*desc).natts;
        let attrs = (*desc).attrs.as_slice(natts as usize);
        let (old_slot, new_slot) = (reader(old, desc), reader(new, desc));
        let mut count = 0;
        while pg_sys::tuplestore_gettupleslot(old, true, false, old_slot)
            && pg_sys::tuplestore_gettupleslot(new, true, false, new_slot)
        {
            pg_sys::slot_getsomeattrs_int(old_slot, natts);
            pg_sys::slot_getsomeattrs_int(new_slot, natts);
            if attnums.iter().any(|&i| differs(&attrs[i], old_slot, new_slot, i)) {
                count += 1;
            }
        }
        pg_sys::ExecDropSingleTupleTableSlot(old_slot);
        pg_sys::ExecDropSingleTupleTableSlot(new_slot);
        Some(count)
    }
}

/// For a one-row UPDATE: whether each of the attributes `attnums` (0-based) changed, compared as
/// [`update_changes`] compares them; None when the statement is not an UPDATE of exactly one row.
pub fn single_changes(td: &pg_sys::TriggerData, attnums: &[usize]) -> Option<Vec<bool>> {
    let (old, new) = (td.tg_oldtable, td.tg_newtable);
    // SAFETY: as in update_changes.
    unsafe {
        if old.is_null()
            || new.is_null()
            || pg_sys::tuplestore_tuple_count(old) != 1
            || pg_sys::tuplestore_tuple_count(new) != 1
        {
            return None;
        }
        let desc = (*td.tg_relation).rd_att;
        let natts = (*desc).natts;
        let attrs = (*desc).attrs.as_slice(natts as usize);
        let (old_slot, new_slot) = (reader(old, desc), reader(new, desc));
        let mut out = None;
        if pg_sys::tuplestore_gettupleslot(old, true, false, old_slot)
            && pg_sys::tuplestore_gettupleslot(new, true, false, new_slot)
        {
            pg_sys::slot_getsomeattrs_int(old_slot, natts);
            pg_sys::slot_getsomeattrs_int(new_slot, natts);
            out = Some(attnums.iter().map(|&i| differs(&attrs[i], old_slot, new_slot, i)).collect());
        }
        pg_sys::ExecDropSingleTupleTableSlot(old_slot);
        pg_sys::ExecDropSingleTupleTableSlot(new_slot);
        out
    }
}

/// A row trigger's call made into a statement trigger's: a copy of its TriggerData whose
/// transition tables hold the one row (old, new, or both), under the names the statement
/// triggers give theirs. Logical replication's apply worker fires row triggers only; through
/// this, each of its rows runs the statement path as a one-row statement. The stores end on drop.
pub struct OneRow {
    data: Box<pg_sys::TriggerData>,
    _trigger: Box<pg_sys::Trigger>,
}

impl OneRow {
    /// `td` is a row trigger's call; `old`, `new`: which of its tuples the operation has (an
    /// UPDATE both, tg_trigtuple being the old one).
    pub fn new(td: &pg_sys::TriggerData, old: bool, new: bool) -> OneRow {
        let store = |tuple: pg_sys::HeapTuple| -> *mut pg_sys::Tuplestorestate {
            // SAFETY: a store in the trigger call's memory context, of the relation's row (the
            // trigger's tuples are that relation's rows).
            unsafe {
                let s = pg_sys::tuplestore_begin_heap(false, false, pg_sys::work_mem);
                pg_sys::tuplestore_puttuple(s, tuple);
                s
            }
        };
        // SAFETY: tg_trigger is valid for the call; the copy only changes the transition names.
        let mut trigger = Box::new(unsafe { *td.tg_trigger });
        let mut data = Box::new(*td);
        trigger.tgoldtable = std::ptr::null_mut();
        trigger.tgnewtable = std::ptr::null_mut();
        data.tg_oldtable = std::ptr::null_mut();
        data.tg_newtable = std::ptr::null_mut();
        if old {
            trigger.tgoldtable = OLD_NAME.as_ptr().cast_mut();
            data.tg_oldtable = store(td.tg_trigtuple);
        }
        if new {
            trigger.tgnewtable = NEW_NAME.as_ptr().cast_mut();
            data.tg_newtable = store(if old { td.tg_newtuple } else { td.tg_trigtuple });
        }
        data.tg_trigger = &mut *trigger;
        OneRow { data, _trigger: trigger }
    }

    pub fn data(&self) -> &pg_sys::TriggerData {
        &self.data
    }
}

impl Drop for OneRow {
    fn drop(&mut self) {
        for store in [self.data.tg_oldtable, self.data.tg_newtable] {
            if !store.is_null() {
                // SAFETY: a store made by OneRow::new, read by no one any more.
                unsafe { pg_sys::tuplestore_end(store) };
            }
        }
    }
}

/// The statement triggers' transition table names (`sqlgen::mirror::{OLD_TABLE, NEW_TABLE}`).
const OLD_NAME: &CStr = c"coreforge_old";
const NEW_NAME: &CStr = c"coreforge_new";

#[cfg(test)]
mod tests {
    use crate::sqlgen::mirror::{NEW_TABLE, OLD_TABLE};

    #[test]
    fn one_row_tables_have_the_statement_triggers_names() {
        assert_eq!(super::OLD_NAME.to_str(), Ok(OLD_TABLE));
        assert_eq!(super::NEW_NAME.to_str(), Ok(NEW_TABLE));
    }
}
