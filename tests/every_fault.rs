//! Every fault kind fires, heals and leaves a world that converges again: one scenario with all
//! 14 kinds in sequence, on two clusters joined by a direct path.

use mcsim::run::{RunOptions, run};
use mcsim::scenario::{FaultTag, load_str};
use std::collections::BTreeSet;
use std::sync::Arc;

const SCENARIO: &str = r#"
[sim]
name = "every-fault"
duration = "12m"
quiet_period = "2m"
[[cluster]]
name = "west"
[[cluster]]
name = "east"
[[path]]
between = ["west", "east"]
latency = "20ms"
[[link]]
from = "west"
to = "east"
headless = true
[[service]]
cluster = "east"
name = "web"
ports = [{ name = "http", port = 80 }]
replicas = 2
exported = true
[[statefulset]]
cluster = "east"
name = "db"
replicas = 2
exported = true
[[traffic]]
from = "west"
to = "web-east.default.svc.cluster.local:80"
rate = "2/s"
timeout = "2s"
[[fault]]
at = "30s"
for = "20s"
partition = [["west"], ["east"]]
mode = "reject"
[[fault]]
at = "1m"
for = "30s"
cluster_down = "east"
[[fault]]
at = "2m"
for = "20s"
api_server_down = "east"
[[fault]]
at = "2m30s"
for = "15s"
gateway_down = "east"
[[fault]]
at = "3m"
for = "15s"
controller_crash = { cluster = "west", link = "east" }
[[fault]]
at = "3m30s"
pod_kill = { cluster = "east", pod = "db-1" }
[[fault]]
at = "4m"
for = "20s"
dns_failure = "west"
[[fault]]
at = "4m30s"
for = "20s"
clock_skew = { cluster = "east", by = "-2h" }
[[fault]]
at = "5m"
compact = "east"
[[fault]]
at = "5m30s"
for = "20s"
cert_expiry = "east"
[[fault]]
at = "6m"
rotate_certs = "east"
[[fault]]
at = "6m30s"
for = "20s"
trust_anchor = { cluster = "east", anchor = "other" }
[[fault]]
at = "7m"
for = "20s"
slow_path = { between = ["west", "east"], latency = "500ms" }
[[fault]]
at = "7m30s"
for = "20s"
lossy_path = { between = ["west", "east"], loss = "20%", duplicate = "5%", reorder = "5%" }
[checks]
converged_within = "2m"
"#;

#[test]
fn every_fault_kind_fires_heals_and_the_world_recovers() {
    let scenario = Arc::new(load_str("every-fault", SCENARIO).unwrap());
    let kinds: BTreeSet<FaultTag> = scenario.faults.iter().map(|f| f.kind.tag()).collect();
    assert_eq!(
        kinds,
        FaultTag::ALL.iter().copied().collect(),
        "the scenario should use every fault kind"
    );
    let result = run(scenario, &RunOptions::default()).unwrap();
    let r = &result.report;
    assert_eq!(r.faults.len(), 14);
    let failed = r.failed_checks();
    assert!(!failed.contains(&"faults-fired"), "{:?}", r.checks);
    // After the last heal the mirrors converge again (the killed db-1 is Failed, not ready, so
    // its endpoint mirror is gone, exactly as the oracle expects) and the traffic recovers.
    assert!(
        !failed.contains(&"convergence"),
        "{:?}",
        r.checks.iter().find(|c| c.name == "convergence")
    );
    assert!(
        !failed.contains(&"availability"),
        "{:?}",
        r.checks.iter().find(|c| c.name == "availability")
    );
}
