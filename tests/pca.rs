//! pca_fit / pca_project against scikit-learn, on real tables bundled with
//! scikit-learn and a 1,000,000-row ill-conditioned synthetic table.
//!
//! `tests/support/pca_reference.py` writes the tables and sklearn's results;
//! they are cached under the build's temporary directory, keyed by the
//! script's contents.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{Float64Type, Int64Type};
use odis::Engine;
use odis::udfs::pca::decomposition::ModelColumn;
use serde_json::Value;

fn fixtures() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| common::fixtures::generate("pca_reference.py"))
}

fn expected_cases() -> Vec<Value> {
    let text = std::fs::read_to_string(fixtures().join("expected.json")).unwrap();
    let json: Value = serde_json::from_str(&text).unwrap();
    json["cases"].as_array().unwrap().clone()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
}

async fn query(engine: &Engine, sql: &str) -> Vec<RecordBatch> {
    engine.sql(sql).await.unwrap_or_else(|e| panic!("{sql}\n{e}"))
}

fn engine(partitions: usize) -> Engine {
    Engine::builder().with_target_partitions(partitions).build().unwrap()
}

/// |actual - expected| <= tol × max(|expected|, the largest |value| of its vector).
fn assert_close(what: &str, actual: &[f64], expected: &[f64], tol: f64) {
    assert_eq!(actual.len(), expected.len(), "{what}: length");
    let magnitude = expected.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        let bound = tol * e.abs().max(magnitude);
        assert!((a - e).abs() <= bound, "{what}[{i}]: {a} vs {e} (|diff| {} > {bound})", (a - e).abs());
    }
}

/// The fitted model as plain vectors.
struct Fitted {
    n_rows: u64,
    mean: Vec<f64>,
    scale: Vec<f64>,
    components: Vec<f64>,
    variance: Vec<f64>,
    ratio: Vec<f64>,
}

async fn fit(engine: &Engine, table: &str, k: u64, standardize: bool) -> Fitted {
    let batches = query(engine, &format!("SELECT pca_fit(x, {k}, {standardize}) AS model FROM '{table}'")).await;
    let column: &ArrayRef = batches[0].column(0);
    let models = ModelColumn::try_new("test", column).unwrap();
    let m = models.get("test", 0).unwrap().unwrap();
    Fitted {
        n_rows: m.n_rows,
        mean: m.mean.to_vec(),
        scale: m.scale.to_vec(),
        components: m.components.to_vec(),
        variance: m.explained_variance.to_vec(),
        ratio: m.explained_variance_ratio.to_vec(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matches_scikit_learn_on_real_and_synthetic_tables() {
    let dir = fixtures();
    let engine = engine(4);
    for case in expected_cases() {
        let name = case["name"].as_str().unwrap();
        let table = dir.join(case["table"].as_str().unwrap()).display().to_string();
        let (k, standardize) = (case["k"].as_u64().unwrap(), case["standardize"].as_bool().unwrap());
        let model = &case["model"];
        let fitted = fit(&engine, &table, k, standardize).await;
        assert_eq!(fitted.n_rows, model["n_rows"].as_u64().unwrap(), "{name}: n_rows");
        assert_close(&format!("{name} mean"), &fitted.mean, &floats(&model["mean"]), 1e-9);
        assert_close(&format!("{name} scale"), &fitted.scale, &floats(&model["scale"]), 1e-9);
        let expected_components: Vec<f64> = model["components"].as_array().unwrap().iter().flat_map(floats).collect();
        assert_close(&format!("{name} components"), &fitted.components, &expected_components, 1e-9);
        for (i, (a, e)) in fitted.variance.iter().zip(floats(&model["explained_variance"])).enumerate() {
            assert!((a - e).abs() <= 1e-9 * e.abs(), "{name} explained_variance[{i}]: {a} vs {e}");
        }
        for (i, (a, e)) in fitted.ratio.iter().zip(floats(&model["explained_variance_ratio"])).enumerate() {
            assert!((a - e).abs() <= 1e-9 * e.abs(), "{name} explained_variance_ratio[{i}]: {a} vs {e}");
        }

        let sql = format!(
            "WITH m AS (SELECT pca_fit(x, {k}, {standardize}) AS model FROM '{table}') \
             SELECT id, pca_project(x, m.model) AS pc FROM '{table}', m"
        );
        let mut projected: HashMap<i64, Option<Vec<f64>>> = HashMap::new();
        for batch in query(&engine, &sql).await {
            let ids = batch.column(0).as_primitive::<Int64Type>();
            let pcs = batch.column(1).as_list::<i32>();
            for row in 0..batch.num_rows() {
                let pc = pcs.is_valid(row).then(|| pcs.value(row).as_primitive::<Float64Type>().values().to_vec());
                projected.insert(ids.value(row), pc);
            }
        }
        let expected_rows = case["projections"].as_object().unwrap();
        let spread: Vec<f64> = floats(&model["explained_variance"]).iter().map(|v| v.sqrt()).collect();
        for (id, expected) in expected_rows {
            let id: i64 = id.parse().unwrap();
            let actual = projected[&id].as_ref().unwrap_or_else(|| panic!("{name}: row {id} projected to NULL"));
            // Scores are compared relative to each component's spread.
            for (c, (a, e)) in actual.iter().zip(floats(expected)).enumerate() {
                assert!((a - e).abs() <= 1e-9 * e.abs().max(spread[c]), "{name}: row {id} pc{c}: {a} vs {e}");
            }
        }
        // The invalid rows (NULL vector, NaN, inf) project to NULL.
        for invalid in case["invalid_ids"].as_array().unwrap() {
            let id = invalid.as_i64().unwrap();
            assert!(projected[&id].is_none(), "{name}: row {id} should project to NULL");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_model_whatever_partitions_and_file_split() {
    let dir = fixtures();
    let single = dir.join("synthetic.parquet").display().to_string();
    let split = format!("{}/", dir.join("synthetic_split").display());
    let reference = fit(&engine(1), &single, 4, true).await;
    for (partitions, table) in [(2, &single), (7, &single), (1, &split), (3, &split), (16, &split)] {
        let other = fit(&engine(partitions), table, 4, true).await;
        let what = format!("{partitions} partitions over {table}");
        assert_eq!(other.n_rows, reference.n_rows, "{what}");
        assert_close(&format!("{what}: mean"), &other.mean, &reference.mean, 1e-12);
        assert_close(&format!("{what}: scale"), &other.scale, &reference.scale, 1e-12);
        assert_close(&format!("{what}: components"), &other.components, &reference.components, 1e-12);
        assert_close(&format!("{what}: explained_variance"), &other.variance, &reference.variance, 1e-12);
    }
}
