//! Network fault semantics at scenario level (issue 4): a partition stops the traffic of the
//! pair it cuts and not a third pair's; a one-way partition is one-way; a dropped-packet
//! partition is noticed only through timeouts while a rejecting one fails fast; and
//! `mcsim graph` prints DOT that parses back.

use mcsim::run::{RunOptions, RunResult, run};
use mcsim::scenario::load_str;
use std::process::Command;
use std::sync::Arc;

/// West and north each call a service of east's, in-cluster-style through east's gateway; a
/// fault from 60 s to 120 s; 5 requests/s per flow; 1 s timeouts.
fn scenario(fault: &str) -> String {
    format!(
        r#"
[sim]
name = "net"
duration = "3m"
[[cluster]]
name = "west"
[[cluster]]
name = "east"
[[cluster]]
name = "north"
[[link]]
from = "west"
to = "east"
[[link]]
from = "north"
to = "east"
[[service]]
cluster = "east"
name = "web"
ports = [{{ name = "http", port = 80 }}]
exported = true
[[traffic]]
from = "west"
to = "web-east.default.svc.cluster.local:80"
rate = "5/s"
timeout = "1s"
[[traffic]]
from = "north"
to = "web-east.default.svc.cluster.local:80"
rate = "5/s"
timeout = "1s"
[[fault]]
at = "60s"
for = "60s"
{fault}
"#
    )
}

fn run_text(text: &str) -> RunResult {
    let s = Arc::new(load_str("net.toml", text).unwrap());
    run(s, &RunOptions::default()).unwrap()
}

/// (sent, ok, failures by reason) of the flow from `from` in a traffic phase.
fn window(r: &RunResult, from: &str, phase: &str) -> (u64, u64, Vec<(String, u64)>) {
    let row = r
        .report
        .traffic
        .iter()
        .find(|t| t.from == from && t.phase == phase)
        .expect("row");
    (row.sent, row.ok, row.failed.clone())
}

#[test]
fn a_partition_stops_only_the_pair_it_cuts() {
    let r = run_text(&scenario(r#"partition = [["west"], ["east"]]"#));
    let (sent, ok, _) = window(&r, "west", "during");
    assert!(
        sent > 200 && ok * 10 < sent,
        "west -> east should fail during the partition: {ok}/{sent}"
    );
    let (sent, ok, _) = window(&r, "north", "during");
    assert_eq!(
        ok, sent,
        "north -> east must not notice a west/east partition"
    );
}

#[test]
fn a_one_way_partition_is_one_way() {
    // Cutting east -> west only: west's SYNs reach east but nothing comes back, so west fails
    // too (TCP needs both directions) while a cut in the other direction alone leaves north
    // untouched. The fault acts on what crosses from the first group to the second.
    let both = run_text(&scenario(
        r#"partition = [["east"], ["west"]]
one_way = true"#,
    ));
    let (sent, ok, _) = window(&both, "west", "during");
    assert!(
        ok * 10 < sent,
        "replies from east are cut, so west's requests fail: {ok}/{sent}"
    );
    let (sent, ok, _) = window(&both, "north", "during");
    assert_eq!(ok, sent);
}

#[test]
fn dropped_packets_are_noticed_by_timeouts_rejections_fail_fast() {
    let drop = run_text(&scenario(
        r#"partition = [["west"], ["east"]]
mode = "drop""#,
    ));
    let reject = run_text(&scenario(
        r#"partition = [["west"], ["east"]]
mode = "reject""#,
    ));
    let reasons = |r: &RunResult| window(r, "west", "during").2;
    let timeouts = |v: &[(String, u64)]| {
        v.iter()
            .filter(|(k, _)| k.contains("timeout") || k.contains("timed out"))
            .map(|(_, n)| n)
            .sum::<u64>()
    };
    let fast = |v: &[(String, u64)]| {
        v.iter()
            .filter(|(k, _)| k.contains("refused") || k.contains("reset"))
            .map(|(_, n)| n)
            .sum::<u64>()
    };
    let (d, r) = (reasons(&drop), reasons(&reject));
    assert!(
        timeouts(&d) > 0 && fast(&d) == 0,
        "drop mode fails by timeouts only: {d:?}"
    );
    assert!(
        fast(&r) > 0,
        "reject mode refuses or resets connections: {r:?}"
    );
    assert!(
        timeouts(&r) < timeouts(&d),
        "reject mode times out less than drop mode: {r:?} vs {d:?}"
    );
}

#[test]
fn graph_prints_dot_that_parses_back() {
    let out = Command::new(env!("CARGO_BIN_EXE_mcsim"))
        .args(["graph", "scenarios/partition.toml"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let dot = String::from_utf8(out.stdout).unwrap();
    // A small parser for what `to_dot` emits: a `graph` block of node and edge statements.
    let body = dot
        .trim()
        .strip_prefix("graph topology {")
        .and_then(|b| b.strip_suffix('}'))
        .expect("graph block");
    let mut nodes = Vec::new();
    let mut edges = Vec::new();
    for stmt in body.lines().map(str::trim).filter(|l| !l.is_empty()) {
        assert!(stmt.ends_with(';'), "statement without ';': {stmt}");
        if stmt.starts_with("node ") || stmt.starts_with("edge ") {
            continue;
        }
        let quoted: Vec<&str> = stmt.split('"').collect();
        if stmt.contains(" -- ") {
            edges.push((quoted[1].to_string(), quoted[3].to_string()));
        } else {
            nodes.push(quoted[1].to_string());
        }
    }
    // The clusters, then each cluster's gateway.
    assert_eq!(
        nodes,
        [
            "west",
            "east",
            "north",
            "west/gateway",
            "east/gateway",
            "north/gateway"
        ]
    );
    for (a, b) in &edges {
        assert!(
            nodes.contains(a) && nodes.contains(b),
            "edge {a} -- {b} to an unknown node"
        );
    }
    // Three paths, three clusters to their gateways, two Links (west to each gateway).
    assert_eq!(edges.len(), 8);
    assert!(edges.contains(&("west".to_string(), "east/gateway".to_string())));
    assert!(edges.contains(&("west".to_string(), "north/gateway".to_string())));
    // Where Graphviz is installed, it must accept the output too.
    use std::io::Write;
    use std::process::Stdio;
    if let Ok(mut child) = Command::new("dot")
        .arg("-Tsvg")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
    {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(dot.as_bytes())
            .unwrap();
        assert!(child.wait().unwrap().success(), "dot rejected the output");
    }
}

#[test]
fn a_narrow_path_adds_serialisation_delay() {
    let base = r#"
[sim]
name = "bw"
duration = "1m"
[[cluster]]
name = "west"
[[cluster]]
name = "east"
[[path]]
between = ["west", "east"]
latency = "20ms"
BANDWIDTH
[[link]]
from = "west"
to = "east"
[[service]]
cluster = "east"
name = "web"
ports = [{ name = "http", port = 80 }]
exported = true
[[traffic]]
from = "west"
to = "web-east.default.svc.cluster.local:80"
rate = "2/s"
"#;
    let p50 = |text: &str| {
        let r = run_text(text);
        r.report
            .traffic
            .iter()
            .find(|t| t.from == "west")
            .and_then(|t| t.p50_ms)
            .expect("successful requests")
    };
    let wide = p50(&base.replace("BANDWIDTH", ""));
    // 10 kB/s: a 300-byte request and a 200-byte response take 50 ms more on the wire.
    let narrow = p50(&base.replace("BANDWIDTH", "bandwidth = 10000"));
    assert!(narrow > wide + 40.0, "narrow {narrow} ms vs wide {wide} ms");
}

/// Found by `mcsim fuzz scenarios/partition.toml` (seed 7): east's gateway died while west's
/// connection attempts to it were stuck in SYN-SENT behind a drop-mode partition. The dead
/// process's connections were forgotten, so the client's connect timeout found no connection
/// and the traffic client waited on a pooled connection that would never open, for ever.
#[test]
fn a_server_dying_during_connect_still_fails_the_connect() {
    let mut text = scenario(r#"partition = [["west"], ["east"]]"#);
    text.push_str(
        r#"
[[fault]]
at = "115s"
for = "20s"
gateway_down = "east"
"#,
    );
    let r = run_text(&text);
    let (sent, ok, failed) = window(&r, "west", "after");
    assert!(
        sent > 100 && ok * 10 > sent * 9,
        "west -> east must recover after both faults heal: {ok}/{sent} {failed:?}"
    );
}

/// Found by `mcsim fuzz scenarios/partition.toml` (seed 1376): east's API server was down while
/// its pods became ready. The kubelet's status write failed and was never retried, so the pods
/// stayed not-ready for ever; a real kubelet's status manager retries at its next sync.
#[test]
fn pods_become_ready_once_their_api_server_returns() {
    let text = scenario(r#"api_server_down = "east""#).replace(
        "[[fault]]\nat = \"60s\"\nfor = \"60s\"",
        "[[fault]]\nat = \"1s\"\nfor = \"40s\"",
    );
    assert!(text.contains("at = \"1s\""));
    let r = run_text(&text);
    let (sent, ok, failed) = window(&r, "west", "after");
    assert!(
        sent > 100 && ok * 3 > sent * 2,
        "west -> east must work once east's API server is back: {ok}/{sent} {failed:?}"
    );
}
