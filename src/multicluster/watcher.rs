//! The cluster watcher: one per Link (spec §4). It turns informer deltas into events
//! (§4.1 steps 3–5) and handles each event against the local cluster (§4.3, §5, §9.5).
//!
//! Owns: [`ClusterWatcher`] — the informer-handler rules, `createOrUpdateService`, the delete
//! handler, mirror creation (`RemoteServiceExported`), mirror update
//! (`RemoteExportedServiceUpdated`), unexport, orphan GC, `ClusterUnregistered`, the namespace
//! replay, and shared helpers (selectors, mirror metadata, API call wrappers). Gateway-mode
//! Endpoints live in `gateway.rs`, headless mirrors in `headless.rs`, federated services in
//! `federated.rs`, Link status in `status.rs`.
//!
//! Inputs: [`Delta`]s, [`MirrorEvent`]s and a [`HandlerEnv`]. Outputs: requests through
//! `env.api`, follow-up events in `env.enqueue`, remote Events, log lines.
//! Must not touch: the remote cluster except through `env.remote` (read) and
//! `env.remote_events`; the queue (the caller owns the [`super::MirrorQueue`]).

use super::config::{Breakage, Fix, LinkConfig};
use super::env::{HandlerEnv, HandlerError};
use super::event::MirrorEvent;
use super::names::*;
use super::status::{self, Section};
use crate::k8s::informer::Delta;
use crate::k8s::objects::{
    EPOCH_UNIX_SECS, EndpointPort, Endpoints, Event, EventSource, Kind, Namespace, Object,
    ObjectKey, ObjectMeta, ObjectReference, Service, ServicePort, StringMap, rfc3339,
};
use crate::k8s::{LabelSelector, Request, Response, Status};
use std::sync::Arc;

/// The per-Link watcher. Holds only configuration and counters: all Kubernetes state is read
/// from the caches in the [`HandlerEnv`].
#[derive(Clone, Debug)]
pub struct ClusterWatcher {
    pub(super) cfg: LinkConfig,
    /// Parsed `gatewayPort` (`None` if it does not parse: gateway Endpoints then fail
    /// validation and are retried, as a broken Link would).
    pub(super) gateway_port: Option<i32>,
    /// `service_mirror_endpoint_repairs` counter.
    pub(super) endpoint_repairs: u64,
}

impl ClusterWatcher {
    pub fn new(config: LinkConfig) -> ClusterWatcher {
        let gateway_port = config.link.spec.gateway_port.parse::<i32>().ok();
        ClusterWatcher {
            cfg: config,
            gateway_port,
            endpoint_repairs: 0,
        }
    }

    pub fn config(&self) -> &LinkConfig {
        &self.cfg
    }

    /// `service_mirror_endpoint_repairs{target_cluster_name}`.
    pub fn endpoint_repairs(&self) -> u64 {
        self.endpoint_repairs
    }

    /// Whether the Link has a gateway address (then `RepairEndpoints` runs at start, every
    /// repair period and on every liveness change).
    pub fn has_gateway(&self) -> bool {
        !self.cfg.link.spec.gateway_address.is_empty()
    }

    // -----------------------------------------------------------------------------------------
    // Informer handler registration (§4.1 steps 3–5)
    // -----------------------------------------------------------------------------------------

    /// Remote Service informer: Add → `OnAddCalled`, Update → `OnUpdateCalled{new}`, Delete
    /// (tombstones unwrapped) → `OnDeleteCalled`.
    pub fn on_remote_service(&self, delta: &Delta) -> Vec<MirrorEvent> {
        let is_svc = |o: &Arc<Object>| o.kind() == Kind::Service;
        match delta {
            Delta::Added(o) if is_svc(o) => vec![MirrorEvent::OnAddCalled(o.clone())],
            Delta::Updated { new, .. } if is_svc(new) => {
                vec![MirrorEvent::OnUpdateCalled(new.clone())]
            }
            Delta::Deleted(d) if is_svc(d.object()) => {
                vec![MirrorEvent::OnDeleteCalled(d.object().clone())]
            }
            Delta::Added(_) | Delta::Updated { .. } | Delta::Deleted(_) | Delta::Synced => {
                vec![]
            }
        }
    }

    /// Remote Endpoints informer: Add only for exported (`selector`) headless Endpoints; Update
    /// for exported Endpoints not matching `remoteDiscoverySelector`; no Delete handler.
    pub fn on_remote_endpoints(&self, delta: &Delta) -> Vec<MirrorEvent> {
        match delta {
            Delta::Added(o) if o.kind() == Kind::Endpoints => {
                if self.is_exported(o.labels()) && o.labels().contains_key(LABEL_K8S_HEADLESS) {
                    vec![MirrorEvent::OnAddEndpointsCalled(o.clone())]
                } else {
                    vec![]
                }
            }
            Delta::Updated { new, .. } if new.kind() == Kind::Endpoints => {
                let pre_8755 = self.cfg.breakages.has(Breakage::EndpointsAfterUnexport)
                    && new.labels().contains_key(LABEL_K8S_HEADLESS);
                if pre_8755
                    || (self.is_exported(new.labels()) && !self.is_remote_discovery(new.labels()))
                {
                    vec![MirrorEvent::OnUpdateEndpointsCalled(new.clone())]
                } else {
                    vec![]
                }
            }
            Delta::Added(_) | Delta::Updated { .. } | Delta::Deleted(_) | Delta::Synced => {
                vec![]
            }
        }
    }

    /// Local Namespace informer: Add → `OnLocalNamespaceAdded`.
    pub fn on_local_namespace(&self, delta: &Delta) -> Vec<MirrorEvent> {
        match delta {
            Delta::Added(o) if o.kind() == Kind::Namespace => {
                vec![MirrorEvent::OnLocalNamespaceAdded(o.clone())]
            }
            Delta::Added(_) | Delta::Updated { .. } | Delta::Deleted(_) | Delta::Synced => {
                vec![]
            }
        }
    }

    /// §4.1 steps 2 and 7: `OrphanedServicesGcTriggered` (enqueue it *before* registering the
    /// informer handlers, whose replay follows it), then `RepairEndpoints` when the Link has a
    /// gateway address (enqueue it *after* the replay; afterwards every `repair_period` and on
    /// every liveness change).
    pub fn startup_events(&self) -> Vec<MirrorEvent> {
        let mut out = vec![MirrorEvent::OrphanedServicesGcTriggered];
        if self.has_gateway() {
            out.push(MirrorEvent::RepairEndpoints);
        }
        out
    }

    // -----------------------------------------------------------------------------------------
    // Dispatch
    // -----------------------------------------------------------------------------------------

    /// Handles one event (`processNextEvent`). The caller reports the result to the queue.
    pub fn handle(
        &mut self,
        event: &MirrorEvent,
        env: &mut HandlerEnv,
    ) -> Result<(), HandlerError> {
        match event {
            MirrorEvent::OnAddCalled(o) | MirrorEvent::OnUpdateCalled(o) => {
                self.create_or_update_service(o, env)
            }
            MirrorEvent::OnDeleteCalled(o) => {
                self.handle_on_delete(o, env);
                Ok(())
            }
            MirrorEvent::RemoteServiceExported(o) => self.handle_remote_service_exported(o, env),
            MirrorEvent::RemoteExportedServiceUpdated(o) => {
                self.handle_remote_exported_service_updated(o, env)
            }
            MirrorEvent::RemoteServiceUnexported { name, namespace } => {
                self.handle_remote_service_unexported(name, namespace, env)
            }
            MirrorEvent::CreateFederatedService(o) => self.handle_create_federated_service(o, env),
            MirrorEvent::RemoteServiceJoinsFederatedService(o) => {
                self.handle_federated_service_join(o, env)
            }
            MirrorEvent::RemoteServiceLeavesFederatedService { name, namespace } => {
                self.handle_federated_service_leave(name, namespace, env)
            }
            MirrorEvent::OnAddEndpointsCalled(o) | MirrorEvent::OnUpdateEndpointsCalled(o) => {
                self.handle_create_or_update_endpoints(o, env)
            }
            // Linkerd only ever enqueues repairs for a Link with a gateway address.
            MirrorEvent::RepairEndpoints if !self.has_gateway() => Ok(()),
            MirrorEvent::RepairEndpoints => self.repair_endpoints(env),
            MirrorEvent::OrphanedServicesGcTriggered => self.cleanup_orphaned_services(env),
            MirrorEvent::OnLocalNamespaceAdded(o) => self.handle_local_namespace_added(o, env),
            MirrorEvent::ClusterUnregistered => self.cleanup_mirrored_resources(env),
        }
    }

    // -----------------------------------------------------------------------------------------
    // Selectors and metadata (§2.1, §5.2, §5.3)
    // -----------------------------------------------------------------------------------------

    /// Linkerd's selector rule: nil or empty matches nothing; an invalid selector matches
    /// nothing.
    pub(super) fn selects(sel: &Option<LabelSelector>, labels: &StringMap) -> bool {
        match sel {
            None => false,
            Some(s) if s.is_empty() || s.validate().is_err() => false,
            Some(s) => s.matches(labels),
        }
    }
    pub(super) fn is_exported(&self, labels: &StringMap) -> bool {
        Self::selects(&self.cfg.link.spec.selector, labels)
    }
    pub(super) fn is_remote_discovery(&self, labels: &StringMap) -> bool {
        Self::selects(&self.cfg.link.spec.remote_discovery_selector, labels)
    }
    pub(super) fn is_federated_member(&self, labels: &StringMap) -> bool {
        Self::selects(&self.cfg.link.spec.federated_service_selector, labels)
    }

    pub(super) fn target(&self) -> &str {
        self.cfg.target()
    }
    pub(super) fn mirror_name(&self, remote: &str) -> String {
        mirror_name(remote, self.target())
    }

    /// Remote labels minus `mirror.linkerd.io*` keys and `excludedLabels`, plus
    /// `mirrored-service: "true"`.
    pub(super) fn common_labels(&self, remote: &Service) -> StringMap {
        let mut labels = StringMap::new();
        labels.insert(LABEL_MIRRORED_SERVICE.to_string(), "true".to_string());
        for (k, v) in &remote.metadata.labels {
            if k.starts_with(SVC_MIRROR_PREFIX)
                || is_excluded(k, &self.cfg.link.spec.excluded_labels)
            {
                continue;
            }
            labels.insert(k.clone(), v.clone());
        }
        labels
    }

    /// Common labels + `cluster-name`; remote-discovery mirrors add `remote-discovery` and
    /// `remote-service`.
    pub(super) fn mirror_labels(&self, remote: &Service) -> StringMap {
        let mut labels = self.common_labels(remote);
        labels.insert(LABEL_CLUSTER_NAME.to_string(), self.target().to_string());
        if self.is_remote_discovery(&remote.metadata.labels) {
            labels.insert(
                LABEL_REMOTE_DISCOVERY.to_string(),
                self.target().to_string(),
            );
            labels.insert(
                LABEL_REMOTE_SERVICE.to_string(),
                remote.metadata.name.clone(),
            );
        }
        labels
    }

    /// `mirrored-service` + `cluster-name` only (endpoint mirrors and headless roots'
    /// Endpoints).
    pub(super) fn bare_mirror_labels(&self) -> StringMap {
        let mut labels = StringMap::new();
        labels.insert(LABEL_MIRRORED_SERVICE.to_string(), "true".to_string());
        labels.insert(LABEL_CLUSTER_NAME.to_string(), self.target().to_string());
        labels
    }

    /// Every remote annotation except the topology ones and `excludedAnnotations`; the opaque
    /// ports annotation is always kept.
    pub(super) fn common_annotations(&self, remote: &Service) -> StringMap {
        let mut out = StringMap::new();
        for (k, v) in &remote.metadata.annotations {
            if k == ANN_TOPOLOGY_HINTS
                || k == ANN_TOPOLOGY_MODE
                || is_excluded(k, &self.cfg.link.spec.excluded_annotations)
            {
                continue;
            }
            out.insert(k.clone(), v.clone());
        }
        if let Some(v) = remote.metadata.annotations.get(ANN_OPAQUE_PORTS) {
            out.insert(ANN_OPAQUE_PORTS.to_string(), v.clone());
        }
        out
    }

    pub(super) fn fq_name(&self, remote_name: &str, namespace: &str) -> String {
        format!(
            "{remote_name}.{namespace}.svc.{}",
            self.cfg.link.spec.target_cluster_domain
        )
    }

    /// Common annotations + `remote-svc-fq-name` + `remote-resource-version`.
    pub(super) fn mirror_annotations(&self, remote: &Service) -> StringMap {
        let mut out = self.common_annotations(remote);
        out.insert(
            ANN_REMOTE_SVC_FQ_NAME.to_string(),
            self.fq_name(&remote.metadata.name, &remote.metadata.namespace),
        );
        out.insert(
            ANN_REMOTE_RESOURCE_VERSION.to_string(),
            remote.metadata.resource_version.clone(),
        );
        out
    }

    /// Mirror ports: name, protocol, port, targetPort (nodePort and appProtocol dropped).
    pub(super) fn remap_ports(ports: &[ServicePort]) -> Vec<ServicePort> {
        ports
            .iter()
            .map(|p| ServicePort {
                name: p.name.clone(),
                protocol: p.protocol,
                app_protocol: None,
                port: p.port,
                target_port: p.target_port.clone(),
                node_port: None,
            })
            .collect()
    }

    /// Gateway Endpoints ports: one per Service port, same name and protocol, port =
    /// `gatewayPort`.
    pub(super) fn endpoints_ports(&self, ports: &[ServicePort]) -> Vec<EndpointPort> {
        let gw = self.gateway_port.unwrap_or(0);
        ports
            .iter()
            .map(|p| EndpointPort {
                name: p.name.clone(),
                port: gw,
                protocol: p.protocol,
                app_protocol: None,
            })
            .collect()
    }

    /// A Kubernetes Event on the remote Service (client-go recorder naming `<name>.<hex
    /// unix-nanos>`; source `linkerd-service-mirror-<link>`).
    pub(super) fn record_event(
        &self,
        env: &mut HandlerEnv,
        remote: &Object,
        reason: &str,
        message: &str,
    ) {
        let nanos = u128::from(EPOCH_UNIX_SECS) * 1_000_000_000 + u128::from(env.now.as_nanos());
        let ts = rfc3339(env.now);
        let ev = Event {
            metadata: ObjectMeta::named(
                remote.namespace(),
                &format!("{}.{nanos:x}", remote.name()),
            ),
            involved_object: {
                let mut r = ObjectReference::to(remote);
                r.api_version = "v1".to_string();
                r.resource_version = remote.meta().resource_version.clone();
                r
            },
            reason: reason.to_string(),
            message: message.to_string(),
            type_: "Normal".to_string(),
            source: EventSource {
                component: format!("linkerd-service-mirror-{}", self.target()),
            },
            count: Some(1),
            first_timestamp: Some(ts.clone()),
            last_timestamp: Some(ts),
        };
        env.remote_events.push(Object::Event(ev));
    }

    pub(super) fn log(&self, env: &mut HandlerEnv, level: &str, msg: String) {
        env.log.push(format!("{level}: {msg}"));
    }

    // -----------------------------------------------------------------------------------------
    // createOrUpdateService and the delete handler (§4.3)
    // -----------------------------------------------------------------------------------------

    fn create_or_update_service(
        &mut self,
        obj: &Arc<Object>,
        env: &mut HandlerEnv,
    ) -> Result<(), HandlerError> {
        let svc = as_service(obj)?;
        let ns = &svc.metadata.namespace;
        let mirror = self.mirror_name(&svc.metadata.name);
        if self.is_exported(&svc.metadata.labels) || self.is_remote_discovery(&svc.metadata.labels)
        {
            match env.local.get_by(Kind::Service, ns, &mirror) {
                None => {
                    env.enqueue
                        .push(MirrorEvent::RemoteServiceExported(obj.clone()));
                    if !self.cfg.fixes.has(Fix::ExportAlsoJoinsFederated) {
                        return Ok(());
                    }
                }
                Some(local) => {
                    if let Some(rv) = local.meta().annotations.get(ANN_REMOTE_RESOURCE_VERSION)
                        && *rv != svc.metadata.resource_version
                    {
                        env.enqueue
                            .push(MirrorEvent::RemoteExportedServiceUpdated(obj.clone()));
                    }
                }
            }
        } else if let Some(local) = env.local.get_by(Kind::Service, ns, &mirror) {
            let labels = local.labels();
            let ours = labels.contains_key(LABEL_MIRRORED_SERVICE)
                && labels.get(LABEL_CLUSTER_NAME).map(String::as_str) == Some(self.target());
            if ours || self.cfg.breakages.has(Breakage::MirrorTouchesForeign) {
                env.enqueue.push(MirrorEvent::RemoteServiceUnexported {
                    name: svc.metadata.name.clone(),
                    namespace: ns.clone(),
                });
            }
        }

        let federated = federated_name(&svc.metadata.name);
        if self.is_federated_member(&svc.metadata.labels) {
            match env.local.get_by(Kind::Service, ns, &federated) {
                None => {
                    env.enqueue
                        .push(MirrorEvent::CreateFederatedService(obj.clone()));
                    return Ok(());
                }
                Some(_) => env
                    .enqueue
                    .push(MirrorEvent::RemoteServiceJoinsFederatedService(obj.clone())),
            }
        } else if let Some(local) = env.local.get_by(Kind::Service, ns, &federated)
            && local.labels().contains_key(LABEL_MIRRORED_SERVICE)
        {
            env.enqueue
                .push(MirrorEvent::RemoteServiceLeavesFederatedService {
                    name: svc.metadata.name.clone(),
                    namespace: ns.clone(),
                });
        }
        Ok(())
    }

    /// Delete handler: labels (possibly stale, from a tombstone) decide which events follow.
    fn handle_on_delete(&mut self, obj: &Arc<Object>, env: &mut HandlerEnv) {
        let labels = obj.labels();
        if self.is_exported(labels) || self.is_remote_discovery(labels) {
            env.enqueue.push(MirrorEvent::RemoteServiceUnexported {
                name: obj.name().to_string(),
                namespace: obj.namespace().to_string(),
            });
        }
        if self.is_federated_member(labels) {
            env.enqueue
                .push(MirrorEvent::RemoteServiceLeavesFederatedService {
                    name: obj.name().to_string(),
                    namespace: obj.namespace().to_string(),
                });
        }
    }

    // -----------------------------------------------------------------------------------------
    // RemoteServiceExported (§6.1, §5.5)
    // -----------------------------------------------------------------------------------------

    /// The namespace rule of §5.5 for the normal (non-headless) path. `Ok(true)`: go on;
    /// `Ok(false)`: skipped (Event + status written).
    pub(super) fn ensure_namespace(
        &self,
        obj: &Arc<Object>,
        section: Section,
        env: &mut HandlerEnv,
    ) -> Result<bool, HandlerError> {
        let ns = obj.namespace().to_string();
        if self.cfg.enable_namespace_creation {
            self.mirror_namespace_if_necessary(&ns, env)?;
            return Ok(true);
        }
        match api_get(env, Kind::Namespace, "", &ns) {
            Ok(Some(_)) => Ok(true),
            Ok(None) => {
                self.record_event(
                    env,
                    obj,
                    EVENT_REASON_SKIPPED,
                    "Skipped mirroring service: namespace does not exist",
                );
                self.log(
                    env,
                    "warn",
                    format!(
                        "Skipping mirroring of service {ns}/{}: namespace {ns} does not exist",
                        obj.name()
                    ),
                );
                let reason = status::REASON_MISSING_NAMESPACE;
                status::failed(
                    &self.cfg,
                    env,
                    section,
                    obj.name(),
                    &ns,
                    reason,
                    "Namespace does not exist",
                );
                Ok(false)
            }
            Err(st) => {
                let message = format!("Failed to get namespace: {}", st.message);
                status::failed(
                    &self.cfg,
                    env,
                    section,
                    obj.name(),
                    &ns,
                    status::REASON_ERROR,
                    &message,
                );
                Err(HandlerError::retryable(st.message))
            }
        }
    }

    /// `-enable-namespace-creation`: create the namespace (labels `mirrored-service`,
    /// `cluster-name`) if the local lister does not have it.
    pub(super) fn mirror_namespace_if_necessary(
        &self,
        ns: &str,
        env: &mut HandlerEnv,
    ) -> Result<(), HandlerError> {
        if env.local.get_by(Kind::Namespace, "", ns).is_some() {
            return Ok(());
        }
        let mut namespace = Namespace::new(ns);
        namespace.metadata.labels = self.bare_mirror_labels();
        match env.api.call(Request::create(namespace)) {
            Ok(_) => {
                self.log(env, "info", format!("Created namespace {ns}"));
                Ok(())
            }
            Err(st) => Err(HandlerError::retryable(st.message)),
        }
    }

    fn handle_remote_service_exported(
        &mut self,
        obj: &Arc<Object>,
        env: &mut HandlerEnv,
    ) -> Result<(), HandlerError> {
        let remote = as_service(obj)?;
        let name = remote.metadata.name.clone();
        let ns = remote.metadata.namespace.clone();
        let rd = self.is_remote_discovery(&remote.metadata.labels);
        if self.cfg.enable_headless
            && remote.is_headless()
            && !(rd && self.cfg.fixes.has(Fix::HeadlessRemoteDiscoveryMirrors))
        {
            if !self.cfg.fixes.has(Fix::HeadlessExportStatus) {
                status::failed(
                    &self.cfg,
                    env,
                    Section::Mirror,
                    &name,
                    &ns,
                    status::REASON_INVALID_SERVICE,
                    "Headless mirror services are disabled",
                );
            }
            return Ok(());
        }
        let local_name = self.mirror_name(&name);
        if self.cfg.breakages.has(Breakage::EndpointsBeforeService)
            && env
                .local
                .get_by(Kind::Endpoints, &ns, &local_name)
                .is_some()
        {
            // Broken variant: "Endpoints exist, so the mirror is complete".
            return Ok(());
        }
        if !self.ensure_namespace(obj, Section::Mirror, env)? {
            return Ok(());
        }
        let mut svc = Service::new(&ns, &local_name);
        svc.metadata.annotations = self.mirror_annotations(remote);
        svc.metadata.labels = self.mirror_labels(remote);
        svc.spec.ports = Self::remap_ports(&remote.spec.ports);
        self.log(
            env,
            "info",
            format!("Creating a new service mirror for {ns}/{name}"),
        );
        match env.api.call(Request::create(svc)) {
            Ok(_) => {}
            Err(st) if st.reason == crate::k8s::StatusReason::AlreadyExists => {}
            Err(st) => {
                status::failed(
                    &self.cfg,
                    env,
                    Section::Mirror,
                    &name,
                    &ns,
                    status::REASON_ERROR,
                    &format!("Failed to create mirror service: {}", st.message),
                );
                return Err(HandlerError::retryable(st.message));
            }
        }
        if !rd && let Err(e) = self.create_gateway_endpoints(remote, env) {
            status::failed(
                &self.cfg,
                env,
                Section::Mirror,
                &name,
                &ns,
                status::REASON_ERROR,
                &format!("Failed to create mirror endpoints: {e}"),
            );
            return Err(e);
        }
        status::mirrored(
            &self.cfg,
            env,
            Section::Mirror,
            &name,
            &ns,
            (&ns, &local_name),
        );
        Ok(())
    }

    // -----------------------------------------------------------------------------------------
    // RemoteExportedServiceUpdated (§6.3)
    // -----------------------------------------------------------------------------------------

    fn handle_remote_exported_service_updated(
        &mut self,
        obj: &Arc<Object>,
        env: &mut HandlerEnv,
    ) -> Result<(), HandlerError> {
        let remote = as_service(obj)?;
        let name = remote.metadata.name.clone();
        let ns = remote.metadata.namespace.clone();
        let local_name = self.mirror_name(&name);
        let Some(local_svc) = env
            .local
            .get_by(Kind::Service, &ns, &local_name)
            .and_then(|o| o.as_service())
            .cloned()
        else {
            env.enqueue
                .push(MirrorEvent::RemoteServiceExported(obj.clone()));
            return Ok(());
        };
        let local_eps = env
            .local
            .get_by(Kind::Endpoints, &ns, &local_name)
            .and_then(|o| o.as_endpoints())
            .cloned();
        self.log(
            env,
            "info",
            format!("Updating mirror service {ns}/{local_name}"),
        );
        let fail = |this: &Self, env: &mut HandlerEnv, what: &str, msg: String| {
            let message = format!("Failed to update mirror {what}: {msg}");
            status::failed(
                &this.cfg,
                env,
                Section::Mirror,
                &name,
                &ns,
                status::REASON_ERROR,
                &message,
            );
        };
        if self.is_remote_discovery(&remote.metadata.labels) {
            if local_eps.is_some() {
                let key = ObjectKey::new(Kind::Endpoints, &ns, &local_name);
                if let Err(st) = env.api.call(Request::delete(key)) {
                    let msg = format!(
                        "failed to delete mirror endpoints for {ns}/{local_name}: {}",
                        st.message
                    );
                    fail(self, env, "endpoints", msg.clone());
                    return Err(HandlerError::retryable(msg));
                }
            }
        } else if local_svc.is_headless() && self.cfg.fixes.has(Fix::HeadlessUpdateKeepsRoot) {
            // The fix leaves a headless root's Endpoints to the headless path, decided on the
            // root Service: whether the lister has seen the root Endpoints yet must not send
            // the update to the "create gateway Endpoints" branch (with create-adopts-existing
            // that adopted the root and overwrote it with the gateway address).
        } else if let Some(eps) = local_eps {
            let addresses = self.resolve_gateway_address(env)?;
            let mut eps = eps;
            let empty = self.cfg.fixes.has(Fix::UpdateChecksEmptyEndpoints)
                && self.is_empty_service(&name, &ns, env);
            eps.subsets = if empty {
                vec![]
            } else {
                vec![crate::k8s::objects::EndpointSubset {
                    addresses,
                    not_ready_addresses: vec![],
                    ports: self.endpoints_ports(&remote.spec.ports),
                }]
            };
            eps.metadata.annotations.insert(
                ANN_REMOTE_GATEWAY_IDENTITY.to_string(),
                self.cfg.link.spec.gateway_identity.clone(),
            );
            // Labels follow the Service's (propagated to Endpoints since #13583).
            eps.metadata.labels = self.mirror_labels(remote);
            if let Err(msg) = self.update_mirror_endpoints(eps, env) {
                fail(self, env, "endpoints", msg.clone());
                return Err(HandlerError::retryable(msg));
            }
        } else if let Err(e) = self.create_gateway_endpoints(remote, env) {
            fail(self, env, "endpoints", e.to_string());
            return Err(e);
        }

        let mut updated = local_svc;
        updated.metadata.labels = self.mirror_labels(remote);
        updated.metadata.annotations = self.mirror_annotations(remote);
        updated.spec.ports = Self::remap_ports(&remote.spec.ports);
        if let Err(st) = env.api.call(Request::update(updated)) {
            fail(self, env, "service", st.message.clone());
            return Err(HandlerError::retryable(st.message));
        }
        status::mirrored(
            &self.cfg,
            env,
            Section::Mirror,
            &name,
            &ns,
            (&ns, &local_name),
        );
        Ok(())
    }

    // -----------------------------------------------------------------------------------------
    // RemoteServiceUnexported (§5.6)
    // -----------------------------------------------------------------------------------------

    fn handle_remote_service_unexported(
        &mut self,
        name: &str,
        ns: &str,
        env: &mut HandlerEnv,
    ) -> Result<(), HandlerError> {
        status::delete(&self.cfg, env, Section::Mirror, name, ns);
        let local_name = self.mirror_name(name);
        let Some(local) = env.local.get_by(Kind::Service, ns, &local_name).cloned() else {
            return Ok(());
        };
        if self.cfg.fixes.has(Fix::UnexportChecksOwnership) && !self.owns(&local) {
            self.log(
                env,
                "warn",
                format!("Not deleting {ns}/{local_name}: not a mirror of this link"),
            );
            return Ok(());
        }
        let mut errors = vec![];
        if local.as_service().is_some_and(Service::is_headless) {
            let mirrors = if self.cfg.fixes.has(Fix::HeadlessUnexportListsApi) {
                self.endpoint_mirrors_from_api(ns, &local_name, env)?
            } else {
                self.endpoint_mirrors(ns, &local_name, env)
            };
            for em in mirrors {
                if let Err(st) = api_delete(env, Kind::Service, ns, em.name())
                    && !st.is_not_found()
                {
                    errors.push(format!(
                        "could not delete endpoint mirror {ns}/{}: {}",
                        em.name(),
                        st.message
                    ));
                }
            }
        }
        self.log(
            env,
            "info",
            format!("Deleting mirrored service {ns}/{local_name}"),
        );
        if let Err(st) = api_delete(env, Kind::Service, ns, &local_name)
            && !st.is_not_found()
        {
            errors.push(format!(
                "could not delete service: {ns}/{local_name}: {}",
                st.message
            ));
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(HandlerError::Retryable(errors))
        }
    }

    /// Whether a local object carries this Link's mirror labels.
    pub(super) fn owns(&self, obj: &Object) -> bool {
        let l = obj.labels();
        l.contains_key(LABEL_MIRRORED_SERVICE)
            && l.get(LABEL_CLUSTER_NAME).map(String::as_str) == Some(self.target())
    }

    /// Local (lister) endpoint-mirror Services of root `root` in namespace `ns` (#15201).
    pub(super) fn endpoint_mirrors(
        &self,
        ns: &str,
        root: &str,
        env: &HandlerEnv,
    ) -> Vec<Arc<Object>> {
        env.local
            .list(Kind::Service, Some(ns))
            .into_iter()
            .filter(|s| {
                s.labels()
                    .get(LABEL_HEADLESS_MIRROR_SVC_NAME)
                    .map(String::as_str)
                    == Some(root)
            })
            .cloned()
            .collect()
    }

    /// Fix `headless-unexport-lists-api`: the endpoint mirrors of root `root` in `ns` as the
    /// API server has them (a LIST with the `headless-mirror-svc-name` selector), so one created
    /// moments ago is found even when the lister has not seen it yet.
    fn endpoint_mirrors_from_api(
        &self,
        ns: &str,
        root: &str,
        env: &mut HandlerEnv,
    ) -> Result<Vec<Arc<Object>>, HandlerError> {
        match env.api.call(Request::List {
            kind: Kind::Service,
            namespace: Some(ns.to_string()),
            selector: Some(LabelSelector::eq([(LABEL_HEADLESS_MIRROR_SVC_NAME, root)])),
        }) {
            Ok(crate::k8s::Response::List { items, .. }) => Ok(items),
            Ok(_) => Ok(Vec::new()),
            Err(st) => Err(HandlerError::retryable(format!(
                "could not list endpoint mirrors of {ns}/{root}: {}",
                st.message
            ))),
        }
    }

    // -----------------------------------------------------------------------------------------
    // Orphan GC (§9.5), ClusterUnregistered, namespace replay
    // -----------------------------------------------------------------------------------------

    fn mirror_selector(&self) -> LabelSelector {
        if self.cfg.breakages.has(Breakage::MirrorSelectorIgnoresLink) {
            return LabelSelector::eq([(LABEL_MIRRORED_SERVICE, "true")]);
        }
        LabelSelector::eq([
            (LABEL_MIRRORED_SERVICE, "true"),
            (LABEL_CLUSTER_NAME, self.target()),
        ])
    }

    fn cleanup_orphaned_services(&mut self, env: &mut HandlerEnv) -> Result<(), HandlerError> {
        let sel = self.mirror_selector();
        let services: Vec<Arc<Object>> = env
            .local
            .list(Kind::Service, None)
            .into_iter()
            .filter(|s| sel.matches(s.labels()))
            .cloned()
            .collect();
        let mut errors = vec![];
        for svc in services {
            let root = svc.labels().get(LABEL_HEADLESS_MIRROR_SVC_NAME).cloned();
            let mirrored = match root {
                Some(root)
                    if !self
                        .cfg
                        .breakages
                        .has(Breakage::OrphanGcIgnoresHeadlessRoot) =>
                {
                    root
                }
                _ => svc.name().to_string(),
            };
            let remote_name = remote_name_of(&mirrored, self.target());
            if env
                .remote
                .get_by(Kind::Service, svc.namespace(), &remote_name)
                .is_some()
            {
                continue;
            }
            match api_delete(env, Kind::Service, svc.namespace(), svc.name()) {
                Ok(()) => self.log(
                    env,
                    "info",
                    format!(
                        "Deleted service {}/{} while cleaning up mirror services",
                        svc.namespace(),
                        svc.name()
                    ),
                ),
                Err(st) => errors.push(st.message),
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(HandlerError::Retryable(errors))
        }
    }

    fn cleanup_mirrored_resources(&mut self, env: &mut HandlerEnv) -> Result<(), HandlerError> {
        let sel = self.mirror_selector();
        let mut errors = vec![];
        for kind in [Kind::Service, Kind::Endpoints] {
            let objs: Vec<Arc<Object>> = env
                .local
                .list(kind, None)
                .into_iter()
                .filter(|s| sel.matches(s.labels()))
                .cloned()
                .collect();
            for o in objs {
                match api_delete(env, kind, o.namespace(), o.name()) {
                    Ok(()) => self.log(
                        env,
                        "info",
                        format!("Deleted {} {}/{}", kind.resource(), o.namespace(), o.name()),
                    ),
                    Err(st) if st.is_not_found() => {}
                    Err(st) => errors.push(format!(
                        "Could not delete {} {}/{}: {}",
                        kind.resource(),
                        o.namespace(),
                        o.name(),
                        st.message
                    )),
                }
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(HandlerError::Retryable(errors))
        }
    }

    fn handle_local_namespace_added(
        &mut self,
        ns: &Arc<Object>,
        env: &mut HandlerEnv,
    ) -> Result<(), HandlerError> {
        for svc in env.remote.list(Kind::Service, Some(ns.name())) {
            env.enqueue.push(MirrorEvent::OnAddCalled(svc.clone()));
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers shared by the handler files
// ---------------------------------------------------------------------------------------------

/// The Service inside an event, or a non-retryable error for a wrong kind (Go's type switch
/// would have dropped such an object earlier).
pub(super) fn as_service(obj: &Object) -> Result<&Service, HandlerError> {
    obj.as_service().ok_or_else(|| {
        HandlerError::Fatal(format!(
            "expected a Service, got {} {}",
            obj.kind(),
            obj.key()
        ))
    })
}

pub(super) fn as_endpoints(obj: &Object) -> Result<&Endpoints, HandlerError> {
    obj.as_endpoints().ok_or_else(|| {
        HandlerError::Fatal(format!(
            "expected Endpoints, got {} {}",
            obj.kind(),
            obj.key()
        ))
    })
}

/// GET through the API; NotFound is `Ok(None)`.
pub(super) fn api_get(
    env: &mut HandlerEnv,
    kind: Kind,
    ns: &str,
    name: &str,
) -> Result<Option<Arc<Object>>, Status> {
    match env.api.call(Request::get(kind, ns, name)) {
        Ok(Response::Object(o)) => Ok(Some(o)),
        Ok(_) => Ok(None),
        Err(st) if st.is_not_found() => Ok(None),
        Err(st) => Err(st),
    }
}

pub(super) fn api_delete(
    env: &mut HandlerEnv,
    kind: Kind,
    ns: &str,
    name: &str,
) -> Result<(), Status> {
    env.api
        .call(Request::delete(ObjectKey::new(kind, ns, name)))
        .map(|_| ())
}

/// The created object (as stored) or the error.
pub(super) fn api_create(
    env: &mut HandlerEnv,
    obj: impl Into<Object>,
) -> Result<Arc<Object>, Status> {
    match env.api.call(Request::create(obj)) {
        Ok(Response::Object(o)) => Ok(o),
        Ok(other) => Err(Status::internal(&format!("unexpected response {other:?}"))),
        Err(st) => Err(st),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::k8s::informer::{DeletedFinalStateUnknown, DeletedObject};
    use crate::k8s::objects::Link;
    use crate::k8s::selector::{LabelSelectorRequirement, Operator};

    fn watcher(gateway: &str) -> ClusterWatcher {
        let mut link = Link::default();
        link.spec.target_cluster_name = "east".into();
        link.spec.gateway_address = gateway.into();
        ClusterWatcher::new(LinkConfig::new(link.with_defaults()))
    }

    fn obj(kind: Kind, labels: &[(&str, &str)]) -> Arc<Object> {
        let mut meta = ObjectMeta::named("default", "web");
        meta = meta.with_labels(labels.iter().copied());
        Arc::new(match kind {
            Kind::Service => Object::Service(Service {
                metadata: meta,
                ..Service::default()
            }),
            _ => Object::Endpoints(Endpoints {
                metadata: meta,
                subsets: vec![],
            }),
        })
    }

    const EXPORTED: (&str, &str) = ("mirror.linkerd.io/exported", "true");

    #[test]
    fn nil_empty_and_invalid_selectors_match_nothing() {
        let labels = StringMap::from([("a".to_string(), "b".to_string())]);
        assert!(!ClusterWatcher::selects(&None, &labels));
        assert!(!ClusterWatcher::selects(
            &Some(LabelSelector::default()),
            &labels
        ));
        let invalid = LabelSelector {
            match_labels: Default::default(),
            match_expressions: vec![LabelSelectorRequirement {
                key: "a".into(),
                operator: Operator::In,
                values: vec![],
            }],
        };
        assert!(!ClusterWatcher::selects(&Some(invalid), &labels));
        assert!(ClusterWatcher::selects(
            &Some(LabelSelector::eq([("a", "b")])),
            &labels
        ));
    }

    #[test]
    fn service_handler_maps_every_delta_and_unwraps_tombstones() {
        let w = watcher("1.2.3.4");
        let s = obj(Kind::Service, &[]);
        assert!(matches!(
            w.on_remote_service(&Delta::Added(s.clone()))[..],
            [MirrorEvent::OnAddCalled(_)]
        ));
        assert!(matches!(
            w.on_remote_service(&Delta::Updated {
                old: s.clone(),
                new: s.clone()
            })[..],
            [MirrorEvent::OnUpdateCalled(_)]
        ));
        let tomb = Delta::Deleted(DeletedObject::Tombstone(DeletedFinalStateUnknown {
            key: s.key(),
            obj: s.clone(),
        }));
        assert!(matches!(
            w.on_remote_service(&tomb)[..],
            [MirrorEvent::OnDeleteCalled(_)]
        ));
        assert!(w.on_remote_service(&Delta::Synced).is_empty());
        assert!(
            w.on_remote_service(&Delta::Added(obj(Kind::Endpoints, &[])))
                .is_empty()
        );
    }

    #[test]
    fn endpoints_handler_filters_like_linkerd() {
        let w = watcher("1.2.3.4");
        let plain = obj(Kind::Endpoints, &[EXPORTED]);
        let headless = obj(Kind::Endpoints, &[EXPORTED, (LABEL_K8S_HEADLESS, "")]);
        let unexported = obj(Kind::Endpoints, &[(LABEL_K8S_HEADLESS, "")]);
        let rd = obj(
            Kind::Endpoints,
            &[("mirror.linkerd.io/exported", "remote-discovery")],
        );
        // Add: exported headless Endpoints only.
        assert!(
            w.on_remote_endpoints(&Delta::Added(plain.clone()))
                .is_empty()
        );
        assert_eq!(
            w.on_remote_endpoints(&Delta::Added(headless.clone())).len(),
            1
        );
        assert!(
            w.on_remote_endpoints(&Delta::Added(unexported.clone()))
                .is_empty()
        );
        // Update: any exported, non-remote-discovery Endpoints.
        let upd = |o: &Arc<Object>| Delta::Updated {
            old: o.clone(),
            new: o.clone(),
        };
        assert_eq!(w.on_remote_endpoints(&upd(&plain)).len(), 1);
        assert_eq!(w.on_remote_endpoints(&upd(&headless)).len(), 1);
        assert!(w.on_remote_endpoints(&upd(&unexported)).is_empty());
        assert!(w.on_remote_endpoints(&upd(&rd)).is_empty());
        // No delete handler.
        let del = Delta::Deleted(DeletedObject::Final(plain));
        assert!(w.on_remote_endpoints(&del).is_empty());
    }

    #[test]
    fn startup_is_gc_then_repair_only_with_a_gateway() {
        assert_eq!(
            watcher("1.2.3.4").startup_events(),
            [
                MirrorEvent::OrphanedServicesGcTriggered,
                MirrorEvent::RepairEndpoints
            ]
        );
        assert_eq!(
            watcher("").startup_events(),
            [MirrorEvent::OrphanedServicesGcTriggered]
        );
    }

    #[test]
    fn mirror_metadata_rules() {
        let w = watcher("1.2.3.4");
        let mut remote = Service::new("ns", "web");
        remote.metadata.resource_version = "7".into();
        remote.metadata.labels = StringMap::from([
            ("mirror.linkerd.io/exported".to_string(), "true".to_string()),
            ("app".to_string(), "web".to_string()),
        ]);
        remote.metadata.annotations =
            StringMap::from([(ANN_TOPOLOGY_MODE.to_string(), "Auto".to_string())]);
        let labels = w.mirror_labels(&remote);
        assert_eq!(
            labels.get(LABEL_CLUSTER_NAME).map(String::as_str),
            Some("east")
        );
        assert_eq!(
            labels.get(LABEL_MIRRORED_SERVICE).map(String::as_str),
            Some("true")
        );
        assert!(!labels.contains_key("mirror.linkerd.io/exported"));
        let ann = w.mirror_annotations(&remote);
        assert!(!ann.contains_key(ANN_TOPOLOGY_MODE));
        assert_eq!(
            ann.get(ANN_REMOTE_RESOURCE_VERSION).map(String::as_str),
            Some("7")
        );
        assert_eq!(
            ann.get(ANN_REMOTE_SVC_FQ_NAME).map(String::as_str),
            Some("web.ns.svc.cluster.local")
        );
    }
}
