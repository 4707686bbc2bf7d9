//! Availability after recovery (the seed's promises 3 and 4): once every fault has healed and
//! the quiet period has passed, every traffic flow, in-cluster or across clusters, succeeds
//! (within the failure-domain tolerance when the scenario gives one, else at least 99%).
//! A flow between clusters that a fault still active at the end involves (a gateway that died
//! for good) is not judged: nothing promises it recovers; the detail says how many were left out.

use super::oracle::target_cluster;
use super::{Check, CheckResult};
use crate::sim::SimTime;
use crate::world::view::WorldView;

pub struct Availability;

impl Check for Availability {
    fn name(&self) -> &'static str {
        "availability"
    }
    fn class(&self) -> super::CheckClass {
        super::CheckClass::Liveness
    }

    fn finish(&mut self, view: WorldView<'_>, end: SimTime) -> CheckResult {
        let from = SimTime::ZERO + view.scenario().liveness_from();
        let floor = 1.0
            - view
                .scenario()
                .checks
                .failure_domain_tolerance
                .map(|t| t.as_f64())
                .unwrap_or(0.01);
        let mut problems = Vec::new();
        let mut judged = 0;
        let mut unhealed = 0;
        let active: Vec<usize> = view
            .fired_faults()
            .iter()
            .filter(|f| f.healed_at.is_none())
            .map(|f| f.index)
            .collect();
        for flow in view.flows() {
            let to = target_cluster(view.scenario(), &flow.spec.from, &flow.spec.host);
            if active.iter().any(|i| {
                view.scenario().faults[*i]
                    .kind
                    .affects_pair(&flow.spec.from, &to)
            }) {
                unhealed += 1;
                continue;
            }
            // Requests that could still be in flight at the end are not judged.
            let cutoff = SimTime(end.0.saturating_sub(flow.spec.timeout.0));
            if from >= cutoff {
                continue;
            }
            let window = flow.log.window(from, Some(cutoff));
            let Some(ratio) = window.ratio() else {
                continue;
            };
            judged += 1;
            if ratio < floor {
                let reason = window.first_failure().unwrap_or_default().to_string();
                problems.push(format!(
                    "{} -> {}: {:.1}% of {} requests after {from} succeeded (first failure: {reason})",
                    flow.spec.from,
                    flow.authority(),
                    ratio * 100.0,
                    window.sent()
                ));
            }
        }
        CheckResult {
            name: self.name().into(),
            class: self.class(),
            judged: true,
            passed: problems.is_empty(),
            detail: {
                let mut detail = if problems.is_empty() {
                    format!(
                        "{judged} flow(s) at or above {:.1}% success after {from}",
                        floor * 100.0
                    )
                } else {
                    problems.join("; ")
                };
                if unhealed > 0 {
                    detail.push_str(&format!(
                        " ({unhealed} flow(s) not judged: a fault that never heals involves them)"
                    ));
                }
                detail
            },
            first_violation: None,
        }
    }
}
