//! The multicluster gateway of a target cluster (spec §8.1): a proxy that accepts mTLS
//! connections from other clusters on port 4143, requiring a client certificate that chains to
//! its trust anchors; answers the probe on 4191 `/ready`; and forwards each request by its
//! original name (`<svc>.<ns>.svc.<domain>` or `<host>.<svc>.<ns>.svc.<domain>`), resolved by
//! its own cluster's destination controller, to a pod of that cluster. Client identity is not
//! preserved past the gateway.

use super::env::Env;
use super::kubelet_node::PodMsg;
use super::lookup::{LookupMsg, MeshEndpoint, ResolveTarget};
use super::mesh_server::MeshServer;
use super::msg::Msg;
use super::observe::Observation;
use super::transport::{ConnEvent, ConnId};
use crate::sim::{ComponentId, SimDuration};
use std::collections::BTreeMap;

pub const GATEWAY_PORT: u16 = 4143;
pub const PROBE_PORT: u16 = 4191;

enum Stage {
    Resolving,
    Forwarding,
}

struct Forward {
    conn: ConnId,
    request: u64,
    stage: Stage,
}

pub struct Gateway {
    pub cluster: usize,
    domain: String,
    pub identity: String,
    pub mesh: MeshServer,
    destination: ComponentId,
    kubelet: ComponentId,
    pending: BTreeMap<u64, Forward>,
    next_id: u64,
    /// Test-only breakage: trust any anchor.
    pub accept_any_anchor: bool,
    /// Test-only breakage: route per-pod names to any pod of the service.
    pub ignore_hostname: bool,
    pub forwarded: u64,
    pub probes_answered: u64,
    latency: SimDuration,
}

impl Gateway {
    pub fn new(
        cluster: usize,
        domain: &str,
        identity: String,
        destination: ComponentId,
        kubelet: ComponentId,
        latency: SimDuration,
    ) -> Gateway {
        Gateway {
            cluster,
            domain: domain.to_string(),
            identity,
            mesh: MeshServer::default(),
            destination,
            kubelet,
            pending: BTreeMap::new(),
            next_id: 1,
            accept_any_anchor: false,
            ignore_hostname: false,
            forwarded: 0,
            probes_answered: 0,
            latency,
        }
    }

    pub fn on_conn(&mut self, env: &mut Env<'_, '_>, event: ConnEvent) {
        let cluster = self.cluster;
        let identity = self.identity.clone();
        let any_anchor = self.accept_any_anchor;
        let (inbound, accepted) = self.mesh.on_conn(env, event, |env, _sni| {
            let mut config = (*env
                .identity
                .server_config(cluster, &identity, true, env.now()))
            .clone();
            if any_anchor {
                config.trust = env.identity.all_anchors();
            }
            Some(std::sync::Arc::new(config))
        });
        for a in accepted {
            env.observe(Observation::GatewayAccepted {
                cluster,
                peer_identity: a.peer_identity,
                peer_root: a.peer_root,
            });
        }
        for r in inbound {
            if r.port == PROBE_PORT {
                self.probes_answered += 1;
                let ok = r.path == "/ready";
                MeshServer::respond(env, r.conn, r.id, if ok { 200 } else { 404 }, None, None);
                continue;
            }
            let Some((host, port)) = r
                .authority
                .rsplit_once(':')
                .and_then(|(h, p)| Some((h.to_string(), p.parse::<u16>().ok()?)))
            else {
                MeshServer::respond(env, r.conn, r.id, 400, None, Some("no authority".into()));
                continue;
            };
            if !host.ends_with(&format!(".svc.{}", self.domain)) {
                MeshServer::respond(
                    env,
                    r.conn,
                    r.id,
                    403,
                    None,
                    Some(format!("{host} is outside svc.{}", self.domain)),
                );
                continue;
            }
            let host = match host.split_once('.') {
                // `<host>.<svc>.<ns>.svc.<domain>` keeps 5+ labels after the host.
                Some((_, rest)) if self.ignore_hostname && rest.split('.').count() >= 5 => {
                    rest.to_string()
                }
                _ => host,
            };
            let id = self.next_id;
            self.next_id += 1;
            self.pending.insert(
                id,
                Forward {
                    conn: r.conn,
                    request: r.id,
                    stage: Stage::Resolving,
                },
            );
            let target = ResolveTarget::Authority { host, port };
            env.ctx.send(
                self.destination,
                Msg::Lookup(LookupMsg::Resolve {
                    id,
                    from: env.me(),
                    target,
                }),
                self.latency,
            );
        }
    }

    pub fn on_lookup(&mut self, env: &mut Env<'_, '_>, msg: LookupMsg) {
        let LookupMsg::Resolved { id, result } = msg else {
            return;
        };
        let Some(f) = self.pending.get_mut(&id) else {
            return;
        };
        let endpoints: Vec<MeshEndpoint> = match result {
            Ok(e) if !e.is_empty() => e,
            Ok(_) => {
                let f = self.pending.remove(&id);
                if let Some(f) = f {
                    MeshServer::respond(
                        env,
                        f.conn,
                        f.request,
                        503,
                        None,
                        Some("no ready endpoints".into()),
                    );
                }
                return;
            }
            Err(e) => {
                let f = self.pending.remove(&id);
                if let Some(f) = f {
                    MeshServer::respond(env, f.conn, f.request, 503, None, Some(e));
                }
                return;
            }
        };
        let pick = env.ctx.rng().below(endpoints.len() as u64) as usize;
        let ep = &endpoints[pick];
        f.stage = Stage::Forwarding;
        self.forwarded += 1;
        env.ctx.send(
            self.kubelet,
            Msg::Pod(PodMsg::Request {
                id,
                from: env.me(),
                ip: ep.ip.clone(),
                port: ep.port,
            }),
            self.latency,
        );
    }

    pub fn on_pod(&mut self, env: &mut Env<'_, '_>, msg: PodMsg) {
        let PodMsg::Response { id, result } = msg else {
            return;
        };
        let Some(f) = self.pending.remove(&id) else {
            return;
        };
        debug_assert!(matches!(f.stage, Stage::Forwarding));
        match result {
            Ok(pod) => MeshServer::respond(env, f.conn, f.request, 200, Some(pod), None),
            Err(e) => MeshServer::respond(env, f.conn, f.request, 503, None, Some(e)),
        }
    }

    /// The gateway pod restarts: in-flight work is lost.
    pub fn restart(&mut self) {
        self.pending.clear();
        self.mesh.reset();
    }
}
