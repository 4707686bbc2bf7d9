//! The run as a Chrome / Perfetto trace (the JSON "trace event format"), to look at as a
//! picture in ui.perfetto.dev or chrome://tracing:
//! - a `scenario` process on top (sort index) with a `faults` track (each fault a complete
//!   span from its start to its heal, or to the end of the run) and an `actions` track;
//! - one process per cluster (`cluster <name>`), with one thread track per component that
//!   delivered events (named without the cluster prefix), every delivered event an instant;
//! - in-flight requests (from send to answer or failure) and the service mirrors' cluster
//!   watchers (from start to stop) as async slices in their cluster's process;
//! - counters per link (mirror services and those ready, the watcher's queue depth,
//!   `gateway_alive`) and per cluster pair (request success ratio per sample step).
//!
//! Components without a cluster (`/` in the name) go in the `scenario` process. Nothing here
//! is read from the wall clock: the same run gives the same bytes.

use super::Report;
use super::timeline::Timeline;
use crate::sim::trace::TraceRecord;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// Microseconds, as the format wants, from virtual nanoseconds.
fn us(ns: u64) -> f64 {
    ns as f64 / 1_000.0
}

/// `trace`: the delivered events (`--trace`), `component_names`: the kernel's, by component id;
/// `timeline`: the run sampled over time, with request and watcher spans.
pub fn render(
    report: &Report,
    trace: &[TraceRecord],
    component_names: &[String],
    timeline: Option<&Timeline>,
) -> String {
    let mut events: Vec<Value> = Vec::new();
    let scenario_pid = 1;
    let mut clusters: BTreeMap<String, usize> = BTreeMap::new();
    // Processes in cluster order of first appearance in the component list (the build order,
    // which follows the scenario's clusters).
    let cluster_of = |name: &str| -> Option<String> { name.split_once('/').map(|(c, _)| c.into()) };
    for name in component_names {
        if let Some(c) = cluster_of(name) {
            let next = clusters.len() + 2;
            clusters.entry(c).or_insert(next);
        }
    }
    if let Some(t) = timeline {
        for c in t
            .links
            .iter()
            .map(|l| &l.cluster)
            .chain(t.flows.iter().map(|f| &f.from))
        {
            let next = clusters.len() + 2;
            clusters.entry(c.clone()).or_insert(next);
        }
    }
    let meta = |name: &str, pid: usize, tid: usize, args: Value| json!({ "ph": "M", "name": name, "pid": pid, "tid": tid, "args": args });
    events.push(meta(
        "process_name",
        scenario_pid,
        0,
        json!({ "name": format!("scenario {}", report.scenario) }),
    ));
    events.push(meta(
        "process_sort_index",
        scenario_pid,
        0,
        json!({ "sort_index": -1 }),
    ));
    let mut by_index: Vec<(&String, &usize)> = clusters.iter().collect();
    by_index.sort_by_key(|(_, pid)| **pid);
    for (name, pid) in &by_index {
        events.push(meta(
            "process_name",
            **pid,
            0,
            json!({ "name": format!("cluster {name}") }),
        ));
        events.push(meta(
            "process_sort_index",
            **pid,
            0,
            json!({ "sort_index": **pid }),
        ));
    }
    let pid_of_cluster = |c: &str| clusters.get(c).copied().unwrap_or(scenario_pid);
    // Tracks of the scenario process: faults and actions first.
    let faults_tid = 1;
    let actions_tid = 2;
    let first_component_tid = 3;
    events.push(meta(
        "thread_name",
        scenario_pid,
        faults_tid,
        json!({ "name": "faults" }),
    ));
    events.push(meta(
        "thread_sort_index",
        scenario_pid,
        faults_tid,
        json!({ "sort_index": 0 }),
    ));
    let end = report
        .reached_ns
        .max(report.faults.iter().map(|f| f.at_ns).max().unwrap_or(0));
    for f in &report.faults {
        let until = f.healed_ns.unwrap_or(end);
        events.push(json!({
            "ph": "X",
            "cat": "fault",
            "name": f.description,
            "ts": us(f.at_ns),
            "dur": us(until.saturating_sub(f.at_ns)),
            "pid": scenario_pid,
            "tid": faults_tid,
            "args": { "kind": f.kind, "index": f.index, "healed": f.healed_ns.is_some() },
        }));
    }
    if let Some(t) = timeline
        && !t.actions.is_empty()
    {
        events.push(meta(
            "thread_name",
            scenario_pid,
            actions_tid,
            json!({ "name": "actions" }),
        ));
        events.push(meta(
            "thread_sort_index",
            scenario_pid,
            actions_tid,
            json!({ "sort_index": 1 }),
        ));
        for (at, what) in &t.actions {
            events.push(json!({
                "ph": "i", "s": "t", "cat": "action", "name": what, "ts": us(*at),
                "pid": scenario_pid, "tid": actions_tid,
            }));
        }
    }
    // Component tracks: only those with events (no empty tracks).
    let used: BTreeSet<u32> = trace.iter().map(|r| r.component).collect();
    let track = |component: u32| -> (usize, usize) {
        let name = component_names
            .get(component as usize)
            .map(String::as_str)
            .unwrap_or("?");
        let pid = cluster_of(name).map_or(scenario_pid, |c| pid_of_cluster(&c));
        (pid, first_component_tid + component as usize)
    };
    for c in &used {
        let name = component_names
            .get(*c as usize)
            .map(String::as_str)
            .unwrap_or("?");
        let short = name.split_once('/').map_or(name, |(_, n)| n);
        let (pid, tid) = track(*c);
        events.push(meta("thread_name", pid, tid, json!({ "name": short })));
    }
    for r in trace {
        let (pid, tid) = track(r.component);
        events.push(json!({
            "ph": "i",
            "s": "t",
            "name": r.kind,
            "ts": us(r.at),
            "pid": pid,
            "tid": tid,
            "args": { "seq": r.seq, "details": r.details },
        }));
    }
    if let Some(t) = timeline {
        spans(&mut events, t, &pid_of_cluster, end);
        counters(&mut events, t, &pid_of_cluster);
    }
    json!({ "traceEvents": events, "displayTimeUnit": "ms" }).to_string()
}

/// Requests and watchers as async slices (`b`/`e` pairs with one id each).
fn spans(events: &mut Vec<Value>, t: &Timeline, pid_of: &dyn Fn(&str) -> usize, end: u64) {
    let mut id = 0u64;
    for r in &t.requests {
        let Some(flow) = t.flows.get(r.flow) else {
            continue;
        };
        id += 1;
        let pid = pid_of(&flow.from);
        let name = format!("{} → {}", flow.from, flow.authority);
        let (outcome, detail) = match &r.result {
            Ok(pod) => ("ok", pod.as_str()),
            Err(reason) => ("failed", reason.as_str()),
        };
        events.push(json!({
            "ph": "b", "cat": "request", "id": format!("0x{id:x}"), "name": name,
            "ts": us(r.sent_ns), "pid": pid, "tid": 0,
            "args": { "outcome": outcome, "result": detail },
        }));
        events.push(json!({
            "ph": "e", "cat": "request", "id": format!("0x{id:x}"), "name": name,
            "ts": us(r.done_ns.max(r.sent_ns)), "pid": pid, "tid": 0,
        }));
    }
    for w in &t.watchers {
        id += 1;
        let pid = pid_of(&w.cluster);
        let name = format!("watcher {} (incarnation {})", w.link, w.incarnation);
        let stop = w.stop_ns.unwrap_or(end).max(w.start_ns);
        events.push(json!({
            "ph": "b", "cat": "watcher", "id": format!("0x{id:x}"), "name": name,
            "ts": us(w.start_ns), "pid": pid, "tid": 0,
            "args": { "stopped": w.stop_ns.is_some() },
        }));
        events.push(json!({
            "ph": "e", "cat": "watcher", "id": format!("0x{id:x}"), "name": name,
            "ts": us(stop), "pid": pid, "tid": 0,
        }));
    }
}

/// Counter tracks: per link its mirrors, queue depth and gateway liveness; per cluster pair
/// its request success ratio per step.
fn counters(events: &mut Vec<Value>, t: &Timeline, pid_of: &dyn Fn(&str) -> usize) {
    for l in &t.links {
        let pid = pid_of(&l.cluster);
        for (at, s) in t.times_ns.iter().zip(&l.samples) {
            events.push(json!({
                "ph": "C", "name": format!("mirrors {}", l.link), "ts": us(*at), "pid": pid,
                "args": { "ready": s.mirrors_ready, "total": s.mirrors },
            }));
            events.push(json!({
                "ph": "C", "name": format!("queue depth {}", l.link), "ts": us(*at), "pid": pid,
                "args": { "events": s.queue_depth.unwrap_or(0) },
            }));
            events.push(json!({
                "ph": "C", "name": format!("gateway_alive {}", l.link), "ts": us(*at), "pid": pid,
                "args": { "alive": s.probe.as_ref().map_or(0, |p| p.gateway_alive) },
            }));
        }
    }
    for p in &t.pairs {
        let pid = pid_of(&p.from);
        for b in &p.buckets {
            let ratio = if b.sent > 0 {
                b.ok as f64 / b.sent as f64
            } else {
                0.0
            };
            events.push(json!({
                "ph": "C", "name": format!("success {} → {}", p.from, p.to), "ts": us(b.from_ns),
                "pid": pid, "args": { "ratio": (ratio * 1000.0).round() / 1000.0, "sent": b.sent },
            }));
        }
    }
}
