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

use std::sync::{Arc, LazyLock};

use datafusion::logical_expr::{Documentation, ScalarUDF};

use crate::signals::quality_functions::{Measures, QualityFunc, Shape};
use crate::signals::text_signals::markdown_list;
use crate::text::prose::{self, ProseScratch};
use crate::text::ratio;

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

/// The ratings of `text`, in [`RATINGS`] order, each in [0, 1]. A text
/// without words rates 0 on everything.
pub fn ratings(text: &str) -> [f64; COUNT] {
    ratings_with(text, &mut ProseScratch::default())
}

/// [`ratings`] with buffers kept from the previous text.
pub fn ratings_with(text: &str, scratch: &mut ProseScratch) -> [f64; COUNT] {
    let c = prose::count(text, scratch);
    if c.words == 0 {
        return [0.0; COUNT];
    }
    let words_per_sentence = ratio(c.words, c.sentences);
    let grade = 0.39 * words_per_sentence + 11.8 * ratio(c.syllables, c.words) - 15.59;
    [
        ratio(c.alpha_words, c.words),
        saturate(ratio(c.stop_words, c.words), 0.4),
        1.0 - saturate(ratio(c.symbols, c.visible), 0.25),
        1.0 - saturate(ratio(c.upper, c.letters) - 0.1, 0.5),
        ratio(c.well_formed, c.sentences),
        prose::mattr(scratch, MATTR_WINDOW),
        saturate(((1 + c.words) as f64).ln(), 1001f64.ln()),
        saturate(ratio(c.specific, c.words), 0.15),
        saturate(ratio(c.long_words, c.words), 0.4),
        saturate(words_per_sentence, 30.0),
        saturate(grade, 18.0),
    ]
}

/// The rating definitions as a Markdown list, for the functions' docs.
pub fn definitions() -> String {
    markdown_list(&RATINGS)
}

/// The ratings as a family of `quality_ratings` and
/// `quality_ratings_vector`.
#[derive(Debug, Default, PartialEq, Eq, Hash)]
pub struct Ratings;

/// Why the ratings are scaled by rank before the PCA; shown in both
/// functions' docs.
const SCALING_NOTE: &str = "odis select scales each rating by rank (quantile_fit / quantile_transform) before \
    standardising it for the PCA (--scaling rank, the default). Measured on the junk-injected benchmark \
    (benches/quality.py, 10% of 49,325 documents): rank scaling brought the mean overlap between the components' top \
    lists from 13.8% to 4.6% at the same junk share (1.9%, all of it shuffled-word text), because a rating on which \
    most documents score near the top has a long low tail whose z-scores decide the top of any component that loads \
    on it negatively. Standard scaling (--scaling standard) gave a higher Vendi score (165.8 against 152.4) at that \
    overlap.";

static STRUCT_DOC: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        crate::docs::SIGNALS.section,
        format!(
            "Rates a text on {COUNT} quality dimensions in the ODiS paper's three families (language quality, knowledge, \
             comprehension difficulty), each a Float64 in [0, 1] where higher is better, as the paper's LLM ratings \
             are: each maps a surface statistic through a saturating transform, so that degenerate extremes (a \
             600-letter word, a text of digits) never outrate good prose. NULL text gives NULL; a text without words \
             rates 0. Apply quality_filter first: ratings rank documents, the filter removes the ones no rating \
             should rank. quality_ratings_vector returns the same values as a list, for pca_fit; quality_signals has \
             the raw statistics.\n\n{}\n\n{SCALING_NOTE}",
            definitions()
        ),
        "quality_ratings(text)",
    )
    .with_sql_example(
        "```sql\n> SELECT r['sentence_form'], r['reading_level'] FROM (SELECT quality_ratings(text) AS r FROM corpus);\n```",
    )
    .with_argument("text", "A string column.")
    .with_related_udf("quality_ratings_vector")
    .with_related_udf("quality_filter")
    .build()
});

static LIST_DOC: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        crate::docs::SIGNALS.section,
        format!(
            "The {COUNT} ratings of quality_ratings (each in [0, 1], higher is better) as a List<Float64>, in this \
             order: {}. The default raw score vector of odis select and sql/select.sql; name the dimensions for \
             pca_loadings with the same list of names. {SCALING_NOTE}",
            Ratings::names().join(", ")
        ),
        "quality_ratings_vector(text)",
    )
    .with_sql_example(
        "```sql\n> SELECT pca_fit(quality_ratings_vector(text), 4, true) AS model FROM corpus\n  WHERE quality_filter(text)['keep'];\n```",
    )
    .with_argument("text", "A string column.")
    .with_related_udf("quality_ratings")
    .with_related_udf("quality_filter")
    .with_related_udf("pca_fit")
    .build()
});

impl Measures for Ratings {
    type Scratch = ProseScratch;
    const NAME: &'static str = "quality_ratings";

    fn names() -> Vec<&'static str> {
        RATINGS.iter().map(|(name, _, _)| *name).collect()
    }

    fn measure(text: &str, scratch: &mut ProseScratch, out: &mut [f64]) {
        out.copy_from_slice(&ratings_with(text, scratch));
    }

    fn documentation(shape: Shape) -> &'static Documentation {
        match shape {
            Shape::Struct => &STRUCT_DOC,
            Shape::List => &LIST_DOC,
        }
    }
}

pub fn quality_ratings_udf() -> Arc<ScalarUDF> {
    QualityFunc::<Ratings>::udf(Shape::Struct)
}

pub fn quality_ratings_vector_udf() -> Arc<ScalarUDF> {
    QualityFunc::<Ratings>::udf(Shape::List)
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
    fn harder_text_rates_higher_on_difficulty() {
        let easy = "The cat sat. The dog ran. It was fun.";
        let hard = "Notwithstanding considerable methodological heterogeneity, the meta-analysis demonstrated \
                    statistically significant associations between socioeconomic deprivation and cardiovascular morbidity.";
        for name in ["vocabulary_level", "sentence_complexity", "reading_level"] {
            assert!(get(hard, name) > get(easy, name) + 0.3, "{name}");
        }
    }
}
