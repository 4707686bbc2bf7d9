//! A fuzz case as a standalone scenario file.
//!
//! The base scenario's TOML is parsed as a document; the case's seed, exploration mode,
//! recorded perturbation decisions, quirk fixes, test breakages and swarm faults are written
//! into it, so `mcsim run FILE` reproduces the case without the fuzzer. The shrinker edits the
//! same document (dropping faults, services, traffic, decisions) and renders it at the end.

use crate::scenario::{FaultKind, FaultSpec, PartitionMode, Scenario};
use crate::sim::{Exploration, Ratio, SimDuration, Tape};
use toml::{Table, Value};

/// The document of `base` (its file's text) with the case's settings written into it.
pub fn document(
    base: &Scenario,
    base_text: &str,
    seed: u64,
    mode: Exploration,
    faults: &[FaultSpec],
    decisions: Option<&Tape>,
) -> Result<Table, String> {
    let mut doc: Table = base_text
        .parse()
        .map_err(|e| format!("{}: cannot parse the scenario again: {e}", base.source))?;
    let case = super::case_scenario(base, faults);
    let sim = table_mut(&mut doc, "sim");
    sim.insert("seed".into(), int(seed));
    // The fuzzer may stretch a case (Linkerd's resync backstop, see `case_scenario`).
    if case.duration != base.duration {
        sim.insert("duration".into(), dur(case.duration));
    }
    if case.checks.converged_within != base.checks.converged_within {
        table_mut(&mut doc, "checks")
            .insert("converged_within".into(), dur(case.checks.converged_within));
    }
    let sim = table_mut(&mut doc, "sim");
    if case.quiet_period != base.quiet_period {
        sim.insert("quiet_period".into(), dur(case.quiet_period));
    }
    set_exploration(&mut doc, mode, decisions);
    // Fixes and breakages may have been switched on outside the file (`--fix`, tests).
    if !base.linkerd.fixes.is_empty() {
        table_mut(&mut doc, "linkerd").insert(
            "fixes".into(),
            strings(
                &base
                    .linkerd
                    .fixes
                    .iter()
                    .map(|f| f.name().to_string())
                    .collect::<Vec<_>>(),
            ),
        );
    }
    if !base.breakages.is_empty() {
        table_mut(&mut doc, "testing").insert(
            "breakages".into(),
            strings(
                &base
                    .breakages
                    .iter()
                    .map(|b| b.name().to_string())
                    .collect::<Vec<_>>(),
            ),
        );
    }
    if !faults.is_empty() {
        let list = doc
            .entry("fault")
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(list) = list {
            list.extend(faults.iter().map(|f| Value::Table(fault_table(f))));
        }
    }
    // Manifest paths are relative to the base scenario's directory, not to where the case
    // file is written: make them absolute.
    if let Some(Value::Array(list)) = doc.get_mut("manifest") {
        for (item, m) in list.iter_mut().zip(&base.manifests) {
            if let Value::Table(t) = item {
                let path = std::fs::canonicalize(&m.path).unwrap_or_else(|_| m.path.clone());
                t.insert("path".into(), Value::String(path.display().to_string()));
            }
        }
    }
    doc.remove("expect");
    Ok(doc)
}

/// Sets `[sim] exploration` and `[sim] decisions` (removing them for FIFO).
pub fn set_exploration(doc: &mut Table, mode: Exploration, decisions: Option<&Tape>) {
    let sim = table_mut(doc, "sim");
    match mode {
        Exploration::Fifo => {
            sim.remove("exploration");
        }
        Exploration::Random => {
            sim.insert("exploration".into(), Value::String("random".into()));
        }
        Exploration::Pct => {
            sim.insert("exploration".into(), Value::String("pct".into()));
        }
    }
    match decisions {
        Some(t) if mode != Exploration::Fifo => {
            sim.insert(
                "decisions".into(),
                Value::Array(
                    t.entries
                        .iter()
                        .filter(|(_, v)| *v != 0)
                        .map(|(i, v)| Value::String(format!("{i}:{v:x}")))
                        .collect(),
                ),
            );
        }
        _ => {
            sim.remove("decisions");
        }
    }
}

/// Renders the document, `[sim]` first, under a comment header.
pub fn render(doc: &Table, header: &str) -> Result<String, String> {
    let mut out = String::new();
    for line in header.lines() {
        out.push_str("# ");
        out.push_str(line);
        out.push('\n');
    }
    out.push('\n');
    let mut rest = doc.clone();
    if let Some(sim) = rest.remove("sim") {
        let mut first = Table::new();
        first.insert("sim".into(), sim);
        out.push_str(&toml::to_string(&first).map_err(|e| e.to_string())?);
        out.push('\n');
    }
    out.push_str(&toml::to_string(&rest).map_err(|e| e.to_string())?);
    Ok(out)
}

/// A fault in the scenario format's own notation.
pub fn fault_table(f: &FaultSpec) -> Table {
    let mut t = Table::new();
    t.insert("at".into(), dur(f.at));
    if let Some(d) = f.duration {
        t.insert("for".into(), dur(d));
    }
    let key = f.kind.key().to_string();
    let value = match &f.kind {
        FaultKind::Partition {
            groups,
            one_way,
            mode,
        } => {
            if *one_way {
                t.insert("one_way".into(), Value::Boolean(true));
            }
            let mode = match mode {
                PartitionMode::Drop => "drop",
                PartitionMode::Reject => "reject",
            };
            t.insert("mode".into(), Value::String(mode.into()));
            Value::Array(groups.iter().map(|g| strings(g)).collect())
        }
        FaultKind::ClusterDown(c)
        | FaultKind::ApiServerDown(c)
        | FaultKind::GatewayDown(c)
        | FaultKind::DnsFailure(c)
        | FaultKind::Compact(c)
        | FaultKind::CertExpiry(c)
        | FaultKind::RotateCerts(c) => Value::String(c.clone()),
        FaultKind::ControllerCrash { cluster, link } => table(&[
            ("cluster", cluster.as_str().into()),
            ("link", link.as_str().into()),
        ]),
        FaultKind::PodKill {
            cluster,
            namespace,
            pod,
        } => table(&[
            ("cluster", cluster.as_str().into()),
            ("namespace", namespace.as_str().into()),
            ("pod", pod.as_str().into()),
        ]),
        FaultKind::ClockSkew { cluster, by_ns } => {
            let d = SimDuration(by_ns.unsigned_abs());
            let by = if *by_ns < 0 {
                format!("-{d}")
            } else {
                d.to_string()
            };
            table(&[("cluster", cluster.as_str().into()), ("by", by.into())])
        }
        FaultKind::TrustAnchor { cluster, anchor } => table(&[
            ("cluster", cluster.as_str().into()),
            ("anchor", anchor.as_str().into()),
        ]),
        FaultKind::SlowPath { a, b, latency } => table(&[
            ("between", strings(&[a.clone(), b.clone()])),
            ("latency", dur(*latency)),
        ]),
        FaultKind::LossyPath {
            a,
            b,
            loss,
            duplicate,
            reorder,
        } => table(&[
            ("between", strings(&[a.clone(), b.clone()])),
            ("loss", ratio(*loss)),
            ("duplicate", ratio(*duplicate)),
            ("reorder", ratio(*reorder)),
        ]),
    };
    t.insert(key, value);
    t
}

fn table_mut<'a>(doc: &'a mut Table, key: &str) -> &'a mut Table {
    let entry = doc
        .entry(key.to_string())
        .or_insert_with(|| Value::Table(Table::new()));
    if !entry.is_table() {
        *entry = Value::Table(Table::new());
    }
    match entry {
        Value::Table(t) => t,
        _ => unreachable!("replaced by a table above"),
    }
}

fn table(pairs: &[(&str, Value)]) -> Value {
    Value::Table(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    )
}

fn strings(items: &[String]) -> Value {
    Value::Array(items.iter().map(|s| Value::String(s.clone())).collect())
}

fn dur(d: SimDuration) -> Value {
    Value::String(d.to_string())
}

fn ratio(r: Ratio) -> Value {
    Value::String(format!("{}/{}", r.num, r.den.max(1)))
}

fn int(v: u64) -> Value {
    // TOML integers are signed 64-bit: a larger seed is clamped (seeds come from
    // `--start`/`--seeds`, far below i64::MAX).
    Value::Integer(i64::try_from(v).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::load_str;

    const BASE: &str = r#"
[sim]
name = "t"
duration = "3m"
[[cluster]]
name = "west"
[[cluster]]
name = "east"
[[path]]
between = ["west", "east"]
latency = "10ms"
[[link]]
from = "west"
to = "east"
[[service]]
cluster = "east"
name = "web"
ports = [{ name = "http", port = 80 }]
exported = true
[expect]
verdict = "pass"
"#;

    #[test]
    fn every_fault_kind_round_trips_through_the_scenario_format() {
        let base = load_str("t.toml", BASE).unwrap();
        let kinds = vec![
            FaultKind::Partition {
                groups: vec![vec!["west".into()], vec!["east".into()]],
                one_way: true,
                mode: PartitionMode::Reject,
            },
            FaultKind::ApiServerDown("east".into()),
            FaultKind::GatewayDown("east".into()),
            FaultKind::ClusterDown("east".into()),
            FaultKind::DnsFailure("west".into()),
            FaultKind::Compact("east".into()),
            FaultKind::ControllerCrash {
                cluster: "west".into(),
                link: "east".into(),
            },
            FaultKind::ClockSkew {
                cluster: "west".into(),
                by_ns: -90_000_000_000,
            },
            FaultKind::SlowPath {
                a: "west".into(),
                b: "east".into(),
                latency: SimDuration::from_millis(1234),
            },
            FaultKind::LossyPath {
                a: "west".into(),
                b: "east".into(),
                loss: Ratio::new(1, 1000),
                duplicate: Ratio::ZERO,
                reorder: Ratio::new(1, 100),
            },
        ];
        let faults: Vec<FaultSpec> = kinds
            .into_iter()
            .enumerate()
            .map(|(i, kind)| FaultSpec {
                at: SimDuration(10_000_000_000 + i as u64 * 1_234_567_891),
                duration: Some(SimDuration::from_secs(5)),
                kind,
            })
            .collect();
        let tape = Tape {
            entries: vec![(3, 0xdead_beef), (17, u64::MAX)],
        };
        let doc = document(&base, BASE, 77, Exploration::Pct, &faults, Some(&tape)).unwrap();
        let text = render(&doc, "a case").unwrap();
        assert!(text.starts_with("# a case\n\n[sim]"), "{text}");
        let again = load_str("case.toml", &text).unwrap();
        assert_eq!(again.seed, 77);
        assert_eq!(again.exploration, Exploration::Pct);
        assert_eq!(again.decisions, Some(tape));
        assert_eq!(again.faults, faults);
        assert!(again.expect.is_none(), "the base's expectation is dropped");
    }
}
