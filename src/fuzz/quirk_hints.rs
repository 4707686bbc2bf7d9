//! Which known Linkerd quirks explain a failure signature: the first triage question.
//!
//! A failure found by fuzzing is either a known Linkerd quirk (a named fix in `QUIRKS.md`
//! switches on the intended behaviour), a new bug in the system under test, or an mcsim bug.
//! For each signature this reruns a few of its failing cases (same seed, exploration, swarm
//! faults and workload) once per named fix the scenario does not already have, and reports
//! the fixes under which they pass. A fix that makes every tried case pass is strong evidence
//! that the failure is that quirk; a fix that rescues only some cases may just have moved the
//! schedule (a fix changes what the mirror does, so the run takes another path). None at all:
//! the signature is something no known quirk explains, the cases worth reading first.

use super::{CaseResult, Replay, Signature, run_case};
use crate::quirks::Fix;
use crate::report::Verdict;
use crate::scenario::Scenario;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// A named fix under which some of a signature's failing cases pass.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct QuirkHint {
    pub fix: Fix,
    /// Cases that passed with the fix switched on, of `tried`.
    pub passing: u64,
    pub tried: u64,
}

/// Failing cases rerun per signature: enough to tell "always" from "sometimes".
pub const CASES_PER_SIGNATURE: usize = 5;

/// Fills every signature's `quirk_hints`, running the reruns on `jobs` threads; `progress(i,
/// n)` is called before the `i`-th of `n` signatures.
pub fn hint_signatures(
    base: &Scenario,
    signatures: &mut [Signature],
    results: &[(CaseResult, Replay)],
    jobs: usize,
    progress: impl Fn(usize, usize),
) -> Result<(), String> {
    let candidates: Vec<Fix> = Fix::ALL
        .iter()
        .copied()
        .filter(|f| !base.linkerd.fixes.contains(f))
        .collect();
    if candidates.is_empty() {
        return Ok(());
    }
    let count = signatures.len();
    for (index, sig) in signatures.iter_mut().enumerate() {
        progress(index, count);
        let cases: Vec<Replay> = results
            .iter()
            .filter(|(c, _)| c.failing == sig.failing)
            .take(CASES_PER_SIGNATURE)
            .map(|(_, r)| r.clone())
            .collect();
        let runs: Vec<(Fix, Replay)> = candidates
            .iter()
            .flat_map(|&fix| cases.iter().map(move |r| (fix, r.clone())))
            .collect();
        let passed = run_all(base, runs, jobs)?;
        let mut hints: Vec<QuirkHint> = candidates
            .iter()
            .map(|&fix| QuirkHint {
                fix,
                passing: passed.iter().filter(|(f, ok)| *f == fix && *ok).count() as u64,
                tried: cases.len() as u64,
            })
            .filter(|h| h.passing > 0)
            .collect();
        // Most convincing first; ties in the order of `Fix::ALL` (QUIRKS.md's order).
        hints.sort_by_key(|h| std::cmp::Reverse(h.passing));
        sig.quirk_hints = Some(hints);
    }
    Ok(())
}

/// Runs each (fix, case) with the fix on; whether it passed, in input order.
fn run_all(
    base: &Scenario,
    runs: Vec<(Fix, Replay)>,
    jobs: usize,
) -> Result<Vec<(Fix, bool)>, String> {
    let runtime = super::worker_pool(jobs)?;
    runtime.block_on(async {
        let mut handles = Vec::new();
        for (fix, replay) in runs {
            let mut fixed = base.clone();
            fixed.linkerd.fixes.push(fix);
            let fixed = Arc::new(fixed);
            handles.push(tokio::task::spawn_blocking(move || {
                // A panic under a fix is no evidence that the fix explains the failure.
                let passed = crate::panics::catch(|| {
                    run_case(
                        &fixed,
                        replay.seed,
                        replay.mode,
                        &replay.faults,
                        &replay.actions,
                    )
                })
                .ok()
                .and_then(Result::ok)
                .is_some_and(|report| report.verdict == Verdict::Pass);
                (fix, passed)
            }));
        }
        let mut out = Vec::new();
        for h in handles {
            out.push(h.await.map_err(|e| format!("a rerun panicked: {e}"))?);
        }
        Ok(out)
    })
}
