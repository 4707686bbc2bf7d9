//! The world's message type: everything the kernel delivers between components.
//!
//! One closed enum, grouped by protocol. Each variant has a stable `kind` name and a stable
//! digest (hashed into the trace); large payloads are behind `Arc`/`Box` so the queue stays small.

use super::transport::{CloseReason, ConnId, Side};
use crate::identity::Flight;
use crate::sim::hash::{StableHasher, digest};
use crate::sim::trace::Message;
use std::hash::{Hash, Hasher};

/// Index of a fault in the scenario's (sorted) fault list.
pub type FaultIndex = usize;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum FaultMsg {
    /// The fault starts now.
    Inject(FaultIndex),
    /// The fault heals now.
    Heal(FaultIndex),
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
    Tls(Flight),
}

impl Payload {
    pub fn kind(&self) -> &'static str {
        match self {
            Payload::Tls(f) => f.kind(),
        }
    }
    fn digest_into(&self, h: &mut StableHasher) {
        match self {
            Payload::Tls(f) => h.write_u64(f.digest()),
        }
    }
}

#[derive(Clone, Debug)]
pub enum Msg {
    Fault(FaultMsg),
    Net(NetMsg),
}

impl Message for Msg {
    fn kind(&self) -> &'static str {
        match self {
            Msg::Fault(FaultMsg::Inject(_)) => "fault-inject",
            Msg::Fault(FaultMsg::Heal(_)) => "fault-heal",
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
        }
    }

    fn digest(&self) -> u64 {
        let mut h = StableHasher::new();
        match self {
            Msg::Fault(f) => f.hash(&mut h),
            Msg::Net(n) => match n {
                NetMsg::Syn { conn }
                | NetMsg::SynAck { conn }
                | NetMsg::Refused { conn }
                | NetMsg::ConnectTimeout { conn }
                | NetMsg::Fin { conn } => conn.hash(&mut h),
                NetMsg::Data { conn, to, payload } => {
                    conn.hash(&mut h);
                    to.hash(&mut h);
                    payload.digest_into(&mut h);
                }
                NetMsg::Closed { conn, reason } => {
                    conn.hash(&mut h);
                    reason.hash(&mut h);
                }
                NetMsg::KeepaliveCheck { conn, generation } => {
                    conn.hash(&mut h);
                    generation.hash(&mut h);
                }
            },
        }
        h.finish()
    }

    fn details(&self) -> serde_json::Value {
        match self {
            Msg::Fault(FaultMsg::Inject(i)) | Msg::Fault(FaultMsg::Heal(i)) => {
                serde_json::json!({ "fault": i })
            }
            Msg::Net(n) => match n {
                NetMsg::Data { conn, payload, .. } => {
                    serde_json::json!({ "conn": conn.0, "payload": payload.kind() })
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
        }
    }
}

/// Digest helper for payload types that are not `Hash` themselves.
pub fn digest_of<T: Hash + ?Sized>(value: &T) -> u64 {
    digest(value)
}
