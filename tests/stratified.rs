//! ccs_select and cluster_balanced_sample against the published allocations
//! (`tests/support/stratified_reference.py`, written from the papers), on
//! 20,000 skewed, mostly negative scores with ties, and at one and four
//! partitions.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::datatypes::{Int32Type, Int64Type};
use odis::Engine;
use serde_json::Value;

fn fixtures() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| common::fixtures::generate("stratified_reference.py"))
}

fn expected() -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixtures().join("expected.json")).unwrap()).unwrap()
}

async fn engine(partitions: usize) -> Engine {
    let engine = Engine::builder().with_target_partitions(partitions).build().unwrap();
    let table = fixtures().join("scores.parquet");
    engine.sql(&format!("CREATE EXTERNAL TABLE scores STORED AS PARQUET LOCATION '{}'", table.display())).await.unwrap();
    engine
}

async fn query(engine: &Engine, sql: &str) -> Vec<RecordBatch> {
    engine.sql(sql).await.unwrap_or_else(|e| panic!("{sql}\n{e}"))
}

/// Rows selected per group (odis_dim), as a dense list of `groups` counts.
async fn per_group(engine: &Engine, from: &str, groups: usize) -> Vec<u64> {
    let batches = query(engine, &format!("SELECT odis_dim, count(*) FROM {from} GROUP BY odis_dim")).await;
    let mut counts = vec![0u64; groups];
    for b in &batches {
        let (dim, n) = (b.column(0).as_primitive::<Int32Type>(), b.column(1).as_primitive::<Int64Type>());
        for i in 0..b.num_rows() {
            counts[dim.value(i) as usize] = n.value(i) as u64;
        }
    }
    counts
}

fn budgets(case: &Value) -> Vec<u64> {
    case["budgets"].as_array().unwrap().iter().map(|b| b.as_u64().unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ccs_strata_budgets_equal_the_published_allocation() {
    let engine = engine(4).await;
    for case in expected()["ccs"].as_array().unwrap() {
        let (beta, strata, budget) = (case["beta"].as_f64().unwrap(), case["strata"].as_u64().unwrap(), case["budget"].as_u64().unwrap());
        let from = format!("ccs_select('scores', 'id', 'score', {budget}, 'beta={beta},strata={strata},seed=3,hard=low')");
        let want = budgets(case);
        assert_eq!(per_group(&engine, &from, strata as usize).await, want, "{from}");
        // Nothing at or below the last dropped row (score, then id).
        if let Some(last) = case["last_dropped"].as_array() {
            let (score, id) = (last[0].as_f64().unwrap(), last[1].as_i64().unwrap());
            let sql = format!("SELECT count(*) FROM {from} WHERE score < {score} OR (score = {score} AND id <= {id})");
            let below = query(&engine, &sql).await[0].column(0).as_primitive::<Int64Type>().value(0);
            assert_eq!(below, 0, "{from}: rows at or below the cut");
            // The cut falls inside a run of equal scores: ties were broken by id.
            let sql = format!("SELECT count(*) FROM scores WHERE score = {score} AND id > {id}");
            let tied = query(&engine, &sql).await[0].column(0).as_primitive::<Int64Type>().value(0);
            assert!(tied > 0, "the fixture should put the cut among ties");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_quotas_equal_the_published_rule_with_leftovers_passed_on() {
    let engine = engine(4).await;
    for case in expected()["kmq"].as_array().unwrap() {
        let budget = case["budget"].as_u64().unwrap();
        let want = budgets(case);
        let from = format!("cluster_balanced_sample('scores', 'id', 'cluster', 'score', {budget}, 9)");
        let got = per_group(&engine, &from, want.len()).await;
        assert_eq!(got, want, "{from}");
        assert_eq!(got.iter().sum::<u64>(), budget);
    }
}

/// Ids, groups and ranks, sorted, of each function.
async fn selections(engine: &Engine) -> BTreeMap<&'static str, Vec<(i64, i32, i64)>> {
    let mut out = BTreeMap::new();
    for (name, from) in [
        ("ccs", "ccs_select('scores', 'id', 'score', 0.1, 'seed=4,hard=low')"),
        ("kmq", "cluster_balanced_sample('scores', 'id', 'cluster', 'score', 2000, 4)"),
    ] {
        let batches = query(engine, &format!("SELECT id, odis_dim, odis_rank FROM {from} ORDER BY id")).await;
        let rows = batches
            .iter()
            .flat_map(|b| {
                let (id, dim, rank) =
                    (b.column(0).as_primitive::<Int64Type>(), b.column(1).as_primitive::<Int32Type>(), b.column(2).as_primitive::<Int64Type>());
                (0..b.num_rows()).map(|i| (id.value(i), dim.value(i), rank.value(i))).collect::<Vec<_>>()
            })
            .collect();
        out.insert(name, rows);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_rows_at_one_and_four_partitions() {
    let one = selections(&engine(1).await).await;
    let four = selections(&engine(4).await).await;
    assert_eq!(one["ccs"].len(), 2000);
    assert_eq!(one["kmq"].len(), 2000);
    assert_eq!(one, four);
}
