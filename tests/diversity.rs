//! vendi_score against the Vendi Score authors' Python package, at one and
//! several partitions.
//!
//! `tests/support/vendi_reference.py` writes the embeddings and the
//! package's scores; they are cached under the build's temporary directory.

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use datafusion::arrow::array::AsArray;
use datafusion::arrow::datatypes::Float64Type;
use odis::Engine;
use serde_json::Value;

fn fixtures() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| common::fixtures::generate("vendi_reference.py"))
}

async fn vendi(engine: &Engine, table: &Path, q: &str) -> f64 {
    let sql = format!("SELECT vendi_score(v, {q}) FROM '{}'", table.display());
    let batches = engine.sql(&sql).await.unwrap_or_else(|e| panic!("{sql}\n{e}"));
    batches[0].column(0).as_primitive::<Float64Type>().value(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matches_the_vendi_score_package() {
    let dir = fixtures();
    let expected: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
    let cases = expected["cases"].as_object().unwrap();
    assert_eq!(cases.len(), 4);
    for partitions in [1, 3] {
        let engine = Engine::builder().with_target_partitions(partitions).build().unwrap();
        for (name, scores) in cases {
            let table = dir.join(format!("{name}.parquet"));
            for (q, sql_q) in [("1", "1"), ("2", "2"), ("0.5", "0.5"), ("inf", "'inf'")] {
                let want = scores[q].as_f64().unwrap();
                let got = vendi(&engine, &table, sql_q).await;
                let error = (got - want).abs() / want;
                assert!(error <= 1e-6, "{name}, q = {q}, {partitions} partitions: {got} vs {want} (relative {error:e})");
            }
            // The N x N kernel gives the same score where the package could afford it.
            if let Some(k1) = scores.get("K_1") {
                let got = vendi(&engine, &table, "1").await;
                assert!((got - k1.as_f64().unwrap()).abs() / got <= 1e-6, "{name}: dual vs kernel");
                let got = vendi(&engine, &table, "2").await;
                assert!((got - scores["K_2"].as_f64().unwrap()).abs() / got <= 1e-6, "{name}: dual vs kernel, q = 2");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_of_every_row_does_not_change_the_score() {
    // Diversity is about directions and their shares, not about N.
    let table = fixtures().join("gaussian_2000x32.parquet");
    let engine = Engine::new().unwrap();
    let once = vendi(&engine, &table, "1").await;
    let sql = format!(
        "SELECT vendi_score(v) FROM (SELECT v FROM '{0}' UNION ALL SELECT v FROM '{0}')",
        table.display()
    );
    let batches = engine.sql(&sql).await.unwrap();
    let twice = batches[0].column(0).as_primitive::<Float64Type>().value(0);
    assert!((once - twice).abs() / once < 1e-9, "{once} vs {twice}");
}
