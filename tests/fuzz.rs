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
        s.breakages.push("endpoints-before-service".into());
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
