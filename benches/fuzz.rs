//! Fuzz throughput (issue 8): seeds per second through `mcsim::fuzz::sweep` with 2 jobs on
//! `scenarios/partition.toml` with its duration cut to 2 simulated minutes (swarm faults on,
//! 1 seed in 20 rerun for determinism, as `mcsim fuzz` does by default). Target: ≥ 500 seeds/s.
//!
//! `cargo bench --bench fuzz` (criterion reports the throughput in elements/s = seeds/s; one
//! iteration is a sweep of 40 seeds, 200 with `MCSIM_BENCH_FULL=1`).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mcsim::fuzz::{FuzzOptions, sweep};
use mcsim::scenario::load_file;
use mcsim::sim::SimDuration;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

fn bench(c: &mut Criterion) {
    let full = std::env::var("MCSIM_BENCH_FULL").is_ok_and(|v| v == "1");
    let seeds = if full { 200 } else { 40 };
    let mut scenario = load_file(Path::new("scenarios/partition.toml")).expect("scenario loads");
    scenario.duration = SimDuration::from_mins(2);
    let scenario = Arc::new(scenario);
    let options = FuzzOptions {
        seeds,
        start: 0,
        jobs: 2,
        mode: None,
        check_determinism: false,
        swarm: true,
        out: None,
        fixes: Vec::new(),
    };
    let mut group = c.benchmark_group("fuzz");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(if full { 20 } else { 5 }));
    group.throughput(Throughput::Elements(seeds));
    group.bench_function("partition-2min-2jobs", |b| {
        b.iter(|| {
            let results = sweep(scenario.clone(), &options, |_, _| {}).expect("sweep runs");
            assert_eq!(results.len() as u64, seeds);
            results.len()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
