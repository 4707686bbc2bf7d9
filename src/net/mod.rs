//! The network model: which clusters and networks exist, how they are joined (latency, jitter,
//! loss, bandwidth), which addresses are routable from where (only gateways across clusters,
//! unless a flat network is declared), and the fault overlays (partitions, degraded links,
//! nodes down) on top of the base graph.
//!
//! Inputs: declarations from the scenario and overlays from the kernel's fault schedule.
//! Outputs: O(1) per-message answers ([`Topology::path_state`], [`Topology::reach`]) and a DOT
//! rendering. Sans-IO: nothing here moves messages, reads time or owns randomness (the caller
//! passes its stream to [`PathMetrics::sample`]). It knows nothing of Kubernetes or TLS.

pub mod addr;
pub mod dot;
pub mod fault;
pub mod topology;

pub use addr::{AddressKind, AddressPlan, Cidr, ClusterAddresses};
pub use fault::{BlockMode, Degradation, Direction, Fault, FaultId, Partition};
pub use topology::{
    ClusterSpec, Delivery, NetworkKind, NodeId, PathMetrics, PathSpec, PathState, Reach, Topology,
    TopologyError, Unroutable,
};
