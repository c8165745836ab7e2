//! Variables in SQL scripts: `${NAME}` and `${NAME:-default}`, set with
//! `odis -v NAME=VALUE`, so that one script in `sql/` serves any corpus.
//!
//! Values are pasted as they are (a script quotes them where it needs a
//! string). `--` comments are copied untouched, so a script can document
//! its variables in its own syntax.

use std::collections::BTreeMap;

use crate::error::{OdisError, Result};

/// Replaces every `${NAME}` / `${NAME:-default}` in `sql` outside comments.
pub fn substitute(sql: &str, vars: &BTreeMap<String, String>) -> Result<String> {
    let mut out = String::with_capacity(sql.len());
    let mut rest = sql;
    let mut in_string = false;
    while let Some(c) = rest.chars().next() {
        if !in_string && rest.starts_with("--") {
            let end = rest.find('\n').unwrap_or(rest.len());
            out.push_str(&rest[..end]);
            rest = &rest[end..];
            continue;
        }
        if rest.starts_with("${") {
            let end = closing_brace(rest).ok_or_else(|| {
                OdisError::InvalidArgument(format!(
                    "unclosed variable reference '{}': write ${{NAME}} or ${{NAME:-default}}",
                    rest.lines().next().unwrap_or(rest)
                ))
            })?;
            let body = &rest[2..end];
            let (name, default) = match body.split_once(":-") {
                Some((name, default)) => (name, Some(default)),
                None => (body, None),
            };
            if !is_name(name) {
                return Err(OdisError::InvalidArgument(format!(
                    "'${{{body}}}' is not a variable reference: names are letters, digits and _"
                )));
            }
            match (vars.get(name), default) {
                (Some(value), _) => out.push_str(value),
                // A default may use other variables: ${scores:-f("${text:-text}")}.
                (None, Some(default)) => out.push_str(&substitute(default, vars)?),
                (None, None) => {
                    return Err(OdisError::InvalidArgument(format!(
                        "the script uses ${{{name}}} but it is not set; pass -v {name}=VALUE"
                    )));
                }
            }
            rest = &rest[end + 1..];
            continue;
        }
        if c == '\'' {
            in_string = !in_string;
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    Ok(out)
}

/// The byte offset of the `}` that closes the `${` at the start of `text`,
/// skipping nested `${...}` references.
fn closing_brace(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'$' && bytes.get(i + 1) == Some(&b'{') {
            depth += 1;
            i += 2;
            continue;
        }
        if bytes[i] == b'}' {
            depth -= 1;
            if depth == 0 {
                return Some(i);
            }
        }
        i += 1;
    }
    None
}

/// `text` for use inside a single-quoted SQL string.
pub fn escape_string(text: &str) -> String {
    text.replace('\'', "''")
}

/// `text` for use inside a double-quoted SQL identifier.
pub fn escape_ident(text: &str) -> String {
    text.replace('"', "\"\"")
}

fn is_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Parses `NAME=VALUE` (the CLI's `-v`).
pub fn parse_assignment(text: &str) -> std::result::Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, value)) if is_name(name) => Ok((name.to_string(), value.to_string())),
        _ => Err(format!("expected NAME=VALUE (NAME: letters, digits, _), e.g. -v input=corpus.parquet, got '{text}'")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn values_defaults_and_comments() {
        let sql = "-- uses ${input} and ${x:-1}\nSELECT * FROM '${input}' LIMIT ${n:-10}; -- ${ignored}\nSELECT '--${input}'";
        let got = substitute(sql, &vars(&[("input", "a.parquet")])).unwrap();
        assert_eq!(
            got,
            "-- uses ${input} and ${x:-1}\nSELECT * FROM 'a.parquet' LIMIT 10; -- ${ignored}\nSELECT '--a.parquet'"
        );
        assert_eq!(substitute("LIMIT ${n:-10}", &vars(&[("n", "3")])).unwrap(), "LIMIT 3");
    }

    #[test]
    fn defaults_may_use_other_variables() {
        let sql = "SELECT ${scores:-f(\"${text:-text}\")} FROM t";
        assert_eq!(substitute(sql, &vars(&[])).unwrap(), "SELECT f(\"text\") FROM t");
        assert_eq!(substitute(sql, &vars(&[("text", "body")])).unwrap(), "SELECT f(\"body\") FROM t");
        assert_eq!(substitute(sql, &vars(&[("scores", "s"), ("text", "body")])).unwrap(), "SELECT s FROM t");
    }

    #[test]
    fn unset_and_malformed_references_are_errors() {
        let e = substitute("SELECT ${budget}", &vars(&[])).unwrap_err().to_string();
        assert!(e.contains("-v budget=VALUE"), "{e}");
        let e = substitute("SELECT ${budget", &vars(&[])).unwrap_err().to_string();
        assert!(e.contains("unclosed"), "{e}");
        let e = substitute("SELECT ${a b}", &vars(&[])).unwrap_err().to_string();
        assert!(e.contains("not a variable reference"), "{e}");
        assert!(parse_assignment("=x").is_err());
        assert_eq!(parse_assignment("a=b=c").unwrap(), ("a".into(), "b=c".into()));
    }
}
