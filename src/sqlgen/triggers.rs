//! The WHEN clause of the UPDATE row triggers (`db/triggers.rs`).

use crate::quote::ident;

/// True for a row whose `columns` changed: their old and new values compared byte for byte, as
/// the `*=` operator compares records (`record_image_eq`), so a change that the type's equality
/// would call equal (`1.0` to `1.00`, a citext email's case) still counts. NULL against NULL is no
/// change. (The function, not the operator: PostgreSQL prints the clause back without a cast, and
/// `ROW(...) *= ROW(...)` would then be read as a comparison column by column, which has no `*=`,
/// and fail to restore from a dump.)
pub fn changed(columns: &[&str]) -> String {
    let row = |side: &str| {
        let cols: Vec<String> = columns.iter().map(|c| format!("{side}.{}", ident(c))).collect();
        format!("ROW({})", cols.join(", "))
    };
    format!("NOT pg_catalog.record_image_eq({}, {})", row("OLD"), row("NEW"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn compares_the_columns_as_records() {
        assert_eq!(
            super::changed(&["id", "Name"]),
            "NOT pg_catalog.record_image_eq(ROW(OLD.\"id\", OLD.\"Name\"), ROW(NEW.\"id\", NEW.\"Name\"))"
        );
    }
}
