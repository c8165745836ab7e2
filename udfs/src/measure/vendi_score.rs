//! `vendi_score(embedding [, q])`: the diversity of a set of documents.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array, ListArray, UInt64Array};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, UInt64Type};
use datafusion::common::ScalarValue;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{Accumulator, AggregateUDF, AggregateUDFImpl, Documentation, Signature, TypeSignature, Volatility};
use datafusion_macros::user_doc;
use ndarray::{Array2, ArrayView2};
use ndarray_linalg::{EigValsh, UPLO};

use crate::literals::literal_value;
use crate::vectors::{Vectors, check_vector_type, mixed_embedding_lengths};

const NAME: &str = "vendi_score";

#[user_doc(
    doc_section(label = "ODiS Diversity Measures"),
    description = r#"The Vendi Score (Friedman & Dieng, "The Vendi Score: A Diversity Evaluation Metric for Machine Learning") of a set of embedding vectors under the cosine kernel: the exponential of the order-q entropy of the eigenvalues of K/N, where K is the N×N matrix of cosine similarities. It reads as an effective number of distinct documents: 1 when every vector points the same way, N when all are orthogonal.

The non-zero eigenvalues of K/N equal those of the d×d matrix XᵀX/N (X: the unit-normalised rows), so the score streams in one pass with O(d²) memory per partition, merges across partitions, and scales to millions of rows. It equals the `vendi-score` Python package's `score_dual(X, q)` (and `score_K` of the cosine kernel).

NULL vectors are skipped. A vector with a NULL, NaN or infinite entry, an all-zero vector (it has no direction), vectors of different lengths, or fewer than 2 vectors are errors that say which row to filter out."#,
    syntax_example = "vendi_score(embedding [, q])",
    sql_example = r#"```sql
> SELECT vendi_score(odis_score(text, 'minilm')) FROM 'selected.parquet';
> SELECT vendi_score(embedding, 2), vendi_score(embedding, 'inf') FROM docs;
```"#,
    argument(name = "embedding", description = "A list of numbers per row (e.g. odis_score's FixedSizeList<Float32, D>); every non-NULL vector must have the same length."),
    argument(name = "q", description = "Literal order of the entropy, default 1 (Shannon): any number > 0, or 'inf' (the largest eigenvalue alone). Larger q weighs common directions more."),
    related_udf(name = "odis_score")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct VendiScoreFunc {
    signature: Signature,
}

impl Default for VendiScoreFunc {
    fn default() -> Self {
        Self { signature: Signature::one_of(vec![TypeSignature::Any(1), TypeSignature::Any(2)], Volatility::Immutable) }
    }
}

/// The order of the entropy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Order {
    Finite(f64),
    Infinite,
}

fn parse_order(value: Option<&ScalarValue>) -> Result<Order> {
    let bad = |got: String| {
        DataFusionError::Plan(format!(
            "{NAME}: `q` must be a number > 0 or 'inf', got {got}; e.g. {NAME}(embedding, 2) or {NAME}(embedding, 'inf')"
        ))
    };
    let Some(value) = value else {
        return Err(bad("a column or expression (it must be a literal)".into()));
    };
    if let ScalarValue::Utf8(Some(s)) | ScalarValue::LargeUtf8(Some(s)) | ScalarValue::Utf8View(Some(s)) = value {
        return match s.trim().to_ascii_lowercase().as_str() {
            "inf" | "infinity" => Ok(Order::Infinite),
            _ => s.trim().parse::<f64>().map_err(|_| bad(format!("'{s}'"))).and_then(|q| order_of(q).ok_or_else(|| bad(format!("'{s}'")))),
        };
    }
    let q = value.cast_to(&DataType::Float64).ok().and_then(|v| match v {
        ScalarValue::Float64(Some(q)) => Some(q),
        _ => None,
    });
    q.and_then(order_of).ok_or_else(|| bad(value.to_string()))
}

fn order_of(q: f64) -> Option<Order> {
    if q == f64::INFINITY {
        Some(Order::Infinite)
    } else if q > 0.0 && q.is_finite() {
        Some(Order::Finite(q))
    } else {
        None
    }
}

/// exp of the order-q entropy of `eigenvalues` (which sum to 1); values at
/// or below zero are rounding noise of a positive semi-definite matrix.
pub fn score_from_eigenvalues(eigenvalues: &[f64], q: Order) -> f64 {
    let positive = eigenvalues.iter().copied().filter(|&p| p > 0.0);
    let entropy = match q {
        Order::Infinite => -eigenvalues.iter().copied().fold(f64::NEG_INFINITY, f64::max).ln(),
        Order::Finite(q) if q == 1.0 => -positive.map(|p| p * p.ln()).sum::<f64>(),
        Order::Finite(q) => positive.map(|p| p.powf(q)).sum::<f64>().ln() / (1.0 - q),
    };
    entropy.exp()
}

impl AggregateUDFImpl for VendiScoreFunc {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        check_vector_type(NAME, "embedding", &arg_types[0])?;
        Ok(DataType::Float64)
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let q = match args.exprs.get(1) {
            Some(expr) => parse_order(literal_value(expr))?,
            None => Order::Finite(1.0),
        };
        Ok(Box::new(VendiAccumulator { q, n: 0, d: None, gram: Vec::new(), received: Vec::new() }))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![
            Arc::new(Field::new(format!("{}[n]", args.name), DataType::UInt64, true)),
            Arc::new(Field::new(format!("{}[gram]", args.name), DataType::new_list(DataType::Float64, true), true)),
        ])
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

/// Sum of x xᵀ over the unit-normalised rows (d×d, row-major), and their count.
#[derive(Debug)]
struct VendiAccumulator {
    q: Order,
    n: u64,
    d: Option<usize>,
    gram: Vec<f64>,
    /// Partial states of other accumulators (count, Gram matrix), added up
    /// in a fixed order when the result is asked for: float addition is not
    /// associative, and partial states arrive in whatever order their
    /// partitions (or a cluster's tasks) finish.
    received: Vec<(u64, Vec<f64>)>,
}

impl VendiAccumulator {
    /// The count and Gram matrix of own and received rows, summed in an
    /// order that depends on their values alone.
    fn totals(&self) -> (u64, Vec<f64>) {
        if self.received.is_empty() {
            return (self.n, self.gram.clone());
        }
        let mut all: Vec<(u64, &Vec<f64>)> = self.received.iter().map(|(n, g)| (*n, g)).collect();
        if self.n > 0 {
            all.push((self.n, &self.gram));
        }
        all.sort_by_cached_key(|(n, g)| (*n, g.iter().map(|x| x.to_bits()).collect::<Vec<u64>>()));
        let mut gram = vec![0.0; self.d.map_or(0, |d| d * d)];
        let mut n = 0;
        for (count, g) in all {
            gram.iter_mut().zip(g).for_each(|(a, b)| *a += b);
            n += count;
        }
        (n, gram)
    }

    fn set_dims(&mut self, d: usize) -> Result<()> {
        match self.d {
            Some(expected) if expected != d => Err(mixed_embedding_lengths(NAME, expected, d)),
            Some(_) => Ok(()),
            None => {
                self.d = Some(d);
                self.gram = vec![0.0; d * d];
                Ok(())
            }
        }
    }
}

impl Accumulator for VendiAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let vectors = Vectors::try_new(&values[0])?;
        let mut rows: Vec<f64> = Vec::new();
        let mut count = 0usize;
        for i in 0..vectors.len() {
            let Some(row) = vectors.finite_row(i) else { continue };
            let row = row.map_err(|_| {
                DataFusionError::Execution(format!(
                    "{NAME}: an embedding holds a NULL, NaN or infinite value; filter such rows out \
                     (e.g. WHERE NOT array_has(embedding, 'NaN'))"
                ))
            })?;
            self.set_dims(row.len())?;
            let norm = row.iter().map(|v| v * v).sum::<f64>().sqrt();
            if norm == 0.0 {
                return Err(DataFusionError::Execution(format!(
                    "{NAME}: an embedding is all zeros and has no direction for the cosine kernel; filter such rows \
                     out (e.g. WHERE array_max(array_abs(embedding)) > 0) or fix the model that produced them"
                )));
            }
            rows.extend(row.iter().map(|v| v / norm));
            count += 1;
        }
        if count > 0 {
            let d = self.d.expect("set by the first row");
            let x = ArrayView2::from_shape((count, d), &rows).map_err(|e| DataFusionError::Internal(e.to_string()))?;
            let mut gram = ndarray::ArrayViewMut2::from_shape((d, d), &mut self.gram)
                .map_err(|e| DataFusionError::Internal(e.to_string()))?;
            ndarray::linalg::general_mat_mul(1.0, &x.t(), &x, 1.0, &mut gram);
            self.n += count as u64;
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let (n, gram) = self.totals();
        (self.n, self.gram) = (n, gram);
        self.received.clear();
        if self.n < 2 {
            return Err(DataFusionError::Execution(format!(
                "{NAME}: needs at least 2 embeddings to measure diversity, got {}; NULL embeddings are skipped",
                self.n
            )));
        }
        let d = self.d.expect("rows were seen");
        let n = self.n as f64;
        let matrix = Array2::from_shape_fn((d, d), |(i, j)| self.gram[i * d + j] / n);
        let eigenvalues = matrix
            .eigvalsh(UPLO::Upper)
            .map_err(|e| DataFusionError::Execution(format!("{NAME}: the eigen-decomposition failed: {e}")))?;
        Ok(ScalarValue::Float64(Some(score_from_eigenvalues(eigenvalues.as_slice().unwrap_or(&[]), self.q))))
    }

    fn size(&self) -> usize {
        size_of_val(self) + 8 * self.gram.capacity() + self.received.iter().map(|(_, g)| 32 + 8 * g.capacity()).sum::<usize>()
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let (n, totals) = self.totals();
        let gram = ListArray::new(
            Arc::new(Field::new_list_field(DataType::Float64, true)),
            OffsetBuffer::from_lengths([totals.len()]),
            Arc::new(Float64Array::from(totals)),
            None,
        );
        Ok(vec![ScalarValue::UInt64(Some(n)), ScalarValue::List(Arc::new(gram))])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let counts: &UInt64Array = states[0].as_primitive::<UInt64Type>();
        let grams = Vectors::try_new(&states[1])?;
        for i in 0..counts.len() {
            if counts.is_null(i) || counts.value(i) == 0 {
                continue;
            }
            let Some(gram) = grams.row(i) else { continue };
            let d = (gram.len() as f64).sqrt().round() as usize;
            if d * d != gram.len() {
                return Err(DataFusionError::Internal(format!("{NAME}: a partial state of {} values", gram.len())));
            }
            self.set_dims(d)?;
            self.received.push((counts.value(i), gram.to_vec()));
        }
        Ok(())
    }
}

pub fn vendi_score_udaf() -> Arc<AggregateUDF> {
    Arc::new(AggregateUDF::from(VendiScoreFunc::default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_of_the_entropy() {
        let uniform = [0.25; 4];
        for q in [Order::Finite(0.5), Order::Finite(1.0), Order::Finite(2.0), Order::Infinite] {
            assert!((score_from_eigenvalues(&uniform, q) - 4.0).abs() < 1e-12, "{q:?}");
        }
        let skewed = [0.7, 0.2, 0.1, -1e-17];
        let s1 = score_from_eigenvalues(&skewed, Order::Finite(1.0));
        let s2 = score_from_eigenvalues(&skewed, Order::Finite(2.0));
        let si = score_from_eigenvalues(&skewed, Order::Infinite);
        assert!(s1 > s2 && s2 > si, "{s1} {s2} {si}");
        assert!((si - 1.0 / 0.7).abs() < 1e-12);
        assert!((s2 - 1.0 / (0.49 + 0.04 + 0.01)).abs() < 1e-12);
    }

    #[test]
    fn orders_parse() {
        assert_eq!(parse_order(Some(&ScalarValue::Int64(Some(2)))).unwrap(), Order::Finite(2.0));
        assert_eq!(parse_order(Some(&ScalarValue::Utf8(Some("inf".into())))).unwrap(), Order::Infinite);
        assert_eq!(parse_order(Some(&ScalarValue::Float64(Some(f64::INFINITY)))).unwrap(), Order::Infinite);
        for bad in [ScalarValue::Int64(Some(0)), ScalarValue::Float64(Some(-1.0)), ScalarValue::Utf8(Some("x".into()))] {
            assert!(parse_order(Some(&bad)).unwrap_err().to_string().contains("`q` must be a number > 0"));
        }
        assert!(parse_order(None).unwrap_err().to_string().contains("literal"));
    }

    /// Partial states added up in any order give the same score, to the bit.
    #[test]
    fn the_score_does_not_depend_on_the_order_partial_states_arrive_in() {
        use datafusion::arrow::datatypes::Float64Type;
        let partial = |seed: f64| -> Vec<ArrayRef> {
            let rows = (0..40).map(|i| Some((0..3).map(move |j| Some(((i * 3 + j) as f64 * seed).sin()))));
            let list = ListArray::from_iter_primitive::<Float64Type, _, _>(rows);
            let mut acc = VendiAccumulator { q: Order::Finite(1.0), n: 0, d: None, gram: Vec::new(), received: Vec::new() };
            acc.update_batch(&[Arc::new(list)]).unwrap();
            acc.state().unwrap().iter().map(|s| s.to_array().unwrap()).collect()
        };
        let parts = [partial(0.31), partial(1.7), partial(0.05)];
        let score = |order: [usize; 3]| {
            let mut acc = VendiAccumulator { q: Order::Finite(1.0), n: 0, d: None, gram: Vec::new(), received: Vec::new() };
            for i in order {
                acc.merge_batch(&parts[i]).unwrap();
            }
            format!("{:?}", acc.evaluate().unwrap())
        };
        let first = score([0, 1, 2]);
        for order in [[2, 1, 0], [1, 0, 2], [2, 0, 1]] {
            assert_eq!(score(order), first, "order {order:?}");
        }
    }
}
