//! Sentences of a text: exactly the UAX #29 sentences `unicode_segmentation`'s
//! `unicode_sentences` yields, found faster.
//!
//! A line feed always ends a sentence (SB4), and no rule looks back across
//! it (the rules that look back need a run of terminators, closing
//! punctuation and spaces right before the break) or ahead across it (SB8's
//! look-ahead stops at a paragraph separator). So each line, with its line
//! feed, is segmented alone: an all-ASCII line by [`ascii_sentences`], any
//! other by `unicode_segmentation`. The property test below checks the whole
//! against `unicode_sentences`.

use unicode_segmentation::UnicodeSegmentation;

/// Calls `sentence` with every sentence of `text` that holds a letter or a
/// digit (as `unicode_sentences` does), in order.
pub fn for_each_sentence<'a>(text: &'a str, mut sentence: impl FnMut(&'a str)) {
    for line in text.split_inclusive('\n') {
        if line.is_ascii() {
            ascii_sentences(line, &mut |s: &'a str| {
                if s.bytes().any(|b| b.is_ascii_alphanumeric()) {
                    sentence(s);
                }
            });
        } else {
            line.unicode_sentences().for_each(&mut sentence);
        }
    }
}

fn is_sp(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | 0x0b | 0x0c)
}
fn is_para_sep(b: u8) -> bool {
    matches!(b, b'\r' | b'\n')
}
fn is_sa_term(b: u8) -> bool {
    matches!(b, b'.' | b'!' | b'?')
}
/// Sentence_Break=Close in ASCII: quotation marks and brackets.
fn is_close(b: u8) -> bool {
    matches!(b, b'"' | b'\'' | b'(' | b')' | b'[' | b']' | b'{' | b'}')
}
fn is_s_continue(b: u8) -> bool {
    matches!(b, b',' | b'-' | b':' | b';')
}

/// UAX #29 sentence breaks on ASCII text: after a line break (SB4, CR LF
/// kept together), and after a terminator with the closing punctuation and
/// spaces that follow it (SB9-SB11), except before a digit after `.` (SB6),
/// between `x.Y` (SB7), before a lowercase word after `.` (SB8), and before
/// a comma, colon, semicolon, hyphen or another terminator (SB8a).
fn ascii_sentences<'a>(text: &'a str, sentence: &mut impl FnMut(&'a str)) {
    let b = text.as_bytes();
    let n = b.len();
    let (mut start, mut i) = (0, 0);
    let mut emit = |end: usize, start: &mut usize| {
        if end > *start {
            sentence(&text[*start..end]);
            *start = end;
        }
    };
    while i < n {
        let c = b[i];
        if is_para_sep(c) {
            i += if c == b'\r' && b.get(i + 1) == Some(&b'\n') { 2 } else { 1 };
            emit(i, &mut start);
            continue;
        }
        if !is_sa_term(c) {
            i += 1;
            continue;
        }
        let aterm = c == b'.';
        let mut j = i + 1;
        if aterm && j < n {
            let next = b[j];
            let after_letter = i > 0 && b[i - 1].is_ascii_alphabetic();
            if next.is_ascii_digit() || (after_letter && next.is_ascii_uppercase()) {
                i = j;
                continue;
            }
        }
        while j < n && is_close(b[j]) {
            j += 1;
        }
        while j < n && is_sp(b[j]) {
            j += 1;
        }
        if j == n {
            i = j;
            continue;
        }
        if is_para_sep(b[j]) {
            j += if b[j] == b'\r' && b.get(j + 1) == Some(&b'\n') { 2 } else { 1 };
            emit(j, &mut start);
            i = j;
            continue;
        }
        if is_s_continue(b[j]) || is_sa_term(b[j]) {
            i = j;
            continue;
        }
        if aterm {
            let k = j + b[j..].iter().take_while(|&&x| !(x.is_ascii_alphabetic() || is_para_sep(x) || is_sa_term(x))).count();
            if k < n && b[k].is_ascii_lowercase() {
                i = j;
                continue;
            }
        }
        emit(j, &mut start);
        i = j;
    }
    emit(n, &mut start);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sentences(text: &str) -> Vec<&str> {
        let mut out = Vec::new();
        for_each_sentence(text, |s| out.push(s));
        out
    }

    #[test]
    fn examples_equal_unicode_sentences() {
        for text in [
            "One. Two! Three? Four",
            "e.g. this one. Mr. Smith went to Washington. U.S.A. is 3.5 times... bigger!? Yes.\" (Quoted.) Next",
            "Line one\nline two.\r\nThree.  \n\nFour. five",
            "Café. Über alles. “Quoted.” Next — and so on.",
            "",
        ] {
            assert_eq!(sentences(text), text.unicode_sentences().collect::<Vec<_>>(), "{text:?}");
        }
    }

    const ALPHABET: &[char] = &[
        'a', 'b', 'Z', 'Y', '0', '7', '.', '!', '?', ',', '-', ':', ';', '"', '\'', '(', ')', '[', ']', '{', '}', ' ',
        ' ', '\t', '\n', '\r', '\u{0b}', '\u{0c}', '_', '#', '/', 'é', 'É', '…', '“', '”', '\u{301}', '\u{85}', '\u{2029}',
        '東', '。', '\u{a0}',
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]
        #[test]
        fn equals_unicode_sentences(chars in prop::collection::vec(prop::sample::select(ALPHABET), 0..24)) {
            let text: String = chars.into_iter().collect();
            prop_assert_eq!(sentences(&text), text.unicode_sentences().collect::<Vec<_>>(), "{:?}", text);
        }

        #[test]
        fn ascii_equals_unicode_sentences(chars in prop::collection::vec(prop::sample::select(&ALPHABET[..31]), 0..40)) {
            let text: String = chars.into_iter().collect();
            prop_assert_eq!(sentences(&text), text.unicode_sentences().collect::<Vec<_>>(), "{:?}", text);
        }
    }
}
