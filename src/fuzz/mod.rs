//! Fuzzing event orderings and fault schedules from seeds (issue 7).
//!
//! One *case* is (scenario, seed, exploration mode). From the seed it draws, swarm-style, which
//! fault kinds are on and then a few faults of those kinds at random times and places
//! ([`swarm`]); every swarm fault heals before the liveness window, so a failing case is a bug
//! in the system under test, not an impossible world. The run itself explores orderings
//! through the kernel's schedule: random tie-breaks and delay perturbations, or PCT priorities.
//! All checks run on every case.
//!
//! Cases run in parallel on a tokio runtime (`--jobs`); results are gathered by seed, so the
//! summary is the same whatever the number of jobs. A sample of cases (5% by default, all with
//! `--check-determinism`) is run twice and must give the same trace hash. A failing case is
//! written as a replay file that `mcsim replay` turns back into the same run.

pub mod case_file;
pub mod quirk_hints;
pub mod shrink;
pub mod swarm;
pub mod workload;

use crate::report::{Report, Verdict};
use crate::run::{RunOptions, run};
use crate::scenario::{ActionSpec, FaultSpec, Scenario};
use crate::sim::{Exploration, SimDuration};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Clone, Debug, Default)]
pub struct FuzzOptions {
    pub seeds: u64,
    pub start: u64,
    pub jobs: usize,
    /// `None`: alternate random (even seeds) and PCT (odd seeds).
    pub mode: Option<Exploration>,
    /// Rerun every case (`true`) or 1 in 20 (`false`) and compare trace hashes.
    pub check_determinism: bool,
    /// Draw swarm faults on top of the scenario's own.
    pub swarm: bool,
    pub out: Option<PathBuf>,
    /// `--fix` names already applied to the scenario (recorded in replay files).
    pub fixes: Vec<crate::quirks::Fix>,
}

/// Everything needed to run one case again, byte for byte.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Replay {
    /// The scenario file, as given on the command line.
    pub scenario: String,
    pub seed: u64,
    pub mode: Exploration,
    /// Quirk fixes switched on from the command line (`--fix`), on top of the scenario's.
    #[serde(default)]
    pub fixes: Vec<crate::quirks::Fix>,
    /// Swarm faults added to the scenario's own.
    pub faults: Vec<FaultSpec>,
    /// Swarm workload changes added to the scenario's own actions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<ActionSpec>,
    /// What the case produced when it was recorded.
    pub trace_hash: String,
    pub failing: Vec<String>,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct CaseResult {
    pub seed: u64,
    pub mode: Exploration,
    pub verdict: Verdict,
    /// Empty when the case panicked (no trace was finished).
    pub trace_hash: String,
    /// The failing checks, or `panic: <message> (<file>:<line>)` for a case where mcsim
    /// panicked (numbers in the message replaced by `#`, so one bug is one signature).
    pub failing: Vec<String>,
    pub swarm_faults: usize,
    /// `Some(false)`: the rerun gave another trace hash.
    pub deterministic: Option<bool>,
    pub events: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Summary {
    /// The worst verdict of any case: an mcsim bug (a panic, nondeterminism), then a safety
    /// failure, a liveness failure, an inconclusive case (e.g. one cut short by its event
    /// budget), else pass.
    pub verdict: Verdict,
    pub exit_code: u8,
    pub scenario: String,
    pub seeds: u64,
    pub start: u64,
    pub failures: u64,
    /// Cases that tested less than they claim (stopped at the event limit) without failing a
    /// check: not failures, but not passes either.
    #[serde(default)]
    pub inconclusive: u64,
    /// The first such seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_inconclusive: Option<u64>,
    /// Failing-check sets and how many seeds showed each, with the first such seed.
    pub signatures: Vec<Signature>,
    pub determinism_checked: u64,
    pub nondeterministic: Vec<u64>,
    pub events: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Signature {
    pub failing: Vec<String>,
    pub seeds: u64,
    pub first_seed: u64,
    /// The first seed's case, shrunk (when shrinking ran).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shrunk: Option<ShrunkCase>,
    /// Named fixes under which some of its cases pass ([`quirk_hints`]); `None` when the
    /// reruns were not made, empty when no fix rescued any case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quirk_hints: Option<Vec<quirk_hints::QuirkHint>>,
}

/// Where a shrunk case was written and what is left in it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ShrunkCase {
    pub file: String,
    pub check: String,
    #[serde(flatten)]
    pub size: shrink::CaseSize,
    pub runs: usize,
}

pub fn mode_for(options: &FuzzOptions, seed: u64) -> Exploration {
    options.mode.unwrap_or(if seed.is_multiple_of(2) {
        Exploration::Random
    } else {
        Exploration::Pct
    })
}

/// How long after a fault heals an informer may still be catching up: the reflector's retry
/// may have been armed at its backoff cap with full jitter just before the heal, and a 410 on
/// the watch it then opens costs one more such backoff before the relist (the failure falls
/// within the backoff's 2-minute reset window). With client-go's numbers (cap 30 s, jitter 1.0)
/// that is 2 × 60 s.
pub fn informer_recovery() -> SimDuration {
    let b = crate::k8s::informer::BackoffConfig::default();
    let jittered = b.max.0 + b.max.0 / b.jitter.den.max(1) * b.jitter.num;
    SimDuration(2 * jittered)
}

/// The scenario of one case: the base one plus its swarm faults.
/// A swarm fault that Linkerd recovers from only through its 10-minute informer resync (work
/// given up after the retry budget while the source cluster's API or DNS was away, spec §4.2)
/// stretches the quiet period to that backstop, so liveness is judged against Linkerd's own
/// recovery contract rather than a shorter one the scenario chose for its own faults. Likewise
/// a swarm fault that fails informers' watches (`FaultKind::breaks_watches`) adds the informers'
/// recovery ([`informer_recovery`]) to the convergence bound: the scenario's bound judges the
/// service mirror once its informers see the world again, not client-go's backoff.
pub fn case_scenario(base: &Scenario, faults: &[FaultSpec], actions: &[ActionSpec]) -> Scenario {
    let mut s = base.clone();
    s.faults.extend(faults.iter().cloned());
    s.faults.sort_by_key(|f| f.at);
    s.actions.extend(actions.iter().cloned());
    s.actions.sort_by_key(|a| a.at);
    let stretch = if faults.iter().any(|f| swarm::needs_resync(base, &f.kind)) {
        crate::defaults::INFORMER_RESYNC
    } else if faults.iter().any(|f| f.kind.breaks_watches()) {
        informer_recovery()
    } else {
        SimDuration::ZERO
    };
    if !stretch.is_zero() {
        let heal = s
            .faults
            .iter()
            .map(|f| f.at + f.duration.unwrap_or(SimDuration::ZERO))
            .chain(s.actions.iter().map(|a| a.at))
            .max()
            .unwrap_or(SimDuration::ZERO);
        let quiet = stretch + base.checks.converged_within;
        s.checks.converged_within = quiet;
        s.quiet_period = s.quiet_period.max(quiet);
        // Room after the backstop for the availability check to sample traffic.
        s.duration = s.duration.max(heal + quiet + SimDuration::from_secs(60));
    }
    s
}

/// The report of one case (a panic inside mcsim is a report with the verdict
/// `internal-error`); `Err` only when the world cannot be built.
fn run_case(
    base: &Scenario,
    seed: u64,
    mode: Exploration,
    faults: &[FaultSpec],
    actions: &[ActionSpec],
) -> Result<Report, String> {
    let scenario = Arc::new(case_scenario(base, faults, actions));
    let options = RunOptions {
        seed: Some(seed),
        exploration: mode,
        ..RunOptions::default()
    };
    Ok(run(scenario, &options)?.report)
}

/// The failure signature of a case: its failing checks, or `panic: ...`.
fn failing(report: &Report) -> Vec<String> {
    report.failure_signature()
}

/// What a case's run gave: its verdict, trace hash, failure signature and events.
fn outcome(report: &Report) -> (Verdict, String, Vec<String>, u64) {
    (
        report.verdict,
        report.trace_hash.clone(),
        failing(report),
        report.events,
    )
}

/// Runs one case (and its determinism rerun when sampled). A panic inside the simulation is
/// the case's result (verdict `internal-error`, signature `panic: ...`), not an error.
pub fn case(
    base: &Scenario,
    options: &FuzzOptions,
    seed: u64,
) -> Result<(CaseResult, Replay), String> {
    let mode = mode_for(options, seed);
    let (faults, actions) = if options.swarm {
        let faults = swarm::draw(base, seed);
        let actions = workload::draw(base, seed, &faults);
        (faults, actions)
    } else {
        (Vec::new(), Vec::new())
    };
    let first = run_case(base, seed, mode, &faults, &actions)?;
    let (verdict, trace_hash, failing, events) = outcome(&first);
    let rerun = options.check_determinism || seed.is_multiple_of(20);
    let deterministic = if rerun {
        let again = outcome(&run_case(base, seed, mode, &faults, &actions)?);
        Some(again.1 == trace_hash && again.2 == failing)
    } else {
        None
    };
    let replay = Replay {
        scenario: base.source.clone(),
        seed,
        mode,
        fixes: options.fixes.clone(),
        faults: faults.clone(),
        actions: actions.clone(),
        trace_hash: trace_hash.clone(),
        failing: failing.clone(),
    };
    Ok((
        CaseResult {
            seed,
            mode,
            verdict,
            trace_hash,
            failing,
            swarm_faults: faults.len(),
            deterministic,
            events,
        },
        replay,
    ))
}

/// The result of a case whose preparation panicked before its run could report it.
fn panicked_case(
    base: &Scenario,
    options: &FuzzOptions,
    seed: u64,
    panic: &str,
) -> (CaseResult, Replay) {
    let mode = mode_for(options, seed);
    let failing = vec![crate::panics::signature(panic)];
    (
        CaseResult {
            seed,
            mode,
            verdict: Verdict::InternalError,
            trace_hash: String::new(),
            failing: failing.clone(),
            swarm_faults: 0,
            deterministic: None,
            events: 0,
        },
        Replay {
            scenario: base.source.clone(),
            seed,
            mode,
            fixes: options.fixes.clone(),
            faults: Vec::new(),
            actions: Vec::new(),
            trace_hash: String::new(),
            failing,
        },
    )
}

/// A pool of `jobs` threads for independent runs (each run is single-threaded inside).
pub(crate) fn worker_pool(jobs: usize) -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(jobs.max(1))
        .max_blocking_threads(jobs.max(1))
        .build()
        .map_err(|e| format!("cannot start the worker pool: {e}"))
}

/// Runs every case on `jobs` worker threads of a tokio runtime; `progress` is called after each
/// case with (done, failures so far). Results come back ordered by seed.
pub fn sweep(
    base: Arc<Scenario>,
    options: &FuzzOptions,
    progress: impl Fn(u64, u64) + Send + Sync + 'static,
) -> Result<Vec<(CaseResult, Replay)>, String> {
    let runtime = worker_pool(options.jobs)?;
    let progress = Arc::new(progress);
    let done = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let failed = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let results = runtime.block_on(async {
        let mut handles = Vec::new();
        for seed in options.start..options.start + options.seeds {
            let (base, options, progress, done, failed) = (
                base.clone(),
                options.clone(),
                progress.clone(),
                done.clone(),
                failed.clone(),
            );
            handles.push(tokio::task::spawn_blocking(move || {
                // A panic outside the run itself (drawing the swarm, say) is a case result too.
                let r = crate::panics::catch(|| case(&base, &options, seed))
                    .unwrap_or_else(|panic| Ok(panicked_case(&base, &options, seed, &panic)));
                let is_failure = r
                    .as_ref()
                    .map(|(c, _)| !c.failing.is_empty())
                    .unwrap_or(true);
                let f = failed
                    .fetch_add(u64::from(is_failure), std::sync::atomic::Ordering::Relaxed)
                    + u64::from(is_failure);
                let d = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                progress(d, f);
                r
            }));
        }
        let mut out = Vec::new();
        for h in handles {
            out.push(h.await.map_err(|e| format!("a case panicked: {e}"))?);
        }
        Ok::<_, String>(out)
    })?;
    results.into_iter().collect()
}

pub fn summarize(
    scenario: &str,
    options: &FuzzOptions,
    results: &[(CaseResult, Replay)],
) -> Summary {
    let mut sigs: BTreeMap<Vec<String>, (u64, u64)> = BTreeMap::new();
    for (c, _) in results.iter().filter(|(c, _)| !c.failing.is_empty()) {
        let e = sigs.entry(c.failing.clone()).or_insert((0, c.seed));
        e.0 += 1;
        e.1 = e.1.min(c.seed);
    }
    let inconclusive: Vec<u64> = results
        .iter()
        .filter(|(c, _)| c.failing.is_empty() && c.verdict == Verdict::Inconclusive)
        .map(|(c, _)| c.seed)
        .collect();
    let nondeterministic: Vec<u64> = results
        .iter()
        .filter(|(c, _)| c.deterministic == Some(false))
        .map(|(c, _)| c.seed)
        .collect();
    let verdict = sweep_verdict(
        results.iter().map(|(c, _)| c.verdict),
        !nondeterministic.is_empty(),
    );
    Summary {
        verdict,
        exit_code: verdict.exit_code(),
        scenario: scenario.to_string(),
        seeds: options.seeds,
        start: options.start,
        failures: results
            .iter()
            .filter(|(c, _)| !c.failing.is_empty())
            .count() as u64,
        inconclusive: inconclusive.len() as u64,
        first_inconclusive: inconclusive.first().copied(),
        signatures: sigs
            .into_iter()
            .map(|(failing, (seeds, first_seed))| Signature {
                failing,
                seeds,
                first_seed,
                shrunk: None,
                quirk_hints: None,
            })
            .collect(),
        determinism_checked: results
            .iter()
            .filter(|(c, _)| c.deterministic.is_some())
            .count() as u64,
        nondeterministic,
        events: results.iter().map(|(c, _)| c.events).sum(),
    }
}

/// The verdict of a sweep from its cases' verdicts: the most serious finding wins (an mcsim
/// bug, then safety, liveness, inconclusive). Unlike one run, a liveness failure of one case
/// outranks another case that proved nothing.
pub fn sweep_verdict(cases: impl IntoIterator<Item = Verdict>, nondeterministic: bool) -> Verdict {
    let rank = |v: Verdict| match v {
        Verdict::Pass => 0,
        Verdict::Inconclusive => 1,
        Verdict::LivenessFailure => 2,
        Verdict::SafetyFailure => 3,
        Verdict::InternalError => 4,
    };
    let worst = cases
        .into_iter()
        .max_by_key(|v| rank(*v))
        .unwrap_or(Verdict::Pass);
    if nondeterministic {
        Verdict::InternalError
    } else {
        worst
    }
}

/// Merges the summaries of shards of one sweep (`--shard i/N`): the result is what the whole
/// range would have printed, whatever the order of the parts.
pub fn merge(parts: &[Summary]) -> Result<Summary, String> {
    let first = parts.first().ok_or("no summaries to merge")?;
    if let Some(other) = parts.iter().find(|p| p.scenario != first.scenario) {
        return Err(format!(
            "summaries of different scenarios: {} and {}",
            first.scenario, other.scenario
        ));
    }
    let mut parts: Vec<&Summary> = parts.iter().collect();
    parts.sort_by_key(|p| p.start);
    for w in parts.windows(2) {
        if w[0].start + w[0].seeds != w[1].start {
            return Err(format!(
                "shards do not tile one range: seeds {}..{} then {}..{}",
                w[0].start,
                w[0].start + w[0].seeds,
                w[1].start,
                w[1].start + w[1].seeds
            ));
        }
    }
    let mut sigs: BTreeMap<Vec<String>, Signature> = BTreeMap::new();
    for s in parts.iter().flat_map(|p| &p.signatures) {
        match sigs.get_mut(&s.failing) {
            None => {
                sigs.insert(s.failing.clone(), s.clone());
            }
            Some(m) => {
                m.seeds += s.seeds;
                if s.first_seed < m.first_seed {
                    m.first_seed = s.first_seed;
                    m.shrunk = s.shrunk.clone();
                    m.quirk_hints = s.quirk_hints.clone();
                }
            }
        }
    }
    let mut nondeterministic: Vec<u64> = parts
        .iter()
        .flat_map(|p| p.nondeterministic.iter().copied())
        .collect();
    nondeterministic.sort_unstable();
    let verdict = sweep_verdict(
        parts.iter().map(|p| p.verdict),
        !nondeterministic.is_empty(),
    );
    Ok(Summary {
        verdict,
        exit_code: verdict.exit_code(),
        scenario: first.scenario.clone(),
        seeds: parts.iter().map(|p| p.seeds).sum(),
        start: parts[0].start,
        failures: parts.iter().map(|p| p.failures).sum(),
        inconclusive: parts.iter().map(|p| p.inconclusive).sum(),
        first_inconclusive: parts.iter().filter_map(|p| p.first_inconclusive).min(),
        signatures: sigs.into_values().collect(),
        determinism_checked: parts.iter().map(|p| p.determinism_checked).sum(),
        nondeterministic,
        events: parts.iter().map(|p| p.events).sum(),
    })
}

/// Shrinks the first case of every failure signature and writes it into `dir` as
/// `shrunk-seed-N.toml`, a scenario that fails under `mcsim run`; `progress(i, n, seed)` is
/// called before the `i`-th of `n` shrinks.
pub fn shrink_signatures(
    base: &Scenario,
    summary: &mut Summary,
    results: &[(CaseResult, Replay)],
    dir: &Path,
    budget: usize,
    progress: impl Fn(usize, usize, u64),
) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let count = summary.signatures.len();
    for (index, sig) in summary.signatures.iter_mut().enumerate() {
        // Prefer a case explored at random: its decisions are independent tie-breaks and
        // delays, which shrink to a few; PCT priorities act together and shrink less well.
        let same = |c: &CaseResult| c.failing == sig.failing;
        let Some((case, replay)) = results
            .iter()
            .find(|(c, _)| same(c) && c.mode == Exploration::Random)
            .or_else(|| results.iter().find(|(c, _)| same(c)))
        else {
            continue;
        };
        progress(index, count, case.seed);
        let shrunk = shrink::shrink(base, replay, budget)?;
        let path = dir.join(format!("shrunk-seed-{}.toml", case.seed));
        std::fs::write(&path, &shrunk.text).map_err(|e| format!("{}: {e}", path.display()))?;
        sig.shrunk = Some(ShrunkCase {
            file: path.display().to_string(),
            check: shrunk.check,
            size: shrunk.size,
            runs: shrunk.runs,
        });
    }
    Ok(())
}

/// Writes a replay file for every failing case into `dir`.
pub fn write_replays(
    dir: &Path,
    results: &[(CaseResult, Replay)],
) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut written = Vec::new();
    for (c, r) in results.iter().filter(|(c, _)| !c.failing.is_empty()) {
        let path = dir.join(format!("seed-{}.replay.json", c.seed));
        let json = serde_json::to_string_pretty(r).map_err(std::io::Error::other)?;
        std::fs::write(&path, json)?;
        written.push(path);
    }
    Ok(written)
}

/// Runs a replay file's case again; returns the new result and whether its trace hash matches.
/// Returns the case's result, its full report and whether the trace hash is the recorded one.
pub fn replay(base: &Scenario, r: &Replay) -> Result<(CaseResult, Report, bool), String> {
    let report = run_case(base, r.seed, r.mode, &r.faults, &r.actions)?;
    let (verdict, trace_hash, failing, events) = outcome(&report);
    let same = trace_hash == r.trace_hash && failing == r.failing;
    Ok((
        CaseResult {
            seed: r.seed,
            mode: r.mode,
            verdict,
            trace_hash,
            failing,
            swarm_faults: r.faults.len(),
            deterministic: Some(same),
            events,
        },
        report,
        same,
    ))
}
