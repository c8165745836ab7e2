//! `token_count(text, tokenizer)`: how many tokens of a HuggingFace
//! tokenizer a text is, the unit pre-training budgets are counted in.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use datafusion::arrow::array::Int64Array;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::ScalarValue;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion_macros::user_doc;
use tokenizers::Tokenizer;

use crate::model_dirs::{ModelNames, TOKENIZER_FILE};
use crate::text::columns::{coerce_text_first, text_values};

pub const NAME: &str = "token_count";

/// The tokenizer argument that estimates instead of tokenising.
pub const APPROX: &str = "approx";

/// UTF-8 bytes per token of the `approx` estimate (English web text under
/// GPT-2-style BPE vocabularies averages about four).
pub const APPROX_BYTES_PER_TOKEN: usize = 4;

/// Texts counted by one task of the thread pool.
const CHUNK: usize = 64;

/// How a text is counted.
#[derive(Debug, Clone)]
enum Counter {
    Tokenizer(Arc<Loaded>),
    Approx,
}

/// How a tokenizer's count of a text may be taken in pieces, each piece's
/// count kept in a cache: in web text most pieces are words met before, so
/// counting costs a split and a lookup instead of the tokenizer's whole
/// pipeline (normalisation with alignments, pre-tokenisation, the model,
/// an encoding), which is several times the rest of pass 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pieces {
    /// No split is known to keep the count: the whole text, every time.
    Whole,
    /// The count is the sum over the runs between ASCII spaces, tabs and
    /// line breaks: the normalizer works char by char and the
    /// pre-tokenizer ends every pre-token at whitespace.
    Words,
    /// As `Words`, and each ASCII punctuation character is a piece of its
    /// own (BERT's pre-tokenizer isolates it), for a normalizer that
    /// composes nothing (a composition could join one to the next char).
    WordsAndPunctuation,
}

/// A tokenizer read for counting.
#[derive(Debug)]
pub struct Loaded {
    tokenizer: Tokenizer,
    pieces: Pieces,
    /// Added tokens' contents: a text holding one is counted whole when
    /// punctuation splits pieces (`[CLS]` would split).
    added: Vec<String>,
    /// Tells the pieces cached for one tokenizer from another's.
    id: u64,
}

impl Loaded {
    fn new(tokenizer: Tokenizer) -> Self {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let added: Vec<tokenizers::AddedToken> = tokenizer.get_added_tokens_decoder().into_values().collect();
        let pieces = pieces_of(&tokenizer, &added);
        Loaded {
            tokenizer,
            pieces,
            added: added.into_iter().map(|a| a.content).collect(),
            id: NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        }
    }

    /// The tokens of `text` through the whole pipeline.
    fn whole(&self, text: &str) -> Result<i64> {
        let encoding = self
            .tokenizer
            .encode_fast(text, false)
            .map_err(|e| DataFusionError::Execution(format!("{NAME}: tokenizing failed: {e}")))?;
        Ok(encoding.len() as i64)
    }

    fn count(&self, text: &str) -> Result<i64> {
        let split_punctuation = match self.pieces {
            Pieces::Whole => return self.whole(text),
            Pieces::WordsAndPunctuation if self.added.iter().any(|a| text.contains(a.as_str())) => return self.whole(text),
            Pieces::WordsAndPunctuation => true,
            Pieces::Words => false,
        };
        PIECE_COUNTS.with(|cell| {
            let mut cell = cell.borrow_mut();
            let (owner, cache) = &mut *cell;
            if *owner != self.id || cache.len() > PIECE_CACHE_LIMIT {
                cache.clear();
                *owner = self.id;
            }
            let mut piece = |piece: &str| -> Result<i64> {
                if let Some(&n) = cache.get(piece) {
                    return Ok(n as i64);
                }
                let n = self.whole(piece)?;
                cache.insert(piece.into(), n as u32);
                Ok(n)
            };
            let mut total = 0;
            for word in text.split([' ', '\t', '\n', '\r']).filter(|w| !w.is_empty()) {
                if !split_punctuation {
                    total += piece(word)?;
                    continue;
                }
                let mut start = 0;
                for (at, byte) in word.bytes().enumerate() {
                    if byte.is_ascii_punctuation() {
                        if start < at {
                            total += piece(&word[start..at])?;
                        }
                        total += piece(&word[at..at + 1])?;
                        start = at + 1;
                    }
                }
                if start < word.len() {
                    total += piece(&word[start..])?;
                }
            }
            Ok(total)
        })
    }
}

/// Pieces cached per thread (the counting threads of one session share a
/// tokenizer; no lock between them), up to this many before the cache starts
/// again: about 64 MiB a thread.
const PIECE_CACHE_LIMIT: usize = 1 << 20;

thread_local! {
    static PIECE_COUNTS: std::cell::RefCell<(u64, foldhash::HashMap<Box<str>, u32>)> = std::cell::RefCell::new((0, Default::default()));
}

/// Which pieces `tokenizer` may count a text in (see [`Pieces`]).
fn pieces_of(tokenizer: &Tokenizer, added: &[tokenizers::AddedToken]) -> Pieces {
    use tokenizers::normalizers::NormalizerWrapper as N;
    use tokenizers::pre_tokenizers::PreTokenizerWrapper as P;
    // Char by char (composition aside), never joining across whitespace.
    fn per_char(n: &N) -> bool {
        match n {
            N::BertNormalizer(_) | N::StripNormalizer(_) | N::StripAccents(_) | N::Lowercase(_) => true,
            N::NFC(_) | N::NFD(_) | N::NFKC(_) | N::NFKD(_) => true,
            N::Sequence(sequence) => sequence.as_ref().iter().all(per_char),
            _ => false,
        }
    }
    fn composes(n: &N) -> bool {
        match n {
            N::NFC(_) | N::NFKC(_) => true,
            N::Sequence(sequence) => sequence.as_ref().iter().any(composes),
            _ => false,
        }
    }
    // Every pre-token ends at whitespace; later steps split pre-tokens only.
    fn ends_at_whitespace(p: &P) -> bool {
        matches!(p, P::BertPreTokenizer(_) | P::Whitespace(_) | P::WhitespaceSplit(_))
    }
    fn splits_within(p: &P) -> bool {
        ends_at_whitespace(p) || matches!(p, P::Punctuation(_) | P::Digits(_) | P::UnicodeScripts(_))
    }
    let normalizer = tokenizer.get_normalizer();
    if !normalizer.is_none_or(per_char) {
        return Pieces::Whole;
    }
    // An added token that could span a piece boundary, take whitespace
    // with it, or match only after normalisation keeps texts whole.
    if added.iter().any(|a| a.lstrip || a.rstrip || a.normalized || a.content.contains([' ', '\t', '\n', '\r'])) {
        return Pieces::Whole;
    }
    match tokenizer.get_pre_tokenizer() {
        Some(P::BertPreTokenizer(_)) if !normalizer.is_some_and(composes) => Pieces::WordsAndPunctuation,
        Some(p) if ends_at_whitespace(p) => Pieces::Words,
        Some(P::Sequence(sequence)) => match sequence.as_ref() {
            [first, rest @ ..] if ends_at_whitespace(first) && rest.iter().all(splits_within) => Pieces::Words,
            _ => Pieces::Whole,
        },
        _ => Pieces::Whole,
    }
}

/// A tokenizer file as read: its size and modified time, so that a file
/// replaced during a session is read again.
type Stamp = (u64, Option<std::time::SystemTime>);

#[user_doc(
    doc_section(label = "ODiS Text Functions"),
    description = "The number of tokens `text` is under a HuggingFace tokenizer (`tokenizer.json`): no special tokens \
         added, no truncation, no padding, so the count is what the text adds to a training set. The tokenizer is \
         read once per session and counts each batch on all cores. Where its normalizer works char by char and its \
         pre-tokenizer ends every pre-token at whitespace (BERT-style WordPiece tokenizers such as MiniLM's; the \
         Whitespace and WhitespaceSplit pre-tokenizers), a text's count is the sum of its words' counts (with BERT's \
         pre-tokenizer, of its words' and punctuation's), each kept in a cache: the same count, without running the \
         whole pipeline on every text. Other tokenizers (byte-level BPE, SentencePiece) tokenise whole texts, several \
         times slower. `approx` instead estimates \
         ceil(UTF-8 bytes / 4) without a tokenizer: an estimate, named as one wherever odis reports it. \
         NULL text gives NULL.",
    syntax_example = "token_count(text, tokenizer)",
    sql_example = "```sql\n> SELECT sum(token_count(text, 'models/minilm')) AS tokens FROM corpus;\n\
         > SELECT * FROM top_k_per_dim('scored', 'id', 'pc', 1000000, cost => 'tokens');\n```",
    argument(name = "text", description = "A string column."),
    argument(name = "tokenizer", description = "A string literal: a model directory holding tokenizer.json, a tokenizer.json file, a registered model \
         name, or 'approx'."),
    related_udf(name = "odis_score"),
)]
#[derive(Debug)]
pub struct TokenCountFunc {
    signature: Signature,
    models: Arc<ModelNames>,
    loaded: Mutex<HashMap<PathBuf, (Stamp, Arc<Loaded>)>>,
}

impl PartialEq for TokenCountFunc {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.models, &other.models)
    }
}
impl Eq for TokenCountFunc {}
impl Hash for TokenCountFunc {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (Arc::as_ptr(&self.models) as usize).hash(state);
    }
}

fn plan_err(message: String) -> DataFusionError {
    DataFusionError::Plan(message)
}

/// The tokenizer.json that `argument` names: a file, or one in a directory.
pub fn tokenizer_file(argument: &str, dir: &Path) -> Result<PathBuf> {
    if dir.is_file() {
        return Ok(dir.to_path_buf());
    }
    if !dir.is_dir() {
        return Err(plan_err(format!(
            "{NAME}: tokenizer '{argument}' is neither a model directory, a tokenizer.json file nor a registered model name; \
             pass one of those, or '{APPROX}' to estimate UTF-8 bytes / {APPROX_BYTES_PER_TOKEN}"
        )));
    }
    let file = dir.join(TOKENIZER_FILE);
    if !file.is_file() {
        return Err(plan_err(format!(
            "{NAME}: the directory '{}' has no {TOKENIZER_FILE}; pass a model directory that holds one, the file itself, \
             or '{APPROX}' to estimate UTF-8 bytes / {APPROX_BYTES_PER_TOKEN}",
            dir.display()
        )));
    }
    Ok(file)
}

/// Loads `file` for counting: no truncation, no padding.
pub fn load_tokenizer(file: &Path) -> Result<Tokenizer> {
    let mut tokenizer = Tokenizer::from_file(file)
        .map_err(|e| plan_err(format!("{NAME}: cannot read the tokenizer '{}': {e}", file.display())))?;
    tokenizer.with_padding(None);
    tokenizer
        .with_truncation(None)
        .map_err(|e| plan_err(format!("{NAME}: the tokenizer '{}': {e}", file.display())))?;
    Ok(tokenizer)
}

impl TokenCountFunc {
    pub fn new(models: Arc<ModelNames>) -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
            models,
            loaded: Mutex::new(HashMap::new()),
        }
    }

    fn counter(&self, argument: &str) -> Result<Counter> {
        if argument == APPROX {
            return Ok(Counter::Approx);
        }
        let dir = self.models.resolve(argument).unwrap_or_else(|_| PathBuf::from(argument));
        let file = tokenizer_file(argument, &dir)?;
        let key = std::fs::canonicalize(&file).unwrap_or_else(|_| file.clone());
        let meta = std::fs::metadata(&key).map_err(|e| plan_err(format!("{NAME}: cannot read '{}': {e}", file.display())))?;
        let stamp = (meta.len(), meta.modified().ok());
        let mut loaded = self.loaded.lock().map_err(|_| DataFusionError::Internal(format!("{NAME}: cache lock poisoned")))?;
        if let Some((was, tokenizer)) = loaded.get(&key) {
            if *was == stamp {
                return Ok(Counter::Tokenizer(Arc::clone(tokenizer)));
            }
        }
        let tokenizer = Arc::new(Loaded::new(load_tokenizer(&file)?));
        loaded.insert(key, (stamp, Arc::clone(&tokenizer)));
        Ok(Counter::Tokenizer(tokenizer))
    }
}

fn tokenizer_literal(value: Option<&ScalarValue>) -> Result<String> {
    match value {
        Some(ScalarValue::Utf8(Some(s)) | ScalarValue::LargeUtf8(Some(s)) | ScalarValue::Utf8View(Some(s))) => Ok(s.clone()),
        _ => Err(plan_err(format!(
            "{NAME}: `tokenizer` must be a string literal (a model directory, a tokenizer.json file, a registered model name \
             or '{APPROX}'), e.g. {NAME}(text, 'models/minilm')"
        ))),
    }
}

/// The `approx` estimate: ceil(UTF-8 bytes / 4).
pub fn approx_tokens(text: &str) -> i64 {
    text.len().div_ceil(APPROX_BYTES_PER_TOKEN) as i64
}

fn count(counter: &Counter, texts: &[Option<&str>]) -> Result<Int64Array> {
    use rayon::prelude::*;
    let tokenizer = match counter {
        Counter::Approx => return Ok(texts.iter().map(|t| t.map(approx_tokens)).collect()),
        Counter::Tokenizer(tokenizer) => tokenizer,
    };
    // On the tokenizer's own thread pool, as its batch encoding runs.
    let counts: Vec<Option<i64>> =
        texts.par_iter().with_min_len(CHUNK).map(|text| text.map(|t| tokenizer.count(t)).transpose()).collect::<Result<_>>()?;
    Ok(Int64Array::from(counts))
}

impl ScalarUDFImpl for TokenCountFunc {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        coerce_text_first(NAME, arg_types, &[2], "token_count(text, tokenizer)", "token_count(CAST(x AS VARCHAR), 'approx')")
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        // A bad tokenizer is an error when the query is planned.
        self.counter(&tokenizer_literal(args.scalar_arguments[1])?)?;
        Ok(Arc::new(Field::new(NAME, DataType::Int64, true)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let argument = match &args.args[1] {
            ColumnarValue::Scalar(value) => tokenizer_literal(Some(value))?,
            ColumnarValue::Array(_) => tokenizer_literal(None)?,
        };
        let counter = self.counter(&argument)?;
        let texts = args.args[0].to_array(args.number_rows)?;
        Ok(ColumnarValue::Array(Arc::new(count(&counter, &text_values(&texts)?)?)))
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

pub fn token_count_udf(models: Arc<ModelNames>) -> Arc<ScalarUDF> {
    Arc::new(ScalarUDF::new_from_impl(TokenCountFunc::new(models)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Array, StringArray};
    use datafusion::prelude::SessionContext;

    #[test]
    fn approx_is_bytes_over_four_rounded_up() {
        let texts = [Some("abcd"), Some("abcde"), Some(""), None, Some("héllo")];
        let counts = count(&Counter::Approx, &texts).unwrap();
        assert_eq!(counts.iter().collect::<Vec<_>>(), [Some(1), Some(2), Some(0), None, Some(2)]);
    }

    /// A word-level tokenizer.json written here: "a b c" is three tokens.
    fn word_tokenizer(dir: &Path) -> PathBuf {
        let json = r#"{"version":"1.0","truncation":{"direction":"Right","max_length":2,"strategy":"LongestFirst","stride":0},
            "padding":null,"added_tokens":[],"normalizer":null,"pre_tokenizer":{"type":"Whitespace"},"post_processor":null,
            "decoder":null,"model":{"type":"WordLevel","vocab":{"[UNK]":0,"a":1,"b":2},"unk_token":"[UNK]"}}"#;
        std::fs::create_dir_all(dir).unwrap();
        let file = dir.join(TOKENIZER_FILE);
        std::fs::write(&file, json).unwrap();
        file
    }

    #[tokio::test]
    async fn counts_every_token_without_truncation_in_sql() {
        let dir = std::env::temp_dir().join(format!("odis-token-count-{}", std::process::id()));
        word_tokenizer(&dir);
        let ctx = SessionContext::new();
        ctx.register_udf(token_count_udf(Arc::new(ModelNames::default())).as_ref().clone());
        let texts = Arc::new(StringArray::from(vec![Some("a b c d e"), None, Some("")]));
        let batch = datafusion::arrow::array::RecordBatch::try_from_iter(vec![("text", texts as _)]).unwrap();
        ctx.register_batch("t", batch).unwrap();
        let sql = format!("SELECT token_count(text, '{}') AS n FROM t", dir.display());
        let out = ctx.sql(&sql).await.unwrap().collect().await.unwrap();
        let n = out[0].column(0).as_any().downcast_ref::<Int64Array>().unwrap();
        // The file truncates at 2 tokens; counting ignores that.
        assert_eq!(n.iter().collect::<Vec<_>>(), [Some(5), None, Some(0)]);
        // A directory without tokenizer.json, and a missing path, are named.
        let empty = dir.join("empty");
        std::fs::create_dir_all(&empty).unwrap();
        let err = ctx.sql(&format!("SELECT token_count(text, '{}') FROM t", empty.display())).await.unwrap_err().to_string();
        assert!(err.contains("has no tokenizer.json") && err.contains("'approx'"), "{err}");
        let err = ctx.sql("SELECT token_count(text, 'no/such/dir') FROM t").await.unwrap_err().to_string();
        assert!(err.contains("neither a model directory"), "{err}");
        let err = ctx.sql("SELECT token_count(text, text) FROM t").await.unwrap_err().to_string();
        assert!(err.contains("must be a string literal"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A BERT-style tokenizer.json (as MiniLM's), with `pre_tokenizer` and
    /// `normalizer` swapped in.
    fn bert_like(normalizer: &str, pre_tokenizer: &str) -> Tokenizer {
        let vocab = r###"{"[UNK]":0,"[CLS]":1,"the":2,"##s":3,"a":4,"##b":5,",":6,".":7,"(":8,")":9,"cat":10,"##e":11,"é":12,"e":13,"b":14,"<":15,"'":16}"###;
        let json = format!(
            r###"{{"version":"1.0","truncation":null,"padding":null,
            "added_tokens":[{{"id":1,"content":"[CLS]","single_word":false,"lstrip":false,"rstrip":false,"normalized":false,"special":true}}],
            "normalizer":{normalizer},"pre_tokenizer":{pre_tokenizer},"post_processor":null,"decoder":null,
            "model":{{"type":"WordPiece","unk_token":"[UNK]","continuing_subword_prefix":"##","max_input_chars_per_word":100,"vocab":{vocab}}}}}"###
        );
        Tokenizer::from_bytes(json.as_bytes()).unwrap()
    }

    /// Texts that stress where pieces may be cut: punctuation runs, an added
    /// token, accents and combining marks, CJK, controls, a composition.
    fn tricky_texts() -> Vec<String> {
        let mut texts: Vec<String> = [
            "the cats, (a) b.", "[CLS] the [CLS]cat", "thes\tthe\n\nthe\r\n", "  leading and trailing  ", "",
            "a\u{0}b a\u{000C}b a\u{000B}b", "café cafe\u{0301} CAFÉ", "中文the字", "<\u{0338} =\u{0338}", "it's 'quoted'",
            "...,,,((()))", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa b",
        ]
        .iter()
        .map(|t| t.to_string())
        .collect();
        // And many seeded strings over an alphabet of those characters.
        let alphabet: Vec<char> = "the cabs,.()' \t\n\u{0}\u{301}éÉ中<\u{338}[CLS]".chars().collect();
        let mut state = 5u64;
        for _ in 0..2000 {
            let len = (state >> 60) as usize + 1;
            let text: String = (0..len * 3)
                .map(|_| {
                    state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    alphabet[(state >> 33) as usize % alphabet.len()]
                })
                .collect();
            texts.push(text);
        }
        texts
    }

    #[test]
    fn counting_in_pieces_equals_counting_whole_texts() {
        let bert = r#"{"type":"BertNormalizer","clean_text":true,"handle_chinese_chars":true,"strip_accents":null,"lowercase":true}"#;
        let cases = [
            (bert, r#"{"type":"BertPreTokenizer"}"#, Pieces::WordsAndPunctuation),
            (bert, r#"{"type":"Whitespace"}"#, Pieces::Words),
            ("null", r#"{"type":"WhitespaceSplit"}"#, Pieces::Words),
            (r#"{"type":"NFC"}"#, r#"{"type":"BertPreTokenizer"}"#, Pieces::Words),
            (
                r#"{"type":"Sequence","normalizers":[{"type":"NFD"},{"type":"Lowercase"}]}"#,
                r#"{"type":"Sequence","pretokenizers":[{"type":"WhitespaceSplit"},{"type":"Punctuation","behavior":"Isolated"}]}"#,
                Pieces::Words,
            ),
            (bert, r#"{"type":"Metaspace","replacement":"▁","prepend_scheme":"always","split":true}"#, Pieces::Whole),
            (r#"{"type":"Replace","pattern":{"String":" "},"content":"x"}"#, r#"{"type":"BertPreTokenizer"}"#, Pieces::Whole),
        ];
        let texts = tricky_texts();
        for (normalizer, pre_tokenizer, expected) in cases {
            let loaded = Loaded::new(bert_like(normalizer, pre_tokenizer));
            assert_eq!(loaded.pieces, expected, "{normalizer} {pre_tokenizer}");
            for text in &texts {
                assert_eq!(loaded.count(text).unwrap(), loaded.whole(text).unwrap(), "{normalizer} {pre_tokenizer}: {text:?}");
            }
        }
    }
}
