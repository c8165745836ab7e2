//! Rank-based scaling of score vectors (`quantile_fit`, `quantile_transform`):
//! each dimension is mapped onto its empirical CDF, so that every dimension
//! is uniform on [0, 1] before the PCA and no heavy or lopsided tail (a
//! rating where most documents score 1 and a few far less) decides what a
//! component's top documents are.
//!
//! The CDF comes from an exact-count histogram over an order-preserving key
//! of each value (the top 24 bits of its IEEE-754 total-order key: 4,096
//! bins per power of two), so the fit merges across partitions by adding
//! counts and does not depend on partitioning or row order. The model keeps
//! `knots` quantiles per dimension; values between two knots are placed
//! linearly, and a value that several knots equal (a point mass) gets the
//! middle of their range, as average ranks do for ties.

use std::collections::BTreeMap;

use datafusion::error::{DataFusionError, Result};

/// The order-preserving bin of a finite value.
pub fn bin_key(value: f64) -> u32 {
    let bits = value.to_bits();
    let ordered = if bits >> 63 == 1 { !bits } else { bits | (1 << 63) };
    (ordered >> 40) as u32
}

/// Per-dimension histograms: bin -> (count, smallest value seen in it).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Histograms {
    pub n: u64,
    pub bins: Vec<BTreeMap<u32, (u64, f64)>>,
}

impl Histograms {
    pub fn dims(&self) -> Option<usize> {
        (!self.bins.is_empty()).then_some(self.bins.len())
    }

    pub fn add_row(&mut self, row: &[f64]) {
        if self.bins.is_empty() {
            self.bins = vec![BTreeMap::new(); row.len()];
        }
        for (bins, &v) in self.bins.iter_mut().zip(row) {
            let entry = bins.entry(bin_key(v)).or_insert((0, v));
            entry.0 += 1;
            entry.1 = entry.1.min(v);
        }
        self.n += 1;
    }

    /// Adds one bin of dimension `dim` (from a partial state).
    pub fn add_bin(&mut self, dim: usize, key: u32, count: u64, min: f64) {
        let entry = self.bins[dim].entry(key).or_insert((0, min));
        entry.0 += count;
        entry.1 = entry.1.min(min);
    }

    /// `knots` quantiles per dimension at p = i / (knots - 1): the smallest
    /// value of the bin holding the ceil(p·n)-th smallest value.
    pub fn knots(&self, knots: usize) -> Vec<Vec<f64>> {
        self.bins
            .iter()
            .map(|bins| {
                let n: u64 = bins.values().map(|(c, _)| c).sum();
                let mut out = Vec::with_capacity(knots);
                let mut iter = bins.values();
                let (mut seen, mut current) = (0u64, None::<(u64, f64)>);
                for i in 0..knots {
                    let p = i as f64 / (knots - 1) as f64;
                    // 1-based position of the p-quantile, at least 1.
                    let target = ((p * n as f64).ceil() as u64).clamp(1, n.max(1));
                    while current.is_none_or(|(c, _)| seen + c < target) {
                        if let Some((c, _)) = current {
                            seen += c;
                        }
                        match iter.next() {
                            Some(&bin) => current = Some(bin),
                            None => break,
                        }
                    }
                    out.push(current.map_or(0.0, |(_, min)| min));
                }
                out
            })
            .collect()
    }
}

/// The position in [0, 1] of `x` among a dimension's knots.
pub fn transform(knots: &[f64], x: f64) -> f64 {
    let g = knots.len();
    if g < 2 {
        return 0.5;
    }
    let lo = knots.partition_point(|&k| k < x);
    let hi = knots.partition_point(|&k| k <= x);
    let last = (g - 1) as f64;
    if hi > lo {
        // x is a knot (maybe several): the middle of their range.
        return (lo + hi - 1) as f64 / 2.0 / last;
    }
    if lo == 0 {
        return 0.0;
    }
    if lo == g {
        return 1.0;
    }
    let (a, b) = (knots[lo - 1], knots[lo]);
    ((lo - 1) as f64 + (x - a) / (b - a)) / last
}

pub fn check_knots(function: &str, knots: i64) -> Result<usize> {
    if (3..=10_001).contains(&knots) {
        Ok(knots as usize)
    } else {
        Err(DataFusionError::Plan(format!(
            "{function}: `knots` must be between 3 and 10001, got {knots}; 101 (percentiles) is the default"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_preserve_order() {
        let values = [-1e300, -2.5, -1.0, -1e-300, -0.0, 0.0, 1e-300, 0.25, 0.5, 1.0, 3.0, 1e300];
        for w in values.windows(2) {
            assert!(bin_key(w[0]) <= bin_key(w[1]), "{} {}", w[0], w[1]);
        }
        assert!(bin_key(0.5) < bin_key(0.501), "4,096 bins per power of two");
    }

    fn fit(columns: &[Vec<f64>], knots: usize) -> Vec<Vec<f64>> {
        let mut h = Histograms::default();
        for i in 0..columns[0].len() {
            h.add_row(&columns.iter().map(|c| c[i]).collect::<Vec<_>>());
        }
        h.knots(knots)
    }

    #[test]
    fn uniform_values_map_to_their_ranks() {
        let values: Vec<f64> = (0..1001).map(|i| i as f64 / 1000.0).collect();
        let knots = fit(&[values.clone()], 101);
        for (i, v) in values.iter().enumerate() {
            let u = transform(&knots[0], *v);
            assert!((u - i as f64 / 1000.0).abs() < 0.011, "{v}: {u}");
        }
        // Monotone, and in [0, 1] beyond the knots.
        assert_eq!(transform(&knots[0], -5.0), 0.0);
        assert_eq!(transform(&knots[0], 5.0), 1.0);
    }

    #[test]
    fn a_point_mass_gets_its_average_rank() {
        // 30% of the values are below 1, 70% exactly 1 (a saturated rating).
        let values: Vec<f64> = (0..1000).map(|i| if i < 300 { i as f64 / 1000.0 } else { 1.0 }).collect();
        let knots = fit(&[values], 101);
        let u = transform(&knots[0], 1.0);
        assert!((u - 0.65).abs() < 0.01, "{u}");
        assert!(transform(&knots[0], 0.299) < 0.31);
    }

    #[test]
    fn merging_histograms_equals_one_fit() {
        let values: Vec<f64> = (0..500).map(|i| ((i * 7919) % 500) as f64 / 7.0).collect();
        let whole = fit(&[values.clone()], 11);
        let mut a = Histograms::default();
        let mut b = Histograms::default();
        for (i, v) in values.iter().enumerate() {
            if i % 3 == 0 { a.add_row(&[*v]) } else { b.add_row(&[*v]) }
        }
        for (key, (count, min)) in b.bins[0].clone() {
            a.add_bin(0, key, count, min);
        }
        assert_eq!(a.knots(11), whole);
    }
}
