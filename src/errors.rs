//! Errors a user reads in psql: a message that says what is wrong, a DETAIL, a HINT that says what
//! to do, and a SQLSTATE per class of mistake. Every function that can fail returns [`Result`];
//! the error is raised once, at the SQL boundary (a `pg_extern` or a trigger), by [`raise`].
//! A PostgreSQL error raised inside a statement the extension runs is not one of these: it
//! unwinds as PostgreSQL raised it, with its own SQLSTATE.

use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use pgrx::PgLogLevel;
use std::fmt;

/// What the user reads: the message, and optionally a DETAIL and a HINT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub message: String,
    pub detail: Option<String>,
    pub hint: Option<String>,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// The extension's errors, by class; each class has its SQLSTATE ([`Error::sqlstate`]).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A bad argument or setting (22023).
    #[error("{0}")]
    InvalidParameter(Report),
    /// A NULL where a value is needed (22004).
    #[error("{0}")]
    NullValue(Report),
    /// A value that is not an interval or a time (22007).
    #[error("{0}")]
    InvalidDatetime(Report),
    /// A schema that does not exist (3F000).
    #[error("{0}")]
    InvalidSchemaName(Report),
    /// A table that does not exist (42P01).
    #[error("{0}")]
    UndefinedTable(Report),
    /// Tables or columns that do not match the configuration (42704).
    #[error("{0}")]
    UndefinedObject(Report),
    /// A table that exists already, where the extension would create it (42P07).
    #[error("{0}")]
    DuplicateTable(Report),
    /// A table whose columns do not fit CoreForge's (42P16).
    #[error("{0}")]
    InvalidTableDefinition(Report),
    /// The caller lacks a right (42501).
    #[error("{0}")]
    InsufficientPrivilege(Report),
    /// A step out of order, or refused in this state (55000).
    #[error("{0}")]
    OutOfOrder(Report),
    /// A lock held by someone else longer than lock_timeout (55P03).
    #[error("{0}")]
    LockNotAvailable(Report),
    /// A legacy row that cannot be mirrored, with coreforge_sync.on_error = raise (23514).
    #[error("{0}")]
    CheckViolation(Report),
    /// A value that another row holds (23505).
    #[error("{0}")]
    UniqueViolation(Report),
    /// A record of the extension's own state that cannot be read (XX001): fail closed.
    #[error("{0}")]
    Corrupted(Report),
    /// SPI refused a call (a bug of the extension, XX000).
    #[error("coreforge_sync: {0}")]
    Spi(#[from] pgrx::spi::SpiError),
    /// No Argon2id hash could be made (no randomness for the salt, XX000). Never shows a password.
    #[error("coreforge_sync: could not make an Argon2id hash: {0}")]
    Hash(#[from] password_hash::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Report {
    pub fn new(message: impl Into<String>) -> Report {
        Report { message: message.into(), detail: None, hint: None }
    }
}

macro_rules! constructors {
    ($($fn:ident => $variant:ident),* $(,)?) => {
        impl Error {
            $(
                pub fn $fn(message: impl Into<String>) -> Error {
                    Error::$variant(Report::new(message))
                }
            )*
        }
    };
}

constructors! {
    invalid => InvalidParameter,
    null_value => NullValue,
    invalid_datetime => InvalidDatetime,
    no_schema => InvalidSchemaName,
    no_table => UndefinedTable,
    mismatch => UndefinedObject,
    duplicate_table => DuplicateTable,
    bad_table => InvalidTableDefinition,
    rights => InsufficientPrivilege,
    out_of_order => OutOfOrder,
    lock_timeout => LockNotAvailable,
    check => CheckViolation,
    unique => UniqueViolation,
    corrupted => Corrupted,
}

impl Error {
    fn report_mut(&mut self) -> Option<&mut Report> {
        match self {
            Error::InvalidParameter(r)
            | Error::NullValue(r)
            | Error::InvalidDatetime(r)
            | Error::InvalidSchemaName(r)
            | Error::UndefinedTable(r)
            | Error::UndefinedObject(r)
            | Error::DuplicateTable(r)
            | Error::InvalidTableDefinition(r)
            | Error::InsufficientPrivilege(r)
            | Error::OutOfOrder(r)
            | Error::LockNotAvailable(r)
            | Error::CheckViolation(r)
            | Error::UniqueViolation(r)
            | Error::Corrupted(r) => Some(r),
            Error::Spi(_) | Error::Hash(_) => None,
        }
    }

    /// The same error with a DETAIL.
    pub fn detail(mut self, detail: impl Into<String>) -> Error {
        if let Some(r) = self.report_mut() {
            r.detail = Some(detail.into());
        }
        self
    }

    /// The same error with a HINT.
    pub fn hint(mut self, hint: impl Into<String>) -> Error {
        if let Some(r) = self.report_mut() {
            r.hint = Some(hint.into());
        }
        self
    }

    pub fn sqlstate(&self) -> PgSqlErrorCode {
        use PgSqlErrorCode::*;
        match self {
            Error::InvalidParameter(_) => ERRCODE_INVALID_PARAMETER_VALUE,
            Error::NullValue(_) => ERRCODE_NULL_VALUE_NOT_ALLOWED,
            Error::InvalidDatetime(_) => ERRCODE_INVALID_DATETIME_FORMAT,
            Error::InvalidSchemaName(_) => ERRCODE_INVALID_SCHEMA_NAME,
            Error::UndefinedTable(_) => ERRCODE_UNDEFINED_TABLE,
            Error::UndefinedObject(_) => ERRCODE_UNDEFINED_OBJECT,
            Error::DuplicateTable(_) => ERRCODE_DUPLICATE_TABLE,
            Error::InvalidTableDefinition(_) => ERRCODE_INVALID_TABLE_DEFINITION,
            Error::InsufficientPrivilege(_) => ERRCODE_INSUFFICIENT_PRIVILEGE,
            Error::OutOfOrder(_) => ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
            Error::LockNotAvailable(_) => ERRCODE_LOCK_NOT_AVAILABLE,
            Error::CheckViolation(_) => ERRCODE_CHECK_VIOLATION,
            Error::UniqueViolation(_) => ERRCODE_UNIQUE_VIOLATION,
            Error::Corrupted(_) => ERRCODE_DATA_CORRUPTED,
            Error::Spi(_) | Error::Hash(_) => ERRCODE_INTERNAL_ERROR,
        }
    }

    /// Raises this error as a PostgreSQL ERROR. Called at the SQL boundary only.
    pub fn raise(mut self) -> ! {
        let code = self.sqlstate();
        let message = self.to_string();
        let mut report = ErrorReport::new(code, message, "coreforge_sync");
        if let Some(r) = self.report_mut() {
            if let Some(d) = r.detail.take() {
                report = report.set_detail(d);
            }
            if let Some(h) = r.hint.take() {
                report = report.set_hint(h);
            }
        }
        report.report(PgLogLevel::ERROR);
        unreachable!("ERROR does not return")
    }
}

/// The SQL boundary: the value, or the error raised.
pub fn raise<T>(result: Result<T>) -> T {
    result.unwrap_or_else(|e| e.raise())
}
