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
    ("scenarios/api-server-down.toml", "8d4df8e40b90b70c"),
    ("scenarios/cert-expiry.toml", "8366e72d3e9c5730"),
    ("scenarios/cluster-failure.toml", "fdc08d587b858695"),
    ("scenarios/federated.toml", "e579ed5289b5a4bd"),
    ("scenarios/gateway-dies.toml", "8f6b2f74a958891a"),
    ("scenarios/gateway-down.toml", "6237737746438bb8"),
    ("scenarios/headless-statefulset.toml", "e9d8b8f31eeb6c06"),
    ("scenarios/link-later.toml", "b93bbc681a9d411b"),
    ("scenarios/partition.toml", "60439d064a6fc5da"),
    (
        "scenarios/quirk-create-adopts-existing.toml",
        "3b86c13380183688",
    ),
    (
        "scenarios/quirk-endpoints-update-writes-foreign.toml",
        "3c80a1d1236063d0",
    ),
    (
        "scenarios/quirk-export-also-joins-federated.toml",
        "9c87b6bc731a0d61",
    ),
    (
        "scenarios/quirk-headless-create-uses-hostname.toml",
        "81474f4f6ae3d120",
    ),
    (
        "scenarios/quirk-headless-empty-waits.toml",
        "b34f67e31a81393f",
    ),
    (
        "scenarios/quirk-headless-endpoints-check-service.toml",
        "c56a14b7304535a7",
    ),
    (
        "scenarios/quirk-headless-export-status.toml",
        "4850cf5deb88d63b",
    ),
    (
        "scenarios/quirk-headless-missing-namespace-skips.toml",
        "0ec6799f43b7e054",
    ),
    (
        "scenarios/quirk-headless-remote-discovery-mirrors.toml",
        "13a9031e6c5eb6ef",
    ),
    (
        "scenarios/quirk-headless-root-always-ready.toml",
        "b5984ebac26fdf9e",
    ),
    (
        "scenarios/quirk-headless-unexport-lists-api.toml",
        "6cee181d1a01bfa4",
    ),
    (
        "scenarios/quirk-headless-update-clobbers-root.toml",
        "f4128495ffc4103b",
    ),
    (
        "scenarios/quirk-probe-starts-alive.toml",
        "0b16e9ed36b390ec",
    ),
    (
        "scenarios/quirk-repair-skips-unchanged.toml",
        "75681a4ed34080cf",
    ),
    (
        "scenarios/quirk-unexport-deletes-foreign.toml",
        "a4e90acfe697db33",
    ),
    (
        "scenarios/quirk-update-checks-empty-endpoints.toml",
        "147f55318fab95df",
    ),
    (
        "scenarios/quirk-update-retries-on-conflict.toml",
        "8d8efa9c4ba1c1d6",
    ),
    ("scenarios/remote-discovery.toml", "f65b06feba1e1cfa"),
    ("scenarios/scale.toml", "16b39aa28c798ade"),
    ("scenarios/trust-mismatch.toml", "82fb78f7a903caa9"),
    ("scenarios/unlink.toml", "832b332be8299d5d"),
    ("tests/breakages/availability.toml", "89b3000c564c63c4"),
    ("tests/breakages/failure-domains.toml", "8de541208ff257e2"),
    ("tests/breakages/faults-fired.toml", "9b795bf9c6df0a80"),
    (
        "tests/breakages/foreign-writes-other-link.toml",
        "bb153d539517eb1a",
    ),
    ("tests/breakages/foreign-writes.toml", "588544fc146b5ab4"),
    ("tests/breakages/gateway-readiness.toml", "a53b1bd188c73feb"),
    (
        "tests/breakages/mirror-stability-headless.toml",
        "6d9fb90d3fc3ff88",
    ),
    (
        "tests/breakages/mirror-stability-restart.toml",
        "54470a84023f3026",
    ),
    ("tests/breakages/unexported-mirror.toml", "8472953899224801"),
    ("tests/breakages/untrusted-accept.toml", "5002cbb1fbfa7566"),
    ("tests/breakages/watcher-restarts.toml", "de5d800d62249247"),
    ("tests/breakages/wrong-pod.toml", "5c74be0e8c82a3f9"),
    ("tests/fuzz/export-race.toml", "5c00ee08b214e81f"),
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
