//! top_k_per_dim over 10M rows × 4 score dimensions from Parquet, budgets
//! 10% and 1%, next to a bare scan of the same columns.
//!
//! `cargo bench --bench selection`; ODIS_BENCH_ROWS sets another size. Peak
//! memory and the comparison with DuckDB: benches/side_by_side.py selection.

use std::path::PathBuf;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use odis::Engine;

fn rows() -> u64 {
    std::env::var("ODIS_BENCH_ROWS").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000_000)
}

/// id, 4 weakly correlated scores, and a short text column that must not
/// travel through the candidate heaps.
async fn ensure_data(engine: &Engine) -> PathBuf {
    let n = rows();
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("selection-bench-{n}.parquet"));
    if !path.exists() {
        let sql = format!(
            "COPY (SELECT x AS id, \
                 make_array(sin(x * 0.001), cos(x * 0.0013), sin(x * 0.0007 + 1.0) * 0.3 + ((x * 7919) % 1000) / 1000.0, \
                            ((x * 104729) % 100003) / 100003.0) AS pc, \
                 'document number ' || x AS body \
             FROM generate_series(1, {n}) t(x)) TO '{}'",
            path.display()
        );
        engine.sql(&sql).await.expect("generate bench data");
    }
    path
}

fn selection(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let engine = Engine::new().expect("engine");
    let path = runtime.block_on(ensure_data(&engine));
    runtime
        .block_on(engine.sql(&format!("CREATE EXTERNAL TABLE docs STORED AS PARQUET LOCATION '{}'", path.display())))
        .expect("register");
    let queries = [
        ("bare scan of id + scores", "SELECT count(id), sum(pc[1] + pc[2] + pc[3] + pc[4]) FROM docs".to_string()),
        ("top_k_per_dim 10%", "SELECT count(*), sum(length(body)) FROM top_k_per_dim('docs', 'id', 'pc', 0.1)".to_string()),
        ("top_k_per_dim 1%", "SELECT count(*), sum(length(body)) FROM top_k_per_dim('docs', 'id', 'pc', 0.01)".to_string()),
    ];
    let mut group = c.benchmark_group(format!("selection {} rows x 4 dims", rows()));
    group.sample_size(10).measurement_time(Duration::from_secs(40));
    for (name, sql) in &queries {
        group.bench_function(*name, |b| b.to_async(&runtime).iter(|| async { engine.sql(sql).await.expect(sql) }));
    }
    group.finish();
}

criterion_group!(benches, selection);
criterion_main!(benches);
