//! The trace hash of every library scenario, breakage and fuzz target (its reference run: its
//! own seed, FIFO), pinned. The digest of each message is an explicit, documented encoding
//! (`mcsim::sim::hash::Digest`), so these values change only when the model's behaviour or
//! the encoding changes, never with a Rust release. A deliberate change updates this table and
//! says why in its commit; on a mismatch the test prints the whole new table.

use mcsim::run::{RunOptions, run};
use mcsim::scenario::load_file;
use std::path::Path;
use std::sync::Arc;

const PINNED: &[(&str, &str)] = &[
    ("scenarios/api-server-down.toml", "b521f3adf182a48f"),
    ("scenarios/cert-expiry.toml", "6a255c3a799d3bf7"),
    ("scenarios/cluster-failure.toml", "178c3cb87b162117"),
    ("scenarios/federated.toml", "7ebcdb731adf563c"),
    ("scenarios/gateway-dies.toml", "14fdca57c66f65e5"),
    ("scenarios/gateway-down.toml", "8a48bd6ce64701ea"),
    ("scenarios/headless-statefulset.toml", "34a21a6db48bc875"),
    ("scenarios/link-later.toml", "32d1ce0ab96cf777"),
    ("scenarios/partition.toml", "99826c7fd4252f66"),
    (
        "scenarios/quirk-create-adopts-existing.toml",
        "8094a49b15e0d8ac",
    ),
    (
        "scenarios/quirk-endpoints-update-writes-foreign.toml",
        "67f4f190f3c1f508",
    ),
    (
        "scenarios/quirk-export-also-joins-federated.toml",
        "96d6e267be348d49",
    ),
    (
        "scenarios/quirk-headless-create-uses-hostname.toml",
        "34e661ef38959d5c",
    ),
    (
        "scenarios/quirk-headless-empty-waits.toml",
        "f31395c879a88214",
    ),
    (
        "scenarios/quirk-headless-endpoints-check-service.toml",
        "aa58c831864640c4",
    ),
    (
        "scenarios/quirk-headless-export-status.toml",
        "6a3da14dcc398cf8",
    ),
    (
        "scenarios/quirk-headless-missing-namespace-skips.toml",
        "a4824e8b1cf7b1d9",
    ),
    (
        "scenarios/quirk-headless-remote-discovery-mirrors.toml",
        "4ccef37e59b93b5c",
    ),
    (
        "scenarios/quirk-headless-root-always-ready.toml",
        "0d1d054d160d78c0",
    ),
    (
        "scenarios/quirk-headless-unexport-lists-api.toml",
        "aba229d49468ca11",
    ),
    (
        "scenarios/quirk-headless-update-clobbers-root.toml",
        "7749985ca251197d",
    ),
    (
        "scenarios/quirk-probe-starts-alive.toml",
        "670b88f73617c4f9",
    ),
    (
        "scenarios/quirk-repair-skips-unchanged.toml",
        "34acdece88da7bfa",
    ),
    (
        "scenarios/quirk-unexport-deletes-foreign.toml",
        "be13da3097bb9cb4",
    ),
    (
        "scenarios/quirk-update-checks-empty-endpoints.toml",
        "f094dd014fdb45fb",
    ),
    (
        "scenarios/quirk-update-retries-on-conflict.toml",
        "c0bd043cc92b7fcb",
    ),
    ("scenarios/remote-discovery.toml", "479cd4afdce0439f"),
    ("scenarios/scale.toml", "1f3738c797cb7240"),
    ("scenarios/trust-mismatch.toml", "77d178b3565b5968"),
    ("scenarios/unlink.toml", "ed8f6fc9b489d781"),
    ("tests/breakages/availability.toml", "72fbc7038797510b"),
    ("tests/breakages/failure-domains.toml", "2f1c63981035433c"),
    ("tests/breakages/faults-fired.toml", "701bca289fea07af"),
    (
        "tests/breakages/foreign-writes-other-link.toml",
        "5ea85458fa1a8d4d",
    ),
    ("tests/breakages/foreign-writes.toml", "c7c7eb32dc1c56b5"),
    ("tests/breakages/gateway-readiness.toml", "35b698f6e4cf5cb9"),
    (
        "tests/breakages/mirror-stability-headless.toml",
        "5be2f516756feac4",
    ),
    (
        "tests/breakages/mirror-stability-restart.toml",
        "68f9f31f27861bcf",
    ),
    ("tests/breakages/unexported-mirror.toml", "a6f6f6bc7f3b4c2d"),
    ("tests/breakages/untrusted-accept.toml", "901a0227940ea014"),
    ("tests/breakages/watcher-restarts.toml", "cff146688e8d268b"),
    ("tests/breakages/wrong-pod.toml", "4f9754c4d0fcaa21"),
    ("tests/fuzz/export-race.toml", "7e54edc1d75f952a"),
];

#[test]
fn every_library_scenario_keeps_its_trace_hash() {
    let mut files = Vec::new();
    for dir in ["scenarios", "tests/breakages", "tests/fuzz"] {
        let mut in_dir: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .collect();
        in_dir.sort();
        files.extend(in_dir);
    }
    let mut table = Vec::new();
    for path in &files {
        let scenario = load_file(Path::new(path)).unwrap();
        let report = run(Arc::new(scenario), &RunOptions::default())
            .unwrap()
            .report;
        table.push((path.display().to_string(), report.trace_hash));
    }
    let now: Vec<String> = table
        .iter()
        .map(|(p, h)| format!("    (\"{p}\", \"{h}\"),"))
        .collect();
    let pinned: Vec<String> = PINNED
        .iter()
        .map(|(p, h)| format!("    (\"{p}\", \"{h}\"),"))
        .collect();
    assert!(
        now == pinned,
        "trace hashes changed; if deliberate, pin the new table:\n{}",
        now.join("\n")
    );
}
