//! Budgets in tokens and bytes: `token_count` against the Python
//! `tokenizers` package, and `odis select` spending a token budget per
//! component, the same at any partitioning, guarded by the work directory.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::{odis, run};
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Int64Type};
use odis::Engine;
use odis::select::{Budget, SelectOptions, SelectReport, SelectionMethod, Tokenizer, select};

fn corpus() -> PathBuf {
    common::repo_root().join("sql/data/corpus.parquet")
}

/// A real (small) tokenizer.json: the test encoder's WordPiece vocabulary.
fn tokenizer_dir() -> PathBuf {
    common::fixtures::generate("make_test_models.py").join("tiny_encoder")
}

fn options(out: &Path, budget: Budget, tokenizer: Tokenizer) -> SelectOptions {
    SelectOptions { budget, tokenizer: Some(tokenizer), ..common::select_options(&corpus().display().to_string(), out) }
}

async fn query(engine: &Engine, sql: &str) -> Vec<RecordBatch> {
    engine.sql(sql).await.unwrap_or_else(|e| panic!("{sql}\n{e}"))
}

/// The first column of `sql`'s rows, as integers (NULL as None).
async fn integers(engine: &Engine, sql: &str) -> Vec<Option<i64>> {
    let mut out = Vec::new();
    for batch in query(engine, sql).await {
        let column = datafusion::arrow::compute::cast(batch.column(0), &DataType::Int64).unwrap();
        let column = column.as_primitive::<Int64Type>();
        out.extend((0..column.len()).map(|i| column.is_valid(i).then(|| column.value(i))));
    }
    out
}

async fn one(engine: &Engine, sql: &str) -> i64 {
    integers(engine, sql).await[0].unwrap_or_else(|| panic!("NULL from {sql}"))
}

/// (id, odis_dim, odis_rank, odis_tokens) of a selection, in file order.
async fn rows(path: &Path) -> Vec<(i64, i32, i64, i64)> {
    let engine = Engine::new().unwrap();
    let sql = format!("SELECT id, odis_dim, odis_rank, odis_tokens FROM '{}'", path.display());
    let mut out = Vec::new();
    for batch in query(&engine, &sql).await {
        let id = batch.column(0).as_primitive::<Int64Type>();
        let dim = batch.column(1).as_primitive::<datafusion::arrow::datatypes::Int32Type>();
        let rank = batch.column(2).as_primitive::<Int64Type>();
        let tokens = batch.column(3).as_primitive::<Int64Type>();
        out.extend((0..batch.num_rows()).map(|r| (id.value(r), dim.value(r), rank.value(r), tokens.value(r))));
    }
    out
}

/// The most tokens any document of the corpus has: "one document's tokens".
async fn longest(engine: &Engine, tokenizer: &str) -> u64 {
    one(engine, &format!("SELECT max(token_count(text, '{tokenizer}')) FROM '{}'", corpus().display())).await as u64
}

/// all-MiniLM-L6-v2's tokenizer (`scripts/setup.sh --models`, or
/// ODIS_MINILM=DIR) counts every bundled document as the Python package does.
#[tokio::test]
#[ignore = "needs all-MiniLM-L6-v2's tokenizer: scripts/setup.sh --models"]
async fn token_count_equals_python_tokenizers_on_every_bundled_document() {
    let model = std::env::var_os("ODIS_MINILM")
        .map(PathBuf::from)
        .unwrap_or_else(|| odis::udfs::score::runtime::odis_home().join("models/minilm"));
    let tokenizer = model.join("tokenizer.json");
    assert!(tokenizer.exists(), "{}: missing; run scripts/setup.sh --models", tokenizer.display());
    let dir = tempfile::tempdir().unwrap();
    let expected_path = dir.path().join("counts.json");
    let script = common::repo_root().join("tests/support/token_count_reference.py");
    let status = std::process::Command::new(common::python()).arg(script).arg(&tokenizer).arg(corpus()).arg(&expected_path).status().unwrap();
    assert!(status.success(), "the reference failed");
    let expected: BTreeMap<String, Option<i64>> = serde_json::from_slice(&std::fs::read(&expected_path).unwrap()).unwrap();

    let engine = Engine::new().unwrap();
    let sql = format!("SELECT id, token_count(text, '{}') FROM '{}'", model.display(), corpus().display());
    let mut got = BTreeMap::new();
    for batch in query(&engine, &sql).await {
        let ids = batch.column(0).as_primitive::<Int64Type>();
        let counts = batch.column(1).as_primitive::<Int64Type>();
        for r in 0..batch.num_rows() {
            got.insert(ids.value(r).to_string(), counts.is_valid(r).then(|| counts.value(r)));
        }
    }
    assert_eq!(got.len(), expected.len());
    let differ: Vec<_> = got.iter().filter(|(id, n)| expected.get(*id) != Some(n)).take(5).collect();
    assert!(differ.is_empty(), "{} documents differ from the tokenizers package, e.g. {differ:?}", differ.len());
    let total: i64 = got.values().flatten().sum();
    println!("{} documents, {total} MiniLM tokens, all equal to the tokenizers package's counts", got.len());
    assert!(total > 1_000_000, "{total}");
}

/// Each component spends its share of a token budget and stops within one
/// document's tokens of it; the output's odis_tokens are the documents'
/// counts; the same ids at 1 and 4 partitions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_budget_is_spent_per_component_within_one_document() {
    let dir = tempfile::tempdir().unwrap();
    let tokenizer = tokenizer_dir();
    let shown = tokenizer.display().to_string();
    let engine = Engine::new().unwrap();
    let longest = longest(&engine, &shown).await;
    let budget = 400_000u64;
    let mut selections = Vec::new();
    for partitions in [1, 4] {
        let out = dir.path().join(format!("selected-{partitions}.parquet"));
        let engine = Engine::builder().with_target_partitions(partitions).build().unwrap();
        let report = select(&engine, &options(&out, Budget::Tokens(budget), Tokenizer::File(tokenizer.clone())), ()).await.unwrap();
        let quotas: Vec<u64> = report.dimensions.iter().map(|d| d.cost.expect("a cost report").quota).collect();
        assert_eq!(quotas, [100_000; 4]);
        for (d, size) in report.dimensions.iter().zip(&report.size.components) {
            let cost = d.cost.unwrap();
            let spent = size.tokens.unwrap();
            assert_eq!(spent, cost.selected, "pc {}", d.dim);
            assert!(spent <= cost.quota && cost.quota - spent < longest, "pc {}: {spent} of {} (longest document {longest})", d.dim, cost.quota);
            assert!(cost.overlap_ratio.is_some_and(|r| r < 0.2), "pc {}: {:?}", d.dim, cost.overlap_ratio);
        }
        assert!(report.size.tokens().unwrap() <= budget);
        // odis_tokens is each selected document's count.
        let wrong = one(
            &engine,
            &format!("SELECT count(*) FROM '{}' WHERE odis_tokens IS DISTINCT FROM token_count(text, '{shown}')", out.display()),
        )
        .await;
        assert_eq!(wrong, 0);
        selections.push(rows(&out).await);
    }
    assert!(selections[0].len() > 100, "{}", selections[0].len());
    assert_eq!(selections[0], selections[1]);

    // The random baseline spends the same budget, in its own order.
    let out = dir.path().join("random.parquet");
    let mut random = options(&out, Budget::Tokens(budget), Tokenizer::File(tokenizer.clone()));
    random.method = SelectionMethod::Random;
    let report = select(&engine, &random, ()).await.unwrap();
    let spent = report.size.tokens().unwrap();
    assert!(spent <= budget && budget - spent < longest, "random: {spent} of {budget}");
}

fn kept_documents(report: &SelectReport) -> u64 {
    report.rows_kept - report.dedup.removed
}

/// A budget above what passed the filter and dedup selects all of it, and
/// says so; bytes work like tokens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_budget_above_the_corpus_selects_everything_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("all.parquet");
    let options = options(&out, Budget::Tokens(50_000_000_000), Tokenizer::Approx);
    let report = select(&Engine::new().unwrap(), &options, ()).await.unwrap();
    assert_eq!(report.rows_out, kept_documents(&report));
    assert_eq!(report.size.tokens(), report.size.available_tokens);
    let text = odis::select::render::text(&report, &options);
    assert!(text.contains("all of them are selected") && text.contains("approx: UTF-8 bytes / 4, an estimate"), "{text}");

    let bytes = odis::select::SelectOptions { budget: Budget::Bytes(1_000_000), tokenizer: None, ..options.clone() };
    let report = select(&Engine::new().unwrap(), &bytes, ()).await.unwrap();
    let spent = report.size.bytes();
    assert!(spent <= 1_000_000 && spent > 900_000, "{spent}");
    assert!(report.size.tokens().is_none());
}

/// Counts from one tokenizer are not reused for another: the manifest names
/// how pass 1 counted.
#[test]
fn a_work_directory_counted_with_approx_refuses_a_tokenizer() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    let corpus = corpus().display().to_string();
    let select = |extra: &[&str]| {
        let mut argv = vec!["select", "--input", &corpus, "--no-report", "--work-dir", "work", "--out", "selected.parquet", "--keep-work"];
        argv.extend_from_slice(extra);
        run(odis(home).args(argv))
    };
    let first = select(&["--budget", "50K tokens", "--tokenizer", "approx"]);
    first.ok();
    assert!(first.stdout.contains("budget 50,000 tokens"), "{}", first.stdout);
    // Another token budget reuses the counts.
    select(&["--budget", "80K tokens", "--tokenizer", "approx"]).ok();
    let tokenizer = tokenizer_dir().display().to_string();
    select(&["--budget", "50K tokens", "--tokenizer", &tokenizer]).fails_with(&[
        "--work-dir work holds the scores of another run",
        "its --tokenizer was 'token_count(\"text\", 'approx')'",
        "pass another --work-dir",
    ]);
}
