//! The service-mirror controller of one Link (or the local service mirror of a cluster), as a
//! component in the source cluster (spec §3–§8).
//!
//! Wraps the sans-IO core (`crate::multicluster`): local informers (Namespaces, Services,
//! Endpoints, and the Link) over an in-cluster connection; remote informers (Services and
//! Endpoints of the target) over the simulated network, through a client with the cluster's QPS
//! limit; the single-worker queue ([`worker`]); the probe worker, whose probes are real mTLS
//! connections to the target gateway's port 4191 ([`probe_link`]); repairs every period.
//! The watcher's local writes go straight to the source API server (a sub-millisecond hop),
//! each one observed with the object before and after so checks can judge it.
//!
//! Lifecycle ([`lifecycle`], spec §3.2, §4.1, §9.2): Link seen → `Version` call to the target API
//! (retry every 10 s on failure) → remote informers started → all synced within 60 s (else the
//! process exits and restarts after a CrashLoopBackOff delay) → GC, handler replay, repair →
//! running. Which Link deltas restart the watcher is `multicluster::LinkHandler`'s decision.
//!
//! Must not touch: the target cluster's store (only its remote informers, across the network).

mod lifecycle;
mod probe_link;
mod worker;

use super::apiclient::ApiClient;
use super::env::Env;
use super::kubelet_node::conn_of;
use super::msg::Timer;
use super::transport::ConnEvent;
use crate::k8s::Kind;
use crate::k8s::informer::{Informer, InformerConfig};
use crate::multicluster::{LinkHandler, ProbeResult};
use crate::sim::{ComponentId, SimDuration, SimTime};
use lifecycle::Phase;
use probe_link::ProbeState;

/// Link restart back-off after a failed start (`linkWatchRestartAfter`, spec §3.1).
const RESTART_AFTER: SimDuration = SimDuration::from_secs(10);
/// Cache sync timeout, then `log.Fatal` (K8S `waitForCacheSync`, spec §3.1).
const SYNC_TIMEOUT: SimDuration = SimDuration::from_secs(60);
/// Time one local API call takes (in-cluster round trip plus server work).
const API_CALL_COST: SimDuration = SimDuration::from_micros(800);
/// The name the local mirror goes by in logs and observations: its synthetic Link's name.
pub const LOCAL_MIRROR_LINK: &str = "local";

/// Which controller this is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MirrorKind {
    /// The controller of a Link: watches its Link, loads its credentials, probes the target's
    /// gateway (when the target has one).
    Link { remote_gateway: Option<ComponentId> },
    /// The local service mirror (`-local-mirror`, spec §1): no Link object, no credentials, no
    /// probe; its "remote" API is its own cluster's and it only handles federated membership.
    Local,
}

/// What the operator configured for this controller (chart values, scenario options).
#[derive(Clone, Debug)]
pub struct MirrorSettings {
    pub link_name: String,
    pub kind: MirrorKind,
    pub enable_headless: bool,
    pub enable_namespace_creation: bool,
    pub requeue_limit: u32,
    pub fixes: crate::multicluster::Fixes,
    pub breakages: crate::multicluster::Breakages,
    pub remote_qps: u32,
    pub remote_burst: u32,
    /// The target cluster's API server.
    pub remote_api: ComponentId,
    /// Service account of the controller (its proxy's identity).
    pub identity: String,
}

/// The API client slots of the controller (its clients' timers come back tagged with them).
const LOCAL_CLIENT: u8 = 0;
const REMOTE_CLIENT: u8 = 1;

/// The local informers, in their order on the local client (informer timers carry the index).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LocalInformer {
    Namespaces,
    Services,
    Endpoints,
    Link,
}

impl LocalInformer {
    const ALL: [LocalInformer; 4] = [
        LocalInformer::Namespaces,
        LocalInformer::Services,
        LocalInformer::Endpoints,
        LocalInformer::Link,
    ];

    fn index(self) -> usize {
        self as usize
    }

    fn of(index: usize) -> LocalInformer {
        LocalInformer::ALL[index]
    }

    fn informer(self) -> Informer {
        let (kind, namespace) = match self {
            LocalInformer::Namespaces => (Kind::Namespace, None),
            LocalInformer::Services => (Kind::Service, None),
            LocalInformer::Endpoints => (Kind::Endpoints, None),
            LocalInformer::Link => (Kind::Link, Some(super::seed::MC_NAMESPACE)),
        };
        let mut c = InformerConfig::new(kind);
        c.namespace = namespace.map(str::to_string);
        c.resync_period = Some(crate::defaults::INFORMER_RESYNC);
        Informer::new(c)
    }
}

/// The remote informers, in their order on the remote client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RemoteInformer {
    Services,
    Endpoints,
}

impl RemoteInformer {
    const ALL: [RemoteInformer; 2] = [RemoteInformer::Services, RemoteInformer::Endpoints];

    fn index(self) -> usize {
        self as usize
    }

    fn of(index: usize) -> RemoteInformer {
        RemoteInformer::ALL[index]
    }

    fn informer(self) -> Informer {
        let kind = match self {
            RemoteInformer::Services => Kind::Service,
            RemoteInformer::Endpoints => Kind::Endpoints,
        };
        let mut c = InformerConfig::new(kind);
        c.resync_period = Some(crate::defaults::INFORMER_RESYNC);
        Informer::new(c)
    }
}

pub struct MirrorNode {
    pub settings: MirrorSettings,
    links: LinkHandler,
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

impl MirrorNode {
    pub fn new(settings: MirrorSettings, local_api: ComponentId) -> MirrorNode {
        let informers: Vec<_> = LocalInformer::ALL.map(LocalInformer::informer).into();
        MirrorNode {
            local: ApiClient::new(LOCAL_CLIENT, local_api, 50, 100, informers),
            links: LinkHandler::new(&settings.link_name).with_breakages(&settings.breakages),
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

    /// The name of the controller's component and log: `service-mirror-<link>` or
    /// `local-service-mirror`.
    pub fn component(&self) -> String {
        match self.settings.kind {
            MirrorKind::Link { .. } => format!("service-mirror-{}", self.settings.link_name),
            MirrorKind::Local => "local-service-mirror".to_string(),
        }
    }

    pub fn is_local(&self) -> bool {
        self.settings.kind == MirrorKind::Local
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
            Phase::Running(r) => Some(r.liveness.alive()),
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
    /// Events ready in the watcher's work queue (`None` when not running); for reports.
    pub fn queue_depth(&self) -> Option<usize> {
        match &self.phase {
            Phase::Running(r) => Some(r.queue.len()),
            _ => None,
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
        // The process that ran the watcher is gone (it crashed or exited earlier).
        env.observe(crate::world::Observation::WatcherStopped {
            cluster: env.cluster,
            link: self.settings.link_name.clone(),
        });
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

    pub fn on_timer(&mut self, env: &mut Env<'_, '_>, timer: Timer, local_api: ComponentId) {
        let current = |generation: u64| generation == self.generation;
        match timer {
            Timer::Client {
                slot: LOCAL_CLIENT,
                timer,
            } => {
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
            Timer::MirrorWork { generation } if current(generation) => self.work(env),
            Timer::MirrorRepair { generation } if current(generation) => {
                self.repair_tick(env, generation)
            }
            Timer::MirrorRestartLink { generation } if current(generation) => {
                self.restart_watcher(env)
            }
            Timer::MirrorSyncDeadline { generation } if current(generation) => {
                self.sync_deadline(env)
            }
            // Stale: armed by a watcher that has since been restarted.
            Timer::MirrorWork { .. }
            | Timer::MirrorRepair { .. }
            | Timer::MirrorRestartLink { .. }
            | Timer::MirrorSyncDeadline { .. } => {}
            Timer::MirrorProcessRestart => self.process_restart(env, local_api),
            Timer::ProbeTick { generation } => self.probe_tick(env, generation),
            Timer::ProbeTimeout { generation, id } => self.probe_done(
                env,
                generation,
                id,
                ProbeResult::Error("Client.Timeout exceeded while awaiting headers".into()),
            ),
            Timer::ApiServerExpiry
            | Timer::ControllerTick
            | Timer::KubeletTick
            | Timer::TrafficTick
            | Timer::RequestTimeout { .. }
            | Timer::HandshakeDeadline { .. } => {
                panic!("{timer:?} delivered to a service mirror")
            }
        }
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::k8s::store::ObjectView;
    use crate::world::harness::Harness;
    use crate::world::{Msg, Node, Observation, TEST_SCENARIO};

    const MIRROR: &str = "west/service-mirror-east";

    fn mirror(h: &Harness) -> &MirrorNode {
        match h.world.node(h.id(MIRROR)) {
            Node::Mirror(m) => m,
            _ => panic!("{MIRROR} is a service mirror"),
        }
    }

    fn started(h: &Harness) -> usize {
        mirror(h)
            .log
            .iter()
            .filter(|(_, l)| l == "cluster watcher for east started")
            .count()
    }

    /// Start-up (spec §3.2): the local informers sync, the Link is found, the target answers
    /// `Version`, the remote informers sync, then the watcher runs and mirrors `web`.
    #[test]
    fn the_watcher_starts_once_the_target_answers_and_mirrors_the_export() {
        let mut h = Harness::new(TEST_SCENARIO);
        let version = h.step_until(SimDuration::from_secs(5), |d| {
            d.to == MIRROR && d.sent("east/apiserver", "tcp-syn")
        });
        assert!(!mirror(&h).is_running(), "{version:?}");
        h.run_until(SimDuration::from_secs(30), |w| {
            w.mirrors().iter().all(|(_, m)| m.is_running())
        });
        assert_eq!(started(&h), 1);
        h.run_until(SimDuration::from_secs(30), |w| {
            w.apis[0]
                .server
                .store()
                .get(&crate::k8s::ObjectKey::new(
                    Kind::Service,
                    "default",
                    "web-east",
                ))
                .is_some()
        });
        assert_eq!(mirror(&h).gateway_alive(), Some(true));
    }

    /// linkerd2#13579: the mirror's own Link status writes do not restart its watcher.
    #[test]
    fn status_writes_do_not_restart_the_watcher() {
        let mut h = Harness::new(TEST_SCENARIO);
        h.run_to(SimDuration::from_mins(3));
        let link = h
            .store("west")
            .get(&crate::k8s::ObjectKey::new(
                Kind::Link,
                crate::world::seed::MC_NAMESPACE,
                "east",
            ))
            .and_then(|o| o.as_link())
            .expect("the Link")
            .clone();
        assert!(
            !link.status.mirror_services.is_empty(),
            "the mirror wrote the Link's status"
        );
        assert_eq!(started(&h), 1);
    }

    /// A timer armed by an earlier watcher generation does nothing.
    #[test]
    fn a_stale_timer_is_a_no_op() {
        let mut h = Harness::new(TEST_SCENARIO);
        h.run_until(SimDuration::from_secs(30), |w| {
            w.mirrors().iter().all(|(_, m)| m.is_running())
        });
        for timer in [
            Timer::MirrorWork { generation: 0 },
            Timer::MirrorRepair { generation: 0 },
            Timer::MirrorRestartLink { generation: 0 },
            Timer::ProbeTick { generation: 0 },
        ] {
            assert_eq!(h.deliver(MIRROR, Msg::Timer(timer)), [], "{timer:?}");
        }
        assert_eq!(started(&h), 1);
    }

    /// The gateway refuses connections: after three failed probes the watcher hears that the
    /// gateway is dead and repairs the mirrors' readiness (spec §8.3, §6.5).
    #[test]
    fn a_dead_gateway_reaches_the_watcher_as_a_liveness_change() {
        let scenario = format!(
            "{TEST_SCENARIO}[[fault]]\nat = \"2m\"\nfor = \"2m\"\ngateway_down = \"east\"\n"
        );
        let mut h = Harness::new(&scenario);
        let liveness = |alive| crate::world::Observation::GatewayLiveness {
            link: "east".into(),
            alive,
        };
        // The first success after start-up is redundant: the worker starts "not alive".
        let first = h.step_until(SimDuration::from_mins(1), |d| {
            d.to == MIRROR
                && d.observed
                    .iter()
                    .any(|o| matches!(o, Observation::GatewayLiveness { .. }))
        });
        assert!(first.observed.contains(&liveness(true)), "{first:?}");
        assert!(first.at < SimTime::ZERO + SimDuration::from_secs(30));
        let dead = h.step_until(SimDuration::from_mins(3), |d| {
            d.to == MIRROR && d.observed.contains(&liveness(false))
        });
        assert!(dead.at > SimTime::ZERO + SimDuration::from_mins(2));
        assert!(dead.sent(MIRROR, "timer-mirror-work"), "a repair is queued");
        assert_eq!(mirror(&h).gateway_alive(), Some(false));
    }
}
