//! Name and endpoint lookup inside one cluster, as two informer-fed components (so both can be
//! stale, as the real ones are):
//! - **CoreDNS** ([`LookupRole::Dns`]): answers A queries with `crate::k8s::dns` over its caches
//!   of Services and EndpointSlices. A `dns_failure` fault makes it drop queries.
//! - **Linkerd's destination controller** ([`LookupRole::Destination`]): given a ClusterIP and
//!   port (what a client proxy sees) or an authority (what a gateway sees), returns the ready
//!   endpoints with the TLS identity to require and, for mirror endpoints (no pod `targetRef`),
//!   the authority override `<remote-svc-fq-name>:<port>` (spec §10.2).
//!
//! Queries and answers are in-cluster messages (`Msg::Lookup`) carrying the asker's id.

use super::apiclient::{ApiClient, ClientOutput};
use super::env::Env;
use super::msg::{Msg, Timer};
use super::transport::ConnEvent;
use crate::identity::IdentityDomain;
use crate::k8s::dns::{Dns, DnsConfig, DnsResponse, QueryType};
use crate::k8s::informer::{Delta, Informer, InformerConfig};
use crate::k8s::objects::{IntOrString, LABEL_SERVICE_NAME};
use crate::k8s::store::{MultiView, ObjectView};
use crate::k8s::{Kind, Object, ObjectKey};
use crate::sim::{ComponentId, SimDuration};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Annotations the destination controller reads on mirror endpoints.
pub const ANN_GATEWAY_IDENTITY: &str = "mirror.linkerd.io/remote-gateway-identity";
pub const ANN_REMOTE_FQ_NAME: &str = "mirror.linkerd.io/remote-svc-fq-name";

/// An endpoint a proxy can connect to.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MeshEndpoint {
    pub ip: String,
    pub port: u16,
    /// TLS identity the client must see from the server.
    pub identity: Option<String>,
    /// Authority to send instead of the original one (gateway mode).
    pub authority: Option<String>,
    /// The pod behind the endpoint (`namespace/name`), when known.
    pub pod: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ResolveTarget {
    /// A ClusterIP (or pod IP) and port, as a client proxy sees its outbound connection.
    Ip { ip: String, port: u16 },
    /// `host:port` as an authority, as a gateway sees it.
    Authority { host: String, port: u16 },
}

#[derive(Clone, Debug)]
pub enum LookupMsg {
    DnsQuery {
        id: u64,
        from: ComponentId,
        name: String,
    },
    /// `None`: no answer (SERVFAIL); the asker gives up.
    DnsReply {
        id: u64,
        response: Option<Box<DnsResponse>>,
    },
    Resolve {
        id: u64,
        from: ComponentId,
        target: ResolveTarget,
    },
    Resolved {
        id: u64,
        result: Result<Vec<MeshEndpoint>, String>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LookupRole {
    Dns,
    Destination,
}

pub struct Lookup {
    role: LookupRole,
    client: ApiClient,
    dns: Dns,
    domain: String,
    identity: IdentityDomain,
    /// ClusterIP → Service key, kept from the Service informer's deltas.
    by_cluster_ip: BTreeMap<String, ObjectKey>,
    /// Pod IP → Pod key.
    by_pod_ip: BTreeMap<String, ObjectKey>,
    /// Answers given since the caches last changed: a resolve is a pure function of the
    /// caches, and traffic asks the same few questions between two changes.
    resolved: BTreeMap<ResolveTarget, Result<Vec<MeshEndpoint>, String>>,
    /// `dns_failure`: drop every query.
    pub failing: bool,
    latency: SimDuration,
    pub queries: u64,
}

impl Lookup {
    pub fn new(
        role: LookupRole,
        api_server: ComponentId,
        domain: &str,
        identity: IdentityDomain,
        latency: SimDuration,
    ) -> Lookup {
        let kinds: &[Kind] = match role {
            LookupRole::Dns => &[Kind::Service, Kind::EndpointSlice],
            LookupRole::Destination => &[Kind::Service, Kind::EndpointSlice, Kind::Pod],
        };
        let informers = kinds
            .iter()
            .map(|k| Informer::new(InformerConfig::new(*k)))
            .collect();
        Lookup {
            role,
            // In-cluster system components; CoreDNS and destination use generous client limits.
            client: ApiClient::new(0, api_server, 100, 200, informers),
            dns: Dns::new(DnsConfig {
                cluster_domain: domain.to_string(),
                ..DnsConfig::default()
            }),
            domain: domain.to_string(),
            identity,
            by_cluster_ip: BTreeMap::new(),
            by_pod_ip: BTreeMap::new(),
            resolved: BTreeMap::new(),
            failing: false,
            latency,
            queries: 0,
        }
    }

    pub fn role(&self) -> LookupRole {
        self.role
    }

    pub fn start(&mut self, env: &mut Env<'_, '_>) {
        let mut out = Vec::new();
        self.client.start(env, &mut out);
        self.absorb(out);
    }

    pub fn on_conn(&mut self, env: &mut Env<'_, '_>, event: ConnEvent) {
        let mut out = Vec::new();
        self.client.on_conn(env, event, &mut out);
        self.absorb(out);
    }

    pub fn on_timer(&mut self, env: &mut Env<'_, '_>, timer: Timer) {
        if let Timer::Client { timer, .. } = timer {
            let mut out = Vec::new();
            self.client.on_timer(env, timer, &mut out);
            self.absorb(out);
        }
    }

    fn absorb(&mut self, out: Vec<ClientOutput>) {
        if !out.is_empty() {
            self.resolved.clear();
        }
        for o in out {
            let ClientOutput::Delta { delta, .. } = o else {
                continue;
            };
            match &delta {
                Delta::Added(o) | Delta::Updated { new: o, .. } => self.index(o, true),
                Delta::Deleted(d) => self.index(d.object(), false),
                Delta::Synced => {}
            }
        }
    }

    fn index(&mut self, o: &Arc<Object>, present: bool) {
        match o.as_ref() {
            Object::Service(s) => {
                let ip = s.spec.cluster_ip.clone();
                if ip.is_empty() || ip == "None" {
                    return;
                }
                if present {
                    self.by_cluster_ip.insert(ip, o.key());
                } else if self.by_cluster_ip.get(&ip) == Some(&o.key()) {
                    self.by_cluster_ip.remove(&ip);
                }
            }
            Object::Pod(p) => {
                let ip = p.status.pod_ip.clone();
                if ip.is_empty() {
                    return;
                }
                if present {
                    self.by_pod_ip.insert(ip, o.key());
                } else if self.by_pod_ip.get(&ip) == Some(&o.key()) {
                    self.by_pod_ip.remove(&ip);
                }
            }
            _ => {}
        }
    }

    fn view(&self) -> MultiView<'_> {
        MultiView::new(
            self.client
                .informers()
                .iter()
                .map(|i| i.store() as &dyn ObjectView)
                .collect(),
        )
    }

    pub fn on_msg(&mut self, env: &mut Env<'_, '_>, msg: LookupMsg) {
        self.queries += 1;
        match msg {
            LookupMsg::DnsQuery { id, from, name } => {
                if self.failing {
                    return;
                }
                let response = if self.client.informer(0).has_synced() {
                    Some(Box::new(self.dns.resolve(
                        &self.view(),
                        &name,
                        QueryType::A,
                    )))
                } else {
                    None // CoreDNS is not ready before its caches sync
                };
                env.ctx.send(
                    from,
                    Msg::Lookup(LookupMsg::DnsReply { id, response }),
                    self.latency,
                );
            }
            LookupMsg::Resolve { id, from, target } => {
                let result = match self.resolved.get(&target) {
                    Some(r) => r.clone(),
                    None => {
                        let r = self.resolve(&target);
                        if self.client.all_synced() {
                            self.resolved.insert(target, r.clone());
                        }
                        r
                    }
                };
                env.ctx.send(
                    from,
                    Msg::Lookup(LookupMsg::Resolved { id, result }),
                    self.latency,
                );
            }
            LookupMsg::DnsReply { .. } | LookupMsg::Resolved { .. } => {}
        }
    }

    fn pod_identity(&self, view: &MultiView<'_>, namespace: &str, name: &str) -> Option<String> {
        let pod = view.get_by(Kind::Pod, namespace, name)?.as_pod()?;
        let sa = if pod.spec.service_account_name.is_empty() {
            "default"
        } else {
            &pod.spec.service_account_name
        };
        Some(self.identity.workload(sa, namespace))
    }

    /// The ready endpoints of Service `ns/name` for service port `port`, optionally only the one
    /// with hostname `host`.
    fn service_endpoints(
        &self,
        view: &MultiView<'_>,
        ns: &str,
        name: &str,
        port: u16,
        host: Option<&str>,
    ) -> Result<Vec<MeshEndpoint>, String> {
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
                let pod_ref = ep.target_ref.as_ref().filter(|r| r.kind == "Pod");
                let (identity, authority, pod) = match pod_ref {
                    Some(r) => (
                        self.pod_identity(view, ns, &r.name),
                        None,
                        Some(format!("{ns}/{}", r.name)),
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

    fn resolve(&self, target: &ResolveTarget) -> Result<Vec<MeshEndpoint>, String> {
        if !self.client.all_synced() {
            return Err("destination controller not ready".into());
        }
        let view = self.view();
        match target {
            ResolveTarget::Ip { ip, port } => {
                if let Some(key) = self.by_cluster_ip.get(ip) {
                    return self.service_endpoints(&view, &key.namespace, &key.name, *port, None);
                }
                if let Some(key) = self.by_pod_ip.get(ip) {
                    return Ok(vec![MeshEndpoint {
                        ip: ip.clone(),
                        port: *port,
                        identity: self.pod_identity(&view, &key.namespace, &key.name),
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
                    [svc, ns] => self.service_endpoints(&view, ns, svc, *port, None),
                    [hostname, svc, ns] => {
                        self.service_endpoints(&view, ns, svc, *port, Some(hostname))
                    }
                    _ => Err(format!("cannot parse service name {host}")),
                }
            }
        }
    }

    /// What this CoreDNS would answer for `name` now (read-only, for checks).
    pub fn answer(&self, name: &str) -> DnsResponse {
        self.dns.resolve(&self.view(), name, QueryType::A)
    }

    pub fn restart(&mut self, env: &mut Env<'_, '_>, api_server: ComponentId) {
        self.client.stop(env);
        let fresh = Lookup::new(
            self.role,
            api_server,
            &self.domain,
            self.identity.clone(),
            self.latency,
        );
        *self = fresh;
        self.start(env);
    }
}
