//! `odis_score(text, model)`: runs an ONNX model over text, inside the query.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{FixedSizeListArray, Float32Array};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::ScalarValue;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::async_udf::AsyncScalarUDFImpl;
use datafusion::logical_expr::{ColumnarValue, Documentation, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility};
use datafusion_macros::user_doc;

use crate::score::model::ModelSpec;
use crate::score::model_registry::ModelRegistry;
use crate::score::options::Execution;
use crate::score::progress::ScoreProgress;
use crate::score::inference::MicroBatch;

const NAME: &str = "odis_score";

#[user_doc(
    doc_section(label = "ODiS Scoring Functions"),
    description = r#"Scores text with an ONNX model, inside the query: returns a FixedSizeList<Float32, D> per row (ODiS step 3). `model` is a model directory, or a name registered with `odis --model NAME=DIR`; each model is loaded once per session and reused.

A model directory holds `model.onnx` (inputs among input_ids, attention_mask, token_type_ids, int64 [batch, seq]), `tokenizer.json` (HuggingFace) and optionally `odis.json` with the keys `output` (the output to read; default the first), `pooling` ("none" for [batch, D] outputs, "mean" (attention-masked) or "cls" for [batch, seq, D]; default by rank), `normalize` (L2-normalise; default false), `max_length` (tokens; default the tokenizer's limit or 512), `dims` (names of the D outputs, shown by odis_models()) and `head` ({"weights": [[...]], "bias": [...]}: a linear map applied last).

Texts are tokenised in parallel, sorted by token length and cut into micro-batches (SET odis.micro_batch) so that little padding is computed, then run on a pool of ONNX Runtime sessions (SET odis.sessions, odis.threads) on their own threads; results come back in row order. SET odis.device = 'cuda:0' runs on the GPU through ONNX Runtime's CUDA execution provider and fails, rather than falling back to the CPU, when CUDA is unavailable. NULL text gives NULL; empty text is scored. Scores do not depend on batch size or row order beyond float32 rounding (about 1e-6 relative)."#,
    syntax_example = "odis_score(text, model)",
    sql_example = r#"```sql
> SELECT id, odis_score(text, 'models/quality') AS scores FROM 'corpus/*.parquet';
> SET odis.micro_batch = 32;
> SELECT * FROM odis_models();
```"#,
    argument(name = "text", description = "A string column."),
    argument(name = "model", description = "String literal: a model directory or a registered model name."),
    related_udf(name = "odis_models"),
    related_udf(name = "pca_fit")
)]
#[derive(Debug)]
pub struct OdisScoreFunc {
    signature: Signature,
    models: Arc<ModelRegistry>,
}

impl PartialEq for OdisScoreFunc {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.models, &other.models)
    }
}
impl Eq for OdisScoreFunc {}
impl Hash for OdisScoreFunc {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (Arc::as_ptr(&self.models) as usize).hash(state);
    }
}

impl OdisScoreFunc {
    pub fn new(models: Arc<ModelRegistry>) -> Self {
        Self {
            signature: Signature::any(2, Volatility::Volatile),
            models,
        }
    }

    fn spec(&self, model: &str) -> Result<Arc<ModelSpec>> {
        self.models.load(&self.models.resolve(model)?)
    }
}

fn model_literal(value: Option<&ScalarValue>) -> Result<String> {
    match value {
        Some(ScalarValue::Utf8(Some(s)) | ScalarValue::LargeUtf8(Some(s)) | ScalarValue::Utf8View(Some(s))) => Ok(s.clone()),
        _ => Err(DataFusionError::Plan(format!(
            "{NAME}: `model` must be a string literal, a model directory or a registered model name, e.g. {NAME}(text, 'models/quality')"
        ))),
    }
}

/// A bound on the bytes of one token (WordPiece and BPE vocabularies keep
/// tokens far shorter), used to cut texts before tokenising.
const MAX_BYTES_PER_TOKEN: usize = 64;

/// The longest prefix of `text` of at most `bytes` bytes that ends on a
/// character boundary.
fn prefix(text: &str, bytes: usize) -> &str {
    if text.len() <= bytes {
        return text;
    }
    let mut end = bytes;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

fn result_type(dims: usize) -> DataType {
    DataType::FixedSizeList(Arc::new(Field::new_list_field(DataType::Float32, true)), dims as i32)
}

impl ScalarUDFImpl for OdisScoreFunc {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Err(DataFusionError::Internal("odis_score's type comes from return_field_from_args".into()))
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        // DataFusion's wrapper of an async function does not pass on a
        // coercion of its own: the signature takes any type, checked here.
        let text = args.arg_fields[0].data_type();
        if !matches!(text, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null) {
            return Err(DataFusionError::Plan(format!(
                "{NAME}: `text` must be a string column, got {text}; cast it, e.g. {NAME}(CAST(x AS VARCHAR), 'model')"
            )));
        }
        let spec = self.spec(&model_literal(args.scalar_arguments[1])?)?;
        Ok(Arc::new(Field::new(NAME, result_type(spec.dims), true)))
    }

    fn invoke_with_args(&self, _args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        Err(DataFusionError::Internal("odis_score runs asynchronously".into()))
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

#[async_trait]
impl AsyncScalarUDFImpl for OdisScoreFunc {
    fn ideal_batch_size(&self) -> Option<usize> {
        // Enough rows to sort by length and keep every session busy, few
        // enough for smooth progress.
        Some(1024)
    }

    async fn invoke_async_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let model = match &args.args[1] {
            ColumnarValue::Scalar(value) => model_literal(Some(value))?,
            ColumnarValue::Array(_) => model_literal(None)?,
        };
        let spec = self.spec(&model)?;
        let execution = Execution::from_config(&args.config_options)?;
        let rows = args.number_rows;
        let texts = args.args[0].to_array(rows)?;
        let values_in = crate::text::columns::text_values(&texts)?;
        let present: Vec<usize> = (0..rows).filter(|&i| values_in[i].is_some()).collect();
        // Only the first max_length tokens are scored: cut each text, cheaply,
        // far enough past them (no token is longer than 64 bytes here) that
        // the tokens kept do not change, so a document of megabytes is not
        // tokenised whole.
        let keep_bytes = spec.max_length.saturating_mul(MAX_BYTES_PER_TOKEN);
        let owned: Vec<String> =
            present.iter().map(|&i| prefix(values_in[i].expect("present"), keep_bytes).to_string()).collect();

        // Session start-up and tokenising are CPU work: keep them off the
        // async runtime's threads.
        let (models, pool_spec) = (Arc::clone(&self.models), Arc::clone(&spec));
        let pool = tokio::task::spawn_blocking(move || models.pool(&pool_spec, execution))
            .await
            .map_err(|e| DataFusionError::External(Box::new(e)))??;
        let token_spec = Arc::clone(&spec);
        let encodings = tokio::task::spawn_blocking(move || {
            let refs: Vec<&str> = owned.iter().map(String::as_str).collect();
            token_spec.encode(&refs)
        })
        .await
        .map_err(|e| DataFusionError::External(Box::new(e)))??;

        // Longest first within the chunk, so similar lengths share a micro-batch.
        let mut order: Vec<usize> = (0..encodings.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(encodings[i].len()));
        let batches: Vec<(Vec<usize>, MicroBatch)> = order
            .chunks(execution.micro_batch)
            .map(|chunk| {
                let members: Vec<tokenizers::Encoding> = chunk.iter().map(|&i| encodings[i].clone()).collect();
                (chunk.to_vec(), MicroBatch::from_encodings(&members))
            })
            .collect();
        let scored = futures::future::try_join_all(batches.into_iter().map(|(members, batch)| {
            let pool = Arc::clone(&pool);
            async move { pool.run(batch).await.map(|values| (members, values)) }
        }))
        .await?;

        let dims = spec.dims;
        let mut values = vec![0f32; rows * dims];
        for (members, scores) in scored {
            for (slot, row_scores) in members.iter().zip(scores.chunks_exact(dims)) {
                let row = present[*slot];
                values[row * dims..(row + 1) * dims].copy_from_slice(row_scores);
            }
        }
        if let Some(progress) = ScoreProgress::of(&args.config_options) {
            progress.add_scored(present.len() as u64);
        }
        let nulls = (present.len() < rows).then(|| NullBuffer::from(values_in.iter().map(Option::is_some).collect::<Vec<bool>>()));
        let list = FixedSizeListArray::try_new(
            Arc::new(Field::new_list_field(DataType::Float32, true)),
            dims as i32,
            Arc::new(Float32Array::from(values)),
            nulls,
        )?;
        Ok(ColumnarValue::Array(Arc::new(list)))
    }
}
