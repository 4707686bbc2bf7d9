//! The scenario library, the broken-component suite and the mcsim-bug regressions, as data:
//! every `scenarios/*.toml`, `tests/breakages/*.toml` and `tests/regressions/*.toml` opens with
//! a comment saying what it shows and declares the verdict it must reach in `[expect]` (the
//! exact set of failing checks). A quirk scenario also names a fix: with it switched on, the
//! scenario must pass.

use mcsim::report::Verdict;
use mcsim::run::{RunOptions, run};
use mcsim::scenario::{Scenario, load_file};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn files(dir: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    v.sort();
    v
}

fn failing(scenario: Scenario) -> (Verdict, BTreeSet<String>) {
    let result = run(Arc::new(scenario), &RunOptions::default()).expect("world builds");
    (
        result.report.verdict,
        result
            .report
            .failed_checks()
            .into_iter()
            .map(String::from)
            .collect(),
    )
}

fn check_dir(dir: &str, min: usize) {
    let files = files(dir);
    assert!(
        files.len() >= min,
        "{dir}: expected at least {min} scenarios, found {}",
        files.len()
    );
    let mut problems = Vec::new();
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(path).unwrap();
        if !text.starts_with('#') {
            problems.push(format!(
                "{name}: must start with a comment saying what it shows"
            ));
        }
        let scenario = match load_file(path) {
            Ok(s) => s,
            Err(d) => {
                problems.push(format!("{name}: does not load: {d}"));
                continue;
            }
        };
        let Some(expect) = scenario.expect.clone() else {
            problems.push(format!("{name}: has no [expect] verdict"));
            continue;
        };
        let (verdict, failed) = failing(scenario.clone());
        let wanted: BTreeSet<String> = expect.failing.iter().cloned().collect();
        if verdict.expected() != expect.verdict || failed != wanted {
            problems.push(format!(
                "{name}: verdict {verdict:?} failing checks {failed:?}, expected {:?} {wanted:?}",
                expect.verdict
            ));
        }
        if let Some(fix) = &expect.fix {
            let mut fixed = scenario;
            fixed.linkerd.fixes.push(*fix);
            let (verdict, failed) = failing(fixed);
            if verdict != Verdict::Pass {
                problems.push(format!("{name}: with fix {fix} still fails {failed:?}"));
            }
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

#[test]
fn scenario_library_reaches_its_expected_verdicts() {
    check_dir("scenarios", 10);
}

/// mcsim bugs found by fuzzing, pinned as scenarios that failed before their fix.
#[test]
fn mcsim_bug_regressions_reach_their_expected_verdicts() {
    check_dir("tests/regressions", 2);
}

#[test]
fn every_check_fails_against_a_broken_component() {
    check_dir("tests/breakages", 7);
    // Every check of the registry is shown failing by at least one case.
    let mut shown = BTreeSet::new();
    for path in files("tests/breakages")
        .into_iter()
        .chain(files("scenarios"))
    {
        if let Some(e) = load_file(&path).ok().and_then(|s| s.expect) {
            shown.extend(e.failing);
        }
    }
    for check in mcsim::scenario::CHECK_NAMES {
        assert!(
            shown.contains(*check),
            "no test shows check {check} failing"
        );
    }
}
