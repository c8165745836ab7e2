//! One walk over a text's sentences and words that yields every count the
//! quality ratings and signals are made from (`signals/text_ratings.rs`,
//! `signals/text_signals.rs` turn the counts into their values).
//!
//! Sentences are Unicode (UAX #29) sentences and the words of each sentence
//! its UAX #29 words, as the ratings have always been defined; letters, case
//! and digits are Unicode properties.

use crate::text::intern::Interner;
use crate::text::sentences::for_each_sentence;
use crate::text::words::for_each_word;

/// A common English stop-word list (the NLTK one, lowercase).
const STOP_WORDS: &[&str] = &[
    "a", "about", "above", "after", "again", "against", "all", "am", "an", "and", "any", "are", "as", "at", "be",
    "because", "been", "before", "being", "below", "between", "both", "but", "by", "can", "did", "do", "does",
    "doing", "down", "during", "each", "few", "for", "from", "further", "had", "has", "have", "having", "he", "her",
    "here", "hers", "herself", "him", "himself", "his", "how", "i", "if", "in", "into", "is", "it", "its", "itself",
    "just", "me", "more", "most", "my", "myself", "no", "nor", "not", "now", "of", "off", "on", "once", "only", "or",
    "other", "our", "ours", "ourselves", "out", "over", "own", "same", "she", "should", "so", "some", "such", "than",
    "that", "the", "their", "theirs", "them", "themselves", "then", "there", "these", "they", "this", "those",
    "through", "to", "too", "under", "until", "up", "very", "was", "we", "were", "what", "when", "where", "which",
    "while", "who", "whom", "why", "will", "with", "you", "your", "yours", "yourself", "yourselves",
];

static STOP_WORD_SET: std::sync::LazyLock<std::collections::HashSet<&'static str, foldhash::fast::FixedState>> =
    std::sync::LazyLock::new(|| STOP_WORDS.iter().copied().collect());

/// Whether a lowercased word is an English stop word.
pub fn is_stop_word(lower: &str) -> bool {
    lower.len() <= 10 && STOP_WORD_SET.contains(lower)
}

/// Vowel groups, a final silent "e" dropped, at least one: the usual
/// heuristic behind readability formulas.
pub fn syllables(lower: &str) -> usize {
    let mut count = 0;
    let mut previous_vowel = false;
    for c in lower.chars() {
        let vowel = matches!(c, 'a' | 'e' | 'i' | 'o' | 'u' | 'y' | 'à'..='æ' | 'è'..='ï' | 'ò'..='ö' | 'ù'..='ü');
        if vowel && !previous_vowel {
            count += 1;
        }
        previous_vowel = vowel;
    }
    if count > 1 && lower.ends_with('e') && !lower.ends_with("le") {
        count -= 1;
    }
    count.max(1)
}

/// Appends the lowercase form of `word` (char by char, as
/// `char::to_lowercase`) to `out`.
pub fn push_lowercase(word: &str, out: &mut String) {
    if word.is_ascii() {
        let start = out.len();
        out.push_str(word);
        out[start..].make_ascii_lowercase();
    } else {
        out.extend(word.chars().flat_map(char::to_lowercase));
    }
}

/// The counts of one text.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ProseCounts {
    pub words: usize,
    /// Words with a letter.
    pub alpha_words: usize,
    pub stop_words: usize,
    /// Words with a digit.
    pub number_words: usize,
    /// Capitalised words that do not start their sentence.
    pub capitalized_terms: usize,
    /// Words with a digit, or capitalised inside their sentence.
    pub specific: usize,
    /// Characters of all words.
    pub word_chars: usize,
    /// Words of 7 or more characters.
    pub long_words: usize,
    pub syllables: usize,
    /// Sentences that hold a word.
    pub sentences: usize,
    /// Of those, the ones that start with a capital or digit and end with
    /// terminal punctuation (closing quotes and brackets aside).
    pub well_formed: usize,
    /// Characters that are not whitespace.
    pub visible: usize,
    /// Visible characters that are neither letters nor digits.
    pub symbols: usize,
    pub letters: usize,
    pub upper: usize,
}

/// Buffers reused from one text to the next.
#[derive(Debug, Default)]
pub struct ProseScratch {
    lower: String,
    /// Lowercased words' ids.
    pub ids: Interner,
    /// Each word's lowercase id, in text order.
    pub sequence: Vec<u32>,
    /// Per-id counts for the moving-average type-token ratio.
    window: Vec<u32>,
    /// Per id: whether it is a stop word, and its syllables (both depend on
    /// the lowercase form alone, so each distinct word is looked at once).
    word_facts: Vec<(bool, usize)>,
}

/// Counts `text` in one walk; `scratch` then holds its words' lowercase ids.
pub fn count(text: &str, scratch: &mut ProseScratch) -> ProseCounts {
    let mut c = ProseCounts::default();
    scratch.ids.clear();
    scratch.sequence.clear();
    scratch.word_facts.clear();
    let ProseScratch { lower, ids, sequence, word_facts, .. } = scratch;
    for_each_sentence(text, |sentence| {
        let mut first = true;
        for_each_word(sentence, |a, b| {
            let word = &sentence[a..b];
            lower.clear();
            push_lowercase(word, lower);
            let (chars, has_letter, has_digit, capital) = if word.is_ascii() {
                let bytes = word.as_bytes();
                (
                    bytes.len(),
                    bytes.iter().any(u8::is_ascii_alphabetic),
                    bytes.iter().any(u8::is_ascii_digit),
                    bytes[0].is_ascii_uppercase(),
                )
            } else {
                (
                    word.chars().count(),
                    word.chars().any(char::is_alphabetic),
                    word.chars().any(char::is_numeric),
                    word.chars().next().is_some_and(char::is_uppercase),
                )
            };
            c.words += 1;
            c.word_chars += chars;
            c.long_words += usize::from(chars >= 7);
            c.alpha_words += usize::from(has_letter);
            c.number_words += usize::from(has_digit);
            let capitalized = !first && capital;
            c.capitalized_terms += usize::from(capitalized);
            c.specific += usize::from(has_digit || capitalized);
            first = false;
            let id = ids.intern(lower);
            if id as usize == word_facts.len() {
                word_facts.push((is_stop_word(lower), syllables(lower)));
            }
            let (stop, syllable_count) = word_facts[id as usize];
            c.stop_words += usize::from(stop);
            c.syllables += if has_letter { syllable_count } else { 1 };
            sequence.push(id);
        });
        if !first {
            c.sentences += 1;
            let trimmed = sentence.trim();
            let starts = trimmed.chars().find(|c| c.is_alphanumeric()).is_some_and(|c| c.is_uppercase() || c.is_numeric());
            let ends = trimmed.trim_end_matches(['"', '\'', '”', '’', ')']).ends_with(['.', '!', '?', '…']);
            c.well_formed += usize::from(starts && ends);
        }
    });
    for ch in text.chars() {
        if ch.is_whitespace() {
            continue;
        }
        c.visible += 1;
        if ch.is_alphabetic() {
            c.letters += 1;
            c.upper += usize::from(ch.is_uppercase());
        } else if !ch.is_numeric() {
            c.symbols += 1;
        }
    }
    c
}

/// Moving-average type-token ratio of the word ids in `scratch` over
/// windows of `window` words (the plain type-token ratio for shorter texts).
pub fn mattr(scratch: &mut ProseScratch, window: usize) -> f64 {
    let words = &scratch.sequence;
    if words.is_empty() {
        return 0.0;
    }
    if words.len() <= window {
        return scratch.ids.len() as f64 / words.len() as f64;
    }
    let counts = &mut scratch.window;
    counts.clear();
    counts.resize(scratch.ids.len(), 0);
    let mut distinct = 0usize;
    for &w in &words[..window] {
        let c = &mut counts[w as usize];
        distinct += usize::from(*c == 0);
        *c += 1;
    }
    let mut total = distinct;
    for i in window..words.len() {
        let out = &mut counts[words[i - window] as usize];
        *out -= 1;
        distinct -= usize::from(*out == 0);
        let c = &mut counts[words[i] as usize];
        distinct += usize::from(*c == 0);
        *c += 1;
        total += distinct;
    }
    total as f64 / ((words.len() - window + 1) * window) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_words_are_sorted_for_binary_search() {
        assert!(STOP_WORDS.windows(2).all(|w| w[0] < w[1]));
        assert!(STOP_WORDS.iter().all(|w| w.len() <= 10));
    }

    #[test]
    fn syllable_heuristic() {
        assert_eq!(syllables("the"), 1);
        assert_eq!(syllables("table"), 2);
        assert_eq!(syllables("make"), 1);
        assert_eq!(syllables("readability"), 5);
        assert_eq!(syllables("rhythm"), 1);
    }

    #[test]
    fn lowercase_matches_char_to_lowercase() {
        for word in ["ABC", "Straße", "İstanbul", "ΣΑΣ", "x"] {
            let mut out = String::new();
            push_lowercase(word, &mut out);
            assert_eq!(out, word.chars().flat_map(char::to_lowercase).collect::<String>());
        }
    }

    #[test]
    fn hand_counted_text() {
        let mut scratch = ProseScratch::default();
        let c = count("The tower in Paris opened in 1889. It is tall!", &mut scratch);
        assert_eq!((c.words, c.sentences, c.well_formed), (10, 2, 2));
        assert_eq!((c.capitalized_terms, c.number_words, c.specific, c.alpha_words), (1, 1, 2, 9));
        assert_eq!(scratch.ids.len(), 9, "'in' repeats");
        assert_eq!(c.symbols, 2);
    }

    #[test]
    fn mattr_is_independent_of_length() {
        let mut scratch = ProseScratch::default();
        let words: Vec<String> = (0..1000).map(|i| format!("w{}", i % 25)).collect();
        count(&words.join(" "), &mut scratch);
        assert!((mattr(&mut scratch, 50) - 0.5).abs() < 1e-12);
        count("a b c d e f g h i j", &mut scratch);
        assert_eq!(mattr(&mut scratch, 50), 1.0);
        count("", &mut scratch);
        assert_eq!(mattr(&mut scratch, 50), 0.0);
    }
}
