//! The raw scenario schema as written in TOML. Every table rejects unknown keys; names and
//! references keep their source span (`Spanned`) so validation errors can point at them.
//! These types never leave `scenario/`: [`super::load`] converts them into [`super::model`],
//! [`super::save`] converts a model back (absent values are left out of the TOML).

use super::values::{Dur, Probability, Rate, SignedDur};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use toml::Spanned;

pub type Name = Spanned<String>;

#[derive(Deserialize, Serialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct File {
    pub sim: Sim,
    #[serde(default)]
    pub linkerd: Option<Linkerd>,
    #[serde(default, rename = "cluster", skip_serializing_if = "Vec::is_empty")]
    pub clusters: Vec<Spanned<Cluster>>,
    #[serde(default, rename = "network", skip_serializing_if = "Vec::is_empty")]
    pub networks: Vec<Spanned<Network>>,
    #[serde(default, rename = "path", skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<Spanned<Path>>,
    #[serde(
        default,
        rename = "flat_network",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub flat_networks: Vec<Spanned<FlatNetwork>>,
    #[serde(default, rename = "link", skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<Spanned<Link>>,
    #[serde(default, rename = "namespace", skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<Spanned<Namespace>>,
    #[serde(default, rename = "service", skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<Spanned<Service>>,
    #[serde(default, rename = "statefulset", skip_serializing_if = "Vec::is_empty")]
    pub statefulsets: Vec<Spanned<StatefulSet>>,
    #[serde(default, rename = "deployment", skip_serializing_if = "Vec::is_empty")]
    pub deployments: Vec<Spanned<Deployment>>,
    #[serde(default, rename = "manifest", skip_serializing_if = "Vec::is_empty")]
    pub manifests: Vec<Spanned<Manifest>>,
    #[serde(default, rename = "traffic", skip_serializing_if = "Vec::is_empty")]
    pub traffic: Vec<Spanned<Traffic>>,
    #[serde(default, rename = "fault", skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<Spanned<Fault>>,
    #[serde(default, rename = "action", skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<Spanned<Action>>,
    #[serde(default)]
    pub checks: Option<Checks>,
    #[serde(default)]
    pub expect: Option<Expect>,
    #[serde(default)]
    pub fuzz: Option<Fuzz>,
    #[serde(default)]
    pub testing: Option<Testing>,
}

#[derive(Deserialize, Serialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct Sim {
    pub name: String,
    #[serde(default)]
    pub seed: u64,
    pub duration: Dur,
    /// Quiet period after the last fault heals before liveness checks judge the world.
    #[serde(default)]
    pub quiet_period: Option<Dur>,
    #[serde(default)]
    pub events_max: Option<u64>,
    /// `"fifo"` (default), `"random"` or `"pct"`: how same-instant ties and message delays are
    /// explored (a fuzz case written as a scenario sets it).
    #[serde(default)]
    pub exploration: Option<Spanned<String>>,
    /// Recorded perturbation decisions, `"index:hexvalue"`, replayed instead of drawing them
    /// from the seed (written by `mcsim fuzz` when it shrinks a case).
    #[serde(default)]
    pub decisions: Option<Vec<Spanned<String>>>,
}

#[derive(Deserialize, Serialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct Linkerd {
    /// Named fixes for quirks of the real Linkerd (default: behave as Linkerd really does).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fixes: Vec<Name>,
    #[serde(default)]
    pub trust_domain: Option<String>,
}

#[derive(Deserialize, Serialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct Cluster {
    pub name: Name,
    #[serde(default)]
    pub domain: Option<String>,
    /// The network node this cluster attaches to (default: its own).
    #[serde(default)]
    pub network: Option<Name>,
    #[serde(default)]
    pub trust_anchor: Option<String>,
    /// Further anchors this cluster's proxies trust (a bundle, as during an anchor rotation).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trusts: Vec<String>,
    #[serde(default)]
    pub gateway: Option<bool>,
    /// Replicas of the gateway Deployment: only 1 (one gateway per cluster) is modelled.
    #[serde(default)]
    pub gateway_replicas: Option<Spanned<u32>>,
    /// The multicluster extension's local service mirror (`-local-mirror`, default on): it
    /// joins this cluster's own federated members to `<svc>-federated`.
    #[serde(default)]
    pub local_service_mirror: Option<bool>,
    #[serde(default)]
    pub clock_skew: Option<SignedDur>,
    #[serde(default)]
    pub api: Option<Api>,
    #[serde(default)]
    pub in_cluster_latency: Option<Dur>,
    /// The pod network (default: mcsim's plan, `10.<ordinal>.0.0/16`).
    #[serde(default)]
    pub pod_cidr: Option<Spanned<String>>,
    /// The API server's ClusterIP range, `--service-cluster-ip-range` (default
    /// `10.<95 + ordinal>.0.0/16`).
    #[serde(default)]
    pub service_cidr: Option<Spanned<String>>,
    /// Seeds the cluster from `kubectl get namespaces,services,endpoints,endpointslices,
    /// statefulsets,deployments,pods,secrets -A -o yaml` output (path relative to the scenario).
    #[serde(default)]
    pub snapshot: Option<Spanned<String>>,
}

#[derive(Deserialize, Serialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct Api {
    /// Bounded watch history, in events (older resourceVersions get 410 Gone).
    #[serde(default)]
    pub watch_history: Option<u64>,
    #[serde(default)]
    pub watch_timeout: Option<Dur>,
    /// Client-side QPS limit of remote API clients (client-go default 5, burst 10).
    #[serde(default)]
    pub client_qps: Option<u32>,
    #[serde(default)]
    pub client_burst: Option<u32>,
}

#[derive(Deserialize, Serialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct Network {
    pub name: Name,
}

#[derive(Deserialize, Serialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct Path {
    /// Two endpoints: cluster or network names.
    pub between: Spanned<Vec<Name>>,
    pub latency: Dur,
    #[serde(default)]
    pub jitter: Option<Dur>,
    #[serde(default)]
    pub loss: Option<Probability>,
    /// Bytes per second.
    #[serde(default)]
    pub bandwidth: Option<u64>,
}

#[derive(Deserialize, Serialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct FlatNetwork {
    /// Clusters whose pod networks are routable to each other (pod-to-pod mode).
    pub clusters: Vec<Name>,
}

#[derive(Deserialize, Serialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct Link {
    /// Source cluster: where the service mirror runs.
    pub from: Name,
    /// Target cluster: watched and exported from.
    pub to: Name,
    /// Link name (`targetClusterName`); defaults to the target cluster's name.
    #[serde(default)]
    pub name: Option<Name>,
    #[serde(default)]
    pub headless: Option<bool>,
    #[serde(default)]
    pub namespace_creation: Option<bool>,
    /// `false` makes a gateway-less link (remote-discovery and federated only).
    #[serde(default)]
    pub gateway: Option<bool>,
    #[serde(default)]
    pub requeue_limit: Option<u32>,
    #[serde(default)]
    pub selector: Option<Spanned<String>>,
    #[serde(default)]
    pub remote_discovery_selector: Option<Spanned<String>>,
    #[serde(default)]
    pub federated_selector: Option<Spanned<String>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excluded_labels: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excluded_annotations: Vec<String>,
    #[serde(default)]
    pub probe: Option<Probe>,
    /// Starts the link later (the Link resource is created at this time).
    #[serde(default)]
    pub at: Option<Spanned<Dur>>,
    /// `false`: the credentials Secret is never created (spec §9.3: the controller logs it and
    /// retries the Link every 10 s).
    #[serde(default)]
    pub credentials: Option<bool>,
}

#[derive(Deserialize, Serialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct Probe {
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub period: Option<Dur>,
    #[serde(default)]
    pub timeout: Option<Dur>,
    #[serde(default)]
    pub failure_threshold: Option<u32>,
}

#[derive(Deserialize, Serialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct Namespace {
    pub cluster: Name,
    pub name: Name,
}

#[derive(Deserialize, Serialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct Port {
    #[serde(default)]
    pub name: Option<String>,
    pub port: u16,
    #[serde(default)]
    pub target_port: Option<u16>,
    #[serde(default)]
    pub protocol: Option<String>,
}

/// How a service is exported: `true` (gateway mode), `"remote-discovery"`, or `false`.
#[derive(Deserialize, Serialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(untagged)]
pub enum ExportField {
    Flag(bool),
    Mode(ExportMode),
}

#[derive(Deserialize, Serialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum ExportMode {
    Gateway,
    RemoteDiscovery,
}

#[derive(Deserialize, Serialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct Service {
    pub cluster: Name,
    #[serde(default)]
    pub namespace: Option<Name>,
    pub name: Name,
    pub ports: Vec<Port>,
    /// Pods of a backing Deployment named like the service (0: no pods).
    #[serde(default)]
    pub replicas: Option<u32>,
    #[serde(default)]
    pub headless: Option<bool>,
    #[serde(default)]
    pub exported: Option<ExportField>,
    #[serde(default)]
    pub federated: Option<bool>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    #[serde(default)]
    pub service_account: Option<String>,
}

#[derive(Deserialize, Serialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct StatefulSet {
    pub cluster: Name,
    #[serde(default)]
    pub namespace: Option<Name>,
    pub name: Name,
    /// The governing headless Service (created by mcsim); defaults to the StatefulSet's name.
    #[serde(default)]
    pub service: Option<Name>,
    pub replicas: u32,
    #[serde(default)]
    pub ports: Option<Vec<Port>>,
    #[serde(default)]
    pub exported: Option<ExportField>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub service_account: Option<String>,
}

#[derive(Deserialize, Serialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct Deployment {
    pub cluster: Name,
    #[serde(default)]
    pub namespace: Option<Name>,
    pub name: Name,
    pub replicas: u32,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub service_account: Option<String>,
}

#[derive(Deserialize, Serialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub cluster: Name,
    /// Path relative to the scenario file.
    pub path: Spanned<String>,
    /// `kubectl apply -n`: where namespaced objects without a namespace go (default
    /// `default`); when given, an object naming another namespace is an error.
    #[serde(default)]
    pub namespace: Option<Name>,
}

#[derive(Deserialize, Serialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct Traffic {
    /// Source cluster of the client workload.
    pub from: Name,
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub service_account: Option<String>,
    /// `host:port`, e.g. `web-east.default.svc.cluster.local:80`.
    pub to: Spanned<String>,
    pub rate: Rate,
    #[serde(default)]
    pub start: Option<Spanned<Dur>>,
    #[serde(default)]
    pub stop: Option<Dur>,
    #[serde(default)]
    pub timeout: Option<Dur>,
}

/// A scheduled fault. Exactly one kind key must be present.
#[derive(Deserialize, Serialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    pub at: Spanned<Dur>,
    #[serde(default, rename = "for")]
    pub duration: Option<Dur>,
    // -- kinds --
    #[serde(default)]
    pub partition: Option<Spanned<Vec<Vec<Name>>>>,
    #[serde(default)]
    pub cluster_down: Option<Name>,
    #[serde(default)]
    pub api_server_down: Option<Name>,
    #[serde(default)]
    pub gateway_down: Option<Name>,
    #[serde(default)]
    pub controller_crash: Option<ControllerRef>,
    #[serde(default)]
    pub pod_kill: Option<PodRef>,
    #[serde(default)]
    pub dns_failure: Option<Name>,
    #[serde(default)]
    pub clock_skew: Option<ClockSkew>,
    #[serde(default)]
    pub compact: Option<Name>,
    #[serde(default)]
    pub cert_expiry: Option<Name>,
    #[serde(default)]
    pub rotate_certs: Option<Name>,
    #[serde(default)]
    pub trust_anchor: Option<AnchorChange>,
    #[serde(default)]
    pub slow_path: Option<SlowPath>,
    #[serde(default)]
    pub lossy_path: Option<LossyPath>,
    // -- modifiers --
    /// For `partition`: only traffic from the first group to the others is cut.
    #[serde(default)]
    pub one_way: Option<bool>,
    /// For `partition`: `"drop"` (silently, detected by timeouts) or `"reject"` (fails fast).
    #[serde(default)]
    pub mode: Option<Spanned<String>>,
}

#[derive(Deserialize, Serialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct ControllerRef {
    pub cluster: Name,
    pub link: Name,
}

#[derive(Deserialize, Serialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct PodRef {
    pub cluster: Name,
    #[serde(default)]
    pub namespace: Option<String>,
    pub pod: String,
}

#[derive(Deserialize, Serialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct ClockSkew {
    pub cluster: Name,
    pub by: SignedDur,
}

#[derive(Deserialize, Serialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct AnchorChange {
    pub cluster: Name,
    pub anchor: String,
}

#[derive(Deserialize, Serialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct SlowPath {
    pub between: Vec<Name>,
    pub latency: Dur,
}

#[derive(Deserialize, Serialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct LossyPath {
    pub between: Vec<Name>,
    #[serde(default)]
    pub loss: Option<Probability>,
    #[serde(default)]
    pub duplicate: Option<Probability>,
    #[serde(default)]
    pub reorder: Option<Probability>,
}

/// A scripted change to the workload at a point in time (not a fault: nothing heals it).
#[derive(Deserialize, Serialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct Action {
    pub at: Spanned<Dur>,
    pub cluster: Name,
    #[serde(default)]
    pub namespace: Option<String>,
    // -- kinds --
    #[serde(default)]
    pub scale: Option<Scale>,
    #[serde(default)]
    pub export: Option<String>,
    #[serde(default)]
    pub unexport: Option<String>,
    #[serde(default)]
    pub delete_service: Option<String>,
    #[serde(default)]
    pub delete_link: Option<String>,
    /// `linkerd multicluster unlink` of a link: its Link, Secret, probe Service and mirrors.
    #[serde(default)]
    pub unlink: Option<String>,
    /// `linkerd multicluster link-gen | kubectl apply` of a declared `[[link]]` of this cluster:
    /// its credentials Secrets, probe Service and Link (again, after an `unlink`).
    #[serde(default)]
    pub link: Option<String>,
    /// Changes a Link's export selector (a Link *spec* change: the watcher restarts).
    #[serde(default)]
    pub link_selector: Option<LinkSelectorChange>,
    #[serde(default)]
    pub create_namespace: Option<String>,
    /// Sets (or, without `value`, removes) a label on a Service.
    #[serde(default)]
    pub label: Option<LabelChange>,
    /// Sets (or, without `value`, removes) an annotation on a Service.
    #[serde(default)]
    pub annotate: Option<LabelChange>,
    /// `kubectl apply -f FILE` (relative to the scenario; `namespace` as `-n`): creates each
    /// object, or updates the one there.
    #[serde(default)]
    pub apply: Option<Spanned<String>>,
}

#[derive(Deserialize, Serialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct LinkSelectorChange {
    pub link: String,
    /// A label selector such as `"mirror.linkerd.io/exported=true,tier=web"`.
    pub selector: Spanned<String>,
}

#[derive(Deserialize, Serialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct LabelChange {
    pub service: String,
    pub key: String,
    #[serde(default)]
    pub value: Option<String>,
}

#[derive(Deserialize, Serialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct Scale {
    /// A StatefulSet or Deployment name.
    pub workload: String,
    pub replicas: u32,
}

#[derive(Deserialize, Serialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct Checks {
    #[serde(default)]
    pub converged_within: Option<Dur>,
    #[serde(default)]
    pub failure_domains: Option<FailureDomains>,
    #[serde(default)]
    pub headless_dns: Option<bool>,
    #[serde(default)]
    pub identity: Option<bool>,
    #[serde(default)]
    pub safety: Option<bool>,
    /// Turns on the `link-status` check (Link status conditions agree with the mirrors).
    #[serde(default)]
    pub link_status: Option<bool>,
    /// Turns on the `write-amplification` check: at most this many service-mirror writes that
    /// change nothing, per service mirror, e.g. `"2/m"`.
    #[serde(default)]
    pub needless_writes: Option<Rate>,
}

#[derive(Deserialize, Serialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct FailureDomains {
    pub tolerance: Probability,
}

/// What the scenario is expected to show (asserted by the scenario-library test).
#[derive(Deserialize, Serialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// `"pass"`, `"fail"`, `"inconclusive"` or `"error"`.
    pub verdict: Spanned<String>,
    /// Names of checks expected to fail (when the verdict is `"fail"`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failing: Vec<Name>,
    /// A quirk fix that makes the scenario pass (the scenario shows the quirk).
    #[serde(default)]
    pub fix: Option<Name>,
}

#[derive(Deserialize, Serialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct Fuzz {
    /// Fault kinds the swarm may draw (default: all that keep the scenario's promise).
    #[serde(default)]
    pub faults: Option<Vec<Name>>,
    /// Workload changes the swarm may draw (default: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Option<Vec<Name>>,
    #[serde(default)]
    pub delay_perturbation_max: Option<Dur>,
}

/// Deliberate breakages, used only by tests that prove a check can fail.
#[derive(Deserialize, Serialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct Testing {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub breakages: Vec<Name>,
}
