//! How long the simulated kernel takes to advance one tick, take a
//! snapshot, and compare two snapshots (what the UI does each frame), on a
//! host with 100 containers and 1,000 processes. The target: a tick in at
//! most 1 ms natively. BENCHMARKS.md has the figures.

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

use anchorage_shared::engine::Engine;
use anchorage_shared::sim::QUANTUM_MS;

mod workload;

fn tick(c: &mut Criterion) {
    let mut engine = workload::busy_host();
    let name = format!(
        "advance one {QUANTUM_MS} ms tick ({} containers, {} processes)",
        workload::CONTAINERS,
        workload::PROCESSES
    );
    c.bench_function(&name, |b| {
        b.iter(|| black_box(engine.advance(QUANTUM_MS)));
    });

    let engine = workload::busy_host();
    c.bench_function("snapshot", |b| b.iter(|| black_box(engine.snapshot())));

    // Two snapshots a tick apart, compared part by part as the UI does:
    // unchanged entities compare by pointer.
    let mut engine = engine;
    let before = engine.snapshot();
    engine.advance(QUANTUM_MS);
    let after = engine.snapshot();
    c.bench_function("compare two snapshots a tick apart", |b| {
        b.iter(|| {
            let (x, y) = (black_box(&before), black_box(&after));
            black_box(
                x.processes == y.processes
                    && x.containers == y.containers
                    && x.cgroups == y.cgroups
                    && x.namespaces == y.namespaces,
            )
        })
    });
}

criterion_group!(benches, tick);
criterion_main!(benches);
