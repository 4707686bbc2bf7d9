//! The world: every component of one simulated run, built from a [`Scenario`], and the
//! [`World`] implementation that dispatches each delivered message to its component.
//!
//! Owns: component state (a closed [`Node`] enum, so checks get typed read-only access), the
//! per-component up/down flags that faults flip, and the log of observations checks consume.
//! Does not own: time, ordering or randomness (the kernel's), or verdicts (the checks').

pub mod msg;
pub mod network;
pub mod observe;
pub mod transport;

use crate::net::fault::FaultId;
use crate::net::topology::{NodeId, Topology};
use crate::scenario::{FaultKind, Scenario};
use crate::sim::{ComponentId, Ctx, Kernel, SimDuration, SimTime};
pub use msg::{FaultMsg, Msg, NetMsg, Payload};
pub use observe::Observation;
use std::collections::BTreeMap;
use std::sync::Arc;
use transport::{ConnEvent, NetEnv, Transport, TransportConfig};

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
    /// Cluster (topology node) each component runs in.
    placement: Vec<NodeId>,
    pub topology: Topology,
    pub net_nodes: BTreeMap<String, NodeId>,
    /// Topology node of each scenario cluster, in scenario order.
    pub cluster_nodes: Vec<NodeId>,
    pub transport: Transport,
    /// Topology overlays of each active scenario fault.
    active_overlays: BTreeMap<usize, Vec<FaultId>>,
    pub fault_injector: ComponentId,
    pub fired_faults: Vec<FiredFault>,
    /// Observations since the run loop last drained them (checks read them, nothing else does).
    pub observations: Vec<(SimTime, Observation)>,
}

impl World {
    /// Builds every component of the scenario and schedules its scripted events. Fails (with a
    /// message for the user) when the scenario describes a network that cannot be built.
    pub fn build(scenario: Arc<Scenario>, kernel: &mut Kernel<Msg>) -> Result<World, String> {
        let built = network::build(&scenario)?;
        // Every fault's overlays must apply to this topology: try them on a scratch copy.
        let mut scratch = built.topology.clone();
        for f in &scenario.faults {
            for overlay in network::overlays(&f.kind, &built.nodes) {
                scratch
                    .add_fault(overlay)
                    .map_err(|e| format!("fault {}: {e}", describe_fault(&f.kind)))?;
            }
        }
        let mut nodes = Vec::new();
        let mut placement = Vec::new();
        let fault_injector = kernel.add_component("faults");
        nodes.push(Node::FaultInjector);
        placement.push(built.clusters[0]);
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
        Ok(World {
            scenario,
            nodes,
            down,
            placement,
            topology: built.topology,
            net_nodes: built.nodes,
            cluster_nodes: built.clusters,
            transport: Transport::new(TransportConfig::default()),
            active_overlays: BTreeMap::new(),
            fault_injector,
            fired_faults: Vec::new(),
            observations: Vec::new(),
        })
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
                let overlays = network::overlays(&spec.kind, &self.net_nodes);
                let mut ids = Vec::new();
                for o in overlays {
                    // Validated when the world was built; failing here is an mcsim bug.
                    match self.topology.add_fault(o) {
                        Ok(id) => ids.push(id),
                        Err(e) => panic!("fault #{i} no longer applies to the topology: {e}"),
                    }
                }
                if !ids.is_empty() {
                    self.active_overlays.insert(i, ids);
                    self.paths_changed(ctx);
                }
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
                if let Some(ids) = self.active_overlays.remove(&i) {
                    for id in ids {
                        self.topology.remove_fault(id);
                    }
                    self.paths_changed(ctx);
                }
                self.observe(now, Observation::FaultHealed { index: i });
            }
        }
    }
}

impl World {
    fn paths_changed(&mut self, ctx: &mut Ctx<'_, Msg>) {
        let mut env = NetEnv {
            ctx,
            topology: &self.topology,
            placement: &self.placement,
            down: &self.down,
        };
        self.transport.on_paths_changed(&mut env);
    }

    /// Hands a connection event to the component it is for.
    fn conn_event(&mut self, _ctx: &mut Ctx<'_, Msg>, to: ComponentId, event: ConnEvent) {
        match &mut self.nodes[to.index()] {
            Node::FaultInjector => {
                // The fault injector never opens connections.
                let _ = event;
            }
        }
    }
}

impl crate::sim::World<Msg> for World {
    fn deliver(&mut self, ctx: &mut Ctx<'_, Msg>, to: ComponentId, msg: Msg) {
        match msg {
            Msg::Fault(f) => self.on_fault(ctx, f),
            Msg::Net(net) => {
                // Transport bookkeeping happens even for a down component (a SYN to a dead
                // process is refused); only the resulting event is withheld from it.
                let event = {
                    let mut env = NetEnv {
                        ctx,
                        topology: &self.topology,
                        placement: &self.placement,
                        down: &self.down,
                    };
                    self.transport.on_net(&mut env, to, net)
                };
                if let Some(event) = event
                    && !self.down[to.index()]
                {
                    self.conn_event(ctx, to, event);
                }
            }
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
