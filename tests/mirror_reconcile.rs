//! Reconcile-output snapshot tests of the service-mirror core (tests as data).
//!
//! Each case gives initial remote and local objects, one or more Links (with options, fixes,
//! breakages) and a list of steps: remote object changes (fed through the watcher's informer
//! handlers), local changes, explicit events, liveness flips, DNS changes, time. The harness
//! runs each watcher against real `k8s::ApiServer`s (the local one as `LocalApi`, snapshots of
//! the stores as listers and caches), drains every queue after each step (advancing virtual
//! time to rate-limited retries), and snapshots the local objects as Kubernetes YAML plus the
//! Events recorded on the remote clusters and a trace of handled events, API writes and log
//! lines. Snapshots live in the top-level `snapshots/` directory; each case says in one sentence
//! what the spec expects, and every snapshot was checked against that by hand.
//!
//! Must not touch: anything but the public API of `mcsim::multicluster` and `mcsim::k8s`.

use mcsim::k8s::controllers::endpoints::{EndpointsConfig, reconcile_all};
use mcsim::k8s::informer::{DeletedFinalStateUnknown, DeletedObject, Delta};
use mcsim::k8s::objects::{
    CLUSTER_IP_NONE, EndpointAddress, EndpointPort, EndpointSubset, Endpoints, IntOrString, Kind,
    Link, Namespace, Object, ObjectKey, ObjectReference, Service, ServicePort,
};
use mcsim::k8s::{
    ApiServer, ApiServerConfig, LabelSelector, ObjectView, Request, Response, Status,
};
use mcsim::multicluster::{
    Breakage, Breakages, ClusterWatcher, Fix, Fixes, HandlerEnv, LinkConfig, LocalApi, MirrorEvent,
    MirrorQueue, StaticResolver,
};
use mcsim::sim::{Prng, SimDuration, SimTime};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::sync::Arc;

const GW_ID: &str =
    "linkerd-gateway.linkerd-multicluster.serviceaccount.identity.linkerd.cluster.local";
const MC_NS: &str = "linkerd-multicluster";
const EXPORTED: (&str, &str) = ("mirror.linkerd.io/exported", "true");
const REMOTE_DISCOVERY: (&str, &str) = ("mirror.linkerd.io/exported", "remote-discovery");
const FEDERATED: (&str, &str) = ("mirror.linkerd.io/federated", "member");
const HEADLESS_LABEL: &str = "service.kubernetes.io/headless";

// ---------------------------------------------------------------------------------------------
// Object builders (remote objects look like what the Kubernetes controllers would write)
// ---------------------------------------------------------------------------------------------

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn port(name: &str, port: i32, target: i32) -> ServicePort {
    ServicePort {
        name: name.to_string(),
        port,
        target_port: Some(IntOrString::Int(target)),
        ..ServicePort::default()
    }
}

/// A ClusterIP Service with one port `http` 80 → 8080.
fn svc(ns: &str, name: &str, l: &[(&str, &str)]) -> Service {
    let mut s = Service::new(ns, name);
    s.metadata.labels = labels(l);
    s.spec.selector = labels(&[("app", name)]);
    s.spec.ports = vec![port("http", 80, 8080)];
    s
}

fn headless_svc(ns: &str, name: &str, l: &[(&str, &str)]) -> Service {
    let mut s = svc(ns, name, l);
    s.spec.cluster_ip = CLUSTER_IP_NONE.to_string();
    s
}

fn ep_port() -> EndpointPort {
    EndpointPort {
        name: "http".to_string(),
        port: 8080,
        ..EndpointPort::default()
    }
}

/// Endpoints as the endpoints controller writes them: the Service's labels, one subset.
fn eps(ns: &str, name: &str, l: &[(&str, &str)], ready: &[&str], not_ready: &[&str]) -> Endpoints {
    let mut e = Endpoints::new(ns, name);
    e.metadata.labels = labels(l);
    if !ready.is_empty() || !not_ready.is_empty() {
        e.subsets = vec![EndpointSubset {
            addresses: ready.iter().map(|ip| EndpointAddress::ip(ip)).collect(),
            not_ready_addresses: not_ready.iter().map(|ip| EndpointAddress::ip(ip)).collect(),
            ports: vec![ep_port()],
        }];
    }
    e
}

/// Endpoints of a headless Service: the headless label, and for each `(pod, ip, ready)` an
/// address with `hostname = pod` (StatefulSet pods) and a Pod targetRef.
fn sts_eps(ns: &str, name: &str, l: &[(&str, &str)], pods: &[(&str, &str, bool)]) -> Endpoints {
    let mut all = l.to_vec();
    all.push((HEADLESS_LABEL, ""));
    let mut e = Endpoints::new(ns, name);
    e.metadata.labels = labels(&all);
    if pods.is_empty() {
        return e;
    }
    let addr = |pod: &str, ip: &str| EndpointAddress {
        ip: ip.to_string(),
        hostname: pod.to_string(),
        target_ref: Some(ObjectReference {
            kind: "Pod".to_string(),
            namespace: ns.to_string(),
            name: pod.to_string(),
            ..ObjectReference::default()
        }),
        ..EndpointAddress::default()
    };
    e.subsets = vec![EndpointSubset {
        addresses: pods
            .iter()
            .filter(|p| p.2)
            .map(|(p, ip, _)| addr(p, ip))
            .collect(),
        not_ready_addresses: pods
            .iter()
            .filter(|p| !p.2)
            .map(|(p, ip, _)| addr(p, ip))
            .collect(),
        ports: vec![ep_port()],
    }];
    e
}

fn ns(name: &str) -> Namespace {
    Namespace::new(name)
}

fn o(x: impl Into<Object>) -> Object {
    x.into()
}

// ---------------------------------------------------------------------------------------------
// Cases as data
// ---------------------------------------------------------------------------------------------

#[derive(Clone)]
struct LinkSetup {
    name: &'static str,
    /// Seconds after the epoch at which the Link object is created.
    created_at_secs: u64,
    gateway: &'static str,
    headless: bool,
    namespace_creation: bool,
    breakages: Breakages,
    excluded_labels: Vec<&'static str>,
    excluded_annotations: Vec<&'static str>,
}

impl LinkSetup {
    fn new(name: &'static str) -> LinkSetup {
        LinkSetup {
            name,
            created_at_secs: 0,
            gateway: "172.20.0.1",
            headless: false,
            namespace_creation: false,
            breakages: Breakages::none(),
            excluded_labels: vec![],
            excluded_annotations: vec![],
        }
    }
}

#[derive(Clone)]
enum Step {
    /// Create or replace an object on a link's remote cluster and deliver the informer delta.
    Remote(&'static str, Object),
    /// Delete a remote object and deliver the delete as seen on the watch.
    RemoteDelete(&'static str, Kind, &'static str, &'static str),
    /// Delete a remote Service and deliver a `DeletedFinalStateUnknown` tombstone carrying the
    /// given (possibly stale) last known state.
    RemoteTombstone(&'static str, Object),
    /// Create or replace a local object (Namespaces reach every watcher's namespace handler;
    /// Services reach the local mirror's remote handler).
    Local(Object),
    /// Create a local object the controller's listers do not see until the step's drain ends
    /// (informer lag).
    LocalUnseen(Object),
    /// Hide an existing local object from the controller's listers until the step's drain
    /// ends (informer lag of the controller's own earlier write); use inside a `Batch`.
    Hide(Kind, &'static str, &'static str),
    /// Enqueue an event on a link's watcher.
    Event(&'static str, MirrorEvent),
    /// Liveness change from the probe worker: set `gatewayAlive`, enqueue `RepairEndpoints`.
    Liveness(&'static str, bool),
    /// Change what a gateway name resolves to.
    Dns(&'static str, &'static str, Vec<Ipv4Addr>),
    /// Informer resync: every cached remote Service and Endpoints re-delivered as an update.
    Resync(&'static str),
    /// The Kubernetes endpoints controller removes local Endpoints whose Service is gone.
    K8sEndpointsGc,
    /// Several steps without draining in between (queue order = step order).
    Batch(Vec<Step>),
}

struct Case {
    name: &'static str,
    /// What the spec expects, in one sentence.
    expect: &'static str,
    links: Vec<LinkSetup>,
    local_mirror: bool,
    fixes: Fixes,
    local: Vec<Object>,
    remote: Vec<(&'static str, Object)>,
    dns: Vec<(&'static str, Vec<Ipv4Addr>)>,
    steps: Vec<Step>,
}

fn case(name: &'static str, expect: &'static str) -> Case {
    Case {
        name,
        expect,
        links: vec![LinkSetup::new("east")],
        local_mirror: false,
        fixes: Fixes::none(),
        local: vec![],
        remote: vec![],
        dns: vec![],
        steps: vec![],
    }
}

impl Case {
    fn fix(mut self, f: Fix) -> Case {
        self.fixes = self.fixes.with(f);
        self
    }
    fn link(mut self, f: impl FnOnce(&mut LinkSetup)) -> Case {
        f(&mut self.links[0]);
        self
    }
    fn add_link(mut self, l: LinkSetup) -> Case {
        self.links.push(l);
        self
    }
    fn local(mut self, obj: impl Into<Object>) -> Case {
        self.local.push(obj.into());
        self
    }
    fn remote(mut self, obj: impl Into<Object>) -> Case {
        self.remote.push(("east", obj.into()));
        self
    }
    fn remote_in(mut self, link: &'static str, obj: impl Into<Object>) -> Case {
        self.remote.push((link, obj.into()));
        self
    }
    fn step(mut self, s: Step) -> Case {
        self.steps.push(s);
        self
    }
}

// ---------------------------------------------------------------------------------------------
// The harness
// ---------------------------------------------------------------------------------------------

/// The local API as the watcher sees it: every write is traced.
struct Caller<'a> {
    api: &'a mut ApiServer,
    rng: &'a mut Prng,
    now: SimTime,
    trace: &'a mut Vec<String>,
    prefix: &'a str,
}

impl LocalApi for Caller<'_> {
    fn call(&mut self, req: Request) -> Result<Response, Status> {
        let write = !matches!(req, Request::Get { .. } | Request::List { .. });
        let what = req.describe();
        let res = self.api.handle(self.now, self.rng, req);
        if write {
            match &res {
                Ok(_) => self.trace.push(format!("{}    > {what}", self.prefix)),
                Err(st) => self
                    .trace
                    .push(format!("{}    > {what}: {}", self.prefix, st.message)),
            }
        }
        res
    }
}

struct Runtime {
    name: String,
    /// `None` for the local mirror (its remote is the local cluster).
    remote: Option<ApiServer>,
    remote_rng: Prng,
    watcher: ClusterWatcher,
    queue: MirrorQueue,
    gateway_alive: bool,
    resolver: StaticResolver,
    remote_events: Vec<Object>,
}

struct World {
    now: SimTime,
    local: ApiServer,
    local_rng: Prng,
    links: Vec<Runtime>,
    trace: Vec<String>,
    /// Local objects hidden from the listers during the current drain.
    unseen: Vec<ObjectKey>,
}

fn api_server(seed: u64, name: &str) -> (ApiServer, Prng) {
    let mut rng = Prng::stream(seed, name);
    (ApiServer::new(ApiServerConfig::default(), &mut rng), rng)
}

fn must(res: Result<Response, Status>, what: &str) -> Arc<Object> {
    match res {
        Ok(r) => r
            .object()
            .cloned()
            .unwrap_or_else(|| panic!("{what}: no object")),
        Err(st) => panic!("{what}: {st}"),
    }
}

/// Create or update (unconditionally), creating a missing namespace first; returns (old, new).
fn put(
    api: &mut ApiServer,
    now: SimTime,
    rng: &mut Prng,
    obj: Object,
) -> (Option<Arc<Object>>, Arc<Object>) {
    let namespace = obj.namespace().to_string();
    if obj.kind() != Kind::Namespace && api.get_by(Kind::Namespace, "", &namespace).is_none() {
        must(
            api.handle(now, rng, Request::create(ns(&namespace))),
            "create namespace",
        );
    }
    let old = api.get(&obj.key()).cloned();
    let new = match &old {
        None => must(api.handle(now, rng, Request::create(obj.clone())), "create"),
        Some(_) => {
            let mut obj = obj;
            obj.meta_mut().resource_version.clear();
            must(api.handle(now, rng, Request::update(obj)), "update")
        }
    };
    (old, new)
}

impl World {
    fn new(c: &Case) -> World {
        let (mut local, mut local_rng) = api_server(1, "local");
        let now = SimTime::ZERO;
        put(&mut local, now, &mut local_rng, o(ns(MC_NS)));
        let mut links = vec![];
        for (i, l) in c.links.iter().enumerate() {
            let mut link = Link::default();
            link.metadata.name = l.name.to_string();
            link.metadata.namespace = MC_NS.to_string();
            link.spec.target_cluster_name = l.name.to_string();
            link.spec.gateway_address = l.gateway.to_string();
            link.spec.gateway_identity = GW_ID.to_string();
            link.spec.excluded_labels = l.excluded_labels.iter().map(|s| s.to_string()).collect();
            link.spec.excluded_annotations = l
                .excluded_annotations
                .iter()
                .map(|s| s.to_string())
                .collect();
            let link = link.with_defaults();
            let at = SimTime(l.created_at_secs * 1_000_000_000);
            let stored = must(
                local.handle(at, &mut local_rng, Request::create(link)),
                "create link",
            );
            // The chart-managed probe Service.
            let mut probe = Service::new(MC_NS, &format!("probe-{}", l.name));
            probe.metadata.labels = labels(&[
                ("mirror.linkerd.io/mirrored-gateway", "true"),
                ("mirror.linkerd.io/cluster-name", l.name),
            ]);
            probe.spec.ports = vec![port("mc-probe", 4191, 4191)];
            put(&mut local, at, &mut local_rng, o(probe));
            let mut cfg = LinkConfig::new(stored.as_link().cloned().unwrap_or_default());
            cfg.enable_headless = l.headless;
            cfg.enable_namespace_creation = l.namespace_creation;
            cfg.fixes = c.fixes.clone();
            cfg.breakages = l.breakages.clone();
            let (remote, remote_rng) = api_server(10 + i as u64, l.name);
            let mut resolver = StaticResolver::new();
            for (name, ips) in &c.dns {
                resolver = resolver.with(name, ips);
            }
            links.push(Runtime {
                name: l.name.to_string(),
                remote: Some(remote),
                remote_rng,
                queue: MirrorQueue::new(cfg.requeue_limit),
                watcher: ClusterWatcher::new(cfg),
                gateway_alive: true,
                resolver,
                remote_events: vec![],
            });
        }
        if c.local_mirror {
            let mut cfg = LinkConfig::local_mirror(LabelSelector::eq([FEDERATED]));
            cfg.fixes = c.fixes.clone();
            links.push(Runtime {
                name: "local".to_string(),
                remote: None,
                remote_rng: Prng::stream(99, "unused"),
                queue: MirrorQueue::new(cfg.requeue_limit),
                watcher: ClusterWatcher::new(cfg),
                gateway_alive: true,
                resolver: StaticResolver::new(),
                remote_events: vec![],
            });
        }
        let mut w = World {
            now: SimTime(60 * 1_000_000_000),
            local,
            local_rng,
            links,
            trace: vec![],
            unseen: vec![],
        };
        for obj in &c.local {
            put(&mut w.local, w.now, &mut w.local_rng, obj.clone());
        }
        for (link, obj) in &c.remote {
            let now = w.now;
            let rt = w.rt(link);
            if let Some(api) = rt.remote.as_mut() {
                put(api, now, &mut rt.remote_rng, obj.clone());
            }
        }
        w
    }

    fn rt(&mut self, link: &str) -> &mut Runtime {
        self.links
            .iter_mut()
            .find(|r| r.name == link)
            .unwrap_or_else(|| panic!("no link {link}"))
    }

    /// §4.1: GC first, then the informer replays (Services, exported headless Endpoints, local
    /// namespaces), then `RepairEndpoints`.
    fn start(&mut self) {
        let local_namespaces: Vec<Arc<Object>> = self
            .local
            .list(Kind::Namespace, None)
            .into_iter()
            .cloned()
            .collect();
        let local_services: Vec<Arc<Object>> = self
            .local
            .list(Kind::Service, None)
            .into_iter()
            .cloned()
            .collect();
        for rt in &mut self.links {
            let startup = rt.watcher.startup_events();
            let mut evs = vec![startup[0].clone()];
            let (svcs, epss): (Vec<Arc<Object>>, Vec<Arc<Object>>) = match &rt.remote {
                Some(api) => (
                    api.list(Kind::Service, None).into_iter().cloned().collect(),
                    api.list(Kind::Endpoints, None)
                        .into_iter()
                        .cloned()
                        .collect(),
                ),
                None => (local_services.clone(), vec![]),
            };
            for s in svcs {
                evs.extend(rt.watcher.on_remote_service(&Delta::Added(s)));
            }
            for e in epss {
                evs.extend(rt.watcher.on_remote_endpoints(&Delta::Added(e)));
            }
            for n in &local_namespaces {
                evs.extend(rt.watcher.on_local_namespace(&Delta::Added(n.clone())));
            }
            evs.extend(startup.into_iter().skip(1));
            for e in evs {
                rt.queue.add(e);
            }
        }
    }

    fn apply(&mut self, step: &Step) {
        let now = self.now;
        match step {
            Step::Remote(link, obj) => {
                let rt = self.rt(link);
                let Some(api) = rt.remote.as_mut() else {
                    return;
                };
                let (old, new) = put(api, now, &mut rt.remote_rng, obj.clone());
                let delta = match old {
                    None => Delta::Added(new.clone()),
                    Some(old) => Delta::Updated {
                        old,
                        new: new.clone(),
                    },
                };
                let evs = match new.kind() {
                    Kind::Service => rt.watcher.on_remote_service(&delta),
                    Kind::Endpoints => rt.watcher.on_remote_endpoints(&delta),
                    _ => vec![],
                };
                evs.into_iter().for_each(|e| rt.queue.add(e));
            }
            Step::RemoteDelete(link, kind, ns, name) => {
                let rt = self.rt(link);
                let Some(api) = rt.remote.as_mut() else {
                    return;
                };
                let key = ObjectKey::new(*kind, ns, name);
                let last = must(
                    api.handle(now, &mut rt.remote_rng, Request::delete(key)),
                    "delete",
                );
                let delta = Delta::Deleted(DeletedObject::Final(last));
                let evs = match kind {
                    Kind::Service => rt.watcher.on_remote_service(&delta),
                    _ => rt.watcher.on_remote_endpoints(&delta),
                };
                evs.into_iter().for_each(|e| rt.queue.add(e));
            }
            Step::RemoteTombstone(link, stale) => {
                let rt = self.rt(link);
                let Some(api) = rt.remote.as_mut() else {
                    return;
                };
                let key = stale.key();
                must(
                    api.handle(now, &mut rt.remote_rng, Request::delete(key.clone())),
                    "delete",
                );
                let delta = Delta::Deleted(DeletedObject::Tombstone(DeletedFinalStateUnknown {
                    key,
                    obj: Arc::new(stale.clone()),
                }));
                let evs = rt.watcher.on_remote_service(&delta);
                evs.into_iter().for_each(|e| rt.queue.add(e));
            }
            Step::Local(obj) => {
                let (old, new) = put(&mut self.local, now, &mut self.local_rng, obj.clone());
                let delta = match old {
                    None => Delta::Added(new.clone()),
                    Some(old) => Delta::Updated {
                        old,
                        new: new.clone(),
                    },
                };
                for rt in &mut self.links {
                    let mut evs = rt.watcher.on_local_namespace(&delta);
                    if rt.remote.is_none() {
                        evs.extend(rt.watcher.on_remote_service(&delta));
                    }
                    evs.into_iter().for_each(|e| rt.queue.add(e));
                }
            }
            Step::LocalUnseen(obj) => {
                put(&mut self.local, now, &mut self.local_rng, obj.clone());
                self.unseen.push(obj.key());
            }
            Step::Hide(kind, ns, name) => self.unseen.push(ObjectKey::new(*kind, ns, name)),
            Step::Event(link, ev) => self.rt(link).queue.add(ev.clone()),
            Step::Liveness(link, alive) => {
                let rt = self.rt(link);
                rt.gateway_alive = *alive;
                rt.queue.add(MirrorEvent::RepairEndpoints);
            }
            Step::Dns(link, name, ips) => {
                let rt = self.rt(link);
                rt.resolver.names.insert(name.to_string(), ips.clone());
            }
            Step::Resync(link) => {
                let rt = self.rt(link);
                let Some(api) = rt.remote.as_ref() else {
                    return;
                };
                let mut evs = vec![];
                for s in api.list(Kind::Service, None) {
                    evs.extend(rt.watcher.on_remote_service(&Delta::Updated {
                        old: s.clone(),
                        new: s.clone(),
                    }));
                }
                for e in api.list(Kind::Endpoints, None) {
                    evs.extend(rt.watcher.on_remote_endpoints(&Delta::Updated {
                        old: e.clone(),
                        new: e.clone(),
                    }));
                }
                evs.into_iter().for_each(|e| rt.queue.add(e));
            }
            Step::K8sEndpointsGc => {
                for req in reconcile_all(&self.local, &EndpointsConfig::default()) {
                    let what = req.describe();
                    if self.local.handle(now, &mut self.local_rng, req).is_ok() {
                        self.trace
                            .push(format!("[k8s] endpoints controller: {what}"));
                    }
                }
            }
            Step::Batch(steps) => steps.iter().for_each(|s| self.apply(s)),
        }
    }

    /// Handles events until every queue is idle, jumping to delayed retries.
    fn drain(&mut self) {
        for _ in 0..10_000 {
            let mut progressed = false;
            for i in 0..self.links.len() {
                let now = self.now;
                let World {
                    local,
                    local_rng,
                    links,
                    trace,
                    unseen,
                    ..
                } = self;
                let rt = &mut links[i];
                let Some((item, ev)) = rt.queue.next_ready(now) else {
                    continue;
                };
                progressed = true;
                let mut snapshot = local.store().clone();
                for key in unseen.iter() {
                    snapshot.remove(key);
                }
                let prefix = format!("[{}]", rt.name);
                trace.push(format!("{prefix} {now} {ev}"));
                let mut enqueue = vec![];
                let mut log = vec![];
                let res = {
                    let mut caller = Caller {
                        api: local,
                        rng: local_rng,
                        now,
                        trace,
                        prefix: &prefix,
                    };
                    let remote_view: &dyn ObjectView = match &rt.remote {
                        Some(api) => api,
                        None => &snapshot,
                    };
                    let mut env = HandlerEnv {
                        now,
                        remote: remote_view,
                        local: &snapshot,
                        api: &mut caller,
                        resolver: &mut rt.resolver,
                        remote_events: &mut rt.remote_events,
                        enqueue: &mut enqueue,
                        gateway_alive: rt.gateway_alive,
                        log: &mut log,
                    };
                    rt.watcher.handle(&ev, &mut env)
                };
                for e in enqueue {
                    trace.push(format!("{prefix}    + {e}"));
                    rt.queue.add(e);
                }
                rt.queue.done(now, item, &ev, &res, &mut log);
                for l in log {
                    trace.push(format!("{prefix}    {l}"));
                }
            }
            if progressed {
                continue;
            }
            match self
                .links
                .iter()
                .filter_map(|r| r.queue.next_wakeup())
                .min()
            {
                Some(t) => self.now = t,
                None => {
                    self.unseen.clear();
                    return;
                }
            }
        }
        panic!("queues did not drain within 10000 rounds");
    }

    fn render(&self, c: &Case) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# {}\n# expect: {}\n", c.name, c.expect);
        let _ = writeln!(out, "## local objects");
        for obj in self.local.objects() {
            let skip = match obj.kind() {
                Kind::Namespace => {
                    ["default", "kube-system", "kube-public", MC_NS].contains(&obj.name())
                }
                Kind::Service => obj.namespace() == MC_NS,
                _ => false,
            };
            if !skip {
                out.push_str("---\n");
                out.push_str(&yaml(obj));
            }
        }
        for rt in &self.links {
            if rt.remote_events.is_empty() {
                continue;
            }
            let _ = writeln!(out, "\n## events recorded on remote cluster {}", rt.name);
            for ev in &rt.remote_events {
                out.push_str("---\n");
                out.push_str(&yaml(ev));
            }
        }
        let _ = writeln!(out, "\n## trace");
        for l in &self.trace {
            let _ = writeln!(out, "{l}");
        }
        out
    }
}

/// Kubernetes-shaped YAML without the noise of uids and (except for Links) timestamps. Links
/// are shown without their spec (set up by the harness; only the status is written by the
/// controller).
fn yaml(obj: &Object) -> String {
    let mut v = serde_json::to_value(obj).expect("serialisable");
    if let Some(m) = v.get_mut("metadata").and_then(|m| m.as_object_mut()) {
        m.remove("uid");
        if obj.kind() != Kind::Link {
            m.remove("creationTimestamp");
        } else {
            m.remove("generation");
        }
    }
    if obj.kind() == Kind::Link
        && let Some(m) = v.as_object_mut()
    {
        m.remove("spec");
    }
    serde_yaml_ng::to_string(&v).expect("yaml")
}

fn run(c: &Case) -> String {
    let mut w = World::new(c);
    w.start();
    w.drain();
    for s in &c.steps {
        w.now += SimDuration::from_secs(1);
        w.apply(s);
        w.drain();
    }
    w.render(c)
}

// ---------------------------------------------------------------------------------------------
// The cases
// ---------------------------------------------------------------------------------------------

fn ip(a: u8, b: u8, c: u8, d: u8) -> Ipv4Addr {
    Ipv4Addr::new(a, b, c, d)
}

fn web() -> Service {
    svc("default", "web", &[EXPORTED, ("app", "web")])
}
fn web_eps() -> Endpoints {
    eps(
        "default",
        "web",
        &[EXPORTED, ("app", "web")],
        &["10.1.0.5"],
        &[],
    )
}
fn unexported_web() -> Service {
    svc("default", "web", &[("app", "web")])
}
fn foreign_web_east() -> Service {
    let mut s = svc("default", "web-east", &[("owner", "user")]);
    s.spec.selector = labels(&[("app", "user-web")]);
    s
}
fn nginx(l: &[(&str, &str)]) -> Service {
    headless_svc("default", "nginx", l)
}
fn nginx_eps(l: &[(&str, &str)], pods: &[(&str, &str, bool)]) -> Endpoints {
    sts_eps("default", "nginx", l, pods)
}
const NGX: &[(&str, &str)] = &[EXPORTED, ("app", "nginx")];

fn headless(l: &mut LinkSetup) {
    l.headless = true;
}

fn cases() -> Vec<Case> {
    let mut v = vec![];

    // --- creation -----------------------------------------------------------------------------
    v.push(
        case("create_exported_service",
            "An exported Service with ready endpoints gets a selector-less mirror web-east (ports, labels minus mirror.linkerd.io/*, mirrored-service/cluster-name, fq-name and resource-version annotations) and Endpoints with the gateway IP on port 4143 and the gateway identity; the Link status says Mirrored; the startup repair writes the probe Endpoints (§5, §6.1, §6.4).")
            .remote(web()).remote(web_eps()),
    );
    v.push(
        case("create_not_exported_is_ignored",
            "A Service without the export label is not mirrored; only the probe Endpoints appear (§4.3).")
            .remote(unexported_web()).remote(eps("default", "web", &[("app", "web")], &["10.1.0.5"], &[])),
    );
    v.push(
        case("create_without_remote_endpoints",
            "An exported Service whose remote Endpoints do not exist is mirrored with Endpoints that have no subsets (§6.1 emptiness check).")
            .remote(web()),
    );
    v.push(
        case("create_with_only_not_ready_endpoints",
            "Remote Endpoints with only notReadyAddresses count as empty (#7520): the mirror Endpoints have no subsets.")
            .remote(web()).remote(eps("default", "web", &[EXPORTED], &[], &["10.1.0.5"])),
    );
    v.push({
        let mut s = web();
        s.spec.type_ = mcsim::k8s::objects::ServiceType::NodePort;
        s.spec.ports = vec![
            ServicePort { node_port: Some(30080), app_protocol: Some("http".into()), ..port("http", 80, 8080) },
            ServicePort { node_port: Some(30443), ..port("https", 443, 8443) },
        ];
        case("create_multi_port_nodeport",
            "Mirror ports copy name/protocol/port/targetPort and drop nodePort (and appProtocol), the mirror is ClusterIP, and every Endpoints port is remapped to the gateway port by name (§5.4).")
            .remote(s).remote(web_eps())
    });
    v.push({
        let mut c = case("create_gateway_names_resolved_and_sorted",
            "gatewayAddress is a comma list of names and IPs; all resolved IPs are used, sorted lexicographically as strings (so 10.0.0.10 sorts before 10.0.0.9) (§2.1, §6.1).")
            .link(|l| l.gateway = "gw.east.example,10.0.0.9")
            .remote(web()).remote(web_eps());
        c.dns.push(("gw.east.example", vec![ip(10, 0, 0, 10), ip(192, 168, 1, 1)]));
        c
    });
    v.push(
        case("create_gateway_unresolvable_gives_up",
            "When no gateway address resolves, endpoint creation fails with a RetryableError after the Service was created; the event is retried 3 times (4 attempts, rate-limited 5/10/20 ms) then dropped with \"giving up\", leaving a mirror Service without Endpoints and status Error (§4.2, §6.1).")
            .link(|l| l.gateway = "gw.nowhere.example")
            .remote(web()).remote(web_eps()),
    );
    v.push({
        let mut s = web();
        s.metadata.labels.insert("mirror.linkerd.io/custom".into(), "x".into());
        s.metadata.labels.insert("team".into(), "payments".into());
        s.metadata.annotations = labels(&[
            ("service.kubernetes.io/topology-mode", "Auto"),
            ("service.kubernetes.io/topology-aware-hints", "auto"),
            ("config.linkerd.io/opaque-ports", "8080"),
            ("example.com/owner", "alice"),
        ]);
        case("metadata_copy_rules",
            "Labels with the mirror.linkerd.io prefix (including exported) are not copied, topology annotations are dropped (#11223), opaque-ports and other annotations are copied (§5.2, §5.3).")
            .remote(s).remote(web_eps())
    });
    v.push({
        let mut s = web();
        s.metadata.labels.insert("team".into(), "payments".into());
        s.metadata.labels.insert("example.com/tier".into(), "gold".into());
        s.metadata.annotations = labels(&[
            ("config.linkerd.io/opaque-ports", "8080"),
            ("example.com/owner", "alice"),
            ("keep.me/please", "yes"),
        ]);
        case("excluded_labels_and_annotations",
            "excludedLabels/excludedAnnotations drop exact keys and `prefix/*` families, but the opaque-ports annotation is re-added even when excluded (§2.1, §5.3).")
            .link(|l| {
                l.excluded_labels = vec!["team", "example.com/*"];
                l.excluded_annotations = vec!["example.com/*", "config.linkerd.io/opaque-ports"];
            })
            .remote(s).remote(web_eps())
    });

    // --- update -------------------------------------------------------------------------------
    v.push({
        let mut s = web();
        s.metadata.labels.insert("version".into(), "v2".into());
        case("update_labels",
            "A remote label change bumps the remote resourceVersion, so OnUpdateCalled enqueues RemoteExportedServiceUpdated, which rewrites the mirror's labels and remote-resource-version annotation (Service updated last) and rewrites the Endpoints (§6.3).")
            .remote(web()).remote(web_eps())
            .step(Step::Remote("east", o(s)))
    });
    v.push({
        let mut s = web();
        s.spec.ports.push(port("grpc", 9090, 9090));
        case("update_ports",
            "A new remote port appears on the mirror Service and as a gateway-port entry in the mirror Endpoints (§5.4, MT \"updates service ports on both service and endpoints\").")
            .remote(web()).remote(web_eps())
            .step(Step::Remote("east", o(s)))
    });
    v.push(
        case("update_resync_same_version_is_a_no_op",
            "An informer resync re-delivers the Service with an unchanged resourceVersion: OnUpdateCalled does nothing, and the unchanged exported Endpoints update changes nothing (§4.2 backstop, §4.3).")
            .remote(web()).remote(web_eps())
            .step(Step::Resync("east")),
    );
    v.push({
        let mut s = web();
        s.metadata.labels.insert("version".into(), "v2".into());
        case("update_ignores_empty_endpoints",
            "Quirk update-checks-empty-endpoints (default): a Service update writes gateway addresses into the mirror Endpoints although the remote Endpoints are empty (§6.3 step 4).")
            .remote(web()).remote(eps("default", "web", &[EXPORTED, ("app", "web")], &[], &[]))
            .step(Step::Remote("east", o(s)))
    });
    v.push({
        let mut s = web();
        s.metadata.labels.insert("version".into(), "v2".into());
        case("update_ignores_empty_endpoints_fixed",
            "Fix update-checks-empty-endpoints: the Service update keeps the mirror Endpoints empty while the remote Endpoints are empty.")
            .fix(Fix::UpdateChecksEmptyEndpoints)
            .remote(web()).remote(eps("default", "web", &[EXPORTED, ("app", "web")], &[], &[]))
            .step(Step::Remote("east", o(s)))
    });

    // --- unexport and delete --------------------------------------------------------------------
    v.push(
        case("unexport_by_label_removal",
            "Removing the export label makes createOrUpdateService enqueue RemoteServiceUnexported (the mirror carries this link's labels): the status entry is removed and the mirror Service deleted; its Endpoints are left to the Kubernetes endpoints controller (§4.3, §5.6).")
            .remote(web()).remote(web_eps())
            .step(Step::Remote("east", o(unexported_web())))
            .step(Step::K8sEndpointsGc),
    );
    v.push(
        case("remote_service_deleted",
            "Deleting the remote Service enqueues RemoteServiceUnexported and the mirror is deleted (§4.3 OnDeleteCalled, §5.6).")
            .remote(web()).remote(web_eps())
            .step(Step::RemoteDelete("east", Kind::Service, "default", "web"))
            .step(Step::K8sEndpointsGc),
    );
    v.push(
        case("remote_service_deleted_tombstone",
            "A DeletedFinalStateUnknown tombstone (relist after a watch gap) is unwrapped; its last known labels say exported, so the mirror is deleted (§4.1 step 3, §9.1).")
            .remote(web()).remote(web_eps())
            .step(Step::RemoteTombstone("east", o(web())))
            .step(Step::K8sEndpointsGc),
    );
    v.push(
        case("unexport_deletes_foreign_service",
            "Quirk unexport-checks-ownership (default): a user's Service web-east (no mirror labels) is left alone while web is exported, but deleted when the remote web is deleted, because the unexport handler never checks ownership (§5.6 [inferred]).")
            .local(foreign_web_east())
            .remote(web())
            .step(Step::RemoteDelete("east", Kind::Service, "default", "web")),
    );
    v.push(
        case(
            "unexport_deletes_foreign_service_fixed",
            "Fix unexport-checks-ownership: the user's web-east survives the remote delete.",
        )
        .fix(Fix::UnexportChecksOwnership)
        .local(foreign_web_east())
        .remote(web())
        .step(Step::RemoteDelete("east", Kind::Service, "default", "web")),
    );
    v.push(
        case("foreign_service_kept_when_not_exported",
            "A non-exported remote web next to a user's local web-east: the \"not exported\" path checks the mirror labels, so nothing is deleted (§4.3).")
            .local(foreign_web_east())
            .remote(unexported_web())
            .step(Step::Resync("east")),
    );
    v.push(
        case("breakage_mirror_touches_foreign",
            "Breakage mirror-touches-foreign: without the label check the user's web-east is deleted as soon as the non-exported remote web is seen.")
            .link(|l| l.breakages = Breakages::none().with(Breakage::MirrorTouchesForeign))
            .local(foreign_web_east())
            .remote(unexported_web())
            .step(Step::Resync("east")),
    );
    v.push(
        case("export_collides_with_foreign_service",
            "Quirk export-cleanup-checks-ownership (default): web is exported just as a user creates web-east with its own Endpoints (not yet in the controller's lister): AlreadyExists on the Service is tolerated, the Endpoints create fails with AlreadyExists, and the cleanup deletes the user's Service; retries then recreate and delete the mirror Service until giving up (§6.1 [inferred]).")
            .step(Step::Batch(vec![
                Step::LocalUnseen(o(foreign_web_east())),
                Step::LocalUnseen(o(eps("default", "web-east", &[("owner", "user")], &["10.9.9.9"], &[]))),
                Step::Remote("east", o(web())),
            ])),
    );
    v.push(
        case("export_collides_with_foreign_service_fixed",
            "Fix export-cleanup-checks-ownership: the failed Endpoints create is retried and given up, but the user's Service and Endpoints survive.")
            .fix(Fix::ExportCleanupChecksOwnership)
            .step(Step::Batch(vec![
                Step::LocalUnseen(o(foreign_web_east())),
                Step::LocalUnseen(o(eps("default", "web-east", &[("owner", "user")], &["10.9.9.9"], &[]))),
                Step::Remote("east", o(web())),
            ])),
    );

    // --- endpoints changes ---------------------------------------------------------------------
    v.push(
        case("endpoints_become_empty_and_ready_again",
            "Only emptiness transitions are mirrored: remote Endpoints losing their last ready address empty the mirror subsets, and becoming ready again restores the gateway subset (§6.2).")
            .remote(web()).remote(web_eps())
            .step(Step::Remote("east", o(eps("default", "web", &[EXPORTED, ("app", "web")], &[], &["10.1.0.5"]))))
            .step(Step::Remote("east", o(eps("default", "web", &[EXPORTED, ("app", "web")], &["10.1.0.6"], &[])))),
    );
    v.push(
        case("endpoints_pod_churn_is_invisible",
            "Pod IP changes that keep the remote Endpoints non-empty do not touch the mirror Endpoints (blog \"Endpoint juggling\", §6.2).")
            .remote(web()).remote(web_eps())
            .step(Step::Remote("east", o(eps("default", "web", &[EXPORTED, ("app", "web")], &["10.1.0.7", "10.1.0.8"], &[])))),
    );
    v.push(
        case("endpoints_update_before_mirror_exists",
            "A remote Service and an Endpoints update arrive together: OnAddCalled queues RemoteServiceExported behind the Endpoints update, which fails with \"endpoints not found\" (RetryableError) and succeeds as a no-op on its rate-limited retry once the mirror exists (§4.2, §6.2).")
            .step(Step::Batch(vec![
                Step::Remote("east", o(web())),
                Step::Remote("east", o(eps("default", "web", &[EXPORTED, ("app", "web")], &[], &[]))),
                Step::Remote("east", o(web_eps())),
            ])),
    );
    v.push(
        case("breakage_endpoints_before_service",
            "Breakage endpoints-before-service: the same event order leaves mirror Endpoints without a mirror Service, because the Endpoints event created them and RemoteServiceExported then assumed the mirror complete.")
            .link(|l| l.breakages = Breakages::none().with(Breakage::EndpointsBeforeService))
            .step(Step::Batch(vec![
                Step::Remote("east", o(web())),
                Step::Remote("east", o(eps("default", "web", &[EXPORTED, ("app", "web")], &[], &[]))),
                Step::Remote("east", o(web_eps())),
            ])),
    );
    v.push(
        case("breakage_endpoints_before_service_other_order",
            "Breakage endpoints-before-service handled in the other order (Service mirrored first, then the Endpoints update) produces the correct mirror: the bug is order-dependent.")
            .link(|l| l.breakages = Breakages::none().with(Breakage::EndpointsBeforeService))
            .step(Step::Remote("east", o(web())))
            .step(Step::Remote("east", o(eps("default", "web", &[EXPORTED, ("app", "web")], &[], &[]))))
            .step(Step::Remote("east", o(web_eps()))),
    );

    // --- headless ------------------------------------------------------------------------------
    let two = [("web-0", "10.2.0.10", true), ("web-1", "10.2.0.11", true)];
    v.push(
        case("headless_disabled_mirrors_as_cluster_ip",
            "With headless mirroring off, headless Endpoints events are ignored and the headless Service is mirrored as an ordinary ClusterIP gateway mirror (§7.1).")
            .remote(nginx(NGX)).remote(nginx_eps(NGX, &two)),
    );
    v.push(
        case("headless_create",
            "With headless mirroring on, the Endpoints Add creates root nginx-east (ClusterIP None), endpoint mirrors web-0-east/web-1-east (ClusterIP, headless-mirror-svc-name label, per-pod fq-name, gateway Endpoints) and root Endpoints mapping each hostname to its endpoint mirror's ClusterIP with the remote container ports; the Service path writes status InvalidService \"Headless mirror services are disabled\" (§6.1 step 1, §7.2).")
            .link(headless)
            .remote(nginx(NGX)).remote(nginx_eps(NGX, &two)),
    );
    v.push(
        case(
            "headless_scale_up",
            "Scaling up adds endpoint mirror web-2-east and a root address for it (§7.4).",
        )
        .link(headless)
        .remote(nginx(NGX))
        .remote(nginx_eps(NGX, &two))
        .step(Step::Remote(
            "east",
            o(nginx_eps(
                NGX,
                &[two[0], two[1], ("web-2", "10.2.0.12", true)],
            )),
        )),
    );
    v.push(
        case("headless_scale_down_and_not_ready",
            "A pod that is gone (web-1) or not ready (web-0) drops out: its endpoint mirror Service is deleted (Endpoints left to the endpoints controller) and the root subset loses it (§7.4).")
            .link(headless)
            .remote(nginx(NGX)).remote(nginx_eps(NGX, &[two[0], two[1], ("web-2", "10.2.0.12", true)]))
            .step(Step::Remote("east", o(nginx_eps(NGX, &[("web-0", "10.2.0.10", false), ("web-2", "10.2.0.12", true)]))))
            .step(Step::K8sEndpointsGc),
    );
    v.push({
        let mut e = nginx_eps(NGX, &two);
        e.subsets[0].addresses[1].hostname.clear();
        case("headless_hostname_loss",
            "An address that loses its hostname is skipped silently, so its endpoint mirror is deleted (§7.4, #10916).")
            .link(headless)
            .remote(nginx(NGX)).remote(nginx_eps(NGX, &two))
            .step(Step::Remote("east", o(e)))
    });
    v.push(
        case("headless_unexport",
            "Unexporting a headless Service deletes its endpoint mirrors (found by label within the namespace, #15201) and then the root (§5.6, §7.5).")
            .link(headless)
            .remote(nginx(NGX)).remote(nginx_eps(NGX, &two))
            .step(Step::Remote("east", o(nginx(&[("app", "nginx")]))))
            .step(Step::K8sEndpointsGc),
    );
    v.push({
        let mut e = nginx_eps(NGX, &two);
        for a in &mut e.subsets[0].addresses {
            a.hostname.clear();
        }
        case("headless_without_hostnames_is_cluster_ip",
            "A headless Service whose Endpoints have no named address is mirrored as a ClusterIP gateway mirror, and stays so (§7.1).")
            .link(headless)
            .remote(nginx(NGX)).remote(e)
    });
    v.push({
        let mut s = nginx(NGX);
        s.spec.ports.clear();
        case("headless_without_ports_is_skipped",
            "A headless Service with no ports is skipped with the Event \"Skipped mirroring service: object spec has no exposed ports\" on the remote Service (§7.1).")
            .link(headless)
            .remote(s).remote(nginx_eps(NGX, &two))
    });
    v.push(
        case("headless_empty_subsets",
            "Quirk headless-empty-waits (default): Endpoints without subsets create no Service but gateway Endpoints nginx-east with no Service; the next update with subsets creates the root Service and, since Endpoints nginx-east already exist, takes the update branch: endpoint mirrors are created there and the leftover Endpoints are rewritten as root Endpoints (keeping the gateway Endpoints' labels) (§7.1 [inferred]).")
            .link(headless)
            .remote(nginx(NGX)).remote(nginx_eps(NGX, &[]))
            .step(Step::Remote("east", o(nginx_eps(NGX, &two)))),
    );
    v.push(
        case("headless_empty_subsets_fixed",
            "Fix headless-empty-waits: nothing is created until the Endpoints have subsets, then the full headless mirror is created.")
            .fix(Fix::HeadlessEmptyWaits)
            .link(headless)
            .remote(nginx(NGX)).remote(nginx_eps(NGX, &[]))
            .step(Step::Remote("east", o(nginx_eps(NGX, &two)))),
    );
    v.push({
        let s = headless_svc("shop", "nginx", NGX);
        let e = sts_eps("shop", "nginx", NGX, &two);
        case("headless_missing_namespace",
            "Quirk headless-missing-namespace-skips (default): namespace shop is missing locally; the headless path records no Event and tries to create gateway Endpoints in the missing namespace, which fails and is retried until it gives up (§7.1 [inferred]).")
            .link(headless)
            .remote(s).remote(e)
    });
    v.push({
        let s = headless_svc("shop", "nginx", NGX);
        let e = sts_eps("shop", "nginx", NGX, &two);
        case("headless_missing_namespace_fixed",
            "Fix headless-missing-namespace-skips (with headless-export-status, so the Service path does not overwrite the status): the headless path skips like the normal path, with the ServiceMirroringSkipped Event and status MissingNamespace.")
            .fix(Fix::HeadlessMissingNamespaceSkips)
            .fix(Fix::HeadlessExportStatus)
            .link(headless)
            .remote(s).remote(e)
    });
    v.push({
        let mut s = nginx(NGX);
        s.metadata.labels.insert("version".into(), "v2".into());
        case("headless_service_update_overwrites_root",
            "Quirk headless-update-keeps-root (default): a remote Service update replaces the root's Endpoints (hostname → endpoint-mirror ClusterIP) with gateway addresses without hostnames (§6.3 step 4 [inferred]).")
            .link(headless)
            .remote(nginx(NGX)).remote(nginx_eps(NGX, &two))
            .step(Step::Remote("east", o(s)))
    });
    v.push({
        let mut s = nginx(NGX);
        s.metadata.labels.insert("version".into(), "v2".into());
        case("headless_service_update_overwrites_root_fixed",
            "Fix headless-update-keeps-root: the update rewrites the root's labels/annotations but leaves its Endpoints.")
            .fix(Fix::HeadlessUpdateKeepsRoot)
            .link(headless)
            .remote(nginx(NGX)).remote(nginx_eps(NGX, &two))
            .step(Step::Remote("east", o(s)))
    });
    v.push({
        let mut s = nginx(NGX);
        s.metadata.labels.insert("version".into(), "v2".into());
        case("headless_service_update_before_root_endpoints_seen",
            "Fixes create-adopts-existing, headless-root-always-ready and headless-update-keeps-root together: a remote Service update handled while the local lister has the headless root Service but not yet its Endpoints leaves the root Endpoints alone (the keep-root rule is decided on the headless root Service, not on what the Endpoints lister shows), so create-adopts-existing never gets to adopt them as gateway Endpoints; the root Service's labels are updated (§6.3 step 4, §7.4).")
            .fix(Fix::CreateAdoptsExisting)
            .fix(Fix::HeadlessRootAlwaysReady)
            .fix(Fix::HeadlessUpdateKeepsRoot)
            .link(headless)
            .remote(nginx(NGX)).remote(nginx_eps(NGX, &two))
            .step(Step::Batch(vec![
                Step::Hide(Kind::Endpoints, "default", "nginx-east"),
                Step::Remote("east", o(s)),
            ]))
    });
    v.push(
        case("headless_update_while_gateway_dead",
            "Quirk headless-root-always-ready (default): while the gateway is down, a headless scale-up writes the root Endpoints through the liveness rule, so every root address becomes not-ready; endpoint mirrors are not-ready too (§7.4 [inferred]).")
            .link(headless)
            .remote(nginx(NGX)).remote(nginx_eps(NGX, &two))
            .step(Step::Liveness("east", false))
            .step(Step::Remote("east", o(nginx_eps(NGX, &[two[0], two[1], ("web-2", "10.2.0.12", true)])))),
    );
    v.push(
        case("headless_update_while_gateway_dead_fixed",
            "Fix headless-root-always-ready: the root Endpoints stay ready (per-pod DNS keeps working); readiness is carried by the endpoint mirrors.")
            .fix(Fix::HeadlessRootAlwaysReady)
            .link(headless)
            .remote(nginx(NGX)).remote(nginx_eps(NGX, &two))
            .step(Step::Liveness("east", false))
            .step(Step::Remote("east", o(nginx_eps(NGX, &[two[0], two[1], ("web-2", "10.2.0.12", true)])))),
    );
    v.push({
        let mut e = nginx_eps(NGX, &two);
        e.subsets[0].addresses[0].hostname = "db-0".into();
        e.subsets[0].addresses[0].target_ref = None;
        case("headless_create_without_target_ref",
            "Quirk headless-create-uses-hostname (default): creation reads targetRef.name; an address without targetRef is a nil dereference in Go, modelled as a controller crash (HandlerError::Crash; this harness does not restart the controller), leaving the root Service and one endpoint mirror without root Endpoints (§7.2 [inferred]).")
            .link(headless)
            .remote(nginx(NGX)).remote(e)
    });
    v.push({
        let mut e = nginx_eps(NGX, &two);
        e.subsets[0].addresses[0].hostname = "db-0".into();
        e.subsets[0].addresses[0].target_ref = None;
        case("headless_create_without_target_ref_fixed",
            "Fix headless-create-uses-hostname: creation uses the address hostname (db-0), as updates do.")
            .fix(Fix::HeadlessCreateUsesHostname)
            .link(headless)
            .remote(nginx(NGX)).remote(e)
    });
    v.push(
        case("headless_export_status_fixed",
            "Fix headless-export-status: the headless mirror is created as in headless_create but no misleading InvalidService status is written.")
            .fix(Fix::HeadlessExportStatus)
            .link(headless)
            .remote(nginx(NGX)).remote(nginx_eps(NGX, &two)),
    );
    v.push(
        case("headless_remote_discovery_never_mirrored",
            "Quirk headless-remote-discovery-mirrors (default): a headless Service exported for remote discovery is never mirrored while headless mirroring is on (§7.1 [inferred]).")
            .link(headless)
            .remote(nginx(&[REMOTE_DISCOVERY])).remote(nginx_eps(&[REMOTE_DISCOVERY], &two)),
    );
    v.push(
        case("headless_remote_discovery_never_mirrored_fixed",
            "Fix headless-remote-discovery-mirrors: the headless Service gets a remote-discovery mirror (no Endpoints).")
            .fix(Fix::HeadlessRemoteDiscoveryMirrors)
            .link(headless)
            .remote(nginx(&[REMOTE_DISCOVERY])).remote(nginx_eps(&[REMOTE_DISCOVERY], &two)),
    );

    // --- orphan GC, repair, liveness ------------------------------------------------------------
    v.push({
        let mirror = |name: &str, extra: &[(&str, &str)]| {
            let mut l = vec![("mirror.linkerd.io/mirrored-service", "true"), ("mirror.linkerd.io/cluster-name", "east")];
            l.extend_from_slice(extra);
            let mut s = Service::new("default", name);
            s.metadata.labels = labels(&l);
            s.spec.ports = vec![port("http", 80, 8080)];
            s
        };
        case("orphan_gc_at_start",
            "At start GC deletes local mirrors of this link whose remote Service is gone (gone-east, and endpoint mirror db-0-east of the gone root db-east via its headless-mirror-svc-name label), keeps web-east and ignores the west link's web-west; web-east (seeded without a remote-resource-version annotation) is then never updated, and the repair logs that it has no Endpoints (§9.5, §6.4, #12500).")
            .local(mirror("web-east", &[]))
            .local(mirror("gone-east", &[]))
            .local(mirror("db-0-east", &[("mirror.linkerd.io/headless-mirror-svc-name", "db-east")]))
            .local({ let mut s = mirror("web-west", &[]); s.metadata.labels.insert("mirror.linkerd.io/cluster-name".into(), "west".into()); s })
            .remote(web()).remote(web_eps())
            .step(Step::K8sEndpointsGc)
    });
    v.push({
        let mut c = case("repair_tracks_gateway_address_changes",
            "RepairEndpoints re-resolves the gateway name on every run: after the DNS answer changes, the repair rewrites the probe Endpoints and every gateway mirror's Endpoints (sorted new IPs), leaving empty services empty and skipping remote-discovery mirrors (§6.4, #4588).")
            .link(|l| l.gateway = "gw.east.example")
            .remote(web()).remote(web_eps())
            .remote(svc("default", "idle", &[EXPORTED]))
            .remote(svc("default", "flat", &[REMOTE_DISCOVERY]))
            .step(Step::Dns("east", "gw.east.example", vec![ip(172, 20, 9, 2), ip(172, 20, 9, 10)]))
            .step(Step::Event("east", MirrorEvent::RepairEndpoints));
        c.dns.push(("gw.east.example", vec![ip(172, 20, 0, 1)]));
        c
    });
    v.push(
        case("repair_writes_every_period",
            "Quirk repair-skips-unchanged (default): each RepairEndpoints issues an Endpoints UPDATE per mirror (and the probe Endpoints) even when nothing changed (the API server treats them as no-ops) (§6.4, #9359).")
            .remote(web()).remote(web_eps())
            .step(Step::Event("east", MirrorEvent::RepairEndpoints)),
    );
    v.push(
        case("repair_writes_every_period_fixed",
            "Fix repair-skips-unchanged: the periodic repair makes no mirror Endpoints write when nothing changed (the probe Endpoints are still written).")
            .fix(Fix::RepairSkipsUnchanged)
            .remote(web()).remote(web_eps())
            .step(Step::Event("east", MirrorEvent::RepairEndpoints)),
    );
    v.push(
        case("liveness_dead_gateway_and_back",
            "A liveness=false message makes the repair move every gateway mirror address to notReadyAddresses while the probe Endpoints stay ready; liveness=true moves them back (§6.5, #8022).")
            .remote(web()).remote(web_eps())
            .step(Step::Liveness("east", false))
            .step(Step::Liveness("east", true)),
    );
    v.push(
        case("export_while_gateway_dead",
            "A service exported while the gateway is considered down gets not-ready mirror Endpoints (the liveness rule applies on create) (§6.5, §9.6).")
            .step(Step::Liveness("east", false))
            .step(Step::Batch(vec![Step::Remote("east", o(web_eps())), Step::Remote("east", o(web()))])),
    );

    // --- namespaces -----------------------------------------------------------------------------
    v.push(
        case("missing_namespace_skips_then_replays",
            "A service in namespace shop that does not exist locally is skipped without retry: Event ServiceMirroringSkipped on the remote Service and status MissingNamespace; when shop is created locally the namespace handler replays shop's remote services and the mirror appears (§5.5, TestLocalNamespaceCreatedAfterServiceExport).")
            .remote(svc("shop", "cart", &[EXPORTED]))
            .remote(eps("shop", "cart", &[EXPORTED], &["10.1.3.3"], &[]))
            .step(Step::Local(o(ns("shop")))),
    );
    v.push(
        case("namespace_creation_option",
            "With -enable-namespace-creation the missing namespace is created with labels mirrored-service=true and cluster-name=<link>, then the mirror (§5.5, #13137).")
            .link(|l| l.namespace_creation = true)
            .remote(svc("shop", "cart", &[EXPORTED]))
            .remote(eps("shop", "cart", &[EXPORTED], &["10.1.3.3"], &[])),
    );

    // --- two links ------------------------------------------------------------------------------
    v.push(
        case("two_links",
            "Two Links mirror the same remote name independently (web-east, web-west with their own gateways and cluster-name labels); unexporting in east deletes only web-east (§1, §5.1).")
            .add_link(LinkSetup { gateway: "172.30.0.1", ..LinkSetup::new("west") })
            .remote(web()).remote(web_eps())
            .remote_in("west", web()).remote_in("west", web_eps())
            .step(Step::Remote("east", o(unexported_web())))
            .step(Step::K8sEndpointsGc),
    );

    // --- remote discovery -----------------------------------------------------------------------
    v.push(
        case("remote_discovery_mirror",
            "A remote-discovery export creates a mirror with the remote-discovery and remote-service labels and no Endpoints; repair skips it (§11.2).")
            .remote(svc("default", "flat", &[REMOTE_DISCOVERY]))
            .remote(eps("default", "flat", &[REMOTE_DISCOVERY], &["10.1.0.9"], &[]))
            .step(Step::Event("east", MirrorEvent::RepairEndpoints)),
    );
    v.push(
        case("switch_gateway_to_remote_discovery",
            "Relabelling an exported service from exported=true to exported=remote-discovery updates the mirror labels and deletes its Endpoints (§6.3 step 2).")
            .remote(web()).remote(web_eps())
            .step(Step::Remote("east", o(svc("default", "web", &[REMOTE_DISCOVERY, ("app", "web")])))),
    );
    v.push(
        case("switch_remote_discovery_to_gateway",
            "Relabelling from remote-discovery to exported=true creates gateway Endpoints for the existing mirror and drops the remote-discovery labels (§6.3 step 3).")
            .remote(svc("default", "web", &[REMOTE_DISCOVERY, ("app", "web")]))
            .remote(eps("default", "web", &[REMOTE_DISCOVERY, ("app", "web")], &["10.1.0.5"], &[]))
            .step(Step::Remote("east", o(web()))),
    );

    // --- federated -------------------------------------------------------------------------------
    let fed = |extra: &[(&str, &str)]| {
        let mut l = vec![FEDERATED, ("app", "api")];
        l.extend_from_slice(extra);
        svc("default", "api", &l)
    };
    v.push(
        case("federated_create",
            "A federated member creates api-federated (common labels, no cluster-name, annotation remote-discovery: api@east, no Endpoints) and a federatedServices status entry (§11.3).")
            .remote(fed(&[])),
    );
    v.push(
        case("federated_two_links_join_oldest_wins",
            "East (older Link) creates api-federated; west's CreateFederatedService hits AlreadyExists and adds nothing, and west joins as api@west on the startup replay; west's different labels and ports are not applied because east's Link is older (§11.3, #13783).")
            .add_link(LinkSetup { created_at_secs: 30, gateway: "172.30.0.1", ..LinkSetup::new("west") })
            .remote(fed(&[("tier", "east-tier")]))
            .remote_in("west", { let mut s = fed(&[("tier", "west-tier")]); s.spec.ports.push(port("admin", 9000, 9000)); s })
            .step(Step::Resync("east"))
            .step(Step::Resync("west")),
    );
    v.push(
        case("federated_oldest_link_rewrites_metadata",
            "West's Link is older than east's: after west joins, its labels and ports overwrite the metadata east created, preserving the member list (§11.3, #13783).")
            .link(|l| l.created_at_secs = 30)
            .add_link(LinkSetup { created_at_secs: 10, gateway: "172.30.0.1", ..LinkSetup::new("west") })
            .remote(fed(&[("tier", "east-tier")]))
            .remote_in("west", { let mut s = fed(&[("tier", "west-tier")]); s.spec.ports.push(port("admin", 9000, 9000)); s })
            .step(Step::Resync("east"))
            .step(Step::Resync("west")),
    );
    v.push(
        case("federated_leave_and_delete",
            "A member that loses the federated label leaves (api@east removed, status entry removed); when the last member leaves, api-federated is deleted (§11.3).")
            .add_link(LinkSetup { created_at_secs: 30, gateway: "172.30.0.1", ..LinkSetup::new("west") })
            .remote(fed(&[]))
            .remote_in("west", fed(&[]))
            .step(Step::Resync("east"))
            .step(Step::Resync("west"))
            .step(Step::Remote("east", o(svc("default", "api", &[("app", "api")]))))
            .step(Step::RemoteDelete("west", Kind::Service, "default", "api")),
    );
    v.push(
        case("federated_local_member",
            "The local service mirror (synthetic link with empty cluster name) adds local-discovery: api for the local member; the local cluster counts as oldest, so the remote member joins without overwriting metadata; no Link status is written for the local member (§1, §11.3).")
            .local_mirror_on()
            .local(fed(&[("tier", "local-tier")]))
            .remote({ let mut s = fed(&[("tier", "east-tier")]); s.spec.ports.push(port("admin", 9000, 9000)); s })
            .step(Step::Resync("east")),
    );
    v.push(
        case("federated_headless_member_rejected",
            "A headless federated member is rejected with status InvalidService \"Headless service cannot join federated service\" and a non-retryable error (§11.3).")
            .remote(headless_svc("default", "api", &[FEDERATED])),
    );
    v.push(
        case("exported_and_federated",
            "Quirk export-also-joins-federated (default): a new service that is both exported and a federated member gets its mirror but no federated service: that is created only by a later event for it (resync ≤ 10 min, not part of this case) (CW createOrUpdateService).")
            .step(Step::Remote("east", o(svc("default", "api", &[EXPORTED, FEDERATED])))),
    );
    v.push(
        case("exported_and_federated_fixed",
            "Fix export-also-joins-federated: mirror and federated service are both created from the first event.")
            .fix(Fix::ExportAlsoJoinsFederated)
            .step(Step::Remote("east", o(svc("default", "api", &[EXPORTED, FEDERATED])))),
    );

    // --- unregister -----------------------------------------------------------------------------
    v.push(
        case("cluster_unregistered",
            "ClusterUnregistered (Stop(true), unit tests only) deletes every local Service and Endpoints labelled mirrored-service=true,cluster-name=east, leaving federated services and the probe Endpoints (§3.3, §4.3).")
            .remote(web()).remote(web_eps()).remote(fed(&[]))
            .step(Step::Event("east", MirrorEvent::ClusterUnregistered)),
    );
    v
}

impl Case {
    fn local_mirror_on(mut self) -> Case {
        self.local_mirror = true;
        self
    }
}

#[test]
fn reconcile_snapshots() {
    let all = cases();
    assert!(all.len() >= 40, "{} cases", all.len());
    let mut names = std::collections::BTreeSet::new();
    for c in &all {
        assert!(names.insert(c.name), "duplicate case {}", c.name);
        let text = run(c);
        let mut settings = insta::Settings::clone_current();
        settings.set_snapshot_path("../snapshots");
        settings.set_prepend_module_to_snapshot(false);
        settings.bind(|| insta::assert_snapshot!(format!("mirror_reconcile__{}", c.name), text));
    }
}

#[test]
fn reconcile_output_is_deterministic() {
    for c in cases() {
        assert_eq!(run(&c), run(&c), "case {} differs between runs", c.name);
    }
}
