//! JUnit XML for CI (`--junit FILE`), in the shape of the widely used Jenkins/Ant `junit-10`
//! schema: `testsuites` > `testsuite` (name, tests, failures, errors, skipped, time) >
//! `properties` and `testcase`s (name, classname, time) holding at most a `failure`, `error` or
//! `skipped` (type, message, text). A run is one suite with one test case per check (a failed
//! check is a `failure` with its first violation and the replay command, a check that could not
//! be judged is `skipped`, an mcsim consistency check is an `error`) and one `verdict` case, so
//! that an inconclusive run or an mcsim panic never reads green. A fuzz sweep is one suite with
//! one test case per failure signature and a `sweep` case for the verdict. Times are 0: the
//! wall clock stays out of reports, which are byte-identical across runs.

use super::{Report, Verdict};
use crate::check::CheckClass;
use crate::sim::SimTime;
use std::fmt::Write;

/// Escapes text for XML content and attribute values; characters XML 1.0 cannot carry (most
/// control characters) become `?`.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\t' => out.push_str("&#9;"),
            '\r' => out.push_str("&#13;"),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('?'),
            c => out.push(c),
        }
    }
    out
}

/// What a test case holds besides its name.
enum Outcome {
    Passed,
    Failure {
        kind: String,
        message: String,
        text: String,
    },
    Error {
        kind: String,
        message: String,
        text: String,
    },
    Skipped {
        message: String,
    },
}

impl Outcome {
    /// The outcome of a whole run or sweep: a failed check is a failure, a run that proved
    /// nothing (inconclusive) or an mcsim bug is an error, so it never reads green.
    fn of_verdict(verdict: Verdict, kind: String, message: String, text: String) -> Outcome {
        match verdict {
            Verdict::Pass => Outcome::Passed,
            Verdict::SafetyFailure | Verdict::LivenessFailure => Outcome::Failure {
                kind,
                message,
                text,
            },
            Verdict::Inconclusive | Verdict::InternalError => Outcome::Error {
                kind,
                message,
                text,
            },
        }
    }
}

struct Case {
    name: String,
    classname: String,
    outcome: Outcome,
}

fn suite(out: &mut String, name: &str, file: &str, properties: &[(&str, String)], cases: &[Case]) {
    let count = |f: fn(&Outcome) -> bool| cases.iter().filter(|c| f(&c.outcome)).count();
    let failures = count(|o| matches!(o, Outcome::Failure { .. }));
    let errors = count(|o| matches!(o, Outcome::Error { .. }));
    let skipped = count(|o| matches!(o, Outcome::Skipped { .. }));
    let _ = writeln!(
        out,
        r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="mcsim" tests="{}" failures="{failures}" errors="{errors}" time="0">"#,
        cases.len()
    );
    let _ = write!(
        out,
        r#"  <testsuite name="{}" tests="{}" failures="{failures}" errors="{errors}" skipped="{skipped}" time="0" package="mcsim""#,
        esc(name),
        cases.len()
    );
    if !file.is_empty() {
        let _ = write!(out, r#" file="{}""#, esc(file));
    }
    let _ = writeln!(out, ">");
    let _ = writeln!(out, "    <properties>");
    for (k, v) in properties {
        let _ = writeln!(
            out,
            r#"      <property name="{}" value="{}"/>"#,
            esc(k),
            esc(v)
        );
    }
    let _ = writeln!(out, "    </properties>");
    for c in cases {
        let _ = write!(
            out,
            r#"    <testcase name="{}" classname="{}" time="0""#,
            esc(&c.name),
            esc(&c.classname)
        );
        match &c.outcome {
            Outcome::Passed => {
                let _ = writeln!(out, "/>");
            }
            Outcome::Skipped { message } => {
                let _ = writeln!(
                    out,
                    ">\n      <skipped message=\"{}\"/>\n    </testcase>",
                    esc(message)
                );
            }
            Outcome::Failure {
                kind,
                message,
                text,
            }
            | Outcome::Error {
                kind,
                message,
                text,
            } => {
                let tag = if matches!(c.outcome, Outcome::Failure { .. }) {
                    "failure"
                } else {
                    "error"
                };
                let _ = writeln!(
                    out,
                    ">\n      <{tag} type=\"{}\" message=\"{}\">{}</{tag}>\n    </testcase>",
                    esc(kind),
                    esc(message),
                    esc_text(text)
                );
            }
        }
    }
    let _ = writeln!(out, "  </testsuite>\n</testsuites>");
}

/// Element text: like [`esc`], but newlines stay newlines.
fn esc_text(s: &str) -> String {
    esc(s).replace("&#10;", "\n")
}

fn class_name(class: CheckClass) -> &'static str {
    match class {
        CheckClass::Safety => "safety",
        CheckClass::Liveness => "liveness",
        CheckClass::Coverage => "coverage",
        CheckClass::Internal => "internal",
    }
}

/// The JUnit report of one run.
pub fn render_run(report: &Report) -> String {
    let replay = report.replay_command();
    let classname = |class: &str| format!("mcsim.{}.{class}", report.scenario);
    let mut cases: Vec<Case> = report
        .checks
        .iter()
        .map(|c| {
            let outcome = if !c.judged {
                Outcome::Skipped {
                    message: format!("not judged: {}", c.detail),
                }
            } else if c.passed {
                Outcome::Passed
            } else {
                let (message, at) = match &c.first_violation {
                    Some(v) => (
                        v.message.clone(),
                        format!(
                            "\nfirst violation at t={} (event {}): {}",
                            SimTime(v.time_ns),
                            v.seq,
                            v.message
                        ),
                    ),
                    None => (c.detail.clone(), String::new()),
                };
                let text = format!("{}{at}\nreplay: {replay}", c.detail);
                let kind = class_name(c.class).to_string();
                if c.class == CheckClass::Internal {
                    Outcome::Error {
                        kind,
                        message,
                        text,
                    }
                } else {
                    Outcome::Failure {
                        kind,
                        message,
                        text,
                    }
                }
            };
            Case {
                name: c.name.clone(),
                classname: classname(class_name(c.class)),
                outcome,
            }
        })
        .collect();
    let mut why: Vec<String> = Vec::new();
    if let Some(p) = &report.panic {
        why.push(format!("mcsim panicked: {p}"));
    }
    if let Some(s) = &report.stopped_early {
        why.push(s.clone());
    }
    why.extend(report.unreached.iter().map(|u| format!("not reached: {u}")));
    let failed = report.failed_checks();
    if !failed.is_empty() {
        why.push(format!("failed: {}", failed.join(", ")));
    }
    let text = format!("{}\nreplay: {replay}", why.join("\n"));
    let message = format!(
        "{} (exit code {})",
        report.verdict.headline(),
        report.exit_code
    );
    let kind = serde_json::to_value(report.verdict)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default();
    cases.push(Case {
        name: "verdict".into(),
        classname: classname("verdict"),
        outcome: Outcome::of_verdict(report.verdict, kind, message, text),
    });
    let mut out = String::new();
    suite(
        &mut out,
        &report.scenario,
        &report.source,
        &[
            ("seed", report.seed.to_string()),
            ("trace_hash", report.trace_hash.clone()),
            ("verdict", report.verdict.headline().to_string()),
            ("exit_code", report.exit_code.to_string()),
            ("events", report.events.to_string()),
            ("reached", SimTime(report.reached_ns).to_string()),
            ("replay", replay.clone()),
        ],
        &cases,
    );
    out
}

/// The JUnit report of a fuzz sweep; `out` is where replay files were written.
pub fn render_fuzz(summary: &crate::fuzz::Summary, out: Option<&std::path::Path>) -> String {
    let classname = format!("mcsim.fuzz.{}", summary.scenario);
    let mut cases: Vec<Case> = summary
        .signatures
        .iter()
        .map(|s| {
            let mut text = format!(
                "{} seed(s) failed {}; first seed {}",
                s.seeds,
                s.failing.join(", "),
                s.first_seed
            );
            if let Some(dir) = out {
                let _ = write!(
                    text,
                    "\nreplay: mcsim replay {}",
                    dir.join(format!("seed-{}.replay.json", s.first_seed))
                        .display()
                );
            }
            if let Some(sh) = &s.shrunk {
                let _ = write!(
                    text,
                    "\nshrunk in {} runs to {} fault(s), {} decision(s), {} service(s), {} flow(s), {} action(s), failing {}: mcsim run {}",
                    sh.runs,
                    sh.size.faults,
                    sh.size.decisions,
                    sh.size.services,
                    sh.size.traffic,
                    sh.size.actions,
                    sh.check,
                    sh.file
                );
            }
            Case {
                name: s.failing.join(", "),
                classname: classname.clone(),
                outcome: Outcome::Failure {
                    kind: "signature".into(),
                    message: format!("{} seed(s), first seed {}", s.seeds, s.first_seed),
                    text,
                },
            }
        })
        .collect();
    let mut why: Vec<String> = Vec::new();
    if summary.failures > 0 {
        why.push(format!("{} failing seed(s)", summary.failures));
    }
    if !summary.nondeterministic.is_empty() {
        let seeds: Vec<String> = summary
            .nondeterministic
            .iter()
            .map(u64::to_string)
            .collect();
        why.push(format!(
            "nondeterministic seed(s): {} (two runs gave different trace hashes)",
            seeds.join(", ")
        ));
    }
    if summary.inconclusive > 0 {
        why.push(format!(
            "{} inconclusive seed(s), first {}",
            summary.inconclusive,
            summary
                .first_inconclusive
                .map_or_else(|| "?".into(), |s| s.to_string())
        ));
    }
    let message = format!(
        "{} (exit code {})",
        summary.verdict.headline(),
        summary.exit_code
    );
    let kind = serde_json::to_value(summary.verdict)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default();
    let text = why.join("\n");
    cases.push(Case {
        name: "sweep".into(),
        classname: classname.clone(),
        outcome: Outcome::of_verdict(summary.verdict, kind, message, text),
    });
    let mut xml = String::new();
    suite(
        &mut xml,
        &format!("fuzz {}", summary.scenario),
        &summary.scenario,
        &[
            ("seeds", summary.seeds.to_string()),
            ("start", summary.start.to_string()),
            ("failures", summary.failures.to_string()),
            ("verdict", summary.verdict.headline().to_string()),
            ("exit_code", summary.exit_code.to_string()),
        ],
        &cases,
    );
    xml
}
