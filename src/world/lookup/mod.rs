//! Name and endpoint lookup inside one cluster, as two informer-fed components (so both can be
//! stale, as the real ones are):
//! - **CoreDNS** ([`LookupRole::Dns`]): answers A queries with `crate::k8s::dns` over its caches
//!   of Services and EndpointSlices. A `dns_failure` fault makes it drop queries.
//! - **Linkerd's destination controller** ([`LookupRole::Destination`]): given a ClusterIP and
//!   port (what a client proxy sees) or an authority (what a gateway sees), returns the ready
//!   endpoints with the TLS identity to require and, for mirror endpoints (no pod `targetRef`),
//!   the authority override `<remote-svc-fq-name>:<port>` (spec §10.2).
//!
//! The destination controller also keeps Linkerd's *cluster store* (spec §2.3, §11.2): one
//! remote API client per credentials Secret in the `linkerd` namespace (type
//! `mirror.linkerd.io/remote-kubeconfig`, labelled `multicluster.linkerd.io/cluster-name`, with
//! both domain annotations), added and removed with the Secret (updates are ignored, as the
//! real store registers only add and delete handlers). Its remote informers (Services,
//! EndpointSlices, Pods) cross the simulated network. A Service labelled
//! `multicluster.linkerd.io/remote-discovery=<cluster>` resolves to the ready pods of the remote
//! Service named by `multicluster.linkerd.io/remote-service`, with their identities in the
//! Secret's trust domain (only for pods injected by a control plane in the same namespace as
//! this one, spec §10.3) and the authority `<svc>.<ns>.svc.<remote domain>:<port>`. A federated
//! Service (`multicluster.linkerd.io/local-discovery` / `remote-discovery` annotations) resolves
//! to the union of its local member and every `svc@cluster` member; an unknown cluster's member
//! is skipped (spec §11.3).
//!
//! Queries and answers are in-cluster messages (`Msg::Lookup`) carrying the asker's id.

mod resolve;

use super::apiclient::{ApiClient, ClientOutput};
use super::env::Env;
use super::kubelet_node::conn_of;
use super::msg::{Msg, Timer};
use super::seed::{
    ANN_CREDENTIALS_CLUSTER_DOMAIN, ANN_CREDENTIALS_TRUST_DOMAIN, LABEL_CONTROL_PLANE_NS,
    LABEL_CREDENTIALS_CLUSTER, LINKERD_NAMESPACE,
};
use super::transport::ConnEvent;
use crate::identity::IdentityDomain;
use crate::k8s::dns::{Dns, DnsConfig, DnsResponse, QueryType};
use crate::k8s::informer::{Delta, Informer, InformerConfig};
use crate::k8s::objects::{IntOrString, LABEL_SERVICE_NAME};
use crate::k8s::store::{MultiView, ObjectView};
use crate::k8s::{Kind, Object, ObjectKey};
use crate::sim::{ComponentId, SimDuration, SimTime};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Annotations the destination controller reads on mirror endpoints.
pub const ANN_GATEWAY_IDENTITY: &str = "mirror.linkerd.io/remote-gateway-identity";
pub const ANN_REMOTE_FQ_NAME: &str = "mirror.linkerd.io/remote-svc-fq-name";
/// Labels of a remote-discovery mirror (spec §5.2, §11.2).
const LABEL_REMOTE_DISCOVERY: &str = "multicluster.linkerd.io/remote-discovery";
const LABEL_REMOTE_SERVICE: &str = "multicluster.linkerd.io/remote-service";
/// Annotations of a federated Service (spec §11.3).
const ANN_FEDERATED_REMOTE: &str = "multicluster.linkerd.io/remote-discovery";
const ANN_FEDERATED_LOCAL: &str = "multicluster.linkerd.io/local-discovery";
const SECRET_TYPE_KUBECONFIG: &str = "mirror.linkerd.io/remote-kubeconfig";
/// Informer index of the destination's credentials Secrets.
const SECRETS: usize = 3;

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

crate::digest_fields!(MeshEndpoint {
    ip,
    port,
    identity,
    authority,
    pod
});

/// Tags: Ip 0 (ip, port), Authority 1 (host, port).
impl crate::sim::hash::Digest for ResolveTarget {
    fn digest(&self, h: &mut crate::sim::hash::StableHasher) {
        match self {
            ResolveTarget::Ip { ip, port } => {
                h.word(0);
                h.add(ip);
                h.add(port);
            }
            ResolveTarget::Authority { host, port } => {
                h.word(1);
                h.add(host);
                h.add(port);
            }
        }
    }
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

/// One entry of the destination controller's cluster store.
struct RemoteCluster {
    /// The Secret it was built from; its deletion removes the entry.
    secret: ObjectKey,
    slot: u8,
    client: ApiClient,
    /// The remote cluster domain (`multicluster.linkerd.io/cluster-domain`).
    domain: String,
    /// Identities of remote pods: the remote trust domain, this control plane's namespace.
    identity: IdentityDomain,
}

pub struct Lookup {
    role: LookupRole,
    client: ApiClient,
    /// API servers by cluster name: where a kubeconfig's server address leads.
    api_servers: BTreeMap<String, ComponentId>,
    /// The cluster store (destination only), by `multicluster.linkerd.io/cluster-name`.
    remotes: BTreeMap<String, RemoteCluster>,
    next_slot: u8,
    /// The destination's log of cluster-store changes (written with `--dump`).
    pub log: Vec<(SimTime, String)>,
    dns: Dns,
    domain: String,
    identity: IdentityDomain,
    /// ClusterIP → Service key, kept from the Service informer's deltas.
    by_cluster_ip: BTreeMap<String, ObjectKey>,
    /// Pod IP → Pod key.
    by_pod_ip: BTreeMap<String, ObjectKey>,
    /// Answers given since any client (local or in the cluster store) last took an event: a
    /// resolve is a pure function of the caches, and traffic asks the same few questions
    /// between two changes.
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
        let mut informers: Vec<Informer> = kinds
            .iter()
            .map(|k| Informer::new(InformerConfig::new(*k)))
            .collect();
        if role == LookupRole::Destination {
            let mut secrets = InformerConfig::new(Kind::Secret);
            secrets.namespace = Some(LINKERD_NAMESPACE.to_string());
            informers.push(Informer::new(secrets));
        }
        Lookup {
            role,
            // In-cluster system components; CoreDNS and destination use generous client limits.
            client: ApiClient::new(0, api_server, 100, 200, informers),
            api_servers: BTreeMap::new(),
            remotes: BTreeMap::new(),
            next_slot: 1,
            log: Vec::new(),
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

    /// Where each cluster's kubeconfig leads (set once the world has every API server).
    pub fn set_api_servers(&mut self, api_servers: BTreeMap<String, ComponentId>) {
        self.api_servers = api_servers;
    }

    pub fn start(&mut self, env: &mut Env<'_, '_>) {
        let mut out = Vec::new();
        self.client.start(env, &mut out);
        self.absorb(env, out);
    }

    pub fn on_conn(&mut self, env: &mut Env<'_, '_>, event: ConnEvent) {
        // Any event a client takes may change a cache (a held delta is already in the store),
        // local or remote: the answers given so far are void.
        self.resolved.clear();
        let conn = conn_of(&event);
        if let Some(remote) = self.remotes.values_mut().find(|r| r.client.owns(conn)) {
            // Remote caches are read at resolve time; nothing to index.
            remote.client.on_conn(env, event, &mut Vec::new());
            return;
        }
        let mut out = Vec::new();
        self.client.on_conn(env, event, &mut out);
        self.absorb(env, out);
    }

    pub fn on_timer(&mut self, env: &mut Env<'_, '_>, timer: Timer) {
        self.resolved.clear();
        match timer {
            Timer::Client { slot: 0, timer } => {
                let mut out = Vec::new();
                self.client.on_timer(env, timer, &mut out);
                self.absorb(env, out);
            }
            Timer::Client { slot, timer } => {
                // A removed entry's timers find no client and are dropped.
                if let Some(remote) = self.remotes.values_mut().find(|r| r.slot == slot) {
                    remote.client.on_timer(env, timer, &mut Vec::new());
                }
            }
            _ => {}
        }
    }

    fn absorb(&mut self, env: &mut Env<'_, '_>, out: Vec<ClientOutput>) {
        for o in out {
            let ClientOutput::Delta { delta, informer } = o else {
                continue;
            };
            if self.role == LookupRole::Destination && informer == SECRETS {
                self.on_secret(env, &delta);
                continue;
            }
            match &delta {
                Delta::Added(o) | Delta::Updated { new: o, .. } => self.index(o, true),
                Delta::Deleted(d) => self.index(d.object(), false),
                Delta::Synced => {}
            }
        }
    }

    /// The cluster store's Secret handlers: add on Added, remove on Deleted; an update changes
    /// nothing (the real store registers no update handler, spec §9.3).
    fn on_secret(&mut self, env: &mut Env<'_, '_>, delta: &Delta) {
        match delta {
            Delta::Added(o) => {
                let Some(secret) = o.as_secret() else { return };
                if secret.type_ != SECRET_TYPE_KUBECONFIG {
                    return;
                }
                let meta = &secret.metadata;
                let Some(cluster) = meta.labels.get(LABEL_CREDENTIALS_CLUSTER).cloned() else {
                    return;
                };
                let ann = |k: &str| meta.annotations.get(k).filter(|v| !v.is_empty()).cloned();
                let (Some(trust_domain), Some(domain)) = (
                    ann(ANN_CREDENTIALS_TRUST_DOMAIN),
                    ann(ANN_CREDENTIALS_CLUSTER_DOMAIN),
                ) else {
                    self.log.push((env.now(), format!(
                        "secret {}/{} lacks the trust or cluster domain annotation: cluster {cluster} not added",
                        meta.namespace, meta.name
                    )));
                    return;
                };
                if self.remotes.contains_key(&cluster) {
                    return;
                }
                let kubeconfig = secret
                    .decoded("kubeconfig")
                    .and_then(|b| String::from_utf8(b).ok())
                    .or_else(|| secret.string_data.get("kubeconfig").cloned())
                    .unwrap_or_default();
                let server = super::seed::kubeconfig_cluster(&kubeconfig)
                    .and_then(|c| self.api_servers.get(c).copied());
                let Some(server) = server else {
                    self.log.push((
                        env.now(),
                        format!(
                            "secret {}/{}: no usable kubeconfig: cluster {cluster} not added",
                            meta.namespace, meta.name
                        ),
                    ));
                    return;
                };
                let informers = [Kind::Service, Kind::EndpointSlice, Kind::Pod]
                    .into_iter()
                    .map(|k| Informer::new(InformerConfig::new(k)))
                    .collect();
                let slot = self.next_slot;
                self.next_slot = self.next_slot.checked_add(1).unwrap_or(1);
                let mut client = ApiClient::new(slot, server, 100, 200, informers);
                client.start(env, &mut Vec::new());
                let now = env.now();
                self.log
                    .push((now, format!("cluster {cluster} added to the cluster store")));
                self.remotes.insert(
                    cluster,
                    RemoteCluster {
                        secret: o.key(),
                        slot,
                        client,
                        domain,
                        identity: IdentityDomain::new(
                            &self.identity.linkerd_namespace,
                            &trust_domain,
                        ),
                    },
                );
            }
            Delta::Deleted(d) => {
                let key = d.object().key();
                let gone: Vec<String> = self
                    .remotes
                    .iter()
                    .filter(|(_, r)| r.secret == key)
                    .map(|(c, _)| c.clone())
                    .collect();
                for cluster in gone {
                    if let Some(mut r) = self.remotes.remove(&cluster) {
                        r.client.stop(env);
                        self.log.push((
                            env.now(),
                            format!("cluster {cluster} removed from the cluster store"),
                        ));
                    }
                }
            }
            Delta::Updated { .. } | Delta::Synced => {}
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

    /// What this CoreDNS would answer for `name` now (read-only, for checks).
    pub fn answer(&self, name: &str) -> DnsResponse {
        self.dns.resolve(&self.view(), name, QueryType::A)
    }

    pub fn restart(&mut self, env: &mut Env<'_, '_>, api_server: ComponentId) {
        self.client.stop(env);
        for r in self.remotes.values_mut() {
            r.client.stop(env);
        }
        let mut fresh = Lookup::new(
            self.role,
            api_server,
            &self.domain,
            self.identity.clone(),
            self.latency,
        );
        fresh.api_servers = std::mem::take(&mut self.api_servers);
        fresh.log = std::mem::take(&mut self.log);
        // New slots, so the old clients' timers still in flight reach nobody.
        fresh.next_slot = self.next_slot;
        *self = fresh;
        self.start(env);
    }
}
