//! `quality_signals(text)`: raw quality dimensions without an LLM (ODiS step 1).

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array, StructArray};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Fields};
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility};

use crate::text_signals::{self, COUNT, SIGNALS};

const NAME: &str = "quality_signals";

pub static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        crate::top_k_per_dim::SELECTION_SECTION,
        format!(
            "Rates a text on {COUNT} cheap, deterministic signals in the ODiS paper's three families (language quality, \
             knowledge, comprehension difficulty) and returns them as a struct of Float64 fields; NULL text gives NULL; \
             without words, the signals over words are 0 (never NaN). Words and sentences are Unicode (UAX #29) words and \
             sentences. quality_signals_vector returns the same values as a list, for pca_fit.\n\n{}",
            text_signals::definitions()
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

/// Checks that the argument is text; shared with quality_signals_vector.
pub fn check_text(name: &str, arg_types: &[DataType]) -> Result<()> {
    match arg_types {
        [DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null] => Ok(()),
        [other] => Err(DataFusionError::Plan(format!(
            "{name}: `text` must be a string column, got {other}; cast it, e.g. {name}(CAST(x AS VARCHAR))"
        ))),
        _ => Err(DataFusionError::Plan(format!("{name} takes one argument, the text: {name}(text)"))),
    }
}

/// The signals of every row, signal-major (`COUNT` columns of `rows`), and
/// which rows are NULL.
pub fn signal_columns(args: &ScalarFunctionArgs) -> Result<(Vec<Vec<f64>>, Option<NullBuffer>)> {
    let rows = args.number_rows;
    let texts = cast(&args.args[0].to_array(rows)?, &DataType::Utf8)?;
    let texts = texts.as_string::<i32>();
    let mut columns = vec![Vec::with_capacity(rows); COUNT];
    for row in 0..rows {
        let values = if texts.is_valid(row) { text_signals::signals(texts.value(row)) } else { [0.0; COUNT] };
        for (column, value) in columns.iter_mut().zip(values) {
            column.push(value);
        }
    }
    Ok((columns, texts.nulls().cloned()))
}

fn fields() -> Fields {
    SIGNALS.iter().map(|(name, _, _)| Field::new(*name, DataType::Float64, false)).collect()
}

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct QualitySignalsFunc {
    signature: Signature,
}

impl Default for QualitySignalsFunc {
    fn default() -> Self {
        Self {
            signature: Signature::any(1, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for QualitySignalsFunc {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        check_text(NAME, arg_types)?;
        Ok(DataType::Struct(fields()))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let (columns, nulls) = signal_columns(&args)?;
        let arrays: Vec<ArrayRef> = columns.into_iter().map(|c| Arc::new(Float64Array::from(c)) as ArrayRef).collect();
        Ok(ColumnarValue::Array(Arc::new(StructArray::try_new(fields(), arrays, nulls)?)))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOCUMENTATION)
    }
}

pub fn quality_signals_udf() -> Arc<ScalarUDF> {
    Arc::new(ScalarUDF::new_from_impl(QualitySignalsFunc::default()))
}
