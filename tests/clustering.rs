//! kmeans_fit and kmeans_assign against scikit-learn's KMeans, and at one
//! and several partitions.
//!
//! `tests/support/kmeans_reference.py` writes the vectors and
//! scikit-learn's inertias; they are cached under the build's temporary
//! directory.

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::{Float64Type, UInt32Type};
use datafusion::arrow::util::pretty::pretty_format_batches;
use odis::Engine;
use serde_json::Value;

fn fixtures() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| common::fixtures::generate("kmeans_reference.py"))
}

/// The inertia over every row of `table` of a model fitted with `spec`.
async fn inertia(engine: &Engine, table: &Path, k: u64, spec: &str) -> f64 {
    let table = table.display();
    engine.sql(&format!("CREATE OR REPLACE TABLE m AS SELECT kmeans_fit(v, {k}, '{spec}') AS model FROM '{table}'")).await.unwrap();
    let sql = format!(
        "SELECT sum(a['distance'] * a['distance']) FROM (SELECT kmeans_assign(v, (SELECT model FROM m)) AS a FROM '{table}')"
    );
    let batches = engine.sql(&sql).await.unwrap_or_else(|e| panic!("{sql}\n{e}"));
    batches[0].column(0).as_primitive::<Float64Type>().value(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inertia_within_2_percent_of_scikit_learn() {
    let dir = fixtures();
    let expected: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
    let cases = expected["cases"].as_object().unwrap();
    assert_eq!(cases.len(), 3);
    let engine = Engine::new().unwrap();
    for (name, case) in cases {
        let (k, want) = (case["k"].as_u64().unwrap(), case["inertia"].as_f64().unwrap());
        let got = inertia(&engine, &dir.join(format!("{name}.parquet")), k, "metric=l2,n_init=10").await;
        let ratio = got / want;
        println!("{name}: odis {got:.3}, scikit-learn {want:.3}, ratio {ratio:.4}");
        assert!(ratio <= 1.02, "{name}: inertia {got} is more than 2% above scikit-learn's {want}");
        // Far below would mean the two measure different things.
        assert!(ratio >= 0.95, "{name}: inertia {got} vs scikit-learn's {want}");
    }
}

/// The spherical (cosine) k-means every embedding method uses, against two
/// independent fits on the normalised rows (scikit-learn's KMeans scored
/// spherically, and a spherical k-means in NumPy): its objective, the sum
/// of 1 − cosine similarity to the assigned centroid, within 2% of theirs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cosine_objective_within_2_percent_of_independent_spherical_fits() {
    let dir = fixtures();
    let expected: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
    let engine = Engine::new().unwrap();
    for (name, case) in expected["cases"].as_object().unwrap() {
        let (k, want) = (case["k"].as_u64().unwrap(), case["cosine"].as_f64().unwrap());
        let table = dir.join(format!("{name}.parquet")).display().to_string();
        engine.sql(&format!("CREATE OR REPLACE TABLE m AS SELECT kmeans_fit(v, {k}, 'metric=cosine,n_init=10') AS model FROM '{table}'")).await.unwrap();
        let sql = format!("SELECT sum(a['distance']) FROM (SELECT kmeans_assign(v, (SELECT model FROM m)) AS a FROM '{table}')");
        let got = engine.sql(&sql).await.unwrap()[0].column(0).as_primitive::<Float64Type>().value(0);
        let ratio = got / want;
        println!("{name}: odis {got:.4}, independent spherical fits {want:.4}, ratio {ratio:.4}");
        assert!(ratio <= 1.02, "{name}: cosine objective {got} is more than 2% above the reference's {want}");
        assert!(ratio >= 0.9, "{name}: cosine objective {got} vs the reference's {want}");
    }
}

/// The same model, to the bit, and so the same clusters at 1 and 4
/// partitions (the sample is the rows of smallest hash, whatever the split).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_clusters_at_any_partitioning() {
    let table = fixtures().join("overlap_4000x64_k40.parquet");
    let mut seen = Vec::new();
    for partitions in [1, 4] {
        let engine = Engine::builder().with_target_partitions(partitions).build().unwrap();
        let sql = format!(
            "WITH m AS (SELECT kmeans_fit(v, 40, 'sample=32') AS model FROM '{0}')
             SELECT model FROM m",
            table.display()
        );
        let model = pretty_format_batches(&engine.sql(&sql).await.unwrap()).unwrap().to_string();
        let sql = format!(
            "SELECT id, kmeans_assign(v, (SELECT kmeans_fit(v, 40, 'sample=32') FROM '{0}'))['cluster'] AS c FROM '{0}' ORDER BY id",
            table.display()
        );
        let batches = engine.sql(&sql).await.unwrap();
        let clusters: Vec<u32> =
            batches.iter().flat_map(|b| b.column(1).as_primitive::<UInt32Type>().values().to_vec()).collect();
        assert_eq!(clusters.len(), 4000);
        assert!(batches.iter().all(|b| b.column(1).null_count() == 0));
        seen.push((model, clusters));
    }
    assert_eq!(seen[0], seen[1]);
    // 32 rows a centroid: a sample of 1,280 of the 4,000 rows.
    assert!(seen[0].0.contains("sample_rows: 1280"), "{}", seen[0].0);
}

/// all-MiniLM-L6-v2 embeddings of the bundled corpus (`scripts/setup.sh
/// --models`, or ODIS_MINILM=DIR), clustered by odis and by scikit-learn.
/// Opt-in: `cargo test --test clustering -- --ignored`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs all-MiniLM-L6-v2: scripts/setup.sh --models"]
async fn minilm_embeddings_within_2_percent_of_scikit_learn() {
    let model = std::env::var_os("ODIS_MINILM")
        .map(PathBuf::from)
        .unwrap_or_else(|| odis::udfs::score::runtime::odis_home().join("models/minilm"));
    assert!(model.join("model.onnx").exists(), "{}: no model.onnx; run scripts/setup.sh --models", model.display());
    let out = tempfile::tempdir().unwrap();
    let table = out.path().join("embeddings.parquet");
    let engine = Engine::new().unwrap();
    engine.register_model("minilm", &model).unwrap();
    let corpus = common::repo_root().join("sql/data/corpus.parquet");
    let sql = format!(
        "COPY (SELECT id, odis_score(text, 'minilm') AS v FROM (SELECT id, text FROM '{}' WHERE length(text) > 200 ORDER BY id LIMIT 1500))
         TO '{}' STORED AS PARQUET",
        corpus.display(),
        table.display()
    );
    engine.sql(&sql).await.unwrap();
    let reference = out.path().join("reference.json");
    let status = std::process::Command::new(common::python())
        .arg(common::repo_root().join("tests/support/kmeans_inertia.py"))
        .arg(&table)
        .args(["v", "20"])
        .arg(&reference)
        .status()
        .unwrap();
    assert!(status.success());
    let reference: Value = serde_json::from_str(&std::fs::read_to_string(&reference).unwrap()).unwrap();
    let want = reference["inertia"].as_f64().unwrap();
    let got = inertia(&engine, &table, 20, "metric=l2,n_init=10").await;
    println!("MiniLM, 1,500 documents, k = 20: odis {got:.4}, scikit-learn {want:.4}, ratio {:.4}", got / want);
    assert!(got / want <= 1.02, "inertia {got} is more than 2% above scikit-learn's {want}");
}
