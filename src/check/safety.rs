//! Safety checks evaluated on every observation (the run's first violation is reported):
//! - `safety.untrusted-accept`: a gateway never completes a handshake with a client whose chain
//!   does not end at the shared trust anchor (the seed's promise 1, unified trust domain);
//! - `safety.wrong-pod`: a request to a per-pod name (`<host>.<svc>.<ns>.svc.<domain>`, directly
//!   or through a mirror) is never answered by a pod other than `<host>` of the cluster that
//!   serves the name.

use super::oracle::{per_pod_name, target_cluster};
use super::{Check, CheckResult};
use crate::k8s::{Kind, Object};
use crate::multicluster::names::{
    LABEL_CLUSTER_NAME, LABEL_MIRRORED_GATEWAY, LABEL_MIRRORED_SERVICE,
};
use crate::sim::SimTime;
use crate::world::Observation;
use crate::world::observe::{MirrorWrite, WriteOp};
use crate::world::view::WorldView;

#[derive(Default)]
pub struct UntrustedAccept {
    accepted: u64,
}

impl Check for UntrustedAccept {
    fn name(&self) -> &'static str {
        "safety.untrusted-accept"
    }
    fn class(&self) -> super::CheckClass {
        super::CheckClass::Safety
    }
    fn observe(&mut self, _at: SimTime, obs: &Observation, view: WorldView<'_>) -> Option<String> {
        let Observation::GatewayAccepted {
            cluster,
            peer_identity,
            peer_root,
        } = obs
        else {
            return None;
        };
        self.accepted += 1;
        let shared = view.shared_anchor_subject();
        if peer_root.is_none() || *peer_root != shared {
            return Some(format!(
                "gateway of {} accepted {} whose chain ends at {} instead of the shared anchor {}",
                view.cluster_name(*cluster),
                peer_identity.as_deref().unwrap_or("an anonymous client"),
                peer_root.as_deref().unwrap_or("nothing"),
                shared.as_deref().unwrap_or("?")
            ));
        }
        None
    }
    fn finish(&mut self, _view: WorldView<'_>, _end: SimTime) -> CheckResult {
        CheckResult {
            name: self.name().into(),
            class: self.class(),
            judged: true,
            passed: true,
            detail: format!(
                "{} gateway handshake(s), all chained to the shared anchor",
                self.accepted
            ),
            first_violation: None,
        }
    }
}

#[derive(Default)]
pub struct WrongPod {
    checked: u64,
}

impl Check for WrongPod {
    fn name(&self) -> &'static str {
        "safety.wrong-pod"
    }
    fn class(&self) -> super::CheckClass {
        super::CheckClass::Safety
    }
    fn observe(&mut self, _at: SimTime, obs: &Observation, view: WorldView<'_>) -> Option<String> {
        let Observation::RequestDone {
            traffic,
            host,
            result: Ok(served_by),
            ..
        } = obs
        else {
            return None;
        };
        let (pod, _svc, ns) = per_pod_name(host)?;
        self.checked += 1;
        let from = &view.scenario().traffic[*traffic].from;
        let cluster = target_cluster(view.scenario(), from, host);
        let designated = format!("{cluster}/{ns}/{pod}");
        (*served_by != designated).then(|| {
            format!("request from {from} to {host} was answered by {served_by}, not {designated}")
        })
    }
    fn finish(&mut self, _view: WorldView<'_>, _end: SimTime) -> CheckResult {
        CheckResult {
            name: self.name().into(),
            class: self.class(),
            judged: true,
            passed: true,
            detail: format!(
                "{} per-pod request(s), each answered by the pod its name designates",
                self.checked
            ),
            first_violation: None,
        }
    }
}

/// `safety.unexported-mirror`: once a service mirror has observed that a remote service is no
/// longer exported (or is gone) and has deleted its mirror, it never again creates or updates
/// that service's mirror objects (the bug class of linkerd2#8475: an Endpoints update processed
/// after the delete recreated the mirrors). Work queued before the unexport may still touch the
/// mirror until the unexport is handled (e.g. `RepairEndpoints` after a Link spec change).
#[derive(Default)]
pub struct UnexportedMirror {
    /// (link, namespace, remote name) observed exported.
    exported: std::collections::BTreeSet<(String, String, String)>,
    /// (link, namespace, remote name) observed unexported after being exported.
    unexported: std::collections::BTreeSet<(String, String, String)>,
    /// Of those, the ones whose mirror Service the mirror has since deleted.
    removed: std::collections::BTreeSet<(String, String, String)>,
    transitions: u64,
}

impl Check for UnexportedMirror {
    fn name(&self) -> &'static str {
        "safety.unexported-mirror"
    }
    fn class(&self) -> super::CheckClass {
        super::CheckClass::Safety
    }
    fn observe(&mut self, _at: SimTime, obs: &Observation, _view: WorldView<'_>) -> Option<String> {
        match obs {
            Observation::RemoteExport {
                link,
                namespace,
                name,
                exported,
            } => {
                let key = (link.clone(), namespace.clone(), name.clone());
                if *exported {
                    self.unexported.remove(&key);
                    self.removed.remove(&key);
                    self.exported.insert(key);
                } else if self.exported.remove(&key) {
                    self.unexported.insert(key);
                    self.transitions += 1;
                }
                None
            }
            Observation::MirrorWrite(w) if w.op != WriteOp::UpdateStatus => {
                let (link, key, op) = (&w.link, &w.key, w.op);
                if key.kind != Kind::Service && key.kind != Kind::Endpoints {
                    return None;
                }
                let ns = &key.namespace;
                // An endpoint mirror belongs to its headless root's service.
                let root = w.headless_root();
                let root_name = root.unwrap_or(&key.name);
                let remote = root_name.strip_suffix(&format!("-{link}"))?;
                let k = (link.clone(), ns.to_string(), remote.to_string());
                if op == WriteOp::Delete {
                    if key.kind == Kind::Service && root.is_none() && self.unexported.contains(&k) {
                        self.removed.insert(k);
                    }
                    return None;
                }
                self.removed
                    .contains(&k)
                    .then(|| format!("the {link} mirror wrote {key} ({op}) after deleting it for the unexport of {ns}/{remote}"))
            }
            _ => None,
        }
    }
    fn finish(&mut self, _view: WorldView<'_>, _end: SimTime) -> CheckResult {
        CheckResult {
            name: self.name().into(),
            class: self.class(),
            judged: true,
            passed: true,
            detail: format!(
                "{} unexport(s) observed, no mirror written after any of them",
                self.transitions
            ),
            first_violation: None,
        }
    }
}

/// `safety.foreign-writes`: the service mirror of a link never modifies or deletes a local
/// object that link does not own: one without Linkerd's mirror labels, or one that carries
/// another link's cluster name (a link's orphan GC or repair selecting mirrors by
/// `mirrored-service` alone rewrites its neighbours' mirrors). Federated Services are shared by
/// every link that has a member, and a Link object belongs to the controller of that Link.
#[derive(Default)]
pub struct ForeignWrites {
    writes: u64,
}

impl Check for ForeignWrites {
    fn name(&self) -> &'static str {
        "safety.foreign-writes"
    }
    fn class(&self) -> super::CheckClass {
        super::CheckClass::Safety
    }
    fn observe(&mut self, _at: SimTime, obs: &Observation, view: WorldView<'_>) -> Option<String> {
        let Observation::MirrorWrite(w) = obs else {
            return None;
        };
        self.writes += 1;
        foreign(w).map(|owner| {
            format!(
                "the {} mirror in {} did {} on {}, which {owner}",
                w.link,
                view.cluster_name(w.cluster),
                w.op,
                w.key
            )
        })
    }
    fn finish(&mut self, _view: WorldView<'_>, _end: SimTime) -> CheckResult {
        CheckResult {
            name: self.name().into(),
            class: self.class(),
            judged: true,
            passed: true,
            detail: format!(
                "{} mirror write(s), each to an object its link owns",
                self.writes
            ),
            first_violation: None,
        }
    }
}

/// Whether a write changed or removed an object its link does not own, and whose it is: the
/// object existed before the write and, judged on its state then (Endpoints by the Service
/// they belong to), is not the writing link's. Creating an object is never foreign (creating
/// over an existing one fails).
fn foreign(w: &MirrorWrite) -> Option<String> {
    if w.op == WriteOp::Create {
        return None;
    }
    let before = w.before.as_ref()?;
    match owner(w.service.as_ref().unwrap_or(before)) {
        Owner::Link(l) if l == w.link => None,
        Owner::Shared => None,
        Owner::Link(other) => Some(format!("belongs to the {other} link")),
        Owner::User => Some("the mirror does not own".into()),
    }
}

/// Who owns a local object, by spec §5.2's labels.
#[derive(Debug, PartialEq, Eq)]
enum Owner {
    /// The mirrors of one link (`mirror.linkerd.io/cluster-name`), its probe Endpoints, its
    /// Link object.
    Link(String),
    /// A federated Service (mirror labels, no cluster name): every link with a member writes it.
    Shared,
    /// Not the service mirror's.
    User,
}

/// The probe Endpoints carry only `mirror.linkerd.io/cluster-name`: an `unlink` may delete the
/// probe Service before the controller has seen its Link go, and the Endpoints are then judged
/// alone.
fn owner(o: &Object) -> Owner {
    let l = &o.meta().labels;
    let cluster = l.get(LABEL_CLUSTER_NAME);
    if o.kind() == Kind::Link {
        return Owner::Link(o.meta().name.clone());
    }
    if let Some(gateway) = l.get(LABEL_MIRRORED_GATEWAY) {
        return Owner::Link(cluster.unwrap_or(gateway).clone());
    }
    let mirror = l.get(LABEL_MIRRORED_SERVICE).map(String::as_str) == Some("true");
    match cluster {
        Some(c) if mirror || o.kind() == Kind::Endpoints => Owner::Link(c.clone()),
        None if mirror => Owner::Shared,
        _ => Owner::User,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::k8s::objects::{Endpoints, Service};

    fn owned(o: &Object) -> bool {
        owner(o) == Owner::Link("east".into())
    }

    #[test]
    fn the_mirror_owns_its_mirrors_and_probe_endpoints_and_nothing_else() {
        let mut probe = Endpoints::new("linkerd-multicluster", "probe-east");
        probe
            .metadata
            .labels
            .insert(LABEL_CLUSTER_NAME.into(), "east".into());
        assert!(owned(&Object::Endpoints(probe)));
        let mut mirror = Service::new("default", "web-east");
        for (k, v) in [
            (LABEL_MIRRORED_SERVICE, "true"),
            (LABEL_CLUSTER_NAME, "east"),
        ] {
            mirror.metadata.labels.insert(k.into(), v.into());
        }
        assert!(owned(&Object::Service(mirror)));
        // A user's Service of the same name, or one that merely names the cluster, is not.
        assert!(!owned(&Object::Service(Service::new(
            "default", "web-east"
        ))));
        let mut labelled = Service::new("default", "web-east");
        labelled
            .metadata
            .labels
            .insert(LABEL_CLUSTER_NAME.into(), "east".into());
        assert!(!owned(&Object::Service(labelled)));
        assert!(!owned(&Object::Endpoints(Endpoints::new("default", "web"))));
    }

    /// A link owns only the mirrors carrying its own cluster name; federated Services are
    /// shared.
    #[test]
    fn another_links_mirrors_are_foreign_and_federated_services_shared() {
        let mut north = Service::new("default", "web-north");
        for (k, v) in [
            (LABEL_MIRRORED_SERVICE, "true"),
            (LABEL_CLUSTER_NAME, "north"),
        ] {
            north.metadata.labels.insert(k.into(), v.into());
        }
        let north = std::sync::Arc::new(Object::Service(north));
        let mut federated = Service::new("default", "web-federated");
        federated
            .metadata
            .labels
            .insert(LABEL_MIRRORED_SERVICE.into(), "true".into());
        let federated = std::sync::Arc::new(Object::Service(federated));
        let write = |before: &std::sync::Arc<Object>| MirrorWrite {
            cluster: 0,
            link: "east".into(),
            op: WriteOp::Delete,
            key: before.key(),
            before: Some(before.clone()),
            after: None,
            service: None,
        };
        assert_eq!(
            foreign(&write(&north)).as_deref(),
            Some("belongs to the north link")
        );
        assert_eq!(foreign(&write(&federated)), None);
    }

    /// Endpoints are judged by their Service as it was before the write.
    #[test]
    fn an_endpoints_write_is_judged_by_its_service() {
        let user = std::sync::Arc::new(Object::Service(Service::new("default", "web-east")));
        let endpoints =
            std::sync::Arc::new(Object::Endpoints(Endpoints::new("default", "web-east")));
        let write = |op, service: Option<&std::sync::Arc<Object>>| MirrorWrite {
            cluster: 0,
            link: "east".into(),
            op,
            key: endpoints.key(),
            before: Some(endpoints.clone()),
            after: None,
            service: service.cloned(),
        };
        assert!(foreign(&write(WriteOp::Delete, Some(&user))).is_some());
        assert!(foreign(&write(WriteOp::Update, None)).is_some());
        assert!(foreign(&write(WriteOp::Create, Some(&user))).is_none());
    }
}
