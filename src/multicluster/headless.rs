//! Headless (StatefulSet) mirrors (spec §7): a headless root mirror `<svc>-<link>` whose
//! Endpoints map each remote hostname to the ClusterIP of an endpoint mirror
//! `<hostname>-<link>`, itself a gateway-mode mirror.
//!
//! Owns: the `impl ClusterWatcher` block of `createOrUpdateHeadlessEndpoints` and its helpers.
//! Inputs: remote headless Endpoints events, the remote Service cache, local listers.
//! Outputs: Service/Endpoints writes through the local API, remote Events. Must not touch:
//! non-headless mirrors except creating a ClusterIP mirror for a headless Service without
//! named addresses (§7.1).

use super::config::Fix;
use super::env::{HandlerEnv, HandlerError};
use super::names::*;
use super::status::{self, Section};
use super::watcher::{ClusterWatcher, api_create, api_delete, api_get};
use crate::k8s::StatusReason;
use crate::k8s::objects::{
    CLUSTER_IP_NONE, EndpointAddress, EndpointSubset, Endpoints, Kind, Object, Service,
};
use std::collections::BTreeSet;
use std::sync::Arc;

/// `shouldExportAsHeadlessService`: at least one address (ready or not) has a hostname.
fn should_export_as_headless(ep: &Endpoints) -> bool {
    ep.subsets.iter().any(|s| {
        s.addresses
            .iter()
            .chain(s.not_ready_addresses.iter())
            .any(|a| !a.hostname.is_empty())
    })
}

/// What `createRemoteHeadlessService` produced.
enum RootMirror {
    /// A stored Service (created now, or found in the lister) and whether it is headless.
    Service { headless: bool },
    /// Go's empty `&corev1.Service{}`: nothing was created, but the caller carries on as if a
    /// ClusterIP mirror existed (§7.1 quirks).
    Placeholder,
    /// The `headless-empty-waits` / `headless-missing-namespace-skips` fixes: stop here.
    Stop,
}

impl ClusterWatcher {
    pub(super) fn create_or_update_headless_endpoints(
        &mut self,
        exported: &Endpoints,
        env: &mut HandlerEnv,
    ) -> Result<(), HandlerError> {
        let ns = exported.metadata.namespace.clone();
        let name = exported.metadata.name.clone();
        let Some(remote_obj) = env.remote.get_by(Kind::Service, &ns, &name).cloned() else {
            // A plain error in Go: "will not retry".
            return Err(HandlerError::Fatal(format!(
                "error retrieving exported service {ns}/{name}: services \"{name}\" not found"
            )));
        };
        let Some(remote) = remote_obj.as_service().cloned() else {
            return Ok(());
        };
        if self.cfg.fixes.has(Fix::HeadlessEndpointsCheckService)
            && !self.is_exported(&remote.metadata.labels)
        {
            // The Endpoints' labels (a copy of the Service's) say exported, the Service no
            // longer does: stale labels or an older version replayed; the Service decides.
            self.log(
                env,
                "info",
                format!("Skipped headless endpoints of {ns}/{name}: the service is not exported"),
            );
            return Ok(());
        }
        if remote.spec.ports.is_empty() {
            self.record_event(
                env,
                &remote_obj,
                EVENT_REASON_SKIPPED,
                "Skipped mirroring service: object spec has no exposed ports",
            );
            self.log(
                env,
                "info",
                format!(
                    "Skipped creating headless mirror for {ns}/{name}: service object spec has no exposed ports"
                ),
            );
            return Ok(());
        }
        let root_name = self.mirror_name(&name);
        let root = match env
            .local
            .get_by(Kind::Service, &ns, &root_name)
            .and_then(|o| o.as_service())
        {
            Some(s) => RootMirror::Service {
                headless: s.is_headless(),
            },
            None => self.create_remote_headless_service(&remote_obj, &remote, exported, env)?,
        };
        let root_headless = match &root {
            RootMirror::Service { headless } => *headless,
            RootMirror::Placeholder => false,
            RootMirror::Stop => return Ok(()),
        };
        let Some(root_eps) = env
            .local
            .get_by(Kind::Endpoints, &ns, &root_name)
            .and_then(|o| o.as_endpoints())
            .cloned()
        else {
            if !root_headless {
                return self.create_gateway_endpoints(&remote, env);
            }
            return self.create_headless_mirror_endpoints(&remote, exported, env);
        };
        if !root_headless {
            return Ok(());
        }

        // Update: reuse or create endpoint mirrors for every ready named address.
        let mut wanted: BTreeSet<String> = BTreeSet::new();
        let mut subsets = vec![];
        for subset in &exported.subsets {
            let mut addresses = vec![];
            for addr in &subset.addresses {
                if addr.hostname.is_empty() {
                    continue;
                }
                let em_name = self.mirror_name(&addr.hostname);
                let cluster_ip = match env
                    .local
                    .get_by(Kind::Service, &ns, &em_name)
                    .and_then(|o| o.as_service())
                {
                    Some(s) => s.spec.cluster_ip.clone(),
                    None => {
                        self.create_endpoint_mirror_service(
                            &addr.hostname,
                            &exported.metadata.resource_version,
                            &em_name,
                            &remote,
                            env,
                        )?
                        .spec
                        .cluster_ip
                    }
                };
                wanted.insert(em_name);
                addresses.push(EndpointAddress {
                    ip: cluster_ip,
                    hostname: addr.hostname.clone(),
                    ..EndpointAddress::default()
                });
            }
            if addresses.is_empty() {
                continue;
            }
            subsets.push(EndpointSubset {
                addresses,
                not_ready_addresses: vec![],
                ports: subset.ports.clone(),
            });
        }
        let mut errors = vec![];
        for em in self.endpoint_mirrors(&ns, &root_name, env) {
            if wanted.contains(em.name()) {
                continue;
            }
            if let Err(st) = api_delete(env, Kind::Service, &ns, em.name())
                && !st.is_not_found()
            {
                errors.push(format!(
                    "error deleting Endpoint Mirror service {ns}/{}: {}",
                    em.name(),
                    st.message
                ));
            }
        }
        if !errors.is_empty() {
            return Err(HandlerError::Retryable(errors));
        }
        let mut ep = root_eps;
        ep.subsets = subsets;
        let written = if self.cfg.fixes.has(Fix::HeadlessRootAlwaysReady) {
            self.update_endpoints(ep, env).map_err(|st| st.message)
        } else {
            self.update_mirror_endpoints(ep, env)
        };
        written.map_err(|m| HandlerError::Retryable(vec![m]))
    }

    /// `createRemoteHeadlessService` (§7.1).
    fn create_remote_headless_service(
        &self,
        remote_obj: &Arc<Object>,
        remote: &Service,
        exported: &Endpoints,
        env: &mut HandlerEnv,
    ) -> Result<RootMirror, HandlerError> {
        let ns = &remote.metadata.namespace;
        if exported.subsets.is_empty() {
            if self.cfg.fixes.has(Fix::HeadlessEmptyWaits) {
                return Ok(RootMirror::Stop);
            }
            return Ok(RootMirror::Placeholder);
        }
        if env.local.get_by(Kind::Namespace, "", ns).is_none() {
            self.log(
                env,
                "warn",
                format!(
                    "Skipping mirroring of service {ns}/{}: namespace {ns} does not exist",
                    remote.metadata.name
                ),
            );
            if self.cfg.fixes.has(Fix::HeadlessMissingNamespaceSkips) {
                self.record_event(
                    env,
                    remote_obj,
                    EVENT_REASON_SKIPPED,
                    "Skipped mirroring service: namespace does not exist",
                );
                status::failed(
                    &self.cfg,
                    env,
                    Section::Mirror,
                    &remote.metadata.name,
                    ns,
                    status::REASON_MISSING_NAMESPACE,
                    "Namespace does not exist",
                );
                return Ok(RootMirror::Stop);
            }
            return Ok(RootMirror::Placeholder);
        }
        let local_name = self.mirror_name(&remote.metadata.name);
        let mut svc = Service::new(ns, &local_name);
        svc.metadata.annotations = self.mirror_annotations(remote);
        svc.metadata.labels = self.mirror_labels(remote);
        svc.spec.ports = Self::remap_ports(&remote.spec.ports);
        if should_export_as_headless(exported) {
            svc.spec.cluster_ip = CLUSTER_IP_NONE.to_string();
            self.log(
                env,
                "info",
                format!(
                    "Creating a new headless service mirror for {ns}/{}",
                    remote.metadata.name
                ),
            );
        } else {
            self.log(
                env,
                "info",
                format!(
                    "Creating a new service mirror for {ns}/{}",
                    remote.metadata.name
                ),
            );
        }
        match api_create(env, svc) {
            Ok(o) => match o.as_service() {
                Some(s) => Ok(RootMirror::Service {
                    headless: s.is_headless(),
                }),
                None => Ok(RootMirror::Placeholder),
            },
            // Go returns the AlreadyExists error itself: not retryable.
            Err(st) if st.reason == StatusReason::AlreadyExists => {
                Err(HandlerError::Fatal(st.message))
            }
            Err(st) => Err(HandlerError::retryable(st.message)),
        }
    }

    /// `createHeadlessMirrorEndpoints` (§7.2): endpoint mirrors for ready named addresses,
    /// then the root Endpoints (created directly, always ready).
    fn create_headless_mirror_endpoints(
        &self,
        remote: &Service,
        exported: &Endpoints,
        env: &mut HandlerEnv,
    ) -> Result<(), HandlerError> {
        let ns = remote.metadata.namespace.clone();
        let mut subsets = vec![];
        for subset in &exported.subsets {
            let mut addresses = vec![];
            for addr in &subset.addresses {
                if addr.hostname.is_empty() {
                    continue;
                }
                let em_name = self.mirror_name(&addr.hostname);
                let created = match self.create_endpoint_mirror_service(
                    &addr.hostname,
                    &exported.metadata.resource_version,
                    &em_name,
                    remote,
                    env,
                ) {
                    Ok(s) => s,
                    Err(e) => {
                        self.log(
                            env,
                            "error",
                            format!(
                                "error creating endpoint mirror service {em_name}/{ns} for exported headless service {ns}/{}: {e}",
                                remote.metadata.name
                            ),
                        );
                        continue;
                    }
                };
                let hostname = if self.cfg.fixes.has(Fix::HeadlessCreateUsesHostname) {
                    addr.hostname.clone()
                } else {
                    match &addr.target_ref {
                        Some(r) => r.name.clone(),
                        None => {
                            return Err(HandlerError::Crash(format!(
                                "runtime error: invalid memory address or nil pointer dereference (address {} of {ns}/{} has no targetRef)",
                                addr.ip, exported.metadata.name
                            )));
                        }
                    }
                };
                addresses.push(EndpointAddress {
                    ip: created.spec.cluster_ip,
                    hostname,
                    ..EndpointAddress::default()
                });
            }
            if addresses.is_empty() {
                continue;
            }
            subsets.push(EndpointSubset {
                addresses,
                not_ready_addresses: vec![],
                ports: subset.ports.clone(),
            });
        }
        let root_name = self.mirror_name(&remote.metadata.name);
        let mut ep = Endpoints::new(&ns, &root_name);
        ep.metadata.labels = self.bare_mirror_labels();
        ep.metadata.annotations.insert(
            ANN_REMOTE_SVC_FQ_NAME.to_string(),
            self.fq_name(&remote.metadata.name, &ns),
        );
        if !self.cfg.link.spec.gateway_identity.is_empty() {
            ep.metadata.annotations.insert(
                ANN_REMOTE_GATEWAY_IDENTITY.to_string(),
                self.cfg.link.spec.gateway_identity.clone(),
            );
        }
        ep.subsets = subsets;
        self.log(
            env,
            "info",
            format!("Creating a new headless mirror endpoints object for headless mirror {root_name}/{ns}"),
        );
        let desired = self
            .cfg
            .fixes
            .has(Fix::CreateAdoptsExisting)
            .then(|| ep.clone());
        if let Err(st) = api_create(env, ep) {
            if st.reason == StatusReason::AlreadyExists
                && let Some(d) = desired
            {
                return self
                    .adopt_mirror_endpoints(d, env)
                    .map_err(|m| HandlerError::Retryable(vec![m]));
            }
            if let Err(del) = api_delete(env, Kind::Service, &ns, &root_name) {
                self.log(
                    env,
                    "error",
                    format!(
                        "failed to delete Service {root_name} after Endpoints creation failed: {}",
                        del.message
                    ),
                );
            }
            return Err(HandlerError::retryable(st.message));
        }
        Ok(())
    }

    /// `createEndpointMirrorService` (§7.2 step 2): ClusterIP Service `<hostname>-<link>` and
    /// its gateway Endpoints (liveness rule applied). Returns the created Service (an empty
    /// one when it already existed, as client-go returns on error).
    fn create_endpoint_mirror_service(
        &self,
        hostname: &str,
        resource_version: &str,
        em_name: &str,
        remote: &Service,
        env: &mut HandlerEnv,
    ) -> Result<Service, HandlerError> {
        let addresses = self.resolve_gateway_address(env)?;
        let ns = remote.metadata.namespace.clone();
        let fq = format!(
            "{hostname}.{}.{ns}.svc.{}",
            remote.metadata.name, self.cfg.link.spec.target_cluster_domain
        );
        let mut labels = self.bare_mirror_labels();
        labels.insert(
            LABEL_HEADLESS_MIRROR_SVC_NAME.to_string(),
            self.mirror_name(&remote.metadata.name),
        );
        let mut svc = Service::new(&ns, em_name);
        svc.metadata.labels = labels.clone();
        svc.metadata.annotations.insert(
            ANN_REMOTE_RESOURCE_VERSION.to_string(),
            resource_version.to_string(),
        );
        svc.metadata
            .annotations
            .insert(ANN_REMOTE_SVC_FQ_NAME.to_string(), fq.clone());
        svc.spec.ports = Self::remap_ports(&remote.spec.ports);
        let mut ep = Endpoints::new(&ns, em_name);
        ep.metadata.labels = labels;
        ep.metadata
            .annotations
            .insert(ANN_REMOTE_SVC_FQ_NAME.to_string(), fq);
        if !self.cfg.link.spec.gateway_identity.is_empty() {
            ep.metadata.annotations.insert(
                ANN_REMOTE_GATEWAY_IDENTITY.to_string(),
                self.cfg.link.spec.gateway_identity.clone(),
            );
        }
        ep.subsets = vec![EndpointSubset {
            addresses,
            not_ready_addresses: vec![],
            ports: self.endpoints_ports(&remote.spec.ports),
        }];
        self.log(
            env,
            "info",
            format!(
                "Creating a new endpoint mirror service {ns}/{em_name} for exported headless service {ns}/{}",
                remote.metadata.name
            ),
        );
        let created = match api_create(env, svc) {
            Ok(o) => o.as_service().cloned().unwrap_or_default(),
            Err(st)
                if st.reason == StatusReason::AlreadyExists
                    && self.cfg.fixes.has(Fix::CreateAdoptsExisting) =>
            {
                // The fix: use the existing endpoint mirror (if it is this link's).
                match api_get(env, Kind::Service, &ns, em_name) {
                    Ok(Some(o)) if self.owns(&o) => o.as_service().cloned().unwrap_or_default(),
                    Ok(_) => return Err(HandlerError::Fatal(st.message)),
                    Err(e) => return Err(HandlerError::retryable(e.message)),
                }
            }
            Err(st) if st.reason == StatusReason::AlreadyExists => Service::default(),
            Err(st) => return Err(HandlerError::retryable(st.message)),
        };
        if let Err(msg) = self.create_mirror_endpoints(ep, env) {
            if let Err(del) = api_delete(env, Kind::Service, &ns, em_name) {
                self.log(
                    env,
                    "error",
                    format!(
                        "Failed to delete service {em_name} after endpoints creation failed: {}",
                        del.message
                    ),
                );
            }
            return Err(HandlerError::Retryable(vec![msg]));
        }
        Ok(created)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_named_address_ready_or_not_makes_it_headless() {
        let mut ep = Endpoints::new("ns", "web");
        assert!(!should_export_as_headless(&ep));
        ep.subsets.push(EndpointSubset {
            addresses: vec![EndpointAddress::ip("10.0.0.1")],
            not_ready_addresses: vec![EndpointAddress {
                ip: "10.0.0.2".into(),
                hostname: "web-1".into(),
                ..EndpointAddress::default()
            }],
            ports: vec![],
        });
        assert!(should_export_as_headless(&ep));
    }
}
