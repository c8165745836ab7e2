//! `odis train`: a frozen encoder plus one ridge head per principal
//! component, written as a model directory that odis_score runs.
//!
//! The ratings of the sample are linear in the test encoder's embeddings, so
//! a correct distillation predicts the components almost exactly.

mod common;

use std::path::Path;

use common::{odis, run};
use datafusion::arrow::array::AsArray;
use datafusion::arrow::datatypes::Float64Type;
use odis::Engine;

fn encoder() -> String {
    common::fixtures::generate("make_test_models.py").join("tiny_encoder").display().to_string()
}

/// 400 documents of the bundled corpus with 5 ratings each, linear in the encoder's output.
async fn sample(path: &Path) {
    let corpus = common::repo_root().join("sql/data/corpus.parquet");
    let engine = Engine::new().unwrap();
    engine
        .sql(&format!(
            "COPY (SELECT id, text, make_array(e[1] + e[2], e[3] - e[1], 2 * e[4], e[5] + e[6] + e[7], e[8] - e[2]) AS ratings \
             FROM (SELECT id, text, odis_score(text, '{}') AS e FROM '{}' ORDER BY id LIMIT 400)) TO '{}'",
            encoder(),
            corpus.display(),
            path.display()
        ))
        .await
        .unwrap();
}

#[tokio::test]
async fn trained_scorer_predicts_the_principal_components() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("sample.parquet");
    sample(&data).await;
    let out = dir.path().join("scorer");
    let run = run(odis(dir.path()).args([
        "train", "--input", data.to_str().unwrap(), "--scores", "ratings", "--encoder", &encoder(),
        "--components", "3", "--out", out.to_str().unwrap(),
    ]));
    run.ok();
    assert!(run.stdout.contains("400 rows (80 held out)"), "{}", run.stdout);
    let r2: Vec<f64> = run.stdout.lines().skip(2).take(3).map(|l| l.split_whitespace().last().unwrap().parse().unwrap()).collect();
    assert!(r2.iter().all(|r| *r > 0.999), "held-out R2: {r2:?}\n{}", run.stdout);

    // odis_score on the new directory gives the projected ratings directly.
    let engine = Engine::new().unwrap();
    let batches = engine
        .sql(&format!(
            "WITH p AS (SELECT pca_fit(ratings, 3, true) AS m FROM '{data}') \
             SELECT corr(s[1], y[1]), corr(s[2], y[2]), corr(s[3], y[3]), max(abs(s[1] - y[1])) \
             FROM (SELECT odis_score(text, '{out}') AS s, pca_project(ratings, p.m) AS y FROM '{data}' CROSS JOIN p)",
            data = data.display(),
            out = out.display()
        ))
        .await
        .unwrap();
    let values: Vec<f64> = (0..4).map(|c| batches[0].column(c).as_primitive::<Float64Type>().value(0)).collect();
    assert!(values[..3].iter().all(|r| *r > 0.9995), "{values:?}");
    assert!(values[3] < 0.05, "{values:?}");
    let names = engine.sql("SELECT array_to_string(dim_names, ',') FROM odis_models()").await.unwrap();
    assert_eq!(names[0].column(0).as_string::<i32>().value(0), "pc0,pc1,pc2");
    let manifest = std::fs::read_to_string(out.join("odis.json")).unwrap();
    assert!(manifest.contains("\"head\"") && manifest.contains("\"pooling\": \"mean\""), "{manifest}");
}

#[tokio::test]
async fn bad_training_inputs_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("sample.parquet");
    sample(&data).await;
    let train = |args: &[&str]| {
        let mut argv = vec!["train", "--input", data.to_str().unwrap()];
        argv.extend_from_slice(args);
        run(odis(dir.path()).args(argv))
    };
    let enc = encoder();
    train(&["--scores", "rating", "--encoder", &enc, "--out", "m"]).fails_with(&["--scores 'rating' is not a column", "id, text, ratings"]);
    train(&["--scores", "ratings", "--encoder", "nowhere", "--out", "m"]).fails_with(&["--encoder", "'nowhere' does not exist"]);
    train(&["--scores", "ratings", "--encoder", &enc, "--components", "6", "--out", "m"]).fails_with(&["--components 6", "k"]);
    std::fs::create_dir(dir.path().join("taken")).unwrap();
    train(&["--scores", "ratings", "--encoder", &enc, "--out", "taken"]).fails_with(&["--out taken already exists"]);
    assert!(!dir.path().join("m").exists());
    let left: Vec<String> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    assert!(left.iter().all(|n| !n.starts_with(".odis-train-")), "{left:?}");
}
