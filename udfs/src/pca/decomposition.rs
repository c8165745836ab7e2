//! The PCA shared by `pca_fit`, `pca_project` and `pca_loadings`: streaming
//! co-moments, the fit, and the model's SQL struct type.
//!
//! Numerics follow scikit-learn's `PCA(n_components=k)` applied to
//! `StandardScaler().fit_transform(X)` (see `pca_fit`'s documentation).

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array, ListArray, StructArray, UInt64Array};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::datatypes::{DataType, Field, Fields, UInt64Type};
use datafusion::error::{DataFusionError, Result};
use ndarray::{Array2, ArrayView1, Axis};
use ndarray_linalg::{Eigh, UPLO};

/// The field names of the model struct, in order.
pub const MODEL_FIELDS: [&str; 6] = [
    "n_rows",
    "mean",
    "scale",
    "components",
    "explained_variance",
    "explained_variance_ratio",
];

fn f64_list() -> DataType {
    DataType::new_list(DataType::Float64, true)
}

/// The struct type `pca_fit` returns.
pub fn model_type() -> DataType {
    DataType::Struct(model_fields())
}

pub fn model_fields() -> Fields {
    Fields::from(vec![
        Field::new("n_rows", DataType::UInt64, false),
        Field::new("mean", f64_list(), false),
        Field::new("scale", f64_list(), false),
        Field::new("components", DataType::new_list(f64_list(), true), false),
        Field::new("explained_variance", f64_list(), false),
        Field::new("explained_variance_ratio", f64_list(), false),
    ])
}

/// Whether `data_type` is a PCA model struct (nullability aside).
pub fn is_model_type(data_type: &DataType) -> bool {
    let DataType::Struct(fields) = data_type else {
        return false;
    };
    let expected = model_fields();
    fields.len() == expected.len()
        && fields
            .iter()
            .zip(expected.iter())
            .all(|(f, e)| f.name() == e.name() && equal_ignoring_nullability(f.data_type(), e.data_type()))
}

fn equal_ignoring_nullability(a: &DataType, b: &DataType) -> bool {
    match (a, b) {
        (DataType::List(x), DataType::List(y)) => equal_ignoring_nullability(x.data_type(), y.data_type()),
        _ => a == b,
    }
}

/// Count, mean and co-moment matrix (sum of outer products of deviations)
/// of a set of d-dimensional vectors.
///
/// Each batch is centred on its own mean before its outer products are
/// summed, and batches and partitions are combined with the pairwise update
/// of Chan, Golub & LeVeque, so values with a large common offset and a
/// small spread keep their precision (no sum of squares of raw values).
///
/// The co-moments are summed with error compensation (Knuth's TwoSum, once
/// per block of 32 rows) and kept as unevaluated sums `m2 + m2_err`. Plain
/// summation of a whole batch would leave
/// rounding differences of ~1e-14 that depend on how rows are split into
/// batches and partitions, which eigen-decomposition amplifies by the
/// inverse eigen-gap; compensation keeps results independent of the
/// partitioning to well below 1e-12.
///
/// The mean is kept the same way (`mean + mean_err`): with a large common
/// offset, a mean rounded to f64 is off by ~1e-12 absolute, and the pairwise
/// update multiplies that error by the row count.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Moments {
    pub n: u64,
    pub mean: Vec<f64>,
    /// The rounding error of `mean`, to be added to it.
    pub mean_err: Vec<f64>,
    /// d × d, row-major, symmetric (both triangles filled).
    pub m2: Vec<f64>,
    /// The rounding error of `m2`, to be added to it.
    pub m2_err: Vec<f64>,
}

/// `s + p` as the rounded sum and its exact rounding error.
#[inline(always)]
fn two_sum(s: f64, p: f64) -> (f64, f64) {
    let t = s + p;
    let z = t - s;
    (t, (s - (t - z)) + (p - z))
}

impl Moments {
    pub fn dims(&self) -> Option<usize> {
        (self.n > 0).then_some(self.mean.len())
    }

    /// The co-moment matrix, compensation included.
    pub fn comoments(&self) -> Vec<f64> {
        self.m2.iter().zip(&self.m2_err).map(|(a, b)| a + b).collect()
    }

    /// Moments of `rows` (each of length `d`), computed in two passes.
    pub fn of_rows<'a>(d: usize, rows: impl Iterator<Item = &'a [f64]> + Clone) -> Self {
        let mut n = 0u64;
        let mut sum = vec![0.0; d];
        let mut sum_err = vec![0.0; d];
        for row in rows.clone() {
            n += 1;
            for ((s, e), x) in sum.iter_mut().zip(sum_err.iter_mut()).zip(row) {
                let (t, err) = two_sum(*s, *x);
                *s = t;
                *e += err;
            }
        }
        if n == 0 {
            return Self::default();
        }
        // The batch mean as mean + mean_err: the rounded quotient, and the
        // remainder (exact with a fused multiply-add) over n.
        let nf = n as f64;
        let mean: Vec<f64> = sum.iter().zip(&sum_err).map(|(s, e)| (s + e) / nf).collect();
        let mean_err: Vec<f64> = (0..d).map(|i| ((-mean[i]).mul_add(nf, sum[i]) + sum_err[i]) / nf).collect();
        // Upper triangle, accumulated row by row; mirrored at the end. The
        // products of a block of rows are summed plainly (a vectorisable
        // multiply-add per pair) and each block's sums are then added to the
        // totals with their rounding errors kept: a compensated sum per
        // block, not per row, costs a fraction of the time, and since the
        // values are centred, the plain sums of a few rows lose nothing that
        // shows (the batching test below holds the result to 1e-15).
        const BLOCK: usize = 32;
        let mut m2 = vec![0.0; d * d];
        let mut m2_err = vec![0.0; d * d];
        let mut block = vec![0.0; d * d];
        let mut centred = vec![0.0; d];
        let mut in_block = 0;
        let flush = |block: &mut [f64], m2: &mut [f64], m2_err: &mut [f64]| {
            for ((b, s), e) in block.iter_mut().zip(m2.iter_mut()).zip(m2_err.iter_mut()) {
                let (t, err) = two_sum(*s, *b);
                *s = t;
                *e += err;
                *b = 0.0;
            }
        };
        for row in rows {
            for ((c, x), m) in centred.iter_mut().zip(row).zip(&mean) {
                *c = x - m;
            }
            for i in 0..d {
                let ci = centred[i];
                for (s, cj) in block[i * d + i..(i + 1) * d].iter_mut().zip(&centred[i..]) {
                    *s += ci * cj;
                }
            }
            in_block += 1;
            if in_block == BLOCK {
                flush(&mut block, &mut m2, &mut m2_err);
                in_block = 0;
            }
        }
        if in_block > 0 {
            flush(&mut block, &mut m2, &mut m2_err);
        }
        for i in 0..d {
            for j in 0..i {
                m2[i * d + j] = m2[j * d + i];
                m2_err[i * d + j] = m2_err[j * d + i];
            }
        }
        Self {
            n,
            mean,
            mean_err,
            m2,
            m2_err,
        }
    }

    /// Combines `other` into `self` (Chan et al.'s pairwise update).
    pub fn merge(&mut self, other: &Moments) -> Result<()> {
        if other.n == 0 {
            return Ok(());
        }
        if self.n == 0 {
            *self = other.clone();
            return Ok(());
        }
        let d = self.mean.len();
        if other.mean.len() != d {
            return Err(mixed_lengths(d, other.mean.len()));
        }
        let (na, nb) = (self.n as f64, other.n as f64);
        let n = na + nb;
        let delta: Vec<f64> = (0..d)
            .map(|i| (other.mean[i] - self.mean[i]) + (other.mean_err[i] - self.mean_err[i]))
            .collect();
        let weight = na * nb / n;
        for i in 0..d {
            for j in 0..d {
                let at = i * d + j;
                let (t, e1) = two_sum(self.m2[at], other.m2[at]);
                let (t, e2) = two_sum(t, delta[i] * delta[j] * weight);
                self.m2[at] = t;
                self.m2_err[at] += other.m2_err[at] + e1 + e2;
            }
        }
        for i in 0..d {
            let (t, e) = two_sum(self.mean[i], delta[i] * nb / n);
            self.mean[i] = t;
            self.mean_err[i] += e;
        }
        self.n += other.n;
        Ok(())
    }
}

pub fn mixed_lengths(first: usize, other: usize) -> DataFusionError {
    DataFusionError::Execution(format!(
        "pca_fit: every `scores` vector must have the same length, but found vectors of length \
         {first} and {other}; fix or filter the rows whose vectors have the wrong length"
    ))
}

/// A fitted PCA.
#[derive(Debug, Clone, PartialEq)]
pub struct PcaModel {
    pub n_rows: u64,
    pub mean: Vec<f64>,
    pub scale: Vec<f64>,
    /// k rows of d loadings, unit norm.
    pub components: Vec<Vec<f64>>,
    pub explained_variance: Vec<f64>,
    pub explained_variance_ratio: Vec<f64>,
}

/// Orients a component: the sum of its loadings is positive, or, when that
/// sum is within 1e-12 of zero, its largest-magnitude loading (the first of
/// equals) is positive.
pub fn orient(component: &mut [f64]) {
    let sum: f64 = component.iter().sum();
    let flip = if sum.abs() > 1e-12 {
        sum < 0.0
    } else {
        let largest = component
            .iter()
            .copied()
            .fold(0.0_f64, |best, v| if v.abs() > best.abs() { v } else { best });
        largest < 0.0
    };
    if flip {
        component.iter_mut().for_each(|v| *v = -*v);
    }
}

/// scikit-learn's test for a constant feature (`_is_constant_feature`):
/// a variance within rounding error of zero.
fn is_constant(variance: f64, mean: f64, n: f64) -> bool {
    let eps = f64::EPSILON;
    let bound = n * eps * variance + (n * mean * eps).powi(2);
    variance <= bound
}

impl PcaModel {
    /// Fits the top `k` components of the (standardised) covariance.
    pub fn fit(moments: &Moments, k: usize, standardize: bool) -> Result<Self> {
        let n = moments.n;
        if n < 2 {
            return Err(DataFusionError::Execution(format!(
                "pca_fit: needs at least 2 rows with a complete, finite `scores` vector, got {n}; \
                 rows whose vector is NULL or holds NULL, NaN or infinite values are skipped"
            )));
        }
        let d = moments.mean.len();
        if k > d {
            return Err(DataFusionError::Execution(format!(
                "pca_fit: `k` = {k} is larger than the number of score dimensions ({d}); use 1 <= k <= {d}"
            )));
        }
        let nf = n as f64;
        let m2 = moments.comoments();
        let scale: Vec<f64> = if standardize {
            let mut scale = Vec::with_capacity(d);
            for j in 0..d {
                let variance = m2[j * d + j] / nf; // ddof 0, as StandardScaler
                // A constant dimension (a signal no document of this corpus
                // triggers) carries no information: like StandardScaler,
                // leave it unscaled, so it gets no weight rather than an error.
                scale.push(if is_constant(variance, moments.mean[j], nf) { 1.0 } else { variance.sqrt() });
            }
            scale
        } else {
            vec![1.0; d]
        };
        // Covariance (ddof 1, as PCA) of the standardised data.
        let covariance = Array2::from_shape_fn((d, d), |(i, j)| m2[i * d + j] / (nf - 1.0) / (scale[i] * scale[j]));
        let (eigenvalues, eigenvectors) = covariance
            .eigh(UPLO::Upper)
            .map_err(|e| DataFusionError::Execution(format!("pca_fit: eigen-decomposition failed: {e}")))?;
        // Ascending order from LAPACK; rounding can leave tiny negatives.
        let eigenvalues: Vec<f64> = eigenvalues.iter().map(|&v| v.max(0.0)).collect();
        let total: f64 = eigenvalues.iter().sum();
        let mut components = Vec::with_capacity(k);
        let mut explained_variance = Vec::with_capacity(k);
        for c in (0..d).rev().take(k) {
            let mut component: Vec<f64> = eigenvectors.index_axis(Axis(1), c).to_vec();
            normalise(&mut component);
            orient(&mut component);
            components.push(component);
            explained_variance.push(eigenvalues[c]);
        }
        let explained_variance_ratio = explained_variance
            .iter()
            .map(|v| if total > 0.0 { v / total } else { 0.0 })
            .collect();
        Ok(Self {
            n_rows: n,
            mean: moments.mean.iter().zip(&moments.mean_err).map(|(m, e)| m + e).collect(),
            scale,
            components,
            explained_variance,
            explained_variance_ratio,
        })
    }

    pub fn k(&self) -> usize {
        self.components.len()
    }

    pub fn dims(&self) -> usize {
        self.mean.len()
    }

    /// The model as a one-row struct array of [`model_type`].
    pub fn to_struct_array(&self) -> Result<StructArray> {
        let list = |values: &[f64]| -> ArrayRef {
            Arc::new(ListArray::new(
                Arc::new(Field::new_list_field(DataType::Float64, true)),
                OffsetBuffer::from_lengths([values.len()]),
                Arc::new(Float64Array::from(values.to_vec())),
                None,
            ))
        };
        let flat: Vec<f64> = self.components.iter().flatten().copied().collect();
        let inner = ListArray::new(
            Arc::new(Field::new_list_field(DataType::Float64, true)),
            OffsetBuffer::from_lengths(self.components.iter().map(Vec::len)),
            Arc::new(Float64Array::from(flat)),
            None,
        );
        let components: ArrayRef = Arc::new(ListArray::new(
            Arc::new(Field::new_list_field(f64_list(), true)),
            OffsetBuffer::from_lengths([self.components.len()]),
            Arc::new(inner),
            None,
        ));
        Ok(StructArray::try_new(
            model_fields(),
            vec![
                Arc::new(UInt64Array::from(vec![self.n_rows])),
                list(&self.mean),
                list(&self.scale),
                components,
                list(&self.explained_variance),
                list(&self.explained_variance_ratio),
            ],
            None,
        )?)
    }
}

fn normalise(v: &mut [f64]) {
    let norm = ArrayView1::from(&*v).dot(&ArrayView1::from(&*v)).sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}

/// Row-by-row, zero-copy access to a column of PCA models, with every row
/// checked to be a consistent model (lengths agree).
pub struct ModelColumn<'a> {
    models: &'a StructArray,
    n_rows: &'a UInt64Array,
    mean: &'a ListArray,
    scale: &'a ListArray,
    components: &'a ListArray,
    ratio: &'a ListArray,
    variance: &'a ListArray,
}

/// One model of a [`ModelColumn`], borrowed.
#[derive(Clone, Copy)]
pub struct ModelRef<'a> {
    pub n_rows: u64,
    pub mean: &'a [f64],
    pub scale: &'a [f64],
    /// k × d, row-major.
    pub components: &'a [f64],
    pub explained_variance: &'a [f64],
    pub explained_variance_ratio: &'a [f64],
    pub k: usize,
}

fn not_a_model(function: &str, why: &str) -> DataFusionError {
    DataFusionError::Execution(format!(
        "{function}: `model` is not a PCA model from pca_fit ({why}); pass the struct pca_fit returns"
    ))
}

fn list_values(list: &ListArray, row: usize) -> &[f64] {
    let offsets = list.value_offsets();
    let (start, end) = (offsets[row] as usize, offsets[row + 1] as usize);
    &list.values().as_primitive::<datafusion::arrow::datatypes::Float64Type>().values()[start..end]
}

impl<'a> ModelColumn<'a> {
    pub fn try_new(function: &str, array: &'a ArrayRef) -> Result<Self> {
        if !is_model_type(array.data_type()) {
            return Err(not_a_model(function, &format!("its type is {}", array.data_type())));
        }
        let models = array.as_struct();
        let list = |i: usize| models.column(i).as_list::<i32>();
        Ok(Self {
            models,
            n_rows: models.column(0).as_primitive::<UInt64Type>(),
            mean: list(1),
            scale: list(2),
            components: list(3),
            variance: list(4),
            ratio: list(5),
        })
    }

    /// Model `row`, or `None` when it is NULL.
    pub fn get(&self, function: &str, row: usize) -> Result<Option<ModelRef<'a>>> {
        if self.models.is_null(row) {
            return Ok(None);
        }
        let mean = list_values(self.mean, row);
        let scale = list_values(self.scale, row);
        let d = mean.len();
        if scale.len() != d {
            return Err(not_a_model(function, "`mean` and `scale` differ in length"));
        }
        if scale.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
            return Err(not_a_model(function, "`scale` must be positive"));
        }
        let component_offsets = self.components.value_offsets();
        let (first, last) = (component_offsets[row] as usize, component_offsets[row + 1] as usize);
        let k = last - first;
        let inner = self.components.values().as_list::<i32>();
        let inner_offsets = inner.value_offsets();
        for c in first..last {
            if (inner_offsets[c + 1] - inner_offsets[c]) as usize != d {
                return Err(not_a_model(function, "a component's length differs from `mean`'s"));
            }
        }
        let flat = inner.values().as_primitive::<datafusion::arrow::datatypes::Float64Type>().values();
        let components = &flat[inner_offsets[first] as usize..inner_offsets[last] as usize];
        let explained_variance = list_values(self.variance, row);
        let explained_variance_ratio = list_values(self.ratio, row);
        if explained_variance.len() != k || explained_variance_ratio.len() != k || k == 0 {
            return Err(not_a_model(function, "the explained variances do not match the components"));
        }
        Ok(Some(ModelRef {
            n_rows: self.n_rows.value(row),
            mean,
            scale,
            components,
            explained_variance,
            explained_variance_ratio,
            k,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(data: &[Vec<f64>]) -> impl Iterator<Item = &[f64]> + Clone {
        data.iter().map(|r| r.as_slice())
    }

    #[test]
    fn merged_moments_equal_moments_of_all_rows() {
        let data: Vec<Vec<f64>> = (0..50)
            .map(|i| {
                let t = i as f64;
                vec![1e4 + (t * 0.37).sin(), 2.0 * t, (t * 1.3).cos() - t * 0.01]
            })
            .collect();
        let all = Moments::of_rows(3, rows(&data));
        let mut merged = Moments::of_rows(3, rows(&data[..7]));
        merged.merge(&Moments::of_rows(3, rows(&data[7..31]))).unwrap();
        merged.merge(&Moments::default()).unwrap();
        merged.merge(&Moments::of_rows(3, rows(&data[31..]))).unwrap();
        assert_eq!(merged.n, 50);
        for (a, b) in all.mean.iter().zip(&merged.mean) {
            assert!((a - b).abs() <= 1e-12 * a.abs().max(1.0), "{a} {b}");
        }
        for (a, b) in all.comoments().iter().zip(&merged.comoments()) {
            assert!((a - b).abs() <= 1e-9 * a.abs().max(1.0), "{a} {b}");
        }
    }

    #[test]
    fn batching_does_not_change_the_moments() {
        // Correlated values around 1e4 with a spread of ~1e-2, folded in
        // batches of two different sizes: compensated sums and a two-part
        // mean keep the results equal far below 1e-12.
        let d = 5;
        let mut state = 12345u64;
        let mut uniform = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        };
        let data: Vec<Vec<f64>> = (0..200_000)
            .map(|_| {
                let z: Vec<f64> = (0..d).map(|_| uniform()).collect();
                (0..d).map(|j| 1e4 + 1e-2 * (z[j] + 0.5 * z[(j + 1) % d] * j as f64)).collect()
            })
            .collect();
        let fold = |size: usize| {
            let mut m = Moments::default();
            for chunk in data.chunks(size) {
                m.merge(&Moments::of_rows(d, chunk.iter().map(|r| r.as_slice()))).unwrap();
            }
            m
        };
        let (a, b) = (fold(8192), fold(777));
        let (ca, cb) = (a.comoments(), b.comoments());
        for i in 0..d {
            for j in 0..d {
                let scale = (ca[i * d + i] * ca[j * d + j]).sqrt();
                let diff = (ca[i * d + j] - cb[i * d + j]).abs() / scale;
                assert!(diff < 1e-15, "co-moment ({i}, {j}) differs by {diff:e}");
            }
            let mean_diff = ((a.mean[i] + a.mean_err[i]) - (b.mean[i] + b.mean_err[i])).abs();
            assert!(mean_diff < 1e-14, "mean {i} differs by {mean_diff:e}");
        }
    }

    #[test]
    fn large_offset_small_spread_keeps_precision() {
        // Values 1e8 + {0, 1e-3, 2e-3, ...}: a naive sum of squares loses
        // every digit of the variance.
        let data: Vec<Vec<f64>> = (0..1000).map(|i| vec![1e8 + (i % 10) as f64 * 1e-3]).collect();
        let mut m = Moments::default();
        for chunk in data.chunks(128) {
            m.merge(&Moments::of_rows(1, rows(chunk))).unwrap();
        }
        let variance = m.comoments()[0] / m.n as f64;
        let exact = 8.25e-6; // population variance of {0..9} × 1e-3
        assert!((variance - exact).abs() < 1e-6 * exact + 1e-16, "{variance}");
    }

    #[test]
    fn orientation_rule() {
        let mut v = vec![-0.6, -0.8];
        orient(&mut v);
        assert_eq!(v, [0.6, 0.8]);
        let mut v = vec![0.5, -0.5, 0.7071, -0.7071];
        orient(&mut v);
        assert_eq!(v, [0.5, -0.5, 0.7071, -0.7071]);
        let mut v = vec![0.3, -0.7, 0.4];
        orient(&mut v); // sum 0: the largest magnitude (-0.7) turns positive
        assert_eq!(v, [-0.3, 0.7, -0.4]);
    }

    #[test]
    fn model_round_trips_through_its_struct_type() {
        let data: Vec<Vec<f64>> = (0..20).map(|i| vec![i as f64, (i * i) as f64 % 7.0, 3.0 - i as f64 * 0.5]).collect();
        let model = PcaModel::fit(&Moments::of_rows(3, rows(&data)), 2, true).unwrap();
        let array: ArrayRef = Arc::new(model.to_struct_array().unwrap());
        assert!(is_model_type(array.data_type()));
        let column = ModelColumn::try_new("t", &array).unwrap();
        let m = column.get("t", 0).unwrap().unwrap();
        assert_eq!((m.k, m.mean.len(), m.components.len()), (2, 3, 6));
        assert_eq!(m.components[..3], model.components[0][..]);
    }

    #[test]
    fn fit_errors_name_the_problem() {
        let one = vec![vec![1.0, 2.0]];
        let e = PcaModel::fit(&Moments::of_rows(2, rows(&one)), 1, true).unwrap_err().to_string();
        assert!(e.contains("at least 2 rows"), "{e}");
        let constant = vec![vec![1.0, 5.0], vec![2.0, 5.0], vec![3.0, 5.0]];
        let m = Moments::of_rows(2, rows(&constant));
        // A constant dimension is not an error: it is left unscaled and
        // takes no part in the first component.
        let model = PcaModel::fit(&m, 1, true).unwrap();
        assert_eq!(model.scale[1], 1.0);
        assert!(model.components[0][1].abs() < 1e-12, "{:?}", model.components);
        assert!(PcaModel::fit(&m, 1, false).is_ok());
        let e = PcaModel::fit(&m, 3, false).unwrap_err().to_string();
        assert!(e.contains("`k` = 3") && e.contains("1 <= k <= 2"), "{e}");
    }
}
