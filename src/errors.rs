//! Errors a user reads in psql: a message that says what is wrong, a hint that says what to do.

use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use pgrx::PgLogLevel;

/// Raises an ERROR (SQLSTATE 55000, object_not_in_prerequisite_state, unless given).
pub fn fail(message: &str, detail: Option<&str>, hint: Option<&str>) -> ! {
    fail_with(PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE, message, detail, hint)
}

pub fn fail_with(code: PgSqlErrorCode, message: &str, detail: Option<&str>, hint: Option<&str>) -> ! {
    let mut report = ErrorReport::new(code, message.to_string(), "coreforge_sync");
    if let Some(d) = detail {
        report = report.set_detail(d);
    }
    if let Some(h) = hint {
        report = report.set_hint(h);
    }
    report.report(PgLogLevel::ERROR);
    unreachable!("ERROR does not return")
}

/// `entity` must be one of users, organizations, memberships.
pub fn require_entity(entity: Option<&str>) -> &str {
    match entity {
        Some(e) if crate::mapping::ENTITY_NAMES.contains(&e) => e,
        other => fail_with(
            PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            &match other {
                Some(e) => format!("coreforge_sync: unknown entity \"{e}\""),
                None => "coreforge_sync: entity must not be NULL".to_string(),
            },
            None,
            Some("The entities are users, organizations and memberships."),
        ),
    }
}
