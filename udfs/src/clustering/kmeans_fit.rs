//! `kmeans_fit(embedding, k [, spec])`: k-means centroids of embeddings, as
//! an aggregate.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float32Array, ListArray, UInt64Array};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, UInt64Type};
use datafusion::common::ScalarValue;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{Accumulator, AggregateUDF, AggregateUDFImpl, Documentation, Signature, TypeSignature, Volatility};
use datafusion_macros::user_doc;

use crate::clustering::kmeans::{self, KMeansSpec, Metric, Sample};
use crate::clustering::model::{model_scalar, model_type};
use crate::literals::{self, literal_value};
use crate::vectors::{Vectors, check_vector_type, mixed_embedding_lengths};

#[user_doc(
    doc_section(label = "ODiS Clustering Functions"),
    description = r#"Fits k-means centroids to embedding vectors and returns the model as a struct: `metric`, `n_rows` (rows read), `sample_rows` (rows trained on), `iterations`, `inertia` (over the sample) and `centroids` (k lists of d Float32 values). Give the model to `kmeans_assign` to put every row in a cluster.

It trains on a sample that does not depend on partitioning: the rows whose seeded hash of the vector is smallest, up to `sample × k` (faiss's default of 256 rows per centroid; the sample's memory grows with the rows kept, and a partial state holds just those), so it merges across partitions and runs on a cluster's executors, and the same rows give the same model at any partitioning. Then `n_init` runs of seeded k-means++ and Lloyd iterations until the centroids move less than `tol` times the mean variance per dimension (scikit-learn's rule) or `max_iter`; the run of least inertia wins. An empty cluster takes the row farthest from its centroid.

`metric=cosine` (the default, for text embeddings) is spherical k-means: rows normalised to unit length, each assigned to the centroid of highest cosine similarity, centroids the normalised means; inertia sums 1 − cosine. `metric=l2` is Lloyd's k-means as scikit-learn's `KMeans` (inertia: squared Euclidean distances). Vectors are read as Float32. NULL vectors and vectors holding NULL, NaN or infinite values are skipped; an all-zero vector under the cosine metric is an error."#,
    syntax_example = "kmeans_fit(embedding, k [, spec])",
    sql_example = r#"```sql
> CREATE TABLE model AS SELECT kmeans_fit(embedding, 64) AS m FROM docs;
> SELECT kmeans_assign(d.embedding, model.m)['cluster'] AS cluster, count(*) FROM docs d, model GROUP BY 1;
> SELECT kmeans_fit(embedding, 8, 'metric=l2,seed=7,n_init=10') FROM docs;
```"#,
    argument(name = "embedding", description = "A list of d numbers per row (List or FixedSizeList, e.g. odis_score's embeddings); every non-NULL vector must have the same length."),
    argument(name = "k", description = "Integer literal: the number of centroids, at least 1 and at most the rows with an embedding."),
    argument(
        name = "spec",
        description = "Optional string literal of KEY=VALUE settings: metric (cosine or l2; cosine), seed (1), sample (rows per centroid, 256), max_iter (100), tol (1e-4), n_init (1, as scikit-learn's and faiss's defaults with k-means++; 10 for scikit-learn's older default)."
    ),
    related_udf(name = "kmeans_assign")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct KMeansFitFunc {
    signature: Signature,
}

impl Default for KMeansFitFunc {
    fn default() -> Self {
        Self { signature: Signature::one_of(vec![TypeSignature::Any(2), TypeSignature::Any(3)], Volatility::Immutable) }
    }
}

pub const NAME: &str = "kmeans_fit";

impl AggregateUDFImpl for KMeansFitFunc {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        check_vector_type(NAME, "embedding", &arg_types[0])?;
        if !arg_types[1].is_integer() {
            return Err(DataFusionError::Plan(format!(
                "{NAME}: `k` must be an integer literal such as 64, got a value of type {}",
                arg_types[1]
            )));
        }
        Ok(model_type())
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let k = literals::integer(NAME, "k", "kmeans_fit(embedding, 64)", &args.exprs[1])?;
        if !(1..=1 << 20).contains(&k) {
            return Err(DataFusionError::Plan(format!(
                "{NAME}: `k` must be from 1 to 1048576, got {k}; it is the number of clusters"
            )));
        }
        let spec = match args.exprs.get(2) {
            Some(expr) => {
                let example = format!("{NAME}(embedding, 8, 'metric=cosine,seed=1')");
                crate::spec::argument(NAME, literal_value(expr), &example, KMeansSpec::parse)?
            }
            None => KMeansSpec::default(),
        };
        let k = k as usize;
        Ok(Box::new(KMeansFitAccumulator { k, spec, sample: Sample::new(k.saturating_mul(spec.sample), spec.seed) }))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![
            Arc::new(Field::new(format!("{}[rows_seen]", args.name), DataType::UInt64, true)),
            Arc::new(Field::new(format!("{}[dims]", args.name), DataType::UInt64, true)),
            Arc::new(Field::new(format!("{}[hashes]", args.name), DataType::new_list(DataType::UInt64, true), true)),
            Arc::new(Field::new(format!("{}[values]", args.name), DataType::new_list(DataType::Float32, true), true)),
        ])
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

#[derive(Debug)]
struct KMeansFitAccumulator {
    k: usize,
    spec: KMeansSpec,
    sample: Sample,
}

impl KMeansFitAccumulator {
    fn check_dims(&mut self, d: usize) -> Result<()> {
        match self.sample.dims {
            Some(expected) if expected != d => Err(mixed_embedding_lengths(NAME, expected, d)),
            _ => {
                self.sample.dims = Some(d);
                Ok(())
            }
        }
    }
}

impl Accumulator for KMeansFitAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let vectors = Vectors::try_new(&values[0])?;
        let mut row32 = Vec::new();
        for i in 0..vectors.len() {
            let Some(Ok(row)) = vectors.finite_row(i) else { continue };
            self.check_dims(row.len())?;
            row32.clear();
            row32.extend(row.iter().map(|&v| v as f32));
            if self.spec.metric == Metric::Cosine && row32.iter().all(|&v| v == 0.0) {
                return Err(DataFusionError::Execution(format!(
                    "{NAME}: an embedding is all zeros and has no direction for the cosine metric; filter such rows \
                     out (e.g. WHERE array_max(array_abs(embedding)) > 0) or use 'metric=l2'"
                )));
            }
            self.sample.rows_seen += 1;
            let hash = self.sample.hash(&row32);
            self.sample.offer(hash, &row32);
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        self.sample.trim();
        if self.sample.is_empty() {
            return Ok(ScalarValue::try_from(model_type())?);
        }
        // The sample becomes the training matrix (not copied), and the
        // accumulator is done with it.
        let empty = kmeans::Sample::new(self.sample.capacity, self.sample.seed);
        let sample = std::mem::replace(&mut self.sample, empty);
        let model = kmeans::fit(sample, self.k, &self.spec).map_err(|e| DataFusionError::Execution(format!("{NAME}: {e}")))?;
        model_scalar(&model)
    }

    fn size(&self) -> usize {
        size_of_val(self) + self.sample.memory()
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        self.sample.trim();
        // A partial state is as large as the rows it holds, not the room
        // the sample grew into.
        self.sample.hashes.shrink_to_fit();
        self.sample.values.shrink_to_fit();
        let hashes = ListArray::new(
            Arc::new(Field::new_list_field(DataType::UInt64, true)),
            OffsetBuffer::from_lengths([self.sample.hashes.len()]),
            Arc::new(UInt64Array::from(std::mem::take(&mut self.sample.hashes))),
            None,
        );
        let values = ListArray::new(
            Arc::new(Field::new_list_field(DataType::Float32, true)),
            OffsetBuffer::from_lengths([self.sample.values.len()]),
            Arc::new(Float32Array::from(std::mem::take(&mut self.sample.values))),
            None,
        );
        Ok(vec![
            ScalarValue::UInt64(Some(self.sample.rows_seen)),
            ScalarValue::UInt64(self.sample.dims.map(|d| d as u64)),
            ScalarValue::List(Arc::new(hashes)),
            ScalarValue::List(Arc::new(values)),
        ])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let rows_seen = states[0].as_primitive::<UInt64Type>();
        let dims = states[1].as_primitive::<UInt64Type>();
        let hashes = states[2].as_list::<i32>();
        let values = states[3].as_list::<i32>();
        for i in 0..rows_seen.len() {
            if rows_seen.is_null(i) || dims.is_null(i) {
                continue;
            }
            self.sample.rows_seen += rows_seen.value(i);
            let d = dims.value(i) as usize;
            self.check_dims(d)?;
            let h = hashes.value(i);
            let h = h.as_primitive::<UInt64Type>();
            let v = values.value(i);
            let v = v.as_primitive::<datafusion::arrow::datatypes::Float32Type>();
            if v.len() != h.len() * d {
                return Err(DataFusionError::Internal(format!("{NAME}: a partial state holds {} values for {} rows", v.len(), h.len())));
            }
            for (j, &hash) in h.values().iter().enumerate() {
                self.sample.offer(hash, &v.values()[j * d..(j + 1) * d]);
            }
        }
        Ok(())
    }
}

/// The function as DataFusion registers it.
pub fn kmeans_fit_udaf() -> Arc<AggregateUDF> {
    Arc::new(AggregateUDF::from(KMeansFitFunc::default()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::datatypes::Float64Type;

    fn accumulator() -> KMeansFitAccumulator {
        let spec = KMeansSpec { metric: Metric::L2, sample: 4, ..KMeansSpec::default() };
        KMeansFitAccumulator { k: 2, spec, sample: Sample::new(8, spec.seed) }
    }

    fn rows(seed: usize) -> ArrayRef {
        let list = ListArray::from_iter_primitive::<Float64Type, _, _>(
            (0..40).map(|i| Some(vec![Some(((i * 7 + seed) % 11) as f64), Some(((i + seed) % 2) as f64 * 10.0)])),
        );
        Arc::new(list)
    }

    /// Partial samples merged in any order, or the rows read by one
    /// accumulator, give the same model.
    #[test]
    fn the_model_does_not_depend_on_partitioning() {
        let parts: Vec<Vec<ArrayRef>> = (0..3)
            .map(|p| {
                let mut acc = accumulator();
                acc.update_batch(&[rows(p)]).unwrap();
                acc.state().unwrap().iter().map(|s| s.to_array().unwrap()).collect()
            })
            .collect();
        let merged = |order: [usize; 3]| {
            let mut acc = accumulator();
            for i in order {
                acc.merge_batch(&parts[i]).unwrap();
            }
            format!("{:?}", acc.evaluate().unwrap())
        };
        let first = merged([0, 1, 2]);
        assert_eq!(merged([2, 0, 1]), first);
        let mut one = accumulator();
        for p in 0..3 {
            one.update_batch(&[rows(p)]).unwrap();
        }
        assert_eq!(format!("{:?}", one.evaluate().unwrap()), first);
    }

    /// The memory charged grows with the rows read: ten 384-wide rows at
    /// k = 1024 (a sample of up to 262,144 rows, 400 MB) are ten rows.
    #[test]
    fn a_few_rows_take_the_memory_of_a_few_rows() {
        let spec = KMeansSpec::default();
        let mut acc = KMeansFitAccumulator { k: 1024, spec, sample: Sample::new(1024 * spec.sample, spec.seed) };
        let empty = acc.size();
        let list = ListArray::from_iter_primitive::<Float64Type, _, _>((0..10).map(|i| Some((0..384).map(|j| Some((i * 384 + j) as f64)).collect::<Vec<_>>())));
        acc.update_batch(&[Arc::new(list)]).unwrap();
        assert!(acc.size() - empty <= 1 << 20, "{} bytes for 10 rows", acc.size() - empty);
        assert!(acc.size() - empty >= 10 * 384 * 4);
        // The partial state holds the ten rows.
        let state = acc.state().unwrap();
        assert_eq!(state[3].to_array().unwrap().as_list::<i32>().value(0).len(), 10 * 384);
    }
}
