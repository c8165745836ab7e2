//! What the functions with settings share: `KEY=VALUE,...` spec strings
//! (`text_minhash`'s, `kmeans_fit`'s) and seeded streams of numbers.

use datafusion::common::ScalarValue;
use datafusion::error::{DataFusionError, Result};

/// A function's `spec` argument, parsed by `parse`: it must be a string
/// literal (`value` is None when it is not a literal), e.g. `example`.
pub fn argument<T>(
    function: &str,
    value: Option<&ScalarValue>,
    example: &str,
    parse: impl FnOnce(&str) -> std::result::Result<T, String>,
) -> Result<T> {
    match value {
        Some(ScalarValue::Utf8(Some(s)) | ScalarValue::LargeUtf8(Some(s)) | ScalarValue::Utf8View(Some(s))) => {
            parse(s).map_err(|e| DataFusionError::Plan(format!("{function}: `spec` '{s}': {e}")))
        }
        _ => Err(DataFusionError::Plan(format!("{function}: `spec` must be a string literal, e.g. {example}"))),
    }
}

/// The `KEY=VALUE` items of `spec`, trimmed, empty items skipped; an item
/// without `=` is an error that shows `example`.
pub fn items<'a>(spec: &'a str, example: &'a str) -> impl Iterator<Item = std::result::Result<(&'a str, &'a str), String>> + 'a {
    spec.split(',').map(str::trim).filter(|s| !s.is_empty()).map(move |item| {
        item.split_once('=')
            .map(|(k, v)| (k.trim(), v.trim()))
            .ok_or_else(|| format!("'{item}' is not KEY=VALUE; e.g. '{example}'"))
    })
}

/// `value`, the setting of `key`, as an integer from `low` to `high`.
pub fn integer(key: &str, value: &str, low: u64, high: u64) -> std::result::Result<u64, String> {
    value
        .parse::<u64>()
        .ok()
        .filter(|v| (low..=high).contains(v))
        .ok_or_else(|| format!("{key} must be an integer from {low} to {high}, got '{value}'"))
}

/// `value`, the setting of `key`, as a number that `ok` accepts; `what`
/// says which (e.g. "a number in (0, 1)").
pub fn number(key: &str, value: &str, ok: impl Fn(f64) -> bool, what: &str) -> std::result::Result<f64, String> {
    value.parse::<f64>().ok().filter(|v| ok(*v)).ok_or_else(|| format!("{key} must be {what}, got '{value}'"))
}

/// splitmix64: a seed into a stream of well-mixed 64-bit values.
pub fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_and_integers_name_what_is_wrong() {
        let got: Vec<_> = items(" a=1, b = x ,,", "a=1").collect();
        assert_eq!(got, vec![Ok(("a", "1")), Ok(("b", "x"))]);
        assert_eq!(items("a", "a=1").next().unwrap().unwrap_err(), "'a' is not KEY=VALUE; e.g. 'a=1'");
        assert_eq!(integer("n", "7", 1, 9), Ok(7));
        assert_eq!(integer("n", "0", 1, 9).unwrap_err(), "n must be an integer from 1 to 9, got '0'");
        assert!(integer("n", "x", 1, 9).is_err());
        assert_eq!(number("x", "0.5", |v| v < 1.0, "below 1"), Ok(0.5));
        assert_eq!(number("x", "2", |v| v < 1.0, "below 1").unwrap_err(), "x must be below 1, got '2'");
        assert!(number("x", "nan?", |_| true, "a number").is_err());
    }
}
