//! The world's message type: everything the kernel delivers between components.
//!
//! One closed enum, grouped by protocol. Each variant has a stable `kind` name and a stable
//! digest (hashed into the trace); large payloads are behind `Arc`/`Box` so the queue stays small.

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

#[derive(Clone, Debug)]
pub enum Msg {
    Fault(FaultMsg),
}

impl Message for Msg {
    fn kind(&self) -> &'static str {
        match self {
            Msg::Fault(FaultMsg::Inject(_)) => "fault-inject",
            Msg::Fault(FaultMsg::Heal(_)) => "fault-heal",
        }
    }

    fn digest(&self) -> u64 {
        let mut h = StableHasher::new();
        match self {
            Msg::Fault(f) => f.hash(&mut h),
        }
        h.finish()
    }

    fn details(&self) -> serde_json::Value {
        match self {
            Msg::Fault(FaultMsg::Inject(i)) | Msg::Fault(FaultMsg::Heal(i)) => {
                serde_json::json!({ "fault": i })
            }
        }
    }
}

/// Digest helper for payload types that are not `Hash` themselves.
pub fn digest_of<T: Hash + ?Sized>(value: &T) -> u64 {
    digest(value)
}
