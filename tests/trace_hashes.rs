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
    ("scenarios/api-server-down.toml", "64e74625e4518600"),
    ("scenarios/cert-expiry.toml", "ce7180ea76b6c455"),
    ("scenarios/cluster-failure.toml", "59b3050024b1a540"),
    ("scenarios/federated.toml", "b26c7eebd349962d"),
    ("scenarios/gateway-dies.toml", "4f7bc093b0b4d7fb"),
    ("scenarios/gateway-down.toml", "8ce208f63d67e9b7"),
    ("scenarios/headless-statefulset.toml", "5d8b59548b10dbbd"),
    ("scenarios/link-later.toml", "4fbc91dcddbc4017"),
    ("scenarios/partition.toml", "684ecc4c215a58c0"),
    (
        "scenarios/quirk-create-adopts-existing.toml",
        "8bfc4739ebee86a6",
    ),
    (
        "scenarios/quirk-endpoints-update-writes-foreign.toml",
        "37d50f525ebbd493",
    ),
    (
        "scenarios/quirk-export-also-joins-federated.toml",
        "74f18d720e620af7",
    ),
    (
        "scenarios/quirk-headless-create-uses-hostname.toml",
        "f83887b91f17da87",
    ),
    (
        "scenarios/quirk-headless-empty-waits.toml",
        "e2c0fccd82b7d17c",
    ),
    (
        "scenarios/quirk-headless-endpoints-check-service.toml",
        "ac0d1caa1083666b",
    ),
    (
        "scenarios/quirk-headless-export-status.toml",
        "2652e1410fd703be",
    ),
    (
        "scenarios/quirk-headless-missing-namespace-skips.toml",
        "15b33df6f7ba815e",
    ),
    (
        "scenarios/quirk-headless-remote-discovery-mirrors.toml",
        "ce91f24adbb49cd7",
    ),
    (
        "scenarios/quirk-headless-root-always-ready.toml",
        "c407303ec6983628",
    ),
    (
        "scenarios/quirk-headless-unexport-lists-api.toml",
        "c1daf98c0f433bda",
    ),
    (
        "scenarios/quirk-headless-update-clobbers-root.toml",
        "8cf021c3448a884f",
    ),
    (
        "scenarios/quirk-probe-starts-alive.toml",
        "d54ea6d3c71054c4",
    ),
    (
        "scenarios/quirk-repair-skips-unchanged.toml",
        "7c3398b8ef599db8",
    ),
    (
        "scenarios/quirk-unexport-deletes-foreign.toml",
        "77727b3cf8c3912e",
    ),
    (
        "scenarios/quirk-update-checks-empty-endpoints.toml",
        "aea7d6d7c23cde5a",
    ),
    (
        "scenarios/quirk-update-retries-on-conflict.toml",
        "caf03a4b0a7e3185",
    ),
    ("scenarios/remote-discovery.toml", "dbb76311546d0256"),
    ("scenarios/scale.toml", "f3df252f18c1a7d1"),
    ("scenarios/trust-mismatch.toml", "6ff239e2860cb9f2"),
    ("scenarios/unlink.toml", "240cb98b5e4e0cc4"),
    ("tests/breakages/availability.toml", "380edb188afaaa95"),
    ("tests/breakages/failure-domains.toml", "722e63d807c74c06"),
    ("tests/breakages/faults-fired.toml", "fd0b31d43c7c6a1c"),
    (
        "tests/breakages/foreign-writes-other-link.toml",
        "dfb96ce231f3b09e",
    ),
    ("tests/breakages/foreign-writes.toml", "35b4a83cfccf5cdb"),
    ("tests/breakages/gateway-readiness.toml", "1daac5bac7b853c1"),
    (
        "tests/breakages/mirror-stability-headless.toml",
        "26f10c7f5c7a40e5",
    ),
    (
        "tests/breakages/mirror-stability-restart.toml",
        "098aa19299e09d23",
    ),
    ("tests/breakages/unexported-mirror.toml", "91ff380a56d1985a"),
    ("tests/breakages/untrusted-accept.toml", "259c30a7e97546af"),
    ("tests/breakages/watcher-restarts.toml", "3887a919fd233fd2"),
    ("tests/breakages/wrong-pod.toml", "d13519ac23d0d499"),
    ("tests/fuzz/export-race.toml", "8d8ceea09c2bdc84"),
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
