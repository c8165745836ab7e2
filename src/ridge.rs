//! Ridge regression in closed form, with the penalty chosen on held-out rows:
//! the per-component heads `odis train` puts on a frozen encoder.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};
use ndarray_linalg::SolveH;

use crate::error::{OdisError, Result};

/// The penalties tried, as multiples of the mean squared feature norm (so
/// the grid fits any scale of embeddings).
pub const PENALTIES: [f64; 9] = [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0];

/// `y ≈ x · weights + bias`.
#[derive(Debug, Clone)]
pub struct Ridge {
    pub weights: Array1<f64>,
    pub bias: f64,
}

impl Ridge {
    /// Fits with penalty `lambda` on centred data (the bias is not penalised).
    pub fn fit(x: ArrayView2<f64>, y: ArrayView1<f64>, lambda: f64) -> Result<Self> {
        let x_mean = x.mean_axis(Axis(0)).ok_or_else(|| OdisError::InvalidArgument("ridge: no rows to fit".into()))?;
        let y_mean = y.mean().unwrap_or(0.0);
        let xc = &x - &x_mean;
        let yc = &y - y_mean;
        let mut gram: Array2<f64> = xc.t().dot(&xc);
        for i in 0..gram.nrows() {
            gram[[i, i]] += lambda;
        }
        let rhs = xc.t().dot(&yc);
        let weights = gram
            .solveh(&rhs)
            .map_err(|e| OdisError::InvalidArgument(format!("ridge: the penalised normal equations have no solution ({e})")))?;
        let bias = y_mean - x_mean.dot(&weights);
        Ok(Ridge { weights, bias })
    }

    pub fn predict(&self, x: ArrayView2<f64>) -> Array1<f64> {
        x.dot(&self.weights) + self.bias
    }
}

/// The coefficient of determination of `predicted` against `actual`.
pub fn r2(actual: ArrayView1<f64>, predicted: ArrayView1<f64>) -> f64 {
    let mean = actual.mean().unwrap_or(0.0);
    let total: f64 = actual.iter().map(|a| (a - mean).powi(2)).sum();
    let residual: f64 = actual.iter().zip(predicted).map(|(a, p)| (a - p).powi(2)).sum();
    if total == 0.0 { 0.0 } else { 1.0 - residual / total }
}

/// A head chosen on held-out rows and refitted on all rows.
#[derive(Debug, Clone)]
pub struct Chosen {
    pub ridge: Ridge,
    pub lambda: f64,
    /// R² on the held-out rows of the model fitted on the training rows.
    pub holdout_r2: f64,
}

/// Picks the penalty with the best held-out R², then refits on every row.
pub fn choose(x_train: ArrayView2<f64>, y_train: ArrayView1<f64>, x_hold: ArrayView2<f64>, y_hold: ArrayView1<f64>) -> Result<Chosen> {
    let scale = x_train.rows().into_iter().map(|r| r.dot(&r)).sum::<f64>() / x_train.nrows().max(1) as f64;
    let mut best: Option<(f64, f64)> = None;
    for factor in PENALTIES {
        let lambda = factor * scale.max(1e-12);
        let model = Ridge::fit(x_train, y_train, lambda)?;
        let score = r2(y_hold, model.predict(x_hold).view());
        if best.is_none_or(|(_, s)| score > s) {
            best = Some((lambda, score));
        }
    }
    let (lambda, holdout_r2) = best.expect("the grid is not empty");
    let x = ndarray::concatenate(Axis(0), &[x_train, x_hold]).map_err(|e| OdisError::InvalidArgument(e.to_string()))?;
    let y = ndarray::concatenate(Axis(0), &[y_train, y_hold]).map_err(|e| OdisError::InvalidArgument(e.to_string()))?;
    Ok(Chosen {
        ridge: Ridge::fit(x.view(), y.view(), lambda)?,
        lambda,
        holdout_r2,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn recovers_a_linear_map() {
        let x = array![[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [2.0, 1.0], [3.0, -1.0], [-1.0, 2.0]];
        let y = x.dot(&array![2.0, -3.0]) + 0.5;
        let model = Ridge::fit(x.view(), y.view(), 1e-9).unwrap();
        assert!((model.weights[0] - 2.0).abs() < 1e-6 && (model.weights[1] + 3.0).abs() < 1e-6);
        assert!((model.bias - 0.5).abs() < 1e-6);
        assert!((r2(y.view(), model.predict(x.view()).view()) - 1.0).abs() < 1e-9);
    }

    #[test]
    fn a_larger_penalty_shrinks_the_weights() {
        let x = array![[1.0, 2.0], [2.0, 1.0], [3.0, 5.0], [4.0, 3.0]];
        let y = array![1.0, 2.0, 2.5, 4.0];
        let small = Ridge::fit(x.view(), y.view(), 1e-6).unwrap();
        let large = Ridge::fit(x.view(), y.view(), 1e3).unwrap();
        assert!(large.weights.dot(&large.weights) < small.weights.dot(&small.weights));
    }
}
