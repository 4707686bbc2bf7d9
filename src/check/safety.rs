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

/// `safety.foreign-writes`: the service mirror never modifies or deletes a local object it does
/// not own (one without Linkerd's mirror labels).
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
        foreign(w).then(|| {
            format!(
                "the {} mirror in {} did {} on {}, which it does not own",
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
                "{} mirror write(s), all to objects the mirror owns",
                self.writes
            ),
            first_violation: None,
        }
    }
}

/// Whether a write changed or removed an object the mirror does not own: one that existed
/// before the write and, judged on its state then (Endpoints by the Service they belong to),
/// carries none of the mirror's labels. Creating an object is never foreign (creating over an
/// existing one fails).
fn foreign(w: &MirrorWrite) -> bool {
    if w.op == WriteOp::Create {
        return false;
    }
    match &w.before {
        None => false,
        Some(before) => !owned(w.service.as_ref().unwrap_or(before)),
    }
}

/// Whether the mirror owns an object (spec §5.2 labels). The probe Endpoints carry only
/// `mirror.linkerd.io/cluster-name`: an `unlink` may delete the probe Service before the
/// controller has seen its Link go, and the Endpoints are then judged alone.
fn owned(o: &Object) -> bool {
    let l = &o.meta().labels;
    l.get(LABEL_MIRRORED_SERVICE).map(String::as_str) == Some("true")
        || l.contains_key(LABEL_MIRRORED_GATEWAY)
        || (o.kind() == Kind::Endpoints && l.contains_key(LABEL_CLUSTER_NAME))
        || o.kind() == Kind::Link
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::k8s::objects::{Endpoints, Service};

    #[test]
    fn the_mirror_owns_its_mirrors_and_probe_endpoints_and_nothing_else() {
        let mut probe = Endpoints::new("linkerd-multicluster", "probe-east");
        probe
            .metadata
            .labels
            .insert(LABEL_CLUSTER_NAME.into(), "east".into());
        assert!(owned(&Object::Endpoints(probe)));
        let mut mirror = Service::new("default", "web-east");
        mirror
            .metadata
            .labels
            .insert(LABEL_MIRRORED_SERVICE.into(), "true".into());
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
        assert!(foreign(&write(WriteOp::Delete, Some(&user))));
        assert!(foreign(&write(WriteOp::Update, None)));
        assert!(!foreign(&write(WriteOp::Create, Some(&user))));
    }
}
