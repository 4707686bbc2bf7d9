//! Behaviour of the real Linkerd that mcsim's fuzzer found, pinned as regression tests: each
//! shows the real behaviour failing a check under the ordering the fuzzer found, and the named
//! fix passing it under the very same ordering.

use mcsim::quirks::Fix;
use mcsim::run::{RunOptions, run};
use mcsim::scenario::load_file;
use mcsim::sim::Exploration;
use std::path::Path;
use std::sync::Arc;

/// Found by `mcsim fuzz scenarios/partition.toml` (seed 1, random exploration): at start-up
/// every remote Service is offered twice (informer replay and namespace replay, spec §4.1). When
/// the local lister lags the first handler's create by more than the few milliseconds one
/// handler takes, the second offer's creates hit AlreadyExists and Linkerd deletes the mirror
/// Service "so the next attempt starts clean" (spec §6.1 step 5), on every retry until it gives
/// up: the mirror stays missing until a resync. `create-adopts-existing` is the fix.
#[test]
fn a_lagging_lister_at_start_up_loses_mirrors_unless_creates_adopt() {
    let mut real = load_file(Path::new("scenarios/partition.toml")).unwrap();
    real.linkerd
        .fixes
        .retain(|f| *f != Fix::CreateAdoptsExisting);
    let real = Arc::new(real);
    let options = RunOptions {
        seed: Some(1),
        exploration: Exploration::Random,
        ..RunOptions::default()
    };
    let report = run(real.clone(), &options).unwrap().report;
    assert!(
        report.failed_checks().contains(&"convergence"),
        "{:?}",
        report.failed_checks()
    );
    // The same ordering with the fix (as scenarios/partition.toml ships) converges.
    let fixed = Arc::new(load_file(Path::new("scenarios/partition.toml")).unwrap());
    assert!(fixed.linkerd.fixes.contains(&Fix::CreateAdoptsExisting));
    let report = run(fixed, &options).unwrap().report;
    assert!(report.passed(), "{:?}", report.failed_checks());
    // The reference ordering converges without the fix.
    let fifo = run(
        real,
        &RunOptions {
            seed: Some(1),
            ..RunOptions::default()
        },
    )
    .unwrap()
    .report;
    assert!(fifo.passed(), "{:?}", fifo.failed_checks());
}
