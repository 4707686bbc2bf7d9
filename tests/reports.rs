//! The reports for people and for CI (issue #20), from one run of `scenarios/partition.toml`
//! with every report asked for: two runs write byte-identical reports (text, JSON, HTML, JUnit,
//! OpenMetrics, Perfetto); the HTML report is self-contained and charts what happened; the
//! JUnit XML has the structure of the Jenkins/Ant `junit-10` schema; the OpenMetrics text
//! follows the format's rules with Linkerd's metric names; the Perfetto trace is well formed
//! (balanced spans, named processes and threads, counters). The browser test is in
//! `tests/browser.rs`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// What one run wrote.
struct Outputs {
    code: Option<i32>,
    text: String,
    json: String,
    html: String,
    junit: String,
    metrics: String,
    perfetto: String,
}

fn out_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mcsim-reports-{}-{tag}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `scenario` with every report, into `dir`.
fn run_all(scenario: &str, extra: &[&str], dir: &Path) -> Outputs {
    let file = |n: &str| dir.join(n).to_str().unwrap().to_string();
    let mut args: Vec<String> = vec!["run".into(), scenario.into()];
    args.extend(extra.iter().map(|s| s.to_string()));
    for (flag, name) in [
        ("--html", "r.html"),
        ("--junit", "r.xml"),
        ("--metrics", "r.om"),
        ("--trace-perfetto", "r.perfetto.json"),
    ] {
        args.push(flag.into());
        args.push(file(name));
    }
    let text = Command::new(env!("CARGO_BIN_EXE_mcsim"))
        .args(&args)
        .output()
        .unwrap();
    let json = Command::new(env!("CARGO_BIN_EXE_mcsim"))
        .args(["run", scenario, "--format", "json"])
        .args(extra)
        .output()
        .unwrap();
    let read = |n: &str| std::fs::read_to_string(dir.join(n)).unwrap();
    let outputs = Outputs {
        code: text.status.code(),
        text: String::from_utf8(text.stdout).unwrap(),
        json: String::from_utf8(json.stdout).unwrap(),
        html: read("r.html"),
        junit: read("r.xml"),
        metrics: read("r.om"),
        perfetto: read("r.perfetto.json"),
    };
    let _ = std::fs::remove_dir_all(dir);
    outputs
}

fn partition() -> &'static Outputs {
    static RUN: OnceLock<Outputs> = OnceLock::new();
    RUN.get_or_init(|| run_all("scenarios/partition.toml", &[], &out_dir("a")))
}

#[test]
fn two_runs_write_byte_identical_reports() {
    let a = partition();
    let b = run_all("scenarios/partition.toml", &[], &out_dir("b"));
    assert_eq!(a.code, Some(0));
    assert_eq!(a.code, b.code);
    for (what, x, y) in [
        ("text", &a.text, &b.text),
        ("json", &a.json, &b.json),
        ("html", &a.html, &b.html),
        ("junit", &a.junit, &b.junit),
        ("metrics", &a.metrics, &b.metrics),
        ("perfetto", &a.perfetto, &b.perfetto),
    ] {
        assert!(!x.is_empty(), "{what} is empty");
        assert!(x == y, "the {what} reports of two runs differ");
    }
    // No wall time in any of them.
    assert!(!a.text.contains("wall time"));
}

/// Asking for the reports changes neither the verdict nor the trace: they only observe.
#[test]
fn reports_do_not_change_the_run() {
    let a = partition();
    let plain = Command::new(env!("CARGO_BIN_EXE_mcsim"))
        .args(["run", "scenarios/partition.toml"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(plain.stdout).unwrap(), a.text);
}

/// The attribute `name` of the element that starts at `tag`'s first occurrence.
fn count(hay: &str, needle: &str) -> usize {
    hay.matches(needle).count()
}

#[test]
fn the_html_report_is_self_contained_and_charts_what_happened() {
    let html = &partition().html;
    assert!(html.starts_with("<!DOCTYPE html>"));
    // Nothing fetched: no external scripts, styles, images or fonts.
    for forbidden in ["src=\"http", "href=\"http", "url(", "@import", "<link "] {
        assert!(!html.contains(forbidden), "{forbidden} in the HTML report");
    }
    // Seed, trace hash and the replay command.
    let json: serde_json::Value = serde_json::from_str(&partition().json).unwrap();
    let hash = json["trace_hash"].as_str().unwrap();
    assert!(html.contains(&format!("<code id=\"trace-hash\">{hash}</code>")));
    assert!(html.contains("<code id=\"seed\">42</code>"));
    assert!(html.contains("mcsim run scenarios/partition.toml --seed 42"));
    // The partition on the timeline, linked from the faults table.
    assert!(html.contains("<a id=\"fault-0\" href=\"#faults-table-0\"><rect class=\"fault\""));
    // Per cluster pair, success and latency charts; per link, gateway liveness and mirrors.
    for id in [
        "success-west-east",
        "latency-west-east",
        "success-west-north",
        "gateway-west-east",
        "gateway-west-north",
        "mirrors-west-east",
    ] {
        let at = html
            .find(&format!("<svg class=\"chart\" id=\"{id}\""))
            .unwrap_or_else(|| panic!("no chart {id}"));
        let chart = &html[at..at + html[at..].find("</svg>").unwrap()];
        let paths: Vec<&str> = chart.split("<path class=\"series").skip(1).collect();
        assert!(!paths.is_empty(), "{id} has no series");
        for p in paths {
            let points: usize = p
                .split("data-points=\"")
                .nth(1)
                .and_then(|s| s.split('"').next())
                .and_then(|s| s.parse().ok())
                .unwrap();
            assert!(points > 10, "{id}: {points} points");
            assert!(p.contains(" d=\"M"), "{id}: empty path");
        }
    }
    // West → east success drops to 0 during the partition (2m to 3m, about 30 two-second
    // buckets), and west → north's does not: count the points at the bottom of each plot (0%).
    let at_bottom = |id: &str| {
        let at = html.find(&format!("id=\"{id}\"")).unwrap();
        let chart = &html[at..at + html[at..].find("</svg>").unwrap()];
        let d = chart
            .split("class=\"series s0\"")
            .nth(1)
            .unwrap()
            .split(" d=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .to_string();
        let ys: Vec<f64> = d
            .split(|c: char| c.is_ascii_alphabetic())
            .filter_map(|pair| pair.split_whitespace().nth(1))
            .filter_map(|y| y.parse::<f64>().ok())
            .collect();
        // The plot's bottom: 12 px top margin + 112 px of plot.
        ys.iter().filter(|y| **y >= 124.0).count()
    };
    let (east, north) = (
        at_bottom("success-west-east"),
        at_bottom("success-west-north"),
    );
    assert!(
        east >= 25 && north <= 2,
        "points at 0%: east {east}, north {north}"
    );
    // Every check is in the table; convergence rows link to their marks on the timeline.
    assert!(count(html, "<tr id=\"check-") >= 5);
    assert!(html.contains("<a id=\"converged-0\" href=\"#convergence-row-0\">"));
}

/// A failing run's report links each failed check's first violation to its moment.
#[test]
fn a_failed_check_is_linked_to_its_moment() {
    let dir = out_dir("fail");
    let o = run_all("scenarios/quirk-unexport-deletes-foreign.toml", &[], &dir);
    let json: serde_json::Value = serde_json::from_str(&o.json).unwrap();
    let checks = json["checks"].as_array().unwrap();
    let (i, failed) = checks
        .iter()
        .enumerate()
        .find(|(_, c)| c["first_violation"].is_object())
        .expect("a check with a first violation");
    assert!(
        o.html
            .contains(&format!("<a id=\"violation-{i}\" href=\"#check-{i}\">")),
        "no violation mark"
    );
    assert!(o.html.contains(&format!("<a href=\"#violation-{i}\">t=")));
    // JUnit: the check is a failure with its first violation and the replay command.
    let doc = roxmltree::Document::parse(&o.junit).unwrap();
    let case = doc
        .descendants()
        .find(|n| n.has_tag_name("testcase") && n.attribute("name") == failed["name"].as_str())
        .unwrap();
    let failure = case
        .children()
        .find(|n| n.has_tag_name("failure"))
        .expect("a failure element");
    let text = failure.text().unwrap();
    assert!(text.contains("first violation at t="), "{text}");
    assert!(
        text.contains("replay: mcsim run scenarios/quirk-unexport-deletes-foreign.toml --seed")
    );
    assert_eq!(
        failure.attribute("message"),
        failed["first_violation"]["message"].as_str()
    );
}

/// The element children of `n`.
fn elements<'a, 'i>(n: roxmltree::Node<'a, 'i>) -> Vec<roxmltree::Node<'a, 'i>> {
    n.children().filter(|c| c.is_element()).collect()
}

/// The rules of the Jenkins/Ant `junit-10.xsd` (the schema Jenkins' xUnit plugin validates
/// with), checked element by element: there is no well-kept XSD validator in Rust, so each
/// rule of the schema that this output can touch is written out here.
fn assert_junit_10(xml: &str) {
    let doc = roxmltree::Document::parse(xml).expect("well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    let allowed = |n: roxmltree::Node, names: &[&str]| {
        for a in n.attributes() {
            assert!(
                names.contains(&a.name()),
                "attribute {} not allowed on {}",
                a.name(),
                n.tag_name().name()
            );
        }
    };
    // SUREFIRE_TIME: digits with optional thousands commas and an optional fraction.
    let time_ok = |t: &str| {
        let (int, frac) = t.split_once('.').unwrap_or((t, ""));
        !int.is_empty()
            && int.chars().all(|c| c.is_ascii_digit() || c == ',')
            && frac.chars().all(|c| c.is_ascii_digit())
    };
    allowed(root, &["name", "time", "tests", "failures", "errors"]);
    if let Some(t) = root.attribute("time") {
        assert!(time_ok(t));
    }
    for suite in elements(root) {
        assert_eq!(suite.tag_name().name(), "testsuite");
        allowed(
            suite,
            &[
                "name",
                "tests",
                "failures",
                "errors",
                "group",
                "time",
                "skipped",
                "timestamp",
                "hostname",
                "id",
                "package",
                "file",
                "log",
                "url",
            ],
        );
        for required in ["name", "tests", "failures", "errors"] {
            assert!(suite.attribute(required).is_some(), "testsuite@{required}");
        }
        if let Some(t) = suite.attribute("time") {
            assert!(time_ok(t));
        }
        let mut counted: BTreeMap<&str, usize> = BTreeMap::new();
        for child in elements(suite) {
            match child.tag_name().name() {
                "properties" => {
                    for p in elements(child) {
                        assert_eq!(p.tag_name().name(), "property");
                        allowed(p, &["name", "value"]);
                        assert!(p.attribute("name").is_some() && p.attribute("value").is_some());
                    }
                }
                "testcase" => {
                    *counted.entry("tests").or_default() += 1;
                    allowed(child, &["name", "time", "classname", "group"]);
                    assert!(child.attribute("name").is_some(), "testcase@name");
                    for inner in elements(child) {
                        let name = inner.tag_name().name();
                        assert!(
                            ["skipped", "error", "failure", "system-out", "system-err"]
                                .contains(&name),
                            "{name} in a testcase"
                        );
                        if ["skipped", "error", "failure"].contains(&name) {
                            allowed(inner, &["type", "message"]);
                            assert!(elements(inner).is_empty(), "{name} has mixed text only");
                            *counted.entry(name).or_default() += 1;
                        }
                    }
                }
                "system-out" | "system-err" => {}
                other => panic!("{other} in a testsuite"),
            }
        }
        let attr = |k: &str| suite.attribute(k).unwrap().parse::<usize>().unwrap();
        assert_eq!(attr("tests"), counted.get("tests").copied().unwrap_or(0));
        assert_eq!(
            attr("failures"),
            counted.get("failure").copied().unwrap_or(0)
        );
        assert_eq!(attr("errors"), counted.get("error").copied().unwrap_or(0));
        assert_eq!(
            attr("skipped"),
            counted.get("skipped").copied().unwrap_or(0)
        );
    }
}

#[test]
fn junit_has_one_case_per_check_and_the_shape_of_junit_10() {
    let o = partition();
    assert_junit_10(&o.junit);
    let json: serde_json::Value = serde_json::from_str(&o.json).unwrap();
    let doc = roxmltree::Document::parse(&o.junit).unwrap();
    let names: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .filter_map(|n| n.attribute("name"))
        .collect();
    let checks: Vec<&str> = json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names[..names.len() - 1], checks[..]);
    assert_eq!(names.last(), Some(&"verdict"));
    assert!(!o.junit.contains("<failure") && !o.junit.contains("<error"));
    // The rule checker itself rejects what the schema rejects.
    let bad = o.junit.replacen("<testcase name=", "<testcase nom=", 1);
    assert!(std::panic::catch_unwind(|| assert_junit_10(&bad)).is_err());
    let bad = o.junit.replacen(
        "failures=\"0\" errors=\"0\" skipped",
        "failures=\"1\" errors=\"0\" skipped",
        1,
    );
    assert!(std::panic::catch_unwind(|| assert_junit_10(&bad)).is_err());
}

/// An inconclusive run (cut short by `--until`) never reads green in JUnit.
#[test]
fn an_inconclusive_run_is_an_error_in_junit() {
    let dir = out_dir("until");
    let junit = dir.join("u.xml");
    let out = Command::new(env!("CARGO_BIN_EXE_mcsim"))
        .args([
            "run",
            "scenarios/partition.toml",
            "--until",
            "90s",
            "--junit",
        ])
        .arg(&junit)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    let xml = std::fs::read_to_string(&junit).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert_junit_10(&xml);
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let verdict = doc
        .descendants()
        .find(|n| n.has_tag_name("testcase") && n.attribute("name") == Some("verdict"))
        .unwrap();
    let error = verdict
        .children()
        .find(|n| n.has_tag_name("error"))
        .unwrap();
    assert_eq!(error.attribute("type"), Some("inconclusive"));
    assert!(doc.descendants().any(|n| n.has_tag_name("skipped")));
}

/// One parsed OpenMetrics sample line.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
    timestamp: Option<f64>,
}

/// Parses OpenMetrics text by the format's rules, panicking at the first broken one: `# TYPE`
/// before a family's samples, `# HELP`/`# UNIT` only for the current family, families not
/// interleaved or repeated, sample names that belong to their family's type (counters end in
/// `_total`, histograms in `_bucket` with `le`, `_count`, `_sum`), label syntax (quoted values
/// with `\\`, `\"`, `\n` escapes, no duplicate names), numeric values and timestamps, and a
/// final `# EOF`.
fn parse_openmetrics(text: &str) -> BTreeMap<String, (String, Vec<Sample>)> {
    let name_ok = |n: &str| {
        let mut c = n.chars();
        c.next()
            .is_some_and(|f| f.is_ascii_alphabetic() || f == '_' || f == ':')
            && c.all(|x| x.is_ascii_alphanumeric() || x == '_' || x == ':')
    };
    assert!(text.ends_with("# EOF\n"), "no final # EOF");
    let body = &text[..text.len() - "# EOF\n".len()];
    assert!(!body.contains("# EOF"), "# EOF before the end");
    let mut families: BTreeMap<String, (String, Vec<Sample>)> = BTreeMap::new();
    let mut current: Option<String> = None;
    for (i, line) in body.lines().enumerate() {
        let at = || format!("line {}: {line}", i + 1);
        if let Some(rest) = line.strip_prefix("# ") {
            let mut parts = rest.splitn(3, ' ');
            let (kw, name, arg) = (
                parts.next().unwrap(),
                parts.next().unwrap_or(""),
                parts.next().unwrap_or(""),
            );
            assert!(name_ok(name), "{}", at());
            match kw {
                "TYPE" => {
                    assert!(
                        [
                            "counter",
                            "gauge",
                            "histogram",
                            "gaugehistogram",
                            "stateset",
                            "info",
                            "summary",
                            "unknown"
                        ]
                        .contains(&arg),
                        "{}",
                        at()
                    );
                    assert!(!families.contains_key(name), "family repeated: {}", at());
                    families.insert(name.into(), (arg.into(), Vec::new()));
                    current = Some(name.into());
                }
                "HELP" | "UNIT" => assert_eq!(current.as_deref(), Some(name), "{}", at()),
                _ => panic!("unknown descriptor: {}", at()),
            }
            continue;
        }
        assert!(!line.is_empty() && !line.starts_with('#'), "{}", at());
        let family = current.clone().expect("a sample before any # TYPE");
        let (name, rest) = match line.find(['{', ' ']) {
            Some(p) => line.split_at(p),
            None => panic!("{}", at()),
        };
        let mut labels = BTreeMap::new();
        let rest = if let Some(inner) = rest.strip_prefix('{') {
            let mut chars = inner.char_indices().peekable();
            let end;
            loop {
                let start = chars.peek().unwrap().0;
                if inner[start..].starts_with('}') {
                    end = start + 1;
                    break;
                }
                let eq = inner[start..].find('=').unwrap() + start;
                let key = &inner[start..eq];
                assert!(name_ok(key), "label name {key}: {}", at());
                assert!(inner[eq + 1..].starts_with('"'), "{}", at());
                let mut value = String::new();
                let mut j = eq + 2;
                let bytes: Vec<char> = inner[j..].chars().collect();
                let mut k = 0;
                loop {
                    match bytes[k] {
                        '\\' => {
                            value.push(match bytes[k + 1] {
                                'n' => '\n',
                                '"' => '"',
                                '\\' => '\\',
                                other => panic!("bad escape \\{other}: {}", at()),
                            });
                            k += 2;
                        }
                        '"' => break,
                        '\n' => panic!("{}", at()),
                        c => {
                            value.push(c);
                            k += 1;
                        }
                    }
                }
                j += bytes[..=k].iter().map(|c| c.len_utf8()).sum::<usize>();
                assert!(
                    labels.insert(key.to_string(), value).is_none(),
                    "duplicate label: {}",
                    at()
                );
                while chars.peek().is_some_and(|(p, _)| *p < j) {
                    chars.next();
                }
                if inner[j..].starts_with(',') {
                    chars.next();
                }
            }
            &inner[end..]
        } else {
            rest
        };
        let mut fields = rest
            .strip_prefix(' ')
            .expect("a space before the value")
            .split(' ');
        let value: f64 = fields.next().unwrap().parse().expect("a number");
        let timestamp = fields
            .next()
            .map(|t| t.parse::<f64>().expect("a timestamp"));
        assert!(fields.next().is_none(), "{}", at());
        let kind = families[&family].0.clone();
        let suffix = name
            .strip_prefix(family.as_str())
            .unwrap_or_else(|| panic!("{name} outside family {family}"));
        match kind.as_str() {
            "counter" => assert!(["_total", "_created"].contains(&suffix), "{}", at()),
            "gauge" => assert_eq!(suffix, "", "{}", at()),
            "histogram" => {
                assert!(
                    ["_bucket", "_count", "_sum", "_created"].contains(&suffix),
                    "{}",
                    at()
                );
                if suffix == "_bucket" {
                    assert!(labels.contains_key("le"), "{}", at());
                }
            }
            _ => {}
        }
        families.get_mut(&family).unwrap().1.push(Sample {
            name: name.into(),
            labels,
            value,
            timestamp,
        });
    }
    families
}

/// A sample's name and labels.
type SeriesKey = (String, Vec<(String, String)>);

#[test]
fn metrics_are_openmetrics_with_linkerds_names() {
    let families = parse_openmetrics(&partition().metrics);
    for (name, kind) in [
        ("gateway_enabled", "gauge"),
        ("gateway_alive", "gauge"),
        ("gateway_latency", "gauge"),
        ("gateway_probe_latency_ms", "histogram"),
        ("gateway_probes", "counter"),
        ("service_mirror_endpoint_repairs", "counter"),
        ("request", "counter"),
        ("response", "counter"),
        ("response_latency_ms", "histogram"),
    ] {
        let (k, samples) = families.get(name).unwrap_or_else(|| panic!("no {name}"));
        assert_eq!(k, kind, "{name}");
        assert!(!samples.is_empty(), "{name} has no samples");
    }
    // Over time: per series, timestamps increase; histograms are cumulative with +Inf = count.
    let mut series: BTreeMap<SeriesKey, Vec<(f64, f64)>> = BTreeMap::new();
    for (_, samples) in families.values() {
        for s in samples {
            let key = (
                s.name.clone(),
                s.labels
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            );
            series
                .entry(key)
                .or_default()
                .push((s.timestamp.expect("a timestamp"), s.value));
        }
    }
    for ((name, labels), points) in &series {
        assert!(
            points.windows(2).all(|w| w[0].0 < w[1].0),
            "{name}{labels:?}: timestamps do not increase"
        );
        if name.ends_with("_total") {
            assert!(
                points.windows(2).all(|w| w[0].1 <= w[1].1),
                "{name} decreases"
            );
        }
    }
    let alive = &families["gateway_alive"].1;
    let east: Vec<&Sample> = alive
        .iter()
        .filter(|s| s.labels["target_cluster_name"] == "east" && s.labels["cluster"] == "west")
        .collect();
    // The partition (2m to 3m) takes the east gateway down, and it comes back.
    let at = |t: f64| {
        east.iter()
            .rev()
            .find(|s| s.timestamp.unwrap() <= t)
            .unwrap()
            .value
    };
    assert_eq!(at(110.0), 1.0);
    assert!(
        east.iter()
            .any(|s| (120.0..240.0).contains(&s.timestamp.unwrap()) && s.value == 0.0)
    );
    assert_eq!(at(470.0), 1.0);
    let north = alive
        .iter()
        .filter(|s| s.labels["target_cluster_name"] == "north")
        .all(|s| s.value == 1.0 || s.timestamp.unwrap() < 30.0);
    assert!(north, "north's gateway stays alive after start-up");
    // Histogram buckets are cumulative and end in +Inf = _count at each timestamp.
    let latency = &families["response_latency_ms"].1;
    let mut buckets: BTreeMap<(String, String), Vec<(f64, f64)>> = BTreeMap::new();
    let mut counts: BTreeMap<(String, String), f64> = BTreeMap::new();
    for s in latency {
        let key = (
            s.labels["authority"].clone(),
            format!("{}", s.timestamp.unwrap()),
        );
        if s.name.ends_with("_bucket") {
            let le = match s.labels["le"].as_str() {
                "+Inf" => f64::INFINITY,
                v => v.parse().unwrap(),
            };
            buckets.entry(key).or_default().push((le, s.value));
        } else if s.name.ends_with("_count") {
            counts.insert(key, s.value);
        }
    }
    assert!(!buckets.is_empty());
    for (key, b) in &buckets {
        assert!(
            b.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1),
            "{key:?}"
        );
        assert_eq!(b.last().unwrap().0, f64::INFINITY);
        assert_eq!(Some(&b.last().unwrap().1), counts.get(key));
    }
    let requests = &families["request"].1;
    let last_web = requests
        .iter()
        .filter(|s| s.labels["authority"].starts_with("web-east"))
        .map(|s| s.value)
        .fold(0.0, f64::max);
    assert!(last_web > 4000.0, "{last_web}");
    // The parser rejects what the format rejects.
    let m = &partition().metrics;
    for bad in [
        m.replace("# EOF\n", ""),
        m.replacen("gateway_alive{", "gateway_alive{cluster=west,", 1),
        m.replacen("# TYPE gateway_alive gauge\n", "", 1),
        m.replacen("gateway_probes_total{", "gateway_probes{", 1),
    ] {
        assert!(std::panic::catch_unwind(|| parse_openmetrics(&bad)).is_err());
    }
}

#[test]
fn the_perfetto_trace_is_well_formed() {
    let p: serde_json::Value = serde_json::from_str(&partition().perfetto).unwrap();
    let events = p["traceEvents"].as_array().unwrap();
    let mut processes: BTreeMap<u64, String> = BTreeMap::new();
    let mut threads: BTreeMap<(u64, u64), String> = BTreeMap::new();
    for e in events.iter().filter(|e| e["ph"] == "M") {
        let (pid, tid) = (e["pid"].as_u64().unwrap(), e["tid"].as_u64().unwrap());
        let name = e["args"]["name"].as_str().map(String::from);
        match e["name"].as_str().unwrap() {
            "process_name" => assert!(processes.insert(pid, name.unwrap()).is_none()),
            "thread_name" => assert!(threads.insert((pid, tid), name.unwrap()).is_none()),
            "process_sort_index" | "thread_sort_index" => {}
            other => panic!("metadata {other}"),
        }
    }
    // One process per cluster, distinct names, the scenario's (with the faults) on top.
    let names: BTreeSet<&String> = processes.values().collect();
    assert_eq!(
        names.len(),
        processes.len(),
        "process names repeat: {processes:?}"
    );
    for c in ["cluster west", "cluster east", "cluster north"] {
        assert!(names.contains(&c.to_string()), "{c}");
    }
    assert!(events.iter().any(|e| e["name"] == "process_sort_index"
        && e["args"]["sort_index"] == -1
        && processes[&e["pid"].as_u64().unwrap()].starts_with("scenario")));
    // Every thread event is on a named track of a named process, and every named track has
    // events (no empty duplicates).
    let mut used: BTreeSet<(u64, u64)> = BTreeSet::new();
    let mut stacks: BTreeMap<(u64, u64), Vec<String>> = BTreeMap::new();
    let mut asyncs: BTreeMap<(String, String), i32> = BTreeMap::new();
    let mut counters: BTreeSet<String> = BTreeSet::new();
    let mut fault_spans = 0;
    for e in events {
        let ph = e["ph"].as_str().unwrap();
        if ph == "M" {
            continue;
        }
        let pid = e["pid"].as_u64().unwrap();
        assert!(processes.contains_key(&pid), "unnamed process {pid}");
        assert!(e["ts"].as_f64().is_some_and(|t| t >= 0.0));
        match ph {
            "i" | "X" | "B" | "E" => {
                let tid = e["tid"].as_u64().unwrap();
                assert!(
                    threads.contains_key(&(pid, tid)),
                    "unnamed track {pid}/{tid}"
                );
                used.insert((pid, tid));
                match ph {
                    "X" => {
                        assert!(e["dur"].as_f64().unwrap() >= 0.0);
                        if e["cat"] == "fault" {
                            fault_spans += 1;
                        }
                    }
                    "B" => stacks
                        .entry((pid, tid))
                        .or_default()
                        .push(e["name"].as_str().unwrap().into()),
                    "E" => {
                        assert!(stacks.entry((pid, tid)).or_default().pop().is_some());
                    }
                    _ => {}
                }
            }
            "b" | "e" => {
                let key = (
                    e["cat"].as_str().unwrap().to_string(),
                    e["id"].as_str().unwrap().to_string(),
                );
                let open = asyncs.entry(key).or_default();
                *open += if ph == "b" { 1 } else { -1 };
                assert!(*open >= 0, "async end before its begin");
            }
            "C" => {
                assert!(e["args"].as_object().is_some_and(|a| !a.is_empty()));
                counters.insert(e["name"].as_str().unwrap().into());
            }
            other => panic!("event type {other}"),
        }
    }
    assert!(stacks.values().all(Vec::is_empty), "unbalanced B/E");
    assert!(asyncs.values().all(|n| *n == 0), "unbalanced async slices");
    assert_eq!(fault_spans, 1);
    assert!(asyncs.keys().any(|(cat, _)| cat == "request"));
    assert!(asyncs.keys().any(|(cat, _)| cat == "watcher"));
    let unused: Vec<_> = threads.keys().filter(|k| !used.contains(k)).collect();
    assert!(unused.is_empty(), "named tracks without events: {unused:?}");
    for c in ["mirrors east", "queue depth east", "success west → east"] {
        assert!(counters.contains(c), "no counter {c}: {counters:?}");
    }
}

#[test]
fn fuzz_writes_an_html_summary_and_junit() {
    let dir = out_dir("fuzz");
    let (html, junit) = (dir.join("f.html"), dir.join("f.xml"));
    let out = Command::new(env!("CARGO_BIN_EXE_mcsim"))
        .args([
            "fuzz",
            "scenarios/quirk-unexport-deletes-foreign.toml",
            "--seeds",
            "4",
            "--jobs",
            "1",
            "--no-shrink",
            "--out",
        ])
        .arg(dir.join("out"))
        .arg("--html")
        .arg(&html)
        .arg("--junit")
        .arg(&junit)
        .output()
        .unwrap();
    let summary = String::from_utf8(out.stdout).unwrap();
    let html = std::fs::read_to_string(&html).unwrap();
    let junit = std::fs::read_to_string(&junit).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert_junit_10(&junit);
    let doc = roxmltree::Document::parse(&junit).unwrap();
    let signatures = count(&summary, "  FAIL ");
    assert!(signatures > 0, "{summary}");
    assert_eq!(
        doc.descendants()
            .filter(|n| n.has_tag_name("testcase"))
            .count(),
        signatures + 1
    );
    assert_eq!(count(&html, "<tr id=\"signature-"), signatures);
    assert!(html.contains("mcsim replay "));
}

/// `mcsim graph` shows the links, the flat networks and the gateways, and labels each cluster's
/// service range with the block its API server allocates ClusterIPs from (one address plan).
#[test]
fn graph_shows_links_flat_networks_gateways_and_the_api_servers_service_ranges() {
    let out = Command::new(env!("CARGO_BIN_EXE_mcsim"))
        .args(["graph", "scenarios/remote-discovery.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let dot = String::from_utf8(out.stdout).unwrap();
    assert!(dot.starts_with("graph topology {\n") && dot.ends_with("}\n"));
    assert!(dot.contains("\"east/gateway\" [shape=diamond"), "{dot}");
    assert!(dot.contains("\"east\" -- \"east/gateway\" [style=bold"));
    assert!(
        dot.lines().any(
            |l| l.starts_with("  \"west\" -- \"east/gateway\" [dir=forward")
                && l.contains("label=\"link east")
        ),
        "{dot}"
    );
    assert!(
        dot.lines()
            .any(|l| l.starts_with("  \"west\" -- \"east\" [style=dotted")
                && l.contains("flat network")),
        "{dot}"
    );
    // Each cluster's `svc` block holds the ClusterIPs its API server gave out.
    let dir = out_dir("graph");
    let status = Command::new(env!("CARGO_BIN_EXE_mcsim"))
        .args([
            "run",
            "scenarios/remote-discovery.toml",
            "--until",
            "20s",
            "--dump",
        ])
        .arg(&dir)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.code().is_some());
    for cluster in ["west", "east"] {
        let label_at = dot
            .find(&format!("  \"{cluster}\" [shape=box, label=\""))
            .unwrap();
        let svc = dot[label_at..]
            .split("\\nsvc ")
            .nth(1)
            .unwrap()
            .split("\\n")
            .next()
            .unwrap();
        let (base, bits) = svc.split_once('/').unwrap();
        let base: std::net::Ipv4Addr = base.parse().unwrap();
        let bits: u32 = bits.parse().unwrap();
        let mask = u32::MAX << (32 - bits);
        let objects: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join(format!("{cluster}.json"))).unwrap(),
        )
        .unwrap();
        let ips: Vec<std::net::Ipv4Addr> = objects["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|o| o["kind"] == "Service")
            .filter_map(|o| o["spec"]["clusterIP"].as_str())
            .filter(|ip| *ip != "None" && !ip.is_empty())
            .map(|ip| ip.parse().unwrap())
            .collect();
        assert!(!ips.is_empty(), "{cluster} has ClusterIPs");
        if cluster == "east" {
            let _ = std::fs::remove_dir_all(&dir);
        }
        for ip in ips {
            assert_eq!(
                u32::from(ip) & mask,
                u32::from(base),
                "{cluster}: ClusterIP {ip} outside the graph's svc {svc}"
            );
        }
    }
}
