//! kube-controller-manager of one cluster, as one component: informers on the kinds the modelled
//! controllers read (over a connection to the cluster's API server, so its view can lag), dirty
//! keys per controller, and a worker tick that runs each controller's `sync` for its dirty keys
//! and writes the result to the API server.
//!
//! Controllers: endpoints, EndpointSlice, EndpointSlice mirroring, StatefulSet, Deployment-lite,
//! garbage collector and namespace (rules in `crate::k8s::controllers`). A write that fails
//! (a conflict against a stale cache, a refused connection) leaves the key dirty and retries it
//! after a back-off, as a rate-limited workqueue would.

use super::apiclient::{ApiClient, ClientOutput};
use super::env::Env;
use super::msg::{Msg, Timer};
use super::overlay::OwnWrites;
use super::transport::ConnEvent;
use crate::k8s::controllers::{
    deployment, endpoints, endpointslice, gc, mirroring, namespace, statefulset,
};
use crate::k8s::informer::{Delta, Informer, InformerConfig};
use crate::k8s::store::{MultiView, ObjectView};
use crate::k8s::{Kind, Object, OpaqueKind, Request};
use crate::sim::{ComponentId, SimDuration, SimTime};
use std::collections::BTreeSet;
use std::sync::Arc;

/// Informer order (indices into the client's informers). The last informer watches every
/// opaque kind at once (the garbage collector's and namespace controller's view of the objects
/// mcsim does not model; the real collector watches every resource discovery lists). Opaque
/// objects come only from manifests, so a cluster whose manifests hold none runs without that
/// informer: it would see nothing, and its list and watch would shift every other request of
/// the run (the request pattern, and so the trace, of such clusters stays as before opaque
/// kinds existed).
const KINDS: [Kind; 8] = [
    Kind::Namespace,
    Kind::Pod,
    Kind::Service,
    Kind::Endpoints,
    Kind::EndpointSlice,
    Kind::StatefulSet,
    Kind::Deployment,
    Kind::Opaque(OpaqueKind::ANY),
];

/// How long after a change the workers run (batching, like workqueue latency).
const TICK_DELAY: SimDuration = SimDuration::from_millis(5);
/// Retry delay after a failed write.
const RETRY_DELAY: SimDuration = SimDuration::from_millis(200);

type Key = (String, String);

#[derive(Default)]
struct Dirty {
    endpoints: BTreeSet<Key>,
    slices: BTreeSet<Key>,
    mirroring: BTreeSet<Key>,
    statefulsets: BTreeSet<Key>,
    deployments: BTreeSet<Key>,
    namespaces: BTreeSet<String>,
    gc: bool,
}

impl Dirty {
    fn is_empty(&self) -> bool {
        self.endpoints.is_empty()
            && self.slices.is_empty()
            && self.mirroring.is_empty()
            && self.statefulsets.is_empty()
            && self.deployments.is_empty()
            && self.namespaces.is_empty()
            && !self.gc
    }
}

pub struct ControllerManager {
    client: ApiClient,
    watch_opaque: bool,
    dirty: Dirty,
    tick_armed: Option<SimTime>,
    synced: bool,
    own: OwnWrites,
    /// The garbage collector's indexes and the objects its next pass looks at.
    gc: gc::Gc,
    endpoints_config: endpoints::EndpointsConfig,
    slice_config: endpointslice::EndpointSliceConfig,
    mirroring_config: mirroring::MirroringConfig,
    pub writes: u64,
    pub failed_writes: u64,
    /// Tests: compare every incremental GC pass with the full reference pass over the same view
    /// (`None`: off); mismatches are listed here.
    pub cross_check: Option<Vec<String>>,
}

impl ControllerManager {
    /// `watch_opaque`: whether the opaque-kinds informer runs (see [`KINDS`]).
    pub fn new(api_server: ComponentId, watch_opaque: bool) -> ControllerManager {
        let count = if watch_opaque {
            KINDS.len()
        } else {
            KINDS.len() - 1
        };
        let informers = KINDS[..count]
            .iter()
            .map(|k| Informer::new(InformerConfig::new(*k)))
            .collect();
        ControllerManager {
            watch_opaque,
            // kube-controller-manager's client: --kube-api-qps 20, --kube-api-burst 30.
            client: ApiClient::new(0, api_server, 20, 30, informers),
            dirty: Dirty::default(),
            tick_armed: None,
            synced: false,
            own: OwnWrites::default(),
            gc: gc::Gc::new(),
            endpoints_config: endpoints::EndpointsConfig::default(),
            slice_config: endpointslice::EndpointSliceConfig::default(),
            mirroring_config: mirroring::MirroringConfig::default(),
            writes: 0,
            failed_writes: 0,
            cross_check: None,
        }
    }

    pub fn start(&mut self, env: &mut Env<'_, '_>) {
        let mut out = Vec::new();
        self.client.start(env, &mut out);
        self.absorb(env, out);
    }

    pub fn on_conn(&mut self, env: &mut Env<'_, '_>, event: ConnEvent) {
        let mut out = Vec::new();
        self.client.on_conn(env, event, &mut out);
        self.absorb(env, out);
    }

    pub fn on_timer(&mut self, env: &mut Env<'_, '_>, timer: Timer) {
        match timer {
            Timer::Client { timer, .. } => {
                let mut out = Vec::new();
                self.client.on_timer(env, timer, &mut out);
                self.absorb(env, out);
            }
            Timer::ControllerTick if self.tick_armed.is_some_and(|t| t <= env.now()) => {
                self.tick_armed = None;
                self.run(env);
            }
            _ => {}
        }
    }

    fn view(&self) -> MultiView<'_> {
        informer_view(&self.client)
    }

    fn absorb(&mut self, env: &mut Env<'_, '_>, out: Vec<ClientOutput>) {
        for o in out {
            // A change in a cache whose delta is held: the incremental GC looks at it as the
            // full pass reading the caches would.
            if let ClientOutput::Cached { key, .. } = &o {
                let informers = informer_view(&self.client);
                self.gc.touch(&self.own.over(&informers), key);
            }
            if let ClientOutput::Delta { delta, .. } = o {
                self.own.observe(&delta);
                if let Some(key) = delta.key() {
                    let informers = informer_view(&self.client);
                    self.gc.touch(&self.own.over(&informers), &key);
                }
                self.on_delta(&delta);
            }
        }
        if !self.synced && self.client.all_synced() {
            self.synced = true;
            self.mark_everything();
        }
        if self.synced && !self.dirty.is_empty() {
            self.arm(env, TICK_DELAY);
        }
    }

    fn mark_everything(&mut self) {
        let view = self.view();
        let keys = |kind: Kind| -> BTreeSet<Key> {
            view.list(kind, None)
                .iter()
                .map(|o| (o.namespace().to_string(), o.name().to_string()))
                .collect()
        };
        let services = keys(Kind::Service);
        let endpoints = keys(Kind::Endpoints);
        let statefulsets = keys(Kind::StatefulSet);
        let deployments = keys(Kind::Deployment);
        let namespaces = view
            .list(Kind::Namespace, None)
            .iter()
            .map(|o| o.name().to_string())
            .collect();
        drop(view);
        self.dirty.endpoints.extend(services.iter().cloned());
        // The endpoints controller's start-up leftover check (`checkLeftoverEndpoints`): every
        // Endpoints is queued too, so one whose Service went away before the caches synced
        // (its delete was not seen as an event) is deleted.
        self.dirty.endpoints.extend(endpoints.iter().cloned());
        self.dirty.slices.extend(services);
        self.dirty.mirroring.extend(endpoints);
        self.dirty.statefulsets.extend(statefulsets);
        self.dirty.deployments.extend(deployments);
        self.dirty.namespaces = namespaces;
        self.dirty.gc = true;
    }

    fn on_delta(&mut self, delta: &Delta) {
        let (obj, deleted): (&Arc<Object>, bool) = match delta {
            Delta::Added(o) => (o, false),
            Delta::Updated { new, .. } => (new, false),
            Delta::Deleted(d) => (d.object(), true),
            Delta::Synced => return,
        };
        if !self.synced {
            return; // everything is marked at sync
        }
        let view = self.view();
        // The endpoints controller registers only a *delete* handler for Endpoints
        // (`onEndpointsDelete`): a hand-written Endpoints object (a Linkerd mirror) seen before
        // its Service must not make it sync a Service its cache does not have yet.
        let ep_keys = if obj.kind() == Kind::Endpoints && !deleted {
            Vec::new()
        } else {
            endpoints::keys_for(&view, obj)
        };
        let slice_keys = endpointslice::keys_for(&view, obj);
        drop(view);
        self.dirty.endpoints.extend(ep_keys);
        self.dirty.slices.extend(slice_keys);
        self.dirty.mirroring.extend(mirroring::keys_for(obj));
        self.dirty.statefulsets.extend(statefulset::keys_for(obj));
        match obj.kind() {
            Kind::Deployment => {
                self.dirty
                    .deployments
                    .insert((obj.namespace().to_string(), obj.name().to_string()));
            }
            Kind::Pod => {
                for r in &obj.meta().owner_references {
                    if r.kind == "Deployment" {
                        self.dirty
                            .deployments
                            .insert((obj.namespace().to_string(), r.name.clone()));
                    }
                }
            }
            Kind::Namespace => {
                self.dirty.namespaces.insert(obj.name().to_string());
            }
            _ => {}
        }
        // Content removed from a terminating namespace may let it finish.
        if deleted && obj.kind().namespaced() {
            self.dirty.namespaces.insert(obj.namespace().to_string());
        }
        if deleted
            || !obj.meta().owner_references.is_empty()
            || obj.meta().deletion_timestamp.is_some()
        {
            self.dirty.gc = true;
        }
    }

    fn arm(&mut self, env: &mut Env<'_, '_>, delay: SimDuration) {
        let at = env.now() + delay;
        if self.tick_armed.is_none_or(|t| at < t) {
            self.tick_armed = Some(at);
            env.ctx.timer(delay, Msg::Timer(Timer::ControllerTick));
        }
    }

    /// One worker pass: every dirty key of every controller, then the writes.
    fn run(&mut self, env: &mut Env<'_, '_>) {
        let dirty = std::mem::take(&mut self.dirty);
        let mut work: Vec<(Request, Retry)> = Vec::new();
        {
            let informers = informer_view(&self.client);
            let view = self.own.over(&informers);
            for (ns, name) in &dirty.endpoints {
                let reqs = endpoints::sync_service(&view, ns, name, &self.endpoints_config);
                work.extend(
                    reqs.into_iter()
                        .map(|r| (r, Retry::Endpoints(ns.clone(), name.clone()))),
                );
            }
            for (ns, name) in &dirty.slices {
                let reqs = endpointslice::sync_service(&view, ns, name, &self.slice_config);
                work.extend(
                    reqs.into_iter()
                        .map(|r| (r, Retry::Slices(ns.clone(), name.clone()))),
                );
            }
            for (ns, name) in &dirty.mirroring {
                let reqs = mirroring::sync_endpoints(&view, ns, name, &self.mirroring_config);
                work.extend(
                    reqs.into_iter()
                        .map(|r| (r, Retry::Mirroring(ns.clone(), name.clone()))),
                );
            }
            for (ns, name) in &dirty.statefulsets {
                let reqs = statefulset::sync_statefulset(&view, ns, name);
                work.extend(
                    reqs.into_iter()
                        .map(|r| (r, Retry::StatefulSet(ns.clone(), name.clone()))),
                );
            }
            for (ns, name) in &dirty.deployments {
                let reqs = deployment::sync_deployment(&view, ns, name);
                work.extend(
                    reqs.into_iter()
                        .map(|r| (r, Retry::Deployment(ns.clone(), name.clone()))),
                );
            }
            for ns in &dirty.namespaces {
                let reqs = namespace::sync_namespace(&view, ns);
                work.extend(reqs.into_iter().map(|r| (r, Retry::Namespace(ns.clone()))));
            }
            if dirty.gc {
                let reference = self.cross_check.is_some().then(|| gc::sync(&view));
                let requests = self.gc.sync(&view);
                if let (Some(reference), Some(mismatches)) = (reference, &mut self.cross_check)
                    && reference != requests
                {
                    mismatches.push(format!(
                        "garbage collector at {}: incremental pass sent {} request(s), the full pass {}",
                        env.now(),
                        requests.len(),
                        reference.len()
                    ));
                }
                work.extend(requests.into_iter().map(|r| (r, Retry::Gc)));
            }
        }
        let mut retry = false;
        for (req, key) in work {
            self.writes += 1;
            match env.api_call(req) {
                Ok(response) => {
                    self.own.record(&response);
                    if let Some(o) = response.object() {
                        let informers = informer_view(&self.client);
                        self.gc.touch(&self.own.over(&informers), &o.key());
                    }
                }
                // Already done by someone else (or gone): the next event recomputes.
                Err(s) if s.is_not_found() => {}
                Err(_) => {
                    self.failed_writes += 1;
                    retry = true;
                    key.mark(&mut self.dirty);
                }
            }
        }
        if retry {
            self.arm(env, RETRY_DELAY);
        }
    }

    /// The process restarts with empty caches.
    pub fn restart(&mut self, env: &mut Env<'_, '_>, api_server: ComponentId) {
        self.client.stop(env);
        *self = ControllerManager::new(api_server, self.watch_opaque);
        self.start(env);
    }
}

/// Every informer cache read as one view.
fn informer_view(client: &ApiClient) -> MultiView<'_> {
    MultiView::new(
        client
            .informers()
            .iter()
            .map(|i| i.store() as &dyn ObjectView)
            .collect(),
    )
}

enum Retry {
    Endpoints(String, String),
    Slices(String, String),
    Mirroring(String, String),
    StatefulSet(String, String),
    Deployment(String, String),
    Namespace(String),
    Gc,
}

impl Retry {
    fn mark(self, d: &mut Dirty) {
        match self {
            Retry::Endpoints(a, b) => {
                d.endpoints.insert((a, b));
            }
            Retry::Slices(a, b) => {
                d.slices.insert((a, b));
            }
            Retry::Mirroring(a, b) => {
                d.mirroring.insert((a, b));
            }
            Retry::StatefulSet(a, b) => {
                d.statefulsets.insert((a, b));
            }
            Retry::Deployment(a, b) => {
                d.deployments.insert((a, b));
            }
            Retry::Namespace(a) => {
                d.namespaces.insert(a);
            }
            Retry::Gc => d.gc = true,
        }
    }
}
