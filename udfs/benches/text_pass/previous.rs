#![allow(non_upper_case_globals)]
//! The text pass as it was before the single-walk rewrite (quality_filter's
//! default rules, then the ratings of kept documents), frozen here as the
//! benchmark's baseline. Not used by odis itself.
#![allow(dead_code)]

use std::collections::{HashMap, HashSet};

use unicode_segmentation::UnicodeSegmentation;
use xxhash_rust::xxh3::xxh3_64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    Min,
    Max,
    Forbid,
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
}


struct Rule {
    bound: Bound,
    default: f64,
    in_default: bool,
    measure: Measure,
}

const fn rule(_name: &str, _family: &str, (bound, _domain, measure): (Bound, (), Measure), default: f64, in_default: bool, _definition: &str) -> Rule {
    Rule { bound, default, in_default, measure }
}

use Bound::{Forbid, Max, Min};
use Measure::*;
const Count: () = ();
const Ratio: () = ();
const Length: () = ();
const Switch: () = ();


const RULES: [Rule; 31] = [
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
];


/// Gopher's stop words.
const GOPHER_STOP_WORDS: [&str; 8] = ["the", "be", "to", "of", "and", "that", "have", "with"];


/// The first default rule `text` fails, as its index, or None.
pub fn first_failure(text: &str) -> Option<usize> {
    let mut measures = Measures::new(text);
    for (index, rule) in RULES.iter().enumerate() {
        if !rule.in_default {
            continue;
        }
        let value = measures.get(index);
        let fails = match rule.bound {
            Bound::Min => value < rule.default,
            Bound::Max => value > rule.default,
            Bound::Forbid => value > 0.0,
        };
        if fails {
            return Some(index);
        }
    }
    None
}


fn ratio(part: usize, whole: usize) -> f64 {
    if whole == 0 { 0.0 } else { part as f64 / whole as f64 }
}

/// The measurements of one text, computed on first use: the n-gram
/// repetition ones cost the most and most junk fails before them.
struct Measures<'a> {
    text: &'a str,
    chars: usize,
    words: Option<Vec<&'a str>>,
    repetition: Option<Repetition>,
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

/// (elements repeating an earlier one, their characters).
fn duplicates<'a>(elements: impl Iterator<Item = &'a str>) -> (usize, usize, usize) {
    let mut seen = HashSet::new();
    let (mut total, mut count, mut chars) = (0, 0, 0);
    for element in elements {
        total += 1;
        if !seen.insert(element) {
            count += 1;
            chars += element.chars().count();
        }
    }
    (total, count, chars)
}

impl<'a> Measures<'a> {
    fn new(text: &'a str) -> Self {
        Self { text, chars: text.chars().count(), words: None, repetition: None }
    }

    fn words(&mut self) -> &[&'a str] {
        let text = self.text;
        self.words.get_or_insert_with(|| text.unicode_words().collect())
    }

    fn lines(&self) -> impl Iterator<Item = &'a str> + 'a {
        self.text.split('\n')
    }

    fn nonempty_lines(&self) -> impl Iterator<Item = &'a str> + 'a {
        self.text.split('\n').map(str::trim).filter(|l| !l.is_empty())
    }

    fn repetition(&mut self) -> &Repetition {
        if self.repetition.is_none() {
            let chars = self.chars;
            let (lines, dup_lines, dup_line_chars) = duplicates(self.text.split('\n').filter(|l| !l.trim().is_empty()));
            let paragraphs = self.text.split("\n\n").map(str::trim).filter(|p| !p.is_empty());
            let (paras, dup_paras, dup_para_chars) = duplicates(paragraphs);
            let words = self.words().to_vec();
            let hashes: Vec<u64> = words.iter().map(|w| xxh3_64(w.as_bytes())).collect();
            let lengths: Vec<usize> = words.iter().map(|w| w.chars().count()).collect();
            let top_ngram = [2, 3, 4].map(|n| ratio(top_ngram_chars(&hashes, &lengths, n), chars));
            let duplicate_ngram = [5, 6, 7, 8, 9, 10].map(|n| ratio(duplicate_ngram_chars(&hashes, &lengths, n), chars));
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
                let words = self.words();
                if words.is_empty() {
                    // No words: the word-count rule judges this text.
                    return if RULES[index].bound == Bound::Min { f64::INFINITY } else { 0.0 };
                }
                ratio(words.iter().map(|w| w.chars().count()).sum(), words.len())
            }
            SymbolWordRatio => {
                let symbols = text.matches('#').count() + text.matches("...").count() + text.matches('…').count();
                ratio(symbols, self.words().len())
            }
            BulletLines => {
                let (mut lines, mut bullets) = (0, 0);
                for line in self.lines() {
                    lines += 1;
                    if line.trim_start().starts_with(['•', '‣', '◦', '●', '-', '*']) {
                        bullets += 1;
                    }
                }
                ratio(bullets, lines)
            }
            EllipsisLines => {
                let (mut lines, mut ellipses) = (0, 0);
                for line in self.lines() {
                    lines += 1;
                    let line = line.trim_end();
                    if line.ends_with("...") || line.ends_with('…') {
                        ellipses += 1;
                    }
                }
                ratio(ellipses, lines)
            }
            AlphaWords => {
                let words = self.words();
                if words.is_empty() {
                    return 1.0;
                }
                ratio(words.iter().filter(|w| w.chars().any(char::is_alphabetic)).count(), words.len())
            }
            StopWords => {
                let mut found = [false; GOPHER_STOP_WORDS.len()];
                for word in self.words() {
                    if word.len() <= 4 {
                        let lower = word.to_lowercase();
                        if let Some(i) = GOPHER_STOP_WORDS.iter().position(|s| *s == lower) {
                            found[i] = true;
                        }
                    }
                }
                found.iter().filter(|f| **f).count() as f64
            }
            LongestWord => self.words().iter().map(|w| w.chars().count()).max().unwrap_or(0) as f64,
            LoremIpsum => f64::from(u8::from(text.to_lowercase().contains("lorem ipsum"))),
            CurlyBracket => f64::from(u8::from(text.contains('{'))),
            Sentences => text.unicode_sentences().filter(|s| s.unicode_words().next().is_some()).count() as f64,
            AllCapsWords => {
                let (mut lettered, mut caps) = (0, 0);
                for word in self.words() {
                    let letters = word.chars().filter(|c| c.is_alphabetic()).count();
                    if letters > 0 {
                        lettered += 1;
                        if letters >= 2 && word.chars().filter(|c| c.is_alphabetic()).all(char::is_uppercase) {
                            caps += 1;
                        }
                    }
                }
                ratio(caps, lettered)
            }
            LinePunctuation => {
                let (mut lines, mut ended) = (0, 0);
                for line in self.nonempty_lines() {
                    lines += 1;
                    if line.ends_with(['.', '!', '?', '"', '\'', '”', '’', '…', ':']) {
                        ended += 1;
                    }
                }
                if lines == 0 { 1.0 } else { ratio(ended, lines) }
            }
            ShortLines => {
                let (mut lines, mut short) = (0, 0);
                for line in self.nonempty_lines() {
                    lines += 1;
                    if line.chars().count() < 30 {
                        short += 1;
                    }
                }
                ratio(short, lines)
            }
            FinewebDuplicateLineChars => {
                let (_, _, chars) = duplicates(self.nonempty_lines());
                ratio(chars, self.chars)
            }
            NewlinesPerWord => ratio(text.matches('\n').count(), self.words().len()),
            DuplicateLines => self.repetition().duplicate_lines,
            DuplicateParagraphs => self.repetition().duplicate_paragraphs,
            DuplicateLineChars => self.repetition().duplicate_line_chars,
            DuplicateParagraphChars => self.repetition().duplicate_paragraph_chars,
            TopNgram(n) => self.repetition().top_ngram[n - 2],
            DuplicateNgram(n) => self.repetition().duplicate_ngram[n - 5],
        }
    }
}

fn ngram_key(hashes: &[u64]) -> u64 {
    hashes.iter().fold(0x9e37_79b9_7f4a_7c15_u64, |h, w| (h.rotate_left(5) ^ w).wrapping_mul(0x0100_0000_01b3))
}

/// Characters of the most frequent n-gram (words joined by spaces) times
/// its count; the first of equally frequent n-grams wins.
fn top_ngram_chars(hashes: &[u64], lengths: &[usize], n: usize) -> usize {
    if hashes.len() < n {
        return 0;
    }
    let mut counts: HashMap<u64, (usize, usize)> = HashMap::new();
    let mut best = (0usize, 0usize, usize::MAX); // (count, chars, first position)
    for i in 0..=hashes.len() - n {
        let entry = counts.entry(ngram_key(&hashes[i..i + n])).or_insert((0, i));
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
fn duplicate_ngram_chars(hashes: &[u64], lengths: &[usize], n: usize) -> usize {
    let mut seen = HashSet::new();
    let mut chars = 0;
    let mut i = 0;
    while i + n <= hashes.len() {
        if seen.insert(ngram_key(&hashes[i..i + n])) {
            i += 1;
        } else {
            chars += lengths[i..i + n].iter().sum::<usize>();
            i += n;
        }
    }
    chars
}


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

fn is_stop_word(lower: &str) -> bool {
    STOP_WORDS.binary_search(&lower).is_ok()
}

fn ratio_unused(part: usize, whole: usize) -> f64 {
    if whole == 0 { 0.0 } else { part as f64 / whole as f64 }
}

/// Vowel groups, a final silent "e" dropped, at least one: the usual
/// heuristic behind readability formulas.
fn syllables(lower: &str) -> usize {
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


mod ratings {
    use super::{is_stop_word, syllables};
    use std::collections::HashMap;
    use unicode_segmentation::UnicodeSegmentation;
    fn ratio(part: usize, whole: usize) -> f64 {
        if whole == 0 { 0.0 } else { part as f64 / whole as f64 }
    }
    const COUNT: usize = 11;
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

}
pub use ratings::ratings;
