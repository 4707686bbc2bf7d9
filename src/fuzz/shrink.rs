//! Shrinking a failing fuzz case to a small standalone scenario (delta debugging, Zeller and
//! Hildebrandt 2002).
//!
//! The case becomes a scenario document ([`super::case_file`]) carrying every fault and the
//! perturbation decisions the run drew. A candidate is *still failing* if it loads and its run
//! fails the case's first failing check. In order, the shrinker tries:
//! 1. no perturbation at all (FIFO); else the shortest failing prefix of the decisions
//!    (bisection), then ddmin over the decisions left;
//! 2. ddmin over the faults (the scenario's own and the swarm's);
//! 3. ddmin over actions, traffic, services, StatefulSets and Deployments (a candidate that no
//!    longer loads, e.g. traffic to a removed service, is simply not failing);
//! 4. one replica per workload.
//!
//! Every step keeps the smallest failing document found so far, and a run budget bounds the
//! work; the result is rendered as TOML that fails the same check under `mcsim run`.

use super::case_file;
use super::{Replay, failing};
use crate::run::{RunOptions, run};
use crate::scenario::{Scenario, load_str};
use crate::sim::{Exploration, Tape};
use std::sync::Arc;
use toml::{Table, Value};

#[derive(Clone, Debug)]
pub struct Shrunk {
    /// The standalone scenario, ready to write to a file.
    pub text: String,
    /// The check the shrunk case still fails (the original's first failing check).
    pub check: String,
    pub failing: Vec<String>,
    pub size: CaseSize,
    /// Runs spent shrinking.
    pub runs: usize,
}

/// What is left in a shrunk case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CaseSize {
    pub faults: usize,
    pub decisions: usize,
    /// Services, StatefulSets and Deployments.
    pub services: usize,
    pub traffic: usize,
    pub actions: usize,
}

/// The failing checks of a run and their details with every number replaced by `#`; for a run
/// that mcsim's own panic ended, the panic's signature.
fn signature(report: &crate::report::Report) -> Vec<(String, String)> {
    if let Some(panic) = &report.panic {
        return vec![("panic".into(), crate::panics::signature(panic))];
    }
    report
        .checks
        .iter()
        .filter(|c| c.failed())
        .map(|c| (c.name.clone(), crate::panics::without_numbers(&c.detail)))
        .collect()
}

struct Shrinker {
    signature: Vec<(String, String)>,
    runs: usize,
    budget: usize,
}

impl Shrinker {
    /// Does `doc` still fail the check? Counts against the budget.
    fn fails(&mut self, doc: &Table) -> bool {
        if self.runs >= self.budget {
            return false;
        }
        self.runs += 1;
        let Ok(text) = toml::to_string(doc) else {
            return false;
        };
        let Ok(scenario) = load_str("shrunk.toml", &text) else {
            return false;
        };
        // The same failing checks with the same details (numbers aside), no more and no fewer:
        // a candidate that fails for another reason (e.g. traffic to a service the shrinker
        // removed fails DNS instead of connecting) is a different bug.
        match run(Arc::new(scenario), &RunOptions::default()) {
            Ok(r) => signature(&r.report) == self.signature,
            Err(_) => false,
        }
    }

    /// ddmin over the elements of `items`, where `build` turns a subset into a document.
    fn ddmin<T: Clone>(&mut self, items: Vec<T>, build: &dyn Fn(&[T]) -> Table) -> Vec<T> {
        let mut current = items;
        let mut n = 2usize;
        while !current.is_empty() && self.runs < self.budget {
            if current.len() == 1 {
                if self.fails(&build(&[])) {
                    current.clear();
                }
                break;
            }
            let n_eff = n.min(current.len());
            let chunk = current.len().div_ceil(n_eff);
            let chunks: Vec<Vec<T>> = current.chunks(chunk).map(<[T]>::to_vec).collect();
            let mut reduced = false;
            // A single chunk that fails on its own...
            for c in &chunks {
                if chunks.len() > 2 && self.fails(&build(c)) {
                    current = c.clone();
                    n = 2;
                    reduced = true;
                    break;
                }
            }
            // ...or the rest without one chunk.
            if !reduced {
                for i in 0..chunks.len() {
                    let rest: Vec<T> = chunks
                        .iter()
                        .enumerate()
                        .filter(|(j, _)| *j != i)
                        .flat_map(|(_, c)| c.iter().cloned())
                        .collect();
                    if self.fails(&build(&rest)) {
                        current = rest;
                        n = (n_eff - 1).max(2);
                        reduced = true;
                        break;
                    }
                }
            }
            if !reduced {
                if n_eff >= current.len() {
                    break;
                }
                n = (n_eff * 2).min(current.len());
            }
        }
        current
    }
}

fn array(doc: &Table, key: &str) -> Vec<Value> {
    match doc.get(key) {
        Some(Value::Array(a)) => a.clone(),
        _ => Vec::new(),
    }
}

fn with_array(doc: &Table, key: &str, items: &[Value]) -> Table {
    let mut d = doc.clone();
    if items.is_empty() {
        d.remove(key);
    } else {
        d.insert(key.into(), Value::Array(items.to_vec()));
    }
    d
}

/// Shrinks the failing case `replay` of `base` (whose file text is `base_text`) within
/// `budget` runs.
pub fn shrink(
    base: &Scenario,
    base_text: &str,
    replay: &Replay,
    budget: usize,
) -> Result<Shrunk, String> {
    let check = replay
        .failing
        .first()
        .cloned()
        .ok_or("the case does not fail: nothing to shrink")?;
    // Record the decisions the failing run drew.
    let scenario = Arc::new(super::case_scenario(base, &replay.faults));
    let recorded = run(
        scenario,
        &RunOptions {
            seed: Some(replay.seed),
            exploration: replay.mode,
            record_decisions: true,
            no_checks: true,
            ..RunOptions::default()
        },
    )?
    .decisions;
    let mut doc = case_file::document(
        base,
        base_text,
        replay.seed,
        replay.mode,
        &replay.faults,
        Some(&recorded),
    )?;
    let mut s = Shrinker {
        signature: Vec::new(),
        runs: 0,
        budget: budget.max(1),
    };
    {
        let text = toml::to_string(&doc).map_err(|e| e.to_string())?;
        let first = load_str("case.toml", &text)
            .map_err(|d| format!("the case does not load as a scenario: {d}"))?;
        let report = run(Arc::new(first), &RunOptions::default())?.report;
        s.signature = signature(&report);
        if failing(&report) != replay.failing {
            return Err(format!(
                "seed {} does not fail {check} again when its decisions are replayed",
                replay.seed
            ));
        }
    }
    if !s.fails(&doc) {
        return Err(format!(
            "seed {} does not fail {check} again when its decisions are replayed",
            replay.seed
        ));
    }

    // 1. Perturbation decisions.
    let mode = replay.mode;
    let mut fifo = doc.clone();
    case_file::set_exploration(&mut fifo, Exploration::Fifo, None);
    let mut decisions = recorded.entries.clone();
    if s.fails(&fifo) {
        doc = fifo;
        decisions.clear();
    } else {
        let with = |d: &Table, entries: &[(u64, u64)]| {
            let mut d = d.clone();
            let tape = Tape {
                entries: entries.to_vec(),
            };
            case_file::set_exploration(&mut d, mode, Some(&tape));
            d
        };
        // The shortest failing prefix (bisection; failing is close to monotone in the prefix).
        let (mut lo, mut hi) = (0usize, decisions.len());
        while lo + 1 < hi && s.runs < s.budget / 3 {
            let mid = lo + (hi - lo) / 2;
            if s.fails(&with(&doc, &decisions[..mid])) {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        decisions.truncate(hi);
        let base_doc = doc.clone();
        decisions = s.ddmin(decisions, &|sub| with(&base_doc, sub));
        doc = with(&doc, &decisions);
    }

    // 2. Faults, 3. workload lists.
    for key in [
        "fault",
        "action",
        "traffic",
        "service",
        "statefulset",
        "deployment",
    ] {
        let items = array(&doc, key);
        if items.is_empty() {
            continue;
        }
        let base_doc = doc.clone();
        let kept = s.ddmin(items, &|sub| with_array(&base_doc, key, sub));
        doc = with_array(&doc, key, &kept);
    }

    // 4. One replica per workload.
    for key in ["service", "statefulset", "deployment"] {
        let items = array(&doc, key);
        for i in 0..items.len() {
            let mut items = array(&doc, key);
            let Some(Value::Table(t)) = items.get_mut(i) else {
                continue;
            };
            if t.get("replicas").and_then(Value::as_integer).unwrap_or(1) <= 1 {
                continue;
            }
            t.insert("replicas".into(), Value::Integer(1));
            let candidate = with_array(&doc, key, &items);
            if s.fails(&candidate) {
                doc = candidate;
            }
        }
    }

    // The result, with its verdict as an expectation.
    let text = toml::to_string(&doc).map_err(|e| e.to_string())?;
    let final_scenario = load_str("shrunk.toml", &text)
        .map_err(|d| format!("the shrunk scenario does not load: {d}"))?;
    let report = run(Arc::new(final_scenario), &RunOptions::default())?.report;
    let failing_now = failing(&report);
    let mut expect = Table::new();
    let verdict = match report.verdict {
        crate::report::Verdict::Pass => "pass",
        crate::report::Verdict::SafetyFailure | crate::report::Verdict::LivenessFailure => "fail",
        crate::report::Verdict::Inconclusive => "inconclusive",
        crate::report::Verdict::InternalError => "error",
    };
    expect.insert("verdict".into(), Value::String(verdict.into()));
    expect.insert(
        "failing".into(),
        Value::Array(
            report
                .failed_checks()
                .into_iter()
                .map(|c| Value::String(c.into()))
                .collect(),
        ),
    );
    doc.insert("expect".into(), Value::Table(expect));
    let count = |k: &str| array(&doc, k).len();
    let size = CaseSize {
        faults: count("fault"),
        decisions: decisions.len(),
        services: count("service") + count("statefulset") + count("deployment"),
        traffic: count("traffic"),
        actions: count("action"),
    };
    let header = format!(
        "Shrunk by `mcsim fuzz` from seed {} ({:?}) of {} in {} runs.\n\
         Fails: {} (first: {check}). Reproduce: mcsim run THIS_FILE\n\
         {} fault(s), {} perturbation decision(s), {} service(s), {} traffic flow(s), {} action(s).",
        replay.seed,
        replay.mode,
        replay.scenario,
        s.runs,
        failing_now.join(", "),
        size.faults,
        size.decisions,
        size.services,
        size.traffic,
        size.actions,
    );
    Ok(Shrunk {
        text: case_file::render(&doc, &header)?,
        check,
        failing: failing_now,
        size,
        runs: s.runs,
    })
}
