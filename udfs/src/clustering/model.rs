//! The k-means model as a SQL value: the struct `kmeans_fit` returns and
//! `kmeans_assign` reads.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float32Array, Float64Array, ListArray, StringArray, StructArray, UInt64Array};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::datatypes::{DataType, Field, Fields, Float32Type, Float64Type, UInt64Type};
use datafusion::common::ScalarValue;
use datafusion::error::{DataFusionError, Result};

use crate::clustering::kmeans::{KMeansModel, Metric};

fn centroid_type() -> DataType {
    DataType::new_list(DataType::Float32, true)
}

pub fn model_fields() -> Fields {
    Fields::from(vec![
        Field::new("metric", DataType::Utf8, true),
        Field::new("n_rows", DataType::UInt64, true),
        Field::new("sample_rows", DataType::UInt64, true),
        Field::new("iterations", DataType::UInt64, true),
        Field::new("inertia", DataType::Float64, true),
        Field::new("centroids", DataType::new_list(centroid_type(), true), true),
    ])
}

pub fn model_type() -> DataType {
    DataType::Struct(model_fields())
}

/// Whether `data_type` is the model struct.
pub fn is_model_type(data_type: &DataType) -> bool {
    matches!(data_type, DataType::Struct(fields) if fields.iter().map(|f| f.name()).eq(model_fields().iter().map(|f| f.name())))
}

/// The model as one struct value.
pub fn model_scalar(model: &KMeansModel) -> Result<ScalarValue> {
    let d = model.dims;
    let centroids = ListArray::new(
        Arc::new(Field::new_list_field(DataType::Float32, true)),
        OffsetBuffer::from_lengths(std::iter::repeat_n(d, model.k)),
        Arc::new(Float32Array::from(model.centroids.clone())),
        None,
    );
    let outer = ListArray::new(
        Arc::new(Field::new_list_field(centroid_type(), true)),
        OffsetBuffer::from_lengths([model.k]),
        Arc::new(centroids),
        None,
    );
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(vec![model.metric.name()])),
        Arc::new(UInt64Array::from(vec![model.n_rows])),
        Arc::new(UInt64Array::from(vec![model.sample_rows])),
        Arc::new(UInt64Array::from(vec![model.iterations])),
        Arc::new(Float64Array::from(vec![model.inertia])),
        Arc::new(outer),
    ];
    Ok(ScalarValue::Struct(Arc::new(StructArray::try_new(model_fields(), columns, None)?)))
}

fn not_a_model(function: &str, why: &str) -> DataFusionError {
    DataFusionError::Execution(format!("{function}: `model` is not a k-means model from kmeans_fit ({why}); pass the struct kmeans_fit returns"))
}

/// Row `row` of a model column; None for a NULL model (no rows to fit).
pub fn read_model(function: &str, array: &ArrayRef, row: usize) -> Result<Option<KMeansModel>> {
    if !is_model_type(array.data_type()) {
        return Err(not_a_model(function, &format!("its type is {}", array.data_type())));
    }
    let models = array.as_struct();
    let centroids = models.column(5).as_list::<i32>();
    if models.is_null(row) || centroids.is_null(row) {
        return Ok(None);
    }
    let metric = models.column(0).as_string::<i32>();
    let metric = Metric::parse(metric.value(row)).ok_or_else(|| not_a_model(function, "unknown metric"))?;
    let lists = centroids.value(row);
    let lists = lists.as_list::<i32>();
    let k = lists.len();
    let d = if k == 0 { 0 } else { lists.value_length(0) as usize };
    let mut values = Vec::with_capacity(k * d);
    for i in 0..k {
        let c = lists.value(i);
        if lists.is_null(i) || c.len() != d || c.null_count() > 0 {
            return Err(not_a_model(function, "its centroids differ in length or hold NULLs"));
        }
        values.extend_from_slice(c.as_primitive::<Float32Type>().values());
    }
    let number = |i: usize| models.column(i).as_primitive::<UInt64Type>().value(row);
    Ok(Some(KMeansModel {
        metric,
        k,
        dims: d,
        centroids: values,
        n_rows: number(1),
        sample_rows: number(2),
        iterations: number(3),
        inertia: models.column(4).as_primitive::<Float64Type>().value(row),
    }))
}
