//! `quality_ratings_vector(text)`: the quality ratings as a list, for pca_fit.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::datatypes::DataType;
use datafusion::error::Result;
use datafusion::logical_expr::{ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility};

use crate::signals::quality_ratings::{names, SCALING_NOTE};
use crate::signals::quality_signals::{columns_to_list, measure_columns};
use crate::text::columns::check_text;
use crate::text::prose::ProseScratch;
use crate::signals::text_ratings::{self, COUNT};

const NAME: &str = "quality_ratings_vector";

pub static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        crate::select::top_k_per_dim::SELECTION_SECTION,
        format!(
            "The {COUNT} ratings of quality_ratings (each in [0, 1], higher is better) as a List<Float64>, in this \
             order: {}. The default raw score vector of odis select and sql/select.sql; name the dimensions for \
             pca_loadings with the same list of names. {SCALING_NOTE}",
            names().join(", ")
        ),
        "quality_ratings_vector(text)",
    )
    .with_sql_example(
        "```sql\n> SELECT pca_fit(quality_ratings_vector(text), 4, true) AS model FROM corpus\n  WHERE quality_filter(text)['keep'];\n```",
    )
    .with_argument("text", "A string column.")
    .with_related_udf("quality_ratings")
    .with_related_udf("quality_filter")
    .with_related_udf("pca_fit")
    .build()
});

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct QualityRatingsVectorFunc {
    signature: Signature,
}

impl Default for QualityRatingsVectorFunc {
    fn default() -> Self {
        Self { signature: Signature::any(1, Volatility::Immutable) }
    }
}

impl ScalarUDFImpl for QualityRatingsVectorFunc {
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
        let mut scratch = ProseScratch::default();
        let (columns, nulls) = measure_columns(&args, |text| text_ratings::ratings_with(text, &mut scratch))?;
        columns_to_list(&columns, nulls, args.number_rows)
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOCUMENTATION)
    }
}

pub fn quality_ratings_vector_udf() -> Arc<ScalarUDF> {
    Arc::new(ScalarUDF::new_from_impl(QualityRatingsVectorFunc::default()))
}
