//! Liveness: after the last fault heals (plus the scenario's quiet period), every exported
//! service is mirrored *exactly* in every linking cluster, with no orphans, and each mirror
//! reached its final state within `converged_within` of the last heal.
//!
//! What is expected comes from the oracle ([`super::oracle`]: which services each link mirrors
//! and how, from the true state of the API servers, not any cache); this check compares the
//! mirrors with it (`mirror.rs`, `federated.rs`), following spec §5–§7 and §11.2: mirror `<svc>-<link>` with the remote labels
//! (minus `mirror.linkerd.io/*` and excluded keys) plus `mirrored-service`/`cluster-name`, the
//! `remote-svc-fq-name` and current `remote-resource-version` annotations, the remote ports and
//! no selector; gateway-mode Endpoints with the gateway address on port 4143 (ready) when the
//! remote service has ready endpoints and no subsets otherwise; headless mirrors as a headless
//! root plus one endpoint mirror per ready named host; remote-discovery mirrors without Endpoints.
//! A headless service on a headless link whose Endpoints have no subsets yet expects nothing
//! (Linkerd mirrors headless services from their Endpoints, spec §7.1). Orphans are mirror
//! Services of a link whose remote service is not exported, and mirror Endpoints of a link
//! without their Service. Federated members (spec §11.3): every remote service matching a
//! link's federated selector is listed as `<svc>@<link>` in the
//! `multicluster.linkerd.io/remote-discovery` annotation of the source's `<svc>-federated`, and
//! no other member of that link is. With a local service mirror, each of the cluster's own
//! federated members is named by `multicluster.linkerd.io/local-discovery` on its
//! `<svc>-federated`, and a `-federated` Service without any member is gone.

mod federated;
mod mirror;

use super::oracle::{self, LABEL_CLUSTER, LABEL_HEADLESS_ROOT, LABEL_MIRRORED};
use super::{Check, CheckResult};
use crate::k8s::{Kind, ObjectKey};
use crate::sim::SimTime;
use crate::world::Observation;
use crate::world::view::WorldView;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// One mirrored service's convergence, for the report.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct ConvergenceRow {
    pub link: String,
    pub service: String,
    /// When the mirror last became exactly right, if it did.
    pub converged_ns: Option<u64>,
    /// Time from the remote change it tracks to convergence.
    pub took_ns: Option<u64>,
}

#[derive(Default)]
pub struct Convergence {
    /// Last content-changing mirror write per (source cluster, link, object).
    last_change: BTreeMap<(usize, String, ObjectKey), SimTime>,
    /// Filled by `finish`, read by the report.
    pub rows: Vec<ConvergenceRow>,
}

/// One remote service the oracle expects a link to mirror.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Judged {
    pub link: String,
    /// The link's source cluster.
    pub src: usize,
    /// `namespace/name` of the remote service.
    pub service: String,
    /// When the link was created (`[[link]] at`).
    pub since: SimTime,
}

/// The mirror state of every link against the oracle.
#[derive(Clone, Debug, Default)]
pub struct Evaluation {
    /// Every difference found (empty: converged).
    pub problems: Vec<String>,
    /// The remote services judged.
    pub judged: Vec<Judged>,
}

/// The oracle's problems with the mirror of one exported remote service (empty: exact).
pub fn judge_mirror(link: &oracle::LinkOracle<'_>, exported: &oracle::Exported<'_>) -> Vec<String> {
    let mut out = Vec::new();
    mirror::judge(link, exported, &mut out);
    out
}

impl Convergence {
    /// The mirror state of every link against the oracle.
    pub fn evaluate(view: WorldView<'_>) -> Evaluation {
        let mut eval = Evaluation::default();
        let problems = &mut eval.problems;
        for link in oracle::links(view) {
            let mut expected_names = BTreeSet::new();
            for exported in link.exported() {
                let remote = exported.remote;
                expected_names.insert((
                    remote.namespace().to_string(),
                    link.mirror_name(remote.name()),
                ));
                eval.judged.push(Judged {
                    link: link.spec.name.clone(),
                    src: link.src,
                    service: format!("{}/{}", remote.namespace(), remote.name()),
                    since: SimTime::ZERO + link.spec.at,
                });
                mirror::judge(&link, &exported, problems);
            }
            orphans(&link, &expected_names, problems);
            federated::link_members(&link, problems);
        }
        for (ci, c) in view.scenario().clusters.iter().enumerate() {
            if c.local_service_mirror {
                federated::local_members(view, ci, problems);
            }
        }
        eval
    }
}

/// The last content-changing write per mirror: (source cluster, link, namespace, mirror
/// Service name), endpoint mirrors (`<host>-<link>`) counted under their headless root.
type LastWrites<'a> = BTreeMap<(usize, &'a str, &'a str, String), SimTime>;

impl Convergence {
    /// Folds the writes into [`LastWrites`], one pass over them (each object's headless root
    /// looked up once in its cluster's store).
    fn last_writes<'a>(&'a self, view: WorldView<'_>) -> LastWrites<'a> {
        let mut out = LastWrites::new();
        for ((src, link, key), &t) in &self.last_change {
            let local = view.store(*src);
            let root = local
                .get(&ObjectKey::new(Kind::Service, &key.namespace, &key.name))
                .and_then(|o| o.meta().labels.get(LABEL_HEADLESS_ROOT).cloned())
                .unwrap_or_else(|| key.name.clone());
            let e = out
                .entry((*src, link.as_str(), key.namespace.as_str(), root))
                .or_insert(t);
            *e = (*e).max(t);
        }
        out
    }

    /// The convergence of one judged service: the last content-changing write to its mirror
    /// objects, and how long after the change it follows (the latest of `changes` before it,
    /// or the link's creation) it came.
    fn row(j: &Judged, last: &LastWrites<'_>, changes: &[SimTime]) -> ConvergenceRow {
        let (ns, name) = j.service.split_once('/').unwrap_or(("", &j.service));
        let mirror = format!("{name}-{}", j.link);
        let converged = last.get(&(j.src, j.link.as_str(), ns, mirror)).copied();
        let took = converged.map(|t| {
            let start = changes
                .iter()
                .copied()
                .filter(|h| *h <= t)
                .max()
                .unwrap_or(SimTime::ZERO);
            t.saturating_since(start.max(j.since))
        });
        ConvergenceRow {
            link: j.link.clone(),
            service: j.service.clone(),
            converged_ns: converged.map(|t| t.0),
            took_ns: took.map(|d| d.0),
        }
    }
}

/// Mirrors of `link` whose remote service is not (or no longer) exported, and mirror Endpoints
/// without their Service (Kubernetes never serves them).
fn orphans(
    link: &oracle::LinkOracle<'_>,
    expected_names: &BTreeSet<(String, String)>,
    problems: &mut Vec<String>,
) {
    let view = link.view();
    let local = view.store(link.src);
    let cluster = view.cluster_name(link.src);
    let ours = |l: &BTreeMap<String, String>| {
        l.get(LABEL_CLUSTER) == Some(&link.spec.name)
            && l.get(LABEL_MIRRORED).map(String::as_str) == Some("true")
    };
    for svc in local.list(Kind::Service, None) {
        let l = &svc.meta().labels;
        if !ours(l) {
            continue;
        }
        let root = l
            .get(LABEL_HEADLESS_ROOT)
            .cloned()
            .unwrap_or_else(|| svc.name().to_string());
        if !expected_names.contains(&(svc.namespace().to_string(), root.clone())) {
            problems.push(format!(
                "{cluster}: {}/{} is an orphan (no exported remote service)",
                svc.namespace(),
                svc.name()
            ));
        }
    }
    for eps in local.list(Kind::Endpoints, None) {
        if !ours(&eps.meta().labels) {
            continue;
        }
        let service = ObjectKey::new(Kind::Service, eps.namespace(), eps.name());
        if local.get(&service).is_none() {
            problems.push(format!(
                "{cluster}: Endpoints {}/{} is an orphan (no Service of that name)",
                eps.namespace(),
                eps.name()
            ));
        }
    }
}

impl Check for Convergence {
    fn name(&self) -> &'static str {
        "convergence"
    }
    fn class(&self) -> super::CheckClass {
        super::CheckClass::Liveness
    }

    fn observe(&mut self, at: SimTime, obs: &Observation, _view: WorldView<'_>) -> Option<String> {
        if let Observation::MirrorWrite(w) = obs
            && w.changed()
        {
            self.last_change
                .insert((w.cluster, w.link.clone(), w.key.clone()), at);
        }
        None
    }

    fn convergence_rows(&self) -> Vec<ConvergenceRow> {
        self.rows.clone()
    }

    fn finish(&mut self, view: WorldView<'_>, end: SimTime) -> CheckResult {
        let bound = view.scenario().checks.converged_within;
        // Every change the mirrors must follow: a fault's heal, or the start of a fault that
        // never heals (a gateway that dies for good must see its mirrors go not-ready within
        // the bound of its death, not of time zero).
        let changes: Vec<SimTime> = view
            .fired_faults()
            .iter()
            .map(|f| f.healed_at.unwrap_or(f.at))
            .collect();
        let last_heal = changes.iter().copied().max().unwrap_or(SimTime::ZERO);
        let last_action = view
            .scenario()
            .actions
            .iter()
            .map(|a| SimTime::ZERO + a.at)
            .max()
            .unwrap_or(SimTime::ZERO);
        let reference = last_heal.max(last_action);
        let Evaluation {
            mut problems,
            judged,
        } = Self::evaluate(view);
        let last = self.last_writes(view);
        let mut rows = Vec::with_capacity(judged.len());
        for j in &judged {
            let row = Self::row(j, &last, &changes);
            if let Some(t) = row.converged_ns.map(SimTime)
                && t > reference + bound
            {
                problems.push(format!(
                    "{}: {} converged only at {t}, later than {} after the last change at {reference}",
                    j.link, j.service, bound
                ));
            }
            rows.push(row);
        }
        drop(last);
        self.rows = rows;
        if end < reference + bound {
            problems.push(format!("the run ends at {end}, before the convergence bound ({} after {reference}) could be judged", bound));
        }
        CheckResult {
            name: self.name().into(),
            class: self.class(),
            judged: true,
            passed: problems.is_empty(),
            detail: if problems.is_empty() {
                format!(
                    "{} exported service(s) mirrored exactly, no orphans, within {} of the last change",
                    judged.len(),
                    bound
                )
            } else {
                let n = problems.len();
                let mut shown: Vec<String> = problems.into_iter().take(5).collect();
                if n > 5 {
                    shown.push(format!("... and {} more", n - 5));
                }
                shown.join("; ")
            },
            first_violation: None,
        }
    }
}
