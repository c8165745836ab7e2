//! The main job's selection on the bundled corpus, held equal to the one
//! recorded in tests/data/bundled_selection.csv: a change of the code's
//! shape (options, plans, modules) must not change what is selected.
//!
//! A change meant to alter the selection changes the file on purpose: run
//! this test with `ODIS_BLESS=1` to rewrite it, and say why in the commit.

mod common;

use std::fmt::Write as _;

use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::datatypes::{Float64Type, Int32Type, Int64Type};

const REFERENCE: &str = "tests/data/bundled_selection.csv";

/// (id, odis_dim, odis_rank, odis_score) rows of a selection, in its order.
fn rows(batches: &[RecordBatch]) -> Vec<(i64, i32, i64, f64)> {
    let mut out = Vec::new();
    for b in batches {
        let ids = b.column(0).as_primitive::<Int64Type>();
        let dims = b.column(1).as_primitive::<Int32Type>();
        let ranks = b.column(2).as_primitive::<Int64Type>();
        let scores = b.column(3).as_primitive::<Float64Type>();
        for i in 0..b.num_rows() {
            out.push((ids.value(i), dims.value(i), ranks.value(i), scores.value(i)));
        }
    }
    out
}

fn parse(text: &str) -> Vec<(i64, i32, i64, f64)> {
    text.lines()
        .skip(1)
        .map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            (f[0].parse().unwrap(), f[1].parse().unwrap(), f[2].parse().unwrap(), f[3].parse().unwrap())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_main_job_selects_what_it_selected_before() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("selected.parquet");
    let root = common::repo_root();
    // scripts/run.sh's command.
    common::run(
        common::odis(dir.path())
            .args(["select", "--input"])
            .arg(root.join("sql/data/corpus.parquet"))
            .args(["--text-column", "text", "--budget", "10%", "--components", "4", "--out"])
            .arg(&out),
    )
    .ok();
    let engine = odis::Engine::new().unwrap();
    let sql = format!("SELECT id, odis_dim, odis_rank, odis_score FROM '{}'", out.display());
    let selected = rows(&engine.sql(&sql).await.unwrap());
    if std::env::var_os("ODIS_BLESS").is_some() {
        let mut text = String::from("id,odis_dim,odis_rank,odis_score\n");
        for (id, dim, rank, score) in &selected {
            let _ = writeln!(text, "{id},{dim},{rank},{score:?}");
        }
        std::fs::write(root.join(REFERENCE), text).unwrap();
        return;
    }
    let reference = parse(&std::fs::read_to_string(root.join(REFERENCE)).unwrap());
    assert_eq!(selected.len(), reference.len(), "rows selected, against {REFERENCE}");
    for (got, want) in selected.iter().zip(&reference) {
        // The same documents in the same places; a score may differ in its
        // last bits where the PCA's partial sums merge in another order.
        assert_eq!((got.0, got.1, got.2), (want.0, want.1, want.2), "(id, dim, rank) against {REFERENCE}");
        assert!((got.3 - want.3).abs() <= 1e-9 * want.3.abs().max(1.0), "score of id {}: {} against {}", got.0, got.3, want.3);
    }
}
