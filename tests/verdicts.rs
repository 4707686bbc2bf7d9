//! Honest verdicts (issue 13): a run that did not test what it claims is never PASS, every
//! failure class has its own exit code, and an mcsim panic is a finding with a seed, not a lost
//! sweep.
//!
//! Exit codes: 0 pass, 1 safety failure, 2 bad input, 3 liveness failure, 4 inconclusive,
//! 5 mcsim internal error.

use mcsim::fuzz::{self, FuzzOptions};
use mcsim::report::Verdict;
use mcsim::run::{RunOptions, run};
use mcsim::scenario::{load_file, load_str};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

fn mcsim(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_mcsim"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("mcsim-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn exit_codes_tell_the_failure_classes_apart() {
    let dir = temp_dir("exit-codes");
    let panics = dir.join("panics.toml");
    std::fs::write(
        &panics,
        std::fs::read_to_string("scenarios/partition.toml")
            .unwrap()
            .replace(
                "[checks]",
                "[testing]\nbreakages = [\"fault-injector-panics-on-partition\"]\n[checks]",
            ),
    )
    .unwrap();
    for (file, code, verdict) in [
        ("scenarios/partition.toml", 0, "PASS"),
        ("tests/breakages/foreign-writes.toml", 1, "FAIL (safety)"),
        ("tests/bad_scenarios/unknown-cluster.toml", 2, ""),
        ("scenarios/trust-mismatch.toml", 3, "FAIL (liveness)"),
        ("tests/breakages/faults-fired.toml", 4, "INCONCLUSIVE"),
        (panics.to_str().unwrap(), 5, "ERROR (mcsim bug)"),
    ] {
        let (got, stdout, stderr) = mcsim(&["run", file]);
        assert_eq!(got, Some(code), "{file}:\n{stdout}\n{stderr}");
        if code != 2 {
            assert!(
                stdout.contains(&format!("verdict: {verdict}")),
                "{file}:\n{stdout}"
            );
            let (_, json, _) = mcsim(&["run", file, "--format", "json"]);
            let r: serde_json::Value = serde_json::from_str(&json).unwrap();
            assert_eq!(r["exit_code"], code, "{file}");
            assert!(r["verdict"].is_string(), "{file}");
        }
    }
    // The panic is reported with where it happened, the seed and the replay command.
    let (_, stdout, stderr) = mcsim(&["run", panics.to_str().unwrap()]);
    assert!(
        stdout.contains("panic      fault #0: the injector cannot apply a partition")
            && stdout.contains("src/world/"),
        "{stdout}"
    );
    assert!(stdout.contains("replay:  mcsim run"), "{stdout}");
    assert!(!stderr.contains("panicked at"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A run stopped by its event budget never reached the scenario's end: the report says where
/// it stopped, liveness checks are not judged, and the verdict is INCONCLUSIVE.
#[test]
fn a_run_cut_short_by_its_event_budget_is_inconclusive() {
    let text = std::fs::read_to_string("scenarios/partition.toml")
        .unwrap()
        .replace(
            "quiet_period = \"2m\"",
            "quiet_period = \"2m\"\nevents_max = 50000",
        );
    let s = load_str("budget.toml", &text).unwrap();
    let report = run(Arc::new(s), &RunOptions::default()).unwrap().report;
    assert_eq!(report.verdict, Verdict::Inconclusive);
    assert_eq!(report.exit_code, 4);
    assert_eq!(report.outcome, "event-limit");
    assert_eq!(report.events, 50_000);
    assert!(report.reached_ns < report.end_time_ns);
    assert!(
        report
            .stopped_early
            .as_deref()
            .is_some_and(|w| w.contains("event limit")),
        "{:?}",
        report.stopped_early
    );
    for name in ["convergence", "availability", "headless-dns"] {
        let c = report.checks.iter().find(|c| c.name == name).unwrap();
        assert!(!c.judged && !c.passed, "{name}: {c:?}");
    }
    // Safety checks are still judged over what the run saw.
    let safety = report
        .checks
        .iter()
        .find(|c| c.name == "safety.foreign-writes")
        .unwrap();
    assert!(safety.judged && safety.passed);
}

/// `--until` before a scheduled fault: the report lists what was not reached and the verdict
/// says the run did not test it.
#[test]
fn until_lists_the_faults_and_actions_it_did_not_reach() {
    let (code, json, _) = mcsim(&[
        "run",
        "scenarios/partition.toml",
        "--until",
        "90s",
        "--format",
        "json",
    ]);
    assert_eq!(code, Some(4));
    let r: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(r["verdict"], "inconclusive");
    assert_eq!(r["outcome"], "until");
    assert_eq!(r["reached_ns"], 90_000_000_000u64);
    let unreached = r["unreached"].as_array().unwrap();
    assert!(
        unreached
            .iter()
            .any(|u| u.as_str().unwrap().starts_with("fault #0 (partition")),
        "{unreached:?}"
    );
    // Past the fault and its heal but before the end: nothing unreached, still not judged.
    let (code, json, _) = mcsim(&[
        "run",
        "scenarios/partition.toml",
        "--until",
        "200s",
        "--format",
        "json",
    ]);
    assert_eq!(code, Some(4));
    let r: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(r.get("unreached").is_none(), "{}", r["unreached"]);
}

/// Two runs of the same scenario and seed print byte-identical reports (the wall time goes to
/// stderr).
#[test]
fn reports_are_byte_identical_across_runs() {
    for format in ["text", "json"] {
        let (_, a, _) = mcsim(&["run", "scenarios/gateway-down.toml", "--format", format]);
        let (_, b, _) = mcsim(&["run", "scenarios/gateway-down.toml", "--format", format]);
        assert_eq!(a, b, "{format}");
    }
}

fn panicking_scenario() -> mcsim::scenario::Scenario {
    let mut s = load_file(Path::new("tests/fuzz/export-race.toml")).unwrap();
    s.fuzz.faults = Some(vec![mcsim::scenario::FaultTag::Partition]);
    s.breakages
        .push(mcsim::quirks::Breakage::FaultInjectorPanicsOnPartition);
    s
}

/// A panic inside one fuzz case is that seed's failure (signature `panic: ...`, a replay
/// file, a shrunk case); the sweep goes on with the other seeds.
#[test]
fn a_panicking_fuzz_case_is_a_failing_seed_and_the_sweep_goes_on() {
    let base = Arc::new(panicking_scenario());
    let options = FuzzOptions {
        seeds: 16,
        start: 0,
        jobs: 2,
        mode: None,
        check_determinism: true,
        swarm: true,
        out: None,
        fixes: Vec::new(),
    };
    let results = fuzz::sweep(base.clone(), &options, |_, _| {}).unwrap();
    assert_eq!(results.len(), 16);
    let summary = fuzz::summarize("panics", &options, &results);
    assert_eq!(summary.verdict, Verdict::InternalError);
    assert_eq!(summary.exit_code, 5);
    assert!(summary.nondeterministic.is_empty(), "{summary:?}");
    assert_eq!(summary.signatures.len(), 1, "{summary:?}");
    let sig = &summary.signatures[0].failing[0];
    assert!(
        sig.starts_with(
            "panic: fault ##: the injector cannot apply a partition (test breakage) (src/world/"
        ),
        "{sig}"
    );
    // Seeds without a partition ran to their end and passed.
    let passed = results
        .iter()
        .filter(|(c, _)| c.verdict == Verdict::Pass)
        .count();
    assert!(passed > 0 && passed < 16, "{passed} of 16 passed");

    // The replay file runs the case again: same panic, exit code 5.
    let dir = temp_dir("panic-replay");
    let written = fuzz::write_replays(&dir, &results).unwrap();
    let (_, replay) = results
        .iter()
        .find(|(c, _)| c.verdict == Verdict::InternalError)
        .unwrap();
    let (again, report, same) = fuzz::replay(&base, replay).unwrap();
    assert!(same && again.failing == replay.failing);
    assert_eq!(report.verdict, Verdict::InternalError);
    assert!(!written.is_empty());

    // It shrinks like any failure, to a scenario that expects the error.
    let shrunk = fuzz::shrink::shrink(&base, replay, 200).unwrap();
    assert_eq!(shrunk.size.faults, 1, "{}", shrunk.text);
    assert!(
        shrunk.text.contains("verdict = \"error\""),
        "{}",
        shrunk.text
    );
    let alone = load_str("shrunk.toml", &shrunk.text).unwrap();
    let report = run(Arc::new(alone), &RunOptions::default()).unwrap().report;
    assert_eq!(report.verdict, Verdict::InternalError);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `mcsim replay` exits with the case's verdict code, and `mcsim fuzz` with the sweep's.
#[test]
fn replay_and_fuzz_exit_with_their_verdict_codes() {
    let dir = temp_dir("replay-exit");
    let race = dir.join("race.toml");
    std::fs::write(
        &race,
        std::fs::read_to_string("tests/fuzz/export-race.toml")
            .unwrap()
            .replace(
                "[checks]",
                "[testing]\nbreakages = [\"endpoints-before-service\"]\n[checks]",
            ),
    )
    .unwrap();
    let out = dir.join("out");
    let (code, stdout, _) = mcsim(&[
        "fuzz",
        race.to_str().unwrap(),
        "--seeds",
        "40",
        "--jobs",
        "2",
        "--no-shrink",
        "--out",
        out.to_str().unwrap(),
    ]);
    // The race fails convergence, a liveness check.
    assert_eq!(code, Some(3), "{stdout}");
    assert!(stdout.contains("verdict: FAIL (liveness)"), "{stdout}");
    let replay = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".replay.json"))
        .expect("a replay file");
    let (code, stdout, _) = mcsim(&["replay", replay.to_str().unwrap()]);
    assert_eq!(code, Some(3), "{stdout}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `mcsim check` opens `[[manifest]]` files and builds the world: a missing file, a kind the
/// API server does not know, a field of the wrong type and an object the API server refuses
/// are refused by `check` exactly as by `run` (exit 2, located).
#[test]
fn check_refuses_every_manifest_that_run_would_refuse() {
    let dir = temp_dir("check-manifests");
    std::fs::create_dir_all(dir.join("m")).unwrap();
    let scenario = dir.join("s.toml");
    std::fs::write(
        &scenario,
        "# manifests\n[sim]\nname = \"m\"\nduration = \"1m\"\n[[cluster]]\nname = \"west\"\n[[cluster]]\nname = \"east\"\n[[manifest]]\ncluster = \"east\"\npath = \"m/x.yaml\"\n",
    )
    .unwrap();
    let s = scenario.to_str().unwrap();
    let manifest = dir.join("m/x.yaml");
    let m = manifest.display().to_string();
    let cases: [(Option<&str>, String); 4] = [
        (None, format!("{s}:11:8: expected a readable manifest file")),
        (
            Some("apiVersion: v1\nkind: Sevrice\nmetadata:\n  name: a\n"),
            format!("{m}:2:1: document 1: no matches for kind \"Sevrice\" in version \"v1\""),
        ),
        (
            Some(
                "apiVersion: v1\nkind: Service\nmetadata:\n  name: a\n  namespace: default\nspec:\n  ports: \"80\"\n",
            ),
            format!("{m}:7:3: document 1: spec.ports: Invalid value: \"80\": expected a list"),
        ),
        (
            Some(
                "apiVersion: v1\nkind: Service\nmetadata:\n  name: a\n  namespace: nope\nspec:\n  ports: [{port: 80}]\n",
            ),
            format!("{s}: manifest {m}:1:1: the API server refuses Service nope/a"),
        ),
    ];
    for (text, wanted) in cases {
        match text {
            Some(t) => std::fs::write(&manifest, t).unwrap(),
            None => {
                let _ = std::fs::remove_file(&manifest);
            }
        }
        for command in ["check", "run"] {
            let (code, _, stderr) = mcsim(&[command, s]);
            assert_eq!(code, Some(2), "{command}: {stderr}");
            assert!(
                stderr.lines().next().unwrap_or("").starts_with(&wanted),
                "{command}: wanted {wanted}\ngot {stderr}"
            );
        }
    }
    // A good manifest passes both.
    std::fs::write(
        &manifest,
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: a\n  namespace: default\nspec:\n  ports: [{port: 80}]\n",
    )
    .unwrap();
    assert_eq!(mcsim(&["check", s]).0, Some(0));
    let _ = std::fs::remove_dir_all(&dir);
}
