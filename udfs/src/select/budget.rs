//! How much to select: the one budget type of the selection functions and
//! of `odis select`.

use std::fmt;
use std::str::FromStr;

/// How many rows to select.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Budget {
    Rows(u64),
    /// A fraction in (0, 1) of the table's row count, rounded down.
    Fraction(f64),
}

impl Budget {
    /// The rows this budget selects of `row_count`.
    pub fn resolve(&self, row_count: u64) -> u64 {
        match *self {
            Budget::Rows(n) => n,
            Budget::Fraction(f) => (f * row_count as f64).floor() as u64,
        }
    }

    /// The budget as the selection functions take it in SQL (`5000`, `0.1`).
    pub fn sql_literal(&self) -> String {
        match self {
            Budget::Rows(n) => n.to_string(),
            Budget::Fraction(x) => x.to_string(),
        }
    }
}

/// `5000 rows`, `0.1 of the rows`.
impl fmt::Display for Budget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Budget::Rows(n) => write!(f, "{n} rows"),
            Budget::Fraction(x) => write!(f, "{x} of the rows"),
        }
    }
}

impl FromStr for Budget {
    type Err = String;

    /// `10%`, `0.1` or `5000`.
    fn from_str(text: &str) -> Result<Self, String> {
        let fail = || format!("expected a row count (5000), a percentage (10%) or a fraction (0.1), got '{text}'");
        let text = text.trim();
        let fraction = if let Some(percent) = text.strip_suffix('%') {
            percent.trim().parse::<f64>().map_err(|_| fail())? / 100.0
        } else if let Ok(rows) = text.parse::<u64>() {
            return if rows == 0 { Err("the budget must be at least 1 row".into()) } else { Ok(Budget::Rows(rows)) };
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
    fn resolves_fractions_rounding_down() {
        assert_eq!(Budget::Fraction(0.1).resolve(99), 9);
        assert_eq!(Budget::Rows(7).resolve(99), 7);
        assert_eq!(Budget::Fraction(0.1).sql_literal(), "0.1");
    }
}
