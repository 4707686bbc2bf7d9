//! The Endpoints controller (`pkg/controller/endpoint`, spec §B.9): one core/v1 Endpoints per
//! Service with a selector, named like the Service.
//!
//! Rules modelled: ready pods in `addresses`, not-ready ones in `notReadyAddresses` unless the
//! Service tolerates unready endpoints; terminating and terminal pods and pods without an IP are
//! left out; `hostname` only per the hostname rule; addresses grouped into subsets by their
//! resolved port list; truncation at 1000 addresses (ready first) with annotation
//! `endpoints.kubernetes.io/over-capacity: truncated`; Service labels copied onto the Endpoints
//! plus `service.kubernetes.io/headless` for headless Services and
//! `endpointslice.kubernetes.io/skip-mirror: "true"` (so mirroring leaves them alone); no write
//! when nothing changed; and when the Service is gone, its same-name Endpoints are deleted —
//! whoever wrote them, as the real `syncService` does (Linkerd's selector-less mirror Services
//! rely on this), except leader-election Endpoints.
//! Inputs: a view with Services, Pods, Endpoints. Outputs: Create/Update/Delete of Endpoints.
//! Must not touch: EndpointSlices (other controllers), Services without a selector.

use super::{
    LABEL_HEADLESS, LABEL_SKIP_MIRROR, LEADER_ANNOTATION, pod_ref, resolve_target_port,
    selected_pods, should_pod_be_in_endpoints, should_set_hostname, tolerates_unready,
};
use crate::k8s::api::{DeleteOptions, Request};
use crate::k8s::objects::{
    EndpointAddress, EndpointPort, EndpointSubset, Endpoints, Kind, Object, ObjectKey, ServiceType,
    StringMap,
};
use crate::k8s::store::ObjectView;
use std::collections::BTreeMap;

/// Annotation set when addresses were dropped.
pub const OVER_CAPACITY_ANNOTATION: &str = "endpoints.kubernetes.io/over-capacity";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EndpointsConfig {
    /// Addresses kept per Endpoints object (Kubernetes: 1000).
    pub max_addresses: usize,
}

impl Default for EndpointsConfig {
    fn default() -> Self {
        EndpointsConfig {
            max_addresses: 1000,
        }
    }
}

/// Syncs the Endpoints of Service `namespace/name`.
pub fn sync_service(
    view: &dyn ObjectView,
    namespace: &str,
    name: &str,
    config: &EndpointsConfig,
) -> Vec<Request> {
    let existing = view
        .get_by(Kind::Endpoints, namespace, name)
        .and_then(|o| o.as_endpoints());
    let Some(svc) = view
        .get_by(Kind::Service, namespace, name)
        .and_then(|o| o.as_service())
    else {
        // `syncService` deletes by name whether or not its own Endpoints cache holds the
        // object (a NotFound is fine): a cache that missed the Endpoints' creation (its watch
        // was broken meanwhile) must not leave them behind.
        if existing.is_some_and(|ep| ep.metadata.annotations.contains_key(LEADER_ANNOTATION)) {
            return vec![];
        }
        return vec![Request::Delete {
            key: ObjectKey::new(Kind::Endpoints, namespace, name),
            options: DeleteOptions::default(),
        }];
    };
    if !svc.has_selector() || svc.spec.type_ == ServiceType::ExternalName {
        return vec![];
    }
    let tolerate = tolerates_unready(svc);
    let headless = svc.is_headless();
    let mut groups: BTreeMap<Vec<EndpointPort>, (Vec<EndpointAddress>, Vec<EndpointAddress>)> =
        BTreeMap::new();
    for pod in selected_pods(view, svc) {
        if !should_pod_be_in_endpoints(pod, tolerate) {
            continue;
        }
        let mut ports = vec![];
        for sp in &svc.spec.ports {
            if let Some(port) = resolve_target_port(sp, pod) {
                ports.push(EndpointPort {
                    name: sp.name.clone(),
                    port,
                    protocol: sp.protocol,
                    app_protocol: sp.app_protocol.clone(),
                });
            }
        }
        if ports.is_empty() && !(svc.spec.ports.is_empty() && headless) {
            continue;
        }
        ports.sort();
        let addr = EndpointAddress {
            ip: pod.status.pod_ip.clone(),
            hostname: if should_set_hostname(pod, svc) {
                pod.spec.hostname.clone()
            } else {
                String::new()
            },
            node_name: pod.spec.node_name.clone(),
            target_ref: Some(pod_ref(pod)),
        };
        let entry = groups.entry(ports).or_default();
        if tolerate || pod.is_ready() {
            entry.0.push(addr)
        } else {
            entry.1.push(addr)
        }
    }
    let mut subsets: Vec<EndpointSubset> = groups
        .into_iter()
        .map(|(ports, (mut ready, mut not_ready))| {
            ready.sort();
            not_ready.sort();
            EndpointSubset {
                addresses: ready,
                not_ready_addresses: not_ready,
                ports,
            }
        })
        .collect();
    let truncated = truncate(&mut subsets, config.max_addresses);

    let mut labels: StringMap = svc.metadata.labels.clone();
    labels.insert(LABEL_SKIP_MIRROR.to_string(), "true".to_string());
    if headless {
        labels.insert(LABEL_HEADLESS.to_string(), String::new());
    } else {
        labels.remove(LABEL_HEADLESS);
    }
    let mut annotations = existing
        .map(|e| e.metadata.annotations.clone())
        .unwrap_or_default();
    if truncated {
        annotations.insert(
            OVER_CAPACITY_ANNOTATION.to_string(),
            "truncated".to_string(),
        );
    } else {
        annotations.remove(OVER_CAPACITY_ANNOTATION);
    }
    match existing {
        Some(ep)
            if ep.subsets == subsets
                && ep.metadata.labels == labels
                && ep.metadata.annotations == annotations =>
        {
            vec![]
        }
        Some(ep) => {
            let mut new = ep.clone();
            new.subsets = subsets;
            new.metadata.labels = labels;
            new.metadata.annotations = annotations;
            vec![Request::update(new)]
        }
        None => {
            let mut new = Endpoints::new(namespace, name);
            new.subsets = subsets;
            new.metadata.labels = labels;
            new.metadata.annotations = annotations;
            vec![Request::create(new)]
        }
    }
}

/// Keeps at most `max` addresses, ready ones first; returns whether anything was dropped.
fn truncate(subsets: &mut Vec<EndpointSubset>, max: usize) -> bool {
    let total: usize = subsets
        .iter()
        .map(|s| s.addresses.len() + s.not_ready_addresses.len())
        .sum();
    if total <= max {
        return false;
    }
    let mut budget = max;
    for s in subsets.iter_mut() {
        let keep = s.addresses.len().min(budget);
        s.addresses.truncate(keep);
        budget -= keep;
    }
    for s in subsets.iter_mut() {
        let keep = s.not_ready_addresses.len().min(budget);
        s.not_ready_addresses.truncate(keep);
        budget -= keep;
    }
    subsets.retain(|s| !s.addresses.is_empty() || !s.not_ready_addresses.is_empty());
    true
}

/// Every Service, plus every Endpoints without a Service (the start-up leftover check).
pub fn reconcile_all(view: &dyn ObjectView, config: &EndpointsConfig) -> Vec<Request> {
    let mut keys: Vec<(String, String)> = view
        .list(Kind::Service, None)
        .iter()
        .chain(view.list(Kind::Endpoints, None).iter())
        .map(|o| (o.namespace().to_string(), o.name().to_string()))
        .collect();
    keys.sort();
    keys.dedup();
    keys.iter()
        .flat_map(|(ns, name)| sync_service(view, ns, name, config))
        .collect()
}

/// Service keys (namespace, name) an informer event on `obj` should enqueue: the Service itself,
/// the Services selecting a Pod, the Service of a deleted Endpoints.
pub fn keys_for(view: &dyn ObjectView, obj: &Object) -> Vec<(String, String)> {
    match obj {
        Object::Pod(p) => super::services_for_pod(view, p)
            .iter()
            .map(|s| (s.namespace().to_string(), s.name().to_string()))
            .collect(),
        Object::Service(_) | Object::Endpoints(_) => {
            vec![(obj.namespace().to_string(), obj.name().to_string())]
        }
        _ => vec![],
    }
}
