//! What each scenario fault does, resolved once when the world is built: the topology overlays
//! it adds while active, and what it does to components (take them down, fail DNS, skew a
//! clock, ...), with every cluster, component and network name turned into an index or id.
//! A name that does not resolve is an error of the build, never a guess.
//!
//! This is the one place that knows what a fault *kind* does to the world.

use crate::net::fault::{BlockMode, Degradation, Direction, Fault};
use crate::net::topology::NodeId;
use crate::scenario::{FaultKind, PartitionMode, Scenario};
use crate::sim::{ComponentId, SimDuration};
use std::collections::BTreeMap;

/// The world as the plans see it at build time: names to indexes and ids.
pub(crate) struct Wiring<'a> {
    pub scenario: &'a Scenario,
    /// Topology node of each cluster and network, by name.
    pub net_nodes: &'a BTreeMap<String, NodeId>,
    /// Per cluster: its API server, kubelet, CoreDNS and gateway.
    pub api: &'a [ComponentId],
    pub kubelet: &'a [ComponentId],
    pub dns: &'a [ComponentId],
    pub gateway: &'a [Option<ComponentId>],
    /// Every component of each cluster, in id order (the fault injector excluded).
    pub components: &'a [Vec<ComponentId>],
    /// The service mirror of each (cluster, link name).
    pub mirrors: &'a BTreeMap<(usize, String), ComponentId>,
    /// Test breakage `partition-cuts-whole-cluster`.
    pub partition_cuts_whole_cluster: bool,
}

impl Wiring<'_> {
    fn cluster(&self, name: &str) -> Result<usize, String> {
        self.scenario
            .clusters
            .iter()
            .position(|c| c.name == name)
            .ok_or_else(|| format!("unknown cluster \"{name}\""))
    }
    fn node(&self, name: &str) -> Result<NodeId, String> {
        self.net_nodes
            .get(name)
            .copied()
            .ok_or_else(|| format!("unknown cluster or network \"{name}\""))
    }
}

/// What an active fault does to components (its topology overlays aside).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ComponentFault {
    /// Nothing: the fault is all topology.
    None,
    /// These components are down (crashed processes, a cluster's hosts).
    Down(Vec<ComponentId>),
    /// This CoreDNS drops every query.
    DnsFailing(ComponentId),
    /// The container of a pod dies (once, when injected).
    KillPod {
        kubelet: ComponentId,
        namespace: String,
        pod: String,
    },
    /// A cluster's clock reads `skewed_ns` off while active, its scenario skew `base_ns` after.
    ClockSkew {
        cluster: usize,
        skewed_ns: i64,
        base_ns: i64,
    },
    /// Every open watch of a cluster's API server gets 410 Gone (once, when injected).
    Compact(usize),
    /// A cluster's certificates are expired while active.
    CertsExpired(usize),
    /// A cluster's workload certificates are reissued (once, when injected).
    RotateCerts(usize),
    /// A cluster is re-rooted under `anchor` while active, under `base` after.
    TrustAnchor {
        cluster: usize,
        anchor: String,
        base: String,
        trust_domain: String,
    },
}

/// One scenario fault, resolved.
#[derive(Clone, Debug)]
pub(crate) struct Plan {
    pub overlays: Vec<Fault>,
    pub components: ComponentFault,
    /// When it heals, after it starts: its `for`, or Kubernetes restarting a crashed
    /// controller after its back-off; `None`: never.
    pub heals_after: Option<SimDuration>,
}

/// A crashed controller is restarted by Kubernetes after this back-off (when the scenario gives
/// its crash no duration).
const CONTROLLER_RESTART: SimDuration = SimDuration::from_secs(10);

pub(crate) fn plan(
    kind: &FaultKind,
    duration: Option<SimDuration>,
    w: &Wiring<'_>,
) -> Result<Plan, String> {
    let components = match kind {
        FaultKind::Partition { .. } | FaultKind::SlowPath { .. } | FaultKind::LossyPath { .. } => {
            ComponentFault::None
        }
        FaultKind::ClusterDown(c) => ComponentFault::Down(w.components[w.cluster(c)?].clone()),
        FaultKind::ApiServerDown(c) => ComponentFault::Down(vec![w.api[w.cluster(c)?]]),
        FaultKind::GatewayDown(c) => {
            ComponentFault::Down(w.gateway[w.cluster(c)?].into_iter().collect())
        }
        FaultKind::ControllerCrash { cluster, link } => {
            let ci = w.cluster(cluster)?;
            let mirror = w
                .mirrors
                .get(&(ci, link.clone()))
                .ok_or_else(|| format!("cluster \"{cluster}\" has no service mirror \"{link}\""))?;
            ComponentFault::Down(vec![*mirror])
        }
        FaultKind::PodKill {
            cluster,
            namespace,
            pod,
        } => ComponentFault::KillPod {
            kubelet: w.kubelet[w.cluster(cluster)?],
            namespace: namespace.clone(),
            pod: pod.clone(),
        },
        FaultKind::DnsFailure(c) => ComponentFault::DnsFailing(w.dns[w.cluster(c)?]),
        FaultKind::ClockSkew { cluster, by_ns } => {
            let ci = w.cluster(cluster)?;
            let base_ns = w.scenario.clusters[ci].clock_skew_ns;
            ComponentFault::ClockSkew {
                cluster: ci,
                skewed_ns: base_ns + by_ns,
                base_ns,
            }
        }
        FaultKind::Compact(c) => ComponentFault::Compact(w.cluster(c)?),
        FaultKind::CertExpiry(c) => ComponentFault::CertsExpired(w.cluster(c)?),
        FaultKind::RotateCerts(c) => ComponentFault::RotateCerts(w.cluster(c)?),
        FaultKind::TrustAnchor { cluster, anchor } => {
            let ci = w.cluster(cluster)?;
            ComponentFault::TrustAnchor {
                cluster: ci,
                anchor: anchor.clone(),
                base: w.scenario.clusters[ci].trust_anchor.clone(),
                trust_domain: w.scenario.linkerd.trust_domain.clone(),
            }
        }
    };
    let heals_after = match (duration, kind) {
        (Some(d), _) => Some(d),
        (None, FaultKind::ControllerCrash { .. }) => Some(CONTROLLER_RESTART),
        (None, _) => None,
    };
    Ok(Plan {
        overlays: overlays(kind, w)?,
        components,
        heals_after,
    })
}

/// The topology overlays a fault adds (none for faults that act on components). With the
/// test-only breakage `partition-cuts-whole-cluster`, a partition isolates its first group from
/// *every* other node instead of only from the other groups.
fn overlays(kind: &FaultKind, w: &Wiring<'_>) -> Result<Vec<Fault>, String> {
    let ids = |names: &[String]| -> Result<Vec<NodeId>, String> {
        names.iter().map(|n| w.node(n)).collect()
    };
    Ok(match kind {
        FaultKind::Partition {
            groups,
            one_way,
            mode,
        } => {
            let mode = match mode {
                PartitionMode::Drop => BlockMode::Drop,
                PartitionMode::Reject => BlockMode::Reject,
            };
            if w.partition_cuts_whole_cluster {
                let first = ids(&groups[0])?;
                let rest: Vec<NodeId> = w
                    .net_nodes
                    .values()
                    .copied()
                    .filter(|n| !first.contains(n))
                    .collect();
                return Ok(vec![Fault::partition(&first, &rest, mode)]);
            }
            let mut out = Vec::new();
            for i in 0..groups.len() {
                for j in (i + 1)..groups.len() {
                    if *one_way && i != 0 {
                        continue;
                    }
                    let (a, b) = (ids(&groups[i])?, ids(&groups[j])?);
                    out.push(if *one_way {
                        Fault::partition_one_way(&a, &b, mode)
                    } else {
                        Fault::partition(&a, &b, mode)
                    });
                }
            }
            out
        }
        FaultKind::ClusterDown(c) => vec![Fault::Down(w.node(c)?)],
        FaultKind::SlowPath { a, b, latency } => {
            vec![Fault::slow(w.node(a)?, w.node(b)?, *latency)]
        }
        FaultKind::LossyPath {
            a,
            b,
            loss,
            duplicate,
            reorder,
        } => vec![Fault::Degrade {
            a: w.node(a)?,
            b: w.node(b)?,
            direction: Direction::Both,
            degradation: Degradation {
                loss: *loss,
                duplicate: *duplicate,
                reorder: *reorder,
                ..Degradation::default()
            },
        }],
        FaultKind::ApiServerDown(_)
        | FaultKind::GatewayDown(_)
        | FaultKind::ControllerCrash { .. }
        | FaultKind::PodKill { .. }
        | FaultKind::DnsFailure(_)
        | FaultKind::ClockSkew { .. }
        | FaultKind::Compact(_)
        | FaultKind::CertExpiry(_)
        | FaultKind::RotateCerts(_)
        | FaultKind::TrustAnchor { .. } => Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::load_str;

    /// A one-way partition cuts only the first group's direction.
    #[test]
    fn a_one_way_partition_is_asymmetric_in_the_topology() {
        let text = r#"
[sim]
name = "t"
duration = "1m"
[[cluster]]
name = "west"
[[cluster]]
name = "east"
[[fault]]
at = "10s"
partition = [["east"], ["west"]]
one_way = true
"#;
        let s = load_str("t.toml", text).unwrap();
        let mut net = crate::world::network::build(&s).unwrap();
        let wiring = Wiring {
            scenario: &s,
            net_nodes: &net.nodes,
            api: &[],
            kubelet: &[],
            dns: &[],
            gateway: &[],
            components: &[],
            mirrors: &BTreeMap::new(),
            partition_cuts_whole_cluster: false,
        };
        let plan = plan(&s.faults[0].kind, None, &wiring).unwrap();
        assert_eq!(plan.components, ComponentFault::None);
        assert_eq!(plan.heals_after, None);
        for o in plan.overlays {
            net.topology.add_fault(o).unwrap();
        }
        let (w, e) = (net.nodes["west"], net.nodes["east"]);
        assert!(
            net.topology.path_state(w, e).is_up(),
            "west -> east stays up"
        );
        assert!(
            !net.topology.path_state(e, w).is_up(),
            "east -> west is cut"
        );
    }
}
