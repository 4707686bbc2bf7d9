//! What `mcsim scenarios/partition.toml` prints and writes: exit 0; a JSON report with the
//! documented fields showing the partition, the unaffected pair unchanged and the mirrors
//! converged; JSON Lines and Perfetto traces that parse; and dumps shaped like kubectl lists.

use std::process::Command;

fn mcsim(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_mcsim"))
        .args(args)
        .output()
        .unwrap();
    (out.status.code(), String::from_utf8(out.stdout).unwrap())
}

#[test]
fn partition_json_report_carries_the_verdict_and_its_evidence() {
    let (code, stdout) = mcsim(&["scenarios/partition.toml", "--format", "json"]);
    assert_eq!(code, Some(0));
    let r: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(r["seed"], 42);
    assert_eq!(r["trace_hash"].as_str().unwrap().len(), 16);
    let checks = r["checks"].as_array().unwrap();
    assert!(
        checks
            .iter()
            .all(|c| c["passed"] == true && c["name"].is_string() && c["detail"].is_string())
    );
    assert!(checks.iter().any(|c| c["name"] == "convergence"));
    assert_eq!(r["faults"][0]["kind"], "partition");
    assert!(
        r["convergence"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["converged_ns"].is_u64())
    );
    // The unaffected pair: west -> north succeeds fully before, during and after.
    let traffic = r["traffic"].as_array().unwrap();
    let north: Vec<_> = traffic
        .iter()
        .filter(|t| t["to"].as_str().unwrap().starts_with("api-north"))
        .collect();
    assert_eq!(north.len(), 3);
    for t in &north[1..] {
        assert_eq!(t["ok"], t["sent"], "{t}");
    }
    // The cut pair fails during the partition.
    let east_during = traffic
        .iter()
        .find(|t| t["to"].as_str().unwrap().starts_with("web-east") && t["phase"] == "during")
        .unwrap();
    assert_eq!(east_during["ok"], 0);
}

/// Per fault, every pair of clusters with traffic: before / during / after, involved pairs
/// marked, in the JSON report and in the text report.
#[test]
fn partition_report_has_a_per_pair_table_for_each_fault() {
    let (code, stdout) = mcsim(&["scenarios/partition.toml", "--format", "json"]);
    assert_eq!(code, Some(0));
    let r: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let tables = r["traffic_per_fault"].as_array().unwrap();
    assert_eq!(tables.len(), r["faults"].as_array().unwrap().len());
    let t = &tables[0];
    assert_eq!(t["fault"], 0);
    assert_eq!(t["at_ns"], r["faults"][0]["at_ns"]);
    assert_eq!(t["healed_ns"], r["faults"][0]["healed_ns"]);
    let pair = |from: &str, to: &str| {
        t["pairs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["from"] == from && p["to"] == to)
            .unwrap_or_else(|| panic!("no pair {from} -> {to} in {t}"))
            .clone()
    };
    // The partitioned pair is involved and fails during the fault only.
    let east = pair("west", "east");
    assert_eq!(east["involved"], true);
    assert_eq!(east["before"]["success_ratio"], 1.0);
    assert!(east["during"]["sent"].as_u64().unwrap() > 0);
    assert_eq!(east["during"]["ok"], 0);
    assert!(east["after"]["ok"].as_u64().unwrap() > 0);
    // The pair the fault does not involve keeps its level throughout.
    let north = pair("west", "north");
    assert_eq!(north["involved"], false);
    for phase in ["before", "during", "after"] {
        assert!(north[phase]["sent"].as_u64().unwrap() > 0, "{north}");
        assert_eq!(north[phase]["success_ratio"], 1.0, "{phase}: {north}");
    }
    // The text report shows the same table, the involved pair marked.
    let (_, text) = mcsim(&["scenarios/partition.toml"]);
    let at = text.find("traffic around fault #0").expect(&text);
    let table: Vec<&str> = text[at..].lines().take(5).collect();
    assert!(table[2].starts_with("  * west -> east"), "{table:?}");
    assert!(
        table[2].contains("100.0% of") && table[2].contains("0.0% of"),
        "{table:?}"
    );
    assert!(table[3].starts_with("    west -> north"), "{table:?}");
}

#[test]
fn traces_and_dumps_are_written_and_parse() {
    let dir = std::env::temp_dir().join(format!("mcsim-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (jsonl, perfetto, dump) = (dir.join("t.jsonl"), dir.join("p.json"), dir.join("dump"));
    let (code, _) = mcsim(&[
        "run",
        "scenarios/headless-statefulset.toml",
        "--until",
        "30s",
        "--trace",
        jsonl.to_str().unwrap(),
        "--trace-perfetto",
        perfetto.to_str().unwrap(),
        "--dump",
        dump.to_str().unwrap(),
    ]);
    assert!(code.is_some());
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&jsonl)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(lines.len() > 100);
    assert!(
        lines
            .iter()
            .all(|l| l["time_ns"].is_u64() && l["component"].is_string() && l["kind"].is_string())
    );
    let p: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&perfetto).unwrap()).unwrap();
    let events = p["traceEvents"].as_array().unwrap();
    // The component's track is named without its cluster, in the process of its cluster.
    let west = events
        .iter()
        .find(|e| e["name"] == "process_name" && e["args"]["name"] == "cluster west")
        .unwrap()["pid"]
        .clone();
    assert!(events.iter().any(|e| e["name"] == "thread_name"
        && e["pid"] == west
        && e["args"]["name"] == "service-mirror-east"));
    assert_eq!(
        events
            .iter()
            .filter(|e| e["ph"] == "i" && e["cat"] != "action")
            .count(),
        lines.len()
    );
    let west = std::fs::read_to_string(dump.join("west.yaml")).unwrap();
    assert!(west.contains("kind: List") && west.contains("name: web-0-east"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A mistyped subcommand is blamed on the subcommand (with a suggestion), not on a scenario
/// file that cannot be read; a mistyped key or name gets a suggestion and the source line with
/// a caret.
#[test]
fn typos_are_blamed_where_they_are_with_a_suggestion() {
    let out = Command::new(env!("CARGO_BIN_EXE_mcsim"))
        .args(["fuz", "scenarios/partition.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("unrecognized subcommand 'fuz'") && stderr.contains("'fuzz'"),
        "{stderr}"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_mcsim"))
        .args(["check", "tests/bad_scenarios/unknown-cluster.toml"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert!(lines[0].ends_with("did you mean \"east\"?"), "{stderr}");
    assert_eq!(lines[2], "11 | to = \"eest\"", "{stderr}");
    assert_eq!(lines[3], "   |      ^^^^^^", "{stderr}");
}

#[test]
fn check_speaks_json_and_completions_are_generated() {
    let (code, stdout) = mcsim(&["check", "scenarios/partition.toml", "--format", "json"]);
    assert_eq!(code, Some(0));
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(v["clusters"], 3);
    let (code, stdout) = mcsim(&[
        "check",
        "tests/bad_scenarios/unknown-cluster.toml",
        "--format",
        "json",
    ]);
    assert_eq!(code, Some(2));
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["ok"], false);
    assert_eq!(v["diagnostics"][0]["line"], 11);
    assert_eq!(v["diagnostics"][0]["column"], 6);
    for shell in ["bash", "zsh", "fish"] {
        let (code, stdout) = mcsim(&["completions", shell]);
        assert_eq!(code, Some(0));
        assert!(
            stdout.contains("fuzz") && stdout.contains("replay"),
            "{shell}"
        );
    }
}
