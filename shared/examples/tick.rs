//! The tick benchmark without criterion, for targets criterion does not
//! run on: built for `wasm32-wasip1` and run in node's V8 (the engine
//! Chromium runs the web UI's wasm in), it gives the wasm figure.
//! `cargo xtask bench` runs it; it also runs natively.

use std::time::Instant;

use anchorage_shared::engine::Engine;
use anchorage_shared::sim::QUANTUM_MS;

#[path = "../benches/workload.rs"]
mod workload;

/// Times `rounds` batches of `batch` runs of `f`; returns the median time
/// of one run, in microseconds.
fn median_us(rounds: usize, batch: usize, mut f: impl FnMut()) -> f64 {
    let mut samples: Vec<f64> = (0..rounds)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..batch {
                f();
            }
            start.elapsed().as_secs_f64() * 1e6 / batch as f64
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn main() {
    let mut engine = workload::busy_host();
    let tick = median_us(31, 100, || {
        std::hint::black_box(engine.advance(QUANTUM_MS));
    });
    let snapshot = median_us(31, 20, || {
        std::hint::black_box(engine.snapshot());
    });
    // Two snapshots a tick apart: the clock and the busy containers
    // differ; the rest is shared and compares by pointer.
    let a = engine.snapshot();
    engine.advance(QUANTUM_MS);
    let b = engine.snapshot();
    let compare = median_us(31, 100, || {
        let a = std::hint::black_box(&a);
        let b = std::hint::black_box(&b);
        let same = a.processes == b.processes
            && a.containers == b.containers
            && a.cgroups == b.cgroups
            && a.namespaces == b.namespaces;
        std::hint::black_box(same);
    });
    println!(
        "{} containers, {} processes: tick {tick:.1} us, snapshot {snapshot:.1} us, compare {compare:.1} us",
        workload::CONTAINERS,
        workload::PROCESSES
    );
}
