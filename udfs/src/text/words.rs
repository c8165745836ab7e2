//! Words of a text: exactly the UAX #29 words that hold a letter or a digit
//! (what `unicode_segmentation`'s `unicode_words` yields), found faster.
//!
//! Most of a real corpus is ASCII, and on ASCII the UAX #29 word rules reduce
//! to a few byte comparisons, so the text is cut into chunks at points where
//! the rules always break and cannot look across: after an ASCII whitespace
//! byte that is followed by an ASCII byte other than whitespace. Whitespace
//! is no letter, digit or joiner, so no rule keeps it with a following
//! letter, digit or punctuation mark or looks past it; an ASCII byte is
//! never an `Extend` or `Format` character that would attach itself to the
//! whitespace; and whitespace after whitespace is excluded because two
//! spaces stay together (WB3d) and a combining mark after them joins both. A chunk that is all ASCII is split by
//! [`ascii_words`]; any other goes through `unicode_segmentation`. The
//! property test below checks the whole against `unicode_words`.

use unicode_segmentation::UnicodeSegmentation;

/// Calls `word(start, end)` with the byte range of every word of `text`, in
/// order.
pub fn for_each_word(text: &str, mut word: impl FnMut(usize, usize)) {
    let bytes = text.as_bytes();
    if text.is_ascii() {
        ascii_words(bytes, 0, &mut word);
        return;
    }
    let mut start = 0;
    while start < bytes.len() {
        let mut end = start;
        let mut ascii = true;
        while end < bytes.len() {
            let b = bytes[end];
            ascii &= b.is_ascii();
            end += 1;
            if is_break_space(b) && bytes.get(end).is_some_and(|&next| next.is_ascii() && !is_break_space(next)) {
                break;
            }
        }
        if ascii {
            ascii_words(&bytes[start..end], start, &mut word);
        } else {
            for (offset, w) in text[start..end].unicode_word_indices() {
                word(start + offset, start + offset + w.len());
            }
        }
        start = end;
    }
}

/// Appends the byte ranges of the words of `text` to `out`.
pub fn word_spans(text: &str, out: &mut Vec<(usize, usize)>) {
    for_each_word(text, |start, end| out.push((start, end)));
}

/// ASCII whitespace after which UAX #29 always breaks: space (WSegSpace),
/// tab (Other), line feed, carriage return, vertical tab and form feed
/// (the newline classes).
fn is_break_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// Byte classes of ASCII under the UAX #29 rules that [`ascii_words`]
/// applies, one table lookup per byte instead of a chain of comparisons.
const WORD: u8 = 1; // letter, digit or `_`
const LETTER: u8 = 2;
const DIGIT: u8 = 4;
const MID_LETTER: u8 = 8; // joins two letters: `:` `.` `'`
const MID_NUMBER: u8 = 16; // joins two digits: `,` `;` `.` `'`

static CLASS: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = if c.is_ascii_alphabetic() {
            WORD | LETTER
        } else if c.is_ascii_digit() {
            WORD | DIGIT
        } else {
            match c {
                b'_' => WORD,
                b':' => MID_LETTER,
                b'.' | b'\'' => MID_LETTER | MID_NUMBER,
                b',' | b';' => MID_NUMBER,
                _ => 0,
            }
        };
        b += 1;
    }
    table
};

fn class(b: u8) -> u8 {
    CLASS[b as usize]
}

/// UAX #29 on ASCII: letters, digits and `_` (ExtendNumLet) join (WB5,
/// WB8-WB10, WB13a/b); `:` `.` `'` join two letters (WB6/7); `,` `;` `.` `'`
/// join two digits (WB11/12); everything else breaks. Segments without a
/// letter or digit (a lone `_`) are not words.
///
/// The text is read 64 bytes at a time into one bit per byte for each
/// class, and the words are the runs of set bits of "word byte, or a joiner
/// between two letters or two digits": no branch per byte, one per word
/// boundary, which a byte-by-byte loop mispredicts at every word's end.
fn ascii_words(bytes: &[u8], offset: usize, word: &mut impl FnMut(usize, usize)) {
    let n = bytes.len();
    // The classes of the block's last byte, for the next block's joiners,
    // and whether a segment runs on into the next block (and from where).
    let (mut letter_before, mut digit_before) = (0u64, 0u64);
    let mut open: Option<usize> = None;
    let mut block = 0;
    let mut next = BlockMasks::of(&bytes[..n.min(64)]);
    while block < n {
        let masks = next;
        let after = block + 64;
        next = if after < n { BlockMasks::of(&bytes[after..n.min(after + 64)]) } else { BlockMasks::default() };
        // A joiner joins when the bytes on both sides are letters (or both
        // digits); the neighbours of the block's ends are in the blocks beside.
        let letter_left = (masks.letter << 1) | letter_before;
        let letter_right = (masks.letter >> 1) | (next.letter << 63);
        let digit_left = (masks.digit << 1) | digit_before;
        let digit_right = (masks.digit >> 1) | (next.digit << 63);
        let joins = (masks.mid_letter & letter_left & letter_right) | (masks.mid_number & digit_left & digit_right);
        let inside = masks.word | joins;
        let inside_before = (inside << 1) | open.is_some() as u64;
        // Bit i: a segment starts at i, or one ended at i - 1; they alternate.
        let mut edges = (inside & !inside_before) | (!inside & inside_before);
        while edges != 0 {
            let at = block + edges.trailing_zeros() as usize;
            edges &= edges - 1;
            match open.take() {
                None => open = Some(at),
                Some(start) => emit(bytes, start, at, offset, word),
            }
        }
        letter_before = masks.letter >> 63;
        digit_before = masks.digit >> 63;
        block = after;
    }
    if let Some(start) = open {
        emit(bytes, start, n, offset, word);
    }
}

/// A segment is a word if it holds a letter or a digit: one that starts
/// with either does, and a joiner is always between two of them, so only a
/// segment that starts with `_` needs a look.
fn emit(bytes: &[u8], start: usize, end: usize, offset: usize, word: &mut impl FnMut(usize, usize)) {
    if bytes[start] != b'_' || bytes[start..end].iter().any(|&b| b != b'_') {
        word(offset + start, offset + end);
    }
}

/// One bit per byte of a block of up to 64 bytes (bit i: byte i), per
/// class; bytes past the end are in none.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct BlockMasks {
    word: u64,
    letter: u64,
    digit: u64,
    mid_letter: u64,
    mid_number: u64,
}

impl BlockMasks {
    fn of(block: &[u8]) -> Self {
        #[cfg(target_arch = "x86_64")]
        if let Ok(block) = <&[u8; 64]>::try_from(block) {
            // SAFETY: every x86_64 CPU has SSE2.
            return unsafe { Self::of_full_sse2(block) };
        }
        Self::of_scalar(block)
    }

    fn of_scalar(block: &[u8]) -> Self {
        let mut masks = BlockMasks::default();
        for (i, &b) in block.iter().enumerate().take(64) {
            let c = class(b);
            let bit = |set: bool| (set as u64) << i;
            masks.word |= bit(c & WORD != 0);
            masks.letter |= bit(c & LETTER != 0);
            masks.digit |= bit(c & DIGIT != 0);
            masks.mid_letter |= bit(c & MID_LETTER != 0);
            masks.mid_number |= bit(c & MID_NUMBER != 0);
        }
        masks
    }

    /// [`BlockMasks::of_scalar`] 16 bytes at a time, with SSE2 (which every
    /// x86_64 CPU has). Bytes are ASCII, so its signed byte comparisons
    /// order them as unsigned ones would.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "sse2")]
    fn of_full_sse2(block: &[u8; 64]) -> Self {
        use std::arch::x86_64::*;
        let splat = |b: u8| _mm_set1_epi8(b as i8);
        let in_range = |v: __m128i, low: u8, high: u8| _mm_and_si128(_mm_cmpgt_epi8(v, splat(low - 1)), _mm_cmplt_epi8(v, splat(high + 1)));
        let mut masks = BlockMasks::default();
        for lane in 0..4 {
            // SAFETY: lane * 16 + 16 <= 64 bytes are read; loadu takes any alignment.
            let v = unsafe { _mm_loadu_si128(block.as_ptr().add(lane * 16) as *const __m128i) };
            let lower = _mm_or_si128(v, splat(0x20));
            let letter = in_range(lower, b'a', b'z');
            let digit = in_range(v, b'0', b'9');
            let is = |b: u8| _mm_cmpeq_epi8(v, splat(b));
            let word = _mm_or_si128(_mm_or_si128(letter, digit), is(b'_'));
            let both = _mm_or_si128(is(b'.'), is(b'\''));
            let mid_letter = _mm_or_si128(both, is(b':'));
            let mid_number = _mm_or_si128(both, _mm_or_si128(is(b','), is(b';')));
            let bits = |m: __m128i| (_mm_movemask_epi8(m) as u16 as u64) << (lane * 16);
            masks.word |= bits(word);
            masks.letter |= bits(letter);
            masks.digit |= bits(digit);
            masks.mid_letter |= bits(mid_letter);
            masks.mid_number |= bits(mid_number);
        }
        masks
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn words(text: &str) -> Vec<&str> {
        let mut spans = Vec::new();
        word_spans(text, &mut spans);
        spans.into_iter().map(|(a, b)| &text[a..b]).collect()
    }

    #[test]
    fn ascii_rules() {
        assert_eq!(words("Don't stop: 3.14, 1,000; e.g. a:b x_1 __ _a"), ["Don't", "stop", "3.14", "1,000", "e.g", "a:b", "x_1", "_a"]);
        assert_eq!(words("a1.2 1a.b a..b a. .b"), ["a1.2", "1a.b", "a", "b", "a", "b"]);
        assert_eq!(words(""), Vec::<&str>::new());
        assert_eq!(words("\r\n\t "), Vec::<&str>::new());
    }

    #[test]
    fn real_text_equals_unicode_words() {
        let text = "Café “Zürich” — 10 000 km/h,\tl’été\u{00a0}東京 e\u{301}t\u{301}e\u{301} x \u{93e}y 👩‍💻 'quoted' http://a.b/c?d=1";
        assert_eq!(words(text), text.unicode_words().collect::<Vec<_>>());
    }

    /// Characters of every Word_Break class that matters, ASCII and not:
    /// letters, digits, joiners, quotes, whitespace of each kind, combining
    /// marks (some alphabetic), ZWJ and pictographs, Hebrew, Katakana,
    /// regional indicators, full-width punctuation.
    const ALPHABET: &[char] = &[
        'a', 'Z', 'é', '0', '9', '_', ':', '.', ',', ';', '\'', '"', ' ', ' ', '\t', '\n', '\r', '\u{0b}', '\u{0c}', '-',
        '#', '(', '\u{301}', '\u{93e}', '\u{200d}', '\u{200b}', '\u{ad}', '👩', 'א', 'カ', '\u{1f1e6}', '．', '’', '·',
        '\u{a0}', '\u{2028}', '\u{85}', '東', '٣', '\u{3000}', '…',
    ];

    /// The words as `unicode_word_indices` gives them: (byte offset, word).
    fn indexed_words(text: &str) -> Vec<(usize, &str)> {
        let mut got = Vec::new();
        for_each_word(text, |a, b| got.push((a, &text[a..b])));
        got
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]
        #[test]
        fn equals_unicode_words(chars in prop::collection::vec(prop::sample::select(ALPHABET), 0..24)) {
            let text: String = chars.into_iter().collect();
            prop_assert_eq!(indexed_words(&text), text.unicode_word_indices().collect::<Vec<_>>(), "{:?}", text);
        }

        /// Long ASCII texts: words and joiners across the 64-byte blocks
        /// the ASCII path reads, and at the ends of the last one.
        #[test]
        fn long_ascii_equals_unicode_words(chars in prop::collection::vec(prop::sample::select(ASCII), 0..300)) {
            let text: String = chars.into_iter().collect();
            prop_assert_eq!(indexed_words(&text), text.unicode_word_indices().collect::<Vec<_>>(), "{:?}", text);
        }

        #[test]
        fn block_classes_match_the_table(bytes in prop::array::uniform32(0u8..128), more in prop::array::uniform32(0u8..128)) {
            let mut block = [0u8; 64];
            block[..32].copy_from_slice(&bytes);
            block[32..].copy_from_slice(&more);
            prop_assert_eq!(BlockMasks::of(&block), BlockMasks::of_scalar(&block));
        }
    }

    /// Mostly letters and digits, with every ASCII class the rules tell apart.
    const ASCII: &[char] = &['a', 'b', 'Z', 'q', '0', '7', '_', ':', '.', ',', ';', '\'', '"', ' ', '\t', '\n', '-', '@', '`', '{', '/'];

    #[test]
    fn words_at_block_edges() {
        // A joiner as a block's last byte and as the next one's first, a word
        // that ends a block, one that spans three, underscores alone.
        for at in [62, 63, 64, 65, 127, 128] {
            for joined in ["a.b", "1,5", "x:y", "e'g", "__", "_a_"] {
                let text = format!("{}{joined} {}", " ".repeat(at), "w".repeat(140));
                let expected: Vec<&str> = text.unicode_words().collect();
                assert_eq!(words(&text), expected, "{joined} at {at}");
            }
        }
    }
}
