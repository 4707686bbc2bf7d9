//! client-go's rate-limited workqueue (`k8s.io/client-go/util/workqueue`) over virtual time.
//!
//! Owns: [`WorkQueue`] (dedup through a dirty set, never hands out an item that is being
//! processed, delayed adds) and its [`RateLimiter`] (max of a per-item exponential limiter and a
//! global token bucket, `DefaultControllerRateLimiter`). Inputs: items, `now`. Outputs: items to
//! process and the next instant the queue wants to be polled ([`WorkQueue::next_wakeup`]).
//! Must not touch: clocks or timers (the owner polls `get(now)` at `next_wakeup()`), randomness.

use crate::sim::{SimDuration, SimTime};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Parameters of `DefaultControllerRateLimiter` (client-go `default_rate_limiters.go`):
/// per-item exponential 5 ms · 2ⁿ capped at 1000 s, and a token bucket of 10 qps, burst 100.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimiterConfig {
    pub base_delay: SimDuration,
    pub max_delay: SimDuration,
    pub qps: u64,
    pub burst: u64,
}

impl Default for RateLimiterConfig {
    fn default() -> Self {
        RateLimiterConfig {
            base_delay: SimDuration::from_millis(5),
            max_delay: SimDuration::from_secs(1000),
            qps: 10,
            burst: 100,
        }
    }
}

/// `MaxOfRateLimiter(ItemExponentialFailureRateLimiter, BucketRateLimiter)`.
#[derive(Clone, Debug)]
pub struct RateLimiter<T: Ord + Clone> {
    config: RateLimiterConfig,
    failures: BTreeMap<T, u32>,
    /// Token bucket as a GCRA: the theoretical arrival time of the next token.
    tat: SimTime,
}

impl<T: Ord + Clone> RateLimiter<T> {
    pub fn new(config: RateLimiterConfig) -> RateLimiter<T> {
        RateLimiter {
            config,
            failures: BTreeMap::new(),
            tat: SimTime::ZERO,
        }
    }

    /// How long `item` must wait before its next attempt; counts one more requeue. Both
    /// limiters are consulted (so the bucket always spends a token), the larger delay wins.
    pub fn when(&mut self, item: &T, now: SimTime) -> SimDuration {
        let n = self.failures.entry(item.clone()).or_insert(0);
        let exp = *n;
        *n = n.saturating_add(1);
        let per_item = if exp >= 63 {
            self.config.max_delay
        } else {
            SimDuration(self.config.base_delay.0.saturating_mul(1u64 << exp))
                .min(self.config.max_delay)
        };
        per_item.max(self.bucket_delay(now))
    }

    fn bucket_delay(&mut self, now: SimTime) -> SimDuration {
        let qps = self.config.qps.max(1);
        let interval = SimDuration(1_000_000_000 / qps);
        self.tat = self.tat.max(now) + interval;
        let allowance = interval.saturating_mul(self.config.burst.max(1));
        SimDuration(self.tat.saturating_since(now).0.saturating_sub(allowance.0))
    }

    /// Stop tracking `item`'s failures.
    pub fn forget(&mut self, item: &T) {
        self.failures.remove(item);
    }

    pub fn num_requeues(&self, item: &T) -> u32 {
        self.failures.get(item).copied().unwrap_or(0)
    }
}

/// The queue. `T` is typically an object key.
#[derive(Clone, Debug)]
pub struct WorkQueue<T: Ord + Clone> {
    queue: VecDeque<T>,
    dirty: BTreeSet<T>,
    processing: BTreeSet<T>,
    waiting: BTreeMap<(SimTime, u64), T>,
    waiting_at: BTreeMap<T, (SimTime, u64)>,
    waiting_seq: u64,
    limiter: RateLimiter<T>,
    shutting_down: bool,
}

impl<T: Ord + Clone> WorkQueue<T> {
    pub fn new(config: RateLimiterConfig) -> WorkQueue<T> {
        WorkQueue {
            queue: VecDeque::new(),
            dirty: BTreeSet::new(),
            processing: BTreeSet::new(),
            waiting: BTreeMap::new(),
            waiting_at: BTreeMap::new(),
            waiting_seq: 0,
            limiter: RateLimiter::new(config),
            shutting_down: false,
        }
    }

    /// Marks `item` as needing processing. A no-op if it is already queued; deferred until
    /// `done` if it is being processed.
    pub fn add(&mut self, item: T) {
        if self.shutting_down || self.dirty.contains(&item) {
            return;
        }
        self.dirty.insert(item.clone());
        if self.processing.contains(&item) {
            return;
        }
        self.queue.push_back(item);
    }

    /// Adds `item` once `delay` has passed. An item already waiting keeps the earlier instant.
    pub fn add_after(&mut self, now: SimTime, item: T, delay: SimDuration) {
        if self.shutting_down {
            return;
        }
        if delay.is_zero() {
            self.add(item);
            return;
        }
        let ready = now + delay;
        if let Some(&(at, seq)) = self.waiting_at.get(&item) {
            if at <= ready {
                return;
            }
            self.waiting.remove(&(at, seq));
        }
        self.waiting_seq += 1;
        let slot = (ready, self.waiting_seq);
        self.waiting.insert(slot, item.clone());
        self.waiting_at.insert(item, slot);
    }

    /// `add_after(limiter.when(item))`.
    pub fn add_rate_limited(&mut self, now: SimTime, item: T) {
        let delay = self.limiter.when(&item, now);
        self.add_after(now, item, delay);
    }

    /// Clears `item`'s failure history (call after a successful sync).
    pub fn forget(&mut self, item: &T) {
        self.limiter.forget(item);
    }

    pub fn num_requeues(&self, item: &T) -> u32 {
        self.limiter.num_requeues(item)
    }

    /// The next item to process, if one is ready at `now`. The caller must call `done` for it.
    pub fn get(&mut self, now: SimTime) -> Option<T> {
        self.promote(now);
        let item = self.queue.pop_front()?;
        self.dirty.remove(&item);
        self.processing.insert(item.clone());
        Some(item)
    }

    /// Processing of `item` finished; if it was re-added meanwhile it is queued again.
    pub fn done(&mut self, item: &T) {
        self.processing.remove(item);
        if self.dirty.contains(item) {
            self.queue.push_back(item.clone());
        }
    }

    fn promote(&mut self, now: SimTime) {
        while let Some((&(at, seq), _)) = self.waiting.first_key_value() {
            if at > now {
                break;
            }
            if let Some(item) = self.waiting.remove(&(at, seq)) {
                self.waiting_at.remove(&item);
                self.add(item);
            }
        }
    }

    /// Items ready now (not counting delayed ones).
    pub fn len(&self) -> usize {
        self.queue.len()
    }
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }
    /// Items waiting for a delay to pass.
    pub fn waiting_len(&self) -> usize {
        self.waiting.len()
    }
    pub fn is_processing(&self, item: &T) -> bool {
        self.processing.contains(item)
    }
    /// When the owner should poll again for delayed items (`None` if nothing is waiting).
    pub fn next_wakeup(&self) -> Option<SimTime> {
        self.waiting.first_key_value().map(|(&(at, _), _)| at)
    }
    /// Stops accepting items; items already queued can still be drained.
    pub fn shut_down(&mut self) {
        self.shutting_down = true;
        self.waiting.clear();
        self.waiting_at.clear();
    }
    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q() -> WorkQueue<&'static str> {
        WorkQueue::new(RateLimiterConfig::default())
    }
    const T0: SimTime = SimTime::ZERO;

    #[test]
    fn dedups_and_never_hands_out_an_item_twice_concurrently() {
        let mut q = q();
        q.add("a");
        q.add("a");
        q.add("b");
        assert_eq!(q.len(), 2);
        assert_eq!(q.get(T0), Some("a"));
        q.add("a"); // while processing: deferred
        assert_eq!(q.get(T0), Some("b"));
        assert_eq!(q.get(T0), None, "a is still being processed");
        q.done(&"a");
        assert_eq!(q.get(T0), Some("a"));
        q.done(&"a");
        q.done(&"b");
        assert_eq!(q.get(T0), None);
    }

    #[test]
    fn add_after_keeps_the_earliest_instant() {
        let mut q = q();
        q.add_after(T0, "a", SimDuration::from_secs(10));
        q.add_after(T0, "a", SimDuration::from_secs(5));
        q.add_after(T0, "a", SimDuration::from_secs(20));
        assert_eq!(q.waiting_len(), 1);
        assert_eq!(q.next_wakeup(), Some(T0 + SimDuration::from_secs(5)));
        assert_eq!(q.get(T0 + SimDuration::from_secs(4)), None);
        assert_eq!(q.get(T0 + SimDuration::from_secs(5)), Some("a"));
        assert_eq!(q.next_wakeup(), None);
    }

    #[test]
    fn per_item_backoff_doubles_from_5ms_and_forget_resets() {
        let mut l: RateLimiter<&str> = RateLimiter::new(RateLimiterConfig::default());
        let delays: Vec<u64> = (0..4).map(|_| l.when(&"x", T0).as_millis()).collect();
        assert_eq!(delays, [5, 10, 20, 40]);
        assert_eq!(l.num_requeues(&"x"), 4);
        for _ in 0..40 {
            l.when(&"y", T0 + SimDuration::from_mins(60));
        }
        assert_eq!(
            l.when(&"y", T0 + SimDuration::from_mins(60)),
            SimDuration::from_secs(1000)
        );
        l.forget(&"x");
        assert_eq!(l.num_requeues(&"x"), 0);
    }

    #[test]
    fn token_bucket_allows_a_burst_of_100_then_10_per_second() {
        let mut l: RateLimiter<u32> = RateLimiter::new(RateLimiterConfig::default());
        // Distinct items so the per-item limiter stays at 5 ms.
        let delays: Vec<SimDuration> = (0..102).map(|i| l.when(&i, T0)).collect();
        assert!(
            delays[..100]
                .iter()
                .all(|d| *d == SimDuration::from_millis(5))
        );
        assert_eq!(delays[100], SimDuration::from_millis(100));
        assert_eq!(delays[101], SimDuration::from_millis(200));
        // After a quiet minute the bucket is full again.
        assert_eq!(
            l.when(&1000, T0 + SimDuration::from_mins(1)),
            SimDuration::from_millis(5)
        );
    }

    #[test]
    fn shut_down_refuses_new_items_but_drains_queued_ones() {
        let mut q = q();
        q.add("a");
        q.shut_down();
        q.add("b");
        q.add_rate_limited(T0, "c");
        assert_eq!(q.get(T0), Some("a"));
        assert_eq!(q.get(T0 + SimDuration::from_secs(1)), None);
        assert!(q.is_shutting_down());
    }
}
