//! Builds the network [`Topology`] from a scenario (the fault injector adds the scenario's
//! network faults as overlays on it).
//!
//! Default: a scenario without any `[[path]]` gets an implicit `internet` network node with every
//! cluster attached at 10 ms ± 2 ms, so small scenarios need not spell out a topology. A cluster
//! with `network = "x"` is attached to network `x` by a 1 ms path.

use crate::net::topology::{ClusterSpec, NetworkKind, NodeId, PathSpec, Topology};
use crate::scenario::Scenario;
use crate::sim::SimDuration;
use std::collections::BTreeMap;

pub struct BuiltNetwork {
    pub topology: Topology,
    pub nodes: BTreeMap<String, NodeId>,
    /// Cluster nodes in scenario order.
    pub clusters: Vec<NodeId>,
}

fn kind_of(name: &str) -> NetworkKind {
    if name.contains("internet") {
        NetworkKind::Internet
    } else if name.contains("prem") {
        NetworkKind::OnPrem
    } else {
        NetworkKind::Vpc
    }
}

pub fn build(scenario: &Scenario) -> Result<BuiltNetwork, String> {
    let mut topology = Topology::default();
    let mut nodes = BTreeMap::new();
    let mut clusters = Vec::new();
    for c in &scenario.clusters {
        let mut spec = ClusterSpec::named(&c.name);
        spec.local_latency = c.in_cluster_latency;
        spec.pod_cidr = c
            .pod_cidr
            .and_then(|p| crate::net::addr::Cidr::parse(&p.to_string()));
        let id = topology.add_cluster(spec).map_err(|e| e.to_string())?;
        nodes.insert(c.name.clone(), id);
        clusters.push(id);
    }
    for n in &scenario.networks {
        let id = topology
            .add_network(n, kind_of(n))
            .map_err(|e| e.to_string())?;
        nodes.insert(n.clone(), id);
    }
    for c in &scenario.clusters {
        if let Some(n) = &c.network {
            topology
                .set_path(
                    nodes[&c.name],
                    nodes[n],
                    PathSpec::latency(SimDuration::from_millis(1)),
                )
                .map_err(|e| e.to_string())?;
        }
    }
    if scenario.paths.is_empty() {
        let internet = topology
            .add_network("internet", NetworkKind::Internet)
            .map_err(|e| e.to_string())?;
        nodes.insert("internet".into(), internet);
        for &c in &clusters {
            let spec = PathSpec {
                jitter: SimDuration::from_millis(2),
                ..PathSpec::latency(SimDuration::from_millis(10))
            };
            topology
                .set_path(c, internet, spec)
                .map_err(|e| e.to_string())?;
        }
    }
    for p in &scenario.paths {
        let spec = PathSpec {
            latency: p.latency,
            jitter: p.jitter,
            loss: p.loss,
            bandwidth_bytes_per_sec: p.bandwidth,
        };
        topology
            .set_path(nodes[&p.a], nodes[&p.b], spec)
            .map_err(|e| e.to_string())?;
    }
    for group in &scenario.flat_networks {
        let ids: Vec<NodeId> = group.iter().map(|c| nodes[c]).collect();
        topology.declare_flat(&ids).map_err(|e| e.to_string())?;
    }
    Ok(BuiltNetwork {
        topology,
        nodes,
        clusters,
    })
}

/// `mcsim graph`: the topology (clusters with the address blocks their API servers and pods use,
/// networks, paths, flat networks) with the scenario's gateways (a node per cluster that runs
/// one, with its address and port) and Links (an arrow from the linking cluster to the target's
/// gateway, or to the target cluster itself for a Link without a gateway: remote discovery).
pub fn to_dot(scenario: &Scenario, built: &BuiltNetwork) -> String {
    use crate::net::dot::quote;
    let mut extra = Vec::new();
    let gateway_node = |cluster: &str| format!("{cluster}/gateway");
    for (c, node) in scenario.clusters.iter().zip(&built.clusters) {
        if !c.gateway {
            continue;
        }
        let address = built
            .topology
            .cluster(*node)
            .map(|x| x.addresses.gateway.to_string())
            .unwrap_or_default();
        extra.push(format!(
            "  {} [shape=diamond, label={}];",
            quote(&gateway_node(&c.name)),
            quote(&format!(
                "{} gateway\n{address}:{}",
                c.name,
                crate::world::gateway::GATEWAY_PORT
            ))
        ));
        extra.push(format!(
            "  {} -- {} [style=bold, label=\"gateway\"];",
            quote(&c.name),
            quote(&gateway_node(&c.name))
        ));
    }
    for l in &scenario.links {
        let has_gateway = l.gateway
            && scenario
                .clusters
                .iter()
                .any(|c| c.name == l.to && c.gateway);
        let target = if has_gateway {
            gateway_node(&l.to)
        } else {
            l.to.clone()
        };
        let mut label = format!("link {}", l.name);
        if l.headless {
            label.push_str(" (headless)");
        }
        if !has_gateway {
            label.push_str(" (remote discovery)");
        }
        if !l.at.is_zero() {
            label.push_str(&format!(" at {}", l.at));
        }
        extra.push(format!(
            "  {} -- {} [dir=forward, style=dashed, color=blue, constraint=false, label={}];",
            quote(&l.from),
            quote(&target),
            quote(&label)
        ));
    }
    built.topology.to_dot_with(&extra)
}
