//! The human-readable report. [`render`] gives the fixed layout (files, pipes, CI logs: the
//! same bytes for the same run); [`render_for_width`] fits a terminal: the name columns shrink
//! to their longest entry, a traffic destination too long for the row is shortened with `…`,
//! and a line still wider than the terminal wraps with a hanging indent.

use super::Report;
use crate::sim::SimTime;
use std::fmt::Write;

/// Widths of the name columns; names longer than theirs are shortened only on a terminal.
struct Layout {
    /// Fault descriptions.
    description: usize,
    /// Mirrored services (convergence).
    service: usize,
    /// Traffic destinations.
    to: usize,
    /// Service mirrors (gateways).
    mirror: usize,
    /// Shorten longer names (with `…`) to their column.
    shorten: bool,
}

/// The fixed layout (files, pipes, CI logs).
const FIXED: Layout = Layout {
    description: 50,
    service: 40,
    to: 48,
    mirror: 24,
    shorten: false,
};

/// The columns of the traffic table besides `to` (and the failures that end a row).
const TRAFFIC_FIXED_COLUMNS: usize = 2 + 9 + 1 + 13 + 8 + 8 + 9 + 9 + 2;

pub fn render(report: &Report) -> String {
    render_tables(report, &FIXED)
}

/// The report for a terminal `width` columns wide.
pub fn render_for_width(report: &Report, width: usize) -> String {
    let longest = |names: &mut dyn Iterator<Item = &str>, most: usize| {
        names
            .map(|n| n.chars().count())
            .max()
            .unwrap_or(0)
            .clamp(8, most)
    };
    let layout = Layout {
        description: longest(
            &mut report.faults.iter().map(|f| f.description.as_str()),
            50,
        ),
        service: longest(
            &mut report.convergence.iter().map(|c| c.service.as_str()),
            40,
        ),
        to: longest(&mut report.traffic.iter().map(|t| t.to.as_str()), 48)
            .min(width.saturating_sub(TRAFFIC_FIXED_COLUMNS).max(16)),
        mirror: longest(&mut report.gateways.iter().map(|g| g.mirror.as_str()), 24),
        shorten: true,
    };
    wrap(&render_tables(report, &layout), width)
}

/// `name` in at most `width` characters when `shorten`: its head, `…` and its last 4
/// characters (a port, a suffix).
fn fit(name: &str, width: usize, shorten: bool) -> String {
    let n = name.chars().count();
    if !shorten || n <= width || width < 8 {
        return name.to_string();
    }
    let tail: String = name.chars().skip(n - 4).collect();
    let head: String = name.chars().take(width - 5).collect();
    format!("{head}…{tail}")
}

/// Wraps every line longer than `width` at spaces, continuation lines indented under the
/// line's first word after its own indentation (a table's second column), or by 4.
pub fn wrap(text: &str, width: usize) -> String {
    let width = width.max(40);
    let mut out = String::new();
    for line in text.lines() {
        if line.chars().count() <= width {
            out.push_str(line);
            out.push('\n');
            continue;
        }
        let lead = line.len() - line.trim_start().len();
        let hang = line[lead..]
            .find(' ')
            .map(|i| {
                let rest = &line[lead + i..];
                lead + i + (rest.len() - rest.trim_start().len())
            })
            .filter(|h| *h < width / 2)
            .unwrap_or(4);
        let mut current = String::new();
        let mut current_len = 0;
        for word in line.split_inclusive(' ') {
            let n = word.chars().count();
            if current_len + n > width && current_len > hang {
                out.push_str(current.trim_end());
                out.push('\n');
                current = " ".repeat(hang);
                current_len = hang;
                if word.trim().is_empty() {
                    continue;
                }
            }
            current.push_str(word);
            current_len += n;
        }
        out.push_str(current.trim_end());
        out.push('\n');
    }
    out
}

fn render_tables(report: &Report, layout: &Layout) -> String {
    let mut out = String::new();
    header(&mut out, report);
    faults(&mut out, report, layout);
    convergence(&mut out, report, layout);
    traffic(&mut out, report, layout);
    traffic_per_fault(&mut out, report);
    gateways(&mut out, report, layout);
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
fn faults(out: &mut String, report: &Report, layout: &Layout) {
    if !report.faults.is_empty() {
        let _ = writeln!(out, "\nfaults");
        for f in &report.faults {
            let healed = match f.healed_ns {
                Some(t) => format!("healed {}", SimTime(t)),
                None => "not healed".into(),
            };
            let _ = writeln!(
                out,
                "  #{:<2} {:>10}  {:<w$} {}",
                f.index,
                SimTime(f.at_ns).to_string(),
                fit(&f.description, layout.description, layout.shorten),
                healed,
                w = layout.description
            );
        }
    }
}

/// Per mirrored service, when it converged.
fn convergence(out: &mut String, report: &Report, layout: &Layout) {
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
            let _ = writeln!(
                out,
                "  {:<12} {:<w$} {}",
                c.link,
                fit(&c.service, layout.service, layout.shorten),
                when,
                w = layout.service
            );
        }
    }
}

/// Per flow and phase: requests, success, latency, failures.
fn traffic(out: &mut String, report: &Report, layout: &Layout) {
    let to_width = layout.to;
    if !report.traffic.is_empty() {
        let _ = writeln!(out, "\ntraffic");
        let _ = writeln!(
            out,
            "  {:<8} {:<to_width$} {:<12} {:>7} {:>7} {:>8} {:>8}  failures",
            "from", "to", "phase", "sent", "ok", "p50 ms", "p99 ms"
        );
        for t in &report.traffic {
            let ms = |v: Option<f64>| v.map(|x| format!("{x:.1}")).unwrap_or_else(|| "-".into());
            let failures: Vec<String> = t.failed.iter().map(|(r, n)| format!("{r}={n}")).collect();
            let _ = writeln!(
                out,
                "  {:<8} {:<to_width$} {:<12} {:>7} {:>7} {:>8} {:>8}  {}",
                t.from,
                fit(&t.to, to_width, layout.shorten),
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
                let _ = writeln!(
                    out,
                    "  {:<8} {:<to_width$} served by {}",
                    "",
                    "",
                    by.join(" ")
                );
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
fn gateways(out: &mut String, report: &Report, layout: &Layout) {
    let w = layout.mirror;
    if !report.gateways.is_empty() {
        let _ = writeln!(out, "\ngateways (service-mirror probe metrics)");
        let _ = writeln!(
            out,
            "  {:<w$} {:>6} {:>8} {:>9} {:>8} {:>11} {:>8}",
            "mirror", "alive", "watcher", "probes ok", "failed", "latency ms", "repairs"
        );
        for g in &report.gateways {
            let opt = |v: Option<String>| v.unwrap_or_else(|| "-".into());
            let _ = writeln!(
                out,
                "  {:<w$} {:>6} {:>8} {:>9} {:>8} {:>11} {:>8}",
                fit(&g.mirror, w, layout.shorten),
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

#[cfg(test)]
mod tests {
    use super::wrap;

    #[test]
    fn names_are_shortened_only_on_a_terminal() {
        let name = "web-east.default.svc.cluster.local:80";
        assert_eq!(super::fit(name, 20, false), name);
        assert_eq!(super::fit(name, 40, true), name);
        let short = super::fit(name, 20, true);
        assert_eq!(short, "web-east.defaul…l:80");
        assert_eq!(short.chars().count(), 20);
    }

    #[test]
    fn long_lines_wrap_under_their_second_column_and_nothing_is_lost() {
        let line = "  FAIL convergence                  west/east default/web-east has 0 of 3 endpoints ready after the quiet period, expected 3";
        let text = format!("short line\n{line}\n");
        let wrapped = wrap(&text, 60);
        let lines: Vec<&str> = wrapped.lines().collect();
        assert_eq!(lines[0], "short line");
        assert!(lines.len() > 3);
        assert!(lines.iter().all(|l| l.chars().count() <= 60), "{wrapped}");
        // Continuation lines hang under the check's name column.
        assert!(lines[2].starts_with(&" ".repeat(7)) && !lines[2].starts_with(&" ".repeat(8)));
        let words = |s: &str| s.split_whitespace().map(String::from).collect::<Vec<_>>();
        assert_eq!(words(&wrapped), words(&text));
    }
}
