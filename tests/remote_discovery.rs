//! The data paths that bypass the gateway (spec §11.2, §11.3), at world level: the destination
//! controller's cluster store, built from the credentials Secrets in the `linkerd` namespace,
//! resolves a remote-discovery mirror to the target's pods, and a federated Service to the
//! union of its members (the local one joined by the local service mirror).

use mcsim::report::{Report, TrafficRow};
use mcsim::run::{RunOptions, run};
use mcsim::scenario::load_str;
use std::sync::Arc;

fn run_text(name: &str, text: &str) -> Report {
    let s = Arc::new(load_str(name, text).unwrap());
    run(s, &RunOptions::default()).unwrap().report
}

fn scenario(file: &str) -> String {
    std::fs::read_to_string(format!("{}/scenarios/{file}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn row<'r>(report: &'r Report, to: &str, phase: &str) -> &'r TrafficRow {
    report
        .traffic
        .iter()
        .find(|r| r.to.starts_with(to) && r.phase == phase)
        .unwrap_or_else(|| panic!("no {phase} row for {to}: {:#?}", report.traffic))
}

fn served_by(row: &TrafficRow) -> Vec<&str> {
    row.served_by
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(c, _)| c.as_str())
        .collect()
}

#[test]
fn remote_discovery_traffic_goes_to_the_target_pods_and_survives_the_gateway_going_down() {
    let report = run_text("remote-discovery.toml", &scenario("remote-discovery.toml"));
    assert!(report.passed(), "{:#?}", report.checks);
    // While east's gateway is down, the gateway-mode service fails and the pod-to-pod one does not.
    let web = row(&report, "web-east", "during");
    assert!(web.sent >= 500, "{web:?}");
    assert_eq!(web.ok, web.sent, "{web:?}");
    assert_eq!(served_by(web), ["east"]);
    let api = row(&report, "api-east", "during");
    assert!(api.sent >= 500, "{api:?}");
    assert_eq!(api.ok, 0, "{api:?}");
}

#[test]
fn remote_discovery_needs_a_flat_network_and_gateway_mode_does_not() {
    let text = scenario("remote-discovery.toml")
        .replace("[[flat_network]]\nclusters = [\"west\", \"east\"]\n", "");
    let report = run_text("no-flat-network.toml", &text);
    let web = row(&report, "web-east", "after");
    assert_eq!(
        web.ok, 0,
        "pod addresses are private without a flat network: {web:?}"
    );
    assert!(
        web.failed.iter().any(|(why, _)| why.contains("unroutable")),
        "{web:?}"
    );
    let api = row(&report, "api-east", "after");
    assert!(api.success_ratio > 0.99, "{api:?}");
}

/// `federated.toml` with its membership changes moved out of the way and the traffic starting
/// at `start`.
fn federated(start: &str, extra: &str) -> Report {
    let text = scenario("federated.toml")
        .replace("at = \"2m\"", "at = \"4m50s\"")
        .replace("at = \"3m\"", "at = \"4m55s\"")
        .replace(
            "rate = \"10/s\"",
            &format!("rate = \"10/s\"\nstart = \"{start}\""),
        )
        .replace(
            "[[cluster]]\nname = \"west\"\n",
            &format!("[[cluster]]\nname = \"west\"\n{extra}"),
        );
    run_text("federated.toml", &text)
}

#[test]
fn a_federated_service_is_served_by_every_member_the_local_one_included() {
    let report = federated("1m", "");
    let before = row(&report, "web-federated", "before");
    assert!(before.success_ratio > 0.99, "{before:?}");
    assert_eq!(served_by(before), ["east", "north", "west"]);
}

#[test]
fn without_a_local_service_mirror_the_local_member_is_not_joined() {
    let report = federated("1m", "local_service_mirror = false\n");
    let before = row(&report, "web-federated", "before");
    assert!(before.success_ratio > 0.99, "{before:?}");
    assert_eq!(served_by(before), ["east", "north"]);
}

#[test]
fn members_that_leave_stop_serving() {
    // The scenario as written: north leaves at 2m, west's own member at 3m; from 4m only east.
    let text =
        scenario("federated.toml").replace("rate = \"10/s\"", "rate = \"10/s\"\nstart = \"4m\"");
    let report = run_text("federated.toml", &text);
    assert!(report.passed(), "{:#?}", report.checks);
    let late = row(&report, "web-federated", "before");
    assert!(late.success_ratio > 0.99, "{late:?}");
    assert_eq!(served_by(late), ["east"]);
}
