//! Running one scenario: build the kernel and world, drive the event loop to the end of the
//! scenario (or `--until`), feed observations to the checks, and assemble the report.

use crate::check::{self, Checker};
use crate::report::{FaultRow, GatewayRow, Report};
use crate::scenario::Scenario;
use crate::sim::trace::TraceRecord;
use crate::sim::{
    Exploration, Kernel, KernelConfig, RunOutcome, Schedule, SimDuration, SimTime, Tape,
};
use crate::world::{Msg, World};
use std::sync::Arc;

#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Overrides the scenario's seed.
    pub seed: Option<u64>,
    /// Stops the run early.
    pub until: Option<SimDuration>,
    /// Keep every delivered event for `--trace`.
    pub record_trace: bool,
    /// `Fifo` (the default) leaves the scenario's own `[sim] exploration` in charge.
    pub exploration: Exploration,
    /// Replays recorded perturbation decisions instead of drawing them.
    pub tape: Option<Tape>,
    /// Record perturbation decisions (for replay files).
    pub record_decisions: bool,
    /// Run the checks (off only to prove checks do not change the trace).
    pub no_checks: bool,
    /// Keep every cluster's objects at the end of the run (for `--dump`).
    pub dump: bool,
}

/// The objects of one cluster at the end of a run, as Kubernetes YAML and JSON lists.
pub struct ClusterDump {
    pub cluster: String,
    pub yaml: String,
    pub json: String,
    /// The log of each service mirror in the cluster: (link, lines as `t=… level: message`).
    pub mirror_logs: Vec<(String, String)>,
}

pub struct RunResult {
    pub report: Report,
    pub trace: Option<Vec<TraceRecord>>,
    pub component_names: Vec<String>,
    pub decisions: Tape,
    pub dumps: Vec<ClusterDump>,
}

/// Runs `scenario`. Fails only when the scenario describes a world that cannot be built (a
/// user error reported like a scenario diagnostic).
pub fn run(scenario: Arc<Scenario>, options: &RunOptions) -> Result<RunResult, String> {
    let seed = options.seed.unwrap_or(scenario.seed);
    let mut config = KernelConfig::new(seed);
    config.record_trace = options.record_trace;
    let (exploration, tape) = if options.exploration == Exploration::Fifo && options.tape.is_none()
    {
        (scenario.exploration, scenario.decisions.as_ref())
    } else {
        (options.exploration, options.tape.as_ref())
    };
    config.schedule.exploration = exploration;
    config.schedule.record = options.record_decisions;
    if let Some(max) = scenario.fuzz.delay_perturbation_max {
        config.schedule.delay_perturbation_max = max;
    }
    let schedule_config = config.schedule.clone();
    let mut kernel: Kernel<Msg> = Kernel::new(config);
    if let Some(tape) = tape {
        kernel.set_schedule(Schedule::from_tape(seed, schedule_config, tape.clone()));
    }
    let mut world = World::build(scenario.clone(), &mut kernel)?;
    let mut checker = Checker::new(if options.no_checks {
        Vec::new()
    } else {
        check::checks_for(&world)
    });

    let end = SimTime::ZERO
        + options
            .until
            .unwrap_or(scenario.duration)
            .min(scenario.duration);
    let mut outcome = RunOutcome::ReachedTime;
    let budget_end = scenario.events_max;
    loop {
        match kernel.next_event_time() {
            None => {
                outcome = RunOutcome::Quiescent;
                break;
            }
            Some(t) if t > end => break,
            Some(_) => {}
        }
        if kernel.delivered() >= budget_end {
            outcome = RunOutcome::EventLimit;
            break;
        }
        let Some(step) = kernel.step(&mut world) else {
            break;
        };
        if !world.observations.is_empty() {
            let observations = std::mem::take(&mut world.observations);
            for (at, obs) in &observations {
                checker.observe(step.seq, *at, obs, &world);
            }
        }
    }
    let traffic = crate::check::traffic::rows(&world, end);
    let traffic_per_fault = crate::check::traffic::fault_tables(&world, end);
    let (results, convergence) = checker.finish(&world, end);
    let report = Report {
        scenario: scenario.name.clone(),
        source: scenario.source.clone(),
        seed,
        trace_hash: crate::sim::trace::format_hash(kernel.trace().hash()),
        events: kernel.delivered(),
        end_time_ns: end.0,
        outcome: match outcome {
            RunOutcome::ReachedTime => "completed",
            RunOutcome::Quiescent => "quiescent",
            RunOutcome::EventLimit => "event-limit",
        }
        .into(),
        faults: world
            .fired_faults
            .iter()
            .map(|f| FaultRow {
                index: f.index,
                kind: f.kind.into(),
                description: f.description.clone(),
                at_ns: f.at.0,
                healed_ns: f.healed_at.map(|t| t.0),
            })
            .collect(),
        checks: results,
        convergence,
        traffic,
        traffic_per_fault,
        gateways: world
            .mirrors()
            .into_iter()
            .map(|(cluster, m)| {
                let metrics = m.probe_metrics();
                GatewayRow {
                    mirror: format!(
                        "{}/{}",
                        scenario.clusters[cluster].name, m.settings.link_name
                    ),
                    gateway_alive: metrics.map(|p| p.gateway_alive),
                    watcher_alive: m.gateway_alive(),
                    probes_successful: metrics.map(|p| p.probes_successful).unwrap_or(0),
                    probes_failed: metrics.map(|p| p.probes_failed).unwrap_or(0),
                    latency_ms: metrics.and_then(|p| p.gateway_latency_ms),
                    endpoint_repairs: m.endpoint_repairs(),
                }
            })
            .collect(),
    };
    let dumps = if options.dump {
        let mirrors = world.mirrors();
        world
            .apis
            .iter()
            .zip(&scenario.clusters)
            .enumerate()
            .map(|(i, (api, c))| ClusterDump {
                cluster: c.name.clone(),
                yaml: crate::k8s::manifest::dump_yaml(api.server.objects()),
                json: crate::k8s::manifest::dump_json(api.server.objects()),
                mirror_logs: mirrors
                    .iter()
                    .filter(|(cluster, _)| *cluster == i)
                    .map(|(_, m)| {
                        let lines: String = m
                            .log
                            .iter()
                            .map(|(t, line)| format!("t={t} {line}\n"))
                            .collect();
                        (m.settings.link_name.clone(), lines)
                    })
                    .collect(),
            })
            .collect()
    } else {
        Vec::new()
    };
    Ok(RunResult {
        dumps,
        report,
        trace: kernel.trace().records().map(<[TraceRecord]>::to_vec),
        component_names: kernel.component_names().to_vec(),
        decisions: kernel.schedule().recorded(),
    })
}
