//! The whole pipeline on the bundled corpus: `odis select`, the library's
//! `select`, and the `sql/` scripts they share; local and S3 input; the
//! errors a user meets first.

mod common;

use std::path::{Path, PathBuf};

use common::{AWS_VARS, MotoS3, ObjectStoreServer, odis, run};
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{Float64Type, Int32Type, Int64Type};
use odis::Engine;
use odis::select::{Budget, SelectOptions, select};

fn corpus() -> String {
    common::repo_root().join("sql/data/corpus.parquet").display().to_string()
}

fn options(out: &Path) -> SelectOptions {
    SelectOptions { report: Some(out.with_file_name("report.html")), ..common::select_options(&corpus(), out) }
}

async fn query(engine: &Engine, sql: &str) -> Vec<RecordBatch> {
    engine.sql(sql).await.unwrap_or_else(|e| panic!("{sql}\n{e}"))
}

async fn one_f64(engine: &Engine, sql: &str) -> f64 {
    let batches = query(engine, sql).await;
    let column = datafusion::arrow::compute::cast(batches[0].column(0), &datafusion::arrow::datatypes::DataType::Float64).unwrap();
    assert!(column.is_valid(0), "NULL from {sql}");
    column.as_primitive::<Float64Type>().value(0)
}

/// (id, odis_dim, odis_rank) of a selection file, in file order.
async fn selection(path: &Path) -> Vec<(i64, i32, i64)> {
    let engine = Engine::new().unwrap();
    let mut rows = Vec::new();
    for batch in query(&engine, &format!("SELECT id, odis_dim, odis_rank FROM '{}'", path.display())).await {
        let (id, dim, rank) = (
            batch.column(0).as_primitive::<Int64Type>(),
            batch.column(1).as_primitive::<Int32Type>(),
            batch.column(2).as_primitive::<Int64Type>(),
        );
        rows.extend((0..batch.num_rows()).map(|r| (id.value(r), dim.value(r), rank.value(r))));
    }
    rows
}

/// Rows of `dim`'s raw top list (its first `quota` rows by score, ties by
/// id) that are in another dimension's raw top list.
async fn overlap_recount(engine: &Engine, dimensions: &[odis::select::DimensionReport], dim: usize) -> u64 {
    let mut lists = std::collections::BTreeMap::new();
    for d in dimensions {
        let sql = format!("SELECT id FROM proj ORDER BY odis_pc[{}] DESC, id LIMIT {}", d.dim + 1, d.quota);
        let mut ids = std::collections::HashSet::new();
        for batch in query(engine, &sql).await {
            ids.extend(batch.column(0).as_primitive::<Int64Type>().values().iter().copied());
        }
        lists.insert(d.dim, ids);
    }
    let others: std::collections::HashSet<i64> =
        lists.iter().filter(|(d, _)| **d != dim).flat_map(|(_, ids)| ids.iter().copied()).collect();
    lists[&dim].iter().filter(|id| others.contains(id)).count() as u64
}

#[tokio::test]
async fn selection_on_the_bundled_corpus_is_orthogonal_diverse_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("selected.parquet");
    let engine = Engine::new().unwrap();
    let report = select(&engine, &options(&out), ()).await.unwrap();

    // The filter's verdicts add up, and match the function applied alone.
    let kept = one_f64(
        &engine,
        &format!("SELECT count(*) FROM '{}' WHERE quality_filter(text)['keep']", corpus()),
    )
    .await as u64;
    assert_eq!(report.rows_in, 36_994);
    assert_eq!(report.rows_kept, kept);
    assert!(kept > 10_000 && kept < 30_000, "{kept} kept");
    let removed: u64 = report.removed.iter().map(|r| r.documents).sum();
    assert_eq!(removed + kept, report.rows_in);
    assert!(report.removed.windows(2).all(|w| w[0].documents >= w[1].documents));
    assert!(report.removed.iter().all(|r| !r.example.is_empty()), "one example per rule");
    assert_eq!(report.removed[0].rule, "gopher_min_words", "short texts are the corpus's commonest reject");

    // Size: floor(10% of the documents that pass the filter and the dedup),
    // and no document twice.
    let rows = selection(&out).await;
    assert!(report.dedup.removed > 0 && report.dedup.removed < kept / 100, "{:?}", report.dedup);
    let budget = (kept - report.dedup.removed) / 10;
    assert_eq!(rows.len() as u64, budget);
    assert_eq!(report.rows_out, budget);
    let mut ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), rows.len(), "a document was selected twice");

    // Every original column is kept, plus the five odis columns
    // (odis_tokens NULL: no tokenizer was given).
    let columns = query(&engine, &format!("SELECT * FROM '{}' LIMIT 1", out.display())).await;
    let names: Vec<String> = columns[0].schema().fields().iter().map(|f| f.name().clone()).collect();
    assert_eq!(names, ["id", "source", "title", "text", "odis_method", "odis_dim", "odis_rank", "odis_score", "odis_tokens"]);

    // The components are uncorrelated on the documents the PCA was fitted
    // on: those that pass the filter, but the copies dedup removed (found
    // again from the same 8-bit signatures). (The engine keeps the fitted
    // `pca` table; the scratch-backed views are gone.)
    query(&engine, &format!("CREATE VIEW passed AS SELECT * FROM '{}' WHERE quality_filter(text)['keep']", corpus())).await;
    query(
        &engine,
        "CREATE TABLE proj AS SELECT c.id, \
         pca_project(quantile_transform(quality_ratings_vector(c.text), s.model), p.model) AS odis_pc \
         FROM passed c CROSS JOIN scaling s CROSS JOIN pca p \
         WHERE c.id NOT IN (SELECT id FROM near_duplicates('passed', 'id', 'text', 'bits=8'))",
    )
    .await;
    assert_eq!(one_f64(&engine, "SELECT count(odis_pc) FROM proj").await, (kept - report.dedup.removed) as f64);
    assert!(engine.sql("SELECT * FROM projected").await.is_err(), "the scratch-backed view is dropped");
    for a in 1..=4 {
        for b in a + 1..=4 {
            let r = one_f64(&engine, &format!("SELECT corr(odis_pc[{a}], odis_pc[{b}]) FROM proj")).await;
            assert!(r.abs() < 1e-9, "components {a} and {b} correlate: {r}");
        }
    }
    assert_eq!(report.explained_variance_ratio.len(), 4);
    assert!(report.explained_variance_ratio.windows(2).all(|w| w[0] >= w[1]));
    assert_eq!(report.dimension_names.len(), 11);

    // The report's per-dimension counts and overlaps match a recount: from
    // the output for `selected`, from each component's raw top list for `overlap`.
    assert_eq!(report.dimensions.len(), 4);
    for d in &report.dimensions {
        let selected = rows.iter().filter(|r| r.1 as usize == d.dim).count() as u64;
        assert_eq!(d.selected, selected, "dim {}", d.dim);
        let recount = overlap_recount(&engine, &report.dimensions, d.dim).await;
        assert_eq!(d.overlap, recount, "overlap of dim {}", d.dim);
    }
    let overlap: u64 = report.dimensions.iter().map(|d| d.overlap).sum();
    let quota: u64 = report.dimensions.iter().map(|d| d.quota).sum();
    assert_eq!(quota, budget);
    eprintln!("overlap between components: {overlap} of {quota}");

    // The HTML report: the plot, the loadings and examples of each component.
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("report.html")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o644, "the report is an ordinary file");
    }
    assert!(html.contains("<svg") && html.matches("<circle").count() == report.scatter.len());
    assert!(report.scatter.len() == 3000 && report.scatter.iter().any(|p| p.2.is_some()));
    assert!(html.contains("sentence_form"));
    assert!(html.contains("What the quality filter removed") && html.contains("gopher_min_words"));
    assert_eq!(report.examples.len(), 12);
    assert!(html.contains(&report.examples[0].text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")));
    // Nothing is left behind but the outputs: the report's figures as JSON
    // beside it.
    let mut left: Vec<String> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    left.sort();
    assert_eq!(left, ["report.html", "report.json", "selected.parquet"]);
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.path().join("report.json")).unwrap()).unwrap();
    assert_eq!(json["rows"]["selected"], report.rows_out);
    assert_eq!(json["examples"].as_array().unwrap().len(), report.examples.len());
}

#[tokio::test]
async fn same_selection_at_any_partitioning() {
    let dir = tempfile::tempdir().unwrap();
    let mut results = Vec::new();
    for partitions in [1, 3] {
        let out = dir.path().join(format!("selected-{partitions}.parquet"));
        let engine = Engine::builder().with_target_partitions(partitions).build().unwrap();
        let mut options = options(&out);
        options.budget = Budget::Rows(500);
        options.report = None;
        select(&engine, &options, ()).await.unwrap();
        results.push(selection(&out).await);
    }
    assert_eq!(results[0].len(), 500);
    assert_eq!(results[0], results[1]);
}

#[test]
fn the_sql_script_and_the_command_agree() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    let out = run(odis(home).args(["select", "--input", &corpus(), "--budget", "700", "--components", "3", "--out", "a.parquet"]));
    out.ok();
    assert!(out.stdout.contains("odis select: 36994 rows in, 700 selected (1.9%) -> a.parquet"), "{}", out.stdout);
    assert!(out.stdout.contains("quality filter 'default': ") && out.stdout.contains("gopher_min_words"), "{}", out.stdout);
    assert!(out.stdout.contains("pc  explained  top loadings") && out.stdout.contains("rows/s"), "{}", out.stdout);
    assert!(home.join("report.html").exists());

        let script = common::repo_root().join("sql/select.sql");
    let out = run(odis(home).args([
        "-q", "--format", "csv",
        "-v", &format!("input={}", corpus()),
        "-v", "budget=700", "-v", "components=3", "-v", "work=work", "-v", "out=b.parquet",
        "-f", script.to_str().unwrap(),
    ]));
    out.ok();
    assert!(
        out.stdout.contains("\ndim,quota,selected,threshold,overlap,overlap_ratio,cost_quota,selected_cost,overlap_cost,overlap_cost_ratio\n"),
        "{}",
        out.stdout
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (a, b) = rt.block_on(async { (selection(&home.join("a.parquet")).await, selection(&home.join("b.parquet")).await) });
    assert_eq!(a.len(), 700);
    assert_eq!(a, b);

    // A script variable left unset is named, with the fix.
    run(odis(home).args(["-f", script.to_str().unwrap()])).fails_with(&["select.sql", "${input}", "-v input=VALUE"]);

    // The baselines script writes its four selections.
    std::fs::create_dir(home.join("baselines")).unwrap();
    let baselines = common::repo_root().join("sql/baselines.sql");
    run(odis(home).args(["-q", "-v", &format!("input={}", corpus()), "-v", "out_dir=baselines", "-v", "budget=300", "-f", baselines.to_str().unwrap()])).ok();
    for name in ["random", "random_filtered", "top_k_average", "sample_by_average"] {
        let rows = rt.block_on(selection(&home.join(format!("baselines/{name}.parquet"))));
        assert_eq!(rows.len(), 300, "{name}");
    }
}

#[test]
fn bad_arguments_are_clear_errors_and_leave_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    std::fs::write(home.join("selected.parquet"), b"an earlier selection").unwrap();
    let input = corpus();
    let select = |args: &[&str]| {
        let mut argv = vec!["select", "--input", input.as_str(), "--out", "selected.parquet"];
        argv.extend_from_slice(args);
        run(odis(home).args(argv))
    };
    select(&["--text-column", "body"]).fails_with(&["--text-column 'body' is not a column", "id, source, title, text"]);
    select(&["--text-column", "id"]).fails_with(&["--text-column 'id' holds Int64, not text"]);
    select(&["--id-column", "doc"]).fails_with(&["--id-column 'doc' is not a column"]);
    select(&["--budget", "50000"]).fails_with(&["--budget 50000 is larger than the corpus (36994 rows)", "10%"]);
    // Found after scoring: the scores stay in the work directory for the
    // fixed command, which then scores nothing.
    select(&["--budget", "30000"]).fails_with(&[
        "--budget 30000 is more than the",
        "documents that pass the quality filter",
        "the raw scores of 1 of 1 shards are kept in selected.odis-work",
    ]);
    assert!(home.join("selected.odis-work/raw_scores/part-00000.parquet").is_file());
    select(&["--components", "12"]).fails_with(&["--components 12 is more than the raw dimensions", "11 ratings", "--components 11 or fewer"]);
    select(&["--filter", "gopherr"]).fails_with(&["--filter 'gopherr': unknown filter or rule 'gopherr'", "default, all, none"]);
    select(&["--filter", "default,gopher_min_words=ten"]).fails_with(&["rule 'gopher_min_words' takes a whole number"]);
    // (Another filter: odis's own work directory starts again.)
    select(&["--filter", "gopher_min_words=100000"]).fails_with(&["kept 0 of the documents", "--filter none"]);
    std::fs::remove_dir_all(home.join("selected.odis-work")).unwrap();
    select(&["--out-files", "0"]).fails_with(&["--out-files must be at least 1"]);
    std::fs::write(home.join("not-a-dir"), b"").unwrap();
    select(&["--work-dir", "not-a-dir/work"]).fails_with(&["--work-dir not-a-dir/work: cannot create it", "name a directory odis may write to"]);
    std::fs::remove_file(home.join("not-a-dir")).unwrap();
    for (limit, message) in [("lots", "expected a size such as 4G"), ("1M", "too small to run queries in; give at least 64 MiB")] {
        let usage = run(odis(home).args(["--memory-limit", limit, "select", "--input", &input, "--out", "selected.parquet"]));
        assert_eq!(usage.code, Some(2), "{}", usage.stderr);
        assert!(usage.stderr.contains("--memory-limit") && usage.stderr.contains(message), "{}", usage.stderr);
    }
    select(&["--diversity", "no/such/model"]).fails_with(&["--diversity no/such/model", "does not exist"]);
    select(&["--components", "0"]).fails_with(&["--components must be at least 1"]);
    select(&["--budget", "0.0001%"]).fails_with(&["selects no row of the", "the smallest fraction that selects one is"]);
    select(&["--scores", "title"]).fails_with(&["--scores 'title' holds Utf8, not a list"]);
    select(&["--model", "no/such/model"]).fails_with(&["model directory 'no/such/model' does not exist"]);
    run(odis(home).args(["select", "--input", &input, "--out", "missing/dir/x.parquet"]))
        .fails_with(&["does not exist; create it first"]);
    let usage = select(&["--budget", "150%"]);
    assert_eq!(usage.code, Some(2));
    assert!(usage.stderr.contains("between 0% and 100%"), "{}", usage.stderr);
    let missing = run(odis(home).args(["select", "--input", "nowhere.parquet", "--out", "selected.parquet"]));
    missing.fails_with(&["nowhere.parquet"]);
    // A corpus with a NULL id is refused before anything is scored.
    run(odis(home).args([
        "-c",
        &format!("COPY (SELECT CASE WHEN id = 7 THEN NULL ELSE id END AS id, text FROM '{input}') TO 'nullid.parquet'"),
    ]))
    .ok();
    run(odis(home).args(["select", "--input", "nullid.parquet", "--out", "selected.parquet"]))
        .fails_with(&["--id-column 'id' is NULL in 1 of the 36994 rows", "non-NULL id"]);
    std::fs::remove_file(home.join("nullid.parquet")).unwrap();
    // Every id twice, the second copy a one-word text the filter removes:
    // the selection is unique, the corpus is not, and the fetch says so.
    run(odis(home).args([
        "-c",
        &format!("COPY (SELECT id, text FROM '{input}' UNION ALL SELECT id, 'x' AS text FROM '{input}') TO 'dupid.parquet'"),
    ]))
    .ok();
    run(odis(home).args(["select", "--input", "dupid.parquet", "--out", "selected.parquet", "--budget", "100"]))
        .fails_with(&["--id-column 'id' is not unique in dupid.parquet: id ", " is on 2 rows", "the scores are kept"]);
    std::fs::remove_file(home.join("dupid.parquet")).unwrap();

    // No failed run touched the earlier file or left anything behind but
    // the scores of the last run that got as far as scoring (with no
    // half-written shard).
    assert_eq!(std::fs::read(home.join("selected.parquet")).unwrap(), b"an earlier selection");
    let mut left: Vec<PathBuf> = std::fs::read_dir(home).unwrap().map(|e| e.unwrap().path()).filter(|p| !p.ends_with("history")).collect();
    left.sort();
    assert_eq!(left, [home.join("selected.odis-work"), home.join("selected.parquet")], "{left:?}");
    let shards: Vec<_> = std::fs::read_dir(home.join("selected.odis-work/raw_scores")).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(shards, ["part-00000.parquet"]);
}

#[test]
fn select_reads_the_corpus_from_s3() {
    let s3 = MotoS3::start();
    let dir = tempfile::tempdir().unwrap();
    let with_s3 = |command: &mut std::process::Command| {
        for var in AWS_VARS {
            command.env_remove(var);
        }
        command.envs(s3.env());
    };
    let remote = s3.url("corpora/bundled.parquet");
    let mut upload = odis(dir.path());
    with_s3(&mut upload);
    run(upload.args(["-c", &format!("COPY (SELECT * FROM '{}') TO '{remote}'", corpus())])).ok();

    let mut command = odis(dir.path());
    with_s3(&mut command);
    let out = run(command.args(["select", "--input", &remote, "--budget", "1%", "--out", "selected.parquet", "--no-report"]));
    out.ok();
    assert!(out.stdout.contains("36994 rows in, "), "{}", out.stdout);
    assert!(!dir.path().join("report.html").exists());

    // The same selection as from the local file.
    let mut local = odis(dir.path());
    let out = run(local.args(["select", "--input", &corpus(), "--budget", "1%", "--out", "local.parquet", "--no-report"]));
    out.ok();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (a, b) = rt.block_on(async { (selection(&dir.path().join("selected.parquet")).await, selection(&dir.path().join("local.parquet")).await) });
    assert_eq!(a, b);

    // The output may go to S3 too, as one object; it holds the same rows.
    let mut command = odis(dir.path());
    with_s3(&mut command);
    let remote_out = s3.url("selections/selected.parquet");
    let out = run(command.args(["select", "--input", &corpus(), "--budget", "1%", "--out", &remote_out]));
    out.ok();
    assert!(!dir.path().join("report.html").exists(), "no report by default for an S3 output");
    let mut download = odis(dir.path());
    with_s3(&mut download);
    run(download.args(["-c", &format!("COPY (SELECT * FROM '{remote_out}') TO 'from-s3.parquet'")])).ok();
    assert_eq!(rt.block_on(selection(&dir.path().join("from-s3.parquet"))), b);

    // Or as N objects under a prefix, in output order across them.
    let mut command = odis(dir.path());
    with_s3(&mut command);
    let prefix = s3.url("selections/parts");
    run(command.args(["select", "--input", &corpus(), "--budget", "1%", "--out", &prefix, "--out-files", "2"])).ok();
    let mut download = odis(dir.path());
    with_s3(&mut download);
    let copies = (0..2)
        .map(|f| format!("COPY (SELECT * FROM '{prefix}/part-{f:05}.parquet') TO 'part-{f}.parquet'"))
        .collect::<Vec<_>>()
        .join("; ");
    run(download.args(["-c", &copies])).ok();
    let mut parts = rt.block_on(selection(&dir.path().join("part-0.parquet")));
    let second = rt.block_on(selection(&dir.path().join("part-1.parquet")));
    assert!(!parts.is_empty() && !second.is_empty());
    parts.extend(second);
    assert_eq!(parts, b);

    // A missing bucket is found before any document is scored.
    let mut command = odis(dir.path());
    with_s3(&mut command);
    run(command.args(["select", "--input", &corpus(), "--out", "s3://no-such-bucket-odis/selected.parquet"]))
        .fails_with(&["--out s3://no-such-bucket-odis/selected.parquet: cannot write there", "bucket exists"]);
}

/// The junk-injected corpus of benches/junk_corpus.py (25% generated junk of
/// nine kinds), made once per test run.
fn junk_corpus(dir: &Path) -> PathBuf {
    let path = dir.join("junk.parquet");
    let script = common::repo_root().join("benches/junk_corpus.py");
    let status = std::process::Command::new(common::python())
        .args([script.as_os_str(), "--input".as_ref(), corpus().as_ref(), "--out".as_ref(), path.as_os_str()])
        .status()
        .unwrap();
    assert!(status.success());
    path
}

/// (all junk, junk without shuffled words) shares of a selection, in %.
async fn junk_shares(engine: &Engine, path: &Path) -> (f64, f64) {
    let sql = format!(
        "SELECT 100.0 * avg(CASE WHEN junk IS NULL THEN 0 ELSE 1 END), \
                100.0 * avg(CASE WHEN junk IS NULL OR junk = 'shuffled_words' THEN 0 ELSE 1 END) FROM '{}'",
        path.display()
    );
    let batches = query(engine, &sql).await;
    let column = |i: usize| batches[0].column(i).as_primitive::<Float64Type>().value(0);
    (column(0), column(1))
}

#[tokio::test]
async fn the_default_selection_leaves_the_junk_out() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = junk_corpus(dir.path());
    let engine = Engine::new().unwrap();
    let (corpus_junk, _) = junk_shares(&engine, &corpus).await;
    assert!(corpus_junk >= 25.0 - 0.01, "{corpus_junk}");

    let out = dir.path().join("selected.parquet");
    let mut options = options(&out);
    options.input = corpus.display().to_string();
    options.report = None;
    let report = select(&engine, &options, ()).await.unwrap();
    let (junk, surface_junk) = junk_shares(&engine, &out).await;
    eprintln!("junk in the selection: {junk:.2}% ({surface_junk:.2}% without shuffled words)");
    assert!(surface_junk <= 2.0, "{surface_junk}% junk that surface rules can see");
    assert!(junk <= 5.0, "{junk}% junk");
    let overlap: u64 = report.dimensions.iter().map(|d| d.overlap).sum();
    let quota: u64 = report.dimensions.iter().map(|d| d.quota).sum();
    eprintln!("overlap: {overlap} of {quota}");
    assert!((overlap as f64) <= 0.05 * quota as f64, "mean overlap {overlap} of {quota}");

    // Every junk kind that surface rules can see is removed by some rule.
    let removed_kinds = query(
        &engine,
        &format!(
            "SELECT count(DISTINCT junk) FROM '{}' WHERE junk IS NOT NULL AND junk <> 'shuffled_words' \
             AND NOT quality_filter(text)['keep']",
            corpus.display()
        ),
    )
    .await;
    assert_eq!(removed_kinds[0].column(0).as_primitive::<Int64Type>().value(0), 8);

    // Without the filter, the tops of the components are junk.
    options.filter = "none".parse().unwrap();
    options.budget = Budget::Rows(report.rows_out);
    select(&engine, &options, ()).await.unwrap();
    let (unfiltered, _) = junk_shares(&engine, &out).await;
    eprintln!("junk without the filter: {unfiltered:.2}%");
    assert!(unfiltered > 4.0 * junk.max(1.0), "the filter made no difference: {unfiltered}% vs {junk}%");
}

#[tokio::test]
async fn diversity_is_reported_next_to_a_random_sample() {
    let model = common::fixtures::generate("make_test_models.py").join("tiny_encoder");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("selected.parquet");
    let engine = Engine::new().unwrap();
    let mut options = options(&out);
    options.budget = Budget::Rows(300);
    options.report = None;
    options.diversity = Some(model.clone());
    let report = select(&engine, &options, ()).await.unwrap();
    let diversity = report.diversity.clone().expect("asked for");
    assert!(diversity.selection > 1.0 && diversity.random > 1.0, "{diversity:?}");
    // The selection's score is vendi_score over the written selection.
    let sql = format!("SELECT vendi_score(odis_score(text, '{}')) FROM '{}'", model.display(), out.display());
    let recount = one_f64(&engine, &sql).await;
    assert!((diversity.selection - recount).abs() <= 1e-9 * recount, "{} vs {recount}", diversity.selection);
    assert!(odis::select::render::text(&report, &options).contains("diversity (Vendi score"));
}

/// The bundled corpus as `files` Parquet files in `home/corpus/`.
fn split_corpus(home: &Path, files: usize) {
    std::fs::create_dir(home.join("corpus")).unwrap();
    let sql: Vec<String> = (0..files)
        .map(|k| format!("COPY (SELECT * FROM '{}' WHERE id % {files} = {k}) TO 'corpus/part-{k}.parquet'", corpus()))
        .collect();
    run(odis(home).args(["-c", &sql.join("; ")])).ok();
}

fn modified(path: &Path) -> std::time::SystemTime {
    std::fs::metadata(path).unwrap().modified().unwrap()
}

#[test]
fn a_killed_run_resumes_from_its_finished_shards() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    split_corpus(home, 6);
    let args = |out: &str| -> Vec<String> {
        ["select", "--input", "corpus/", "--budget", "500", "--no-report", "--shard-size", "1", "--out", out]
            .iter()
            .map(|s| s.to_string())
            .collect()
    };
    run(odis(home).args(args("reference.parquet"))).ok();
    assert!(!home.join("reference.odis-work").exists(), "the work directory goes after success");

    // Killed (SIGKILL: no cleanup of its own) once a shard is finished.
    let work = home.join("selected.odis-work/raw_scores");
    let mut child = odis(home).args(args("selected.parquet")).stderr(std::process::Stdio::null()).spawn().unwrap();
    let first = work.join("part-00000.parquet");
    while !first.exists() {
        assert!(child.try_wait().unwrap().is_none(), "the run ended before a shard was written");
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!home.join("selected.parquet").exists(), "a killed run leaves no output");
    let finished: Vec<PathBuf> = (0..6).map(|i| work.join(format!("part-{i:05}.parquet"))).filter(|p| p.exists()).collect();
    assert!(!finished.is_empty() && finished.len() < 6, "{finished:?}");
    let before: Vec<_> = finished.iter().map(|p| modified(p)).collect();

    // The same command scores only the rest, and selects the same rows.
    run(odis(home).args(args("selected.parquet"))).ok();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (a, b) = rt.block_on(async { (selection(&home.join("reference.parquet")).await, selection(&home.join("selected.parquet")).await) });
    assert_eq!(a.len(), 500);
    assert_eq!(a, b);
    assert!(!home.join("selected.odis-work").exists());
    let _ = before; // (the directory is gone; the next test checks reuse by modified time)
}

#[test]
fn a_kept_work_directory_is_reused_and_guarded() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    split_corpus(home, 3);
    let select = |extra: &[&str]| {
        let mut argv = vec!["select", "--input", "corpus/", "--no-report", "--shard-size", "1", "--work-dir", "work", "--out", "selected.parquet"];
        argv.extend_from_slice(extra);
        run(odis(home).args(argv))
    };
    select(&["--budget", "300", "--keep-work"]).ok();
    let shards: Vec<PathBuf> = (0..3).map(|i| home.join(format!("work/raw_scores/part-{i:05}.parquet"))).collect();
    let scored: Vec<_> = shards.iter().map(|p| modified(p)).collect();
    let manifest = std::fs::read_to_string(home.join("work/manifest.json")).unwrap();
    assert!(manifest.contains("part-2.parquet") && manifest.contains("\"filter\": \"default\""), "{manifest}");

    // Another budget and k from the same scores: nothing is scored again.
    let out = select(&["--budget", "200", "--components", "3", "--keep-work"]);
    out.ok();
    assert!(out.stdout.contains("200 selected"), "{}", out.stdout);
    assert_eq!(shards.iter().map(|p| modified(p)).collect::<Vec<_>>(), scored);

    // A named work directory of another corpus or scorer is refused.
    std::fs::create_dir(home.join("other")).unwrap();
    std::fs::copy(home.join("corpus/part-0.parquet"), home.join("other/part-0.parquet")).unwrap();
    let mut argv = vec!["select", "--input", "other/", "--no-report", "--work-dir", "work", "--out", "selected.parquet"];
    run(odis(home).args(argv.clone())).fails_with(&["--work-dir work holds the scores of another run", "its input was 'corpus/'", "pass another --work-dir"]);
    argv[2] = "corpus/";
    argv.extend(["--filter", "gopher"]);
    run(odis(home).args(argv)).fails_with(&["its --filter was 'default', this run's is 'gopher'"]);
    let original = std::fs::read(home.join("corpus/part-1.parquet")).unwrap();
    std::fs::write(home.join("corpus/part-1.parquet"), std::fs::read(home.join("corpus/part-0.parquet")).unwrap()).unwrap();
    select(&[]).fails_with(&["the input file", "part-1.parquet' changed"]);

    // Without --keep-work, success removes it.
    std::fs::write(home.join("corpus/part-1.parquet"), original).unwrap();
    std::fs::remove_dir_all(home.join("work")).unwrap();
    select(&["--budget", "100"]).ok();
    assert!(!home.join("work").exists());
}

#[test]
fn a_file_larger_than_a_shard_is_scored_in_byte_ranges_and_selects_the_same() {
    // The bundled corpus is one file of 7 MB in 5 row groups: at the
    // smallest shard size it is cut into ranges, each a shard of its own,
    // so that a killed run loses one range's work, not the file's.
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    let select = |shard_size: &str, work: &str, out: &str| {
        let argv = ["select", "--input", &corpus(), "--budget", "500", "--no-report", "--shard-size", shard_size, "--work-dir", work, "--keep-work", "--out", out];
        run(odis(home).args(argv))
    };
    let whole = select("1G", "whole", "whole.parquet");
    whole.ok();
    let ranges = select("1", "ranges", "ranges.parquet");
    ranges.ok();
    let shards = |work: &str| std::fs::read_dir(home.join(work).join("raw_scores")).unwrap().count();
    assert_eq!(shards("whole"), 1);
    assert!(shards("ranges") >= 2, "{} shards", shards("ranges"));
    let manifest = std::fs::read_to_string(home.join("ranges/manifest.json")).unwrap();
    assert!(manifest.contains("\"range\": ["), "{manifest}");
    // Every row scored once: the same rows in, the same selection out.
    assert!(ranges.stdout.contains("36994 rows in"), "{}", ranges.stdout);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (a, b) = rt.block_on(async { (selection(&home.join("whole.parquet")).await, selection(&home.join("ranges.parquet")).await) });
    assert_eq!(a.len(), 500);
    assert_eq!(a, b);
    let count = |work: &str| {
        let sql = format!("SELECT count(*) AS n, count(DISTINCT odis_id) AS ids FROM '{work}/raw_scores/*.parquet'");
        run(odis(home).args(["-q", "--format", "csv", "-c", &sql])).stdout
    };
    assert_eq!(count("ranges"), count("whole"));
    assert!(count("ranges").contains("36994,36994"), "{}", count("ranges"));

    // One row group for the whole file: the ranges after the first hold
    // none, and their shards are empty, not missing or read twice.
    let sql = format!("COPY (SELECT * FROM '{}') TO 'one-group.parquet' OPTIONS ('format.max_row_group_size' '1000000')", corpus());
    run(odis(home).args(["-q", "-c", &sql])).ok();
    let argv = ["select", "--input", "one-group.parquet", "--budget", "500", "--no-report", "--shard-size", "1", "--work-dir", "one", "--keep-work", "--out", "one.parquet"];
    let one = run(odis(home).args(argv));
    one.ok();
    assert!(shards("one") >= 2 && one.stdout.contains("36994 rows in"), "{} shards: {}", shards("one"), one.stdout);
    assert_eq!(count("one"), count("whole"));
    let c = rt.block_on(selection(&home.join("one.parquet")));
    assert_eq!(c, a);
}

#[tokio::test]
async fn out_files_split_the_selection_in_output_order() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::new().unwrap();
    // Names the script uses, taken in this session by the other kind (a
    // view where it makes a table and back): replaced, not an error.
    engine.sql("CREATE VIEW projected AS SELECT 1 AS x; CREATE TABLE kept AS SELECT 1 AS x").await.unwrap();
    // A setting the script changes for a step of its own comes back as the
    // session had it.
    engine.sql("SET datafusion.execution.parquet.pushdown_filters = true").await.unwrap();
    let one = dir.path().join("one.parquet");
    let mut options = options(&one);
    options.budget = Budget::Rows(1001);
    options.report = None;
    select(&engine, &options, ()).await.unwrap();

    let many = dir.path().join("many");
    options.out = many.clone();
    options.out_files = Some(3);
    for _ in 0..2 {
        // The second run replaces the first's directory. (It also rewrites
        // the work files under the same table names in the same engine: with
        // DataFusion's listing cache on, it read the new shards with the old
        // files' sizes.)
        select(&engine, &options, ()).await.unwrap();
    }
    let mut names: Vec<String> = std::fs::read_dir(&many).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["part-00000.parquet", "part-00001.parquet", "part-00002.parquet"]);
    let mut joined = Vec::new();
    for name in &names {
        let part = selection(&many.join(name)).await;
        assert!((333..=334).contains(&part.len()), "{name}: {} rows", part.len());
        joined.extend(part);
    }
    assert_eq!(joined, selection(&one).await);
    assert!(engine.context().state().config().options().execution.parquet.pushdown_filters, "the session's setting is restored");
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left.len(), 2, "{left:?}");
}

/// `rows` documents of `columns` (SQL over `value`, 1..=rows) with a
/// 3-dimensional score list `s`, at `path`, and the options that select
/// half of them by those scores alone (no filter, no dedup) into `out`.
async fn scored_corpus(engine: &Engine, path: &Path, rows: u64, columns: &str, out: &Path) -> SelectOptions {
    query(engine, &format!(
        "COPY (SELECT value AS id, {columns}, \
         make_array(CAST(value % 97 AS DOUBLE), CAST(value % 89 AS DOUBLE), CAST(value % 83 AS DOUBLE)) AS s \
         FROM generate_series(1, {rows})) TO '{}'",
        path.display()
    ))
    .await;
    SelectOptions {
        scores: odis::select::ScoreSource::Column("s".into()),
        filter: "none".parse().unwrap(),
        dedup: "none".parse().unwrap(),
        components: 2,
        budget: Budget::Fraction(0.5),
        ..common::select_options(&path.display().to_string(), out)
    }
}

/// The fetch sorts the selected documents within its memory bound: past
/// it, it spills, and the output is the same as with the whole selection
/// in memory.
#[tokio::test]
async fn the_fetch_spills_past_its_memory_bound_with_the_same_output() {
    use odis::engine::MemoryLimit;
    let dir = tempfile::tempdir().unwrap();
    let wide = dir.path().join("wide.parquet");
    // 12,000 documents of about 20 KB; half of them selected: 120 MB of
    // text, against a bound of 128 MiB over two partitions.
    let engine = Engine::builder().with_target_partitions(2).build().unwrap();
    let text = "repeat('word' || CAST(value AS VARCHAR) || ' ', 2000) AS text";
    let half = scored_corpus(&engine, &wide, 12_000, text, &dir.path().join("x.parquet")).await;
    let mut outputs = Vec::new();
    for (name, bound) in [("bounded", Some(MemoryLimit::Bytes(128 << 20))), ("unbounded", Some(MemoryLimit::Unlimited))] {
        let out = dir.path().join(format!("{name}.parquet"));
        let options = SelectOptions { fetch_memory: bound, out: out.clone(), ..half.clone() };
        select(&engine, &options, ()).await.unwrap();
        outputs.push(out);
    }
    let rows = selection(&outputs[0]).await;
    assert_eq!(rows.len(), 6000);
    assert_eq!(rows, selection(&outputs[1]).await);
    let same_text = one_f64(&engine, &format!(
        "SELECT count(*) FROM '{}' a JOIN '{}' b ON a.id = b.id AND a.text = b.text",
        outputs[0].display(),
        outputs[1].display()
    ))
    .await;
    assert_eq!(same_text, 6000.0);
}

/// A run that must fail with an option's error: it leaves no output, and
/// pass 1's scores stay for the rerun.
async fn fails_keeping_pass_1(engine: &Engine, options: &SelectOptions) -> odis::select::error::SelectError {
    let e = match select(engine, options, ()).await {
        Err(odis::OdisError::Select(e)) => e,
        other => panic!("expected an error naming an option, got {other:?}"),
    };
    assert!(!options.out.exists(), "no output is left");
    assert!(odis::select::default_work_dir(options).join("raw_scores").exists(), "pass 1's scores are kept");
    e
}

/// Rows much wider than their text (a column of markup beside it) can
/// overflow the fetch's bound: the error names the option, the output is
/// not written, and the work directory is kept for the rerun with more.
#[tokio::test]
async fn a_fetch_over_its_bound_names_the_option_and_the_rerun_resumes() {
    use odis::engine::MemoryLimit;
    use odis::select::error::SelectOption;
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("html.parquet");
    let engine = Engine::builder().with_target_partitions(2).build().unwrap();
    let out = dir.path().join("selected.parquet");
    let columns = "'a short text, number ' || CAST(value AS VARCHAR) AS text, repeat('<p>markup</p>', 40000) AS html";
    let mut options = SelectOptions {
        fetch_memory: Some(MemoryLimit::Bytes(64 << 20)),
        ..scored_corpus(&engine, &input, 300, columns, &out).await
    };
    let e = fails_keeping_pass_1(&engine, &options).await;
    assert_eq!(e.option(), SelectOption::FetchMemory);
    assert!(e.to_string().contains("cannot sort the selected documents in fetch_memory 64MiB"), "{e}");
    options.fetch_memory = Some(MemoryLimit::Bytes(1 << 30));
    let report = select(&engine, &options, ()).await.unwrap();
    assert_eq!(report.rows_in, 300);
    assert_eq!(selection(&out).await.len(), 150);
}

/// A dedup step over its bound names the option that sets it, and the rerun
/// with more finds pass 1's scores kept.
#[tokio::test]
async fn a_dedup_step_over_its_bound_names_the_option_and_the_rerun_resumes() {
    use odis::engine::MemoryLimit;
    use odis::select::error::SelectOption;
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("texts.parquet");
    let engine = Engine::builder().with_target_partitions(2).build().unwrap();
    let out = dir.path().join("selected.parquet");
    // Every text twice, so that MinHash has pairs to check and clusters to find.
    let columns = "'a text about the number ' || CAST(value % 150 AS VARCHAR) || ' and what follows from it' AS text";
    let mut options = SelectOptions {
        dedup: "minhash".parse().unwrap(),
        // Below what odis select's flag accepts: the library takes it, and
        // the first sort runs out.
        dedup_memory: Some(MemoryLimit::Bytes(1 << 20)),
        ..scored_corpus(&engine, &input, 300, columns, &out).await
    };
    let e = fails_keeping_pass_1(&engine, &options).await;
    assert_eq!(e.option(), SelectOption::DedupMemory);
    assert!(e.to_string().contains("the dedup step ran out of dedup_memory 1MiB"), "{e}");
    assert!(e.to_string().contains("raise dedup_memory"), "{e}");
    options.dedup_memory = Some(MemoryLimit::Bytes(256 << 20));
    let report = select(&engine, &options, ()).await.unwrap();
    assert_eq!(report.rows_in, 300);
    assert_eq!(report.dedup.removed, 150, "each text's second copy is removed");
}

/// Every `--method` through the same filter, dedup, passes and output, over
/// one work directory with embeddings (a small test encoder): pass 1 runs
/// once, each method selects the budget and names itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_method_selects_through_the_same_pipeline() {
    use odis::select::{Dedup, SelectionMethod};
    let encoder = common::fixtures::generate("make_test_models.py").join("tiny_encoder");
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::new().unwrap();
    let mut options = options(&dir.path().join("x.parquet"));
    options.embed = Some(encoder.clone());
    options.work_dir = Some(dir.path().join("work"));
    options.keep_work = true;
    options.report = None;
    options.budget = Budget::Rows(300);
    options.clusters = Some(48);
    // Without --clusters, dpp takes as many clusters as its budget needs
    // (2 x 1000 / 8 = 250 for the 8-wide test encoder) and fills it, where
    // 64 clusters gave 512 rows.
    options.method = SelectionMethod::Dpp;
    options.clusters = None;
    options.budget = Budget::Rows(1000);
    options.out = dir.path().join("dpp-auto.parquet");
    let report = select(&engine, &options, ()).await.unwrap();
    assert_eq!(report.rows_out, 1000);
    let sql = format!("SELECT count(DISTINCT odis_dim), max(odis_dim) FROM '{}'", options.out.display());
    let b = &query(&engine, &sql).await[0];
    let (groups, last) = (b.column(0).as_primitive::<Int64Type>().value(0), b.column(1).as_primitive::<Int32Type>().value(0));
    assert!(groups > 64 && last < 250, "{groups} clusters, the last {last}");
    options.budget = Budget::Rows(300);
    options.clusters = Some(48);
    for method in SelectionMethod::ALL {
        options.method = method;
        options.out = dir.path().join(format!("{}.parquet", method.name()));
        options.report = Some(dir.path().join(format!("{}.html", method.name())));
        let report = select(&engine, &options, ()).await.unwrap_or_else(|e| panic!("{}: {e}", method.name()));
        // The HTML report names what the method's groups are.
        let html = std::fs::read_to_string(options.report.as_ref().unwrap()).unwrap();
        let heading = match method {
            SelectionMethod::Odis => "<h2>Top documents of each component</h2>",
            SelectionMethod::Ccs => "<h3>stratum ",
            SelectionMethod::Random => "<h3>group ",
            _ => "<h3>cluster ",
        };
        assert!(html.contains(heading), "{}: no {heading} in the HTML report", method.name());
        assert_eq!(html.contains("<h3>pc 0: "), method == SelectionMethod::Odis, "{}", method.name());
        let sql = format!(
            "SELECT count(*), count(DISTINCT id), count(DISTINCT odis_method), max(odis_method) FROM '{}'",
            options.out.display()
        );
        let batches = query(&engine, &sql).await;
        let b = &batches[0];
        let (rows, distinct) = (b.column(0).as_primitive::<Int64Type>().value(0), b.column(1).as_primitive::<Int64Type>().value(0));
        assert_eq!(rows, distinct, "{}: a document twice", method.name());
        assert_eq!(rows as u64, report.rows_out);
        assert_eq!(b.column(2).as_primitive::<Int64Type>().value(0), 1);
        let name = datafusion::arrow::compute::cast(b.column(3), &datafusion::arrow::datatypes::DataType::Utf8).unwrap();
        assert_eq!(name.as_string::<i32>().value(0), method.name());
        // Every method fills the budget; a DPP's 48 clusters of 8-wide
        // embeddings too (one greedy round gives at most 8 rows: further
        // rounds fill what the first cannot).
        assert_eq!(rows, 300, "{}", method.name());
        // The work directory's scores were reused: pass 1 scored nothing.
        if method != SelectionMethod::Odis {
            let pass1 = report.stages.iter().find(|(name, _)| name.starts_with("filter + raw scores")).unwrap().1;
            assert!(pass1.as_secs_f64() < 2.0, "{}: pass 1 took {pass1:?}", method.name());
        }
    }
    // SemDeDup before ODiS, from the same kind of embeddings.
    options.method = SelectionMethod::Odis;
    options.dedup = Dedup::parse("semantic", "eps=0.001").unwrap();
    options.work_dir = Some(dir.path().join("work_semantic"));
    options.out = dir.path().join("semantic.parquet");
    let report = select(&engine, &options, ()).await.unwrap();
    assert!(report.dedup.removed > 0, "{:?}", report.dedup);
    assert!(report.dedup.pairs.iter().all(|p| p.similarity > 0.999), "{:?}", report.dedup.pairs);
    assert_eq!(report.rows_out, 300);
}
