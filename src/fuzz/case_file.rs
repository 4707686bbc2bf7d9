//! A fuzz case as a standalone scenario: the base scenario with the case's swarm faults and
//! workload changes (and the fuzzer's stretching for Linkerd's resync backstop), seed,
//! exploration mode and recorded perturbation decisions, written by `scenario::save`, so `mcsim run FILE` reproduces the case
//! without the fuzzer. The shrinker edits the same model (dropping faults, services, traffic,
//! decisions) and renders it at the end.

use crate::scenario::{ActionSpec, FaultSpec, Scenario, save};
use crate::sim::{Exploration, Tape};

/// The scenario of case (`seed`, `mode`, `faults`) of `base`, replaying `decisions`; it expects
/// nothing (the base's expectation was about the base).
pub fn case(
    base: &Scenario,
    seed: u64,
    mode: Exploration,
    faults: &[FaultSpec],
    actions: &[ActionSpec],
    decisions: Option<&Tape>,
) -> Scenario {
    let mut s = super::case_scenario(base, faults, actions);
    s.seed = seed;
    s.expect = None;
    set_exploration(&mut s, mode, decisions);
    s
}

/// Sets the exploration mode and the decisions it replays (none for FIFO, which draws none).
pub fn set_exploration(s: &mut Scenario, mode: Exploration, decisions: Option<&Tape>) {
    s.exploration = mode;
    s.decisions = match mode {
        Exploration::Fifo => None,
        Exploration::Random | Exploration::Pct => decisions.cloned(),
    };
}

/// The scenario as a file under a comment header.
pub fn render(s: &Scenario, header: &str) -> Result<String, String> {
    let mut out = String::new();
    for line in header.lines() {
        out.push_str("# ");
        out.push_str(line);
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&save(s)?);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{FaultKind, PartitionMode, load_str};
    use crate::sim::{Ratio, SimDuration};

    const BASE: &str = r#"
[sim]
name = "t"
duration = "3m"
[[cluster]]
name = "west"
[[cluster]]
name = "east"
[[path]]
between = ["west", "east"]
latency = "10ms"
[[link]]
from = "west"
to = "east"
[[service]]
cluster = "east"
name = "web"
ports = [{ name = "http", port = 80 }]
exported = true
[expect]
verdict = "pass"
"#;

    #[test]
    fn every_fault_kind_round_trips_through_the_scenario_format() {
        let base = load_str("t.toml", BASE).unwrap();
        let kinds = vec![
            FaultKind::Partition {
                groups: vec![vec!["west".into()], vec!["east".into()]],
                one_way: true,
                mode: PartitionMode::Reject,
            },
            FaultKind::ApiServerDown("east".into()),
            FaultKind::GatewayDown("east".into()),
            FaultKind::ClusterDown("east".into()),
            FaultKind::DnsFailure("west".into()),
            FaultKind::Compact("east".into()),
            FaultKind::ControllerCrash {
                cluster: "west".into(),
                link: "east".into(),
            },
            FaultKind::ClockSkew {
                cluster: "west".into(),
                by_ns: -90_000_000_000,
            },
            FaultKind::SlowPath {
                a: "west".into(),
                b: "east".into(),
                latency: SimDuration::from_millis(1234),
            },
            FaultKind::LossyPath {
                a: "west".into(),
                b: "east".into(),
                loss: Ratio::new(1, 1000),
                duplicate: Ratio::ZERO,
                reorder: Ratio::new(1, 100),
            },
        ];
        let faults: Vec<FaultSpec> = kinds
            .into_iter()
            .enumerate()
            .map(|(i, kind)| FaultSpec {
                at: SimDuration(10_000_000_000 + i as u64 * 1_234_567_891),
                duration: Some(SimDuration::from_secs(5)),
                kind,
            })
            .collect();
        let tape = Tape {
            entries: vec![(3, 0xdead_beef), (17, u64::MAX)],
        };
        let case = case(&base, 77, Exploration::Pct, &faults, &[], Some(&tape));
        let text = render(&case, "a case").unwrap();
        assert!(text.starts_with("# a case\n\n[sim]"), "{text}");
        let again = load_str("case.toml", &text).unwrap();
        assert_eq!(again.seed, 77);
        assert_eq!(again.exploration, Exploration::Pct);
        assert_eq!(again.decisions, Some(tape));
        assert_eq!(again.faults, faults);
        assert!(again.expect.is_none(), "the base's expectation is dropped");
    }
}
