//! The world: every component of one simulated run, built from a [`Scenario`] ([`build`]),
//! and the [`crate::sim::World`] implementation that hands each delivered message to its
//! component ([`dispatch`]).
//!
//! Owns: component state (a closed [`Node`] enum, so checks get typed read-only access), the
//! API servers of the clusters (outside the node list, so in-cluster components can make direct
//! calls to their own cluster's API server), the fault injector (outside the node list, so it
//! can act on the others), the topology and transport, the identity book, the per-component
//! up/down flags, and the log of observations checks consume.
//! Does not own: time, ordering or randomness (the kernel's), or verdicts (the checks').

mod actions;
pub mod apiclient;
pub mod apiserver_node;
mod build;
pub mod controller_manager;
mod dispatch;
pub mod env;
pub mod fault_injector;
pub mod frames;
pub mod gateway;
#[cfg(test)]
mod harness;
pub mod identity_book;
pub mod kubelet_node;
pub mod lookup;
pub mod mesh_server;
pub mod mirror;
pub mod msg;
pub mod network;
pub mod observe;
pub mod overlay;
pub mod seed;
pub mod traffic;
pub mod traffic_log;
pub mod transport;
pub mod view;

/// A small two-cluster world for the components' unit tests: west links to east, which exports
/// `web` (one replica) through its gateway; a client in west calls it twice a second.
#[cfg(test)]
const TEST_SCENARIO: &str = r#"
[sim]
name = "unit"
seed = 7
duration = "10m"
[[cluster]]
name = "west"
local_service_mirror = false
[[cluster]]
name = "east"
local_service_mirror = false
[[link]]
from = "west"
to = "east"
[[service]]
cluster = "east"
name = "web"
ports = [{ name = "http", port = 80 }]
exported = true
[[traffic]]
from = "west"
to = "web-east.default.svc.cluster.local:80"
rate = "2/s"
start = "30s"
"#;

use crate::k8s::store::ObjectView;
use crate::k8s::{Kind, ObjectKey};
use crate::net::topology::{NodeId, Topology};
use crate::scenario::Scenario;
use crate::sim::{ComponentId, SimTime};
use apiserver_node::ApiServerNode;
use controller_manager::ControllerManager;
use fault_injector::FaultInjector;
pub use fault_injector::FiredFault;
use gateway::Gateway;
use identity_book::IdentityBook;
use kubelet_node::KubeletNode;
use lookup::Lookup;
use mirror::MirrorNode;
pub use msg::{FaultMsg, Msg, NetMsg, Payload, Timer};
pub use observe::Observation;
use std::sync::Arc;
use traffic::TrafficClient;
use transport::Transport;

/// A component's state machine.
pub enum Node {
    /// Fires the scenario's scripted faults and actions, and heals faults (its state lives in
    /// `World::faults`).
    FaultInjector,
    /// The API server of cluster `i` (its state lives in `World::apis[i]`).
    ApiServer(usize),
    Controllers(Box<ControllerManager>),
    Kubelet(Box<KubeletNode>),
    Lookup(Box<Lookup>),
    Gateway(Box<Gateway>),
    Traffic(Box<TrafficClient>),
    Mirror(Box<MirrorNode>),
}

/// Component ids of one cluster.
#[derive(Clone, Debug, Default)]
pub struct ClusterComponents {
    pub api: ComponentId,
    pub controllers: ComponentId,
    pub kubelet: ComponentId,
    pub dns: ComponentId,
    pub destination: ComponentId,
    pub gateway: Option<ComponentId>,
}

pub struct World {
    pub scenario: Arc<Scenario>,
    nodes: Vec<Node>,
    down: Vec<bool>,
    /// Cluster (topology node) each component runs in.
    placement: Vec<NodeId>,
    /// Scenario cluster index of each component.
    cluster_of: Vec<usize>,
    pub apis: Vec<ApiServerNode>,
    api_ids: Vec<ComponentId>,
    pub clusters: Vec<ClusterComponents>,
    pub topology: Topology,
    /// Topology node of each scenario cluster, in scenario order.
    pub cluster_nodes: Vec<NodeId>,
    pub transport: Transport,
    pub identity: IdentityBook,
    faults: FaultInjector,
    /// Observations since the run loop last drained them (checks read them, nothing else does).
    pub observations: Vec<(SimTime, Observation)>,
    /// Whether each component has been started once (a later `Start` is a restart).
    started: Vec<bool>,
}

impl World {
    /// Segments every traffic client's request log at the instants `boundaries` gives for
    /// its flow (before the first event; see [`traffic_log`]).
    pub fn set_traffic_boundaries(
        &mut self,
        boundaries: impl Fn(&crate::scenario::TrafficSpec) -> Vec<SimTime>,
    ) {
        for node in &mut self.nodes {
            if let Node::Traffic(t) = node {
                t.log = traffic_log::TrafficLog::new(boundaries(&t.spec));
            }
        }
    }

    pub fn node(&self, id: ComponentId) -> &Node {
        &self.nodes[id.index()]
    }
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// Every fault that fired so far, in firing order.
    pub fn fired_faults(&self) -> &[FiredFault] {
        self.faults.fired()
    }

    /// Tests: makes the kubelets and controller managers compare each incremental pass with the
    /// full reference pass (the results do not change; mismatches are collected).
    pub fn enable_cross_checks(&mut self) {
        for n in &mut self.nodes {
            match n {
                Node::Kubelet(k) => k.cross_check = Some(Vec::new()),
                Node::Controllers(c) => c.cross_check = Some(Vec::new()),
                Node::FaultInjector
                | Node::ApiServer(_)
                | Node::Lookup(_)
                | Node::Gateway(_)
                | Node::Traffic(_)
                | Node::Mirror(_) => {}
            }
        }
    }

    /// What the cross checks found: one line per mismatching pass.
    pub fn cross_check_mismatches(&self) -> Vec<String> {
        self.nodes
            .iter()
            .flat_map(|n| match n {
                Node::Kubelet(k) => k.cross_check.clone().unwrap_or_default(),
                Node::Controllers(c) => c.cross_check.clone().unwrap_or_default(),
                Node::FaultInjector
                | Node::ApiServer(_)
                | Node::Lookup(_)
                | Node::Gateway(_)
                | Node::Traffic(_)
                | Node::Mirror(_) => Vec::new(),
            })
            .collect()
    }

    /// The destination controller of cluster `ci`.
    pub fn destination(&self, ci: usize) -> Option<&Lookup> {
        match &self.nodes[self.clusters.get(ci)?.destination.index()] {
            Node::Lookup(l) => Some(l),
            _ => None,
        }
    }
    pub fn is_down(&self, id: ComponentId) -> bool {
        self.down[id.index()]
    }
    pub fn cluster_index(&self, name: &str) -> Option<usize> {
        self.scenario.clusters.iter().position(|c| c.name == name)
    }

    /// The (source, target) cluster indexes of a scenario link.
    pub fn link_clusters(&self, link: &crate::scenario::LinkSpec) -> Option<(usize, usize)> {
        Some((
            self.cluster_index(&link.from)?,
            self.cluster_index(&link.to)?,
        ))
    }

    /// Whether cluster `src` still has the Link `link` (deleted or unlinked links have none).
    pub fn has_link(&self, src: usize, link: &str) -> bool {
        self.link(src, link).is_some()
    }

    /// The Link `link` as cluster `src`'s API server holds it now.
    pub fn link(&self, src: usize, link: &str) -> Option<&crate::k8s::objects::Link> {
        self.apis[src]
            .server
            .store()
            .get(&ObjectKey::new(Kind::Link, seed::MC_NAMESPACE, link))
            .and_then(|o| o.as_link())
    }

    /// Every service-mirror controller (the per-Link ones and the local ones), with its cluster.
    pub fn mirrors(&self) -> Vec<(usize, &MirrorNode)> {
        self.nodes
            .iter()
            .enumerate()
            .filter_map(|(i, n)| match n {
                Node::Mirror(m) => Some((self.cluster_of[i], m.as_ref())),
                _ => None,
            })
            .collect()
    }

    /// The per-Link service mirrors (no local mirror), with their source cluster.
    pub fn link_mirrors(&self) -> Vec<(usize, &MirrorNode)> {
        let mut all = self.mirrors();
        all.retain(|(_, m)| !m.is_local());
        all
    }
}
