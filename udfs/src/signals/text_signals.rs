//! Cheap, deterministic quality signals of a text, in the three families the
//! ODiS paper rates with an LLM: language quality, knowledge/information and
//! comprehension difficulty. `quality_signals` and `quality_signals_vector`
//! return them; this module owns their definitions.
//!
//! Words and sentences are Unicode (UAX #29) words and sentences, so the
//! signals mean the same in any script that separates words; letters and
//! case are Unicode properties. A ratio over nothing (no words, no
//! letters) is 0, so that PCA always sees a finite row, never NaN.

use std::sync::{Arc, LazyLock};

use datafusion::logical_expr::{Documentation, ScalarUDF};

use crate::signals::quality_functions::{Measures, QualityFunc, Shape};
use crate::text::intern::{SpanSet, repeats};
use crate::text::prose::{self, ProseScratch};
use crate::text::ratio;

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

/// The signals of `text`, in [`SIGNALS`] order.
pub fn signals(text: &str) -> [f64; COUNT] {
    signals_with(text, &mut SignalScratch::default())
}

/// Buffers kept from one text to the next.
#[derive(Debug, Default)]
pub struct SignalScratch {
    prose: ProseScratch,
    lines: SpanSet,
}

/// [`signals`] with buffers kept from the previous text.
pub fn signals_with(text: &str, scratch: &mut SignalScratch) -> [f64; COUNT] {
    let c = prose::count(text, &mut scratch.prose);
    let distinct = scratch.prose.ids.len();

    let nonempty_lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let (lines, duplicate_lines, _) = repeats(text, &mut scratch.lines, nonempty_lines);

    let compression = if text.is_empty() {
        0.0
    } else {
        miniz_oxide::deflate::compress_to_vec(text.as_bytes(), 6).len() as f64 / text.len() as f64
    };
    let words_per_sentence = ratio(c.words, c.sentences);
    let grade = if c.words == 0 {
        0.0
    } else {
        0.39 * words_per_sentence + 11.8 * ratio(c.syllables, c.words) - 15.59
    };

    [
        ratio(c.alpha_words, c.words),
        ratio(c.stop_words, c.words),
        ratio(c.symbols, c.visible),
        ratio(c.upper, c.letters),
        ratio(duplicate_lines, lines),
        ratio(distinct, c.words),
        ratio(c.number_words, c.words),
        ratio(c.capitalized_terms, c.words),
        compression,
        ratio(c.word_chars, c.words),
        words_per_sentence,
        grade,
        ratio(c.long_words, c.words),
    ]
}

/// The signal definitions as a Markdown list, for the functions' docs.
pub fn definitions() -> String {
    markdown_list(&SIGNALS)
}

/// The signals as a family of `quality_signals` and
/// `quality_signals_vector`.
#[derive(Debug, Default, PartialEq, Eq, Hash)]
pub struct Signals;

static STRUCT_DOC: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        crate::docs::SIGNALS.section,
        format!(
            "Measures a text on {COUNT} cheap, deterministic statistics in the ODiS paper's three families (language quality, \
             knowledge, comprehension difficulty) and returns them as a struct of Float64 fields. They are raw statistics, \
             not ratings: their extremes are degenerate texts, so select with quality_ratings (after quality_filter) and \
             use these to inspect or to build ratings of your own. NULL text gives NULL; \
             without words, the signals over words are 0 (never NaN). Words and sentences are Unicode (UAX #29) words and \
             sentences. quality_signals_vector returns the same values as a list, for pca_fit.\n\n{}",
            definitions()
        ),
        "quality_signals(text)",
    )
    .with_sql_example(
        "```sql\n> SELECT q['stop_word_fraction'], q['flesch_kincaid_grade']\n  FROM (SELECT quality_signals(text) AS q FROM corpus);\n```",
    )
    .with_argument("text", "A string column.")
    .with_related_udf("quality_signals_vector")
    .with_related_udf("pca_fit")
    .build()
});

static LIST_DOC: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        crate::docs::SIGNALS.section,
        format!(
            "The {COUNT} signals of quality_signals as a List<Float64>, in this order: {}. Feed it to pca_fit and \
             pca_project; name the dimensions for pca_loadings with the same list of names.",
            Signals::names().join(", ")
        ),
        "quality_signals_vector(text)",
    )
    .with_sql_example("```sql\n> SELECT pca_fit(quality_signals_vector(text), 4) AS model FROM corpus;\n```")
    .with_argument("text", "A string column.")
    .with_related_udf("quality_signals")
    .with_related_udf("pca_fit")
    .build()
});

impl Measures for Signals {
    type Scratch = SignalScratch;
    const NAME: &'static str = "quality_signals";

    fn names() -> Vec<&'static str> {
        SIGNALS.iter().map(|(name, _, _)| *name).collect()
    }

    fn measure(text: &str, scratch: &mut SignalScratch, out: &mut [f64]) {
        out.copy_from_slice(&signals_with(text, scratch));
    }

    fn documentation(shape: Shape) -> &'static Documentation {
        match shape {
            Shape::Struct => &STRUCT_DOC,
            Shape::List => &LIST_DOC,
        }
    }
}

pub fn quality_signals_udf() -> Arc<ScalarUDF> {
    QualityFunc::<Signals>::udf(Shape::Struct)
}

pub fn quality_signals_vector_udf() -> Arc<ScalarUDF> {
    QualityFunc::<Signals>::udf(Shape::List)
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
