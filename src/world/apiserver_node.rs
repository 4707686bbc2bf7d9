//! The API server of one cluster as a simulation component: serves [`ApiFrame`]s arriving on
//! connections (from in-cluster controllers and from other clusters' service mirrors), streams
//! watch events to each open watch's connection, closes watches at their server-side timeout,
//! and serves *direct* calls from components of its own cluster ([`ApiServerNode::call_direct`]).
//!
//! Owns: the [`ApiServer`] (the store survives a restart, as etcd does; watches do not) and the
//! mapping from watches to connections. Never reads another component's state.

use super::frames::ApiFrame;
use super::msg::{Msg, Payload, Timer};
use super::transport::{ConnEvent, ConnId, NetEnv, Side, Transport};
use crate::k8s::{ApiServer, Request, Response, Status, WatchEvent, WatchId};
use crate::sim::SimTime;
use std::collections::{BTreeMap, BTreeSet};

pub struct ApiServerNode {
    pub server: ApiServer,
    /// Open watch → (connection, the client's stream id).
    watches: BTreeMap<WatchId, (ConnId, u64)>,
    by_conn: BTreeMap<ConnId, BTreeSet<WatchId>>,
    next_watch: u64,
    /// The instant of the armed expiry timer, if any (later timers are no-ops).
    expiry_armed: Option<SimTime>,
    pub requests_served: u64,
}

impl ApiServerNode {
    pub fn new(server: ApiServer) -> ApiServerNode {
        ApiServerNode {
            server,
            watches: BTreeMap::new(),
            by_conn: BTreeMap::new(),
            next_watch: 1,
            expiry_armed: None,
            requests_served: 0,
        }
    }

    /// Serves one request and streams the watch events it caused.
    pub fn call_direct(
        &mut self,
        net: &mut NetEnv<'_, '_>,
        transport: &mut Transport,
        req: Request,
    ) -> Result<Response, Status> {
        let now = net.ctx.now();
        self.requests_served += 1;
        let result = self.server.handle(now, net.ctx.rng(), req);
        self.flush(net, transport);
        result
    }

    /// Sends every pending watch event to its stream.
    pub fn flush(&mut self, net: &mut NetEnv<'_, '_>, transport: &mut Transport) {
        for (wid, event) in self.server.take_watch_events() {
            let Some(&(conn, id)) = self.watches.get(&wid) else {
                continue;
            };
            let ends_stream = matches!(event, WatchEvent::Error(_));
            transport.send(
                net,
                conn,
                Side::Server,
                Payload::Api(ApiFrame::Event { id, event }),
            );
            if ends_stream {
                self.forget_watch(wid);
                self.server.close_watch(wid);
            }
        }
    }

    fn forget_watch(&mut self, wid: WatchId) {
        if let Some((conn, _)) = self.watches.remove(&wid)
            && let Some(set) = self.by_conn.get_mut(&conn)
        {
            set.remove(&wid);
            if set.is_empty() {
                self.by_conn.remove(&conn);
            }
        }
    }

    fn arm_expiry(&mut self, net: &mut NetEnv<'_, '_>) {
        if let Some(at) = self.server.next_watch_expiry()
            && self.expiry_armed.is_none_or(|armed| at < armed)
        {
            self.expiry_armed = Some(at);
            let me = net.ctx.me();
            net.ctx.send_at(me, Msg::Timer(Timer::ApiServerExpiry), at);
        }
    }

    pub fn on_conn(
        &mut self,
        net: &mut NetEnv<'_, '_>,
        transport: &mut Transport,
        event: ConnEvent,
    ) {
        match event {
            ConnEvent::Data {
                conn,
                payload: Payload::Api(frame),
            } => self.on_frame(net, transport, conn, frame),
            ConnEvent::Closed { conn, .. } => {
                for wid in self.by_conn.remove(&conn).unwrap_or_default() {
                    self.watches.remove(&wid);
                    self.server.close_watch(wid);
                }
            }
            // Accepted needs no action; other payloads are not for an API server.
            _ => {}
        }
    }

    fn on_frame(
        &mut self,
        net: &mut NetEnv<'_, '_>,
        transport: &mut Transport,
        conn: ConnId,
        frame: ApiFrame,
    ) {
        let now = net.ctx.now();
        match frame {
            ApiFrame::Request { id, request } => {
                self.requests_served += 1;
                let result = self.server.handle(now, net.ctx.rng(), *request);
                transport.send(
                    net,
                    conn,
                    Side::Server,
                    Payload::Api(ApiFrame::Response {
                        id,
                        result: Box::new(result),
                    }),
                );
                self.flush(net, transport);
            }
            ApiFrame::Watch { id, request } => {
                let wid = WatchId(self.next_watch);
                self.next_watch += 1;
                let result = self.server.open_watch(now, wid, *request);
                if result.is_ok() {
                    self.watches.insert(wid, (conn, id));
                    self.by_conn.entry(conn).or_default().insert(wid);
                }
                transport.send(
                    net,
                    conn,
                    Side::Server,
                    Payload::Api(ApiFrame::WatchOpened {
                        id,
                        result: Box::new(result),
                    }),
                );
                self.arm_expiry(net);
            }
            ApiFrame::Cancel { id } => {
                let found = self
                    .watches
                    .iter()
                    .find(|(_, (c, i))| *c == conn && *i == id)
                    .map(|(w, _)| *w);
                if let Some(wid) = found {
                    self.forget_watch(wid);
                    self.server.close_watch(wid);
                }
            }
            // Server-to-client frames arriving here would be a protocol bug in mcsim.
            ApiFrame::Response { .. }
            | ApiFrame::WatchOpened { .. }
            | ApiFrame::Event { .. }
            | ApiFrame::WatchEnd { .. } => {
                debug_assert!(false, "client frame sent to an API server");
            }
        }
    }

    /// Closes the watches whose server-side timeout has passed; the clients rewatch.
    pub fn on_expiry_timer(&mut self, net: &mut NetEnv<'_, '_>, transport: &mut Transport) {
        let now = net.ctx.now();
        self.expiry_armed = None;
        for wid in self.server.expire_watches(now) {
            if let Some(&(conn, id)) = self.watches.get(&wid) {
                transport.send(
                    net,
                    conn,
                    Side::Server,
                    Payload::Api(ApiFrame::WatchEnd { id }),
                );
            }
            self.forget_watch(wid);
        }
        self.arm_expiry(net);
    }

    /// The watch history is compacted: every open watch gets a 410 in its stream.
    pub fn compact(&mut self, net: &mut NetEnv<'_, '_>, transport: &mut Transport) {
        self.server.compact();
        self.flush(net, transport);
    }

    /// The process died: watches vanish (connections are reset by the transport).
    pub fn crash(&mut self) {
        for wid in std::mem::take(&mut self.watches).into_keys() {
            self.server.close_watch(wid);
        }
        self.by_conn.clear();
        self.expiry_armed = None;
    }

    pub fn open_watches(&self) -> usize {
        self.watches.len()
    }
}

#[cfg(test)]
mod tests {
    use crate::sim::SimDuration;
    use crate::world::harness::Harness;
    use crate::world::{Msg, TEST_SCENARIO, Timer};

    const API: &str = "east/apiserver";

    /// Every request arriving on a connection (informers' lists, the service mirror's
    /// `Version` call from west) is answered once, on it.
    #[test]
    fn a_request_is_answered_on_its_connection() {
        let mut h = Harness::new(TEST_SCENARIO);
        let mut answered = std::collections::BTreeSet::new();
        while !answered.contains("west/service-mirror-east") {
            let request = h.step_until(SimDuration::from_secs(30), |d| {
                d.to == API && d.kind == "api-request"
            });
            let responses: Vec<_> = request
                .sent
                .iter()
                .filter(|s| s.kind == "api-response")
                .collect();
            assert_eq!(responses.len(), 1, "{request:?}");
            answered.insert(responses[0].to.clone());
        }
        assert!(answered.contains("east/controller-manager"), "{answered:?}");
    }

    /// A direct write by an in-cluster component (the kubelet's pod status) streams watch
    /// events to the components watching that kind.
    #[test]
    fn a_direct_write_streams_events_to_the_watches() {
        let mut h = Harness::new(TEST_SCENARIO);
        let write = h.step_until(SimDuration::from_secs(30), |d| {
            d.to == "east/kubelet" && d.sent.iter().any(|s| s.kind == "api-watch-event")
        });
        assert!(
            write.sent("east/kubelet", "api-watch-event"),
            "its own informer: {write:?}"
        );
        assert!(h.world.apis[1].open_watches() > 0);
    }

    /// Watches close at their server-side timeout and the clients watch again.
    #[test]
    fn watches_end_at_their_timeout_and_clients_rewatch() {
        let scenario = TEST_SCENARIO.replace(
            "name = \"east\"\n",
            "name = \"east\"\napi = { watch_timeout = \"20s\" }\n",
        );
        let mut h = Harness::new(&scenario);
        let expiry = h.step_until(SimDuration::from_mins(1), |d| {
            d.to == API && d.kind == "timer-watch-expiry" && !d.sent.is_empty()
        });
        let client = expiry
            .sent
            .iter()
            .find(|s| s.kind == "api-watch-end")
            .map(|s| s.to.clone())
            .expect("a watch ends");
        let rewatch = h.step_until(SimDuration::from_secs(5), |d| {
            d.to == client && d.kind == "api-watch-end"
        });
        assert!(
            rewatch.sent(API, "api-watch") || rewatch.sent(API, "api-request"),
            "{rewatch:?}"
        );
    }

    /// A crash resets every connection (the clients see them close) and forgets the watches;
    /// the store survives.
    #[test]
    fn a_crash_forgets_the_watches_but_keeps_the_store() {
        let scenario = format!(
            "{TEST_SCENARIO}[[fault]]\nat = \"1m\"\nfor = \"10s\"\napi_server_down = \"east\"\n"
        );
        let mut h = Harness::new(&scenario);
        h.run_to(SimDuration::from_secs(59));
        let objects = h.store("east").len();
        let crash = h.step_until(SimDuration::from_secs(2), |d| d.kind == "fault-inject");
        assert!(
            crash.sent("east/controller-manager", "tcp-closed"),
            "{crash:?}"
        );
        assert_eq!(h.world.apis[1].open_watches(), 0);
        assert_eq!(h.store("east").len(), objects);
        // A timer for a down API server is withheld.
        assert_eq!(h.deliver(API, Msg::Timer(Timer::ApiServerExpiry)), []);
    }
}
