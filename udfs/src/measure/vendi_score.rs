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
use crate::vectors::{Vectors, check_vector_type};

const NAME: &str = "vendi_score";

#[user_doc(
    doc_section(label = "ODiS Functions"),
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
        Ok(Box::new(VendiAccumulator { q, n: 0, d: None, gram: Vec::new() }))
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
}

fn mixed_lengths(first: usize, other: usize) -> DataFusionError {
    DataFusionError::Execution(format!(
        "{NAME}: every embedding must have the same length, but found vectors of length {first} and {other}; \
         filter the rows whose embedding has the wrong length"
    ))
}

impl VendiAccumulator {
    fn set_dims(&mut self, d: usize) -> Result<()> {
        match self.d {
            Some(expected) if expected != d => Err(mixed_lengths(expected, d)),
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
        size_of_val(self) + 8 * self.gram.capacity()
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let gram = ListArray::new(
            Arc::new(Field::new_list_field(DataType::Float64, true)),
            OffsetBuffer::from_lengths([self.gram.len()]),
            Arc::new(Float64Array::from(self.gram.clone())),
            None,
        );
        Ok(vec![ScalarValue::UInt64(Some(self.n)), ScalarValue::List(Arc::new(gram))])
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
            self.gram.iter_mut().zip(gram).for_each(|(a, b)| *a += b);
            self.n += counts.value(i);
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
}
