//! Traffic accounting shared by the report and the checks: each flow's requests split into
//! phases (before the first fault, while any fault is active, after the last heal), with
//! success ratios, failure reasons and latency percentiles; per fault, the success of every
//! pair of clusters before / during / after it; and the cluster each flow targets.

use super::oracle::target_cluster;
use crate::scenario::Scenario;
use crate::sim::{SimDuration, SimTime};
use crate::world::traffic_log::{Aggregate, Selection};
use crate::world::view::WorldView;
use serde::Serialize;
use std::collections::BTreeMap;

/// One flow's requests in one phase, for the report.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct TrafficRow {
    pub from: String,
    pub to: String,
    pub phase: String,
    pub sent: u64,
    pub ok: u64,
    pub failed: Vec<(String, u64)>,
    pub success_ratio: f64,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    /// Successful requests by the cluster whose pod answered (federated services spread them).
    pub served_by: Vec<(String, u64)>,
}

/// One fault's effect on traffic: every (source cluster → destination cluster) pair with
/// traffic, in-cluster pairs included, with the success of the requests sent in the minute
/// before the fault (the baseline the `failure-domains` check compares with), while it was
/// active, and from its heal to the end of the run.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct FaultTraffic {
    pub fault: usize,
    pub description: String,
    pub at_ns: u64,
    /// When the fault healed; `None`: active until the end of the run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healed_ns: Option<u64>,
    pub pairs: Vec<PairTraffic>,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct PairTraffic {
    /// Source cluster (where the client runs).
    pub from: String,
    /// Destination cluster (that serves the name the client calls).
    pub to: String,
    /// Whether the fault involves this pair (`failure-domains` ignores involved pairs).
    pub involved: bool,
    pub before: PhaseCount,
    pub during: PhaseCount,
    pub after: PhaseCount,
}

#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct PhaseCount {
    pub sent: u64,
    pub ok: u64,
    /// `ok / sent`; `None` when nothing was sent.
    pub success_ratio: Option<f64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    Before,
    During,
    After,
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::Before => "before",
            Phase::During => "during",
            Phase::After => "after",
        }
    }
}

/// Every instant a report table or a check asks about the traffic of `flow`, so that its
/// request log ([`crate::world::traffic_log`]) keeps them apart: for every fault, the start of
/// its baseline minute, one timeout before it (a request sent then can fail because of it),
/// its start, its heal and the end of the recovery after it; the start of the liveness window;
/// one timeout before the end (requests still in flight are not judged), for the scenario's
/// end and for `until`.
pub fn window_boundaries(
    scenario: &Scenario,
    flow: &crate::scenario::TrafficSpec,
    until: Option<SimDuration>,
) -> Vec<SimTime> {
    let at = |d: SimDuration| SimTime::ZERO + d;
    let before = |t: SimTime, d: SimDuration| SimTime(t.0.saturating_sub(d.0));
    let mut out = Vec::new();
    for f in &scenario.faults {
        let start = at(f.at);
        out.extend([start, before(start, BASELINE), before(start, flow.timeout)]);
        if let Some(d) = f.duration {
            out.extend([
                start + d,
                start + d + super::failure_domains::recovery(&f.kind),
            ]);
        }
    }
    for (start, undone) in super::failure_domains::action_windows(scenario) {
        out.extend([start, before(start, BASELINE), before(start, flow.timeout)]);
        if let Some(u) = undone {
            out.extend([u, u + super::failure_domains::RECOVERY]);
        }
    }
    out.push(at(scenario.liveness_from()));
    for end in std::iter::once(scenario.duration).chain(until) {
        out.extend([at(end), before(at(end), flow.timeout)]);
    }
    out
}

/// Fault windows of the run as `[start, heal)`; a fault not healed lasts until `end`.
pub fn fault_windows(view: WorldView<'_>, end: SimTime) -> Vec<(SimTime, SimTime)> {
    view.fired_faults()
        .iter()
        .map(|f| (f.at, f.healed_at.unwrap_or(end)))
        .collect()
}

pub fn phase_of(windows: &[(SimTime, SimTime)], t: SimTime) -> Phase {
    if windows.iter().any(|(a, b)| *a <= t && t < *b) {
        Phase::During
    } else if windows.iter().all(|(a, _)| t < *a) {
        Phase::Before
    } else {
        Phase::After
    }
}

/// Per flow, per phase statistics. Requests are attributed to the phase they were sent in.
pub fn phase_stats(view: WorldView<'_>, end: SimTime) -> Vec<(usize, BTreeMap<Phase, Aggregate>)> {
    let windows = fault_windows(view, end);
    let cuts: Vec<SimTime> = windows.iter().flat_map(|(a, b)| [*a, *b]).collect();
    view.flows()
        .into_iter()
        .map(|f| {
            let mut m: BTreeMap<Phase, Aggregate> = BTreeMap::new();
            for phase in [Phase::Before, Phase::During, Phase::After] {
                let agg = f
                    .log
                    .sum(&cuts, |t| phase_of(&windows, t) == phase)
                    .merged();
                if agg.sent > 0 {
                    m.insert(phase, agg);
                }
            }
            (f.index, m)
        })
        .collect()
}

pub fn rows(view: WorldView<'_>, end: SimTime) -> Vec<TrafficRow> {
    let flows = view.flows();
    let mut out = Vec::new();
    for (index, phases) in phase_stats(view, end) {
        let Some(flow) = flows.iter().find(|f| f.index == index) else {
            continue;
        };
        for (phase, st) in phases {
            out.push(TrafficRow {
                from: flow.spec.from.clone(),
                to: flow.authority(),
                phase: phase.name().into(),
                sent: st.sent,
                ok: st.ok,
                failed: st.failed.iter().map(|(k, v)| (k.clone(), *v)).collect(),
                success_ratio: st.ratio().unwrap_or(0.0),
                p50_ms: st.percentile_ms(50),
                p99_ms: st.percentile_ms(99),
                served_by: st.served_by.iter().map(|(k, v)| (k.clone(), *v)).collect(),
            });
        }
    }
    out
}

/// How far back a fault's "before" (baseline) reaches.
pub const BASELINE: SimDuration = SimDuration::from_secs(60);

impl PhaseCount {
    fn add(&mut self, a: &Selection<'_>) {
        self.sent += a.sent();
        self.ok += a.ok();
        if self.sent > 0 {
            self.success_ratio = Some(self.ok as f64 / self.sent as f64);
        }
    }
}

/// For every fired fault, every (source → destination cluster) pair with traffic: requests sent
/// in [start − [`BASELINE`], start), [start, heal) and [heal, end), and their success.
pub fn fault_tables(view: WorldView<'_>, end: SimTime) -> Vec<FaultTraffic> {
    let flows = view.flows();
    view.fired_faults()
        .iter()
        .map(|fault| {
            let kind = &view.scenario().faults[fault.index].kind;
            let (start, stop) = (fault.at, fault.healed_at.unwrap_or(end));
            let base = SimTime(start.0.saturating_sub(BASELINE.0));
            let mut pairs: BTreeMap<(String, String), PairTraffic> = BTreeMap::new();
            for flow in &flows {
                let from = flow.spec.from.clone();
                let to = target_cluster(view.scenario(), &from, &flow.spec.host);
                let pair = pairs
                    .entry((from.clone(), to.clone()))
                    .or_insert_with(|| PairTraffic {
                        involved: kind.affects_pair(&from, &to),
                        from,
                        to,
                        before: PhaseCount::default(),
                        during: PhaseCount::default(),
                        after: PhaseCount::default(),
                    });
                pair.before.add(&flow.log.window(base, Some(start)));
                pair.during.add(&flow.log.window(start, Some(stop)));
                if fault.healed_at.is_some() {
                    pair.after.add(&flow.log.window(stop, Some(end)));
                }
            }
            FaultTraffic {
                fault: fault.index,
                description: fault.description.clone(),
                at_ns: start.0,
                healed_ns: fault.healed_at.map(|t| t.0),
                pairs: pairs.into_values().collect(),
            }
        })
        .collect()
}
