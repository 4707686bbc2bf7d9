//! Reports: the verdict of a run as data ([`Report`]), rendered as text for people and as JSON
//! for tools. Everything in a report is derived from the run, so it is deterministic too (wall
//! time is printed by the CLI, outside the report).

pub mod html;
pub mod junit;
pub mod metrics;
pub mod perfetto;
pub(crate) mod svg;
pub mod text;
pub mod timeline;

pub use crate::check::convergence::ConvergenceRow;
pub use crate::check::traffic::{FaultTraffic, PairTraffic, PhaseCount, TrafficRow};
use crate::check::{CheckClass, CheckResult};
use serde::{Deserialize, Serialize};

/// The verdict of a run, from its checks and whether it tested what it claims. Each verdict has
/// its own exit code, so a script (or CI) tells a broken promise from a run that proves nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Every check was judged and held.
    Pass,
    /// A safety check failed: something that must never happen happened.
    SafetyFailure,
    /// A liveness check failed: something that must happen (convergence, availability after
    /// the quiet period) did not, in a run that reached its end.
    LivenessFailure,
    /// The run did not test what the scenario claims: it stopped before its end (event limit,
    /// `--until`), a scheduled fault or action was not reached, or a scripted fault never fired.
    Inconclusive,
    /// mcsim itself failed (a panic or a failed internal cross-check): an mcsim bug.
    InternalError,
}

impl Verdict {
    /// The process exit code (README "Exit codes"); 2 is bad input, decided before a run.
    pub fn exit_code(self) -> u8 {
        match self {
            Verdict::Pass => 0,
            Verdict::SafetyFailure => 1,
            Verdict::LivenessFailure => 3,
            Verdict::Inconclusive => 4,
            Verdict::InternalError => 5,
        }
    }

    /// The verdict of a run with these check results; `incomplete` is true when the run did not
    /// reach its scenario's end or skipped scheduled faults or actions. Precedence: an mcsim bug,
    /// then a safety violation (a finite witness counts even in a cut-short run), then
    /// inconclusiveness, then a liveness failure.
    pub fn of(checks: &[CheckResult], incomplete: bool) -> Verdict {
        let failed = |class: CheckClass| checks.iter().any(|c| c.class == class && c.failed());
        if failed(CheckClass::Internal) {
            Verdict::InternalError
        } else if failed(CheckClass::Safety) {
            Verdict::SafetyFailure
        } else if incomplete || failed(CheckClass::Coverage) {
            Verdict::Inconclusive
        } else if failed(CheckClass::Liveness) {
            Verdict::LivenessFailure
        } else {
            Verdict::Pass
        }
    }

    /// The `[expect] verdict` a scenario states for a run with this verdict.
    pub fn expected(self) -> crate::scenario::ExpectedVerdict {
        use crate::scenario::ExpectedVerdict as E;
        match self {
            Verdict::Pass => E::Pass,
            Verdict::SafetyFailure | Verdict::LivenessFailure => E::Fail,
            Verdict::Inconclusive => E::Inconclusive,
            Verdict::InternalError => E::Error,
        }
    }

    /// `PASS`, `FAIL (safety)`, `FAIL (liveness)`, `INCONCLUSIVE`, `ERROR (mcsim bug)`.
    pub fn headline(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::SafetyFailure => "FAIL (safety)",
            Verdict::LivenessFailure => "FAIL (liveness)",
            Verdict::Inconclusive => "INCONCLUSIVE",
            Verdict::InternalError => "ERROR (mcsim bug)",
        }
    }
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Report {
    pub verdict: Verdict,
    /// The exit code of `mcsim run` for this report ([`Verdict::exit_code`]).
    pub exit_code: u8,
    pub scenario: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub source: String,
    pub seed: u64,
    pub trace_hash: String,
    pub events: u64,
    /// The scenario's end (`[sim] duration`).
    pub end_time_ns: u64,
    /// The virtual time the run actually reached.
    pub reached_ns: u64,
    /// `completed`, `quiescent` (nothing left to happen before the end), `until` (stopped by
    /// `--until`) or `event-limit` (stopped by `[sim] events_max`).
    pub outcome: String,
    /// Why the run stopped before its scenario's end, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped_early: Option<String>,
    /// Scripted faults, heals and actions the run did not reach.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unreached: Vec<String>,
    /// The message and location of an mcsim panic that ended the run (verdict
    /// `internal-error`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub panic: Option<String>,
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
    /// The report of a run that mcsim's own panic ended before anything was judged; callers
    /// fill in what the run had reached.
    pub fn internal_error(
        scenario: &crate::scenario::Scenario,
        seed: u64,
        panic: String,
    ) -> Report {
        Report {
            verdict: Verdict::InternalError,
            exit_code: Verdict::InternalError.exit_code(),
            scenario: scenario.name.clone(),
            source: scenario.source.clone(),
            seed,
            trace_hash: String::new(),
            events: 0,
            end_time_ns: scenario.duration.0,
            reached_ns: 0,
            outcome: "panic".into(),
            stopped_early: None,
            unreached: Vec::new(),
            panic: Some(panic),
            faults: Vec::new(),
            checks: Vec::new(),
            convergence: Vec::new(),
            traffic: Vec::new(),
            traffic_per_fault: Vec::new(),
            gateways: Vec::new(),
        }
    }

    /// What failed, as the fuzzer groups cases: the failing checks, or the panic's signature
    /// ([`crate::panics::signature`]).
    pub fn failure_signature(&self) -> Vec<String> {
        match &self.panic {
            Some(p) => vec![crate::panics::signature(p)],
            None => self.failed_checks().into_iter().map(String::from).collect(),
        }
    }

    pub fn passed(&self) -> bool {
        self.verdict == Verdict::Pass
    }
    /// Checks that were judged and failed.
    pub fn failed_checks(&self) -> Vec<&str> {
        self.checks
            .iter()
            .filter(|c| c.failed())
            .map(|c| c.name.as_str())
            .collect()
    }
    /// Checks that could not be judged (liveness checks of a run that stopped early).
    pub fn unjudged_checks(&self) -> Vec<&str> {
        self.checks
            .iter()
            .filter(|c| !c.judged)
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
