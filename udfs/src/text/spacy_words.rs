//! Words as datatrove counts them: the tokens of spaCy's blank English
//! pipeline (whitespace dropped), which datatrove's Gopher, C4 and FineWeb
//! filters split English text into. odis follows spaCy's tokenizer
//! algorithm, not its tables:
//!
//! 1. split at whitespace (Python's `str.split()`);
//! 2. per piece, peel prefixes (opening punctuation, quotes, currency,
//!    symbols) and suffixes (closing punctuation, quotes, `'s`, units and
//!    currency after a number, a final `.` after a digit, a lowercase letter
//!    or two capitals) until the rest is a special case or nothing peels;
//! 3. a special case (an abbreviation such as `Mr.`, a contraction such as
//!    `don't` → `do` `n't`, an emoticon) keeps its own split, a URL or e-mail
//!    address stays whole, anything else is cut at infixes (`...`, hyphens
//!    and `/ : < > =` between letters, `,` between letters, `.` between a
//!    lowercase and a capital letter, arithmetic between digits);
//! 4. neighbouring tokens that together spell a special case are merged.
//!
//! The special cases are the common ones, written here rather than copied:
//! on the bundled corpus the tokens equal spaCy's for 99.9% of the
//! documents (tests/datatrove.rs measures the filters' agreement).

use std::collections::HashSet;
use std::sync::LazyLock;

use unicode_categories::UnicodeCategories;

use crate::text::python_str;

/// Python's `str.isalpha()`: a letter of any script (category L*).
pub fn is_alpha(c: char) -> bool {
    c.is_letter()
}

/// spaCy's `is_punct`: every character is punctuation (category P*).
pub fn is_punct_token(token: &str) -> bool {
    token.chars().all(|c| c.is_punctuation())
}

/// Symbols other than currency and maths (category So): pictographs,
/// arrows, dingbats. spaCy peels and cuts them everywhere.
fn is_icon(c: char) -> bool {
    c.is_symbol_other()
}

const PUNCT: &str = "…,:;!?¿؟¡()[]{}<>_#*&。？！，、；：～·।،۔؛٪";
const QUOTES: &str = "'\"”“`‘´’‚,„»«「」『』（）〔〕【】《》〈〉⟦⟧";
const CURRENCY: &str = "$£€¥฿₽﷼₴₠₡₢₣₤₥₦₧₨₩₪₫₭₮₯₰₱₲₳₵₶₷₸₹₺₻₼₾₿";
const CURRENCY_CODES: [&str; 3] = ["US$", "C$", "A$"];
/// Units peeled off a number ("10km" → "10" "km"), longest first.
const UNITS: [&str; 40] = [
    "mbar", "km/h", "km²", "km³", "dm²", "dm³", "cm²", "cm³", "mm²", "mm³", "kmh", "mph", "hPa", "m/s", "km", "m²",
    "m³", "dm", "cm", "mm", "ha", "µm", "nm", "yd", "in", "ft", "kg", "mg", "µg", "lb", "oz", "Pa", "mb", "MB", "kb",
    "KB", "gb", "GB", "tb", "TB",
];
const SHORT_UNITS: &str = "mgtTGMK%";

fn is_punct(c: char) -> bool {
    PUNCT.contains(c)
}
fn is_quote(c: char) -> bool {
    QUOTES.contains(c)
}

static ABBREVIATIONS: LazyLock<HashSet<String>> = LazyLock::new(|| {
    let mut set: HashSet<String> = "Adm. Apr. Aug. Bros. Calif. Co. Corp. D.C. Dec. Dr. E.G. E.g. Feb. Gen. Gov. I.E. \
         I.e. Inc. Jan. Jr. Jul. Jun. Ltd. Mar. Mass. Messrs. Mr. Mrs. Ms. Mt. Nov. Oct. Ph.D. Prof. Rep. Rev. Sen. \
         Sep. Sept. St. a.m. co. e.g. i.e. p.m. v.s. vs. Ak. Ala. Ariz. Ark. Colo. Conn. Del. Fla. Ga. Ia. Id. Ill. \
         Ind. Kan. Kans. Ky. La. Md. Mich. Minn. Miss. Mo. Mont. N.C. N.D. N.H. N.J. N.M. N.Y. Neb. Nebr. Nev. Okla. \
         Ore. Pa. S.C. Tenn. Va. Wash. Wis. ä. ö. ü."
        .split(' ')
        .map(str::to_string)
        .collect();
    set.extend(('a'..='z').map(|c| format!("{c}.")));
    for hour in 1..=12 {
        set.extend([format!("{hour}a.m."), format!("{hour}p.m.")]);
    }
    set
});

/// Emoticons, clitics and dropped-g forms that stay one token.
static WHOLE: LazyLock<HashSet<String>> = LazyLock::new(|| {
    let mut set: HashSet<String> = ":P :D :p :O :o :x :X :o) :-P :-D :-O :-p :-x :-X :-o 8D 8-D =D ;D ;-D xD XD o.O O.o o_o O_O o_O O_o O.O o.o \
     v.v v_v V_V (*_*) (-8 (-: (-; (-_-) (._.) (: (; (= (>_<) \
     (^_^) (¬_¬) )-: ): -_- -__- ._. 0.0 0_0 8) 8-) :'( :') :'-( :'-) :( :(( :((( :() :) :)) :))) :* :-( :-(( \
     :-((( :-) :-)) :-))) :-* :-/ :-0 :-3 :-> :-] :-| :-} :/ :0 :1 :3 :> :] :| :} :’( :’) :’-( :’-) ;) ;-) ;_; \
     <.< </3 <3 <33 <333 =( =) =/ =3 =[ =] =| >.< >.> >:( ><(((*> @_@ C++ [-: [: [= ]= ^_^ ^__^ ^___^ '' ’’"
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    for apostrophe in ['\'', '’'] {
        for clitic in ["s", "S", "em", "d", "ll", "re", "bout", "nuff", "cause", "cos", "coz", "cuz", "Cause", "Cos", "Coz", "Cuz"] {
            set.insert(format!("{apostrophe}{clitic}"));
        }
        for word in ["doin", "goin", "havin", "lovin", "nothin", "nuthin", "somethin"] {
            let title = format!("{}{}", word[..1].to_uppercase(), &word[1..]);
            set.insert(format!("{word}{apostrophe}"));
            set.insert(format!("{title}{apostrophe}"));
        }
    }
    set
});

/// Verbs that take "n't" ("ca" of "can't", "wo" of "won't").
const NT_VERBS: [&str; 23] = [
    "ai", "are", "ca", "could", "did", "does", "do", "had", "has", "have", "is", "might", "must", "need", "sha",
    "should", "was", "were", "wo", "would", "dare", "ought", "may",
];
/// Words that take 'm 're 've 'll 'd.
const CLITIC_STEMS: [&str; 17] =
    ["i", "you", "he", "she", "it", "we", "they", "that", "there", "this", "what", "where", "who", "how", "why", "when", "here"];
/// Words spaCy splits though they have no apostrophe, and where.
const SPLIT_WORDS: [(&str, usize); 8] =
    [("cannot", 3), ("gonna", 3), ("gotta", 3), ("whats", 4), ("thats", 4), ("theres", 5), ("im", 1), ("ive", 1)];
/// Contractions written without their apostrophe ("youre", "theyll",
/// "shouldve") that spaCy splits as it splits them with it: a stem and the
/// clitics it takes bare. Left out where the bare form is a word of its
/// own ("ill", "hell", "shell", "shed", "its", "well", "were").
const BARE_CLITICS: [(&str, &[&str]); 24] = [
    ("i", &["d"]),
    ("you", &["d", "ll", "re", "ve"]),
    ("he", &["d", "s"]),
    ("she", &["s"]),
    ("it", &["d", "ll"]),
    ("we", &["d", "ve"]),
    ("they", &["d", "ll", "re", "ve"]),
    ("that", &["d", "ll"]),
    ("there", &["d", "ll", "re", "ve"]),
    ("these", &["d", "ll", "re", "ve"]),
    ("those", &["d", "ll", "re", "ve"]),
    ("this", &["d", "ll", "s"]),
    ("what", &["d", "ll", "re", "ve"]),
    ("when", &["d", "ll", "re", "s", "ve"]),
    ("where", &["d", "ll", "re", "s", "ve"]),
    ("who", &["d", "ll", "s", "ve"]),
    ("why", &["d", "ll", "re", "s", "ve"]),
    ("how", &["d", "ll", "re", "s", "ve"]),
    ("could", &["ve"]),
    ("might", &["ve"]),
    ("must", &["ve"]),
    ("should", &["ve"]),
    ("would", &["ve"]),
    ("not", &["ve"]),
];

/// How a special case is tokenised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Special {
    Whole,
    /// Two tokens, split at this byte.
    Split(usize),
}

fn is_lowercase_str(s: &str) -> bool {
    s.chars().all(|c| c.to_lowercase().eq(std::iter::once(c)))
}

/// Lowercase, or a capital followed by lowercase: the forms spaCy lists.
fn lower_or_title(s: &str) -> bool {
    let mut chars = s.chars();
    match chars.next() {
        None => true,
        Some(first) => is_lowercase_str(s) || (first.is_uppercase() && is_lowercase_str(chars.as_str())),
    }
}

fn special(s: &str) -> Option<Special> {
    if s.is_empty() {
        return None;
    }
    if WHOLE.contains(s) || ABBREVIATIONS.contains(s) {
        return Some(Special::Whole);
    }
    if !lower_or_title(s) {
        return None;
    }
    let lower = s.to_lowercase();
    if lower.len() != s.len() {
        return None;
    }
    for nt in ["n't", "n’t"] {
        if let Some(stem) = lower.strip_suffix(nt)
            && NT_VERBS.contains(&stem)
        {
            return Some(Special::Split(stem.len()));
        }
    }
    if let Some(stem) = lower.strip_suffix("nt")
        && NT_VERBS.contains(&stem)
    {
        return Some(Special::Split(stem.len()));
    }
    for clitic in ["'m", "'re", "'ve", "'ll", "'d", "’m", "’re", "’ve", "’ll", "’d"] {
        if let Some(stem) = lower.strip_suffix(clitic)
            && CLITIC_STEMS.contains(&stem)
        {
            return Some(Special::Split(stem.len()));
        }
    }
    // Lowercase only: "Yall" stays whole.
    if s == "yall" {
        return Some(Special::Split(1));
    }
    for (stem, clitics) in BARE_CLITICS {
        if let Some(clitic) = lower.strip_prefix(stem)
            && clitics.contains(&clitic)
        {
            return Some(Special::Split(stem.len()));
        }
    }
    SPLIT_WORDS.iter().find(|(w, _)| *w == lower).map(|&(_, at)| Special::Split(at))
}

/// Bytes of the prefix spaCy peels off `s`, 0 for none.
fn prefix_len(s: &str) -> usize {
    let dots = s.bytes().take_while(|&b| b == b'.').count();
    if dots >= 2 {
        return dots;
    }
    if let Some(code) = CURRENCY_CODES.iter().find(|c| s.starts_with(**c)) {
        return code.len();
    }
    let mut chars = s.chars();
    let Some(c) = chars.next() else { return 0 };
    let peel = "§%=—–".contains(c)
        || is_punct(c)
        || is_quote(c)
        || CURRENCY.contains(c)
        || is_icon(c)
        || (c == '+' && !chars.next().is_some_and(|n| n.is_ascii_digit()));
    if peel { c.len_utf8() } else { 0 }
}

/// Bytes of the suffix spaCy peels off `s`, 0 for none.
fn suffix_len(s: &str) -> usize {
    let dots = s.bytes().rev().take_while(|&b| b == b'.').count();
    if dots >= 2 {
        return dots;
    }
    let mut rev = s.chars().rev();
    let Some(c) = rev.next() else { return 0 };
    if is_punct(c) || is_quote(c) || is_icon(c) || c == '—' || c == '–' {
        return c.len_utf8();
    }
    if ["'s", "'S", "’s", "’S"].iter().any(|cl| s.ends_with(cl)) {
        return s.chars().rev().take(2).map(char::len_utf8).sum();
    }
    let after_digit = |suffix: &str| s.strip_suffix(suffix).is_some_and(|rest| rest.ends_with(|d: char| d.is_ascii_digit()));
    if c == '+' && after_digit("+") {
        return 1;
    }
    if let Some(code) = CURRENCY_CODES.iter().find(|code| after_digit(code)) {
        return code.len();
    }
    if CURRENCY.contains(c) && after_digit(&s[s.len() - c.len_utf8()..]) {
        return c.len_utf8();
    }
    if let Some(unit) = UNITS.iter().find(|u| after_digit(u)) {
        return unit.len();
    }
    if SHORT_UNITS.contains(c) && after_digit(&s[s.len() - c.len_utf8()..]) {
        return c.len_utf8();
    }
    if c == '.'
        && let Some(p) = rev.next()
    {
        if p.is_ascii_digit() || p.is_lowercase() || "%²-+".contains(p) || is_punct(p) || is_quote(p) || is_icon(p) {
            return 1;
        }
        if p.is_uppercase() && rev.next().is_some_and(char::is_uppercase) {
            return 1;
        }
    }
    0
}

/// Whether `s` is a URL or an e-mail address as spaCy's URL pattern reads
/// one: an optional scheme and user, dot-separated labels, a top-level
/// domain of 2 to 63 lowercase letters, an optional port and path.
pub fn is_url(s: &str) -> bool {
    let mut rest = s;
    if let Some(at) = s.find("://") {
        let scheme = &s[..at];
        if scheme.chars().count() >= 2 && scheme.chars().all(|c| c.is_alphanumeric() || "_+-.".contains(c)) {
            rest = &s[at + 3..];
        }
    }
    rest.match_indices('@').any(|(at, _)| at > 0 && host_port_path(&rest[at + 1..])) || host_port_path(rest)
}

fn is_label_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || ('\u{a1}'..='\u{ffff}').contains(&c)
}

fn host_port_path(s: &str) -> bool {
    let end = s.find(|c: char| !(is_label_char(c) || c == '_' || c == '-' || c == '.')).unwrap_or(s.len());
    let (host, tail) = s.split_at(end);
    let Some(dot) = host.rfind('.') else { return false };
    let (labels, tld) = (&host[..dot], &host[dot + 1..]);
    let tld_chars = tld.chars().count();
    let tld_ok = (2..=63).contains(&tld_chars)
        && tld.chars().all(|c| c.is_ascii_lowercase() || (!c.is_ascii() && c.is_alphabetic() && !c.is_uppercase()));
    let label_ok = |label: &str| {
        let n = label.chars().count();
        (1..=64).contains(&n)
            && label.starts_with(is_label_char)
            && label.ends_with(is_label_char)
            && label.chars().all(|c| is_label_char(c) || c == '_' || c == '-')
    };
    if !tld_ok || !labels.split('.').all(label_ok) {
        return false;
    }
    let mut tail = tail;
    if let Some(port) = tail.strip_prefix(':') {
        let digits = port.bytes().take_while(u8::is_ascii_digit).count();
        if !(2..=5).contains(&digits) {
            return false;
        }
        tail = &port[digits..];
    }
    tail.is_empty() || tail.starts_with(['/', '?', '#'])
}

/// Byte length of the infix at the start of `s[i..]`, 0 for none.
fn infix_at(s: &str, i: usize) -> usize {
    let rest = &s[i..];
    let dots = rest.bytes().take_while(|&b| b == b'.').count();
    if dots >= 2 {
        return dots;
    }
    let Some(c) = rest.chars().next() else { return 0 };
    if c == '…' || is_icon(c) {
        return c.len_utf8();
    }
    let (Some(p), Some(q)) = (s[..i].chars().next_back(), rest[c.len_utf8()..].chars().next()) else { return 0 };
    if p.is_ascii_digit() && "+-*^".contains(c) && (q.is_ascii_digit() || q == '-') {
        return 1;
    }
    if c == '.' && (p.is_lowercase() || is_quote(p)) && (q.is_uppercase() || is_quote(q)) {
        return 1;
    }
    if c == ',' && is_alpha(p) && is_alpha(q) {
        return 1;
    }
    if is_alpha(p) || p.is_ascii_digit() {
        for hyphen in ["---", "--", "——", "-", "–", "—", "~"] {
            if rest.starts_with(hyphen) && rest[hyphen.len()..].chars().next().is_some_and(is_alpha) {
                return hyphen.len();
            }
        }
        if ":<>=/".contains(c) && is_alpha(q) {
            return 1;
        }
    }
    0
}

/// Cuts `s` (at byte `offset` of the text) at its infixes; an infix at the
/// very start stays with what follows, as in spaCy.
fn split_infixes(s: &str, offset: usize, out: &mut Vec<(usize, usize)>) {
    let (mut start, mut i) = (0, 0);
    while i < s.len() {
        let width = infix_at(s, i);
        if width == 0 || i == 0 {
            i += if width == 0 { s[i..].chars().next().map_or(1, char::len_utf8) } else { width };
            continue;
        }
        if i > start {
            out.push((offset + start, offset + i));
        }
        out.push((offset + i, offset + i + width));
        i += width;
        start = i;
    }
    if start < s.len() {
        out.push((offset + start, offset + s.len()));
    }
}

fn push_special(special: Special, a: usize, b: usize, out: &mut Vec<(usize, usize)>) {
    match special {
        Special::Whole => out.push((a, b)),
        Special::Split(at) => out.extend([(a, a + at), (a + at, b)]),
    }
}

/// The tokens of one whitespace-free piece of text, at byte `offset`.
fn split_piece(text: &str, offset: usize, end: usize, suffixes: &mut Vec<(usize, usize)>, out: &mut Vec<(usize, usize)>) {
    let (mut a, mut b) = (offset, end);
    suffixes.clear();
    while a < b {
        let s = &text[a..b];
        if special(s).is_some() {
            break;
        }
        let before = b - a;
        let pre = prefix_len(s);
        if pre > 0 && special(&s[pre..]).is_some() {
            out.push((a, a + pre));
            a += pre;
            break;
        }
        let suf = if s.len() > pre { suffix_len(&s[pre..]) } else { 0 };
        if suf > 0 && special(&s[..s.len() - suf]).is_some() {
            suffixes.push((b - suf, b));
            b -= suf;
            break;
        }
        if pre > 0 && suf > 0 && pre + suf <= s.len() {
            out.push((a, a + pre));
            suffixes.push((b - suf, b));
            a += pre;
            b -= suf;
        } else if pre > 0 {
            out.push((a, a + pre));
            a += pre;
        } else if suf > 0 {
            suffixes.push((b - suf, b));
            b -= suf;
        }
        if b - a == before {
            break;
        }
    }
    if a < b {
        let s = &text[a..b];
        match special(s) {
            Some(sp) => push_special(sp, a, b, out),
            None if is_url(s) => out.push((a, b)),
            None => split_infixes(s, a, out),
        }
    }
    out.extend(suffixes.iter().rev());
}

/// Merges runs of up to six neighbouring tokens of `tokens[from..]` that
/// spell an emoticon or an abbreviation (spaCy's special-case matcher).
fn merge_specials(text: &str, tokens: &mut Vec<(usize, usize)>, from: usize) {
    let mut write = from;
    let mut read = from;
    while read < tokens.len() {
        let mut best = 1;
        for j in read + 1..tokens.len().min(read + 6) {
            let spelled = &text[tokens[read].0..tokens[j].1];
            if WHOLE.contains(spelled) || ABBREVIATIONS.contains(spelled) {
                best = j - read + 1;
            }
        }
        tokens[write] = (tokens[read].0, tokens[read + best - 1].1);
        write += 1;
        read += best;
    }
    tokens.truncate(write);
}

/// Buffers kept from one text to the next.
#[derive(Debug, Default)]
pub struct TokenScratch {
    suffixes: Vec<(usize, usize)>,
}

/// Appends the byte ranges of the tokens of `text` to `out`.
pub fn tokens(text: &str, scratch: &mut TokenScratch, out: &mut Vec<(usize, usize)>) {
    let base = text.as_ptr() as usize;
    for piece in python_str::split_whitespace(text) {
        let start = piece.as_ptr() as usize - base;
        let from = out.len();
        split_piece(text, start, start + piece.len(), &mut scratch.suffixes, out);
        merge_specials(text, out, from);
    }
}

/// The characters spaCy's sentencizer ends a sentence at (its defaults).
const SENTENCE_ENDS: &str = "!.?։؟۔܀܁܂߹।॥၊။።፧፨᙮᜵᜶᠃᠉᥄᥅᪨᪩᪪᪫᭚᭛᭞᭟᰻᰼᱾᱿‼‽⁇⁈⁉⸮⸼꓿꘎꘏꛳꛷꡶꡷꣎꣏꤯꧈꧉꩝꩞꩟꫰꫱꯫﹒﹖﹗！．？𐩖𐩗𑁇𑁈𑂾𑂿𑃀𑃁𑅁𑅂𑅃𑇅𑇆𑇍𑇞𑇟𑈸𑈹𑈻𑈼𑊩𑑋𑑌𑗂𑗃𑗉𑗊𑗋𑗌𑗍𑗎𑗏𑗐𑗑𑗒𑗓𑗔𑗕𑗖𑗗𑙁𑙂𑜼𑜽𑜾𑩂𑩃𑪛𑪜𑱁𑱂𖩮𖩯𖫵𖬷𖬸𖭄𛲟𝪈｡。";

/// Sentences of `line` as spaCy's sentencizer counts them (at least one):
/// a sentence ends at a token that is one of its end characters, and the
/// next starts at the first token after it that is not punctuation.
pub fn sentences(line: &str, scratch: &mut TokenScratch, buffer: &mut Vec<(usize, usize)>) -> usize {
    buffer.clear();
    tokens(line, scratch, buffer);
    let (mut count, mut seen_end) = (1, false);
    for &(a, b) in buffer.iter() {
        let token = &line[a..b];
        let mut chars = token.chars();
        let is_end = chars.next().is_some_and(|c| chars.next().is_none() && SENTENCE_ENDS.contains(c));
        if seen_end && !is_end && !is_punct_token(token) {
            count += 1;
            seen_end = false;
        } else if is_end {
            seen_end = true;
        }
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<&str> {
        let mut out = Vec::new();
        tokens(text, &mut TokenScratch::default(), &mut out);
        out.into_iter().map(|(a, b)| &text[a..b]).collect()
    }

    /// Expected tokens written down from spaCy 3.8's blank English pipeline.
    #[test]
    fn splits_like_spacy() {
        assert_eq!(
            words("Don't stop: 3.14, 1,000; e.g. a:b x_1 \"quoted\" (paren) well-known U.S.A. Mr. Smith's 10km http://x.com/a?b=1 end..."),
            ["Do", "n't", "stop", ":", "3.14", ",", "1,000", ";", "e.g.", "a", ":", "b", "x_1", "\"", "quoted", "\"", "(", "paren", ")", "well", "-", "known", "U.S.A.", "Mr.", "Smith", "'s", "10", "km", "http://x.com/a?b=1", "end", "..."]
        );
        assert_eq!(
            words("a--b  double\n\nnewline\ttab — dash; semi;colon e-mail 5-6 rock'n'roll can't I'm we'll"),
            ["a", "--", "b", "double", "newline", "tab", "—", "dash", ";", "semi;colon", "e", "-", "mail", "5", "-", "6", "rock'n'roll", "ca", "n't", "I", "'m", "we", "'ll"]
        );
        assert_eq!(
            words("Hello!!! What?! #tag 50% $10 3rd. ...and so. on. The end.\" Next (one). [two] a/b * • (noun): :) gonna"),
            ["Hello", "!", "!", "!", "What", "?", "!", "#", "tag", "50", "%", "$", "10", "3rd", ".", "...", "and", "so", ".", "on", ".", "The", "end", ".", "\"", "Next", "(", "one", ")", ".", "[", "two", "]", "a", "/", "b", "*", "•", "(", "noun", "):", ":)", "gon", "na"]
        );
        assert_eq!(
            words("DON'T I'M It's You're Dont cannot end.Next example.com a@b.co NASA. 3.5. e.g., (a.) etc.) i.e., Ph.D. 'Tis ---- jpl-devvax.jpl.nasa.gov"),
            ["DON'T", "I'M", "It", "'s", "You", "'re", "Do", "nt", "can", "not", "end", ".", "Next", "example.com", "a@b.co", "NASA", ".", "3.5", ".", "e.g.", ",", "(", "a.", ")", "etc", ".", ")", "i.e.", ",", "Ph.D.", "'", "Tis", "----", "jpl-devvax.jpl.nasa.gov"]
        );
    }

    /// Contractions without their apostrophe, as spaCy 3.8 splits them.
    #[test]
    fn bare_contractions_split_like_spacy() {
        assert_eq!(
            words("id youre Theyll shouldve hes shed ill well its were whos wed Yall yall hows"),
            ["i", "d", "you", "re", "They", "ll", "should", "ve", "he", "s", "shed", "ill", "well", "its", "were", "who", "s", "we", "d", "Yall", "y", "all", "how", "s"]
        );
    }

    #[test]
    fn urls() {
        for url in ["http://x.com/a?b=1", "www.x.org", "a@b.co", "user:pw@host.example.com:8080/p", "word.word"] {
            assert!(is_url(url), "{url}");
        }
        for not in ["end.Next", "x.y", "e.g", "3.14", "a.com-", "a.com:1", "NASA.GOV"] {
            assert!(!is_url(not), "{not}");
        }
    }

    #[test]
    fn sentence_counts() {
        let count = |line: &str| sentences(line, &mut TokenScratch::default(), &mut Vec::new());
        assert_eq!(count("One. Two! Three? Four"), 4);
        assert_eq!(count("He said \"Stop.\" Then left."), 2);
        assert_eq!(count("No end"), 1);
        assert_eq!(count(""), 1);
        assert_eq!(count("Wait... what?"), 1);
    }
}
