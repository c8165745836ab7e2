//! What the duplicate detectors read of a text: its normal form (for exact
//! duplicates) and its word n-gram shingles (for near duplicates).

use unicode_normalization::UnicodeNormalization;

use crate::text::prose::push_lowercase;
use crate::text::words::for_each_word;

/// Writes the normal form of `text` into `out` (cleared first): Unicode
/// NFC, lowercase, every run of whitespace one space, none at either end.
/// Two texts that differ only in those respects have the same normal form.
pub fn normalize(text: &str, out: &mut String) {
    out.clear();
    let mut pending_space = false;
    let mut push = |c: char, out: &mut String| {
        if c.is_whitespace() {
            pending_space = !out.is_empty();
        } else {
            if pending_space {
                out.push(' ');
                pending_space = false;
            }
            out.push(c);
        }
    };
    if text.is_ascii() {
        // ASCII is its own NFC, and lowercases byte by byte.
        for b in text.bytes() {
            push(b.to_ascii_lowercase() as char, out);
        }
    } else {
        for c in text.nfc().flat_map(char::to_lowercase) {
            push(c, out);
        }
    }
}

/// Reusable buffers of [`for_each_shingle`].
#[derive(Debug, Default)]
pub struct ShingleScratch {
    word: String,
    lower: Vec<u8>,
    words: Vec<u64>,
    shingles: Vec<u64>,
}

/// Calls `shingle(hash)` with a 64-bit hash of every `n`-word shingle of
/// `text`, in order: the words are UAX #29 words (letters and digits;
/// punctuation and spacing do not count), lowercased; a shingle is `n`
/// consecutive words. A text of fewer than `n` words is one shingle of all
/// its words (of none, for a text without words). The hashes depend on the
/// words alone, not on the process or platform.
pub fn for_each_shingle(text: &str, n: usize, scratch: &mut ShingleScratch, mut shingle: impl FnMut(u64)) {
    shingle_hashes(text, n, scratch).iter().for_each(|&h| shingle(h));
}

/// The hashes [`for_each_shingle`] calls back with, as a slice of `scratch`.
pub fn shingle_hashes<'s>(text: &str, n: usize, scratch: &'s mut ShingleScratch) -> &'s [u64] {
    let ShingleScratch { word, lower, words, shingles } = scratch;
    words.clear();
    if text.is_ascii() {
        // Lowercased once for the whole text, each word is then a slice of
        // it: no copy per word (ASCII lowercases byte by byte, in place).
        lower.clear();
        lower.extend_from_slice(text.as_bytes());
        lower.make_ascii_lowercase();
        for_each_word(text, |start, end| words.push(xxhash_rust::xxh3::xxh3_64(&lower[start..end])));
    } else {
        for_each_word(text, |start, end| {
            word.clear();
            push_lowercase(&text[start..end], word);
            words.push(xxhash_rust::xxh3::xxh3_64(word.as_bytes()));
        });
    }
    shingles.clear();
    let n = n.max(1);
    if words.len() <= n {
        shingles.push(combine(words));
    } else {
        window_hashes(words, n, shingles);
    }
    shingles
}

/// Appends the hash of every window of `n` words to `out`, as [`combine`]
/// makes it.
fn window_hashes(words: &[u64], n: usize, out: &mut Vec<u64>) {
    match n {
        1 => windows::<1>(words, out),
        2 => windows::<2>(words, out),
        3 => windows::<3>(words, out),
        4 => windows::<4>(words, out),
        5 => windows::<5>(words, out),
        6 => windows::<6>(words, out),
        7 => windows::<7>(words, out),
        8 => windows::<8>(words, out),
        _ => out.extend(words.windows(n).map(combine)),
    }
}

/// The hash of every window of `N` words, as [`combine`] makes it. With the
/// width a constant, the hash's input has a known length and the branches on
/// it fold away: the shingles of a text cost half as much.
fn windows<const N: usize>(words: &[u64], out: &mut Vec<u64>) {
    out.extend(words.windows(N).map(|window| {
        let mut bytes = [0u8; 8 * 8];
        for (chunk, h) in bytes.chunks_exact_mut(8).zip(window) {
            chunk.copy_from_slice(&h.to_le_bytes());
        }
        xxhash_rust::xxh3::xxh3_64_with_seed(&bytes[..8 * N], N as u64)
    }));
}

/// One hash of a sequence of word hashes (order matters).
fn combine(words: &[u64]) -> u64 {
    let mut bytes = [0u8; 8 * 16];
    if words.len() <= 16 {
        for (chunk, h) in bytes.chunks_exact_mut(8).zip(words) {
            chunk.copy_from_slice(&h.to_le_bytes());
        }
        return xxhash_rust::xxh3::xxh3_64_with_seed(&bytes[..8 * words.len()], words.len() as u64);
    }
    let all: Vec<u8> = words.iter().flat_map(|h| h.to_le_bytes()).collect();
    xxhash_rust::xxh3::xxh3_64_with_seed(&all, words.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normal(text: &str) -> String {
        let mut out = String::new();
        normalize(text, &mut out);
        out
    }

    fn shingles(text: &str, n: usize) -> Vec<u64> {
        let mut out = Vec::new();
        for_each_shingle(text, n, &mut ShingleScratch::default(), |h| out.push(h));
        out
    }

    #[test]
    fn normal_form_ignores_case_spacing_and_composition() {
        assert_eq!(normal("  The  Cat\t\nsat. "), "the cat sat.");
        // U+00E9 and e + U+0301 are one character in NFC.
        assert_eq!(normal("Caf\u{e9} OLÉ"), normal("Cafe\u{301} ole\u{301}"));
        assert_eq!(normal("\u{2003}a\u{a0}b\u{3000}"), "a b");
        assert_eq!(normal(" \n\t "), "");
        assert_ne!(normal("the cat"), normal("the cats"));
    }

    #[test]
    fn shingles_are_word_windows() {
        let text = "One two, three; FOUR five six";
        let hashes = shingles(text, 5);
        assert_eq!(hashes.len(), 2);
        // Punctuation, spacing and case do not change a shingle.
        assert_eq!(shingles("one two three four five six", 5), hashes);
        assert_eq!(shingles("one   two\nthree four five", 5)[0], hashes[0]);
        // Order does.
        assert_ne!(shingles("two one three four five", 5)[0], hashes[0]);
        // Fewer words than n: one shingle of them all; no words: one too.
        assert_eq!(shingles("one two", 5).len(), 1);
        assert_eq!(shingles("", 5), shingles("  ... ", 5));
        assert_ne!(shingles("one two", 5), shingles("one", 5));
        assert_eq!(shingles("a b c", 1).len(), 3);
    }

    #[test]
    fn fixed_widths_hash_as_any_width_does() {
        // Word hashes of many 64-bit patterns; 20 words give windows of
        // every width up to 12 (those with a fixed-width path and not).
        let words: Vec<u64> = (0..20u64).map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ (i << 60)).collect();
        for n in 1..=12 {
            let mut got = Vec::new();
            window_hashes(&words, n, &mut got);
            assert_eq!(got, words.windows(n).map(combine).collect::<Vec<_>>(), "width {n}");
        }
    }
}
