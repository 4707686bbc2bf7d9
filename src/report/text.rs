//! The human-readable report.

use super::Report;
use crate::sim::SimTime;
use std::fmt::Write;

pub fn render(report: &Report) -> String {
    let mut out = String::new();
    header(&mut out, report);
    faults(&mut out, report);
    convergence(&mut out, report);
    traffic(&mut out, report);
    traffic_per_fault(&mut out, report);
    gateways(&mut out, report);
    checks(&mut out, report);
    out
}

/// Scenario, seed, trace hash, how far the run got.
fn header(out: &mut String, report: &Report) {
    let _ = writeln!(out, "scenario   {}", report.scenario);
    let _ = writeln!(out, "seed       {}", report.seed);
    let _ = writeln!(out, "trace hash {}", report.trace_hash);
    let _ = writeln!(
        out,
        "events     {} ({} at t={}, scenario end {})",
        report.events,
        report.outcome,
        SimTime(report.reached_ns),
        SimTime(report.end_time_ns)
    );
    if let Some(why) = &report.stopped_early {
        let _ = writeln!(out, "stopped    {why}");
    }
    if let Some(panic) = &report.panic {
        let _ = writeln!(out, "panic      {panic}");
    }
    for u in &report.unreached {
        let _ = writeln!(out, "unreached  {u}");
    }
}

/// The scripted faults that fired.
fn faults(out: &mut String, report: &Report) {
    if !report.faults.is_empty() {
        let _ = writeln!(out, "\nfaults");
        for f in &report.faults {
            let healed = match f.healed_ns {
                Some(t) => format!("healed {}", SimTime(t)),
                None => "not healed".into(),
            };
            let _ = writeln!(
                out,
                "  #{:<2} {:>10}  {:<50} {}",
                f.index,
                SimTime(f.at_ns).to_string(),
                f.description,
                healed
            );
        }
    }
}

/// Per mirrored service, when it converged.
fn convergence(out: &mut String, report: &Report) {
    if !report.convergence.is_empty() {
        let _ = writeln!(out, "\nconvergence");
        for c in &report.convergence {
            let when = match (c.converged_ns, c.took_ns) {
                (Some(at), Some(took)) => format!(
                    "converged at {} (took {})",
                    SimTime(at),
                    crate::sim::SimDuration(took / 1_000_000 * 1_000_000)
                ),
                (Some(at), None) => format!("converged at {}", SimTime(at)),
                _ => "NOT converged".into(),
            };
            let _ = writeln!(out, "  {:<12} {:<40} {}", c.link, c.service, when);
        }
    }
}

/// Per flow and phase: requests, success, latency, failures.
fn traffic(out: &mut String, report: &Report) {
    if !report.traffic.is_empty() {
        let _ = writeln!(out, "\ntraffic");
        let _ = writeln!(
            out,
            "  {:<8} {:<48} {:<12} {:>7} {:>7} {:>8} {:>8}  failures",
            "from", "to", "phase", "sent", "ok", "p50 ms", "p99 ms"
        );
        for t in &report.traffic {
            let ms = |v: Option<f64>| v.map(|x| format!("{x:.1}")).unwrap_or_else(|| "-".into());
            let failures: Vec<String> = t.failed.iter().map(|(r, n)| format!("{r}={n}")).collect();
            let _ = writeln!(
                out,
                "  {:<8} {:<48} {:<12} {:>7} {:>7} {:>8} {:>8}  {}",
                t.from,
                t.to,
                t.phase,
                t.sent,
                t.ok,
                ms(t.p50_ms),
                ms(t.p99_ms),
                failures.join(" ")
            );
            if t.served_by.len() > 1 {
                let by: Vec<String> = t
                    .served_by
                    .iter()
                    .map(|(c, n)| format!("{c}={n}"))
                    .collect();
                let _ = writeln!(out, "  {:<8} {:<48} served by {}", "", "", by.join(" "));
            }
        }
    }
}

/// Per fault, the success of every pair of clusters around it.
fn traffic_per_fault(out: &mut String, report: &Report) {
    for f in &report.traffic_per_fault {
        if f.pairs.is_empty() {
            continue;
        }
        let until = match f.healed_ns {
            Some(t) => format!("healed {}", SimTime(t)),
            None => "not healed".into(),
        };
        let _ = writeln!(
            out,
            "\ntraffic around fault #{} ({}, from {}, {until})",
            f.fault,
            f.description,
            SimTime(f.at_ns)
        );
        let _ = writeln!(
            out,
            "  {:<26} {:>16} {:>16} {:>16}",
            "  from -> to", "minute before", "during", "after heal"
        );
        for p in &f.pairs {
            let cell = |c: &super::PhaseCount| match c.success_ratio {
                Some(r) => format!("{:.1}% of {}", r * 100.0, c.sent),
                None => "-".into(),
            };
            let _ = writeln!(
                out,
                "  {} {:<24} {:>16} {:>16} {:>16}",
                if p.involved { "*" } else { " " },
                format!("{} -> {}", p.from, p.to),
                cell(&p.before),
                cell(&p.during),
                cell(&p.after)
            );
        }
        let _ = writeln!(out, "  (* = a pair the fault involves)");
    }
}

/// `linkerd multicluster gateways`, per service mirror.
fn gateways(out: &mut String, report: &Report) {
    if !report.gateways.is_empty() {
        let _ = writeln!(out, "\ngateways (service-mirror probe metrics)");
        let _ = writeln!(
            out,
            "  {:<24} {:>6} {:>8} {:>9} {:>8} {:>11} {:>8}",
            "mirror", "alive", "watcher", "probes ok", "failed", "latency ms", "repairs"
        );
        for g in &report.gateways {
            let opt = |v: Option<String>| v.unwrap_or_else(|| "-".into());
            let _ = writeln!(
                out,
                "  {:<24} {:>6} {:>8} {:>9} {:>8} {:>11} {:>8}",
                g.mirror,
                opt(g.gateway_alive.map(|a| a.to_string())),
                opt(g
                    .watcher_alive
                    .map(|a| if a { "alive" } else { "dead" }.to_string())),
                g.probes_successful,
                g.probes_failed,
                opt(g.latency_ms.map(|l| l.to_string())),
                g.endpoint_repairs
            );
        }
    }
}

/// Every check's result, then the verdict and why.
fn checks(out: &mut String, report: &Report) {
    let _ = writeln!(out, "\nchecks");
    for c in &report.checks {
        let _ = writeln!(
            out,
            "  {} {:<28} {}",
            match (c.judged, c.passed) {
                (false, _) => "----",
                (true, true) => "PASS",
                (true, false) => "FAIL",
            },
            c.name,
            c.detail
        );
    }
    let _ = writeln!(out);
    let mut why: Vec<String> = Vec::new();
    if let Some(panic) = &report.panic {
        why.push(format!("mcsim panicked: {panic}"));
    }
    let failed = report.failed_checks();
    if !failed.is_empty() {
        why.push(failed.join(", "));
    }
    if report.verdict == super::Verdict::Inconclusive {
        if report.stopped_early.is_some() {
            why.push("stopped before the scenario's end".into());
        }
        if !report.unreached.is_empty() {
            why.push(format!(
                "{} scheduled fault(s)/action(s) not reached",
                report.unreached.len()
            ));
        }
        let unjudged = report.unjudged_checks();
        if !unjudged.is_empty() {
            why.push(format!("not judged: {}", unjudged.join(", ")));
        }
    }
    let _ = writeln!(
        out,
        "verdict: {}{} (seed {}, trace {}, exit code {})",
        report.verdict.headline(),
        if why.is_empty() {
            String::new()
        } else {
            format!(": {}", why.join("; "))
        },
        report.seed,
        report.trace_hash,
        report.exit_code
    );
    if !report.passed() {
        let _ = writeln!(out, "replay:  {}", report.replay_command());
    }
}
