//! Separate failure domains (the seed's promise 2): for every traffic flow whose pair of
//! clusters a fault does not involve, the success ratio while the fault is active stays within
//! the scenario's tolerance of the ratio in the minute before the fault.

use super::traffic::{BASELINE, flows, target_cluster};
use super::{Check, CheckResult};
use crate::sim::{Ratio, SimTime};
use crate::world::World;

pub struct FailureDomains {
    pub tolerance: Ratio,
}

impl Check for FailureDomains {
    fn name(&self) -> &'static str {
        "failure-domains"
    }

    fn finish(&mut self, world: &World, end: SimTime) -> CheckResult {
        let tolerance = self.tolerance.as_f64();
        let mut problems = Vec::new();
        let mut compared = 0;
        let mut candidates = 0;
        for fault in &world.fired_faults {
            let kind = &world.scenario.faults[fault.index].kind;
            let (start, stop) = (fault.at, fault.healed_at.unwrap_or(end));
            let base_start = SimTime(start.0.saturating_sub(BASELINE.0));
            for flow in flows(world) {
                let from = &flow.spec.from;
                let to = target_cluster(&world.scenario, from, &flow.spec.host);
                if kind.affects_pair(from, &to) {
                    continue;
                }
                let ratio = |a: SimTime, b: SimTime| {
                    let rs: Vec<_> = flow
                        .records
                        .iter()
                        .filter(|r| a <= r.sent && r.sent < b)
                        .collect();
                    let ok = rs.iter().filter(|r| r.result.is_ok()).count();
                    (!rs.is_empty()).then(|| ok as f64 / rs.len() as f64)
                };
                candidates += 1;
                let (Some(before), Some(during)) = (ratio(base_start, start), ratio(start, stop))
                else {
                    continue;
                };
                if before == 0.0 {
                    // Nothing worked before the fault: there is no level to keep.
                    continue;
                }
                compared += 1;
                if during + tolerance < before {
                    problems.push(format!(
                        "{from} -> {} dropped from {:.1}% to {:.1}% during fault #{} ({}), which does not involve {from}/{to}",
                        flow.authority(),
                        before * 100.0,
                        during * 100.0,
                        fault.index,
                        fault.description
                    ));
                }
            }
        }
        if candidates > 0 && compared == 0 {
            problems.push(format!(
                "{candidates} unaffected flow/fault pair(s), but none had successful traffic in the minute before its fault: nothing to compare"
            ));
        }
        CheckResult {
            name: self.name().into(),
            passed: problems.is_empty(),
            detail: if problems.is_empty() {
                format!(
                    "{compared} unaffected flow/fault pair(s) kept their success ratio within {:.1}%",
                    tolerance * 100.0
                )
            } else {
                problems.join("; ")
            },
            first_violation: None,
        }
    }
}
