//! The run over time, for the HTML report, the OpenMetrics samples and the Perfetto counters: a
//! [`Sampler`] that the run loop calls after each delivered event (it only reads the world), and
//! the per-bucket traffic of every flow, read after the run from its request log (which the run
//! segments at every bucket boundary when a timeline is asked for; finer segments change no
//! other query's answer). Everything is in virtual time, so the timeline is deterministic.

use crate::k8s::store::ObjectView;
use crate::k8s::{Kind, ObjectKey};
use crate::multicluster::names::{LABEL_CLUSTER_NAME, LABEL_MIRRORED_SERVICE};
use crate::sim::{SimDuration, SimTime};
use crate::world::traffic_log::Aggregate;
use crate::world::{Observation, World};
use serde::Serialize;

/// The Linkerd proxy's `response_latency_ms` histogram buckets (ms).
pub const PROXY_LATENCY_BUCKETS_MS: [u64; 25] = [
    1, 2, 3, 4, 5, 10, 20, 30, 40, 50, 100, 200, 300, 400, 500, 1000, 2000, 3000, 4000, 5000,
    10000, 20000, 30000, 40000, 50000,
];

/// About 240 samples per run, at least one second apart, on whole milliseconds.
pub fn step_for(duration: SimDuration) -> SimDuration {
    let ms = duration.0.div_ceil(240 * 1_000_000).max(1_000);
    SimDuration(ms * 1_000_000)
}

/// Every bucket boundary up to `end` (registered in the traffic logs).
pub fn boundaries(step: SimDuration, end: SimDuration) -> Vec<SimTime> {
    (0..=end.0 / step.0).map(|i| SimTime(i * step.0)).collect()
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Timeline {
    pub step_ns: u64,
    /// The instants of the samples: every step from 0 to the end the run reached.
    pub times_ns: Vec<u64>,
    pub links: Vec<LinkSeries>,
    pub flows: Vec<FlowSeries>,
    /// Per (source cluster, destination cluster) pair, its flows' requests merged.
    pub pairs: Vec<FlowSeries>,
    /// The scripted actions the run reached: (time, what).
    pub actions: Vec<(u64, String)>,
    /// Every completed request (when spans were asked for), up to [`MAX_REQUESTS`].
    pub requests: Vec<RequestSpan>,
    /// Completed requests beyond [`MAX_REQUESTS`], not kept.
    pub requests_dropped: u64,
    /// Every cluster watcher of a service mirror, from its start to its stop (when spans were
    /// asked for).
    pub watchers: Vec<WatcherSpan>,
}

/// Requests kept for the Perfetto trace (about a day of one flow at 1/s).
pub const MAX_REQUESTS: usize = 100_000;

/// One request, from the time it was sent to its answer or failure.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct RequestSpan {
    /// The flow's position in the scenario.
    pub flow: usize,
    pub sent_ns: u64,
    pub done_ns: u64,
    /// `Ok(cluster/ns/pod)` or `Err(reason)`.
    pub result: Result<String, String>,
}

/// A service mirror's cluster watcher for one Link, from `WatcherStarted` to `WatcherStopped`.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct WatcherSpan {
    pub cluster: String,
    pub link: String,
    pub incarnation: u32,
    pub start_ns: u64,
    /// `None`: still running at the end.
    pub stop_ns: Option<u64>,
}

/// One per-Link service mirror over time.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct LinkSeries {
    /// The source cluster (where the controller runs).
    pub cluster: String,
    pub link: String,
    /// The link's target cluster.
    pub target: String,
    pub samples: Vec<LinkSample>,
}

/// A service mirror's state at one sample instant.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct LinkSample {
    /// `None` while no probe worker runs (the per-link series do not exist then).
    pub probe: Option<ProbeSample>,
    /// The watcher's own liveness flag (what decides mirror readiness); `None`: not running.
    pub watcher_alive: Option<bool>,
    /// Events ready in the watcher's queue; `None`: not running.
    pub queue_depth: Option<usize>,
    pub endpoint_repairs: u64,
    /// Mirror Services of this link in the source cluster, and those with a ready endpoint.
    pub mirrors: u32,
    pub mirrors_ready: u32,
}

/// The probe worker's metrics (spec §8.4) at one instant.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ProbeSample {
    pub gateway_enabled: u8,
    pub gateway_alive: u8,
    pub gateway_latency_ms: Option<u64>,
    pub probes_successful: u64,
    pub probes_failed: u64,
    pub latency_buckets: Vec<u64>,
    pub latency_count: u64,
    pub latency_sum_ms: u64,
}

/// One flow's (or pair's) requests per bucket, by send time.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct FlowSeries {
    pub from: String,
    /// The destination cluster.
    pub to: String,
    /// The authority called (`host:port`); for a pair, its flows' authorities joined by `, `.
    pub authority: String,
    pub buckets: Vec<FlowBucket>,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct FlowBucket {
    /// Requests sent in `[from_ns, from_ns + step)`.
    pub from_ns: u64,
    pub sent: u64,
    pub ok: u64,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    /// Successes at most each of [`PROXY_LATENCY_BUCKETS_MS`] (cumulative).
    pub latency_le: Vec<u64>,
    pub latency_sum_ms: f64,
}

impl FlowBucket {
    fn of(from_ns: u64, a: &Aggregate) -> FlowBucket {
        FlowBucket {
            from_ns,
            sent: a.sent,
            ok: a.ok,
            p50_ms: a.percentile_ms(50),
            p99_ms: a.percentile_ms(99),
            latency_le: a.latency_at_most(&PROXY_LATENCY_BUCKETS_MS),
            latency_sum_ms: a.latency_sum_ms(),
        }
    }
}

/// Takes a sample of every service mirror at every step, from inside the run loop.
pub struct Sampler {
    step: SimDuration,
    next: SimTime,
    times: Vec<u64>,
    links: Vec<LinkSeries>,
    /// Keep requests and watchers as spans.
    spans: bool,
    requests: Vec<RequestSpan>,
    requests_dropped: u64,
    watchers: Vec<WatcherSpan>,
}

impl Sampler {
    pub fn new(world: &World, step: SimDuration, spans: bool) -> Sampler {
        let links = world
            .link_mirrors()
            .into_iter()
            .map(|(ci, m)| {
                let link = m.settings.link_name.clone();
                let target = world
                    .scenario
                    .links
                    .iter()
                    .find(|l| l.from == world.scenario.clusters[ci].name && l.name == link)
                    .map(|l| l.to.clone())
                    .unwrap_or_default();
                LinkSeries {
                    cluster: world.scenario.clusters[ci].name.clone(),
                    link,
                    target,
                    samples: Vec::new(),
                }
            })
            .collect();
        Sampler {
            step,
            next: SimTime::ZERO,
            times: Vec::new(),
            links,
            spans,
            requests: Vec::new(),
            requests_dropped: 0,
            watchers: Vec::new(),
        }
    }

    /// After a delivery at `at`, with the observations it made: takes the samples due at or
    /// before `at` (the state after the first event at or after each sample instant: at most
    /// one event late), and the spans the observations end or begin.
    pub fn observe(&mut self, world: &World, at: SimTime, observations: &[(SimTime, Observation)]) {
        while self.next <= at {
            self.take(world);
        }
        if !self.spans {
            return;
        }
        for (when, obs) in observations {
            match obs {
                Observation::RequestDone {
                    traffic,
                    sent,
                    result,
                    ..
                } => {
                    if self.requests.len() < MAX_REQUESTS {
                        self.requests.push(RequestSpan {
                            flow: *traffic,
                            sent_ns: sent.0,
                            done_ns: when.0,
                            result: result.clone(),
                        });
                    } else {
                        self.requests_dropped += 1;
                    }
                }
                Observation::WatcherStarted {
                    cluster,
                    link,
                    incarnation,
                    ..
                } => {
                    self.stop_watcher(world, *cluster, link, *when);
                    self.watchers.push(WatcherSpan {
                        cluster: world.scenario.clusters[*cluster].name.clone(),
                        link: link.clone(),
                        incarnation: *incarnation,
                        start_ns: when.0,
                        stop_ns: None,
                    });
                }
                Observation::WatcherStopped { cluster, link } => {
                    self.stop_watcher(world, *cluster, link, *when)
                }
                _ => {}
            }
        }
    }

    /// Ends the running watcher of `link` in `cluster`, if any.
    fn stop_watcher(&mut self, world: &World, cluster: usize, link: &str, at: SimTime) {
        let name = &world.scenario.clusters[cluster].name;
        if let Some(w) = self
            .watchers
            .iter_mut()
            .rev()
            .find(|w| &w.cluster == name && w.link == link && w.stop_ns.is_none())
        {
            w.stop_ns = Some(at.0);
        }
    }

    fn take(&mut self, world: &World) {
        self.times.push(self.next.0);
        for (series, (ci, m)) in self.links.iter_mut().zip(world.link_mirrors()) {
            let (mirrors, ready) = mirror_counts(world, ci, &m.settings.link_name);
            series.samples.push(LinkSample {
                probe: m.probe_metrics().map(|p| ProbeSample {
                    gateway_enabled: p.gateway_enabled,
                    gateway_alive: p.gateway_alive,
                    gateway_latency_ms: p.gateway_latency_ms,
                    probes_successful: p.probes_successful,
                    probes_failed: p.probes_failed,
                    latency_buckets: p.latency_buckets.to_vec(),
                    latency_count: p.latency_count,
                    latency_sum_ms: p.latency_sum_ms,
                }),
                watcher_alive: m.gateway_alive(),
                queue_depth: m.queue_depth(),
                endpoint_repairs: m.endpoint_repairs(),
                mirrors,
                mirrors_ready: ready,
            });
        }
        self.next += self.step;
    }

    /// The timeline of a run that reached `reached`: the samples left up to it (nothing
    /// changed after the last event), and each flow's requests per step.
    pub fn finish(mut self, world: &World, reached: SimTime) -> Timeline {
        while self.next <= reached {
            self.take(world);
        }
        // The state at the end of the run, when it is not on a step.
        if self.times.last() != Some(&reached.0) {
            self.next = reached;
            self.take(world);
        }
        let view = crate::world::view::WorldView::new(world);
        let scenario = view.scenario();
        // Traffic buckets start on the steps before the end.
        let starts: Vec<SimTime> = self
            .times
            .iter()
            .map(|t| SimTime(*t))
            .filter(|t| t.0 % self.step.0 == 0 && *t < reached)
            .collect();
        let mut flows = Vec::new();
        let mut pairs: Vec<(FlowSeries, Vec<Aggregate>)> = Vec::new();
        for flow in view.flows() {
            let to =
                crate::check::oracle::target_cluster(scenario, &flow.spec.from, &flow.spec.host);
            let aggregates: Vec<Aggregate> = starts
                .iter()
                .map(|t| {
                    let stop = *t + self.step;
                    // The last bucket ends with the run (`None`: everything sent from `t` on).
                    flow.log
                        .window(*t, (stop < reached).then_some(stop))
                        .merged()
                })
                .collect();
            let series = |authority: String, aggregates: &[Aggregate]| FlowSeries {
                from: flow.spec.from.clone(),
                to: to.clone(),
                authority,
                buckets: starts
                    .iter()
                    .zip(aggregates)
                    .map(|(t, a)| FlowBucket::of(t.0, a))
                    .collect(),
            };
            flows.push(series(flow.authority(), &aggregates));
            match pairs
                .iter_mut()
                .find(|(p, _)| p.from == flow.spec.from && p.to == to)
            {
                Some((pair, merged)) => {
                    pair.authority = format!("{}, {}", pair.authority, flow.authority());
                    for (m, a) in merged.iter_mut().zip(&aggregates) {
                        m.merge(a);
                    }
                }
                None => pairs.push((series(flow.authority(), &aggregates), aggregates)),
            }
        }
        let pairs = pairs
            .into_iter()
            .map(|(mut p, merged)| {
                p.buckets = starts
                    .iter()
                    .zip(&merged)
                    .map(|(t, a)| FlowBucket::of(t.0, a))
                    .collect();
                p
            })
            .collect();
        let actions = scenario
            .actions
            .iter()
            .filter(|a| SimTime::ZERO + a.at <= reached)
            .map(|a| {
                (
                    a.at.0,
                    format!("{} ({}/{})", a.kind.describe(), a.cluster, a.namespace),
                )
            })
            .collect();
        Timeline {
            step_ns: self.step.0,
            times_ns: self.times,
            links: self.links,
            flows,
            pairs,
            actions,
            requests: self.requests,
            requests_dropped: self.requests_dropped,
            watchers: self.watchers,
        }
    }
}

/// Mirror Services of `link` in cluster `ci` (`linkerd multicluster gateways`' NUM_SVC), and
/// how many of them have a ready endpoint.
fn mirror_counts(world: &World, ci: usize, link: &str) -> (u32, u32) {
    let store = world.apis[ci].server.store();
    let mut mirrors = 0;
    let mut ready = 0;
    for svc in store.list(Kind::Service, None) {
        if !crate::k8s::store::has_label(svc, LABEL_MIRRORED_SERVICE, "true")
            || !crate::k8s::store::has_label(svc, LABEL_CLUSTER_NAME, link)
        {
            continue;
        }
        mirrors += 1;
        let has_ready = store
            .get(&ObjectKey::new(
                Kind::Endpoints,
                svc.namespace(),
                svc.name(),
            ))
            .and_then(|o| o.as_endpoints())
            .is_some_and(|e| e.subsets.iter().any(|s| !s.addresses.is_empty()));
        if has_ready {
            ready += 1;
        }
    }
    (mirrors, ready)
}
