//! Identifiers as PostgreSQL parses them.

use crate::quote::literal;

/// Splits `schema.table` by SQL's quoting rules (as `parse_ident` does): unquoted parts are folded
/// to lower case, `"..."` parts are taken as written (`""` is a quote). No schema means public.
pub fn split_table(table: &str, problems: &mut Vec<String>) -> Option<(String, String)> {
    let parsed = parse_ident(table);
    match parsed.as_deref() {
        Some([name]) => Some(("public".into(), name.clone())),
        Some([schema, name]) => Some((schema.clone(), name.clone())),
        _ => {
            problems.push(format!(
                "\"table\": {} is not a table name (write schema.table; quote odd names: crm.\"My Table\")",
                literal(table)
            ));
            None
        }
    }
}

pub fn parse_ident(s: &str) -> Option<Vec<String>> {
    let mut parts = Vec::new();
    let mut chars = s.trim().chars().peekable();
    loop {
        let mut part = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next()? {
                    '"' if chars.peek() == Some(&'"') => {
                        chars.next();
                        part.push('"');
                    }
                    '"' => break,
                    c => part.push(c),
                }
            }
        } else {
            // As PostgreSQL's scanner: letters, digits, `_`, `$` and any non-ASCII character; and
            // as its downcase_identifier() in a multibyte encoding: only ASCII letters are folded
            // (`crm.Überkunden` names the table "Überkunden").
            while let Some(&c) = chars.peek() {
                if c.is_ascii_alphanumeric() || c == '_' || c == '$' || !c.is_ascii() {
                    part.push(c.to_ascii_lowercase());
                    chars.next();
                } else {
                    break;
                }
            }
        }
        if part.is_empty() {
            return None;
        }
        parts.push(part);
        match chars.next() {
            None => return Some(parts),
            Some('.') => continue,
            Some(_) => return None,
        }
    }
}
