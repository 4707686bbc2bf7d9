//! The network topology: a petgraph graph of clusters and networks joined by paths, the address
//! plan, cross-cluster reachability rules, routing, and fault overlays.
//!
//! Inputs: scenario-level declarations (clusters, networks, paths, flat networks) and fault
//! overlays added/removed by the kernel. Outputs: [`Reach`] for a (source cluster, destination
//! IP) pair, and [`PathState`] for a (source node, destination node) pair, looked up in O(1) from
//! tables recomputed on every change (so per-message queries are cheap). Routing is Dijkstra by
//! latency (fewest hops, then lowest node id on ties). Faults live beside the base graph, never in
//! it: removing every overlay gives back exactly the base tables.
//!
//! This module sends nothing and keeps no clock; it draws randomness only in
//! [`PathMetrics::sample`], from the caller's stream. It knows nothing of Kubernetes or TLS.

use super::addr::{AddressKind, AddressPlan, Cidr, ClusterAddresses};
use super::fault::{BlockMode, Degradation, Direction, Fault, FaultId};
use crate::sim::{Prng, Ratio, SimDuration};
use petgraph::graph::{DiGraph, EdgeIndex, NodeIndex};
use petgraph::visit::EdgeRef;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};
use std::fmt;
use std::net::Ipv4Addr;

/// A node of the topology (cluster or network). Ids are dense and never reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub u32);

impl NodeId {
    fn index(self) -> NodeIndex {
        NodeIndex::new(self.0 as usize)
    }
    fn from_index(i: NodeIndex) -> NodeId {
        NodeId(i.index() as u32)
    }
}

/// Kinds of named networks clusters attach to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NetworkKind {
    Vpc,
    OnPrem,
    Internet,
}

/// A cluster node: its address blocks and the latency of a hop inside it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cluster {
    pub name: String,
    pub addresses: ClusterAddresses,
    pub local_latency: SimDuration,
    pub local_jitter: SimDuration,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Network {
    pub name: String,
    pub kind: NetworkKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Node {
    Cluster(Cluster),
    Network(Network),
}

impl Node {
    pub fn name(&self) -> &str {
        match self {
            Node::Cluster(c) => &c.name,
            Node::Network(n) => &n.name,
        }
    }
}

/// How to add a cluster; `None` fields take the [`AddressPlan`] defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterSpec {
    pub name: String,
    pub pod_cidr: Option<Cidr>,
    pub service_cidr: Option<Cidr>,
    pub gateway: Option<Ipv4Addr>,
    pub local_latency: SimDuration,
    pub local_jitter: SimDuration,
}

/// Default one-hop latency inside a cluster.
pub const DEFAULT_LOCAL_LATENCY: SimDuration = SimDuration::from_micros(200);
/// Default jitter bound inside a cluster.
pub const DEFAULT_LOCAL_JITTER: SimDuration = SimDuration::from_micros(100);

impl ClusterSpec {
    pub fn named(name: &str) -> ClusterSpec {
        ClusterSpec {
            name: name.to_owned(),
            pod_cidr: None,
            service_cidr: None,
            gateway: None,
            local_latency: DEFAULT_LOCAL_LATENCY,
            local_jitter: DEFAULT_LOCAL_JITTER,
        }
    }
}

/// A path (graph edge) between two adjacent nodes, one direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct PathSpec {
    pub latency: SimDuration,
    /// Upper bound of the uniform extra delay per message.
    pub jitter: SimDuration,
    pub loss: Ratio,
    pub bandwidth_bytes_per_sec: Option<u64>,
}

impl PathSpec {
    pub fn latency(latency: SimDuration) -> PathSpec {
        PathSpec {
            latency,
            ..PathSpec::default()
        }
    }
}

/// What a message along a route experiences: latency and jitter bounds summed over the hops,
/// ratios combined as independent per-hop events (`1 - Π(1 - p)`), bandwidth the minimum.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct PathMetrics {
    pub latency: SimDuration,
    pub jitter: SimDuration,
    pub loss: Ratio,
    pub duplicate: Ratio,
    pub reorder: Ratio,
    pub bandwidth_bytes_per_sec: Option<u64>,
    pub hops: u32,
}

/// One message's fate on a path, drawn by [`PathMetrics::sample`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    Lost,
    /// Deliver after `delay`; if `duplicate_delay` is set, deliver a copy after that delay too.
    Deliver {
        delay: SimDuration,
        duplicate_delay: Option<SimDuration>,
    },
}

impl PathMetrics {
    /// Draws one message's fate from `rng`, in this order: loss, jitter, reordering (an extra
    /// delay of up to one more `latency`, letting later messages overtake), duplication (a copy
    /// with its own jitter draw). `size_bytes` adds serialisation time at the path's bandwidth.
    pub fn sample(&self, rng: &mut Prng, size_bytes: u64) -> Delivery {
        if rng.chance(self.loss) {
            return Delivery::Lost;
        }
        let serialise = match self.bandwidth_bytes_per_sec {
            Some(bw) if bw > 0 => SimDuration(
                u64::try_from(u128::from(size_bytes) * 1_000_000_000 / u128::from(bw))
                    .unwrap_or(u64::MAX),
            ),
            Some(_) | None => SimDuration::ZERO,
        };
        let base = self.latency + serialise;
        let mut delay = base + SimDuration(rng.range_inclusive(0, self.jitter.0));
        if rng.chance(self.reorder) {
            delay = delay + SimDuration(rng.range_inclusive(0, self.latency.0.max(1)));
        }
        let duplicate_delay = if rng.chance(self.duplicate) {
            Some(base + SimDuration(rng.range_inclusive(0, self.jitter.0)))
        } else {
            None
        };
        Delivery::Deliver {
            delay,
            duplicate_delay,
        }
    }
}

/// The state of the (directed) path from one node to another under the active faults.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PathState {
    Up(PathMetrics),
    /// A partition separates the endpoints, or cuts every route between them.
    Blocked(BlockMode),
    /// The source, the destination, or every route's transit node is down.
    Down,
    /// The base graph has no route at all.
    NoRoute,
}

impl PathState {
    pub fn is_up(&self) -> bool {
        matches!(self, PathState::Up(_))
    }
}

/// Why an address cannot be reached from a cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Unroutable {
    /// No cluster owns the address.
    UnknownAddress,
    /// Service (ClusterIP) addresses mean something only inside their own cluster.
    ForeignServiceAddress,
    /// Pod addresses of another cluster need a declared flat network (pod-to-pod mode).
    ForeignPodAddress,
    /// The clusters are not connected in the base graph.
    NoRoute,
}

/// Address-level reachability from a cluster, on the base topology (faults are *not* applied:
/// ask [`Topology::path_state`] with `dst` for the current state).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reach {
    /// The address is inside the source cluster.
    Local {
        latency: SimDuration,
        jitter: SimDuration,
        kind: AddressKind,
    },
    /// The address belongs to cluster `dst` and is routable from the source.
    Route {
        dst: NodeId,
        kind: AddressKind,
        latency: SimDuration,
        jitter: SimDuration,
        loss: Ratio,
    },
    Unroutable(Unroutable),
}

/// Topology construction and fault errors.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TopologyError {
    DuplicateName(String),
    UnknownNode(NodeId),
    NotACluster(NodeId),
    /// A path from a node to itself.
    SelfLoop(NodeId),
    /// A link fault names two nodes with no path between them.
    NoSuchLink {
        a: NodeId,
        b: NodeId,
    },
    /// The address plan has no block for this cluster ordinal.
    AddressPlanExhausted {
        ordinal: u32,
    },
    /// Two clusters' (or one cluster's) address blocks overlap.
    AddressOverlap {
        first: String,
        second: String,
    },
    /// A partition with an empty side.
    EmptyPartitionSide,
}

impl fmt::Display for TopologyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TopologyError::DuplicateName(n) => write!(f, "node name {n:?} is already used"),
            TopologyError::UnknownNode(id) => write!(f, "no node with id {}", id.0),
            TopologyError::NotACluster(id) => {
                write!(f, "node {} is a network, not a cluster", id.0)
            }
            TopologyError::SelfLoop(id) => write!(f, "path from node {} to itself", id.0),
            TopologyError::NoSuchLink { a, b } => {
                write!(f, "no path between nodes {} and {}", a.0, b.0)
            }
            TopologyError::AddressPlanExhausted { ordinal } => {
                write!(
                    f,
                    "the address plan has no addresses for cluster #{ordinal}"
                )
            }
            TopologyError::AddressOverlap { first, second } => {
                write!(f, "addresses of {first} overlap {second}")
            }
            TopologyError::EmptyPartitionSide => write!(f, "a partition needs nodes on both sides"),
        }
    }
}

/// A computed path: its state and, when up, the hop list (source first, destination last).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    state: PathState,
    route: Vec<NodeId>,
}

/// The topology plus its overlays and precomputed path tables.
#[derive(Clone, Debug)]
pub struct Topology {
    graph: DiGraph<Node, PathSpec>,
    names: BTreeMap<String, NodeId>,
    plan: AddressPlan,
    clusters_added: u32,
    flat_groups: Vec<BTreeSet<NodeId>>,
    faults: BTreeMap<FaultId, Fault>,
    next_fault: u64,
    base: Vec<Entry>,
    effective: Vec<Entry>,
    epoch: u64,
}

impl Default for Topology {
    fn default() -> Self {
        Topology::new(AddressPlan::default())
    }
}

impl Topology {
    pub fn new(plan: AddressPlan) -> Topology {
        Topology {
            graph: DiGraph::new(),
            names: BTreeMap::new(),
            plan,
            clusters_added: 0,
            flat_groups: Vec::new(),
            faults: BTreeMap::new(),
            next_fault: 1,
            base: Vec::new(),
            effective: Vec::new(),
            epoch: 0,
        }
    }

    // ---- construction ----

    /// Adds a cluster; addresses not given in `spec` come from the plan (by the order clusters
    /// are added). Every block and gateway is checked against all existing clusters.
    pub fn add_cluster(&mut self, spec: ClusterSpec) -> Result<NodeId, TopologyError> {
        if self.names.contains_key(&spec.name) {
            return Err(TopologyError::DuplicateName(spec.name));
        }
        let ordinal = self.clusters_added + 1;
        let defaults = self.plan.for_cluster(ordinal);
        let pick = |given: Option<Cidr>, default: Option<Cidr>| given.or(default);
        let pod_cidr = pick(spec.pod_cidr, defaults.map(|d| d.pod_cidr));
        let service_cidr = pick(spec.service_cidr, defaults.map(|d| d.service_cidr));
        let gateway = spec.gateway.or(defaults.map(|d| d.gateway));
        let (Some(pod_cidr), Some(service_cidr), Some(gateway)) = (pod_cidr, service_cidr, gateway)
        else {
            return Err(TopologyError::AddressPlanExhausted { ordinal });
        };
        let addresses = ClusterAddresses {
            pod_cidr,
            service_cidr,
            gateway,
        };
        self.check_addresses(&spec.name, &addresses)?;
        let cluster = Cluster {
            name: spec.name.clone(),
            addresses,
            local_latency: spec.local_latency,
            local_jitter: spec.local_jitter,
        };
        let id = NodeId::from_index(self.graph.add_node(Node::Cluster(cluster)));
        self.names.insert(spec.name, id);
        self.clusters_added = ordinal;
        self.recompute(true);
        Ok(id)
    }

    fn check_addresses(&self, name: &str, a: &ClusterAddresses) -> Result<(), TopologyError> {
        let overlap =
            |first: String, second: String| Err(TopologyError::AddressOverlap { first, second });
        if a.pod_cidr.overlaps(&a.service_cidr) {
            return overlap(format!("{name} pods"), format!("{name} services"));
        }
        if a.pod_cidr.contains(a.gateway) || a.service_cidr.contains(a.gateway) {
            return overlap(format!("{name} gateway"), format!("{name} pods/services"));
        }
        for c in self.clusters() {
            let (other, b) = (&c.name, &c.addresses);
            let blocks = [(a.pod_cidr, "pods"), (a.service_cidr, "services")];
            let others = [(b.pod_cidr, "pods"), (b.service_cidr, "services")];
            for (mine, mine_kind) in blocks {
                for (theirs, their_kind) in others {
                    if mine.overlaps(&theirs) {
                        return overlap(
                            format!("{name} {mine_kind}"),
                            format!("{other} {their_kind}"),
                        );
                    }
                }
                if mine.contains(b.gateway) {
                    return overlap(format!("{name} {mine_kind}"), format!("{other} gateway"));
                }
            }
            if b.pod_cidr.contains(a.gateway)
                || b.service_cidr.contains(a.gateway)
                || b.gateway == a.gateway
            {
                return overlap(format!("{name} gateway"), format!("{other} addresses"));
            }
        }
        Ok(())
    }

    pub fn add_network(&mut self, name: &str, kind: NetworkKind) -> Result<NodeId, TopologyError> {
        if self.names.contains_key(name) {
            return Err(TopologyError::DuplicateName(name.to_owned()));
        }
        let id = NodeId::from_index(self.graph.add_node(Node::Network(Network {
            name: name.to_owned(),
            kind,
        })));
        self.names.insert(name.to_owned(), id);
        self.recompute(true);
        Ok(id)
    }

    fn check_node(&self, id: NodeId) -> Result<(), TopologyError> {
        if (id.0 as usize) < self.graph.node_count() {
            Ok(())
        } else {
            Err(TopologyError::UnknownNode(id))
        }
    }

    fn set_edge(&mut self, from: NodeId, to: NodeId, spec: PathSpec) {
        match self.graph.find_edge(from.index(), to.index()) {
            Some(e) => {
                if let Some(w) = self.graph.edge_weight_mut(e) {
                    *w = spec;
                }
            }
            None => {
                self.graph.add_edge(from.index(), to.index(), spec);
            }
        }
    }

    /// Adds or replaces the path between `a` and `b`, both directions.
    pub fn set_path(&mut self, a: NodeId, b: NodeId, spec: PathSpec) -> Result<(), TopologyError> {
        self.set_path_one_way(a, b, spec)?;
        self.set_path_one_way(b, a, spec)
    }

    /// Adds or replaces the path `from → to` only.
    pub fn set_path_one_way(
        &mut self,
        from: NodeId,
        to: NodeId,
        spec: PathSpec,
    ) -> Result<(), TopologyError> {
        self.check_node(from)?;
        self.check_node(to)?;
        if from == to {
            return Err(TopologyError::SelfLoop(from));
        }
        self.set_edge(from, to, spec);
        self.recompute(true);
        Ok(())
    }

    /// Removes the path between `a` and `b` in both directions; returns whether any existed.
    pub fn remove_path(&mut self, a: NodeId, b: NodeId) -> bool {
        let mut removed = false;
        for (u, v) in [(a, b), (b, a)] {
            if let Some(e) = self.graph.find_edge(u.index(), v.index()) {
                removed |= self.graph.remove_edge(e).is_some();
            }
        }
        if removed {
            self.recompute(true);
        }
        removed
    }

    /// Declares that pod addresses of these clusters are mutually routable (pod-to-pod /
    /// remote-discovery mode, spec §10.3). Service addresses stay cluster-local.
    pub fn declare_flat(&mut self, clusters: &[NodeId]) -> Result<(), TopologyError> {
        for &c in clusters {
            self.cluster(c).ok_or(TopologyError::NotACluster(c))?;
        }
        self.flat_groups.push(clusters.iter().copied().collect());
        self.epoch += 1;
        Ok(())
    }

    /// The declared flat networks: groups of clusters whose pods reach each other directly.
    pub fn flat_groups(&self) -> &[BTreeSet<NodeId>] {
        &self.flat_groups
    }

    /// Whether pods of `a` and `b` share a declared flat network.
    pub fn is_flat(&self, a: NodeId, b: NodeId) -> bool {
        self.flat_groups
            .iter()
            .any(|g| g.contains(&a) && g.contains(&b))
    }

    // ---- lookups ----

    pub fn node(&self, name: &str) -> Option<NodeId> {
        self.names.get(name).copied()
    }

    pub fn node_info(&self, id: NodeId) -> Option<&Node> {
        self.graph.node_weight(id.index())
    }

    pub fn name(&self, id: NodeId) -> &str {
        self.node_info(id).map_or("?", Node::name)
    }

    pub fn cluster(&self, id: NodeId) -> Option<&Cluster> {
        match self.node_info(id) {
            Some(Node::Cluster(c)) => Some(c),
            Some(Node::Network(_)) | None => None,
        }
    }

    pub fn node_ids(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.graph.node_indices().map(NodeId::from_index)
    }

    pub fn clusters(&self) -> impl Iterator<Item = &Cluster> + '_ {
        self.graph.node_weights().filter_map(|n| match n {
            Node::Cluster(c) => Some(c),
            Node::Network(_) => None,
        })
    }

    /// The path spec `from → to`, if that edge exists.
    pub fn path(&self, from: NodeId, to: NodeId) -> Option<&PathSpec> {
        self.graph
            .find_edge(from.index(), to.index())
            .and_then(|e| self.graph.edge_weight(e))
    }

    /// Every edge as `(from, to, spec)`, in insertion order.
    pub fn edges(&self) -> impl Iterator<Item = (NodeId, NodeId, &PathSpec)> + '_ {
        self.graph.edge_references().map(|e| {
            (
                NodeId::from_index(e.source()),
                NodeId::from_index(e.target()),
                e.weight(),
            )
        })
    }

    /// Which cluster owns `ip`, and as what.
    pub fn owner_of(&self, ip: Ipv4Addr) -> Option<(NodeId, AddressKind)> {
        self.graph
            .node_indices()
            .find_map(|i| match &self.graph[i] {
                Node::Cluster(c) if c.addresses.gateway == ip => {
                    Some((NodeId::from_index(i), AddressKind::Gateway))
                }
                Node::Cluster(c) if c.addresses.pod_cidr.contains(ip) => {
                    Some((NodeId::from_index(i), AddressKind::Pod))
                }
                Node::Cluster(c) if c.addresses.service_cidr.contains(ip) => {
                    Some((NodeId::from_index(i), AddressKind::Service))
                }
                Node::Cluster(_) | Node::Network(_) => None,
            })
    }

    /// Address-level reachability of `dst_ip` from cluster `src` on the base topology. Gateway
    /// addresses are routable from anywhere connected; pod addresses only within a declared flat
    /// network; service addresses only inside their own cluster.
    pub fn reach(&self, src: NodeId, dst_ip: Ipv4Addr) -> Reach {
        let Some((dst, kind)) = self.owner_of(dst_ip) else {
            return Reach::Unroutable(Unroutable::UnknownAddress);
        };
        if dst == src {
            let (latency, jitter) = self
                .cluster(src)
                .map_or((SimDuration::ZERO, SimDuration::ZERO), |c| {
                    (c.local_latency, c.local_jitter)
                });
            return Reach::Local {
                latency,
                jitter,
                kind,
            };
        }
        match kind {
            AddressKind::Service => return Reach::Unroutable(Unroutable::ForeignServiceAddress),
            AddressKind::Pod if !self.is_flat(src, dst) => {
                return Reach::Unroutable(Unroutable::ForeignPodAddress);
            }
            AddressKind::Pod | AddressKind::Gateway => {}
        }
        match self.base_path_state(src, dst) {
            PathState::Up(m) => Reach::Route {
                dst,
                kind,
                latency: m.latency,
                jitter: m.jitter,
                loss: m.loss,
            },
            PathState::Blocked(_) | PathState::Down | PathState::NoRoute => {
                Reach::Unroutable(Unroutable::NoRoute)
            }
        }
    }

    // ---- faults ----

    /// Activates an overlay; returns its id for [`Self::remove_fault`].
    pub fn add_fault(&mut self, fault: Fault) -> Result<FaultId, TopologyError> {
        match &fault {
            Fault::Partition(p) => {
                if p.a.is_empty() || p.b.is_empty() {
                    return Err(TopologyError::EmptyPartitionSide);
                }
                for &n in p.a.iter().chain(p.b.iter()) {
                    self.check_node(n)?;
                }
            }
            Fault::Degrade { a, b, .. } => {
                self.check_node(*a)?;
                self.check_node(*b)?;
                let adjacent = self.graph.find_edge(a.index(), b.index()).is_some()
                    || self.graph.find_edge(b.index(), a.index()).is_some();
                if !adjacent {
                    return Err(TopologyError::NoSuchLink { a: *a, b: *b });
                }
            }
            Fault::Down(n) => self.check_node(*n)?,
        }
        let id = FaultId(self.next_fault);
        self.next_fault += 1;
        self.faults.insert(id, fault);
        self.recompute(false);
        Ok(id)
    }

    /// Heals one overlay; returns it if it was active.
    pub fn remove_fault(&mut self, id: FaultId) -> Option<Fault> {
        let removed = self.faults.remove(&id);
        if removed.is_some() {
            self.recompute(false);
        }
        removed
    }

    /// Heals everything (the liveness phase's "restore every link").
    pub fn clear_faults(&mut self) {
        if !self.faults.is_empty() {
            self.faults.clear();
            self.recompute(false);
        }
    }

    pub fn faults(&self) -> impl Iterator<Item = (FaultId, &Fault)> + '_ {
        self.faults.iter().map(|(id, f)| (*id, f))
    }

    /// Whether `node` is down under the active overlays.
    pub fn is_down(&self, node: NodeId) -> bool {
        self.faults
            .values()
            .any(|f| matches!(f, Fault::Down(n) if *n == node))
    }

    /// Bumped on every change (topology or overlay); lets callers cache derived data.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    // ---- path tables ----

    fn slot(&self, src: NodeId, dst: NodeId) -> Option<usize> {
        let n = self.graph.node_count();
        let (s, d) = (src.0 as usize, dst.0 as usize);
        (s < n && d < n).then_some(s * n + d)
    }

    /// The current state of `src → dst` under every active overlay. O(1).
    pub fn path_state(&self, src: NodeId, dst: NodeId) -> PathState {
        self.slot(src, dst)
            .and_then(|i| self.effective.get(i))
            .map_or(PathState::NoRoute, |e| e.state)
    }

    /// The state of `src → dst` with no overlays. O(1).
    pub fn base_path_state(&self, src: NodeId, dst: NodeId) -> PathState {
        self.slot(src, dst)
            .and_then(|i| self.base.get(i))
            .map_or(PathState::NoRoute, |e| e.state)
    }

    /// The hops of the current route `src → dst` (empty unless the path is up).
    pub fn route(&self, src: NodeId, dst: NodeId) -> &[NodeId] {
        self.slot(src, dst)
            .and_then(|i| self.effective.get(i))
            .map_or(&[], |e| e.route.as_slice())
    }

    fn recompute(&mut self, topology_changed: bool) {
        self.epoch += 1;
        if topology_changed {
            self.base = self.compute(&BTreeMap::new());
        }
        self.effective = if self.faults.is_empty() {
            self.base.clone()
        } else {
            self.compute(&self.faults)
        };
    }

    fn compute(&self, faults: &BTreeMap<FaultId, Fault>) -> Vec<Entry> {
        let overlay = Overlay::new(faults);
        let n = self.graph.node_count();
        let mut table = Vec::with_capacity(n * n);
        for s in 0..n {
            let src = NodeId(s as u32);
            let src_down = overlay.down.contains(&src);
            // Routes avoiding cut links and down nodes; then ignoring cuts; then ignoring downs.
            let clear = (!src_down).then(|| self.dijkstra(src, &overlay, true, true));
            let uncut = (!src_down).then(|| self.dijkstra(src, &overlay, false, true));
            let raw = self.dijkstra(src, &overlay, false, false);
            for d in 0..n {
                let dst = NodeId(d as u32);
                table.push(self.classify(
                    src,
                    dst,
                    &overlay,
                    clear.as_deref(),
                    uncut.as_deref(),
                    &raw,
                ));
            }
        }
        table
    }

    fn classify(
        &self,
        src: NodeId,
        dst: NodeId,
        overlay: &Overlay<'_>,
        clear: Option<&[Option<Pred>]>,
        uncut: Option<&[Option<Pred>]>,
        raw: &[Option<Pred>],
    ) -> Entry {
        let blocked = |mode| Entry {
            state: PathState::Blocked(mode),
            route: Vec::new(),
        };
        let plain = |state| Entry {
            state,
            route: Vec::new(),
        };
        if overlay.down.contains(&src) || overlay.down.contains(&dst) {
            return plain(PathState::Down);
        }
        if src == dst {
            let m = match self.cluster(src) {
                Some(c) => PathMetrics {
                    latency: c.local_latency,
                    jitter: c.local_jitter,
                    ..PathMetrics::default()
                },
                None => PathMetrics::default(),
            };
            return Entry {
                state: PathState::Up(m),
                route: vec![src],
            };
        }
        let endpoint_modes: Vec<BlockMode> = overlay
            .partitions
            .iter()
            .filter(|p| p.blocks(src, dst))
            .map(|p| p.mode)
            .collect();
        if !endpoint_modes.is_empty() {
            return blocked(dominant(&endpoint_modes));
        }
        if let Some(edges) = clear.and_then(|t| self.path_edges(t, src, dst)) {
            let (metrics, route) = self.metrics(src, &edges, overlay);
            return Entry {
                state: PathState::Up(metrics),
                route,
            };
        }
        if let Some(edges) = uncut.and_then(|t| self.path_edges(t, src, dst)) {
            let modes: Vec<BlockMode> = edges
                .iter()
                .filter_map(|&e| self.graph.edge_endpoints(e))
                .flat_map(|(u, v)| {
                    let (u, v) = (NodeId::from_index(u), NodeId::from_index(v));
                    overlay
                        .partitions
                        .iter()
                        .filter(move |p| p.cuts(u, v))
                        .map(|p| p.mode)
                })
                .collect();
            return blocked(dominant(&modes));
        }
        if self.path_edges(raw, src, dst).is_some() {
            return plain(PathState::Down);
        }
        plain(PathState::NoRoute)
    }

    /// Single-source Dijkstra on (latency, hops), ties broken by lower node index. `respect_cuts`
    /// skips links cut by a partition; `avoid_down` never enters a node that is down.
    fn dijkstra(
        &self,
        src: NodeId,
        overlay: &Overlay<'_>,
        respect_cuts: bool,
        avoid_down: bool,
    ) -> Vec<Option<Pred>> {
        let n = self.graph.node_count();
        let mut best: Vec<Option<Pred>> = vec![None; n];
        let Some(slot) = best.get_mut(src.0 as usize) else {
            return best;
        };
        *slot = Some(Pred {
            cost: (0, 0),
            via: None,
        });
        let mut heap = BinaryHeap::new();
        heap.push(Reverse(((0u64, 0u32), src.0)));
        while let Some(Reverse((cost, u))) = heap.pop() {
            if best
                .get(u as usize)
                .copied()
                .flatten()
                .is_some_and(|p| p.cost < cost)
            {
                continue;
            }
            for e in self.graph.edges(NodeIndex::new(u as usize)) {
                let (from, to) = (NodeId(u), NodeId::from_index(e.target()));
                if avoid_down && overlay.down.contains(&to) {
                    continue;
                }
                if respect_cuts && overlay.partitions.iter().any(|p| p.cuts(from, to)) {
                    continue;
                }
                let extra = overlay.degradation(from, to).extra_latency;
                let step = e.weight().latency.0.saturating_add(extra.0);
                let next = (cost.0.saturating_add(step), cost.1.saturating_add(1));
                let Some(entry) = best.get_mut(to.0 as usize) else {
                    continue;
                };
                if entry.is_none_or(|p| next < p.cost) {
                    *entry = Some(Pred {
                        cost: next,
                        via: Some((from, e.id())),
                    });
                    heap.push(Reverse((next, to.0)));
                }
            }
        }
        best
    }

    /// Edges of the route to `dst` in a Dijkstra table, source first; `None` if unreachable.
    fn path_edges(
        &self,
        table: &[Option<Pred>],
        src: NodeId,
        dst: NodeId,
    ) -> Option<Vec<EdgeIndex>> {
        let mut edges = Vec::new();
        let mut at = dst;
        // A route has at most n-1 edges; the bound guards against a malformed table.
        for _ in 0..=table.len() {
            if at == src {
                edges.reverse();
                return Some(edges);
            }
            let (prev, edge) = table.get(at.0 as usize).copied().flatten()?.via?;
            edges.push(edge);
            at = prev;
        }
        None
    }

    fn metrics(
        &self,
        src: NodeId,
        edges: &[EdgeIndex],
        overlay: &Overlay<'_>,
    ) -> (PathMetrics, Vec<NodeId>) {
        let mut m = PathMetrics::default();
        let mut route = vec![src];
        for &e in edges {
            let (Some((u, v)), Some(spec)) =
                (self.graph.edge_endpoints(e), self.graph.edge_weight(e))
            else {
                continue;
            };
            let (u, v) = (NodeId::from_index(u), NodeId::from_index(v));
            let d = overlay.degradation(u, v);
            m.latency = m.latency + spec.latency + d.extra_latency;
            m.jitter = m.jitter + spec.jitter + d.extra_jitter;
            m.loss = combine(combine(m.loss, spec.loss), d.loss);
            m.duplicate = combine(m.duplicate, d.duplicate);
            m.reorder = combine(m.reorder, d.reorder);
            m.bandwidth_bytes_per_sec =
                match (m.bandwidth_bytes_per_sec, spec.bandwidth_bytes_per_sec) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
            m.hops += 1;
            route.push(v);
        }
        (m, route)
    }
}

/// Drop dominates: a route with any black-holing partition on it black-holes.
fn dominant(modes: &[BlockMode]) -> BlockMode {
    if modes.is_empty() || modes.contains(&BlockMode::Drop) {
        BlockMode::Drop
    } else {
        BlockMode::Reject
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Pred {
    cost: (u64, u32),
    via: Option<(NodeId, EdgeIndex)>,
}

/// The active overlays, sorted out by kind for route computation.
struct Overlay<'a> {
    partitions: Vec<&'a super::fault::Partition>,
    down: BTreeSet<NodeId>,
    degraded: BTreeMap<(NodeId, NodeId), Degradation>,
}

impl<'a> Overlay<'a> {
    fn new(faults: &'a BTreeMap<FaultId, Fault>) -> Overlay<'a> {
        let mut o = Overlay {
            partitions: Vec::new(),
            down: BTreeSet::new(),
            degraded: BTreeMap::new(),
        };
        for f in faults.values() {
            match f {
                Fault::Partition(p) => o.partitions.push(p),
                Fault::Down(n) => {
                    o.down.insert(*n);
                }
                Fault::Degrade {
                    a,
                    b,
                    direction,
                    degradation,
                } => {
                    let dirs: &[(NodeId, NodeId)] = match direction {
                        Direction::Both => &[(*a, *b), (*b, *a)],
                        Direction::AtoB => &[(*a, *b)],
                    };
                    for key in dirs {
                        let acc = o.degraded.entry(*key).or_default();
                        acc.extra_latency = acc.extra_latency + degradation.extra_latency;
                        acc.extra_jitter = acc.extra_jitter + degradation.extra_jitter;
                        acc.loss = combine(acc.loss, degradation.loss);
                        acc.duplicate = combine(acc.duplicate, degradation.duplicate);
                        acc.reorder = combine(acc.reorder, degradation.reorder);
                    }
                }
            }
        }
        o
    }

    fn degradation(&self, u: NodeId, v: NodeId) -> Degradation {
        self.degraded.get(&(u, v)).copied().unwrap_or_default()
    }
}

fn gcd(mut a: u128, mut b: u128) -> u128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Probability that at least one of two independent events happens: `1 - (1-a)(1-b)`, exact
/// when it fits in `u64`, otherwise rounded (up) to a denominator of at most 10^12. A ratio with
/// a zero denominator counts as 0; one above 1 counts as 1.
pub fn combine(a: Ratio, b: Ratio) -> Ratio {
    let norm = |r: Ratio| -> (u128, u128) {
        if r.den == 0 || r.num == 0 {
            (0, 1)
        } else {
            (u128::from(r.num.min(r.den)), u128::from(r.den))
        }
    };
    let ((an, ad), (bn, bd)) = (norm(a), norm(b));
    if an == 0 {
        return Ratio::new(bn as u64, bd as u64);
    }
    if bn == 0 {
        return Ratio::new(an as u64, ad as u64);
    }
    // 1 - (ad-an)(bd-bn)/(ad·bd); every factor is below 2^64, so the products fit in u128.
    let den = ad * bd;
    let survive = (ad - an) * (bd - bn);
    let mut num = den - survive;
    let mut den = den;
    let g = gcd(num, den);
    num /= g;
    den /= g;
    if den > u128::from(u64::MAX) {
        let scale = den.div_ceil(1_000_000_000_000);
        num = num.div_ceil(scale);
        den /= scale;
        num = num.min(den);
    }
    Ratio::new(num as u64, den as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combine_is_exact_and_saturates() {
        assert_eq!(
            combine(Ratio::new(1, 10), Ratio::new(1, 10)),
            Ratio::new(19, 100)
        );
        assert_eq!(combine(Ratio::ZERO, Ratio::new(1, 3)), Ratio::new(1, 3));
        assert_eq!(
            combine(Ratio::new(1, 3), Ratio::new(0, 0)),
            Ratio::new(1, 3)
        );
        assert_eq!(combine(Ratio::ONE, Ratio::new(1, 7)), Ratio::new(1, 1));
        assert_eq!(
            combine(Ratio::new(5, 2), Ratio::new(1, 2)),
            Ratio::new(1, 1)
        );
        let exact = combine(Ratio::new(1, u64::MAX), Ratio::new(1, u64::MAX - 1));
        assert_eq!(exact, Ratio::new(2, u64::MAX));
        // 1/3 + 1/(2^64-1) has a denominator of 3(2^64-1): rounded up, at most 10^12.
        let rounded = combine(Ratio::new(1, 3), Ratio::new(1, u64::MAX));
        assert!(rounded.den <= 1_000_000_000_000, "{rounded:?}");
        assert!(
            3 * rounded.num >= rounded.den && 3 * rounded.num <= rounded.den + 3,
            "{rounded:?}"
        );
    }

    #[test]
    fn sampling_respects_metrics() {
        let mut rng = Prng::stream(5, "net");
        let certain_loss = PathMetrics {
            loss: Ratio::ONE,
            ..PathMetrics::default()
        };
        assert_eq!(certain_loss.sample(&mut rng, 100), Delivery::Lost);
        let m = PathMetrics {
            latency: SimDuration::from_millis(10),
            jitter: SimDuration::from_millis(2),
            bandwidth_bytes_per_sec: Some(1_000_000),
            duplicate: Ratio::ONE,
            ..PathMetrics::default()
        };
        for _ in 0..100 {
            let Delivery::Deliver {
                delay,
                duplicate_delay,
            } = m.sample(&mut rng, 1000)
            else {
                panic!("no loss configured");
            };
            // 10ms latency + 1ms serialisation + up to 2ms jitter.
            assert!(
                delay >= SimDuration::from_millis(11) && delay <= SimDuration::from_millis(13),
                "{delay}"
            );
            assert!(duplicate_delay.is_some());
        }
    }
}
