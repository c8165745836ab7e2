//! `quantile_fit(scores [, knots])`: fits a rank-based scaling of score
//! vectors (each dimension onto its empirical CDF), for quantile_transform.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array, ListArray, StructArray, UInt32Array, UInt64Array};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields, UInt64Type};
use datafusion::common::ScalarValue;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{Accumulator, AggregateUDF, AggregateUDFImpl, Documentation, Signature, TypeSignature, Volatility};
use datafusion_macros::user_doc;

use crate::literals;
use crate::pca::quantiles::{Histograms, check_knots};
use crate::vectors::{Vectors, check_vector_type};

const NAME: &str = "quantile_fit";

#[user_doc(
    doc_section(label = "ODiS PCA Functions"),
    description = r#"Fits a rank-based scaling of score vectors: for each dimension, `knots` quantiles of its values (default 101, the percentiles), returned as a model struct for quantile_transform, which maps each value onto its empirical CDF in [0, 1] (ties get their average rank). Scaling by rank before pca_fit keeps a lopsided or heavy-tailed dimension (most documents at the top of a rating, a few far below) from deciding what the top documents of a component are; odis select does this by default.

The quantiles come from an exact-count histogram over an order-preserving key of each value (4,096 bins per power of two), merged across partitions by adding counts: one pass, memory bounded by the number of distinct bins, and a result that does not depend on partitioning or row order. Rows whose vector is NULL or holds a NULL, NaN or infinite value are skipped."#,
    syntax_example = "quantile_fit(scores [, knots])",
    sql_example = r#"```sql
> CREATE TABLE scaling AS SELECT quantile_fit(quality_ratings_vector(text)) AS model FROM docs;
> SELECT quantile_transform(quality_ratings_vector(d.text), s.model) FROM docs d CROSS JOIN scaling s;
```"#,
    argument(name = "scores", description = "A list of numbers per row; every non-NULL vector must have the same length d."),
    argument(name = "knots", description = "Integer literal, 3 to 10001 (default 101): quantiles kept per dimension."),
    related_udf(name = "quantile_transform"),
    related_udf(name = "pca_fit")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct QuantileFitFunc {
    signature: Signature,
}

impl Default for QuantileFitFunc {
    fn default() -> Self {
        Self { signature: Signature::one_of(vec![TypeSignature::Any(1), TypeSignature::Any(2)], Volatility::Immutable) }
    }
}

/// The model struct: rows used, dimensions, and `dims` × knots quantiles.
pub fn model_fields() -> Fields {
    Fields::from(vec![
        Field::new("n_rows", DataType::UInt64, false),
        Field::new("dims", DataType::UInt32, false),
        Field::new("knots", DataType::new_list(DataType::Float64, true), false),
    ])
}

fn mixed_lengths(first: usize, other: usize) -> DataFusionError {
    DataFusionError::Execution(format!(
        "{NAME}: every `scores` vector must have the same length, but found vectors of length {first} and {other}; \
         fix or filter the rows whose vectors have the wrong length"
    ))
}

impl AggregateUDFImpl for QuantileFitFunc {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        check_vector_type(NAME, "scores", &arg_types[0])?;
        Ok(DataType::Struct(model_fields()))
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let knots = match args.exprs.get(1) {
            Some(expr) => check_knots(NAME, literals::integer(NAME, "knots", "quantile_fit(scores, 101)", expr)?)?,
            None => 101,
        };
        Ok(Box::new(QuantileFitAccumulator { knots, histograms: Histograms::default() }))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let u64s = DataType::new_list(DataType::UInt64, true);
        Ok(vec![
            Arc::new(Field::new(format!("{}[n]", args.name), DataType::UInt64, true)),
            // Per dimension, its number of bins; then every bin's key, count and smallest value.
            Arc::new(Field::new(format!("{}[bins_per_dim]", args.name), u64s.clone(), true)),
            Arc::new(Field::new(format!("{}[keys]", args.name), u64s.clone(), true)),
            Arc::new(Field::new(format!("{}[counts]", args.name), u64s, true)),
            Arc::new(Field::new(format!("{}[mins]", args.name), DataType::new_list(DataType::Float64, true), true)),
        ])
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

#[derive(Debug)]
struct QuantileFitAccumulator {
    knots: usize,
    histograms: Histograms,
}

fn u64_list(values: Vec<u64>) -> ScalarValue {
    ScalarValue::List(Arc::new(ListArray::new(
        Arc::new(Field::new_list_field(DataType::UInt64, true)),
        OffsetBuffer::from_lengths([values.len()]),
        Arc::new(UInt64Array::from(values)),
        None,
    )))
}

impl Accumulator for QuantileFitAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let vectors = Vectors::try_new(&values[0])?;
        for i in 0..vectors.len() {
            let Some(row) = vectors.finite_row(i) else { continue };
            // A vector with a non-finite value is skipped, but its length still counts.
            let len = match row {
                Ok(r) => r.len(),
                Err(len) => len,
            };
            if let Some(d) = self.histograms.dims().filter(|d| *d != len) {
                return Err(mixed_lengths(d, len));
            }
            if let Ok(row) = row {
                self.histograms.add_row(row);
            }
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        if self.histograms.n == 0 {
            return Err(DataFusionError::Execution(format!(
                "{NAME}: no row has a complete, finite `scores` vector; rows whose vector is NULL or holds NULL, NaN \
                 or infinite values are skipped"
            )));
        }
        let knots = self.histograms.knots(self.knots);
        let dims = knots.len();
        let flat: Vec<f64> = knots.into_iter().flatten().collect();
        let list = ListArray::new(
            Arc::new(Field::new_list_field(DataType::Float64, true)),
            OffsetBuffer::from_lengths([flat.len()]),
            Arc::new(Float64Array::from(flat)),
            None,
        );
        let model = StructArray::try_new(
            model_fields(),
            vec![
                Arc::new(UInt64Array::from(vec![self.histograms.n])),
                Arc::new(UInt32Array::from(vec![dims as u32])),
                Arc::new(list),
            ],
            None,
        )?;
        Ok(ScalarValue::Struct(Arc::new(model)))
    }

    fn size(&self) -> usize {
        size_of_val(self) + self.histograms.bins.iter().map(|b| b.len() * 40).sum::<usize>()
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let h = &self.histograms;
        let per_dim: Vec<u64> = h.bins.iter().map(|b| b.len() as u64).collect();
        let keys: Vec<u64> = h.bins.iter().flat_map(|b| b.keys().map(|k| *k as u64)).collect();
        let counts: Vec<u64> = h.bins.iter().flat_map(|b| b.values().map(|(c, _)| *c)).collect();
        let mins: Vec<f64> = h.bins.iter().flat_map(|b| b.values().map(|(_, m)| *m)).collect();
        let mins = ScalarValue::List(Arc::new(ListArray::new(
            Arc::new(Field::new_list_field(DataType::Float64, true)),
            OffsetBuffer::from_lengths([mins.len()]),
            Arc::new(Float64Array::from(mins)),
            None,
        )));
        Ok(vec![ScalarValue::UInt64(Some(h.n)), u64_list(per_dim), u64_list(keys), u64_list(counts), mins])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let n = states[0].as_primitive::<UInt64Type>();
        let lists: Vec<&ListArray> = states[1..].iter().map(|s| s.as_list::<i32>()).collect();
        for row in 0..n.len() {
            if n.is_null(row) || n.value(row) == 0 {
                continue;
            }
            let per_dim = lists[0].value(row);
            let per_dim = per_dim.as_primitive::<UInt64Type>();
            let (keys, counts, mins) = (lists[1].value(row), lists[2].value(row), lists[3].value(row));
            let (keys, counts) = (keys.as_primitive::<UInt64Type>(), counts.as_primitive::<UInt64Type>());
            let mins = mins.as_primitive::<datafusion::arrow::datatypes::Float64Type>();
            match self.histograms.dims() {
                Some(d) if d != per_dim.len() => return Err(mixed_lengths(d, per_dim.len())),
                None => self.histograms.bins = vec![Default::default(); per_dim.len()],
                _ => {}
            }
            let mut at = 0;
            for dim in 0..per_dim.len() {
                for _ in 0..per_dim.value(dim) {
                    self.histograms.add_bin(dim, keys.value(at) as u32, counts.value(at), mins.value(at));
                    at += 1;
                }
            }
            self.histograms.n += n.value(row);
        }
        Ok(())
    }
}

pub fn quantile_fit_udaf() -> Arc<AggregateUDF> {
    Arc::new(AggregateUDF::from(QuantileFitFunc::default()))
}
