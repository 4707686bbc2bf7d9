//! Parsing and validation: TOML text → [`schema::File`] → [`model::Scenario`], in one function.
//! Syntax, type and unknown-key errors come from toml with their spans; cross-reference and
//! consistency errors are collected here, every one with the span of the offending value.

use super::diag::{Diagnostic, Diagnostics, SourceMap};
use super::model::*;
use super::schema::{self, ExportField, ExportMode, Name};
use crate::sim::{Exploration, Ratio, SimDuration, Tape};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use toml::Spanned;

/// Names of the checks a scenario can expect to fail.
pub const CHECK_NAMES: &[&str] = &[
    "safety.foreign-writes",
    "safety.untrusted-accept",
    "safety.wrong-pod",
    "safety.unexported-mirror",
    "convergence",
    "failure-domains",
    "headless-dns",
    "faults-fired",
    "availability",
    "link-status",
    "write-amplification",
];

/// The registries a scenario's named options are validated against.
#[derive(Clone, Copy, Debug)]
pub struct Registry {
    pub fixes: &'static [&'static str],
    pub breakages: &'static [&'static str],
}

impl Registry {
    pub fn global() -> Registry {
        Registry {
            fixes: crate::quirks::FIX_NAMES,
            breakages: crate::quirks::BREAKAGE_NAMES,
        }
    }
}

/// Reads and validates a scenario file.
pub fn load_file(path: &Path) -> Result<Scenario, Diagnostics> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        Diagnostics(vec![Diagnostic {
            file: file.clone(),
            line: 1,
            column: 1,
            message: format!("cannot read the scenario: {e}"),
        }])
    })?;
    load_str(&file, &text, Registry::global())
}

/// Parses and validates scenario text; `file` is used in diagnostics, and `[[manifest]]` paths
/// are read relative to its directory.
pub fn load_str(file: &str, text: &str, registry: Registry) -> Result<Scenario, Diagnostics> {
    let map = SourceMap { file, text };
    let raw: schema::File = match toml::from_str(text) {
        Ok(raw) => raw,
        Err(e) => {
            let message = e.message().trim_end().replace('\n', " ");
            return Err(Diagnostics(vec![map.at(e.span(), message)]));
        }
    };
    let mut v = Validator {
        map: &map,
        diags: Vec::new(),
        registry,
    };
    let scenario = v.convert(raw, file);
    if v.diags.is_empty() {
        Ok(scenario)
    } else {
        v.diags.sort_by_key(|d| (d.line, d.column));
        Err(Diagnostics(v.diags))
    }
}

struct Validator<'a> {
    map: &'a SourceMap<'a>,
    diags: Vec<Diagnostic>,
    registry: Registry,
}

const DEFAULT_NS: &str = "default";

fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

impl Validator<'_> {
    fn error<T>(&mut self, spanned: &Spanned<T>, message: impl Into<String>) {
        self.diags.push(self.map.at(Some(spanned.span()), message));
    }

    /// A scheduled time must fall inside the run: something due at or after the end of the run
    /// would never happen, and a run that silently skips it tests less than it claims.
    fn before_end(&mut self, at: &Spanned<super::values::Dur>, end: SimDuration, what: &str) {
        let at_value = at.get_ref().0;
        if !end.is_zero() && at_value >= end {
            self.error(
                at,
                format!(
                    "expected {what} before the end of the run ([sim] duration = {end}), found {at_value}: the run would end before it could have any effect"
                ),
            );
        }
    }

    /// Reads and parses a `[[manifest]]` file: an unreadable file is blamed on the scenario's
    /// `path`, a parse error on the manifest's own line and column.
    fn manifest_objects(
        &mut self,
        at: &Spanned<String>,
        path: &Path,
        discovery: &mut crate::k8s::discovery::Discovery,
        target: &crate::k8s::manifest::ApplyTarget,
    ) -> Vec<crate::k8s::manifest::Located> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                self.error(
                    at,
                    format!(
                        "expected a readable manifest file, cannot read {}: {e}",
                        path.display()
                    ),
                );
                return Vec::new();
            }
        };
        match crate::k8s::manifest::load_for_apply(&text, discovery, target) {
            Ok(objects) => objects,
            Err(errors) => {
                for e in errors {
                    self.diags.push(Diagnostic {
                        file: path.display().to_string(),
                        line: e.line.unwrap_or(1),
                        column: e.column.unwrap_or(1),
                        message: format!("document {}: {}", e.document, e.message),
                    });
                }
                Vec::new()
            }
        }
    }

    fn label(&mut self, name: &Name, what: &str) -> String {
        if !is_dns_label(name.get_ref()) {
            self.error(
                name,
                format!(
                    "expected a {what} name made of lowercase letters, digits and '-' (at most 63 characters), found \"{}\"",
                    name.get_ref()
                ),
            );
        }
        name.get_ref().clone()
    }

    fn cluster_ref(&mut self, name: &Name, clusters: &BTreeSet<String>) -> String {
        if !clusters.contains(name.get_ref()) {
            let known: Vec<&str> = clusters.iter().map(String::as_str).collect();
            self.error(
                name,
                format!(
                    "unknown cluster \"{}\" (expected one of: {})",
                    name.get_ref(),
                    known.join(", ")
                ),
            );
        }
        name.get_ref().clone()
    }

    fn unique(&mut self, seen: &mut BTreeSet<String>, key: String, at: &Name, what: &str) {
        if !seen.insert(key) {
            self.error(at, format!("duplicate {what} \"{}\"", at.get_ref()));
        }
    }

    fn namespace(&mut self, ns: &Option<Name>) -> String {
        match ns {
            Some(n) => self.label(n, "namespace"),
            None => DEFAULT_NS.to_string(),
        }
    }

    fn ports(&mut self, ports: &[schema::Port], at: &Name) -> Vec<PortSpec> {
        let mut names = BTreeSet::new();
        let mut out = Vec::new();
        for p in ports {
            if let Some(n) = &p.name
                && !names.insert(n.clone())
            {
                self.error(
                    at,
                    format!("duplicate port name \"{n}\" in \"{}\"", at.get_ref()),
                );
            }
            if ports.len() > 1 && p.name.is_none() {
                self.error(
                    at,
                    format!(
                        "\"{}\" has several ports, so every port needs a name",
                        at.get_ref()
                    ),
                );
            }
            let protocol = p.protocol.clone().unwrap_or_else(|| "TCP".into());
            if !matches!(protocol.as_str(), "TCP" | "UDP" | "SCTP") {
                self.error(
                    at,
                    format!("expected port protocol TCP, UDP or SCTP, found \"{protocol}\""),
                );
            }
            if p.port == 0 {
                self.error(
                    at,
                    format!("port 0 is not a valid service port in \"{}\"", at.get_ref()),
                );
            }
            out.push(PortSpec {
                name: p.name.clone(),
                port: p.port,
                target_port: p.target_port.unwrap_or(p.port),
                protocol,
            });
        }
        out
    }

    fn export(field: Option<ExportField>) -> Export {
        match field {
            None | Some(ExportField::Flag(false)) => Export::None,
            Some(ExportField::Flag(true)) | Some(ExportField::Mode(ExportMode::Gateway)) => {
                Export::Gateway
            }
            Some(ExportField::Mode(ExportMode::RemoteDiscovery)) => Export::RemoteDiscovery,
        }
    }

    fn endpoint_ref(
        &mut self,
        name: &Name,
        clusters: &BTreeSet<String>,
        networks: &BTreeSet<String>,
    ) -> String {
        if !clusters.contains(name.get_ref()) && !networks.contains(name.get_ref()) {
            self.error(
                name,
                format!("unknown cluster or network \"{}\"", name.get_ref()),
            );
        }
        name.get_ref().clone()
    }

    fn pair(
        &mut self,
        between: &[Name],
        at: &Name,
        clusters: &BTreeSet<String>,
        networks: &BTreeSet<String>,
    ) -> (String, String) {
        if between.len() != 2 {
            self.error(
                at,
                format!(
                    "expected exactly two cluster or network names in `between`, found {}",
                    between.len()
                ),
            );
            return (String::new(), String::new());
        }
        let a = self.endpoint_ref(&between[0], clusters, networks);
        let b = self.endpoint_ref(&between[1], clusters, networks);
        if a == b {
            self.error(
                &between[1],
                format!("a path needs two different ends, found \"{a}\" twice"),
            );
        }
        (a, b)
    }

    fn convert(&mut self, raw: schema::File, source: &str) -> Scenario {
        // --- clusters and networks first: everything else refers to them.
        let mut networks = BTreeSet::new();
        for n in &raw.networks {
            let name = self.label(&n.get_ref().name, "network");
            self.unique(&mut networks, name, &n.get_ref().name, "network");
        }
        let mut cluster_names = BTreeSet::new();
        for c in &raw.clusters {
            let name = self.label(&c.get_ref().name, "cluster");
            if networks.contains(&name) {
                self.error(
                    &c.get_ref().name,
                    format!("\"{name}\" is already the name of a network"),
                );
            }
            self.unique(&mut cluster_names, name, &c.get_ref().name, "cluster");
        }
        if raw.clusters.is_empty() {
            self.diags
                .push(self.map.at(Some(0..0), "expected at least one [[cluster]]"));
        }
        let mut clusters = Vec::new();
        for c in &raw.clusters {
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
            let api = c.api.as_ref();
            clusters.push(ClusterSpec {
                name: c.name.get_ref().clone(),
                domain: c.domain.clone().unwrap_or_else(|| "cluster.local".into()),
                network: c.network.as_ref().map(|n| n.get_ref().clone()),
                trust_anchor: c.trust_anchor.clone().unwrap_or_else(|| "root".into()),
                trusts: c.trusts.clone(),
                gateway: c.gateway.unwrap_or(true),
                gateway_replicas: c.gateway_replicas.unwrap_or(1).max(1),
                local_service_mirror: c.local_service_mirror.unwrap_or(true),
                clock_skew_ns: c.clock_skew.map(|s| s.0).unwrap_or(0),
                watch_history: api.and_then(|a| a.watch_history).unwrap_or(1000),
                watch_timeout: api
                    .and_then(|a| a.watch_timeout)
                    .map(|d| d.0)
                    .unwrap_or(SimDuration::from_secs(290)),
                client_qps: api.and_then(|a| a.client_qps).unwrap_or(5),
                client_burst: api.and_then(|a| a.client_burst).unwrap_or(10),
                in_cluster_latency: c
                    .in_cluster_latency
                    .map(|d| d.0)
                    .unwrap_or(SimDuration::from_micros(500)),
            });
        }

        // --- sim
        let duration = raw.sim.duration.0;
        if duration.is_zero() {
            // No span for the value itself is kept; point at the start of [sim].
            self.diags.push(
                self.map
                    .at(Some(0..0), "expected [sim] duration greater than zero"),
            );
        }

        // --- linkerd options
        let linkerd_raw = raw.linkerd.unwrap_or_default();
        let mut fixes = Vec::new();
        for f in &linkerd_raw.fixes {
            if !self.registry.fixes.contains(&f.get_ref().as_str()) {
                self.error(
                    f,
                    format!(
                        "unknown fix \"{}\" (known fixes: {})",
                        f.get_ref(),
                        self.registry.fixes.join(", ")
                    ),
                );
            }
            fixes.push(f.get_ref().clone());
        }

        // --- paths
        let mut paths = Vec::new();
        for p in &raw.paths {
            let anchor = Spanned::new(p.span(), String::new());
            let p = p.get_ref();
            let between = p.between.get_ref();
            let at = Spanned::new(p.between.span(), anchor.get_ref().clone());
            let (a, b) = self.pair(between, &at, &cluster_names, &networks);
            paths.push(PathSpec {
                a,
                b,
                latency: p.latency.0,
                jitter: p.jitter.map(|d| d.0).unwrap_or(SimDuration::ZERO),
                loss: p.loss.map(|l| l.0).unwrap_or(Ratio::ZERO),
                bandwidth: p.bandwidth,
            });
        }
        let mut flat_networks = Vec::new();
        for f in &raw.flat_networks {
            let members: Vec<String> = f
                .get_ref()
                .clusters
                .iter()
                .map(|c| self.cluster_ref(c, &cluster_names))
                .collect();
            if members.len() < 2 {
                self.error(f, "expected at least two clusters in a flat network");
            }
            flat_networks.push(members);
        }

        // --- links
        let mut links = Vec::new();
        let mut link_keys = BTreeSet::new();
        for l in &raw.links {
            let l = l.get_ref();
            let from = self.cluster_ref(&l.from, &cluster_names);
            let to = self.cluster_ref(&l.to, &cluster_names);
            if from == to {
                self.error(
                    &l.to,
                    format!(
                        "a link goes from one cluster to another, found \"{from}\" on both ends"
                    ),
                );
            }
            let name_at = l.name.as_ref().unwrap_or(&l.to);
            let name = self.label(name_at, "link");
            self.unique(
                &mut link_keys,
                format!("{from}/{name}"),
                name_at,
                &format!("link in cluster \"{from}\""),
            );
            let gateway = l.gateway.unwrap_or(true);
            if gateway
                && let Some(target) = clusters.iter().find(|c| c.name == to)
                && !target.gateway
            {
                self.error(&l.to, format!("link to \"{to}\" uses a gateway, but cluster \"{to}\" has `gateway = false`"));
            }
            let probe = l.probe.as_ref();
            links.push(LinkSpec {
                name,
                from,
                to,
                headless: l.headless.unwrap_or(false),
                namespace_creation: l.namespace_creation.unwrap_or(false),
                gateway,
                requeue_limit: l.requeue_limit.unwrap_or(3),
                selector: if gateway {
                    Some(
                        l.selector
                            .as_ref()
                            .map(|s| s.get_ref().clone())
                            .unwrap_or_else(|| "mirror.linkerd.io/exported=true".into()),
                    )
                } else {
                    l.selector.as_ref().map(|s| s.get_ref().clone())
                },
                remote_discovery_selector: Some(
                    l.remote_discovery_selector
                        .as_ref()
                        .map(|s| s.get_ref().clone())
                        .unwrap_or_else(|| "mirror.linkerd.io/exported=remote-discovery".into()),
                ),
                federated_selector: Some(
                    l.federated_selector
                        .as_ref()
                        .map(|s| s.get_ref().clone())
                        .unwrap_or_else(|| "mirror.linkerd.io/federated=member".into()),
                ),
                excluded_labels: l.excluded_labels.clone(),
                excluded_annotations: l.excluded_annotations.clone(),
                probe: ProbeSpec {
                    path: if gateway {
                        probe
                            .and_then(|p| p.path.clone())
                            .unwrap_or_else(|| "/ready".into())
                    } else {
                        String::new()
                    },
                    period: probe
                        .and_then(|p| p.period)
                        .map(|d| d.0)
                        .unwrap_or(SimDuration::from_secs(3)),
                    timeout: probe
                        .and_then(|p| p.timeout)
                        .map(|d| d.0)
                        .unwrap_or(SimDuration::from_secs(30)),
                    failure_threshold: probe.and_then(|p| p.failure_threshold).unwrap_or(3),
                },
                at: l.at.as_ref().map_or(SimDuration::ZERO, |d| {
                    self.before_end(d, duration, "the link's `at`");
                    d.get_ref().0
                }),
                credentials: l.credentials.unwrap_or(true),
            });
        }

        // --- namespaces and workloads
        let mut namespaces = Vec::new();
        let mut ns_keys = BTreeSet::new();
        for n in &raw.namespaces {
            let n = n.get_ref();
            let cluster = self.cluster_ref(&n.cluster, &cluster_names);
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
        for s in &raw.services {
            let s = s.get_ref();
            let cluster = self.cluster_ref(&s.cluster, &cluster_names);
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
        for s in &raw.statefulsets {
            let s = s.get_ref();
            let cluster = self.cluster_ref(&s.cluster, &cluster_names);
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
        for d in &raw.deployments {
            let d = d.get_ref();
            let cluster = self.cluster_ref(&d.cluster, &cluster_names);
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
        let mut discoveries: BTreeMap<String, crate::k8s::discovery::Discovery> = BTreeMap::new();
        for m in &raw.manifests {
            let m = m.get_ref();
            let cluster = self.cluster_ref(&m.cluster, &cluster_names);
            let path = Path::new(self.map.file)
                .parent()
                .unwrap_or(Path::new(""))
                .join(m.path.get_ref());
            let target = match &m.namespace {
                Some(n) => crate::k8s::manifest::ApplyTarget {
                    namespace: self.label(n, "namespace"),
                    explicit: true,
                },
                None => crate::k8s::manifest::ApplyTarget::default(),
            };
            let discovery = discoveries.entry(cluster.clone()).or_default();
            let objects = self.manifest_objects(&m.path, &path, discovery, &target);
            manifests.push(ManifestSpec {
                cluster,
                path,
                objects,
            });
        }

        // --- traffic
        let mut traffic = Vec::new();
        for t in &raw.traffic {
            let t = t.get_ref();
            let from = self.cluster_ref(&t.from, &cluster_names);
            let (host, port) = match t.to.get_ref().rsplit_once(':') {
                Some((h, p)) if !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p > 0) => {
                    (h.to_ascii_lowercase(), p.parse().unwrap_or(80))
                }
                _ => {
                    self.error(&t.to, format!("expected `host:port` such as \"web-east.default.svc.cluster.local:80\", found \"{}\"", t.to.get_ref()));
                    (String::new(), 0)
                }
            };
            let interval = match t.rate.interval() {
                Some(i) => i,
                None => {
                    self.error(&t.to, "traffic rate must be greater than zero");
                    SimDuration::from_secs(1)
                }
            };
            traffic.push(TrafficSpec {
                from,
                namespace: t.namespace.clone().unwrap_or_else(|| DEFAULT_NS.into()),
                service_account: t.service_account.clone().unwrap_or_else(|| "client".into()),
                host,
                port,
                interval,
                start: t.start.as_ref().map_or(SimDuration::ZERO, |d| {
                    self.before_end(d, duration, "the traffic's `start`");
                    d.get_ref().0
                }),
                stop: t.stop.map(|d| d.0),
                timeout: t.timeout.map(|d| d.0).unwrap_or(SimDuration::from_secs(10)),
            });
        }

        // --- faults
        let mut faults = Vec::new();
        for f in &raw.faults {
            self.before_end(&f.get_ref().at, duration, "the fault's `at`");
            if let Some(kind) = self.fault_kind(f, &cluster_names, &networks, &links) {
                faults.push(FaultSpec {
                    at: f.get_ref().at.get_ref().0,
                    duration: f.get_ref().duration.map(|d| d.0),
                    kind,
                });
            }
        }
        faults.sort_by_key(|f| f.at);

        // --- actions
        let mut actions = Vec::new();
        for a in &raw.actions {
            let span = a.span();
            let a = a.get_ref();
            self.before_end(&a.at, duration, "the action's `at`");
            let cluster = self.cluster_ref(&a.cluster, &cluster_names);
            let mut kinds = Vec::new();
            if let Some(s) = &a.scale {
                kinds.push(ActionKind::Scale {
                    workload: s.workload.clone(),
                    replicas: s.replicas,
                });
            }
            if let Some(s) = &a.export {
                kinds.push(ActionKind::Export { service: s.clone() });
            }
            if let Some(s) = &a.unexport {
                kinds.push(ActionKind::Unexport { service: s.clone() });
            }
            if let Some(s) = &a.delete_service {
                kinds.push(ActionKind::DeleteService { service: s.clone() });
            }
            if let Some(s) = &a.delete_link {
                kinds.push(ActionKind::DeleteLink { link: s.clone() });
            }
            if let Some(s) = &a.unlink {
                kinds.push(ActionKind::Unlink { link: s.clone() });
            }
            if let Some(s) = &a.link {
                if !links.iter().any(|l| l.name == *s && l.from == cluster) {
                    self.diags.push(self.map.at(
                        Some(span.clone()),
                        format!("expected `link` to name a [[link]] from cluster \"{cluster}\", found \"{s}\""),
                    ));
                }
                kinds.push(ActionKind::Link { link: s.clone() });
            }
            if let Some(c) = &a.link_selector {
                if let Err(e) = crate::k8s::LabelSelector::parse(c.selector.get_ref()) {
                    self.error(&c.selector, format!("expected a label selector: {e}"));
                }
                kinds.push(ActionKind::LinkSelector {
                    link: c.link.clone(),
                    selector: c.selector.get_ref().clone(),
                });
            }
            if let Some(s) = &a.create_namespace {
                kinds.push(ActionKind::CreateNamespace { name: s.clone() });
            }
            if let Some(l) = &a.label {
                kinds.push(ActionKind::Label {
                    service: l.service.clone(),
                    key: l.key.clone(),
                    value: l.value.clone(),
                });
            }
            if let Some(l) = &a.annotate {
                kinds.push(ActionKind::Annotate {
                    service: l.service.clone(),
                    key: l.key.clone(),
                    value: l.value.clone(),
                });
            }
            if kinds.len() != 1 {
                self.diags.push(self.map.at(
                    Some(span),
                    format!(
                        "expected exactly one action kind (scale, export, unexport, delete_service, delete_link, unlink, link, link_selector, create_namespace, label, annotate), found {}",
                        kinds.len()
                    ),
                ));
                continue;
            }
            actions.push(ActionSpec {
                at: a.at.get_ref().0,
                cluster,
                namespace: a.namespace.clone().unwrap_or_else(|| DEFAULT_NS.into()),
                kind: kinds.remove(0),
            });
        }
        // A link made after the start is a `link` action at that time.
        for l in links.iter().filter(|l| !l.at.is_zero()) {
            actions.push(ActionSpec {
                at: l.at,
                cluster: l.from.clone(),
                namespace: DEFAULT_NS.into(),
                kind: ActionKind::Link {
                    link: l.name.clone(),
                },
            });
        }
        actions.sort_by_key(|a| a.at);

        // --- checks, expectation, fuzz, testing
        let checks_raw = raw.checks.unwrap_or_default();
        let checks = CheckSpec {
            converged_within: checks_raw
                .converged_within
                .map(|d| d.0)
                .unwrap_or(SimDuration::from_secs(120)),
            failure_domain_tolerance: checks_raw.failure_domains.map(|f| f.tolerance.0),
            headless_dns: checks_raw.headless_dns.unwrap_or(true),
            identity: checks_raw.identity.unwrap_or(true),
            safety: checks_raw.safety.unwrap_or(true),
            link_status: checks_raw.link_status.unwrap_or(false),
            needless_writes: checks_raw.needless_writes.map(|r| WriteBudget {
                count: r.count,
                per: r.per,
            }),
        };
        let expect = raw.expect.map(|e| {
            let verdict = match e.verdict.get_ref().as_str() {
                "pass" => ExpectedVerdict::Pass,
                "fail" => ExpectedVerdict::Fail,
                "inconclusive" => ExpectedVerdict::Inconclusive,
                "error" => ExpectedVerdict::Error,
                other => {
                    self.error(
                        &e.verdict,
                        format!("expected verdict \"pass\", \"fail\", \"inconclusive\" or \"error\", found \"{other}\""),
                    );
                    ExpectedVerdict::Pass
                }
            };
            let pass = verdict == ExpectedVerdict::Pass;
            let mut failing = Vec::new();
            for f in &e.failing {
                if !CHECK_NAMES.contains(&f.get_ref().as_str()) {
                    self.error(
                        f,
                        format!(
                            "unknown check \"{}\" (known checks: {})",
                            f.get_ref(),
                            CHECK_NAMES.join(", ")
                        ),
                    );
                }
                failing.push(f.get_ref().clone());
            }
            if pass && !failing.is_empty() {
                self.error(
                    &e.verdict,
                    "a scenario expected to pass cannot list failing checks",
                );
            }
            let fix = e.fix.as_ref().map(|f| {
                if !self.registry.fixes.contains(&f.get_ref().as_str()) {
                    self.error(f, format!("unknown fix \"{}\"", f.get_ref()));
                }
                if pass {
                    self.error(f, "a fix is expected to turn a failing scenario into a passing one: use verdict = \"fail\"");
                }
                f.get_ref().clone()
            });
            Expectation {
                verdict,
                failing,
                fix,
            }
        });
        let fuzz_raw = raw.fuzz.unwrap_or_default();
        let fuzz = FuzzSpec {
            faults: fuzz_raw.faults.map(|fs| {
                fs.iter()
                    .map(|f| {
                        if !FAULT_KINDS.contains(&f.get_ref().as_str()) {
                            self.error(
                                f,
                                format!(
                                    "unknown fault kind \"{}\" (known: {})",
                                    f.get_ref(),
                                    FAULT_KINDS.join(", ")
                                ),
                            );
                        }
                        f.get_ref().clone()
                    })
                    .collect()
            }),
            delay_perturbation_max: fuzz_raw.delay_perturbation_max.map(|d| d.0),
        };
        let exploration = match &raw.sim.exploration {
            None => Exploration::Fifo,
            Some(e) => match e.get_ref().as_str() {
                "fifo" => Exploration::Fifo,
                "random" => Exploration::Random,
                "pct" => Exploration::Pct,
                other => {
                    self.error(
                        e,
                        format!(
                            "unknown exploration \"{other}\" (expected \"fifo\", \"random\" or \"pct\")"
                        ),
                    );
                    Exploration::Fifo
                }
            },
        };
        let decisions = raw.sim.decisions.as_ref().map(|ds| {
            let mut entries: Vec<(u64, u64)> = Vec::new();
            for d in ds {
                match parse_decision(d.get_ref()) {
                    Some((i, v)) if entries.last().is_none_or(|&(last, _)| last < i) => {
                        entries.push((i, v))
                    }
                    Some(_) => self.error(d, "decisions must be in increasing index order"),
                    None => self.error(
                        d,
                        format!(
                            "expected a decision \"index:hexvalue\" such as \"12:9f3a\", found \"{}\"",
                            d.get_ref()
                        ),
                    ),
                }
            }
            Tape { entries }
        });
        if decisions.is_some()
            && exploration == Exploration::Fifo
            && let Some(first) = raw.sim.decisions.as_ref().and_then(|ds| ds.first())
        {
            self.error(
                first,
                "decisions replay an exploration: set exploration = \"random\" or \"pct\"",
            );
        }
        let mut breakages = Vec::new();
        for b in raw.testing.unwrap_or_default().breakages {
            if !self.registry.breakages.contains(&b.get_ref().as_str()) {
                self.error(
                    &b,
                    format!(
                        "unknown breakage \"{}\" (known: {})",
                        b.get_ref(),
                        self.registry.breakages.join(", ")
                    ),
                );
            }
            breakages.push(b.get_ref().clone());
        }

        Scenario {
            name: raw.sim.name,
            source: source.to_string(),
            seed: raw.sim.seed,
            duration,
            quiet_period: raw
                .sim
                .quiet_period
                .map(|d| d.0)
                .unwrap_or(SimDuration::from_secs(60)),
            events_max: raw.sim.events_max.unwrap_or(200_000_000),
            exploration,
            decisions,
            linkerd: LinkerdOptions {
                fixes,
                trust_domain: linkerd_raw
                    .trust_domain
                    .unwrap_or_else(|| "cluster.local".into()),
            },
            clusters,
            networks: networks.into_iter().collect(),
            paths,
            flat_networks,
            links,
            namespaces,
            services,
            statefulsets,
            deployments,
            manifests,
            traffic,
            faults,
            actions,
            checks,
            expect,
            fuzz,
            breakages,
        }
    }

    fn fault_kind(
        &mut self,
        f: &Spanned<schema::Fault>,
        clusters: &BTreeSet<String>,
        networks: &BTreeSet<String>,
        links: &[LinkSpec],
    ) -> Option<FaultKind> {
        let span = f.span();
        let f = f.get_ref();
        let mut kinds: Vec<FaultKind> = Vec::new();
        if let Some(p) = &f.partition {
            let mut groups = Vec::new();
            for g in p.get_ref() {
                if g.is_empty() {
                    self.error(
                        p,
                        "expected each partition group to name at least one cluster or network",
                    );
                }
                groups.push(
                    g.iter()
                        .map(|n| self.endpoint_ref(n, clusters, networks))
                        .collect::<Vec<_>>(),
                );
            }
            if groups.len() < 2 {
                self.error(
                    p,
                    "expected a partition of at least two groups, e.g. [[\"west\"], [\"east\"]]",
                );
            }
            let mut seen = BTreeSet::new();
            for name in groups.iter().flatten() {
                if !seen.insert(name.clone()) {
                    self.error(
                        p,
                        format!("\"{name}\" appears in more than one partition group"),
                    );
                }
            }
            let mode = match f.mode.as_ref().map(|m| m.get_ref().as_str()) {
                None | Some("drop") => PartitionMode::Drop,
                Some("reject") => PartitionMode::Reject,
                Some(other) => {
                    let m = f
                        .mode
                        .as_ref()
                        .map(|m| Spanned::new(m.span(), ()))
                        .unwrap_or_else(|| Spanned::new(span.clone(), ()));
                    self.error(
                        &m,
                        format!(
                            "expected partition mode \"drop\" or \"reject\", found \"{other}\""
                        ),
                    );
                    PartitionMode::Drop
                }
            };
            kinds.push(FaultKind::Partition {
                groups,
                one_way: f.one_way.unwrap_or(false),
                mode,
            });
        } else if f.one_way.is_some() || f.mode.is_some() {
            self.diags.push(self.map.at(
                Some(span.clone()),
                "`one_way` and `mode` only apply to a `partition` fault",
            ));
        }
        if let Some(c) = &f.cluster_down {
            kinds.push(FaultKind::ClusterDown(self.cluster_ref(c, clusters)));
        }
        if let Some(c) = &f.api_server_down {
            kinds.push(FaultKind::ApiServerDown(self.cluster_ref(c, clusters)));
        }
        if let Some(c) = &f.gateway_down {
            kinds.push(FaultKind::GatewayDown(self.cluster_ref(c, clusters)));
        }
        if let Some(c) = &f.controller_crash {
            let cluster = self.cluster_ref(&c.cluster, clusters);
            if !links
                .iter()
                .any(|l| l.from == cluster && &l.name == c.link.get_ref())
            {
                self.error(
                    &c.link,
                    format!(
                        "cluster \"{cluster}\" has no link named \"{}\"",
                        c.link.get_ref()
                    ),
                );
            }
            kinds.push(FaultKind::ControllerCrash {
                cluster,
                link: c.link.get_ref().clone(),
            });
        }
        if let Some(p) = &f.pod_kill {
            kinds.push(FaultKind::PodKill {
                cluster: self.cluster_ref(&p.cluster, clusters),
                namespace: p.namespace.clone().unwrap_or_else(|| DEFAULT_NS.into()),
                pod: p.pod.clone(),
            });
        }
        if let Some(c) = &f.dns_failure {
            kinds.push(FaultKind::DnsFailure(self.cluster_ref(c, clusters)));
        }
        if let Some(s) = &f.clock_skew {
            kinds.push(FaultKind::ClockSkew {
                cluster: self.cluster_ref(&s.cluster, clusters),
                by_ns: s.by.0,
            });
        }
        if let Some(c) = &f.compact {
            kinds.push(FaultKind::Compact(self.cluster_ref(c, clusters)));
        }
        if let Some(c) = &f.cert_expiry {
            kinds.push(FaultKind::CertExpiry(self.cluster_ref(c, clusters)));
        }
        if let Some(c) = &f.rotate_certs {
            kinds.push(FaultKind::RotateCerts(self.cluster_ref(c, clusters)));
        }
        if let Some(t) = &f.trust_anchor {
            kinds.push(FaultKind::TrustAnchor {
                cluster: self.cluster_ref(&t.cluster, clusters),
                anchor: t.anchor.clone(),
            });
        }
        if let Some(s) = &f.slow_path {
            let at = Spanned::new(span.clone(), String::new());
            let (a, b) = self.pair(&s.between, &at, clusters, networks);
            kinds.push(FaultKind::SlowPath {
                a,
                b,
                latency: s.latency.0,
            });
        }
        if let Some(l) = &f.lossy_path {
            let at = Spanned::new(span.clone(), String::new());
            let (a, b) = self.pair(&l.between, &at, clusters, networks);
            kinds.push(FaultKind::LossyPath {
                a,
                b,
                loss: l.loss.map(|p| p.0).unwrap_or(Ratio::ZERO),
                duplicate: l.duplicate.map(|p| p.0).unwrap_or(Ratio::ZERO),
                reorder: l.reorder.map(|p| p.0).unwrap_or(Ratio::ZERO),
            });
        }
        if kinds.len() != 1 {
            self.diags.push(self.map.at(
                Some(span),
                format!(
                    "expected exactly one fault kind ({}), found {}",
                    FAULT_KINDS.join(", "),
                    kinds.len()
                ),
            ));
            return None;
        }
        kinds.pop()
    }
}

/// `"index:hexvalue"` → (index, value).
fn parse_decision(text: &str) -> Option<(u64, u64)> {
    let (i, v) = text.split_once(':')?;
    Some((
        i.trim().parse().ok()?,
        u64::from_str_radix(v.trim(), 16).ok()?,
    ))
}
