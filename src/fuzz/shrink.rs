//! Shrinking a failing fuzz case to a small standalone scenario (delta debugging, Zeller and
//! Hildebrandt 2002).
//!
//! The case becomes a scenario ([`super::case_file`]) carrying every fault and the perturbation
//! decisions the run drew. A candidate is *still failing* if it loads after being written back
//! ([`crate::scenario::save`]) and its run fails with the case's signature. In order, the
//! shrinker tries:
//! 1. no perturbation at all (FIFO); else the shortest failing prefix of the decisions
//!    (bisection), then ddmin over the decisions left;
//! 2. ddmin over the faults (the scenario's own and the swarm's);
//! 3. ddmin over actions, traffic, services, StatefulSets and Deployments (a candidate that no
//!    longer loads, e.g. traffic to a removed service, is simply not failing);
//! 4. one replica per workload.
//!
//! Every step keeps the smallest failing scenario found so far, and a run budget bounds the
//! work; the result is written as a scenario file that fails the same check under `mcsim run`.

use super::case_file;
use super::{Replay, failing};
use crate::run::{RunOptions, run};
use crate::scenario::{ActionSpec, Expectation, Scenario, load_str, save};
use crate::sim::{Exploration, Tape};
use std::sync::Arc;

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
    /// Does `candidate` still fail with the case's signature? Counts against the budget.
    fn fails(&mut self, candidate: &Scenario) -> bool {
        if self.runs >= self.budget {
            return false;
        }
        self.runs += 1;
        let Ok(scenario) = reloaded(candidate) else {
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

    /// ddmin over the elements of `items`, where `build` turns a subset into a candidate.
    fn ddmin<T: Clone>(&mut self, items: Vec<T>, build: &dyn Fn(&[T]) -> Scenario) -> Vec<T> {
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

/// The scenario as a file would give it back: a candidate that no longer loads (e.g. an action
/// on a link the shrinker's edits left invalid) is not a scenario at all.
fn reloaded(candidate: &Scenario) -> Result<Scenario, String> {
    let text = save(candidate)?;
    load_str("shrunk.toml", &text).map_err(|d| d.to_string())
}

/// `base` with only the explicit actions `kept` (each `[[link]] at` keeps its own `link`
/// action, which a scenario file does not list), in the order loading gives them.
fn with_actions(base: &Scenario, kept: &[ActionSpec]) -> Scenario {
    let explicit = base.explicit_actions();
    let implied = base
        .actions
        .iter()
        .filter(|a| !explicit.iter().any(|e| std::ptr::eq(*e, *a)));
    let mut s = base.clone();
    s.actions = kept.iter().chain(implied).cloned().collect();
    s.actions.sort_by_key(|a| a.at);
    s
}

impl Shrinker {
    /// Step 1, the perturbation decisions: none if FIFO fails too, else the shortest failing
    /// prefix of `decisions`, then a minimal subset of it.
    fn shrink_decisions(
        &mut self,
        mut doc: Scenario,
        mode: Exploration,
        mut decisions: Vec<(u64, u64)>,
    ) -> (Scenario, Vec<(u64, u64)>) {
        let mut fifo = doc.clone();
        case_file::set_exploration(&mut fifo, Exploration::Fifo, None);
        if self.fails(&fifo) {
            doc = fifo;
            decisions.clear();
        } else {
            let with = |d: &Scenario, entries: &[(u64, u64)]| {
                let mut d = d.clone();
                let tape = Tape {
                    entries: entries.to_vec(),
                };
                case_file::set_exploration(&mut d, mode, Some(&tape));
                d
            };
            // The shortest failing prefix (bisection; failing is close to monotone in the prefix).
            let (mut lo, mut hi) = (0usize, decisions.len());
            while lo + 1 < hi && self.runs < self.budget / 3 {
                let mid = lo + (hi - lo) / 2;
                if self.fails(&with(&doc, &decisions[..mid])) {
                    hi = mid;
                } else {
                    lo = mid;
                }
            }
            decisions.truncate(hi);
            let base_doc = doc.clone();
            decisions = self.ddmin(decisions, &|sub| with(&base_doc, sub));
            doc = with(&doc, &decisions);
        }
        (doc, decisions)
    }

    /// Steps 2 and 3, minimal failing subsets of the faults, then of the explicit actions,
    /// flows and workloads.
    fn shrink_lists(&mut self, mut doc: Scenario) -> Scenario {
        let base_doc = doc.clone();
        doc.faults = self.ddmin(doc.faults.clone(), &|sub| Scenario {
            faults: sub.to_vec(),
            ..base_doc.clone()
        });
        let explicit: Vec<ActionSpec> = doc.explicit_actions().into_iter().cloned().collect();
        let base_doc = doc.clone();
        let kept = self.ddmin(explicit, &|sub| with_actions(&base_doc, sub));
        doc = with_actions(&doc, &kept);
        let base_doc = doc.clone();
        doc.traffic = self.ddmin(doc.traffic.clone(), &|sub| Scenario {
            traffic: sub.to_vec(),
            ..base_doc.clone()
        });
        let base_doc = doc.clone();
        doc.services = self.ddmin(doc.services.clone(), &|sub| Scenario {
            services: sub.to_vec(),
            ..base_doc.clone()
        });
        let base_doc = doc.clone();
        doc.statefulsets = self.ddmin(doc.statefulsets.clone(), &|sub| Scenario {
            statefulsets: sub.to_vec(),
            ..base_doc.clone()
        });
        let base_doc = doc.clone();
        doc.deployments = self.ddmin(doc.deployments.clone(), &|sub| Scenario {
            deployments: sub.to_vec(),
            ..base_doc.clone()
        });
        doc
    }

    /// Step 4, one replica per workload where that still fails.
    fn shrink_replicas(&mut self, mut doc: Scenario) -> Scenario {
        for i in 0..doc.services.len() {
            if doc.services[i].replicas > 1 {
                let mut candidate = doc.clone();
                candidate.services[i].replicas = 1;
                if self.fails(&candidate) {
                    doc = candidate;
                }
            }
        }
        for i in 0..doc.statefulsets.len() {
            if doc.statefulsets[i].replicas > 1 {
                let mut candidate = doc.clone();
                candidate.statefulsets[i].replicas = 1;
                if self.fails(&candidate) {
                    doc = candidate;
                }
            }
        }
        for i in 0..doc.deployments.len() {
            if doc.deployments[i].replicas > 1 {
                let mut candidate = doc.clone();
                candidate.deployments[i].replicas = 1;
                if self.fails(&candidate) {
                    doc = candidate;
                }
            }
        }
        doc
    }
}

/// The failing case of `replay` of `base`, shrunk within `budget` runs.
pub fn shrink(base: &Scenario, replay: &Replay, budget: usize) -> Result<Shrunk, String> {
    let check = replay
        .failing
        .first()
        .cloned()
        .ok_or("the case does not fail: nothing to shrink")?;
    // Record the decisions the failing run drew.
    let scenario = Arc::new(super::case_scenario(base, &replay.faults, &replay.actions));
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
    let case = case_file::case(
        base,
        replay.seed,
        replay.mode,
        &replay.faults,
        &replay.actions,
        Some(&recorded),
    );
    let mut doc =
        reloaded(&case).map_err(|e| format!("the case does not load as a scenario: {e}"))?;
    let mut s = Shrinker {
        signature: Vec::new(),
        runs: 0,
        budget: budget.max(1),
    };
    {
        let report = run(Arc::new(doc.clone()), &RunOptions::default())?.report;
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

    // 1. Perturbation decisions, 2. faults, 3. workload lists, 4. one replica per workload.
    let decisions;
    (doc, decisions) = s.shrink_decisions(doc, replay.mode, recorded.entries.clone());
    doc = s.shrink_lists(doc);
    doc = s.shrink_replicas(doc);

    // The result, with its verdict as an expectation.
    let report = run(Arc::new(reloaded(&doc)?), &RunOptions::default())?.report;
    let failing_now = failing(&report);
    doc.expect = Some(Expectation {
        verdict: report.verdict.expected(),
        failing: report
            .failed_checks()
            .into_iter()
            .map(String::from)
            .collect(),
        fix: None,
    });
    let size = CaseSize {
        faults: doc.faults.len(),
        decisions: decisions.len(),
        services: doc.services.len() + doc.statefulsets.len() + doc.deployments.len(),
        traffic: doc.traffic.len(),
        actions: doc.explicit_actions().len(),
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
