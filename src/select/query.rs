//! Small readers of query results (counts, columns as numbers or text).

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};

use crate::engine::Engine;
use crate::error::Result;

pub(crate) fn text_at(column: &dyn Array, row: usize) -> String {
    let options = FormatOptions::default();
    ArrayFormatter::try_new(column, &options).map(|f| f.value(row).to_string()).unwrap_or_default()
}

pub(crate) fn f64s(column: &dyn Array) -> Result<Vec<Option<f64>>> {
    let values = cast(column, &DataType::Float64).map_err(datafusion::error::DataFusionError::from)?;
    let values = values.as_primitive::<Float64Type>();
    Ok((0..values.len()).map(|i| values.is_valid(i).then(|| values.value(i))).collect())
}

pub(crate) fn i64s(column: &dyn Array) -> Result<Vec<i64>> {
    Ok(f64s(column)?.into_iter().map(|v| v.unwrap_or(0.0) as i64).collect())
}

/// Integers (counts of tokens pass 2^53), NULL kept.
pub(crate) fn i64s_or_null(column: &dyn Array) -> Result<Vec<Option<i64>>> {
    let values = cast(column, &DataType::Int64).map_err(datafusion::error::DataFusionError::from)?;
    let values = values.as_primitive::<datafusion::arrow::datatypes::Int64Type>();
    Ok((0..values.len()).map(|i| values.is_valid(i).then(|| values.value(i))).collect())
}

pub(crate) async fn rows(engine: &Engine, sql: &str) -> Result<Vec<RecordBatch>> {
    engine.sql(sql).await
}

/// The first value of the first row of `batches`, as a count (0 for none).
pub(crate) fn first_count(batches: &[RecordBatch]) -> Result<u64> {
    Ok(batches.first().map(|b| i64s(b.column(0))).transpose()?.and_then(|v| v.first().copied()).unwrap_or(0) as u64)
}

/// The count a `SELECT count(*) ...` returns.
pub(crate) async fn count(engine: &Engine, sql: &str) -> Result<u64> {
    first_count(&rows(engine, sql).await?)
}
