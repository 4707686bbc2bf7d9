//! The world: every component of one simulated run, built from a [`Scenario`], and the
//! [`crate::sim::World`] implementation that dispatches each delivered message to its component.
//!
//! Owns: component state (a closed [`Node`] enum, so checks get typed read-only access), the
//! API servers of the clusters (outside the node list, so in-cluster components can make direct
//! calls to their own cluster's API server), the topology and transport, the identity book, the
//! per-component up/down flags that faults flip, and the log of observations checks consume.
//! Does not own: time, ordering or randomness (the kernel's), or verdicts (the checks').

pub mod apiclient;
pub mod apiserver_node;
pub mod controller_manager;
pub mod env;
pub mod frames;
pub mod gateway;
pub mod identity_book;
pub mod kubelet_node;
pub mod lookup;
pub mod mesh_server;
pub mod mirror_node;
pub mod msg;
pub mod network;
pub mod observe;
pub mod overlay;
pub mod seed;
pub mod traffic;
pub mod traffic_log;
pub mod transport;

use crate::k8s::controllers::kubelet::KubeletConfig;
use crate::k8s::store::ObjectView;
use crate::k8s::validation::Ipv4Cidr;
use crate::k8s::{ApiServer, ApiServerConfig, Kind, ObjectKey, Request};
use crate::net::fault::FaultId;
use crate::net::topology::{NodeId, Topology};
use crate::scenario::{ActionKind, FaultKind, Scenario};
use crate::sim::{ComponentId, Ctx, Kernel, SimDuration, SimTime};
use apiserver_node::ApiServerNode;
use controller_manager::ControllerManager;
use env::Env;
use gateway::Gateway;
use identity_book::IdentityBook;
use kubelet_node::KubeletNode;
use lookup::{Lookup, LookupRole};
pub use mirror_node::LOCAL_FEDERATED_SELECTOR;
use mirror_node::{LOCAL_MIRROR_LINK, MirrorNode, MirrorSettings};
pub use msg::{FaultMsg, Msg, NetMsg, Payload, Timer};
pub use observe::Observation;
use std::collections::BTreeMap;
use std::sync::Arc;
use traffic::{TrafficClient, TrafficTargets};
use transport::{ConnEvent, NetEnv, Transport, TransportConfig};

/// A component's state machine.
pub enum Node {
    /// Fires the scenario's scripted faults and actions, and heals faults.
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

/// Components with informers: started once, and restarted with empty caches after a crash.
trait Lifecycle {
    fn start(&mut self, env: &mut Env<'_, '_>);
    fn restart(&mut self, env: &mut Env<'_, '_>, api_server: ComponentId);
}

macro_rules! lifecycle {
    ($($ty:ty),*) => {$(
        impl Lifecycle for $ty {
            fn start(&mut self, env: &mut Env<'_, '_>) {
                <$ty>::start(self, env)
            }
            fn restart(&mut self, env: &mut Env<'_, '_>, api_server: ComponentId) {
                <$ty>::restart(self, env, api_server)
            }
        }
    )*};
}

lifecycle!(ControllerManager, KubeletNode, Lookup, MirrorNode);

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
    /// Scenario cluster index of each component.
    cluster_of: Vec<usize>,
    pub apis: Vec<ApiServerNode>,
    api_ids: Vec<ComponentId>,
    pub clusters: Vec<ClusterComponents>,
    pub topology: Topology,
    pub net_nodes: BTreeMap<String, NodeId>,
    /// Topology node of each scenario cluster, in scenario order.
    pub cluster_nodes: Vec<NodeId>,
    pub transport: Transport,
    pub identity: IdentityBook,
    /// Topology overlays of each active scenario fault.
    active_overlays: BTreeMap<usize, Vec<FaultId>>,
    pub fault_injector: ComponentId,
    pub fired_faults: Vec<FiredFault>,
    /// Observations since the run loop last drained them (checks read them, nothing else does).
    pub observations: Vec<(SimTime, Observation)>,
    started: Vec<bool>,
}

/// The gateway address of the cluster at topology node `node` (what a Link's
/// `gatewayAddress` names).
fn gateway_ip(topology: &Topology, node: NodeId) -> String {
    topology
        .cluster(node)
        .map(|c| c.addresses.gateway.to_string())
        .unwrap_or_default()
}

fn cidr_of(c: &crate::net::addr::Cidr) -> Option<Ipv4Cidr> {
    Ipv4Cidr::parse(&format!("{}/{}", c.network(), c.prefix_len())).ok()
}

impl World {
    /// Builds every component of the scenario and schedules its scripted events. Fails (with a
    /// message for the user) when the scenario describes a world that cannot be built.
    pub fn build(scenario: Arc<Scenario>, kernel: &mut Kernel<Msg>) -> Result<World, String> {
        let built = network::build(&scenario)?;
        // Every fault's overlays must apply to this topology: try them on a scratch copy.
        let mut scratch = built.topology.clone();
        for f in &scenario.faults {
            for overlay in network::overlays(
                &f.kind,
                &built.nodes,
                scenario
                    .breakages
                    .iter()
                    .any(|b| b == "partition-cuts-whole-cluster"),
            ) {
                scratch
                    .add_fault(overlay)
                    .map_err(|e| format!("fault {}: {e}", describe_fault(&f.kind)))?;
            }
        }
        let seed = kernel.seed();
        let identity = IdentityBook::new(&scenario, seed);
        let mut nodes = Vec::new();
        let mut placement = Vec::new();
        let mut cluster_of = Vec::new();
        let mut add = |kernel: &mut Kernel<Msg>,
                       name: String,
                       node: Node,
                       cluster: usize,
                       nodes: &mut Vec<Node>| {
            let id = kernel.add_component(&name);
            nodes.push(node);
            placement.push(built.clusters[cluster]);
            cluster_of.push(cluster);
            id
        };
        let fault_injector = add(kernel, "faults".into(), Node::FaultInjector, 0, &mut nodes);

        // Per cluster: addresses, API server with the initial objects, then the components.
        let mut apis = Vec::new();
        let mut api_ids = Vec::new();
        let mut clusters = Vec::new();
        let gateway_ips: Vec<String> = built
            .clusters
            .iter()
            .map(|n| gateway_ip(&built.topology, *n))
            .collect();
        for (ci, spec) in scenario.clusters.iter().enumerate() {
            let addresses = built
                .topology
                .cluster(built.clusters[ci])
                .map(|c| c.addresses)
                .ok_or("cluster without addresses")?;
            let service_cidr = Ipv4Cidr::parse(&format!("10.{}.0.0/16", 95 + ci + 1))
                .map_err(|e| e.to_string())?;
            let mut config = ApiServerConfig::new(service_cidr);
            config.history_max_events = spec.watch_history as usize;
            config.watch_timeout = spec.watch_timeout;
            let mut rng = crate::sim::Prng::stream(seed, &format!("{}/apiserver-init", spec.name));
            let mut server = ApiServer::new(config, &mut rng);
            let gw_identity = |c: usize| identity.gateway_identity(c);
            for obj in seed::initial_objects(&scenario, ci, &gateway_ips, &gw_identity) {
                let key = obj.key();
                server
                    .handle(SimTime::ZERO, &mut rng, Request::create(obj))
                    .map_err(|e| {
                        format!("cluster {}: cannot create {key}: {}", spec.name, e.message)
                    })?;
            }
            for m in scenario.manifests.iter().filter(|m| m.cluster == spec.name) {
                for l in &m.objects {
                    let key = l.object.key();
                    server
                        .handle(SimTime::ZERO, &mut rng, Request::create(l.object.clone()))
                        .map_err(|e| {
                            format!(
                                "manifest {}:{}:{}: the API server refuses {key}: {}",
                                m.path.display(),
                                l.line,
                                l.column,
                                e.message
                            )
                        })?;
                }
            }
            let _ = server.take_watch_events();
            apis.push(ApiServerNode::new(server));
            let api = add(
                kernel,
                format!("{}/apiserver", spec.name),
                Node::ApiServer(ci),
                ci,
                &mut nodes,
            );
            api_ids.push(api);
            let latency = spec.in_cluster_latency;
            let controllers = add(
                kernel,
                format!("{}/controller-manager", spec.name),
                Node::Controllers(Box::new(ControllerManager::new(api))),
                ci,
                &mut nodes,
            );
            let pod_cidr = cidr_of(&addresses.pod_cidr).ok_or("bad pod CIDR")?;
            let kcfg = KubeletConfig {
                node_name: format!("{}-node", spec.name),
                pod_cidr,
                ..KubeletConfig::default()
            };
            let kubelet = add(
                kernel,
                format!("{}/kubelet", spec.name),
                Node::Kubelet(Box::new(KubeletNode::new(
                    ci, &spec.name, api, kcfg, latency,
                ))),
                ci,
                &mut nodes,
            );
            let domain = identity.clusters[ci].domain.clone();
            let dns = add(
                kernel,
                format!("{}/coredns", spec.name),
                Node::Lookup(Box::new(Lookup::new(
                    LookupRole::Dns,
                    api,
                    &spec.domain,
                    domain.clone(),
                    latency,
                ))),
                ci,
                &mut nodes,
            );
            let destination = add(
                kernel,
                format!("{}/destination", spec.name),
                Node::Lookup(Box::new(Lookup::new(
                    LookupRole::Destination,
                    api,
                    &spec.domain,
                    domain,
                    latency,
                ))),
                ci,
                &mut nodes,
            );
            let gateway = if spec.gateway {
                let gw = Gateway::new(
                    ci,
                    &spec.domain,
                    identity.gateway_identity(ci),
                    destination,
                    kubelet,
                    latency,
                );
                let mut g = gw;
                g.accept_any_anchor = scenario
                    .breakages
                    .iter()
                    .any(|b| b == "gateway-accepts-any-anchor");
                g.ignore_hostname = scenario
                    .breakages
                    .iter()
                    .any(|b| b == "gateway-ignores-hostname");
                Some(add(
                    kernel,
                    format!("{}/gateway", spec.name),
                    Node::Gateway(Box::new(g)),
                    ci,
                    &mut nodes,
                ))
            } else {
                None
            };
            clusters.push(ClusterComponents {
                api,
                controllers,
                kubelet,
                dns,
                destination,
                gateway,
            });
        }

        // Each destination controller's cluster store reaches API servers by cluster name.
        let api_servers: BTreeMap<String, ComponentId> = scenario
            .clusters
            .iter()
            .zip(&clusters)
            .map(|(spec, c)| (spec.name.clone(), c.api))
            .collect();
        for c in &clusters {
            if let Node::Lookup(l) = &mut nodes[c.destination.index()] {
                l.set_api_servers(api_servers.clone());
            }
        }

        // One service-mirror controller per Link, in the source cluster.
        for l in &scenario.links {
            let (Some(src), Some(dst)) = (
                scenario.clusters.iter().position(|c| c.name == l.from),
                scenario.clusters.iter().position(|c| c.name == l.to),
            ) else {
                continue;
            };
            let settings = MirrorSettings {
                link_name: l.name.clone(),
                enable_headless: l.headless,
                enable_namespace_creation: l.namespace_creation,
                requeue_limit: l.requeue_limit,
                fixes: scenario.linkerd.fixes.clone(),
                breakages: scenario.breakages.clone(),
                remote_qps: scenario.clusters[src].client_qps,
                remote_burst: scenario.clusters[src].client_burst,
                remote_api: clusters[dst].api,
                remote_gateway: clusters[dst].gateway,
                identity: identity.workload_identity(
                    src,
                    &format!("controller-{}", l.name),
                    seed::MC_NAMESPACE,
                ),
                local_mirror: false,
            };
            let node = Node::Mirror(Box::new(MirrorNode::new(settings, clusters[src].api)));
            add(
                kernel,
                format!("{}/service-mirror-{}", l.from, l.name),
                node,
                src,
                &mut nodes,
            );
        }

        // The local service mirror of each cluster that runs one (federated membership of the
        // cluster's own services, spec §1 and §11.3): its "remote" API is its own.
        for (ci, c) in scenario.clusters.iter().enumerate() {
            if !c.local_service_mirror {
                continue;
            }
            let settings = MirrorSettings {
                link_name: LOCAL_MIRROR_LINK.to_string(),
                enable_headless: false,
                enable_namespace_creation: false,
                requeue_limit: 3,
                fixes: scenario.linkerd.fixes.clone(),
                breakages: scenario.breakages.clone(),
                remote_qps: c.client_qps,
                remote_burst: c.client_burst,
                remote_api: clusters[ci].api,
                remote_gateway: None,
                identity: identity.workload_identity(
                    ci,
                    "linkerd-local-service-mirror",
                    seed::MC_NAMESPACE,
                ),
                local_mirror: true,
            };
            let node = Node::Mirror(Box::new(MirrorNode::new(settings, clusters[ci].api)));
            add(
                kernel,
                format!("{}/local-service-mirror", c.name),
                node,
                ci,
                &mut nodes,
            );
        }

        // Traffic clients.
        for (ti, t) in scenario.traffic.iter().enumerate() {
            let ci = scenario
                .clusters
                .iter()
                .position(|c| c.name == t.from)
                .ok_or("traffic from an unknown cluster")?;
            let owners = clusters
                .iter()
                .enumerate()
                .map(|(i, c)| (built.clusters[i].0, (c.kubelet, c.gateway)))
                .collect();
            let targets = TrafficTargets {
                dns: clusters[ci].dns,
                destination: clusters[ci].destination,
                owners,
            };
            let ident = identity.workload_identity(ci, &t.service_account, &t.namespace);
            let client = TrafficClient::new(
                ti,
                t.clone(),
                ci,
                ident,
                targets,
                scenario.clusters[ci].in_cluster_latency,
            );
            let name = format!("{}/traffic-{ti}", t.from);
            let id = add(
                kernel,
                name,
                Node::Traffic(Box::new(client)),
                ci,
                &mut nodes,
            );
            kernel.inject(id, SimTime::ZERO + t.start, Msg::Timer(Timer::TrafficTick));
        }

        // Start every component at t=0, then the scripted faults and actions.
        for (i, node) in nodes.iter().enumerate() {
            let passive = matches!(
                node,
                Node::FaultInjector | Node::ApiServer(_) | Node::Gateway(_) | Node::Traffic(_)
            );
            if !passive {
                kernel.inject(ComponentId(i as u32), SimTime::ZERO, Msg::Start);
            }
        }
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
            } else if matches!(f.kind, FaultKind::ControllerCrash { .. }) {
                // A crashed controller is restarted by Kubernetes after a back-off.
                kernel.inject(
                    fault_injector,
                    SimTime::ZERO + f.at + SimDuration::from_secs(10),
                    Msg::Fault(FaultMsg::Heal(i)),
                );
            }
        }
        for (i, a) in scenario.actions.iter().enumerate() {
            kernel.inject(
                fault_injector,
                SimTime::ZERO + a.at,
                Msg::Fault(FaultMsg::Action(i)),
            );
        }
        let n = nodes.len();
        Ok(World {
            scenario,
            nodes,
            down: vec![false; n],
            placement,
            cluster_of,
            apis,
            api_ids,
            clusters,
            topology: built.topology,
            net_nodes: built.nodes,
            cluster_nodes: built.clusters,
            transport: Transport::new(TransportConfig::default()),
            identity,
            active_overlays: BTreeMap::new(),
            fault_injector,
            fired_faults: Vec::new(),
            observations: Vec::new(),
            started: vec![false; n],
        })
    }

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

    /// Tests: makes the kubelets and controller managers compare each incremental pass with the
    /// full reference pass (the results do not change; mismatches are collected).
    pub fn enable_cross_checks(&mut self) {
        for n in &mut self.nodes {
            match n {
                Node::Kubelet(k) => k.cross_check = Some(Vec::new()),
                Node::Controllers(c) => c.cross_check = Some(Vec::new()),
                _ => {}
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
                _ => Vec::new(),
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

    fn observe(&mut self, now: SimTime, obs: Observation) {
        self.observations.push((now, obs));
    }

    /// Runs `f` with the component `to` and an [`Env`] over the rest of the world.
    fn with_env<R>(
        &mut self,
        ctx: &mut Ctx<'_, Msg>,
        to: ComponentId,
        f: impl FnOnce(&mut Node, &mut Env<'_, '_>) -> R,
    ) -> R {
        let World {
            nodes,
            transport,
            topology,
            placement,
            down,
            apis,
            api_ids,
            observations,
            identity,
            cluster_of,
            ..
        } = self;
        let mut env = Env {
            ctx,
            transport,
            topology,
            placement,
            down,
            apis,
            api_ids,
            obs: observations,
            identity,
            cluster: cluster_of[to.index()],
        };
        f(&mut nodes[to.index()], &mut env)
    }

    fn net_env<'a, 'b>(
        &'a mut self,
        ctx: &'a mut Ctx<'b, Msg>,
    ) -> (
        NetEnv<'a, 'b>,
        &'a mut Transport,
        &'a mut Vec<ApiServerNode>,
    ) {
        (
            NetEnv {
                ctx,
                topology: &self.topology,
                placement: &self.placement,
                down: &self.down,
            },
            &mut self.transport,
            &mut self.apis,
        )
    }

    fn paths_changed(&mut self, ctx: &mut Ctx<'_, Msg>) {
        let (mut net, transport, _) = self.net_env(ctx);
        transport.on_paths_changed(&mut net);
    }

    /// Takes a component down (process crash); `host` also when its whole cluster is down.
    fn crash(&mut self, ctx: &mut Ctx<'_, Msg>, id: ComponentId) {
        if self.down[id.index()] {
            return;
        }
        self.down[id.index()] = true;
        {
            let (mut net, transport, _) = self.net_env(ctx);
            transport.on_component_down(&mut net, id);
        }
        match &mut self.nodes[id.index()] {
            Node::ApiServer(c) => {
                let c = *c;
                self.apis[c].crash();
            }
            Node::Gateway(g) => g.restart(),
            _ => {}
        }
    }

    /// Takes a component down (`down`) or brings it back.
    fn set_down(&mut self, ctx: &mut Ctx<'_, Msg>, id: ComponentId, down: bool) {
        if down {
            self.crash(ctx, id)
        } else {
            self.revive(ctx, id)
        }
    }

    /// Brings a component back; stateful components restart with empty caches.
    fn revive(&mut self, ctx: &mut Ctx<'_, Msg>, id: ComponentId) {
        if !self.down[id.index()] {
            return;
        }
        self.down[id.index()] = false;
        if self.started[id.index()] {
            ctx.send(id, Msg::Start, SimDuration::ZERO);
        }
    }

    fn cluster_component_ids(&self, cluster: usize) -> Vec<ComponentId> {
        (0..self.nodes.len())
            .filter(|&i| self.cluster_of[i] == cluster && i != self.fault_injector.index())
            .map(|i| ComponentId(i as u32))
            .collect()
    }

    fn on_fault(&mut self, ctx: &mut Ctx<'_, Msg>, msg: FaultMsg) {
        let now = ctx.now();
        match msg {
            FaultMsg::Inject(i) => {
                let spec = self.scenario.faults[i].clone();
                if matches!(spec.kind, FaultKind::Partition { .. })
                    && self
                        .scenario
                        .breakages
                        .iter()
                        .any(|b| b == "fault-injector-panics-on-partition")
                {
                    // Test-only breakage: an mcsim bug, to show how a run reports one.
                    panic!("fault #{i}: the injector cannot apply a partition (test breakage)");
                }
                self.fired_faults.push(FiredFault {
                    index: i,
                    kind: spec.kind.key(),
                    description: describe_fault(&spec.kind),
                    clusters: spec.kind.clusters(),
                    at: now,
                    healed_at: None,
                });
                let overlays = network::overlays(
                    &spec.kind,
                    &self.net_nodes,
                    self.scenario
                        .breakages
                        .iter()
                        .any(|b| b == "partition-cuts-whole-cluster"),
                );
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
                }
                self.apply_component_fault(ctx, &spec.kind, true);
                self.paths_changed(ctx);
                self.observe(now, Observation::FaultInjected { index: i });
            }
            FaultMsg::Heal(_)
                if self
                    .scenario
                    .breakages
                    .iter()
                    .any(|b| b == "fault-injector-skips-heal") =>
            {
                // Test-only breakage: a fault injector that never heals.
            }
            FaultMsg::Heal(i) => {
                let spec = self.scenario.faults[i].clone();
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
                }
                self.apply_component_fault(ctx, &spec.kind, false);
                self.paths_changed(ctx);
                self.observe(now, Observation::FaultHealed { index: i });
            }
            FaultMsg::Action(i) => {
                let action = self.scenario.actions[i].clone();
                self.apply_action(ctx, &action);
            }
        }
    }

    fn apply_component_fault(&mut self, ctx: &mut Ctx<'_, Msg>, kind: &FaultKind, inject: bool) {
        let idx = |w: &World, c: &str| w.cluster_index(c).unwrap_or(0);
        match kind {
            FaultKind::ClusterDown(c) => {
                let ci = idx(self, c);
                for id in self.cluster_component_ids(ci) {
                    self.set_down(ctx, id, inject)
                }
            }
            FaultKind::ApiServerDown(c) => {
                let id = self.clusters[idx(self, c)].api;
                self.set_down(ctx, id, inject)
            }
            FaultKind::GatewayDown(c) => {
                if let Some(id) = self.clusters[idx(self, c)].gateway {
                    self.set_down(ctx, id, inject)
                }
            }
            FaultKind::ControllerCrash { cluster, link } => {
                let ci = idx(self, cluster);
                let target = self.mirror_component(ci, link);
                if let Some(id) = target {
                    self.set_down(ctx, id, inject)
                }
            }
            FaultKind::PodKill {
                cluster,
                namespace,
                pod,
            } => {
                if inject {
                    let kubelet = self.clusters[idx(self, cluster)].kubelet;
                    let (ns, pod) = (namespace.clone(), pod.clone());
                    self.with_env(ctx, kubelet, |node, env| {
                        if let Node::Kubelet(k) = node {
                            k.kill(env, &ns, &pod);
                        }
                    });
                }
            }
            FaultKind::DnsFailure(c) => {
                let dns = self.clusters[idx(self, c)].dns;
                if let Node::Lookup(l) = &mut self.nodes[dns.index()] {
                    l.failing = inject;
                }
            }
            FaultKind::ClockSkew { cluster, by_ns } => {
                let ci = idx(self, cluster);
                let base = self.scenario.clusters[ci].clock_skew_ns;
                self.identity
                    .set_skew(ci, if inject { base + by_ns } else { base });
            }
            FaultKind::Compact(c) => {
                if inject {
                    let ci = idx(self, c);
                    let (mut net, transport, apis) = self.net_env(ctx);
                    apis[ci].compact(&mut net, transport);
                }
            }
            FaultKind::CertExpiry(c) => {
                let ci = idx(self, c);
                self.identity.set_expired(ci, inject);
            }
            FaultKind::RotateCerts(c) => {
                if inject {
                    let ci = idx(self, c);
                    self.identity.rotate(ci);
                }
            }
            FaultKind::TrustAnchor { cluster, anchor } => {
                let ci = idx(self, cluster);
                let name = if inject {
                    anchor.clone()
                } else {
                    self.scenario.clusters[ci].trust_anchor.clone()
                };
                let domain = self.scenario.linkerd.trust_domain.clone();
                self.identity.switch_anchor(ci, &name, &domain);
            }
            FaultKind::Partition { .. }
            | FaultKind::SlowPath { .. }
            | FaultKind::LossyPath { .. } => {}
        }
    }

    /// The service-mirror component of link `link` in cluster `cluster`, when there is one.
    pub fn mirror_component(&self, cluster: usize, link: &str) -> Option<ComponentId> {
        self.nodes.iter().enumerate().find_map(|(i, n)| match n {
            Node::Mirror(m) if self.cluster_of[i] == cluster && m.settings.link_name == link => {
                Some(ComponentId(i as u32))
            }
            _ => None,
        })
    }

    /// The service mirrors of the run, with their source cluster index.
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
        all.retain(|(_, m)| !m.settings.local_mirror);
        all
    }

    /// A scripted workload change, made through the cluster's API server as `kubectl` would.
    fn apply_action(&mut self, ctx: &mut Ctx<'_, Msg>, action: &crate::scenario::ActionSpec) {
        let Some(ci) = self.cluster_index(&action.cluster) else {
            return;
        };
        let api = self.clusters[ci].api;
        let requests: Vec<Request> = match &action.kind {
            ActionKind::Unlink { link } => self.unlink_requests(ci, link),
            ActionKind::Link { link } => self.link_requests(ci, link),
            _ => self.action_request(ci, action).into_iter().collect(),
        };
        let now = ctx.now();
        for req in requests {
            let description = req.describe();
            let result = self.with_env(ctx, api, |_, env| {
                env.cluster = ci;
                env.api_call(req)
            });
            self.observe(
                now,
                Observation::ActionApplied {
                    cluster: ci,
                    description,
                    ok: result.is_ok(),
                },
            );
        }
    }

    /// What `linkerd multicluster link-gen` prints for `kubectl apply` (spec §2.3): creates of
    /// the declared link's credentials Secrets, probe Service and Link, with the target
    /// gateway's address and identity as they are now.
    fn link_requests(&self, ci: usize, link: &str) -> Vec<Request> {
        let from = &self.scenario.clusters[ci].name;
        let Some(spec) = self
            .scenario
            .links
            .iter()
            .find(|l| l.name == link && l.from == *from)
        else {
            return Vec::new();
        };
        let Some(target) = self.cluster_index(&spec.to) else {
            return Vec::new();
        };
        let gateway_ip = gateway_ip(&self.topology, self.cluster_nodes[target]);
        let identity = self.identity.gateway_identity(target);
        seed::link_objects(&self.scenario, spec, &gateway_ip, &identity)
            .into_iter()
            .map(Request::create)
            .collect()
    }

    /// What `linkerd multicluster unlink` prints for `kubectl delete` (spec §9.4): the Link
    /// first (its controller stops), its credentials Secret, its probe Service, the `linkerd`
    /// namespace's credentials Secrets labelled with the cluster, then every Service labelled as
    /// a mirror of the link, in every namespace.
    fn unlink_requests(&self, ci: usize, link: &str) -> Vec<Request> {
        let store = self.apis[ci].server.store();
        let Some(spec) = store
            .get(&ObjectKey::new(Kind::Link, seed::MC_NAMESPACE, link))
            .and_then(|o| o.as_link())
            .map(|l| l.spec.clone())
        else {
            return Vec::new();
        };
        let target = if spec.target_cluster_name.is_empty() {
            link.to_string()
        } else {
            spec.target_cluster_name.clone()
        };
        let mut out = vec![
            Request::delete(ObjectKey::new(Kind::Link, seed::MC_NAMESPACE, link)),
            Request::delete(ObjectKey::new(
                Kind::Secret,
                seed::MC_NAMESPACE,
                &spec.cluster_credentials_secret,
            )),
        ];
        let probe = ObjectKey::new(Kind::Service, seed::MC_NAMESPACE, &format!("probe-{link}"));
        if store.contains(&probe) {
            out.push(Request::delete(probe));
        }
        // The destination controller's credentials for the cluster (remote discovery).
        for secret in store.range(Kind::Secret, Some(seed::LINKERD_NAMESPACE)) {
            if secret.meta().labels.get(seed::LABEL_CREDENTIALS_CLUSTER) == Some(&target) {
                out.push(Request::delete(secret.key()));
            }
        }
        for svc in store.range(Kind::Service, None) {
            let l = &svc.meta().labels;
            if l.get(crate::multicluster::names::LABEL_MIRRORED_SERVICE)
                .map(String::as_str)
                == Some("true")
                && l.get(crate::multicluster::names::LABEL_CLUSTER_NAME) == Some(&target)
            {
                out.push(Request::delete(svc.key()));
            }
        }
        out
    }

    /// The one API request of a scripted action (all but `unlink`).
    fn action_request(&self, ci: usize, action: &crate::scenario::ActionSpec) -> Option<Request> {
        let ns = action.namespace.clone();
        let get = |w: &World, kind: Kind, name: &str| {
            w.apis[ci]
                .server
                .store()
                .get(&ObjectKey::new(kind, &ns, name))
                .cloned()
        };
        match &action.kind {
            ActionKind::Scale { workload, replicas } => {
                if let Some(mut o) = get(self, Kind::StatefulSet, workload).map(|o| (*o).clone()) {
                    if let Some(s) = o.as_stateful_set_mut() {
                        s.spec.replicas = *replicas as i32;
                    }
                    Some(Request::update(o))
                } else if let Some(mut o) =
                    get(self, Kind::Deployment, workload).map(|o| (*o).clone())
                {
                    if let Some(d) = o.as_deployment_mut() {
                        d.spec.replicas = *replicas as i32;
                    }
                    Some(Request::update(o))
                } else {
                    None
                }
            }
            ActionKind::Export { service } | ActionKind::Unexport { service } => {
                get(self, Kind::Service, service).map(|o| {
                    let mut o = (*o).clone();
                    let labels = &mut o.meta_mut().labels;
                    if matches!(action.kind, ActionKind::Export { .. }) {
                        labels.insert(seed::LABEL_EXPORTED.into(), "true".into());
                    } else {
                        labels.remove(seed::LABEL_EXPORTED);
                    }
                    Request::update(o)
                })
            }
            ActionKind::DeleteService { service } => {
                Some(Request::delete(ObjectKey::new(Kind::Service, &ns, service)))
            }
            ActionKind::DeleteLink { link } => Some(Request::delete(ObjectKey::new(
                Kind::Link,
                seed::MC_NAMESPACE,
                link,
            ))),
            ActionKind::CreateNamespace { name } => {
                Some(Request::create(crate::k8s::objects::Namespace::new(name)))
            }
            ActionKind::Label {
                service,
                key,
                value,
            }
            | ActionKind::Annotate {
                service,
                key,
                value,
            } => get(self, Kind::Service, service).map(|o| {
                let mut o = (*o).clone();
                let labels = match &action.kind {
                    ActionKind::Label { .. } => &mut o.meta_mut().labels,
                    _ => &mut o.meta_mut().annotations,
                };
                match value {
                    Some(v) => labels.insert(key.clone(), v.clone()),
                    None => labels.remove(key),
                };
                Request::update(o)
            }),
            ActionKind::Unlink { .. } | ActionKind::Link { .. } => None,
            ActionKind::LinkSelector { link, selector } => {
                let key = ObjectKey::new(Kind::Link, seed::MC_NAMESPACE, link);
                let mut o = (**self.apis[ci].server.store().get(&key)?).clone();
                if let crate::k8s::Object::Link(l) = &mut o {
                    l.spec.selector = crate::k8s::LabelSelector::parse(selector).ok();
                }
                Some(Request::update(o))
            }
        }
    }

    /// Hands a connection event to the component it is for.
    fn conn_event(&mut self, ctx: &mut Ctx<'_, Msg>, to: ComponentId, event: ConnEvent) {
        if let Node::ApiServer(c) = self.nodes[to.index()] {
            let (mut net, transport, apis) = self.net_env(ctx);
            apis[c].on_conn(&mut net, transport, event);
            return;
        }
        self.with_env(ctx, to, |node, env| match node {
            Node::Controllers(c) => c.on_conn(env, event),
            Node::Kubelet(k) => k.on_conn(env, event),
            Node::Lookup(l) => l.on_conn(env, event),
            Node::Gateway(g) => g.on_conn(env, event),
            Node::Traffic(t) => t.on_conn(env, event),
            Node::Mirror(m) => m.on_conn(env, event),
            Node::FaultInjector | Node::ApiServer(_) => {}
        });
    }

    fn start(&mut self, ctx: &mut Ctx<'_, Msg>, to: ComponentId) {
        let restart = std::mem::replace(&mut self.started[to.index()], true);
        let api = self.api_ids[self.cluster_of[to.index()]];
        self.with_env(ctx, to, |node, env| {
            let component: &mut dyn Lifecycle = match node {
                Node::Controllers(c) => c.as_mut(),
                Node::Kubelet(k) => k.as_mut(),
                Node::Lookup(l) => l.as_mut(),
                Node::Mirror(m) => m.as_mut(),
                Node::Gateway(_) | Node::Traffic(_) | Node::FaultInjector | Node::ApiServer(_) => {
                    return;
                }
            };
            if restart {
                component.restart(env, api);
            } else {
                component.start(env);
            }
        });
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
                    let (mut env, transport, _) = self.net_env(ctx);
                    transport.on_net(&mut env, to, net)
                };
                if let Some(event) = event
                    && !self.down[to.index()]
                {
                    self.conn_event(ctx, to, event);
                }
            }
            _ if self.down[to.index()] => {}
            Msg::Start => self.start(ctx, to),
            Msg::Timer(t) => {
                if let Node::ApiServer(c) = self.nodes[to.index()] {
                    let (mut net, transport, apis) = self.net_env(ctx);
                    apis[c].on_expiry_timer(&mut net, transport);
                    return;
                }
                let api = self.api_ids[self.cluster_of[to.index()]];
                self.with_env(ctx, to, |node, env| match node {
                    Node::Mirror(m) => m.on_timer(env, t, api),
                    Node::Controllers(c) => c.on_timer(env, t),
                    Node::Kubelet(k) => k.on_timer(env, t),
                    Node::Lookup(l) => l.on_timer(env, t),
                    Node::Traffic(tr) => tr.on_timer(env, t),
                    Node::Gateway(_) | Node::FaultInjector | Node::ApiServer(_) => {}
                });
            }
            Msg::Lookup(l) => self.with_env(ctx, to, |node, env| match node {
                Node::Lookup(x) => x.on_msg(env, l),
                Node::Traffic(x) => x.on_lookup(env, l),
                Node::Gateway(x) => x.on_lookup(env, l),
                _ => {}
            }),
            Msg::Pod(p) => self.with_env(ctx, to, |node, env| match node {
                Node::Kubelet(x) => x.on_pod_msg(env, p),
                Node::Gateway(x) => x.on_pod(env, p),
                _ => {}
            }),
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
