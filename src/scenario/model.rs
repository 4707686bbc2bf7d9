//! The validated scenario: what the world builder consumes. Every reference has been resolved
//! (cluster, network and link names exist), defaults are applied, and values are typed.

use super::fault::{FaultSpec, FaultTag};
use crate::quirks::{Breakage, Fix};
use crate::sim::{Ratio, SimDuration};
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    pub name: String,
    /// Path of the file it was loaded from (for replay commands); empty for in-memory text.
    pub source: String,
    pub seed: u64,
    pub duration: SimDuration,
    pub quiet_period: SimDuration,
    pub events_max: u64,
    /// Exploration mode of a plain run (`[sim] exploration`); `--explore` overrides it.
    pub exploration: crate::sim::Exploration,
    /// Perturbation decisions to replay (`[sim] decisions`) instead of the seed's.
    pub decisions: Option<crate::sim::Tape>,
    pub linkerd: LinkerdOptions,
    pub clusters: Vec<ClusterSpec>,
    pub networks: Vec<String>,
    pub paths: Vec<PathSpec>,
    pub flat_networks: Vec<Vec<String>>,
    pub links: Vec<LinkSpec>,
    pub namespaces: Vec<NamespaceSpec>,
    pub services: Vec<ServiceSpec>,
    pub statefulsets: Vec<StatefulSetSpec>,
    pub deployments: Vec<DeploymentSpec>,
    pub manifests: Vec<ManifestSpec>,
    pub traffic: Vec<TrafficSpec>,
    pub faults: Vec<FaultSpec>,
    pub actions: Vec<ActionSpec>,
    pub checks: CheckSpec,
    pub expect: Option<Expectation>,
    pub fuzz: FuzzSpec,
    pub breakages: Vec<Breakage>,
}

impl Scenario {
    /// The actions a scenario file lists as `[[action]]`: every `[[link]]` with an `at` adds a
    /// `link` action at that time (the last such action of each link), which a saved scenario
    /// leaves to its link.
    pub fn explicit_actions(&self) -> Vec<&ActionSpec> {
        let mut implied: Vec<&LinkSpec> = self.links.iter().filter(|l| !l.at.is_zero()).collect();
        let mut keep = vec![true; self.actions.len()];
        for (i, a) in self.actions.iter().enumerate().rev() {
            let ActionKind::Link { link } = &a.kind else {
                continue;
            };
            let by_link = |l: &&LinkSpec| l.name == *link && l.from == a.cluster && l.at == a.at;
            if let Some(j) = implied.iter().position(by_link) {
                implied.remove(j);
                keep[i] = false;
            }
        }
        (self.actions.iter().zip(keep))
            .filter_map(|(a, keep)| keep.then_some(a))
            .collect()
    }

    /// Whether the test breakage `b` is switched on.
    pub fn has_breakage(&self, b: Breakage) -> bool {
        self.breakages.contains(&b)
    }
    pub fn cluster(&self, name: &str) -> Option<&ClusterSpec> {
        self.clusters.iter().find(|c| c.name == name)
    }
    /// The instant after which liveness checks judge the world: the last heal plus the quiet
    /// period, capped at the end of the run.
    pub fn liveness_from(&self) -> SimDuration {
        let last_heal = self
            .faults
            .iter()
            .map(|f| f.at + f.duration.unwrap_or(SimDuration::ZERO))
            .chain(self.actions.iter().map(|a| a.at))
            .max()
            .unwrap_or(SimDuration::ZERO);
        (last_heal + self.quiet_period).min(self.duration)
    }
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct LinkerdOptions {
    /// Quirk fixes switched on.
    pub fixes: Vec<Fix>,
    pub trust_domain: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ClusterSpec {
    pub name: String,
    pub domain: String,
    pub network: Option<String>,
    pub trust_anchor: String,
    /// Further anchors trusted besides `trust_anchor`.
    pub trusts: Vec<String>,
    pub gateway: bool,
    /// Run the local service mirror (federated membership of this cluster's own services).
    pub local_service_mirror: bool,
    /// Signed clock offset of this cluster, in nanoseconds.
    pub clock_skew_ns: i64,
    pub watch_history: u64,
    pub watch_timeout: SimDuration,
    pub client_qps: u32,
    pub client_burst: u32,
    pub in_cluster_latency: SimDuration,
    /// The pod network; `None`: mcsim's address plan.
    pub pod_cidr: Option<crate::k8s::validation::Ipv4Cidr>,
    /// The API server's ClusterIP range; `None`: `10.<95 + ordinal>.0.0/16`.
    pub service_cidr: Option<crate::k8s::validation::Ipv4Cidr>,
    /// The snapshot the cluster starts from (`[[cluster]] snapshot`).
    pub snapshot: Option<SnapshotSpec>,
}

/// A cluster snapshot: a `kubectl get ... -A -o yaml` `List`, read and checked as the API server
/// would (strict field validation) when the scenario was loaded.
#[derive(Clone, Debug, PartialEq)]
pub struct SnapshotSpec {
    /// The file, resolved against the scenario's directory.
    pub path: PathBuf,
    /// Its objects, each with the line and column it starts at.
    pub objects: Vec<crate::k8s::manifest::Located>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct PathSpec {
    pub a: String,
    pub b: String,
    pub latency: SimDuration,
    pub jitter: SimDuration,
    pub loss: Ratio,
    pub bandwidth: Option<u64>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ProbeSpec {
    pub path: String,
    pub period: SimDuration,
    pub timeout: SimDuration,
    pub failure_threshold: u32,
}

#[derive(Clone, Debug, PartialEq)]
pub struct LinkSpec {
    pub name: String,
    pub from: String,
    pub to: String,
    pub headless: bool,
    pub namespace_creation: bool,
    pub gateway: bool,
    pub requeue_limit: u32,
    /// Selector strings in Kubernetes notation; `None` means "matches nothing" (Linkerd's rule).
    pub selector: Option<String>,
    pub remote_discovery_selector: Option<String>,
    pub federated_selector: Option<String>,
    pub excluded_labels: Vec<String>,
    pub excluded_annotations: Vec<String>,
    pub probe: ProbeSpec,
    pub at: SimDuration,
    /// Whether the link's credentials Secret exists (`[[link]] credentials`, default true).
    pub credentials: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct NamespaceSpec {
    pub cluster: String,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortSpec {
    pub name: Option<String>,
    pub port: u16,
    pub target_port: u16,
    pub protocol: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Export {
    None,
    Gateway,
    RemoteDiscovery,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ServiceSpec {
    pub cluster: String,
    pub namespace: String,
    pub name: String,
    pub ports: Vec<PortSpec>,
    pub replicas: u32,
    pub headless: bool,
    pub export: Export,
    pub federated: bool,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub service_account: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct StatefulSetSpec {
    pub cluster: String,
    pub namespace: String,
    pub name: String,
    pub service: String,
    pub replicas: u32,
    pub ports: Vec<PortSpec>,
    pub export: Export,
    pub labels: BTreeMap<String, String>,
    pub service_account: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct DeploymentSpec {
    pub cluster: String,
    pub namespace: String,
    pub name: String,
    pub replicas: u32,
    pub labels: BTreeMap<String, String>,
    pub service_account: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ManifestSpec {
    pub cluster: String,
    /// The file, resolved against the scenario's directory.
    pub path: PathBuf,
    /// `kubectl apply -n`: the namespace asked for, if any (namespace-less objects otherwise go
    /// to `default`).
    pub namespace: Option<String>,
    /// Its objects, read, parsed and checked as `kubectl apply` would when the scenario was
    /// loaded (so `mcsim check` refuses a manifest `mcsim run` would refuse), each with the
    /// line and column it starts at.
    pub objects: Vec<crate::k8s::manifest::Located>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct TrafficSpec {
    pub from: String,
    pub namespace: String,
    pub service_account: String,
    pub host: String,
    pub port: u16,
    pub interval: SimDuration,
    pub start: SimDuration,
    pub stop: Option<SimDuration>,
    pub timeout: SimDuration,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum ActionKind {
    Scale {
        workload: String,
        replicas: u32,
    },
    Export {
        service: String,
    },
    Unexport {
        service: String,
    },
    DeleteService {
        service: String,
    },
    DeleteLink {
        link: String,
    },
    /// `linkerd multicluster unlink`: deletes the Link, its credentials Secret, its probe
    /// Service and every mirror Service of the link (spec §9.4).
    Unlink {
        link: String,
    },
    /// `linkerd multicluster link-gen | kubectl apply` of a declared link: creates its
    /// credentials Secrets, probe Service and Link (spec §2.3). `[[link]] at` becomes one.
    Link {
        link: String,
    },
    /// Sets a Link's `spec.selector` (validated when loaded).
    LinkSelector {
        link: String,
        selector: String,
    },
    CreateNamespace {
        name: String,
    },
    Label {
        service: String,
        key: String,
        value: Option<String>,
    },
    Annotate {
        service: String,
        key: String,
        value: Option<String>,
    },
    /// `kubectl apply -f path` (`-n namespace` when the action names one): each object of the
    /// file created, or, when it exists, updated (its labels, annotations and spec replaced;
    /// server-managed fields and status kept). The objects are read and checked when the
    /// scenario is loaded.
    Apply {
        path: PathBuf,
        /// Whether the action names its namespace (`kubectl apply -n`).
        explicit_namespace: bool,
        #[serde(skip)]
        objects: Vec<crate::k8s::manifest::Located>,
    },
}

impl ActionKind {
    /// The object the action changes (a workload, Service, Link or namespace name): a later
    /// action on the same object in the same cluster and namespace may undo it.
    pub fn object(&self) -> &str {
        match self {
            ActionKind::Scale { workload, .. } => workload,
            ActionKind::Export { service }
            | ActionKind::Unexport { service }
            | ActionKind::DeleteService { service }
            | ActionKind::Label { service, .. }
            | ActionKind::Annotate { service, .. } => service,
            ActionKind::DeleteLink { link }
            | ActionKind::Unlink { link }
            | ActionKind::Link { link }
            | ActionKind::LinkSelector { link, .. } => link,
            ActionKind::CreateNamespace { name } => name,
            ActionKind::Apply { path, .. } => path.to_str().unwrap_or(""),
        }
    }

    /// One line for reports, e.g. `scale web to 3`.
    pub fn describe(&self) -> String {
        match self {
            ActionKind::Scale { workload, replicas } => format!("scale {workload} to {replicas}"),
            ActionKind::Export { service } => format!("export {service}"),
            ActionKind::Unexport { service } => format!("unexport {service}"),
            ActionKind::DeleteService { service } => format!("delete service {service}"),
            ActionKind::DeleteLink { link } => format!("delete link {link}"),
            ActionKind::Unlink { link } => format!("unlink {link}"),
            ActionKind::Link { link } => format!("link {link}"),
            ActionKind::LinkSelector { link, selector } => {
                format!("set link {link} selector to {selector}")
            }
            ActionKind::CreateNamespace { name } => format!("create namespace {name}"),
            ActionKind::Label {
                service,
                key,
                value,
            } => match value {
                Some(v) => format!("label {service} {key}={v}"),
                None => format!("label {service} {key}-"),
            },
            ActionKind::Annotate {
                service,
                key,
                value,
            } => match value {
                Some(v) => format!("annotate {service} {key}={v}"),
                None => format!("annotate {service} {key}-"),
            },
            ActionKind::Apply { path, .. } => format!("apply {}", path.display()),
        }
    }
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ActionSpec {
    pub at: SimDuration,
    pub cluster: String,
    pub namespace: String,
    pub kind: ActionKind,
}

#[derive(Clone, Debug, PartialEq)]
pub struct CheckSpec {
    pub converged_within: SimDuration,
    /// `None`: the failure-domain check is off.
    pub failure_domain_tolerance: Option<Ratio>,
    pub headless_dns: bool,
    pub identity: bool,
    pub safety: bool,
    /// The `link-status` check is on.
    pub link_status: bool,
    /// `None`: the `write-amplification` check is off.
    pub needless_writes: Option<WriteBudget>,
}

/// At most `count` needless writes per `per` of run time, per service mirror.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WriteBudget {
    pub count: u64,
    pub per: SimDuration,
}

/// The verdict a scenario expects (`[expect] verdict`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpectedVerdict {
    Pass,
    /// A safety or liveness check fails (which ones: `failing`).
    Fail,
    /// The run does not test what it claims (e.g. a fault that never fires).
    Inconclusive,
    /// mcsim panics (a shrunk fuzz case of an mcsim bug).
    Error,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expectation {
    pub verdict: ExpectedVerdict,
    /// Checks that fail (exactly these).
    pub failing: Vec<String>,
    /// With this fix switched on, the scenario passes.
    pub fix: Option<Fix>,
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct FuzzSpec {
    /// Fault kinds the swarm may draw; `None` = the default set.
    pub faults: Option<Vec<FaultTag>>,
    /// Workload changes the swarm may draw; `None` = none (opt-in while the library's fuzz
    /// targets are triaged with them).
    pub workload: Option<Vec<WorkloadTag>>,
    pub delay_perturbation_max: Option<SimDuration>,
}

crate::named::named! {
    /// A kind of workload change the swarm may draw (`[fuzz] workload = [...]`).
    pub enum WorkloadTag {
        /// An exported service unexported, then exported again.
        Unexport = "unexport",
        /// A service that is not exported, exported for a while.
        Export = "export",
        /// A Deployment or StatefulSet scaled (0 to replicas + 2) and back.
        Scale = "scale",
        /// A label added to a service and removed.
        Label = "label",
        /// An annotation added to a service and removed.
        Annotate = "annotate",
        /// A namespace created in a cluster.
        Namespace = "namespace",
    }
}
