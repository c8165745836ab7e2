//! semantic_duplicates and dpp_select against references written from the
//! papers (`tests/support/embedding_reference.py`), and at one and four
//! partitions.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::datatypes::{Float64Type, Int64Type};
use odis::Engine;
use serde_json::Value;

fn fixtures() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| common::fixtures::generate("embedding_reference.py"))
}

async fn engine(partitions: usize) -> Engine {
    let engine = Engine::builder().with_target_partitions(partitions).build().unwrap();
    for name in ["vectors", "small", "narrow"] {
        let path = fixtures().join(format!("{name}.parquet"));
        engine.sql(&format!("CREATE EXTERNAL TABLE {name} STORED AS PARQUET LOCATION '{}'", path.display())).await.unwrap();
    }
    engine
}

async fn query(engine: &Engine, sql: &str) -> Vec<RecordBatch> {
    engine.sql(sql).await.unwrap_or_else(|e| panic!("{sql}\n{e}"))
}

fn int_column(batches: &[RecordBatch], column: usize) -> Vec<i64> {
    batches.iter().flat_map(|b| b.column(column).as_primitive::<Int64Type>().values().to_vec()).collect()
}

/// (id, duplicate_of) -> similarity.
type Duplicates = BTreeMap<(i64, i64), f64>;

async fn odis_duplicates(engine: &Engine, spec: &str) -> Duplicates {
    let batches = query(engine, &format!("SELECT id, duplicate_of, similarity FROM semantic_duplicates('vectors', 'id', 'v', '{spec}')")).await;
    let (ids, of) = (int_column(&batches, 0), int_column(&batches, 1));
    let sims = batches.iter().flat_map(|b| b.column(2).as_primitive::<Float64Type>().values().to_vec());
    ids.into_iter().zip(of).zip(sims).collect()
}

/// SemDeDup's rule in Python over the clusters and distances odis assigns
/// with the k-means settings semantic_duplicates uses (spherical, 64
/// training rows a centroid, seed 1).
async fn reference_duplicates(engine: &Engine, clusters: u64, eps: f64, order: &str) -> Duplicates {
    let dir = tempfile::tempdir().unwrap();
    let clustered = dir.path().join("clustered.parquet");
    let sql = format!(
        "COPY (SELECT id, a['cluster'] AS cluster, a['distance'] AS distance, v FROM (
           SELECT id, v, kmeans_assign(v, (SELECT kmeans_fit(v, {clusters}, 'metric=cosine,seed=1,sample=64') FROM vectors)) AS a FROM vectors))
         TO '{}'",
        clustered.display()
    );
    query(engine, &sql).await;
    let out = dir.path().join("expected.json");
    let script = common::repo_root().join("tests/support/embedding_reference.py");
    let status = std::process::Command::new(common::python())
        .arg(&script)
        .args(["--semdedup", &clustered.display().to_string(), &eps.to_string(), order, &out.display().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let rows: Vec<(i64, i64, f64)> = serde_json::from_str(&std::fs::read_to_string(out).unwrap()).unwrap();
    rows.into_iter().map(|(id, of, sim)| ((id, of), sim)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn semdedup_drops_what_the_published_rule_drops() {
    let engine = engine(4).await;
    for (clusters, eps, order) in [(12, 0.05, "far"), (12, 0.05, "near"), (3, 0.2, "far")] {
        let spec = format!("eps={eps},clusters={clusters},order={order}");
        let (got, want) = (odis_duplicates(&engine, &spec).await, reference_duplicates(&engine, clusters, eps, order).await);
        println!("{spec}: odis {} duplicates, reference {}", got.len(), want.len());
        // Similarities are f32 products here and f64 in the reference: a
        // pair within 1e-5 of the threshold may fall either side.
        let threshold = 1.0 - eps;
        for (pair, sim) in got.iter().filter(|(p, _)| !want.contains_key(p)) {
            assert!((sim - threshold).abs() < 1e-5, "{spec}: odis alone has {pair:?} at {sim}");
        }
        for (pair, sim) in want.iter().filter(|(p, _)| !got.contains_key(p)) {
            assert!((sim - threshold).abs() < 1e-5, "{spec}: the reference alone has {pair:?} at {sim}");
        }
        for (pair, sim) in &got {
            if let Some(w) = want.get(pair) {
                assert!((sim - w).abs() < 1e-5, "{spec}: {pair:?}: {sim} vs {w}");
            }
        }
        assert!(got.len() >= 330, "{spec}: the 330 injected copies should all be found, got {}", got.len());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dpp_greedy_order_equals_an_independent_greedy_map() {
    let engine = engine(4).await;
    let expected: Value = serde_json::from_str(&std::fs::read_to_string(fixtures().join("expected.json")).unwrap()).unwrap();
    for case in expected["dpp"].as_array().unwrap() {
        let (table, theta, budget, pool) =
            (case["table"].as_str().unwrap(), case["theta"].as_f64().unwrap(), case["budget"].as_u64().unwrap(), case["pool"].as_u64().unwrap());
        let want: Vec<i64> = case["picks"].as_array().unwrap().iter().map(|p| p.as_i64().unwrap()).collect();
        let sql = format!("SELECT id FROM dpp_select('{table}', 'id', 'v', 'q', {budget}, 'theta={theta},pool={pool}') ORDER BY odis_rank");
        let got = int_column(&query(&engine, &sql).await, 0);
        assert_eq!(got, want, "{sql}");
    }
    // The narrow table's kernel has rank 8: eight picks for a budget of 20.
    assert!(expected["dpp"].as_array().unwrap().iter().any(|c| c["table"] == "narrow" && c["picks"].as_array().unwrap().len() == 8));
}

/// Every function's rows, sorted, at a given partitioning.
async fn answers(engine: &Engine) -> Vec<Vec<i64>> {
    let mut out = Vec::new();
    for sql in [
        "SELECT id, duplicate_of FROM semantic_duplicates('vectors', 'id', 'v', 'clusters=12') ORDER BY id",
        "SELECT id, odis_dim, odis_rank FROM dpp_select('vectors', 'id', 'v', 'q', 300, 'clusters=10,pool=3') ORDER BY id",
    ] {
        let batches = query(engine, sql).await;
        let mut rows = int_column(&batches, 0);
        assert!(!rows.is_empty(), "{sql}");
        for column in 1..batches[0].num_columns() {
            let values: Vec<i64> = batches
                .iter()
                .flat_map(|b| datafusion::arrow::compute::cast(b.column(column), &datafusion::arrow::datatypes::DataType::Int64).unwrap().as_primitive::<Int64Type>().values().to_vec())
                .collect();
            rows.extend(values);
        }
        out.push(rows);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_rows_at_one_and_four_partitions() {
    let one = answers(&engine(1).await).await;
    let four = answers(&engine(4).await).await;
    assert_eq!(one, four);
    // 10 clusters of 32-wide embeddings: up to 32 picks each, 300 in all.
    assert_eq!(one[1].len(), 3 * 300);
}
