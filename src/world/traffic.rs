//! A client workload and its outbound proxy, sending requests at a fixed rate to a name.
//!
//! Per request: resolve the name with the cluster's DNS (CoreDNS), ask the destination
//! controller for the endpoints behind the answer (in-cluster pods, or the gateway of a mirror
//! with the gateway identity to require and the authority override), pick one at random, use a
//! pooled connection to it or open one (TCP connect, then the mTLS handshake requiring the
//! expected identity), send the request and wait for the response or the timeout. The outcome
//! (success with the pod that answered, or a failure reason) is recorded per request.

use super::env::Env;
use super::lookup::{LookupMsg, MeshEndpoint, ResolveTarget};
use super::mesh_server::HttpFrame;
use super::msg::{Msg, Payload, Timer};
use super::observe::Observation;
use super::transport::{CloseReason, ConnEvent, ConnId, ConnectError, Side};
use crate::identity::{ClientHandshake, Flight, Outcome};
use crate::net::addr::AddressKind;
use crate::net::topology::Reach;
use crate::scenario::TrafficSpec;
use crate::sim::{ComponentId, SimDuration, SimTime};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

pub use super::traffic_log::{RequestRecord, TrafficLog};

enum Stage {
    Dns,
    Resolve,
    /// Waiting for (or using) the pooled connection keyed by `pool`.
    Connection {
        endpoint: MeshEndpoint,
    },
    Sent {
        conn: ConnId,
    },
}

struct Pending {
    sent: SimTime,
    stage: Stage,
}

type PoolKey = (String, Option<String>);

enum ConnState {
    Connecting,
    Handshaking(Box<ClientHandshake>),
    Ready,
}

struct Pooled {
    conn: ConnId,
    state: ConnState,
    /// Requests waiting for the connection to be ready.
    waiting: Vec<u64>,
}

/// Where a traffic client sends what: resolved at build time.
pub struct TrafficTargets {
    pub dns: ComponentId,
    pub destination: ComponentId,
    /// Component owning each address kind per cluster node: (pod host, gateway).
    pub owners: BTreeMap<u32, (ComponentId, Option<ComponentId>)>,
}

pub struct TrafficClient {
    pub index: usize,
    pub spec: TrafficSpec,
    cluster: usize,
    identity: String,
    targets: TrafficTargets,
    pending: BTreeMap<u64, Pending>,
    pool: BTreeMap<PoolKey, Pooled>,
    by_conn: BTreeMap<ConnId, PoolKey>,
    next_id: u64,
    /// Every completed request, folded into time segments (bounded memory).
    pub log: TrafficLog,
    latency: SimDuration,
    /// The last positive DNS answer and when its TTL runs out (the client's resolver cache).
    dns_cache: Option<(SimTime, Vec<String>)>,
}

impl TrafficClient {
    pub fn new(
        index: usize,
        spec: TrafficSpec,
        cluster: usize,
        identity: String,
        targets: TrafficTargets,
        latency: SimDuration,
    ) -> TrafficClient {
        TrafficClient {
            index,
            spec,
            cluster,
            identity,
            targets,
            pending: BTreeMap::new(),
            pool: BTreeMap::new(),
            by_conn: BTreeMap::new(),
            next_id: 1,
            log: TrafficLog::default(),
            latency,
            dns_cache: None,
        }
    }

    pub fn authority(&self) -> String {
        format!("{}:{}", self.spec.host, self.spec.port)
    }

    fn finish(&mut self, env: &mut Env<'_, '_>, id: u64, result: Result<String, String>) {
        let Some(p) = self.pending.remove(&id) else {
            return;
        };
        let record = RequestRecord {
            sent: p.sent,
            done: env.now(),
            result,
        };
        env.observe(Observation::RequestDone {
            traffic: self.index,
            sent: p.sent,
            host: self.spec.host.clone(),
            result: record.result.clone(),
        });
        self.log.record(record);
    }

    pub fn on_timer(&mut self, env: &mut Env<'_, '_>, timer: Timer) {
        match timer {
            Timer::TrafficTick => {
                let now = env.now();
                if self.spec.stop.is_some_and(|s| now >= SimTime::ZERO + s) {
                    return;
                }
                env.ctx
                    .timer(self.spec.interval, Msg::Timer(Timer::TrafficTick));
                let id = self.next_id;
                self.next_id += 1;
                self.pending.insert(
                    id,
                    Pending {
                        sent: now,
                        stage: Stage::Dns,
                    },
                );
                env.ctx
                    .timer(self.spec.timeout, Msg::Timer(Timer::RequestTimeout { id }));
                if let Some((expires, ips)) = &self.dns_cache
                    && now < *expires
                {
                    let ips = ips.clone();
                    self.resolve(env, id, &ips);
                    return;
                }
                let q = LookupMsg::DnsQuery {
                    id,
                    from: env.me(),
                    name: self.spec.host.clone(),
                };
                env.ctx.send(self.targets.dns, Msg::Lookup(q), self.latency);
            }
            Timer::RequestTimeout { id } => {
                let reason = match self.pending.get(&id).map(|p| &p.stage) {
                    Some(Stage::Dns) => "timeout: dns",
                    Some(Stage::Resolve) => "timeout: discovery",
                    Some(Stage::Connection { .. }) => "timeout: connect",
                    Some(Stage::Sent { .. }) => "timeout: response",
                    None => return,
                };
                self.finish(env, id, Err(reason.into()));
            }
            Timer::HandshakeDeadline { conn } => {
                let Some(key) = self.by_conn.get(&conn).cloned() else {
                    return;
                };
                let now = super::identity_book::IdentityBook::clock(env.now());
                let failed = match self.pool.get_mut(&key).map(|p| &mut p.state) {
                    Some(ConnState::Handshaking(hs)) => hs.handle_timeout(now),
                    _ => false,
                };
                if failed {
                    self.drop_conn(env, conn, "tls: handshake timeout".into(), true);
                }
            }
            _ => {}
        }
    }

    pub fn on_lookup(&mut self, env: &mut Env<'_, '_>, msg: LookupMsg) {
        match msg {
            LookupMsg::DnsReply { id, response } => {
                let Some(p) = self.pending.get_mut(&id) else {
                    return;
                };
                let Some(response) = response else {
                    self.finish(env, id, Err("dns: servfail".into()));
                    return;
                };
                let ips = response.ips();
                if ips.is_empty() {
                    self.finish(env, id, Err("dns: nxdomain".into()));
                    return;
                }
                let _ = p;
                if let crate::k8s::dns::DnsResponse::Answer(a) = response.as_ref() {
                    self.dns_cache = Some((env.now() + a.ttl, ips.clone()));
                }
                self.resolve(env, id, &ips);
            }
            LookupMsg::Resolved { id, result } => {
                self.on_resolved(env, id, result);
            }
            _ => {}
        }
    }

    /// Picks one of the addresses DNS gave and asks the destination controller about it.
    fn resolve(&mut self, env: &mut Env<'_, '_>, id: u64, ips: &[String]) {
        let Some(p) = self.pending.get_mut(&id) else {
            return;
        };
        let ip = ips[env.ctx.rng().below(ips.len() as u64) as usize].clone();
        p.stage = Stage::Resolve;
        let target = ResolveTarget::Ip {
            ip,
            port: self.spec.port,
        };
        let msg = LookupMsg::Resolve {
            id,
            from: env.me(),
            target,
        };
        env.ctx
            .send(self.targets.destination, Msg::Lookup(msg), self.latency);
    }

    fn on_resolved(
        &mut self,
        env: &mut Env<'_, '_>,
        id: u64,
        result: Result<Vec<MeshEndpoint>, String>,
    ) {
        if !self.pending.contains_key(&id) {
            return;
        }
        let endpoints = match result {
            Ok(e) if !e.is_empty() => e,
            Ok(_) => return self.finish(env, id, Err("no ready endpoints".into())),
            Err(e) => return self.finish(env, id, Err(format!("discovery: {e}"))),
        };
        let ep = endpoints[env.ctx.rng().below(endpoints.len() as u64) as usize].clone();
        self.dispatch(env, id, ep);
    }

    fn owner(&self, env: &Env<'_, '_>, ip: &str) -> Result<ComponentId, String> {
        let addr: Ipv4Addr = ip.parse().map_err(|_| format!("bad address {ip}"))?;
        let src = env.placement[env.me().index()];
        match env.topology.reach(src, addr) {
            Reach::Unroutable(why) => Err(format!("unroutable: {why:?}")),
            Reach::Local { kind, .. } => self.owner_of(env, src.0, kind, ip),
            Reach::Route { dst, kind, .. } => self.owner_of(env, dst.0, kind, ip),
        }
    }

    fn owner_of(
        &self,
        _env: &Env<'_, '_>,
        node: u32,
        kind: AddressKind,
        ip: &str,
    ) -> Result<ComponentId, String> {
        let (pods, gateway) = self
            .targets
            .owners
            .get(&node)
            .copied()
            .ok_or_else(|| format!("nobody owns {ip}"))?;
        match kind {
            AddressKind::Pod => Ok(pods),
            AddressKind::Gateway => gateway.ok_or_else(|| format!("no gateway at {ip}")),
            AddressKind::Service => Err(format!(
                "{ip} is a service address; the proxy needs endpoints"
            )),
        }
    }

    fn dispatch(&mut self, env: &mut Env<'_, '_>, id: u64, ep: MeshEndpoint) {
        let key: PoolKey = (ep.ip.clone(), ep.identity.clone());
        if let Some(pooled) = self.pool.get_mut(&key) {
            if let ConnState::Ready = pooled.state {
                let conn = pooled.conn;
                self.send_request(env, id, conn, &ep);
            } else {
                pooled.waiting.push(id);
                if let Some(p) = self.pending.get_mut(&id) {
                    p.stage = Stage::Connection { endpoint: ep };
                }
            }
            return;
        }
        let server = match self.owner(env, &ep.ip) {
            Ok(s) => s,
            Err(e) => return self.finish(env, id, Err(e)),
        };
        let conn = env.connect(server);
        self.pool.insert(
            key.clone(),
            Pooled {
                conn,
                state: ConnState::Connecting,
                waiting: vec![id],
            },
        );
        self.by_conn.insert(conn, key.clone());
        if let Some(p) = self.pending.get_mut(&id) {
            p.stage = Stage::Connection { endpoint: ep };
        }
    }

    fn send_request(&mut self, env: &mut Env<'_, '_>, id: u64, conn: ConnId, ep: &MeshEndpoint) {
        let authority = ep.authority.clone().unwrap_or_else(|| self.authority());
        let frame = HttpFrame::Request {
            id,
            authority,
            target_ip: ep.ip.clone(),
            port: ep.port,
            path: "/".into(),
        };
        env.send(conn, Side::Client, Payload::Http(Box::new(frame)));
        if let Some(p) = self.pending.get_mut(&id) {
            p.stage = Stage::Sent { conn };
        }
    }

    fn ready(&mut self, env: &mut Env<'_, '_>, conn: ConnId) {
        let Some(key) = self.by_conn.get(&conn).cloned() else {
            return;
        };
        let Some(pooled) = self.pool.get_mut(&key) else {
            return;
        };
        pooled.state = ConnState::Ready;
        let waiting = std::mem::take(&mut pooled.waiting);
        for id in waiting {
            let ep = match self.pending.get(&id).map(|p| &p.stage) {
                Some(Stage::Connection { endpoint, .. }) => endpoint.clone(),
                _ => continue,
            };
            self.send_request(env, id, conn, &ep);
        }
    }

    /// Forgets a connection and fails every request waiting for or sent on it.
    fn drop_conn(&mut self, env: &mut Env<'_, '_>, conn: ConnId, reason: String, close: bool) {
        let Some(key) = self.by_conn.remove(&conn) else {
            return;
        };
        let waiting = self
            .pool
            .remove(&key)
            .map(|p| p.waiting)
            .unwrap_or_default();
        if close {
            env.close(conn, Side::Client);
        }
        let sent: Vec<u64> = self
            .pending
            .iter()
            .filter(|(_, p)| matches!(p.stage, Stage::Sent { conn: c } if c == conn))
            .map(|(id, _)| *id)
            .collect();
        for id in waiting.into_iter().chain(sent) {
            self.finish(env, id, Err(reason.clone()));
        }
    }

    pub fn on_conn(&mut self, env: &mut Env<'_, '_>, event: ConnEvent) {
        match event {
            ConnEvent::Connected { conn } => {
                let Some(key) = self.by_conn.get(&conn).cloned() else {
                    return;
                };
                match key.1.clone() {
                    None => self.ready(env, conn),
                    Some(expected) => {
                        let config =
                            env.identity
                                .client_config(self.cluster, &self.identity, env.now());
                        let now = super::identity_book::IdentityBook::clock(env.now());
                        let (hs, hello) =
                            ClientHandshake::start(config, &expected, now, env.ctx.rng());
                        if let Some(deadline) = hs.deadline() {
                            let at = deadline.saturating_since(now);
                            env.ctx
                                .timer(at, Msg::Timer(Timer::HandshakeDeadline { conn }));
                        }
                        if let Some(p) = self.pool.get_mut(&key) {
                            p.state = ConnState::Handshaking(Box::new(hs));
                        }
                        env.send(conn, Side::Client, Payload::Tls(Box::new(hello)));
                    }
                }
            }
            ConnEvent::ConnectFailed { conn, error } => {
                let reason = match error {
                    ConnectError::Refused => "connect: refused",
                    ConnectError::Timeout => "connect: timeout",
                };
                self.drop_conn(env, conn, reason.into(), false);
            }
            ConnEvent::Closed { conn, reason } => {
                let reason = match reason {
                    CloseReason::PeerClosed => "connection closed by peer",
                    CloseReason::Reset => "connection reset",
                    CloseReason::Timeout => "connection timed out",
                };
                self.drop_conn(env, conn, reason.into(), false);
            }
            ConnEvent::Data {
                conn,
                payload: Payload::Tls(flight),
            } => {
                let Some(key) = self.by_conn.get(&conn).cloned() else {
                    return;
                };
                let now = super::identity_book::IdentityBook::clock(env.now());
                let Some(Pooled {
                    state: ConnState::Handshaking(hs),
                    ..
                }) = self.pool.get_mut(&key)
                else {
                    return;
                };
                let reply = hs.handle(now, &flight, &mut env.identity.memo);
                let outcome = hs.outcome();
                if let Some(reply) = reply {
                    env.send(conn, Side::Client, Payload::Tls(Box::new(reply)));
                }
                match outcome {
                    Some(Outcome::Established { .. }) if !matches!(*flight, Flight::Alert(_)) => {
                        self.ready(env, conn)
                    }
                    Some(Outcome::Established { .. }) => {}
                    Some(Outcome::Failed(e)) => {
                        self.drop_conn(env, conn, format!("tls: {e}"), true)
                    }
                    None => {}
                }
            }
            ConnEvent::Data {
                conn,
                payload: Payload::Http(frame),
            } => {
                let HttpFrame::Response {
                    id,
                    status,
                    served_by,
                    error,
                } = *frame
                else {
                    return;
                };
                if !matches!(self.pending.get(&id).map(|p| &p.stage), Some(Stage::Sent { conn: c }) if *c == conn)
                {
                    return;
                }
                let result = match (status, served_by) {
                    (200, Some(pod)) => Ok(pod),
                    (code, _) => Err(format!("http {code}: {}", error.unwrap_or_default())),
                };
                self.finish(env, id, result);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::sim::{SimDuration, SimTime};
    use crate::world::harness::Harness;
    use crate::world::{Node, TEST_SCENARIO};

    const CLIENT: &str = "west/traffic-0";

    /// A tick sends a request's DNS query to the client's own CoreDNS and arms the next tick
    /// one interval (0.5 s at 2/s) later.
    #[test]
    fn a_tick_resolves_through_cluster_dns_and_arms_the_next() {
        let mut h = Harness::new(TEST_SCENARIO);
        let tick = h.step_until(SimDuration::from_mins(1), |d| {
            d.to == CLIENT && d.kind == "timer-traffic"
        });
        assert_eq!(tick.at, SimTime::ZERO + SimDuration::from_secs(30));
        assert!(tick.sent("west/coredns", "dns-query"), "{tick:?}");
        let next = tick
            .sent
            .iter()
            .find(|s| s.to == CLIENT && s.kind == "timer-traffic");
        assert_eq!(
            next.map(|s| s.at),
            Some(tick.at + SimDuration::from_millis(500))
        );
    }

    /// Through the gateway, every request is answered by east's web pod.
    #[test]
    fn requests_are_answered_by_the_target_pod() {
        let mut h = Harness::new(TEST_SCENARIO);
        h.run_to(SimDuration::from_mins(2));
        let Node::Traffic(t) = h.world.node(h.id(CLIENT)) else {
            panic!("a traffic client")
        };
        let all = t.log.window(SimTime::ZERO, None).merged();
        assert!(all.sent > 100);
        assert!(all.ok * 10 >= all.sent * 9, "{} of {}", all.ok, all.sent);
        assert_eq!(all.served_by.keys().collect::<Vec<_>>(), ["east"]);
        let last = t.log.last().map(|r| r.result.clone());
        assert!(
            matches!(&last, Some(Ok(pod)) if pod.starts_with("east/default/web-")),
            "{last:?}"
        );
    }
}
