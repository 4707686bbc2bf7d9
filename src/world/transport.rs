//! A TCP-like connection layer over the topology, used by API clients, probes and traffic.
//!
//! Semantics (chosen to match what a real stream does, so faults have the right *shape*):
//! - `connect` costs a round trip (SYN, SYN-ACK). A refused connection (reject-mode block, or a
//!   host that is up with no process listening) fails after about one round trip; a silently
//!   dropped one (drop-mode block, dead host, no route) fails only at the connect timeout.
//! - Data on an established connection arrives in order (per direction deliveries never overtake
//!   each other); random loss costs retransmission time (RTO 200 ms, doubling), never a hole.
//! - When the path breaks in drop mode, the connection *stalls*: data is buffered, and if the
//!   path heals before the keepalive timeout the buffer is delivered in order; otherwise both
//!   ends see `Closed(Timeout)`. A reject-mode block, or the peer process dying, resets the
//!   connection: both ends see `Closed(Reset)` quickly.
//!
//! Owns: the connection table. Reads: the topology (path state) and the world's placement and
//! up/down flags (through [`NetEnv`]). Never touches component state: it returns the
//! [`ConnEvent`] the world hands to the component.

use super::msg::{Msg, NetMsg, Payload};
use crate::net::topology::{NodeId, PathState, Topology};
use crate::sim::{ComponentId, Ctx, SimDuration, SimTime};
use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConnId(pub u64);

impl crate::sim::hash::Digest for ConnId {
    fn digest(&self, h: &mut crate::sim::hash::StableHasher) {
        h.word(self.0);
    }
}

/// Tags: Client 0, Server 1.
impl crate::sim::hash::Digest for Side {
    fn digest(&self, h: &mut crate::sim::hash::StableHasher) {
        h.word(self.index() as u64);
    }
}

/// Tags: PeerClosed 0, Reset 1, Timeout 2.
impl crate::sim::hash::Digest for CloseReason {
    fn digest(&self, h: &mut crate::sim::hash::StableHasher) {
        h.word(match self {
            CloseReason::PeerClosed => 0,
            CloseReason::Reset => 1,
            CloseReason::Timeout => 2,
        });
    }
}

/// Size of a SYN, FIN or RST, in bytes.
const CONTROL_PACKET: u64 = 64;

/// Which end of a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    Client,
    Server,
}

impl Side {
    pub fn other(self) -> Side {
        match self {
            Side::Client => Side::Server,
            Side::Server => Side::Client,
        }
    }
    fn index(self) -> usize {
        match self {
            Side::Client => 0,
            Side::Server => 1,
        }
    }
}

/// Why a connection attempt failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConnectError {
    /// RST or ICMP unreachable: fails fast.
    Refused,
    /// No answer before the connect timeout.
    Timeout,
}

/// Why an established connection ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CloseReason {
    /// The peer closed it.
    PeerClosed,
    /// Reset by the peer's host or a middlebox.
    Reset,
    /// The keepalive timeout fired while the path was broken.
    Timeout,
}

/// What a component learns from the transport.
#[derive(Clone, Debug)]
pub enum ConnEvent {
    /// A new connection to this (server) component is established.
    Accepted {
        conn: ConnId,
        peer: ComponentId,
    },
    /// This component's connection attempt succeeded.
    Connected {
        conn: ConnId,
    },
    ConnectFailed {
        conn: ConnId,
        error: ConnectError,
    },
    Data {
        conn: ConnId,
        payload: Payload,
    },
    Closed {
        conn: ConnId,
        reason: CloseReason,
    },
}

#[derive(Clone, Copy, Debug)]
pub struct TransportConfig {
    pub connect_timeout: SimDuration,
    /// How long a stalled connection survives (HTTP/2 ping / TCP keepalive detection).
    pub keepalive_timeout: SimDuration,
    pub rto_min: SimDuration,
}

impl Default for TransportConfig {
    fn default() -> Self {
        TransportConfig {
            connect_timeout: SimDuration::from_secs(10),
            keepalive_timeout: SimDuration::from_secs(30),
            rto_min: SimDuration::from_millis(200),
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum State {
    SynSent,
    Established,
}

struct Stall {
    /// Buffered payloads in send order, with the side that sent each.
    buffered: Vec<(Side, Payload)>,
}

struct Conn {
    ends: [ComponentId; 2],
    nodes: [NodeId; 2],
    state: State,
    stall: Option<Stall>,
    /// Per receiving side: the last scheduled delivery, so a direction never reorders.
    last_delivery: [SimTime; 2],
    /// Bumped on each stall, so an old keepalive check is a no-op.
    stall_generation: u64,
}

/// What the transport needs from the world while it works.
pub struct NetEnv<'a, 'b> {
    pub ctx: &'a mut Ctx<'b, Msg>,
    pub topology: &'a Topology,
    /// Cluster node of every component.
    pub placement: &'a [NodeId],
    /// Component process down (host may be up).
    pub down: &'a [bool],
}

impl NetEnv<'_, '_> {
    fn node_of(&self, c: ComponentId) -> NodeId {
        self.placement[c.index()]
    }
    fn host_down(&self, node: NodeId) -> bool {
        self.topology.is_down(node)
    }
}

#[derive(Default)]
pub struct Transport {
    config: TransportConfig,
    conns: BTreeMap<ConnId, Conn>,
    next_id: u64,
}

impl Transport {
    pub fn new(config: TransportConfig) -> Transport {
        Transport {
            config,
            conns: BTreeMap::new(),
            next_id: 1,
        }
    }

    pub fn open_connections(&self) -> usize {
        self.conns.len()
    }

    pub fn is_open(&self, conn: ConnId) -> bool {
        self.conns
            .get(&conn)
            .is_some_and(|c| c.state == State::Established)
    }

    pub fn peer(&self, conn: ConnId, me: Side) -> Option<ComponentId> {
        self.conns.get(&conn).map(|c| c.ends[me.other().index()])
    }

    /// One-way delay for a message of `size` bytes from `from` to `to`, or why it cannot go.
    /// One-way delay for `size_bytes` from `from` to `to`: latency, jitter, serialisation at the
    /// path's bandwidth (if it has one), retransmissions for loss, and the exploration
    /// perturbation; or why the path is not up.
    fn one_way(
        env: &mut NetEnv<'_, '_>,
        from: NodeId,
        to: NodeId,
        rto_min: SimDuration,
        size_bytes: u64,
    ) -> Result<SimDuration, PathState> {
        match env.topology.path_state(from, to) {
            PathState::Up(m) => {
                let serialise = m
                    .bandwidth_bytes_per_sec
                    .filter(|bw| *bw > 0)
                    .map(|bw| {
                        SimDuration(
                            u64::try_from(u128::from(size_bytes) * 1_000_000_000 / u128::from(bw))
                                .unwrap_or(u64::MAX),
                        )
                    })
                    .unwrap_or(SimDuration::ZERO);
                let mut delay = m.latency
                    + serialise
                    + env.ctx.schedule().jitter(m.jitter)
                    + env.ctx.schedule().perturb_delay();
                // Loss on a stream costs retransmissions, never a hole.
                let mut rto = rto_min.max(m.latency.saturating_mul(2));
                let mut tries = 0;
                while tries < 6 && env.ctx.rng().chance(m.loss) {
                    delay = delay + rto;
                    rto = rto.saturating_mul(2);
                    tries += 1;
                }
                Ok(delay)
            }
            other => Err(other),
        }
    }

    /// Opens a connection from `client` to `server`. The outcome arrives later as
    /// `Connected`/`ConnectFailed` for the client and `Accepted` for the server.
    pub fn connect(
        &mut self,
        env: &mut NetEnv<'_, '_>,
        client: ComponentId,
        server: ComponentId,
    ) -> ConnId {
        let id = ConnId(self.next_id);
        self.next_id += 1;
        let nodes = [env.node_of(client), env.node_of(server)];
        self.conns.insert(
            id,
            Conn {
                ends: [client, server],
                nodes,
                state: State::SynSent,
                stall: None,
                last_delivery: [SimTime::ZERO; 2],
                stall_generation: 0,
            },
        );
        match Self::one_way(env, nodes[0], nodes[1], self.config.rto_min, CONTROL_PACKET) {
            Ok(d) => env.ctx.send(server, Msg::Net(NetMsg::Syn { conn: id }), d),
            Err(PathState::Blocked(crate::net::fault::BlockMode::Reject)) => {
                // ICMP unreachable / RST from the firewall: back after about one hop.
                env.ctx.send(
                    client,
                    Msg::Net(NetMsg::Refused { conn: id }),
                    SimDuration::from_millis(1),
                );
            }
            Err(_) => {}
        }
        env.ctx.send(
            client,
            Msg::Net(NetMsg::ConnectTimeout { conn: id }),
            self.config.connect_timeout,
        );
        id
    }

    /// Sends `payload` on `conn` from side `from`. Silently ignored on a closed connection (the
    /// sender has been, or will be, told it closed).
    pub fn send(&mut self, env: &mut NetEnv<'_, '_>, conn: ConnId, from: Side, payload: Payload) {
        let rto_min = self.config.rto_min;
        let keepalive = self.config.keepalive_timeout;
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        if c.state != State::Established {
            return;
        }
        if let Some(stall) = &mut c.stall {
            stall.buffered.push((from, payload));
            return;
        }
        let to = from.other();
        let size = payload.size_bytes();
        match Self::one_way(
            env,
            c.nodes[from.index()],
            c.nodes[to.index()],
            rto_min,
            size,
        ) {
            Ok(d) => {
                let at = (env.ctx.now() + d).max(c.last_delivery[to.index()] + SimDuration(1));
                c.last_delivery[to.index()] = at;
                env.ctx.send_at(
                    c.ends[to.index()],
                    Msg::Net(NetMsg::Data { conn, to, payload }),
                    at,
                );
            }
            Err(PathState::Blocked(crate::net::fault::BlockMode::Reject)) => {
                let ends = c.ends;
                self.conns.remove(&conn);
                Self::notify_closed(env, conn, ends, CloseReason::Reset);
            }
            Err(_) => {
                c.stall_generation += 1;
                c.stall = Some(Stall {
                    buffered: vec![(from, payload)],
                });
                let generation = c.stall_generation;
                let client = c.ends[0];
                env.ctx.send(
                    client,
                    Msg::Net(NetMsg::KeepaliveCheck { conn, generation }),
                    keepalive,
                );
            }
        }
    }

    /// Closes `conn` gracefully from side `by`; the peer sees `Closed(PeerClosed)` after the
    /// path delay (or at its keepalive timeout if the path is broken).
    pub fn close(&mut self, env: &mut NetEnv<'_, '_>, conn: ConnId, by: Side) {
        let Some(c) = self.conns.remove(&conn) else {
            return;
        };
        let peer = c.ends[by.other().index()];
        if c.state == State::Established
            && let Ok(d) = Self::one_way(
                env,
                c.nodes[by.index()],
                c.nodes[by.other().index()],
                self.config.rto_min,
                CONTROL_PACKET,
            )
        {
            let at = (env.ctx.now() + d).max(c.last_delivery[by.other().index()] + SimDuration(1));
            env.ctx.send_at(peer, Msg::Net(NetMsg::Fin { conn }), at);
        }
    }

    fn notify_closed(
        env: &mut NetEnv<'_, '_>,
        conn: ConnId,
        ends: [ComponentId; 2],
        reason: CloseReason,
    ) {
        for end in ends {
            env.ctx.send(
                end,
                Msg::Net(NetMsg::Closed { conn, reason }),
                SimDuration::from_micros(1),
            );
        }
    }

    /// Handles a transport message addressed to component `to`; returns the event (if any) the
    /// component should see.
    pub fn on_net(
        &mut self,
        env: &mut NetEnv<'_, '_>,
        to: ComponentId,
        msg: NetMsg,
    ) -> Option<ConnEvent> {
        match msg {
            NetMsg::Syn { conn } => {
                let c = self.conns.get_mut(&conn)?;
                if c.state != State::SynSent {
                    return None;
                }
                if env.host_down(c.nodes[1]) {
                    return None; // nobody home: the client times out
                }
                if env.down[to.index()] {
                    // Host up, nothing listening: RST.
                    let client = c.ends[0];
                    if let Ok(d) = Self::one_way(
                        env,
                        c.nodes[1],
                        c.nodes[0],
                        self.config.rto_min,
                        CONTROL_PACKET,
                    ) {
                        env.ctx.send(client, Msg::Net(NetMsg::Refused { conn }), d);
                    }
                    return None;
                }
                let (server_node, client_node, client) = (c.nodes[1], c.nodes[0], c.ends[0]);
                match Self::one_way(
                    env,
                    server_node,
                    client_node,
                    self.config.rto_min,
                    CONTROL_PACKET,
                ) {
                    Ok(d) => {
                        c.state = State::Established;
                        let at = env.ctx.now() + d;
                        c.last_delivery[0] = at;
                        env.ctx
                            .send_at(client, Msg::Net(NetMsg::SynAck { conn }), at);
                        Some(ConnEvent::Accepted { conn, peer: client })
                    }
                    Err(_) => None, // SYN-ACK lost: the client times out
                }
            }
            NetMsg::SynAck { conn } => {
                self.conns.get(&conn)?;
                Some(ConnEvent::Connected { conn })
            }
            NetMsg::Refused { conn } => {
                let c = self.conns.get(&conn)?;
                if c.state != State::SynSent {
                    return None;
                }
                self.conns.remove(&conn);
                Some(ConnEvent::ConnectFailed {
                    conn,
                    error: ConnectError::Refused,
                })
            }
            NetMsg::ConnectTimeout { conn } => {
                let c = self.conns.get(&conn)?;
                if c.state != State::SynSent {
                    return None;
                }
                self.conns.remove(&conn);
                Some(ConnEvent::ConnectFailed {
                    conn,
                    error: ConnectError::Timeout,
                })
            }
            NetMsg::Data {
                conn,
                to: _,
                payload,
            } => {
                // Data can still arrive after a local close; the component ignores unknown conns.
                Some(ConnEvent::Data { conn, payload })
            }
            NetMsg::Fin { conn } => Some(ConnEvent::Closed {
                conn,
                reason: CloseReason::PeerClosed,
            }),
            NetMsg::Closed { conn, reason } => Some(ConnEvent::Closed { conn, reason }),
            NetMsg::KeepaliveCheck { conn, generation } => {
                let c = self.conns.get(&conn)?;
                if c.stall.is_none() || c.stall_generation != generation {
                    return None;
                }
                let ends = c.ends;
                self.conns.remove(&conn);
                for end in ends {
                    if end != to {
                        env.ctx.send(
                            end,
                            Msg::Net(NetMsg::Closed {
                                conn,
                                reason: CloseReason::Timeout,
                            }),
                            SimDuration(1),
                        );
                    }
                }
                Some(ConnEvent::Closed {
                    conn,
                    reason: CloseReason::Timeout,
                })
            }
        }
    }

    /// Re-evaluates every connection after the topology changed (a fault fired or healed):
    /// stalls connections whose path broke in drop mode, resets those broken in reject mode,
    /// and flushes stalled connections whose path is up again.
    pub fn on_paths_changed(&mut self, env: &mut NetEnv<'_, '_>) {
        let ids: Vec<ConnId> = self.conns.keys().copied().collect();
        for id in ids {
            let Some(c) = self.conns.get_mut(&id) else {
                continue;
            };
            if c.state != State::Established {
                continue;
            }
            let fwd = env.topology.path_state(c.nodes[0], c.nodes[1]);
            let back = env.topology.path_state(c.nodes[1], c.nodes[0]);
            let reject = |s: &PathState| {
                matches!(s, PathState::Blocked(crate::net::fault::BlockMode::Reject))
            };
            if reject(&fwd) || reject(&back) {
                let ends = c.ends;
                self.conns.remove(&id);
                Self::notify_closed(env, id, ends, CloseReason::Reset);
                continue;
            }
            // A TCP stream needs both directions (ACKs), so a one-way cut stalls it too.
            let up = fwd.is_up() && back.is_up();
            match (&c.stall, up) {
                (None, false) => {
                    c.stall_generation += 1;
                    c.stall = Some(Stall {
                        buffered: Vec::new(),
                    });
                    let generation = c.stall_generation;
                    let client = c.ends[0];
                    env.ctx.send(
                        client,
                        Msg::Net(NetMsg::KeepaliveCheck {
                            conn: id,
                            generation,
                        }),
                        self.config.keepalive_timeout,
                    );
                }
                (Some(_), true) => {
                    let stall = c.stall.take().map(|s| s.buffered).unwrap_or_default();
                    for (from, payload) in stall {
                        self.send(env, id, from, payload);
                    }
                }
                _ => {}
            }
        }
    }

    /// A component's process died (host still up): its connections are reset, and the peers see
    /// `Closed(Reset)` after the path delay (or time out if the path is broken).
    pub fn on_component_down(&mut self, env: &mut NetEnv<'_, '_>, comp: ComponentId) {
        // A connection still in SYN-SENT towards the dead process stays: its SYN will be
        // refused (nothing listening) or time out, and the client must hear one or the other.
        let ids: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(_, c)| c.ends[0] == comp || (c.ends[1] == comp && c.state != State::SynSent))
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            let Some(c) = self.conns.remove(&id) else {
                continue;
            };
            let me = if c.ends[0] == comp {
                Side::Client
            } else {
                Side::Server
            };
            let peer = c.ends[me.other().index()];
            if c.state == State::Established
                && let Ok(d) = Self::one_way(
                    env,
                    c.nodes[me.index()],
                    c.nodes[me.other().index()],
                    self.config.rto_min,
                    CONTROL_PACKET,
                )
            {
                env.ctx.send(
                    peer,
                    Msg::Net(NetMsg::Closed {
                        conn: id,
                        reason: CloseReason::Reset,
                    }),
                    d,
                );
            }
            // Otherwise the peer learns at its keepalive timeout (the stall is tracked by the
            // peer's own connections, which we just dropped): tell it at the timeout.
            else if c.state == State::Established {
                env.ctx.send(
                    peer,
                    Msg::Net(NetMsg::Closed {
                        conn: id,
                        reason: CloseReason::Timeout,
                    }),
                    self.config.keepalive_timeout,
                );
            }
        }
    }
}
