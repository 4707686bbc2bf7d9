//! `[sim]`, `[linkerd]`, `[checks]`, `[expect]`, `[fuzz]` and `[testing]`.

use super::{CHECK_NAMES, Validator};
use crate::defaults;
use crate::quirks::Breakage;
use crate::scenario::model::*;
use crate::scenario::schema;
use crate::sim::{Exploration, Tape};

/// The run options of a scenario, validated.
pub(super) struct Options {
    pub checks: CheckSpec,
    pub expect: Option<Expectation>,
    pub fuzz: FuzzSpec,
    pub exploration: Exploration,
    pub decisions: Option<Tape>,
    pub breakages: Vec<Breakage>,
}

/// The option tables of the schema.
pub(super) struct RawOptions<'a> {
    pub sim: &'a schema::Sim,
    pub checks: Option<schema::Checks>,
    pub expect: Option<schema::Expect>,
    pub fuzz: Option<schema::Fuzz>,
    pub testing: Option<schema::Testing>,
}

impl Validator<'_> {
    pub(super) fn options(&mut self, raw: RawOptions<'_>) -> Options {
        let checks_raw = raw.checks.unwrap_or_default();
        let checks = CheckSpec {
            converged_within: checks_raw
                .converged_within
                .map(|d| d.0)
                .unwrap_or(defaults::CONVERGED_WITHIN),
            failure_domain_tolerance: checks_raw.failure_domains.map(|f| f.tolerance.0),
            headless_dns: checks_raw.headless_dns.unwrap_or(true),
            identity: checks_raw.identity.unwrap_or(true),
            safety: checks_raw.safety.unwrap_or(true),
            link_status: checks_raw.link_status.unwrap_or(false),
            needless_writes: checks_raw.needless_writes.map(|r| WriteBudget {
                count: r.count,
                per: r.per,
            }),
        };
        let expect = raw.expect.map(|e| {
            let verdict = match e.verdict.get_ref().as_str() {
                "pass" => ExpectedVerdict::Pass,
                "fail" => ExpectedVerdict::Fail,
                "inconclusive" => ExpectedVerdict::Inconclusive,
                "error" => ExpectedVerdict::Error,
                other => {
                    self.error(
                        &e.verdict,
                        format!("expected verdict \"pass\", \"fail\", \"inconclusive\" or \"error\", found \"{other}\""),
                    );
                    ExpectedVerdict::Pass
                }
            };
            let pass = verdict == ExpectedVerdict::Pass;
            let mut failing = Vec::new();
            for f in &e.failing {
                if !CHECK_NAMES.contains(&f.get_ref().as_str()) {
                    self.error(
                        f,
                        format!(
                            "unknown check \"{}\" (known checks: {})",
                            f.get_ref(),
                            CHECK_NAMES.join(", ")
                        ),
                    );
                }
                failing.push(f.get_ref().clone());
            }
            if pass && !failing.is_empty() {
                self.error(
                    &e.verdict,
                    "a scenario expected to pass cannot list failing checks",
                );
            }
            let fix = e.fix.as_ref().and_then(|f| {
                if pass {
                    self.error(f, "a fix is expected to turn a failing scenario into a passing one: use verdict = \"fail\"");
                }
                self.fix(f)
            });
            Expectation {
                verdict,
                failing,
                fix,
            }
        });
        let fuzz_raw = raw.fuzz.unwrap_or_default();
        let fuzz = FuzzSpec {
            faults: fuzz_raw
                .faults
                .map(|fs| fs.iter().filter_map(|f| self.swarm_fault(f)).collect()),
            workload: fuzz_raw.workload.map(|ws| {
                ws.iter()
                    .filter_map(|w| {
                        let tag = WorkloadTag::from_name(w.get_ref());
                        if tag.is_none() {
                            self.error(
                                w,
                                format!(
                                    "unknown workload change \"{}\" (known: {})",
                                    w.get_ref(),
                                    WorkloadTag::names()
                                ),
                            );
                        }
                        tag
                    })
                    .collect()
            }),
            delay_perturbation_max: fuzz_raw.delay_perturbation_max.map(|d| d.0),
        };
        let exploration = match &raw.sim.exploration {
            None => Exploration::Fifo,
            Some(e) => match e.get_ref().as_str() {
                "fifo" => Exploration::Fifo,
                "random" => Exploration::Random,
                "pct" => Exploration::Pct,
                other => {
                    self.error(
                        e,
                        format!(
                            "unknown exploration \"{other}\" (expected \"fifo\", \"random\" or \"pct\")"
                        ),
                    );
                    Exploration::Fifo
                }
            },
        };
        let decisions = raw.sim.decisions.as_ref().map(|ds| {
            let mut entries: Vec<(u64, u64)> = Vec::new();
            for d in ds {
                match parse_decision(d.get_ref()) {
                    Some((i, v)) if entries.last().is_none_or(|&(last, _)| last < i) => {
                        entries.push((i, v))
                    }
                    Some(_) => self.error(d, "decisions must be in increasing index order"),
                    None => self.error(
                        d,
                        format!(
                            "expected a decision \"index:hexvalue\" such as \"12:9f3a\", found \"{}\"",
                            d.get_ref()
                        ),
                    ),
                }
            }
            Tape { entries }
        });
        if decisions.is_some()
            && exploration == Exploration::Fifo
            && let Some(first) = raw.sim.decisions.as_ref().and_then(|ds| ds.first())
        {
            self.error(
                first,
                "decisions replay an exploration: set exploration = \"random\" or \"pct\"",
            );
        }
        let breakages = (raw.testing.unwrap_or_default().breakages.iter())
            .filter_map(|b| {
                let breakage = Breakage::from_name(b.get_ref());
                if breakage.is_none() {
                    self.error(
                        b,
                        format!(
                            "unknown breakage \"{}\" (known: {})",
                            b.get_ref(),
                            Breakage::names()
                        ),
                    );
                }
                breakage
            })
            .collect();
        Options {
            checks,
            expect,
            fuzz,
            exploration,
            decisions,
            breakages,
        }
    }
}

/// `"index:hexvalue"` → (index, value).
fn parse_decision(text: &str) -> Option<(u64, u64)> {
    let (i, v) = text.split_once(':')?;
    Some((
        i.trim().parse().ok()?,
        u64::from_str_radix(v.trim(), 16).ok()?,
    ))
}
