//! The run as a Chrome / Perfetto trace (the JSON "trace event format"), to look at as a
//! timeline in ui.perfetto.dev or chrome://tracing: one process per cluster, one thread track
//! per component (named as in the text trace, e.g. `west/service-mirror-east`), every delivered
//! event as an instant on its component's track, and each fault as a span on a `faults` track.

use super::Report;
use crate::sim::trace::TraceRecord;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// `trace`: the delivered events (`--trace`), `component_names`: the kernel's, by component id.
pub fn render(report: &Report, trace: &[TraceRecord], component_names: &[String]) -> String {
    let mut events: Vec<Value> = Vec::new();
    // Processes: one per cluster (the component name's prefix), plus pid 0 for global tracks.
    let mut pids: BTreeMap<&str, usize> = BTreeMap::new();
    events.push(
        json!({ "ph": "M", "name": "process_name", "pid": 0, "tid": 0, "args": { "name": "run" } }),
    );
    for (tid, name) in component_names.iter().enumerate() {
        let (cluster, _) = name.split_once('/').unwrap_or(("run", name));
        let next = pids.len() + 1;
        let pid = *pids.entry(cluster).or_insert(next);
        if pid == next {
            events.push(json!({ "ph": "M", "name": "process_name", "pid": pid, "tid": 0, "args": { "name": cluster } }));
        }
        events.push(json!({ "ph": "M", "name": "thread_name", "pid": pid, "tid": tid + 1, "args": { "name": name } }));
    }
    let pid_of = |component: usize| -> usize {
        let name = component_names
            .get(component)
            .map(String::as_str)
            .unwrap_or("run");
        let cluster = name.split_once('/').map(|(c, _)| c).unwrap_or("run");
        pids.get(cluster).copied().unwrap_or(0)
    };
    for r in trace {
        events.push(json!({
            "ph": "i",
            "s": "t",
            "name": r.kind,
            "ts": r.at as f64 / 1_000.0,
            "pid": pid_of(r.component as usize),
            "tid": r.component + 1,
            "args": { "seq": r.seq, "details": r.details },
        }));
    }
    let faults_tid = component_names.len() + 1;
    events.push(json!({ "ph": "M", "name": "thread_name", "pid": 0, "tid": faults_tid, "args": { "name": "faults" } }));
    let end = report.end_time_ns;
    for f in &report.faults {
        let until = f.healed_ns.unwrap_or(end);
        events.push(json!({
            "ph": "X",
            "name": f.description,
            "ts": f.at_ns as f64 / 1_000.0,
            "dur": until.saturating_sub(f.at_ns) as f64 / 1_000.0,
            "pid": 0,
            "tid": faults_tid,
            "args": { "kind": f.kind, "index": f.index },
        }));
    }
    json!({ "traceEvents": events, "displayTimeUnit": "ms" }).to_string()
}
