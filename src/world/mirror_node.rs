//! The service-mirror controller of one Link, as a component in the source cluster (spec §3–§8).
//!
//! Wraps the sans-IO core (`crate::multicluster`): local informers (Namespaces, Services,
//! Endpoints, and the Link) over an in-cluster connection; remote informers (Services and
//! Endpoints of the target) over the simulated network, through a client with the cluster's QPS
//! limit; the single-worker queue; the probe worker, whose probes are real mTLS connections to
//! the target gateway's port 4191; repairs every period. The watcher's local writes go straight
//! to the source API server (a sub-millisecond hop), each one observed so checks can judge it.
//!
//! Lifecycle (spec §3.2, §4.1, §9.2): Link seen → `Version` call to the target API (retry every
//! 10 s on failure) → remote informers started → all synced within 60 s (else the process exits
//! and restarts after a CrashLoopBackOff delay) → GC, handler replay, repair → running. A Link
//! *spec* change restarts the watcher; a status-only change does not; a deleted Link stops it and
//! leaves the mirrors.

use super::apiclient::{ApiClient, ClientOutput};
use super::env::Env;
use super::gateway::PROBE_PORT;
use super::identity_book::IdentityBook;
use super::kubelet_node::conn_of;
use super::mesh_server::HttpFrame;
use super::msg::{Msg, Payload, Timer};
use super::observe::Observation;
use super::transport::{ConnEvent, ConnId, Side};
use crate::identity::{ClientHandshake, Outcome};
use crate::k8s::api::{Request, Response, Status};
use crate::k8s::informer::{Delta, Informer, InformerConfig};
use crate::k8s::objects::Link;
use crate::k8s::store::{MultiView, ObjectView};
use crate::k8s::{Kind, Object};
use crate::multicluster::{
    Breakages, ClusterWatcher, Fixes, GatewayResolver, HandlerEnv, HandlerError, LinkConfig,
    LocalApi, MirrorEvent, MirrorQueue, ProbeResult, ProbeWorker,
};
use crate::sim::{ComponentId, SimDuration, SimTime};
use std::net::Ipv4Addr;

const LOCAL: u8 = 0;
const REMOTE: u8 = 1;
/// Link restart back-off after a failed start (`linkWatchRestartAfter`).
const RESTART_AFTER: SimDuration = SimDuration::from_secs(10);
/// Cache sync timeout, then `log.Fatal` (K8S `waitForCacheSync`).
const SYNC_TIMEOUT: SimDuration = SimDuration::from_secs(60);
/// Informer resync period of every Linkerd informer.
pub const RESYNC: SimDuration = SimDuration::from_mins(10);
/// Time one local API call takes (in-cluster round trip plus server work).
const API_CALL_COST: SimDuration = SimDuration::from_micros(800);

/// What the operator configured for this controller (chart values, scenario options).
#[derive(Clone, Debug)]
pub struct MirrorSettings {
    pub link_name: String,
    pub enable_headless: bool,
    pub enable_namespace_creation: bool,
    pub requeue_limit: u32,
    pub fixes: Vec<String>,
    pub breakages: Vec<String>,
    pub remote_qps: u32,
    pub remote_burst: u32,
    /// The target cluster's API server and gateway components.
    pub remote_api: ComponentId,
    pub remote_gateway: Option<ComponentId>,
    /// Service account of the controller (its proxy's identity).
    pub identity: String,
    /// The local service mirror (`-local-mirror`, spec §1): no Link object, no credentials, no
    /// probe; its "remote" API is its own cluster's and it only handles federated membership.
    pub local_mirror: bool,
}

/// The name the local mirror goes by in logs and observations: its synthetic Link's name.
pub const LOCAL_MIRROR_LINK: &str = "local";

/// `localServiceMirror.federatedServiceSelector`, the chart's default.
pub const LOCAL_FEDERATED_SELECTOR: (&str, &str) = ("mirror.linkerd.io/federated", "member");

fn local_mirror_config() -> LinkConfig {
    let mut selector = crate::k8s::LabelSelector::default();
    let (k, v) = LOCAL_FEDERATED_SELECTOR;
    selector.match_labels.insert(k.to_string(), v.to_string());
    LinkConfig::local_mirror(selector)
}

enum Phase {
    /// No Link yet (or the local caches are not synced).
    Idle,
    /// Waiting for the answer to the `Version` call.
    Connecting {
        link: Box<Link>,
    },
    /// Remote informers started; waiting for them to sync.
    Syncing {
        link: Box<Link>,
        deadline: SimTime,
    },
    Running(Box<Running>),
    /// The process exited (fatal error); it restarts at the given time.
    Crashed {
        restart_at: SimTime,
    },
}

struct Running {
    link: Link,
    watcher: ClusterWatcher,
    queue: MirrorQueue,
    gateway_alive: bool,
    busy_until: SimTime,
    work_armed: Option<SimTime>,
}

/// The controller proxy's connection to the gateway, reused by every probe (the probe's HTTP
/// client is new each time, but its proxy pools the mTLS connection).
struct ProbeConn {
    conn: ConnId,
    handshake: Option<Box<ClientHandshake>>,
    ready: bool,
}

struct ProbeState {
    worker: ProbeWorker,
    /// The probe in flight: (id, sent at).
    current: Option<(u64, SimTime)>,
    conn: Option<ProbeConn>,
    generation: u64,
}

pub struct MirrorNode {
    pub settings: MirrorSettings,
    local: ApiClient,
    remote: Option<ApiClient>,
    phase: Phase,
    probe: Option<ProbeState>,
    /// Bumped on every watcher (re)start: stale timers carry an old value.
    generation: u64,
    restarts: u32,
    pub log: Vec<(SimTime, String)>,
    pub events_handled: u64,
    pub crashes: u32,
}

struct WorldApi<'e, 'a, 'b> {
    env: &'e mut Env<'a, 'b>,
    link: String,
    calls: u32,
}

/// Whether the mirror owns an object it is about to change (spec §5.2 labels). The probe
/// Endpoints carry only `mirror.linkerd.io/cluster-name`: an `unlink` may delete the probe
/// Service before the controller has seen its Link go, and the Endpoints are then judged alone.
fn owned(o: &Object) -> bool {
    let l = &o.meta().labels;
    l.get("mirror.linkerd.io/mirrored-service")
        .map(String::as_str)
        == Some("true")
        || l.contains_key("mirror.linkerd.io/mirrored-gateway")
        || (o.kind() == Kind::Endpoints && l.contains_key("mirror.linkerd.io/cluster-name"))
        || o.kind() == Kind::Link
}

impl LocalApi for WorldApi<'_, '_, '_> {
    fn call(&mut self, req: Request) -> Result<Response, Status> {
        self.calls += 1;
        let cluster = self.env.cluster;
        let target = match &req {
            Request::Update { object } | Request::UpdateStatus { object } => Some(object.key()),
            Request::Patch { key, .. }
            | Request::PatchLinkStatus { key, .. }
            | Request::Delete { key, .. } => Some(key.clone()),
            _ => None,
        };
        // Judge ownership on the state before the write; Endpoints by the Service they belong to.
        let store = self.env.apis[cluster].server.store();
        let foreign = target.as_ref().is_some_and(|key| {
            store.get(key).is_some_and(|before| {
                let svc = crate::k8s::ObjectKey::new(Kind::Service, &key.namespace, &key.name);
                let judged = match key.kind {
                    Kind::Endpoints => store.get(&svc).unwrap_or(before),
                    _ => before,
                };
                !owned(judged)
            })
        });
        let op = req_op(&req);
        let written = match &req {
            Request::Create { object } => Some(object.key()),
            _ => target.clone(),
        };
        let before = written.as_ref().and_then(|k| store.get(k).cloned());
        let root = match &req {
            Request::Create { object } | Request::Update { object } => object
                .meta()
                .labels
                .get("mirror.linkerd.io/headless-mirror-svc-name")
                .cloned(),
            _ => None,
        };
        let result = self.env.api_call(req);
        if let (Ok(response), Some(key)) = (&result, written)
            && op != "read"
        {
            let changed = match (before, response) {
                (Some(b), Response::Object(after)) => !same_content(&b, after),
                _ => true,
            };
            let key = key.to_string();
            self.env.observe(Observation::MirrorWrite {
                cluster,
                link: self.link.clone(),
                op,
                key,
                foreign,
                changed,
                root,
            });
        }
        result
    }
}

/// Equal but for server-managed metadata (resourceVersion, generation, timestamps, uid):
/// typed field by field (every field is named, so a new field is a compile error here), which
/// is what comparing the two JSON documents without those fields decides, without building them.
fn same_content(a: &Object, b: &Object) -> bool {
    use crate::k8s::objects::ObjectMeta;
    fn meta_eq(a: &ObjectMeta, b: &ObjectMeta) -> bool {
        let ObjectMeta {
            name,
            generate_name,
            namespace,
            uid: _,
            resource_version: _,
            generation: _,
            creation_timestamp: _,
            deletion_timestamp,
            deletion_grace_period_seconds,
            labels,
            annotations,
            owner_references,
            finalizers,
        } = a;
        *name == b.name
            && *generate_name == b.generate_name
            && *namespace == b.namespace
            && *deletion_timestamp == b.deletion_timestamp
            && *deletion_grace_period_seconds == b.deletion_grace_period_seconds
            && *labels == b.labels
            && *annotations == b.annotations
            && *owner_references == b.owner_references
            && *finalizers == b.finalizers
    }
    use crate::k8s::objects as o;
    meta_eq(a.meta(), b.meta())
        && match (a, b) {
            (Object::Namespace(x), Object::Namespace(y)) => {
                let o::Namespace {
                    metadata: _,
                    spec,
                    status,
                } = x;
                *spec == y.spec && *status == y.status
            }
            (Object::Service(x), Object::Service(y)) => {
                let o::Service {
                    metadata: _,
                    spec,
                    status,
                } = x;
                *spec == y.spec && *status == y.status
            }
            (Object::Endpoints(x), Object::Endpoints(y)) => {
                let o::Endpoints {
                    metadata: _,
                    subsets,
                } = x;
                *subsets == y.subsets
            }
            (Object::EndpointSlice(x), Object::EndpointSlice(y)) => {
                let o::EndpointSlice {
                    metadata: _,
                    address_type,
                    endpoints,
                    ports,
                } = x;
                *address_type == y.address_type && *endpoints == y.endpoints && *ports == y.ports
            }
            (Object::Pod(x), Object::Pod(y)) => {
                let o::Pod {
                    metadata: _,
                    spec,
                    status,
                } = x;
                *spec == y.spec && *status == y.status
            }
            (Object::StatefulSet(x), Object::StatefulSet(y)) => {
                let o::StatefulSet {
                    metadata: _,
                    spec,
                    status,
                } = x;
                *spec == y.spec && *status == y.status
            }
            (Object::Deployment(x), Object::Deployment(y)) => {
                let o::Deployment {
                    metadata: _,
                    spec,
                    status,
                } = x;
                *spec == y.spec && *status == y.status
            }
            (Object::Secret(x), Object::Secret(y)) => {
                let o::Secret {
                    metadata: _,
                    type_,
                    data,
                    string_data,
                } = x;
                *type_ == y.type_ && *data == y.data && *string_data == y.string_data
            }
            (Object::Event(x), Object::Event(y)) => {
                let o::Event {
                    metadata: _,
                    involved_object,
                    reason,
                    message,
                    type_,
                    source,
                    count,
                    first_timestamp,
                    last_timestamp,
                } = x;
                *involved_object == y.involved_object
                    && *reason == y.reason
                    && *message == y.message
                    && *type_ == y.type_
                    && *source == y.source
                    && *count == y.count
                    && *first_timestamp == y.first_timestamp
                    && *last_timestamp == y.last_timestamp
            }
            (Object::Link(x), Object::Link(y)) => {
                let o::Link {
                    metadata: _,
                    spec,
                    status,
                } = x;
                *spec == y.spec && *status == y.status
            }
            _ => false,
        }
}

fn req_op(req: &Request) -> &'static str {
    match req {
        Request::Create { .. } => "create",
        Request::Update { .. } => "update",
        Request::UpdateStatus { .. } => "update-status",
        Request::Patch { .. } | Request::PatchLinkStatus { .. } => "patch",
        Request::Delete { .. } => "delete",
        Request::Finalize { .. } => "finalize",
        Request::Get { .. } | Request::List { .. } | Request::Version => "read",
    }
}

/// Gateway addresses are IP literals in mcsim (the gateway Service's load-balancer IP); a name
/// would need an external DNS the simulation does not have.
struct NoExternalDns;

impl GatewayResolver for NoExternalDns {
    fn resolve(&mut self, host: &str) -> Result<Vec<Ipv4Addr>, String> {
        Err(format!("lookup {host}: no such host"))
    }
}

fn local_informers() -> Vec<Informer> {
    let mk = |kind: Kind, ns: Option<&str>| {
        let mut c = InformerConfig::new(kind);
        c.namespace = ns.map(str::to_string);
        c.resync_period = Some(RESYNC);
        Informer::new(c)
    };
    vec![
        mk(Kind::Namespace, None),
        mk(Kind::Service, None),
        mk(Kind::Endpoints, None),
        mk(Kind::Link, Some(super::seed::MC_NAMESPACE)),
    ]
}

const LOCAL_LINK: usize = 3;

impl MirrorNode {
    pub fn new(settings: MirrorSettings, local_api: ComponentId) -> MirrorNode {
        MirrorNode {
            local: ApiClient::new(LOCAL, local_api, 50, 100, local_informers()),
            settings,
            remote: None,
            phase: Phase::Idle,
            probe: None,
            generation: 0,
            restarts: 0,
            log: Vec::new(),
            events_handled: 0,
            crashes: 0,
        }
    }

    fn say(&mut self, env: &Env<'_, '_>, line: String) {
        if self.log.len() < 10_000 {
            self.log.push((env.now(), line));
        }
    }

    pub fn is_running(&self) -> bool {
        matches!(self.phase, Phase::Running(_))
    }
    pub fn gateway_alive(&self) -> Option<bool> {
        match &self.phase {
            Phase::Running(r) => Some(r.gateway_alive),
            _ => None,
        }
    }
    /// Running with an empty work queue and no retry pending: the controller has caught up
    /// with everything its informers delivered so far.
    pub fn is_idle(&self) -> bool {
        match &self.phase {
            Phase::Running(r) => r.queue.is_empty() && r.queue.next_wakeup().is_none(),
            _ => false,
        }
    }
    pub fn probe_metrics(&self) -> Option<&crate::multicluster::ProbeMetrics> {
        self.probe.as_ref().map(|p| p.worker.metrics())
    }
    pub fn endpoint_repairs(&self) -> u64 {
        match &self.phase {
            Phase::Running(r) => r.watcher.endpoint_repairs(),
            _ => 0,
        }
    }

    pub fn start(&mut self, env: &mut Env<'_, '_>) {
        let mut out = Vec::new();
        self.local.start(env, &mut out);
        self.absorb_local(env, out);
    }

    /// A process restart: everything in memory is gone.
    pub fn restart(&mut self, env: &mut Env<'_, '_>, local_api: ComponentId) {
        self.stop_watcher(env);
        self.local.stop(env);
        let settings = self.settings.clone();
        let (log, crashes, restarts) = (std::mem::take(&mut self.log), self.crashes, self.restarts);
        *self = MirrorNode::new(settings, local_api);
        self.log = log;
        self.crashes = crashes;
        self.restarts = restarts + 1;
        self.start(env);
    }

    /// The Link this controller runs: the cached one, or the local mirror's synthetic Link.
    fn link_from_cache(&self) -> Option<Link> {
        if self.settings.local_mirror {
            return Some(local_mirror_config().link);
        }
        self.local
            .informer(LOCAL_LINK)
            .get(super::seed::MC_NAMESPACE, &self.settings.link_name)
            .and_then(|o| o.as_link())
            .cloned()
    }

    fn absorb_local(&mut self, env: &mut Env<'_, '_>, out: Vec<ClientOutput>) {
        let mut link_changed = false;
        let mut deltas = Vec::new();
        for o in out {
            let ClientOutput::Delta { informer, delta } = o else {
                continue;
            };
            if informer == LOCAL_LINK {
                if self.settings.local_mirror {
                    continue; // watches no Link of its own
                }
                match &delta {
                    Delta::Added(o) if o.name() == self.settings.link_name => link_changed = true,
                    // Status-only updates are ignored (since #13579).
                    Delta::Updated { old, new }
                        if new.name() == self.settings.link_name && !old.spec_eq(new) =>
                    {
                        link_changed = true
                    }
                    Delta::Deleted(d) if d.object().name() == self.settings.link_name => {
                        link_changed = true
                    }
                    _ => {}
                }
            } else if informer == 0 {
                deltas.push(delta);
            }
        }
        // Local namespace handler (only once the watcher runs; its start replays them).
        if let Phase::Running(r) = &mut self.phase {
            for d in &deltas {
                for ev in r.watcher.on_local_namespace(d) {
                    r.queue.add(ev);
                }
            }
        }
        if link_changed
            || (matches!(self.phase, Phase::Idle)
                && self.local.all_synced()
                && self.link_from_cache().is_some())
        {
            self.restart_watcher(env);
        }
        self.arm_work(env);
    }

    fn stop_watcher(&mut self, env: &mut Env<'_, '_>) {
        if let Some(mut r) = self.remote.take() {
            r.stop(env);
        }
        if let Some(p) = self.probe.take()
            && let Some(c) = p.conn
        {
            env.close(c.conn, Side::Client);
        }
        self.phase = Phase::Idle;
    }

    /// `restartClusterWatcher`: stop everything, start a probe worker, connect to the target.
    fn restart_watcher(&mut self, env: &mut Env<'_, '_>) {
        self.stop_watcher(env);
        self.generation += 1;
        if !self.local.all_synced() {
            return;
        }
        let Some(link) = self.link_from_cache() else {
            self.say(
                env,
                format!(
                    "Link {} deleted: watcher stopped, mirrors left in place",
                    self.settings.link_name
                ),
            );
            return;
        };
        // Load the credentials Secret (spec §2.5, §9.3): missing, or without `kubeconfig`, the
        // kubeconfig does not parse and the Link is retried after the back-off. The local mirror
        // uses its in-cluster service account instead.
        let credentials = if self.settings.local_mirror {
            Ok(())
        } else {
            self.load_credentials(env, &link)
        };
        if let Err(why) = credentials {
            self.say(
                env,
                format!(
                    "cannot load credentials for cluster {}: {why}; retrying in 10s",
                    link.spec.target_cluster_name
                ),
            );
            env.ctx.timer(
                RESTART_AFTER,
                Msg::Timer(Timer::MirrorRestartLink {
                    generation: self.generation,
                }),
            );
            self.phase = Phase::Connecting {
                link: Box::new(link),
            };
            return;
        }
        let fixes = Fixes::from_names(&self.settings.fixes);
        if let Some(worker) = ProbeWorker::for_link(
            &link,
            &format!("probe-{}", link.spec.target_cluster_name),
            &fixes,
        ) {
            let first = worker.first_tick_delay(env.ctx.rng());
            let generation = self.generation;
            if let Some(d) = first {
                env.ctx
                    .timer(d, Msg::Timer(Timer::ProbeTick { generation }));
            }
            self.probe = Some(ProbeState {
                worker,
                current: None,
                conn: None,
                generation,
            });
        }
        let mut remote = ApiClient::new(
            REMOTE,
            self.settings.remote_api,
            self.settings.remote_qps,
            self.settings.remote_burst,
            Vec::new(),
        );
        remote.request(env, self.generation, Request::Version);
        self.remote = Some(remote);
        self.phase = Phase::Connecting {
            link: Box::new(link),
        };
    }

    /// Reads the Link's credentials Secret from the local API; `Ok` if it holds a kubeconfig.
    fn load_credentials(&self, env: &mut Env<'_, '_>, link: &Link) -> Result<(), String> {
        let name = &link.spec.cluster_credentials_secret;
        let request = Request::get(Kind::Secret, super::seed::MC_NAMESPACE, name);
        match env.api_call(request) {
            Ok(Response::Object(o)) => match o.as_ref() {
                Object::Secret(s)
                    if s.data.contains_key("kubeconfig")
                        || s.string_data.contains_key("kubeconfig") =>
                {
                    Ok(())
                }
                _ => Err(format!("secret {name} has no kubeconfig")),
            },
            Ok(_) => Err(format!("secret {name} not found")),
            Err(st) => Err(st.message),
        }
    }

    fn remote_informers() -> Vec<Informer> {
        [Kind::Service, Kind::Endpoints]
            .into_iter()
            .map(|k| {
                let mut c = InformerConfig::new(k);
                c.resync_period = Some(RESYNC);
                Informer::new(c)
            })
            .collect()
    }

    fn absorb_remote(&mut self, env: &mut Env<'_, '_>, out: Vec<ClientOutput>) {
        for o in out {
            match o {
                ClientOutput::Response { tag, result } => {
                    if tag != self.generation || !matches!(self.phase, Phase::Connecting { .. }) {
                        continue; // Events sent to the remote cluster: best effort.
                    }
                    let Phase::Connecting { link } =
                        std::mem::replace(&mut self.phase, Phase::Idle)
                    else {
                        continue;
                    };
                    match result {
                        Ok(_) => {
                            // Build the remote informers and start them (remoteAPI.Sync).
                            let mut remote = ApiClient::new(
                                REMOTE,
                                self.settings.remote_api,
                                self.settings.remote_qps,
                                self.settings.remote_burst,
                                Self::remote_informers(),
                            );
                            if let Some(old) = self.remote.take() {
                                let mut old = old;
                                old.stop(env);
                            }
                            let mut out = Vec::new();
                            remote.start(env, &mut out);
                            self.remote = Some(remote);
                            let deadline = env.now() + SYNC_TIMEOUT;
                            env.ctx.timer(
                                SYNC_TIMEOUT,
                                Msg::Timer(Timer::MirrorSyncDeadline {
                                    generation: self.generation,
                                }),
                            );
                            self.phase = Phase::Syncing { link, deadline };
                            self.absorb_remote(env, out);
                        }
                        Err(e) => {
                            self.say(
                                env,
                                format!(
                                    "cannot connect to api for target cluster: {}; retrying in 10s",
                                    e.message
                                ),
                            );
                            env.ctx.timer(
                                RESTART_AFTER,
                                Msg::Timer(Timer::MirrorRestartLink {
                                    generation: self.generation,
                                }),
                            );
                            self.phase = Phase::Connecting { link };
                        }
                    }
                }
                // Handlers only learn of changes through deltas, as client-go's do.
                ClientOutput::Cached { .. } => {}
                ClientOutput::Delta { informer, delta } => {
                    // Before the watcher runs, deltas only fill the caches (replayed at start).
                    if let Phase::Running(r) = &mut self.phase {
                        if informer == 0 && !self.settings.local_mirror {
                            report_export_change(env, &self.settings.link_name, &r.link, &delta);
                        }
                        let events = if informer == 0 {
                            r.watcher.on_remote_service(&delta)
                        } else {
                            r.watcher.on_remote_endpoints(&delta)
                        };
                        for ev in events {
                            r.queue.add(ev);
                        }
                    }
                }
            }
        }
        if let Phase::Syncing { .. } = self.phase
            && self.remote.as_ref().is_some_and(ApiClient::all_synced)
        {
            self.start_watcher(env);
        }
        self.arm_work(env);
    }

    /// `Start()`: GC first, replay handlers, start the worker and the repair loop.
    fn start_watcher(&mut self, env: &mut Env<'_, '_>) {
        let Phase::Syncing { link, .. } = std::mem::replace(&mut self.phase, Phase::Idle) else {
            return;
        };
        let mut config = if self.settings.local_mirror {
            local_mirror_config()
        } else {
            LinkConfig::new((*link).clone())
        };
        config.enable_headless = self.settings.enable_headless;
        config.enable_namespace_creation = self.settings.enable_namespace_creation;
        config.requeue_limit = self.settings.requeue_limit;
        config.fixes = Fixes::from_names(&self.settings.fixes);
        config.breakages = Breakages::from_names(&self.settings.breakages);
        let watcher = ClusterWatcher::new(config);
        let mut queue = MirrorQueue::new(self.settings.requeue_limit);
        let startup = watcher.startup_events();
        let (first, rest) = startup
            .split_first()
            .map(|(f, r)| (Some(f.clone()), r.to_vec()))
            .unwrap_or((None, Vec::new()));
        if let Some(gc) = first {
            queue.add(gc);
        }
        if let Some(remote) = &self.remote {
            for o in remote.informer(0).list(None) {
                if !self.settings.local_mirror {
                    report_export_change(
                        env,
                        &self.settings.link_name,
                        &link,
                        &Delta::Added(o.clone()),
                    );
                }
                for ev in watcher.on_remote_service(&Delta::Added(o.clone())) {
                    queue.add(ev);
                }
            }
            for o in remote.informer(1).list(None) {
                for ev in watcher.on_remote_endpoints(&Delta::Added(o.clone())) {
                    queue.add(ev);
                }
            }
        }
        for o in self.local.informer(0).list(None) {
            for ev in watcher.on_local_namespace(&Delta::Added(o.clone())) {
                queue.add(ev);
            }
        }
        for ev in rest {
            queue.add(ev);
        }
        let has_gateway = watcher.has_gateway();
        let repair_period = watcher.config().repair_period;
        let started = if self.settings.local_mirror {
            "local cluster watcher started".to_string()
        } else {
            format!(
                "cluster watcher for {} started",
                link.spec.target_cluster_name
            )
        };
        self.say(env, started);
        self.phase = Phase::Running(Box::new(Running {
            link: *link,
            watcher,
            queue,
            // Reset to alive at every watcher construction (#8725).
            gateway_alive: true,
            busy_until: env.now(),
            work_armed: None,
        }));
        if has_gateway {
            env.ctx.timer(
                repair_period,
                Msg::Timer(Timer::MirrorRepair {
                    generation: self.generation,
                }),
            );
        }
        self.arm_work(env);
    }

    fn arm_work(&mut self, env: &mut Env<'_, '_>) {
        let Phase::Running(r) = &mut self.phase else {
            return;
        };
        let now = env.now();
        // Ready events: as soon as the worker is free. Otherwise only when a rate-limited retry
        // is due (never again at this instant: this pass found nothing ready).
        let at = if !r.queue.is_empty() {
            r.busy_until.max(now)
        } else {
            match r.queue.next_wakeup() {
                Some(t) => t.max(r.busy_until).max(now + SimDuration::from_micros(1)),
                None => return,
            }
        };
        if r.work_armed.is_none_or(|t| at < t) {
            r.work_armed = Some(at);
            env.ctx.send_at(
                env.me(),
                Msg::Timer(Timer::MirrorWork {
                    generation: self.generation,
                }),
                at,
            );
        }
    }

    /// The worker: one event at a time.
    fn work(&mut self, env: &mut Env<'_, '_>) {
        let generation = self.generation;
        let link_name = self.settings.link_name.clone();
        let Phase::Running(r) = &mut self.phase else {
            return;
        };
        r.work_armed = None;
        let now = env.now();
        if r.busy_until > now {
            self.arm_work(env);
            return;
        }
        let Some((item, event)) = r.queue.next_ready(now) else {
            self.arm_work(env);
            return;
        };
        let Some(remote) = &self.remote else { return };
        let remote_view = MultiView::new(
            remote
                .informers()
                .iter()
                .map(|i| i.store() as &dyn ObjectView)
                .collect(),
        );
        let local_view = MultiView::new(
            self.local.informers()[..3]
                .iter()
                .map(|i| i.store() as &dyn ObjectView)
                .collect(),
        );
        let mut remote_events = Vec::new();
        let mut enqueue = Vec::new();
        let mut log = Vec::new();
        let mut resolver = NoExternalDns;
        let mut api = WorldApi {
            env,
            link: link_name,
            calls: 0,
        };
        let result = {
            let mut henv = HandlerEnv {
                now,
                remote: &remote_view,
                local: &local_view,
                api: &mut api,
                resolver: &mut resolver,
                remote_events: &mut remote_events,
                enqueue: &mut enqueue,
                gateway_alive: r.gateway_alive,
                log: &mut log,
            };
            r.watcher.handle(&event, &mut henv)
        };
        let calls = api.calls;
        r.queue.done(now, item, &event, &result, &mut log);
        for ev in enqueue {
            r.queue.add(ev);
        }
        r.busy_until = now + API_CALL_COST.saturating_mul(u64::from(calls.max(1)));
        self.events_handled += 1;
        let _ = generation;
        for line in log {
            self.say(env, line);
        }
        if let Some(remote) = &mut self.remote {
            for (i, ev) in remote_events.into_iter().enumerate() {
                remote.request(env, u64::MAX - i as u64, Request::create(ev));
            }
        }
        if let Err(HandlerError::Crash(reason)) = &result {
            self.crash(env, reason.clone());
            return;
        }
        self.arm_work(env);
    }

    /// The controller process exits (fatal error or panic) and restarts after a back-off.
    fn crash(&mut self, env: &mut Env<'_, '_>, reason: String) {
        self.say(env, format!("fatal: {reason}; the container restarts"));
        self.crashes += 1;
        self.stop_watcher(env);
        self.local.stop(env);
        let backoff = SimDuration::from_secs(10)
            .saturating_mul(1 << self.crashes.min(5))
            .min(SimDuration::from_mins(5));
        self.phase = Phase::Crashed {
            restart_at: env.now() + backoff,
        };
        env.ctx
            .timer(backoff, Msg::Timer(Timer::MirrorProcessRestart));
    }

    pub fn on_timer(&mut self, env: &mut Env<'_, '_>, timer: Timer, local_api: ComponentId) {
        match timer {
            Timer::Client { slot: LOCAL, timer } => {
                let mut out = Vec::new();
                self.local.on_timer(env, timer, &mut out);
                self.absorb_local(env, out);
            }
            Timer::Client { slot: _, timer } => {
                if let Some(remote) = &mut self.remote {
                    let mut out = Vec::new();
                    remote.on_timer(env, timer, &mut out);
                    self.absorb_remote(env, out);
                }
            }
            Timer::MirrorWork { generation } if generation == self.generation => self.work(env),
            Timer::MirrorRepair { generation } if generation == self.generation => {
                if let Phase::Running(r) = &mut self.phase {
                    r.queue.add(MirrorEvent::RepairEndpoints);
                    let period = r.watcher.config().repair_period;
                    env.ctx
                        .timer(period, Msg::Timer(Timer::MirrorRepair { generation }));
                }
                self.arm_work(env);
            }
            Timer::MirrorRestartLink { generation } if generation == self.generation => {
                self.restart_watcher(env)
            }
            Timer::MirrorSyncDeadline { generation } if generation == self.generation => {
                if let Phase::Syncing { deadline, .. } = self.phase
                    && env.now() >= deadline
                {
                    self.crash(
                        env,
                        "failed to sync caches: timed out waiting for the condition".into(),
                    );
                }
            }
            Timer::MirrorProcessRestart => {
                if let Phase::Crashed { restart_at } = self.phase
                    && env.now() >= restart_at
                {
                    self.restart(env, local_api);
                }
            }
            Timer::ProbeTick { generation } => self.probe_tick(env, generation),
            Timer::ProbeTimeout { generation, id } => self.probe_done(
                env,
                generation,
                id,
                ProbeResult::Error("Client.Timeout exceeded while awaiting headers".into()),
            ),
            _ => {}
        }
    }

    fn probe_tick(&mut self, env: &mut Env<'_, '_>, generation: u64) {
        let Some(p) = &mut self.probe else { return };
        if p.generation != generation {
            return;
        }
        let now = env.now();
        let tick = p.worker.on_tick(now, env.ctx.rng());
        if let Some(after) = tick.next_tick_after {
            env.ctx
                .timer(after, Msg::Timer(Timer::ProbeTick { generation }));
        }
        if let Some(alive) = tick.liveness {
            self.liveness(env, alive);
        }
        let Some(req) = tick.request else { return };
        let Some(p) = &mut self.probe else { return };
        let Some(gateway) = self.settings.remote_gateway else {
            let change = p
                .worker
                .on_result(now, req.id, ProbeResult::Error("no gateway".into()));
            if let Some(alive) = change {
                self.liveness(env, alive);
            }
            return;
        };
        p.current = Some((req.id, now));
        env.ctx.timer(
            req.timeout,
            Msg::Timer(Timer::ProbeTimeout {
                generation,
                id: req.id,
            }),
        );
        match &p.conn {
            Some(c) if c.ready => {
                let conn = c.conn;
                Self::send_probe(env, conn, req.id);
            }
            Some(_) => {} // connecting: sent once the connection is ready
            None => {
                let conn = env.connect(gateway);
                p.conn = Some(ProbeConn {
                    conn,
                    handshake: None,
                    ready: false,
                });
            }
        }
    }

    fn send_probe(env: &mut Env<'_, '_>, conn: ConnId, id: u64) {
        let frame = HttpFrame::Request {
            id,
            authority: format!("probe:{PROBE_PORT}"),
            target_ip: String::new(),
            port: PROBE_PORT,
            path: "/ready".into(),
        };
        env.send(conn, Side::Client, Payload::Http(Box::new(frame)));
    }

    fn probe_done(&mut self, env: &mut Env<'_, '_>, generation: u64, id: u64, result: ProbeResult) {
        let Some(p) = &mut self.probe else { return };
        if p.generation != generation || p.current.is_none_or(|(cur, _)| cur != id) {
            return;
        }
        p.current = None;
        // A failed probe makes the proxy drop the connection; the next probe reconnects.
        if matches!(result, ProbeResult::Error(_))
            && let Some(c) = p.conn.take()
        {
            env.close(c.conn, Side::Client);
        }
        let change = p.worker.on_result(env.now(), id, result);
        for line in p.worker.take_log() {
            self.say(env, line);
        }
        if let Some(alive) = change {
            self.liveness(env, alive);
        }
    }

    /// A liveness message from the probe worker: set `gatewayAlive`, enqueue a repair.
    fn liveness(&mut self, env: &mut Env<'_, '_>, alive: bool) {
        env.observe(Observation::GatewayLiveness {
            link: self.settings.link_name.clone(),
            alive,
        });
        if let Phase::Running(r) = &mut self.phase {
            r.gateway_alive = alive;
            r.queue.add(MirrorEvent::RepairEndpoints);
        }
        self.arm_work(env);
    }

    pub fn on_conn(&mut self, env: &mut Env<'_, '_>, event: ConnEvent) {
        let conn = conn_of(&event);
        if self.local.owns(conn) {
            let mut out = Vec::new();
            self.local.on_conn(env, event, &mut out);
            self.absorb_local(env, out);
            return;
        }
        if let Some(remote) = &mut self.remote
            && remote.owns(conn)
        {
            let mut out = Vec::new();
            remote.on_conn(env, event, &mut out);
            self.absorb_remote(env, out);
            return;
        }
        self.probe_conn(env, event);
    }

    fn probe_conn(&mut self, env: &mut Env<'_, '_>, event: ConnEvent) {
        let expected = self
            .running_link()
            .map(|l| l.spec.gateway_identity.clone())
            .unwrap_or_default();
        let identity = self.settings.identity.clone();
        let Some(p) = &mut self.probe else { return };
        let Some(c) = &mut p.conn else { return };
        if conn_of(&event) != c.conn {
            return;
        }
        let conn = c.conn;
        let generation = p.generation;
        let current = p.current;
        let fail = |reason: String| current.map(|(id, _)| (id, ProbeResult::Error(reason)));
        let outcome: Option<(u64, ProbeResult)> = match event {
            ConnEvent::Connected { .. } => {
                let config = env
                    .identity
                    .client_config(env.cluster, &identity, env.now());
                let (h, hello) = ClientHandshake::start(
                    config,
                    &expected,
                    IdentityBook::clock(env.now()),
                    env.ctx.rng(),
                );
                c.handshake = Some(Box::new(h));
                env.send(conn, Side::Client, Payload::Tls(Box::new(hello)));
                None
            }
            ConnEvent::ConnectFailed { error, .. } => {
                p.conn = None;
                fail(format!("dial: {error:?}"))
            }
            ConnEvent::Closed { reason, .. } => {
                p.conn = None;
                fail(format!("connection {reason:?}"))
            }
            ConnEvent::Data {
                payload: Payload::Tls(flight),
                ..
            } => {
                let Some(h) = &mut c.handshake else { return };
                let reply = h.handle(
                    IdentityBook::clock(env.now()),
                    &flight,
                    &mut env.identity.memo,
                );
                let done = h.outcome();
                if let Some(reply) = reply {
                    env.send(conn, Side::Client, Payload::Tls(Box::new(reply)));
                }
                match done {
                    Some(Outcome::Established { .. }) if !c.ready => {
                        c.ready = true;
                        if let Some((id, _)) = current {
                            Self::send_probe(env, conn, id);
                        }
                        None
                    }
                    Some(Outcome::Failed(e)) => {
                        p.conn = None;
                        env.close(conn, Side::Client);
                        fail(format!("tls: {e}"))
                    }
                    _ => None,
                }
            }
            ConnEvent::Data {
                payload: Payload::Http(frame),
                ..
            } => {
                let HttpFrame::Response { id, status, .. } = *frame else {
                    return;
                };
                current.filter(|(cur, _)| *cur == id).map(|(id, sent)| {
                    let latency = env.now().saturating_since(sent);
                    (id, ProbeResult::Response { status, latency })
                })
            }
            _ => None,
        };
        if let Some((id, result)) = outcome {
            self.probe_done(env, generation, id, result);
        }
    }

    fn running_link(&self) -> Option<&Link> {
        match &self.phase {
            Phase::Running(r) => Some(&r.link),
            Phase::Connecting { link } | Phase::Syncing { link, .. } => Some(link),
            _ => None,
        }
    }
}

/// Reports an exported → unexported (or deleted) transition of a remote Service as the watcher's
/// informer delivers it, for the `safety.unexported-mirror` check.
fn report_export_change(env: &mut Env<'_, '_>, link_name: &str, link: &Link, delta: &Delta) {
    let exported = |o: &Object| {
        let sel = |s: &Option<crate::k8s::LabelSelector>| {
            s.as_ref()
                .is_some_and(|s| !s.is_empty() && s.matches(o.labels()))
        };
        sel(&link.spec.selector) || sel(&link.spec.remote_discovery_selector)
    };
    let (obj, now_exported) = match delta {
        Delta::Added(o) => (o, exported(o)),
        Delta::Updated { new, .. } => (new, exported(new)),
        Delta::Deleted(d) => (d.object(), false),
        Delta::Synced => return,
    };
    env.observe(Observation::RemoteExport {
        link: link_name.to_string(),
        namespace: obj.namespace().to_string(),
        name: obj.name().to_string(),
        exported: now_exported,
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::k8s::objects::{Endpoints, Service};

    #[test]
    fn the_mirror_owns_its_mirrors_and_probe_endpoints_and_nothing_else() {
        let mut probe = Endpoints::new("linkerd-multicluster", "probe-east");
        probe
            .metadata
            .labels
            .insert("mirror.linkerd.io/cluster-name".into(), "east".into());
        assert!(owned(&Object::Endpoints(probe)));
        let mut mirror = Service::new("default", "web-east");
        mirror
            .metadata
            .labels
            .insert("mirror.linkerd.io/mirrored-service".into(), "true".into());
        assert!(owned(&Object::Service(mirror)));
        // A user's Service of the same name, or one that merely names the cluster, is not.
        assert!(!owned(&Object::Service(Service::new(
            "default", "web-east"
        ))));
        let mut labelled = Service::new("default", "web-east");
        labelled
            .metadata
            .labels
            .insert("mirror.linkerd.io/cluster-name".into(), "east".into());
        assert!(!owned(&Object::Service(labelled)));
        assert!(!owned(&Object::Endpoints(Endpoints::new("default", "web"))));
    }
}
