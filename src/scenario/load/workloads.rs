//! `[[namespace]]`, `[[service]]`, `[[statefulset]]`, `[[deployment]]` and `[[manifest]]`: the
//! workloads of each cluster.

use super::{Names, Validator};
use crate::scenario::model::*;
use crate::scenario::schema;
use std::collections::BTreeSet;
use std::path::Path;

/// The workloads of a scenario, validated.
pub(super) struct Workloads {
    pub namespaces: Vec<NamespaceSpec>,
    pub services: Vec<ServiceSpec>,
    pub statefulsets: Vec<StatefulSetSpec>,
    pub deployments: Vec<DeploymentSpec>,
    pub manifests: Vec<ManifestSpec>,
}

/// The workload tables of the schema.
pub(super) struct RawWorkloads<'a> {
    pub namespaces: &'a [toml::Spanned<schema::Namespace>],
    pub services: &'a [toml::Spanned<schema::Service>],
    pub statefulsets: &'a [toml::Spanned<schema::StatefulSet>],
    pub deployments: &'a [toml::Spanned<schema::Deployment>],
    pub manifests: &'a [toml::Spanned<schema::Manifest>],
}

impl Validator<'_> {
    pub(super) fn workloads(&mut self, raw: RawWorkloads<'_>, names: &Names) -> Workloads {
        let cluster_names = &names.clusters;
        let mut namespaces = Vec::new();
        let mut ns_keys = BTreeSet::new();
        for n in raw.namespaces.iter() {
            let n = n.get_ref();
            let cluster = self.cluster_ref(&n.cluster, cluster_names);
            let name = self.label(&n.name, "namespace");
            self.unique(
                &mut ns_keys,
                format!("{cluster}/{name}"),
                &n.name,
                &format!("namespace in cluster \"{cluster}\""),
            );
            namespaces.push(NamespaceSpec { cluster, name });
        }
        let mut service_keys = BTreeSet::new();
        let mut services = Vec::new();
        for s in raw.services.iter() {
            let s = s.get_ref();
            let cluster = self.cluster_ref(&s.cluster, cluster_names);
            let namespace = self.namespace(&s.namespace);
            let name = self.label(&s.name, "service");
            self.unique(
                &mut service_keys,
                format!("{cluster}/{namespace}/{name}"),
                &s.name,
                &format!("service in {cluster}/{namespace}"),
            );
            let headless = s.headless.unwrap_or(false);
            if s.ports.is_empty() && !headless {
                self.error(&s.name, format!("service \"{name}\" needs at least one port (only headless services may have none)"));
            }
            let ports = self.ports(&s.ports, &s.name);
            services.push(ServiceSpec {
                cluster,
                namespace,
                service_account: s.service_account.clone().unwrap_or_else(|| name.clone()),
                name,
                ports,
                replicas: s.replicas.unwrap_or(1),
                headless,
                export: Self::export(s.exported),
                federated: s.federated.unwrap_or(false),
                labels: s.labels.clone(),
                annotations: s.annotations.clone(),
            });
        }
        let mut workload_keys = BTreeSet::new();
        let mut statefulsets = Vec::new();
        for s in raw.statefulsets.iter() {
            let s = s.get_ref();
            let cluster = self.cluster_ref(&s.cluster, cluster_names);
            let namespace = self.namespace(&s.namespace);
            let name = self.label(&s.name, "statefulset");
            self.unique(
                &mut workload_keys,
                format!("{cluster}/{namespace}/{name}"),
                &s.name,
                &format!("workload in {cluster}/{namespace}"),
            );
            let service_at = s.service.as_ref().unwrap_or(&s.name);
            let service = self.label(service_at, "service");
            self.unique(
                &mut service_keys,
                format!("{cluster}/{namespace}/{service}"),
                service_at,
                &format!("service in {cluster}/{namespace}"),
            );
            let default_ports = vec![schema::Port {
                name: Some("http".into()),
                port: 80,
                target_port: None,
                protocol: None,
            }];
            let ports = self.ports(s.ports.as_ref().unwrap_or(&default_ports), &s.name);
            statefulsets.push(StatefulSetSpec {
                cluster,
                namespace,
                service_account: s.service_account.clone().unwrap_or_else(|| name.clone()),
                name,
                service,
                replicas: s.replicas,
                ports,
                export: Self::export(s.exported),
                labels: s.labels.clone(),
            });
        }
        let mut deployments = Vec::new();
        for d in raw.deployments.iter() {
            let d = d.get_ref();
            let cluster = self.cluster_ref(&d.cluster, cluster_names);
            let namespace = self.namespace(&d.namespace);
            let name = self.label(&d.name, "deployment");
            self.unique(
                &mut workload_keys,
                format!("{cluster}/{namespace}/{name}"),
                &d.name,
                &format!("workload in {cluster}/{namespace}"),
            );
            deployments.push(DeploymentSpec {
                cluster,
                namespace,
                service_account: d.service_account.clone().unwrap_or_else(|| name.clone()),
                name,
                replicas: d.replicas,
                labels: d.labels.clone(),
            });
        }
        let mut manifests = Vec::new();
        // What each cluster's API server will know when the manifests are applied in order:
        // the built-in kinds and the CRDs earlier manifests create.
        let mut discoveries: std::collections::BTreeMap<String, crate::k8s::discovery::Discovery> =
            std::collections::BTreeMap::new();
        for m in raw.manifests.iter() {
            let m = m.get_ref();
            let cluster = self.cluster_ref(&m.cluster, cluster_names);
            let path = Path::new(self.map.file)
                .parent()
                .unwrap_or(Path::new(""))
                .join(m.path.get_ref());
            let namespace = m.namespace.as_ref().map(|n| self.label(n, "namespace"));
            let target = match &namespace {
                Some(n) => crate::k8s::manifest::ApplyTarget {
                    namespace: n.clone(),
                    explicit: true,
                },
                None => crate::k8s::manifest::ApplyTarget::default(),
            };
            let discovery = discoveries.entry(cluster.clone()).or_default();
            let objects = self.manifest_objects(&m.path, &path, discovery, &target);
            manifests.push(ManifestSpec {
                cluster,
                path,
                namespace,
                objects,
            });
        }
        Workloads {
            namespaces,
            services,
            statefulsets,
            deployments,
            manifests,
        }
    }
}
