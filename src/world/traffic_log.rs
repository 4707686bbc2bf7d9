//! What a traffic client remembers of its requests, in memory that does not grow with simulated
//! time: requests are folded, as they complete, into the *segment* of the time their request
//! was sent, between consecutive boundaries registered before the run (every instant a report
//! table or a check will ask about: fault starts and heals, the baseline before each fault,
//! the liveness window; `crate::check::traffic::window_boundaries`). Each segment keeps counts,
//! failure reasons, the clusters that answered and a latency histogram at 10 µs resolution, so
//! a 24-hour soak costs what a one-hour run does.
//!
//! A query ([`TrafficLog::sum`]) names the boundaries of its window; a segment whose requests
//! fall on both sides of one of them cannot be split exactly, and the query panics (an mcsim
//! bug: a window boundary nobody registered), which a run reports as an internal error.

use crate::sim::SimTime;
use std::collections::BTreeMap;

/// Latency histogram resolution.
const LATENCY_BUCKET_NS: u64 = 10_000;

/// One completed request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestRecord {
    pub sent: SimTime,
    pub done: SimTime,
    /// `Ok(cluster/ns/pod)` or `Err(reason)`.
    pub result: Result<String, String>,
}

/// Requests aggregated over some set of send times.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Aggregate {
    pub sent: u64,
    pub ok: u64,
    /// Failures by reason.
    pub failed: BTreeMap<String, u64>,
    /// Successes by the cluster of the pod that answered.
    pub served_by: BTreeMap<String, u64>,
    /// The first failure to complete: (completion order, reason).
    pub first_failure: Option<(u64, String)>,
    /// Latencies of successes: bucket (10 µs) → count.
    latency: BTreeMap<u64, u64>,
    /// Earliest and latest send time folded in.
    span: Option<(SimTime, SimTime)>,
}

impl Aggregate {
    fn add(&mut self, seq: u64, r: &RequestRecord) {
        self.sent += 1;
        self.span = Some(match self.span {
            None => (r.sent, r.sent),
            Some((a, b)) => (a.min(r.sent), b.max(r.sent)),
        });
        match &r.result {
            Ok(pod) => {
                self.ok += 1;
                let bucket = r.done.saturating_since(r.sent).0 / LATENCY_BUCKET_NS;
                *self.latency.entry(bucket).or_default() += 1;
                let cluster = pod.split('/').next().unwrap_or_default();
                *self.served_by.entry(cluster.to_string()).or_default() += 1;
            }
            Err(reason) => {
                *self.failed.entry(reason.clone()).or_default() += 1;
                if self.first_failure.is_none() {
                    self.first_failure = Some((seq, reason.clone()));
                }
            }
        }
    }

    /// Folds `other` in (the aggregate of both sets of requests).
    pub fn merge(&mut self, other: &Aggregate) {
        self.sent += other.sent;
        self.ok += other.ok;
        for (k, v) in &other.failed {
            *self.failed.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &other.served_by {
            *self.served_by.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &other.latency {
            *self.latency.entry(*k).or_default() += v;
        }
        if let Some(f) = &other.first_failure
            && self.first_failure.as_ref().is_none_or(|mine| f.0 < mine.0)
        {
            self.first_failure = Some(f.clone());
        }
        self.span = match (self.span, other.span) {
            (None, s) | (s, None) => s,
            (Some((a, b)), Some((c, d))) => Some((a.min(c), b.max(d))),
        };
    }

    /// `ok / sent`; `None` when nothing was sent.
    pub fn ratio(&self) -> Option<f64> {
        (self.sent > 0).then(|| self.ok as f64 / self.sent as f64)
    }

    /// The `p`-th percentile latency of successes in milliseconds (nearest rank, as a sorted
    /// list indexed at `(n - 1) * p / 100`), at the histogram's 10 µs resolution (the middle of the bucket).
    pub fn percentile_ms(&self, p: u64) -> Option<f64> {
        let n: u64 = self.latency.values().sum();
        if n == 0 {
            return None;
        }
        let rank = (n - 1) * p / 100;
        let mut seen = 0;
        for (bucket, count) in &self.latency {
            seen += count;
            if seen > rank {
                // The bucket's middle: within 5 µs of the exact value.
                return Some((bucket * LATENCY_BUCKET_NS + LATENCY_BUCKET_NS / 2) as f64 / 1e6);
            }
        }
        None
    }

    /// The first failure reason to complete.
    pub fn first_failure(&self) -> Option<&str> {
        self.first_failure.as_ref().map(|(_, r)| r.as_str())
    }

    /// Successes with a latency of at most each of `bounds_ms` (cumulative, as a Prometheus
    /// histogram's `le` buckets), at the histogram's 10 µs resolution: a bucket counts under a
    /// bound when it ends at or before it.
    pub fn latency_at_most(&self, bounds_ms: &[u64]) -> Vec<u64> {
        bounds_ms
            .iter()
            .map(|b| {
                let limit = b * 1_000_000;
                self.latency
                    .iter()
                    .filter(|(bucket, _)| (*bucket + 1) * LATENCY_BUCKET_NS <= limit)
                    .map(|(_, n)| n)
                    .sum()
            })
            .collect()
    }

    /// The sum of the successes' latencies in milliseconds (each at its bucket's middle).
    pub fn latency_sum_ms(&self) -> f64 {
        self.latency
            .iter()
            .map(|(b, n)| (b * LATENCY_BUCKET_NS + LATENCY_BUCKET_NS / 2) as f64 * *n as f64)
            .sum::<f64>()
            / 1e6
    }
}

/// A traffic client's requests, folded into segments between registered boundaries.
#[derive(Clone, Debug)]
pub struct TrafficLog {
    /// Sorted, distinct; segment `i` holds requests sent in `[boundaries[i-1], boundaries[i])`.
    boundaries: Vec<SimTime>,
    segments: Vec<Aggregate>,
    /// The request with the latest send time (the last of them to complete on a tie).
    last: Option<RequestRecord>,
    completed: u64,
}

/// A log of one segment (no boundaries): totals only.
impl Default for TrafficLog {
    fn default() -> TrafficLog {
        TrafficLog::new(Vec::new())
    }
}

impl TrafficLog {
    /// A log segmented at `boundaries` (any order, duplicates allowed).
    pub fn new(mut boundaries: Vec<SimTime>) -> TrafficLog {
        boundaries.sort_unstable();
        boundaries.dedup();
        TrafficLog {
            segments: vec![Aggregate::default(); boundaries.len() + 1],
            boundaries,
            last: None,
            completed: 0,
        }
    }

    /// Folds in a completed request.
    pub fn record(&mut self, r: RequestRecord) {
        let i = self.boundaries.partition_point(|b| *b <= r.sent);
        self.segments[i].add(self.completed, &r);
        self.completed += 1;
        if self.last.as_ref().is_none_or(|l| r.sent >= l.sent) {
            self.last = Some(r);
        }
    }

    /// Requests completed so far.
    pub fn completed(&self) -> u64 {
        self.completed
    }

    /// The request sent last.
    pub fn last(&self) -> Option<&RequestRecord> {
        self.last.as_ref()
    }

    /// The requests whose send time `t` satisfies `include(t)`, where `include` changes value
    /// only at the instants in `cuts` (a window's ends). Panics when a segment's requests lie
    /// on both sides of a cut: that cut was not registered as a boundary (an mcsim bug).
    pub fn sum(&self, cuts: &[SimTime], include: impl Fn(SimTime) -> bool) -> Selection<'_> {
        let mut segments = Vec::new();
        for seg in &self.segments {
            let Some((first, last)) = seg.span else {
                continue;
            };
            if let Some(c) = cuts.iter().find(|c| first < **c && **c <= last) {
                panic!(
                    "traffic window boundary {c} was not registered: requests sent from {first} to {last} cannot be split"
                );
            }
            if include(first) {
                segments.push(seg);
            }
        }
        Selection { segments }
    }

    /// The requests sent in `[from, to)` (`to = None`: to the end of the run).
    pub fn window(&self, from: SimTime, to: Option<SimTime>) -> Selection<'_> {
        let cuts: Vec<SimTime> = std::iter::once(from).chain(to).collect();
        self.sum(&cuts, |t| from <= t && to.is_none_or(|to| t < to))
    }
}

/// The segments a query selected; counts are cheap, [`Selection::merged`] builds the whole
/// aggregate (failure reasons, served-by, latency histogram) only when a report needs it.
pub struct Selection<'a> {
    segments: Vec<&'a Aggregate>,
}

impl Selection<'_> {
    pub fn sent(&self) -> u64 {
        self.segments.iter().map(|s| s.sent).sum()
    }

    pub fn ok(&self) -> u64 {
        self.segments.iter().map(|s| s.ok).sum()
    }

    /// `ok / sent`; `None` when nothing was sent.
    pub fn ratio(&self) -> Option<f64> {
        let sent = self.sent();
        (sent > 0).then(|| self.ok() as f64 / sent as f64)
    }

    /// The first failure reason to complete.
    pub fn first_failure(&self) -> Option<&str> {
        self.segments
            .iter()
            .filter_map(|s| s.first_failure.as_ref())
            .min_by_key(|(seq, _)| *seq)
            .map(|(_, r)| r.as_str())
    }

    /// Everything about the selected requests in one aggregate.
    pub fn merged(&self) -> Aggregate {
        let mut total = Aggregate::default();
        for seg in &self.segments {
            total.merge(seg);
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(sent_ms: u64, latency_ms: u64, ok: bool) -> RequestRecord {
        RequestRecord {
            sent: SimTime(sent_ms * 1_000_000),
            done: SimTime((sent_ms + latency_ms) * 1_000_000),
            result: if ok {
                Ok(format!("east/default/pod-{}", sent_ms % 3))
            } else {
                Err(format!("timeout {}", sent_ms % 2))
            },
        }
    }

    /// Windows on registered boundaries give exactly what a list of every request gives.
    #[test]
    fn windows_on_registered_boundaries_match_the_full_list() {
        let b = |ms: u64| SimTime(ms * 1_000_000);
        let mut log = TrafficLog::new(vec![b(500), b(200), b(800), b(500)]);
        let all: Vec<RequestRecord> = (0..1000)
            .map(|i| req(i, 50 + (i * 7919) % 40, i % 5 != 0))
            .collect();
        for r in &all {
            log.record(r.clone());
        }
        for (from, to) in [(0, Some(200)), (200, Some(800)), (500, None), (0, None)] {
            let selection = log.window(b(from), to.map(b));
            let w = selection.merged();
            assert_eq!(selection.sent(), w.sent);
            assert_eq!(selection.first_failure(), w.first_failure());
            let list: Vec<&RequestRecord> = all
                .iter()
                .filter(|r| r.sent >= b(from) && to.is_none_or(|t| r.sent < b(t)))
                .collect();
            assert_eq!(w.sent, list.len() as u64);
            assert_eq!(
                w.ok,
                list.iter().filter(|r| r.result.is_ok()).count() as u64
            );
            let mut lat: Vec<u64> = list
                .iter()
                .filter(|r| r.result.is_ok())
                .map(|r| r.done.saturating_since(r.sent).0)
                .collect();
            lat.sort_unstable();
            // Whole-millisecond latencies sit at the start of their bucket: + 5 µs.
            let p = |q: u64| {
                (lat[((lat.len() as u64 - 1) * q / 100) as usize] + LATENCY_BUCKET_NS / 2) as f64
                    / 1e6
            };
            assert_eq!(w.percentile_ms(50), Some(p(50)));
            assert_eq!(w.percentile_ms(99), Some(p(99)));
            let first = list.iter().find_map(|r| r.result.as_ref().err());
            assert_eq!(w.first_failure(), first.map(String::as_str));
        }
        assert_eq!(log.last().unwrap().sent, b(999));
    }

    #[test]
    #[should_panic(expected = "was not registered")]
    fn a_window_on_an_unregistered_instant_is_an_mcsim_bug() {
        let mut log = TrafficLog::new(vec![SimTime(100)]);
        for t in [150, 250, 350] {
            log.record(RequestRecord {
                sent: SimTime(t),
                done: SimTime(t + 10),
                result: Ok("a/b/c".into()),
            });
        }
        let _ = log.window(SimTime(300), None);
    }
}
