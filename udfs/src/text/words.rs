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
fn ascii_words(bytes: &[u8], offset: usize, word: &mut impl FnMut(usize, usize)) {
    let n = bytes.len();
    let mut i = 0;
    while i < n {
        if class(bytes[i]) & WORD == 0 {
            i += 1;
            continue;
        }
        let start = i;
        let mut alphanumeric = false;
        loop {
            while i < n && class(bytes[i]) & WORD != 0 {
                alphanumeric |= bytes[i] != b'_';
                i += 1;
            }
            if i + 1 < n {
                let (before, mid, after) = (class(bytes[i - 1]), class(bytes[i]), class(bytes[i + 1]));
                let joins =
                    (before & after & LETTER != 0 && mid & MID_LETTER != 0) || (before & after & DIGIT != 0 && mid & MID_NUMBER != 0);
                if joins {
                    i += 1;
                    continue;
                }
            }
            break;
        }
        if alphanumeric {
            word(offset + start, offset + i);
        }
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

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]
        #[test]
        fn equals_unicode_words(chars in prop::collection::vec(prop::sample::select(ALPHABET), 0..24)) {
            let text: String = chars.into_iter().collect();
            let expected: Vec<(usize, &str)> = text.unicode_word_indices().collect();
            let mut got = Vec::new();
            for_each_word(&text, |a, b| got.push((a, &text[a..b])));
            prop_assert_eq!(got, expected, "{:?}", text);
        }
    }
}
