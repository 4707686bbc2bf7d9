//! `[[cluster]]`, `[[network]]`, `[[path]]` and `[[flat_network]]`: the names everything
//! else refers to, and the topology.

use super::{Names, Validator};
use crate::defaults;
use crate::k8s::validation::Ipv4Cidr;
use crate::scenario::model::*;
use crate::scenario::schema;
use crate::sim::{Ratio, SimDuration};
use std::collections::BTreeSet;
use toml::Spanned;

impl Validator<'_> {
    /// The declared cluster and network names (unique, DNS labels, not both).
    pub(super) fn names(
        &mut self,
        clusters_raw: &[Spanned<schema::Cluster>],
        networks_raw: &[Spanned<schema::Network>],
    ) -> Names {
        let mut networks = BTreeSet::new();
        for n in networks_raw {
            let name = self.label(&n.get_ref().name, "network");
            self.unique(&mut networks, name, &n.get_ref().name, "network");
        }
        let mut cluster_names = BTreeSet::new();
        for c in clusters_raw {
            let name = self.label(&c.get_ref().name, "cluster");
            if networks.contains(&name) {
                self.error(
                    &c.get_ref().name,
                    format!("\"{name}\" is already the name of a network"),
                );
            }
            self.unique(&mut cluster_names, name, &c.get_ref().name, "cluster");
        }
        if clusters_raw.is_empty() {
            self.diags
                .push(self.map.at(Some(0..0), "expected at least one [[cluster]]"));
        }
        Names {
            clusters: cluster_names,
            networks,
        }
    }

    pub(super) fn clusters(
        &mut self,
        raw: &[Spanned<schema::Cluster>],
        names: &Names,
    ) -> Vec<ClusterSpec> {
        let networks = &names.networks;
        let mut clusters = Vec::new();
        for c in raw {
            let c = c.get_ref();
            if let Some(n) = &c.network
                && !networks.contains(n.get_ref())
            {
                self.error(
                    n,
                    format!(
                        "unknown network \"{}\" (declare it with [[network]])",
                        n.get_ref()
                    ),
                );
            }
            // mcsim models one gateway per cluster (spec §8.1: the `linkerd-gateway`
            // Deployment); more replicas would change what a gateway outage takes away.
            if let Some(replicas) = &c.gateway_replicas
                && *replicas.get_ref() != 1
            {
                self.error(
                    replicas,
                    format!(
                        "mcsim models one gateway replica per cluster, found gateway_replicas = {}",
                        replicas.get_ref()
                    ),
                );
            }
            let api = c.api.as_ref();
            let pod_cidr = c
                .pod_cidr
                .as_ref()
                .and_then(|t| self.cidr(t, "pod_cidr", 8));
            let service_cidr =
                (c.service_cidr.as_ref()).and_then(|t| self.cidr(t, "service_cidr", 12));
            let snapshot = c.snapshot.as_ref().map(|p| self.snapshot(p));
            clusters.push(ClusterSpec {
                name: c.name.get_ref().clone(),
                domain: c
                    .domain
                    .clone()
                    .unwrap_or_else(|| defaults::CLUSTER_DOMAIN.into()),
                network: c.network.as_ref().map(|n| n.get_ref().clone()),
                trust_anchor: c
                    .trust_anchor
                    .clone()
                    .unwrap_or_else(|| defaults::TRUST_ANCHOR.into()),
                trusts: c.trusts.clone(),
                gateway: c.gateway.unwrap_or(true),
                local_service_mirror: c.local_service_mirror.unwrap_or(true),
                clock_skew_ns: c.clock_skew.map(|s| s.0).unwrap_or(0),
                watch_history: api
                    .and_then(|a| a.watch_history)
                    .unwrap_or(defaults::WATCH_HISTORY_EVENTS),
                watch_timeout: api
                    .and_then(|a| a.watch_timeout)
                    .map(|d| d.0)
                    .unwrap_or(defaults::WATCH_TIMEOUT),
                client_qps: api
                    .and_then(|a| a.client_qps)
                    .unwrap_or(defaults::CLIENT_QPS),
                client_burst: api
                    .and_then(|a| a.client_burst)
                    .unwrap_or(defaults::CLIENT_BURST),
                in_cluster_latency: c
                    .in_cluster_latency
                    .map(|d| d.0)
                    .unwrap_or(defaults::IN_CLUSTER_LATENCY),
                pod_cidr,
                service_cidr,
                snapshot,
            });
        }
        clusters
    }

    /// An IPv4 CIDR of prefix length `shortest` to 30 (at least two usable addresses). The API
    /// server refuses a service range shorter than /12; a pod network may be as wide as a /8.
    fn cidr(&mut self, text: &Spanned<String>, what: &str, shortest: u32) -> Option<Ipv4Cidr> {
        let parsed = Ipv4Cidr::parse(text.get_ref())
            .ok()
            .filter(|c| (4..=1u64 << (32 - shortest)).contains(&c.size()));
        if parsed.is_none() {
            self.error(
                text,
                format!(
                    "expected {what} as an IPv4 CIDR of /{shortest} to /30, e.g. \"10.244.0.0/16\", found \"{}\"",
                    text.get_ref()
                ),
            );
        }
        parsed
    }

    /// Reads a `[[cluster]] snapshot` (relative to the scenario) as the API server takes a
    /// `kubectl get -o yaml` `List`: strict field validation, every object with its position.
    fn snapshot(&mut self, at: &Spanned<String>) -> SnapshotSpec {
        let path = std::path::Path::new(self.map.file)
            .parent()
            .unwrap_or(std::path::Path::new(""))
            .join(at.get_ref());
        let mut discovery = crate::k8s::discovery::Discovery::new();
        let target = crate::k8s::manifest::ApplyTarget::default();
        let objects = self.manifest_objects(at, &path, &mut discovery, &target);
        SnapshotSpec { path, objects }
    }

    pub(super) fn paths(&mut self, raw: &[Spanned<schema::Path>], names: &Names) -> Vec<PathSpec> {
        let (cluster_names, networks) = (&names.clusters, &names.networks);
        let mut paths = Vec::new();
        for p in raw {
            let anchor = Spanned::new(p.span(), String::new());
            let p = p.get_ref();
            let between = p.between.get_ref();
            let at = Spanned::new(p.between.span(), anchor.get_ref().clone());
            let (a, b) = self.pair(between, &at, cluster_names, networks);
            paths.push(PathSpec {
                a,
                b,
                latency: p.latency.0,
                jitter: p.jitter.map(|d| d.0).unwrap_or(SimDuration::ZERO),
                loss: p.loss.map(|l| l.0).unwrap_or(Ratio::ZERO),
                bandwidth: p.bandwidth,
            });
        }
        paths
    }

    pub(super) fn flat_networks(
        &mut self,
        raw: &[Spanned<schema::FlatNetwork>],
        names: &Names,
    ) -> Vec<Vec<String>> {
        let cluster_names = &names.clusters;
        let mut flat_networks = Vec::new();
        for f in raw {
            let members: Vec<String> = f
                .get_ref()
                .clusters
                .iter()
                .map(|c| self.cluster_ref(c, cluster_names))
                .collect();
            if members.len() < 2 {
                self.error(f, "expected at least two clusters in a flat network");
            }
            flat_networks.push(members);
        }
        flat_networks
    }
}
