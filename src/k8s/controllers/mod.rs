//! Controllers of kube-controller-manager (and a kubelet-lite) as pure functions: a read-only
//! [`ObjectView`] of cached objects in, the API writes ([`Request`]s) they would make out.
//!
//! Owns: the reconcile rules of each modelled controller (one file each, each citing what it
//! models) and the helpers they share (pod readiness, target port resolution, the hostname
//! rule). Inputs: an `ObjectView` (an informer cache, several as a `MultiView`, or the API server
//! itself in tests), plus `now`/config where a controller needs them. Outputs: `Vec<Request>` in
//! a deterministic order. Must not touch: the API server or any mutable state; a controller never
//! assumes its writes succeeded (the next sync recomputes from the view), so running it against a
//! stale cache reproduces the real controllers' conflicts and retries.
//!
//! Each controller offers `sync_*` for one key (what a workqueue worker runs) and `reconcile_all`
//! (every key, as at controller start-up); `keys_for` maps an informer event to affected keys
//! where the mapping is not the object's own key.

pub mod deployment;
pub mod endpoints;
pub mod endpointslice;
pub mod gc;
pub mod kubelet;
pub mod mirroring;
pub mod namespace;
pub mod statefulset;

use super::objects::{IntOrString, Object, ObjectReference, Pod, Service, ServicePort};
use super::store::ObjectView;
use std::sync::Arc;

pub use super::api::Request;

/// Annotation marking leader-election Endpoints, which the endpoints controller leaves alone.
pub const LEADER_ANNOTATION: &str = "control-plane.alpha.kubernetes.io/leader";
/// Label set on Endpoints the endpoints controller manages, so mirroring skips them.
pub const LABEL_SKIP_MIRROR: &str = "endpointslice.kubernetes.io/skip-mirror";
/// Label on Endpoints/EndpointSlices of headless Services.
pub const LABEL_HEADLESS: &str = "service.kubernetes.io/headless";
/// Legacy annotation with the effect of `publishNotReadyAddresses`.
pub const TOLERATE_UNREADY_ANNOTATION: &str =
    "service.alpha.kubernetes.io/tolerate-unready-endpoints";

/// `ShouldSetHostname` (`pkg/controller/util/endpoint/controller_utils.go`): an address gets the
/// pod's hostname only if the pod sets `spec.hostname`, its `spec.subdomain` is the Service's
/// name, and both live in the same namespace.
pub fn should_set_hostname(pod: &Pod, svc: &Service) -> bool {
    !pod.spec.hostname.is_empty()
        && pod.spec.subdomain == svc.metadata.name
        && pod.metadata.namespace == svc.metadata.namespace
}

/// `ShouldPodBeInEndpoints`: the pod has an IP, is not in a terminal phase, and is not
/// terminating unless `include_terminating`.
pub fn should_pod_be_in_endpoints(pod: &Pod, include_terminating: bool) -> bool {
    !pod.status.pod_ip.is_empty()
        && !pod.is_terminal()
        && (include_terminating || !pod.metadata.is_terminating())
}

/// Whether not-ready pods count as ready for this Service.
pub fn tolerates_unready(svc: &Service) -> bool {
    svc.spec.publish_not_ready_addresses
        || svc
            .metadata
            .annotations
            .get(TOLERATE_UNREADY_ANNOTATION)
            .is_some_and(|v| v == "true")
}

/// `FindPort`: a numeric `targetPort` is used as is; a named one is looked up among the pod's
/// container ports with the same protocol. `None` when the name is not found.
pub fn resolve_target_port(port: &ServicePort, pod: &Pod) -> Option<i32> {
    match &port.target_port {
        None => Some(port.port),
        Some(IntOrString::Int(p)) => Some(*p),
        Some(IntOrString::String(name)) => pod
            .spec
            .containers
            .iter()
            .flat_map(|c| &c.ports)
            .find(|cp| cp.name == *name && cp.protocol == port.protocol)
            .map(|cp| cp.container_port),
    }
}

/// `targetRef` to a pod.
pub fn pod_ref(pod: &Pod) -> ObjectReference {
    ObjectReference {
        api_version: String::new(),
        kind: "Pod".to_string(),
        namespace: pod.metadata.namespace.clone(),
        name: pod.metadata.name.clone(),
        uid: pod.metadata.uid.clone(),
        resource_version: String::new(),
    }
}

/// Pods in the Service's namespace selected by its (non-empty) selector, in name order.
pub fn selected_pods<'a>(view: &'a dyn ObjectView, svc: &Service) -> Vec<&'a Pod> {
    // Every selected pod carries the selector's first pair: look those up in the label index.
    let Some((key, value)) = svc.spec.selector.iter().next() else {
        return vec![];
    };
    view.list_labelled(
        super::objects::Kind::Pod,
        &svc.metadata.namespace,
        key,
        value,
    )
    .into_iter()
    .filter_map(|o| o.as_pod())
    .filter(|p| {
        svc.spec
            .selector
            .iter()
            .all(|(k, v)| p.metadata.labels.get(k) == Some(v))
    })
    .collect()
}

/// Services in the pod's namespace whose selector matches it (the endpoints controllers'
/// `getPodServiceMemberships`).
pub fn services_for_pod<'a>(view: &'a dyn ObjectView, pod: &Pod) -> Vec<&'a Arc<Object>> {
    view.services_selecting(&pod.metadata.namespace, &pod.metadata.labels)
}
