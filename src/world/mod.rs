//! The world: every component of one simulated run, built from a [`Scenario`], and the
//! [`World`] implementation that dispatches each delivered message to its component.
//!
//! Owns: component state (a closed [`Node`] enum, so checks get typed read-only access), the
//! per-component up/down flags that faults flip, and the log of observations checks consume.
//! Does not own: time, ordering or randomness (the kernel's), or verdicts (the checks').

pub mod msg;
pub mod observe;

use crate::scenario::{FaultKind, Scenario};
use crate::sim::{ComponentId, Ctx, Kernel, SimDuration, SimTime};
pub use msg::{FaultMsg, Msg};
pub use observe::Observation;
use std::sync::Arc;

/// A component's state machine.
pub enum Node {
    /// Fires the scenario's scripted faults (and, when fuzzing, the swarm's) and heals them.
    FaultInjector,
}

/// A fault that fired during the run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FiredFault {
    pub index: usize,
    pub kind: &'static str,
    pub description: String,
    pub clusters: Vec<String>,
    pub at: SimTime,
    pub healed_at: Option<SimTime>,
}

pub struct World {
    pub scenario: Arc<Scenario>,
    nodes: Vec<Node>,
    down: Vec<bool>,
    pub fault_injector: ComponentId,
    pub fired_faults: Vec<FiredFault>,
    /// Observations since the run loop last drained them (checks read them, nothing else does).
    pub observations: Vec<(SimTime, Observation)>,
}

impl World {
    /// Builds every component of the scenario and schedules its scripted events.
    pub fn build(scenario: Arc<Scenario>, kernel: &mut Kernel<Msg>) -> World {
        let mut nodes = Vec::new();
        let fault_injector = kernel.add_component("faults");
        nodes.push(Node::FaultInjector);
        for (i, f) in scenario.faults.iter().enumerate() {
            kernel.inject(
                fault_injector,
                SimTime::ZERO + f.at,
                Msg::Fault(FaultMsg::Inject(i)),
            );
            if let Some(d) = f.duration {
                kernel.inject(
                    fault_injector,
                    SimTime::ZERO + f.at + d,
                    Msg::Fault(FaultMsg::Heal(i)),
                );
            }
        }
        let down = vec![false; nodes.len()];
        World {
            scenario,
            nodes,
            down,
            fault_injector,
            fired_faults: Vec::new(),
            observations: Vec::new(),
        }
    }

    pub fn node(&self, id: ComponentId) -> &Node {
        &self.nodes[id.index()]
    }

    pub fn is_down(&self, id: ComponentId) -> bool {
        self.down[id.index()]
    }

    fn observe(&mut self, now: SimTime, obs: Observation) {
        self.observations.push((now, obs));
    }

    fn on_fault(&mut self, ctx: &mut Ctx<'_, Msg>, msg: FaultMsg) {
        let now = ctx.now();
        match msg {
            FaultMsg::Inject(i) => {
                let spec = &self.scenario.faults[i];
                let fired = FiredFault {
                    index: i,
                    kind: spec.kind.key(),
                    description: describe_fault(&spec.kind),
                    clusters: spec.kind.clusters(),
                    at: now,
                    healed_at: None,
                };
                self.fired_faults.push(fired);
                self.observe(now, Observation::FaultInjected { index: i });
            }
            FaultMsg::Heal(i) => {
                if let Some(f) = self
                    .fired_faults
                    .iter_mut()
                    .find(|f| f.index == i && f.healed_at.is_none())
                {
                    f.healed_at = Some(now);
                }
                self.observe(now, Observation::FaultHealed { index: i });
            }
        }
    }
}

impl crate::sim::World<Msg> for World {
    fn deliver(&mut self, ctx: &mut Ctx<'_, Msg>, to: ComponentId, msg: Msg) {
        if self.down[to.index()] {
            return;
        }
        match msg {
            Msg::Fault(f) => self.on_fault(ctx, f),
        }
    }
}

/// One line describing a fault, as reports print it.
pub fn describe_fault(kind: &FaultKind) -> String {
    use crate::scenario::PartitionMode;
    match kind {
        FaultKind::Partition {
            groups,
            one_way,
            mode,
        } => {
            let groups: Vec<String> = groups
                .iter()
                .map(|g| format!("[{}]", g.join(",")))
                .collect();
            let sep = if *one_way { " -/-> " } else { " <-/-> " };
            let mode = match mode {
                PartitionMode::Drop => "drop",
                PartitionMode::Reject => "reject",
            };
            format!("partition {} ({mode})", groups.join(sep))
        }
        FaultKind::ClusterDown(c) => format!("cluster {c} down"),
        FaultKind::ApiServerDown(c) => format!("API server of {c} down"),
        FaultKind::GatewayDown(c) => format!("gateway of {c} down"),
        FaultKind::ControllerCrash { cluster, link } => {
            format!("service mirror {cluster}/{link} crashes")
        }
        FaultKind::PodKill {
            cluster,
            namespace,
            pod,
        } => format!("pod {cluster}/{namespace}/{pod} killed"),
        FaultKind::DnsFailure(c) => format!("DNS of {c} fails"),
        FaultKind::ClockSkew { cluster, by_ns } => {
            let d = SimDuration(by_ns.unsigned_abs());
            format!(
                "clock of {cluster} skewed by {}{d}",
                if *by_ns < 0 { "-" } else { "+" }
            )
        }
        FaultKind::Compact(c) => format!("watch history of {c} compacted"),
        FaultKind::CertExpiry(c) => format!("certificates of {c} expire"),
        FaultKind::RotateCerts(c) => format!("certificates of {c} rotated"),
        FaultKind::TrustAnchor { cluster, anchor } => {
            format!("{cluster} switches to trust anchor {anchor}")
        }
        FaultKind::SlowPath { a, b, latency } => format!("path {a}<->{b} slowed by {latency}"),
        FaultKind::LossyPath {
            a,
            b,
            loss,
            duplicate,
            reorder,
        } => format!(
            "path {a}<->{b} lossy (loss {}/{}, dup {}/{}, reorder {}/{})",
            loss.num, loss.den, duplicate.num, duplicate.den, reorder.num, reorder.den
        ),
    }
}
