//! Traffic accounting shared by the report and the checks: each flow's requests split into
//! phases (before the first fault, while any fault is active, after the last heal), with
//! success ratios, failure reasons and latency percentiles; per fault, the success of every
//! pair of clusters before / during / after it; and the cluster each flow targets.

use crate::report::{FaultTraffic, PairTraffic, PhaseCount, TrafficRow};
use crate::scenario::Scenario;
use crate::sim::{SimDuration, SimTime};
use crate::world::traffic::RequestRecord;
use crate::world::{Node, World};
use std::collections::BTreeMap;

/// The cluster a name is served from, seen from cluster `from`: a mirror name `<svc>-<link>`
/// (or `<host>.<svc>-<link>` for per-pod names) is served by the link's target; any other name
/// is in-cluster.
pub fn target_cluster(scenario: &Scenario, from: &str, host: &str) -> String {
    let labels: Vec<&str> = host.split('.').collect();
    for link in scenario.links.iter().filter(|l| l.from == from) {
        let suffix = format!("-{}", link.name);
        if labels.iter().take(2).any(|l| l.ends_with(&suffix)) {
            return link.to.clone();
        }
    }
    from.to_string()
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

/// Fault windows of the run as (start, end) in virtual time.
pub fn fault_windows(world: &World, end: SimTime) -> Vec<(SimTime, SimTime)> {
    world
        .fired_faults()
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

/// The traffic clients of the world, in scenario order.
pub fn flows(world: &World) -> Vec<&crate::world::traffic::TrafficClient> {
    world
        .nodes()
        .iter()
        .filter_map(|n| match n {
            Node::Traffic(t) => Some(t.as_ref()),
            _ => None,
        })
        .collect()
}

#[derive(Clone, Debug, Default)]
pub struct PhaseStats {
    pub sent: u64,
    pub ok: u64,
    pub failed: BTreeMap<String, u64>,
    pub latencies_ns: Vec<u64>,
    /// Successful requests by the cluster of the pod that answered.
    pub served_by: BTreeMap<String, u64>,
}

impl PhaseStats {
    pub fn ratio(&self) -> Option<f64> {
        (self.sent > 0).then(|| self.ok as f64 / self.sent as f64)
    }
    fn add(&mut self, r: &RequestRecord) {
        self.sent += 1;
        match &r.result {
            Ok(pod) => {
                self.ok += 1;
                self.latencies_ns.push(r.done.saturating_since(r.sent).0);
                let cluster = pod.split('/').next().unwrap_or_default();
                *self.served_by.entry(cluster.to_string()).or_default() += 1;
            }
            Err(reason) => *self.failed.entry(reason.clone()).or_default() += 1,
        }
    }
    fn percentile_ms(&self, p: u64) -> Option<f64> {
        if self.latencies_ns.is_empty() {
            return None;
        }
        let mut v = self.latencies_ns.clone();
        v.sort_unstable();
        let idx = ((v.len() as u64 - 1) * p / 100) as usize;
        Some(v[idx] as f64 / 1e6)
    }
}

/// Per flow, per phase statistics. Requests are attributed to the phase they were sent in.
pub fn phase_stats(world: &World, end: SimTime) -> Vec<(usize, BTreeMap<Phase, PhaseStats>)> {
    let windows = fault_windows(world, end);
    flows(world)
        .into_iter()
        .map(|f| {
            let mut m: BTreeMap<Phase, PhaseStats> = BTreeMap::new();
            for r in &f.records {
                m.entry(phase_of(&windows, r.sent)).or_default().add(r);
            }
            (f.index, m)
        })
        .collect()
}

pub fn rows(world: &World, end: SimTime) -> Vec<TrafficRow> {
    let flows = flows(world);
    let mut out = Vec::new();
    for (index, phases) in phase_stats(world, end) {
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
    fn add(&mut self, ok: bool) {
        self.sent += 1;
        self.ok += u64::from(ok);
        self.success_ratio = Some(self.ok as f64 / self.sent as f64);
    }
}

/// For every fired fault, every (source → destination cluster) pair with traffic: requests sent
/// in [start − [`BASELINE`], start), [start, heal) and [heal, end), and their success.
pub fn fault_tables(world: &World, end: SimTime) -> Vec<FaultTraffic> {
    let flows = flows(world);
    world
        .fired_faults()
        .iter()
        .map(|fault| {
            let kind = &world.scenario.faults[fault.index].kind;
            let (start, stop) = (fault.at, fault.healed_at.unwrap_or(end));
            let base = SimTime(start.0.saturating_sub(BASELINE.0));
            let mut pairs: BTreeMap<(String, String), PairTraffic> = BTreeMap::new();
            for flow in &flows {
                let from = flow.spec.from.clone();
                let to = target_cluster(&world.scenario, &from, &flow.spec.host);
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
                for r in &flow.records {
                    let phase = if base <= r.sent && r.sent < start {
                        &mut pair.before
                    } else if start <= r.sent && r.sent < stop {
                        &mut pair.during
                    } else if fault.healed_at.is_some() && stop <= r.sent {
                        &mut pair.after
                    } else {
                        continue;
                    };
                    phase.add(r.result.is_ok());
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
