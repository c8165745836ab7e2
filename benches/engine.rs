//! Engine overhead: planning and running a trivial query end to end.

use criterion::{Criterion, criterion_group, criterion_main};
use odis::Engine;

fn trivial_query(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let engine = Engine::new().expect("engine");
    c.bench_function("sql: SELECT 41 + 1", |b| {
        b.to_async(&runtime).iter(|| async { engine.sql("SELECT 41 + 1 AS x").await.expect("query") })
    });
}

criterion_group!(benches, trivial_query);
criterion_main!(benches);
