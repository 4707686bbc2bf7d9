//! The oracle: what the service mirrors *should* have made of the world, computed in one place
//! from the true state (each cluster's API server, not a cache) and used by every check that
//! judges mirrors (convergence, Link status, headless DNS) and by `run_until_converged`.
//!
//! Its answers, following spec §5–§7 and §11:
//! - which Link selectors are in force: the live Link's (a `link_selector` action may have
//!   changed them), else the scenario's; a link whose Link is gone (deleted, unlinked) expects
//!   no mirrors at all;
//! - which remote services a link mirrors, and how: remote discovery when its selector matches
//!   (it wins), else gateway mode when the link has a gateway and its selector matches;
//! - which of them Linkerd skips because the source lacks the namespace (§5.5);
//! - which remote services are federated members of a link (§11.3);
//! - the mirror names (`<svc>-<link>`, endpoint mirrors `<host>-<link>`), the labels a mirror
//!   carries, and whether the target's gateway answers from the source now;
//! - which cluster serves a name a client calls (a mirror name is served by the link's target).

use crate::k8s::selector::LabelSelector;
use crate::k8s::{Kind, Object, ObjectKey};
use crate::scenario::{LinkSpec, Scenario};
use crate::world::view::WorldView;
use std::collections::BTreeMap;
use std::sync::Arc;

const MIRROR_PREFIX: &str = "mirror.linkerd.io";
pub(crate) const LABEL_MIRRORED: &str = "mirror.linkerd.io/mirrored-service";
pub(crate) const LABEL_CLUSTER: &str = "mirror.linkerd.io/cluster-name";
pub(crate) const LABEL_HEADLESS_ROOT: &str = "mirror.linkerd.io/headless-mirror-svc-name";

/// How a link mirrors a remote service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// A mirror Service whose Endpoints point at the target's gateway.
    Gateway,
    /// A mirror Service without Endpoints; the destination controller resolves it remotely.
    RemoteDiscovery,
}

/// One remote service a link mirrors.
pub struct Exported<'a> {
    pub remote: &'a Arc<Object>,
    pub mode: Mode,
    /// The source lacks the service's namespace and the link does not create namespaces:
    /// Linkerd skips the service (spec §5.5), so no mirror is expected.
    pub skipped: bool,
}

/// One scenario link as the oracle judges it now.
pub struct LinkOracle<'a> {
    pub spec: &'a LinkSpec,
    /// Source (linking) and target (exporting) cluster indexes.
    pub src: usize,
    pub dst: usize,
    /// Whether the source still has the Link; without it nothing is expected to be mirrored.
    pub linked: bool,
    view: WorldView<'a>,
    /// Selectors in force: gateway, remote discovery, federated.
    gateway: Option<LabelSelector>,
    remote_discovery: Option<LabelSelector>,
    federated: Option<LabelSelector>,
}

/// A scenario's selector text (validated when the scenario loaded).
fn parse_selector(text: &Option<String>) -> Option<LabelSelector> {
    text.as_deref().and_then(|t| LabelSelector::parse(t).ok())
}

fn selects(selector: &Option<LabelSelector>, labels: &BTreeMap<String, String>) -> bool {
    selector
        .as_ref()
        .is_some_and(|s| !s.is_empty() && s.matches(labels))
}

/// Whether a label or annotation key matches one of a Link's exclusion patterns (`key` or
/// `prefix/*`).
pub(crate) fn excluded(key: &str, patterns: &[String]) -> bool {
    patterns.iter().any(|p| match p.strip_suffix("/*") {
        Some(prefix) => key.starts_with(&format!("{prefix}/")),
        None => p == key,
    })
}

/// Every scenario link whose clusters exist, as the oracle judges it now.
pub fn links(view: WorldView<'_>) -> Vec<LinkOracle<'_>> {
    view.scenario()
        .links
        .iter()
        .filter_map(|spec| LinkOracle::new(view, spec))
        .collect()
}

impl<'a> LinkOracle<'a> {
    pub fn new(view: WorldView<'a>, spec: &'a LinkSpec) -> Option<LinkOracle<'a>> {
        let (src, dst) = view.link_clusters(spec)?;
        let live = view.link(src, &spec.name);
        let (gateway, remote_discovery, federated) = match live {
            Some(l) => (
                l.spec.selector.clone(),
                l.spec.remote_discovery_selector.clone(),
                l.spec.federated_service_selector.clone(),
            ),
            None => (
                parse_selector(&spec.selector),
                parse_selector(&spec.remote_discovery_selector),
                parse_selector(&spec.federated_selector),
            ),
        };
        Some(LinkOracle {
            spec,
            src,
            dst,
            linked: live.is_some(),
            view,
            gateway,
            remote_discovery,
            federated,
        })
    }

    /// The view the oracle judges.
    pub fn view(&self) -> WorldView<'a> {
        self.view
    }

    /// How this link mirrors a remote service with these labels, if it does (whether or not
    /// the Link is still there).
    pub fn mode(&self, labels: &BTreeMap<String, String>) -> Option<Mode> {
        if selects(&self.remote_discovery, labels) {
            Some(Mode::RemoteDiscovery)
        } else if self.spec.gateway && selects(&self.gateway, labels) {
            Some(Mode::Gateway)
        } else {
            None
        }
    }

    /// Whether the source lacks namespace `ns` and the link does not create it: Linkerd skips
    /// the remote services of that namespace (spec §5.5).
    pub fn namespace_skipped(&self, ns: &str) -> bool {
        !self.spec.namespace_creation
            && self
                .view
                .store(self.src)
                .get(&ObjectKey::new(Kind::Namespace, "", ns))
                .is_none()
    }

    /// The remote services this link mirrors now, in the target's store order; none once the
    /// Link is gone (`linkerd multicluster check` reports leftovers as not part of any Link).
    pub fn exported(&self) -> Vec<Exported<'a>> {
        if !self.linked {
            return Vec::new();
        }
        self.view
            .store(self.dst)
            .list(Kind::Service, None)
            .into_iter()
            .filter_map(|remote| {
                let mode = self.mode(&remote.meta().labels)?;
                Some(Exported {
                    remote,
                    mode,
                    skipped: self.namespace_skipped(remote.namespace()),
                })
            })
            .collect()
    }

    /// Whether a remote service is a federated member of this link (spec §11.3): it matches
    /// the federated selector and is not headless.
    pub fn federated_member(&self, remote: &Object) -> bool {
        selects(&self.federated, &remote.meta().labels)
            && remote
                .as_service()
                .is_some_and(|s| s.spec.cluster_ip != "None")
    }

    /// The mirror of remote service (or host) `name`: `<name>-<link>`.
    pub fn mirror_name(&self, name: &str) -> String {
        format!("{name}-{}", self.spec.name)
    }

    /// The labels a mirror of `remote` carries (spec §5.2): the remote's, minus Linkerd's own
    /// and the Link's excluded keys, plus `mirrored-service` and `cluster-name`, and for remote
    /// discovery the discovery labels.
    pub fn mirror_labels(&self, remote: &Object, mode: Mode) -> BTreeMap<String, String> {
        let link = self.spec;
        let mut labels: BTreeMap<String, String> = remote
            .meta()
            .labels
            .iter()
            .filter(|(k, _)| !k.starts_with(MIRROR_PREFIX) && !excluded(k, &link.excluded_labels))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        labels.insert(LABEL_MIRRORED.into(), "true".into());
        labels.insert(LABEL_CLUSTER.into(), link.name.clone());
        if mode == Mode::RemoteDiscovery {
            labels.insert(
                "multicluster.linkerd.io/remote-discovery".into(),
                link.name.clone(),
            );
            labels.insert(
                "multicluster.linkerd.io/remote-service".into(),
                remote.name().into(),
            );
        }
        labels
    }

    /// The target's gateway answers from the source now: its process is up, the path between
    /// the clusters is up both ways, and the probe's mTLS handshake would succeed (both sides
    /// share an anchor and hold valid certificates).
    pub fn gateway_reachable(&self) -> bool {
        let (src, dst) = (self.src, self.dst);
        let any_anchor = self
            .view
            .scenario()
            .has_breakage(crate::quirks::Breakage::GatewayAcceptsAnyAnchor);
        self.view.gateway_up(dst)
            && self.view.can_handshake(src, dst, any_anchor)
            && self.view.path_up(src, dst)
            && self.view.path_up(dst, src)
    }
}

/// Whether one of a cluster's own services is a federated member its local service mirror
/// lists (spec §11.3): it carries the chart's federated label and is not headless.
pub fn local_federated_member(svc: &Object) -> bool {
    let (key, value) = crate::defaults::FEDERATED_MEMBER;
    svc.meta().labels.get(key).map(String::as_str) == Some(value)
        && svc
            .as_service()
            .is_some_and(|s| s.spec.cluster_ip != "None")
}

/// The cluster a name is served from, seen from cluster `from`: a mirror name `<svc>-<link>`
/// (or `<host>.<svc>-<link>` for per-pod names) is served by the link's target; any other name
/// is in-cluster.
pub fn target_cluster(scenario: &Scenario, from: &str, host: &str) -> String {
    let labels: Vec<&str> = host.split('.').collect();
    for link in scenario.links.iter().filter(|l| l.from == from) {
        let suffix = format!("-{}", link.name);
        if labels.iter().take(2).any(|l| l.ends_with(&suffix)) {
            return link.to.clone();
        }
    }
    from.to_string()
}

/// `(host, service, namespace)` of a per-pod name (`<host>.<svc>.<ns>.svc.<domain>`), `None`
/// for a service name.
pub fn per_pod_name(host: &str) -> Option<(&str, &str, &str)> {
    let labels: Vec<&str> = host.split('.').collect();
    let svc_at = labels.iter().position(|l| *l == "svc")?;
    match svc_at {
        3 => Some((labels[0], labels[1], labels[2])),
        _ => None,
    }
}
