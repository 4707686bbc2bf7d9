//! Observations: facts components report about what they did, for checks and reports.
//! They never influence the run (the kernel does not see them, the trace hash does not include
//! them), so a run with checks switched off has the same trace.

#[derive(Clone, Debug, PartialEq, Eq)]
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
        host: String,
        result: Result<String, String>,
    },
    /// A scripted action was applied.
    ActionApplied {
        cluster: usize,
        description: String,
        ok: bool,
    },
    /// The service mirror of `link` wrote to its local API server (`key` is `Kind ns/name`);
    /// `foreign`: the object existed and was not owned by the mirror; `changed`: the write changed
    /// the object's content (not only its resourceVersion).
    MirrorWrite {
        cluster: usize,
        link: String,
        op: &'static str,
        key: String,
        foreign: bool,
        changed: bool,
        /// For an endpoint mirror, its headless root (`mirror.linkerd.io/headless-mirror-svc-name`).
        root: Option<String>,
    },
    /// The service mirror of `link` observed (through its remote informer) whether a remote
    /// Service is exported.
    RemoteExport {
        link: String,
        namespace: String,
        name: String,
        exported: bool,
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
