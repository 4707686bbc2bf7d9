//! Liveness: after the last fault heals (plus the scenario's quiet period), every exported
//! service is mirrored *exactly* in every linking cluster, with no orphans, and each mirror
//! reached its final state within `converged_within` of the last heal.
//!
//! The expectation is an oracle computed from the target cluster's true state (its API server,
//! not any cache), following spec §5–§7 and §11.2: mirror `<svc>-<link>` with the remote labels
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

use super::{Check, CheckResult};
use crate::k8s::objects::{Endpoints, Service};
use crate::k8s::selector::LabelSelector;
use crate::k8s::store::ObjectView;
use crate::k8s::{Kind, Object, ObjectKey};
use crate::report::ConvergenceRow;
use crate::scenario::LinkSpec;
use crate::sim::SimTime;
use crate::world::{Observation, World};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

const MIRROR_PREFIX: &str = "mirror.linkerd.io";
const LABEL_MIRRORED: &str = "mirror.linkerd.io/mirrored-service";
const LABEL_CLUSTER: &str = "mirror.linkerd.io/cluster-name";
const LABEL_HEADLESS_ROOT: &str = "mirror.linkerd.io/headless-mirror-svc-name";
const ANN_FQ: &str = "mirror.linkerd.io/remote-svc-fq-name";
const ANN_RV: &str = "mirror.linkerd.io/remote-resource-version";
const ANN_FEDERATED_MEMBERS: &str = "multicluster.linkerd.io/remote-discovery";
const ANN_LOCAL_MEMBER: &str = "multicluster.linkerd.io/local-discovery";

#[derive(Default)]
pub struct Convergence {
    /// Last content-changing mirror write per (source cluster, link, `Kind ns/name`).
    last_change: BTreeMap<(usize, String, String), SimTime>,
    /// Filled by `finish`, read by the report.
    pub rows: Vec<ConvergenceRow>,
}

fn excluded(key: &str, patterns: &[String]) -> bool {
    patterns.iter().any(|p| match p.strip_suffix("/*") {
        Some(prefix) => key.starts_with(&format!("{prefix}/")),
        None => p == key,
    })
}

fn selects(selector: &Option<LabelSelector>, labels: &BTreeMap<String, String>) -> bool {
    selector
        .as_ref()
        .is_some_and(|s| !s.is_empty() && s.matches(labels))
}

/// The export selectors in force (gateway, remote discovery): the live Link's, which a
/// `link_selector` action may have changed, else the scenario's.
fn selectors(world: &World, link: &LinkSpec, src: usize) -> [Option<LabelSelector>; 2] {
    match world.link(src, &link.name) {
        Some(live) => [
            live.spec.selector.clone(),
            live.spec.remote_discovery_selector.clone(),
        ],
        None => [
            parse_selector(&link.selector),
            parse_selector(&link.remote_discovery_selector),
        ],
    }
}

/// A scenario's selector text (validated when the scenario loaded).
fn parse_selector(text: &Option<String>) -> Option<LabelSelector> {
    text.as_deref().and_then(|t| LabelSelector::parse(t).ok())
}

enum Mode {
    Gateway,
    RemoteDiscovery,
}

/// How `link` mirrors a remote service with these labels, if it does.
fn mode_of(
    link: &LinkSpec,
    [gateway, remote]: &[Option<LabelSelector>; 2],
    labels: &BTreeMap<String, String>,
) -> Option<Mode> {
    if selects(remote, labels) {
        Some(Mode::RemoteDiscovery)
    } else if link.gateway && selects(gateway, labels) {
        Some(Mode::Gateway)
    } else {
        None
    }
}

/// Whether the namespace of a remote service is missing in the source cluster (and the link
/// does not create namespaces): Linkerd skips such services (spec §5.5).
pub fn namespace_skipped(world: &World, link: &LinkSpec, src: usize, ns: &str) -> bool {
    !link.namespace_creation
        && world.apis[src]
            .server
            .store()
            .get(&ObjectKey::new(Kind::Namespace, "", ns))
            .is_none()
}

/// The oracle's problems with the mirror of one remote service (empty: exact); `None` when
/// `link` does not mirror that service.
pub fn judge_service(world: &World, link: &LinkSpec, remote: &Arc<Object>) -> Option<Vec<String>> {
    let (src, dst) = world.link_clusters(link)?;
    let mode = mode_of(link, &selectors(world, link, src), &remote.meta().labels)?;
    let mut out = Vec::new();
    judge(world, link, src, dst, remote, mode, &mut out);
    Some(out)
}

/// The oracle's verdict on one remote service: problems found (empty = exact).
fn judge(
    world: &World,
    link: &LinkSpec,
    src: usize,
    dst: usize,
    remote: &Arc<Object>,
    mode: Mode,
    out: &mut Vec<String>,
) {
    let Some(rsvc) = remote.as_service() else {
        return;
    };
    let local = world.apis[src].server.store();
    let target = world.apis[dst].server.store();
    let ns = remote.namespace();
    let name = format!("{}-{}", remote.name(), link.name);
    let where_ = format!("{}: {ns}/{name}", world.scenario.clusters[src].name);
    if namespace_skipped(world, link, src, ns) {
        return; // Linkerd skips services whose namespace is missing (spec §5.5): nothing expected.
    }
    let Some(mirror) = local
        .get(&ObjectKey::new(Kind::Service, ns, &name))
        .and_then(|o| o.as_service())
    else {
        // A headless service is mirrored from its Endpoints once they have subsets (§7.1).
        let waits = link.headless
            && rsvc.spec.cluster_ip == "None"
            && target
                .get(&ObjectKey::new(Kind::Endpoints, ns, remote.name()))
                .and_then(|o| o.as_endpoints())
                .is_none_or(|e| e.subsets.is_empty());
        if !waits {
            out.push(format!("{where_}: missing"));
        }
        return;
    };
    // Labels.
    let mut labels: BTreeMap<String, String> = rsvc
        .metadata
        .labels
        .iter()
        .filter(|(k, _)| !k.starts_with(MIRROR_PREFIX) && !excluded(k, &link.excluded_labels))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    labels.insert(LABEL_MIRRORED.into(), "true".into());
    labels.insert(LABEL_CLUSTER.into(), link.name.clone());
    if let Mode::RemoteDiscovery = mode {
        labels.insert(
            "multicluster.linkerd.io/remote-discovery".into(),
            link.name.clone(),
        );
        labels.insert(
            "multicluster.linkerd.io/remote-service".into(),
            remote.name().into(),
        );
    }
    if mirror.metadata.labels != labels {
        out.push(format!(
            "{where_}: labels {:?}, expected {:?}",
            mirror.metadata.labels, labels
        ));
    }
    // Annotations.
    let domain = world.scenario.clusters[dst].domain.clone();
    let ann = &mirror.metadata.annotations;
    let fq = format!("{}.{ns}.svc.{domain}", remote.name());
    if ann.get(ANN_FQ) != Some(&fq) {
        out.push(format!(
            "{where_}: {ANN_FQ} is {:?}, expected {fq}",
            ann.get(ANN_FQ)
        ));
    }
    if ann.get(ANN_RV) != Some(&rsvc.metadata.resource_version) {
        out.push(format!(
            "{where_}: mirrors remote version {:?}, the remote is at {}",
            ann.get(ANN_RV),
            rsvc.metadata.resource_version
        ));
    }
    for (k, v) in &rsvc.metadata.annotations {
        let topology = k == "service.kubernetes.io/topology-aware-hints"
            || k == "service.kubernetes.io/topology-mode";
        if !topology && !excluded(k, &link.excluded_annotations) && ann.get(k) != Some(v) {
            out.push(format!("{where_}: annotation {k} not copied"));
        }
    }
    // Ports and selector.
    let ports = |s: &Service| {
        s.spec
            .ports
            .iter()
            .map(|p| (p.name.clone(), p.protocol, p.port))
            .collect::<Vec<_>>()
    };
    if ports(mirror) != ports(rsvc) {
        out.push(format!(
            "{where_}: ports {:?}, expected {:?}",
            ports(mirror),
            ports(rsvc)
        ));
    }
    if !mirror.spec.selector.is_empty() {
        out.push(format!("{where_}: has a selector"));
    }
    let endpoints = local
        .get(&ObjectKey::new(Kind::Endpoints, ns, &name))
        .and_then(|o| o.as_endpoints());
    let remote_eps = target
        .get(&ObjectKey::new(Kind::Endpoints, ns, remote.name()))
        .and_then(|o| o.as_endpoints());
    if let Mode::RemoteDiscovery = mode {
        if endpoints.is_some() {
            out.push(format!(
                "{where_}: a remote-discovery mirror must not have Endpoints"
            ));
        }
        return;
    }
    let gateway_ip = world
        .topology
        .cluster(world.cluster_nodes[dst])
        .map(|c| c.addresses.gateway.to_string())
        .unwrap_or_default();
    let alive = gateway_reachable(world, src, dst);
    let ready_remote = |e: Option<&Endpoints>| {
        e.is_some_and(|e| e.subsets.iter().any(|s| !s.addresses.is_empty()))
    };
    let headless_remote = rsvc.spec.cluster_ip == "None";
    let named: BTreeSet<String> = remote_eps
        .map(|e| {
            e.subsets
                .iter()
                .flat_map(|s| s.addresses.iter())
                .filter(|a| !a.hostname.is_empty())
                .map(|a| a.hostname.clone())
                .collect()
        })
        .unwrap_or_default();
    let any_named = remote_eps.is_some_and(|e| {
        e.subsets
            .iter()
            .flat_map(|s| s.addresses.iter().chain(&s.not_ready_addresses))
            .any(|a| !a.hostname.is_empty())
    });
    if link.headless && headless_remote && any_named {
        if mirror.spec.cluster_ip != "None" {
            out.push(format!("{where_}: should be a headless mirror"));
        }
        let mut hosts = BTreeSet::new();
        for h in &named {
            let em = format!("{h}-{}", link.name);
            match local
                .get(&ObjectKey::new(Kind::Service, ns, &em))
                .and_then(|o| o.as_service())
            {
                Some(s) => {
                    hosts.insert((h.clone(), s.spec.cluster_ip.clone()));
                    gateway_endpoints(
                        local,
                        ns,
                        &em,
                        (&gateway_ip, alive),
                        rsvc,
                        &format!("{}: {ns}/{em}", world.scenario.clusters[src].name),
                        out,
                    );
                }
                None => out.push(format!("{where_}: endpoint mirror {em} missing")),
            }
        }
        let root: BTreeSet<(String, String)> = endpoints
            .map(|e| {
                e.subsets
                    .iter()
                    .flat_map(|s| s.addresses.iter())
                    .map(|a| (a.hostname.clone(), a.ip.clone()))
                    .collect()
            })
            .unwrap_or_default();
        if root != hosts {
            out.push(format!(
                "{where_}: root Endpoints {root:?}, expected {hosts:?}"
            ));
        }
        return;
    }
    if mirror.spec.cluster_ip == "None" {
        out.push(format!("{where_}: should not be headless"));
    }
    if ready_remote(remote_eps) {
        gateway_endpoints(local, ns, &name, (&gateway_ip, alive), rsvc, &where_, out);
    } else if endpoints.is_some_and(|e| {
        e.subsets
            .iter()
            .any(|s| !s.addresses.is_empty() || !s.not_ready_addresses.is_empty())
    }) {
        out.push(format!(
            "{where_}: Endpoints should be empty (the remote service has no ready endpoints)"
        ));
    }
}

/// Federated membership of `link`'s remote services (spec §11.3): each non-headless remote
/// service matching the federated selector, in a namespace the source has, is listed as
/// `<svc>@<link>` on the source's `<svc>-federated`; no other `@<link>` member is listed.
fn federated_members(
    world: &World,
    link: &LinkSpec,
    src: usize,
    dst: usize,
    out: &mut Vec<String>,
) {
    let local = world.apis[src].server.store();
    let target = world.apis[dst].server.store();
    let cluster = &world.scenario.clusters[src].name;
    let members = |svc: &Object| -> BTreeSet<String> {
        svc.meta()
            .annotations
            .get(ANN_FEDERATED_MEMBERS)
            .map(|l| {
                l.split(',')
                    .filter(|m| !m.is_empty())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default()
    };
    let federated = parse_selector(&link.federated_selector);
    let is_member = |remote: &Object| {
        selects(&federated, &remote.meta().labels)
            && remote
                .as_service()
                .is_some_and(|s| s.spec.cluster_ip != "None")
    };
    for remote in target.list(Kind::Service, None) {
        let ns = remote.namespace();
        if !is_member(remote) || namespace_skipped(world, link, src, ns) {
            continue;
        }
        let name = format!("{}-federated", remote.name());
        let member = format!("{}@{}", remote.name(), link.name);
        match local.get(&ObjectKey::new(Kind::Service, ns, &name)) {
            None => out.push(format!(
                "{cluster}: {ns}/{name} missing (federated member {member})"
            )),
            Some(f) if !members(f).contains(&member) => out.push(format!(
                "{cluster}: {ns}/{name} does not list federated member {member}"
            )),
            Some(_) => {}
        }
    }
    let suffix = format!("@{}", link.name);
    for svc in local.list(Kind::Service, None) {
        for member in members(svc) {
            let Some(remote) = member.strip_suffix(&suffix) else {
                continue;
            };
            let current = target
                .get(&ObjectKey::new(Kind::Service, svc.namespace(), remote))
                .is_some_and(|r| is_member(r));
            if !current {
                out.push(format!(
                    "{cluster}: {}/{} lists {member}, which is not a federated member",
                    svc.namespace(),
                    svc.name()
                ));
            }
        }
    }
}

/// Federated membership of cluster `ci`'s own services, kept by its local service mirror (spec
/// §11.3): each non-headless Service matching the chart's federated selector has a
/// `<svc>-federated` annotated `multicluster.linkerd.io/local-discovery: <svc>`; that annotation
/// names only such a member; and a `-federated` Service with neither a local nor a remote member
/// has been deleted.
fn local_federated_members(world: &World, ci: usize, out: &mut Vec<String>) {
    let store = world.apis[ci].server.store();
    let cluster = &world.scenario.clusters[ci].name;
    let (key, value) = crate::defaults::FEDERATED_MEMBER;
    let is_member = |svc: &Object| {
        svc.meta().labels.get(key).map(String::as_str) == Some(value)
            && svc
                .as_service()
                .is_some_and(|s| s.spec.cluster_ip != "None")
    };
    let non_empty = |svc: &Object, ann: &str| {
        svc.meta()
            .annotations
            .get(ann)
            .filter(|v| !v.is_empty())
            .cloned()
    };
    for svc in store.list(Kind::Service, None) {
        let ns = svc.namespace();
        if is_member(svc) {
            let name = format!("{}-federated", svc.name());
            let listed = store
                .get(&ObjectKey::new(Kind::Service, ns, &name))
                .and_then(|f| non_empty(f, ANN_LOCAL_MEMBER));
            if listed.as_deref() != Some(svc.name()) {
                out.push(format!(
                    "{cluster}: {ns}/{name} does not name its local federated member {} (local-discovery {listed:?})",
                    svc.name()
                ));
            }
        }
        if svc.meta().labels.get(LABEL_MIRRORED).map(String::as_str) != Some("true") {
            continue;
        }
        let local = non_empty(svc, ANN_LOCAL_MEMBER);
        if let Some(member) = &local {
            let current = store
                .get(&ObjectKey::new(Kind::Service, ns, member))
                .is_some_and(|m| is_member(m));
            if !current {
                out.push(format!(
                    "{cluster}: {ns}/{} names local member {member}, which is not a federated member",
                    svc.name()
                ));
            }
        }
        if svc.name().ends_with("-federated")
            && local.is_none()
            && non_empty(svc, ANN_FEDERATED_MEMBERS).is_none()
            && !svc.meta().labels.contains_key(LABEL_CLUSTER)
        {
            out.push(format!(
                "{cluster}: {ns}/{} has no federated member left and should have been deleted",
                svc.name()
            ));
        }
    }
}

/// The gateway of cluster `dst` answers from cluster `src` now: its process is up and the path
/// between the clusters is up both ways.
fn gateway_reachable(world: &World, src: usize, dst: usize) -> bool {
    let up = world.clusters[dst]
        .gateway
        .is_some_and(|g| !world.is_down(g));
    let (a, b) = (world.cluster_nodes[src], world.cluster_nodes[dst]);
    // The probe is an mTLS request: both sides must share an anchor and hold valid certificates.
    let any_anchor = world
        .scenario
        .has_breakage(crate::quirks::Breakage::GatewayAcceptsAnyAnchor);
    let trusted = world.identity.can_handshake(src, dst, any_anchor);
    up && trusted
        && world.topology.path_state(a, b).is_up()
        && world.topology.path_state(b, a).is_up()
}

fn gateway_endpoints(
    local: &dyn ObjectView,
    ns: &str,
    name: &str,
    (gateway_ip, alive): (&str, bool),
    rsvc: &Service,
    where_: &str,
    out: &mut Vec<String>,
) {
    let Some(e) = local
        .get(&ObjectKey::new(Kind::Endpoints, ns, name))
        .and_then(|o| o.as_endpoints())
    else {
        out.push(format!("{where_}: Endpoints missing"));
        return;
    };
    let ready: Vec<&str> = e
        .subsets
        .iter()
        .flat_map(|s| s.addresses.iter())
        .map(|a| a.ip.as_str())
        .collect();
    let not_ready: Vec<&str> = e
        .subsets
        .iter()
        .flat_map(|s| s.not_ready_addresses.iter())
        .map(|a| a.ip.as_str())
        .collect();
    let (want_ready, want_not_ready): (&[&str], &[&str]) = if alive {
        (&[gateway_ip], &[])
    } else {
        (&[], &[gateway_ip])
    };
    if ready != want_ready || not_ready != want_not_ready {
        let state = if alive {
            "ready (the gateway is reachable)"
        } else {
            "not ready (the gateway is unreachable)"
        };
        out.push(format!("{where_}: ready addresses {ready:?}, not ready {not_ready:?}; expected the gateway {gateway_ip} {state}"));
    }
    let ports: BTreeSet<(String, i32)> = e
        .subsets
        .iter()
        .flat_map(|s| s.ports.iter())
        .map(|p| (p.name.clone(), p.port))
        .collect();
    let want: BTreeSet<(String, i32)> = rsvc
        .spec
        .ports
        .iter()
        .map(|p| (p.name.clone(), 4143))
        .collect();
    if ports != want {
        out.push(format!(
            "{where_}: Endpoints ports {ports:?}, expected {want:?}"
        ));
    }
}

impl Convergence {
    /// The mirror state of every link against the oracle: (problems, remote services judged).
    pub fn evaluate(world: &World) -> (Vec<String>, Vec<(String, String)>) {
        let mut problems = Vec::new();
        let mut judged = Vec::new();
        for link in &world.scenario.links {
            let Some((src, dst)) = world.link_clusters(link) else {
                continue;
            };
            let target = world.apis[dst].server.store();
            let mut expected_names = BTreeSet::new();
            // Without its Link (deleted, or unlinked) a link should have no mirrors left:
            // `linkerd multicluster check` reports the leftovers as not part of any Link.
            let linked = world.has_link(src, &link.name);
            let in_force = selectors(world, link, src);
            for remote in target
                .list(Kind::Service, None)
                .into_iter()
                .filter(|_| linked)
            {
                let Some(mode) = mode_of(link, &in_force, &remote.meta().labels) else {
                    continue;
                };
                expected_names.insert((
                    remote.namespace().to_string(),
                    format!("{}-{}", remote.name(), link.name),
                ));
                judged.push((
                    link.name.clone(),
                    format!("{}/{}", remote.namespace(), remote.name()),
                ));
                judge(world, link, src, dst, remote, mode, &mut problems);
            }
            // Orphans: mirrors of this link whose remote service is not (or no longer) exported.
            let local = world.apis[src].server.store();
            for svc in local.list(Kind::Service, None) {
                let l = &svc.meta().labels;
                if l.get(LABEL_CLUSTER) != Some(&link.name)
                    || l.get(LABEL_MIRRORED).map(String::as_str) != Some("true")
                {
                    continue;
                }
                let root = l
                    .get(LABEL_HEADLESS_ROOT)
                    .cloned()
                    .unwrap_or_else(|| svc.name().to_string());
                if !expected_names.contains(&(svc.namespace().to_string(), root.clone())) {
                    problems.push(format!(
                        "{}: {}/{} is an orphan (no exported remote service)",
                        world.scenario.clusters[src].name,
                        svc.namespace(),
                        svc.name()
                    ));
                }
            }
            // Mirror Endpoints without their Service (Kubernetes never serves them).
            for eps in local.list(Kind::Endpoints, None) {
                let l = &eps.meta().labels;
                if l.get(LABEL_CLUSTER) != Some(&link.name)
                    || l.get(LABEL_MIRRORED).map(String::as_str) != Some("true")
                {
                    continue;
                }
                let service = ObjectKey::new(Kind::Service, eps.namespace(), eps.name());
                if local.get(&service).is_none() {
                    problems.push(format!(
                        "{}: Endpoints {}/{} is an orphan (no Service of that name)",
                        world.scenario.clusters[src].name,
                        eps.namespace(),
                        eps.name()
                    ));
                }
            }
            federated_members(world, link, src, dst, &mut problems);
        }
        for (ci, c) in world.scenario.clusters.iter().enumerate() {
            if c.local_service_mirror {
                local_federated_members(world, ci, &mut problems);
            }
        }
        (problems, judged)
    }
}

impl Check for Convergence {
    fn name(&self) -> &'static str {
        "convergence"
    }
    fn class(&self) -> super::CheckClass {
        super::CheckClass::Liveness
    }

    fn observe(&mut self, at: SimTime, obs: &Observation, _world: &World) -> Option<String> {
        if let Observation::MirrorWrite(w) = obs
            && w.changed()
        {
            self.last_change
                .insert((w.cluster, w.link.clone(), w.key.to_string()), at);
        }
        None
    }

    fn convergence_rows(&self) -> Vec<ConvergenceRow> {
        self.rows.clone()
    }

    fn finish(&mut self, world: &World, end: SimTime) -> CheckResult {
        let bound = world.scenario.checks.converged_within;
        // Every change the mirrors must follow: a fault's heal, or the start of a fault that
        // never heals (a gateway that dies for good must see its mirrors go not-ready within
        // the bound of its death, not of time zero).
        let changes: Vec<SimTime> = world
            .fired_faults()
            .iter()
            .map(|f| f.healed_at.unwrap_or(f.at))
            .collect();
        let last_heal = changes.iter().copied().max().unwrap_or(SimTime::ZERO);
        let last_action = world
            .scenario
            .actions
            .iter()
            .map(|a| SimTime::ZERO + a.at)
            .max()
            .unwrap_or(SimTime::ZERO);
        let reference = last_heal.max(last_action);
        let (mut problems, judged) = Self::evaluate(world);
        // Per-service convergence time: the last content-changing write to its mirror objects.
        for (link, service) in &judged {
            let Some(spec) = world.scenario.links.iter().find(|l| &l.name == link) else {
                continue;
            };
            let src = world.cluster_index(&spec.from).unwrap_or(0);
            let (ns, name) = service.split_once('/').unwrap_or(("", service));
            let mirror = format!("{name}-{link}");
            // Endpoint mirrors (`<host>-<link>`) belong to their headless root.
            let local = world.apis[src].server.store();
            let root_of = |object: &str| -> String {
                local
                    .get(&ObjectKey::new(Kind::Service, ns, object))
                    .and_then(|o| o.meta().labels.get(LABEL_HEADLESS_ROOT).cloned())
                    .unwrap_or_else(|| object.to_string())
            };
            let converged = self
                .last_change
                .iter()
                .filter(|((c, l, key), _)| {
                    *c == src
                        && l == link
                        && key
                            .split_once(' ')
                            .and_then(|(_, k)| k.split_once('/'))
                            .is_some_and(|(kns, kname)| kns == ns && root_of(kname) == mirror)
                })
                .map(|(_, t)| *t)
                .max();
            let took = converged.map(|t| {
                let start = changes
                    .iter()
                    .copied()
                    .filter(|h| *h <= t)
                    .max()
                    .unwrap_or(SimTime::ZERO);
                t.saturating_since(start.max(SimTime::ZERO + spec.at))
            });
            if let Some(t) = converged
                && t > reference + bound
            {
                problems.push(format!("{link}: {service} converged only at {t}, later than {} after the last change at {reference}", bound));
            }
            self.rows.push(ConvergenceRow {
                link: link.clone(),
                service: service.clone(),
                converged_ns: converged.map(|t| t.0),
                took_ns: took.map(|d| d.0),
            });
        }
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
