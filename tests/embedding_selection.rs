//! semantic_duplicates, dpp_select and mig_select against references written from the
//! papers (`tests/support/embedding_reference.py`), and at one and four
//! partitions.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
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

/// SemDeDup against a reference that clusters the rows itself (scikit-learn's
/// KMeans, not odis's k-means): the pairs of copies found, as unordered
/// pairs, agree on 98% at least, whoever's clusters they were found in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn semdedup_finds_the_pairs_a_reference_with_its_own_clusters_finds() {
    let engine = engine(4).await;
    let expected: Value = serde_json::from_str(&std::fs::read_to_string(fixtures().join("expected.json")).unwrap()).unwrap();
    let case = &expected["semdedup_own_clusters"];
    let want: std::collections::BTreeSet<(i64, i64)> =
        case["pairs"].as_array().unwrap().iter().map(|p| (p[0].as_i64().unwrap(), p[1].as_i64().unwrap())).collect();
    let spec = format!("eps={},clusters={},order=far", case["eps"], case["clusters"]);
    let got: std::collections::BTreeSet<(i64, i64)> =
        odis_duplicates(&engine, &spec).await.into_keys().map(|(a, b)| (a.min(b), a.max(b))).collect();
    let both = got.intersection(&want).count() as f64;
    println!("{spec}: odis {} pairs, the reference {}, {} in both", got.len(), want.len(), both);
    assert!(want.len() >= 330, "the reference should find the 330 injected copies, found {}", want.len());
    assert!(both >= 0.98 * want.len() as f64 && both >= 0.98 * got.len() as f64, "odis {} pairs, the reference {}, {both} in both", got.len(), want.len());
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
    // The narrow table's kernel has rank 8: a budget of 20 takes three
    // rounds of the greedy (8, 8 and 4 picks) and is filled.
    assert!(expected["dpp"].as_array().unwrap().iter().any(|c| c["table"] == "narrow" && c["picks"].as_array().unwrap().len() == 20));
}

/// MIG's greedy in Python over the labels, qualities and centroids of
/// `rows` (a query giving id, label, quality) and `centroids` (a query
/// giving one centroid a row, or none); (id, label, gain) in pick order.
async fn reference_mig(engine: &Engine, rows: &str, centroids: Option<&str>, budget: usize, spec: (f64, f64, f64)) -> Vec<(i64, i64, f64)> {
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("rows.parquet");
    query(engine, &format!("COPY ({rows}) TO '{}'", table.display())).await;
    let mut vectors: Vec<Vec<f32>> = Vec::new();
    if let Some(sql) = centroids {
        for b in query(engine, sql).await {
            let list = b.column(0).as_list::<i32>();
            for i in 0..list.len() {
                vectors.push(list.value(i).as_primitive::<datafusion::arrow::datatypes::Float32Type>().values().to_vec());
            }
        }
    }
    let (threshold, weight, exponent) = spec;
    // The graph must link some labels, or the case tests no propagation.
    let dot = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum::<f64>();
    let links = (0..vectors.len()).flat_map(|a| (0..a).map(move |b| (a, b))).filter(|&(a, b)| dot(&vectors[a], &vectors[b]) >= threshold).count();
    assert!(centroids.is_none() || links > 0, "no two centroids are linked at {threshold}");
    let centroids = dir.path().join("centroids.json");
    std::fs::write(&centroids, serde_json::to_string(&vectors).unwrap()).unwrap();
    let out = dir.path().join("picks.json");
    let script = common::repo_root().join("tests/support/embedding_reference.py");
    let status = std::process::Command::new(common::python())
        .arg(&script)
        .args(["--mig", &table.display().to_string(), &centroids.display().to_string(), &budget.to_string()])
        .args([threshold.to_string(), weight.to_string(), exponent.to_string(), out.display().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    serde_json::from_str(&std::fs::read_to_string(out).unwrap()).unwrap()
}

/// odis's MIG picks as (id, label, gain), in pick order: gains only shrink
/// as the greedy goes, so the order is by gain, descending.
async fn odis_mig(engine: &Engine, from: &str) -> Vec<(i64, i64, f64)> {
    let batches = query(engine, &format!("SELECT id, odis_dim, odis_score FROM {from} ORDER BY odis_score DESC")).await;
    let (ids, labels) = (int_column(&batches, 0), batches.iter().flat_map(|b| b.column(1).as_primitive::<datafusion::arrow::datatypes::Int32Type>().values().to_vec()));
    let gains = batches.iter().flat_map(|b| b.column(2).as_primitive::<Float64Type>().values().to_vec());
    ids.into_iter().zip(labels).zip(gains).map(|((id, label), gain)| (id, label as i64, gain)).collect()
}

fn assert_same_picks(got: &[(i64, i64, f64)], want: &[(i64, i64, f64)], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (step, (g, w)) in got.iter().zip(want).enumerate() {
        assert_eq!((g.0, g.1), (w.0, w.1), "{what}: pick {step}");
        assert!((g.2 - w.2).abs() <= 1e-9 * w.2.abs(), "{what}: pick {step}: gain {} vs {}", g.2, w.2);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mig_picks_equal_an_independent_greedy() {
    let engine = engine(4).await;
    engine.sql("CREATE VIEW mq AS SELECT id, v, exp(q) AS w FROM vectors").await.unwrap();
    // k-means labels, the graph from their centroids (the settings mig_select
    // fits with: spherical, 64 training rows a centroid, seed 1).
    let model = "(SELECT kmeans_fit(v, 20, 'metric=cosine,seed=1,sample=64') FROM mq)";
    let rows = format!("SELECT id, CAST(kmeans_assign(v, {model})['cluster'] AS BIGINT) AS label, w AS quality FROM mq");
    let centroids = format!("SELECT unnest(m['centroids']) FROM (SELECT {model} AS m)");
    let want = reference_mig(&engine, &rows, Some(&centroids), 400, (0.3, 1.0, 0.8)).await;
    let got = odis_mig(&engine, "mig_select('mq', 'id', 'v', 'w', 400, 'clusters=20,threshold=0.3')").await;
    assert_same_picks(&got, &want, "k-means labels");
    // Integer labels, one holding most rows: its candidate list must grow
    // past the first pass's (2 x 1,200 / 30 + 256 rows).
    engine.sql("CREATE VIEW lq AS SELECT id, CASE WHEN id % 3 = 0 THEN id % 29 + 1 ELSE 0 END AS lab, exp(q) AS w FROM vectors").await.unwrap();
    let want = reference_mig(&engine, "SELECT id, CAST(lab AS BIGINT) AS label, w AS quality FROM lq", None, 1200, (0.9, 1.0, 0.8)).await;
    let got = odis_mig(&engine, "mig_select('lq', 'id', 'lab', 'w', 1200)").await;
    assert_same_picks(&got, &want, "label column");
    let from_zero = want.iter().filter(|p| p.1 == 0).count();
    assert!(from_zero > 336, "label 0 gave {from_zero} picks: the case should need a second pass");
}

/// Every function's rows, sorted, at a given partitioning.
async fn answers(engine: &Engine) -> Vec<Vec<i64>> {
    let mut out = Vec::new();
    for sql in [
        "SELECT id, duplicate_of FROM semantic_duplicates('vectors', 'id', 'v', 'clusters=12') ORDER BY id",
        "SELECT id, odis_dim, odis_rank FROM dpp_select('vectors', 'id', 'v', 'q', 300, 'clusters=10,pool=3') ORDER BY id",
        "SELECT id, odis_dim, odis_rank FROM mig_select('vectors', 'id', 'v', 'q', 300, 'clusters=10,threshold=0.3') ORDER BY id",
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
