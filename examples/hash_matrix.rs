//! The refactoring guard: one line per run, `path seed mode trace_hash verdict`, for every
//! `scenarios/*.toml`, `tests/breakages/*.toml` and `tests/fuzz/*.toml` × seeds 1..=3 ×
//! exploration fifo/random/pct, the reference run of each library scenario with its own seed
//! (`own`), each quirk scenario with its fix switched on (mode `fix-fifo`, ...), and the fuzzer's
//! swarm cases of every file (mode `swarm-random`/`swarm-pct`, seeds 1..=6). Two commits that
//! keep behaviour print the same file:
//!
//! ```sh
//! cargo run --release --example hash_matrix > before.txt
//! # change the code
//! cargo run --release --example hash_matrix > after.txt && diff before.txt after.txt
//! ```
//!
//! `MCSIM_JOBS` (default 2) runs that many cases at once; the output order does not depend on it.

use mcsim::run::{RunOptions, run};
use mcsim::scenario::{Scenario, load_file};
use mcsim::sim::Exploration;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// What one line runs.
enum Case {
    /// The scenario as written, with `seed` (`None`: its own) and an exploration mode.
    Plain(Option<u64>, Exploration),
    /// The scenario with its `[expect] fix` switched on.
    Fixed(u64, Exploration),
    /// A fuzz case: swarm faults drawn from the seed, explored as the fuzzer does.
    Swarm(u64),
}

struct Job {
    path: String,
    scenario: Arc<Scenario>,
    case: Case,
}

fn toml_files(dir: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

fn mode_name(mode: Exploration) -> &'static str {
    match mode {
        Exploration::Fifo => "fifo",
        Exploration::Random => "random",
        Exploration::Pct => "pct",
    }
}

fn line(job: &Job) -> String {
    let (seed, mode, result) = match job.case {
        Case::Plain(seed, exploration) => {
            let options = RunOptions {
                seed,
                exploration,
                ..RunOptions::default()
            };
            let seed = seed.map_or("own".to_string(), |s| s.to_string());
            (
                seed,
                mode_name(exploration).to_string(),
                run(job.scenario.clone(), &options),
            )
        }
        Case::Fixed(seed, exploration) => {
            let mut scenario = (*job.scenario).clone();
            if let Some(fix) = scenario.expect.as_ref().and_then(|e| e.fix) {
                scenario.linkerd.fixes.push(fix);
            }
            let options = RunOptions {
                seed: Some(seed),
                exploration,
                ..RunOptions::default()
            };
            (
                seed.to_string(),
                format!("fix-{}", mode_name(exploration)),
                run(Arc::new(scenario), &options),
            )
        }
        Case::Swarm(seed) => {
            let options = mcsim::fuzz::FuzzOptions {
                swarm: true,
                ..mcsim::fuzz::FuzzOptions::default()
            };
            let mode = mcsim::fuzz::mode_for(&options, seed);
            let faults = mcsim::fuzz::swarm::draw(&job.scenario, seed);
            let actions = mcsim::fuzz::workload::draw(&job.scenario, seed, &faults);
            let scenario = Arc::new(mcsim::fuzz::case_scenario(&job.scenario, &faults, &actions));
            let options = RunOptions {
                seed: Some(seed),
                exploration: mode,
                ..RunOptions::default()
            };
            (
                seed.to_string(),
                format!("swarm-{}", mode_name(mode)),
                run(scenario, &options),
            )
        }
    };
    let (hash, verdict) = match result {
        Err(e) => ("-".to_string(), format!("ERROR:{}", e.replace(' ', "_"))),
        Ok(r) => {
            let failing = r.report.failure_signature();
            let verdict = format!("{:?}:{}", r.report.verdict, failing.join(",")).replace(' ', "_");
            (r.report.trace_hash.clone(), verdict)
        }
    };
    format!("{} {seed} {mode} {hash} {verdict}", job.path)
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut jobs = Vec::new();
    let modes = [Exploration::Fifo, Exploration::Random, Exploration::Pct];
    for dir in ["scenarios", "tests/breakages", "tests/fuzz"] {
        for file in toml_files(dir) {
            let path = file
                .strip_prefix(root)
                .unwrap_or(&file)
                .display()
                .to_string();
            let scenario =
                Arc::new(load_file(&file).unwrap_or_else(|d| panic!("{path} does not load: {d}")));
            let mut add = |case| {
                jobs.push(Job {
                    path: path.clone(),
                    scenario: scenario.clone(),
                    case,
                })
            };
            if dir == "scenarios" {
                add(Case::Plain(None, Exploration::Fifo));
            }
            for seed in 1..=3 {
                for mode in modes {
                    add(Case::Plain(Some(seed), mode));
                }
            }
            if scenario.expect.as_ref().is_some_and(|e| e.fix.is_some()) {
                for seed in 1..=3 {
                    for mode in modes {
                        add(Case::Fixed(seed, mode));
                    }
                }
            }
            for seed in 1..=6 {
                add(Case::Swarm(seed));
            }
        }
    }
    let workers: usize = std::env::var("MCSIM_JOBS")
        .ok()
        .and_then(|j| j.parse().ok())
        .unwrap_or(2);
    let next = AtomicUsize::new(0);
    let mut lines: Vec<Option<String>> = vec![None; jobs.len()];
    let results = std::sync::Mutex::new(&mut lines);
    std::thread::scope(|scope| {
        for _ in 0..workers.max(1) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(job) = jobs.get(i) else { break };
                    let l = line(job);
                    results.lock().expect("no worker panicked")[i] = Some(l);
                }
            });
        }
    });
    for l in lines.into_iter().flatten() {
        println!("{l}");
    }
}
