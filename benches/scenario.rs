//! Scenario speed: `scenarios/partition.toml` run for 10 simulated minutes, reported by
//! criterion as throughput in *simulated seconds* per wall second (the figure in the README:
//! target ≥ 10 000×).
//!
//! Also `snapshot-load-300`: loading and validating a 300-service cluster snapshot
//! (`k8s::sample_snapshot`, 1 683 objects) and building the world that restores it.
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

fn snapshot_load(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("mcsim-bench-snapshot-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let snapshot = mcsim::k8s::sample_snapshot::SampleSnapshot {
        cluster: "east",
        services: 300,
        namespaces: 10,
        export_every: 3,
        pod_net: [10, 244],
        linked: "west",
    };
    std::fs::write(dir.join("east.yaml"), snapshot.yaml()).expect("snapshot written");
    let text = "[sim]\nname = \"snapshot\"\nduration = \"1m\"\n[[cluster]]\nname = \"west\"\n[[cluster]]\nname = \"east\"\nsnapshot = \"east.yaml\"\npod_cidr = \"10.244.0.0/16\"\nservice_cidr = \"10.96.0.0/12\"\n";
    let file = dir.join("s.toml");
    let file = file.to_str().expect("utf-8 path");
    let mut group = c.benchmark_group("scenario");
    group.sample_size(10);
    group.bench_function("snapshot-load-300", |b| {
        b.iter(|| {
            let s = Arc::new(mcsim::scenario::load_str(file, text).expect("loads"));
            mcsim::run::validate(&s).expect("builds");
        })
    });
    group.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, bench, snapshot_load);
criterion_main!(benches);
