//! Reports: the verdict of a run as data ([`Report`]), rendered as text for people and as JSON
//! for tools. Everything in a report is derived from the run, so it is deterministic too (wall
//! time is printed by the CLI, outside the report).

pub mod perfetto;
pub mod text;

use crate::check::CheckResult;
use serde::Serialize;

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Report {
    pub scenario: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub source: String,
    pub seed: u64,
    pub trace_hash: String,
    pub events: u64,
    pub end_time_ns: u64,
    /// `completed`, `quiescent` or `event-limit`.
    pub outcome: String,
    pub faults: Vec<FaultRow>,
    pub checks: Vec<CheckResult>,
    pub convergence: Vec<ConvergenceRow>,
    pub traffic: Vec<TrafficRow>,
    /// Per fault, every pair of clusters with traffic: success before / during / after it.
    pub traffic_per_fault: Vec<FaultTraffic>,
    /// Per service mirror at the end of the run: the probe worker's metrics (spec §8.4).
    pub gateways: Vec<GatewayRow>,
}

impl Report {
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.passed)
    }
    pub fn failed_checks(&self) -> Vec<&str> {
        self.checks
            .iter()
            .filter(|c| !c.passed)
            .map(|c| c.name.as_str())
            .collect()
    }
    /// The command that replays this run exactly.
    pub fn replay_command(&self) -> String {
        let source = if self.source.is_empty() {
            "SCENARIO"
        } else {
            &self.source
        };
        format!("mcsim run {source} --seed {}", self.seed)
    }
}

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct FaultRow {
    pub index: usize,
    pub kind: String,
    pub description: String,
    pub at_ns: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healed_ns: Option<u64>,
}

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct ConvergenceRow {
    pub link: String,
    pub service: String,
    /// When the mirror last became exactly right, if it did.
    pub converged_ns: Option<u64>,
    /// Time from the remote change it tracks to convergence.
    pub took_ns: Option<u64>,
}

/// `linkerd multicluster gateways`, as a service mirror's metrics would show it.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct GatewayRow {
    /// `<source cluster>/<link>`.
    pub mirror: String,
    /// `gateway_alive` (0/1) of the probe worker; `None` without a probe worker.
    pub gateway_alive: Option<u8>,
    /// The watcher's flag that decides mirror readiness (`None` when not running).
    pub watcher_alive: Option<bool>,
    pub probes_successful: u64,
    pub probes_failed: u64,
    /// `gateway_latency` (ms) of the last successful probe.
    pub latency_ms: Option<u64>,
    /// `service_mirror_endpoint_repairs`.
    pub endpoint_repairs: u64,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct TrafficRow {
    pub from: String,
    pub to: String,
    pub phase: String,
    pub sent: u64,
    pub ok: u64,
    pub failed: Vec<(String, u64)>,
    pub success_ratio: f64,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    /// Successful requests by the cluster whose pod answered (federated services spread them).
    pub served_by: Vec<(String, u64)>,
}

/// One fault's effect on traffic: every (source cluster → destination cluster) pair with
/// traffic, in-cluster pairs included, with the success of the requests sent in the minute
/// before the fault (the baseline the `failure-domains` check compares with), while it was
/// active, and from its heal to the end of the run.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct FaultTraffic {
    pub fault: usize,
    pub description: String,
    pub at_ns: u64,
    /// When the fault healed; `None`: active until the end of the run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healed_ns: Option<u64>,
    pub pairs: Vec<PairTraffic>,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct PairTraffic {
    /// Source cluster (where the client runs).
    pub from: String,
    /// Destination cluster (that serves the name the client calls).
    pub to: String,
    /// Whether the fault involves this pair (`failure-domains` ignores involved pairs).
    pub involved: bool,
    pub before: PhaseCount,
    pub during: PhaseCount,
    pub after: PhaseCount,
}

#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct PhaseCount {
    pub sent: u64,
    pub ok: u64,
    /// `ok / sent`; `None` when nothing was sent.
    pub success_ratio: Option<f64>,
}
