//! top_k_per_dim and its report against an independent Python
//! implementation (tests/support/topk_reference.py), row for row, on
//! adversarial tables: ties, NaN entries, NULL vectors, heavily correlated
//! dimensions, budgets that need the second draft phase, string ids, ids
//! not in row order.

mod common;

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{Float64Type, Int32Type, Int64Type};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use odis::Engine;
use odis::udfs::select::selection_plan::DraftReuse;
use serde_json::Value;

fn fixtures() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| common::fixtures::generate("topk_reference.py"))
}

fn cases() -> Vec<Value> {
    let text = std::fs::read_to_string(fixtures().join("expected.json")).unwrap();
    serde_json::from_str::<Value>(&text).unwrap()["cases"].as_array().unwrap().clone()
}

async fn sql(engine: &Engine, sql: &str) -> Vec<RecordBatch> {
    engine.sql(sql).await.unwrap_or_else(|e| panic!("{sql}\n{e}"))
}

fn text(column: &dyn Array, row: usize) -> String {
    let options = FormatOptions::default();
    ArrayFormatter::try_new(column, &options).unwrap().value(row).to_string()
}

fn id_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn arguments(case: &Value) -> String {
    let mut args = format!("'t', 'id', 'scores', {}", case["budget"].as_str().unwrap());
    if let Some(w) = case["weights"].as_str() {
        args.push_str(&format!(", {w}"));
    }
    args
}

/// (id, dim, rank, score, payload) rows of a selection.
async fn selection(engine: &Engine, case: &Value) -> Vec<(String, i32, i64, f64, String)> {
    let query = format!(
        "SELECT id, odis_dim, odis_rank, odis_score, payload FROM top_k_per_dim({})",
        arguments(case)
    );
    let mut rows = Vec::new();
    for batch in sql(engine, &query).await {
        for r in 0..batch.num_rows() {
            rows.push((
                text(batch.column(0).as_ref(), r),
                batch.column(1).as_primitive::<Int32Type>().value(r),
                batch.column(2).as_primitive::<Int64Type>().value(r),
                batch.column(3).as_primitive::<Float64Type>().value(r),
                text(batch.column(4).as_ref(), r),
            ));
        }
    }
    rows
}

async fn engine_with_table(partitions: usize, location: &str) -> Engine {
    let engine = Engine::builder().with_target_partitions(partitions).build().unwrap();
    sql(&engine, &format!("CREATE EXTERNAL TABLE t STORED AS PARQUET LOCATION '{location}'")).await;
    engine
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn selection_matches_the_reference_row_for_row() {
    for case in cases() {
        let name = case["name"].as_str().unwrap();
        let table = fixtures().join(case["table"].as_str().unwrap());
        let engine = engine_with_table(3, &table.display().to_string()).await;
        let actual = selection(&engine, &case).await;
        let expected = case["picks"].as_array().unwrap();
        assert_eq!(actual.len(), expected.len(), "{name}: selected rows");
        for (row, (a, e)) in actual.iter().zip(expected).enumerate() {
            let e = e.as_array().unwrap();
            let expected_row = (id_text(&e[0]), e[1].as_i64().unwrap() as i32, e[2].as_i64().unwrap(), e[3].as_f64().unwrap());
            assert_eq!((a.0.clone(), a.1, a.2, a.3), expected_row, "{name}: output row {row}");
            assert!(a.4.starts_with(&format!("document {} ", a.0)), "{name}: payload of {} is {}", a.0, a.4);
        }

        let report = sql(&engine, &format!("SELECT * FROM top_k_per_dim_report({})", arguments(&case))).await;
        let expected = case["report"].as_array().unwrap();
        let batch = &report[0];
        assert_eq!(batch.num_rows(), expected.len(), "{name}: report rows");
        for (d, e) in expected.iter().enumerate() {
            let float = |column: usize| {
                let c = batch.column(column).as_primitive::<Float64Type>();
                c.is_valid(d).then(|| c.value(d))
            };
            let int = |column: usize| batch.column(column).as_primitive::<Int64Type>().value(d);
            assert_eq!(batch.column(0).as_primitive::<Int32Type>().value(d) as i64, e["dim"].as_i64().unwrap());
            assert_eq!(int(1), e["quota"].as_i64().unwrap(), "{name}: quota of {d}");
            assert_eq!(int(2), e["selected"].as_i64().unwrap(), "{name}: selected by {d}");
            assert_eq!(float(3), e["threshold"].as_f64(), "{name}: threshold of {d}");
            assert_eq!(int(4), e["overlap"].as_i64().unwrap(), "{name}: overlap of {d}");
            assert_eq!(float(5), e["overlap_ratio"].as_f64(), "{name}: overlap ratio of {d}");
        }

        // With drafts kept (as odis select runs), the report reuses the
        // selection's draft, and both stay the same.
        let reuse = engine.context().state().config().get_extension::<DraftReuse>().expect("every engine has one");
        let before = reuse.reused();
        let keeping = Arc::clone(&reuse).keep();
        assert_eq!(selection(&engine, &case).await, actual, "{name}: selection with drafts kept");
        let again = sql(&engine, &format!("SELECT * FROM top_k_per_dim_report({})", arguments(&case))).await;
        assert_eq!(again, report, "{name}: report with drafts kept");
        assert_eq!(reuse.reused(), before + 1, "{name}: the report drafted again");
        drop(keeping);
        sql(&engine, &format!("SELECT * FROM top_k_per_dim_report({})", arguments(&case))).await;
        assert_eq!(reuse.reused(), before + 1, "{name}: a draft reused after the guard was dropped");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_selection_at_any_partitioning_and_file_split() {
    let case = cases().into_iter().find(|c| c["name"] == "correlated").unwrap();
    let table = fixtures().join(case["table"].as_str().unwrap()).display().to_string();
    // The same rows split over several files, in another order.
    let split = tempfile::tempdir().unwrap();
    let splitter = engine_with_table(2, &table).await;
    for part in 0..3 {
        sql(
            &splitter,
            &format!(
                "COPY (SELECT * FROM t WHERE id % 3 = {part} ORDER BY id DESC) TO '{}/part-{part}.parquet'",
                split.path().display()
            ),
        )
        .await;
    }
    let reference = selection(&engine_with_table(1, &table).await, &case).await;
    for (partitions, location) in [(4, table.clone()), (1, format!("{}/", split.path().display())), (7, format!("{}/", split.path().display()))] {
        let other = selection(&engine_with_table(partitions, &location).await, &case).await;
        assert!(other == reference, "{partitions} partitions over {location} selected differently");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn baselines_are_deterministic_and_well_formed() {
    let case = cases().into_iter().find(|c| c["name"] == "nan_null").unwrap();
    let table = fixtures().join(case["table"].as_str().unwrap()).display().to_string();
    let engine = engine_with_table(3, &table).await;
    let run = |query: &'static str| {
        let engine = engine.clone();
        async move {
            let batches = sql(&engine, query).await;
            let mut rows: Vec<(i64, i64, f64)> = Vec::new();
            for b in &batches {
                for r in 0..b.num_rows() {
                    rows.push((
                        b.column(0).as_primitive::<Int64Type>().value(r),
                        b.column(1).as_primitive::<Int64Type>().value(r),
                        b.column(2).as_primitive::<Float64Type>().value(r),
                    ));
                }
            }
            rows
        }
    };
    // PC average-top: ranks 1..B by mean score, descending.
    let top = run("SELECT id, odis_rank, odis_score FROM top_k_average('t', 'id', 'scores', 50)").await;
    assert_eq!(top.len(), 50);
    assert!(top.windows(2).all(|w| w[0].1 + 1 == w[1].1 && w[0].2 >= w[1].2));
    let best_mean = run(
        "SELECT id, CAST(1 AS BIGINT), (scores[1] + scores[2] + scores[3]) / 3 AS m FROM t \
         WHERE (scores[1] + scores[2] + scores[3]) IS NOT NULL AND NOT isnan(scores[1] + scores[2] + scores[3]) \
         ORDER BY m DESC, id LIMIT 1",
    )
    .await;
    assert_eq!(top[0].0, best_mean[0].0);

    // Samples: deterministic per seed, different across seeds, no row twice.
    for query in [
        ("SELECT id, odis_rank, odis_score FROM sample_uniform('t', 'id', 300, 7)", "SELECT id, odis_rank, odis_score FROM sample_uniform('t', 'id', 300, 8)"),
        (
            "SELECT id, odis_rank, odis_score FROM sample_by_average('t', 'id', 'scores', 300, 7)",
            "SELECT id, odis_rank, odis_score FROM sample_by_average('t', 'id', 'scores', 300, 8)",
        ),
    ] {
        let (a, again, other) = (run(query.0).await, run(query.0).await, run(query.1).await);
        assert_eq!(a, again, "{}", query.0);
        assert_ne!(a, other, "seeds 7 and 8 gave the same sample");
        let mut ids: Vec<i64> = a.iter().map(|r| r.0).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 300);
    }
    // A low temperature samples the best rows; a sample by quality has a
    // higher mean quality than a uniform one.
    let mean_of = |query: &'static str| {
        let run = run(query);
        async move {
            let rows = run.await;
            rows.iter().map(|r| r.2).sum::<f64>() / rows.len() as f64
        }
    };
    let cold = run("SELECT id, odis_rank, odis_score FROM sample_by_average('t', 'id', 'scores', 50, 1, 0.000001)").await;
    let cold_ids: std::collections::HashSet<i64> = cold.iter().map(|r| r.0).collect();
    let top_ids: std::collections::HashSet<i64> = top.iter().map(|r| r.0).collect();
    assert_eq!(cold_ids, top_ids);
    let sampled_quality = mean_of(
        "SELECT s.id, s.odis_rank, (t.scores[1] + t.scores[2] + t.scores[3]) / 3 FROM sample_by_average('t', 'id', 'scores', 300, 3) s JOIN t ON s.id = t.id",
    )
    .await;
    let uniform_quality = mean_of(
        "SELECT u.id, u.odis_rank, (t.scores[1] + t.scores[2] + t.scores[3]) / 3 AS m FROM sample_uniform('t', 'id', 300, 3) u JOIN t ON u.id = t.id \
         WHERE (t.scores[1] + t.scores[2] + t.scores[3]) IS NOT NULL AND NOT isnan(t.scores[1] + t.scores[2] + t.scores[3])",
    )
    .await;
    assert!(sampled_quality > uniform_quality + 0.1, "{sampled_quality} vs {uniform_quality}");
}
