//! The watcher's single worker (spec §4.2): one event at a time from the queue, handled by the
//! sans-IO `ClusterWatcher` over the informer caches, its writes made straight to the local API
//! server (each one taking [`API_CALL_COST`] of the worker's time) and observed with the object
//! before and after.

use super::lifecycle::Phase;
use super::{API_CALL_COST, LocalInformer, MirrorNode};
use crate::k8s::api::{Request, Response, Status};
use crate::k8s::store::{MultiView, ObjectView};
use crate::k8s::{Kind, ObjectKey};
use crate::multicluster::{GatewayResolver, HandlerEnv, HandlerError, LocalApi};
use crate::sim::SimDuration;
use crate::world::env::Env;
use crate::world::msg::{Msg, Timer};
use crate::world::observe::{MirrorWrite, Observation, WriteOp};
use std::net::Ipv4Addr;

/// Gateway addresses are IP literals in mcsim (the gateway Service's load-balancer IP); a name
/// would need an external DNS the simulation does not have.
struct NoExternalDns;

impl GatewayResolver for NoExternalDns {
    fn resolve(&mut self, host: &str) -> Result<Vec<Ipv4Addr>, String> {
        Err(format!("lookup {host}: no such host"))
    }
}

/// The watcher's local API: direct calls to the cluster's own API server, each successful
/// write observed.
struct WorldApi<'e, 'a, 'b> {
    env: &'e mut Env<'a, 'b>,
    link: String,
    calls: u32,
}

/// The write a request makes and the key it writes (`None`: a read, or a finalize, which only
/// the API server's own machinery sends).
fn write_of(req: &Request) -> Option<(WriteOp, ObjectKey)> {
    match req {
        Request::Create { object } => Some((WriteOp::Create, object.key())),
        Request::Update { object } => Some((WriteOp::Update, object.key())),
        Request::UpdateStatus { object } => Some((WriteOp::UpdateStatus, object.key())),
        Request::Patch { key, .. } | Request::PatchLinkStatus { key, .. } => {
            Some((WriteOp::Patch, key.clone()))
        }
        Request::Delete { key, .. } => Some((WriteOp::Delete, key.clone())),
        Request::Finalize { .. }
        | Request::Get { .. }
        | Request::List { .. }
        | Request::Version => None,
    }
}

impl LocalApi for WorldApi<'_, '_, '_> {
    fn call(&mut self, req: Request) -> Result<Response, Status> {
        self.calls += 1;
        let cluster = self.env.cluster;
        let Some((op, key)) = write_of(&req) else {
            return self.env.api_call(req);
        };
        let store = self.env.apis[cluster].server.store();
        let before = store.get(&key).cloned();
        let service = (key.kind == Kind::Endpoints)
            .then(|| store.get(&ObjectKey::new(Kind::Service, &key.namespace, &key.name)))
            .flatten()
            .cloned();
        let result = self.env.api_call(req);
        if let Ok(response) = &result {
            let after = match response {
                Response::Object(o) => Some(o.clone()),
                Response::Deleted(_) | Response::List { .. } | Response::Version { .. } => None,
            };
            self.env
                .observe(Observation::MirrorWrite(Box::new(MirrorWrite {
                    cluster,
                    link: self.link.clone(),
                    op,
                    key,
                    before,
                    after,
                    service,
                })));
        }
        result
    }
}

impl MirrorNode {
    /// Arms the worker's timer for the next event: as soon as the worker is free when an event
    /// is ready, else when a rate-limited retry is due.
    pub(super) fn arm_work(&mut self, env: &mut Env<'_, '_>) {
        let Phase::Running(r) = &mut self.phase else {
            return;
        };
        let now = env.now();
        // Never again at this instant when nothing is ready: this pass found nothing.
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

    /// The repair ticker fired: enqueue `RepairEndpoints` and re-arm it.
    pub(super) fn repair_tick(&mut self, env: &mut Env<'_, '_>, generation: u64) {
        if let Phase::Running(r) = &mut self.phase {
            let (repair, next) = r.liveness.on_repair_tick();
            r.queue.add(repair);
            if let Some(period) = next {
                env.ctx
                    .timer(period, Msg::Timer(Timer::MirrorRepair { generation }));
            }
        }
        self.arm_work(env);
    }

    /// The worker: one event at a time.
    pub(super) fn work(&mut self, env: &mut Env<'_, '_>) {
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
        let cached = [
            LocalInformer::Namespaces,
            LocalInformer::Services,
            LocalInformer::Endpoints,
        ];
        let local_view = MultiView::new(
            cached
                .iter()
                .map(|i| self.local.informer(i.index()).store() as &dyn ObjectView)
                .collect(),
        );
        let mut remote_events = Vec::new();
        let mut enqueue = Vec::new();
        let mut log = Vec::new();
        let mut api = WorldApi {
            env,
            link: self.settings.link_name.clone(),
            calls: 0,
        };
        let result = {
            let mut henv = HandlerEnv {
                now,
                remote: &remote_view,
                local: &local_view,
                api: &mut api,
                resolver: &mut NoExternalDns,
                remote_events: &mut remote_events,
                enqueue: &mut enqueue,
                gateway_alive: r.liveness.alive(),
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
}
