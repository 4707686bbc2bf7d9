//! The destination controller's resolution (spec §10, §11.2–§11.3): a ClusterIP or authority
//! to the ready endpoints of a Service with their identities and authority overrides, from this
//! cluster's caches or, for remote-discovery and federated members, a remote cluster's.

use super::*;

/// How endpoints of one Service are turned into mesh endpoints.
pub(super) struct Resolution<'a> {
    view: &'a MultiView<'a>,
    identity: &'a IdentityDomain,
    /// Remote discovery: the authority `<svc>.<ns>.svc.<domain>:<port>` to send, and only pods
    /// injected by a control plane in our namespace get an identity.
    remote_domain: Option<&'a str>,
}

impl Lookup {
    /// A local resolution: this cluster's caches and identities.
    fn local<'a>(&'a self, view: &'a MultiView<'a>) -> Resolution<'a> {
        Resolution {
            view,
            identity: &self.identity,
            remote_domain: None,
        }
    }

    /// The identity of pod `namespace/name`. A remote pod has one only if the control plane
    /// that injected it lives in a namespace of the same name as ours (spec §10.3).
    fn pod_identity(r: &Resolution<'_>, namespace: &str, name: &str) -> Option<String> {
        let pod = r.view.get_by(Kind::Pod, namespace, name)?.as_pod()?;
        if r.remote_domain.is_some()
            && pod.metadata.labels.get(LABEL_CONTROL_PLANE_NS)
                != Some(&r.identity.linkerd_namespace)
        {
            return None;
        }
        let sa = if pod.spec.service_account_name.is_empty() {
            "default"
        } else {
            &pod.spec.service_account_name
        };
        Some(r.identity.workload(sa, namespace))
    }

    /// What Service `ns/name` on `port` resolves to here: a remote-discovery mirror to the
    /// remote pods, a federated Service to the union of its members, any other to its endpoints.
    fn resolve_service(
        &self,
        view: &MultiView<'_>,
        ns: &str,
        name: &str,
        port: u16,
    ) -> Result<Vec<MeshEndpoint>, String> {
        let svc = view
            .get_by(Kind::Service, ns, name)
            .ok_or_else(|| format!("service {ns}/{name} not found"))?;
        let meta = svc.meta();
        if let Some(cluster) = meta.labels.get(LABEL_REMOTE_DISCOVERY) {
            let remote = meta.labels.get(LABEL_REMOTE_SERVICE).ok_or_else(|| {
                format!(
                    "FailedPrecondition: service {ns}/{name} has no {LABEL_REMOTE_SERVICE} label"
                )
            })?;
            return self.remote_endpoints(cluster, ns, remote, port);
        }
        let local_member = meta.annotations.get(ANN_FEDERATED_LOCAL);
        let remote_members = meta.annotations.get(ANN_FEDERATED_REMOTE);
        if local_member.is_none() && remote_members.is_none() {
            return Self::service_endpoints(&self.local(view), ns, name, port, None);
        }
        // A federated Service: the union of its members (each failing member is left out).
        let mut out = Vec::new();
        if let Some(member) = local_member.filter(|m| !m.is_empty())
            && let Ok(eps) = Self::service_endpoints(&self.local(view), ns, member, port, None)
        {
            out.extend(eps);
        }
        for member in remote_members.into_iter().flat_map(|l| l.split(',')) {
            let Some((svc, cluster)) = member.split_once('@') else {
                continue;
            };
            if let Ok(eps) = self.remote_endpoints(cluster, ns, svc, port) {
                out.extend(eps);
            }
        }
        out.sort_by(|a, b| (&a.ip, a.port).cmp(&(&b.ip, b.port)));
        out.dedup();
        Ok(out)
    }

    /// The ready pods of Service `ns/name` in cluster `cluster` of the store (remote discovery).
    fn remote_endpoints(
        &self,
        cluster: &str,
        ns: &str,
        name: &str,
        port: u16,
    ) -> Result<Vec<MeshEndpoint>, String> {
        let remote = self
            .remotes
            .get(cluster)
            .ok_or_else(|| format!("NotFound: cluster {cluster} is not in the cluster store"))?;
        if !remote.client.all_synced() {
            return Err(format!("cluster {cluster}: remote caches not synced"));
        }
        let view = MultiView::new(
            remote
                .client
                .informers()
                .iter()
                .map(|i| i.store() as &dyn ObjectView)
                .collect(),
        );
        let r = Resolution {
            view: &view,
            identity: &remote.identity,
            remote_domain: Some(&remote.domain),
        };
        Self::service_endpoints(&r, ns, name, port, None)
    }

    /// The ready endpoints of Service `ns/name` for service port `port`, optionally only the one
    /// with hostname `host`.
    fn service_endpoints(
        r: &Resolution<'_>,
        ns: &str,
        name: &str,
        port: u16,
        host: Option<&str>,
    ) -> Result<Vec<MeshEndpoint>, String> {
        let view = r.view;
        let svc_obj = view
            .get_by(Kind::Service, ns, name)
            .ok_or_else(|| format!("service {ns}/{name} not found"))?;
        let svc = svc_obj.as_service().ok_or("not a service")?;
        let headless = svc.spec.cluster_ip == "None";
        // A headless per-pod name is resolved on any port (clients reach the pod directly).
        let sp = svc.spec.ports.iter().find(|p| p.port == i32::from(port));
        if sp.is_none() && !headless {
            return Err(format!("service {ns}/{name} has no port {port}"));
        }
        let port_name = sp.map(|p| p.name.clone()).unwrap_or_default();
        let numeric_target = sp.and_then(|p| match &p.target_port {
            Some(IntOrString::Int(n)) => u16::try_from(*n).ok(),
            _ => None,
        });
        let mut out = Vec::new();
        // Slices are named `<service or endpoints name>-<suffix>`; the label decides.
        for slice_obj in view.list_prefix(Kind::EndpointSlice, ns, &format!("{name}-")) {
            let Some(slice) = slice_obj.as_endpoint_slice() else {
                continue;
            };
            if slice
                .metadata
                .labels
                .get(LABEL_SERVICE_NAME)
                .map(String::as_str)
                != Some(name)
            {
                continue;
            }
            let slice_port = slice
                .ports
                .iter()
                .find(|p| p.name == port_name)
                .and_then(|p| u16::try_from(p.port).ok())
                .or(numeric_target)
                .unwrap_or(port);
            let ann = &slice.metadata.annotations;
            for ep in &slice.endpoints {
                if !ep.is_ready() {
                    continue;
                }
                if let Some(h) = host
                    && ep.hostname.as_deref() != Some(h)
                {
                    continue;
                }
                let Some(ip) = ep.addresses.first() else {
                    continue;
                };
                let pod_ref = ep.target_ref.as_ref().filter(|t| t.kind == "Pod");
                let (identity, authority, pod) = match pod_ref {
                    Some(t) => (
                        Self::pod_identity(r, ns, &t.name),
                        r.remote_domain
                            .map(|domain| format!("{name}.{ns}.svc.{domain}:{port}")),
                        Some(format!("{ns}/{}", t.name)),
                    ),
                    None => (
                        ann.get(ANN_GATEWAY_IDENTITY).cloned(),
                        ann.get(ANN_REMOTE_FQ_NAME).map(|fq| format!("{fq}:{port}")),
                        None,
                    ),
                };
                out.push(MeshEndpoint {
                    ip: ip.clone(),
                    port: slice_port,
                    identity,
                    authority,
                    pod,
                });
            }
        }
        out.sort_by(|a, b| (&a.ip, a.port).cmp(&(&b.ip, b.port)));
        out.dedup();
        Ok(out)
    }

    pub(super) fn resolve(&self, target: &ResolveTarget) -> Result<Vec<MeshEndpoint>, String> {
        if !self.client.all_synced() {
            return Err("destination controller not ready".into());
        }
        let view = self.view();
        match target {
            ResolveTarget::Ip { ip, port } => {
                if let Some(key) = self.by_cluster_ip.get(ip) {
                    return self.resolve_service(&view, &key.namespace, &key.name, *port);
                }
                if let Some(key) = self.by_pod_ip.get(ip) {
                    return Ok(vec![MeshEndpoint {
                        ip: ip.clone(),
                        port: *port,
                        identity: Self::pod_identity(&self.local(&view), &key.namespace, &key.name),
                        authority: None,
                        pod: Some(format!("{}/{}", key.namespace, key.name)),
                    }]);
                }
                // Not ours: forward as-is without identity (an opaque, unmeshed destination).
                Ok(vec![MeshEndpoint {
                    ip: ip.clone(),
                    port: *port,
                    identity: None,
                    authority: None,
                    pod: None,
                }])
            }
            ResolveTarget::Authority { host, port } => {
                let suffix = format!(".svc.{}", self.domain);
                let Some(rest) = host.strip_suffix(&suffix) else {
                    return Err(format!(
                        "{host} is not a service name of cluster domain {}",
                        self.domain
                    ));
                };
                let parts: Vec<&str> = rest.split('.').collect();
                match parts.as_slice() {
                    [svc, ns] => self.resolve_service(&view, ns, svc, *port),
                    [hostname, svc, ns] => {
                        Self::service_endpoints(&self.local(&view), ns, svc, *port, Some(hostname))
                    }
                    _ => Err(format!("cannot parse service name {host}")),
                }
            }
        }
    }
}
