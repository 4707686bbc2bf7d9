//! Scenario speed: `scenarios/partition.toml` run for 10 simulated minutes, reported by
//! criterion as throughput in *simulated seconds* per wall second (the figure in the README:
//! target ≥ 10 000×).
//!
//! `cargo bench --bench scenario`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mcsim::run::{RunOptions, run};
use mcsim::scenario::load_file;
use mcsim::sim::SimDuration;
use std::path::Path;
use std::sync::Arc;

fn bench(c: &mut Criterion) {
    let mut scenario = load_file(Path::new("scenarios/partition.toml")).expect("scenario loads");
    scenario.duration = SimDuration::from_mins(10);
    let scenario = Arc::new(scenario);
    let mut group = c.benchmark_group("scenario");
    group.sample_size(20);
    group.throughput(Throughput::Elements(600)); // simulated seconds per run
    group.bench_function("partition-10min", |b| {
        b.iter(|| {
            run(scenario.clone(), &RunOptions::default())
                .expect("runs")
                .report
                .events
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
