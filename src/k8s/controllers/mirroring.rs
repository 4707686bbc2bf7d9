//! The EndpointSliceMirroring controller (`pkg/controller/endpointslicemirroring`, KEP-752,
//! spec §B.9): mirrors the custom Endpoints of selector-less Services into EndpointSlices. This is
//! what makes Linkerd's hand-written mirror Endpoints visible to CoreDNS and kube-proxy.
//!
//! Rules modelled: mirror only when the Service exists without a selector and the Endpoints are
//! not labelled `endpointslice.kubernetes.io/skip-mirror: "true"` (the endpoints controller sets
//! that on its own) and are not leader-election records; one slice per subset (subsets with equal
//! ports merged), at most 1000 addresses per subset (`--mirroring-max-endpoints-per-subset`, the
//! rest dropped as with `TooManyAddressesToMirror`); `addresses` → `ready: true`,
//! `notReadyAddresses` → `ready: false`; hostname, nodeName and targetRef copied; invalid IPs
//! skipped; the Endpoints' labels and annotations copied (minus the trigger-time and
//! last-applied annotations) plus `kubernetes.io/service-name` and `managed-by:
//! endpointslicemirroring-controller.k8s.io`; `generateName: <endpoints>-`; owner reference to
//! the Endpoints. Mirrored slices are deleted when the Service goes away, gains a selector, or
//! the Endpoints go away or get the skip label.
//! Inputs: a view with Services, Endpoints, EndpointSlices. Outputs: slice writes.
//! Must not touch: Endpoints, and slices managed by anyone else.

use super::endpointslice::{DesiredSlice, address_type_of, managed_slices, reconcile_slices};
use super::{LABEL_SKIP_MIRROR, LEADER_ANNOTATION};
use crate::k8s::api::Request;
use crate::k8s::objects::{
    Endpoint, EndpointConditions, EndpointPort, Kind, LABEL_MANAGED_BY, LABEL_SERVICE_NAME, Object,
    ObjectMeta, OwnerReference,
};
use crate::k8s::store::ObjectView;
use std::collections::BTreeMap;
use std::net::IpAddr;

pub const MANAGED_BY: &str = "endpointslicemirroring-controller.k8s.io";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MirroringConfig {
    pub max_endpoints_per_subset: usize,
}

impl Default for MirroringConfig {
    fn default() -> Self {
        MirroringConfig {
            max_endpoints_per_subset: 1000,
        }
    }
}

const DROPPED_ANNOTATIONS: [&str; 2] = [
    "endpoints.kubernetes.io/last-change-trigger-time",
    "kubectl.kubernetes.io/last-applied-configuration",
];

/// Syncs the mirrored slices of Endpoints (and Service) `namespace/name`.
pub fn sync_endpoints(
    view: &dyn ObjectView,
    namespace: &str,
    name: &str,
    config: &MirroringConfig,
) -> Vec<Request> {
    let existing = managed_slices(view, namespace, name, MANAGED_BY);
    let svc = view
        .get_by(Kind::Service, namespace, name)
        .and_then(|o| o.as_service());
    let ep_obj = view.get_by(Kind::Endpoints, namespace, name);
    let ep = ep_obj.and_then(|o| o.as_endpoints());
    let mirror = match (svc, ep) {
        (Some(s), Some(e)) => {
            !s.has_selector()
                && e.metadata
                    .labels
                    .get(LABEL_SKIP_MIRROR)
                    .is_none_or(|v| v != "true")
                && !e.metadata.annotations.contains_key(LEADER_ANNOTATION)
        }
        _ => false,
    };
    let (Some(ep_obj), Some(ep), true) = (ep_obj, ep, mirror) else {
        return reconcile_slices(existing, vec![], &ObjectMeta::default());
    };
    // Merge subsets with identical ports; per address type.
    let mut groups: BTreeMap<(u8, Vec<EndpointPort>), Vec<Endpoint>> = BTreeMap::new();
    for subset in &ep.subsets {
        let mut ports = subset.ports.clone();
        ports.sort();
        let mut taken = 0usize;
        let all = subset
            .addresses
            .iter()
            .map(|a| (a, true))
            .chain(subset.not_ready_addresses.iter().map(|a| (a, false)));
        for (addr, ready) in all {
            if taken >= config.max_endpoints_per_subset {
                break;
            }
            if addr.ip.parse::<IpAddr>().is_err() {
                continue;
            }
            taken += 1;
            let at = address_type_of(&addr.ip);
            groups
                .entry((at as u8, ports.clone()))
                .or_default()
                .push(Endpoint {
                    addresses: vec![addr.ip.clone()],
                    conditions: EndpointConditions {
                        ready: Some(ready),
                        serving: Some(ready),
                        terminating: Some(false),
                    },
                    hostname: (!addr.hostname.is_empty()).then(|| addr.hostname.clone()),
                    node_name: (!addr.node_name.is_empty()).then(|| addr.node_name.clone()),
                    zone: None,
                    target_ref: addr.target_ref.clone(),
                });
        }
    }
    let desired: Vec<DesiredSlice> = groups
        .into_iter()
        .map(|((at, ports), mut endpoints)| {
            endpoints.sort();
            endpoints.dedup();
            let address_type = if at == crate::k8s::objects::AddressType::IPv6 as u8 {
                crate::k8s::objects::AddressType::IPv6
            } else {
                crate::k8s::objects::AddressType::IPv4
            };
            DesiredSlice {
                address_type,
                ports,
                endpoints,
            }
        })
        .collect();
    let mut labels = ep.metadata.labels.clone();
    labels.insert(LABEL_SERVICE_NAME.to_string(), name.to_string());
    labels.insert(LABEL_MANAGED_BY.to_string(), MANAGED_BY.to_string());
    let mut annotations = ep.metadata.annotations.clone();
    for a in DROPPED_ANNOTATIONS {
        annotations.remove(a);
    }
    let meta = ObjectMeta {
        generate_name: format!("{name}-"),
        namespace: namespace.to_string(),
        labels,
        annotations,
        owner_references: vec![OwnerReference::controller_ref(ep_obj)],
        ..ObjectMeta::default()
    };
    reconcile_slices(existing, desired, &meta)
}

/// Every Endpoints, plus every mirrored slice whose Endpoints are gone.
pub fn reconcile_all(view: &dyn ObjectView, config: &MirroringConfig) -> Vec<Request> {
    let mut keys: Vec<(String, String)> = view
        .list(Kind::Endpoints, None)
        .iter()
        .map(|o| (o.namespace().to_string(), o.name().to_string()))
        .collect();
    for s in view.list(Kind::EndpointSlice, None) {
        if s.labels()
            .get(LABEL_MANAGED_BY)
            .is_some_and(|m| m == MANAGED_BY)
            && let Some(svc) = s.labels().get(LABEL_SERVICE_NAME)
        {
            keys.push((s.namespace().to_string(), svc.clone()));
        }
    }
    keys.sort();
    keys.dedup();
    keys.iter()
        .flat_map(|(ns, name)| sync_endpoints(view, ns, name, config))
        .collect()
}

/// Keys an informer event on `obj` should enqueue (Endpoints, Service and mirrored slice
/// events all map to the shared name).
pub fn keys_for(obj: &Object) -> Vec<(String, String)> {
    match obj {
        Object::Endpoints(_) | Object::Service(_) => {
            vec![(obj.namespace().to_string(), obj.name().to_string())]
        }
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
