//! `gateway-readiness`: while a link's gateway is unreachable from its source cluster (the
//! gateway down, its cluster down, a partition or a total-loss path between the two clusters),
//! the link's gateway-mode mirror Endpoints go not-ready within what the probe allows, stay
//! not-ready while the cut lasts, and are ready again soon after it heals (spec §6.4 liveness →
//! `RepairEndpoints`, §8.3 probe worker).
//!
//! Bounds, from the Link's `probeSpec` as the watcher started with it (Linkerd's defaults when
//! a value does not parse): a probe fails fast on a refused connection and at its `timeout`
//! when packets vanish; ticks come every `period` plus up to 10 % jitter and are dropped while a
//! probe is in flight; `failureThreshold` consecutive failures mark the gateway dead. So the
//! mirrors must be not-ready `threshold × (per-probe + 1.1 × period) + 1.1 × period +` [`SLACK`]
//! after the cut starts or the watcher (re)starts, whichever is later, and ready again
//! `1.1 × period + timeout + SLACK` after the heal.
//!
//! A cut is not judged when it is shorter than its bound, when another fault touches the source
//! cluster meanwhile (its API server, DNS or the mirror itself may be what delays the write), or
//! for the heal side, when a scripted action or another fault could change what is mirrored.

use super::{Check, CheckClass, CheckResult};
use crate::k8s::{Kind, Object, ObjectKey};
use crate::multicluster::names::{
    LABEL_CLUSTER_NAME, LABEL_HEADLESS_MIRROR_SVC_NAME, LABEL_K8S_HEADLESS, LABEL_MIRRORED_SERVICE,
};
use crate::multicluster::probe::parse_go_duration;
use crate::sim::{SimDuration, SimTime};
use crate::world::Observation;
use crate::world::view::WorldView;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Time for the liveness change to go through the mirror's queue and its local API writes
/// (rate-limited at 50 QPS, so a few hundred mirrors fit).
pub(crate) const SLACK: SimDuration = SimDuration::from_secs(15);

/// One link's mirror: (source cluster index, link name).
type LinkKey = (usize, String);
/// A watcher start with the Link it started from, or a stop (`None`).
type WatcherEvent = (SimTime, Option<Arc<Object>>);
/// A mirror's readiness after each write: (time, ready?), `None` once deleted.
type Readiness = Vec<(SimTime, Option<bool>)>;

#[derive(Default)]
pub struct GatewayReadiness {
    /// Watcher starts (with the Link they started from) and stops (`None`) of each link, in
    /// order.
    starts: BTreeMap<LinkKey, Vec<WatcherEvent>>,
    /// Per link and gateway-mode mirror Endpoints: (time, ready?) after each write, `None` once
    /// deleted.
    history: BTreeMap<LinkKey, BTreeMap<ObjectKey, Readiness>>,
}

/// The probe timing of a Link: (period, failure threshold, timeout).
fn probe_timing(link: &Object) -> (SimDuration, u64, SimDuration) {
    let Object::Link(l) = link else {
        return (SimDuration::from_secs(3), 3, SimDuration::from_secs(30));
    };
    let p = &l.spec.probe_spec;
    (
        parse_go_duration(&p.period).unwrap_or(SimDuration::from_secs(3)),
        p.failure_threshold.parse().unwrap_or(3),
        parse_go_duration(&p.timeout).unwrap_or(SimDuration::from_secs(30)),
    )
}

/// Whether an Endpoints object is a gateway-mode mirror of `link` (not a headless root, not an
/// endpoint mirror, not the probe's), and whether it has ready addresses.
fn gateway_mirror(o: &Object, service: Option<&Arc<Object>>, link: &str) -> Option<bool> {
    let Object::Endpoints(e) = o else {
        return None;
    };
    let l = &e.metadata.labels;
    let mirror = l.get(LABEL_MIRRORED_SERVICE).map(String::as_str) == Some("true")
        && l.get(LABEL_CLUSTER_NAME).map(String::as_str) == Some(link)
        && !l.contains_key(LABEL_HEADLESS_MIRROR_SVC_NAME)
        && !l.contains_key(LABEL_K8S_HEADLESS);
    let headless = matches!(service.map(|s| &**s), Some(Object::Service(s)) if s.is_headless());
    (mirror && !headless).then(|| e.subsets.iter().any(|s| !s.addresses.is_empty()))
}

/// The state of one mirror at `t` from its history: `None` before its first write or after its
/// deletion.
fn state_at(history: &[(SimTime, Option<bool>)], t: SimTime) -> Option<bool> {
    let i = history.partition_point(|(at, _)| *at <= t);
    i.checked_sub(1).and_then(|i| history[i].1)
}

fn scaled(d: SimDuration, num: u64, den: u64) -> SimDuration {
    SimDuration(d.0 / den * num + d.0 % den * num / den)
}

impl Check for GatewayReadiness {
    fn name(&self) -> &'static str {
        "gateway-readiness"
    }
    fn class(&self) -> CheckClass {
        CheckClass::Liveness
    }
    fn observe(&mut self, at: SimTime, obs: &Observation, _view: WorldView<'_>) -> Option<String> {
        match obs {
            Observation::WatcherStarted {
                cluster,
                link,
                object,
                ..
            } => self
                .starts
                .entry((*cluster, link.clone()))
                .or_default()
                .push((at, Some(object.clone()))),
            Observation::WatcherStopped { cluster, link } => self
                .starts
                .entry((*cluster, link.clone()))
                .or_default()
                .push((at, None)),
            Observation::MirrorWrite(w) if w.key.kind == Kind::Endpoints => {
                let state = match &w.after {
                    Some(after) => gateway_mirror(after, w.service.as_ref(), &w.link).map(Some),
                    None => w
                        .before
                        .as_ref()
                        .and_then(|b| gateway_mirror(b, w.service.as_ref(), &w.link))
                        .map(|_| None),
                };
                if let Some(state) = state {
                    self.history
                        .entry((w.cluster, w.link.clone()))
                        .or_default()
                        .entry(w.key.clone())
                        .or_default()
                        .push((at, state));
                }
            }
            // The mirror deleted a mirror Service (an unexport, say): its Endpoints serve
            // nothing from now on, and the endpoints controller, not the mirror, deletes them.
            Observation::MirrorWrite(w) if w.key.kind == Kind::Service && w.after.is_none() => {
                let endpoints = ObjectKey::new(Kind::Endpoints, &w.key.namespace, &w.key.name);
                if let Some(history) = self
                    .history
                    .get_mut(&(w.cluster, w.link.clone()))
                    .and_then(|h| h.get_mut(&endpoints))
                {
                    history.push((at, None));
                }
            }
            _ => {}
        }
        None
    }

    fn finish(&mut self, view: WorldView<'_>, end: SimTime) -> CheckResult {
        let scenario = view.scenario();
        let fired = view.fired_faults();
        let mut judged = 0u64;
        let mut first: Option<(SimTime, String)> = None;
        let mut violation = |t: SimTime, message: String| {
            if first.as_ref().is_none_or(|(f, _)| t < *f) {
                first = Some((t, message));
            }
        };
        let empty = BTreeMap::new();
        for (fi, f) in fired.iter().enumerate() {
            let kind = &scenario.faults[f.index].kind;
            for l in scenario.links.iter().filter(|l| l.gateway) {
                let Some(fast) = kind.gateway_cut(&l.from, &l.to) else {
                    continue;
                };
                let Some(ci) = scenario.clusters.iter().position(|c| c.name == l.from) else {
                    continue;
                };
                let key = (ci, l.name.clone());
                let (s, e) = (f.at, f.healed_at.unwrap_or(end));
                // Another fault on the source side while the cut lasts: not judged.
                let overlaps = |from: SimTime, to: SimTime| {
                    fired.iter().enumerate().any(|(gi, g)| {
                        gi != fi
                            && g.at < to
                            && g.healed_at.is_none_or(|h| h > from)
                            && scenario.faults[g.index].kind.clusters().contains(&l.from)
                    })
                };
                if overlaps(s, e) {
                    continue;
                }
                // A refused connection fails a probe at once, but not while another cut of
                // the same gateway that drops packets (a cluster down, a dropping partition)
                // overlaps it: the probe then waits out its timeout.
                let fast = fast
                    && !fired.iter().enumerate().any(|(gi, g)| {
                        gi != fi
                            && g.at < e
                            && g.healed_at.is_none_or(|h| h > s)
                            && scenario.faults[g.index].kind.gateway_cut(&l.from, &l.to)
                                == Some(false)
                    });
                let starts = self.starts.get(&key).map(Vec::as_slice).unwrap_or(&[]);
                // The cut counts from the later of its start and the start of the watcher
                // that runs through it: a watcher (re)started meanwhile has a new probe and
                // starts alive; while none runs, nothing repairs the mirrors.
                let running_at = |t: SimTime| {
                    starts
                        .iter()
                        .rev()
                        .find(|(at, _)| *at <= t)
                        .is_some_and(|(_, l)| l.is_some())
                };
                let next_start = |after: SimTime| {
                    starts
                        .iter()
                        .find(|(at, l)| *at > after && l.is_some())
                        .map(|(at, _)| *at)
                };
                let Some(mut t0) = (if running_at(s) {
                    Some(s)
                } else {
                    next_start(s)
                }) else {
                    continue;
                };
                let bound = |t0: SimTime| {
                    let link = starts
                        .iter()
                        .rev()
                        .find(|(t, l)| *t <= t0 && l.is_some())
                        .and_then(|(_, l)| l.clone());
                    let (period, threshold, timeout) = link.as_deref().map_or(
                        (SimDuration::from_secs(3), 3, SimDuration::from_secs(30)),
                        probe_timing,
                    );
                    let tick = scaled(period, 11, 10);
                    let per_probe = if fast { SimDuration::ZERO } else { timeout };
                    let dead =
                        SimDuration((per_probe + tick).0.saturating_mul(threshold)) + tick + SLACK;
                    (dead, tick + timeout + SLACK)
                };
                let mut judge = true;
                while let Some((t, l)) = starts
                    .iter()
                    .find(|(t, _)| *t > t0 && *t < t0 + bound(t0).0)
                {
                    match l {
                        Some(_) => t0 = *t,
                        None => match next_start(*t) {
                            Some(next) => t0 = next,
                            None => {
                                judge = false;
                                break;
                            }
                        },
                    }
                }
                if !judge {
                    continue;
                }
                let (dead_bound, alive_bound) = bound(t0);
                let deadline = t0 + dead_bound;
                if deadline >= e {
                    continue;
                }
                judged += 1;
                let mirrors = self.history.get(&key).unwrap_or(&empty);
                for (mirror, history) in mirrors {
                    if state_at(history, deadline) == Some(true) {
                        violation(
                            deadline,
                            format!(
                                "{mirror} of link {} in {} still ready at {deadline}, {} after {} began ({kind})",
                                l.name,
                                l.from,
                                deadline.saturating_since(s),
                                if t0 == s {
                                    "the cut"
                                } else {
                                    "the watcher restarted and the cut"
                                }
                            ),
                        );
                    } else if let Some((t, _)) = history
                        .iter()
                        .find(|(t, state)| *t > deadline && *t < e && *state == Some(true))
                    {
                        violation(
                            *t,
                            format!(
                                "{mirror} of link {} in {} turned ready at {t} while the gateway was still cut off ({kind})",
                                l.name, l.from
                            ),
                        );
                    }
                }
                // The heal side: what was ready before the cut is ready again, unless something
                // else could have changed it.
                let Some(healed) = f.healed_at else {
                    continue;
                };
                let back = healed + alive_bound;
                let quiet = !scenario
                    .actions
                    .iter()
                    .any(|a| SimTime::ZERO + a.at >= s && SimTime::ZERO + a.at <= back)
                    && !fired.iter().enumerate().any(|(gi, g)| {
                        gi != fi && g.at <= back && g.healed_at.is_none_or(|h| h > s) && {
                            let c = scenario.faults[g.index].kind.clusters();
                            c.iter().any(|c| *c == l.from || *c == l.to)
                        }
                    })
                    && !starts.iter().any(|(t, _)| *t > s && *t <= back);
                if back >= end || !quiet {
                    continue;
                }
                for (mirror, history) in mirrors {
                    let before = s.0.checked_sub(1).map(|t| state_at(history, SimTime(t)));
                    if before == Some(Some(true)) && state_at(history, back) != Some(true) {
                        violation(
                            back,
                            format!(
                                "{mirror} of link {} in {} not ready again at {back}, {} after the gateway came back ({kind})",
                                l.name, l.from, alive_bound
                            ),
                        );
                    }
                }
            }
        }
        match first {
            Some((_, message)) => CheckResult::new(self.name(), self.class(), false, message),
            None => CheckResult::new(
                self.name(),
                self.class(),
                true,
                format!(
                    "{judged} gateway cut(s) long enough to judge: mirrors not-ready within the probe's bound and ready again after"
                ),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_of_a_mirror_is_its_last_write_at_or_before_the_instant() {
        let h = [
            (SimTime(10), Some(true)),
            (SimTime(20), Some(false)),
            (SimTime(30), None),
        ];
        assert_eq!(state_at(&h, SimTime(5)), None);
        assert_eq!(state_at(&h, SimTime(10)), Some(true));
        assert_eq!(state_at(&h, SimTime(25)), Some(false));
        assert_eq!(state_at(&h, SimTime(30)), None);
        assert_eq!(
            scaled(SimDuration::from_secs(3), 11, 10),
            SimDuration::from_millis(3300)
        );
    }
}
