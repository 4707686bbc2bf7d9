//! The trace: every delivered event, summarised by a stable 64-bit hash and optionally recorded.
//!
//! The hash folds `(seq, time, target, kind, digest)` of each delivery with [`hash::mix`]; the
//! digest is the message's own stable digest ([`Message::digest`]). Recording (for `--trace FILE`)
//! keeps a compact record per event and the message details as JSON, computed only when recording.

use super::hash;
use super::kernel::ComponentId;
use super::time::SimTime;
use serde::Serialize;

/// What the kernel needs to know about a message to trace it.
pub trait Message {
    /// A short static name of the message kind (`watch-event`, `tls-client-hello`, ...).
    fn kind(&self) -> &'static str;
    /// A stable digest of the message's content (see [`hash::StableHasher`]).
    fn digest(&self) -> u64;
    /// Details for the JSON trace; only called when recording.
    fn details(&self) -> serde_json::Value {
        serde_json::Value::Null
    }
}

/// One delivered event.
#[derive(Clone, Debug, Serialize)]
pub struct TraceRecord {
    pub seq: u64,
    #[serde(rename = "time_ns")]
    pub at: u64,
    pub component: u32,
    pub kind: &'static str,
    pub digest: u64,
    #[serde(skip_serializing_if = "serde_json::Value::is_null")]
    pub details: serde_json::Value,
}

#[derive(Clone, Debug)]
pub struct Trace {
    hash: u64,
    delivered: u64,
    records: Option<Vec<TraceRecord>>,
}

impl Trace {
    pub fn new(record: bool) -> Trace {
        Trace { hash: 0x6d63_7369_6d00_0001, delivered: 0, records: record.then(Vec::new) }
    }

    #[inline]
    pub fn on_deliver<M: Message>(&mut self, seq: u64, at: SimTime, to: ComponentId, msg: &M) {
        let kind = msg.kind();
        let digest = msg.digest();
        let mut h = hash::mix(self.hash, seq);
        h = hash::mix(h, at.0);
        h = hash::mix(h, u64::from(to.0));
        h = hash::mix(h, hash::digest(kind));
        self.hash = hash::mix(h, digest);
        self.delivered += 1;
        if let Some(records) = &mut self.records {
            records.push(TraceRecord { seq, at: at.0, component: to.0, kind, digest, details: msg.details() });
        }
    }

    /// Folds a non-message fact (e.g. a fault firing) into the hash, so the hash proves it happened.
    pub fn fold(&mut self, value: u64) {
        self.hash = hash::mix(self.hash, value);
    }

    /// The stable trace hash of the run so far.
    pub fn hash(&self) -> u64 {
        hash::finish(self.hash ^ self.delivered)
    }

    pub fn delivered(&self) -> u64 {
        self.delivered
    }

    pub fn records(&self) -> Option<&[TraceRecord]> {
        self.records.as_deref()
    }

    pub fn is_recording(&self) -> bool {
        self.records.is_some()
    }
}

/// Formats a trace hash the way every report prints it.
pub fn format_hash(h: u64) -> String {
    format!("{h:016x}")
}
