//! `pca_fit(scores, k [, standardize])`: fits a PCA model, as an aggregate.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array, ListArray, UInt64Array};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, UInt64Type};
use datafusion::common::ScalarValue;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{Accumulator, AggregateUDF, AggregateUDFImpl, Documentation, Signature, TypeSignature, Volatility};
use datafusion_macros::user_doc;

use crate::literals;
use crate::pca::decomposition::{Moments, PcaModel, mixed_lengths, model_type};
use crate::vectors::{Vectors, check_vector_type};

#[user_doc(
    doc_section(label = "ODiS PCA Functions"),
    description = r#"Fits a principal component analysis (PCA) of score vectors and returns the model as a struct. ODiS step 2: turns correlated quality scores into orthogonal components.

The result equals scikit-learn's `PCA(n_components=k).fit(StandardScaler().fit_transform(X))` (or of `X` itself when standardize is false): `mean` per dimension; `scale` the population standard deviation (ddof 0; 1.0 for a constant dimension, as StandardScaler; all 1.0 when not standardizing); `components` the k unit-norm loading vectors, largest variance first; `explained_variance` with ddof 1; `explained_variance_ratio` over the total variance of all d dimensions; `n_rows` the rows used.

Each component is oriented so that the sum of its loadings is positive (if that sum is within 1e-12 of zero, so that its largest-magnitude loading is positive), which makes results reproducible.

Rows whose vector is NULL or holds a NULL, NaN or infinite value are skipped. One pass over the data with O(d²) state per partition (count, mean, co-moments, merged pairwise), so memory does not grow with the row count and the result does not depend on partitioning (to about 1e-12)."#,
    syntax_example = "pca_fit(scores, k [, standardize])",
    sql_example = r#"```sql
> WITH m AS (SELECT pca_fit(make_array(a, b, c), 2) AS model FROM t)
  SELECT model['n_rows'], model['explained_variance_ratio'] FROM m;
```"#,
    argument(
        name = "scores",
        description = "A list of numbers per row (List or FixedSizeList of Float32/Float64, e.g. make_array(a, b, c)); every non-NULL vector must have the same length d."
    ),
    argument(name = "k", description = "Integer literal: how many components to keep, 1 <= k <= d."),
    argument(
        name = "standardize",
        description = "Boolean literal, default true: scale each dimension to unit variance before the PCA."
    ),
    related_udf(name = "pca_project"),
    related_udf(name = "pca_loadings")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct PcaFitFunc {
    signature: Signature,
}

impl Default for PcaFitFunc {
    fn default() -> Self {
        Self::new()
    }
}

impl PcaFitFunc {
    pub fn new() -> Self {
        Self {
            signature: Signature::one_of(vec![TypeSignature::Any(2), TypeSignature::Any(3)], Volatility::Immutable),
        }
    }
}

const NAME: &str = "pca_fit";

impl AggregateUDFImpl for PcaFitFunc {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        check_vector_type(NAME, "scores", &arg_types[0])?;
        if !arg_types[1].is_integer() {
            return Err(DataFusionError::Plan(format!(
                "{NAME}: `k` must be an integer literal such as 4, got a value of type {}",
                arg_types[1]
            )));
        }
        if let Some(t) = arg_types.get(2).filter(|t| !matches!(t, DataType::Boolean)) {
            return Err(DataFusionError::Plan(format!(
                "{NAME}: `standardize` must be true or false, got a value of type {t}"
            )));
        }
        Ok(model_type())
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let example = "pca_fit(scores, 4)";
        let k = literals::integer(NAME, "k", example, &args.exprs[1])?;
        if k < 1 {
            return Err(DataFusionError::Plan(format!(
                "{NAME}: `k` must be at least 1, got {k}; it is the number of components to keep"
            )));
        }
        let standardize = match args.exprs.get(2) {
            Some(expr) => literals::boolean(NAME, "standardize", "pca_fit(scores, 4, false)", expr)?,
            None => true,
        };
        Ok(Box::new(PcaFitAccumulator {
            k: k as usize,
            standardize,
            moments: Moments::default(),
            received: Vec::new(),
        }))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let list = DataType::new_list(DataType::Float64, true);
        Ok(vec![
            Arc::new(Field::new(format!("{}[n]", args.name), DataType::UInt64, true)),
            Arc::new(Field::new(format!("{}[mean]", args.name), list.clone(), true)),
            Arc::new(Field::new(format!("{}[mean_err]", args.name), list.clone(), true)),
            Arc::new(Field::new(format!("{}[m2]", args.name), list.clone(), true)),
            Arc::new(Field::new(format!("{}[m2_err]", args.name), list, true)),
        ])
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

#[derive(Debug)]
struct PcaFitAccumulator {
    k: usize,
    standardize: bool,
    /// The moments of the rows this accumulator read itself.
    moments: Moments,
    /// Partial states of other accumulators, merged in a fixed order when
    /// the result is asked for: the pairwise update is exact to ~1e-16 but
    /// not associative, and partial states arrive in whatever order their
    /// partitions (or a cluster's tasks) finish, so merging them as they
    /// come would change the last digits of the fit from run to run.
    received: Vec<Moments>,
}

impl PcaFitAccumulator {
    fn check_dims(&self, d: usize) -> Result<()> {
        match self.moments.dims().or_else(|| self.received.first().and_then(Moments::dims)) {
            Some(expected) if expected != d => Err(mixed_lengths(expected, d)),
            _ => Ok(()),
        }
    }

    /// Own and received moments, merged in an order that depends on their
    /// values alone.
    fn combined(&self) -> Result<Moments> {
        if self.received.is_empty() {
            return Ok(self.moments.clone());
        }
        let mut all: Vec<&Moments> = self.received.iter().chain(std::iter::once(&self.moments)).filter(|m| m.n > 0).collect();
        let key = |m: &Moments| -> Vec<u64> {
            std::iter::once(m.n)
                .chain([&m.mean, &m.mean_err, &m.m2, &m.m2_err].into_iter().flat_map(|v| v.iter().map(|x| x.to_bits())))
                .collect()
        };
        all.sort_by_cached_key(|m| key(m));
        let mut total = Moments::default();
        for m in all {
            total.merge(m)?;
        }
        Ok(total)
    }
}

fn list_of(values: &[f64]) -> ScalarValue {
    ScalarValue::List(Arc::new(ListArray::new(
        Arc::new(Field::new_list_field(DataType::Float64, true)),
        OffsetBuffer::from_lengths([values.len()]),
        Arc::new(Float64Array::from(values.to_vec())),
        None,
    )))
}

impl Accumulator for PcaFitAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let vectors = Vectors::try_new(&values[0])?;
        let mut d = self.moments.dims();
        let mut usable = Vec::with_capacity(vectors.len());
        for i in 0..vectors.len() {
            match vectors.finite_row(i) {
                None => {}
                Some(row) => {
                    let len = match row {
                        Ok(r) => r.len(),
                        Err(len) => len,
                    };
                    match d {
                        Some(expected) if expected != len => return Err(mixed_lengths(expected, len)),
                        None => d = Some(len),
                        _ => {}
                    }
                    if let Ok(r) = row {
                        usable.push(r);
                    }
                }
            }
        }
        if let Some(d) = d.filter(|_| !usable.is_empty()) {
            let batch = Moments::of_rows(d, usable.iter().copied());
            self.moments.merge(&batch)?;
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let model = PcaModel::fit(&self.combined()?, self.k, self.standardize)?;
        Ok(ScalarValue::Struct(Arc::new(model.to_struct_array()?)))
    }

    fn size(&self) -> usize {
        let moments = |m: &Moments| 8 * (m.mean.capacity() + m.mean_err.capacity() + m.m2.capacity() + m.m2_err.capacity());
        size_of_val(self) + moments(&self.moments) + self.received.iter().map(|m| size_of_val(m) + moments(m)).sum::<usize>()
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let moments = self.combined()?;
        Ok(vec![
            ScalarValue::UInt64(Some(moments.n)),
            list_of(&moments.mean),
            list_of(&moments.mean_err),
            list_of(&moments.m2),
            list_of(&moments.m2_err),
        ])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let counts: &UInt64Array = states[0].as_primitive::<UInt64Type>();
        let means = Vectors::try_new(&states[1])?;
        let mean_errs = Vectors::try_new(&states[2])?;
        let m2s = Vectors::try_new(&states[3])?;
        let m2_errs = Vectors::try_new(&states[4])?;
        for i in 0..counts.len() {
            if counts.is_null(i) || counts.value(i) == 0 {
                continue;
            }
            let (Some(mean), Some(mean_err), Some(m2), Some(m2_err)) =
                (means.row(i), mean_errs.row(i), m2s.row(i), m2_errs.row(i))
            else {
                continue;
            };
            self.check_dims(mean.len())?;
            self.received.push(Moments {
                n: counts.value(i),
                mean: mean.to_vec(),
                mean_err: mean_err.to_vec(),
                m2: m2.to_vec(),
                m2_err: m2_err.to_vec(),
            });
        }
        Ok(())
    }
}

/// The function as DataFusion registers it.
pub fn pca_fit_udaf() -> Arc<AggregateUDF> {
    Arc::new(AggregateUDF::from(PcaFitFunc::new()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::datatypes::Float64Type;

    fn accumulator() -> PcaFitAccumulator {
        PcaFitAccumulator { k: 2, standardize: true, moments: Moments::default(), received: Vec::new() }
    }

    fn partial(rows: &[[f64; 3]]) -> Vec<ArrayRef> {
        let list = ListArray::from_iter_primitive::<Float64Type, _, _>(rows.iter().map(|r| Some(r.iter().map(|&x| Some(x)))));
        let mut acc = accumulator();
        acc.update_batch(&[Arc::new(list)]).unwrap();
        acc.state().unwrap().iter().map(|s| s.to_array().unwrap()).collect()
    }

    /// Partial states merged in any order give the same fit, to the bit
    /// (the order they arrive in depends on which partition finishes first).
    #[test]
    fn the_fit_does_not_depend_on_the_order_partial_states_arrive_in() {
        let rows = |seed: f64| -> Vec<[f64; 3]> {
            (0..50).map(|i| {
                let x = (i as f64 * 0.37 + seed).sin() * 1e3 + 1e6;
                [x, x * 0.5 + (i as f64).cos(), (seed * i as f64).sin() / 3.0]
            }).collect()
        };
        let parts = [partial(&rows(0.1)), partial(&rows(0.7)), partial(&rows(2.3))];
        let fit = |order: [usize; 3]| {
            let mut acc = accumulator();
            for i in order {
                acc.merge_batch(&parts[i]).unwrap();
            }
            format!("{:?}", acc.evaluate().unwrap())
        };
        let first = fit([0, 1, 2]);
        for order in [[2, 1, 0], [1, 0, 2], [2, 0, 1]] {
            assert_eq!(fit(order), first, "order {order:?}");
        }
    }
}
