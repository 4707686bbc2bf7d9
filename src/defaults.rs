//! Named defaults, each with its source: what a real cluster or Linkerd installation uses when
//! nothing says otherwise. The scenario loader fills every value a scenario leaves out from
//! here, and the cores' own default configurations use the same constants, so a default is
//! written once. "spec" is `/work/shared/spec/linkerd-multicluster.md`, "k8s spec"
//! `/work/shared/spec/kubernetes-and-peers.md`.

use crate::sim::SimDuration;

// ---- Kubernetes ----

/// The cluster's DNS domain (kubelet `--cluster-domain`, CoreDNS's zone).
pub const CLUSTER_DOMAIN: &str = "cluster.local";
/// The namespace of an object that names none (`kubectl`'s default).
pub const NAMESPACE: &str = "default";
/// Server-side watch timeout: clients ask for ~290 s (k8s spec, watch semantics).
pub const WATCH_TIMEOUT: SimDuration = SimDuration::from_secs(290);
/// Watch events the API server keeps replayable (etcd's compaction window, in events).
pub const WATCH_HISTORY_EVENTS: u64 = 1000;
/// client-go's client-side rate limit for controllers (`rest.Config` QPS 5, burst 10).
pub const CLIENT_QPS: u32 = 5;
pub const CLIENT_BURST: u32 = 10;
/// One in-cluster network hop (pod to pod, pod to API server on the same node network).
pub const IN_CLUSTER_LATENCY: SimDuration = SimDuration::from_micros(500);

// ---- Linkerd ----

/// `identityTrustDomain` (chart default).
pub const TRUST_DOMAIN: &str = "cluster.local";
/// The name of the trust anchor every cluster shares unless a scenario says otherwise.
pub const TRUST_ANCHOR: &str = "root";
/// `-event-requeue-limit` (chart `retryLimit`, spec §3.1).
pub const REQUEUE_LIMIT: u32 = 3;
/// Link `selector` for gateway-mode export (link-gen, spec §2.1).
pub const EXPORT_SELECTOR: &str = "mirror.linkerd.io/exported=true";
/// Link `remoteDiscoverySelector` (link-gen, spec §2.1).
pub const REMOTE_DISCOVERY_SELECTOR: &str = "mirror.linkerd.io/exported=remote-discovery";
/// Link `federatedServiceSelector` (link-gen, spec §2.1), also the local service mirror's
/// `localServiceMirror.federatedServiceSelector` (chart default): `key=value`.
pub const FEDERATED_MEMBER: (&str, &str) = ("mirror.linkerd.io/federated", "member");
/// `-endpoint-refresh-period`: how often `RepairEndpoints` rewrites every gateway-mode
/// mirror's Endpoints (spec §3.1, §6.4); the backstop for a readiness write that failed.
pub const ENDPOINT_REFRESH_PERIOD: SimDuration = SimDuration::from_mins(1);
/// Resync period of every Linkerd informer (spec §3.1).
pub const INFORMER_RESYNC: SimDuration = SimDuration::from_mins(10);
/// Probe path, period, timeout and failure threshold (gateway annotations and CRD defaults,
/// spec §2.1, §8.3).
pub const PROBE_PATH: &str = "/ready";
pub const PROBE_PERIOD: SimDuration = SimDuration::from_secs(3);
pub const PROBE_TIMEOUT: SimDuration = SimDuration::from_secs(30);
pub const PROBE_FAILURE_THRESHOLD: u32 = 3;

// ---- mcsim runs ----

/// Quiet period after the last heal before liveness checks judge the world.
pub const QUIET_PERIOD: SimDuration = SimDuration::from_secs(60);
/// How long after the last heal the mirrors must have converged (`[checks] converged_within`).
pub const CONVERGED_WITHIN: SimDuration = SimDuration::from_secs(120);
/// Event budget of a run (`[sim] events_max`): a run that needs more did not quiesce.
pub const EVENTS_MAX: u64 = 200_000_000;
/// A traffic client's request timeout, namespace-less service account.
pub const TRAFFIC_TIMEOUT: SimDuration = SimDuration::from_secs(10);
pub const TRAFFIC_SERVICE_ACCOUNT: &str = "client";
