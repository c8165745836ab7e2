//! A dropped query stops its work. In a test binary of its own: it reads
//! the process's CPU time, which other tests running beside it would add to.

use odis::Engine;

/// CPU seconds this process has used so far (user + system), from /proc.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    // After the command name: state is field 0, utime field 11, stime field 12.
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0
}

/// Dropping a selection mid-pass stops its scans: the tasks that read the
/// partitions are aborted with it, so the cores go idle.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_selection_stops_its_scans() {
    let engine = Engine::builder().with_target_partitions(2).build().unwrap();
    engine
        .sql(
            "CREATE VIEW big AS SELECT value AS id, [random(), random(), random(), random()] AS scores \
             FROM generate_series(1, 200000000)",
        )
        .await
        .unwrap();
    let query =
        tokio::spawn(async move { engine.sql("SELECT count(*) FROM top_k_per_dim('big', 'id', 'scores', 1000)").await });
    let start = cpu_seconds();
    tokio::time::sleep(std::time::Duration::from_millis(2000)).await;
    let running = cpu_seconds() - start;
    assert!(!query.is_finished(), "the selection should still be reading");
    assert!(running > 0.5, "the selection used only {running:.2} CPU seconds in 2 s");
    query.abort();
    let _ = query.await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let start = cpu_seconds();
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let idle = cpu_seconds() - start;
    assert!(idle < 0.3, "{idle:.2} CPU seconds in the 2 s after the selection was dropped");
}
