//! `pca_project(scores, model)`: the PCA components of a score vector.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Float64Array, ListArray};
use datafusion::arrow::buffer::{NullBuffer, OffsetBuffer};
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility};
use datafusion_macros::user_doc;

use crate::pca::decomposition::{ModelColumn, is_model_type};
use crate::vectors::{Vectors, check_vector_type};

#[user_doc(
    doc_section(label = "ODiS PCA Functions"),
    description = r#"Projects a score vector onto the components of a PCA model from pca_fit: `((scores - mean) / scale) · componentsᵀ`, a list of k Float64 values (component 0 first). Equals scikit-learn's `fit_transform` for the rows the model was fitted on.

Returns NULL when the vector is NULL or holds a NULL, NaN or infinite value, or when the model is NULL. The result is a List<Float64> (not a FixedSizeList): k belongs to the model value, which is only known when the query runs."#,
    syntax_example = "pca_project(scores, model)",
    sql_example = r#"```sql
> WITH m AS (SELECT pca_fit(make_array(a, b, c), 2) AS model FROM t)
  SELECT id, pca_project(make_array(a, b, c), m.model) AS pc FROM t, m;
```"#,
    argument(name = "scores", description = "A list of d numbers per row, as given to pca_fit."),
    argument(name = "model", description = "The struct returned by pca_fit."),
    related_udf(name = "pca_fit"),
    related_udf(name = "pca_loadings")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct PcaProjectFunc {
    signature: Signature,
}

impl Default for PcaProjectFunc {
    fn default() -> Self {
        Self::new()
    }
}

impl PcaProjectFunc {
    pub fn new() -> Self {
        Self {
            signature: Signature::any(2, Volatility::Immutable),
        }
    }
}

const NAME: &str = "pca_project";

/// Checks the `model` argument's type at planning time.
pub fn check_model_type(function: &str, data_type: &DataType) -> Result<()> {
    if is_model_type(data_type) {
        Ok(())
    } else {
        Err(DataFusionError::Plan(format!(
            "{function}: `model` must be the struct returned by pca_fit (fields n_rows, mean, scale, \
             components, explained_variance, explained_variance_ratio), got {data_type}"
        )))
    }
}

impl ScalarUDFImpl for PcaProjectFunc {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        check_vector_type(NAME, "scores", &arg_types[0])?;
        check_model_type(NAME, &arg_types[1])?;
        Ok(DataType::new_list(DataType::Float64, true))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let scores = args.args[0].to_array(rows)?;
        // A constant model (the usual case after a cross join is not, but a
        // literal or folded model is) is read once instead of per row.
        let (model_array, constant_model) = crate::literals::model_argument(&args.args[1])?;
        let vectors = Vectors::try_new(&scores)?;
        let models = ModelColumn::try_new(NAME, &model_array)?;
        let mut values: Vec<f64> = Vec::new();
        let mut lengths = Vec::with_capacity(rows);
        let mut valid = Vec::with_capacity(rows);
        let mut centred = Vec::new();
        // A constant model is checked once, not per row.
        let constant = if constant_model { Some(models.get(NAME, 0)?) } else { None };
        for row in 0..rows {
            let model = match constant {
                Some(model) => model,
                None => models.get(NAME, row)?,
            };
            let (Some(model), Some(Ok(x))) = (model, vectors.finite_row(row)) else {
                lengths.push(0);
                valid.push(false);
                continue;
            };
            let d = model.mean.len();
            if x.len() != d {
                return Err(DataFusionError::Execution(format!(
                    "{NAME}: `scores` has {} values but the model was fitted on {d}; pass the same \
                     dimensions, in the same order, as to pca_fit",
                    x.len()
                )));
            }
            centred.clear();
            centred.extend(x.iter().zip(model.mean).zip(model.scale).map(|((x, m), s)| (x - m) / s));
            for component in model.components.chunks_exact(d) {
                values.push(component.iter().zip(&centred).map(|(w, z)| w * z).sum());
            }
            lengths.push(model.k);
            valid.push(true);
        }
        let list = ListArray::try_new(
            Arc::new(Field::new_list_field(DataType::Float64, true)),
            OffsetBuffer::from_lengths(lengths),
            Arc::new(Float64Array::from(values)),
            Some(NullBuffer::from(valid)),
        )?;
        Ok(ColumnarValue::Array(Arc::new(list) as ArrayRef))
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

/// The function as DataFusion registers it.
pub fn pca_project_udf() -> Arc<ScalarUDF> {
    Arc::new(ScalarUDF::from(PcaProjectFunc::new()))
}
