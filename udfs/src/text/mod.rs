//! Tokenisation, owned in one place: every function that reads text (the
//! quality filter's rules, the ratings, the signals) takes its words,
//! sentences and distinct-word counts from here, so a text is walked once
//! per function and the definitions cannot drift apart.
//!
//! - [`words`]: UAX #29 words, with an exact ASCII fast path.
//! - [`prose`]: one walk over sentences and words that yields the counts the
//!   ratings and signals are made from.
//! - [`intern`]: exact, reusable string sets and ids (foldhash, no per-row
//!   tables).
//! - [`spacy_words`], [`python_str`]: words and lines as datatrove's filters
//!   see them (spaCy's English tokens, Python's `str`), for the
//!   `datatrove*` filter specs.
//! - [`shingles`]: the normal form and the word n-gram shingles the
//!   duplicate detectors read.
//! - [`columns`]: reading a text argument of any Arrow string type.
//! - [`token_count`]: a text's tokens under a HuggingFace tokenizer (or the
//!   `approx` estimate), the unit of token budgets.

pub mod columns;
pub mod intern;
pub mod prose;
pub mod python_str;
pub mod sentences;
pub mod shingles;
pub mod spacy_words;
pub mod token_count;
pub mod words;

/// Characters (code points) of `s`, without decoding an ASCII string.
pub fn char_count(s: &str) -> usize {
    if s.is_ascii() { s.len() } else { s.chars().count() }
}

/// `part / whole`, and 0 for an empty whole, so that a text without words
/// or lines gives finite values, never NaN.
pub fn ratio(part: usize, whole: usize) -> f64 {
    if whole == 0 { 0.0 } else { part as f64 / whole as f64 }
}
