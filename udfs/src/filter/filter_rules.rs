//! The document quality rules of `quality_filter`: what each rule measures,
//! its default threshold, and the filter specs (`'default'`, `'gopher,c4'`,
//! `'datatrove'`, `'default,gopher_min_words=20'`) that choose rules and
//! override thresholds.
//!
//! Two sets of rules. odis's own (`default`, `all`) take the ideas and the
//! thresholds of the published filters that production pipelines run before
//! any model-based selection (Gopher's quality and repetition rules, Rae et
//! al. 2021, appendix A; C4's, Raffel et al. 2020; FineWeb's, Penedo et al.
//! 2024) but measure them on Unicode (UAX #29) words and trimmed lines, and
//! leave out C4's sentence and curly-bracket rules: [`DEVIATIONS`] lists
//! every difference from the implementation users compare keep rates with.
//! The `datatrove*` rules (`filter/datatrove.rs`) reproduce that
//! implementation, Hugging Face datatrove 0.10 at its defaults. A rule that
//! divides by nothing (no words, no lines) passes: the word-count rule is
//! what removes empty texts.

use std::collections::{HashMap, HashSet};

use foldhash::fast::FixedState;
use unicode_segmentation::UnicodeSegmentation;
use xxhash_rust::xxh3::xxh3_64;

use crate::filter::datatrove::{DatatroveMeasure, DatatroveMeasures, DatatroveScratch};
use crate::text::intern::{KEEP_SLOTS, SpanSet, repeats};
use crate::text::{char_count, ratio};
use crate::text::sentences::for_each_sentence;
use crate::text::words::word_spans;

/// Whether a measurement must stay at or above, or at or below, the
/// threshold; `Forbid` rules are on/off checks of a pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    Min,
    Max,
    Forbid,
}

/// What values a threshold may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Domain {
    /// A whole number of words, characters or sentences.
    Count,
    /// A share in [0, 1].
    Ratio,
    /// A positive length in characters.
    Length,
    /// `on` or `off` (a `Forbid` rule).
    Switch,
}

/// One rule of the filter.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub name: &'static str,
    /// The filter family it comes from: gopher, c4, fineweb or odis.
    pub family: &'static str,
    pub bound: Bound,
    pub domain: Domain,
    /// The published threshold (1 for a `Forbid` rule).
    pub default: f64,
    /// Whether the `default` filter applies it.
    pub in_default: bool,
    pub definition: &'static str,
    /// What it measures.
    measure: Measure,
}

/// The measurement a rule compares with its threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Measure {
    Words,
    MeanWordLength,
    SymbolWordRatio,
    BulletLines,
    EllipsisLines,
    AlphaWords,
    StopWords,
    LongestWord,
    LoremIpsum,
    CurlyBracket,
    Sentences,
    AllCapsWords,
    LinePunctuation,
    ShortLines,
    FinewebDuplicateLineChars,
    NewlinesPerWord,
    DuplicateLines,
    DuplicateParagraphs,
    DuplicateLineChars,
    DuplicateParagraphChars,
    /// The most frequent word n-gram, n = 2, 3, 4.
    TopNgram(usize),
    /// Repeated word n-grams, n = 5..=10.
    DuplicateNgram(usize),
    /// A rule of datatrove's filters, measured as datatrove does.
    Datatrove(DatatroveMeasure),
}

const fn rule(
    name: &'static str,
    family: &'static str,
    (bound, domain, measure): (Bound, Domain, Measure),
    default: f64,
    in_default: bool,
    definition: &'static str,
) -> Rule {
    Rule { name, family, bound, domain, default, in_default, definition, measure }
}

use Bound::{Forbid, Max, Min};
use Domain::{Count, Length, Ratio, Switch};
use Measure::*;
use DatatroveMeasure as Dt;

const fn dt(measure: DatatroveMeasure) -> Measure {
    Measure::Datatrove(measure)
}

/// Every rule, in the order they are checked (cheap ones first); a document
/// is reported under the first rule it fails.
pub const RULES: [Rule; 62] = [
    rule("gopher_min_words", "gopher", (Min, Count, Words), 50.0, true, "words"),
    rule("gopher_max_words", "gopher", (Max, Count, Words), 100_000.0, true, "words"),
    rule("gopher_min_mean_word_length", "gopher", (Min, Length, MeanWordLength), 3.0, true, "mean characters per word"),
    rule("gopher_max_mean_word_length", "gopher", (Max, Length, MeanWordLength), 10.0, true, "mean characters per word"),
    rule("gopher_max_symbol_word_ratio", "gopher", (Max, Ratio, SymbolWordRatio), 0.1, true, "('#' + '...' + '…') / words"),
    rule("gopher_max_bullet_lines_ratio", "gopher", (Max, Ratio, BulletLines), 0.9, true, "lines starting with a bullet (•, ‣, ◦, ●, -, *) / lines"),
    rule("gopher_max_ellipsis_lines_ratio", "gopher", (Max, Ratio, EllipsisLines), 0.3, true, "lines ending with '...' or '…' / lines"),
    rule("gopher_min_alpha_words_ratio", "gopher", (Min, Ratio, AlphaWords), 0.8, true, "words with a letter / words"),
    rule("gopher_min_stop_words", "gopher", (Min, Count, StopWords), 2.0, true, "distinct words among the, be, to, of, and, that, have, with (case-insensitive)"),
    rule("c4_max_word_length", "c4", (Max, Length, LongestWord), 1000.0, true, "characters of the longest word"),
    rule("c4_lorem_ipsum", "c4", (Forbid, Switch, LoremIpsum), 1.0, true, "the text contains 'lorem ipsum' (case-insensitive)"),
    rule("c4_curly_bracket", "c4", (Forbid, Switch, CurlyBracket), 1.0, false, "the text contains '{' (C4 drops code this way; off in `default`)"),
    rule("c4_min_sentences", "c4", (Min, Count, Sentences), 5.0, false, "Unicode sentences that hold a word (off in `default`: the Gopher rules already judge short texts)"),
    rule("odis_max_all_caps_words_ratio", "odis", (Max, Ratio, AllCapsWords), 0.4, true, "words of 2+ letters written in capitals only / words with a letter (RedPajama-V2's all-caps signal)"),
    rule("fineweb_min_line_punct_ratio", "fineweb", (Min, Ratio, LinePunctuation), 0.12, true, "non-empty lines ending in terminal punctuation (. ! ? \" ' ” ’ … :) / non-empty lines"),
    rule("fineweb_max_short_line_ratio", "fineweb", (Max, Ratio, ShortLines), 0.67, true, "non-empty lines shorter than 30 characters / non-empty lines"),
    rule("fineweb_max_duplicate_line_chars_ratio", "fineweb", (Max, Ratio, FinewebDuplicateLineChars), 0.01, true, "characters in non-empty lines that repeat an earlier line / characters"),
    rule("fineweb_max_newline_word_ratio", "fineweb", (Max, Ratio, NewlinesPerWord), 0.3, true, "line breaks / words"),
    rule("gopher_max_duplicate_lines_ratio", "gopher", (Max, Ratio, DuplicateLines), 0.3, true, "lines that repeat an earlier line / lines"),
    rule("gopher_max_duplicate_paragraphs_ratio", "gopher", (Max, Ratio, DuplicateParagraphs), 0.3, true, "paragraphs (split at blank lines) that repeat an earlier one / paragraphs"),
    rule("gopher_max_duplicate_line_chars_ratio", "gopher", (Max, Ratio, DuplicateLineChars), 0.2, true, "characters in repeated lines / characters"),
    rule("gopher_max_duplicate_paragraph_chars_ratio", "gopher", (Max, Ratio, DuplicateParagraphChars), 0.2, true, "characters in repeated paragraphs / characters"),
    rule("gopher_max_top_2gram_ratio", "gopher", (Max, Ratio, TopNgram(2)), 0.2, true, "characters of the most frequent word 2-gram times its count / characters"),
    rule("gopher_max_top_3gram_ratio", "gopher", (Max, Ratio, TopNgram(3)), 0.18, true, "the same for 3-grams"),
    rule("gopher_max_top_4gram_ratio", "gopher", (Max, Ratio, TopNgram(4)), 0.16, true, "the same for 4-grams"),
    rule("gopher_max_duplicate_5gram_ratio", "gopher", (Max, Ratio, DuplicateNgram(5)), 0.15, true, "characters in word 5-grams that repeat an earlier 5-gram (not overlapping) / characters"),
    rule("gopher_max_duplicate_6gram_ratio", "gopher", (Max, Ratio, DuplicateNgram(6)), 0.14, true, "the same for 6-grams"),
    rule("gopher_max_duplicate_7gram_ratio", "gopher", (Max, Ratio, DuplicateNgram(7)), 0.13, true, "the same for 7-grams"),
    rule("gopher_max_duplicate_8gram_ratio", "gopher", (Max, Ratio, DuplicateNgram(8)), 0.12, true, "the same for 8-grams"),
    rule("gopher_max_duplicate_9gram_ratio", "gopher", (Max, Ratio, DuplicateNgram(9)), 0.11, true, "the same for 9-grams"),
    rule("gopher_max_duplicate_10gram_ratio", "gopher", (Max, Ratio, DuplicateNgram(10)), 0.10, true, "the same for 10-grams"),
    // datatrove 0.10's GopherRepetitionFilter, GopherQualityFilter,
    // C4QualityFilter and FineWebQualityFilter at their defaults, in the
    // order of FineWeb's pipeline. "tokens" are spaCy's English tokens,
    // punctuation included; "words" the tokens that are not all punctuation.
    rule("datatrove_gopher_empty", "datatrove_gopher_repetition", (Forbid, Switch, dt(Dt::Empty)), 1.0, false, "the text is empty"),
    rule("datatrove_gopher_max_duplicate_paragraphs_ratio", "datatrove_gopher_repetition", (Max, Ratio, dt(Dt::DuplicateParagraphs)), 0.3, false, "paragraphs (split at 2+ line breaks) that repeat an earlier one / paragraphs"),
    rule("datatrove_gopher_max_duplicate_paragraph_chars_ratio", "datatrove_gopher_repetition", (Max, Ratio, dt(Dt::DuplicateParagraphChars)), 0.2, false, "characters in repeated paragraphs / characters"),
    rule("datatrove_gopher_max_duplicate_lines_ratio", "datatrove_gopher_repetition", (Max, Ratio, dt(Dt::DuplicateLines)), 0.3, false, "lines (split at runs of line breaks) that repeat an earlier one / lines"),
    rule("datatrove_gopher_max_duplicate_line_chars_ratio", "datatrove_gopher_repetition", (Max, Ratio, dt(Dt::DuplicateLineChars)), 0.2, false, "characters in repeated lines / characters"),
    rule("datatrove_gopher_max_top_2gram_ratio", "datatrove_gopher_repetition", (Max, Ratio, dt(Dt::TopNgram(2))), 0.2, false, "characters of the most frequent token 2-gram times its count / characters"),
    rule("datatrove_gopher_max_top_3gram_ratio", "datatrove_gopher_repetition", (Max, Ratio, dt(Dt::TopNgram(3))), 0.18, false, "the same for 3-grams"),
    rule("datatrove_gopher_max_top_4gram_ratio", "datatrove_gopher_repetition", (Max, Ratio, dt(Dt::TopNgram(4))), 0.16, false, "the same for 4-grams"),
    rule("datatrove_gopher_max_duplicate_5gram_ratio", "datatrove_gopher_repetition", (Max, Ratio, dt(Dt::DuplicateNgram(5))), 0.15, false, "characters of token 5-grams (joined without spaces) that repeat an earlier one / characters"),
    rule("datatrove_gopher_max_duplicate_6gram_ratio", "datatrove_gopher_repetition", (Max, Ratio, dt(Dt::DuplicateNgram(6))), 0.14, false, "the same for 6-grams"),
    rule("datatrove_gopher_max_duplicate_7gram_ratio", "datatrove_gopher_repetition", (Max, Ratio, dt(Dt::DuplicateNgram(7))), 0.13, false, "the same for 7-grams"),
    rule("datatrove_gopher_max_duplicate_8gram_ratio", "datatrove_gopher_repetition", (Max, Ratio, dt(Dt::DuplicateNgram(8))), 0.12, false, "the same for 8-grams"),
    rule("datatrove_gopher_max_duplicate_9gram_ratio", "datatrove_gopher_repetition", (Max, Ratio, dt(Dt::DuplicateNgram(9))), 0.11, false, "the same for 9-grams"),
    rule("datatrove_gopher_max_duplicate_10gram_ratio", "datatrove_gopher_repetition", (Max, Ratio, dt(Dt::DuplicateNgram(10))), 0.10, false, "the same for 10-grams"),
    rule("datatrove_gopher_min_words", "datatrove_gopher_quality", (Min, Count, dt(Dt::Words)), 50.0, false, "words"),
    rule("datatrove_gopher_max_words", "datatrove_gopher_quality", (Max, Count, dt(Dt::Words)), 100_000.0, false, "words"),
    rule("datatrove_gopher_min_mean_word_length", "datatrove_gopher_quality", (Min, Length, dt(Dt::MeanWordLength)), 3.0, false, "mean characters per word"),
    rule("datatrove_gopher_max_mean_word_length", "datatrove_gopher_quality", (Max, Length, dt(Dt::MeanWordLength)), 10.0, false, "mean characters per word"),
    rule("datatrove_gopher_max_hash_ratio", "datatrove_gopher_quality", (Max, Ratio, dt(Dt::HashRatio)), 0.1, false, "'#' / tokens"),
    rule("datatrove_gopher_max_ellipsis_ratio", "datatrove_gopher_quality", (Max, Ratio, dt(Dt::EllipsisRatio)), 0.1, false, "('...' + '…') / tokens"),
    rule("datatrove_gopher_max_bullet_lines_ratio", "datatrove_gopher_quality", (Max, Ratio, dt(Dt::BulletLines)), 0.9, false, "lines starting with '•' or '-' / lines"),
    rule("datatrove_gopher_max_ellipsis_lines_ratio", "datatrove_gopher_quality", (Max, Ratio, dt(Dt::EllipsisLines)), 0.3, false, "lines ending with '...' or '…' / lines"),
    rule("datatrove_gopher_min_alpha_words_ratio", "datatrove_gopher_quality", (Min, Ratio, dt(Dt::AlphaWords)), 0.8, false, "tokens with a letter / tokens (punctuation tokens count)"),
    rule("datatrove_gopher_min_stop_words", "datatrove_gopher_quality", (Min, Count, dt(Dt::StopWords)), 2.0, false, "distinct tokens among the, be, to, of, and, that, have, with (case-sensitive)"),
    rule("datatrove_c4_lorem_ipsum", "datatrove_c4", (Forbid, Switch, dt(Dt::LoremIpsum)), 1.0, false, "a kept line contains 'lorem ipsum' (case-insensitive)"),
    rule("datatrove_c4_curly_bracket", "datatrove_c4", (Forbid, Switch, dt(Dt::CurlyBracket)), 1.0, false, "a kept line contains '{'"),
    rule("datatrove_c4_min_sentences", "datatrove_c4", (Min, Count, dt(Dt::Sentences)), 5.0, false, "sentences (spaCy's sentencizer) in the kept lines; C4 keeps a line when, citations removed, it ends in . ? ! \" or ' (not ...), has 3+ words, no word over 1000 characters, and no 'javascript' or cookie/terms-of-use phrase"),
    rule("datatrove_fineweb_min_line_punct_ratio", "datatrove_fineweb", (Min, Ratio, dt(Dt::LinePunctuation)), 0.12, false, "non-blank lines ending in terminal punctuation (. ! ? and other scripts' sentence ends; not quotes) / non-blank lines; FineWeb reads the lines C4 kept when C4's rules are on"),
    rule("datatrove_fineweb_max_short_line_ratio", "datatrove_fineweb", (Max, Ratio, dt(Dt::ShortLines)), 0.67, false, "non-blank lines of 30 characters or fewer / non-blank lines"),
    rule("datatrove_fineweb_max_duplicate_line_chars_ratio", "datatrove_fineweb", (Max, Ratio, dt(Dt::DuplicateLineCharsFineweb)), 0.01, false, "characters in non-blank lines that repeat an earlier line / characters other than line breaks"),
    rule("datatrove_fineweb_max_newline_word_ratio", "datatrove_fineweb", (Max, Ratio, dt(Dt::NewlinesPerWord)), 0.3, false, "line breaks / tokens"),
];

/// The rule sets a spec can name.
pub const FILTERS: [(&str, &str); 13] = [
    ("default", "every rule marked default: Gopher quality and repetition, FineWeb's line rules, C4's word-length and lorem-ipsum rules, odis's all-caps rule"),
    ("all", "every rule of odis's own definitions (the datatrove* rules measure the same things differently and are named apart)"),
    ("none", "no rule: every document is kept"),
    ("gopher", "the Gopher quality and repetition rules"),
    ("c4", "every C4 rule, curly bracket and five sentences included"),
    ("fineweb", "FineWeb's line rules"),
    ("odis", "odis's own rules"),
    ("datatrove", "Hugging Face datatrove 0.10's Gopher repetition, Gopher quality, C4 quality and FineWeb quality filters at their defaults, as its pipeline applies them (spaCy tokens; FineWeb reads the lines C4 kept)"),
    ("datatrove_gopher", "datatrove's two Gopher filters"),
    ("datatrove_gopher_repetition", "datatrove's Gopher repetition filter"),
    ("datatrove_gopher_quality", "datatrove's Gopher quality filter"),
    ("datatrove_c4", "datatrove's C4 quality filter"),
    ("datatrove_fineweb", "datatrove's FineWeb quality filter (on the whole text when C4's rules are off)"),
];

/// Gopher's stop words.
const GOPHER_STOP_WORDS: [&str; 8] = ["the", "be", "to", "of", "and", "that", "have", "with"];

/// Which rules apply, with what thresholds (None: the rule is off).
#[derive(Debug, Clone, PartialEq)]
pub struct FilterSpec {
    thresholds: [Option<f64>; RULES.len()],
}

impl Default for FilterSpec {
    fn default() -> Self {
        Self { thresholds: std::array::from_fn(|i| RULES[i].in_default.then_some(RULES[i].default)) }
    }
}

fn rule_index(name: &str) -> Option<usize> {
    RULES.iter().position(|r| r.name == name)
}

fn parse_threshold(rule: &Rule, value: &str) -> Result<Option<f64>, String> {
    if value.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let expected = match rule.domain {
        Domain::Count => "a whole number >= 0 (or off)",
        Domain::Ratio => "a number between 0 and 1 (or off)",
        Domain::Length => "a number > 0 (or off)",
        Domain::Switch => "on or off",
    };
    let bad = || format!("rule '{}' takes {expected}, got '{value}'", rule.name);
    if rule.domain == Domain::Switch {
        return if value.eq_ignore_ascii_case("on") { Ok(Some(1.0)) } else { Err(bad()) };
    }
    let number: f64 = value.parse().map_err(|_| bad())?;
    let fits = match rule.domain {
        Domain::Count => number >= 0.0 && number.fract() == 0.0 && number <= 1e12,
        Domain::Ratio => (0.0..=1.0).contains(&number),
        Domain::Length => number > 0.0 && number.is_finite(),
        Domain::Switch => false,
    };
    if fits { Ok(Some(number)) } else { Err(bad()) }
}

impl FilterSpec {
    /// No rule: keeps every document.
    pub fn none() -> Self {
        Self { thresholds: [None; RULES.len()] }
    }

    /// Parses a spec: comma-separated items, applied left to right. An item
    /// is a filter name (adds its rules at their default thresholds; `none`
    /// clears), `RULE=VALUE` (sets a threshold and turns the rule on) or
    /// `RULE=off`. An empty spec is `default`.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut result = Self::none();
        let items: Vec<&str> = spec.split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
        if items.is_empty() {
            return Ok(Self::default());
        }
        for item in items {
            if let Some((name, value)) = item.split_once('=') {
                let (name, value) = (name.trim(), value.trim());
                let index = rule_index(name).ok_or_else(|| unknown(name))?;
                result.thresholds[index] = parse_threshold(&RULES[index], value)?;
                continue;
            }
            let chosen: Box<dyn Fn(&Rule) -> bool> = match item {
                "default" => Box::new(|r: &Rule| r.in_default),
                "all" => Box::new(|r: &Rule| !r.family.starts_with("datatrove")),
                "none" => {
                    result = Self::none();
                    continue;
                }
                // A filter names a family and the families under it
                // (`datatrove_gopher` holds both of datatrove's Gopher filters).
                family if FILTERS.iter().any(|(f, _)| *f == family) => Box::new(move |r: &Rule| {
                    r.family == family || r.family.strip_prefix(family).is_some_and(|rest| rest.starts_with('_'))
                }),
                other if rule_index(other).is_some() => {
                    return Err(format!("rule '{other}' needs a value: {other}=VALUE or {other}=off"));
                }
                other => return Err(unknown(other)),
            };
            for (i, rule) in RULES.iter().enumerate() {
                if chosen(rule) {
                    result.thresholds[i] = Some(rule.default);
                }
            }
        }
        Ok(result)
    }

    /// The rules that apply, with their thresholds.
    pub fn active(&self) -> impl Iterator<Item = (&'static Rule, f64)> + '_ {
        RULES.iter().zip(self.thresholds).filter_map(|(r, t)| t.map(|t| (r, t)))
    }

    /// Whether no rule applies.
    pub fn is_none(&self) -> bool {
        self.thresholds.iter().all(Option::is_none)
    }

    /// A canonical text of the spec: the same rules and thresholds give the
    /// same text, however they were written.
    pub fn canonical(&self) -> String {
        if self.is_none() {
            return "none".into();
        }
        // (An on/off rule reads back as `on`, not as its internal 1.)
        self.active()
            .map(|(r, t)| if r.domain == Domain::Switch { format!("{}=on", r.name) } else { format!("{}={t}", r.name) })
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The name of the first rule `text` fails, or None when it passes.
    pub fn first_failure(&self, text: &str) -> Option<&'static str> {
        self.first_failure_with(text, &mut FilterScratch::default())
    }

    /// [`first_failure`](Self::first_failure) with buffers kept from the
    /// previous text.
    pub fn first_failure_with(&self, text: &str, scratch: &mut FilterScratch) -> Option<&'static str> {
        if self.is_none() {
            return None;
        }
        let fineweb_after_c4 = self.active().any(|(r, _)| r.family == "datatrove_c4");
        let mut measures = Measures::new(text, scratch, fineweb_after_c4);
        for (index, rule) in RULES.iter().enumerate() {
            let Some(threshold) = self.thresholds[index] else { continue };
            let value = measures.get(index);
            let fails = match rule.bound {
                Bound::Min => value < threshold,
                Bound::Max => value > threshold,
                Bound::Forbid => value > 0.0,
            };
            if fails {
                return Some(rule.name);
            }
        }
        None
    }
}

fn unknown(name: &str) -> String {
    let filters: Vec<&str> = FILTERS.iter().map(|(f, _)| *f).collect();
    format!(
        "unknown filter or rule '{name}'; filters: {}; rules: see \\h quality_filter (e.g. gopher_min_words=20)",
        filters.join(", ")
    )
}

/// Buffers kept from one text to the next (a batch of rows allocates
/// once). The n-gram tables key on 64-bit hashes of the words, as they
/// always have; the line and paragraph sets compare the strings.
#[derive(Debug, Default)]
pub struct FilterScratch {
    /// Byte ranges of the words.
    words: Vec<(usize, usize)>,
    /// Characters of each word.
    lengths: Vec<usize>,
    /// xxh3 of each word.
    hashes: Vec<u64>,
    /// The key of the n-gram at each word, for the n at hand.
    keys: Vec<u64>,
    spans: SpanSet,
    ngram_counts: HashMap<u64, (usize, usize), FixedState>,
    ngram_seen: HashSet<u64, FixedState>,
    datatrove: DatatroveScratch,
}

/// The measurements of one text, computed on first use: the n-gram
/// repetition ones cost the most and most junk fails before them.
struct Measures<'a, 's> {
    text: &'a str,
    chars: usize,
    scratch: &'s mut FilterScratch,
    /// Whether `scratch.words` (and `lengths`) hold this text's words, and
    /// `word_stats` their counts.
    words: bool,
    word_stats: WordStats,
    lines: Option<LineCounts>,
    repetition: Option<Repetition>,
    datatrove: DatatroveMeasures<'a>,
}

/// What the word rules count, in the pass that splits the words.
#[derive(Debug, Default, Clone, Copy)]
struct WordStats {
    /// Characters of all words, and of the longest.
    chars: usize,
    longest: usize,
    /// Words with a letter.
    lettered: usize,
    /// Words of two or more letters, all capitals.
    all_caps: usize,
    /// Which of Gopher's stop words occur (case-insensitive).
    stop_words: [bool; GOPHER_STOP_WORDS.len()],
}

impl WordStats {
    fn add(&mut self, word: &str, chars: usize) {
        self.chars += chars;
        self.longest = self.longest.max(chars);
        let (letters, upper) = if word.is_ascii() {
            let bytes = word.as_bytes();
            (bytes.iter().filter(|b| b.is_ascii_alphabetic()).count(), bytes.iter().filter(|b| b.is_ascii_uppercase()).count())
        } else {
            let letters = word.chars().filter(|c| c.is_alphabetic());
            (letters.clone().count(), letters.filter(|c| c.is_uppercase()).count())
        };
        self.lettered += usize::from(letters > 0);
        self.all_caps += usize::from(letters >= 2 && upper == letters);
        if word.len() <= 4 {
            let position = if word.is_ascii() {
                GOPHER_STOP_WORDS.iter().position(|s| s.eq_ignore_ascii_case(word))
            } else {
                let lower = word.to_lowercase();
                GOPHER_STOP_WORDS.iter().position(|s| *s == lower)
            };
            if let Some(i) = position {
                self.stop_words[i] = true;
            }
        }
    }
}

/// What the line rules count, in one pass over the lines.
#[derive(Debug, Default, Clone, Copy)]
struct LineCounts {
    /// Lines split at `\n`, blank ones included.
    lines: usize,
    bullets: usize,
    ellipses: usize,
    /// Non-blank lines, trimmed.
    nonempty: usize,
    /// ... that end in terminal punctuation.
    ended: usize,
    /// ... that are shorter than 30 characters.
    short: usize,
    /// Characters of non-blank trimmed lines that repeat an earlier one.
    duplicate_chars: usize,
}

/// Gopher's repetition measurements.
struct Repetition {
    duplicate_lines: f64,
    duplicate_paragraphs: f64,
    duplicate_line_chars: f64,
    duplicate_paragraph_chars: f64,
    /// For n = 2, 3, 4.
    top_ngram: [f64; 3],
    /// For n = 5..=10.
    duplicate_ngram: [f64; 6],
}


/// Whether `text` contains `pattern` (ASCII lowercase letters and spaces)
/// in any case. The same as `text.to_lowercase().contains(pattern)`: the
/// only characters beyond ASCII whose lowercase holds an ASCII letter are
/// the Kelvin sign (k) and the dotted capital I (i, then a combining dot,
/// which no pattern letter follows); a test checks every character.
fn contains_ignoring_ascii_case(text: &str, pattern: &str) -> bool {
    let (text, pattern) = (text.as_bytes(), pattern.as_bytes());
    text.len() >= pattern.len() && text.windows(pattern.len()).any(|w| w.eq_ignore_ascii_case(pattern))
}

impl<'a, 's> Measures<'a, 's> {
    fn new(text: &'a str, scratch: &'s mut FilterScratch, fineweb_after_c4: bool) -> Self {
        let datatrove = DatatroveMeasures::new(text, fineweb_after_c4);
        Self {
            text,
            chars: char_count(text),
            scratch,
            words: false,
            word_stats: WordStats::default(),
            lines: None,
            repetition: None,
            datatrove,
        }
    }

    fn words(&mut self) -> &[(usize, usize)] {
        if !self.words {
            let text = self.text;
            let FilterScratch { words, lengths, .. } = &mut *self.scratch;
            words.clear();
            word_spans(text, words);
            lengths.clear();
            let mut stats = WordStats::default();
            for &(a, b) in words.iter() {
                let word = &text[a..b];
                let chars = char_count(word);
                lengths.push(chars);
                stats.add(word, chars);
            }
            self.word_stats = stats;
            self.words = true;
        }
        &self.scratch.words
    }

    fn line_counts(&mut self) -> LineCounts {
        if let Some(counts) = self.lines {
            return counts;
        }
        let text = self.text;
        let seen = &mut self.scratch.spans;
        seen.clear();
        let base = text.as_ptr() as usize;
        let mut c = LineCounts::default();
        for line in text.split('\n') {
            c.lines += 1;
            c.bullets += usize::from(line.trim_start().starts_with(['•', '‣', '◦', '●', '-', '*']));
            let end_trimmed = line.trim_end();
            c.ellipses += usize::from(end_trimmed.ends_with("...") || end_trimmed.ends_with('…'));
            let trimmed = end_trimmed.trim_start();
            if trimmed.is_empty() {
                continue;
            }
            c.nonempty += 1;
            c.ended += usize::from(trimmed.ends_with(['.', '!', '?', '"', '\'', '”', '’', '…', ':']));
            c.short += usize::from(char_count(trimmed) < 30);
            let start = trimmed.as_ptr() as usize - base;
            if !seen.insert(text, start, start + trimmed.len()) {
                c.duplicate_chars += char_count(trimmed);
            }
        }
        self.lines = Some(c);
        c
    }

    fn repetition(&mut self) -> &Repetition {
        if self.repetition.is_none() {
            let (text, chars) = (self.text, self.chars);
            self.words();
            let FilterScratch { words, lengths, hashes, keys, spans, ngram_counts, ngram_seen, .. } = &mut *self.scratch;
            let (lines, dup_lines, dup_line_chars) = repeats(text, spans, text.split('\n').filter(|l| !l.trim().is_empty()));
            let paragraphs = text.split("\n\n").map(str::trim).filter(|p| !p.is_empty());
            let (paras, dup_paras, dup_para_chars) = repeats(text, spans, paragraphs);
            // keys[i] is the key of the n-gram at word i; each n extends the
            // keys of n - 1 by one word, which gives the keys ngram_key would.
            hashes.clear();
            hashes.extend(words.iter().map(|&(a, b)| xxh3_64(&text.as_bytes()[a..b])));
            keys.clear();
            keys.extend(hashes.iter().map(|&h| ngram_step(NGRAM_SEED, h)));
            let mut top_ngram = [0.0; 3];
            let mut duplicate_ngram = [0.0; 6];
            for n in 2..=10 {
                if n > 5 && duplicate_ngram[0] == 0.0 {
                    // No 5-gram repeats, so no longer one does: a repeated
                    // n-gram's first five words would repeat too.
                    break;
                }
                let windows = (hashes.len() + 1).saturating_sub(n);
                keys.truncate(windows);
                for (i, key) in keys.iter_mut().enumerate() {
                    *key = ngram_step(*key, hashes[i + n - 1]);
                }
                if n <= 4 {
                    top_ngram[n - 2] = ratio(top_ngram_chars(keys, lengths, n, ngram_counts), chars);
                } else {
                    duplicate_ngram[n - 5] = ratio(duplicate_ngram_chars(keys, lengths, n, ngram_seen), chars);
                }
            }
            self.repetition = Some(Repetition {
                duplicate_lines: ratio(dup_lines, lines),
                duplicate_paragraphs: ratio(dup_paras, paras),
                duplicate_line_chars: ratio(dup_line_chars, chars),
                duplicate_paragraph_chars: ratio(dup_para_chars, chars),
                top_ngram,
                duplicate_ngram,
            });
        }
        self.repetition.as_ref().expect("just computed")
    }

    /// The measurement rule `index` of [`RULES`] compares with its threshold.
    fn get(&mut self, index: usize) -> f64 {
        let text = self.text;
        match RULES[index].measure {
            Words => self.words().len() as f64,
            MeanWordLength => {
                let count = self.words().len();
                if count == 0 {
                    // No words: the word-count rule judges this text.
                    return if RULES[index].bound == Bound::Min { f64::INFINITY } else { 0.0 };
                }
                ratio(self.word_stats.chars, count)
            }
            SymbolWordRatio => {
                let symbols = text.matches('#').count() + text.matches("...").count() + text.matches('…').count();
                ratio(symbols, self.words().len())
            }
            BulletLines => {
                let c = self.line_counts();
                ratio(c.bullets, c.lines)
            }
            EllipsisLines => {
                let c = self.line_counts();
                ratio(c.ellipses, c.lines)
            }
            AlphaWords => {
                let count = self.words().len();
                if count == 0 { 1.0 } else { ratio(self.word_stats.lettered, count) }
            }
            StopWords => {
                self.words();
                self.word_stats.stop_words.iter().filter(|f| **f).count() as f64
            }
            LongestWord => {
                self.words();
                self.word_stats.longest as f64
            }
            LoremIpsum => f64::from(u8::from(contains_ignoring_ascii_case(text, "lorem ipsum"))),
            CurlyBracket => f64::from(u8::from(text.contains('{'))),
            Sentences => {
                let mut sentences = 0;
                for_each_sentence(text, |s| sentences += usize::from(s.unicode_words().next().is_some()));
                sentences as f64
            }
            AllCapsWords => {
                self.words();
                ratio(self.word_stats.all_caps, self.word_stats.lettered)
            }
            LinePunctuation => {
                let c = self.line_counts();
                if c.nonempty == 0 { 1.0 } else { ratio(c.ended, c.nonempty) }
            }
            ShortLines => {
                let c = self.line_counts();
                ratio(c.short, c.nonempty)
            }
            FinewebDuplicateLineChars => ratio(self.line_counts().duplicate_chars, self.chars),
            NewlinesPerWord => ratio(text.matches('\n').count(), self.words().len()),
            DuplicateLines => self.repetition().duplicate_lines,
            DuplicateParagraphs => self.repetition().duplicate_paragraphs,
            DuplicateLineChars => self.repetition().duplicate_line_chars,
            DuplicateParagraphChars => self.repetition().duplicate_paragraph_chars,
            TopNgram(n) => self.repetition().top_ngram[n - 2],
            DuplicateNgram(n) => self.repetition().duplicate_ngram[n - 5],
            Datatrove(measure) => self.datatrove.get(measure, &mut self.scratch.datatrove),
        }
    }
}

const NGRAM_SEED: u64 = 0x9e37_79b9_7f4a_7c15;

/// One word more in an n-gram's key.
fn ngram_step(key: u64, word: u64) -> u64 {
    (key.rotate_left(5) ^ word).wrapping_mul(0x0100_0000_01b3)
}

/// Characters of the most frequent n-gram (words joined by spaces) times
/// its count; the first of equally frequent n-grams wins. `keys[i]` is the
/// key of the n-gram at word i.
fn top_ngram_chars(keys: &[u64], lengths: &[usize], n: usize, counts: &mut HashMap<u64, (usize, usize), FixedState>) -> usize {
    counts.clear();
    if counts.capacity() > KEEP_SLOTS {
        counts.shrink_to(KEEP_SLOTS / 4);
    }
    let mut best = (0usize, 0usize, usize::MAX); // (count, chars, first position)
    for (i, &key) in keys.iter().enumerate() {
        let entry = counts.entry(key).or_insert((0, i));
        entry.0 += 1;
        let (count, first) = *entry;
        if count > best.0 || (count == best.0 && first < best.2) {
            let chars = lengths[first..first + n].iter().sum::<usize>() + n - 1;
            best = (count, chars, first);
        }
    }
    best.0 * best.1
}

/// Characters in n-grams (words joined without spaces) that repeat an
/// earlier n-gram; a repeat skips past itself, so repeats do not overlap.
fn duplicate_ngram_chars(keys: &[u64], lengths: &[usize], n: usize, seen: &mut HashSet<u64, FixedState>) -> usize {
    seen.clear();
    if seen.capacity() > KEEP_SLOTS {
        seen.shrink_to(KEEP_SLOTS / 4);
    }
    let mut chars = 0;
    let mut i = 0;
    while i < keys.len() {
        if seen.insert(keys[i]) {
            i += 1;
        } else {
            chars += lengths[i..i + n].iter().sum::<usize>();
            i += n;
        }
    }
    chars
}

/// How odis's own rules differ from datatrove 0.10's filters at their
/// defaults (the `datatrove` spec), rule by rule, as a Markdown list.
pub const DEVIATIONS: &str = "\
- Words. odis counts Unicode (UAX #29) words: punctuation is no word, `don't` is one word, `well-known` two. \
datatrove counts spaCy's English tokens: punctuation marks and numbers are tokens, `don't` is `do` + `n't`. \
This moves `gopher_min_words`, `gopher_max_words`, the mean word length, the n-gram rules and \
`fineweb_max_newline_word_ratio`.
- `gopher_min_alpha_words_ratio`: odis divides words with a letter by words; datatrove by all tokens, \
punctuation included, so ordinary prose with commas and quotes often falls below 0.8 there. \
The largest single cause of the two keep rates' gap.
- `gopher_min_stop_words`: case-insensitive in odis (`The` counts); case-sensitive in datatrove.
- `gopher_max_symbol_word_ratio`: one rule for `#` and ellipses together, over words; datatrove has one for \
`#` and one for ellipses, each over tokens.
- `gopher_max_bullet_lines_ratio`: odis also counts `‣ ◦ ● *` bullets; datatrove `•` and `-` only. Lines: odis \
splits at `\\n`, datatrove at every Unicode line break.
- Gopher repetition: odis ignores blank lines and trims paragraphs; datatrove splits lines at runs of line \
breaks and paragraphs at runs of two or more, untrimmed.
- `c4_max_word_length`: odis drops the document; datatrove drops only the line with the long word.
- `c4_lorem_ipsum`: odis looks at the whole text; datatrove at the lines C4 keeps.
- `c4_curly_bracket` and `c4_min_sentences` are off in odis's `default` (code and short texts are judged by the \
other rules). datatrove applies both, and counts sentences only in the lines it keeps: lines that end in \
`. ? ! \" '` (not `...`) and have 3+ words. Hard-wrapped prose, whose lines mostly end mid-sentence, \
therefore fails datatrove's five-sentence rule.
- `fineweb_min_line_punct_ratio`: odis trims lines and also counts lines ending in quotes, `…` and `:`; \
datatrove does not trim, and counts only sentence terminals (`. ! ?` and other scripts' ends). In datatrove's \
pipeline FineWeb reads the lines C4 kept.
- `fineweb_max_short_line_ratio`: odis counts trimmed lines under 30 characters; datatrove untrimmed lines of \
30 or fewer.
- `odis_max_all_caps_words_ratio` is odis's own (RedPajama-V2's all-caps signal); datatrove has none.
";

/// The rules as a Markdown table, for the function's documentation.
pub fn rules_table() -> String {
    let mut table = String::from("| rule | fails when | default | in `default` |\n|---|---|---|---|\n");
    for r in &RULES {
        let (when, threshold) = match r.bound {
            Bound::Min => (format!("{} < threshold", r.definition), fmt_threshold(r.default)),
            Bound::Max => (format!("{} > threshold", r.definition), fmt_threshold(r.default)),
            Bound::Forbid => (r.definition.to_string(), "on".to_string()),
        };
        let on = if r.in_default { "yes" } else { "no" };
        table.push_str(&format!("| `{}` | {when} | {threshold} | {on} |\n", r.name));
    }
    table
}

fn fmt_threshold(v: f64) -> String {
    if v.fract() == 0.0 { format!("{}", v as i64) } else { format!("{v}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Good prose: passes every default rule.
    const PROSE: &str = "The river rises in the northern hills and flows south through a wide valley of farms and \
        small towns. Its water was used for mills in the last century, and several of the old stone buildings still \
        stand beside the banks. Today the valley is known for its orchards, which supply apples and pears to markets \
        across the region. Visitors come in the spring to walk the paths that follow the water. Few of them stay the night.";

    fn fails(spec: &str, text: &str) -> Option<&'static str> {
        FilterSpec::parse(spec).unwrap().first_failure(text)
    }

    fn only(rule: &str, value: &str) -> String {
        format!("{rule}={value}")
    }

    /// `n` distinct words with stop words, so that only the rule under test
    /// can fail.
    fn words(n: usize) -> String {
        (0..n).map(|i| if i % 4 == 0 { "the".to_string() } else { format!("w{}ord", i) }).collect::<Vec<_>>().join(" ")
    }

    #[test]
    fn prose_passes_the_default_filter() {
        assert_eq!(fails("default", PROSE), None);
        assert_eq!(fails("all", PROSE), None, "prose has 4 sentences, curly brackets none");
    }

    #[test]
    fn rule_names_are_unique_and_measured() {
        let names: HashSet<&str> = RULES.iter().map(|r| r.name).collect();
        assert_eq!(names.len(), RULES.len());
        for i in 0..RULES.len() {
            let mut scratch = FilterScratch::default();
            let value = Measures::new(PROSE, &mut scratch, true).get(i);
            assert!(value.is_finite() || RULES[i].bound == Bound::Min, "{}", RULES[i].name);
        }
    }

    #[test]
    fn word_count_bounds() {
        let r = "gopher_min_words";
        assert_eq!(fails(&only(r, "50"), &words(50)), None);
        assert_eq!(fails(&only(r, "50"), &words(49)), Some(r));
        assert_eq!(fails(&only(r, "50"), ""), Some(r));
        let r = "gopher_max_words";
        assert_eq!(fails(&only(r, "100"), &words(100)), None);
        assert_eq!(fails(&only(r, "100"), &words(101)), Some(r));
    }

    #[test]
    fn mean_word_length_bounds() {
        let r = "gopher_min_mean_word_length";
        assert_eq!(fails(&only(r, "3"), "abc abc"), None);
        assert_eq!(fails(&only(r, "3"), "abc ab"), Some(r));
        let r = "gopher_max_mean_word_length";
        assert_eq!(fails(&only(r, "10"), "abcdefghij abcdefghij"), None);
        assert_eq!(fails(&only(r, "10"), "abcdefghij abcdefghijk"), Some(r));
    }

    #[test]
    fn symbol_word_ratio() {
        let r = "gopher_max_symbol_word_ratio";
        // 10 words, one '#': 0.1 passes; two symbols fail.
        let base = "one two three four five six seven eight nine ten";
        assert_eq!(fails(&only(r, "0.1"), &format!("{base} #")), None);
        assert_eq!(fails(&only(r, "0.1"), &format!("{base} # …")), Some(r));
    }

    #[test]
    fn bullet_and_ellipsis_lines() {
        let r = "gopher_max_bullet_lines_ratio";
        assert_eq!(fails(&only(r, "0.5"), "- a\n- b\nc\nd"), None);
        assert_eq!(fails(&only(r, "0.5"), "- a\n• b\n* c\nd"), Some(r));
        let r = "gopher_max_ellipsis_lines_ratio";
        assert_eq!(fails(&only(r, "0.3"), "a...\nb\nc\nd"), None);
        assert_eq!(fails(&only(r, "0.3"), "a...\nb…\nc\nd"), Some(r));
    }

    #[test]
    fn alpha_words_and_stop_words() {
        let r = "gopher_min_alpha_words_ratio";
        assert_eq!(fails(&only(r, "0.8"), "a b c d 1"), None);
        assert_eq!(fails(&only(r, "0.8"), "a b c 1 2"), Some(r));
        let r = "gopher_min_stop_words";
        assert_eq!(fails(&only(r, "2"), "The cat and dog"), None);
        assert_eq!(fails(&only(r, "2"), "the cat the dog"), Some(r), "distinct stop words count");
    }

    #[test]
    fn c4_rules() {
        let r = "c4_max_word_length";
        assert_eq!(fails(&only(r, "5"), "abcde"), None);
        assert_eq!(fails(&only(r, "5"), "abcdef"), Some(r));
        assert_eq!(fails("c4_lorem_ipsum=on", "Lorem Ipsum dolor"), Some("c4_lorem_ipsum"));
        assert_eq!(fails("c4_lorem_ipsum=on", "lorem dolor"), None);
        assert_eq!(fails("c4_curly_bracket=on", "fn main() {}"), Some("c4_curly_bracket"));
        let r = "c4_min_sentences";
        assert_eq!(fails(&only(r, "2"), "One here. Two here."), None);
        assert_eq!(fails(&only(r, "2"), "One here."), Some(r));
    }

    #[test]
    fn all_caps_words() {
        let r = "odis_max_all_caps_words_ratio";
        assert_eq!(fails(&only(r, "0.4"), "NASA and ESA fly to Mars"), None);
        assert_eq!(fails(&only(r, "0.4"), "THE CAT sat down"), Some(r));
        assert_eq!(fails(&only(r, "0.4"), "A b c d"), None, "one-letter words are not all-caps words");
    }

    #[test]
    fn fineweb_line_rules() {
        let r = "fineweb_min_line_punct_ratio";
        assert_eq!(fails(&only(r, "0.5"), "ends here.\nno end"), None);
        assert_eq!(fails(&only(r, "0.5"), "ends here.\nno end\nnor here"), Some(r));
        let r = "fineweb_max_short_line_ratio";
        let long = "this line is certainly longer than thirty characters";
        assert_eq!(fails(&only(r, "0.5"), &format!("{long}\nshort")), None);
        assert_eq!(fails(&only(r, "0.5"), &format!("{long}\nshort\ntiny")), Some(r));
        let r = "fineweb_max_duplicate_line_chars_ratio";
        assert_eq!(fails(&only(r, "0.2"), "abcdefghij\nabcdefghij\n12345678901234567890123456789"), None);
        assert_eq!(fails(&only(r, "0.2"), "abcdefghij\nabcdefghij\n123"), Some(r));
        let r = "fineweb_max_newline_word_ratio";
        assert_eq!(fails(&only(r, "0.5"), "a b\nc d"), None);
        assert_eq!(fails(&only(r, "0.5"), "a\nb\nc"), Some(r));
    }

    #[test]
    fn duplicate_lines_and_paragraphs() {
        let r = "gopher_max_duplicate_lines_ratio";
        assert_eq!(fails(&only(r, "0.25"), "a\nb\nc\na"), None);
        assert_eq!(fails(&only(r, "0.25"), "a\nb\na\na"), Some(r));
        let r = "gopher_max_duplicate_paragraphs_ratio";
        assert_eq!(fails(&only(r, "0.25"), "p1\n\np2\n\np3\n\np1"), None);
        assert_eq!(fails(&only(r, "0.25"), "p1\n\np2\n\np1\n\np1"), Some(r));
        let r = "gopher_max_duplicate_line_chars_ratio";
        // 4 of 19 characters repeat: 0.21
        assert_eq!(fails(&only(r, "0.22"), "abcd\nabcd\nefghijklm"), None);
        assert_eq!(fails(&only(r, "0.2"), "abcd\nabcd\nefghijklm"), Some(r));
        let r = "gopher_max_duplicate_paragraph_chars_ratio";
        assert_eq!(fails(&only(r, "0.22"), "abcd\n\nabcd\n\nefghijk"), None);
        assert_eq!(fails(&only(r, "0.2"), "abcd\n\nabcd\n\nefghijk"), Some(r));
    }

    #[test]
    fn top_ngrams() {
        // "ab cd" (5 characters) twice in 23 characters: 10/23 = 0.43.
        let text = "ab cd ab cd ef gh ij kl";
        let r = "gopher_max_top_2gram_ratio";
        assert_eq!(fails(&only(r, "0.44"), text), None);
        assert_eq!(fails(&only(r, "0.43"), text), Some(r));
        assert_eq!(top_ngram_chars(&ngram_keys("a b c", 4), &[1, 1, 1], 4, &mut HashMap::default()), 0, "fewer words than n");
        assert_eq!(top_ngram_chars(&ngram_keys("a b a b c", 2), &[1; 5], 2, &mut HashMap::default()), 6, "'a b' twice");
    }

    /// The keys of the n-grams of space-separated words, each folded from
    /// scratch (the filter extends the keys of n - 1 instead).
    fn ngram_keys(words: &str, n: usize) -> Vec<u64> {
        let h: Vec<u64> = words.split(' ').map(|w| xxh3_64(w.as_bytes())).collect();
        (0..(h.len() + 1).saturating_sub(n)).map(|i| h[i..i + n].iter().fold(NGRAM_SEED, |k, w| ngram_step(k, *w))).collect()
    }

    #[test]
    fn duplicate_ngrams_do_not_overlap() {
        // "a a a a a a" with n = 5: the second 5-gram repeats the first.
        assert_eq!(duplicate_ngram_chars(&ngram_keys("a a a a a a", 5), &[1; 6], 5, &mut HashSet::default()), 5);
        let keys = ngram_keys("a b c d e a b c d e x", 5);
        assert_eq!(duplicate_ngram_chars(&keys, &[1; 11], 5, &mut HashSet::default()), 5);
        let r = "gopher_max_duplicate_5gram_ratio";
        let spam = "buy cheap pills now today ".repeat(6);
        assert_eq!(fails(&only(r, "0.15"), PROSE), None);
        assert_eq!(fails(&only(r, "0.15"), &spam), Some(r));
    }

    #[test]
    fn specs_choose_rules_and_thresholds() {
        assert_eq!(FilterSpec::parse("").unwrap(), FilterSpec::default());
        assert_eq!(FilterSpec::parse(" default ").unwrap(), FilterSpec::default());
        assert!(FilterSpec::parse("none").unwrap().is_none());
        assert!(FilterSpec::parse("default,none").unwrap().is_none());
        let gopher = FilterSpec::parse("gopher").unwrap();
        assert!(gopher.active().all(|(r, _)| r.family == "gopher"));
        let relaxed = FilterSpec::parse("default, gopher_min_words=20, c4_lorem_ipsum=off").unwrap();
        assert_eq!(relaxed.active().find(|(r, _)| r.name == "gopher_min_words").unwrap().1, 20.0);
        assert!(relaxed.active().all(|(r, _)| r.name != "c4_lorem_ipsum"));
        let short = format!("{}.", PROSE.split(' ').take(30).collect::<Vec<_>>().join(" "));
        assert_eq!(relaxed.first_failure(&short), None);
        assert_eq!(FilterSpec::default().first_failure(&short), Some("gopher_min_words"));
        assert_eq!(FilterSpec::parse("gopher, fineweb").unwrap().canonical(), FilterSpec::parse("fineweb,gopher").unwrap().canonical());
    }

    #[test]
    fn bad_specs_say_what_is_wrong() {
        let err = |spec: &str| FilterSpec::parse(spec).unwrap_err();
        assert!(err("gopherr").contains("unknown filter or rule 'gopherr'"), "{}", err("gopherr"));
        assert!(err("min_words=3").contains("unknown filter or rule 'min_words'"));
        assert!(err("gopher_min_words").contains("needs a value"));
        assert!(err("gopher_min_words=ten").contains("a whole number"));
        assert!(err("gopher_min_words=2.5").contains("a whole number"));
        assert!(err("gopher_min_words=-1").contains("a whole number"));
        assert!(err("gopher_min_alpha_words_ratio=1.5").contains("between 0 and 1"));
        assert!(err("gopher_min_alpha_words_ratio=NaN").contains("between 0 and 1"));
        assert!(err("c4_max_word_length=0").contains("> 0"));
        assert!(err("c4_lorem_ipsum=3").contains("on or off"));
    }

    /// Why [`contains_ignoring_ascii_case`] equals lowercasing the text: no
    /// character beyond ASCII lowercases to an ASCII letter but the Kelvin
    /// sign and the dotted capital I (whose `i` a combining dot follows).
    #[test]
    fn only_two_characters_lowercase_into_ascii() {
        for c in (0x80..=0x10FFFFu32).filter_map(char::from_u32) {
            let lower: Vec<char> = c.to_lowercase().collect();
            for (i, l) in lower.iter().enumerate() {
                if l.is_ascii() {
                    assert!(*l == 'k' || (*l == 'i' && lower.get(i + 1) == Some(&'\u{307}')), "{c:?} -> {lower:?}");
                }
            }
        }
        for text in ["LOREM IPSUM", "x lOrEm ipsum y", "lorem  ipsum", "LOREM İPSUM", "lorem ipsu"] {
            assert_eq!(contains_ignoring_ascii_case(text, "lorem ipsum"), text.to_lowercase().contains("lorem ipsum"), "{text}");
        }
    }

    #[test]
    fn scratch_reuse_does_not_leak_between_texts() {
        let spec = FilterSpec::parse("all").unwrap();
        let texts = [PROSE, "a\nb\na\na", &"buy cheap pills now today ".repeat(6), "", "ÉCOLE été", PROSE];
        let mut scratch = FilterScratch::default();
        for text in texts {
            assert_eq!(spec.first_failure_with(text, &mut scratch), spec.first_failure(text), "{text:?}");
        }
    }

    #[test]
    fn every_text_gets_a_verdict() {
        let spec = FilterSpec::parse("all").unwrap();
        for text in ["", " ", "\n\n\n", "…", "{", "ÉCOLE", "東京 大阪", "a\u{0}b", &"x".repeat(5000)] {
            spec.first_failure(text);
        }
    }
}
