//! A configured SQL expression read by PostgreSQL itself: parsed and analyzed over one row of a
//! table, checked for what a mapping's expression may not do, and printed back by PostgreSQL's
//! deparser with every column qualified. Nothing is created, nothing is run: the expression is
//! only planned for (analysis), inside a subtransaction, so that an error of PostgreSQL's becomes
//! a problem of the configuration and nothing else of the transaction is touched.

use crate::mapping::Expression;
use crate::quote::qualified;
use pgrx::pg_sys;
use pgrx::PgTryBuilder;
use std::ffi::{CStr, CString};

/// What [`read`] finds: the deparsed expression (over [`Expression::ROW`]), its result type, the
/// columns it reads.
pub struct Read {
    pub sql: String,
    pub result: pg_sys::Oid,
    pub reads: Vec<String>,
    /// Every function it calls, operators' and type conversions' included.
    pub functions: Vec<pg_sys::Oid>,
}

/// The expression `expr` over a row of `schema.table`, cast to `cast` when given, as PostgreSQL
/// reads it; Err: why it cannot be a mapping's expression, in words for the configuration's error.
pub fn read(schema: &str, table: &str, expr: &str, cast: Option<&str>) -> Result<Read, String> {
    if expr.to_lowercase().contains(Expression::ROW) {
        return Err(format!("an expression may not mention {}", Expression::ROW));
    }
    if expr.trim().is_empty() {
        return Err("the expression is empty".into());
    }
    let (Ok(c_schema), Ok(c_table)) = (CString::new(schema), CString::new(table)) else {
        return Err("a name with a NUL byte".into());
    };
    // SAFETY: catalog lookups by name.
    let relid = unsafe {
        let ns = pg_sys::get_namespace_oid(c_schema.as_ptr(), true);
        if ns == pg_sys::InvalidOid {
            pg_sys::InvalidOid
        } else {
            pg_sys::get_relname_relid(c_table.as_ptr(), ns)
        }
    };
    if relid == pg_sys::InvalidOid {
        return Err(format!("table {} does not exist", qualified(schema, table)));
    }
    let value = match cast {
        Some(t) => format!("(({expr}))::{t}"),
        None => format!("({expr})"),
    };
    let query = format!("SELECT {value} FROM ONLY {} AS {}", qualified(schema, table), Expression::ROW);
    in_subtransaction(|| analyze(&query, relid))
}

/// Runs `f` in an internal subtransaction (PL/pgSQL's exception block, `pl_exec.c`): an error
/// PostgreSQL raises inside rolls the subtransaction back and comes out as its message (a Rust
/// panic is raised on, after the rollback).
fn in_subtransaction<T>(f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    // SAFETY: the sequence of pl_exec.c's exec_stmt_block: remember the memory context and
    // resource owner, begin, run; release on success, roll back on error, and restore both.
    let f = std::panic::AssertUnwindSafe(f);
    unsafe {
        let context = pg_sys::CurrentMemoryContext;
        let owner = pg_sys::CurrentResourceOwner;
        pg_sys::BeginInternalSubTransaction(std::ptr::null());
        pg_sys::MemoryContextSwitchTo(context);
        PgTryBuilder::new(move || {
            let whole = f; // (the closure takes the wrapper, not its field)
            let out = (whole.0)();
            pg_sys::ReleaseCurrentSubTransaction();
            pg_sys::MemoryContextSwitchTo(context);
            pg_sys::CurrentResourceOwner = owner;
            out
        })
        .catch_others(|e| {
            pg_sys::MemoryContextSwitchTo(context);
            pg_sys::RollbackAndReleaseCurrentSubTransaction();
            pg_sys::MemoryContextSwitchTo(context);
            pg_sys::CurrentResourceOwner = owner;
            match e {
                pg_sys::panic::CaughtError::PostgresError(r) | pg_sys::panic::CaughtError::ErrorReport(r) => {
                    Err(r.message().to_string())
                }
                // A bug of ours is not a problem of the configuration.
                panic @ pg_sys::panic::CaughtError::RustPanic { .. } => panic.rethrow(),
            }
        })
        .execute()
    }
}

/// The `n`th element of a pointer list.
unsafe fn nth<T>(list: *mut pg_sys::List, n: usize) -> *mut T {
    (*(*list).elements.add(n)).ptr_value as *mut T
}

unsafe fn len(list: *mut pg_sys::List) -> usize {
    if list.is_null() {
        0
    } else {
        (*list).length as usize
    }
}

/// Parses and analyzes `query` (`SELECT <expression> FROM ONLY <table> AS cf_sync_row`), and
/// checks that it is one expression over that one row: no other row or table (a subquery, a
/// function's FROM), no aggregate, window or set-returning function, nothing volatile, no system
/// column or whole-row reference. Then prints the expression back, qualified.
fn analyze(query: &str, relid: pg_sys::Oid) -> Result<Read, String> {
    let text = CString::new(query).map_err(|_| "an expression with a NUL byte".to_string())?;
    // SAFETY: PostgreSQL's parser and analyzer on a NUL-terminated query, in the current memory
    // context; the trees are read, never kept. Errors are raised as PostgreSQL errors (caught by
    // in_subtransaction).
    unsafe {
        // The names it calls are looked up, and printed back, against pg_catalog alone: a name of
        // another schema must be (and is shown) qualified.
        let nest = pg_sys::NewGUCNestLevel();
        pg_sys::set_config_option(
            c"search_path".as_ptr(),
            c"pg_catalog, pg_temp".as_ptr(),
            pg_sys::GucContext::PGC_USERSET,
            pg_sys::GucSource::PGC_S_SESSION,
            pg_sys::GucAction::GUC_ACTION_SAVE,
            true,
            0,
            false,
        );
        let out = analyze_parsed(&text, relid);
        pg_sys::AtEOXact_GUC(false, nest);
        out
    }
}

unsafe fn analyze_parsed(text: &CStr, relid: pg_sys::Oid) -> Result<Read, String> {
    let raw = pg_sys::raw_parser(text.as_ptr(), pg_sys::RawParseMode::RAW_PARSE_DEFAULT);
    if len(raw) != 1 {
        return Err("give one expression, not statements".into());
    }
    let q = pg_sys::parse_analyze_fixedparams(
        nth::<pg_sys::RawStmt>(raw, 0),
        text.as_ptr(),
        std::ptr::null(),
        0,
        std::ptr::null_mut(),
    );
    let q = &*q;
    let one_row = q.commandType == pg_sys::CmdType::CMD_SELECT
        && q.utilityStmt.is_null()
        && len(q.rtable) == 1
        && len(q.targetList) == 1
        && len(q.cteList) == 0
        && q.setOperations.is_null()
        && (q.jointree.is_null() || (*q.jointree).quals.is_null())
        && len(q.groupClause) == 0
        && q.havingQual.is_null()
        && len(q.sortClause) == 0
        && len(q.distinctClause) == 0
        && len(q.windowClause) == 0
        && q.limitCount.is_null()
        && q.limitOffset.is_null()
        && len(q.rowMarks) == 0;
    let rte = if len(q.rtable) == 1 { Some(&*nth::<pg_sys::RangeTblEntry>(q.rtable, 0)) } else { None };
    let over_the_table =
        rte.is_some_and(|r| r.rtekind == pg_sys::RTEKind::RTE_RELATION && r.relid == relid && !r.inh);
    if !one_row || !over_the_table {
        return Err("give one expression over the row's columns (the text ends the expression early)".into());
    }
    if q.hasSubLinks {
        return Err("an expression may not read other rows or tables (a subquery)".into());
    }
    if q.hasAggs || q.hasWindowFuncs || q.hasTargetSRFs {
        return Err("an expression may not call an aggregate, window or set-returning function".into());
    }
    let entry = &*nth::<pg_sys::TargetEntry>(q.targetList, 0);
    let expr = entry.expr as *mut pg_sys::Node;
    if pg_sys::contain_volatile_functions(expr) {
        return Err(
            "an expression may call immutable and stable functions only, and this one calls a volatile one (random(), nextval(), clock_timestamp(), or a function that may write)"
                .into(),
        );
    }
    let mut attnos: *mut pg_sys::Bitmapset = std::ptr::null_mut();
    pg_sys::pull_varattnos(expr, 1, &mut attnos);
    let mut reads = Vec::new();
    let mut member = -1;
    loop {
        member = pg_sys::bms_next_member(attnos, member);
        if member < 0 {
            break;
        }
        let attno = member + pg_sys::FirstLowInvalidHeapAttributeNumber;
        if attno <= 0 {
            return Err("an expression may not read a system column or the whole row".into());
        }
        let name = pg_sys::get_attname(relid, attno as pg_sys::AttrNumber, false);
        reads.push(CStr::from_ptr(name).to_string_lossy().into_owned());
    }
    let mut functions: Vec<pg_sys::Oid> = Vec::new();
    walk(expr, &mut functions as *mut Vec<pg_sys::Oid> as *mut std::ffi::c_void);
    let row = CString::new(Expression::ROW).expect("no NUL");
    let context = pg_sys::deparse_context_for(row.as_ptr(), relid);
    let sql = pg_sys::deparse_expression(expr, context, true, false);
    Ok(Read {
        sql: CStr::from_ptr(sql).to_string_lossy().into_owned(),
        result: pg_sys::exprType(expr),
        reads,
        functions,
    })
}

/// An expression tree walker that collects the functions of every node into the `Vec<Oid>` at
/// `context` (`check_functions_in_node`: function calls, operators, type conversions through
/// text, comparisons of rows and arrays).
unsafe extern "C-unwind" fn walk(node: *mut pg_sys::Node, context: *mut std::ffi::c_void) -> bool {
    if node.is_null() {
        return false;
    }
    pg_sys::check_functions_in_node(node, Some(collect), context);
    pg_sys::expression_tree_walker(node, Some(walk), context)
}

unsafe extern "C-unwind" fn collect(function: pg_sys::Oid, context: *mut std::ffi::c_void) -> bool {
    (*(context as *mut Vec<pg_sys::Oid>)).push(function);
    false
}
