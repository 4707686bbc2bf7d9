//! The probe's link to the target gateway (spec §8.2–§8.3): the probe worker's ticks and
//! results, carried over the controller proxy's pooled mTLS connection to the gateway's port
//! 4191 (the probe's HTTP client is new each time, but its proxy reuses the connection). A
//! failed probe drops the connection; the next one reconnects. Liveness changes go to the
//! watcher ([`crate::multicluster::GatewayLiveness`]), which enqueues a repair.

use super::lifecycle::Phase;
use super::{MirrorKind, MirrorNode};
use crate::identity::{ClientHandshake, Outcome};
use crate::multicluster::{ProbeResult, ProbeWorker};
use crate::sim::SimTime;
use crate::world::env::Env;
use crate::world::gateway::PROBE_PORT;
use crate::world::identity_book::IdentityBook;
use crate::world::kubelet_node::conn_of;
use crate::world::mesh_server::HttpFrame;
use crate::world::msg::{Msg, Payload, Timer};
use crate::world::observe::Observation;
use crate::world::transport::{ConnEvent, ConnId, Side};

/// The controller proxy's connection to the gateway, reused by every probe.
struct ProbeConn {
    conn: ConnId,
    handshake: Option<Box<ClientHandshake>>,
    ready: bool,
}

pub(super) struct ProbeState {
    pub worker: ProbeWorker,
    /// The probe in flight: (id, sent at).
    current: Option<(u64, SimTime)>,
    conn: Option<ProbeConn>,
    /// The watcher generation this worker belongs to: timers of older workers are stale.
    generation: u64,
}

impl ProbeState {
    /// A new probe worker for watcher `generation`, its first tick armed.
    pub(super) fn start(env: &mut Env<'_, '_>, worker: ProbeWorker, generation: u64) -> ProbeState {
        if let Some(d) = worker.first_tick_delay(env.ctx.rng()) {
            env.ctx
                .timer(d, Msg::Timer(Timer::ProbeTick { generation }));
        }
        ProbeState {
            worker,
            current: None,
            conn: None,
            generation,
        }
    }

    /// The worker stops: its connection closes.
    pub(super) fn close(self, env: &mut Env<'_, '_>) {
        if let Some(c) = self.conn {
            env.close(c.conn, Side::Client);
        }
    }
}

fn send_probe(env: &mut Env<'_, '_>, conn: ConnId, id: u64) {
    let frame = HttpFrame::Request {
        id,
        authority: format!("probe:{PROBE_PORT}"),
        target_ip: String::new(),
        port: PROBE_PORT,
        path: "/ready".into(),
    };
    env.send(conn, Side::Client, Payload::Http(Box::new(frame)));
}

impl MirrorNode {
    pub(super) fn probe_tick(&mut self, env: &mut Env<'_, '_>, generation: u64) {
        let Some(p) = &mut self.probe else { return };
        if p.generation != generation {
            return;
        }
        let now = env.now();
        let tick = p.worker.on_tick(now, env.ctx.rng());
        if let Some(after) = tick.next_tick_after {
            env.ctx
                .timer(after, Msg::Timer(Timer::ProbeTick { generation }));
        }
        if let Some(alive) = tick.liveness {
            self.liveness(env, alive);
        }
        let Some(req) = tick.request else { return };
        let Some(p) = &mut self.probe else { return };
        let gateway = match self.settings.kind {
            MirrorKind::Link { remote_gateway } => remote_gateway,
            MirrorKind::Local => None,
        };
        let Some(gateway) = gateway else {
            let change = p
                .worker
                .on_result(now, req.id, ProbeResult::Error("no gateway".into()));
            if let Some(alive) = change {
                self.liveness(env, alive);
            }
            return;
        };
        p.current = Some((req.id, now));
        env.ctx.timer(
            req.timeout,
            Msg::Timer(Timer::ProbeTimeout {
                generation,
                id: req.id,
            }),
        );
        match &p.conn {
            Some(c) if c.ready => send_probe(env, c.conn, req.id),
            Some(_) => {} // connecting: sent once the connection is ready
            None => {
                let conn = env.connect(gateway);
                p.conn = Some(ProbeConn {
                    conn,
                    handshake: None,
                    ready: false,
                });
            }
        }
    }

    pub(super) fn probe_done(
        &mut self,
        env: &mut Env<'_, '_>,
        generation: u64,
        id: u64,
        result: ProbeResult,
    ) {
        let Some(p) = &mut self.probe else { return };
        if p.generation != generation || p.current.is_none_or(|(cur, _)| cur != id) {
            return;
        }
        p.current = None;
        // A failed probe makes the proxy drop the connection; the next probe reconnects.
        if matches!(result, ProbeResult::Error(_))
            && let Some(c) = p.conn.take()
        {
            env.close(c.conn, Side::Client);
        }
        let change = p.worker.on_result(env.now(), id, result);
        for line in p.worker.take_log() {
            self.say(env, line);
        }
        if let Some(alive) = change {
            self.liveness(env, alive);
        }
    }

    /// A liveness message from the probe worker to the running watcher.
    fn liveness(&mut self, env: &mut Env<'_, '_>, alive: bool) {
        env.observe(Observation::GatewayLiveness {
            link: self.settings.link_name.clone(),
            alive,
        });
        if let Phase::Running(r) = &mut self.phase {
            let repair = r.liveness.on_liveness(alive);
            r.queue.add(repair);
        }
        self.arm_work(env);
    }

    /// A connection event that is neither client's: the probe connection's.
    pub(super) fn probe_conn(&mut self, env: &mut Env<'_, '_>, event: ConnEvent) {
        let expected = self
            .current_link()
            .map(|l| l.spec.gateway_identity.clone())
            .unwrap_or_default();
        let identity = self.settings.identity.clone();
        let Some(p) = &mut self.probe else { return };
        let Some(c) = &mut p.conn else { return };
        if conn_of(&event) != c.conn {
            return;
        }
        let conn = c.conn;
        let generation = p.generation;
        let current = p.current;
        let fail = |reason: String| current.map(|(id, _)| (id, ProbeResult::Error(reason)));
        let outcome: Option<(u64, ProbeResult)> = match event {
            ConnEvent::Connected { .. } => {
                let config = env
                    .identity
                    .client_config(env.cluster, &identity, env.now());
                let (h, hello) = ClientHandshake::start(
                    config,
                    &expected,
                    IdentityBook::clock(env.now()),
                    env.ctx.rng(),
                );
                c.handshake = Some(Box::new(h));
                env.send(conn, Side::Client, Payload::Tls(Box::new(hello)));
                None
            }
            ConnEvent::ConnectFailed { error, .. } => {
                p.conn = None;
                fail(format!("dial: {error:?}"))
            }
            ConnEvent::Closed { reason, .. } => {
                p.conn = None;
                fail(format!("connection {reason:?}"))
            }
            ConnEvent::Data {
                payload: Payload::Tls(flight),
                ..
            } => {
                let Some(h) = &mut c.handshake else { return };
                let reply = h.handle(
                    IdentityBook::clock(env.now()),
                    &flight,
                    &mut env.identity.memo,
                );
                let done = h.outcome();
                if let Some(reply) = reply {
                    env.send(conn, Side::Client, Payload::Tls(Box::new(reply)));
                }
                match done {
                    Some(Outcome::Established { .. }) if !c.ready => {
                        c.ready = true;
                        if let Some((id, _)) = current {
                            send_probe(env, conn, id);
                        }
                        None
                    }
                    Some(Outcome::Failed(e)) => {
                        p.conn = None;
                        env.close(conn, Side::Client);
                        fail(format!("tls: {e}"))
                    }
                    Some(Outcome::Established { .. }) | None => None,
                }
            }
            ConnEvent::Data {
                payload: Payload::Http(frame),
                ..
            } => {
                let HttpFrame::Response { id, status, .. } = *frame else {
                    return;
                };
                current.filter(|(cur, _)| *cur == id).map(|(id, sent)| {
                    let latency = env.now().saturating_since(sent);
                    (id, ProbeResult::Response { status, latency })
                })
            }
            // The probe's connection is a client's: it is never accepted, and carries no API
            // frames.
            ConnEvent::Accepted { .. }
            | ConnEvent::Data {
                payload: Payload::Api(_),
                ..
            } => None,
        };
        if let Some((id, result)) = outcome {
            self.probe_done(env, generation, id, result);
        }
    }
}
