//! The per-watcher event queue with Linkerd's retry policy (spec §4.2).
//!
//! Owns: [`MirrorQueue`], a client-go rate-limited workqueue (`crate::k8s::workqueue`,
//! `DefaultControllerRateLimiter`) over opaque items. Each event carrying data is a distinct
//! item (Go queues distinct pointers, so nothing is deduplicated); the zero-sized events
//! (`RepairEndpoints`, `OrphanedServicesGcTriggered`, `ClusterUnregistered`) share one item per
//! type, so the workqueue's dirty set coalesces duplicates [inferred: Go allocates zero-size
//! values at one address].
//!
//! Inputs: events (`add`), handler results (`done`), `now`. Outputs: the next event to handle
//! and the next instant a delayed retry becomes ready. Single consumer: `next_ready` hands out
//! at most what the caller asks for; the caller must call `done` before handling the next one
//! to keep Linkerd's one-at-a-time processing.
//! Must not touch: handler logic, clocks.

use super::env::HandlerError;
use super::event::MirrorEvent;
use crate::k8s::workqueue::{RateLimiterConfig, WorkQueue};
use crate::sim::SimTime;
use std::collections::BTreeMap;

/// Identity of a queued event, handed back to [`MirrorQueue::done`].
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum QueueItem {
    Repair,
    Gc,
    Unregistered,
    Event(u64),
}

#[derive(Clone, Debug)]
pub struct MirrorQueue {
    queue: WorkQueue<QueueItem>,
    payloads: BTreeMap<u64, MirrorEvent>,
    next_id: u64,
    requeue_limit: u32,
    /// Events handed out and not yet `done` (0 or 1 for a well-behaved single consumer).
    in_flight: usize,
}

impl MirrorQueue {
    pub fn new(requeue_limit: u32) -> MirrorQueue {
        MirrorQueue {
            queue: WorkQueue::new(RateLimiterConfig::default()),
            payloads: BTreeMap::new(),
            next_id: 0,
            requeue_limit,
            in_flight: 0,
        }
    }

    /// `eventsQueue.Add`: at the tail; zero-sized events already queued are coalesced.
    pub fn add(&mut self, ev: MirrorEvent) {
        let item = match ev {
            MirrorEvent::RepairEndpoints => QueueItem::Repair,
            MirrorEvent::OrphanedServicesGcTriggered => QueueItem::Gc,
            MirrorEvent::ClusterUnregistered => QueueItem::Unregistered,
            other => {
                self.next_id += 1;
                self.payloads.insert(self.next_id, other);
                QueueItem::Event(self.next_id)
            }
        };
        self.queue.add(item);
    }

    /// The next event ready at `now`, if any.
    pub fn next_ready(&mut self, now: SimTime) -> Option<(QueueItem, MirrorEvent)> {
        loop {
            let item = self.queue.get(now)?;
            let ev = match &item {
                QueueItem::Repair => Some(MirrorEvent::RepairEndpoints),
                QueueItem::Gc => Some(MirrorEvent::OrphanedServicesGcTriggered),
                QueueItem::Unregistered => Some(MirrorEvent::ClusterUnregistered),
                QueueItem::Event(id) => self.payloads.get(id).cloned(),
            };
            match ev {
                Some(ev) => {
                    self.in_flight += 1;
                    return Some((item, ev));
                }
                // A payload is dropped only when its item is finished; an item without one
                // cannot be queued, but skip it rather than stall.
                None => self.queue.done(&item),
            }
        }
    }

    /// `processEvents` after a handler ran: `Done`, then `Forget` on success; on a
    /// `Retryable` error `AddRateLimited` while `NumRequeues < requeue_limit` (else "giving
    /// up" and `Forget`); any other error is logged "will not retry" (not forgotten).
    /// Log lines are appended to `log`.
    pub fn done(
        &mut self,
        now: SimTime,
        item: QueueItem,
        event: &MirrorEvent,
        result: &Result<(), HandlerError>,
        log: &mut Vec<String>,
    ) {
        self.in_flight = self.in_flight.saturating_sub(1);
        self.queue.done(&item);
        let keep = match result {
            Ok(()) => {
                self.queue.forget(&item);
                false
            }
            Err(HandlerError::Retryable(_)) => {
                let n = self.queue.num_requeues(&item);
                log.push(format!(
                    "warn: Requeues: {n}, Limit: {} for event {event}",
                    self.requeue_limit
                ));
                if n < self.requeue_limit && !self.queue.is_shutting_down() {
                    log.push(format!(
                        "error: Error processing {event} (will retry): {}",
                        one_line(result)
                    ));
                    self.queue.add_rate_limited(now, item.clone());
                    true
                } else {
                    log.push(format!(
                        "error: Error processing {event} (giving up): {}",
                        one_line(result)
                    ));
                    self.queue.forget(&item);
                    false
                }
            }
            Err(HandlerError::Fatal(_)) => {
                log.push(format!(
                    "error: Error processing {event} (will not retry): {}",
                    one_line(result)
                ));
                false
            }
            Err(HandlerError::Crash(_)) => {
                log.push(format!("fatal: {event}: {}", one_line(result)));
                false
            }
        };
        if let QueueItem::Event(id) = item
            && !keep
            && !self.queue_holds(&QueueItem::Event(id))
        {
            self.payloads.remove(&id);
        }
    }

    fn queue_holds(&self, item: &QueueItem) -> bool {
        self.queue.is_processing(item)
    }

    /// When a delayed (rate-limited) retry becomes ready.
    pub fn next_wakeup(&self) -> Option<SimTime> {
        self.queue.next_wakeup()
    }

    /// Events ready now.
    pub fn len(&self) -> usize {
        self.queue.len()
    }
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }
    /// Events waiting for a retry delay.
    pub fn waiting_len(&self) -> usize {
        self.queue.waiting_len()
    }
    /// Nothing ready, nothing waiting, nothing in flight.
    pub fn is_idle(&self) -> bool {
        self.queue.is_empty() && self.queue.waiting_len() == 0 && self.in_flight == 0
    }
    /// `ShutDown`: no more adds; a failing event is not retried.
    pub fn shut_down(&mut self) {
        self.queue.shut_down();
    }
}

fn one_line(result: &Result<(), HandlerError>) -> String {
    match result {
        Ok(()) => String::new(),
        Err(e) => e.to_string().replace("\n\t", "; "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::k8s::objects::{Object, Service};
    use std::sync::Arc;

    fn svc_event(name: &str) -> MirrorEvent {
        MirrorEvent::OnAddCalled(Arc::new(Object::Service(Service::new("ns", name))))
    }

    #[test]
    fn fifo_and_zero_sized_events_coalesce() {
        let mut q = MirrorQueue::new(3);
        q.add(MirrorEvent::OrphanedServicesGcTriggered);
        q.add(svc_event("a"));
        q.add(svc_event("a"));
        q.add(MirrorEvent::RepairEndpoints);
        q.add(MirrorEvent::RepairEndpoints);
        let mut seen = vec![];
        let mut log = vec![];
        while let Some((item, ev)) = q.next_ready(SimTime::ZERO) {
            seen.push(ev.to_string());
            q.done(SimTime::ZERO, item, &ev, &Ok(()), &mut log);
        }
        assert_eq!(
            seen,
            [
                "OrphanedServicesGcTriggered",
                "OnAddCalled(ns/a@rv)",
                "OnAddCalled(ns/a@rv)",
                "RepairEndpoints"
            ]
        );
        assert!(q.is_idle());
    }

    #[test]
    fn retryable_errors_retry_up_to_the_limit_then_give_up() {
        let mut q = MirrorQueue::new(3);
        q.add(svc_event("a"));
        let mut now = SimTime::ZERO;
        let mut attempts = 0;
        let mut log = vec![];
        for _ in 0..20 {
            if let Some((item, ev)) = q.next_ready(now) {
                attempts += 1;
                q.done(
                    now,
                    item,
                    &ev,
                    &Err(HandlerError::retryable("boom")),
                    &mut log,
                );
            } else if let Some(t) = q.next_wakeup() {
                now = t;
            } else {
                break;
            }
        }
        assert_eq!(attempts, 4, "limit 3 means at most 4 attempts");
        assert!(log.iter().any(|l| l.contains("giving up")), "{log:?}");
        assert_eq!(log.iter().filter(|l| l.contains("will retry")).count(), 3);
        assert!(q.is_idle());
        assert!(q.payloads.is_empty());
    }

    #[test]
    fn other_errors_are_not_retried() {
        let mut q = MirrorQueue::new(3);
        q.add(svc_event("a"));
        let mut log = vec![];
        let (item, ev) = q.next_ready(SimTime::ZERO).unwrap();
        q.done(
            SimTime::ZERO,
            item,
            &ev,
            &Err(HandlerError::Fatal("x".into())),
            &mut log,
        );
        assert!(q.next_ready(SimTime::ZERO).is_none());
        assert!(q.next_wakeup().is_none());
        assert!(log[0].contains("will not retry"), "{log:?}");
    }

    #[test]
    fn a_repair_added_while_one_runs_runs_again_afterwards() {
        let mut q = MirrorQueue::new(3);
        q.add(MirrorEvent::RepairEndpoints);
        let (item, ev) = q.next_ready(SimTime::ZERO).unwrap();
        q.add(MirrorEvent::RepairEndpoints);
        assert!(q.next_ready(SimTime::ZERO).is_none(), "never concurrently");
        q.done(SimTime::ZERO, item, &ev, &Ok(()), &mut vec![]);
        assert!(q.next_ready(SimTime::ZERO).is_some());
    }
}
