//! Checks turn a run into a verdict. A check only observes: it sees each [`Observation`] (safety
//! checks, evaluated as events happen, stop at the first violation) and the final world
//! (liveness checks, evaluated after faults heal and a quiet period). Checks never change the
//! run: the trace hash is the same with checks on and off.

pub mod availability;
pub mod convergence;
pub mod failure_domains;
pub mod gateway_readiness;
pub mod headless_dns;
pub mod link_status;
pub mod mirror_stability;
pub mod oracle;
pub mod safety;
pub mod traffic;
pub mod watcher_restarts;
pub mod write_amplification;

use crate::scenario::Scenario;
use crate::sim::SimTime;
use crate::world::Observation;
use crate::world::view::WorldView;
use serde::Serialize;

/// Where a check first failed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// Kernel sequence number of the event during which the violation was observed.
    pub seq: u64,
    pub time_ns: u64,
    pub message: String,
}

/// What kind of promise a check guards; it decides how a failure counts in the verdict and
/// the exit code (the report's verdict).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckClass {
    /// Something bad never happens: a violation has a finite witness and counts whenever it
    /// was seen, even in a run that stopped early.
    Safety,
    /// Something good eventually happens (convergence, availability after the quiet period):
    /// judged only in a run that reached its scenario's end.
    Liveness,
    /// The run tested what it claims (every scripted fault fired): a failure makes the run
    /// inconclusive, not a finding about Linkerd.
    Coverage,
    /// mcsim's own consistency (test-only cross-checks): a failure is an mcsim bug.
    Internal,
}

/// The verdict of one check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CheckResult {
    pub name: String,
    pub class: CheckClass,
    /// False when the check failed, and when it was not judged.
    pub passed: bool,
    /// False for a liveness check of a run that stopped before its scenario's end: nothing
    /// can be said about what would have happened later.
    #[serde(skip_serializing_if = "is_true")]
    pub judged: bool,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_violation: Option<Violation>,
}

fn is_true(b: &bool) -> bool {
    *b
}

impl CheckResult {
    /// A judged result.
    pub fn new(
        name: impl Into<String>,
        class: CheckClass,
        passed: bool,
        detail: impl Into<String>,
    ) -> CheckResult {
        CheckResult {
            name: name.into(),
            class,
            passed,
            judged: true,
            detail: detail.into(),
            first_violation: None,
        }
    }
    /// A failed judged result.
    pub fn failed(&self) -> bool {
        self.judged && !self.passed
    }
}

/// One check. `observe` runs on every observation; `finish` once at the end of the run.
pub trait Check {
    fn name(&self) -> &'static str;
    fn class(&self) -> CheckClass;
    /// Safety: called for every observation, in order. Return a message for a violation.
    fn observe(
        &mut self,
        _at: SimTime,
        _obs: &Observation,
        _view: WorldView<'_>,
    ) -> Option<String> {
        None
    }
    /// Liveness and summary: called once when the run ends.
    fn finish(&mut self, view: WorldView<'_>, end: SimTime) -> CheckResult;
    /// Per-service convergence rows for the report (after `finish`).
    fn convergence_rows(&self) -> Vec<convergence::ConvergenceRow> {
        Vec::new()
    }
}

/// Runs a set of checks over a run, remembering each one's first violation.
pub struct Checker {
    checks: Vec<(Box<dyn Check>, Option<Violation>)>,
}

impl Checker {
    pub fn new(checks: Vec<Box<dyn Check>>) -> Checker {
        Checker {
            checks: checks.into_iter().map(|c| (c, None)).collect(),
        }
    }

    /// Feeds observations made during the event `seq`.
    pub fn observe(&mut self, seq: u64, at: SimTime, obs: &Observation, view: WorldView<'_>) {
        for (check, first) in &mut self.checks {
            if first.is_some() {
                continue;
            }
            if let Some(message) = check.observe(at, obs, view) {
                *first = Some(Violation {
                    seq,
                    time_ns: at.0,
                    message,
                });
            }
        }
    }

    /// True once any safety check has been violated.
    pub fn violated(&self) -> bool {
        self.checks.iter().any(|(_, v)| v.is_some())
    }

    /// Final verdicts, and the convergence rows the checks measured. `reached` is the virtual
    /// time the run actually reached; `stopped_early` says why it did not reach its scenario's
    /// end, if it did not: liveness checks are then not judged (what would have happened later
    /// is unknown), while safety violations seen so far still count.
    pub fn finish(
        self,
        view: WorldView<'_>,
        reached: SimTime,
        stopped_early: Option<&str>,
    ) -> (Vec<CheckResult>, Vec<convergence::ConvergenceRow>) {
        let mut rows = Vec::new();
        let results = self
            .checks
            .into_iter()
            .map(|(mut check, first)| {
                let mut result = check.finish(view, reached);
                result.class = check.class();
                rows.extend(check.convergence_rows());
                if let Some(v) = first {
                    result.passed = false;
                    result.detail = format!(
                        "{} (first violation at seq {}, t={})",
                        v.message,
                        v.seq,
                        SimTime(v.time_ns)
                    );
                    result.first_violation = Some(v);
                } else if let Some(why) = stopped_early
                    && result.class == CheckClass::Liveness
                {
                    result.passed = false;
                    result.judged = false;
                    result.detail = format!("not judged: {why}");
                }
                result
            })
            .collect();
        (results, rows)
    }
}

impl Checker {
    /// The verdicts of a run that ended abnormally (`why`): a safety check violated so far
    /// fails with its first violation; nothing else can be judged.
    pub fn abandon(self, why: &str) -> Vec<CheckResult> {
        self.checks
            .into_iter()
            .map(|(check, first)| {
                let mut result = CheckResult::new(check.name(), check.class(), false, "");
                match first {
                    Some(v) => {
                        result.detail = format!(
                            "{} (first violation at seq {}, t={})",
                            v.message,
                            v.seq,
                            SimTime(v.time_ns)
                        );
                        result.first_violation = Some(v);
                    }
                    None => {
                        result.judged = false;
                        result.detail = format!("not judged: {why}");
                    }
                }
                result
            })
            .collect()
    }
}

/// The checks that apply to a scenario.
pub fn checks_for(scenario: &Scenario) -> Vec<Box<dyn Check>> {
    let spec = &scenario.checks;
    let mut checks: Vec<Box<dyn Check>> = vec![Box::new(FaultsFired)];
    if spec.safety || spec.identity {
        checks.push(Box::new(safety::UntrustedAccept::default()));
    }
    if spec.safety {
        checks.push(Box::new(safety::WrongPod::default()));
        checks.push(Box::new(safety::ForeignWrites::default()));
        checks.push(Box::new(safety::UnexportedMirror::default()));
    }
    if !scenario.links.is_empty() {
        checks.push(Box::new(convergence::Convergence::default()));
        checks.push(Box::new(watcher_restarts::WatcherRestarts::default()));
        checks.push(Box::new(gateway_readiness::GatewayReadiness::default()));
        checks.push(Box::new(mirror_stability::MirrorStability::default()));
    }
    if !scenario.traffic.is_empty() {
        checks.push(Box::new(availability::Availability));
    }
    if spec.headless_dns && scenario.links.iter().any(|l| l.headless) {
        checks.push(Box::new(headless_dns::HeadlessDns));
    }
    if let Some(tolerance) = spec.failure_domain_tolerance {
        checks.push(Box::new(failure_domains::FailureDomains { tolerance }));
    }
    if spec.link_status && !scenario.links.is_empty() {
        checks.push(Box::new(link_status::LinkStatus));
    }
    if let Some(budget) = spec.needless_writes {
        checks.push(Box::new(write_amplification::WriteAmplification::new(
            budget, scenario,
        )));
    }
    checks
}

/// Proves that every scripted fault fired (and healed when it had a duration): a fault
/// injection that silently does nothing would make every other verdict a false green.
#[derive(Default)]
pub struct FaultsFired;

impl Check for FaultsFired {
    fn name(&self) -> &'static str {
        "faults-fired"
    }
    fn class(&self) -> CheckClass {
        CheckClass::Coverage
    }
    fn finish(&mut self, view: WorldView<'_>, end: SimTime) -> CheckResult {
        let mut missing = Vec::new();
        for (i, spec) in view.scenario().faults.iter().enumerate() {
            let due = SimTime::ZERO + spec.at;
            if due > end {
                continue;
            }
            match view.fired_faults().iter().find(|f| f.index == i) {
                None => missing.push(format!(
                    "fault #{i} ({}) due at {due} never fired",
                    spec.kind.key()
                )),
                Some(f) => {
                    if let Some(d) = spec.duration
                        && due + d <= end
                        && f.healed_at.is_none()
                    {
                        missing.push(format!(
                            "fault #{i} ({}) due to heal at {} never healed",
                            spec.kind.key(),
                            due + d
                        ));
                    }
                }
            }
        }
        CheckResult {
            name: self.name().into(),
            class: self.class(),
            judged: true,
            passed: missing.is_empty(),
            detail: if missing.is_empty() {
                format!("{} fault(s) fired as scheduled", view.fired_faults().len())
            } else {
                missing.join("; ")
            },
            first_violation: None,
        }
    }
}
