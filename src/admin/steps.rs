//! What every phase transition does the same way: the tables it locks, the validation of that
//! moment, and its record in `coreforge_sync.phase_history`.

use crate::actors::validation;
use crate::db::phase::Phase;
use crate::db::rights;
use crate::errors::{Error, Result};
use crate::mapping::Entity;
use pgrx::prelude::*;
use serde_json::json;

/// The legacy tables of `entities`: (SQL name, as shown).
pub fn legacy_tables(entities: &[Entity]) -> Vec<(String, String)> {
    entities.iter().map(|e| (e.primary.table(), e.primary.display())).collect()
}

/// The cf_ tables of `entities`: (SQL name, as shown).
pub fn cf_tables(entities: &[Entity]) -> Vec<(String, String)> {
    entities.iter().map(|e| (e.cf_table(), e.cf_display())).collect()
}

/// The validation of this moment: the failing checks, and the summary recorded in the history.
pub struct Validation {
    pub failed: Vec<(String, String, i64)>,
    pub summary: serde_json::Value,
}

pub fn validate(entities: &[Entity]) -> Result<Validation> {
    let (checks, failed) = validation::failures(entities)?;
    let list: Vec<serde_json::Value> =
        failed.iter().map(|(e, c, n)| json!({"entity": e, "check": c, "discrepancies": n})).collect();
    Ok(Validation { failed, summary: json!({"checks": checks, "failed": list}) })
}

impl Validation {
    /// The failing checks other than those named in `except`.
    pub fn failing_except(&self, except: &[&str]) -> Vec<String> {
        self.failed
            .iter()
            .filter(|(_, c, _)| !except.contains(&c.as_str()))
            .map(|(e, c, n)| format!("{e}.{c}: {n}"))
            .collect()
    }
}

/// Records a transition.
pub fn record(
    action: &str,
    from: Phase,
    to: Phase,
    reason: Option<&str>,
    forced: bool,
    validation: Option<&Validation>,
    archive_schema: Option<&str>,
) -> Result<()> {
    Ok(Spi::run_with_args(
        "INSERT INTO coreforge_sync.phase_history \
           (action, from_phase, to_phase, reason, forced, validation, archive_schema, run_as) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        &[
            action.into(),
            from.to_string().into(),
            to.to_string().into(),
            reason.into(),
            forced.into(),
            validation.map(|v| pgrx::JsonB(v.summary.clone())).into(),
            archive_schema.into(),
            rights::caller_name()?.into(),
        ],
    )?)
}

/// Refuses a transition: `message`, the failing checks as detail, `hint`.
pub fn refuse_failing(message: &str, failing: &[String], hint: &str) -> Error {
    Error::out_of_order(format!("coreforge_sync: {message}"))
        .detail(format!("Failing checks of cf_validation_report(): {}.", failing.join(", ")))
        .hint(hint)
}

/// A boolean argument that must not be NULL (a NULL `force` is neither yes nor no).
pub fn not_null(value: Option<bool>, name: &str) -> Result<bool> {
    value.ok_or_else(|| {
        Error::null_value(format!("coreforge_sync: {name} must not be NULL"))
            .hint(format!("Pass {name} => true or {name} => false."))
    })
}
