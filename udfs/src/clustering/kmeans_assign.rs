//! `kmeans_assign(embedding, model)`: the cluster of each embedding.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Float64Array, StructArray, UInt32Array};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::datatypes::{DataType, Field, Fields};
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility};
use datafusion_macros::user_doc;
use ndarray::{Array2, ArrayView2};

use crate::clustering::kmeans::{KMeansModel, Metric, assign};
use crate::clustering::model::{is_model_type, read_model};
use crate::vectors::{Vectors, check_vector_type};

#[user_doc(
    doc_section(label = "ODiS Clustering Functions"),
    description = r#"The cluster of an embedding under a k-means model from `kmeans_fit`: a struct of `cluster` (the centroid's index, 0 to k − 1) and `distance` to it (Euclidean under `metric=l2`, 1 − cosine similarity under `metric=cosine`). The nearest centroid is the one exact (f64) distances choose: single-precision matrix products screen the centroids, and every centroid within their rounding error of the best is measured again exactly, so rows far from the origin are not assigned by rounding. Ties go to the lower index.

NULL when the embedding is NULL, holds a NULL, NaN or infinite value, or (under the cosine metric) is all zeros, or when the model is NULL. Pass the model as a scalar subquery, `(SELECT model FROM m)`: it is read once per batch, not once per row."#,
    syntax_example = "kmeans_assign(embedding, model)",
    sql_example = r#"```sql
> CREATE TABLE m AS SELECT kmeans_fit(embedding, 64) AS model FROM docs;
> SELECT id, kmeans_assign(embedding, (SELECT model FROM m)) AS a FROM docs;
> SELECT sum(power(a['distance'], 2)) AS inertia FROM (SELECT kmeans_assign(embedding, (SELECT model FROM m)) AS a FROM docs);
```"#,
    argument(name = "embedding", description = "A list of d numbers per row, as given to kmeans_fit."),
    argument(name = "model", description = "The struct returned by kmeans_fit."),
    related_udf(name = "kmeans_fit")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct KMeansAssignFunc {
    signature: Signature,
}

impl Default for KMeansAssignFunc {
    fn default() -> Self {
        Self { signature: Signature::any(2, Volatility::Immutable) }
    }
}

const NAME: &str = "kmeans_assign";

fn output_fields() -> Fields {
    Fields::from(vec![Field::new("cluster", DataType::UInt32, true), Field::new("distance", DataType::Float64, true)])
}

impl ScalarUDFImpl for KMeansAssignFunc {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        check_vector_type(NAME, "embedding", &arg_types[0])?;
        if !is_model_type(&arg_types[1]) {
            return Err(DataFusionError::Plan(format!(
                "{NAME}: `model` must be the struct returned by kmeans_fit, got {}",
                arg_types[1]
            )));
        }
        Ok(DataType::Struct(output_fields()))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let vectors = Vectors::try_new(&args.args[0].to_array(rows)?)?;
        let (models, constant) = crate::literals::model_argument(&args.args[1])?;
        let mut clusters: Vec<u32> = vec![0; rows];
        let mut distances: Vec<f64> = vec![0.0; rows];
        let mut valid = vec![false; rows];
        // Runs of rows under one model (the whole batch for a constant one),
        // each assigned by one blocked matrix product.
        let mut start = 0;
        let mut assigned = Vec::new();
        while start < rows {
            let model = read_model(NAME, &models, if constant { 0 } else { start })?;
            let mut end = if constant { rows } else { start + 1 };
            while end < rows && read_model(NAME, &models, end)? == model {
                end += 1;
            }
            if let Some(model) = &model {
                let (members, x) = matrix(&vectors, start..end, model)?;
                let centroids = ArrayView2::from_shape((model.k, model.dims), &model.centroids)
                    .map_err(|e| DataFusionError::Internal(format!("{NAME}: {e}")))?;
                assign(x.view(), centroids, model.metric, &mut assigned);
                for (&row, &(cluster, distance)) in members.iter().zip(&assigned) {
                    clusters[row] = cluster;
                    distances[row] = distance;
                    valid[row] = true;
                }
            }
            start = end;
        }
        let nulls = NullBuffer::from(valid);
        let columns: Vec<ArrayRef> = vec![
            Arc::new(UInt32Array::new(clusters.into(), Some(nulls.clone()))),
            Arc::new(Float64Array::new(distances.into(), Some(nulls.clone()))),
        ];
        Ok(ColumnarValue::Array(Arc::new(StructArray::try_new(output_fields(), columns, Some(nulls))?)))
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

/// The rows of `range` that have a usable vector, and those vectors as a
/// matrix (unit rows under the cosine metric).
fn matrix(vectors: &Vectors, range: std::ops::Range<usize>, model: &KMeansModel) -> Result<(Vec<usize>, Array2<f32>)> {
    let mut members = Vec::new();
    let mut values: Vec<f32> = Vec::new();
    for row in range {
        let Some(Ok(x)) = vectors.finite_row(row) else { continue };
        if x.len() != model.dims {
            return Err(DataFusionError::Execution(format!(
                "{NAME}: `embedding` has {} values but the model's centroids have {}; pass the embeddings the model was fitted on",
                x.len(),
                model.dims
            )));
        }
        let scale = match model.metric {
            Metric::L2 => 1.0,
            Metric::Cosine => {
                let norm = x.iter().map(|v| v * v).sum::<f64>().sqrt();
                if norm == 0.0 {
                    continue;
                }
                1.0 / norm
            }
        };
        values.extend(x.iter().map(|v| (v * scale) as f32));
        members.push(row);
    }
    let x = Array2::from_shape_vec((members.len(), model.dims), values).map_err(|e| DataFusionError::Internal(format!("{NAME}: {e}")))?;
    Ok((members, x))
}

/// The function as DataFusion registers it.
pub fn kmeans_assign_udf() -> Arc<ScalarUDF> {
    Arc::new(ScalarUDF::from(KMeansAssignFunc::default()))
}
