//! Separate failure domains (the seed's promise 2): for every traffic flow whose pair of
//! clusters a fault or a scripted action does not involve, the success ratio while the fault is
//! active (the action in effect: until a later action on the same object, or the end) stays
//! within the scenario's tolerance of the ratio in the minute before it.
//!
//! Faults and actions overlap (swarm fuzzing draws several): requests sent while one that *does*
//! involve the flow's pair is in effect, or recovering, say nothing about the event under
//! judgement, so they are left out of both the baseline and the fault window.

use super::oracle::target_cluster;
use super::traffic::BASELINE;
use super::{Check, CheckResult};
use crate::scenario::{FaultKind, Scenario};
use crate::sim::{Ratio, SimDuration, SimTime};
use crate::world::view::WorldView;

pub struct FailureDomains {
    pub tolerance: Ratio,
}

/// After a fault heals, the pair it involves may take this long to recover (gateway probes,
/// DNS caches, connection pools) before its traffic is evidence about other faults again.
pub(crate) const RECOVERY: SimDuration = SimDuration::from_secs(30);

/// How long after `kind` heals the pairs it involves may still be recovering. A fault that
/// takes an API server down adds one endpoint refresh period: a readiness write the service
/// mirror made while its own API server or caches were recovering (a liveness change meeting
/// an outage, or an update with a cached resourceVersion that conflicts) is only logged
/// (spec §6.4 step 4), and the next periodic `RepairEndpoints` is what writes it again.
pub(crate) fn recovery(kind: &FaultKind) -> SimDuration {
    match kind {
        FaultKind::ApiServerDown(_) | FaultKind::ClusterDown(_) => {
            RECOVERY + crate::defaults::ENDPOINT_REFRESH_PERIOD
        }
        _ => RECOVERY,
    }
}
/// Fewer requests than this in a window is no evidence either way.
const MIN_SAMPLES: usize = 10;

/// Whether traffic from cluster `a` to cluster `b` may suffer from an event.
type Involves = Box<dyn Fn(&str, &str) -> bool>;

/// Something under judgement: a fault while it lasts, or a scripted action from when it is
/// applied until the next action on the same object undoes it (or the end of the run: `stop`
/// is `None`).
struct Event {
    start: SimTime,
    stop: Option<SimTime>,
    /// How long the pairs it involves may take to recover after `stop`.
    recovery: SimDuration,
    description: String,
    involves: Involves,
}

/// The run's faults and scripted actions as events.
fn events(view: WorldView<'_>) -> Vec<Event> {
    let scenario = view.scenario();
    let faults = view.fired_faults().iter().map(|f| {
        let kind = scenario.faults[f.index].kind.clone();
        Event {
            start: f.at,
            stop: f.healed_at,
            recovery: recovery(&kind),
            description: format!("fault #{} ({})", f.index, f.description),
            involves: Box::new(move |a, b| kind.affects_pair(a, b)),
        }
    });
    let actions =
        scenario
            .actions
            .iter()
            .zip(action_windows(scenario))
            .map(|(a, (start, undone))| {
                let cluster = a.cluster.clone();
                Event {
                    start,
                    stop: undone,
                    recovery: RECOVERY,
                    description: format!("action `{}` in {}", a.kind.describe(), a.cluster),
                    involves: Box::new(move |x, y| x == cluster || y == cluster),
                }
            });
    faults.chain(actions).collect()
}

/// Each scripted action's time and the time a later action on the same object (in the same
/// cluster and namespace) undoes it, if one does.
pub(crate) fn action_windows(scenario: &Scenario) -> Vec<(SimTime, Option<SimTime>)> {
    let actions = &scenario.actions;
    actions
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let undone = actions[i + 1..]
                .iter()
                .find(|b| {
                    b.cluster == a.cluster
                        && b.namespace == a.namespace
                        && b.kind.object() == a.kind.object()
                })
                .map(|b| SimTime::ZERO + b.at);
            (SimTime::ZERO + a.at, undone)
        })
        .collect()
}

/// `[from, to)` intervals in which a pair's traffic is explained by an event involving it.
fn explained_windows(
    events: &[Event],
    from: &str,
    to: &str,
    lead: SimDuration,
    end: SimTime,
) -> Vec<(SimTime, SimTime)> {
    events
        .iter()
        .filter(|e| (e.involves)(from, to))
        .map(|e| {
            (
                SimTime(e.start.0.saturating_sub(lead.0)),
                e.stop.map_or(end, |h| h + e.recovery),
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
        let events = events(view);
        for event in &events {
            let (start, stop) = (event.start, event.stop.unwrap_or(end));
            let base_start = SimTime(start.0.saturating_sub(BASELINE.0));
            for flow in view.flows() {
                let from = &flow.spec.from;
                let to = target_cluster(view.scenario(), from, &flow.spec.host);
                if (event.involves)(from, &to) {
                    continue;
                }
                // A request sent up to one timeout before an event can fail because of it.
                let explained = explained_windows(&events, from, &to, flow.spec.timeout, end);
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
                        "{from} -> {} dropped from {:.1}% to {:.1}% during {}, which does not involve {from}/{to}",
                        flow.authority(),
                        before * 100.0,
                        during * 100.0,
                        event.description
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
                    "{compared} unaffected flow/event pair(s) kept their success ratio within {:.1}%",
                    tolerance * 100.0
                );
                if uncompared > 0 {
                    d.push_str(&format!(
                        "; {uncompared} had no successful traffic in the minute before the event (nothing to keep)"
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
