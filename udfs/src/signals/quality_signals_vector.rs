//! `quality_signals_vector(text)`: the quality signals as a list, for pca_fit.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::datatypes::DataType;
use datafusion::error::Result;
use datafusion::logical_expr::{ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility};

use crate::signals::quality_signals::{columns_to_list, measure_columns};
use crate::text::columns::check_text;
use crate::signals::text_signals::{self, SignalScratch, COUNT, SIGNALS};

const NAME: &str = "quality_signals_vector";

pub static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    let names: Vec<&str> = SIGNALS.iter().map(|(n, _, _)| *n).collect();
    Documentation::builder(
        crate::select::top_k_per_dim::SELECTION_SECTION,
        format!(
            "The {COUNT} signals of quality_signals as a List<Float64>, in this order: {}. Feed it to pca_fit and \
             pca_project; name the dimensions for pca_loadings with the same list of names.",
            names.join(", ")
        ),
        "quality_signals_vector(text)",
    )
    .with_sql_example(
        "```sql\n> SELECT pca_fit(quality_signals_vector(text), 4) AS model FROM corpus;\n```",
    )
    .with_argument("text", "A string column.")
    .with_related_udf("quality_signals")
    .with_related_udf("pca_fit")
    .build()
});

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct QualitySignalsVectorFunc {
    signature: Signature,
}

impl Default for QualitySignalsVectorFunc {
    fn default() -> Self {
        Self {
            signature: Signature::any(1, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for QualitySignalsVectorFunc {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        check_text(NAME, arg_types)?;
        Ok(DataType::new_list(DataType::Float64, true))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let mut scratch = SignalScratch::default();
        let (columns, nulls) = measure_columns(&args, |text| text_signals::signals_with(text, &mut scratch))?;
        columns_to_list(&columns, nulls, args.number_rows)
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOCUMENTATION)
    }
}

pub fn quality_signals_vector_udf() -> Arc<ScalarUDF> {
    Arc::new(ScalarUDF::new_from_impl(QualitySignalsVectorFunc::default()))
}
