//! `token_count(text, tokenizer)`: how many tokens of a HuggingFace
//! tokenizer a text is, the unit pre-training budgets are counted in.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex};

use datafusion::arrow::array::Int64Array;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::ScalarValue;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{
    ColumnarValue, DocSection, Documentation, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use tokenizers::Tokenizer;

use crate::score::model::TOKENIZER_FILE;
use crate::score::model_registry::ModelRegistry;
use crate::text::columns::text_values;

pub const NAME: &str = "token_count";

/// The tokenizer argument that estimates instead of tokenising.
pub const APPROX: &str = "approx";

/// UTF-8 bytes per token of the `approx` estimate (English web text under
/// GPT-2-style BPE vocabularies averages about four).
pub const APPROX_BYTES_PER_TOKEN: usize = 4;

/// Texts tokenised together: enough for the tokenizer's threads, few enough
/// that their encodings stay small.
const CHUNK: usize = 256;

const BUDGET_SECTION: DocSection = DocSection {
    include: true,
    label: "ODiS Budget Functions",
    description: Some("What a document costs: the unit token and byte budgets are spent in."),
};

pub static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        BUDGET_SECTION,
        "The number of tokens `text` is under a HuggingFace tokenizer (`tokenizer.json`): no special tokens \
         added, no truncation, no padding, so the count is what the text adds to a training set. The tokenizer is \
         read once per session and tokenises each batch on all cores. `approx` instead estimates \
         ceil(UTF-8 bytes / 4) without a tokenizer: an estimate, named as one wherever odis reports it. \
         NULL text gives NULL.",
        "token_count(text, tokenizer)",
    )
    .with_sql_example(
        "```sql\n> SELECT sum(token_count(text, 'models/minilm')) AS tokens FROM corpus;\n\
         > SELECT * FROM top_k_per_dim('scored', 'id', 'pc', 1000000, cost => 'tokens');\n```",
    )
    .with_argument("text", "A string column.")
    .with_argument(
        "tokenizer",
        "A string literal: a model directory holding tokenizer.json, a tokenizer.json file, a registered model \
         name, or 'approx'.",
    )
    .with_related_udf("odis_score")
    .build()
});

/// How a text is counted.
#[derive(Debug, Clone)]
enum Counter {
    Tokenizer(Arc<Tokenizer>),
    Approx,
}

/// A tokenizer file as read: its size and modified time, so that a file
/// replaced during a session is read again.
type Stamp = (u64, Option<std::time::SystemTime>);

#[derive(Debug)]
pub struct TokenCountFunc {
    signature: Signature,
    models: Arc<ModelRegistry>,
    loaded: Mutex<HashMap<PathBuf, (Stamp, Arc<Tokenizer>)>>,
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
    pub fn new(models: Arc<ModelRegistry>) -> Self {
        Self {
            signature: Signature::any(2, Volatility::Immutable),
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
        let tokenizer = Arc::new(load_tokenizer(&file)?);
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
    let tokenizer = match counter {
        Counter::Approx => return Ok(texts.iter().map(|t| t.map(approx_tokens)).collect()),
        Counter::Tokenizer(tokenizer) => tokenizer,
    };
    let mut counts: Vec<Option<i64>> = vec![None; texts.len()];
    let present: Vec<usize> = (0..texts.len()).filter(|&i| texts[i].is_some()).collect();
    for chunk in present.chunks(CHUNK) {
        let batch: Vec<&str> = chunk.iter().map(|&i| texts[i].expect("present")).collect();
        let encodings = tokenizer
            .encode_batch_fast(batch, false)
            .map_err(|e| DataFusionError::Execution(format!("{NAME}: tokenizing failed: {e}")))?;
        for (&i, encoding) in chunk.iter().zip(&encodings) {
            counts[i] = Some(encoding.len() as i64);
        }
    }
    Ok(Int64Array::from(counts))
}

impl ScalarUDFImpl for TokenCountFunc {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let text = args.arg_fields[0].data_type();
        if !matches!(text, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null) {
            return Err(plan_err(format!(
                "{NAME}: `text` must be a string column, got {text}; cast it, e.g. {NAME}(CAST(x AS VARCHAR), '{APPROX}')"
            )));
        }
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
        Some(&DOCUMENTATION)
    }
}

pub fn token_count_udf(models: Arc<ModelRegistry>) -> Arc<ScalarUDF> {
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
        ctx.register_udf(token_count_udf(Arc::new(ModelRegistry::new())).as_ref().clone());
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
}
