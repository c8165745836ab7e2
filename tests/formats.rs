//! Corpora as users hold them: `odis select` over JSON Lines (plain, gzip,
//! zstd, xz; Dolma's layout with a nested `metadata`), JSON Lines outputs,
//! every document's annotations, the JSON report, and the errors a corpus
//! that cannot be read gives; locally and through a local S3 server.

mod common;

use std::path::{Path, PathBuf};

use common::{AWS_VARS, MotoS3, ObjectStoreServer, odis, run};
use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::datatypes::Int64Type;
use odis::Engine;
use odis::select::{SelectOptions, select};

fn corpus() -> String {
    common::repo_root().join("sql/data/corpus.parquet").display().to_string()
}

async fn query(engine: &Engine, sql: &str) -> Vec<RecordBatch> {
    engine.sql(sql).await.unwrap_or_else(|e| panic!("{sql}\n{e}"))
}

/// The first column of the first row, as an integer.
async fn count(engine: &Engine, sql: &str) -> i64 {
    let batches = query(engine, sql).await;
    let column = datafusion::arrow::compute::cast(batches[0].column(0), &datafusion::arrow::datatypes::DataType::Int64).unwrap();
    column.as_primitive::<Int64Type>().value(0)
}

/// (id, odis_dim, odis_rank) of a selection table, in its order.
async fn selection_rows(engine: &Engine, from: &str) -> Vec<(String, i64, i64)> {
    let sql = format!("SELECT CAST(id AS VARCHAR) AS i, CAST(odis_dim AS BIGINT) AS d, CAST(odis_rank AS BIGINT) AS r FROM {from}");
    let mut rows = Vec::new();
    for batch in query(engine, &sql).await {
        let id = datafusion::arrow::compute::cast(batch.column(0), &datafusion::arrow::datatypes::DataType::Utf8).unwrap();
        let (id, dim, rank) = (id.as_string::<i32>(), batch.column(1).as_primitive::<Int64Type>(), batch.column(2).as_primitive::<Int64Type>());
        rows.extend((0..batch.num_rows()).map(|r| (id.value(r).to_string(), dim.value(r), rank.value(r))));
    }
    rows
}

/// Writes `sql`'s rows as JSON Lines at `path`, compressed as its name says.
async fn write_json(engine: &Engine, sql: &str, path: &Path) {
    let name = path.display().to_string();
    let compression = match name.rsplit('.').next() {
        Some("gz") => "gzip",
        Some("zst") => "zstd",
        Some("xz") => "xz",
        Some("bz2") => "bzip2",
        _ => "uncompressed",
    };
    query(engine, &format!("COPY ({sql}) TO '{name}' STORED AS JSON OPTIONS ('format.compression' '{compression}')")).await;
}

fn options(input: &str, out: &Path) -> SelectOptions {
    SelectOptions { budget: odis::select::Budget::Fraction(0.05), ..common::select_options(input, out) }
}

#[tokio::test]
async fn json_lines_plain_and_compressed_select_what_parquet_selects() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::new().unwrap();
    // A third of the bundled corpus, as Parquet and as JSON Lines.
    let parquet = dir.path().join("corpus.parquet");
    query(&engine, &format!("COPY (SELECT * FROM '{}' WHERE id <= 12000) TO '{}'", corpus(), parquet.display())).await;
    let parquet_out = dir.path().join("from-parquet.parquet");
    let expected = select(&engine, &options(&parquet.display().to_string(), &parquet_out), ()).await.unwrap();
    let expected_rows = selection_rows(&engine, &format!("'{}'", parquet_out.display())).await;
    assert!(expected.rows_in == 12000 && expected_rows.len() > 150 && expected.dedup.removed > 0, "{expected_rows:?}");
    for name in ["corpus.jsonl", "corpus.jsonl.gz", "corpus.jsonl.zst", "corpus.ndjson.xz"] {
        let input = dir.path().join(name);
        write_json(&engine, &format!("SELECT * FROM '{}'", parquet.display()), &input).await;
        let out = dir.path().join(format!("from-{name}.parquet"));
        let report = select(&engine, &options(&input.display().to_string(), &out), ()).await.unwrap();
        assert_eq!((report.rows_in, report.rows_kept, report.rows_out), (expected.rows_in, expected.rows_kept, expected.rows_out), "{name}");
        assert_eq!(report.dedup, expected.dedup, "{name}");
        let rows = selection_rows(&engine, &format!("'{}'", out.display())).await;
        assert_eq!(rows, expected_rows, "{name}: the same ids, components and ranks as from Parquet");
        // Every column of the corpus is carried, as read.
        let texts = count(
            &engine,
            &format!(
                "SELECT count(*) FROM '{}' o JOIN '{}' c ON o.id = c.id WHERE o.text = c.text AND o.source = c.source",
                out.display(),
                corpus()
            ),
        )
        .await;
        assert_eq!(texts as u64, report.rows_out, "{name}");
    }
}

#[tokio::test]
async fn a_json_lines_file_larger_than_a_shard_is_scored_in_byte_ranges() {
    // The bundled corpus as one uncompressed JSON Lines file of several
    // MiB: at the smallest shard size it is cut into byte ranges, each
    // reading the lines that start in it, and selects what the whole file
    // does; compressed, it stays one shard.
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::new().unwrap();
    let select_from = |input: &Path, shard_bytes: u64, name: &str| {
        let mut options = options(&input.display().to_string(), &dir.path().join(format!("{name}.parquet")));
        options.shard_bytes = shard_bytes;
        options.work_dir = Some(dir.path().join(format!("{name}-work")));
        options.keep_work = true;
        options
    };
    let shards = |name: &str| std::fs::read_dir(dir.path().join(format!("{name}-work/raw_scores"))).unwrap().count();
    let mut expected = None;
    for (file, shard_bytes, name) in [("corpus.jsonl", 1 << 30, "whole"), ("corpus.jsonl", 1, "ranges"), ("corpus.jsonl.gz", 1, "compressed")] {
        let input = dir.path().join(file);
        if !input.exists() {
            write_json(&engine, &format!("SELECT * FROM '{}'", corpus()), &input).await;
        }
        let options = select_from(&input, shard_bytes, name);
        let report = select(&engine, &options, ()).await.unwrap();
        let rows = selection_rows(&engine, &format!("'{}'", options.out.display())).await;
        assert_eq!(report.rows_in, 36994, "{name}");
        match &expected {
            None => expected = Some(rows),
            Some(expected) => assert_eq!(&rows, expected, "{name}: the same ids, components and ranks"),
        }
    }
    assert!(std::fs::metadata(dir.path().join("corpus.jsonl")).unwrap().len() > 8 << 20, "large enough to be cut");
    assert_eq!(shards("whole"), 1);
    assert!(shards("ranges") >= 2, "{} shards", shards("ranges"));
    assert_eq!(shards("compressed"), 1);
}

/// Dolma's layout: several `documents/*.json.gz` files, string ids, the
/// document's attributes in a nested `metadata` object.
async fn dolma_corpus(engine: &Engine, dir: &Path) -> PathBuf {
    let documents = dir.join("documents");
    std::fs::create_dir_all(&documents).unwrap();
    for part in 0..3 {
        let sql = format!(
            "SELECT 'doc-' || lpad(CAST(id AS VARCHAR), 6, '0') AS id, text, source, '2024-01-01T00:00:00Z' AS added, \
                    named_struct('url', 'https://example.org/' || CAST(id AS VARCHAR), 'length', length(text), \
                                 'tags', make_array(source, 'en')) AS metadata \
             FROM '{}' WHERE id % 3 = {part} AND id <= 9000",
            corpus()
        );
        write_json(engine, &sql, &documents.join(format!("part-{part}.json.gz"))).await;
    }
    documents
}

#[tokio::test]
async fn dolma_documents_keep_their_nested_metadata_and_get_annotations_per_shard() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::new().unwrap();
    let documents = dolma_corpus(&engine, dir.path()).await;
    let out = dir.path().join("selected.jsonl.zst");
    let annotations = dir.path().join("attributes");
    let report_json = dir.path().join("report.json");
    let options = SelectOptions {
        // One shard per file: the annotations come one file per shard.
        shard_bytes: 1,
        annotations: Some(annotations.display().to_string()),
        report_json: Some(report_json.clone()),
        ..options(&format!("{}/", documents.display()), &out)
    };
    let report = select(&engine, &options, ()).await.unwrap();
    assert_eq!(report.rows_in, 9000);

    // The output is JSON Lines (zstd) with every column, the nested
    // metadata as it was read.
    query(
        &engine,
        &format!("CREATE EXTERNAL TABLE sel STORED AS JSON LOCATION '{}' OPTIONS ('format.compression' 'zstd')", out.display()),
    )
    .await;
    query(
        &engine,
        &format!(
            "CREATE EXTERNAL TABLE docs STORED AS JSON LOCATION '{}/' OPTIONS ('format.compression' 'gzip')",
            documents.display()
        ),
    )
    .await;
    assert_eq!(count(&engine, "SELECT count(*) FROM sel").await as u64, report.rows_out);
    let same = count(
        &engine,
        "SELECT count(*) FROM sel s JOIN docs d ON s.id = d.id \
         WHERE s.metadata['url'] = d.metadata['url'] AND s.metadata['length'] = d.metadata['length'] \
           AND s.metadata['tags'] = d.metadata['tags'] AND s.text = d.text",
    )
    .await;
    assert_eq!(same as u64, report.rows_out, "every selected row carries its metadata as read");
    let sorted = selection_rows(&engine, "sel").await;
    assert!(sorted.windows(2).all(|w| (w[0].1, w[0].2) < (w[1].1, w[1].2)), "in component and rank order");

    // Annotations: one file per shard, one row per input document.
    let mut files: Vec<String> = std::fs::read_dir(&annotations).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    files.sort();
    assert_eq!(files, ["part-00000.parquet", "part-00001.parquet", "part-00002.parquet"]);
    let a = format!("'{}/'", annotations.display());
    assert_eq!(count(&engine, &format!("SELECT count(*) FROM {a}")).await, 9000);
    assert_eq!(count(&engine, &format!("SELECT count(DISTINCT id) FROM {a}")).await, 9000);
    assert_eq!(count(&engine, &format!("SELECT count(*) FROM {a} WHERE passed_filter")).await as u64, report.rows_kept);
    assert_eq!(count(&engine, &format!("SELECT count(*) FROM {a} WHERE filter_rule IS NULL")).await as u64, report.rows_kept);
    assert_eq!(count(&engine, &format!("SELECT count(*) FROM {a} WHERE duplicate_of IS NOT NULL")).await as u64, report.dedup.removed);
    // A document removed by the filter has no ratings; one kept by dedup
    // has its components.
    assert_eq!(count(&engine, &format!("SELECT count(*) FROM {a} WHERE NOT passed_filter AND ratings IS NOT NULL")).await, 0);
    let kept = report.rows_kept - report.dedup.removed;
    assert_eq!(count(&engine, &format!("SELECT count(*) FROM {a} WHERE components IS NOT NULL")).await as u64, kept);
    // The selected rows are the output's, at the same component and rank.
    let annotated = selection_rows(&engine, &format!("{a} WHERE selected ORDER BY odis_dim, odis_rank")).await;
    assert_eq!(annotated, sorted);
    // Each file holds the ids of its shard's input file, in id order.
    for part in 0..3 {
        let file = format!("'{}/part-{part:05}.parquet'", annotations.display());
        let wrong_file = count(&engine, &format!("SELECT count(*) FROM {file} WHERE CAST(substr(id, 5) AS BIGINT) % 3 <> {part}")).await;
        assert_eq!(wrong_file, 0, "part {part}");
        let ids = selection_rows(&engine, &format!("(SELECT id, 0 AS odis_dim, 0 AS odis_rank FROM {file}) AS t")).await;
        assert!(ids.windows(2).all(|w| w[0].0 < w[1].0), "part {part} in id order");
    }

    // The JSON report holds the text report's figures.
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report_json).unwrap()).unwrap();
    assert_eq!(json["report_version"], 1);
    assert_eq!(json["rows"]["in"], 9000);
    assert_eq!(json["rows"]["passed_filter"], report.rows_kept);
    assert_eq!(json["rows"]["selected"], report.rows_out);
    assert_eq!(json["dedup"]["removed"], report.dedup.removed);
    assert_eq!(json["selection"].as_array().unwrap().len(), report.dimensions.len());
    assert_eq!(json["pca"]["components"].as_array().unwrap().len(), 4);
    let filtered: u64 = json["filter"].as_array().unwrap().iter().map(|r| r["documents"].as_u64().unwrap()).sum();
    assert_eq!(filtered, 9000 - report.rows_kept);
    assert!(json["stages"].as_array().unwrap().iter().any(|s| s["stage"] == "annotations"));
}

#[test]
fn json_outputs_and_errors_at_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let engine = Engine::new().unwrap();
    let home = dir.path();
    let jsonl = home.join("corpus.jsonl");
    rt.block_on(write_json(&engine, &format!("SELECT * FROM '{}' WHERE id <= 6000", corpus()), &jsonl));
    let lines: Vec<String> = std::fs::read_to_string(&jsonl).unwrap().lines().map(str::to_string).collect();

    // The output as N JSON Lines files (gzip), in component and rank order
    // across them, with the rows of a single Parquet output.
    run(odis(home).args(["select", "--input", "corpus.jsonl", "--out", "one.parquet", "--no-report"])).ok();
    run(odis(home).args(["select", "--input", "corpus.jsonl", "--out", "parts.jsonl.gz", "--out-files", "2", "--report", "r.html"])).ok();
    let expected = rt.block_on(selection_rows(&engine, &format!("'{}'", home.join("one.parquet").display())));
    let mut parts = Vec::new();
    for f in 0..2 {
        let path = home.join(format!("parts.jsonl.gz/part-{f:05}.jsonl.gz"));
        rt.block_on(query(&engine, &format!("CREATE EXTERNAL TABLE p{f} STORED AS JSON LOCATION '{}' OPTIONS ('format.compression' 'gzip')", path.display())));
        parts.extend(rt.block_on(selection_rows(&engine, &format!("p{f}"))));
    }
    assert_eq!(parts, expected);
    // report.json beside the HTML report, which carries the same figures.
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(home.join("r.json")).unwrap()).unwrap();
    assert_eq!(json["rows"]["selected"].as_u64().unwrap() as usize, expected.len());
    assert!(std::fs::read_to_string(home.join("r.html")).unwrap().contains("<script type=\"application/json\" id=\"odis-report\">{"));

    // A line that does not parse, past the lines the schema is read from:
    // the file and line are named, compressed or not.
    let mut broken = lines.clone();
    broken.insert(4000, "{\"id\": 99999, \"text\": \"cut sh".into());
    std::fs::write(home.join("broken.jsonl"), broken.join("\n")).unwrap();
    run(odis(home).args(["select", "--input", "broken.jsonl", "--out", "x.parquet"]))
        .fails_with(&["broken.jsonl, line 4001: not JSON", "fix the line"]);
    rt.block_on(write_json(&engine, &format!("SELECT * FROM '{}' WHERE id <= 6000", corpus()), &home.join("ok.jsonl.zst")));
    gzip(&home.join("broken.jsonl"));
    run(odis(home).args(["select", "--input", "broken.jsonl.gz", "--out", "x.parquet"])).fails_with(&["broken.jsonl.gz, line 4001: not JSON"]);
    // In the first lines, while the table's columns are read.
    let mut early = lines.clone();
    early.insert(10, "not json".into());
    std::fs::write(home.join("early.jsonl"), early.join("\n")).unwrap();
    run(odis(home).args(["select", "--input", "early.jsonl", "--out", "x.parquet"])).fails_with(&["early.jsonl, line 11: not JSON"]);
    // A field of another type than in the first lines.
    let mut mixed = lines.clone();
    mixed.insert(5000, "{\"id\": \"x-1\", \"text\": \"an id of text\"}".into());
    std::fs::write(home.join("mixed.jsonl"), mixed.join("\n")).unwrap();
    run(odis(home).args(["select", "--input", "mixed.jsonl", "--out", "x.parquet"]))
        .fails_with(&["mixed.jsonl, line 5001: the field 'id' holds a string, where the first lines hold Int64"]);
    // Names that do not say the format, or say another.
    std::fs::copy(&jsonl, home.join("corpus-noext")).unwrap();
    run(odis(home).args(["select", "--input", "corpus-noext", "--out", "x.parquet"]))
        .fails_with(&["cannot tell the format of", "corpus-noext", "--input-format parquet or --input-format json"]);
    run(odis(home).args(["select", "--input", "corpus-noext", "--input-format", "json", "--out", "noext.parquet", "--no-report"])).ok();
    assert_eq!(rt.block_on(selection_rows(&engine, &format!("'{}'", home.join("noext.parquet").display()))), expected);
    std::fs::copy(&jsonl, home.join("json.parquet")).unwrap();
    run(odis(home).args(["select", "--input", "json.parquet", "--out", "x.parquet"]))
        .fails_with(&["--input 'json.parquet' cannot be read", "not a Parquet file", "--input-format json"]);
    run(odis(home).args(["select", "--input", "ok.jsonl.zst", "--input-format", "parquet", "--out", "x.parquet"]))
        .fails_with(&["--input-format parquet, but", "ok.jsonl.zst' is compressed as a whole (zstd)"]);
    let mixed_dir = home.join("mixed");
    std::fs::create_dir(&mixed_dir).unwrap();
    std::fs::copy(&jsonl, mixed_dir.join("a.jsonl")).unwrap();
    std::fs::copy(home.join("one.parquet"), mixed_dir.join("b.parquet")).unwrap();
    run(odis(home).args(["select", "--input", "mixed/", "--out", "x.parquet"]))
        .fails_with(&["--input 'mixed/' mixes formats", "a.jsonl (JSON Lines)", "b.parquet (Parquet)"]);
    run(odis(home).args(["select", "--input", "corpus.jsonl", "--text-column", "body", "--out", "x.parquet"]))
        .fails_with(&["--text-column 'body' is not a column of corpus.jsonl; its columns are: id, source, text, title"]);
    // Outputs and annotations that cannot be written are refused first.
    run(odis(home).args(["select", "--input", "corpus.jsonl", "--out", "x.parquet.gz"]))
        .fails_with(&["--out 'x.parquet.gz' ends in .gz", "JSON Lines such as .jsonl.gz"]);
    run(odis(home).args(["select", "--input", "corpus.jsonl", "--out", "x.parquet", "--annotations", "mixed"]))
        .fails_with(&["--annotations mixed holds 'a.jsonl', which is not an annotation file"]);
    assert!(!home.join("x.parquet").exists());
    assert!(mixed_dir.join("a.jsonl").exists(), "a directory of other files is left as it was");
}

/// `path` compressed beside it by the system's gzip (a file as users have
/// them, not one written by odis).
fn gzip(path: &Path) {
    let status = std::process::Command::new("gzip").args(["-kf"]).arg(path).status().expect("gzip runs");
    assert!(status.success());
}

#[test]
fn json_lines_through_s3_in_and_out_with_annotations() {
    let s3 = MotoS3::start();
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    let with_s3 = |command: &mut std::process::Command| {
        for var in AWS_VARS {
            command.env_remove(var);
        }
        command.envs(s3.env());
        command.args(["--no-report"]);
    };
    let remote = s3.url("corpora/corpus.jsonl.zst");
    let upload = format!(
        "COPY (SELECT * FROM '{}' WHERE id <= 5000) TO '{remote}' STORED AS JSON OPTIONS ('format.compression' 'zstd')",
        corpus()
    );
    let mut command = odis(home);
    command.envs(s3.env());
    run(command.args(["-c", &upload])).ok();
    let remote_out = s3.url("selections/selected.jsonl.gz");
    let remote_annotations = s3.url("attributes/odis");
    let mut command = odis(home);
    command.args(["select", "--input", &remote, "--out", &remote_out, "--annotations", &remote_annotations]);
    with_s3(&mut command);
    run(&mut command).ok();
    // The same selection as from a local Parquet file of the same rows.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let engine = Engine::new().unwrap();
    rt.block_on(query(&engine, &format!("COPY (SELECT * FROM '{}' WHERE id <= 5000) TO '{}'", corpus(), home.join("local.parquet").display())));
    let mut command = odis(home);
    run(command.args(["select", "--input", "local.parquet", "--out", "local-selected.parquet", "--no-report"])).ok();
    let expected = rt.block_on(selection_rows(&engine, &format!("'{}'", home.join("local-selected.parquet").display())));
    let download = format!(
        "CREATE EXTERNAL TABLE s STORED AS JSON LOCATION '{remote_out}' OPTIONS ('format.compression' 'gzip'); \
         COPY (SELECT * FROM s) TO 'from-s3.parquet'; COPY (SELECT * FROM '{remote_annotations}/') TO 'annotations.parquet'"
    );
    let mut command = odis(home);
    command.envs(s3.env());
    run(command.args(["-c", &download])).ok();
    assert_eq!(rt.block_on(selection_rows(&engine, &format!("'{}'", home.join("from-s3.parquet").display()))), expected);
    let annotations = format!("'{}'", home.join("annotations.parquet").display());
    assert_eq!(rt.block_on(count(&engine, &format!("SELECT count(*) FROM {annotations}"))), 5000);
    assert_eq!(rt.block_on(count(&engine, &format!("SELECT count(*) FROM {annotations} WHERE selected"))) as usize, expected.len());
}

#[test]
fn a_bad_line_in_a_later_shard_is_found_by_pass_1_and_named_with_its_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let engine = Engine::new().unwrap();
    let docs = home.join("docs");
    std::fs::create_dir(&docs).unwrap();
    rt.block_on(write_json(&engine, &format!("SELECT * FROM '{}' WHERE id <= 4000", corpus()), &docs.join("a.jsonl")));
    let b = docs.join("b.jsonl");
    rt.block_on(write_json(&engine, &format!("SELECT * FROM '{}' WHERE id > 4000 AND id <= 8000", corpus()), &b));
    // A directory's files that say no format are not part of the corpus.
    std::fs::write(docs.join("_SUCCESS"), "").unwrap();
    let good = std::fs::read_to_string(&b).unwrap();
    let mut lines: Vec<&str> = good.lines().collect();
    lines.insert(2500, "{\"id\": 123456, \"text\": ");
    std::fs::write(&b, lines.join("\n")).unwrap();

    let select = || {
        let mut command = odis(home);
        command.args(["select", "--input", "docs/", "--out", "sel.parquet", "--no-report", "--shard-size", "1"]);
        run(&mut command)
    };
    select().fails_with(&["b.jsonl, line 2501: not JSON", "the raw scores of 1 of 2 shards are kept"]);
    assert!(!home.join("sel.parquet").exists());
    std::fs::write(&b, good).unwrap();
    let out = select();
    out.ok();
    assert!(out.stdout.contains("8000 rows in, "), "{}", out.stdout);
}
