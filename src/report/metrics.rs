//! The run's metrics as OpenMetrics text (`--metrics FILE`), under the names Linkerd exposes
//! them, so that they can be held against a dashboard: the service mirror's per-link probe
//! metrics (spec §8.4: `gateway_enabled`, `gateway_alive`, `gateway_latency`,
//! `gateway_probe_latency_ms`, `gateway_probes{probe_successful}`,
//! `service_mirror_endpoint_repairs`, label `target_cluster_name`) and the client proxies'
//! `request_total`, `response_total{classification}` and `response_latency_ms` (the proxy's
//! buckets, labels `direction="outbound"` and `authority`). Each series has one point per
//! timeline sample, timestamped in virtual seconds since the start of the run (the epoch), the
//! last at the end of the run; per-link series exist only while a probe worker runs, as in
//! Linkerd. The `cluster` label names the cluster whose pod would be scraped (what a
//! multi-cluster Prometheus adds as an external label). Counters follow OpenMetrics: the
//! family drops `_total`, its samples carry it. Traffic is counted by the time a request was
//! sent. mcsim's own gauges are prefixed `mcsim_`.

use super::Report;
use super::timeline::{FlowSeries, PROXY_LATENCY_BUCKETS_MS, Timeline};
use crate::multicluster::probe::LATENCY_BUCKETS_MS;
use std::fmt::Write;

/// A label value, escaped as OpenMetrics wants (`\\`, `\"`, `\n`).
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Virtual nanoseconds as OpenMetrics seconds.
fn ts(ns: u64) -> String {
    if ns.is_multiple_of(1_000_000) {
        format!("{}.{:03}", ns / 1_000_000_000, ns / 1_000_000 % 1_000)
    } else {
        format!("{}.{:09}", ns / 1_000_000_000, ns % 1_000_000_000)
    }
}

fn family(out: &mut String, name: &str, kind: &str, unit: Option<&str>, help: &str) {
    let _ = writeln!(out, "# TYPE {name} {kind}");
    if let Some(u) = unit {
        let _ = writeln!(out, "# UNIT {name} {u}");
    }
    let _ = writeln!(out, "# HELP {name} {help}");
}

/// A float sample value: integers without a fraction.
fn num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v:.3}")
    }
}

pub fn render(report: &Report, timeline: Option<&Timeline>) -> String {
    let mut out = String::new();
    let Some(t) = timeline else {
        out.push_str("# EOF\n");
        return out;
    };
    gateway_metrics(&mut out, t);
    proxy_metrics(&mut out, t, report.reached_ns);
    out.push_str("# EOF\n");
    out
}

fn gateway_metrics(out: &mut String, t: &Timeline) {
    let labels = |l: &super::timeline::LinkSeries| {
        format!(
            "cluster=\"{}\",target_cluster_name=\"{}\"",
            label(&l.cluster),
            label(&l.link)
        )
    };
    type Gauge = fn(&super::timeline::ProbeSample) -> Option<f64>;
    let gauges: [(&str, &str, Gauge); 3] = [
        (
            "gateway_enabled",
            "1 when the link has a probe worker.",
            |p| Some(p.gateway_enabled as f64),
        ),
        (
            "gateway_alive",
            "Whether the remote gateway answered the probe (0 until the first success).",
            |p| Some(p.gateway_alive as f64),
        ),
        (
            "gateway_latency",
            "Latency of the last successful probe, in milliseconds.",
            |p| p.gateway_latency_ms.map(|v| v as f64),
        ),
    ];
    for (name, help, value) in gauges {
        family(out, name, "gauge", None, help);
        for l in &t.links {
            for (at, s) in t.times_ns.iter().zip(&l.samples) {
                if let Some(v) = s.probe.as_ref().and_then(value) {
                    let _ = writeln!(out, "{name}{{{}}} {} {}", labels(l), num(v), ts(*at));
                }
            }
        }
    }
    family(
        out,
        "gateway_probe_latency_ms",
        "histogram",
        None,
        "Latency of successful gateway probes, in milliseconds.",
    );
    for l in &t.links {
        for (at, s) in t.times_ns.iter().zip(&l.samples) {
            let Some(p) = &s.probe else { continue };
            for (le, count) in LATENCY_BUCKETS_MS.iter().zip(&p.latency_buckets) {
                let _ = writeln!(
                    out,
                    "gateway_probe_latency_ms_bucket{{{},le=\"{le}.0\"}} {count} {}",
                    labels(l),
                    ts(*at)
                );
            }
            let _ = writeln!(
                out,
                "gateway_probe_latency_ms_bucket{{{},le=\"+Inf\"}} {} {}\ngateway_probe_latency_ms_count{{{}}} {} {}\ngateway_probe_latency_ms_sum{{{}}} {} {}",
                labels(l),
                p.latency_count,
                ts(*at),
                labels(l),
                p.latency_count,
                ts(*at),
                labels(l),
                p.latency_sum_ms,
                ts(*at)
            );
        }
    }
    family(
        out,
        "gateway_probes",
        "counter",
        None,
        "Gateway probes, by whether they succeeded.",
    );
    for l in &t.links {
        for outcome in ["true", "false"] {
            for (at, s) in t.times_ns.iter().zip(&l.samples) {
                let Some(p) = &s.probe else { continue };
                let v = if outcome == "true" {
                    p.probes_successful
                } else {
                    p.probes_failed
                };
                let _ = writeln!(
                    out,
                    "gateway_probes_total{{{},probe_successful=\"{outcome}\"}} {v} {}",
                    labels(l),
                    ts(*at)
                );
            }
        }
    }
    family(
        out,
        "service_mirror_endpoint_repairs",
        "counter",
        None,
        "Endpoint repairs the service mirror ran.",
    );
    for l in &t.links {
        for (at, s) in t.times_ns.iter().zip(&l.samples) {
            if s.probe.is_some() {
                let _ = writeln!(
                    out,
                    "service_mirror_endpoint_repairs_total{{{}}} {} {}",
                    labels(l),
                    s.endpoint_repairs,
                    ts(*at)
                );
            }
        }
    }
    type Own = fn(&super::timeline::LinkSample) -> Option<f64>;
    let own: [(&str, &str, Own); 3] = [
        (
            "mcsim_mirror_services",
            "mcsim: mirror Services of the link in its source cluster (linkerd multicluster gateways NUM_SVC).",
            |s| Some(s.mirrors as f64),
        ),
        (
            "mcsim_mirror_services_ready",
            "mcsim: mirror Services of the link with a ready endpoint.",
            |s| Some(s.mirrors_ready as f64),
        ),
        (
            "mcsim_service_mirror_queue_depth",
            "mcsim: events ready in the link watcher's work queue (absent while it is not running).",
            |s| s.queue_depth.map(|d| d as f64),
        ),
    ];
    for (name, help, value) in own {
        family(out, name, "gauge", None, help);
        for l in &t.links {
            for (at, s) in t.times_ns.iter().zip(&l.samples) {
                if let Some(v) = value(s) {
                    let _ = writeln!(out, "{name}{{{}}} {} {}", labels(l), num(v), ts(*at));
                }
            }
        }
    }
}

/// Cumulative points of one flow: (timestamp, the flow's buckets folded up to it).
fn cumulative(f: &FlowSeries, reached: u64, step: u64) -> Vec<(u64, Totals)> {
    let mut acc = Totals {
        sent: 0,
        ok: 0,
        le: vec![0; PROXY_LATENCY_BUCKETS_MS.len()],
        sum_ms: 0.0,
    };
    let mut points = vec![(0, acc.clone())];
    for b in &f.buckets {
        acc.sent += b.sent;
        acc.ok += b.ok;
        for (a, v) in acc.le.iter_mut().zip(&b.latency_le) {
            *a += v;
        }
        acc.sum_ms += b.latency_sum_ms;
        points.push(((b.from_ns + step).min(reached), acc.clone()));
    }
    points.dedup_by(|b, a| a.0 == b.0);
    points
}

#[derive(Clone)]
struct Totals {
    sent: u64,
    ok: u64,
    le: Vec<u64>,
    sum_ms: f64,
}

fn proxy_metrics(out: &mut String, t: &Timeline, reached: u64) {
    let series: Vec<(String, Vec<(u64, Totals)>)> = t
        .flows
        .iter()
        .map(|f| {
            (
                format!(
                    "cluster=\"{}\",direction=\"outbound\",authority=\"{}\"",
                    label(&f.from),
                    label(&f.authority)
                ),
                cumulative(f, reached, t.step_ns),
            )
        })
        .collect();
    family(
        out,
        "request",
        "counter",
        None,
        "Requests the client's proxy sent (request_total).",
    );
    for (labels, points) in &series {
        for (at, v) in points {
            let _ = writeln!(out, "request_total{{{labels}}} {} {}", v.sent, ts(*at));
        }
    }
    family(
        out,
        "response",
        "counter",
        None,
        "Responses by classification (response_total); failures include requests that got no response.",
    );
    for (labels, points) in &series {
        for class in ["success", "failure"] {
            for (at, v) in points {
                let n = if class == "success" {
                    v.ok
                } else {
                    v.sent - v.ok
                };
                let _ = writeln!(
                    out,
                    "response_total{{{labels},classification=\"{class}\"}} {n} {}",
                    ts(*at)
                );
            }
        }
    }
    family(
        out,
        "response_latency_ms",
        "histogram",
        None,
        "Latency of successful responses, in milliseconds.",
    );
    for (labels, points) in &series {
        for (at, v) in points {
            for (le, count) in PROXY_LATENCY_BUCKETS_MS.iter().zip(&v.le) {
                let _ = writeln!(
                    out,
                    "response_latency_ms_bucket{{{labels},le=\"{le}.0\"}} {count} {}",
                    ts(*at)
                );
            }
            let _ = writeln!(
                out,
                "response_latency_ms_bucket{{{labels},le=\"+Inf\"}} {} {}\nresponse_latency_ms_count{{{labels}}} {} {}\nresponse_latency_ms_sum{{{labels}}} {} {}",
                v.ok,
                ts(*at),
                v.ok,
                ts(*at),
                num(v.sum_ms),
                ts(*at)
            );
        }
    }
}
