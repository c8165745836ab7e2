//! The measurements of the `datatrove*` rules: Hugging Face datatrove 0.10's
//! Gopher repetition, Gopher quality, C4 quality and FineWeb quality filters
//! at their defaults, as that implementation defines them (words are the
//! tokens of spaCy's English tokenizer, punctuation tokens included; stop
//! words match case-sensitively; C4 drops lines before it counts
//! sentences, and FineWeb reads the lines C4 kept).

use unicode_categories::UnicodeCategories;

use crate::text::intern::{Interner, SpanSet, repeats};
use crate::text::python_str;
use crate::text::ratio;
use crate::text::spacy_words::{self, TokenScratch};

/// What one `datatrove*` rule measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatatroveMeasure {
    Empty,
    DuplicateParagraphs,
    DuplicateParagraphChars,
    DuplicateLines,
    DuplicateLineChars,
    TopNgram(usize),
    DuplicateNgram(usize),
    Words,
    MeanWordLength,
    HashRatio,
    EllipsisRatio,
    BulletLines,
    EllipsisLines,
    AlphaWords,
    StopWords,
    LoremIpsum,
    CurlyBracket,
    Sentences,
    LinePunctuation,
    ShortLines,
    DuplicateLineCharsFineweb,
    NewlinesPerWord,
}

/// datatrove's punctuation: a token made only of these is not a word for
/// Gopher's word count and mean word length. Its `PUNCTUATION` string,
/// control characters, and its terminal punctuation.
pub(crate) const PUNCTUATION: &str = "!/—”:％１〈&(、━\\【#%「」，】；+^]~“《„';’{|∶´[=-`*．（–？！：$～«〉,><》)?）。…@_.\"}►»";

pub(crate) fn is_control(c: char) -> bool {
    matches!(c as u32, 0..=8 | 11..=31 | 127..=159)
}

/// The characters datatrove counts as ending a line (FineWeb) and as
/// punctuation: its `TERMINAL_PUNCTUATION`, Unicode's Sentence_Terminal
/// characters as of Unicode 15 and three Khmer signs. Sorted.
const TERMINAL: [char; 159] = [
    '!', '.', '?', '\u{589}', '\u{61d}', '\u{61e}', '\u{61f}', '\u{6d4}', '\u{700}', '\u{701}',
    '\u{702}', '\u{7f9}', '\u{837}', '\u{839}', '\u{83d}', '\u{83e}', '\u{964}', '\u{965}', '\u{104a}', '\u{104b}',
    '\u{1362}', '\u{1367}', '\u{1368}', '\u{166e}', '\u{1735}', '\u{1736}', '\u{17d4}', '\u{17d5}', '\u{17d6}', '\u{17d9}',
    '\u{17da}', '\u{1803}', '\u{1809}', '\u{1944}', '\u{1945}', '\u{1aa8}', '\u{1aa9}', '\u{1aaa}', '\u{1aab}', '\u{1b5a}',
    '\u{1b5b}', '\u{1b5e}', '\u{1b5f}', '\u{1b7d}', '\u{1b7e}', '\u{1c3b}', '\u{1c3c}', '\u{1c7e}', '\u{1c7f}', '\u{203c}',
    '\u{203d}', '\u{2047}', '\u{2048}', '\u{2049}', '\u{2e2e}', '\u{2e3c}', '\u{2e53}', '\u{2e54}', '\u{3002}', '\u{a4ff}',
    '\u{a60e}', '\u{a60f}', '\u{a6f3}', '\u{a6f7}', '\u{a876}', '\u{a877}', '\u{a8ce}', '\u{a8cf}', '\u{a92f}', '\u{a9c8}',
    '\u{a9c9}', '\u{aa5d}', '\u{aa5e}', '\u{aa5f}', '\u{aaf0}', '\u{aaf1}', '\u{abeb}', '\u{fe52}', '\u{fe56}', '\u{fe57}',
    '\u{ff01}', '\u{ff0e}', '\u{ff1f}', '\u{ff61}', '\u{10a56}', '\u{10a57}', '\u{10f55}', '\u{10f56}', '\u{10f57}', '\u{10f58}',
    '\u{10f59}', '\u{10f86}', '\u{10f87}', '\u{10f88}', '\u{10f89}', '\u{11047}', '\u{11048}', '\u{110be}', '\u{110bf}', '\u{110c0}',
    '\u{110c1}', '\u{11141}', '\u{11142}', '\u{11143}', '\u{111c5}', '\u{111c6}', '\u{111cd}', '\u{111de}', '\u{111df}', '\u{11238}',
    '\u{11239}', '\u{1123b}', '\u{1123c}', '\u{112a9}', '\u{1144b}', '\u{1144c}', '\u{115c2}', '\u{115c3}', '\u{115c9}', '\u{115ca}',
    '\u{115cb}', '\u{115cc}', '\u{115cd}', '\u{115ce}', '\u{115cf}', '\u{115d0}', '\u{115d1}', '\u{115d2}', '\u{115d3}', '\u{115d4}',
    '\u{115d5}', '\u{115d6}', '\u{115d7}', '\u{11641}', '\u{11642}', '\u{1173c}', '\u{1173d}', '\u{1173e}', '\u{11944}', '\u{11946}',
    '\u{11a42}', '\u{11a43}', '\u{11a9b}', '\u{11a9c}', '\u{11c41}', '\u{11c42}', '\u{11ef7}', '\u{11ef8}', '\u{11f43}', '\u{11f44}',
    '\u{16a6e}', '\u{16a6f}', '\u{16af5}', '\u{16b37}', '\u{16b38}', '\u{16b44}', '\u{16e98}', '\u{1bc9f}', '\u{1da88}',
];

fn is_terminal(c: char) -> bool {
    TERMINAL.binary_search(&c).is_ok()
}

fn is_datatrove_punctuation(c: char) -> bool {
    PUNCTUATION.contains(c) || is_control(c) || is_terminal(c)
}

const STOP_WORDS: [&str; 8] = ["the", "be", "to", "of", "and", "that", "have", "with"];
const POLICY: [&str; 6] = ["terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies"];

/// Buffers kept from one text to the next.
#[derive(Debug, Default)]
pub struct DatatroveScratch {
    tokens: Vec<(usize, usize)>,
    token_scratch: TokenScratch,
    line_tokens: Vec<(usize, usize)>,
    spans: SpanSet,
    grams: Interner,
    /// (occurrences, characters) of each distinct n-gram.
    counts: Vec<(usize, usize)>,
    gram: String,
    /// A line of the text, citations removed.
    line: String,
    kept: String,
}

/// The measurements of one text, computed on first use.
pub struct DatatroveMeasures<'a> {
    text: &'a str,
    /// Whether FineWeb reads the lines C4 keeps (C4's rules are on).
    fineweb_after_c4: bool,
    tokenized: bool,
    repetition: Option<[f64; 13]>,
    c4: Option<(f64, f64, f64)>,
}


/// Splits at runs of two or more `\n` (`re.split(r"\n{2,}", s)`).
fn paragraphs(s: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(s);
    std::iter::from_fn(move || {
        let r = rest?;
        match r.find("\n\n") {
            Some(at) => {
                let end = at + r[at..].bytes().take_while(|&b| b == b'\n').count();
                rest = Some(&r[end..]);
                Some(&r[..at])
            }
            None => {
                rest = None;
                Some(r)
            }
        }
    })
}

/// Splits at runs of `\n` (`re.split("\n+", s)`): the first and the last
/// piece stay even when empty.
fn line_pieces(s: &str) -> impl Iterator<Item = &str> {
    let mut pieces = s.split('\n').peekable();
    let mut first = true;
    std::iter::from_fn(move || {
        loop {
            let piece = pieces.next()?;
            let keep = first || !piece.is_empty() || pieces.peek().is_none();
            first = false;
            if keep {
                return Some(piece);
            }
        }
    })
}

/// Removes Wikipedia-style citations (`[12]`, `[edit]`, `[citation needed]`).
fn remove_citations(line: &str, out: &mut String) {
    out.clear();
    let mut rest = line;
    while let Some(at) = rest.find('[') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let digits = after.find(|c: char| !c.is_numeric()).unwrap_or(after.len());
        let skip = if after[digits..].starts_with(']') {
            Some(digits + 1)
        } else if after.starts_with("edit]") {
            Some(5)
        } else if after.starts_with("citation needed]") {
            Some(16)
        } else {
            None
        };
        match skip {
            Some(n) => rest = &after[n..],
            None => {
                out.push('[');
                rest = after;
            }
        }
    }
    out.push_str(rest);
}

impl<'a> DatatroveMeasures<'a> {
    pub fn new(text: &'a str, fineweb_after_c4: bool) -> Self {
        Self { text, fineweb_after_c4, tokenized: false, repetition: None, c4: None }
    }

    fn tokens<'s>(&mut self, scratch: &'s mut DatatroveScratch) -> &'s [(usize, usize)] {
        if !self.tokenized {
            let DatatroveScratch { tokens, token_scratch, .. } = &mut *scratch;
            tokens.clear();
            spacy_words::tokens(self.text, token_scratch, tokens);
            self.tokenized = true;
        }
        &scratch.tokens
    }

    /// Gopher repetition: paragraphs, lines, then n-grams of tokens.
    fn repetition(&mut self, scratch: &mut DatatroveScratch) -> [f64; 13] {
        if let Some(r) = self.repetition {
            return r;
        }
        let text = self.text;
        let chars = python_str::len(text);
        self.tokens(scratch);
        let DatatroveScratch { tokens, spans, grams, counts, gram, .. } = scratch;
        let (paras, dup_paras, dup_para_chars) = repeats(text, spans, paragraphs(python_str::strip(text)));
        let (lines_n, dup_lines, dup_line_chars) = repeats(text, spans, line_pieces(text));
        let mut r = [0.0; 13];
        r[0] = ratio(dup_paras, paras);
        r[1] = ratio(dup_para_chars, chars);
        r[2] = ratio(dup_lines, lines_n);
        r[3] = ratio(dup_line_chars, chars);
        for (slot, n) in [2usize, 3, 4].into_iter().enumerate() {
            // The most frequent n-gram (words joined by spaces), the first
            // of equally frequent ones: its characters times its count.
            grams.clear();
            counts.clear();
            if tokens.len() >= n {
                for i in 0..=tokens.len() - n {
                    gram.clear();
                    for (k, &(a, b)) in tokens[i..i + n].iter().enumerate() {
                        if k > 0 {
                            gram.push(' ');
                        }
                        gram.push_str(&text[a..b]);
                    }
                    let id = grams.intern(gram) as usize;
                    if id == counts.len() {
                        counts.push((0, python_str::len(gram)));
                    }
                    counts[id].0 += 1;
                }
                let (mut best, mut best_chars) = (0, 0);
                for &(count, chars) in counts.iter() {
                    if count > best {
                        (best, best_chars) = (count, chars);
                    }
                }
                r[4 + slot] = ratio(best * best_chars, chars);
            }
        }
        for (slot, n) in (5usize..=10).enumerate() {
            // Characters of n-grams (words joined without spaces) that repeat
            // an earlier one; a repeat skips past itself.
            grams.clear();
            let mut repeated = 0;
            let mut i = 0;
            while i + n <= tokens.len() {
                gram.clear();
                for &(a, b) in &tokens[i..i + n] {
                    gram.push_str(&text[a..b]);
                }
                let before = grams.len();
                grams.intern(gram);
                if grams.len() == before {
                    repeated += python_str::len(gram);
                    i += n;
                } else {
                    i += 1;
                }
            }
            r[7 + slot] = ratio(repeated, chars);
        }
        self.repetition = Some(r);
        r
    }

    /// C4: (lorem ipsum seen, curly bracket seen, sentences) over the lines
    /// it keeps; those lines, joined, are what FineWeb reads after it.
    fn c4(&mut self, scratch: &mut DatatroveScratch) -> (f64, f64, f64) {
        if let Some(c) = self.c4 {
            return c;
        }
        let text = self.text;
        let DatatroveScratch { token_scratch, line_tokens, kept, line: line_buf, .. } = scratch;
        kept.clear();
        let (mut lorem, mut curly, mut sentences) = (false, false, 0usize);
        for line in python_str::splitlines(text) {
            let line = python_str::strip(line);
            let words: Vec<&str> = python_str::split_whitespace(line).collect();
            if words.iter().any(|w| python_str::len(w) > 1000) {
                continue;
            }
            remove_citations(line, line_buf);
            let l = line_buf.as_str();
            if !l.ends_with(['.', '?', '!', '"', '\'']) || l.ends_with("...") || words.len() < 3 {
                continue;
            }
            let lower = l.to_lowercase();
            if lower.contains("lorem ipsum") {
                lorem = true;
                break;
            }
            if lower.contains("javascript") {
                continue;
            }
            if l.contains('{') {
                curly = true;
                break;
            }
            if POLICY.iter().any(|p| lower.contains(p)) {
                continue;
            }
            sentences += spacy_words::sentences(l, token_scratch, line_tokens);
            if !kept.is_empty() {
                kept.push('\n');
            }
            kept.push_str(l);
        }
        let c = (f64::from(u8::from(lorem)), f64::from(u8::from(curly)), sentences as f64);
        self.c4 = Some(c);
        c
    }

    /// FineWeb's line rules over `text`, or over the lines C4 kept.
    fn fineweb(&mut self, measure: DatatroveMeasure, scratch: &mut DatatroveScratch) -> f64 {
        if !self.fineweb_after_c4 {
            return fineweb_measure(self.text, measure, scratch);
        }
        self.c4(scratch);
        let kept = std::mem::take(&mut scratch.kept);
        let value = fineweb_measure(&kept, measure, scratch);
        scratch.kept = kept;
        value
    }

    /// The value rule `measure` compares with its threshold.
    pub fn get(&mut self, measure: DatatroveMeasure, scratch: &mut DatatroveScratch) -> f64 {
        use DatatroveMeasure::*;
        let text = self.text;
        match measure {
            Empty => f64::from(u8::from(text.is_empty())),
            DuplicateParagraphs => self.repetition(scratch)[0],
            DuplicateParagraphChars => self.repetition(scratch)[1],
            DuplicateLines => self.repetition(scratch)[2],
            DuplicateLineChars => self.repetition(scratch)[3],
            TopNgram(n) => self.repetition(scratch)[4 + n - 2],
            DuplicateNgram(n) => self.repetition(scratch)[7 + n - 5],
            Words => self.words(scratch).0 as f64,
            MeanWordLength => {
                let (count, chars) = self.words(scratch);
                // No words: the word-count rule judges this text.
                if count == 0 { f64::NAN } else { chars as f64 / count as f64 }
            }
            HashRatio => ratio(text.matches('#').count(), self.tokens(scratch).len()),
            EllipsisRatio => ratio(text.matches("...").count() + text.matches('…').count(), self.tokens(scratch).len()),
            BulletLines => {
                let (mut lines, mut bullets) = (0, 0);
                for line in python_str::splitlines(text) {
                    lines += 1;
                    let line = line.trim_start_matches(python_str::is_space);
                    bullets += usize::from(line.starts_with('•') || line.starts_with('-'));
                }
                ratio(bullets, lines)
            }
            EllipsisLines => {
                let (mut lines, mut ellipses) = (0, 0);
                for line in python_str::splitlines(text) {
                    lines += 1;
                    let line = line.trim_end_matches(python_str::is_space);
                    ellipses += usize::from(line.ends_with("...") || line.ends_with('…'));
                }
                ratio(ellipses, lines)
            }
            AlphaWords => {
                let tokens = self.tokens(scratch);
                let alpha = tokens.iter().filter(|&&(a, b)| text[a..b].chars().any(|c| c.is_letter())).count();
                if tokens.is_empty() { 1.0 } else { ratio(alpha, tokens.len()) }
            }
            StopWords => {
                let mut found = [false; STOP_WORDS.len()];
                for &(a, b) in self.tokens(scratch) {
                    if let Some(i) = STOP_WORDS.iter().position(|s| *s == &text[a..b]) {
                        found[i] = true;
                    }
                }
                found.iter().filter(|f| **f).count() as f64
            }
            LoremIpsum => self.c4(scratch).0,
            CurlyBracket => self.c4(scratch).1,
            Sentences => self.c4(scratch).2,
            LinePunctuation | ShortLines | DuplicateLineCharsFineweb | NewlinesPerWord => self.fineweb(measure, scratch),
        }
    }

    /// Gopher's words: tokens with a character that is not punctuation.
    /// (words, their characters).
    fn words(&mut self, scratch: &mut DatatroveScratch) -> (usize, usize) {
        let text = self.text;
        self.tokens(scratch)
            .iter()
            .map(|&(a, b)| &text[a..b])
            .filter(|w| !w.chars().all(is_datatrove_punctuation))
            .fold((0, 0), |(n, chars), w| (n + 1, chars + python_str::len(w)))
    }
}

fn fineweb_measure(text: &str, measure: DatatroveMeasure, scratch: &mut DatatroveScratch) -> f64 {
    let lines = || text.split('\n').filter(|l| !python_str::strip(l).is_empty());
    let count = lines().count();
    match measure {
        DatatroveMeasure::LinePunctuation => ratio(lines().filter(|l| l.ends_with(is_terminal)).count(), count),
        DatatroveMeasure::ShortLines => ratio(lines().filter(|l| python_str::len(l) <= 30).count(), count),
        DatatroveMeasure::DuplicateLineCharsFineweb => {
            let (_, _, chars) = repeats(text, &mut scratch.spans, lines());
            ratio(chars, python_str::len(text) - text.matches('\n').count())
        }
        _ => {
            scratch.line_tokens.clear();
            spacy_words::tokens(text, &mut scratch.token_scratch, &mut scratch.line_tokens);
            ratio(text.matches('\n').count(), scratch.line_tokens.len())
        }
    }
}
