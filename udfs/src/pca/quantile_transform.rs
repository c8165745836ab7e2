//! `quantile_transform(scores, model)`: each dimension of a score vector
//! onto its empirical CDF in [0, 1], with a model from quantile_fit.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array, ListArray};
use datafusion::arrow::buffer::{NullBuffer, OffsetBuffer};
use datafusion::arrow::datatypes::{DataType, Field, UInt32Type};
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility};
use datafusion_macros::user_doc;

use crate::pca::quantile_fit::model_fields;
use crate::pca::quantiles::transform;
use crate::vectors::{Vectors, check_vector_type};

const NAME: &str = "quantile_transform";

#[user_doc(
    doc_section(label = "ODiS PCA Functions"),
    description = r#"Maps each dimension of a score vector onto its empirical CDF in [0, 1] with a model from quantile_fit: a value's position among the model's quantiles, linear between two of them, the middle of their range when several equal it (average rank for ties), 0 below the smallest and 1 above the largest. Returns a List<Float64> of the same length. NULL vectors, and vectors with a NULL, NaN or infinite value, give NULL."#,
    syntax_example = "quantile_transform(scores, model)",
    sql_example = r#"```sql
> WITH s AS (SELECT quantile_fit(v) AS model FROM t)
  SELECT pca_fit(quantile_transform(t.v, s.model), 4) FROM t CROSS JOIN s;
```"#,
    argument(name = "scores", description = "A list of numbers per row, of the length the model was fitted on."),
    argument(name = "model", description = "The struct returned by quantile_fit."),
    related_udf(name = "quantile_fit"),
    related_udf(name = "pca_fit")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct QuantileTransformFunc {
    signature: Signature,
}

impl Default for QuantileTransformFunc {
    fn default() -> Self {
        Self { signature: Signature::any(2, Volatility::Immutable) }
    }
}

fn check_model_type(data_type: &DataType) -> Result<()> {
    let ok = matches!(data_type, DataType::Struct(fields)
        if fields.len() == 3 && fields.iter().zip(model_fields().iter()).all(|(f, e)| f.name() == e.name()));
    if ok {
        Ok(())
    } else {
        Err(DataFusionError::Plan(format!(
            "{NAME}: `model` must be the struct returned by quantile_fit, got {data_type}; e.g. \
             {NAME}(t.v, s.model) FROM t CROSS JOIN (SELECT quantile_fit(v) AS model FROM t) s"
        )))
    }
}

impl ScalarUDFImpl for QuantileTransformFunc {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        check_vector_type(NAME, "scores", &arg_types[0])?;
        check_model_type(&arg_types[1])?;
        Ok(DataType::new_list(DataType::Float64, true))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let scores = Vectors::try_new(&args.args[0].to_array(rows)?)?;
        let (models, constant_model) = crate::literals::model_argument(&args.args[1])?;
        let models = models.as_struct();
        let dims = models.column(1).as_primitive::<UInt32Type>();
        let knots = Vectors::try_new(models.column(2))?;
        let mut values = Vec::new();
        let mut lengths = Vec::with_capacity(rows);
        let mut valid = Vec::with_capacity(rows);
        for row in 0..rows {
            let at = if constant_model { 0 } else { row };
            let model = (models.is_valid(at)).then(|| knots.row(at)).flatten();
            let (Some(Ok(x)), Some(model)) = (scores.finite_row(row), model) else {
                lengths.push(0);
                valid.push(false);
                continue;
            };
            let d = dims.value(at) as usize;
            if d == 0 || model.len() % d != 0 {
                return Err(DataFusionError::Execution(format!("{NAME}: a malformed model: {} knots for {d} dimensions", model.len())));
            }
            if x.len() != d {
                return Err(DataFusionError::Execution(format!(
                    "{NAME}: a `scores` vector has {} values but the model was fitted on {d}; use the model fitted on \
                     these scores",
                    x.len()
                )));
            }
            let per_dim = model.len() / d;
            values.extend(x.iter().enumerate().map(|(j, v)| transform(&model[j * per_dim..(j + 1) * per_dim], *v)));
            lengths.push(d);
            valid.push(true);
        }
        let list = ListArray::try_new(
            Arc::new(Field::new_list_field(DataType::Float64, true)),
            OffsetBuffer::from_lengths(lengths),
            Arc::new(Float64Array::from(values)) as ArrayRef,
            Some(NullBuffer::from(valid)),
        )?;
        Ok(ColumnarValue::Array(Arc::new(list)))
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

pub fn quantile_transform_udf() -> Arc<ScalarUDF> {
    Arc::new(ScalarUDF::new_from_impl(QuantileTransformFunc::default()))
}
