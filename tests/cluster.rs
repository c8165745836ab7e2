//! odis on a Ballista cluster: a scheduler and two executors started as
//! real processes (`odis scheduler`, `odis executor`) on 127.0.0.1, and
//! clients (the library and the binary) whose answers must equal the local
//! ones: every function, `odis select` over local Parquet and over S3, an
//! executor killed mid-query, a scheduler that is not there.

mod common;

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::function_queries::{answers, split_corpus};
use common::{AWS_VARS, MotoS3, ObjectStoreServer, odis, run};
use odis::Engine;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Waits until `child` listens on `port`; Err with its log if it exits first.
fn wait_for_port(port: u16, what: &str, child: &mut Child, log: &Path) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Some(status) = child.try_wait().unwrap() {
            let err = std::fs::read_to_string(log).unwrap_or_default();
            return Err(format!("{what} exited with {status} before listening on {port}:\n{err}"));
        }
        assert!(Instant::now() < deadline, "{what} did not listen on {port} within a minute");
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

/// Starts `command(port)` on a free port and waits until it listens there.
/// A port found free can be taken by another test's process before this one
/// binds it: then it starts again on another.
fn spawn_listening(what: &str, log: &Path, mut command: impl FnMut(u16) -> Command) -> (Child, u16) {
    for _ in 0..5 {
        let port = free_port();
        let mut child = command(port).spawn().unwrap_or_else(|e| panic!("start {what}: {e}"));
        match wait_for_port(port, what, &mut child, log) {
            Ok(()) => return (child, port),
            Err(e) if e.contains("Address already in use") => continue,
            Err(e) => panic!("{e}"),
        }
    }
    panic!("{what}: no free port after 5 tries");
}

/// A scheduler and executors as child processes, stopped when dropped.
struct TestCluster {
    scheduler: Child,
    executors: Vec<Child>,
    pub url: String,
    _dir: tempfile::TempDir,
}

impl TestCluster {
    /// `env`: what every process gets (the S3 server's settings, say).
    fn start(executors: usize, env: &[(&'static str, String)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        // Logs go to files: a pipe nobody reads would stall a process once full.
        let with_env = |command: &mut Command, log: &Path| {
            for var in AWS_VARS {
                command.env_remove(var);
            }
            let log = std::fs::File::create(log).unwrap();
            command.envs(env.iter().map(|(k, v)| (*k, v.as_str()))).stdout(Stdio::null()).stderr(log);
        };
        let log = dir.path().join("scheduler.log");
        let (scheduler, port) = spawn_listening("odis scheduler", &log, |port| {
            let mut command = odis(dir.path());
            command.args(["scheduler", "--bind", &format!("127.0.0.1:{port}"), "--executor-timeout", "10"]);
            with_env(&mut command, &log);
            command
        });
        // Owned by the cluster from here on, so that a failure to start an
        // executor stops the processes already running (by Drop).
        let base = dir.path().to_path_buf();
        let mut cluster = TestCluster { scheduler, executors: Vec::new(), url: format!("df://127.0.0.1:{port}"), _dir: dir };
        for n in 0..executors {
            let log = base.join(format!("executor-{n}.log"));
            let (child, _) = spawn_listening("odis executor", &log, |flight| {
                let mut command = odis(&base);
                command.args([
                    "executor",
                    "--scheduler",
                    &format!("127.0.0.1:{port}"),
                    "--bind",
                    &format!("127.0.0.1:{flight}"),
                    "--concurrent-tasks",
                    "2",
                    "--work-dir",
                ]);
                command.arg(base.join(format!("executor-{n}")));
                with_env(&mut command, &log);
                command
            });
            cluster.executors.push(child);
        }
        // Executors register with their first poll of the scheduler.
        std::thread::sleep(Duration::from_secs(1));
        cluster
    }

    fn kill_executor(&mut self, n: usize) {
        let _ = self.executors[n].kill();
        let _ = self.executors[n].wait();
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        for child in self.executors.iter_mut().chain(std::iter::once(&mut self.scheduler)) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The bundled corpus in 4 files under `dir`/corpus.
async fn corpus_in(dir: &Path) -> PathBuf {
    let corpus = dir.join("corpus");
    std::fs::create_dir(&corpus).unwrap();
    split_corpus(&corpus).await;
    corpus
}

fn tiny_encoder() -> String {
    common::fixtures::generate("make_test_models.py").join("tiny_encoder").display().to_string()
}

/// Every function of odis on the cluster, one partition per task (so that
/// a node run whole by each task would show as duplicated rows), against
/// the same queries run locally.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_function_on_the_cluster_answers_as_it_does_locally() {
    let dir = tempfile::tempdir().unwrap();
    split_corpus(dir.path()).await;
    let model = tiny_encoder();
    let here = Engine::builder().with_target_partitions(4).build().unwrap();
    let local = answers(&here, dir.path(), &model).await;

    let cluster = TestCluster::start(2, &[]);
    let engine = Engine::builder().with_target_partitions(4).cluster(&cluster.url).build().unwrap();
    engine.sql("SET ballista.scheduler.max_partitions_per_task = 1").await.unwrap();
    let remote = answers(&engine, dir.path(), &model).await;
    assert_eq!(local.len(), remote.len());
    for ((function, a), (_, b)) in local.iter().zip(&remote) {
        assert!(a == b, "{function} differs on the cluster:\n{a}\n---\n{b}");
    }

    // A selection over a view: its scan arrives already planned for the
    // cluster, and must still run as the selection's own distributed passes.
    let views = "CREATE VIEW some AS SELECT id, s FROM docs WHERE id % 3 <> 0; \
                 CREATE VIEW nulls AS SELECT CASE WHEN id = 5 THEN NULL ELSE id END AS id, s FROM docs";
    let over_view = "SELECT id, odis_dim, odis_rank FROM top_k_per_dim('some', 'id', 's', 500)";
    let mut printed = Vec::new();
    for engine in [&here, &engine] {
        engine.sql(views).await.unwrap();
        let batches = engine.sql(over_view).await.unwrap();
        assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 500);
        printed.push(datafusion::arrow::util::pretty::pretty_format_batches(&batches).unwrap().to_string());
    }
    assert!(printed[0] == printed[1], "a selection over a view differs on the cluster");
    // An executor's error reaches the client as the executor said it.
    let e = engine.sql("SELECT count(*) FROM top_k_per_dim('nulls', 'id', 's', 10)").await.unwrap_err().to_string();
    assert!(e.contains("id column 'id' has NULL values") && e.contains(&cluster.url), "{e}");
}

/// Two selections (CSV of id, odis_dim, odis_rank, odis_score): the same
/// rows, dimensions and ranks, line for line, and the same scores to 1e-12.
/// (Scores are not compared bit for bit: the PCA is fitted from sums whose
/// last bits depend on the order rows were written to the work files, which
/// varies from run to run locally too.)
fn assert_same_selection(got: &str, want: &str) {
    let (g, w): (Vec<&str>, Vec<&str>) = (got.lines().collect(), want.lines().collect());
    assert_eq!(g.len(), w.len(), "selection sizes differ");
    for (at, (a, b)) in g.iter().zip(&w).enumerate().skip(1) {
        let (ka, sa) = a.rsplit_once(',').unwrap();
        let (kb, sb) = b.rsplit_once(',').unwrap();
        let (sa, sb): (f64, f64) = (sa.parse().unwrap(), sb.parse().unwrap());
        assert!(
            ka == kb && (sa - sb).abs() <= 1e-12 * sb.abs().max(1.0),
            "the selections differ at line {at}: cluster {a}, local {b}"
        );
    }
}

/// (id, odis_dim, odis_rank, odis_score) of a selection file, in file order.
fn selected_rows(dir: &Path, file: &Path) -> String {
    let out = run(odis(dir).args([
        "--format",
        "csv",
        "-c",
        &format!("SELECT id, odis_dim, odis_rank, odis_score FROM '{}'", file.display()),
    ]));
    out.ok();
    assert!(out.stdout.lines().count() > 100, "a selection of some size: {}", out.stdout);
    out.stdout
}

fn select_args(input: &str, out: &Path) -> Vec<String> {
    ["select", "--input", input, "--budget", "10%", "--no-report", "--out"]
        .iter()
        .map(|s| s.to_string())
        .chain([out.display().to_string()])
        .collect()
}

/// `odis select --cluster` over local Parquet gives the local selection,
/// row for row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odis_select_on_the_cluster_equals_the_local_selection() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = corpus_in(dir.path()).await;
    let input = format!("{}/", corpus.display());
    let local_out = dir.path().join("local.parquet");
    run(odis(dir.path()).args(["--target-partitions", "4"]).args(select_args(&input, &local_out))).ok();

    let cluster = TestCluster::start(2, &[]);
    let remote_out = dir.path().join("cluster.parquet");
    let started = Instant::now();
    let remote = run(odis(dir.path())
        .args(["--target-partitions", "4", "--cluster", &cluster.url])
        .args(select_args(&input, &remote_out)));
    remote.ok();
    eprintln!("odis select on the cluster: {:?}", started.elapsed());
    assert_same_selection(&selected_rows(dir.path(), &remote_out), &selected_rows(dir.path(), &local_out));
    // The per-flag form: `odis select --cluster`.
    let again = dir.path().join("again.parquet");
    let mut args = select_args(&input, &again);
    args.extend(["--cluster".to_string(), cluster.url.clone()]);
    run(odis(dir.path()).args(["--target-partitions", "4"]).args(args)).ok();
    assert_same_selection(&selected_rows(dir.path(), &again), &selected_rows(dir.path(), &local_out));
    // A budget in tokens: the counts made on the executors, the same ids.
    let in_tokens = |out: &Path| {
        let mut args = select_args(&input, out);
        args[4] = "300K tokens".into();
        args.extend(["--tokenizer".to_string(), "approx".to_string()]);
        args
    };
    let (local_tokens, remote_tokens) = (dir.path().join("local-tokens.parquet"), dir.path().join("cluster-tokens.parquet"));
    run(odis(dir.path()).args(["--target-partitions", "4"]).args(in_tokens(&local_tokens))).ok();
    run(odis(dir.path()).args(["--target-partitions", "4", "--cluster", &cluster.url]).args(in_tokens(&remote_tokens))).ok();
    assert_same_selection(&selected_rows(dir.path(), &remote_tokens), &selected_rows(dir.path(), &local_tokens));
}

/// The corpus on S3 (the local S3 server), read by the executors with the
/// credentials of their environment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odis_select_on_the_cluster_over_s3_equals_the_local_selection() {
    let s3 = MotoS3::start();
    let dir = tempfile::tempdir().unwrap();
    let corpus = corpus_in(dir.path()).await;
    // Upload the four files.
    let mut upload = odis(dir.path());
    for var in AWS_VARS {
        upload.env_remove(var);
    }
    upload.envs(s3.env());
    for part in 0..4 {
        upload.args([
            "-c",
            &format!(
                "COPY (SELECT * FROM '{}') TO '{}'",
                corpus.join(format!("part-{part}.parquet")).display(),
                s3.url(&format!("corpus/part-{part}.parquet"))
            ),
        ]);
    }
    run(&mut upload).ok();

    let local_out = dir.path().join("local.parquet");
    run(odis(dir.path()).args(["--target-partitions", "4"]).args(select_args(&format!("{}/", corpus.display()), &local_out))).ok();

    let cluster = TestCluster::start(2, &s3.env());
    let remote_out = dir.path().join("cluster.parquet");
    let mut command = odis(dir.path());
    for var in AWS_VARS {
        command.env_remove(var);
    }
    command.envs(s3.env());
    run(command
        .args(["--target-partitions", "4", "--cluster", &cluster.url])
        .args(select_args(&s3.url("corpus/"), &remote_out)))
    .ok();
    assert_same_selection(&selected_rows(dir.path(), &remote_out), &selected_rows(dir.path(), &local_out));
}

/// A query that keeps two executors busy for several seconds: partial
/// aggregates over eight partitions, merged after a shuffle.
fn long_query(corpus: &Path) -> String {
    let text = format!("SELECT text FROM '{}/'", corpus.display());
    format!(
        "SELECT count(*) AS n, round(sum(quality_ratings_vector(text)[1] + quality_signals_vector(text)[2]), 3) AS total \
         FROM ({text} UNION ALL {text})"
    )
}

/// An executor killed while a query runs: the query either fails with one
/// clear error line or finishes with the exact answer (its tasks rerun on
/// the other executor), and in bounded time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_executor_gives_a_clear_error_or_the_exact_answer() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = corpus_in(dir.path()).await;
    let sql = long_query(&corpus);
    let local = run(odis(dir.path()).args(["--target-partitions", "4", "--format", "csv", "-c", &sql]));
    local.ok();

    let mut cluster = TestCluster::start(2, &[]);
    let started = Instant::now();
    let mut client = odis(dir.path())
        .args(["--target-partitions", "4", "--format", "csv", "--cluster", &cluster.url, "-c", &sql])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    cluster.kill_executor(0);
    let deadline = Instant::now() + Duration::from_secs(150);
    while client.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "the query neither failed nor finished 150 s after an executor died");
        std::thread::sleep(Duration::from_millis(200));
    }
    let outcome: common::Run = client.wait_with_output().unwrap().into();
    eprintln!("after {:?}: {:?}\n{}{}", started.elapsed(), outcome.code, outcome.stdout, outcome.stderr);
    if outcome.code == Some(0) {
        assert_eq!(outcome.stdout, local.stdout, "a retried query must give the exact answer");
    } else {
        outcome.fails_with(&["cluster"]);
    }
}

/// No scheduler at the address: one error line within seconds, naming the
/// address and how to start one.
#[test]
fn an_unreachable_scheduler_is_a_clear_error_within_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let started = Instant::now();
    let url = format!("df://127.0.0.1:{port}");
    run(odis(dir.path()).args(["--cluster", &url, "-c", "SELECT 1"]))
        .fails_with(&[&url, "cannot reach a scheduler", "odis scheduler --bind"]);
    run(odis(dir.path()).args(["--cluster", "http://127.0.0.1:1", "-c", "SELECT 1"])).fails_with(&["df://HOST:PORT"]);
    let mut args = select_args("x.parquet", &PathBuf::from("out.parquet"));
    args.extend(["--cluster".into(), url.clone()]);
    run(odis(dir.path()).args(args)).fails_with(&[&url, "cannot reach a scheduler"]);
    assert!(started.elapsed() < Duration::from_secs(20), "took {:?}", started.elapsed());
}

/// The in-process cluster (for tests and examples) runs the same plans.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_in_process_cluster_answers_like_a_real_one() {
    let url = odis::cluster::start_standalone(2, 2).await.unwrap();
    let corpus = common::repo_root().join("sql/data/corpus.parquet");
    let engine = Engine::builder().with_target_partitions(4).cluster(&url).build().unwrap();
    let here = Engine::builder().with_target_partitions(4).build().unwrap();
    let query = format!(
        "SELECT count(*) AS n, sum(id) AS ids, round(sum(quality_ratings_vector(text)[2]), 6) AS r FROM '{}'",
        corpus.display()
    );
    let printed = |batches: Vec<datafusion::arrow::array::RecordBatch>| {
        datafusion::arrow::util::pretty::pretty_format_batches(&batches).unwrap().to_string()
    };
    assert_eq!(printed(engine.sql(&query).await.unwrap()), printed(here.sql(&query).await.unwrap()));
}
