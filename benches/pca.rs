//! pca_fit and pca_project over 10M rows × 11 Float32 columns from Parquet,
//! next to a bare scan-and-sum of the same columns.
//!
//! `cargo bench --bench pca`; set ODIS_BENCH_ROWS for another size. The
//! Parquet file is generated once into the build's temporary directory.
//! Peak memory and the comparison with DuckDB: benches/side_by_side.py pca.

use std::path::PathBuf;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use odis::Engine;

const DIMS: usize = 11;

fn rows() -> u64 {
    std::env::var("ODIS_BENCH_ROWS").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000_000)
}

fn columns() -> String {
    (0..DIMS).map(|j| format!("c{j}")).collect::<Vec<_>>().join(", ")
}

/// 11 correlated Float32 columns: a few shared latent signals plus noise,
/// from deterministic functions of the row number.
async fn ensure_data(engine: &Engine) -> PathBuf {
    let n = rows();
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("pca-bench-{n}.parquet"));
    if path.exists() {
        return path;
    }
    let select: Vec<String> = (0..DIMS)
        .map(|j| {
            format!(
                "arrow_cast(sin(x * {a}) * {w1} + cos(x * {b}) * {w2} + ((x * {p}) % 1000) / 1000.0 * {w3}, 'Float32') AS c{j}",
                a = 0.001 + j as f64 * 1e-4,
                b = 0.0007,
                p = 7919 + 2 * j,
                w1 = 1.0 + j as f64 * 0.1,
                w2 = (j % 3) as f64,
                w3 = 0.5,
            )
        })
        .collect();
    let sql = format!(
        "COPY (SELECT {} FROM generate_series(1, {n}) t(x)) TO '{}'",
        select.join(", "),
        path.display()
    );
    engine.sql(&sql).await.expect("generate bench data");
    path
}

fn pca(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let engine = Engine::new().expect("engine");
    let path = runtime.block_on(ensure_data(&engine));
    let table = path.display();
    let cols = columns();
    let sums: Vec<String> = (0..DIMS).map(|j| format!("sum(c{j})")).collect();
    let scan = format!("SELECT {} FROM '{table}'", sums.join(" + "));
    let fit = format!("SELECT pca_fit(make_array({cols}), 4) FROM '{table}'");
    let fit_project = format!(
        "WITH m AS (SELECT pca_fit(make_array({cols}), 4) AS model FROM '{table}') \
         SELECT sum(pc[1]), sum(pc[4]) FROM (SELECT pca_project(make_array({cols}), m.model) AS pc FROM '{table}', m)"
    );

    let mut group = c.benchmark_group(format!("pca {} rows x {DIMS} f32", rows()));
    group.sample_size(10).measurement_time(Duration::from_secs(30));
    for (name, sql) in [("bare scan + sum", &scan), ("pca_fit", &fit), ("pca_fit + pca_project", &fit_project)] {
        group.bench_function(name, |b| b.to_async(&runtime).iter(|| async { engine.sql(sql).await.expect(sql) }));
    }
    group.finish();
}

criterion_group!(benches, pca);
criterion_main!(benches);
