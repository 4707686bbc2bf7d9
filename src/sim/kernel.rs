//! The discrete-event kernel: virtual time, the event queue, per-component RNG streams, the
//! schedule and the trace. It knows nothing about Kubernetes or networks.
//!
//! Components are addressed by [`ComponentId`]. The kernel does not own them: a *world* (anything
//! implementing [`World`]) owns the component state and dispatches each delivered message to the
//! right state machine. Components act only through [`Ctx`]: read `now`, draw from their own RNG
//! stream, send messages (after a delay) and set timers (messages to themselves). That is the
//! whole effect vocabulary, so every effect passes through the queue and the trace.
//!
//! The queue is ordered by `(time, rank, seq)`: `rank` comes from the [`Schedule`] (0 in FIFO mode),
//! `seq` is a global counter, so the order is total and reproducible. Rank and seq share one
//! 64-bit word (24 + 40 bits) so the hot comparison is two integers, like a plain heap's. Time jumps straight to the
//! next event.

use super::rng::Prng;
use super::schedule::{Schedule, ScheduleConfig};
use super::time::{SimDuration, SimTime};
use super::trace::{Message, Trace};
use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::ops::ControlFlow;

/// Address of a component in one run. Ids are dense and assigned in world-build order; the RNG
/// stream of a component is derived from its *name*, not its id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ComponentId(pub u32);

impl crate::sim::hash::Digest for ComponentId {
    fn digest(&self, h: &mut crate::sim::hash::StableHasher) {
        h.word(u64::from(self.0));
    }
}

impl ComponentId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// Bits of the tie-break word that hold the sequence number; the rank sits above them.
const SEQ_BITS: u32 = 40;
const SEQ_MASK: u64 = (1 << SEQ_BITS) - 1;
/// Ranks are truncated to the bits above the sequence number.
pub const RANK_MAX: u64 = (1 << (64 - SEQ_BITS)) - 1;

struct Entry<M> {
    at: SimTime,
    /// `rank << SEQ_BITS | seq`: one comparison orders by rank, then scheduling order.
    tie: u64,
    to: ComponentId,
    msg: M,
}

impl<M> Entry<M> {
    fn seq(&self) -> u64 {
        self.tie & SEQ_MASK
    }
}

impl<M> PartialEq for Entry<M> {
    fn eq(&self, other: &Self) -> bool {
        self.at == other.at && self.tie == other.tie
    }
}
impl<M> Eq for Entry<M> {}
impl<M> PartialOrd for Entry<M> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<M> Ord for Entry<M> {
    // Reversed: `BinaryHeap` is a max-heap and we pop the earliest event.
    #[inline]
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.tie).cmp(&(self.at, self.tie))
    }
}

/// The part of the kernel a component may touch while it handles an event.
pub struct Core<M> {
    now: SimTime,
    next_seq: u64,
    delivered: u64,
    queue: BinaryHeap<Entry<M>>,
    schedule: Schedule,
    queue_max: usize,
}

impl<M> Core<M> {
    #[inline]
    fn push(&mut self, to: ComponentId, at: SimTime, msg: M) {
        assert!(
            at >= self.now,
            "event for {to:?} scheduled in the past: {at:?} < {:?}",
            self.now
        );
        assert!(
            self.queue.len() < self.queue_max,
            "event queue exceeded its limit of {} pending events",
            self.queue_max
        );
        let rank = self.schedule.rank(to.0, self.delivered) & RANK_MAX;
        let seq = self.next_seq;
        assert!(
            seq <= SEQ_MASK,
            "more than 2^40 events scheduled in one run"
        );
        self.next_seq += 1;
        self.queue.push(Entry {
            at,
            tie: (rank << SEQ_BITS) | seq,
            to,
            msg,
        });
    }
}

/// What a component sees while handling one event.
pub struct Ctx<'a, M> {
    core: &'a mut Core<M>,
    /// Every component's random stream, by id (`me`'s is the one `rng` draws from).
    rngs: &'a mut [Prng],
    me: ComponentId,
}

impl<'a, M> Ctx<'a, M> {
    /// Current virtual time.
    #[inline]
    pub fn now(&self) -> SimTime {
        self.core.now
    }
    /// The component handling the event.
    #[inline]
    pub fn me(&self) -> ComponentId {
        self.me
    }
    /// This component's own random stream.
    #[inline]
    pub fn rng(&mut self) -> &mut Prng {
        &mut self.rngs[self.me.index()]
    }
    /// The context of component `id` acting within this delivery, for world code that runs
    /// another component synchronously (an API server serving a direct in-cluster call): its
    /// random draws come from `id`'s own stream and its timers go to `id`, so what one
    /// component does never depends on who called it.
    #[inline]
    pub fn on_behalf_of(&mut self, id: ComponentId) -> Ctx<'_, M> {
        Ctx {
            core: self.core,
            rngs: self.rngs,
            me: id,
        }
    }
    /// The schedule (model jitter and exploration perturbations).
    #[inline]
    pub fn schedule(&mut self) -> &mut Schedule {
        &mut self.core.schedule
    }
    /// Delivers `msg` to `to` after exactly `delay`.
    #[inline]
    pub fn send(&mut self, to: ComponentId, msg: M, delay: SimDuration) {
        let at = self.core.now + delay;
        self.core.push(to, at, msg);
    }
    /// Delivers `msg` to `to` at an absolute instant (not before now).
    #[inline]
    pub fn send_at(&mut self, to: ComponentId, msg: M, at: SimTime) {
        let at = at.max(self.core.now);
        self.core.push(to, at, msg);
    }
    /// Delivers `msg` back to this component after `delay`.
    #[inline]
    pub fn timer(&mut self, delay: SimDuration, msg: M) {
        let me = self.me;
        self.send(me, msg, delay);
    }
    /// Delivers `msg` to another component of the same world through the same queue; used by a
    /// world that forwards an effect on behalf of a component (e.g. the network).
    #[inline]
    pub fn events_delivered(&self) -> u64 {
        self.core.delivered
    }
}

/// Owner of the component states: dispatches a delivered message to the component `to`.
pub trait World<M> {
    fn deliver(&mut self, ctx: &mut Ctx<'_, M>, to: ComponentId, msg: M);
}

/// Why [`Kernel::run_until`] (or [`Kernel::run_observed`]) returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunOutcome {
    /// Virtual time reached the requested instant.
    ReachedTime,
    /// Nothing is left to run.
    Quiescent,
    /// The event budget ran out first ("did not quiesce").
    EventLimit,
    /// The observer of [`Kernel::run_observed`] stopped the run after a delivery.
    Stopped,
}

/// A delivered event, as returned by [`Kernel::step`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Step {
    pub seq: u64,
    pub at: SimTime,
    pub to: ComponentId,
}

pub struct KernelConfig {
    pub seed: u64,
    pub schedule: ScheduleConfig,
    /// Keep a record of every delivered event (for `--trace`).
    pub record_trace: bool,
    /// Upper bound on pending events; exceeding it is an mcsim bug and aborts loudly.
    pub queue_max: usize,
}

impl KernelConfig {
    pub fn new(seed: u64) -> Self {
        KernelConfig {
            seed,
            schedule: ScheduleConfig::default(),
            record_trace: false,
            queue_max: 10_000_000,
        }
    }
}

pub struct Kernel<M> {
    core: Core<M>,
    seed: u64,
    rngs: Vec<Prng>,
    names: Vec<String>,
    trace: Trace,
}

impl<M: Message> Kernel<M> {
    pub fn new(config: KernelConfig) -> Kernel<M> {
        Kernel {
            core: Core {
                now: SimTime::ZERO,
                next_seq: 0,
                delivered: 0,
                queue: BinaryHeap::new(),
                schedule: Schedule::new(config.seed, config.schedule),
                queue_max: config.queue_max,
            },
            seed: config.seed,
            rngs: Vec::new(),
            names: Vec::new(),
            trace: Trace::new(config.record_trace),
        }
    }

    /// Replaces the schedule (e.g. with one replaying a recorded tape). Only before the run starts.
    pub fn set_schedule(&mut self, schedule: Schedule) {
        assert_eq!(
            self.core.delivered, 0,
            "the schedule can only be replaced before the first event"
        );
        self.core.schedule = schedule;
    }

    /// Registers a component under a stable name and gives it its RNG stream.
    pub fn add_component(&mut self, name: &str) -> ComponentId {
        let id = ComponentId(u32::try_from(self.names.len()).expect("fewer than 2^32 components"));
        self.rngs.push(Prng::stream(self.seed, name));
        self.names.push(name.to_string());
        id
    }

    /// Schedules `msg` for `to` at `at` from outside any component (world setup, scripted faults).
    pub fn inject(&mut self, to: ComponentId, at: SimTime, msg: M) {
        assert!(
            to.index() < self.names.len(),
            "inject to unknown component {to:?}"
        );
        self.core.push(to, at.max(self.core.now), msg);
    }

    pub fn now(&self) -> SimTime {
        self.core.now
    }
    pub fn seed(&self) -> u64 {
        self.seed
    }
    pub fn pending(&self) -> usize {
        self.core.queue.len()
    }
    pub fn next_event_time(&self) -> Option<SimTime> {
        self.core.queue.peek().map(|e| e.at)
    }
    pub fn trace(&self) -> &Trace {
        &self.trace
    }
    pub fn trace_mut(&mut self) -> &mut Trace {
        &mut self.trace
    }
    pub fn schedule(&self) -> &Schedule {
        &self.core.schedule
    }
    pub fn component_name(&self, id: ComponentId) -> &str {
        &self.names[id.index()]
    }
    pub fn component_names(&self) -> &[String] {
        &self.names
    }
    /// The RNG stream of a component, for world code acting on its behalf outside a delivery.
    pub fn rng_of(&mut self, id: ComponentId) -> &mut Prng {
        &mut self.rngs[id.index()]
    }

    /// Delivers the next event, if any.
    #[inline]
    pub fn step<W: World<M>>(&mut self, world: &mut W) -> Option<Step> {
        let entry = self.core.queue.pop()?;
        assert!(
            entry.at >= self.core.now,
            "time went backwards: {:?} < {:?}",
            entry.at,
            self.core.now
        );
        self.core.now = entry.at;
        self.core.delivered += 1;
        let seq = entry.seq();
        self.trace.on_deliver(seq, entry.at, entry.to, &entry.msg);
        let step = Step {
            seq,
            at: entry.at,
            to: entry.to,
        };
        let mut ctx = Ctx {
            core: &mut self.core,
            rngs: &mut self.rngs,
            me: entry.to,
        };
        world.deliver(&mut ctx, entry.to, entry.msg);
        Some(step)
    }

    /// Runs every event due at or before `until`, then sets the clock to `until`. Stops early
    /// when the queue empties or after `events_max` deliveries.
    pub fn run_until<W: World<M>>(
        &mut self,
        world: &mut W,
        until: SimTime,
        events_max: u64,
    ) -> RunOutcome {
        self.run_observed(world, until, events_max, |_, _| ControlFlow::Continue(()))
    }

    /// The run loop, the only one: like [`Kernel::run_until`], and after every delivery calls
    /// `observer` with the world and the delivered [`Step`] (to drain what the world recorded,
    /// feed checks, poll a stop condition); the run stops there ([`RunOutcome::Stopped`], the
    /// clock left at that delivery) when the observer breaks. The observer runs between
    /// deliveries and cannot schedule anything: it only watches.
    pub fn run_observed<W: World<M>>(
        &mut self,
        world: &mut W,
        until: SimTime,
        events_max: u64,
        mut observer: impl FnMut(&mut W, Step) -> ControlFlow<()>,
    ) -> RunOutcome {
        let budget_end = self.core.delivered.saturating_add(events_max);
        loop {
            match self.core.queue.peek() {
                None => {
                    self.core.now = self.core.now.max(until);
                    return RunOutcome::Quiescent;
                }
                Some(e) if e.at > until => {
                    self.core.now = self.core.now.max(until);
                    return RunOutcome::ReachedTime;
                }
                Some(_) => {}
            }
            if self.core.delivered >= budget_end {
                return RunOutcome::EventLimit;
            }
            let Some(step) = self.step(world) else {
                continue;
            };
            if observer(world, step).is_break() {
                return RunOutcome::Stopped;
            }
        }
    }

    pub fn delivered(&self) -> u64 {
        self.core.delivered
    }
}

/// Test support: what a delivery queued, and deliveries outside the queue (the world's
/// single-component harness).
#[cfg(test)]
impl<M: Message> Kernel<M> {
    /// The sequence number the next scheduled message gets.
    pub(crate) fn next_seq(&self) -> u64 {
        self.core.next_seq
    }

    /// The next message to be delivered.
    pub(crate) fn peek(&self) -> Option<(SimTime, ComponentId, &M)> {
        self.core.queue.peek().map(|e| (e.at, e.to, &e.msg))
    }

    /// The messages scheduled since `seq` and still queued, in delivery order.
    pub(crate) fn queued_since(&self, seq: u64) -> Vec<(SimTime, ComponentId, &M)> {
        let mut out: Vec<&Entry<M>> = self.core.queue.iter().filter(|e| e.seq() >= seq).collect();
        out.sort_by_key(|e| (e.at, e.tie));
        out.into_iter().map(|e| (e.at, e.to, &e.msg)).collect()
    }

    /// Delivers `msg` to `to` now, ahead of everything queued and outside the trace.
    pub(crate) fn deliver_now<W: World<M>>(&mut self, world: &mut W, to: ComponentId, msg: M) {
        let mut ctx = Ctx {
            core: &mut self.core,
            rngs: &mut self.rngs,
            me: to,
        };
        world.deliver(&mut ctx, to, msg);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::schedule::Exploration;

    #[derive(Debug, Clone, PartialEq)]
    struct Ping(u64);
    impl Message for Ping {
        fn kind(&self) -> &'static str {
            "ping"
        }
        fn digest(&self) -> u64 {
            self.0
        }
    }

    /// Two components bounce a counter with a random delay; the log records who saw what when.
    struct Pair {
        log: Vec<(SimTime, ComponentId, u64)>,
        other: [ComponentId; 2],
    }
    impl World<Ping> for Pair {
        fn deliver(&mut self, ctx: &mut Ctx<'_, Ping>, to: ComponentId, msg: Ping) {
            self.log.push((ctx.now(), to, msg.0));
            if msg.0 < 50 {
                let delay = SimDuration::from_micros(ctx.rng().range_inclusive(1, 100));
                ctx.send(self.other[to.index()], Ping(msg.0 + 1), delay);
            }
        }
    }

    fn run(seed: u64, exploration: Exploration) -> (u64, Vec<(SimTime, ComponentId, u64)>) {
        let mut config = KernelConfig::new(seed);
        config.schedule.exploration = exploration;
        let mut k = Kernel::new(config);
        let a = k.add_component("a");
        let b = k.add_component("b");
        let mut w = Pair {
            log: vec![],
            other: [b, a],
        };
        k.inject(a, SimTime::ZERO, Ping(0));
        k.inject(b, SimTime::ZERO, Ping(0));
        assert_eq!(
            k.run_until(&mut w, SimTime(u64::MAX), u64::MAX),
            RunOutcome::Quiescent
        );
        (k.trace().hash(), w.log)
    }

    #[test]
    fn same_seed_same_trace() {
        for seed in 0..20 {
            assert_eq!(run(seed, Exploration::Fifo), run(seed, Exploration::Fifo));
            assert_eq!(
                run(seed, Exploration::Random),
                run(seed, Exploration::Random)
            );
        }
        assert_ne!(run(1, Exploration::Fifo).0, run(2, Exploration::Fifo).0);
    }

    #[test]
    fn time_is_monotone_and_fifo_breaks_ties_by_order() {
        let (_, log) = run(3, Exploration::Fifo);
        assert!(log.windows(2).all(|w| w[0].0 <= w[1].0));
        // Both injections are at t=0: FIFO delivers a's first.
        assert_eq!(log[0].1, ComponentId(0));
        assert_eq!(log[1].1, ComponentId(1));
    }

    #[test]
    fn random_exploration_reorders_same_instant_events() {
        let firsts: std::collections::BTreeSet<ComponentId> = (0..32)
            .map(|seed| run(seed, Exploration::Random).1[0].1)
            .collect();
        assert_eq!(
            firsts.len(),
            2,
            "some seed should deliver b's injection first"
        );
    }

    #[test]
    fn event_limit_stops_the_run() {
        let mut k = Kernel::new(KernelConfig::new(1));
        let a = k.add_component("a");
        let b = k.add_component("b");
        let mut w = Pair {
            log: vec![],
            other: [b, a],
        };
        k.inject(a, SimTime::ZERO, Ping(0));
        assert_eq!(
            k.run_until(&mut w, SimTime::MAX, 10),
            RunOutcome::EventLimit
        );
        assert_eq!(k.delivered(), 10);
    }

    /// The observer sees every delivery, after the world handled it, and can stop the run there.
    #[test]
    fn an_observer_sees_every_step_and_may_stop_the_run() {
        let mut k = Kernel::new(KernelConfig::new(1));
        let a = k.add_component("a");
        let b = k.add_component("b");
        let mut w = Pair {
            log: vec![],
            other: [b, a],
        };
        k.inject(a, SimTime::ZERO, Ping(0));
        let mut seen = Vec::new();
        let outcome = k.run_observed(&mut w, SimTime::MAX, u64::MAX, |w: &mut Pair, step| {
            assert_eq!(
                w.log.last().map(|(at, to, _)| (*at, *to)),
                Some((step.at, step.to))
            );
            seen.push(step.seq);
            if w.log.last().is_some_and(|(_, _, n)| *n == 7) {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        });
        assert_eq!(outcome, RunOutcome::Stopped);
        assert_eq!(seen.len(), 8);
        assert_eq!(k.delivered(), 8);
        // The clock stays at the delivery that stopped the run.
        assert_eq!(k.now(), w.log[7].0);
    }

    /// A component acting for another within a delivery (an API server serving a direct call)
    /// draws from the other's stream: neither stream depends on who called whom.
    #[test]
    fn acting_on_behalf_of_another_component_draws_from_its_stream() {
        struct Caller {
            api: ComponentId,
            drawn: Vec<u64>,
        }
        impl World<Ping> for Caller {
            fn deliver(&mut self, ctx: &mut Ctx<'_, Ping>, _to: ComponentId, _msg: Ping) {
                let mut api = ctx.on_behalf_of(self.api);
                assert_eq!(api.me(), self.api);
                self.drawn.push(api.rng().next_u64());
            }
        }
        let mut k = Kernel::new(KernelConfig::new(9));
        let a = k.add_component("a");
        let api = k.add_component("api");
        let mut w = Caller { api, drawn: vec![] };
        k.inject(a, SimTime::ZERO, Ping(0));
        k.inject(a, SimTime::ZERO, Ping(1));
        k.run_until(&mut w, SimTime::MAX, u64::MAX);
        let mut api_stream = Prng::stream(9, "api");
        assert_eq!(w.drawn, [api_stream.next_u64(), api_stream.next_u64()]);
        // The caller's own stream is untouched, the API server's has moved on.
        assert_eq!(k.rng_of(a).next_u64(), Prng::stream(9, "a").next_u64());
        assert_eq!(k.rng_of(api).next_u64(), api_stream.next_u64());
    }
}
