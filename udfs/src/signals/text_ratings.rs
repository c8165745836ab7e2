//! Quality ratings of a text: the raw dimensions `odis select` decorrelates
//! by default. The ODiS paper rates documents with an LLM on bounded scales
//! where higher is better; these ratings keep that contract without a model.
//! Each one maps a surface statistic through a documented transform onto
//! [0, 1], oriented so that 1 is the better text, and saturating so that no
//! extreme (a 600-letter "word", a text of digits) scores above ordinary
//! good prose. They come in the paper's three families: language quality,
//! knowledge (informativeness) and comprehension difficulty.
//!
//! The raw statistics behind them stay available as `quality_signals`.

use std::collections::HashMap;

use unicode_segmentation::UnicodeSegmentation;

use crate::signals::text_signals::{is_stop_word, markdown_list, ratio, syllables};

/// (name, family, definition and transform) of each rating, in output order.
pub const RATINGS: [(&str, &str, &str); 11] = [
    ("word_form", "language", "words that contain a letter / words"),
    ("function_words", "language", "min(1, stop-word share / 0.4): fluent prose is 40-55% function words, lists and keyword dumps far fewer"),
    ("clean_characters", "language", "1 - min(1, symbol share / 0.25), symbols being visible characters that are neither letters nor digits"),
    ("normal_case", "language", "1 - clamp((uppercase letters / letters - 0.1) / 0.5, 0, 1): 1 for ordinary casing, 0 for all capitals"),
    ("sentence_form", "language", "sentences that start with a capital letter or digit and end with . ! ? or a closing quote / sentences"),
    ("vocabulary_richness", "knowledge", "moving-average type-token ratio over windows of 50 words (lowercased; the plain ratio below 50 words)"),
    ("substance", "knowledge", "min(1, ln(1 + words) / ln(1001)): more text carries more, with diminishing returns past 1,000 words"),
    ("specificity", "knowledge", "min(1, (capitalised words inside sentences + words with digits) / words / 0.15): names, terms and figures"),
    ("vocabulary_level", "difficulty", "min(1, words of 7+ characters / words / 0.4)"),
    ("sentence_complexity", "difficulty", "min(1, words per sentence / 30)"),
    ("reading_level", "difficulty", "clamp(Flesch-Kincaid grade / 18, 0, 1)"),
];

/// The number of ratings.
pub const COUNT: usize = RATINGS.len();

/// Window of the moving-average type-token ratio: long enough to see
/// repetition, short enough not to depend on the text's length.
const MATTR_WINDOW: usize = 50;

fn saturate(value: f64, full: f64) -> f64 {
    (value / full).clamp(0.0, 1.0)
}

/// Moving-average type-token ratio of `words` (lowercased ids).
fn mattr(words: &[u32]) -> f64 {
    if words.is_empty() {
        return 0.0;
    }
    if words.len() <= MATTR_WINDOW {
        let mut distinct: Vec<u32> = words.to_vec();
        distinct.sort_unstable();
        distinct.dedup();
        return ratio(distinct.len(), words.len());
    }
    let mut counts: HashMap<u32, usize> = HashMap::new();
    let mut distinct = 0usize;
    for w in &words[..MATTR_WINDOW] {
        let c = counts.entry(*w).or_default();
        if *c == 0 {
            distinct += 1;
        }
        *c += 1;
    }
    let mut total = distinct;
    for i in MATTR_WINDOW..words.len() {
        let out = counts.get_mut(&words[i - MATTR_WINDOW]).expect("counted when it entered");
        *out -= 1;
        if *out == 0 {
            distinct -= 1;
        }
        let c = counts.entry(words[i]).or_default();
        if *c == 0 {
            distinct += 1;
        }
        *c += 1;
        total += distinct;
    }
    total as f64 / ((words.len() - MATTR_WINDOW + 1) * MATTR_WINDOW) as f64
}

/// The ratings of `text`, in [`RATINGS`] order, each in [0, 1]. A text
/// without words rates 0 on everything.
pub fn ratings(text: &str) -> [f64; COUNT] {
    let mut words = 0usize;
    let mut alpha_words = 0usize;
    let mut stop_words = 0usize;
    let mut specific = 0usize;
    let mut long_words = 0usize;
    let mut syllable_count = 0usize;
    let mut sentences = 0usize;
    let mut well_formed = 0usize;
    let mut ids: HashMap<String, u32> = HashMap::new();
    let mut sequence: Vec<u32> = Vec::new();
    let mut lower = String::new();

    for sentence in text.unicode_sentences() {
        let mut first = true;
        for word in sentence.unicode_words() {
            words += 1;
            if word.chars().count() >= 7 {
                long_words += 1;
            }
            let has_letter = word.chars().any(char::is_alphabetic);
            alpha_words += usize::from(has_letter);
            let has_digit = word.chars().any(char::is_numeric);
            if has_digit || (!first && word.chars().next().is_some_and(char::is_uppercase)) {
                specific += 1;
            }
            first = false;
            lower.clear();
            lower.extend(word.chars().flat_map(char::to_lowercase));
            stop_words += usize::from(is_stop_word(&lower));
            syllable_count += if has_letter { syllables(&lower) } else { 1 };
            let next = ids.len() as u32;
            sequence.push(*ids.entry(lower.clone()).or_insert(next));
        }
        if !first {
            sentences += 1;
            let trimmed = sentence.trim();
            let starts = trimmed
                .chars()
                .find(|c| c.is_alphanumeric())
                .is_some_and(|c| c.is_uppercase() || c.is_numeric());
            let ends = trimmed
                .trim_end_matches(['"', '\'', '”', '’', ')'])
                .ends_with(['.', '!', '?', '…']);
            well_formed += usize::from(starts && ends);
        }
    }
    if words == 0 {
        return [0.0; COUNT];
    }

    let (mut visible, mut symbols, mut letters, mut upper) = (0usize, 0usize, 0usize, 0usize);
    for c in text.chars() {
        if c.is_whitespace() {
            continue;
        }
        visible += 1;
        if c.is_alphabetic() {
            letters += 1;
            upper += usize::from(c.is_uppercase());
        } else if !c.is_numeric() {
            symbols += 1;
        }
    }

    let words_per_sentence = ratio(words, sentences);
    let grade = 0.39 * words_per_sentence + 11.8 * ratio(syllable_count, words) - 15.59;
    [
        ratio(alpha_words, words),
        saturate(ratio(stop_words, words), 0.4),
        1.0 - saturate(ratio(symbols, visible), 0.25),
        1.0 - saturate(ratio(upper, letters) - 0.1, 0.5),
        ratio(well_formed, sentences),
        mattr(&sequence),
        saturate(((1 + words) as f64).ln(), 1001f64.ln()),
        saturate(ratio(specific, words), 0.15),
        saturate(ratio(long_words, words), 0.4),
        saturate(words_per_sentence, 30.0),
        saturate(grade, 18.0),
    ]
}

/// The rating definitions as a Markdown list, for the functions' docs.
pub fn definitions() -> String {
    markdown_list(&RATINGS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(text: &str, name: &str) -> f64 {
        ratings(text)[RATINGS.iter().position(|(n, _, _)| *n == name).unwrap()]
    }

    const PROSE: &str = "The river rises in the northern hills and flows south through a wide valley. Its water \
        drove the mills of Ashford in 1850, and several of the old stone buildings still stand beside the banks.";

    #[test]
    fn every_rating_is_bounded_and_finite() {
        let texts = [
            "",
            "...",
            PROSE,
            "ABCDEFGHIJ KLMNOP QRSTUV",
            &"x".repeat(10_000),
            "1 2 3 4 5 6 7 8 9",
            "東京 大阪",
            &"word ".repeat(5000),
        ];
        for text in texts {
            for (v, (name, _, _)) in ratings(text).iter().zip(RATINGS) {
                assert!((0.0..=1.0).contains(v), "{name} of {text:.30?} is {v}");
            }
        }
        assert_eq!(ratings("...").iter().sum::<f64>(), 0.0);
    }

    #[test]
    fn prose_rates_well_on_language() {
        for name in ["word_form", "function_words", "clean_characters", "normal_case", "sentence_form"] {
            assert!(get(PROSE, name) > 0.9, "{name}: {}", get(PROSE, name));
        }
    }

    #[test]
    fn degenerate_texts_rate_low_where_they_fail() {
        assert!(get("THE RIVER RISES IN THE NORTHERN HILLS.", "normal_case") < 0.01);
        assert!(get("#### ==== ---- **** !!!! ????", "clean_characters") < 0.01);
        assert!(get("apple banana cherry date elder fig grape", "function_words") < 0.01);
        assert!(get("the river rises in the hills and the end", "sentence_form") < 0.01);
        let spam = "cheap pills buy now ".repeat(100);
        assert!(get(&spam, "vocabulary_richness") < 0.1);
        assert!(get(PROSE, "vocabulary_richness") > 0.7);
    }

    #[test]
    fn extremes_saturate() {
        // A 600-letter word is no "harder" than ordinary long words.
        let chemical = format!("The compound {} is toxic.", "methyl".repeat(100));
        assert!(get(&chemical, "vocabulary_level") <= 1.0);
        assert_eq!(get(&"word ".repeat(2000), "substance"), 1.0);
        let run_on = "and ".repeat(300);
        assert_eq!(get(&run_on, "sentence_complexity"), 1.0);
    }

    #[test]
    fn mattr_is_independent_of_length() {
        let ids: Vec<u32> = (0..1000).map(|i| i % 25).collect();
        assert!((mattr(&ids) - 0.5).abs() < 1e-12, "{}", mattr(&ids));
        let short: Vec<u32> = (0..10).collect();
        assert_eq!(mattr(&short), 1.0);
        assert_eq!(mattr(&[]), 0.0);
    }

    #[test]
    fn harder_text_rates_higher_on_difficulty() {
        let easy = "The cat sat. The dog ran. It was fun.";
        let hard = "Notwithstanding considerable methodological heterogeneity, the meta-analysis demonstrated \
                    statistically significant associations between socioeconomic deprivation and cardiovascular morbidity.";
        for name in ["vocabulary_level", "sentence_complexity", "reading_level"] {
            assert!(get(hard, name) > get(easy, name) + 0.3, "{name}");
        }
    }
}
