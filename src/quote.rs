//! Layer 0: quoting of identifiers and literals for the SQL the extension generates.
//! Every name that reaches generated SQL goes through here: a name is never SQL.

/// A quoted identifier: `"users"`, `"odd""name"`.
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `"schema"."table"`.
pub fn qualified(schema: &str, name: &str) -> String {
    format!("{}.{}", ident(schema), ident(name))
}

/// A quoted string literal, safe with any standard_conforming_strings setting.
pub fn literal(value: &str) -> String {
    if value.contains('\\') {
        format!("E'{}'", value.replace('\\', "\\\\").replace('\'', "''"))
    } else {
        format!("'{}'", value.replace('\'', "''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(ident("users"), "\"users\"");
        assert_eq!(ident("Users; DROP TABLE x"), "\"Users; DROP TABLE x\"");
        assert_eq!(ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(qualified("public", "cf_users"), "\"public\".\"cf_users\"");
        assert_eq!(literal("it's"), "'it''s'");
        assert_eq!(literal("a\\b'"), "E'a\\\\b'''");
    }
}
