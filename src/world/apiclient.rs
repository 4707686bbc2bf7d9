//! A Kubernetes API client as used by controllers: one connection to an API server (HTTP/2
//! multiplexes every request and watch on it, as client-go does), a client-side token bucket
//! (client-go's default QPS 5 / burst 10 for controllers; the scenario can change it), and the
//! informers that list and watch through it.
//!
//! Embedded in a component (the owner), addressed by a `slot` so its timers come back to it.
//! The owner feeds it connection events and timers and receives [`ClientOutput`]s: informer
//! deltas and responses to the requests it made. The client itself never decides anything a
//! controller would: it carries frames, fails them when the connection dies, and paces them.

use super::env::Env;
use super::frames::ApiFrame;
use super::msg::{Msg, Payload, Timer};
use super::transport::{ConnEvent, ConnId, ConnectError, Side};
use crate::k8s::informer::{Delta, Informer, InformerEffect, InformerInput, InformerTimer};
use crate::k8s::{Request, Response, Status, StatusReason, WatchRequest};
use crate::sim::{ComponentId, SimDuration, SimTime};
use std::collections::{BTreeMap, VecDeque};

/// Timers of an API client, delivered back through the owner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientTimer {
    Informer {
        index: u16,
        timer: InformerTimer,
    },
    /// A token is available for the next queued frame.
    Limiter,
    /// Deliver the deltas an informer has buffered (exploration only).
    Deliver {
        index: u16,
    },
}

/// Tags: Informer 1 (index, then Retry 0 / Resync 1, then generation), Limiter 2, Deliver 3.
impl crate::sim::hash::Digest for ClientTimer {
    fn digest(&self, h: &mut crate::sim::hash::StableHasher) {
        match self {
            ClientTimer::Informer { index, timer } => {
                h.word(1);
                h.add(index);
                h.word(match timer.kind {
                    crate::k8s::informer::TimerKind::Retry => 0,
                    crate::k8s::informer::TimerKind::Resync => 1,
                });
                h.word(timer.generation);
            }
            ClientTimer::Limiter => h.word(2),
            ClientTimer::Deliver { index } => {
                h.word(3);
                h.add(index);
            }
        }
    }
}

/// What the client hands its owner.
#[derive(Clone, Debug)]
pub enum ClientOutput {
    Delta {
        informer: usize,
        delta: Delta,
    },
    /// The informer's cache changed at `key` but its delta is held for later delivery
    /// (exploration): the store already shows the change, the handlers have not seen it. Only
    /// components that read whole caches care (they must see what a full pass would see).
    Cached {
        informer: usize,
        key: crate::k8s::ObjectKey,
    },
    Response {
        tag: u64,
        result: Result<Response, Status>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Inflight {
    List { informer: usize, list: u64 },
    Watch { informer: usize, watch: u64 },
    Request { tag: u64 },
}

enum Outgoing {
    List {
        informer: usize,
        list: u64,
        request: Request,
    },
    Watch {
        informer: usize,
        watch: u64,
        request: WatchRequest,
    },
    Request {
        tag: u64,
        request: Request,
    },
    Cancel {
        informer: usize,
        watch: u64,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Connection {
    Idle,
    Connecting(ConnId),
    Open(ConnId),
}

/// Token bucket in nanosecond units: `tokens` is scaled by 1e9.
#[derive(Clone, Copy, Debug)]
struct TokenBucket {
    qps: u64,
    burst: u64,
    tokens_ns: u64,
    last: SimTime,
}

impl TokenBucket {
    fn new(qps: u32, burst: u32) -> TokenBucket {
        let burst = u64::from(burst.max(1));
        TokenBucket {
            qps: u64::from(qps.max(1)),
            burst,
            tokens_ns: burst * 1_000_000_000,
            last: SimTime::ZERO,
        }
    }
    fn refill(&mut self, now: SimTime) {
        let elapsed = now.saturating_since(self.last).0;
        self.last = now;
        let cap = self.burst * 1_000_000_000;
        self.tokens_ns = self
            .tokens_ns
            .saturating_add(elapsed.saturating_mul(self.qps))
            .min(cap);
    }
    /// Takes a token, or says how long until one is available.
    fn take(&mut self, now: SimTime) -> Result<(), SimDuration> {
        self.refill(now);
        if self.tokens_ns >= 1_000_000_000 {
            self.tokens_ns -= 1_000_000_000;
            Ok(())
        } else {
            let missing = 1_000_000_000 - self.tokens_ns;
            Err(SimDuration(missing.div_ceil(self.qps)))
        }
    }
}

pub struct ApiClient {
    slot: u8,
    server: ComponentId,
    connection: Connection,
    informers: Vec<Informer>,
    inflight: BTreeMap<u64, Inflight>,
    /// (informer, informer's watch id) → frame id, to cancel abandoned watches.
    watch_frames: BTreeMap<(usize, u64), u64>,
    backlog: VecDeque<Outgoing>,
    limiter: TokenBucket,
    limiter_armed: bool,
    next_frame: u64,
    started: bool,
    /// Exploration: deltas waiting per informer. client-go runs each informer's handlers on
    /// its own goroutine, so deliveries of *different* informers interleave in any order while
    /// each informer stays FIFO; the schedule decides the delays (none in FIFO mode).
    held: BTreeMap<usize, VecDeque<Delta>>,
}

impl ApiClient {
    pub fn new(
        slot: u8,
        server: ComponentId,
        qps: u32,
        burst: u32,
        informers: Vec<Informer>,
    ) -> ApiClient {
        ApiClient {
            slot,
            server,
            connection: Connection::Idle,
            informers,
            inflight: BTreeMap::new(),
            watch_frames: BTreeMap::new(),
            backlog: VecDeque::new(),
            limiter: TokenBucket::new(qps, burst),
            limiter_armed: false,
            next_frame: 1,
            started: false,
            held: BTreeMap::new(),
        }
    }

    pub fn informer(&self, index: usize) -> &Informer {
        &self.informers[index]
    }
    pub fn informers(&self) -> &[Informer] {
        &self.informers
    }
    pub fn all_synced(&self) -> bool {
        self.informers.iter().all(Informer::has_synced)
    }
    pub fn connection(&self) -> Option<ConnId> {
        match self.connection {
            Connection::Idle => None,
            Connection::Connecting(c) | Connection::Open(c) => Some(c),
        }
    }
    pub fn owns(&self, conn: ConnId) -> bool {
        self.connection() == Some(conn)
    }

    /// Starts every informer (list, then watch).
    pub fn start(&mut self, env: &mut Env<'_, '_>, out: &mut Vec<ClientOutput>) {
        self.started = true;
        for i in 0..self.informers.len() {
            self.feed(env, i, InformerInput::Start, out);
        }
    }

    /// Stops the informers and drops the connection (a controller shutting down).
    pub fn stop(&mut self, env: &mut Env<'_, '_>) {
        let mut out = Vec::new();
        for i in 0..self.informers.len() {
            self.feed(env, i, InformerInput::Stop, &mut out);
        }
        if let Some(conn) = self.connection() {
            env.close(conn, Side::Client);
        }
        self.connection = Connection::Idle;
        self.inflight.clear();
        self.watch_frames.clear();
        self.backlog.clear();
        self.held.clear();
        self.started = false;
    }

    /// Sends a request; its result comes back as `ClientOutput::Response { tag }`.
    pub fn request(&mut self, env: &mut Env<'_, '_>, tag: u64, request: Request) {
        self.backlog.push_back(Outgoing::Request { tag, request });
        self.pump(env, &mut Vec::new());
    }

    fn feed(
        &mut self,
        env: &mut Env<'_, '_>,
        informer: usize,
        input: InformerInput,
        out: &mut Vec<ClientOutput>,
    ) {
        let now = env.now();
        let effects = self.informers[informer].handle(now, env.ctx.rng(), input);
        for effect in effects {
            match effect {
                InformerEffect::SendList(list) => {
                    let request = list.to_request();
                    self.backlog.push_back(Outgoing::List {
                        informer,
                        list: list.id,
                        request,
                    });
                }
                InformerEffect::OpenWatch { watch, request } => {
                    self.backlog.push_back(Outgoing::Watch {
                        informer,
                        watch,
                        request,
                    });
                }
                InformerEffect::CancelWatch { watch } => {
                    self.backlog.push_back(Outgoing::Cancel { informer, watch });
                }
                InformerEffect::SetTimer { after, timer } => {
                    let t = Timer::Client {
                        slot: self.slot,
                        timer: ClientTimer::Informer {
                            index: informer as u16,
                            timer,
                        },
                    };
                    env.ctx.timer(after, Msg::Timer(t));
                }
                InformerEffect::Deliver(delta) => self.deliver(env, informer, delta, out),
            }
        }
        self.pump(env, out);
    }

    /// Hands a delta to the owner now, or after the schedule's perturbation delay (keeping the
    /// informer's own order).
    fn deliver(
        &mut self,
        env: &mut Env<'_, '_>,
        informer: usize,
        delta: Delta,
        out: &mut Vec<ClientOutput>,
    ) {
        if let Some(q) = self.held.get_mut(&informer) {
            if let Some(key) = delta.key() {
                out.push(ClientOutput::Cached { informer, key });
            }
            q.push_back(delta);
            return;
        }
        let delay = env.ctx.schedule().perturb_delay();
        if delay.is_zero() {
            out.push(ClientOutput::Delta { informer, delta });
            return;
        }
        if let Some(key) = delta.key() {
            out.push(ClientOutput::Cached { informer, key });
        }
        self.held.insert(informer, VecDeque::from([delta]));
        let t = Timer::Client {
            slot: self.slot,
            timer: ClientTimer::Deliver {
                index: informer as u16,
            },
        };
        env.ctx.timer(delay, Msg::Timer(t));
    }

    /// Moves backlog frames onto the connection, connecting first and pacing with the limiter.
    fn pump(&mut self, env: &mut Env<'_, '_>, out: &mut Vec<ClientOutput>) {
        let conn = match self.connection {
            Connection::Open(c) => c,
            Connection::Connecting(_) => return,
            Connection::Idle => {
                if !self.backlog.is_empty() {
                    let c = env.connect(self.server);
                    self.connection = Connection::Connecting(c);
                }
                return;
            }
        };
        while let Some(next) = self.backlog.front() {
            // Cancels are stream resets: not rate limited.
            if !matches!(next, Outgoing::Cancel { .. })
                && let Err(wait) = self.limiter.take(env.now())
            {
                if !self.limiter_armed {
                    self.limiter_armed = true;
                    let t = Timer::Client {
                        slot: self.slot,
                        timer: ClientTimer::Limiter,
                    };
                    env.ctx.timer(wait, Msg::Timer(t));
                }
                return;
            }
            let Some(next) = self.backlog.pop_front() else {
                break;
            };
            let id = self.next_frame;
            self.next_frame += 1;
            let frame = match next {
                Outgoing::List {
                    informer,
                    list,
                    request,
                } => {
                    self.inflight.insert(id, Inflight::List { informer, list });
                    ApiFrame::Request {
                        id,
                        request: Box::new(request),
                    }
                }
                Outgoing::Watch {
                    informer,
                    watch,
                    request,
                } => {
                    self.inflight
                        .insert(id, Inflight::Watch { informer, watch });
                    self.watch_frames.insert((informer, watch), id);
                    ApiFrame::Watch {
                        id,
                        request: Box::new(request),
                    }
                }
                Outgoing::Request { tag, request } => {
                    self.inflight.insert(id, Inflight::Request { tag });
                    ApiFrame::Request {
                        id,
                        request: Box::new(request),
                    }
                }
                Outgoing::Cancel { informer, watch } => {
                    let Some(frame) = self.watch_frames.remove(&(informer, watch)) else {
                        continue;
                    };
                    self.inflight.remove(&frame);
                    ApiFrame::Cancel { id: frame }
                }
            };
            env.send(conn, Side::Client, Payload::Api(frame));
        }
        let _ = out;
    }

    /// Fails everything in flight and queued because the connection is gone.
    fn fail_all(&mut self, env: &mut Env<'_, '_>, status: Status, out: &mut Vec<ClientOutput>) {
        self.connection = Connection::Idle;
        self.watch_frames.clear();
        let inflight = std::mem::take(&mut self.inflight);
        let backlog = std::mem::take(&mut self.backlog);
        for (_, what) in inflight {
            match what {
                Inflight::List { informer, list } => self.feed(
                    env,
                    informer,
                    InformerInput::ListResult {
                        list,
                        result: Err(status.clone()),
                    },
                    out,
                ),
                Inflight::Watch { informer, watch } => {
                    self.feed(env, informer, InformerInput::WatchClosed { watch }, out)
                }
                Inflight::Request { tag } => out.push(ClientOutput::Response {
                    tag,
                    result: Err(status.clone()),
                }),
            }
        }
        for what in backlog {
            match what {
                Outgoing::List { informer, list, .. } => self.feed(
                    env,
                    informer,
                    InformerInput::ListResult {
                        list,
                        result: Err(status.clone()),
                    },
                    out,
                ),
                Outgoing::Watch {
                    informer, watch, ..
                } => self.feed(
                    env,
                    informer,
                    InformerInput::WatchOpened {
                        watch,
                        result: Err(status.clone()),
                    },
                    out,
                ),
                Outgoing::Request { tag, .. } => out.push(ClientOutput::Response {
                    tag,
                    result: Err(status.clone()),
                }),
                Outgoing::Cancel { .. } => {}
            }
        }
    }

    /// Handles a connection event for this client's connection.
    pub fn on_conn(
        &mut self,
        env: &mut Env<'_, '_>,
        event: ConnEvent,
        out: &mut Vec<ClientOutput>,
    ) {
        match event {
            ConnEvent::Connected { conn } => {
                if self.connection == Connection::Connecting(conn) {
                    self.connection = Connection::Open(conn);
                    self.pump(env, out);
                }
            }
            ConnEvent::ConnectFailed { conn, error } => {
                if self.connection == Connection::Connecting(conn) {
                    let message = match error {
                        ConnectError::Refused => "dial tcp: connection refused",
                        ConnectError::Timeout => "dial tcp: i/o timeout",
                    };
                    self.fail_all(
                        env,
                        Status::new(503, StatusReason::ServiceUnavailable, message),
                        out,
                    );
                }
            }
            ConnEvent::Closed { conn, reason } => {
                if self.owns(conn) {
                    let message = format!("connection closed: {reason:?}");
                    self.fail_all(
                        env,
                        Status::new(503, StatusReason::ServiceUnavailable, message),
                        out,
                    );
                }
            }
            ConnEvent::Data {
                conn,
                payload: Payload::Api(frame),
            } => {
                if self.owns(conn) {
                    self.on_frame(env, frame, out);
                }
            }
            ConnEvent::Data { .. } | ConnEvent::Accepted { .. } => {}
        }
    }

    fn on_frame(&mut self, env: &mut Env<'_, '_>, frame: ApiFrame, out: &mut Vec<ClientOutput>) {
        match frame {
            ApiFrame::Response { id, result } => match self.inflight.remove(&id) {
                Some(Inflight::List { informer, list }) => {
                    let result = (*result).and_then(|r| match r {
                        Response::List {
                            items,
                            resource_version,
                        } => Ok((items, resource_version)),
                        other => Err(Status::new(
                            500,
                            StatusReason::InternalError,
                            format!("unexpected response to a list: {other:?}"),
                        )),
                    });
                    self.feed(
                        env,
                        informer,
                        InformerInput::ListResult { list, result },
                        out,
                    );
                }
                Some(Inflight::Request { tag }) => out.push(ClientOutput::Response {
                    tag,
                    result: *result,
                }),
                Some(Inflight::Watch { .. }) | None => {}
            },
            ApiFrame::WatchOpened { id, result } => {
                if let Some(&Inflight::Watch { informer, watch }) = self.inflight.get(&id) {
                    if result.is_err() {
                        self.inflight.remove(&id);
                        self.watch_frames.remove(&(informer, watch));
                    }
                    self.feed(
                        env,
                        informer,
                        InformerInput::WatchOpened {
                            watch,
                            result: *result,
                        },
                        out,
                    );
                }
            }
            ApiFrame::Event { id, event } => {
                if let Some(&Inflight::Watch { informer, watch }) = self.inflight.get(&id) {
                    if matches!(event, crate::k8s::WatchEvent::Error(_)) {
                        self.inflight.remove(&id);
                        self.watch_frames.remove(&(informer, watch));
                    }
                    self.feed(
                        env,
                        informer,
                        InformerInput::WatchEvent { watch, event },
                        out,
                    );
                }
            }
            ApiFrame::WatchEnd { id } => {
                if let Some(Inflight::Watch { informer, watch }) = self.inflight.remove(&id) {
                    self.watch_frames.remove(&(informer, watch));
                    self.feed(env, informer, InformerInput::WatchClosed { watch }, out);
                }
            }
            ApiFrame::Request { .. } | ApiFrame::Watch { .. } | ApiFrame::Cancel { .. } => {}
        }
    }

    pub fn on_timer(
        &mut self,
        env: &mut Env<'_, '_>,
        timer: ClientTimer,
        out: &mut Vec<ClientOutput>,
    ) {
        match timer {
            ClientTimer::Informer { index, timer } => {
                if self.started && usize::from(index) < self.informers.len() {
                    self.feed(env, usize::from(index), InformerInput::Timer(timer), out);
                }
            }
            ClientTimer::Limiter => {
                self.limiter_armed = false;
                self.pump(env, out);
            }
            ClientTimer::Deliver { index } => {
                let informer = usize::from(index);
                for delta in self.held.remove(&informer).unwrap_or_default() {
                    out.push(ClientOutput::Delta { informer, delta });
                }
            }
        }
    }
}
