//! Separate failure domains (the seed's promise 2): for every traffic flow whose pair of
//! clusters a fault does not involve, the success ratio while the fault is active stays within
//! the scenario's tolerance of the ratio in the minute before the fault.
//!
//! Faults overlap (swarm fuzzing draws several): requests sent while a fault that *does*
//! involve the flow's pair is active, or recovering, say nothing about the fault under
//! judgement, so they are left out of both the baseline and the fault window.

use super::oracle::target_cluster;
use super::traffic::BASELINE;
use super::{Check, CheckResult};
use crate::sim::{Ratio, SimDuration, SimTime};
use crate::world::view::WorldView;

pub struct FailureDomains {
    pub tolerance: Ratio,
}

/// After a fault heals, the pair it involves may take this long to recover (gateway probes,
/// DNS caches, connection pools) before its traffic is evidence about other faults again.
pub(crate) const RECOVERY: SimDuration = SimDuration::from_secs(30);
/// Fewer requests than this in a window is no evidence either way.
const MIN_SAMPLES: usize = 10;

/// `[from, to)` intervals in which a pair's traffic is explained by a fault involving it.
fn explained_windows(
    view: WorldView<'_>,
    from: &str,
    to: &str,
    lead: SimDuration,
    end: SimTime,
) -> Vec<(SimTime, SimTime)> {
    view.fired_faults()
        .iter()
        .filter(|f| view.scenario().faults[f.index].kind.affects_pair(from, to))
        .map(|f| {
            (
                SimTime(f.at.0.saturating_sub(lead.0)),
                f.healed_at.map_or(end, |h| h + RECOVERY),
            )
        })
        .collect()
}

impl Check for FailureDomains {
    fn name(&self) -> &'static str {
        "failure-domains"
    }
    fn class(&self) -> super::CheckClass {
        super::CheckClass::Safety
    }

    fn finish(&mut self, view: WorldView<'_>, end: SimTime) -> CheckResult {
        let tolerance = self.tolerance.as_f64();
        let mut problems = Vec::new();
        let mut compared = 0;
        let mut candidates = 0;
        for fault in view.fired_faults() {
            let kind = &view.scenario().faults[fault.index].kind;
            let (start, stop) = (fault.at, fault.healed_at.unwrap_or(end));
            let base_start = SimTime(start.0.saturating_sub(BASELINE.0));
            for flow in view.flows() {
                let from = &flow.spec.from;
                let to = target_cluster(view.scenario(), from, &flow.spec.host);
                if kind.affects_pair(from, &to) {
                    continue;
                }
                // A request sent up to one timeout before a fault can fail because of it.
                let explained = explained_windows(view, from, &to, flow.spec.timeout, end);
                let ratio = |a: SimTime, b: SimTime, exclude: bool| {
                    let mut cuts = vec![a, b];
                    if exclude {
                        cuts.extend(explained.iter().flat_map(|&(x, y)| [x, y]));
                    }
                    let agg = flow.log.sum(&cuts, |t| {
                        a <= t
                            && t < b
                            && !(exclude && explained.iter().any(|&(x, y)| x <= t && t < y))
                    });
                    (agg.sent() >= MIN_SAMPLES as u64).then(|| agg.ok() as f64 / agg.sent() as f64)
                };
                // A fault before the flow had a minute of traffic has no level to keep.
                if ratio(base_start, start, false).is_none() {
                    continue;
                }
                let (Some(before), Some(during)) =
                    (ratio(base_start, start, true), ratio(start, stop, true))
                else {
                    // Overlapping faults that involve the pair explain its traffic in these
                    // windows: no evidence about this fault, and not for lack of traffic.
                    if ratio(start, stop, false).is_none() {
                        candidates += 1;
                    }
                    continue;
                };
                candidates += 1;
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
        // A flow that never worked has no level to lose: that is the availability check's
        // business, not a failure-domain violation. Say so rather than pass silently.
        let uncompared = candidates - compared;
        CheckResult {
            name: self.name().into(),
            class: self.class(),
            judged: true,
            passed: problems.is_empty(),
            detail: if problems.is_empty() {
                let mut d = format!(
                    "{compared} unaffected flow/fault pair(s) kept their success ratio within {:.1}%",
                    tolerance * 100.0
                );
                if uncompared > 0 {
                    d.push_str(&format!(
                        "; {uncompared} had no successful traffic in the minute before the fault (nothing to keep)"
                    ));
                }
                d
            } else {
                problems.join("; ")
            },
            first_violation: None,
        }
    }
}
