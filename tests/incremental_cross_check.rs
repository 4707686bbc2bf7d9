//! The incremental kubelet and garbage collector are optimisations of full passes over the
//! caches (`kubelet::sync`, `gc::sync`, kept as references). In explored runs, where informer
//! deltas are held after the caches already show them, every incremental pass must still send
//! exactly what the full pass over the same view would: the runs compare both at every pass.

use mcsim::run::{RunOptions, run};
use mcsim::scenario::load_file;
use mcsim::sim::Exploration;
use std::sync::Arc;

#[test]
fn incremental_passes_match_full_passes_in_explored_runs() {
    let mut compared = 0;
    for file in [
        "partition.toml",
        "scale.toml",
        "headless-statefulset.toml",
        "cluster-failure.toml",
        "link-later.toml",
        "unlink.toml",
    ] {
        let path = format!("{}/scenarios/{file}", env!("CARGO_MANIFEST_DIR"));
        let scenario = Arc::new(load_file(std::path::Path::new(&path)).unwrap());
        for exploration in [Exploration::Fifo, Exploration::Random, Exploration::Pct] {
            for seed in 1..=3 {
                let options = RunOptions {
                    seed: Some(seed),
                    exploration,
                    cross_check: true,
                    ..RunOptions::default()
                };
                let report = run(scenario.clone(), &options).unwrap().report;
                let check = report
                    .checks
                    .iter()
                    .find(|c| c.name == "cross-check.incremental")
                    .expect("cross check reported");
                assert!(
                    check.passed,
                    "{file} seed {seed} {exploration:?}: {}",
                    check.detail
                );
                compared += 1;
            }
        }
    }
    assert_eq!(compared, 54);
}
