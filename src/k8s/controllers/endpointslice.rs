//! The EndpointSlice controller (`pkg/controller/endpointslice`, spec §B.9) for Services with a
//! selector.
//!
//! Rules modelled: one endpoint per selected pod with an IP (terminating pods included, with
//! `terminating: true`); `ready = publishNotReadyAddresses || (pod Ready && !terminating)`,
//! `serving = pod Ready`; hostname per the hostname rule; endpoints grouped by address type and
//! resolved port list, at most `max_endpoints_per_slice` (100) per slice; a placeholder slice
//! with no endpoints when nothing is selected; slices named by `generateName: <svc>-`, labelled
//! `kubernetes.io/service-name`, `endpointslice.kubernetes.io/managed-by:
//! endpointslice-controller.k8s.io` (plus the Service's labels and the headless label), and
//! owner-referenced to the Service, so the garbage collector removes them with it.
//! Simplified: slices are matched to the desired chunks by port list in name order rather than
//! with the real controller's churn-minimising placement.
//! Inputs: a view with Services, Pods, EndpointSlices. Outputs: Create/Update/Delete of slices.
//! Must not touch: slices managed by anyone else, Endpoints.

use super::{
    LABEL_HEADLESS, pod_ref, resolve_target_port, selected_pods, should_pod_be_in_endpoints,
    should_set_hostname,
};
use crate::k8s::api::{DeleteOptions, Request};
use crate::k8s::objects::{
    AddressType, Endpoint, EndpointConditions, EndpointPort, EndpointSlice, Kind, LABEL_MANAGED_BY,
    LABEL_SERVICE_NAME, Object, ObjectMeta, OwnerReference, ServiceType, StringMap,
};
use crate::k8s::store::ObjectView;
use std::collections::BTreeMap;

pub const MANAGED_BY: &str = "endpointslice-controller.k8s.io";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EndpointSliceConfig {
    /// `--max-endpoints-per-slice` (default 100).
    pub max_endpoints_per_slice: usize,
}

impl Default for EndpointSliceConfig {
    fn default() -> Self {
        EndpointSliceConfig {
            max_endpoints_per_slice: 100,
        }
    }
}

pub(crate) fn address_type_of(ip: &str) -> AddressType {
    if ip.contains(':') {
        AddressType::IPv6
    } else {
        AddressType::IPv4
    }
}

/// A desired slice body, before matching with existing slices.
pub(crate) struct DesiredSlice {
    pub address_type: AddressType,
    pub ports: Vec<EndpointPort>,
    pub endpoints: Vec<Endpoint>,
}

/// Matches desired slices to `existing` (same address type and ports, in name order) and
/// returns the writes: updates for changed ones, creates for new ones, deletes for leftovers.
pub(crate) fn reconcile_slices(
    existing: Vec<&EndpointSlice>,
    desired: Vec<DesiredSlice>,
    meta: &ObjectMeta,
) -> Vec<Request> {
    let mut used = vec![false; existing.len()];
    let mut out = vec![];
    for d in desired {
        let found = existing
            .iter()
            .enumerate()
            .find(|(i, s)| !used[*i] && s.address_type == d.address_type && s.ports == d.ports)
            .map(|(i, _)| i);
        match found {
            Some(i) => {
                used[i] = true;
                let s = existing[i];
                if s.endpoints != d.endpoints
                    || s.metadata.labels != meta.labels
                    || s.metadata.annotations != meta.annotations
                    || s.metadata.owner_references != meta.owner_references
                {
                    let mut new = s.clone();
                    new.endpoints = d.endpoints;
                    new.metadata.labels = meta.labels.clone();
                    new.metadata.annotations = meta.annotations.clone();
                    new.metadata.owner_references = meta.owner_references.clone();
                    out.push(Request::update(new));
                }
            }
            None => out.push(Request::create(EndpointSlice {
                metadata: meta.clone(),
                address_type: d.address_type,
                endpoints: d.endpoints,
                ports: d.ports,
            })),
        }
    }
    for (i, s) in existing.iter().enumerate() {
        if !used[i] {
            out.push(Request::Delete {
                key: Object::EndpointSlice((*s).clone()).key(),
                options: DeleteOptions {
                    precondition_uid: Some(s.metadata.uid.clone()),
                    ..DeleteOptions::default()
                },
            });
        }
    }
    out
}

/// Slices in `namespace` labelled for `service` and managed by `managed_by`, in name order.
pub(crate) fn managed_slices<'a>(
    view: &'a dyn ObjectView,
    namespace: &str,
    service: &str,
    managed_by: &str,
) -> Vec<&'a EndpointSlice> {
    view.list_labelled(Kind::EndpointSlice, namespace, LABEL_SERVICE_NAME, service)
        .into_iter()
        .filter_map(|o| o.as_endpoint_slice())
        .filter(|s| {
            s.metadata
                .labels
                .get(LABEL_SERVICE_NAME)
                .is_some_and(|v| v == service)
                && s.metadata
                    .labels
                    .get(LABEL_MANAGED_BY)
                    .is_some_and(|v| v == managed_by)
        })
        .collect()
}

/// Syncs the slices of Service `namespace/name`.
pub fn sync_service(
    view: &dyn ObjectView,
    namespace: &str,
    name: &str,
    config: &EndpointSliceConfig,
) -> Vec<Request> {
    let Some(svc_obj) = view.get_by(Kind::Service, namespace, name) else {
        return vec![];
    };
    let Some(svc) = svc_obj.as_service() else {
        return vec![];
    };
    if !svc.has_selector()
        || svc.spec.type_ == ServiceType::ExternalName
        || svc.metadata.is_terminating()
    {
        return vec![];
    }
    let mut groups: BTreeMap<(u8, Vec<EndpointPort>), Vec<Endpoint>> = BTreeMap::new();
    for pod in selected_pods(view, svc) {
        if !should_pod_be_in_endpoints(pod, true) {
            continue;
        }
        let mut ports: Vec<EndpointPort> = svc
            .spec
            .ports
            .iter()
            .filter_map(|sp| {
                resolve_target_port(sp, pod).map(|port| EndpointPort {
                    name: sp.name.clone(),
                    port,
                    protocol: sp.protocol,
                    app_protocol: sp.app_protocol.clone(),
                })
            })
            .collect();
        if ports.is_empty() && !svc.spec.ports.is_empty() {
            continue;
        }
        ports.sort();
        let serving = pod.is_ready();
        let terminating = pod.metadata.is_terminating();
        let ready = svc.spec.publish_not_ready_addresses || (serving && !terminating);
        let at = address_type_of(&pod.status.pod_ip);
        groups.entry((at as u8, ports)).or_default().push(Endpoint {
            addresses: vec![pod.status.pod_ip.clone()],
            conditions: EndpointConditions {
                ready: Some(ready),
                serving: Some(serving),
                terminating: Some(terminating),
            },
            hostname: should_set_hostname(pod, svc).then(|| pod.spec.hostname.clone()),
            node_name: (!pod.spec.node_name.is_empty()).then(|| pod.spec.node_name.clone()),
            zone: None,
            target_ref: Some(pod_ref(pod)),
        });
    }
    let per_slice = config.max_endpoints_per_slice.max(1);
    let mut desired = vec![];
    for ((at, ports), mut endpoints) in groups {
        endpoints.sort();
        let address_type = if at == AddressType::IPv6 as u8 {
            AddressType::IPv6
        } else {
            AddressType::IPv4
        };
        for chunk in endpoints.chunks(per_slice) {
            desired.push(DesiredSlice {
                address_type,
                ports: ports.clone(),
                endpoints: chunk.to_vec(),
            });
        }
    }
    if desired.is_empty() {
        desired.push(DesiredSlice {
            address_type: AddressType::IPv4,
            ports: vec![],
            endpoints: vec![],
        });
    }
    let mut labels: StringMap = svc.metadata.labels.clone();
    labels.remove(LABEL_HEADLESS);
    if svc.is_headless() {
        labels.insert(LABEL_HEADLESS.to_string(), String::new());
    }
    labels.insert(LABEL_SERVICE_NAME.to_string(), name.to_string());
    labels.insert(LABEL_MANAGED_BY.to_string(), MANAGED_BY.to_string());
    let meta = ObjectMeta {
        generate_name: format!("{name}-"),
        namespace: namespace.to_string(),
        labels,
        owner_references: vec![OwnerReference::controller_ref(svc_obj)],
        ..ObjectMeta::default()
    };
    reconcile_slices(
        managed_slices(view, namespace, name, MANAGED_BY),
        desired,
        &meta,
    )
}

/// Every Service.
pub fn reconcile_all(view: &dyn ObjectView, config: &EndpointSliceConfig) -> Vec<Request> {
    view.list(Kind::Service, None)
        .iter()
        .flat_map(|s| sync_service(view, s.namespace(), s.name(), config))
        .collect()
}

/// Service keys an informer event on `obj` should enqueue.
pub fn keys_for(view: &dyn ObjectView, obj: &Object) -> Vec<(String, String)> {
    match obj {
        Object::Pod(p) => super::services_for_pod(view, p)
            .iter()
            .map(|s| (s.namespace().to_string(), s.name().to_string()))
            .collect(),
        Object::Service(_) => vec![(obj.namespace().to_string(), obj.name().to_string())],
        Object::EndpointSlice(s) => match (
            s.metadata.labels.get(LABEL_SERVICE_NAME),
            s.metadata.labels.get(LABEL_MANAGED_BY),
        ) {
            (Some(svc), Some(m)) if m == MANAGED_BY => {
                vec![(obj.namespace().to_string(), svc.clone())]
            }
            _ => vec![],
        },
        _ => vec![],
    }
}
