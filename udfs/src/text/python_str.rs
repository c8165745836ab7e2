//! Python's `str` semantics where a reference implementation written in
//! Python depends on them (datatrove's filters): what counts as whitespace,
//! `splitlines()`, `strip()`, `split()`, `len()`.

/// Python's `str.isspace()` for one character: Unicode White_Space plus the
/// four information separators U+001C..U+001F.
pub fn is_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// `s.strip()`.
pub fn strip(s: &str) -> &str {
    s.trim_matches(is_space)
}

/// `s.split()`: runs of whitespace separate; no empty pieces.
pub fn split_whitespace(s: &str) -> impl Iterator<Item = &str> {
    s.split(is_space).filter(|w| !w.is_empty())
}

/// `len(s)`: code points.
pub fn len(s: &str) -> usize {
    super::char_count(s)
}

/// Python's line boundaries for `splitlines()`.
fn is_line_break(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\u{0b}' | '\u{0c}' | '\u{1c}' | '\u{1d}' | '\u{1e}' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// `s.splitlines()`: `\r\n` is one break, and a break at the very end
/// starts no further (empty) line.
pub fn splitlines(s: &str) -> impl Iterator<Item = &str> {
    let mut rest = s;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        match rest.char_indices().find(|&(_, c)| is_line_break(c)) {
            None => Some(std::mem::take(&mut rest)),
            Some((at, c)) => {
                let line = &rest[..at];
                let width = if rest[at..].starts_with("\r\n") { 2 } else { c.len_utf8() };
                rest = &rest[at + width..];
                Some(line)
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitlines_like_python() {
        fn lines(s: &str) -> Vec<&str> {
            splitlines(s).collect()
        }
        assert_eq!(lines(""), Vec::<&str>::new());
        assert_eq!(lines("\n"), [""]);
        assert_eq!(lines("a\n"), ["a"]);
        assert_eq!(lines("a\r\nb\rc\u{2028}d\n\ne"), ["a", "b", "c", "d", "", "e"]);
        assert_eq!(lines("a\u{1c}b\u{85}"), ["a", "b"]);
    }

    #[test]
    fn whitespace_like_python() {
        assert_eq!(strip("\u{1f} a b\u{a0}\t"), "a b");
        assert_eq!(split_whitespace(" a\u{3000}b\u{1c}c  ").collect::<Vec<_>>(), ["a", "b", "c"]);
        assert_eq!(len("été"), 3);
    }
}
