//! `quality_signals(text)`: raw quality dimensions without an LLM (ODiS step 1).

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{Array, ArrayRef, Float64Array, ListArray, StructArray};
use datafusion::arrow::buffer::{NullBuffer, OffsetBuffer};
use datafusion::arrow::datatypes::{DataType, Field, Fields};
use datafusion::error::Result;
use datafusion::logical_expr::{ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility};

use crate::signals::text_signals::{self, SignalScratch, COUNT, SIGNALS};
use crate::text::columns::{check_text, text_values};

const NAME: &str = "quality_signals";

pub static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        crate::select::top_k_per_dim::SELECTION_SECTION,
        format!(
            "Measures a text on {COUNT} cheap, deterministic statistics in the ODiS paper's three families (language quality, \
             knowledge, comprehension difficulty) and returns them as a struct of Float64 fields. They are raw statistics, \
             not ratings: their extremes are degenerate texts, so select with quality_ratings (after quality_filter) and \
             use these to inspect or to build ratings of your own. NULL text gives NULL; \
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

/// `measure` of every row's text, column-major (`N` columns of `rows`), and
/// which rows are NULL (their values are 0).
pub fn measure_columns<const N: usize>(
    args: &ScalarFunctionArgs,
    mut measure: impl FnMut(&str) -> [f64; N],
) -> Result<(Vec<Vec<f64>>, Option<NullBuffer>)> {
    let rows = args.number_rows;
    let texts = args.args[0].to_array(rows)?;
    let values = text_values(&texts)?;
    let mut columns = vec![Vec::with_capacity(rows); N];
    for text in &values {
        let row = text.map_or([0.0; N], &mut measure);
        for (column, value) in columns.iter_mut().zip(row) {
            column.push(value);
        }
    }
    Ok((columns, texts.logical_nulls()))
}

/// Column-major values as a List<Float64> per row; NULL rows are NULL.
pub fn columns_to_list(columns: &[Vec<f64>], nulls: Option<NullBuffer>, rows: usize) -> Result<ColumnarValue> {
    let valid = |row: usize| nulls.as_ref().is_none_or(|n| n.is_valid(row));
    let mut values = Vec::with_capacity(rows * columns.len());
    let mut lengths = Vec::with_capacity(rows);
    for row in 0..rows {
        if valid(row) {
            values.extend(columns.iter().map(|c| c[row]));
            lengths.push(columns.len());
        } else {
            lengths.push(0);
        }
    }
    let list = ListArray::try_new(
        Arc::new(Field::new_list_field(DataType::Float64, true)),
        OffsetBuffer::from_lengths(lengths),
        Arc::new(Float64Array::from(values)),
        nulls,
    )?;
    Ok(ColumnarValue::Array(Arc::new(list)))
}

/// Column-major values as a struct of Float64 fields named `names`.
pub fn columns_to_struct(names: &[&str], columns: Vec<Vec<f64>>, nulls: Option<NullBuffer>) -> Result<ColumnarValue> {
    let arrays: Vec<ArrayRef> = columns.into_iter().map(|c| Arc::new(Float64Array::from(c)) as ArrayRef).collect();
    Ok(ColumnarValue::Array(Arc::new(StructArray::try_new(struct_fields(names), arrays, nulls)?)))
}

/// Non-nullable Float64 fields named `names`.
pub fn struct_fields(names: &[&str]) -> Fields {
    names.iter().map(|name| Field::new(*name, DataType::Float64, false)).collect()
}

fn names() -> Vec<&'static str> {
    SIGNALS.iter().map(|(name, _, _)| *name).collect()
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
        Ok(DataType::Struct(struct_fields(&names())))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let mut scratch = SignalScratch::default();
        let (columns, nulls) = measure_columns(&args, |text| text_signals::signals_with(text, &mut scratch))?;
        columns_to_struct(&names(), columns, nulls)
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOCUMENTATION)
    }
}

pub fn quality_signals_udf() -> Arc<ScalarUDF> {
    Arc::new(ScalarUDF::new_from_impl(QualitySignalsFunc::default()))
}
