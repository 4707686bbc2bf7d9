//! A sans-IO informer: client-go's reflector + DeltaFIFO + indexer for one kind, as an explicit
//! state machine (kubernetes-and-peers spec §B.11, shaped like kube-rs's `watcher` state enum).
//!
//! Inputs: [`Informer::handle`] with `now`, the owning component's `Prng` (backoff jitter) and an
//! [`InformerInput`] (start/stop, list result, watch opened, watch event, watch closed, timer).
//! Outputs: [`InformerEffect`]s as data: requests to send, watches to open or cancel, timers to
//! arm, and [`Delta`]s to deliver to handlers. Read access: the lister methods (`get`, `list`,
//! `list_selected`, `has_synced`, `store`).
//! Must not touch: the API server (it only *asks* for lists and watches through effects), real
//! timers, the wall clock.
//!
//! Semantics modelled:
//! - first list with RV "0" (any), then watch from the list's RV; every event moves the last
//!   synced RV; a clean watch end rewatches at once from that RV;
//! - 410 (on open or in-stream) → relist with RV "" (most recent), never going backwards;
//!   other watch errors, and a watch request whose stream ends before the server answered it
//!   (the connection dropped with the request in flight), → rewatch from the last RV; a watch
//!   that ends within `min_watch_duration` without events is a failure ("very short watch")
//!   and relists;
//! - every failure waits for the [`Backoff`] (800 ms → 30 s, ×2, jitter 1.0, reset after 2 min);
//! - a relist replaces the cache atomically and delivers Added/Updated for listed objects and a
//!   `DeletedFinalStateUnknown` tombstone for every cached object missing from the list;
//! - `Synced` (HasSynced) is delivered once, after the first list's deltas;
//! - resync re-delivers every cached object as `Updated { old == new }` without contacting the
//!   server; the cache is never cleared by a failure, only replaced by a successful list;
//! - timers carry a generation: a timer fired after being re-armed or cancelled is a no-op.

use super::api::{Request, Status, StatusReason, WatchEvent, WatchRequest};
use super::objects::{Kind, Object, ObjectKey};
use super::selector::LabelSelector;
use super::store::{ObjectView, Store};
use crate::sim::{Prng, Ratio, SimDuration, SimTime};
use std::sync::Arc;

/// client-go's reflector backoff (`NewExponentialBackoffManager(800ms, 30s, 2min, 2.0, 1.0)` in
/// `tools/cache/reflector.go`; kube-rs `DefaultBackoff` uses the same numbers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BackoffConfig {
    pub initial: SimDuration,
    /// Cap of the un-jittered delay.
    pub max: SimDuration,
    pub factor: u64,
    /// Extra delay drawn uniformly from `[0, jitter × delay)`.
    pub jitter: Ratio,
    /// A failure after this long without one starts again from `initial`.
    pub reset_after: SimDuration,
}

impl Default for BackoffConfig {
    fn default() -> Self {
        BackoffConfig {
            initial: SimDuration::from_millis(800),
            max: SimDuration::from_secs(30),
            factor: 2,
            jitter: Ratio::ONE,
            reset_after: SimDuration::from_mins(2),
        }
    }
}

/// Exponential backoff as a plain value: `next(now, rng)` after each failure.
#[derive(Clone, Debug)]
pub struct Backoff {
    config: BackoffConfig,
    current: SimDuration,
    last_failure: Option<SimTime>,
}

impl Backoff {
    pub fn new(config: BackoffConfig) -> Backoff {
        Backoff {
            current: config.initial,
            config,
            last_failure: None,
        }
    }

    /// The delay before the next attempt after a failure at `now`.
    pub fn next(&mut self, now: SimTime, rng: &mut Prng) -> SimDuration {
        if self
            .last_failure
            .is_none_or(|t| now.saturating_since(t) > self.config.reset_after)
        {
            self.current = self.config.initial;
        }
        self.last_failure = Some(now);
        let base = self.current;
        self.current =
            SimDuration(base.0.saturating_mul(self.config.factor.max(1))).min(self.config.max);
        let span = if self.config.jitter.den == 0 {
            0
        } else {
            (u128::from(base.0) * u128::from(self.config.jitter.num)
                / u128::from(self.config.jitter.den)) as u64
        };
        base + SimDuration(rng.below(span))
    }

    pub fn reset(&mut self) {
        self.current = self.config.initial;
        self.last_failure = None;
    }
}

/// `resourceVersion` semantics of a list request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListSemantic {
    /// RV "0": any state, possibly from a watch cache.
    Any,
    /// RV "": a consistent (quorum) read; used after 410.
    MostRecent,
}

/// A list the informer wants sent. `id` comes back with the result.
#[derive(Clone, Debug, PartialEq)]
pub struct ListRequest {
    pub id: u64,
    pub kind: Kind,
    pub namespace: Option<String>,
    pub selector: Option<LabelSelector>,
    pub semantic: ListSemantic,
}

impl ListRequest {
    pub fn to_request(&self) -> Request {
        Request::List {
            kind: self.kind,
            namespace: self.namespace.clone(),
            selector: self.selector.clone(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum TimerKind {
    /// Retry a failed list or watch after backoff.
    Retry,
    /// Periodic resync.
    Resync,
}

/// A timer the informer armed; hand it back through `InformerInput::Timer` when it fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct InformerTimer {
    pub kind: TimerKind,
    pub generation: u64,
}

/// A cached object that disappeared while the informer was not watching: the last state it
/// knew, possibly stale (client-go `DeletedFinalStateUnknown`).
#[derive(Clone, Debug, PartialEq)]
pub struct DeletedFinalStateUnknown {
    pub key: ObjectKey,
    pub obj: Arc<Object>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum DeletedObject {
    /// Seen on the watch: the final state.
    Final(Arc<Object>),
    /// Inferred by a relist.
    Tombstone(DeletedFinalStateUnknown),
}

impl DeletedObject {
    /// The object, whichever form.
    pub fn object(&self) -> &Arc<Object> {
        match self {
            DeletedObject::Final(o) => o,
            DeletedObject::Tombstone(t) => &t.obj,
        }
    }
}

/// What handlers receive.
#[derive(Clone, Debug, PartialEq)]
pub enum Delta {
    Added(Arc<Object>),
    /// For a resync, `old` and `new` are the same object.
    Updated {
        old: Arc<Object>,
        new: Arc<Object>,
    },
    Deleted(DeletedObject),
    /// The first list has been delivered (HasSynced). Sent once.
    Synced,
}

impl Delta {
    /// The key of the object the delta is about (`None` for `Synced`).
    pub fn key(&self) -> Option<ObjectKey> {
        match self {
            Delta::Added(o) | Delta::Updated { new: o, .. } => Some(o.key()),
            Delta::Deleted(d) => Some(d.object().key()),
            Delta::Synced => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum InformerEffect {
    SendList(ListRequest),
    /// Open a watch; `watch` is the informer's id for it, echoed in later inputs.
    OpenWatch {
        watch: u64,
        request: WatchRequest,
    },
    /// Stop delivering this watch's events (the informer has abandoned it).
    CancelWatch {
        watch: u64,
    },
    SetTimer {
        after: SimDuration,
        timer: InformerTimer,
    },
    Deliver(Delta),
}

#[derive(Clone, Debug, PartialEq)]
pub enum InformerInput {
    Start,
    Stop,
    ListResult {
        list: u64,
        result: Result<(Vec<Arc<Object>>, u64), Status>,
    },
    WatchOpened {
        watch: u64,
        result: Result<Vec<WatchEvent>, Status>,
    },
    WatchEvent {
        watch: u64,
        event: WatchEvent,
    },
    /// The stream ended without an error event (server timeout, connection drop).
    WatchClosed {
        watch: u64,
    },
    Timer(InformerTimer),
}

/// Where the reflector is. Per-state data lives in the variant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReflectorState {
    Idle,
    Listing {
        list: u64,
    },
    /// A list failed; waiting for the retry timer.
    ListBackoff,
    OpeningWatch {
        watch: u64,
        rv: u64,
    },
    Watching {
        watch: u64,
        rv: u64,
        since: SimTime,
        events: u64,
    },
    /// A watch failed; waiting for the retry timer, then rewatch from `rv`.
    WatchBackoff {
        rv: u64,
    },
}

#[derive(Clone, Debug)]
pub struct InformerConfig {
    pub kind: Kind,
    pub namespace: Option<String>,
    pub selector: Option<LabelSelector>,
    /// `None` disables resync.
    pub resync_period: Option<SimDuration>,
    pub backoff: BackoffConfig,
    /// A watch that ends sooner than this with no events counts as a failure.
    pub min_watch_duration: SimDuration,
}

impl InformerConfig {
    pub fn new(kind: Kind) -> InformerConfig {
        InformerConfig {
            kind,
            namespace: None,
            selector: None,
            resync_period: None,
            backoff: BackoffConfig::default(),
            min_watch_duration: SimDuration::from_secs(1),
        }
    }
}

pub struct Informer {
    config: InformerConfig,
    state: ReflectorState,
    cache: Store,
    backoff: Backoff,
    synced: bool,
    /// Last RV seen from a list or watch.
    last_rv: u64,
    /// Set by 410: the next list must be a consistent read.
    rv_unavailable: bool,
    next_request_id: u64,
    retry_generation: u64,
    resync_generation: u64,
}

impl Informer {
    pub fn new(config: InformerConfig) -> Informer {
        Informer {
            backoff: Backoff::new(config.backoff),
            config,
            state: ReflectorState::Idle,
            cache: Store::new(),
            synced: false,
            last_rv: 0,
            rv_unavailable: false,
            next_request_id: 0,
            retry_generation: 0,
            resync_generation: 0,
        }
    }

    pub fn config(&self) -> &InformerConfig {
        &self.config
    }
    pub fn state(&self) -> &ReflectorState {
        &self.state
    }
    /// HasSynced: the first list has been delivered.
    pub fn has_synced(&self) -> bool {
        self.synced
    }
    pub fn last_resource_version(&self) -> u64 {
        self.last_rv
    }
    pub fn store(&self) -> &Store {
        &self.cache
    }
    pub fn get(&self, namespace: &str, name: &str) -> Option<&Arc<Object>> {
        self.cache
            .get(&ObjectKey::new(self.config.kind, namespace, name))
    }
    pub fn list(&self, namespace: Option<&str>) -> Vec<&Arc<Object>> {
        self.cache.list(self.config.kind, namespace)
    }
    /// Kubernetes selector semantics (empty matches everything).
    pub fn list_selected(
        &self,
        namespace: Option<&str>,
        selector: &LabelSelector,
    ) -> Vec<&Arc<Object>> {
        self.cache
            .range(self.config.kind, namespace)
            .filter(|o| selector.matches(o.labels()))
            .collect()
    }

    /// Feeds one input; returns the effects in the order they must be carried out.
    pub fn handle(
        &mut self,
        now: SimTime,
        rng: &mut Prng,
        input: InformerInput,
    ) -> Vec<InformerEffect> {
        let mut out = Vec::new();
        match input {
            InformerInput::Start => {
                if self.state == ReflectorState::Idle {
                    self.send_list(&mut out);
                }
            }
            InformerInput::Stop => {
                if let ReflectorState::OpeningWatch { watch, .. }
                | ReflectorState::Watching { watch, .. } = self.state
                {
                    out.push(InformerEffect::CancelWatch { watch });
                }
                self.retry_generation += 1;
                self.resync_generation += 1;
                self.state = ReflectorState::Idle;
            }
            InformerInput::ListResult { list, result } => {
                if self.state != (ReflectorState::Listing { list }) {
                    return out;
                }
                match result {
                    Ok((items, rv)) => self.on_listed(items, rv, &mut out),
                    Err(_) => {
                        self.state = ReflectorState::ListBackoff;
                        self.arm_retry(now, rng, &mut out);
                    }
                }
            }
            InformerInput::WatchOpened { watch, result } => {
                let ReflectorState::OpeningWatch { watch: current, rv } = self.state else {
                    return out;
                };
                if current != watch {
                    return out;
                }
                match result {
                    Ok(events) => {
                        self.state = ReflectorState::Watching {
                            watch,
                            rv,
                            since: now,
                            events: 0,
                        };
                        for event in events {
                            self.on_event(now, rng, watch, event, &mut out);
                        }
                    }
                    Err(status) => self.on_watch_failure(now, rng, &status, rv, &mut out),
                }
            }
            InformerInput::WatchEvent { watch, event } => {
                self.on_event(now, rng, watch, event, &mut out)
            }
            InformerInput::WatchClosed { watch } => {
                if let ReflectorState::OpeningWatch { watch: current, rv } = self.state {
                    // The stream ended before the server answered the watch request (the
                    // connection dropped with it in flight): the request failed, as a refused
                    // one does.
                    if current == watch {
                        let status = Status::new(
                            503,
                            StatusReason::ServiceUnavailable,
                            "connection closed before the watch opened",
                        );
                        self.on_watch_failure(now, rng, &status, rv, &mut out);
                    }
                    return out;
                }
                let ReflectorState::Watching {
                    watch: current,
                    rv,
                    since,
                    events,
                } = self.state
                else {
                    return out;
                };
                if current != watch {
                    return out;
                }
                if events == 0 && now.saturating_since(since) < self.config.min_watch_duration {
                    // "very short watch": a failure; relist after backoff.
                    self.state = ReflectorState::ListBackoff;
                    self.arm_retry(now, rng, &mut out);
                } else {
                    self.open_watch(rv, &mut out);
                }
            }
            InformerInput::Timer(timer) => match timer.kind {
                TimerKind::Retry if timer.generation == self.retry_generation => match self.state {
                    ReflectorState::ListBackoff => self.send_list(&mut out),
                    ReflectorState::WatchBackoff { rv } => self.open_watch(rv, &mut out),
                    ReflectorState::Idle
                    | ReflectorState::Listing { .. }
                    | ReflectorState::OpeningWatch { .. }
                    | ReflectorState::Watching { .. } => {}
                },
                TimerKind::Resync
                    if timer.generation == self.resync_generation
                        && self.state != ReflectorState::Idle =>
                {
                    for obj in self.cache.values() {
                        out.push(InformerEffect::Deliver(Delta::Updated {
                            old: obj.clone(),
                            new: obj.clone(),
                        }));
                    }
                    self.arm_resync(&mut out);
                }
                TimerKind::Retry | TimerKind::Resync => {}
            },
        }
        out
    }

    fn next_id(&mut self) -> u64 {
        self.next_request_id += 1;
        self.next_request_id
    }

    fn send_list(&mut self, out: &mut Vec<InformerEffect>) {
        let id = self.next_id();
        self.state = ReflectorState::Listing { list: id };
        out.push(InformerEffect::SendList(ListRequest {
            id,
            kind: self.config.kind,
            namespace: self.config.namespace.clone(),
            selector: self.config.selector.clone(),
            semantic: if self.rv_unavailable {
                ListSemantic::MostRecent
            } else {
                ListSemantic::Any
            },
        }));
    }

    fn open_watch(&mut self, rv: u64, out: &mut Vec<InformerEffect>) {
        let watch = self.next_id();
        self.state = ReflectorState::OpeningWatch { watch, rv };
        out.push(InformerEffect::OpenWatch {
            watch,
            request: WatchRequest {
                kind: self.config.kind,
                namespace: self.config.namespace.clone(),
                selector: self.config.selector.clone(),
                resource_version: Some(rv),
            },
        });
    }

    fn arm_retry(&mut self, now: SimTime, rng: &mut Prng, out: &mut Vec<InformerEffect>) {
        self.retry_generation += 1;
        let after = self.backoff.next(now, rng);
        out.push(InformerEffect::SetTimer {
            after,
            timer: InformerTimer {
                kind: TimerKind::Retry,
                generation: self.retry_generation,
            },
        });
    }

    fn arm_resync(&mut self, out: &mut Vec<InformerEffect>) {
        if let Some(period) = self.config.resync_period {
            self.resync_generation += 1;
            out.push(InformerEffect::SetTimer {
                after: period,
                timer: InformerTimer {
                    kind: TimerKind::Resync,
                    generation: self.resync_generation,
                },
            });
        }
    }

    /// Replace: swap the cache, synthesise deltas for the gap, then watch from the list RV.
    fn on_listed(&mut self, items: Vec<Arc<Object>>, rv: u64, out: &mut Vec<InformerEffect>) {
        let mut old = std::mem::take(&mut self.cache);
        for item in items {
            if !self.config.kind.covers(item.kind()) {
                continue;
            }
            let key = item.key();
            match old.remove(&key) {
                Some(prev) => out.push(InformerEffect::Deliver(Delta::Updated {
                    old: prev,
                    new: item.clone(),
                })),
                None => out.push(InformerEffect::Deliver(Delta::Added(item.clone()))),
            }
            self.cache.insert_with_key(key, item);
        }
        for (key, obj) in old.iter() {
            out.push(InformerEffect::Deliver(Delta::Deleted(
                DeletedObject::Tombstone(DeletedFinalStateUnknown {
                    key: key.clone(),
                    obj: obj.clone(),
                }),
            )));
        }
        self.last_rv = rv;
        self.rv_unavailable = false;
        if !self.synced {
            self.synced = true;
            out.push(InformerEffect::Deliver(Delta::Synced));
            self.arm_resync(out);
        }
        self.open_watch(rv, out);
    }

    fn on_event(
        &mut self,
        now: SimTime,
        rng: &mut Prng,
        watch: u64,
        event: WatchEvent,
        out: &mut Vec<InformerEffect>,
    ) {
        let ReflectorState::Watching {
            watch: current,
            rv,
            since,
            events,
        } = self.state
        else {
            return;
        };
        if current != watch {
            return;
        }
        let new_rv = event.resource_version().unwrap_or(rv).max(rv);
        match event {
            WatchEvent::Added(obj) | WatchEvent::Modified(obj) => {
                if self.config.kind.covers(obj.kind()) {
                    let key = obj.key();
                    match self.cache.insert_with_key(key, obj.clone()) {
                        Some(old) => {
                            out.push(InformerEffect::Deliver(Delta::Updated { old, new: obj }))
                        }
                        None => out.push(InformerEffect::Deliver(Delta::Added(obj))),
                    }
                }
            }
            WatchEvent::Deleted(obj) => {
                self.cache.remove(&obj.key());
                out.push(InformerEffect::Deliver(Delta::Deleted(
                    DeletedObject::Final(obj),
                )));
            }
            WatchEvent::Bookmark(_) => {}
            WatchEvent::Error(status) => {
                self.on_watch_failure(now, rng, &status, rv, out);
                return;
            }
        }
        self.last_rv = new_rv;
        self.state = ReflectorState::Watching {
            watch,
            rv: new_rv,
            since,
            events: events + 1,
        };
    }

    fn on_watch_failure(
        &mut self,
        now: SimTime,
        rng: &mut Prng,
        status: &Status,
        rv: u64,
        out: &mut Vec<InformerEffect>,
    ) {
        if status.is_gone() {
            self.rv_unavailable = true;
            self.state = ReflectorState::ListBackoff;
        } else {
            self.state = ReflectorState::WatchBackoff { rv };
        }
        self.arm_retry(now, rng, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::k8s::objects::Service;

    fn obj(name: &str, rv: u64) -> Arc<Object> {
        let mut s = Service::new("default", name);
        s.metadata.resource_version = rv.to_string();
        Arc::new(Object::Service(s))
    }

    fn rng() -> Prng {
        Prng::stream(3, "informer-test")
    }

    fn list_id(effects: &[InformerEffect]) -> u64 {
        effects
            .iter()
            .find_map(|e| match e {
                InformerEffect::SendList(l) => Some(l.id),
                _ => None,
            })
            .expect("a list request")
    }

    fn watch_id(effects: &[InformerEffect]) -> (u64, Option<u64>) {
        effects
            .iter()
            .find_map(|e| match e {
                InformerEffect::OpenWatch { watch, request } => {
                    Some((*watch, request.resource_version))
                }
                _ => None,
            })
            .expect("a watch request")
    }

    fn retry_timer(effects: &[InformerEffect]) -> (SimDuration, InformerTimer) {
        effects
            .iter()
            .find_map(|e| match e {
                InformerEffect::SetTimer { after, timer } if timer.kind == TimerKind::Retry => {
                    Some((*after, *timer))
                }
                _ => None,
            })
            .expect("a retry timer")
    }

    #[test]
    fn backoff_grows_caps_jitters_and_resets() {
        let mut b = Backoff::new(BackoffConfig::default());
        let mut r = rng();
        let mut t = SimTime::ZERO;
        let mut bases = vec![];
        for _ in 0..8 {
            let d = b.next(t, &mut r);
            bases.push(d);
            t += SimDuration::from_secs(1);
        }
        assert!(
            bases[0] >= SimDuration::from_millis(800) && bases[0] < SimDuration::from_millis(1600)
        );
        assert!(
            bases[1] >= SimDuration::from_millis(1600) && bases[1] < SimDuration::from_millis(3200)
        );
        // Capped at 30 s before jitter, so never beyond 60 s.
        assert!(bases[7] >= SimDuration::from_secs(30) && bases[7] < SimDuration::from_secs(60));
        // Two quiet minutes later it starts over.
        let d = b.next(t + SimDuration::from_secs(121), &mut r);
        assert!(d < SimDuration::from_millis(1600), "{d}");
    }

    #[test]
    fn stale_retry_timer_is_a_no_op() {
        let mut inf = Informer::new(InformerConfig::new(Kind::Service));
        let mut r = rng();
        let t = SimTime::ZERO;
        let e = inf.handle(t, &mut r, InformerInput::Start);
        let id = list_id(&e);
        let e = inf.handle(
            t,
            &mut r,
            InformerInput::ListResult {
                list: id,
                result: Err(Status::internal("down")),
            },
        );
        let (_, first) = retry_timer(&e);
        // The retry fires: a new list goes out; then it fails again and re-arms.
        let e = inf.handle(t, &mut r, InformerInput::Timer(first));
        let id2 = list_id(&e);
        let e = inf.handle(
            t,
            &mut r,
            InformerInput::ListResult {
                list: id2,
                result: Err(Status::internal("down")),
            },
        );
        let (_, second) = retry_timer(&e);
        assert_ne!(first, second);
        assert!(
            inf.handle(t, &mut r, InformerInput::Timer(first))
                .is_empty(),
            "stale timer must do nothing"
        );
        assert_eq!(inf.state(), &ReflectorState::ListBackoff);
    }

    #[test]
    fn relist_delivers_updates_additions_and_tombstones() {
        let mut inf = Informer::new(InformerConfig::new(Kind::Service));
        let mut r = rng();
        let t = SimTime::ZERO;
        let e = inf.handle(t, &mut r, InformerInput::Start);
        let e = inf.handle(
            t,
            &mut r,
            InformerInput::ListResult {
                list: list_id(&e),
                result: Ok((vec![obj("a", 5), obj("b", 6)], 6)),
            },
        );
        assert_eq!(
            e.iter()
                .filter(|e| matches!(e, InformerEffect::Deliver(Delta::Synced)))
                .count(),
            1
        );
        let (w, rv) = watch_id(&e);
        assert_eq!(rv, Some(6));
        let e = inf.handle(
            t,
            &mut r,
            InformerInput::WatchOpened {
                watch: w,
                result: Ok(vec![]),
            },
        );
        assert!(e.is_empty());
        // The watch dies with 410; after backoff a consistent relist sees b gone and c new.
        let e = inf.handle(
            t,
            &mut r,
            InformerInput::WatchEvent {
                watch: w,
                event: WatchEvent::Error(Status::expired(6, 9)),
            },
        );
        let (_, timer) = retry_timer(&e);
        let e = inf.handle(t, &mut r, InformerInput::Timer(timer));
        let list = match &e[0] {
            InformerEffect::SendList(l) => l.clone(),
            other => panic!("expected a list, got {other:?}"),
        };
        assert_eq!(list.semantic, ListSemantic::MostRecent);
        let e = inf.handle(
            t,
            &mut r,
            InformerInput::ListResult {
                list: list.id,
                result: Ok((vec![obj("a", 5), obj("c", 9)], 10)),
            },
        );
        let deltas: Vec<&Delta> = e
            .iter()
            .filter_map(|e| match e {
                InformerEffect::Deliver(d) => Some(d),
                _ => None,
            })
            .collect();
        assert!(matches!(deltas[0], Delta::Updated { .. }));
        assert!(matches!(deltas[1], Delta::Added(o) if o.name() == "c"));
        assert!(
            matches!(deltas[2], Delta::Deleted(DeletedObject::Tombstone(t)) if t.key.name == "b" && t.obj.name() == "b")
        );
        assert_eq!(deltas.len(), 3, "Synced is delivered only once");
        assert_eq!(inf.list(None).len(), 2);
        assert_eq!(watch_id(&e).1, Some(10));
    }

    #[test]
    fn very_short_watch_is_a_failure_but_a_long_one_rewatches_at_once() {
        let mut inf = Informer::new(InformerConfig::new(Kind::Service));
        let mut r = rng();
        let e = inf.handle(SimTime::ZERO, &mut r, InformerInput::Start);
        let e = inf.handle(
            SimTime::ZERO,
            &mut r,
            InformerInput::ListResult {
                list: list_id(&e),
                result: Ok((vec![], 3)),
            },
        );
        let (w, _) = watch_id(&e);
        inf.handle(
            SimTime::ZERO,
            &mut r,
            InformerInput::WatchOpened {
                watch: w,
                result: Ok(vec![]),
            },
        );
        let e = inf.handle(
            SimTime(500_000_000),
            &mut r,
            InformerInput::WatchClosed { watch: w },
        );
        retry_timer(&e);
        assert_eq!(inf.state(), &ReflectorState::ListBackoff);

        let mut inf = Informer::new(InformerConfig::new(Kind::Service));
        let e = inf.handle(SimTime::ZERO, &mut r, InformerInput::Start);
        let e = inf.handle(
            SimTime::ZERO,
            &mut r,
            InformerInput::ListResult {
                list: list_id(&e),
                result: Ok((vec![], 3)),
            },
        );
        let (w, _) = watch_id(&e);
        inf.handle(
            SimTime::ZERO,
            &mut r,
            InformerInput::WatchOpened {
                watch: w,
                result: Ok(vec![]),
            },
        );
        inf.handle(
            SimTime::ZERO,
            &mut r,
            InformerInput::WatchEvent {
                watch: w,
                event: WatchEvent::Added(obj("x", 4)),
            },
        );
        let e = inf.handle(
            SimTime::ZERO + SimDuration::from_secs(290),
            &mut r,
            InformerInput::WatchClosed { watch: w },
        );
        assert_eq!(watch_id(&e).1, Some(4), "rewatch from the last RV");
        // Events of the old watch are ignored from now on.
        assert!(
            inf.handle(
                SimTime::ZERO,
                &mut r,
                InformerInput::WatchEvent {
                    watch: w,
                    event: WatchEvent::Added(obj("y", 5))
                }
            )
            .is_empty()
        );
    }

    /// `mcsim fuzz` of the unexport scenario (`tests/breakages/unexported-mirror.toml` without its
    /// breakage, 12 minutes, seed 19415, PCT): a reject-mode partition reset the service
    /// mirror's remote connection while its Endpoints watch request was in flight; the informer
    /// ignored the stream's end because the watch had not opened yet, never listed or watched
    /// again, and its stale cache recreated the unexported mirror at the 10-minute resync.
    #[test]
    fn a_watch_that_dies_before_it_opened_is_retried() {
        let mut inf = Informer::new(InformerConfig::new(Kind::Endpoints));
        let mut r = rng();
        let e = inf.handle(SimTime::ZERO, &mut r, InformerInput::Start);
        let e = inf.handle(
            SimTime::ZERO,
            &mut r,
            InformerInput::ListResult {
                list: list_id(&e),
                result: Ok((vec![], 7)),
            },
        );
        let (w, _) = watch_id(&e);
        // The connection dies before the server's answer to the watch request arrives.
        let e = inf.handle(
            SimTime(500_000_000),
            &mut r,
            InformerInput::WatchClosed { watch: w },
        );
        let (_, timer) = retry_timer(&e);
        assert_eq!(inf.state(), &ReflectorState::WatchBackoff { rv: 7 });
        let e = inf.handle(SimTime(2_000_000_000), &mut r, InformerInput::Timer(timer));
        let (w2, rv) = watch_id(&e);
        assert_ne!(w2, w);
        assert_eq!(rv, Some(7), "rewatch from the last RV");
        // The old request's late answer is ignored.
        assert!(
            inf.handle(
                SimTime(2_000_000_000),
                &mut r,
                InformerInput::WatchOpened {
                    watch: w,
                    result: Ok(vec![]),
                },
            )
            .is_empty()
        );
        assert_eq!(
            inf.state(),
            &ReflectorState::OpeningWatch { watch: w2, rv: 7 }
        );
    }

    #[test]
    fn resync_redelivers_cached_objects_as_identical_updates() {
        let mut cfg = InformerConfig::new(Kind::Service);
        cfg.resync_period = Some(SimDuration::from_mins(10));
        let mut inf = Informer::new(cfg);
        let mut r = rng();
        let e = inf.handle(SimTime::ZERO, &mut r, InformerInput::Start);
        let e = inf.handle(
            SimTime::ZERO,
            &mut r,
            InformerInput::ListResult {
                list: list_id(&e),
                result: Ok((vec![obj("a", 2)], 2)),
            },
        );
        let timer = e
            .iter()
            .find_map(|e| match e {
                InformerEffect::SetTimer { after, timer } if timer.kind == TimerKind::Resync => {
                    assert_eq!(*after, SimDuration::from_mins(10));
                    Some(*timer)
                }
                _ => None,
            })
            .unwrap();
        let e = inf.handle(SimTime::ZERO, &mut r, InformerInput::Timer(timer));
        assert!(
            matches!(&e[0], InformerEffect::Deliver(Delta::Updated { old, new }) if Arc::ptr_eq(old, new))
        );
        assert!(matches!(&e[1], InformerEffect::SetTimer { .. }));
    }
}
