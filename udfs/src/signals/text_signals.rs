//! Cheap, deterministic quality signals of a text, in the three families the
//! ODiS paper rates with an LLM: language quality, knowledge/information and
//! comprehension difficulty. `quality_signals` and `quality_signals_vector`
//! return them; this module owns their definitions.
//!
//! Words and sentences are Unicode (UAX #29) words and sentences, so the
//! signals mean the same in any script that separates words; letters and
//! case are Unicode properties. A ratio over nothing (no words, no
//! letters) is 0, so that PCA always sees a finite row, never NaN.

use std::collections::HashSet;

use unicode_segmentation::UnicodeSegmentation;

/// (name, family, definition) of each signal, in output order.
pub const SIGNALS: [(&str, &str, &str); 13] = [
    ("alpha_word_fraction", "language", "words that contain a letter / words"),
    ("stop_word_fraction", "language", "words that are English stop words (case-insensitive) / words"),
    ("symbol_ratio", "language", "non-whitespace characters that are neither letters nor digits / non-whitespace characters"),
    ("uppercase_ratio", "language", "uppercase letters / letters"),
    ("duplicate_line_fraction", "language", "non-empty lines (trimmed) that repeat an earlier line / non-empty lines"),
    ("type_token_ratio", "knowledge", "distinct words (lowercased) / words"),
    ("number_density", "knowledge", "words that contain a digit / words"),
    ("capitalized_term_density", "knowledge", "capitalised words that do not start a sentence / words"),
    ("compression_ratio", "knowledge", "DEFLATE (level 6) size / UTF-8 size; redundant text compresses more (0 for empty text)"),
    ("mean_word_length", "difficulty", "characters per word"),
    ("mean_sentence_length", "difficulty", "words per sentence (Unicode sentences that hold a word)"),
    ("flesch_kincaid_grade", "difficulty", "0.39 words/sentence + 11.8 syllables/word - 15.59 (syllables: vowel groups, a final silent e dropped, at least one per word)"),
    ("long_word_fraction", "difficulty", "words of 7 or more characters / words"),
];

/// The number of signals.
pub const COUNT: usize = SIGNALS.len();

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

pub(crate) fn is_stop_word(lower: &str) -> bool {
    STOP_WORDS.binary_search(&lower).is_ok()
}

pub(crate) fn ratio(part: usize, whole: usize) -> f64 {
    if whole == 0 { 0.0 } else { part as f64 / whole as f64 }
}

/// Vowel groups, a final silent "e" dropped, at least one: the usual
/// heuristic behind readability formulas.
pub(crate) fn syllables(lower: &str) -> usize {
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

/// The signals of `text`, in [`SIGNALS`] order.
pub fn signals(text: &str) -> [f64; COUNT] {
    let mut words = 0usize;
    let mut alpha_words = 0usize;
    let mut stop_words = 0usize;
    let mut number_words = 0usize;
    let mut capitalized_terms = 0usize;
    let mut word_chars = 0usize;
    let mut long_words = 0usize;
    let mut syllable_count = 0usize;
    let mut sentences = 0usize;
    let mut distinct: HashSet<String> = HashSet::new();
    let mut lower = String::new();

    for sentence in text.unicode_sentences() {
        let mut first = true;
        for word in sentence.unicode_words() {
            words += 1;
            let chars = word.chars().count();
            word_chars += chars;
            if chars >= 7 {
                long_words += 1;
            }
            let has_letter = word.chars().any(char::is_alphabetic);
            if has_letter {
                alpha_words += 1;
            }
            if word.chars().any(|c| c.is_numeric()) {
                number_words += 1;
            }
            if !first && word.chars().next().is_some_and(char::is_uppercase) {
                capitalized_terms += 1;
            }
            first = false;
            lower.clear();
            lower.extend(word.chars().flat_map(char::to_lowercase));
            if is_stop_word(&lower) {
                stop_words += 1;
            }
            syllable_count += if has_letter { syllables(&lower) } else { 1 };
            if !distinct.contains(lower.as_str()) {
                distinct.insert(lower.clone());
            }
        }
        if !first {
            sentences += 1;
        }
    }

    let (mut visible, mut symbols, mut letters, mut upper) = (0usize, 0usize, 0usize, 0usize);
    for c in text.chars() {
        if c.is_whitespace() {
            continue;
        }
        visible += 1;
        if c.is_alphabetic() {
            letters += 1;
            if c.is_uppercase() {
                upper += 1;
            }
        } else if !c.is_numeric() {
            symbols += 1;
        }
    }

    let mut seen_lines: HashSet<&str> = HashSet::new();
    let (mut lines, mut duplicate_lines) = (0usize, 0usize);
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        lines += 1;
        if !seen_lines.insert(line) {
            duplicate_lines += 1;
        }
    }

    let compression = if text.is_empty() {
        0.0
    } else {
        miniz_oxide::deflate::compress_to_vec(text.as_bytes(), 6).len() as f64 / text.len() as f64
    };
    let words_per_sentence = ratio(words, sentences);
    let grade = if words == 0 {
        0.0
    } else {
        0.39 * words_per_sentence + 11.8 * ratio(syllable_count, words) - 15.59
    };

    [
        ratio(alpha_words, words),
        ratio(stop_words, words),
        ratio(symbols, visible),
        ratio(upper, letters),
        ratio(duplicate_lines, lines),
        ratio(distinct.len(), words),
        ratio(number_words, words),
        ratio(capitalized_terms, words),
        compression,
        ratio(word_chars, words),
        words_per_sentence,
        grade,
        ratio(long_words, words),
    ]
}

/// The signal definitions as a Markdown list, for the functions' docs.
pub fn definitions() -> String {
    markdown_list(&SIGNALS)
}

/// (name, family, definition) triples as a Markdown list.
pub(crate) fn markdown_list(items: &[(&str, &str, &str)]) -> String {
    items
        .iter()
        .map(|(name, family, definition)| format!("- `{name}` ({family}): {definition}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(text: &str, name: &str) -> f64 {
        signals(text)[SIGNALS.iter().position(|(n, _, _)| *n == name).unwrap()]
    }

    #[test]
    fn stop_words_are_sorted_for_binary_search() {
        assert!(STOP_WORDS.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn hand_counted_sentence() {
        // 10 words, 2 sentences; "Paris" is capitalised mid-sentence; "1889" is a number.
        let text = "The tower in Paris opened in 1889. It is tall!";
        assert_eq!(get(text, "mean_sentence_length"), 5.0);
        assert!((get(text, "capitalized_term_density") - 0.1).abs() < 1e-12);
        assert!((get(text, "number_density") - 0.1).abs() < 1e-12);
        assert!((get(text, "alpha_word_fraction") - 0.9).abs() < 1e-12);
        // the, in, in, it, is
        assert!((get(text, "stop_word_fraction") - 0.5).abs() < 1e-12);
        // "in" repeats: 9 distinct of 10
        assert!((get(text, "type_token_ratio") - 0.9).abs() < 1e-12);
        // "." and "!" of 37 visible characters
        assert!((get(text, "symbol_ratio") - 2.0 / 37.0).abs() < 1e-12, "{}", get(text, "symbol_ratio"));
    }

    #[test]
    fn unicode_letters_and_case() {
        assert_eq!(get("ÉCOLE été", "uppercase_ratio"), 5.0 / 8.0);
        assert_eq!(get("Ωμέγα", "alpha_word_fraction"), 1.0);
        assert_eq!(get("東京 大阪", "alpha_word_fraction"), 1.0);
    }

    #[test]
    fn duplicate_lines_and_compression() {
        let repeated = "buy now\nbuy now\n  buy now  \nother\n";
        assert_eq!(get(repeated, "duplicate_line_fraction"), 0.5);
        let varied = "Quantum chromodynamics describes the strong interaction between quarks and gluons.";
        assert!(get(&"spam ".repeat(200), "compression_ratio") < get(varied, "compression_ratio"));
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
    fn empty_and_wordless_texts_are_finite() {
        for text in ["", "   \n\t", "...!!!", "— — —"] {
            let s = signals(text);
            assert!(s.iter().all(|v| v.is_finite()), "{text:?}: {s:?}");
        }
        assert_eq!(signals("").iter().sum::<f64>(), 0.0);
    }

    #[test]
    fn harder_text_grades_higher() {
        let easy = "The cat sat. The dog ran. It was fun.";
        let hard = "Notwithstanding considerable methodological heterogeneity, the meta-analysis demonstrated statistically significant associations between socioeconomic deprivation and cardiovascular morbidity.";
        assert!(get(hard, "flesch_kincaid_grade") > get(easy, "flesch_kincaid_grade") + 10.0);
        assert!(get(hard, "long_word_fraction") > get(easy, "long_word_fraction"));
        assert!(get(hard, "mean_word_length") > get(easy, "mean_word_length"));
    }
}
