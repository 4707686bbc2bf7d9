//! The world's message type: everything the kernel delivers between components.
//!
//! One closed enum, grouped by protocol. Each variant has a stable `kind` name and a stable
//! digest (hashed into the trace); large payloads are behind `Arc`/`Box` so the queue stays small.

use super::apiclient::ClientTimer;
use super::frames::ApiFrame;
use super::kubelet_node::PodMsg;
use super::lookup::LookupMsg;
use super::mesh_server::HttpFrame;
use super::transport::{CloseReason, ConnId, Side};
use crate::identity::Flight;
use crate::sim::hash::StableHasher;
use crate::sim::trace::Message;

/// Index of a fault in the scenario's (sorted) fault list.
pub type FaultIndex = usize;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum FaultMsg {
    /// The fault starts now.
    Inject(FaultIndex),
    /// The fault heals now.
    Heal(FaultIndex),
    /// Scripted workload action `i` happens now.
    Action(usize),
}

/// Tags: Inject 0, Heal 1, Action 2; then the index.
impl crate::sim::hash::Digest for FaultMsg {
    fn digest(&self, h: &mut StableHasher) {
        let (tag, i) = match self {
            FaultMsg::Inject(i) => (0, i),
            FaultMsg::Heal(i) => (1, i),
            FaultMsg::Action(i) => (2, i),
        };
        h.word(tag);
        h.add(i);
    }
}

/// Transport-level messages (see [`super::transport`]); the world intercepts them and hands the
/// component a [`super::transport::ConnEvent`].
#[derive(Clone, Debug)]
pub enum NetMsg {
    Syn {
        conn: ConnId,
    },
    SynAck {
        conn: ConnId,
    },
    Refused {
        conn: ConnId,
    },
    ConnectTimeout {
        conn: ConnId,
    },
    Data {
        conn: ConnId,
        to: Side,
        payload: Payload,
    },
    Fin {
        conn: ConnId,
    },
    Closed {
        conn: ConnId,
        reason: CloseReason,
    },
    KeepaliveCheck {
        conn: ConnId,
        generation: u64,
    },
}

/// What travels on a connection.
#[derive(Clone, Debug)]
pub enum Payload {
    Api(ApiFrame),
    Tls(Box<Flight>),
    Http(Box<HttpFrame>),
}

impl Payload {
    pub fn kind(&self) -> &'static str {
        match self {
            Payload::Api(f) => f.kind(),
            Payload::Tls(f) => f.kind(),
            Payload::Http(f) => f.kind(),
        }
    }
    fn digest_into(&self, h: &mut StableHasher) {
        match self {
            Payload::Api(f) => f.digest_into(h),
            Payload::Tls(f) => h.word(f.digest()),
            Payload::Http(f) => f.digest_into(h),
        }
    }
    /// Approximate bytes on the wire (for serialisation delay on paths with a bandwidth).
    pub fn size_bytes(&self) -> u64 {
        const OBJECT: u64 = 1_024;
        match self {
            Payload::Api(f) => match f {
                ApiFrame::Request { .. } => 512,
                ApiFrame::Response { result, .. } => match result.as_ref() {
                    Ok(crate::k8s::Response::List { items, .. }) => {
                        256 + OBJECT * items.len() as u64
                    }
                    _ => OBJECT,
                },
                ApiFrame::WatchOpened { result, .. } => {
                    256 + OBJECT
                        * result
                            .as_ref()
                            .as_ref()
                            .map(|e| e.len() as u64)
                            .unwrap_or(0)
                }
                ApiFrame::Event { .. } => OBJECT,
                ApiFrame::Watch { .. } | ApiFrame::WatchEnd { .. } | ApiFrame::Cancel { .. } => 256,
            },
            Payload::Tls(f) => match f.as_ref() {
                Flight::ClientHello(_) => 256,
                Flight::ServerFlight(_) | Flight::ClientFinished(_) => 1_500,
                Flight::Alert(_) => 64,
            },
            Payload::Http(f) => match f.as_ref() {
                HttpFrame::Request { .. } => 300,
                HttpFrame::Response { .. } => 200,
            },
        }
    }

    fn details(&self) -> serde_json::Value {
        match self {
            Payload::Api(f) => f.details(),
            Payload::Tls(f) => serde_json::json!(f.kind()),
            Payload::Http(f) => f.details(),
        }
    }
}

/// Component timers. Each is delivered to the component that armed it; a timer that is stale
/// when it fires (re-armed or cancelled since) is ignored by its owner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timer {
    /// The API server closes watches past their server-side timeout.
    ApiServerExpiry,
    /// A timer of the API client in `slot` of the receiving component.
    Client { slot: u8, timer: ClientTimer },
    /// The controller manager runs its dirty keys.
    ControllerTick,
    /// The kubelet's next pass.
    KubeletTick,
    /// A traffic client sends its next request.
    TrafficTick,
    /// A traffic request's deadline.
    RequestTimeout { id: u64 },
    /// A client handshake's deadline.
    HandshakeDeadline { conn: ConnId },
    /// The service mirror's worker may take the next event (stale if `generation` is old).
    MirrorWork { generation: u64 },
    /// The periodic `RepairEndpoints`.
    MirrorRepair { generation: u64 },
    /// Retry a watcher that could not start (10 s).
    MirrorRestartLink { generation: u64 },
    /// The remote caches must have synced by now (60 s), or the process exits.
    MirrorSyncDeadline { generation: u64 },
    /// The crashed controller process is restarted.
    MirrorProcessRestart,
    /// The probe worker's jittered ticker.
    ProbeTick { generation: u64 },
    /// The probe's HTTP client timeout.
    ProbeTimeout { generation: u64, id: u64 },
}

/// Tags in declaration order, from 0 (ApiServerExpiry) to 13 (ProbeTimeout), then the fields.
impl crate::sim::hash::Digest for Timer {
    fn digest(&self, h: &mut StableHasher) {
        match self {
            Timer::ApiServerExpiry => h.word(0),
            Timer::Client { slot, timer } => {
                h.word(1);
                h.add(slot);
                h.add(timer);
            }
            Timer::ControllerTick => h.word(2),
            Timer::KubeletTick => h.word(3),
            Timer::TrafficTick => h.word(4),
            Timer::RequestTimeout { id } => {
                h.word(5);
                h.add(id);
            }
            Timer::HandshakeDeadline { conn } => {
                h.word(6);
                h.add(conn);
            }
            Timer::MirrorWork { generation } => {
                h.word(7);
                h.add(generation);
            }
            Timer::MirrorRepair { generation } => {
                h.word(8);
                h.add(generation);
            }
            Timer::MirrorRestartLink { generation } => {
                h.word(9);
                h.add(generation);
            }
            Timer::MirrorSyncDeadline { generation } => {
                h.word(10);
                h.add(generation);
            }
            Timer::MirrorProcessRestart => h.word(11),
            Timer::ProbeTick { generation } => {
                h.word(12);
                h.add(generation);
            }
            Timer::ProbeTimeout { generation, id } => {
                h.word(13);
                h.add(generation);
                h.add(id);
            }
        }
    }
}

#[derive(Clone, Debug)]
pub enum Msg {
    Fault(FaultMsg),
    Net(NetMsg),
    Timer(Timer),
    /// In-cluster DNS and destination queries and answers.
    Lookup(LookupMsg),
    /// In-cluster hop from a gateway to a pod.
    Pod(PodMsg),
    /// Starts a component (sent once at t=0, and after a restart).
    Start,
}

impl Message for Msg {
    fn kind(&self) -> &'static str {
        match self {
            Msg::Fault(FaultMsg::Inject(_)) => "fault-inject",
            Msg::Fault(FaultMsg::Heal(_)) => "fault-heal",
            Msg::Fault(FaultMsg::Action(_)) => "action",
            Msg::Net(n) => match n {
                NetMsg::Syn { .. } => "tcp-syn",
                NetMsg::SynAck { .. } => "tcp-syn-ack",
                NetMsg::Refused { .. } => "tcp-refused",
                NetMsg::ConnectTimeout { .. } => "tcp-connect-timeout",
                NetMsg::Data { payload, .. } => payload.kind(),
                NetMsg::Fin { .. } => "tcp-fin",
                NetMsg::Closed { .. } => "tcp-closed",
                NetMsg::KeepaliveCheck { .. } => "tcp-keepalive-check",
            },
            Msg::Timer(t) => match t {
                Timer::ApiServerExpiry => "timer-watch-expiry",
                Timer::Client { .. } => "timer-api-client",
                Timer::ControllerTick => "timer-controllers",
                Timer::KubeletTick => "timer-kubelet",
                Timer::TrafficTick => "timer-traffic",
                Timer::RequestTimeout { .. } => "timer-request-timeout",
                Timer::HandshakeDeadline { .. } => "timer-handshake-deadline",
                Timer::MirrorWork { .. } => "timer-mirror-work",
                Timer::MirrorRepair { .. } => "timer-mirror-repair",
                Timer::MirrorRestartLink { .. } => "timer-mirror-restart-link",
                Timer::MirrorSyncDeadline { .. } => "timer-mirror-sync-deadline",
                Timer::MirrorProcessRestart => "timer-mirror-process-restart",
                Timer::ProbeTick { .. } => "timer-probe-tick",
                Timer::ProbeTimeout { .. } => "timer-probe-timeout",
            },
            Msg::Lookup(l) => match l {
                LookupMsg::DnsQuery { .. } => "dns-query",
                LookupMsg::DnsReply { .. } => "dns-reply",
                LookupMsg::Resolve { .. } => "destination-resolve",
                LookupMsg::Resolved { .. } => "destination-resolved",
            },
            Msg::Pod(PodMsg::Request { .. }) => "pod-request",
            Msg::Pod(PodMsg::Response { .. }) => "pod-response",
            Msg::Start => "start",
        }
    }

    /// The message's content in the order of its fields ([`crate::sim::hash::Digest`]); the
    /// kind is folded into the trace separately.
    fn digest(&self) -> u64 {
        let mut h = StableHasher::new();
        match self {
            Msg::Fault(f) => h.add(f),
            Msg::Net(n) => match n {
                NetMsg::Syn { conn }
                | NetMsg::SynAck { conn }
                | NetMsg::Refused { conn }
                | NetMsg::ConnectTimeout { conn }
                | NetMsg::Fin { conn } => h.add(conn),
                NetMsg::Data { conn, to, payload } => {
                    h.add(conn);
                    h.add(to);
                    payload.digest_into(&mut h);
                }
                NetMsg::Closed { conn, reason } => {
                    h.add(conn);
                    h.add(reason);
                }
                NetMsg::KeepaliveCheck { conn, generation } => {
                    h.add(conn);
                    h.add(generation);
                }
            },
            Msg::Timer(t) => h.add(t),
            Msg::Lookup(l) => match l {
                LookupMsg::DnsQuery { id, from, name } => h.add(&(id, from, name)),
                LookupMsg::DnsReply { id, response } => {
                    h.add(id);
                    if let Some(r) = response {
                        h.add(&r.ips());
                    }
                }
                LookupMsg::Resolve { id, from, target } => h.add(&(id, from, target)),
                LookupMsg::Resolved { id, result } => h.add(&(id, result)),
            },
            Msg::Pod(p) => h.add(p),
            Msg::Start => h.word(0x5a),
        }
        h.finish()
    }

    fn details(&self) -> serde_json::Value {
        match self {
            Msg::Fault(FaultMsg::Inject(i)) | Msg::Fault(FaultMsg::Heal(i)) => {
                serde_json::json!({ "fault": i })
            }
            Msg::Fault(FaultMsg::Action(i)) => serde_json::json!({ "action": i }),
            Msg::Net(n) => match n {
                NetMsg::Data { conn, payload, .. } => {
                    serde_json::json!({ "conn": conn.0, "payload": payload.details() })
                }
                NetMsg::Closed { conn, reason } => {
                    serde_json::json!({ "conn": conn.0, "reason": format!("{reason:?}") })
                }
                NetMsg::Syn { conn }
                | NetMsg::SynAck { conn }
                | NetMsg::Refused { conn }
                | NetMsg::ConnectTimeout { conn }
                | NetMsg::Fin { conn }
                | NetMsg::KeepaliveCheck { conn, .. } => serde_json::json!({ "conn": conn.0 }),
            },
            Msg::Timer(t) => serde_json::json!(format!("{t:?}")),
            Msg::Lookup(l) => match l {
                LookupMsg::DnsQuery { id, name, .. } => {
                    serde_json::json!({ "id": id, "name": name })
                }
                LookupMsg::DnsReply { id, response } => {
                    serde_json::json!({ "id": id, "ips": response.as_ref().map(|r| r.ips()) })
                }
                LookupMsg::Resolve { id, target, .. } => {
                    serde_json::json!({ "id": id, "target": format!("{target:?}") })
                }
                LookupMsg::Resolved { id, result } => serde_json::json!({
                    "id": id,
                    "endpoints": result.as_ref().map(|e| e.iter().map(|x| format!("{}:{}", x.ip, x.port)).collect::<Vec<_>>()).ok(),
                    "error": result.as_ref().err(),
                }),
            },
            Msg::Pod(p) => serde_json::json!(format!("{p:?}")),
            Msg::Start => serde_json::Value::Null,
        }
    }
}
