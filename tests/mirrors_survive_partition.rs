//! Spec §14.5: nothing is deleted because an API server or gateway is unreachable. West mirrors
//! east; the two are partitioned for 30 minutes. Every mirror Service west had before the
//! partition is still there, unchanged, at the end of the partition; only the readiness of the
//! mirror Endpoints may change (the probe marks the gateway dead).

use mcsim::run::{RunOptions, run};
use mcsim::scenario::load_str;
use mcsim::sim::SimDuration;
use std::collections::BTreeMap;
use std::sync::Arc;

const SCENARIO: &str = r#"
[sim]
name = "mirrors-survive"
duration = "40m"
[[cluster]]
name = "west"
[[cluster]]
name = "east"
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
[[fault]]
at = "2m"
for = "30m"
partition = [["west"], ["east"]]
"#;

/// West's Services labelled as mirrors of `east`, with their resourceVersion, and whether each
/// mirror's Endpoints object exists.
fn mirrors_at(until: SimDuration) -> BTreeMap<String, (String, bool)> {
    let scenario = Arc::new(load_str("mirrors-survive", SCENARIO).unwrap());
    let options = RunOptions {
        until: Some(until),
        dump: true,
        ..RunOptions::default()
    };
    let result = run(scenario, &options).unwrap();
    let west = result.dumps.iter().find(|d| d.cluster == "west").unwrap();
    let list: serde_json::Value = serde_json::from_str(&west.json).unwrap();
    let items = list["items"].as_array().unwrap();
    let exists = |kind: &str, ns: &str, name: &str| {
        items.iter().any(|o| {
            o["kind"] == kind && o["metadata"]["namespace"] == ns && o["metadata"]["name"] == name
        })
    };
    items
        .iter()
        .filter(|o| {
            o["kind"] == "Service"
                && o["metadata"]["labels"]["mirror.linkerd.io/cluster-name"] == "east"
        })
        .map(|o| {
            let (ns, name) = (
                o["metadata"]["namespace"].as_str().unwrap(),
                o["metadata"]["name"].as_str().unwrap(),
            );
            let rv = o["metadata"]["resourceVersion"]
                .as_str()
                .unwrap()
                .to_string();
            (format!("{ns}/{name}"), (rv, exists("Endpoints", ns, name)))
        })
        .collect()
}

#[test]
fn mirrors_survive_a_thirty_minute_partition_unchanged() {
    let before = mirrors_at(SimDuration::from_mins(2));
    let after = mirrors_at(SimDuration::from_secs(31 * 60 + 55));
    // web-east, db-east (headless root), db-0-east and db-1-east (endpoint mirrors), and the
    // probe Service probe-east, which carries the link's cluster-name label too.
    assert_eq!(before.len(), 5, "{before:?}");
    assert_eq!(
        before, after,
        "mirror Services changed or vanished during the partition"
    );
    assert!(
        after.values().all(|(_, endpoints)| *endpoints),
        "a mirror lost its Endpoints: {after:?}"
    );
}
