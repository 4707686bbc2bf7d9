//! Availability after recovery (the seed's promises 3 and 4): once every fault has healed and
//! the quiet period has passed, every traffic flow, in-cluster or across clusters, succeeds
//! (within the failure-domain tolerance when the scenario gives one, else at least 99%).

use super::traffic::flows;
use super::{Check, CheckResult};
use crate::sim::SimTime;
use crate::world::World;

pub struct Availability;

impl Check for Availability {
    fn name(&self) -> &'static str {
        "availability"
    }
    fn class(&self) -> super::CheckClass {
        super::CheckClass::Liveness
    }

    fn finish(&mut self, world: &World, end: SimTime) -> CheckResult {
        let from = SimTime::ZERO + world.scenario.liveness_from();
        let floor = 1.0
            - world
                .scenario
                .checks
                .failure_domain_tolerance
                .map(|t| t.as_f64())
                .unwrap_or(0.01);
        let mut problems = Vec::new();
        let mut judged = 0;
        for flow in flows(world) {
            // Requests that could still be in flight at the end are not judged.
            let cutoff = SimTime(end.0.saturating_sub(flow.spec.timeout.0));
            let window: Vec<_> = flow
                .records
                .iter()
                .filter(|r| r.sent >= from && r.sent < cutoff)
                .collect();
            if window.is_empty() {
                continue;
            }
            judged += 1;
            let ok = window.iter().filter(|r| r.result.is_ok()).count();
            let ratio = ok as f64 / window.len() as f64;
            if ratio < floor {
                let reason = window
                    .iter()
                    .find_map(|r| r.result.as_ref().err())
                    .cloned()
                    .unwrap_or_default();
                problems.push(format!(
                    "{} -> {}: {:.1}% of {} requests after {from} succeeded (first failure: {reason})",
                    flow.spec.from,
                    flow.authority(),
                    ratio * 100.0,
                    window.len()
                ));
            }
        }
        CheckResult {
            name: self.name().into(),
            class: self.class(),
            judged: true,
            passed: problems.is_empty(),
            detail: if problems.is_empty() {
                format!(
                    "{judged} flow(s) at or above {:.1}% success after {from}",
                    floor * 100.0
                )
            } else {
                problems.join("; ")
            },
            first_violation: None,
        }
    }
}
