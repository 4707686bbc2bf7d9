//! `mirror-stability` (spec §14): while a remote service stays exported, its remote Endpoints
//! stay ready and its gateway answers the probe, the service mirror leaves its mirrors alone: no
//! mirror Service, mirror Endpoints or endpoint mirror of it is deleted (to be recreated later),
//! and no ready mirror address turns not-ready or disappears. Damage that heals by the end of
//! the run (a restarted watcher that deletes healthy endpoint mirrors and recreates them, or
//! marks healthy gateway mirrors not-ready for a probe period) fails requests in between; this
//! check sees it when it happens.
//!
//! "Stays" is judged against the target cluster's API server: the remote Service (exported by
//! the Link's selector as the watcher started with it) and its Endpoints exist and have not
//! changed for [`SETTLED`], and neither has the Link. A write that drops readiness is not judged
//! while a fault cuts the link's gateway or its certificates, nor for [`SETTLED`] after; no
//! write is judged within [`SETTLED`] of a scripted action. Restarts of the mirror itself (a
//! crash, a fatal exit) are judged: a restart must not disturb healthy mirrors.

use super::{Check, CheckClass, CheckResult};
use crate::k8s::{Kind, Object, ObjectKey};
use crate::multicluster::names::{
    LABEL_CLUSTER_NAME, LABEL_HEADLESS_MIRROR_SVC_NAME, LABEL_MIRRORED_SERVICE,
};
use crate::scenario::FaultKind;
use crate::sim::{SimDuration, SimTime};
use crate::world::Observation;
use crate::world::observe::{MirrorWrite, WriteOp};
use crate::world::view::WorldView;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

/// How long remote state must have stayed the same before the mirror is held to it: the
/// informers' lag, the queue's retries and a probe period, with room to spare.
pub(crate) const SETTLED: SimDuration = SimDuration::from_secs(60);

#[derive(Default)]
pub struct MirrorStability {
    /// Per cluster: its API server's revision each time it changed, back to [`SETTLED`] ago.
    revisions: Vec<VecDeque<(SimTime, u64)>>,
    /// The Link each (source cluster, link) watcher last started with.
    links: BTreeMap<(usize, String), Arc<Object>>,
    /// Mirror writes that deleted a mirror or took a ready address away.
    disturbances: u64,
}

/// The ready addresses of an Endpoints object, as (hostname, ip).
fn ready(o: Option<&Arc<Object>>) -> BTreeSet<(String, String)> {
    match o.map(|o| &**o) {
        Some(Object::Endpoints(e)) => e
            .subsets
            .iter()
            .flat_map(|s| &s.addresses)
            .map(|a| (a.hostname.clone(), a.ip.clone()))
            .collect(),
        _ => BTreeSet::new(),
    }
}

fn rv(o: &Object) -> u64 {
    o.meta().resource_version.parse().unwrap_or(u64::MAX)
}

/// What a mirror write takes away: the remote service's name, the hosts whose endpoint mirror
/// or ready root address goes (empty for the whole service), and what happened.
fn disturbance(w: &MirrorWrite) -> Option<(String, BTreeSet<String>, String)> {
    let before = w.before.as_ref()?;
    let labels = before.labels();
    if labels.get(LABEL_MIRRORED_SERVICE).map(String::as_str) != Some("true")
        || labels.get(LABEL_CLUSTER_NAME) != Some(&w.link)
    {
        return None;
    }
    let suffix = format!("-{}", w.link);
    let unsuffix = |n: &str| n.strip_suffix(&suffix).map(str::to_string);
    let root = labels.get(LABEL_HEADLESS_MIRROR_SVC_NAME);
    let (remote, hosts) = match root {
        // An endpoint mirror `<host>-<link>` of root `<svc>-<link>`.
        Some(root) => (unsuffix(root)?, BTreeSet::from([unsuffix(&w.key.name)?])),
        None => (unsuffix(&w.key.name)?, BTreeSet::new()),
    };
    match (w.op, w.key.kind) {
        (WriteOp::Delete, Kind::Service | Kind::Endpoints) => {
            Some((remote, hosts, format!("deleted {}", w.key)))
        }
        (WriteOp::Update | WriteOp::Patch, Kind::Endpoints) => {
            let (was, now) = (ready(Some(before)), ready(w.after.as_ref()));
            // A headless root's addresses are its hosts' endpoint mirrors: one without a
            // hostname was wrong (a gateway address written over the root), and taking it out
            // repairs the mirror.
            let headless =
                matches!(w.service.as_deref(), Some(Object::Service(s)) if s.is_headless());
            let lost: Vec<&(String, String)> = was
                .difference(&now)
                .filter(|(host, _)| !headless || !host.is_empty())
                .collect();
            if lost.is_empty() {
                return None;
            }
            let hosts = match root {
                Some(_) => hosts,
                None => lost
                    .iter()
                    .filter(|(h, _)| !h.is_empty())
                    .map(|(h, _)| h.clone())
                    .collect(),
            };
            let lost: Vec<String> = lost.iter().map(|(h, ip)| format!("{h}/{ip}")).collect();
            Some((
                remote,
                hosts,
                format!(
                    "took ready address(es) {} out of {}",
                    lost.join(", "),
                    w.key
                ),
            ))
        }
        _ => None,
    }
}

impl MirrorStability {
    /// The revision of cluster `c`'s API server at the latest sample at or before `t`.
    fn revision_at(&self, c: usize, t: SimTime) -> Option<u64> {
        let samples = self.revisions.get(c)?;
        let i = samples.partition_point(|(at, _)| *at <= t);
        i.checked_sub(1).map(|i| samples[i].1)
    }

    fn sample(&mut self, at: SimTime, view: WorldView<'_>) {
        if self.revisions.len() < view.cluster_count() {
            self.revisions.resize(view.cluster_count(), VecDeque::new());
        }
        for c in 0..view.cluster_count() {
            let rev = view.api_revision(c);
            let samples = &mut self.revisions[c];
            if samples.back().is_none_or(|(_, r)| *r != rev) {
                samples.push_back((at, rev));
            }
            // Keep the newest sample at or before `at - SETTLED`, and everything after it.
            let horizon = SimTime(at.0.saturating_sub(SETTLED.0));
            while samples.len() > 1 && samples[1].0 <= horizon {
                samples.pop_front();
            }
        }
    }

    /// Why the write is excused, if it is: the remote service is not settled, or something
    /// legitimately moves the mirror.
    fn excused(
        &self,
        at: SimTime,
        w: &MirrorWrite,
        remote: &str,
        hosts: &BTreeSet<String>,
        view: WorldView<'_>,
    ) -> bool {
        let scenario = view.scenario();
        let source = &scenario.clusters[w.cluster].name;
        let Some(spec) = scenario
            .links
            .iter()
            .find(|l| l.name == w.link && l.from == *source)
        else {
            return true;
        };
        let Some(target) = scenario.clusters.iter().position(|c| c.name == spec.to) else {
            return true;
        };
        let settled_since = SimTime(at.0.saturating_sub(SETTLED.0));
        // Scripted changes: anything may move.
        if scenario.actions.iter().any(|a| {
            let t = SimTime::ZERO + a.at;
            t <= at && t >= settled_since
        }) {
            return true;
        }
        let Some(link) = self.links.get(&(w.cluster, w.link.clone())) else {
            return true;
        };
        let (Some(src_rev), Some(dst_rev)) = (
            self.revision_at(w.cluster, settled_since),
            self.revision_at(target, settled_since),
        ) else {
            return true;
        };
        if at < SimTime::ZERO + SETTLED {
            return true;
        }
        let Object::Link(l) = &**link else {
            return true;
        };
        let local = view.store(w.cluster);
        let current_link = local.get(&link.key());
        if current_link.is_none_or(|o| rv(o) > src_rev) {
            return true;
        }
        let store = view.store(target);
        let ns = &w.key.namespace;
        let Some(svc) = store.get(&ObjectKey::new(Kind::Service, ns, remote)) else {
            return true;
        };
        let exported = |sel: &Option<crate::k8s::LabelSelector>| {
            sel.as_ref().is_some_and(|s| s.matches(svc.labels()))
        };
        if rv(svc) > dst_rev
            || !(exported(&l.spec.selector) || exported(&l.spec.remote_discovery_selector))
        {
            return true;
        }
        if w.key.kind == Kind::Endpoints || !hosts.is_empty() {
            let endpoints = store.get(&ObjectKey::new(Kind::Endpoints, ns, remote));
            let Some(endpoints) = endpoints else {
                return true;
            };
            let ready = ready(Some(endpoints));
            if rv(endpoints) > dst_rev
                || ready.is_empty()
                || hosts.iter().any(|h| !ready.iter().any(|(rh, _)| rh == h))
            {
                return true;
            }
        }
        // Readiness follows the probe: a cut gateway or failing certificates excuse it.
        if w.op != WriteOp::Delete {
            let moves_probe = |k: &FaultKind| {
                k.gateway_cut(&spec.from, &spec.to).is_some()
                    // A one-way cut, a lossy or slow path may fail probes too.
                    || (matches!(
                        k,
                        FaultKind::Partition { .. }
                            | FaultKind::LossyPath { .. }
                            | FaultKind::SlowPath { .. }
                    ) && k.affects_pair(&spec.from, &spec.to))
                    || matches!(
                        k,
                        FaultKind::CertExpiry(c) | FaultKind::RotateCerts(c) | FaultKind::ClockSkew { cluster: c, .. } | FaultKind::TrustAnchor { cluster: c, .. }
                            if *c == spec.from || *c == spec.to
                    )
            };
            if view.fired_faults().iter().any(|f| {
                moves_probe(&scenario.faults[f.index].kind)
                    && f.at <= at
                    && f.healed_at.is_none_or(|h| h + SETTLED >= at)
            }) {
                return true;
            }
        }
        false
    }
}

impl Check for MirrorStability {
    fn name(&self) -> &'static str {
        "mirror-stability"
    }
    fn class(&self) -> CheckClass {
        CheckClass::Safety
    }
    fn observe(&mut self, at: SimTime, obs: &Observation, view: WorldView<'_>) -> Option<String> {
        self.sample(at, view);
        match obs {
            Observation::WatcherStarted {
                cluster,
                link,
                object,
                ..
            } => {
                self.links.insert((*cluster, link.clone()), object.clone());
                None
            }
            Observation::MirrorWrite(w) => {
                let (remote, hosts, what) = disturbance(w)?;
                self.disturbances += 1;
                if self.excused(at, w, &remote, &hosts, view) {
                    return None;
                }
                Some(format!(
                    "the {} mirror in {} {what} although {}/{remote} stayed exported with ready \
                     endpoints and a reachable gateway for the last {SETTLED}",
                    w.link,
                    view.cluster_name(w.cluster),
                    w.key.namespace
                ))
            }
            _ => None,
        }
    }
    fn finish(&mut self, _view: WorldView<'_>, _end: SimTime) -> CheckResult {
        CheckResult::new(
            self.name(),
            self.class(),
            true,
            format!(
                "{} mirror write(s) deleted a mirror or took a ready address away, none of a \
                 settled, exported, ready remote service",
                self.disturbances
            ),
        )
    }
}
