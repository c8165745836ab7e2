//! k-means of embeddings: the training sample, seeded k-means++ and Lloyd
//! iterations, and the model `kmeans_fit` returns and `kmeans_assign` reads.
//!
//! The fit trains on a sample that does not depend on how the rows are
//! partitioned: the rows whose seeded hash of the vector is smallest, up to
//! `sample × k` of them (faiss trains on at most 256 points per centroid by
//! default: more adds time, not quality). Partial samples merge by keeping
//! the smallest hashes of their union, so the fit is an aggregate that runs
//! on executors and gives the same model at any partitioning.
//!
//! `metric=l2` is Lloyd's k-means (what scikit-learn's `KMeans` minimises:
//! the sum of squared Euclidean distances). `metric=cosine` is spherical
//! k-means (Dhillon and Modha 2001): vectors are normalised to unit length,
//! a row goes to the centroid of highest cosine similarity, and a centroid is
//! the normalised mean of its rows; the distance is 1 − cosine similarity.

use std::cmp::Ordering;
use std::fmt;

use ndarray::{Array2, ArrayView1, ArrayView2, Axis};

use crate::blas::sgemm_abt;
use crate::spec::{self, splitmix64};

/// k-means settings, from a spec string such as
/// `'metric=cosine,seed=1,sample=256,max_iter=100,tol=0.0001,n_init=3'`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KMeansSpec {
    pub metric: Metric,
    /// Seeds the sample, the initialisation and the relocation of empty
    /// clusters.
    pub seed: u64,
    /// Sample rows per centroid.
    pub sample: usize,
    pub max_iter: usize,
    /// Converged when the centroids move, in all, less than `tol` times the
    /// sample's mean variance per dimension (scikit-learn's rule).
    pub tol: f64,
    /// Runs from different initialisations; the one of least inertia wins.
    pub n_init: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    L2,
    Cosine,
}

impl Metric {
    pub fn name(self) -> &'static str {
        match self {
            Metric::L2 => "l2",
            Metric::Cosine => "cosine",
        }
    }

    pub fn parse(name: &str) -> Option<Metric> {
        match name {
            "l2" => Some(Metric::L2),
            "cosine" => Some(Metric::Cosine),
            _ => None,
        }
    }
}

impl Default for KMeansSpec {
    fn default() -> Self {
        KMeansSpec { metric: Metric::Cosine, seed: 1, sample: 256, max_iter: 100, tol: 1e-4, n_init: 1 }
    }
}

impl KMeansSpec {
    /// Parses a spec (see the type's docs); an empty spec is the default.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut out = KMeansSpec::default();
        for item in spec::items(spec, "metric=cosine,seed=1,sample=256") {
            let (key, value) = item?;
            let integer = |low: u64, high: u64| spec::integer(key, value, low, high);
            match key {
                "metric" => {
                    out.metric = Metric::parse(value).ok_or_else(|| format!("metric must be cosine or l2, got '{value}'"))?;
                }
                "seed" => out.seed = integer(0, u64::MAX)?,
                "sample" => out.sample = integer(1, 1 << 20)? as usize,
                "max_iter" => out.max_iter = integer(1, 100_000)? as usize,
                "n_init" => out.n_init = integer(1, 1000)? as usize,
                "tol" => {
                    out.tol = value
                        .parse::<f64>()
                        .ok()
                        .filter(|t| t.is_finite() && *t >= 0.0)
                        .ok_or_else(|| format!("tol must be a number >= 0, got '{value}'"))?;
                }
                other => {
                    return Err(format!("unknown key '{other}'; the keys are metric, seed, sample, max_iter, tol and n_init"));
                }
            }
        }
        Ok(out)
    }
}

impl fmt::Display for KMeansSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "metric={},seed={},sample={},max_iter={},tol={},n_init={}",
            self.metric.name(),
            self.seed,
            self.sample,
            self.max_iter,
            self.tol,
            self.n_init
        )
    }
}

/// A number in [0, 1) from the stream.
fn uniform(state: &mut u64) -> f64 {
    (splitmix64(state) >> 11) as f64 / (1u64 << 53) as f64
}

/// The rows of smallest seeded hash, up to a capacity: the same rows
/// whatever order they come in and however they are split and merged.
#[derive(Debug, Clone)]
pub struct Sample {
    pub capacity: usize,
    pub seed: u64,
    pub dims: Option<usize>,
    /// Every row the sample was drawn from.
    pub rows_seen: u64,
    pub hashes: Vec<u64>,
    /// Row-major, `dims` values a row.
    pub values: Vec<f32>,
    /// Once trimmed, the largest hash kept: a row hashed above it can never
    /// be among the smallest, and is not stored at all.
    floor: Option<u64>,
}

/// Rows over capacity the buffer holds before it is trimmed: a sixteenth,
/// so that a partial sample stays within 1.07x the sample's memory (at
/// k = 1024 and 384 dimensions a sample is 400 MB, and every partition
/// holds one) while each trim (linear) is paid by capacity / 16 rows.
const SLACK: usize = 16;

impl Sample {
    pub fn new(capacity: usize, seed: u64) -> Self {
        Sample { capacity, seed, dims: None, rows_seen: 0, hashes: Vec::new(), values: Vec::new(), floor: None }
    }

    /// Whether a row with this hash could still be kept.
    fn may_keep(&self, hash: u64) -> bool {
        self.floor.is_none_or(|floor| hash <= floor)
    }

    /// The row's hash: of its values' bits (little-endian), seeded.
    pub fn hash(&self, row: &[f32]) -> u64 {
        #[cfg(target_endian = "little")]
        {
            // SAFETY: any f32 is 4 initialised bytes; u8 has no alignment.
            let bytes = unsafe { std::slice::from_raw_parts(row.as_ptr().cast::<u8>(), 4 * row.len()) };
            xxhash_rust::xxh3::xxh3_64_with_seed(bytes, self.seed)
        }
        #[cfg(not(target_endian = "little"))]
        {
            let bytes: Vec<u8> = row.iter().flat_map(|v| v.to_bits().to_le_bytes()).collect();
            xxhash_rust::xxh3::xxh3_64_with_seed(&bytes, self.seed)
        }
    }

    /// Offers a row already hashed (`rows_seen` is the caller's to count).
    pub fn offer(&mut self, hash: u64, row: &[f32]) {
        if !self.may_keep(hash) {
            return;
        }
        let limit = self.capacity + self.capacity / SLACK;
        if self.hashes.capacity() == 0 {
            // Address space for the whole sample at once: pages are memory
            // only once rows are written to them, so a sample of 10 rows at
            // k = 1024 takes 10 rows of memory, not 400 MB, and the sample
            // is never copied to grow (doubling would hold the old and the
            // new buffer at once: 1.5x the sample at the last growth, in
            // every partition). [`Sample::memory`] counts what is written.
            self.hashes.reserve_exact(limit + 1);
            self.values.reserve_exact((limit + 1) * row.len());
        }
        self.hashes.push(hash);
        self.values.extend_from_slice(row);
        if self.hashes.len() > limit {
            self.trim();
        }
    }

    fn compare(&self, a: usize, b: usize) -> Ordering {
        let d = self.dims.unwrap_or(0);
        let (va, vb) = (&self.values[a * d..(a + 1) * d], &self.values[b * d..(b + 1) * d]);
        self.hashes[a].cmp(&self.hashes[b]).then_with(|| va.iter().map(|v| v.to_bits()).cmp(vb.iter().map(|v| v.to_bits())))
    }

    /// Keeps the `capacity` rows of smallest (hash, values), in place (in
    /// no particular order: [`Sample::sorted_rows`] gives them in order).
    pub fn trim(&mut self) {
        if self.hashes.len() <= self.capacity {
            return;
        }
        let d = self.dims.unwrap_or(0);
        let mut order: Vec<usize> = (0..self.hashes.len()).collect();
        order.select_nth_unstable_by(self.capacity, |&a, &b| self.compare(a, b));
        let mut keep = vec![false; self.hashes.len()];
        order[..self.capacity].iter().for_each(|&i| keep[i] = true);
        let mut kept = 0;
        for i in 0..self.hashes.len() {
            if keep[i] {
                self.hashes[kept] = self.hashes[i];
                self.values.copy_within(i * d..(i + 1) * d, kept * d);
                kept += 1;
            }
        }
        self.hashes.truncate(kept);
        self.values.truncate(kept * d);
        self.floor = self.hashes.iter().max().copied();
    }

    /// The rows, by (hash, values): an order that depends on the rows
    /// alone, whatever order they came in.
    pub fn sorted_rows(&self) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.hashes.len()).collect();
        order.sort_unstable_by(|&a, &b| self.compare(a, b));
        order
    }

    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    /// The bytes the sample's rows take (its buffers' untouched room is
    /// address space, not memory).
    pub fn memory(&self) -> usize {
        8 * self.hashes.len() + 4 * self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }
}

/// A fitted model.
#[derive(Debug, Clone, PartialEq)]
pub struct KMeansModel {
    pub metric: Metric,
    pub k: usize,
    pub dims: usize,
    /// Row-major k × dims; unit length under the cosine metric.
    pub centroids: Vec<f32>,
    /// The rows the fit read, and the sample it trained on.
    pub n_rows: u64,
    pub sample_rows: u64,
    /// The sample's inertia under the metric: squared distances (l2) or
    /// cosine distances summed.
    pub inertia: f64,
    pub iterations: u64,
}

/// The sample as a matrix in (hash, values) order, unit rows under the
/// cosine metric (a zero row has no direction and stays zero: it was
/// refused before). The rows are moved into order in place: the sample's
/// memory becomes the matrix's, never two copies of it.
fn prepared(sample: Sample, metric: Metric) -> Array2<f32> {
    let d = sample.dims.unwrap_or(0);
    let n = sample.len();
    let order = sample.sorted_rows();
    let mut values = sample.values;
    drop(sample.hashes);
    // Row i takes row order[i]: follow each cycle of the permutation once.
    let mut placed = vec![false; n];
    let mut held = vec![0f32; d];
    for start in 0..n {
        if placed[start] || order[start] == start {
            placed[start] = true;
            continue;
        }
        held.copy_from_slice(&values[start * d..(start + 1) * d]);
        let mut at = start;
        loop {
            placed[at] = true;
            let from = order[at];
            if from == start {
                values[at * d..(at + 1) * d].copy_from_slice(&held);
                break;
            }
            values.copy_within(from * d..(from + 1) * d, at * d);
            at = from;
        }
    }
    let mut x = Array2::from_shape_vec((n, d), values).expect("n × d values");
    if metric == Metric::Cosine {
        for mut row in x.rows_mut() {
            let norm = row.iter().map(|v| (*v as f64) * (*v as f64)).sum::<f64>().sqrt();
            if norm > 0.0 {
                row.mapv_inplace(|v| (v as f64 / norm) as f32);
            }
        }
    }
    x
}

/// Rows a block of the assignment step holds products for: bounds the
/// scratch at `BLOCK × k` floats.
const BLOCK: usize = 4096;

/// The exact score of `row` against centroid `c` (lower is nearer): the
/// squared distance for l2, minus the product for cosine, in f64 (a
/// product of two f32 is exact in f64).
fn exact_score(metric: Metric, row: ArrayView1<f32>, c: ArrayView1<f32>) -> f64 {
    match metric {
        Metric::L2 => row.iter().zip(c).map(|(a, b)| (*a as f64 - *b as f64).powi(2)).sum(),
        Metric::Cosine => -row.iter().zip(c).map(|(a, b)| *a as f64 * *b as f64).sum::<f64>(),
    }
}

/// Each row's best centroid and its distance, as exact (f64) distances
/// choose it; ties go to the lower centroid index.
///
/// Blocked f32 matrix products screen the centroids (l2: ‖c‖² − 2 x·c,
/// cosine: −x·c); their rounding error is bounded (a dot product of d terms
/// in f32 is off by at most d·u·‖x‖·‖c‖, u = 2⁻²⁴), so every centroid whose
/// screened score is within twice that bound of the best is scored again
/// exactly. On data far from the origin (an offset of 100 in 384
/// dimensions) the expanded f32 form alone picks another centroid than the
/// exact distance for one row in ten; with the check, none. On unit
/// vectors the bound is about 1e-4 and the check sees one or two centroids.
pub fn assign(x: ArrayView2<f32>, centroids: ArrayView2<f32>, metric: Metric, out: &mut Vec<(u32, f64)>) {
    out.clear();
    let norms: Vec<f32> = centroids.rows().into_iter().map(|c| c.dot(&c)).collect();
    let largest = centroids.rows().into_iter().map(|c| c.iter().map(|v| (*v as f64).powi(2)).sum::<f64>().sqrt()).fold(0.0, f64::max);
    let du = centroids.ncols() as f64 * f64::from(f32::EPSILON) / 2.0;
    let gamma = du / (1.0 - du).max(0.5);
    for block in x.axis_chunks_iter(Axis(0), BLOCK) {
        let products = sgemm_abt(block, centroids);
        for (row, dots) in block.rows().into_iter().zip(products.rows()) {
            let screened = |j: usize| match metric {
                Metric::L2 => norms[j] - 2.0 * dots[j],
                Metric::Cosine => -dots[j],
            };
            let best = (0..dots.len()).map(screened).fold(f32::INFINITY, f32::min) as f64;
            let length = row.iter().map(|v| (*v as f64).powi(2)).sum::<f64>().sqrt();
            // Each screened score's error, doubled for the f32 roundings of
            // ‖c‖² and of the sum; two scores' errors apart at most.
            let error = 2.0 * gamma * match metric {
                Metric::L2 => 2.0 * length * largest + largest * largest,
                Metric::Cosine => length * largest,
            } + f64::from(f32::EPSILON) * best.abs();
            let mut chosen = (0u32, f64::INFINITY);
            for j in 0..dots.len() {
                if (screened(j) as f64) <= best + 2.0 * error {
                    let score = exact_score(metric, row, centroids.row(j));
                    if score < chosen.1 {
                        chosen = (j as u32, score);
                    }
                }
            }
            let distance = match metric {
                Metric::L2 => chosen.1.max(0.0).sqrt(),
                Metric::Cosine => 1.0 + chosen.1,
            };
            out.push((chosen.0, distance));
        }
    }
}

/// What a row adds to the inertia at `distance`.
fn cost(metric: Metric, distance: f64) -> f64 {
    match metric {
        Metric::L2 => distance * distance,
        Metric::Cosine => distance,
    }
}

/// Seeded greedy k-means++ (Arthur and Vassilvitskii 2007, with
/// scikit-learn's local trials): the first centre uniformly; each next one
/// the best of `2 + ln k` candidates drawn with probability proportional to
/// their cost to the nearest centre so far, best being the one that lowers
/// the total cost most.
fn initial_centroids(x: ArrayView2<f32>, k: usize, metric: Metric, rng: &mut u64) -> Array2<f32> {
    let (n, d) = x.dim();
    let trials = 2 + (k as f64).ln() as usize;
    let mut centroids = Array2::<f32>::zeros((k, d));
    let first = ((uniform(rng) * n as f64) as usize).min(n - 1);
    centroids.row_mut(0).assign(&x.row(first));
    let squares: Vec<f64> = x.rows().into_iter().map(|r| r.iter().map(|v| (*v as f64).powi(2)).sum()).collect();
    // Each row's cost to the candidates `picks`: one matrix product.
    let costs = |picks: &[usize]| -> Array2<f64> {
        let chosen = x.select(Axis(0), picks);
        let products = sgemm_abt(x, chosen.view());
        Array2::from_shape_fn((n, picks.len()), |(i, j)| {
            let dot = products[[i, j]] as f64;
            match metric {
                Metric::L2 => (squares[i] - 2.0 * dot + squares[picks[j]]).max(0.0),
                Metric::Cosine => (1.0 - dot).max(0.0),
            }
        })
    };
    let mut nearest: Vec<f64> = costs(&[first]).column(0).to_vec();
    for c in 1..k {
        let total: f64 = nearest.iter().sum();
        let picks: Vec<usize> = (0..trials)
            .map(|_| {
                if total <= 0.0 {
                    // Every row sits on a centre already: any row will do.
                    return ((uniform(rng) * n as f64) as usize).min(n - 1);
                }
                let mut target = uniform(rng) * total;
                for (i, &w) in nearest.iter().enumerate() {
                    if target < w {
                        return i;
                    }
                    target -= w;
                }
                n - 1
            })
            .collect();
        let candidate = costs(&picks);
        let (mut best, mut best_total) = (0, f64::INFINITY);
        for j in 0..picks.len() {
            let total: f64 = nearest.iter().zip(candidate.column(j)).map(|(a, b)| a.min(*b)).sum();
            if total < best_total {
                (best, best_total) = (j, total);
            }
        }
        for (a, b) in nearest.iter_mut().zip(candidate.column(best)) {
            *a = a.min(*b);
        }
        centroids.row_mut(c).assign(&x.row(picks[best]));
    }
    centroids
}

/// One run of Lloyd's iterations from k-means++; returns the centroids, the
/// inertia and the iterations taken.
fn lloyd(x: ArrayView2<f32>, k: usize, spec: &KMeansSpec, rng: &mut u64, tolerance: f64) -> (Array2<f32>, f64, u64) {
    let (n, d) = x.dim();
    let mut centroids = initial_centroids(x, k, spec.metric, rng);
    let mut assigned = Vec::with_capacity(n);
    let mut iterations = 0;
    loop {
        assign(x, centroids.view(), spec.metric, &mut assigned);
        iterations += 1;
        let mut sums = vec![0f64; k * d];
        let mut counts = vec![0usize; k];
        for (row, &(c, _)) in x.rows().into_iter().zip(&assigned) {
            counts[c as usize] += 1;
            for (s, v) in sums[c as usize * d..(c as usize + 1) * d].iter_mut().zip(row) {
                *s += *v as f64;
            }
        }
        // An empty cluster takes the row farthest from its centroid (ties:
        // the lower row), as scikit-learn relocates them.
        let mut far: Vec<usize> = Vec::new();
        for c in 0..k {
            if counts[c] > 0 {
                continue;
            }
            if far.is_empty() {
                // Nearest first, so that pop() takes the farthest (of equals,
                // the lowest row).
                far = (0..n).collect();
                far.sort_by(|&a, &b| assigned[a].1.total_cmp(&assigned[b].1).then(b.cmp(&a)));
            }
            let Some(row) = far.pop() else { break };
            let from = assigned[row].0 as usize;
            if counts[from] > 1 {
                counts[from] -= 1;
                for (s, v) in sums[from * d..(from + 1) * d].iter_mut().zip(x.row(row)) {
                    *s -= *v as f64;
                }
            }
            counts[c] = 1;
            for (s, v) in sums[c * d..(c + 1) * d].iter_mut().zip(x.row(row)) {
                *s = *v as f64;
            }
        }
        let mut shift = 0.0;
        for c in 0..k {
            let mut mean: Vec<f64> = sums[c * d..(c + 1) * d].iter().map(|s| s / counts[c].max(1) as f64).collect();
            if spec.metric == Metric::Cosine {
                let norm = mean.iter().map(|v| v * v).sum::<f64>().sqrt();
                if norm > 0.0 {
                    mean.iter_mut().for_each(|v| *v /= norm);
                }
            }
            for (old, new) in centroids.row_mut(c).iter_mut().zip(&mean) {
                shift += (*old as f64 - new).powi(2);
                *old = *new as f32;
            }
        }
        if shift <= tolerance || iterations >= spec.max_iter as u64 {
            break;
        }
    }
    assign(x, centroids.view(), spec.metric, &mut assigned);
    let inertia = assigned.iter().map(|&(_, distance)| cost(spec.metric, distance)).sum();
    (centroids, inertia, iterations)
}

/// Fits `k` centroids to the sample: `n_init` seeded runs, the least
/// inertia winning (ties: the earlier run).
pub fn fit(sample: Sample, k: usize, spec: &KMeansSpec) -> Result<KMeansModel, String> {
    let d = sample.dims.unwrap_or(0);
    if sample.len() < k {
        return Err(format!(
            "k = {k} centroids need at least {k} rows with an embedding, got {}; lower k or give more rows",
            sample.len()
        ));
    }
    let (n_rows, sample_rows) = (sample.rows_seen, sample.len() as u64);
    let x = prepared(sample, spec.metric);
    // scikit-learn's tolerance: tol times the mean variance per dimension.
    let n = x.nrows() as f64;
    let variance: f64 = x
        .columns()
        .into_iter()
        .map(|c| {
            let mean = c.iter().map(|v| *v as f64).sum::<f64>() / n;
            c.iter().map(|v| (*v as f64 - mean).powi(2)).sum::<f64>() / n
        })
        .sum::<f64>()
        / d.max(1) as f64;
    let tolerance = spec.tol * variance;
    let mut rng = spec.seed ^ 0x6b6d_6561_6e73; // "kmeans": another stream than the sample's hash
    let mut best: Option<(Array2<f32>, f64, u64)> = None;
    for _ in 0..spec.n_init.max(1) {
        let run = lloyd(x.view(), k, spec, &mut rng, tolerance);
        if best.as_ref().is_none_or(|b| run.1 < b.1) {
            best = Some(run);
        }
    }
    let (centroids, inertia, iterations) = best.expect("at least one run");
    Ok(KMeansModel {
        metric: spec.metric,
        k,
        dims: d,
        centroids: centroids.into_raw_vec_and_offset().0,
        n_rows,
        sample_rows,
        inertia,
        iterations,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Points around `centres`, `per` each, with a little noise.
    fn blobs(centres: &[[f32; 2]], per: usize) -> Sample {
        let mut state = 3u64;
        let mut sample = Sample::new(10_000, 1);
        sample.dims = Some(2);
        for c in centres {
            for _ in 0..per {
                let row = [c[0] + (uniform(&mut state) as f32 - 0.5) * 0.2, c[1] + (uniform(&mut state) as f32 - 0.5) * 0.2];
                let hash = sample.hash(&row);
                sample.offer(hash, &row);
                sample.rows_seen += 1;
            }
        }
        sample.trim();
        sample
    }

    #[test]
    fn specs_parse_and_name_what_is_wrong() {
        assert_eq!(KMeansSpec::parse("").unwrap(), KMeansSpec::default());
        let spec = KMeansSpec::parse("metric=l2, seed=7,sample=64,max_iter=20,tol=0,n_init=10").unwrap();
        assert_eq!(spec, KMeansSpec { metric: Metric::L2, seed: 7, sample: 64, max_iter: 20, tol: 0.0, n_init: 10 });
        assert_eq!(KMeansSpec::parse(&spec.to_string()).unwrap(), spec);
        let err = |s: &str| KMeansSpec::parse(s).unwrap_err();
        assert!(err("metric=dot").contains("metric must be cosine or l2"));
        assert!(err("n_init=0").contains("n_init must be an integer from 1"));
        assert!(err("tol=-1").contains("tol must be a number >= 0"));
        assert!(err("k=3").contains("unknown key 'k'"));
        assert!(err("seed").contains("is not KEY=VALUE"));
    }

    #[test]
    fn finds_separated_blobs() {
        let centres = [[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]];
        let sample = blobs(&centres, 200);
        let model = fit(sample.clone(), 3, &KMeansSpec { metric: Metric::L2, ..KMeansSpec::default() }).unwrap();
        for c in centres {
            let found = model.centroids.chunks_exact(2).any(|m| (m[0] - c[0]).abs() < 0.1 && (m[1] - c[1]).abs() < 0.1);
            assert!(found, "no centroid near {c:?}: {:?}", model.centroids);
        }
        // Uniform noise of width 0.2 per axis: variance 0.2² / 12 each.
        let expected = 600.0 * 2.0 * 0.04 / 12.0;
        assert!((model.inertia - expected).abs() < 0.2 * expected, "{} vs {expected}", model.inertia);
    }

    /// The sample keeps the same rows whatever order they come in.
    #[test]
    fn the_sample_does_not_depend_on_order() {
        let rows: Vec<[f32; 3]> = (0..500).map(|i| [i as f32, (i * 7 % 13) as f32, 1.0]).collect();
        let take = |order: &mut dyn Iterator<Item = &[f32; 3]>| {
            let mut s = Sample::new(50, 9);
            s.dims = Some(3);
            for r in order {
                let h = s.hash(r);
                s.offer(h, r);
            }
            s.trim();
            s.sorted_rows().into_iter().flat_map(|i| s.values[i * 3..(i + 1) * 3].to_vec()).collect::<Vec<f32>>()
        };
        let forward = take(&mut rows.iter());
        assert_eq!(forward.len(), 150);
        assert_eq!(take(&mut rows.iter().rev()), forward);
    }

    /// Rows far from the origin, where ‖c‖² − 2x·c in f32 loses the
    /// digits that tell near centroids apart: the assignment is still the
    /// one exact distances give, for both metrics.
    #[test]
    fn assignment_equals_exact_distances_far_from_the_origin() {
        let (d, k, n) = (384, 64, 2000);
        let mut state = 42u64;
        let mut draw = |scale: f32| (crate::spec::splitmix64(&mut state) >> 40) as f32 / (1u64 << 24) as f32 * scale;
        // Rows and centroids of unit variance an offset of 100 away from
        // the origin: many rows have two centroids almost as near.
        let centroids = Array2::from_shape_fn((k, d), |_| 100.0 + draw(3.46));
        let x = Array2::from_shape_fn((n, d), |_| 100.0 + draw(3.46));
        for metric in [Metric::L2, Metric::Cosine] {
            let mut got = Vec::new();
            assign(x.view(), centroids.view(), metric, &mut got);
            let mut differ = 0;
            for (i, row) in x.rows().into_iter().enumerate() {
                let want = (0..k)
                    .map(|j| (j, exact_score(metric, row, centroids.row(j))))
                    .fold((0, f64::INFINITY), |best, (j, s)| if s < best.1 { (j, s) } else { best });
                differ += (got[i].0 as usize != want.0) as usize;
            }
            assert_eq!(differ, 0, "{metric:?}: {differ} of {n} rows assigned to another centroid than the nearest");
        }
        // The same rows screened in f32 alone disagree with the exact
        // distances on some of them: the case is one the check decides.
        let norms: Vec<f32> = centroids.rows().into_iter().map(|c| c.dot(&c)).collect();
        let products = sgemm_abt(x.view(), centroids.view());
        let screened_only = x.rows().into_iter().enumerate().filter(|(i, row)| {
            let fast = (0..k).fold((0, f32::INFINITY), |b, j| { let s = norms[j] - 2.0 * products[[*i, j]]; if s < b.1 { (j, s) } else { b } }).0;
            let exact = (0..k).map(|j| exact_score(Metric::L2, *row, centroids.row(j))).enumerate().fold((0, f64::INFINITY), |b, (j, s)| if s < b.1 { (j, s) } else { b }).0;
            fast != exact
        });
        assert!(screened_only.count() > 0, "the data does not test the exact check");
    }

    #[test]
    fn too_few_rows_for_k_is_an_error() {
        let sample = blobs(&[[0.0, 0.0]], 2);
        assert!(fit(sample, 3, &KMeansSpec::default()).unwrap_err().contains("need at least 3 rows"));
    }
}
