//! The service mirror's event catalogue (spec §4.3, current names since #13269).
//!
//! Owns: [`MirrorEvent`] and its one-line rendering for logs and traces. Inputs/outputs: data.
//! Must not touch: handler logic (see `watcher.rs`).
//!
//! Events carry what the real events carry: the remote object (an `Arc`, as the Go events carry
//! a pointer into the informer cache) or a name. Following the current code, handlers re-read
//! local listers when they run rather than carrying a snapshot of local state (§4.3, last
//! bullet).

use crate::k8s::objects::Object;
use std::fmt;
use std::sync::Arc;

#[derive(Clone, Debug, PartialEq)]
pub enum MirrorEvent {
    /// Remote Service informer Add (also the namespace replay).
    OnAddCalled(Arc<Object>),
    /// Remote Service informer Update (the new object; resyncs included).
    OnUpdateCalled(Arc<Object>),
    /// Remote Service informer Delete (tombstones unwrapped).
    OnDeleteCalled(Arc<Object>),
    /// The remote Service is exported and has no local mirror yet.
    RemoteServiceExported(Arc<Object>),
    /// The remote Service changed (resourceVersion differs from the mirror's annotation).
    RemoteExportedServiceUpdated(Arc<Object>),
    /// The remote Service is gone or no longer exported.
    RemoteServiceUnexported { name: String, namespace: String },
    /// A federated member appeared and `<svc>-federated` does not exist yet.
    CreateFederatedService(Arc<Object>),
    /// A federated member appeared (or resynced) and `<svc>-federated` exists.
    RemoteServiceJoinsFederatedService(Arc<Object>),
    /// A federated member left or was deleted.
    RemoteServiceLeavesFederatedService { name: String, namespace: String },
    /// Remote Endpoints informer Add (headless, exported Endpoints only).
    OnAddEndpointsCalled(Arc<Object>),
    /// Remote Endpoints informer Update (exported gateway-mode Endpoints).
    OnUpdateEndpointsCalled(Arc<Object>),
    /// Re-resolve the gateway and rewrite every gateway-mode mirror's Endpoints (§6.4).
    RepairEndpoints,
    /// Delete local mirrors whose remote Service no longer exists (§9.5).
    OrphanedServicesGcTriggered,
    /// A local Namespace appeared: replay the remote Services in it.
    OnLocalNamespaceAdded(Arc<Object>),
    /// Delete every mirror of this Link (only `Stop(true)`, unused in production).
    ClusterUnregistered,
}

impl MirrorEvent {
    /// The zero-sized events, which Go allocates at one shared address: the workqueue
    /// coalesces duplicates of each (§4.2 [inferred]).
    pub fn is_zero_sized(&self) -> bool {
        matches!(
            self,
            MirrorEvent::RepairEndpoints
                | MirrorEvent::OrphanedServicesGcTriggered
                | MirrorEvent::ClusterUnregistered
        )
    }

    /// The event's type name, as Linkerd logs it.
    pub fn type_name(&self) -> &'static str {
        match self {
            MirrorEvent::OnAddCalled(_) => "OnAddCalled",
            MirrorEvent::OnUpdateCalled(_) => "OnUpdateCalled",
            MirrorEvent::OnDeleteCalled(_) => "OnDeleteCalled",
            MirrorEvent::RemoteServiceExported(_) => "RemoteServiceExported",
            MirrorEvent::RemoteExportedServiceUpdated(_) => "RemoteExportedServiceUpdated",
            MirrorEvent::RemoteServiceUnexported { .. } => "RemoteServiceUnexported",
            MirrorEvent::CreateFederatedService(_) => "CreateFederatedService",
            MirrorEvent::RemoteServiceJoinsFederatedService(_) => {
                "RemoteServiceJoinsFederatedService"
            }
            MirrorEvent::RemoteServiceLeavesFederatedService { .. } => {
                "RemoteServiceLeavesFederatedService"
            }
            MirrorEvent::OnAddEndpointsCalled(_) => "OnAddEndpointsCalled",
            MirrorEvent::OnUpdateEndpointsCalled(_) => "OnUpdateEndpointsCalled",
            MirrorEvent::RepairEndpoints => "RepairEndpoints",
            MirrorEvent::OrphanedServicesGcTriggered => "OrphanedServicesGcTriggered",
            MirrorEvent::OnLocalNamespaceAdded(_) => "OnLocalNamespaceAdded",
            MirrorEvent::ClusterUnregistered => "ClusterUnregistered",
        }
    }
}

/// `OnAddCalled(default/web@rv12)`, `RemoteServiceUnexported(default/web)`, `RepairEndpoints`.
impl fmt::Display for MirrorEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.type_name();
        match self {
            MirrorEvent::OnAddCalled(o)
            | MirrorEvent::OnUpdateCalled(o)
            | MirrorEvent::OnDeleteCalled(o)
            | MirrorEvent::RemoteServiceExported(o)
            | MirrorEvent::RemoteExportedServiceUpdated(o)
            | MirrorEvent::CreateFederatedService(o)
            | MirrorEvent::RemoteServiceJoinsFederatedService(o)
            | MirrorEvent::OnAddEndpointsCalled(o)
            | MirrorEvent::OnUpdateEndpointsCalled(o) => {
                let m = o.meta();
                write!(
                    f,
                    "{name}({}/{}@rv{})",
                    m.namespace, m.name, m.resource_version
                )
            }
            MirrorEvent::OnLocalNamespaceAdded(o) => write!(f, "{name}({})", o.name()),
            MirrorEvent::RemoteServiceUnexported { name: n, namespace }
            | MirrorEvent::RemoteServiceLeavesFederatedService { name: n, namespace } => {
                write!(f, "{name}({namespace}/{n})")
            }
            MirrorEvent::RepairEndpoints
            | MirrorEvent::OrphanedServicesGcTriggered
            | MirrorEvent::ClusterUnregistered => f.write_str(name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::k8s::objects::Service;

    #[test]
    fn renders_one_line_per_event() {
        let mut s = Service::new("default", "web");
        s.metadata.resource_version = "12".into();
        let e = MirrorEvent::OnAddCalled(Arc::new(Object::Service(s)));
        assert_eq!(e.to_string(), "OnAddCalled(default/web@rv12)");
        assert!(!e.is_zero_sized());
        let u = MirrorEvent::RemoteServiceUnexported {
            name: "web".into(),
            namespace: "default".into(),
        };
        assert_eq!(u.to_string(), "RemoteServiceUnexported(default/web)");
        assert!(MirrorEvent::RepairEndpoints.is_zero_sized());
        assert_eq!(MirrorEvent::RepairEndpoints.to_string(), "RepairEndpoints");
    }
}
