//! Gateway-mode Endpoints (spec §6): creating mirror Endpoints, mirroring remote emptiness
//! transitions, `RepairEndpoints` with the probe Endpoints, gateway address resolution and the
//! liveness → readiness rule.
//!
//! Owns: the `impl ClusterWatcher` blocks for these handlers. Inputs: the handler env (remote
//! Endpoints from the remote cache, gateway DNS through the resolver). Outputs: Endpoints
//! writes through the local API. Must not touch: Services except deleting a mirror whose
//! Endpoints could not be created (§6.1).

use super::config::{Breakage, Fix};
use super::env::{HandlerEnv, HandlerError};
use super::names::*;
use super::watcher::{ClusterWatcher, api_create, api_delete, api_get, as_endpoints};
use crate::k8s::objects::{
    EndpointAddress, EndpointPort, EndpointSubset, Endpoints, Kind, Object, Protocol, Service,
};
use crate::k8s::{LabelSelector, Request, StatusReason};
use std::net::Ipv4Addr;
use std::sync::Arc;

/// `isEmptyEndpoints`: no subsets, or no ready address in any subset.
pub(super) fn is_empty_endpoints(ep: &Endpoints) -> bool {
    ep.subsets.iter().all(|s| s.addresses.is_empty())
}

impl ClusterWatcher {
    /// `resolveGatewayAddress`: each comma-separated item is looked up (IP literals directly,
    /// names through DNS; no trimming); all IPs are used, sorted as strings; failures of some
    /// items are ignored; no IP at all is a `RetryableError` of every lookup error.
    pub(super) fn resolve_gateway_address(
        &self,
        env: &mut HandlerEnv,
    ) -> Result<Vec<EndpointAddress>, HandlerError> {
        let mut ips: Vec<String> = vec![];
        let mut errors = vec![];
        for item in self.cfg.link.spec.gateway_address.split(',') {
            let looked_up = match item.parse::<Ipv4Addr>() {
                Ok(ip) => Ok(vec![ip]),
                Err(_) if item.is_empty() => Err("lookup : no such host".to_string()),
                Err(_) => env.resolver.resolve(item),
            };
            match looked_up {
                Ok(found) => ips.extend(found.iter().map(Ipv4Addr::to_string)),
                Err(e) => {
                    let e = format!("Error resolving '{item}': {e}");
                    self.log(env, "warn", e.clone());
                    errors.push(e);
                }
            }
        }
        if ips.is_empty() {
            return Err(HandlerError::Retryable(errors));
        }
        ips.sort();
        Ok(ips.iter().map(|ip| EndpointAddress::ip(ip)).collect())
    }

    /// `isEmptyService` on the remote cache: Endpoints missing or empty.
    pub(super) fn is_empty_service(&self, name: &str, ns: &str, env: &HandlerEnv) -> bool {
        match env
            .remote
            .get_by(Kind::Endpoints, ns, name)
            .and_then(|o| o.as_endpoints())
        {
            Some(ep) => is_empty_endpoints(ep),
            None => true,
        }
    }

    /// §6.5: when the gateway is considered down, every ready address becomes not-ready.
    fn update_readiness(&self, ep: &mut Endpoints, env: &mut HandlerEnv) {
        if env.gateway_alive {
            return;
        }
        self.log(
            env,
            "warn",
            format!(
                "gateway for {}/{} does not have ready addresses; setting addresses to not ready",
                ep.metadata.namespace, ep.metadata.name
            ),
        );
        for s in &mut ep.subsets {
            let ready = std::mem::take(&mut s.addresses);
            s.not_ready_addresses.extend(ready);
        }
    }

    /// `createMirrorEndpoints`: liveness rule, then CREATE.
    pub(super) fn create_mirror_endpoints(
        &self,
        mut ep: Endpoints,
        env: &mut HandlerEnv,
    ) -> Result<(), String> {
        self.update_readiness(&mut ep, env);
        let (ns, name) = (ep.metadata.namespace.clone(), ep.metadata.name.clone());
        let desired = self
            .cfg
            .fixes
            .has(Fix::CreateAdoptsExisting)
            .then(|| ep.clone());
        match api_create(env, ep) {
            Ok(_) => Ok(()),
            Err(st) if st.reason == StatusReason::AlreadyExists && desired.is_some() => {
                // The fix: mirror Endpoints of this link already exist (an earlier offer of the
                // same export, not yet in the lister): adopt them instead of rolling back.
                match desired {
                    Some(d) => self.adopt_mirror_endpoints(d, env),
                    None => Ok(()),
                }
            }
            Err(st) => Err(format!(
                "failed to create mirror endpoints for {ns}/{name}: {}",
                st.message
            )),
        }
    }

    /// With [`Fix::CreateAdoptsExisting`]: read the existing Endpoints from the API and, if
    /// they are this link's mirror, write the desired subsets over them.
    pub(super) fn adopt_mirror_endpoints(
        &self,
        mut desired: Endpoints,
        env: &mut HandlerEnv,
    ) -> Result<(), String> {
        let (ns, name) = (
            desired.metadata.namespace.clone(),
            desired.metadata.name.clone(),
        );
        let fail = |msg: &str| format!("failed to create mirror endpoints for {ns}/{name}: {msg}");
        let existing = match api_get(env, Kind::Endpoints, &ns, &name) {
            Ok(Some(o)) if self.owns(&o) => o,
            Ok(_) => return Err(fail("already exists and is not a mirror of this link")),
            Err(st) => return Err(fail(&st.message)),
        };
        let Some(existing) = existing.as_endpoints() else {
            return Err(fail("not an Endpoints object"));
        };
        if existing.subsets == desired.subsets
            && existing.metadata.annotations == desired.metadata.annotations
        {
            return Ok(());
        }
        desired.metadata.resource_version = existing.metadata.resource_version.clone();
        env.api
            .call(Request::update(desired))
            .map(|_| ())
            .map_err(|st| fail(&st.message))
    }

    /// `updateMirrorEndpoints`: liveness rule, then UPDATE (with the resourceVersion the
    /// caller read).
    pub(super) fn update_mirror_endpoints(
        &self,
        mut ep: Endpoints,
        env: &mut HandlerEnv,
    ) -> Result<(), String> {
        self.update_readiness(&mut ep, env);
        let (ns, name) = (ep.metadata.namespace.clone(), ep.metadata.name.clone());
        self.update_endpoints(ep, env).map_err(|st| {
            format!(
                "failed to update mirror endpoints for {ns}/{name}: {}",
                st.message
            )
        })
    }

    /// UPDATE of mirror Endpoints read from the lister. With
    /// [`Fix::UpdateRetriesOnConflict`], a conflict (the lister's copy is older than the object,
    /// typically this controller's own previous write) is answered by writing the same content
    /// again over the current object read from the API, if it is this link's.
    pub(super) fn update_endpoints(
        &self,
        ep: Endpoints,
        env: &mut HandlerEnv,
    ) -> Result<(), crate::k8s::Status> {
        let retry = self
            .cfg
            .fixes
            .has(Fix::UpdateRetriesOnConflict)
            .then(|| ep.clone());
        match (env.api.call(Request::update(ep)), retry) {
            (Ok(_), _) => Ok(()),
            (Err(st), Some(mut ep)) if st.reason == StatusReason::Conflict => {
                let (ns, name) = (ep.metadata.namespace.clone(), ep.metadata.name.clone());
                let current = match api_get(env, Kind::Endpoints, &ns, &name)? {
                    Some(o) if self.owns(&o) => o,
                    _ => return Err(st),
                };
                ep.metadata.resource_version = current.meta().resource_version.clone();
                env.api.call(Request::update(ep)).map(|_| ())
            }
            (Err(st), _) => Err(st),
        }
    }

    /// `createGatewayEndpoints` (§6.1 step 5).
    pub(super) fn create_gateway_endpoints(
        &self,
        remote: &Service,
        env: &mut HandlerEnv,
    ) -> Result<(), HandlerError> {
        let name = &remote.metadata.name;
        let ns = &remote.metadata.namespace;
        let empty = self.is_empty_service(name, ns, env);
        let addresses = self.resolve_gateway_address(env)?;
        let local_name = self.mirror_name(name);
        let mut ep = Endpoints::new(ns, &local_name);
        ep.metadata.labels = self.mirror_labels(remote);
        ep.metadata
            .annotations
            .insert(ANN_REMOTE_SVC_FQ_NAME.to_string(), self.fq_name(name, ns));
        let ports = self.endpoints_ports(&remote.spec.ports);
        if !empty && !addresses.is_empty() {
            ep.subsets = vec![EndpointSubset {
                addresses,
                not_ready_addresses: vec![],
                ports,
            }];
        } else if !empty {
            ep.subsets = vec![EndpointSubset {
                addresses: vec![],
                not_ready_addresses: addresses,
                ports,
            }];
        } else {
            self.log(
                env,
                "warn",
                format!("exported service {ns}/{name} is empty"),
            );
        }
        if !self.cfg.link.spec.gateway_identity.is_empty() {
            ep.metadata.annotations.insert(
                ANN_REMOTE_GATEWAY_IDENTITY.to_string(),
                self.cfg.link.spec.gateway_identity.clone(),
            );
        }
        if let Err(msg) = self.create_mirror_endpoints(ep, env) {
            // The fix reads the Service from the API (the lister may not know a user's
            // Service yet) and deletes it only if it carries this link's mirror labels.
            let ours = !self.cfg.fixes.has(Fix::ExportCleanupChecksOwnership)
                || matches!(api_get(env, Kind::Service, ns, &local_name), Ok(Some(s)) if self.owns(&s));
            if ours && let Err(st) = api_delete(env, Kind::Service, ns, &local_name) {
                self.log(
                    env,
                    "error",
                    format!(
                        "Failed to delete service {local_name} after endpoints creation failed: {}",
                        st.message
                    ),
                );
            }
            return Err(HandlerError::Retryable(vec![msg]));
        }
        Ok(())
    }

    /// `handleCreateOrUpdateEndpoints` (§6.2, §7): headless Endpoints go to the headless path
    /// when enabled (else ignored); otherwise only emptiness transitions are mirrored.
    pub(super) fn handle_create_or_update_endpoints(
        &mut self,
        obj: &Arc<Object>,
        env: &mut HandlerEnv,
    ) -> Result<(), HandlerError> {
        let exported = as_endpoints(obj)?;
        if exported.metadata.labels.contains_key(LABEL_K8S_HEADLESS) {
            if self.cfg.enable_headless {
                return self.create_or_update_headless_endpoints(exported, env);
            }
            return Ok(());
        }
        let ns = exported.metadata.namespace.clone();
        let local_name = self.mirror_name(&exported.metadata.name);
        let Some(local) = env
            .local
            .get_by(Kind::Endpoints, &ns, &local_name)
            .and_then(|o| o.as_endpoints())
            .cloned()
        else {
            if self.cfg.breakages.has(Breakage::EndpointsBeforeService) {
                return self.broken_create_endpoints_first(exported, env);
            }
            return Err(HandlerError::retryable(format!(
                "endpoints \"{local_name}\" not found"
            )));
        };
        let local_empty = is_empty_endpoints(&local);
        let remote_empty = is_empty_endpoints(exported);
        if local_empty == remote_empty {
            return Ok(());
        }
        if self.cfg.fixes.has(Fix::EndpointsUpdateChecksOwnership)
            && !self.owns(&Object::Endpoints(local.clone()))
        {
            self.log(
                env,
                "warn",
                format!("Not updating {ns}/{local_name}: not a mirror of this link"),
            );
            return Ok(());
        }
        self.log(
            env,
            "info",
            format!(
                "Updating subsets for mirror endpoint {ns}/{}",
                exported.metadata.name
            ),
        );
        let mut ep = local;
        if remote_empty {
            ep.subsets = vec![];
        } else {
            let Some(svc) = env
                .remote
                .get_by(Kind::Service, &ns, &exported.metadata.name)
                .and_then(|o| o.as_service())
                .cloned()
            else {
                return Err(HandlerError::retryable(format!(
                    "error retrieving exported service {ns}/{}: services \"{}\" not found",
                    exported.metadata.name, exported.metadata.name
                )));
            };
            let addresses = self.resolve_gateway_address(env)?;
            ep.subsets = vec![EndpointSubset {
                addresses,
                not_ready_addresses: vec![],
                ports: self.endpoints_ports(&svc.spec.ports),
            }];
        }
        // A plain error in Go (not a RetryableError): "will not retry".
        self.update_mirror_endpoints(ep, env)
            .map_err(HandlerError::Fatal)
    }

    /// The `endpoints-before-service` breakage: build the mirror Endpoints from the remote
    /// Endpoints event alone.
    fn broken_create_endpoints_first(
        &self,
        exported: &Endpoints,
        env: &mut HandlerEnv,
    ) -> Result<(), HandlerError> {
        let Some(svc) = env
            .remote
            .get_by(
                Kind::Service,
                &exported.metadata.namespace,
                &exported.metadata.name,
            )
            .and_then(|o| o.as_service())
            .cloned()
        else {
            return Ok(());
        };
        self.create_gateway_endpoints(&svc, env)
    }

    /// `RepairEndpoints` (§6.4).
    pub(super) fn repair_endpoints(&mut self, env: &mut HandlerEnv) -> Result<(), HandlerError> {
        self.endpoint_repairs += 1;
        let addresses = self.resolve_gateway_address(env)?;
        if let Err(msg) = self.create_or_update_probe_endpoints(&addresses, env) {
            self.log(
                env,
                "error",
                format!("Failed to create/update gateway mirror endpoints: {msg}"),
            );
        }
        let selector = LabelSelector::eq([
            (LABEL_MIRRORED_SERVICE, "true"),
            (LABEL_CLUSTER_NAME, self.target()),
        ]);
        let services = match env.api.call(Request::List {
            kind: Kind::Service,
            namespace: None,
            selector: Some(selector),
        }) {
            Ok(crate::k8s::Response::List { items, .. }) => items,
            Ok(_) => vec![],
            Err(st) => {
                return Err(HandlerError::retryable(format!(
                    "Failed to list mirror services: {}",
                    st.message
                )));
            }
        };
        for obj in services {
            let Some(svc) = obj.as_service() else {
                continue;
            };
            let (ns, name) = (&svc.metadata.namespace, &svc.metadata.name);
            if svc.is_headless() || svc.metadata.labels.contains_key(LABEL_REMOTE_DISCOVERY) {
                continue;
            }
            let endpoints = match env.local.get_by(Kind::Endpoints, ns, name) {
                Some(e) => e.clone(),
                None => match api_get(env, Kind::Endpoints, ns, name) {
                    Ok(Some(e)) => e,
                    Ok(None) => {
                        self.log(
                            env,
                            "error",
                            format!(
                                "Failed to get local endpoints {ns}/{name}: endpoints \"{name}\" not found"
                            ),
                        );
                        continue;
                    }
                    Err(st) => {
                        self.log(
                            env,
                            "error",
                            format!("Failed to get local endpoints {ns}/{name}: {}", st.message),
                        );
                        continue;
                    }
                },
            };
            let Some(current) = endpoints.as_endpoints() else {
                continue;
            };
            let mut updated = current.clone();
            updated.subsets = vec![EndpointSubset {
                addresses: addresses.clone(),
                not_ready_addresses: vec![],
                ports: self.endpoints_ports(&svc.spec.ports),
            }];
            if !svc
                .metadata
                .labels
                .contains_key(LABEL_HEADLESS_MIRROR_SVC_NAME)
            {
                let target = remote_name_of(name, self.target());
                if self.is_empty_service(&target, ns, env) {
                    self.log(
                        env,
                        "warn",
                        format!("Exported service {ns}/{target} is empty"),
                    );
                    updated.subsets = vec![];
                }
            }
            updated.metadata.annotations.insert(
                ANN_REMOTE_GATEWAY_IDENTITY.to_string(),
                self.cfg.link.spec.gateway_identity.clone(),
            );
            if self.cfg.fixes.has(Fix::RepairSkipsUnchanged) {
                let mut expected = updated.clone();
                if !env.gateway_alive {
                    for s in &mut expected.subsets {
                        let ready = std::mem::take(&mut s.addresses);
                        s.not_ready_addresses.extend(ready);
                    }
                }
                if expected == *current {
                    continue;
                }
            }
            if let Err(msg) = self.update_mirror_endpoints(updated, env) {
                self.log(env, "error", msg);
            }
        }
        Ok(())
    }

    /// The probe ("gateway mirror") Endpoints in the controller namespace: gateway IPs, port
    /// `mc-probe`, never marked not-ready. GET, then CREATE or (unconditional) UPDATE.
    fn create_or_update_probe_endpoints(
        &self,
        addresses: &[EndpointAddress],
        env: &mut HandlerEnv,
    ) -> Result<(), String> {
        if self.cfg.probe_service.is_empty() {
            return Ok(());
        }
        let port = self
            .cfg
            .link
            .spec
            .probe_spec
            .port
            .parse::<i32>()
            .map_err(|_| {
                format!(
                    "invalid probe port \"{}\"",
                    self.cfg.link.spec.probe_spec.port
                )
            })?;
        let mut ep = Endpoints::new(&self.cfg.controller_namespace, &self.cfg.probe_service);
        ep.metadata
            .labels
            .insert(LABEL_CLUSTER_NAME.to_string(), self.target().to_string());
        ep.metadata.annotations.insert(
            ANN_REMOTE_GATEWAY_IDENTITY.to_string(),
            self.cfg.link.spec.gateway_identity.clone(),
        );
        ep.subsets = vec![EndpointSubset {
            addresses: addresses.to_vec(),
            not_ready_addresses: vec![],
            ports: vec![EndpointPort {
                name: "mc-probe".to_string(),
                port,
                protocol: Protocol::Tcp,
                app_protocol: None,
            }],
        }];
        let ns = self.cfg.controller_namespace.clone();
        let name = self.cfg.probe_service.clone();
        match api_get(env, Kind::Endpoints, &ns, &name) {
            Err(st) => Err(st.message),
            Ok(None) => api_create(env, ep).map(|_| ()).map_err(|st| st.message),
            Ok(Some(_)) => env
                .api
                .call(Request::update(ep))
                .map(|_| ())
                .map_err(|st| st.message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emptiness_counts_only_ready_addresses() {
        let mut ep = Endpoints::new("ns", "x");
        assert!(is_empty_endpoints(&ep));
        ep.subsets.push(EndpointSubset {
            addresses: vec![],
            not_ready_addresses: vec![EndpointAddress::ip("10.0.0.1")],
            ports: vec![],
        });
        assert!(is_empty_endpoints(&ep));
        ep.subsets.push(EndpointSubset {
            addresses: vec![EndpointAddress::ip("10.0.0.2")],
            not_ready_addresses: vec![],
            ports: vec![],
        });
        assert!(!is_empty_endpoints(&ep));
    }
}
