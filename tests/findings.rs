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

/// Found by `mcsim fuzz scenarios/federated.toml` (seed 992, random exploration, no swarm
/// fault; 2 of 1000 seeds): three watchers (east's and north's service mirrors and west's local
/// mirror) join web-federated at start-up, each updating the copy its lister has; east's update
/// conflicts, and its retries (5, 10, 20 ms) read the same stale copy and give up, so east is
/// never listed as a member. When west's own member leaves at 3m the local mirror sees no member
/// left and deletes web-federated, which stays missing until the 10-minute resync.
/// `update-retries-on-conflict` applies the join again to the Service the API has.
#[test]
fn a_conflicting_federated_join_is_lost_unless_updates_retry_on_conflict() {
    let options = RunOptions {
        seed: Some(992),
        exploration: Exploration::Random,
        ..RunOptions::default()
    };
    // scenarios/federated.toml ships with the fix on; the finding is about Linkerd as it is.
    let mut real = load_file(Path::new("scenarios/federated.toml")).unwrap();
    real.linkerd
        .fixes
        .retain(|f| *f != Fix::UpdateRetriesOnConflict);
    let real = Arc::new(real);
    let report = run(real.clone(), &options).unwrap().report;
    assert!(
        report.failed_checks().contains(&"convergence"),
        "{:?}",
        report.failed_checks()
    );
    let mut fixed = (*real).clone();
    fixed.linkerd.fixes.push(Fix::UpdateRetriesOnConflict);
    let report = run(Arc::new(fixed), &options).unwrap().report;
    assert!(report.passed(), "{:?}", report.failed_checks());
}

/// Found by `mcsim fuzz scenarios/quirk-headless-endpoints-check-service.toml --fix
/// headless-endpoints-check-service` (seed 791, PCT; 2 of 1000 seeds; since the API server
/// draws from its own random stream the same quirk shows at seed 135, PCT). At 791, swarm
/// outages of west's API server (6.4-58.4 s) and east's (6.5-43.5 s) leave west's service
/// mirror with informers
/// that come back one by one. It creates the endpoint mirror db-2-east for the pod added at 1m
/// and then handles the unexport of db, whose endpoint mirrors it lists from its local lister;
/// that lister has not seen db-2-east yet, so db-2-east is left behind for good and repair keeps
/// writing its Endpoints. `headless-unexport-lists-api` lists them from the API server.
#[test]
fn a_lagging_lister_leaves_an_endpoint_mirror_behind_unless_the_unexport_lists_the_api() {
    let options = mcsim::fuzz::FuzzOptions {
        seeds: 1,
        start: 135,
        jobs: 1,
        mode: None,
        check_determinism: false,
        swarm: true,
        out: None,
        fixes: Vec::new(),
    };
    // The scenario ships with the fix on; the finding is about Linkerd as it is.
    let mut real = load_file(Path::new(
        "scenarios/quirk-headless-endpoints-check-service.toml",
    ))
    .unwrap();
    real.linkerd.fixes = vec![Fix::HeadlessEndpointsCheckService];
    let (result, _) = mcsim::fuzz::case(&real, &options, 135).unwrap();
    assert!(
        result
            .failing
            .iter()
            .any(|c| c == "safety.unexported-mirror"),
        "{:?}",
        result.failing
    );
    let mut fixed = real;
    fixed.linkerd.fixes.push(Fix::HeadlessUnexportListsApi);
    let (result, _) = mcsim::fuzz::case(&fixed, &options, 135).unwrap();
    assert!(result.failing.is_empty(), "{:?}", result.failing);
}
