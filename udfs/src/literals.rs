//! Reading the constant arguments of functions (such as `k` in
//! `pca_fit(scores, k)`), which must be literals.

use std::sync::Arc;

use datafusion::arrow::array::ArrayRef;
use datafusion::common::ScalarValue;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::ColumnarValue;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::Literal;

/// The value of `expr` when it is a literal.
pub fn literal_value<'a>(expr: &'a Arc<dyn PhysicalExpr>) -> Option<&'a ScalarValue> {
    expr.downcast_ref::<Literal>().map(Literal::value)
}

fn not_a_literal(function: &str, argument: &str, kind: &str, example: &str) -> DataFusionError {
    DataFusionError::Plan(format!(
        "{function}: `{argument}` must be {kind} literal, e.g. {example}; it cannot be a column or expression"
    ))
}

/// An integer literal argument.
pub fn integer(function: &str, argument: &str, example: &str, expr: &Arc<dyn PhysicalExpr>) -> Result<i64> {
    let value = literal_value(expr).ok_or_else(|| not_a_literal(function, argument, "an integer", example))?;
    scalar_integer(value).ok_or_else(|| {
        DataFusionError::Plan(format!(
            "{function}: `{argument}` must be an integer, got {value} ({}); e.g. {example}",
            value.data_type()
        ))
    })
}

/// The integer in `value`, if it holds one (NULL and non-integers give None).
pub fn scalar_integer(value: &ScalarValue) -> Option<i64> {
    match value {
        ScalarValue::Int8(Some(v)) => Some(*v as i64),
        ScalarValue::Int16(Some(v)) => Some(*v as i64),
        ScalarValue::Int32(Some(v)) => Some(*v as i64),
        ScalarValue::Int64(Some(v)) => Some(*v),
        ScalarValue::UInt8(Some(v)) => Some(*v as i64),
        ScalarValue::UInt16(Some(v)) => Some(*v as i64),
        ScalarValue::UInt32(Some(v)) => Some(*v as i64),
        ScalarValue::UInt64(Some(v)) => i64::try_from(*v).ok(),
        _ => None,
    }
}

/// A boolean literal argument.
pub fn boolean(function: &str, argument: &str, example: &str, expr: &Arc<dyn PhysicalExpr>) -> Result<bool> {
    match literal_value(expr) {
        Some(ScalarValue::Boolean(Some(b))) => Ok(*b),
        Some(other) => Err(DataFusionError::Plan(format!(
            "{function}: `{argument}` must be true or false, got {other}; e.g. {example}"
        ))),
        None => Err(not_a_literal(function, argument, "a boolean", example)),
    }
}

/// A model argument (pca_project's, quantile_transform's) as an array, and
/// whether it is constant: a literal or a scalar subquery comes as one
/// value, read once rather than repeated per row.
pub fn model_argument(value: &ColumnarValue) -> Result<(ArrayRef, bool)> {
    Ok(match value {
        ColumnarValue::Scalar(model) => (model.to_array_of_size(1)?, true),
        ColumnarValue::Array(model) => (Arc::clone(model), false),
    })
}
