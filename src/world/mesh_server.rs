//! The server side of a meshed connection, shared by pod proxies (the kubelet component hosts
//! every pod's proxy) and gateways: a TLS 1.3-shaped handshake per connection with credentials
//! chosen by the ClientHello's server name, then HTTP frames.
//!
//! Owns: per-connection handshake state. Outputs the requests that arrived on established
//! connections, with the client's verified identity.

use super::env::Env;
use super::msg::Payload;
use super::transport::{ConnEvent, ConnId, Side};
use crate::identity::{Flight, Outcome, ServerConfig, ServerHandshake, ServerState};
use crate::sim::hash::StableHasher;
use std::collections::BTreeMap;
use std::sync::Arc;

/// HTTP over an established meshed connection.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum HttpFrame {
    Request {
        id: u64,
        /// `host:port` (the original name, or the authority override towards a gateway).
        authority: String,
        /// The address the client dialled and the port it targets.
        target_ip: String,
        port: u16,
        path: String,
    },
    Response {
        id: u64,
        status: u16,
        /// `cluster/namespace/pod` that answered.
        served_by: Option<String>,
        error: Option<String>,
    },
}

impl HttpFrame {
    pub fn kind(&self) -> &'static str {
        match self {
            HttpFrame::Request { .. } => "http-request",
            HttpFrame::Response { .. } => "http-response",
        }
    }
    /// Tags: Request 0 (id, authority, target ip, port, path), Response 1 (id, status,
    /// served by, error).
    pub fn digest_into(&self, h: &mut StableHasher) {
        match self {
            HttpFrame::Request {
                id,
                authority,
                target_ip,
                port,
                path,
            } => {
                h.word(0);
                h.add(id);
                h.add(authority);
                h.add(target_ip);
                h.add(port);
                h.add(path);
            }
            HttpFrame::Response {
                id,
                status,
                served_by,
                error,
            } => {
                h.word(1);
                h.add(id);
                h.add(status);
                h.add(served_by);
                h.add(error);
            }
        }
    }
    pub fn details(&self) -> serde_json::Value {
        match self {
            HttpFrame::Request {
                id,
                authority,
                target_ip,
                port,
                path,
            } => {
                serde_json::json!({ "id": id, "authority": authority, "ip": target_ip, "port": port, "path": path })
            }
            HttpFrame::Response {
                id,
                status,
                served_by,
                error,
            } => {
                serde_json::json!({ "id": id, "status": status, "served_by": served_by, "error": error })
            }
        }
    }
}

/// A request that arrived on an established connection.
pub struct Inbound {
    pub conn: ConnId,
    pub peer_identity: Option<String>,
    pub id: u64,
    pub authority: String,
    pub target_ip: String,
    pub port: u16,
    pub path: String,
}

/// A handshake a server accepted, reported so checks can judge it.
pub struct Accepted {
    pub conn: ConnId,
    pub peer_identity: Option<String>,
    /// Subject of the root the client's chain ends at (the last certificate's issuer).
    pub peer_root: Option<String>,
}

#[derive(Default)]
pub struct MeshServer {
    conns: BTreeMap<ConnId, ServerHandshake>,
    pub handshakes_ok: u64,
    pub handshakes_failed: BTreeMap<String, u64>,
}

impl MeshServer {
    /// Handles a connection event. `config_for(server_name)` gives the credentials to present
    /// (or `None` to refuse). Returns requests to serve and the handshakes just accepted.
    pub fn on_conn(
        &mut self,
        env: &mut Env<'_, '_>,
        event: ConnEvent,
        mut config_for: impl FnMut(&mut Env<'_, '_>, &str) -> Option<Arc<ServerConfig>>,
    ) -> (Vec<Inbound>, Vec<Accepted>) {
        let mut inbound = Vec::new();
        let mut accepted = Vec::new();
        match event {
            ConnEvent::Data {
                conn,
                payload: Payload::Tls(flight),
            } => {
                let flight = *flight;
                let now = super::identity_book::IdentityBook::clock(env.now());
                if let std::collections::btree_map::Entry::Vacant(slot) = self.conns.entry(conn) {
                    let Flight::ClientHello(hello) = &flight else {
                        return (inbound, accepted);
                    };
                    let Some(config) = config_for(env, &hello.server_name) else {
                        env.close(conn, Side::Server);
                        return (inbound, accepted);
                    };
                    slot.insert(ServerHandshake::new(config, now));
                }
                let Some(hs) = self.conns.get_mut(&conn) else {
                    return (inbound, accepted);
                };
                let reply = hs.handle(now, &flight, env.ctx.rng(), &mut env.identity.memo);
                if let Some(reply) = reply {
                    env.send(conn, Side::Server, Payload::Tls(Box::new(reply)));
                }
                match hs.outcome() {
                    Some(Outcome::Established { peer_identity })
                        if matches!(flight, Flight::ClientFinished(_)) =>
                    {
                        self.handshakes_ok += 1;
                        let peer_root = match &flight {
                            Flight::ClientFinished(f) => {
                                f.chain.certs().last().map(|c| c.issuer.clone())
                            }
                            _ => None,
                        };
                        accepted.push(Accepted {
                            conn,
                            peer_identity,
                            peer_root,
                        });
                    }
                    Some(Outcome::Failed(e)) => {
                        *self.handshakes_failed.entry(e.to_string()).or_default() += 1;
                        self.conns.remove(&conn);
                        env.close(conn, Side::Server);
                    }
                    _ => {}
                }
            }
            ConnEvent::Data {
                conn,
                payload: Payload::Http(frame),
            } => {
                let HttpFrame::Request {
                    id,
                    authority,
                    target_ip,
                    port,
                    path,
                } = *frame
                else {
                    return (inbound, accepted);
                };
                if let Some(hs) = self.conns.get(&conn)
                    && let ServerState::Established { peer_identity } = hs.state()
                {
                    inbound.push(Inbound {
                        conn,
                        peer_identity: peer_identity.clone(),
                        id,
                        authority,
                        target_ip,
                        port,
                        path,
                    });
                }
            }
            ConnEvent::Closed { conn, .. } => {
                self.conns.remove(&conn);
            }
            _ => {}
        }
        (inbound, accepted)
    }

    pub fn respond(
        env: &mut Env<'_, '_>,
        conn: ConnId,
        id: u64,
        status: u16,
        served_by: Option<String>,
        error: Option<String>,
    ) {
        env.send(
            conn,
            Side::Server,
            Payload::Http(Box::new(HttpFrame::Response {
                id,
                status,
                served_by,
                error,
            })),
        );
    }

    pub fn reset(&mut self) {
        self.conns.clear();
    }
}
