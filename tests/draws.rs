//! The random draws of the sampling functions against the distributions
//! they promise: `sample_by_average` and `cluster_balanced_sample` draw
//! without replacement with probability ∝ exp(quality), `ccs_select` and
//! `sample_uniform` uniformly (within each stratum for CCS).
//!
//! Rows fall into four classes, unrelated to the keys the functions hash.
//! For draws without replacement, the k-th draw of a group takes a class
//! with probability p = w·left / Σ w·left over the rows not drawn yet; the
//! count drawn of a class minus the sum of those p is then a martingale with
//! variance Σ p(1 − p). Each class's count must lie within 4 standard
//! deviations of its expectation (two-sided, about 6 in 100,000 for a
//! correct sampler; the seeds are fixed, so a pass is a pass every run). A
//! sampler that ignores the weights, or whose hash leaks the class (ids
//! modulo 4), is off by tens of deviations.

mod common;

use std::collections::BTreeMap;

use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::datatypes::Int64Type;
use odis::Engine;

/// Weights of the four classes (exp of the qualities the tables hold).
const WEIGHTS: [f64; 4] = [1.0, 2.0, 4.0, 8.0];

async fn query(engine: &Engine, sql: &str) -> Vec<RecordBatch> {
    engine.sql(sql).await.unwrap_or_else(|e| panic!("{sql}\n{e}"))
}

/// (group, rank, class) of every row drawn.
async fn draws(engine: &Engine, from: &str) -> Vec<(i64, i64, usize)> {
    let sql = format!("SELECT CAST(odis_dim AS BIGINT), odis_rank, CAST(id % 4 AS BIGINT) FROM {from}");
    let mut out = Vec::new();
    for b in query(engine, &sql).await {
        let (g, r, c) = (b.column(0).as_primitive::<Int64Type>(), b.column(1).as_primitive::<Int64Type>(), b.column(2).as_primitive::<Int64Type>());
        out.extend((0..b.num_rows()).map(|i| (g.value(i), r.value(i), c.value(i) as usize)));
    }
    out
}

/// Each class's deviation, in standard deviations, of the count drawn from
/// what draws without replacement by `weights` from `pools` (each group's
/// rows per class) give, the draws taken in rank order within their group.
fn deviations(picks: &[(i64, i64, usize)], pools: &BTreeMap<i64, [f64; 4]>, weights: [f64; 4]) -> [f64; 4] {
    let mut groups: BTreeMap<i64, Vec<(i64, usize)>> = BTreeMap::new();
    for &(g, rank, class) in picks {
        groups.entry(g).or_default().push((rank, class));
    }
    let (mut drawn, mut expected, mut variance) = ([0.0f64; 4], [0.0f64; 4], [0.0f64; 4]);
    for (g, mut picks) in groups {
        picks.sort_unstable();
        assert!(picks.iter().enumerate().all(|(i, p)| p.0 == i as i64 + 1), "group {g}: ranks are not 1..n");
        let mut left = *pools.get(&g).unwrap_or_else(|| panic!("a draw from group {g}, which has no rows"));
        for (_, class) in picks {
            let total: f64 = (0..4).map(|c| weights[c] * left[c]).sum();
            for c in 0..4 {
                let p = weights[c] * left[c] / total;
                expected[c] += p;
                variance[c] += p * (1.0 - p);
            }
            drawn[class] += 1.0;
            left[class] -= 1.0;
            assert!(left[class] >= 0.0, "group {g}: more rows of class {class} drawn than it has");
        }
    }
    std::array::from_fn(|c| (drawn[c] - expected[c]) / variance[c].sqrt().max(1e-12))
}

fn assert_within(name: &str, deviations: [f64; 4]) {
    assert!(deviations.iter().all(|d| d.abs() <= 4.0), "{name}: class counts off by {deviations:?} standard deviations");
}

async fn engine() -> Engine {
    let engine = Engine::builder().with_target_partitions(3).build().unwrap();
    // 40,000 rows, ten thousand of each class; quality ln(weight) of the
    // class; 500 clusters of 80 rows (20 of each class).
    engine
        .sql(
            "CREATE TABLE w AS SELECT value AS id, \
             ln(CAST(power(2, value % 4) AS DOUBLE)) AS q, [ln(CAST(power(2, value % 4) AS DOUBLE))] AS qs, \
             CAST((value / 4) % 500 AS INT) AS cluster, CAST(value AS DOUBLE) AS score \
             FROM generate_series(1, 40000)",
        )
        .await
        .unwrap();
    engine
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weighted_draws_follow_exp_quality() {
    let engine = engine().await;
    // One group of the whole table.
    let all: BTreeMap<i64, [f64; 4]> = [(0, [10_000.0; 4])].into();
    for seed in [1, 7] {
        let picks = draws(&engine, &format!("sample_by_average('w', 'id', 'qs', 3000, {seed})")).await;
        assert_eq!(picks.len(), 3000);
        assert_within(&format!("sample_by_average seed {seed}"), deviations(&picks, &all, WEIGHTS));
    }
    // 500 clusters, 8 draws each out of 20 rows a class.
    let clusters: BTreeMap<i64, [f64; 4]> = (0..500).map(|g| (g, [20.0; 4])).collect();
    for seed in [3, 4] {
        let picks = draws(&engine, &format!("cluster_balanced_sample('w', 'id', 'cluster', 'q', 4000, {seed})")).await;
        assert_eq!(picks.len(), 4000);
        assert_within(&format!("cluster_balanced_sample seed {seed}"), deviations(&picks, &clusters, WEIGHTS));
        // Weighted, not uniform: the uniform law is far off.
        let uniform = deviations(&picks, &clusters, [1.0; 4]);
        assert!(uniform.iter().any(|d| d.abs() > 10.0), "cluster_balanced_sample seed {seed}: draws look uniform {uniform:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uniform_draws_are_uniform_within_their_groups() {
    let engine = engine().await;
    let all: BTreeMap<i64, [f64; 4]> = [(0, [10_000.0; 4])].into();
    let picks = draws(&engine, "sample_uniform('w', 'id', 3000, 9)").await;
    assert_within("sample_uniform", deviations(&picks, &all, [1.0; 4]));
    // CCS without a cut: scores 1..40,000 in 10 strata of equal width hold
    // 4,000 rows each (1,000 a class); 300 drawn from each.
    let strata: BTreeMap<i64, [f64; 4]> = (0..10).map(|g| (g, [1000.0; 4])).collect();
    for seed in [2, 5] {
        let picks = draws(&engine, &format!("ccs_select('w', 'id', 'score', 3000, 'beta=0,strata=10,seed={seed},hard=low')")).await;
        assert_eq!(picks.len(), 3000);
        assert_within(&format!("ccs_select seed {seed}"), deviations(&picks, &strata, [1.0; 4]));
    }
}

/// The deviations catch what they are for: a draw by the wrong weights.
#[test]
fn the_test_tells_weighted_from_uniform() {
    // 400 draws of one class only, from equal pools: impossible uniformly.
    let pools: BTreeMap<i64, [f64; 4]> = [(0, [1000.0; 4])].into();
    let picks: Vec<(i64, i64, usize)> = (1..=400).map(|r| (0, r, 3)).collect();
    assert!(deviations(&picks, &pools, [1.0; 4])[3] > 20.0);
}
