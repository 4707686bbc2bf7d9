//! Building the world from a scenario: one method per component kind, each registering its
//! component with the kernel (a stable name, hence a stable RNG stream) in a fixed order, then
//! the start of every component and the fault injector's script.
//!
//! Fails with a message for the user when the scenario describes a world that cannot be built
//! (an initial object the API server rejects, a fault that does not apply to the topology, a
//! name that does not resolve).

use super::apiserver_node::ApiServerNode;
use super::controller_manager::ControllerManager;
use super::fault_injector::{FaultInjector, Wiring};
use super::gateway::Gateway;
use super::identity_book::IdentityBook;
use super::kubelet_node::KubeletNode;
use super::lookup::{Lookup, LookupRole};
use super::mirror::{LOCAL_MIRROR_LINK, MirrorKind, MirrorNode, MirrorSettings};
use super::msg::{Msg, Timer};
use super::network::{self, BuiltNetwork};
use super::traffic::{TrafficClient, TrafficTargets};
use super::transport::{Transport, TransportConfig};
use super::{ClusterComponents, Node, World, seed};
use crate::k8s::controllers::kubelet::KubeletConfig;
use crate::k8s::manifest::Located;
use crate::k8s::validation::Ipv4Cidr;
use crate::k8s::{ApiServer, ApiServerConfig, Kind, Object, ObjectKey, Request};
use crate::multicluster::{Breakages, Fixes};
use crate::net::topology::{NodeId, Topology};
use crate::quirks::Breakage;
use crate::scenario::{ActionKind, LinkSpec, ManifestSpec, Scenario};
use crate::sim::{ComponentId, Kernel, Prng, SimTime};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

impl World {
    /// Builds every component of the scenario and schedules its scripted events. Fails (with a
    /// message for the user) when the scenario describes a world that cannot be built.
    pub fn build(scenario: Arc<Scenario>, kernel: &mut Kernel<Msg>) -> Result<World, String> {
        let mut b = Builder::new(scenario.clone(), kernel)?;
        let injector = b.add("faults".into(), Node::FaultInjector, 0);
        for ci in 0..scenario.clusters.len() {
            b.cluster(ci)?;
        }
        b.connect_cluster_stores();
        for link in &scenario.links {
            b.link_mirror(link)?;
        }
        b.manifest_link_mirrors()?;
        for ci in 0..scenario.clusters.len() {
            if scenario.clusters[ci].local_service_mirror {
                b.local_mirror(ci);
            }
        }
        for ti in 0..scenario.traffic.len() {
            b.traffic_client(ti)?;
        }
        b.start_components();
        let faults = b.fault_injector()?;
        faults.schedule(b.kernel, injector);
        Ok(b.finish(faults))
    }
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

/// The name of cluster `cluster`'s one modelled node.
fn node_name(cluster: &str) -> String {
    format!("{cluster}-node")
}

/// Where an initial object comes from, for the message when the API server refuses it.
enum Source<'a> {
    Generated,
    Manifest(&'a ManifestSpec, &'a Located),
}

impl Source<'_> {
    fn refuses(&self, cluster: &str, e: &str) -> String {
        match self {
            Source::Generated => format!("cluster {cluster}: cannot create {e}"),
            Source::Manifest(m, l) => format!(
                "manifest {}:{}:{}: the API server refuses {e}",
                m.path.display(),
                l.line,
                l.column
            ),
        }
    }
}

/// The service-mirror controller's flags (chart values), per Link.
struct Controller {
    headless: bool,
    namespace_creation: bool,
    requeue_limit: u32,
}

struct Builder<'k> {
    scenario: Arc<Scenario>,
    kernel: &'k mut Kernel<Msg>,
    network: BuiltNetwork,
    identity: IdentityBook,
    /// Each cluster's gateway address.
    gateway_ips: Vec<String>,
    nodes: Vec<Node>,
    placement: Vec<NodeId>,
    cluster_of: Vec<usize>,
    apis: Vec<ApiServerNode>,
    clusters: Vec<ClusterComponents>,
    /// The service mirror of each (cluster, link name).
    mirrors: BTreeMap<(usize, String), ComponentId>,
}

impl<'k> Builder<'k> {
    fn new(scenario: Arc<Scenario>, kernel: &'k mut Kernel<Msg>) -> Result<Builder<'k>, String> {
        let network = network::build(&scenario)?;
        let identity = IdentityBook::new(&scenario, kernel.seed());
        let gateway_ips = network
            .clusters
            .iter()
            .map(|n| gateway_ip(&network.topology, *n))
            .collect();
        Ok(Builder {
            scenario,
            kernel,
            network,
            identity,
            gateway_ips,
            nodes: Vec::new(),
            placement: Vec::new(),
            cluster_of: Vec::new(),
            apis: Vec::new(),
            clusters: Vec::new(),
            mirrors: BTreeMap::new(),
        })
    }

    /// Registers a component running in scenario cluster `cluster`.
    fn add(&mut self, name: String, node: Node, cluster: usize) -> ComponentId {
        let id = self.kernel.add_component(&name);
        self.nodes.push(node);
        self.placement.push(self.network.clusters[cluster]);
        self.cluster_of.push(cluster);
        id
    }

    fn cluster_index(&self, name: &str) -> Result<usize, String> {
        self.scenario
            .clusters
            .iter()
            .position(|c| c.name == name)
            .ok_or_else(|| format!("unknown cluster \"{name}\""))
    }

    /// The components of cluster `ci`: API server, controller manager, kubelet, CoreDNS,
    /// destination and (when it has one) the gateway.
    fn cluster(&mut self, ci: usize) -> Result<(), String> {
        let api = self.api_server(ci)?;
        let spec = self.scenario.clusters[ci].clone();
        let latency = spec.in_cluster_latency;
        let watch_opaque = self
            .scenario
            .manifests
            .iter()
            .filter(|m| m.cluster == spec.name)
            .flat_map(|m| &m.objects)
            .any(|l| matches!(l.object, Object::Opaque(_)));
        let controllers = self.add(
            format!("{}/controller-manager", spec.name),
            Node::Controllers(Box::new(ControllerManager::new(api, watch_opaque))),
            ci,
        );
        let kubelet = self.kubelet(ci, api)?;
        let domain = self.identity.clusters[ci].domain.clone();
        let lookup = |b: &mut Self, role: LookupRole, component: &str| {
            let lookup = Lookup::new(role, api, &spec.domain, domain.clone(), latency);
            b.add(
                format!("{}/{component}", spec.name),
                Node::Lookup(Box::new(lookup)),
                ci,
            )
        };
        let dns = lookup(self, LookupRole::Dns, "coredns");
        let destination = lookup(self, LookupRole::Destination, "destination");
        let gateway = spec.gateway.then(|| self.gateway(ci, destination, kubelet));
        self.clusters.push(ClusterComponents {
            api,
            controllers,
            kubelet,
            dns,
            destination,
            gateway,
        });
        Ok(())
    }

    /// Cluster `ci`'s API server, holding the scenario's initial objects and manifests, and
    /// the snapshot's objects (restored after the namespaces the scenario makes and before its
    /// other objects, which take what ClusterIPs the snapshot leaves free).
    fn api_server(&mut self, ci: usize) -> Result<ComponentId, String> {
        let spec = &self.scenario.clusters[ci];
        // One address plan: the API server allocates ClusterIPs from the block the topology
        // assigned to the cluster (what `mcsim graph` shows), unless the scenario names the
        // cluster's own range (`service_cidr`, e.g. from a snapshot of a real cluster).
        let service_cidr = match spec.service_cidr {
            Some(c) => c,
            None => {
                let block = self
                    .network
                    .topology
                    .cluster(self.network.clusters[ci])
                    .map(|c| c.addresses.service_cidr.to_string())
                    .ok_or_else(|| format!("cluster {} has no addresses", spec.name))?;
                Ipv4Cidr::parse(&block).map_err(|e| e.to_string())?
            }
        };
        let mut config = ApiServerConfig::new(service_cidr);
        config.history_max_events = spec.watch_history as usize;
        config.watch_timeout = spec.watch_timeout;
        let mut rng = Prng::stream(self.kernel.seed(), &format!("{}/apiserver-init", spec.name));
        let mut server = ApiServer::new(config, &mut rng);
        let gateway_identity = |c: usize| self.identity.gateway_identity(c);
        let generated =
            seed::initial_objects(&self.scenario, ci, &self.gateway_ips, &gateway_identity);
        let manifests: Vec<(&ManifestSpec, &Located)> = (self.scenario.manifests.iter())
            .filter(|m| m.cluster == spec.name)
            .flat_map(|m| m.objects.iter().map(move |l| (m, l)))
            .collect();
        // Each object with where it comes from, for the message if the API server refuses it.
        let mut create = |server: &mut ApiServer, obj: Object, source: &Source<'_>| {
            let key = obj.key();
            server
                .handle(SimTime::ZERO, &mut rng, Request::create(obj))
                .map(|_| ())
                .map_err(|e| source.refuses(&spec.name, &format!("{key}: {}", e.message)))
        };
        // Without a snapshot: the generated objects, then the manifests.
        let first = |o: &Object| spec.snapshot.is_some() && o.kind() == Kind::Namespace;
        for obj in generated.iter().filter(|o| first(o)) {
            create(&mut server, obj.clone(), &Source::Generated)?;
        }
        for (m, l) in manifests.iter().filter(|(_, l)| first(&l.object)) {
            create(&mut server, l.object.clone(), &Source::Manifest(m, l))?;
        }
        if let Some(snapshot) = &spec.snapshot {
            let skip: BTreeSet<ObjectKey> = (generated.iter().map(Object::key))
                .chain(manifests.iter().map(|(_, l)| l.object.key()))
                .collect();
            let pod_cidr = self.pod_cidr(ci)?;
            let target = crate::k8s::snapshot::Target {
                node_name: &node_name(&spec.name),
                pod_cidr,
                skip: &skip,
            };
            let mut snapshot_rng = Prng::stream(
                self.kernel.seed(),
                &format!("{}/snapshot-restore", spec.name),
            );
            crate::k8s::snapshot::restore(
                &mut server,
                SimTime::ZERO,
                &mut snapshot_rng,
                &snapshot.objects,
                &target,
            )
            .map_err(|(i, e)| {
                let l = &snapshot.objects[i];
                format!(
                    "snapshot {}:{}:{}: {e}",
                    snapshot.path.display(),
                    l.line,
                    l.column
                )
            })?;
        }
        for obj in generated.into_iter().filter(|o| !first(o)) {
            create(&mut server, obj, &Source::Generated)?;
        }
        for (m, l) in manifests.iter().filter(|(_, l)| !first(&l.object)) {
            create(&mut server, l.object.clone(), &Source::Manifest(m, l))?;
        }
        // Last, so that the objects above keep their revisions' order: the ServiceAccounts
        // every namespace and every generated pod needs (none the manifests or snapshot hold).
        let namespaces: Vec<String> = (server.objects())
            .filter(|o| o.kind() == Kind::Namespace)
            .map(|o| o.name().to_string())
            .collect();
        let accounts = seed::service_accounts(
            &self.scenario,
            &spec.name,
            namespaces.iter().map(String::as_str),
        );
        for (namespace, name) in accounts {
            let account = seed::service_account(&namespace, &name, server.discovery())?;
            if !server.store().contains(&account.key()) {
                create(&mut server, account, &Source::Generated)?;
            }
        }
        let _ = server.take_watch_events();
        self.apis.push(ApiServerNode::new(server));
        let name = format!("{}/apiserver", spec.name);
        Ok(self.add(name, Node::ApiServer(ci), ci))
    }

    /// Cluster `ci`'s pod network.
    fn pod_cidr(&self, ci: usize) -> Result<Ipv4Cidr, String> {
        let addresses = self
            .network
            .topology
            .cluster(self.network.clusters[ci])
            .map(|c| c.addresses)
            .ok_or("cluster without addresses")?;
        cidr_of(&addresses.pod_cidr).ok_or_else(|| "bad pod CIDR".to_string())
    }

    fn kubelet(&mut self, ci: usize, api: ComponentId) -> Result<ComponentId, String> {
        let spec = &self.scenario.clusters[ci];
        let config = KubeletConfig {
            node_name: node_name(&spec.name),
            pod_cidr: self.pod_cidr(ci)?,
            ..KubeletConfig::default()
        };
        let kubelet = KubeletNode::new(ci, &spec.name, api, config, spec.in_cluster_latency);
        let name = format!("{}/kubelet", spec.name);
        Ok(self.add(name, Node::Kubelet(Box::new(kubelet)), ci))
    }

    fn gateway(
        &mut self,
        ci: usize,
        destination: ComponentId,
        kubelet: ComponentId,
    ) -> ComponentId {
        let spec = &self.scenario.clusters[ci];
        let has = |b: Breakage| self.scenario.has_breakage(b);
        let mut gateway = Gateway::new(
            ci,
            &spec.domain,
            self.identity.gateway_identity(ci),
            destination,
            kubelet,
            spec.in_cluster_latency,
        );
        gateway.accept_any_anchor = has(Breakage::GatewayAcceptsAnyAnchor);
        gateway.ignore_hostname = has(Breakage::GatewayIgnoresHostname);
        let name = format!("{}/gateway", spec.name);
        self.add(name, Node::Gateway(Box::new(gateway)), ci)
    }

    /// Each destination controller's cluster store reaches API servers by cluster name.
    fn connect_cluster_stores(&mut self) {
        let api_servers: BTreeMap<String, ComponentId> = self
            .scenario
            .clusters
            .iter()
            .zip(&self.clusters)
            .map(|(spec, c)| (spec.name.clone(), c.api))
            .collect();
        for c in &self.clusters {
            if let Node::Lookup(l) = &mut self.nodes[c.destination.index()] {
                l.set_api_servers(api_servers.clone());
            }
        }
    }

    /// The service-mirror controller of a Link, in its source cluster.
    fn link_mirror(&mut self, l: &LinkSpec) -> Result<(), String> {
        let (src, dst) = (self.cluster_index(&l.from)?, self.cluster_index(&l.to)?);
        let controller = Controller {
            headless: l.headless,
            namespace_creation: l.namespace_creation,
            requeue_limit: l.requeue_limit,
        };
        self.mirror_controller(&l.name, src, dst, controller);
        Ok(())
    }

    fn mirror_controller(&mut self, link: &str, src: usize, dst: usize, c: Controller) {
        let settings = MirrorSettings {
            link_name: link.to_string(),
            kind: MirrorKind::Link {
                remote_gateway: self.clusters[dst].gateway,
            },
            enable_headless: c.headless,
            enable_namespace_creation: c.namespace_creation,
            requeue_limit: c.requeue_limit,
            fixes: Fixes::of(&self.scenario.linkerd.fixes),
            breakages: Breakages::of(&self.scenario.breakages),
            remote_qps: self.scenario.clusters[src].client_qps,
            remote_burst: self.scenario.clusters[src].client_burst,
            remote_api: self.clusters[dst].api,
            identity: self.identity.workload_identity(
                src,
                &format!("controller-{link}"),
                seed::MC_NAMESPACE,
            ),
        };
        let node = Node::Mirror(Box::new(MirrorNode::new(settings, self.clusters[src].api)));
        let from = &self.scenario.clusters[src].name;
        let id = self.add(format!("{from}/service-mirror-{link}"), node, src);
        self.mirrors.insert((src, link.to_string()), id);
    }

    /// A controller for every Link the manifests and `apply` actions create in the controllers'
    /// namespace (started at t=0, waiting for its Link like a `[[link]]` made later), as the
    /// multicluster chart runs one per Link (`controllers[].link.ref`, chart defaults: no
    /// headless mirrors, no namespace creation). Its target is the cluster the kubeconfig of
    /// its credentials Secret (in the same cluster's manifests) leads to, else the cluster
    /// named like its `targetClusterName` (a real kubeconfig names a real address).
    fn manifest_link_mirrors(&mut self) -> Result<(), String> {
        let scenario = self.scenario.clone();
        // Every file applied to a cluster: its manifests, then its `apply` actions in time order.
        let mut files: Vec<(&str, &std::path::Path, &[Located])> = (scenario.manifests.iter())
            .map(|m| (m.cluster.as_str(), m.path.as_path(), m.objects.as_slice()))
            .collect();
        for a in &scenario.actions {
            if let ActionKind::Apply { path, objects, .. } = &a.kind {
                files.push((a.cluster.as_str(), path.as_path(), objects.as_slice()));
            }
        }
        // Links of the manifests and actions with a controller already (an applied update of
        // a Link reaches the controller its first version started).
        let mut started: BTreeSet<(usize, String)> = BTreeSet::new();
        for &(cluster, path, objects) in &files {
            let src = self.cluster_index(cluster)?;
            for l in objects {
                let Some(link) = l.object.as_link() else {
                    continue;
                };
                if link.metadata.namespace != seed::MC_NAMESPACE {
                    continue;
                }
                let at = format!(
                    "manifest {}:{}:{}: Link {}/{}",
                    path.display(),
                    l.line,
                    l.column,
                    seed::MC_NAMESPACE,
                    link.metadata.name
                );
                let key = (src, link.metadata.name.clone());
                if started.contains(&key) {
                    continue;
                }
                if self.mirrors.contains_key(&key) {
                    return Err(format!(
                        "{at}: a [[link]] of cluster {cluster} has the same name (one controller per Link)"
                    ));
                }
                let secret = (files.iter())
                    .filter(|(c, _, _)| *c == cluster)
                    .flat_map(|(_, _, objects)| objects.iter())
                    .filter_map(|o| o.object.as_secret())
                    .find(|s| {
                        s.metadata.namespace == seed::MC_NAMESPACE
                            && s.metadata.name == link.spec.cluster_credentials_secret
                    });
                let kubeconfig = secret.and_then(|s| {
                    s.decoded("kubeconfig")
                        .and_then(|b| String::from_utf8(b).ok())
                        .or_else(|| s.string_data.get("kubeconfig").cloned())
                });
                let by_kubeconfig = kubeconfig
                    .as_deref()
                    .and_then(seed::kubeconfig_cluster)
                    .and_then(|c| self.cluster_index(c).ok());
                let dst = match by_kubeconfig
                    .or_else(|| self.cluster_index(&link.spec.target_cluster_name).ok())
                {
                    Some(d) => d,
                    None => {
                        return Err(format!(
                            "{at}: expected its credentials Secret's kubeconfig or its targetClusterName \"{}\" to name a cluster of the scenario",
                            link.spec.target_cluster_name
                        ));
                    }
                };
                if dst == src {
                    return Err(format!("{at}: links cluster {cluster} to itself"));
                }
                let controller = Controller {
                    headless: false,
                    namespace_creation: false,
                    requeue_limit: crate::defaults::REQUEUE_LIMIT,
                };
                self.mirror_controller(&link.metadata.name, src, dst, controller);
                started.insert(key);
            }
        }
        Ok(())
    }

    /// The local service mirror of cluster `ci` (federated membership of the cluster's own
    /// services, spec §1 and §11.3): its "remote" API is its own.
    fn local_mirror(&mut self, ci: usize) {
        let c = &self.scenario.clusters[ci];
        let settings = MirrorSettings {
            link_name: LOCAL_MIRROR_LINK.to_string(),
            kind: MirrorKind::Local,
            enable_headless: false,
            enable_namespace_creation: false,
            requeue_limit: crate::defaults::REQUEUE_LIMIT,
            fixes: Fixes::of(&self.scenario.linkerd.fixes),
            breakages: Breakages::of(&self.scenario.breakages),
            remote_qps: c.client_qps,
            remote_burst: c.client_burst,
            remote_api: self.clusters[ci].api,
            identity: self.identity.workload_identity(
                ci,
                "linkerd-local-service-mirror",
                seed::MC_NAMESPACE,
            ),
        };
        let node = Node::Mirror(Box::new(MirrorNode::new(settings, self.clusters[ci].api)));
        let name = format!("{}/local-service-mirror", c.name);
        let id = self.add(name, node, ci);
        // A Link named like the local mirror keeps the name (it was built first).
        self.mirrors
            .entry((ci, LOCAL_MIRROR_LINK.to_string()))
            .or_insert(id);
    }

    /// The traffic client of `[[traffic]]` entry `ti`, ticking from its start time.
    fn traffic_client(&mut self, ti: usize) -> Result<(), String> {
        let t = self.scenario.traffic[ti].clone();
        let ci = self.cluster_index(&t.from)?;
        let owners = self
            .clusters
            .iter()
            .enumerate()
            .map(|(i, c)| (self.network.clusters[i].0, (c.kubelet, c.gateway)))
            .collect();
        let targets = TrafficTargets {
            dns: self.clusters[ci].dns,
            destination: self.clusters[ci].destination,
            owners,
        };
        let identity = self
            .identity
            .workload_identity(ci, &t.service_account, &t.namespace);
        let latency = self.scenario.clusters[ci].in_cluster_latency;
        let name = format!("{}/traffic-{ti}", t.from);
        let start = SimTime::ZERO + t.start;
        let client = TrafficClient::new(ti, t, ci, identity, targets, latency);
        let id = self.add(name, Node::Traffic(Box::new(client)), ci);
        self.kernel
            .inject(id, start, Msg::Timer(Timer::TrafficTick));
        Ok(())
    }

    /// Every component with informers starts at t=0; the others wait for messages.
    fn start_components(&mut self) {
        for (i, node) in self.nodes.iter().enumerate() {
            let passive = matches!(
                node,
                Node::FaultInjector | Node::ApiServer(_) | Node::Gateway(_) | Node::Traffic(_)
            );
            if !passive {
                self.kernel
                    .inject(ComponentId(i as u32), SimTime::ZERO, Msg::Start);
            }
        }
    }

    fn fault_injector(&self) -> Result<FaultInjector, String> {
        let n = self.scenario.clusters.len();
        let mut components = vec![Vec::new(); n];
        for (i, node) in self.nodes.iter().enumerate() {
            if !matches!(node, Node::FaultInjector) {
                components[self.cluster_of[i]].push(ComponentId(i as u32));
            }
        }
        let pick = |f: fn(&ClusterComponents) -> ComponentId| -> Vec<ComponentId> {
            self.clusters.iter().map(f).collect()
        };
        let gateway: Vec<Option<ComponentId>> = self.clusters.iter().map(|c| c.gateway).collect();
        let wiring = Wiring {
            scenario: &self.scenario,
            net_nodes: &self.network.nodes,
            api: &pick(|c| c.api),
            kubelet: &pick(|c| c.kubelet),
            dns: &pick(|c| c.dns),
            gateway: &gateway,
            components: &components,
            mirrors: &self.mirrors,
            partition_cuts_whole_cluster: self
                .scenario
                .has_breakage(Breakage::PartitionCutsWholeCluster),
        };
        let link_gen = |ci: usize, link: &str| -> Option<Vec<Object>> {
            let from = &self.scenario.clusters[ci].name;
            let spec = self
                .scenario
                .links
                .iter()
                .find(|l| l.name == link && l.from == *from)?;
            let target = self.cluster_index(&spec.to).ok()?;
            Some(seed::link_objects(
                &self.scenario,
                spec,
                &self.gateway_ips[target],
                &self.identity.gateway_identity(target),
            ))
        };
        FaultInjector::new(&self.scenario, &wiring, &self.network.topology, &link_gen)
    }

    fn finish(self, faults: FaultInjector) -> World {
        let n = self.nodes.len();
        let api_ids = self.clusters.iter().map(|c| c.api).collect();
        World {
            scenario: self.scenario,
            nodes: self.nodes,
            down: vec![false; n],
            placement: self.placement,
            cluster_of: self.cluster_of,
            apis: self.apis,
            api_ids,
            clusters: self.clusters,
            topology: self.network.topology,
            cluster_nodes: self.network.clusters,
            transport: Transport::new(TransportConfig::default()),
            identity: self.identity,
            faults,
            observations: Vec::new(),
            started: vec![false; n],
        }
    }
}
