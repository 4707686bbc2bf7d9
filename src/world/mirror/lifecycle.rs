//! The controller's lifecycle (spec §3.2, §4.1, §9.2–§9.4): from a Link in the local cache to
//! a running cluster watcher, and back on Link changes, failed starts and process crashes.
//!
//! ```text
//! Idle --Link applied, local caches synced--> Connecting --Version ok--> Syncing
//!   ^                                           |  ^                        | all remote
//!   | Link deleted                no credentials|  | retry after 10 s       | informers synced
//!   |                             or Version err|--'                        v
//!   '--------------------------------------------------------------------- Running
//! any phase --fatal error (sync deadline, handler crash)--> Crashed --back-off--> restart
//! ```

use super::probe_link::ProbeState;
use super::{
    LocalInformer, MirrorKind, MirrorNode, REMOTE_CLIENT, RESTART_AFTER, RemoteInformer,
    SYNC_TIMEOUT,
};
use crate::k8s::api::{Request, Response};
use crate::k8s::informer::Delta;
use crate::k8s::objects::Link;
use crate::k8s::{Kind, Object};
use crate::multicluster::{
    ClusterWatcher, GatewayLiveness, LinkConfig, LinkUpdate, MirrorQueue, ProbeWorker,
};
use crate::sim::{ComponentId, SimDuration, SimTime};
use crate::world::apiclient::{ApiClient, ClientOutput};
use crate::world::env::Env;
use crate::world::msg::{Msg, Timer};
use crate::world::observe::Observation;
use crate::world::seed::MC_NAMESPACE;

pub(super) enum Phase {
    /// No Link yet (or the local caches are not synced).
    Idle,
    /// Waiting for the answer to the `Version` call (or for the retry after a failed start).
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

pub(super) struct Running {
    pub link: Link,
    pub watcher: ClusterWatcher,
    pub queue: MirrorQueue,
    pub liveness: GatewayLiveness,
    /// The worker is busy with its last event's API calls until then.
    pub busy_until: SimTime,
    /// The instant of the armed work timer, if any.
    pub work_armed: Option<SimTime>,
}

/// The local service mirror's synthetic Link and watcher configuration.
fn local_mirror_config() -> LinkConfig {
    let mut selector = crate::k8s::LabelSelector::default();
    let (k, v) = crate::defaults::FEDERATED_MEMBER;
    selector.match_labels.insert(k.to_string(), v.to_string());
    LinkConfig::local_mirror(selector)
}

impl MirrorNode {
    /// The Link this controller runs: the cached one, or the local mirror's synthetic Link.
    fn link_from_cache(&self) -> Option<Link> {
        match self.settings.kind {
            MirrorKind::Local => Some(local_mirror_config().link),
            MirrorKind::Link { .. } => self
                .local
                .informer(LocalInformer::Link.index())
                .get(MC_NAMESPACE, &self.settings.link_name)
                .and_then(|o| o.as_link())
                .cloned(),
        }
    }

    /// What the local informers delivered: Link changes (re)start or stop the watcher, new
    /// namespaces go to the running watcher's handler.
    pub(super) fn absorb_local(&mut self, env: &mut Env<'_, '_>, out: Vec<ClientOutput>) {
        let mut link_changed = false;
        let mut namespaces = Vec::new();
        for o in out {
            let ClientOutput::Delta { informer, delta } = o else {
                continue;
            };
            match (LocalInformer::of(informer), &self.settings.kind) {
                // The local mirror watches no Link of its own.
                (LocalInformer::Link, MirrorKind::Local) => {}
                (LocalInformer::Link, MirrorKind::Link { .. }) => match self.links.on_delta(&delta)
                {
                    Some(LinkUpdate::Applied | LinkUpdate::Deleted) => link_changed = true,
                    None => {}
                },
                (LocalInformer::Namespaces, _) => namespaces.push(delta),
                // Services and Endpoints are read from the caches by the handlers.
                (LocalInformer::Services | LocalInformer::Endpoints, _) => {}
            }
        }
        // Local namespace handler (only once the watcher runs; its start replays them).
        if let Phase::Running(r) = &mut self.phase {
            for d in &namespaces {
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

    /// `cleanupWorkers`: the remote client and the probe stop; the mirrors stay.
    pub(super) fn stop_watcher(&mut self, env: &mut Env<'_, '_>) {
        if let Some(mut r) = self.remote.take() {
            r.stop(env);
        }
        if let Some(p) = self.probe.take() {
            p.close(env);
        }
        self.phase = Phase::Idle;
    }

    /// `restartClusterWatcher`: stop everything, start a probe worker, connect to the target.
    pub(super) fn restart_watcher(&mut self, env: &mut Env<'_, '_>) {
        self.stop_watcher(env);
        self.generation += 1;
        if !self.local.all_synced() {
            return;
        }
        let Some(link) = self.link_from_cache() else {
            let line = format!(
                "Link {} deleted: watcher stopped, mirrors left in place",
                self.settings.link_name
            );
            self.say(env, line);
            env.observe(Observation::WatcherStopped {
                cluster: env.cluster,
                link: self.settings.link_name.clone(),
            });
            return;
        };
        // Load the credentials Secret (spec §2.5, §9.3): missing, or without `kubeconfig`, the
        // kubeconfig does not parse and the Link is retried after the back-off. The local mirror
        // uses its in-cluster service account instead.
        let credentials = match self.settings.kind {
            MirrorKind::Local => Ok(()),
            MirrorKind::Link { .. } => load_credentials(env, &link),
        };
        if let Err(why) = credentials {
            let line = format!(
                "cannot load credentials for cluster {}: {why}; retrying in 10s",
                link.spec.target_cluster_name
            );
            self.say(env, line);
            self.retry_later(env, link);
            return;
        }
        let probe_service = format!("probe-{}", link.spec.target_cluster_name);
        if let Some(worker) = ProbeWorker::for_link(&link, &probe_service, &self.settings.fixes) {
            self.probe = Some(ProbeState::start(env, worker, self.generation));
        }
        let mut remote = self.remote_client(Vec::new());
        remote.request(env, self.generation, Request::Version);
        self.remote = Some(remote);
        self.phase = Phase::Connecting {
            link: Box::new(link),
        };
    }

    /// A failed start: the same Link again after the back-off (forever, linkerd2#4996).
    fn retry_later(&mut self, env: &mut Env<'_, '_>, link: Link) {
        env.ctx.timer(
            RESTART_AFTER,
            Msg::Timer(Timer::MirrorRestartLink {
                generation: self.generation,
            }),
        );
        self.phase = Phase::Connecting {
            link: Box::new(link),
        };
    }

    fn remote_client(&self, informers: Vec<crate::k8s::informer::Informer>) -> ApiClient {
        ApiClient::new(
            REMOTE_CLIENT,
            self.settings.remote_api,
            self.settings.remote_qps,
            self.settings.remote_burst,
            informers,
        )
    }

    /// What the remote client delivered: the answer to the `Version` call, or informer deltas.
    pub(super) fn absorb_remote(&mut self, env: &mut Env<'_, '_>, out: Vec<ClientOutput>) {
        for o in out {
            match o {
                ClientOutput::Response { tag, result } => {
                    // Other responses answer the Events sent to the remote cluster: best effort.
                    if tag != self.generation {
                        continue;
                    }
                    let link = match std::mem::replace(&mut self.phase, Phase::Idle) {
                        Phase::Connecting { link } => link,
                        other => {
                            self.phase = other;
                            continue;
                        }
                    };
                    match result {
                        Ok(_) => self.sync_remote(env, link),
                        Err(e) => {
                            let line = format!(
                                "cannot connect to api for target cluster: {}; retrying in 10s",
                                e.message
                            );
                            self.say(env, line);
                            self.retry_later(env, *link);
                        }
                    }
                }
                // Handlers only learn of changes through deltas, as client-go's do.
                ClientOutput::Cached { .. } => {}
                ClientOutput::Delta { informer, delta } => {
                    // Before the watcher runs, deltas only fill the caches (replayed at start).
                    let Phase::Running(r) = &mut self.phase else {
                        continue;
                    };
                    let events = match RemoteInformer::of(informer) {
                        RemoteInformer::Services => {
                            if let MirrorKind::Link { .. } = self.settings.kind {
                                report_export_change(
                                    env,
                                    &self.settings.link_name,
                                    &r.link,
                                    &delta,
                                );
                            }
                            r.watcher.on_remote_service(&delta)
                        }
                        RemoteInformer::Endpoints => r.watcher.on_remote_endpoints(&delta),
                    };
                    for ev in events {
                        r.queue.add(ev);
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

    /// `remoteAPI.Sync`: the remote informers start; they must sync before the deadline.
    fn sync_remote(&mut self, env: &mut Env<'_, '_>, link: Box<Link>) {
        let informers: Vec<_> = RemoteInformer::ALL.map(RemoteInformer::informer).into();
        let mut remote = self.remote_client(informers);
        if let Some(mut old) = self.remote.take() {
            old.stop(env);
        }
        let mut out = Vec::new();
        remote.start(env, &mut out);
        self.remote = Some(remote);
        env.ctx.timer(
            SYNC_TIMEOUT,
            Msg::Timer(Timer::MirrorSyncDeadline {
                generation: self.generation,
            }),
        );
        self.phase = Phase::Syncing {
            link,
            deadline: env.now() + SYNC_TIMEOUT,
        };
        self.absorb_remote(env, out);
    }

    /// `Start()` (spec §4.1): GC first, replay handlers, start the worker and the repair loop.
    fn start_watcher(&mut self, env: &mut Env<'_, '_>) {
        let link = match std::mem::replace(&mut self.phase, Phase::Idle) {
            Phase::Syncing { link, .. } => link,
            other => {
                self.phase = other;
                return;
            }
        };
        let mut config = match self.settings.kind {
            MirrorKind::Local => local_mirror_config(),
            MirrorKind::Link { .. } => LinkConfig::new((*link).clone()),
        };
        config.enable_headless = self.settings.enable_headless;
        config.enable_namespace_creation = self.settings.enable_namespace_creation;
        config.requeue_limit = self.settings.requeue_limit;
        config.fixes = self.settings.fixes.clone();
        config.breakages = self.settings.breakages.clone();
        let liveness = GatewayLiveness::new(&config);
        let watcher = ClusterWatcher::new(config);
        let queue = self.replay(env, &watcher, &link);
        let started = match self.settings.kind {
            MirrorKind::Local => "local cluster watcher started".to_string(),
            MirrorKind::Link { .. } => format!(
                "cluster watcher for {} started",
                link.spec.target_cluster_name
            ),
        };
        self.say(env, started);
        env.observe(Observation::WatcherStarted {
            cluster: env.cluster,
            link: self.settings.link_name.clone(),
            incarnation: self.restarts,
            object: std::sync::Arc::new(crate::k8s::Object::Link((*link).clone())),
        });
        if let Some(period) = liveness.first_repair_after() {
            env.ctx.timer(
                period,
                Msg::Timer(Timer::MirrorRepair {
                    generation: self.generation,
                }),
            );
        }
        self.phase = Phase::Running(Box::new(Running {
            link: *link,
            watcher,
            queue,
            liveness,
            busy_until: env.now(),
            work_armed: None,
        }));
        self.read_unread_liveness();
        self.arm_work(env);
    }

    /// The queue of a starting watcher: GC first, then the handlers' replay of every cached
    /// remote Service and Endpoints and every local Namespace, then the start-up repair.
    fn replay(&self, env: &mut Env<'_, '_>, watcher: &ClusterWatcher, link: &Link) -> MirrorQueue {
        let mut queue = MirrorQueue::new(self.settings.requeue_limit);
        let mut startup = watcher.startup_events().into_iter();
        if let Some(gc) = startup.next() {
            queue.add(gc);
        }
        if let Some(remote) = &self.remote {
            for o in remote.informer(RemoteInformer::Services.index()).list(None) {
                let added = Delta::Added(o.clone());
                if let MirrorKind::Link { .. } = self.settings.kind {
                    report_export_change(env, &self.settings.link_name, link, &added);
                }
                for ev in watcher.on_remote_service(&added) {
                    queue.add(ev);
                }
            }
            for o in remote
                .informer(RemoteInformer::Endpoints.index())
                .list(None)
            {
                for ev in watcher.on_remote_endpoints(&Delta::Added(o.clone())) {
                    queue.add(ev);
                }
            }
        }
        let namespaces = self.local.informer(LocalInformer::Namespaces.index());
        for o in namespaces.list(None) {
            for ev in watcher.on_local_namespace(&Delta::Added(o.clone())) {
                queue.add(ev);
            }
        }
        for ev in startup {
            queue.add(ev);
        }
        queue
    }

    /// The remote caches had to be synced by now: the process exits (`log.Fatal`).
    pub(super) fn sync_deadline(&mut self, env: &mut Env<'_, '_>) {
        if let Phase::Syncing { deadline, .. } = self.phase
            && env.now() >= deadline
        {
            self.crash(
                env,
                "failed to sync caches: timed out waiting for the condition".into(),
            );
        }
    }

    /// The controller process exits (fatal error or panic) and restarts after a back-off.
    pub(super) fn crash(&mut self, env: &mut Env<'_, '_>, reason: String) {
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

    /// The CrashLoopBackOff delay is over: the container starts again.
    pub(super) fn process_restart(&mut self, env: &mut Env<'_, '_>, local_api: ComponentId) {
        if let Phase::Crashed { restart_at } = self.phase
            && env.now() >= restart_at
        {
            self.restart(env, local_api);
        }
    }

    /// The Link being started or run, if any.
    pub(super) fn current_link(&self) -> Option<&Link> {
        match &self.phase {
            Phase::Running(r) => Some(&r.link),
            Phase::Connecting { link } | Phase::Syncing { link, .. } => Some(link),
            Phase::Idle | Phase::Crashed { .. } => None,
        }
    }
}

/// Reads the Link's credentials Secret from the local API; `Ok` if it holds a kubeconfig.
fn load_credentials(env: &mut Env<'_, '_>, link: &Link) -> Result<(), String> {
    let name = &link.spec.cluster_credentials_secret;
    let request = Request::get(Kind::Secret, MC_NAMESPACE, name);
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
