//! Observations: facts components report about what they did, for checks and reports.
//! They never influence the run (the kernel does not see them, the trace hash does not include
//! them), so a run with checks switched off has the same trace. They carry facts, not verdicts:
//! a write is reported with the object before and after it, and the checks judge it.

use crate::k8s::{Object, ObjectKey};
use std::sync::Arc;

#[derive(Clone, Debug, PartialEq)]
pub enum Observation {
    FaultInjected {
        index: usize,
    },
    FaultHealed {
        index: usize,
    },
    /// A traffic request finished (`Ok(cluster/ns/pod)` or `Err(reason)`).
    RequestDone {
        traffic: usize,
        /// When the request was sent.
        sent: crate::sim::SimTime,
        host: String,
        result: Result<String, String>,
    },
    /// A scripted action was applied.
    ActionApplied {
        cluster: usize,
        description: String,
        ok: bool,
    },
    /// A service mirror wrote to its local API server.
    MirrorWrite(Box<MirrorWrite>),
    /// The service mirror of `link` observed (through its remote informer) whether a remote
    /// Service is exported.
    RemoteExport {
        link: String,
        namespace: String,
        name: String,
        exported: bool,
    },
    /// The service mirror of `link` in `cluster` started a cluster watcher (spec §4.1
    /// `Start()`: GC, replay, repair) for this Link, in its `incarnation`-th process (0: the
    /// first; a crash or a fatal exit starts the next).
    WatcherStarted {
        cluster: usize,
        link: String,
        incarnation: u32,
        object: Arc<Object>,
    },
    /// The service mirror of `link` in `cluster` has no watcher any more: it saw its Link
    /// deleted, or its process restarted.
    WatcherStopped {
        cluster: usize,
        link: String,
    },
    /// The probe worker of `link` reported a liveness change.
    GatewayLiveness {
        link: String,
        alive: bool,
    },
    /// A gateway completed a handshake with a client.
    GatewayAccepted {
        cluster: usize,
        peer_identity: Option<String>,
        peer_root: Option<String>,
    },
}

/// A successful write of the service mirror of `link` in `cluster` to its local API server.
#[derive(Clone, Debug, PartialEq)]
pub struct MirrorWrite {
    pub cluster: usize,
    pub link: String,
    pub op: WriteOp,
    pub key: ObjectKey,
    /// The object just before the write (`None`: it did not exist).
    pub before: Option<Arc<Object>>,
    /// The object as stored by the write (`None`: the write removed it).
    pub after: Option<Arc<Object>>,
    /// For a write to Endpoints: the Service of the same name just before the write (Endpoints
    /// belong to their Service).
    pub service: Option<Arc<Object>>,
}

impl MirrorWrite {
    /// Whether the write changed the object's content, not only its server-managed metadata.
    pub fn changed(&self) -> bool {
        match (&self.before, &self.after) {
            (Some(before), Some(after)) => !before.content_eq(after),
            _ => true,
        }
    }

    /// For an endpoint mirror created or updated, its headless root Service's name.
    pub fn headless_root(&self) -> Option<&str> {
        match self.op {
            WriteOp::Create | WriteOp::Update => self
                .after
                .as_ref()?
                .labels()
                .get(crate::multicluster::names::LABEL_HEADLESS_MIRROR_SVC_NAME)
                .map(String::as_str),
            WriteOp::UpdateStatus | WriteOp::Patch | WriteOp::Delete => None,
        }
    }
}

/// The kind of a write, named as `kubectl` verbs are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteOp {
    Create,
    Update,
    UpdateStatus,
    Patch,
    Delete,
}

impl std::fmt::Display for WriteOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            WriteOp::Create => "create",
            WriteOp::Update => "update",
            WriteOp::UpdateStatus => "update-status",
            WriteOp::Patch => "patch",
            WriteOp::Delete => "delete",
        })
    }
}
