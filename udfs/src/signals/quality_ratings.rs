//! `quality_ratings(text)`: bounded, higher-is-better quality ratings
//! (ODiS step 1, the default raw dimensions of `odis select`).

use std::sync::{Arc, LazyLock};

use datafusion::arrow::datatypes::DataType;
use datafusion::error::Result;
use datafusion::logical_expr::{ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility};

use crate::signals::quality_signals::{columns_to_struct, measure_columns, struct_fields};
use crate::text::columns::check_text;
use crate::text::prose::ProseScratch;
use crate::signals::text_ratings::{self, COUNT, RATINGS};

const NAME: &str = "quality_ratings";

/// Why the ratings are standardised before the PCA; shown in both
/// functions' docs.
pub const SCALING_NOTE: &str = "odis select scales each rating by rank (quantile_fit / quantile_transform) before \
    standardising it for the PCA (--scaling rank, the default). Measured on the junk-injected benchmark \
    (benches/quality.py, 10% of 49,325 documents): rank scaling brought the mean overlap between the components' top \
    lists from 13.8% to 4.6% at the same junk share (1.9%, all of it shuffled-word text), because a rating on which \
    most documents score near the top has a long low tail whose z-scores decide the top of any component that loads \
    on it negatively. Standard scaling (--scaling standard) gave a higher Vendi score (165.8 against 152.4) at that \
    overlap.";

pub static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        crate::select::top_k_per_dim::SELECTION_SECTION,
        format!(
            "Rates a text on {COUNT} quality dimensions in the ODiS paper's three families (language quality, knowledge, \
             comprehension difficulty), each a Float64 in [0, 1] where higher is better, as the paper's LLM ratings \
             are: each maps a surface statistic through a saturating transform, so that degenerate extremes (a \
             600-letter word, a text of digits) never outrate good prose. NULL text gives NULL; a text without words \
             rates 0. Apply quality_filter first: ratings rank documents, the filter removes the ones no rating \
             should rank. quality_ratings_vector returns the same values as a list, for pca_fit; quality_signals has \
             the raw statistics.\n\n{}\n\n{SCALING_NOTE}",
            text_ratings::definitions()
        ),
        "quality_ratings(text)",
    )
    .with_sql_example(
        "```sql\n> SELECT r['sentence_form'], r['reading_level'] FROM (SELECT quality_ratings(text) AS r FROM corpus);\n```",
    )
    .with_argument("text", "A string column.")
    .with_related_udf("quality_ratings_vector")
    .with_related_udf("quality_filter")
    .build()
});

pub fn names() -> Vec<&'static str> {
    RATINGS.iter().map(|(name, _, _)| *name).collect()
}

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct QualityRatingsFunc {
    signature: Signature,
}

impl Default for QualityRatingsFunc {
    fn default() -> Self {
        Self { signature: Signature::any(1, Volatility::Immutable) }
    }
}

impl ScalarUDFImpl for QualityRatingsFunc {
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
        let mut scratch = ProseScratch::default();
        let (columns, nulls) = measure_columns(&args, |text| text_ratings::ratings_with(text, &mut scratch))?;
        columns_to_struct(&names(), columns, nulls)
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOCUMENTATION)
    }
}

pub fn quality_ratings_udf() -> Arc<ScalarUDF> {
    Arc::new(ScalarUDF::new_from_impl(QualityRatingsFunc::default()))
}
