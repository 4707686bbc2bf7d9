//! `mcsim fuzz` (issue 7): exploration finds an order-sensitive bug that the reference (FIFO)
//! ordering hides, the sweep gives the same results whatever the number of jobs, every sampled
//! seed is deterministic, and a replay file reproduces its case's trace hash.

use mcsim::fuzz::{self, FuzzOptions};
use mcsim::scenario::{Scenario, load_file};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

fn scenario(breakage: bool) -> Scenario {
    let mut s = load_file(Path::new("tests/fuzz/export-race.toml")).unwrap();
    if breakage {
        s.breakages
            .push(mcsim::quirks::Breakage::EndpointsBeforeService);
    }
    s
}

fn options(seeds: u64, jobs: usize) -> FuzzOptions {
    FuzzOptions {
        seeds,
        start: 0,
        jobs,
        mode: None,
        check_determinism: true,
        swarm: true,
        out: None,
        fixes: Vec::new(),
    }
}

#[test]
fn fuzzing_finds_the_order_sensitive_breakage_and_nothing_without_it() {
    let broken = Arc::new(scenario(true));
    // The reference ordering hides the bug...
    let fifo = mcsim::run::run(broken.clone(), &Default::default()).unwrap();
    assert!(fifo.report.passed());
    // ...exploration finds it, well within 1 000 seeds.
    let results = fuzz::sweep(broken.clone(), &options(200, 2), |_, _| {}).unwrap();
    let summary = fuzz::summarize("export-race", &options(200, 2), &results);
    assert!(summary.failures > 0, "no failing seed in 200");
    assert_eq!(summary.signatures.len(), 1);
    assert_eq!(summary.signatures[0].failing, ["convergence"]);
    assert!(summary.nondeterministic.is_empty());
    // The same seeds with the breakage off: nothing.
    let clean = fuzz::sweep(Arc::new(scenario(false)), &options(200, 2), |_, _| {}).unwrap();
    assert_eq!(
        fuzz::summarize("export-race", &options(200, 2), &clean).failures,
        0
    );
}

#[test]
fn results_do_not_depend_on_the_number_of_jobs() {
    let s = Arc::new(scenario(true));
    let one = fuzz::sweep(s.clone(), &options(40, 1), |_, _| {}).unwrap();
    let two = fuzz::sweep(s, &options(40, 2), |_, _| {}).unwrap();
    let one: Vec<_> = one.into_iter().map(|(c, _)| c).collect();
    let two: Vec<_> = two.into_iter().map(|(c, _)| c).collect();
    assert_eq!(one, two);
}

#[test]
fn a_replay_file_reproduces_its_trace_hash() {
    let dir = std::env::temp_dir().join(format!("mcsim-fuzz-test-{}", std::process::id()));
    let s = Arc::new(scenario(true));
    let results = fuzz::sweep(s.clone(), &options(30, 2), |_, _| {}).unwrap();
    let written = fuzz::write_replays(&dir, &results).unwrap();
    assert!(!written.is_empty(), "expected a failing seed in 30");
    // Through the library...
    let replay: fuzz::Replay =
        serde_json::from_str(&std::fs::read_to_string(&written[0]).unwrap()).unwrap();
    let (again, _, same) = fuzz::replay(&s, &replay).unwrap();
    assert!(
        same,
        "replay gave {} instead of {}",
        again.trace_hash, replay.trace_hash
    );
    assert_eq!(again.failing, replay.failing);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_cli_fuzz_prints_a_json_summary() {
    let dir = std::env::temp_dir().join(format!("mcsim-fuzz-cli-{}", std::process::id()));
    let out = Command::new(env!("CARGO_BIN_EXE_mcsim"))
        .args([
            "fuzz",
            "tests/fuzz/export-race.toml",
            "--seeds",
            "20",
            "--jobs",
            "2",
            "--format",
            "json",
            "--out",
        ])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "a clean scenario fuzzes green: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["seeds"], 20);
    assert_eq!(summary["failures"], 0);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 7's acceptance: the order-sensitive breakage is found within 1 000 seeds and shrunk to
/// a standalone scenario with a handful of events, which fails under a plain run and passes
/// with the breakage off.
#[test]
fn a_failing_case_shrinks_to_a_small_standalone_scenario() {
    use mcsim::scenario::load_str;
    let broken = Arc::new(scenario(true));
    let opts = options(1000, 2);
    let mut found = None;
    // Seeds in batches, stopping at the first failure (well within 1 000).
    for start in (0..1000).step_by(100) {
        let batch = FuzzOptions {
            start,
            seeds: 100,
            ..opts.clone()
        };
        let results = fuzz::sweep(broken.clone(), &batch, |_, _| {}).unwrap();
        // As `mcsim fuzz` does, shrink a randomly explored case (PCT priorities act together
        // and shrink less well).
        if let Some((_, replay)) = results
            .into_iter()
            .find(|(c, _)| !c.failing.is_empty() && c.mode == mcsim::sim::Exploration::Random)
        {
            found = Some(replay);
            break;
        }
    }
    let replay = found.expect("no failing seed within 1 000");
    let shrunk = fuzz::shrink::shrink(&broken, &replay, 500).unwrap();
    assert_eq!(shrunk.failing, ["convergence"]);
    let size = shrunk.size;
    let events = size.faults + size.decisions + size.actions;
    assert!(
        events <= 6,
        "not a handful: {} fault(s), {} decision(s), {} action(s)\n{}",
        size.faults,
        size.decisions,
        size.actions,
        shrunk.text
    );
    // The file stands alone: a plain run of it fails the same check...
    let alone = load_str("shrunk.toml", &shrunk.text).unwrap();
    assert!(
        alone
            .expect
            .as_ref()
            .is_some_and(|e| e.verdict == mcsim::scenario::ExpectedVerdict::Fail)
    );
    let report = mcsim::run::run(Arc::new(alone.clone()), &Default::default())
        .unwrap()
        .report;
    assert_eq!(report.failed_checks(), ["convergence"]);
    // ...and passes with the breakage off.
    let mut fixed = alone;
    fixed.breakages.clear();
    let report = mcsim::run::run(Arc::new(fixed), &Default::default())
        .unwrap()
        .report;
    assert!(report.passed(), "{:?}", report.failed_checks());
}

/// `--shard i/N` slices merge back into the summary of the whole range.
#[test]
fn shard_summaries_merge_into_the_whole_ranges_summary() {
    let s = Arc::new(scenario(true));
    let whole_opts = options(40, 2);
    let whole = fuzz::summarize(
        "export-race",
        &whole_opts,
        &fuzz::sweep(s.clone(), &whole_opts, |_, _| {}).unwrap(),
    );
    assert!(whole.failures > 0);
    let mut parts = Vec::new();
    // Out of order on purpose: merging sorts the shards by range.
    for (start, seeds) in [(25, 15), (0, 13), (13, 12)] {
        let o = FuzzOptions {
            start,
            seeds,
            ..whole_opts.clone()
        };
        let r = fuzz::sweep(s.clone(), &o, |_, _| {}).unwrap();
        parts.push(fuzz::summarize("export-race", &o, &r));
    }
    assert_eq!(fuzz::merge(&parts).unwrap(), whole);
    // Shards that leave a hole are refused.
    parts.remove(2);
    assert!(fuzz::merge(&parts).is_err());
}

#[test]
fn the_cli_merges_shard_summaries() {
    let dir = std::env::temp_dir().join(format!("mcsim-merge-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut files = Vec::new();
    for shard in ["0/2", "1/2"] {
        let out = Command::new(env!("CARGO_BIN_EXE_mcsim"))
            .args([
                "fuzz",
                "tests/fuzz/export-race.toml",
                "--seeds",
                "10",
                "--jobs",
                "1",
                "--shard",
                shard,
                "--format",
                "json",
                "--out",
            ])
            .arg(&dir)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0));
        let file = dir.join(format!("summary-{}.json", &shard[..1]));
        std::fs::write(&file, &out.stdout).unwrap();
        files.push(file);
    }
    let out = Command::new(env!("CARGO_BIN_EXE_mcsim"))
        .args(["merge", "--format", "json"])
        .args(&files)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let merged: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(merged["seeds"], 10);
    assert_eq!(merged["start"], 0);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Found in the issue 13 campaign: `quirk-update-retries-on-conflict.toml` with its fix failed
/// 12 of 1000 seeds, e.g. seed 140 (its own reject partition 60-100 s plus a swarm compaction of
/// east's watch history at 61.5 s): the service mirror's remote informers had backed off to the
/// cap during the partition, retried 48 s after the heal, got a 410 and relisted after one more
/// backoff, 84 s after the heal: client-go as it is, but later than the scenario's 60 s bound.
/// A swarm fault that fails informers' watches now adds their recovery (2 × 60 s) to the bound;
/// one that does not (a gateway outage) leaves the bound as it was.
#[test]
fn a_fault_that_breaks_watches_gives_informers_their_backoff() {
    let base = load_file(Path::new("scenarios/quirk-update-retries-on-conflict.toml")).unwrap();
    assert_eq!(fuzz::informer_recovery().0, 120_000_000_000);
    let fault = |kind: &str| {
        let text = format!(
            "[sim]\nname = \"x\"\nduration = \"4m\"\n[[cluster]]\nname = \"west\"\n[[cluster]]\nname = \"east\"\n[[fault]]\nat = \"61s\"\nfor = \"12s\"\n{kind}\n"
        );
        mcsim::scenario::load_str("x.toml", &text)
            .unwrap()
            .faults
            .remove(0)
    };
    let compact = fuzz::case_scenario(&base, &[fault("compact = \"east\"")], &[]);
    assert_eq!(
        compact.checks.converged_within,
        base.checks.converged_within + fuzz::informer_recovery()
    );
    let gateway = fuzz::case_scenario(&base, &[fault("gateway_down = \"east\"")], &[]);
    assert_eq!(
        gateway.checks.converged_within,
        base.checks.converged_within
    );

    let mut fixed = base;
    fixed
        .linkerd
        .fixes
        .push(mcsim::quirks::Fix::UpdateRetriesOnConflict);
    let mut opts = options(1, 1);
    opts.check_determinism = false;
    let (result, _) = fuzz::case(&fixed, &opts, 140).unwrap();
    assert!(result.failing.is_empty(), "{:?}", result.failing);
}
