//! How much to select: the one budget type of the selection functions and
//! of `odis select`.

use std::fmt;
use std::str::FromStr;

/// How much to select.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Budget {
    Rows(u64),
    /// A fraction in (0, 1) of the table's row count (or, for a selection
    /// that has a cost column, of its total cost), rounded down.
    Fraction(f64),
    /// Tokens of a tokenizer (`30B tokens`).
    Tokens(u64),
    /// UTF-8 bytes of text (`20GB`).
    Bytes(u64),
}

impl Budget {
    /// The rows (or cost units) this budget selects of `total`.
    pub fn resolve(&self, total: u64) -> u64 {
        match *self {
            Budget::Rows(n) | Budget::Tokens(n) | Budget::Bytes(n) => n,
            Budget::Fraction(f) => (f * total as f64).floor() as u64,
        }
    }

    /// The budget as the selection functions take it in SQL (`5000`, `0.1`);
    /// a token or byte amount is a number of cost units there.
    pub fn sql_literal(&self) -> String {
        match self {
            Budget::Rows(n) | Budget::Tokens(n) | Budget::Bytes(n) => n.to_string(),
            Budget::Fraction(x) => x.to_string(),
        }
    }

    /// The budget as a selection function's `budget` argument, with its
    /// unit: `5000`, `0.1`, `'30000000000 tokens'`, `'20000000000 bytes'`
    /// (an amount of text is spent over the function's `cost` column).
    pub fn sql_argument(&self) -> String {
        match self {
            Budget::Rows(_) | Budget::Fraction(_) => self.sql_literal(),
            Budget::Tokens(_) | Budget::Bytes(_) => format!("'{self}'"),
        }
    }

    /// The cost unit the budget is spent in, if not rows.
    pub fn unit(&self) -> Option<CostUnit> {
        match self {
            Budget::Tokens(_) => Some(CostUnit::Tokens),
            Budget::Bytes(_) => Some(CostUnit::Bytes),
            _ => None,
        }
    }
}

/// What a cost budget counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CostUnit {
    Tokens,
    Bytes,
}

/// `5000 rows`, `0.1 of the rows`, `30000000000 tokens`, `20000000000 bytes`.
impl fmt::Display for Budget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Budget::Rows(n) => write!(f, "{n} rows"),
            Budget::Fraction(x) => write!(f, "{x} of the rows"),
            Budget::Tokens(n) => write!(f, "{n} tokens"),
            Budget::Bytes(n) => write!(f, "{n} bytes"),
        }
    }
}

/// `2.5` with an optional decimal suffix: K, M, B (tokens) or T.
fn amount(number: &str, multiplier: f64, text: &str) -> Result<u64, String> {
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("expected an amount such as '30B tokens', '500K tokens' or '20GB', got '{text}'"))?;
    let value = value * multiplier;
    if !value.is_finite() || value < 0.0 {
        return Err(format!("the budget must be a positive amount, got '{text}'"));
    }
    if value < 1.0 {
        return Err(format!("the budget must be at least 1, got '{text}'"));
    }
    if value >= u64::MAX as f64 {
        return Err(format!("the budget '{text}' is too large"));
    }
    Ok(value.round() as u64)
}

/// A number with an optional K, M, B or T suffix (decimal: K = 1,000).
fn scaled(text: &str, whole: &str) -> Result<u64, String> {
    let text = text.trim();
    let (number, multiplier) = match text.char_indices().last() {
        Some((at, c)) if c.is_ascii_alphabetic() && text[..at].trim().parse::<f64>().is_ok() => {
            let multiplier = match c.to_ascii_uppercase() {
                'K' => 1e3,
                'M' => 1e6,
                'B' | 'G' => 1e9,
                'T' => 1e12,
                _ => return Err(format!("unknown suffix '{c}' in '{whole}'; use K, M, B or T (thousands to trillions)")),
            };
            (&text[..at], multiplier)
        }
        _ => (text, 1.0),
    };
    amount(number, multiplier, whole)
}

impl FromStr for Budget {
    type Err = String;

    /// `10%`, `0.1`, `5000`, `30B tokens`, `500K tokens`, `20GB`, `512 MB`,
    /// `1000 bytes`. Suffixes are decimal (K = 1,000; GB = 10^9 bytes).
    fn from_str(text: &str) -> Result<Self, String> {
        let fail = || {
            format!(
                "expected a row count (5000), a percentage (10%), a fraction (0.1), tokens (30B tokens, 500K tokens) \
                 or bytes (20GB, 512MB), got '{text}'"
            )
        };
        let text = text.trim();
        let lower = text.to_ascii_lowercase();
        if let Some(tokens) = lower.strip_suffix("tokens").or_else(|| lower.strip_suffix("token")) {
            return scaled(tokens, text).map(Budget::Tokens);
        }
        if let Some(bytes) = lower.strip_suffix("bytes").or_else(|| lower.strip_suffix("byte")) {
            return amount(bytes, 1.0, text).map(Budget::Bytes);
        }
        for (suffix, multiplier) in [("tb", 1e12), ("gb", 1e9), ("mb", 1e6), ("kb", 1e3)] {
            if let Some(bytes) = lower.strip_suffix(suffix) {
                return amount(bytes, multiplier, text).map(Budget::Bytes);
            }
        }
        if let Some(number) = lower.strip_suffix(['k', 'm', 'b', 't']) {
            if number.trim().parse::<f64>().is_ok() {
                return Err(format!(
                    "'{text}' has no unit: say '{text} tokens' for tokens, '{}' for bytes, or give a row count",
                    if lower.ends_with('b') { format!("{}GB", number.trim()) } else { format!("{text}B") }
                ));
            }
        }
        let fraction = if let Some(percent) = text.strip_suffix('%') {
            percent.trim().parse::<f64>().map_err(|_| fail())? / 100.0
        } else if let Ok(rows) = text.parse::<u64>() {
            return if rows == 0 { Err("the budget must be at least 1 row".into()) } else { Ok(Budget::Rows(rows)) };
        } else if text.starts_with('-') && text.parse::<f64>().is_ok() {
            return Err(format!("the budget must be positive, got '{text}'"));
        } else if let Some(unit) = text.split_whitespace().nth(1) {
            return Err(format!("unknown unit '{unit}' in '{text}'; use rows (5000), %, tokens (30B tokens) or bytes (20GB)"));
        } else {
            text.parse::<f64>().map_err(|_| fail())?
        };
        if fraction > 0.0 && fraction < 1.0 {
            Ok(Budget::Fraction(fraction))
        } else {
            Err(format!("a fractional budget must be between 0% and 100% (exclusive), got '{text}'"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rows_percentages_and_fractions() {
        assert_eq!("5000".parse::<Budget>(), Ok(Budget::Rows(5000)));
        assert_eq!(" 10% ".parse::<Budget>(), Ok(Budget::Fraction(0.1)));
        assert_eq!("0.25".parse::<Budget>(), Ok(Budget::Fraction(0.25)));
        assert!("0".parse::<Budget>().unwrap_err().contains("at least 1 row"));
        assert!("100%".parse::<Budget>().unwrap_err().contains("between 0% and 100%"));
        assert!("ten".parse::<Budget>().unwrap_err().contains("got 'ten'"));
    }

    #[test]
    fn parses_token_and_byte_amounts() {
        assert_eq!("30B tokens".parse::<Budget>(), Ok(Budget::Tokens(30_000_000_000)));
        assert_eq!("500K tokens".parse::<Budget>(), Ok(Budget::Tokens(500_000)));
        assert_eq!("2.5M Tokens".parse::<Budget>(), Ok(Budget::Tokens(2_500_000)));
        assert_eq!("1200 tokens".parse::<Budget>(), Ok(Budget::Tokens(1200)));
        assert_eq!("20GB".parse::<Budget>(), Ok(Budget::Bytes(20_000_000_000)));
        assert_eq!("512 MB".parse::<Budget>(), Ok(Budget::Bytes(512_000_000)));
        assert_eq!("1000 bytes".parse::<Budget>(), Ok(Budget::Bytes(1000)));
        assert_eq!(Budget::Tokens(500_000).sql_literal(), "500000");
        assert_eq!(Budget::Bytes(7).unit(), Some(CostUnit::Bytes));
    }

    #[test]
    fn bad_amounts_say_what_to_write() {
        assert!("0 tokens".parse::<Budget>().unwrap_err().contains("at least 1"));
        assert!("-5 tokens".parse::<Budget>().unwrap_err().contains("positive"));
        assert!("-5".parse::<Budget>().unwrap_err().contains("positive"));
        assert!("30 widgets".parse::<Budget>().unwrap_err().contains("unknown unit 'widgets'"));
        assert!("30X tokens".parse::<Budget>().unwrap_err().contains("unknown suffix 'x'"));
        assert!("30B".parse::<Budget>().unwrap_err().contains("'30B tokens'"));
        assert!("many tokens".parse::<Budget>().unwrap_err().contains("expected an amount"));
    }

    #[test]
    fn a_budget_keeps_its_unit_as_an_argument() {
        for budget in [Budget::Rows(5000), Budget::Fraction(0.1), Budget::Tokens(30_000_000_000), Budget::Bytes(20)] {
            let argument = budget.sql_argument();
            assert_eq!(argument.trim_matches('\'').parse::<Budget>(), Ok(budget), "{argument}");
        }
        assert_eq!(Budget::Tokens(500_000).sql_argument(), "'500000 tokens'");
    }

    #[test]
    fn resolves_fractions_rounding_down() {
        assert_eq!(Budget::Fraction(0.1).resolve(99), 9);
        assert_eq!(Budget::Rows(7).resolve(99), 7);
        assert_eq!(Budget::Fraction(0.1).sql_literal(), "0.1");
    }
}
