//! datatrove 0.10's MinHash signature (`MinhashDedupSignature`, stage 1 of
//! its dedup), value for value, for the `datatrove` MinHash spec: FineWeb
//! users get the documents datatrove removes.
//!
//! Where it differs from odis's own signature, and why each part is kept:
//! - the text is "simplified" first (`simplify_text` at its defaults:
//!   lowercase, every run of digits with its decimal part a `0`, datatrove's
//!   punctuation a space, whitespace runs one space, accents dropped), then
//!   split into spaCy's English tokens (`text::spacy_words`): copies that
//!   differ in a number or an accent are equal to datatrove;
//! - a shingle is 5 tokens joined by spaces, hashed by xxHash64 (seed 0);
//! - the hash functions are `(a·x + b mod 2^64) mod (2^61 − 1)` with `a`, `b`
//!   drawn by numpy's legacy `RandomState(seed).randint` (MT19937, masked
//!   rejection): the same parameters give the same minima;
//! - a text of fewer than 5 tokens has no shingle and no signature: datatrove
//!   never counts it as a duplicate.
//!
//! Signatures keep the low 32 bits of each 61-bit minimum. Two bands whose
//! 8 values differ but agree in their low 32 bits would match where
//! datatrove's do not: a chance of 2^-32 for a band that differs in a single
//! value, 2^-256 for unrelated texts.

use unicode_categories::UnicodeCategories;
use unicode_normalization::UnicodeNormalization;

use crate::filter::datatrove::{PUNCTUATION, is_control};
use crate::text::python_str;
use crate::text::spacy_words::{self, TokenScratch};

/// The Mersenne prime 2^61 − 1 that datatrove's hash functions reduce by.
const MERSENNE: u64 = (1 << 61) - 1;

/// The largest seed: numpy's `RandomState` takes a 32-bit one.
pub const MAX_SEED: u64 = u32::MAX as u64;

/// The hash functions of a spec (`hashes` of them, from `seed`), and the
/// buffers reused across texts.
#[derive(Debug)]
pub struct DatatroveSigner {
    ngram: usize,
    a: Vec<u64>,
    b: Vec<u64>,
    simple: String,
    tokens: Vec<(usize, usize)>,
    scratch: TokenScratch,
    shingle: String,
    shingles: Vec<u64>,
}

impl DatatroveSigner {
    /// `seed` must be at most [`MAX_SEED`] (the spec checks it).
    pub fn new(ngram: usize, hashes: usize, seed: u64) -> Self {
        let mut mt = Mt19937::new(seed as u32);
        // Two calls of randint, as datatrove makes them: all of a, then all of b.
        let a = (0..hashes).map(|_| mt.below(1, MERSENNE)).collect();
        let b = (0..hashes).map(|_| mt.below(0, MERSENNE)).collect();
        DatatroveSigner {
            ngram,
            a,
            b,
            simple: String::new(),
            tokens: Vec::new(),
            scratch: TokenScratch::default(),
            shingle: String::new(),
            shingles: Vec::new(),
        }
    }

    /// The signature of `text` into `out`: the low 32 bits of each
    /// function's minimum. False, and `out` empty, for a text without a
    /// shingle.
    pub fn signature(&mut self, text: &str, out: &mut Vec<u32>) -> bool {
        out.clear();
        simplify(text, &mut self.simple);
        self.tokens.clear();
        spacy_words::tokens(&self.simple, &mut self.scratch, &mut self.tokens);
        let simple = &self.simple;
        // datatrove strips each token and drops the empty ones.
        self.tokens.retain(|&(s, e)| !python_str::strip(&simple[s..e]).is_empty());
        if self.tokens.len() < self.ngram {
            return false;
        }
        self.shingles.clear();
        for window in self.tokens.windows(self.ngram) {
            self.shingle.clear();
            for (i, &(s, e)) in window.iter().enumerate() {
                if i > 0 {
                    self.shingle.push(' ');
                }
                self.shingle.push_str(python_str::strip(&simple[s..e]));
            }
            self.shingles.push(xxhash_rust::xxh64::xxh64(self.shingle.as_bytes(), 0));
        }
        out.extend(self.a.iter().zip(&self.b).map(|(&a, &b)| {
            let minimum = self.shingles.iter().map(|&x| mod_mersenne(x.wrapping_mul(a).wrapping_add(b))).min().unwrap_or(u64::MAX);
            minimum as u32
        }));
        true
    }
}

/// `x mod (2^61 − 1)`: x = hi·2^61 + lo ≡ hi + lo, which is below 2·(2^61 − 1).
fn mod_mersenne(x: u64) -> u64 {
    let folded = (x & MERSENNE) + (x >> 61);
    if folded >= MERSENNE { folded - MERSENNE } else { folded }
}

/// Whether `simplify_text` makes `c` a space: datatrove's punctuation and
/// control characters (a sorted table: the text's every character is
/// looked up).
fn is_punctuation(c: char) -> bool {
    static SORTED: std::sync::LazyLock<Vec<char>> = std::sync::LazyLock::new(|| {
        let mut chars: Vec<char> = PUNCTUATION.chars().collect();
        chars.sort_unstable();
        chars.dedup();
        chars
    });
    is_control(c) || SORTED.binary_search(&c).is_ok()
}

/// The separators a number's decimal part may follow (datatrove's
/// `NUMBERS_PATTERN`).
const DECIMAL_SEPARATORS: [char; 7] = ['.', ',', '،', '٫', '⎖', '⎗', '⎘'];

/// datatrove's `simplify_text` at its defaults, into `out`.
pub fn simplify(text: &str, out: &mut String) {
    out.clear();
    let lower = text.to_lowercase();
    // Numbers, then punctuation, in one pass: a number's separator is
    // consumed before it could become a space.
    let mut spaced = String::with_capacity(lower.len());
    let mut chars = lower.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_number_decimal_digit() {
            while chars.peek().is_some_and(|d| d.is_number_decimal_digit()) {
                chars.next();
            }
            let mut ahead = chars.clone();
            if ahead.next().is_some_and(|s| DECIMAL_SEPARATORS.contains(&s)) && ahead.peek().is_some_and(|d| d.is_number_decimal_digit()) {
                chars.next();
                while chars.peek().is_some_and(|d| d.is_number_decimal_digit()) {
                    chars.next();
                }
            }
            spaced.push('0');
        } else if is_punctuation(c) {
            spaced.push(' ');
        } else {
            spaced.push(c);
        }
    }
    // Whitespace runs one space, then NFD without its non-spacing marks.
    let mut collapsed = String::with_capacity(spaced.len());
    for (i, piece) in python_str::split_whitespace(&spaced).enumerate() {
        if i > 0 {
            collapsed.push(' ');
        }
        collapsed.push_str(piece);
    }
    out.extend(collapsed.nfd().filter(|c| !c.is_mark_nonspacing()));
    let stripped = python_str::strip(out).len();
    if stripped != out.len() {
        *out = python_str::strip(out).to_string();
    }
}

/// MT19937 seeded as numpy's legacy `RandomState(seed)` seeds it (the
/// reference `init_genrand`), drawing bounded 64-bit integers as its
/// `randint(low, high, dtype=uint64)` does. Written here: it is the
/// published algorithm, and every draw must be numpy's, bit for bit.
struct Mt19937 {
    state: [u32; 624],
    index: usize,
}

impl Mt19937 {
    fn new(seed: u32) -> Self {
        let mut state = [0u32; 624];
        state[0] = seed;
        for i in 1..624 {
            state[i] = 1_812_433_253u32.wrapping_mul(state[i - 1] ^ (state[i - 1] >> 30)).wrapping_add(i as u32);
        }
        Mt19937 { state, index: 624 }
    }

    fn next_u32(&mut self) -> u32 {
        if self.index >= 624 {
            for k in 0..624 {
                let y = (self.state[k] & 0x8000_0000) | (self.state[(k + 1) % 624] & 0x7fff_ffff);
                self.state[k] = self.state[(k + 397) % 624] ^ (y >> 1) ^ if y & 1 == 1 { 0x9908_b0df } else { 0 };
            }
            self.index = 0;
        }
        let mut y = self.state[self.index];
        self.index += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }

    /// An integer in [low, high): numpy draws 64 bits (the first 32 the
    /// high half), masks them to the range's bit length and redraws past it.
    fn below(&mut self, low: u64, high: u64) -> u64 {
        let range = high - 1 - low;
        let mask = u64::MAX >> range.leading_zeros();
        loop {
            let value = ((u64::from(self.next_u32()) << 32) | u64::from(self.next_u32())) & mask;
            if value <= range {
                return low + value;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The parameters numpy's `RandomState(1).randint(1, 2**61 - 1,
    /// dtype=np.uint64, size=3)` gives.
    #[test]
    fn parameters_are_numpys() {
        let signer = DatatroveSigner::new(5, 112, 1);
        assert_eq!(signer.a[..3], [775169054918279404, 1758426461858698313, 2109959069025162]);
        assert!(signer.a.iter().chain(&signer.b).all(|&v| v < MERSENNE));
    }

    #[test]
    fn the_mersenne_reduction_is_the_remainder() {
        let mut state = 3u64;
        for x in [0, 1, MERSENNE - 1, MERSENNE, MERSENNE + 1, 2 * MERSENNE, u64::MAX, u64::MAX - 1]
            .into_iter()
            .chain((0..10_000).map(|_| crate::spec::splitmix64(&mut state)))
        {
            assert_eq!(mod_mersenne(x), x % MERSENNE, "{x}");
        }
        for c in PUNCTUATION.chars().chain(['\u{0}', '\u{1f}', '\u{85}']) {
            assert!(is_punctuation(c), "{c:?}");
        }
        for c in ['a', '0', ' ', '\n', '\t', 'é', '\u{a0}'] {
            assert!(!is_punctuation(c), "{c:?}");
        }
    }

    #[test]
    fn texts_are_simplified_as_datatrove_does() {
        let mut out = String::new();
        let mut simple = |t: &str| {
            simplify(t, &mut out);
            out.clone()
        };
        assert_eq!(simple("  Hello,\tWORLD!\n"), "hello world");
        assert_eq!(simple("In 1999 it cost 3.50 or 1,000,000 units"), "in 0 it cost 0 or 0 0 units");
        assert_eq!(simple("Café naïve—déjà vu"), "cafe naive deja vu");
        assert_eq!(simple("x ١٢٣ y"), "x 0 y");
        assert_eq!(simple("...!!!"), "");
    }

    #[test]
    fn a_text_of_fewer_than_ngram_tokens_has_no_signature() {
        let mut signer = DatatroveSigner::new(5, 112, 1);
        let mut out = Vec::new();
        assert!(!signer.signature("only four words here", &mut out));
        assert!(out.is_empty());
        assert!(signer.signature("now there are five words", &mut out));
        assert_eq!(out.len(), 112);
        let first = out.clone();
        // Case, punctuation and digits are simplified away.
        assert!(signer.signature("NOW, there are 5 words!", &mut out));
        let mut again = Vec::new();
        assert!(signer.signature("now there are 7 words", &mut again));
        assert_eq!(out, again);
        assert_ne!(out, first);
    }
}
