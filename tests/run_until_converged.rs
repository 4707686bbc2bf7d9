//! `run::run_until_converged` detects convergence (every exported service mirrored with its
//! endpoints) and reports non-convergence when a link's target is cut off for good.

use mcsim::run::{RunOptions, run_until_converged};
use mcsim::scenario::load_str;
use mcsim::sim::{SimDuration, SimTime};
use std::sync::Arc;

const BASE: &str = r#"
[sim]
name = "converge"
seed = 3
duration = "5m"

[[cluster]]
name = "west"
[[cluster]]
name = "east"

[[link]]
from = "west"
to = "east"

[[service]]
cluster = "east"
name = "web"
ports = [{ name = "http", port = 80 }]
replicas = 3
exported = true

[[service]]
cluster = "east"
name = "api"
ports = [{ name = "http", port = 80 }]
replicas = 1
exported = true
"#;

fn converge(text: &str) -> mcsim::run::Converged {
    let scenario = load_str("converge.toml", text).expect("scenario loads");
    run_until_converged(
        Arc::new(scenario),
        &RunOptions::default(),
        SimDuration::from_millis(10),
    )
    .expect("runs")
}

#[test]
fn detects_convergence() {
    let c = converge(BASE);
    let at = c.at.expect("converges");
    assert!(c.problems.is_empty(), "{:?}", c.problems);
    assert_eq!(c.mirrors, 2);
    assert!(at > SimTime::ZERO && at <= c.detected_at.unwrap());
    assert!(c.detected_at.unwrap() < SimTime::ZERO + SimDuration::from_mins(1));
    // Deterministic, and stops at convergence instead of running the five minutes.
    assert_eq!(c, converge(BASE));
    let until = mcsim::run::run(
        Arc::new(load_str("c.toml", BASE).unwrap()),
        &RunOptions::default(),
    )
    .unwrap();
    assert!(c.events < until.report.events);
}

#[test]
fn detects_non_convergence() {
    // West and east partitioned from the start, never healed: nothing can be mirrored.
    let text = format!("{BASE}\n[[fault]]\nat = \"0s\"\npartition = [[\"west\"], [\"east\"]]\n");
    let c = converge(&text);
    assert_eq!(c.at, None);
    assert_eq!(c.detected_at, None);
    assert!(!c.problems.is_empty());
    assert!(c.evaluations >= 1);
}
