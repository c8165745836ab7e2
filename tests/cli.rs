//! The `odis` binary, run as a user runs it.

mod common;

use std::process::Stdio;

use common::{Run, odis, run};

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

#[test]
fn version_flag() {
    let dir = tempdir();
    let out = run(odis(dir.path()).arg("--version"));
    out.ok();
    assert!(out.stdout.starts_with(&format!("odis {}", env!("CARGO_PKG_VERSION"))), "{}", out.stdout);
}

#[test]
fn ndjson_prints_one_object_per_row() {
    let dir = tempdir();
    let out = run(odis(dir.path()).args(["-c", "SELECT 41+1 AS x", "--format", "ndjson"]));
    out.ok();
    assert_eq!(out.stdout, "{\"x\":42}\n");
}

#[test]
fn odis_version_shows_the_native_libraries() {
    let dir = tempdir();
    let out = run(odis(dir.path()).args(["-q", "--format", "csv", "-c", "SELECT odis_version() AS v"]));
    out.ok();
    let v = out.stdout.lines().nth(1).unwrap_or_default();
    assert!(v.contains(&format!("DataFusion {}", datafusion::DATAFUSION_VERSION)), "{v}");
    assert!(v.contains("ONNX Runtime 1."), "{v}");
    assert!(v.contains("BLAS OpenBLAS"), "{v}");
}

#[test]
fn commands_and_files_run_in_the_order_given() {
    let dir = tempdir();
    std::fs::write(dir.path().join("second.sql"), "SELECT 2 AS n;\n-- a comment\nSELECT 3 AS n;").unwrap();
    let out = run(odis(dir.path()).args(["--format", "csv", "-c", "SELECT 1 AS n", "-f", "second.sql", "-c", "SELECT 4 AS n"]));
    out.ok();
    assert_eq!(out.stdout, "n\n1\nn\n2\nn\n3\nn\n4\n");
}

#[test]
fn formats_table_csv_json() {
    let dir = tempdir();
    let sql = "SELECT * FROM (VALUES (1, 'a'), (2, NULL)) t(id, name) ORDER BY id";
    let table = run(odis(dir.path()).args(["-c", sql]));
    table.ok();
    assert!(table.stdout.contains("| id | name |"), "{}", table.stdout);
    let csv = run(odis(dir.path()).args(["--format", "csv", "-c", sql]));
    assert_eq!(csv.ok().stdout, "id,name\n1,a\n2,\n");
    let json = run(odis(dir.path()).args(["--format", "json", "-c", sql]));
    assert_eq!(json.ok().stdout, "[{\"id\":1,\"name\":\"a\"},{\"id\":2}]\n");
}

#[test]
fn bad_sql_is_one_error_line_and_a_failure() {
    let dir = tempdir();
    run(odis(dir.path()).args(["-c", "SELEC 1"])).fails_with(&["SQL error", "SELEC"]);
}

#[test]
fn a_failing_statement_stops_the_run() {
    let dir = tempdir();
    let out = run(odis(dir.path()).args(["--format", "csv", "-c", "SELECT 1 AS a; SELECT * FROM missing_table; SELECT 3 AS c"]));
    out.fails_with(&["missing_table", "not found"]);
    assert_eq!(out.stdout, "a\n1\n");
}

#[test]
fn missing_parquet_file_names_the_file() {
    let dir = tempdir();
    run(odis(dir.path()).args(["-c", "SELECT * FROM 'nope.parquet'"]))
        .fails_with(&["cannot read 'nope.parquet'", "no such file"]);
}

#[test]
fn corrupt_parquet_file_names_the_file() {
    let dir = tempdir();
    std::fs::write(dir.path().join("bad.parquet"), b"not parquet").unwrap();
    run(odis(dir.path()).args(["-c", "SELECT * FROM 'bad.parquet'"]))
        .fails_with(&["cannot read 'bad.parquet'", "Parquet"]);
}

#[test]
fn missing_sql_file_is_an_error() {
    let dir = tempdir();
    run(odis(dir.path()).args(["-f", "nope.sql"])).fails_with(&["cannot read SQL file 'nope.sql'"]);
}

#[test]
fn local_parquet_round_trip_with_copy_glob_and_external_table() {
    let dir = tempdir();
    let out = run(odis(dir.path()).args([
        "-q",
        "--format",
        "csv",
        "-c",
        "COPY (SELECT x AS id, x * x AS sq FROM generate_series(1, 100) t(x)) TO 'parts/a.parquet'",
        "-c",
        "COPY (SELECT x AS id, x * x AS sq FROM generate_series(101, 150) t(x)) TO 'parts/b.parquet'",
        "-c",
        "SELECT count(*) AS n, sum(sq) AS s FROM 'parts/*.parquet'",
        "-c",
        "CREATE EXTERNAL TABLE squares STORED AS PARQUET LOCATION 'parts/'",
        "-c",
        "SELECT max(id) AS m FROM squares",
    ]));
    out.ok();
    let expected_sum: i64 = (1..=150).map(|x: i64| x * x).sum();
    assert_eq!(out.stdout, format!("count\n100\ncount\n50\nn,s\n150,{expected_sum}\nm\n150\n"));
}

#[test]
fn failed_copy_leaves_no_partial_file_and_keeps_the_old_one() {
    let dir = tempdir();
    run(odis(dir.path()).args(["-c", "COPY (SELECT 7 AS x) TO 'out.parquet'"])).ok();
    let before = std::fs::read(dir.path().join("out.parquet")).unwrap();
    // Row 150000 divides by zero after many row groups were written.
    let failing = "COPY (SELECT x, 10 / (x - 150000) AS y FROM generate_series(1, 200000) t(x)) \
                   TO '{target}' OPTIONS ('format.max_row_group_size' '1000')";
    run(odis(dir.path()).args(["-c", &failing.replace("{target}", "out.parquet")]))
        .fails_with(&["Divide by zero"]);
    run(odis(dir.path()).args(["-c", &failing.replace("{target}", "fresh.parquet")]))
        .fails_with(&["Divide by zero"]);
    run(odis(dir.path()).args(["-c", &failing.replace("{target}", "outdir/").replace(" OPTIONS", " STORED AS PARQUET OPTIONS")]))
        .fails_with(&["Divide by zero"]);
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["out.parquet"], "only the earlier output may remain");
    assert_eq!(std::fs::read(dir.path().join("out.parquet")).unwrap(), before);
}

#[test]
fn copy_to_a_directory_writes_files_under_it() {
    let dir = tempdir();
    let out = run(odis(dir.path()).args([
        "--format",
        "csv",
        "-c",
        "COPY (SELECT x FROM generate_series(1, 10) t(x)) TO 'outdir/' STORED AS PARQUET",
        "-c",
        "SELECT sum(x) AS s FROM 'outdir/'",
    ]));
    out.ok();
    assert!(out.stdout.ends_with("s\n55\n"), "{}", out.stdout);
    let hidden: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert!(hidden.is_empty(), "staging left behind: {hidden:?}");
}

fn shell(dir: &std::path::Path, input: &str) -> Run {
    common::shell(&mut odis(dir), input)
}

#[test]
fn shell_reads_multi_line_statements_and_backslash_commands() {
    let dir = tempdir();
    let out = shell(
        dir.path(),
        "CREATE VIEW v AS\n  SELECT 1 AS a,\n  'x;y' AS b;\n\\format csv\n\\d\n\\d v\nSELECT a,\n b FROM v;\n\\q\nSELECT 'not reached';\n",
    );
    out.ok();
    assert!(out.stdout.contains("public,v,VIEW"), "{}", out.stdout);
    assert!(out.stdout.contains("column_name,data_type,is_nullable"), "{}", out.stdout);
    assert!(out.stdout.ends_with("a,b\n1,x;y\n"), "{}", out.stdout);
    assert!(!out.stdout.contains("not reached"));
}

#[test]
fn shell_help_comes_from_the_functions_docs() {
    let dir = tempdir();
    let out = shell(dir.path(), "\\h\n\\h odis_version\n\\h sum\n\\h top_k_per_dim\n");
    out.ok();
    assert!(out.stdout.contains("odis functions:"), "{}", out.stdout);
    let listed = |name: &str, summary: &str| {
        out.stdout.lines().any(|l| l.trim_start().starts_with(name) && l.contains(summary))
    };
    assert!(listed("odis_version", "Returns the versions"), "{}", out.stdout);
    assert!(listed("top_k_per_dim ", "Selects the best rows of each score dimension"), "{}", out.stdout);
    assert!(out.stdout.contains("top_k_per_dim (ODiS Selection Functions)"), "{}", out.stdout);
    assert!(out.stdout.contains("largest-remainder method"), "{}", out.stdout);
    assert!(out.stdout.contains("Syntax:\n  odis_version()"), "{}", out.stdout);
    assert!(out.stdout.contains("sum (General Functions)") || out.stdout.contains("sum ("), "{}", out.stdout);
}

#[test]
fn shell_reports_unknown_commands_and_functions() {
    let dir = tempdir();
    let out = shell(dir.path(), "\\nope\n\\h no_such_function\n\\format xml\nSELECT 1 AS ok;\n");
    out.ok();
    assert!(out.stderr.contains("unknown command '\\nope'"), "{}", out.stderr);
    assert!(out.stderr.contains("no function named 'no_such_function'"), "{}", out.stderr);
    assert!(out.stderr.contains("unknown format 'xml'"), "{}", out.stderr);
    assert!(out.stdout.contains("| ok |"), "{}", out.stdout);
}

#[test]
fn dash_c_takes_the_shells_backslash_commands() {
    let dir = tempdir();
    let out = run(odis(dir.path()).args(["-c", "\\h quality_filter"]));
    out.ok();
    assert!(out.stdout.contains("quality_filter(text [, spec])") && out.stdout.contains("datatrove"), "{}", out.stdout);
    // In the order given, with SQL around it.
    let out = run(odis(dir.path()).args(["--format", "csv", "-c", "SELECT 1 AS n", "-c", "\\format json", "-c", "SELECT 2 AS n"]));
    out.ok();
    assert_eq!(out.stdout, "n\n1\n[{\"n\":2}]\n");
    // A wrong command fails the run, as a wrong statement does.
    run(odis(dir.path()).args(["-c", "\\h no_such_function"])).fails_with(&["no function named 'no_such_function'"]);
    run(odis(dir.path()).args(["-c", "\\nope", "-c", "SELECT 'not reached'"])).fails_with(&["unknown command '\\nope'"]);
}

#[test]
fn shell_stops_at_a_failing_statement_when_scripted() {
    let dir = tempdir();
    let out = shell(dir.path(), "SELECT * FROM nope;\nSELECT 'not reached';\n");
    out.fails_with(&["nope", "not found"]);
    assert!(!out.stdout.contains("not reached"));
}

#[test]
fn ctrl_c_cancels_a_running_query() {
    let dir = tempdir();
    let child = odis(dir.path())
        .args(["-c", "SELECT count(*) FROM generate_series(1, 100000000000) t(x) WHERE x % 7 = 3"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let status = std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let started = std::time::Instant::now();
    let out: Run = child.wait_with_output().unwrap().into();
    assert!(started.elapsed().as_secs() < 10, "cancellation took {:?}", started.elapsed());
    assert_eq!(out.code, Some(130), "{}", out.stderr);
    assert!(out.stderr.contains("Query cancelled"), "{}", out.stderr);
}

#[test]
fn ctrl_c_in_the_interactive_shell_cancels_the_query_and_keeps_the_session() {
    // `script` (util-linux) gives odis a real terminal, so this is the line
    // editor path; the terminal turns the \x03 byte into SIGINT.
    let dir = tempdir();
    let history = dir.path().join("history");
    let odis_path = env!("CARGO_BIN_EXE_odis");
    let feeder = format!(
        "sleep 1; printf 'SELECT count(*) FROM generate_series(1, 100000000000) t(x) WHERE x %% 7 = 3;\\r'; \
         sleep 2; printf '\\003'; sleep 1; printf \"SELECT 'still' || ' here' AS s;\\r\"; sleep 1; printf '\\\\q\\r'; sleep 1"
    );
    let out: Run = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!("({feeder}) | script -q -e -c '{odis_path}' /dev/null"))
        .env("ODIS_HISTORY", &history)
        .current_dir(dir.path())
        .output()
        .expect("script(1) from util-linux runs")
        .into();
    assert!(out.stdout.contains("Query cancelled."), "{}", out.stdout);
    assert!(out.stdout.contains("still here"), "the session did not go on:\n{}", out.stdout);
    let saved = std::fs::read_to_string(&history).expect("history saved");
    assert!(saved.contains("SELECT 'still' || ' here' AS s;"), "{saved}");
}

#[test]
fn the_shell_history_keeps_no_secret() {
    // A real terminal (script(1)), so the entry goes through the line editor.
    let dir = tempdir();
    let history = dir.path().join("history");
    let odis_path = env!("CARGO_BIN_EXE_odis");
    let statement = "CREATE EXTERNAL TABLE t STORED AS PARQUET LOCATION 's3://nowhere-bucket/x/' \
                     OPTIONS ('aws.access_key_id' 'AKIAVISIBLE', 'aws.secret_access_key' 'TOPSECRET42', \
                     'aws.endpoint' 'http://127.0.0.1:9', 'aws.allow_http' 'true', 'aws.region' 'us-east-1');";
    let feeder = format!("sleep 1; printf \"%s\\r\" \"{statement}\"; sleep 3; printf '\\\\q\\r'; sleep 1");
    let _ = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!("({feeder}) | script -q -e -c '{odis_path}' /dev/null"))
        .env("ODIS_HISTORY", &history)
        .current_dir(dir.path())
        .output()
        .expect("script(1) from util-linux runs");
    let saved = std::fs::read_to_string(&history).expect("history saved");
    assert!(saved.contains("AKIAVISIBLE"), "the statement is in the history: {saved}");
    assert!(!saved.contains("TOPSECRET42"), "a secret reached the history: {saved}");
}

#[test]
fn missing_onnx_runtime_says_how_to_install_it() {
    let dir = tempdir();
    let out = run(odis(dir.path())
        .env("ORT_DYLIB_PATH", dir.path().join("libonnxruntime.so"))
        .args(["--format", "csv", "-c", "SELECT odis_version() AS v"]));
    out.ok();
    assert!(out.stdout.contains("ORT_DYLIB_PATH is set to"), "{}", out.stdout);
    let out = run(odis(dir.path())
        .env_remove("ORT_DYLIB_PATH")
        .env("ODIS_HOME", dir.path())
        .args(["--format", "csv", "-c", "SELECT odis_version() AS v"]));
    out.ok();
    assert!(out.stdout.contains("ONNX Runtime library not found"), "{}", out.stdout);
    assert!(out.stdout.contains("scripts/setup.sh"), "{}", out.stdout);
}

/// The allocator returns freed pages 100 ms after their last use, from a
/// background thread (src/bin/odis/main.rs): jemalloc's own report of its
/// options says so, and a user's `_RJEM_MALLOC_CONF` still wins.
#[test]
fn the_allocator_returns_freed_memory_promptly_unless_told_otherwise() {
    let dir = tempdir();
    let options = |conf: &str| {
        let out = run(odis(dir.path()).env("_RJEM_MALLOC_CONF", conf).args(["-q", "-c", "SELECT 1"]));
        out.ok();
        out.stderr
    };
    let has = |report: &str, line: &str| report.lines().any(|l| l.trim_start().starts_with(line));
    let ours = options("stats_print:true");
    for line in ["opt.background_thread: true", "opt.dirty_decay_ms: 100 ", "opt.muzzy_decay_ms: 0 "] {
        assert!(has(&ours, line), "no '{line}' in:\n{ours}");
    }
    let theirs = options("stats_print:true,dirty_decay_ms:5000,background_thread:false");
    for line in ["opt.background_thread: false", "opt.dirty_decay_ms: 5000 "] {
        assert!(has(&theirs, line), "no '{line}' in:\n{theirs}");
    }
}
