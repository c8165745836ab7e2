//! The text pass (quality_filter, quality_ratings, quality_signals) gives
//! the answers the implementation before the single-walk rewrite gave, on
//! the junk-injected corpus (the bundled corpus plus 25% generated junk of
//! nine kinds): the same verdict under `default` and `all`, bit for bit,
//! and ratings and signals within 1e-12.
//!
//! `tests/data/text_pass_reference.parquet` holds that implementation's
//! output (tests/data/README.md says how it was made).

mod common;

use std::collections::HashMap;
use std::path::PathBuf;

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type, Int64Type};
use odis::Engine;

struct Row {
    rule_default: Option<String>,
    rule_all: Option<String>,
    ratings: Option<Vec<f64>>,
    signals: Option<Vec<f64>>,
}

fn rows(batches: &[RecordBatch]) -> HashMap<i64, Row> {
    let list = |batch: &RecordBatch, column: usize, row: usize| {
        let lists = batch.column(column).as_list::<i32>();
        lists.is_valid(row).then(|| lists.value(row).as_primitive::<Float64Type>().values().to_vec())
    };
    let text = |batch: &RecordBatch, column: usize, row: usize| {
        // Parquet strings may come back as views.
        let strings = cast(batch.column(column), &DataType::Utf8).unwrap();
        let strings = strings.as_string::<i32>();
        strings.is_valid(row).then(|| strings.value(row).to_string())
    };
    let mut out = HashMap::new();
    for batch in batches {
        let ids = batch.column(0).as_primitive::<Int64Type>();
        for row in 0..batch.num_rows() {
            out.insert(
                ids.value(row),
                Row {
                    rule_default: text(batch, 1, row),
                    rule_all: text(batch, 2, row),
                    ratings: list(batch, 3, row),
                    signals: list(batch, 4, row),
                },
            );
        }
    }
    out
}

fn junk_corpus(dir: &std::path::Path) -> PathBuf {
    let out = dir.join("junk.parquet");
    let script = common::repo_root().join("benches/junk_corpus.py");
    let corpus = common::repo_root().join("sql/data/corpus.parquet");
    let status = std::process::Command::new(common::python())
        .arg(&script)
        .args(["--input".as_ref(), corpus.as_os_str(), "--out".as_ref(), out.as_os_str()])
        .status()
        .unwrap();
    assert!(status.success());
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_verdicts_and_ratings_as_before() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = junk_corpus(dir.path());
    let engine = Engine::new().unwrap();
    let reference = common::repo_root().join("tests/data/text_pass_reference.parquet");
    let expected = rows(&engine.sql(&format!("SELECT * FROM '{}'", reference.display())).await.unwrap());
    let sql = format!(
        "SELECT id, quality_filter(text)['rule'], quality_filter(text, 'all')['rule'], \
                quality_ratings_vector(text), quality_signals_vector(text) FROM '{}'",
        corpus.display()
    );
    let got = rows(&engine.sql(&sql).await.unwrap());
    assert_eq!(got.len(), expected.len());
    assert!(expected.len() > 45_000, "{} rows", expected.len());
    let (mut kept, mut worst_rating, mut worst_signal) = (0, 0f64, 0f64);
    let diff = |a: &Option<Vec<f64>>, b: &Option<Vec<f64>>, id: i64| -> f64 {
        match (a, b) {
            (None, None) => 0.0,
            (Some(a), Some(b)) => {
                assert_eq!(a.len(), b.len(), "id {id}");
                a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max)
            }
            _ => panic!("id {id}: NULL on one side only"),
        }
    };
    for (id, want) in &expected {
        let row = &got[id];
        assert_eq!(row.rule_default, want.rule_default, "id {id}: the default filter's verdict");
        assert_eq!(row.rule_all, want.rule_all, "id {id}: the `all` filter's verdict");
        kept += usize::from(want.rule_default.is_none());
        worst_rating = worst_rating.max(diff(&row.ratings, &want.ratings, *id));
        worst_signal = worst_signal.max(diff(&row.signals, &want.signals, *id));
    }
    assert!(worst_rating <= 1e-12, "ratings differ by up to {worst_rating:e}");
    assert!(worst_signal <= 1e-12, "signals differ by up to {worst_signal:e}");
    // The reference is not degenerate: the filter keeps some and drops some.
    assert!(kept > 10_000 && kept < expected.len() - 10_000, "{kept} kept");
}
