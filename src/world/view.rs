//! The read-only view of a run that checks, the oracle and the report read ([`WorldView`]):
//! exactly the facts they judge by (each cluster's API-server store, the faults that fired, the
//! Links, the traffic logs, CoreDNS's answers, gateway and path state, trust), and nothing that
//! could change the run. Checks never see the concrete [`World`] or call a component.

use super::{FiredFault, Node, World};
use crate::k8s::dns::DnsResponse;
use crate::k8s::objects::Link;
use crate::k8s::store::ObjectView;
use crate::scenario::{LinkSpec, Scenario, TrafficSpec};
use crate::world::traffic_log::TrafficLog;

/// A read-only window on a [`World`] (copy it freely: it is one reference).
#[derive(Clone, Copy)]
pub struct WorldView<'a> {
    world: &'a World,
}

/// One traffic flow: the scenario's `[[traffic]]` entry and the requests its client made.
#[derive(Clone, Copy)]
pub struct Flow<'a> {
    /// The flow's position in the scenario.
    pub index: usize,
    pub spec: &'a TrafficSpec,
    pub log: &'a TrafficLog,
}

impl Flow<'_> {
    /// `host:port`, as the client calls it.
    pub fn authority(&self) -> String {
        format!("{}:{}", self.spec.host, self.spec.port)
    }
}

impl<'a> WorldView<'a> {
    pub fn new(world: &'a World) -> WorldView<'a> {
        WorldView { world }
    }

    pub fn scenario(&self) -> &'a Scenario {
        &self.world.scenario
    }

    /// Cluster `ci`'s objects as its API server holds them now (the truth, not a cache).
    pub fn store(&self, ci: usize) -> &'a dyn ObjectView {
        self.world.apis[ci].server.store()
    }

    /// The name of cluster `ci`.
    pub fn cluster_name(&self, ci: usize) -> &'a str {
        &self.world.scenario.clusters[ci].name
    }

    pub fn cluster_index(&self, name: &str) -> Option<usize> {
        self.world.cluster_index(name)
    }

    /// The (source, target) cluster indexes of a scenario link.
    pub fn link_clusters(&self, link: &LinkSpec) -> Option<(usize, usize)> {
        self.world.link_clusters(link)
    }

    /// The Link `link` as cluster `src`'s API server holds it now (none once deleted).
    pub fn link(&self, src: usize, link: &str) -> Option<&'a Link> {
        self.world.link(src, link)
    }

    /// Every fault that fired so far, in firing order.
    pub fn fired_faults(&self) -> &'a [FiredFault] {
        self.world.fired_faults()
    }

    /// The traffic flows, in scenario order.
    pub fn flows(&self) -> Vec<Flow<'a>> {
        self.world
            .nodes()
            .iter()
            .filter_map(|n| match n {
                Node::Traffic(t) => Some(Flow {
                    index: t.index,
                    spec: &t.spec,
                    log: &t.log,
                }),
                _ => None,
            })
            .collect()
    }

    /// What cluster `ci`'s CoreDNS answers for `name` now, from its own informer cache.
    pub fn dns_answer(&self, ci: usize, name: &str) -> Option<DnsResponse> {
        let dns = self.world.clusters.get(ci)?.dns;
        match self.world.node(dns) {
            Node::Lookup(l) => Some(l.answer(name)),
            _ => None,
        }
    }

    /// Whether cluster `ci` has a gateway whose process is up now.
    pub fn gateway_up(&self, ci: usize) -> bool {
        self.world.clusters[ci]
            .gateway
            .is_some_and(|g| !self.world.is_down(g))
    }

    /// The address of cluster `ci`'s gateway (empty without one in the topology).
    pub fn gateway_address(&self, ci: usize) -> String {
        self.world
            .topology
            .cluster(self.world.cluster_nodes[ci])
            .map(|c| c.addresses.gateway.to_string())
            .unwrap_or_default()
    }

    /// Whether the network path from cluster `a` to cluster `b` is up now.
    pub fn path_up(&self, a: usize, b: usize) -> bool {
        let (a, b) = (self.world.cluster_nodes[a], self.world.cluster_nodes[b]);
        self.world.topology.path_state(a, b).is_up()
    }

    /// Whether a client of cluster `client` and a server of cluster `server` complete an mTLS
    /// handshake with the credentials they hold now (`any_anchor`: the server accepts any).
    pub fn can_handshake(&self, client: usize, server: usize, any_anchor: bool) -> bool {
        self.world
            .identity
            .can_handshake(client, server, any_anchor)
    }

    /// The subject of the trust anchor every cluster shares, if any.
    pub fn shared_anchor_subject(&self) -> Option<String> {
        self.world.identity.shared_anchor_subject()
    }

    /// The revision of cluster `ci`'s API server: it changes with every write there.
    pub fn api_revision(&self, ci: usize) -> u64 {
        self.world.apis[ci].server.revision()
    }

    /// How many clusters (API servers) the world has.
    pub fn cluster_count(&self) -> usize {
        self.world.apis.len()
    }

    /// The sum of every API server's revision: it changes with every write anywhere.
    pub fn revision(&self) -> u64 {
        self.world.apis.iter().map(|a| a.server.revision()).sum()
    }

    /// Whether every service mirror has nothing queued or in flight.
    pub fn mirrors_idle(&self) -> bool {
        self.world.mirrors().iter().all(|(_, m)| m.is_idle())
    }
}
