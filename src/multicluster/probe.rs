//! The gateway probe worker (spec §8.3) as a state machine, with its metrics (§8.4).
//!
//! Owns: [`ProbeWorker`] — the jittered ticker (`period + U[0, period/10)` between ticks,
//! first tick one jittered period after start), no overlapping probes (a tick that finds a
//! probe in flight is dropped), the consecutive-failure threshold, "HTTP 200 only", the
//! worker's own liveness flag (initially NOT alive, unless the `probe-starts-alive` fix), and
//! the per-link probe metrics.
//!
//! Inputs: `on_tick(now, rng)` when the tick the worker asked for fires, `on_result(now, id,
//! result)` when a probe finishes (the caller enforces the per-probe `timeout` carried in the
//! request and reports `ProbeResult::Error` when it expires). Outputs: probe requests (an HTTP
//! GET of `http://<probe service>:<port><path>`), the next tick delay, and liveness changes to
//! deliver to the watcher (each triggers `RepairEndpoints`).
//! Must not touch: the network (it only asks for probes), clocks, randomness other than the
//! `Prng` argument.

use super::config::{Fix, Fixes};
use crate::k8s::objects::Link;
use crate::sim::{Prng, SimDuration, SimTime};

/// Histogram buckets of `gateway_probe_latency_ms` (1 … 50000 ms).
pub const LATENCY_BUCKETS_MS: [u64; 14] = [
    1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 50000,
];

/// The per-link probe metrics (label `target_cluster_name`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProbeMetrics {
    /// `gateway_enabled`: 1 once a probe worker exists.
    pub gateway_enabled: u8,
    /// `gateway_alive`: created at 0, 1 after a success, 0 at/after the failure threshold.
    pub gateway_alive: u8,
    /// `gateway_latency` (ms) of the last successful probe.
    pub gateway_latency_ms: Option<u64>,
    /// `gateway_probe_latency_ms` cumulative bucket counts (same order as
    /// [`LATENCY_BUCKETS_MS`]), plus count and sum.
    pub latency_buckets: [u64; 14],
    pub latency_count: u64,
    pub latency_sum_ms: u64,
    /// `gateway_probes{probe_successful="true"}`.
    pub probes_successful: u64,
    /// `gateway_probes{probe_successful="false"}` (counted only at/after the threshold).
    pub probes_failed: u64,
}

/// One probe to perform.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeRequest {
    pub id: u64,
    /// The probe Service name (`probe-<link>`), resolved by the controller's proxy.
    pub host: String,
    pub port: String,
    pub path: String,
    /// The HTTP client timeout: report `ProbeResult::Error` if no response by then.
    pub timeout: SimDuration,
}

/// How a probe ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProbeResult {
    /// A response arrived; success iff `status == 200`.
    Response { status: u16, latency: SimDuration },
    /// Timeout, refused, reset, TLS failure...
    Error(String),
}

/// What a tick produced.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProbeTick {
    pub request: Option<ProbeRequest>,
    /// A liveness change to send (only when the probe failed without a request, e.g. an
    /// unparsable timeout).
    pub liveness: Option<bool>,
    /// When to tick next (`None` once the worker has exited).
    pub next_tick_after: Option<SimDuration>,
}

/// Where the worker is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProbeWorkerState {
    /// Probing every period.
    Running {
        period: SimDuration,
        failure_threshold: u64,
    },
    /// `period` or `failureThreshold` did not parse: logged, no probing ever (#13586).
    Exited { reason: String },
    /// The Go ticker would panic (`rand.Int63n` with a non-positive max jitter, i.e. a period
    /// under 10 ns): the controller process crashes.
    Crashed { reason: String },
}

#[derive(Clone, Debug)]
pub struct ProbeWorker {
    state: ProbeWorkerState,
    host: String,
    port: String,
    path: String,
    /// `Err` if `probeSpec.timeout` does not parse: every probe then fails without a request.
    timeout: Result<SimDuration, String>,
    alive: bool,
    failures: u64,
    in_flight: Option<u64>,
    next_id: u64,
    metrics: ProbeMetrics,
    log: Vec<String>,
}

/// Go's `time.ParseDuration` for the inputs that matter: a unit is required except for "0";
/// signs are accepted (a negative period makes the worker exit here).
pub(crate) fn parse_go_duration(text: &str) -> Result<SimDuration, String> {
    let t = text.strip_prefix('+').unwrap_or(text);
    if t.starts_with('-') {
        return Err(format!(
            "time: negative duration \"{text}\" is not supported here"
        ));
    }
    if !t.is_empty() && t != "0" && t.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Err(format!("time: missing unit in duration \"{text}\""));
    }
    SimDuration::parse(t).map_err(|_| format!("time: invalid duration \"{text}\""))
}

impl ProbeWorker {
    /// `NewProbeWorker` for a Link, or `None` when `probeSpec.path` is empty (no worker at
    /// all). `probe_service` is the probe Service name (`probe-<link>`).
    pub fn for_link(link: &Link, probe_service: &str, fixes: &Fixes) -> Option<ProbeWorker> {
        let spec = &link.spec.probe_spec;
        if spec.path.is_empty() {
            return None;
        }
        let mut log = vec![];
        let state = match parse_go_duration(&spec.period) {
            Err(e) => {
                log.push(format!("error: could not parse probe period: {e}"));
                ProbeWorkerState::Exited {
                    reason: format!("could not parse probe period: {e}"),
                }
            }
            Ok(period) if period.0 / 10 == 0 => ProbeWorkerState::Crashed {
                reason: "panic: invalid argument to Int63n (probe period under 10ns)".to_string(),
            },
            Ok(period) => match spec.failure_threshold.parse::<u32>() {
                Ok(t) => ProbeWorkerState::Running {
                    period,
                    failure_threshold: u64::from(t),
                },
                Err(_) => {
                    let e = format!(
                        "could not parse failure threshold: strconv.ParseUint: parsing \"{}\": invalid syntax",
                        spec.failure_threshold
                    );
                    log.push(format!("error: {e}"));
                    ProbeWorkerState::Exited { reason: e }
                }
            },
        };
        let metrics = ProbeMetrics {
            gateway_enabled: 1,
            ..ProbeMetrics::default()
        };
        Some(ProbeWorker {
            state,
            host: probe_service.to_string(),
            port: spec.port.clone(),
            path: spec.path.clone(),
            timeout: parse_go_duration(&spec.timeout)
                .map_err(|e| format!("could not parse timeout: {e}")),
            alive: fixes.has(Fix::ProbeStartsAlive),
            failures: 0,
            in_flight: None,
            next_id: 0,
            metrics,
            log,
        })
    }

    pub fn state(&self) -> &ProbeWorkerState {
        &self.state
    }
    /// The worker's own liveness flag (not the watcher's `gatewayAlive`).
    pub fn alive(&self) -> bool {
        self.alive
    }
    pub fn consecutive_failures(&self) -> u64 {
        self.failures
    }
    pub fn metrics(&self) -> &ProbeMetrics {
        &self.metrics
    }
    /// The probe in flight, if any.
    pub fn in_flight(&self) -> Option<u64> {
        self.in_flight
    }
    /// Log lines produced since the last call.
    pub fn take_log(&mut self) -> Vec<String> {
        std::mem::take(&mut self.log)
    }

    fn jittered(period: SimDuration, rng: &mut Prng) -> SimDuration {
        let max_jitter = period.0 / 10;
        period + SimDuration(rng.below(max_jitter))
    }

    /// Delay until the first tick (`None` if the worker is not running).
    pub fn first_tick_delay(&self, rng: &mut Prng) -> Option<SimDuration> {
        match &self.state {
            ProbeWorkerState::Running { period, .. } => Some(Self::jittered(*period, rng)),
            ProbeWorkerState::Exited { .. } | ProbeWorkerState::Crashed { .. } => None,
        }
    }

    /// A tick fired: start a probe unless one is in flight (the tick is then dropped).
    pub fn on_tick(&mut self, now: SimTime, rng: &mut Prng) -> ProbeTick {
        let ProbeWorkerState::Running { period, .. } = self.state.clone() else {
            return ProbeTick::default();
        };
        let mut tick = ProbeTick {
            next_tick_after: Some(Self::jittered(period, rng)),
            ..ProbeTick::default()
        };
        if self.in_flight.is_some() {
            return tick;
        }
        match self.timeout.clone() {
            Ok(timeout) => {
                self.next_id += 1;
                self.in_flight = Some(self.next_id);
                tick.request = Some(ProbeRequest {
                    id: self.next_id,
                    host: self.host.clone(),
                    port: self.port.clone(),
                    path: self.path.clone(),
                    timeout,
                });
            }
            Err(e) => tick.liveness = self.failure(now, e),
        }
        tick
    }

    /// A probe finished. Returns the liveness change to send to the watcher, if any. Results
    /// for unknown or stale ids are ignored.
    pub fn on_result(&mut self, now: SimTime, id: u64, result: ProbeResult) -> Option<bool> {
        if self.in_flight != Some(id) {
            return None;
        }
        self.in_flight = None;
        match result {
            ProbeResult::Response {
                status: 200,
                latency,
            } => self.success(latency),
            ProbeResult::Response { status, .. } => {
                self.failure(now, format!("gateway returned unexpected status {status}"))
            }
            ProbeResult::Error(e) => {
                self.failure(now, format!("problem connecting with gateway: {e}"))
            }
        }
    }

    fn success(&mut self, latency: SimDuration) -> Option<bool> {
        self.failures = 0;
        let ms = latency.as_millis();
        let m = &mut self.metrics;
        m.gateway_alive = 1;
        m.gateway_latency_ms = Some(ms);
        m.latency_count += 1;
        m.latency_sum_ms += ms;
        for (i, le) in LATENCY_BUCKETS_MS.iter().enumerate() {
            if ms <= *le {
                m.latency_buckets[i] += 1;
            }
        }
        m.probes_successful += 1;
        if self.alive {
            return None;
        }
        self.alive = true;
        Some(true)
    }

    fn failure(&mut self, _now: SimTime, why: String) -> Option<bool> {
        let ProbeWorkerState::Running {
            failure_threshold, ..
        } = self.state
        else {
            return None;
        };
        self.log.push(format!("warn: {why}"));
        self.failures += 1;
        if self.failures < failure_threshold {
            return None;
        }
        self.log.push(format!(
            "warn: Failure threshold ({failure_threshold}) reached - Marking as unhealthy"
        ));
        self.metrics.gateway_alive = 0;
        self.metrics.probes_failed += 1;
        if !self.alive {
            return None;
        }
        self.alive = false;
        Some(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(period: &str, threshold: &str, timeout: &str) -> Link {
        let mut l = Link::default();
        l.spec.target_cluster_name = "east".into();
        l.spec.probe_spec.path = "/ready".into();
        l.spec.probe_spec.port = "4191".into();
        l.spec.probe_spec.period = period.into();
        l.spec.probe_spec.failure_threshold = threshold.into();
        l.spec.probe_spec.timeout = timeout.into();
        l
    }

    fn ok() -> ProbeResult {
        ProbeResult::Response {
            status: 200,
            latency: SimDuration::from_millis(7),
        }
    }

    fn probe(w: &mut ProbeWorker, rng: &mut Prng, r: ProbeResult) -> Option<bool> {
        let t = w.on_tick(SimTime::ZERO, rng);
        let req = t.request.expect("a probe request");
        w.on_result(SimTime::ZERO, req.id, r)
    }

    #[test]
    fn no_path_no_worker() {
        let mut l = link("3s", "3", "30s");
        l.spec.probe_spec.path.clear();
        assert!(ProbeWorker::for_link(&l, "probe-east", &Fixes::none()).is_none());
    }

    #[test]
    fn unparsable_period_or_threshold_exits() {
        for (p, t) in [("3", "3"), ("", "3"), ("3s", ""), ("3s", "-1")] {
            let w =
                ProbeWorker::for_link(&link(p, t, "30s"), "probe-east", &Fixes::none()).unwrap();
            assert!(
                matches!(w.state(), ProbeWorkerState::Exited { .. }),
                "{p:?} {t:?}: {:?}",
                w.state()
            );
            assert_eq!(w.first_tick_delay(&mut Prng::stream(1, "p")), None);
        }
    }

    #[test]
    fn jitter_stays_below_a_tenth_of_the_period() {
        let w =
            ProbeWorker::for_link(&link("3s", "3", "30s"), "probe-east", &Fixes::none()).unwrap();
        let mut rng = Prng::stream(1, "probe");
        for _ in 0..200 {
            let d = w.first_tick_delay(&mut rng).unwrap();
            assert!(
                d >= SimDuration::from_secs(3) && d < SimDuration::from_millis(3300),
                "{d:?}"
            );
        }
    }

    #[test]
    fn starts_not_alive_so_a_dead_gateway_never_sends_false() {
        let mut rng = Prng::stream(1, "probe");
        let mut w =
            ProbeWorker::for_link(&link("3s", "3", "30s"), "probe-east", &Fixes::none()).unwrap();
        for _ in 0..5 {
            assert_eq!(
                probe(&mut w, &mut rng, ProbeResult::Error("refused".into())),
                None
            );
        }
        assert_eq!(w.metrics().gateway_alive, 0);
        assert_eq!(
            w.metrics().probes_failed,
            3,
            "counted at and after the threshold"
        );
        // The first success sends a (redundant for the watcher) `true`.
        assert_eq!(probe(&mut w, &mut rng, ok()), Some(true));
        assert_eq!(probe(&mut w, &mut rng, ok()), None);
        // Now a failure streak sends `false` exactly at the threshold.
        assert_eq!(
            probe(&mut w, &mut rng, ProbeResult::Error("x".into())),
            None
        );
        assert_eq!(
            probe(
                &mut w,
                &mut rng,
                ProbeResult::Response {
                    status: 503,
                    latency: SimDuration::ZERO
                }
            ),
            None
        );
        assert_eq!(
            probe(&mut w, &mut rng, ProbeResult::Error("x".into())),
            Some(false)
        );
        assert_eq!(
            probe(&mut w, &mut rng, ProbeResult::Error("x".into())),
            None
        );
    }

    #[test]
    fn probe_starts_alive_fix_reports_a_dead_gateway() {
        let mut rng = Prng::stream(1, "probe");
        let fixes = Fixes::none().with(Fix::ProbeStartsAlive);
        let mut w = ProbeWorker::for_link(&link("3s", "3", "30s"), "probe-east", &fixes).unwrap();
        assert_eq!(probe(&mut w, &mut rng, ok()), None, "no redundant true");
        for _ in 0..2 {
            assert_eq!(
                probe(&mut w, &mut rng, ProbeResult::Error("x".into())),
                None
            );
        }
        assert_eq!(
            probe(&mut w, &mut rng, ProbeResult::Error("x".into())),
            Some(false)
        );
    }

    #[test]
    fn ticks_during_a_probe_are_dropped() {
        let mut rng = Prng::stream(1, "probe");
        let mut w =
            ProbeWorker::for_link(&link("3s", "3", "30s"), "probe-east", &Fixes::none()).unwrap();
        let first = w.on_tick(SimTime::ZERO, &mut rng);
        let id = first.request.unwrap().id;
        let second = w.on_tick(SimTime(3_000_000_000), &mut rng);
        assert!(second.request.is_none());
        assert!(second.next_tick_after.is_some());
        assert_eq!(
            w.on_result(SimTime::ZERO, id + 1, ok()),
            None,
            "stale id ignored"
        );
        assert_eq!(w.on_result(SimTime::ZERO, id, ok()), Some(true));
        assert_eq!(w.metrics().gateway_latency_ms, Some(7));
        assert_eq!(w.metrics().latency_buckets[3], 1, "7 ms <= 10 ms");
        assert_eq!(w.metrics().latency_buckets[2], 0, "7 ms > 5 ms");
    }

    #[test]
    fn unparsable_timeout_fails_every_probe_without_a_request() {
        let mut rng = Prng::stream(1, "probe");
        let fixes = Fixes::none().with(Fix::ProbeStartsAlive);
        let mut w = ProbeWorker::for_link(&link("3s", "1", "soon"), "probe-east", &fixes).unwrap();
        let t = w.on_tick(SimTime::ZERO, &mut rng);
        assert!(t.request.is_none());
        assert_eq!(t.liveness, Some(false));
    }
}
