//! The HTML report (`mcsim run --html FILE`) and the fuzz summary page (`mcsim fuzz --html`):
//! one self-contained file (inline CSS, SVG and a few lines of JS; nothing fetched), drawn from
//! the report and its [`Timeline`]. The charts are SVG paths this module computes, so the same
//! run gives the same bytes. The script only measures what the browser drew (each series'
//! rendered length, written back into the DOM) and shows a value under the pointer; the page
//! reads the same without it.

use super::svg::{
    BOTTOM, Bands, LEFT, RIGHT, Series, TOP, WIDTH, chart, n, nice_max, time_label, time_ticks,
};
use super::timeline::{FlowSeries, LinkSeries, Timeline};
use super::{Report, Verdict};
use crate::sim::SimTime;
use std::fmt::Write;

/// Escapes text for HTML element content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = r#"
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;margin:0;background:#f6f7f9;color:#1d2430}
main{max-width:940px;margin:0 auto;padding:16px 20px 48px}
h1{font-size:22px;margin:8px 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #d8dde6;padding-bottom:4px}
h3{font-size:14px;margin:16px 0 4px}
.verdict{display:inline-block;padding:2px 10px;border-radius:4px;font-weight:600;color:#fff}
.v-pass{background:#23863a}.v-safety-failure,.v-liveness-failure{background:#c62828}.v-inconclusive{background:#b26a00}.v-internal-error{background:#6a1b9a}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:10px 0}dl.meta dt{color:#5a6474}dl.meta dd{margin:0}
code{font:12.5px ui-monospace,"DejaVu Sans Mono",monospace;background:#eceff3;padding:1px 4px;border-radius:3px}
table{border-collapse:collapse;width:100%;background:#fff;font-size:13px}
th,td{border-bottom:1px solid #e3e7ee;padding:4px 8px;text-align:left;vertical-align:top}th{background:#eef1f5}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.pass{color:#23863a;font-weight:600}.fail{color:#c62828;font-weight:600}.unjudged{color:#8a93a3}
svg.chart{background:#fff;border:1px solid #e3e7ee;display:block;margin:4px 0 10px}
svg .axis{stroke:#9aa3b2;stroke-width:1}svg .grid{stroke:#eef1f5;stroke-width:1}
svg text{font-size:11px;fill:#5a6474;font-family:inherit}
svg .band{fill:#c62828;fill-opacity:.08}
svg path.series{fill:none;stroke-width:1.8}
svg .s0{stroke:#1f6feb}svg .s1{stroke:#e8590c;stroke-dasharray:7 3}svg .s2{stroke:#2f9e44}svg .s3{stroke:#9c36b5}
svg rect.fault{fill:#c62828;fill-opacity:.55}svg .action{fill:#1f6feb}svg .violation{fill:#c62828}
svg .converged{fill:#2f9e44}
svg a:target circle,svg a:target rect,svg a:target path{stroke:#000;stroke-width:2}
.legend span{margin-right:14px;font-size:12px}.legend i{display:inline-block;width:14px;height:3px;margin-right:4px;vertical-align:middle}
.readout{font-size:12px;color:#5a6474;min-height:1.2em}
.cap{font-size:12px;color:#5a6474;margin-top:8px}
"#;

/// Measures each drawn series (the browser's own geometry) and shows the value under the
/// pointer. Deterministic text: it runs only in the browser.
const SCRIPT: &str = r#"
(function(){
  var drawn=0;
  document.querySelectorAll('svg.chart path.series').forEach(function(p){
    var len=p.getTotalLength();p.setAttribute('data-rendered-length',len.toFixed(1));if(len>0)drawn++;
  });
  document.body.setAttribute('data-series-drawn',String(drawn));
  document.querySelectorAll('svg.chart[data-end-ns]').forEach(function(svg){
    var out=svg.nextElementSibling;if(!out||!out.classList.contains('readout'))return;
    svg.addEventListener('mousemove',function(e){
      var r=svg.getBoundingClientRect(),x=(e.clientX-r.left)*svg.viewBox.baseVal.width/r.width;
      var l=+svg.dataset.left,w=+svg.dataset.plotWidth,end=+svg.dataset.endNs;
      if(x<l||x>l+w){out.textContent='';return;}
      out.textContent='t = '+((x-l)/w*end/1e9).toFixed(1)+' s';
    });
  });
})();
"#;

/// An id fragment from free text: letters, digits and `-`.
fn slug(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}

fn verdict_class(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "v-pass",
        Verdict::SafetyFailure => "v-safety-failure",
        Verdict::LivenessFailure => "v-liveness-failure",
        Verdict::Inconclusive => "v-inconclusive",
        Verdict::InternalError => "v-internal-error",
    }
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n{body}</main>\n<script>{SCRIPT}</script>\n</body>\n</html>\n",
        esc(title)
    )
}

/// The HTML report of one run; `timeline` adds the charts (without it, the tables only).
pub fn render(report: &Report, timeline: Option<&Timeline>) -> String {
    let mut b = String::new();
    let end = report.reached_ns.max(1);
    header(&mut b, report);
    let bands: Vec<(u64, u64)> = report
        .faults
        .iter()
        .map(|f| (f.at_ns, f.healed_ns.unwrap_or(end)))
        .collect();
    timeline_section(&mut b, report, timeline, end);
    if let Some(t) = timeline {
        traffic_section(&mut b, &t.pairs, end, &bands);
        gateway_section(&mut b, &t.links, &t.times_ns, end, &bands);
    }
    convergence_section(&mut b, report);
    checks_section(&mut b, report);
    faults_section(&mut b, report);
    page(
        &format!(
            "mcsim: {} (seed {}) {}",
            report.scenario,
            report.seed,
            report.verdict.headline()
        ),
        &b,
    )
}

fn header(b: &mut String, r: &Report) {
    let _ = writeln!(
        b,
        r#"<header><h1>{} <span class="verdict {}" id="verdict">{}</span></h1>"#,
        esc(&r.scenario),
        verdict_class(r.verdict),
        esc(r.verdict.headline())
    );
    let _ = writeln!(b, r#"<dl class="meta">"#);
    let mut row = |k: &str, v: String| {
        let _ = writeln!(b, "<dt>{}</dt><dd>{v}</dd>", esc(k));
    };
    if !r.source.is_empty() {
        row("scenario file", format!("<code>{}</code>", esc(&r.source)));
    }
    row("seed", format!(r#"<code id="seed">{}</code>"#, r.seed));
    row(
        "trace hash",
        format!(r#"<code id="trace-hash">{}</code>"#, esc(&r.trace_hash)),
    );
    row(
        "events",
        format!(
            "{} ({} at t={}, scenario end {})",
            r.events,
            esc(&r.outcome),
            SimTime(r.reached_ns),
            SimTime(r.end_time_ns)
        ),
    );
    row("exit code", r.exit_code.to_string());
    row(
        "replay",
        format!(r#"<code id="replay">{}</code>"#, esc(&r.replay_command())),
    );
    if let Some(why) = &r.stopped_early {
        row("stopped early", esc(why));
    }
    if let Some(p) = &r.panic {
        row("panic", format!("<code>{}</code>", esc(p)));
    }
    for u in &r.unreached {
        row("not reached", esc(u));
    }
    let _ = writeln!(b, "</dl></header>");
}

/// Faults, heals, actions, convergence and first violations on one time axis; each mark is an
/// anchor the tables link to.
fn timeline_section(b: &mut String, r: &Report, t: Option<&Timeline>, end: u64) {
    let _ = writeln!(b, r#"<section id="timeline"><h2>Timeline</h2>"#);
    let lanes = ["faults", "actions", "converged", "violations"];
    let lane_h = 22.0;
    let height = TOP + lane_h * lanes.len() as f64 + BOTTOM;
    let plot_w = WIDTH - LEFT - RIGHT;
    let x = |t: u64| LEFT + plot_w * (t.min(end) as f64 / end as f64);
    let lane_y = |i: usize| TOP + lane_h * i as f64;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="chart timeline" id="timeline-chart" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" role="img" aria-label="timeline" data-end-ns="{end}" data-left="{LEFT}" data-plot-width="{plot_w}">"#
    );
    for (i, lane) in lanes.iter().enumerate() {
        let _ = write!(
            s,
            r#"<line class="grid" x1="{LEFT}" x2="{}" y1="{y}" y2="{y}"/><text x="{}" y="{}" text-anchor="end">{lane}</text>"#,
            n(LEFT + plot_w),
            n(LEFT - 4.0),
            n(lane_y(i) + lane_h / 2.0 + 4.0),
            y = n(lane_y(i) + lane_h),
        );
    }
    for f in &r.faults {
        let until = f.healed_ns.unwrap_or(end);
        let healed = match f.healed_ns {
            Some(h) => format!("healed {}", SimTime(h)),
            None => "not healed".into(),
        };
        let _ = write!(
            s,
            r##"<a id="fault-{}" href="#faults-table-{}"><rect class="fault" x="{}" y="{}" width="{}" height="{}"><title>fault #{} {} at {}, {}</title></rect></a>"##,
            f.index,
            f.index,
            n(x(f.at_ns)),
            n(lane_y(0) + 4.0),
            n((x(until) - x(f.at_ns)).max(1.5)),
            n(lane_h - 8.0),
            f.index,
            esc(&f.description),
            SimTime(f.at_ns),
            healed
        );
    }
    let diamond = |cx: f64, cy: f64| format!("M{} {}l5 5l-5 5l-5 -5z", n(cx), n(cy - 5.0));
    if let Some(t) = t {
        for (i, (at, what)) in t.actions.iter().enumerate() {
            let _ = write!(
                s,
                r#"<a id="action-{i}"><path class="action" d="{}"><title>{} at {}</title></path></a>"#,
                diamond(x(*at), lane_y(1) + lane_h / 2.0),
                esc(what),
                SimTime(*at)
            );
        }
    }
    for (i, c) in r.convergence.iter().enumerate() {
        if let Some(at) = c.converged_ns {
            let _ = write!(
                s,
                r##"<a id="converged-{i}" href="#convergence-row-{i}"><circle class="converged" cx="{}" cy="{}" r="4"><title>{} {} converged at {}</title></circle></a>"##,
                n(x(at)),
                n(lane_y(2) + lane_h / 2.0),
                esc(&c.link),
                esc(&c.service),
                SimTime(at)
            );
        }
    }
    for (i, c) in r.checks.iter().enumerate() {
        if let Some(v) = &c.first_violation {
            let _ = write!(
                s,
                r##"<a id="violation-{i}" href="#check-{i}"><circle class="violation" cx="{}" cy="{}" r="5"><title>{}: {} at {}</title></circle></a>"##,
                n(x(v.time_ns)),
                n(lane_y(3) + lane_h / 2.0),
                esc(&c.name),
                esc(&v.message),
                SimTime(v.time_ns)
            );
        }
    }
    for tick in time_ticks(end) {
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
            n(x(tick)),
            n(height - 8.0),
            time_label(tick)
        );
    }
    s.push_str("</svg><div class=\"readout\"></div>");
    b.push_str(&s);
    let _ = writeln!(b, "\n</section>");
}

fn traffic_section(b: &mut String, pairs: &[FlowSeries], end: u64, bands: &Bands) {
    if pairs.is_empty() {
        return;
    }
    let _ = writeln!(
        b,
        r#"<section id="traffic"><h2>Traffic per cluster pair</h2><p>Requests by the time they were sent; shaded: faults.</p>"#
    );
    for (i, p) in pairs.iter().enumerate() {
        let mid = |from: u64| from + (end.saturating_sub(from)).min(step_of(p)) / 2;
        let success: Vec<(u64, Option<f64>)> = p
            .buckets
            .iter()
            .map(|k| {
                (
                    mid(k.from_ns),
                    (k.sent > 0).then(|| k.ok as f64 * 100.0 / k.sent as f64),
                )
            })
            .collect();
        let p50: Vec<(u64, Option<f64>)> = p
            .buckets
            .iter()
            .map(|k| (mid(k.from_ns), k.p50_ms))
            .collect();
        let p99: Vec<(u64, Option<f64>)> = p
            .buckets
            .iter()
            .map(|k| (mid(k.from_ns), k.p99_ms))
            .collect();
        let sent: u64 = p.buckets.iter().map(|k| k.sent).sum();
        let ok: u64 = p.buckets.iter().map(|k| k.ok).sum();
        let _ = writeln!(
            b,
            r#"<h3 id="pair-{i}">{} → {} <small>({}; {ok} of {sent} requests succeeded)</small></h3>"#,
            esc(&p.from),
            esc(&p.to),
            esc(&p.authority)
        );
        b.push_str(&chart(
            &format!("success-{}-{}", slug(&p.from), slug(&p.to)),
            &format!("{} → {}: request success (%)", p.from, p.to),
            end,
            100.0,
            "%",
            &[Series {
                name: "success %",
                points: success,
                step: false,
            }],
            bands,
        ));
        let max = p50
            .iter()
            .chain(&p99)
            .filter_map(|(_, v)| *v)
            .fold(0.0_f64, f64::max);
        b.push_str(&chart(
            &format!("latency-{}-{}", slug(&p.from), slug(&p.to)),
            &format!("{} → {}: latency of successes (ms)", p.from, p.to),
            end,
            nice_max(max),
            " ms",
            &[
                Series {
                    name: "p50 ms",
                    points: p50,
                    step: false,
                },
                Series {
                    name: "p99 ms",
                    points: p99,
                    step: false,
                },
            ],
            bands,
        ));
    }
    let _ = writeln!(b, "</section>");
}

/// A bucket's width: the distance between the first two bucket starts.
fn step_of(p: &FlowSeries) -> u64 {
    match p.buckets.as_slice() {
        [a, b, ..] => b.from_ns - a.from_ns,
        _ => 1,
    }
}

fn gateway_section(b: &mut String, links: &[LinkSeries], times: &[u64], end: u64, bands: &Bands) {
    if links.is_empty() {
        return;
    }
    let _ = writeln!(
        b,
        r#"<section id="gateways"><h2>Gateways and mirrors per link</h2><p><code>gateway_alive</code> is the probe worker's metric (0 until the first successful probe); the watcher's flag decides mirror readiness.</p>"#
    );
    for l in links {
        let alive: Vec<(u64, Option<f64>)> = times
            .iter()
            .zip(&l.samples)
            .map(|(t, s)| (*t, s.probe.as_ref().map(|p| p.gateway_alive as f64)))
            .collect();
        let watcher: Vec<(u64, Option<f64>)> = times
            .iter()
            .zip(&l.samples)
            .map(|(t, s)| (*t, s.watcher_alive.map(|a| if a { 1.0 } else { 0.0 })))
            .collect();
        let ready: Vec<(u64, Option<f64>)> = times
            .iter()
            .zip(&l.samples)
            .map(|(t, s)| (*t, Some(s.mirrors_ready as f64)))
            .collect();
        let total: Vec<(u64, Option<f64>)> = times
            .iter()
            .zip(&l.samples)
            .map(|(t, s)| (*t, Some(s.mirrors as f64)))
            .collect();
        let most = l.samples.iter().map(|s| s.mirrors).max().unwrap_or(0);
        let _ = writeln!(
            b,
            r#"<h3>{} → {} <small>(link <code>{}</code>)</small></h3>"#,
            esc(&l.cluster),
            esc(&l.target),
            esc(&l.link)
        );
        b.push_str(&chart(
            &format!("gateway-{}-{}", slug(&l.cluster), slug(&l.link)),
            &format!("{}/{}: gateway alive", l.cluster, l.link),
            end,
            1.0,
            "",
            &[
                Series {
                    name: "gateway_alive",
                    points: alive,
                    step: true,
                },
                Series {
                    name: "watcher alive",
                    points: watcher,
                    step: true,
                },
            ],
            bands,
        ));
        b.push_str(&chart(
            &format!("mirrors-{}-{}", slug(&l.cluster), slug(&l.link)),
            &format!("{}/{}: mirror services (ready)", l.cluster, l.link),
            end,
            (most as f64).max(1.0),
            "",
            &[
                Series {
                    name: "mirrors ready",
                    points: ready,
                    step: true,
                },
                Series {
                    name: "mirrors",
                    points: total,
                    step: true,
                },
            ],
            bands,
        ));
    }
    let _ = writeln!(b, "</section>");
}

fn convergence_section(b: &mut String, r: &Report) {
    if r.convergence.is_empty() {
        return;
    }
    let _ = writeln!(
        b,
        r#"<section id="convergence"><h2>Mirror convergence per exported service</h2><table><thead><tr><th>link</th><th>service</th><th>converged at</th><th>took</th></tr></thead><tbody>"#
    );
    for (i, c) in r.convergence.iter().enumerate() {
        let at = match c.converged_ns {
            Some(at) => format!(r##"<a href="#converged-{i}">{}</a>"##, SimTime(at)),
            None => r#"<span class="fail">not converged</span>"#.into(),
        };
        let took = c
            .took_ns
            .map(|t| crate::sim::SimDuration(t / 1_000_000 * 1_000_000).to_string())
            .unwrap_or_else(|| "-".into());
        let _ = writeln!(
            b,
            r#"<tr id="convergence-row-{i}"><td>{}</td><td>{}</td><td>{at}</td><td>{took}</td></tr>"#,
            esc(&c.link),
            esc(&c.service)
        );
    }
    let _ = writeln!(b, "</tbody></table></section>");
}

fn checks_section(b: &mut String, r: &Report) {
    let _ = writeln!(
        b,
        r#"<section id="checks"><h2>Checks</h2><table id="checks-table"><thead><tr><th>result</th><th>check</th><th>class</th><th>detail</th><th>first violation</th></tr></thead><tbody>"#
    );
    for (i, c) in r.checks.iter().enumerate() {
        let (class, word) = match (c.judged, c.passed) {
            (false, _) => ("unjudged", "not judged"),
            (true, true) => ("pass", "PASS"),
            (true, false) => ("fail", "FAIL"),
        };
        let violation = match &c.first_violation {
            Some(v) => format!(
                r##"<a href="#violation-{i}">t={}</a> (event {}): {}"##,
                SimTime(v.time_ns),
                v.seq,
                esc(&v.message)
            ),
            None => String::new(),
        };
        let class_name = serde_json::to_value(c.class)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default();
        let _ = writeln!(
            b,
            r#"<tr id="check-{i}" class="check"><td class="{class}">{word}</td><td>{}</td><td>{}</td><td>{}</td><td>{violation}</td></tr>"#,
            esc(&c.name),
            esc(&class_name),
            esc(&c.detail)
        );
    }
    let _ = writeln!(b, "</tbody></table></section>");
}

fn faults_section(b: &mut String, r: &Report) {
    if r.faults.is_empty() {
        return;
    }
    let _ = writeln!(
        b,
        r#"<section id="faults"><h2>Faults</h2><table><thead><tr><th>#</th><th>kind</th><th>fault</th><th>at</th><th>healed</th></tr></thead><tbody>"#
    );
    for f in &r.faults {
        let _ = writeln!(
            b,
            r##"<tr id="faults-table-{}"><td><a href="#fault-{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>"##,
            f.index,
            f.index,
            f.index,
            esc(&f.kind),
            esc(&f.description),
            SimTime(f.at_ns),
            f.healed_ns
                .map(|h| SimTime(h).to_string())
                .unwrap_or_else(|| "not healed".into())
        );
    }
    let _ = writeln!(b, "</tbody></table></section>");
}

/// The fuzz summary page: verdict, every failure signature with its seeds, first seed, shrunk
/// case and replay commands.
pub fn render_fuzz(summary: &crate::fuzz::Summary, out: Option<&std::path::Path>) -> String {
    let mut b = String::new();
    let _ = writeln!(
        b,
        r#"<header><h1>fuzz {} <span class="verdict {}" id="verdict">{}</span></h1><dl class="meta">"#,
        esc(&summary.scenario),
        verdict_class(summary.verdict),
        esc(summary.verdict.headline())
    );
    let _ = writeln!(
        b,
        "<dt>seeds</dt><dd>{} from {}</dd><dt>failing</dt><dd>{}</dd><dt>inconclusive</dt><dd>{}</dd><dt>determinism reruns</dt><dd>{}</dd><dt>events</dt><dd>{}</dd><dt>exit code</dt><dd>{}</dd></dl></header>",
        summary.seeds,
        summary.start,
        summary.failures,
        summary.inconclusive,
        summary.determinism_checked,
        summary.events,
        summary.exit_code
    );
    let _ = writeln!(
        b,
        r#"<section id="signatures"><h2>Failure signatures</h2><table id="signatures-table"><thead><tr><th>failing checks</th><th>seeds</th><th>first seed</th><th>replay</th><th>shrunk case</th></tr></thead><tbody>"#
    );
    if summary.signatures.is_empty() {
        let _ = writeln!(
            b,
            r#"<tr><td colspan="5" class="pass">no failing seed</td></tr>"#
        );
    }
    for (i, s) in summary.signatures.iter().enumerate() {
        let replay = match out {
            Some(dir) => format!(
                "<code>mcsim replay {}</code>",
                esc(&dir
                    .join(format!("seed-{}.replay.json", s.first_seed))
                    .display()
                    .to_string())
            ),
            None => "-".into(),
        };
        let shrunk = match &s.shrunk {
            Some(sh) => format!(
                "{} fault(s), {} decision(s), {} service(s), {} flow(s), {} action(s) after {} runs; fails <b>{}</b>: <code>mcsim run {}</code>",
                sh.size.faults,
                sh.size.decisions,
                sh.size.services,
                sh.size.traffic,
                sh.size.actions,
                sh.runs,
                esc(&sh.check),
                esc(&sh.file)
            ),
            None => "-".into(),
        };
        let _ = writeln!(
            b,
            r#"<tr id="signature-{i}" class="signature"><td class="fail">{}</td><td class="num">{}</td><td class="num">{}</td><td>{replay}</td><td>{shrunk}</td></tr>"#,
            esc(&s.failing.join(", ")),
            s.seeds,
            s.first_seed
        );
    }
    let _ = writeln!(b, "</tbody></table></section>");
    if !summary.nondeterministic.is_empty() {
        let seeds: Vec<String> = summary
            .nondeterministic
            .iter()
            .map(u64::to_string)
            .collect();
        let _ = writeln!(
            b,
            r#"<section id="nondeterministic"><h2>Nondeterministic seeds</h2><p class="fail">Two runs gave different trace hashes: seeds {}</p></section>"#,
            seeds.join(", ")
        );
    }
    page(
        &format!(
            "mcsim fuzz: {} {}",
            summary.scenario,
            summary.verdict.headline()
        ),
        &b,
    )
}
