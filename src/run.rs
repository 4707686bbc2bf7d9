//! Running one scenario: build the kernel and world, drive the event loop to the end of the
//! scenario (or `--until`), feed observations to the checks, and assemble the report.

use crate::check::{self, Checker};
use crate::report::timeline::{self, Sampler, Timeline};
use crate::report::{FaultRow, GatewayRow, Report, Verdict};
use crate::scenario::Scenario;
use crate::sim::trace::TraceRecord;
use crate::sim::{
    Exploration, Kernel, KernelConfig, RunOutcome, Schedule, SimDuration, SimTime, Tape,
};
use crate::world::view::WorldView;
use crate::world::{Msg, World};
use std::ops::ControlFlow;
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
    /// Tests: compare every incremental kubelet and garbage-collector pass with the full pass;
    /// the report gains a `cross-check.incremental` result.
    pub cross_check: bool,
    /// Sample the run over time for `--html`, `--metrics` and `--trace-perfetto`
    /// ([`crate::report::timeline`]); reading only, the trace is the same.
    pub timeline: bool,
}

/// The objects of one cluster at the end of a run, as Kubernetes YAML and JSON lists.
pub struct ClusterDump {
    pub cluster: String,
    pub yaml: String,
    pub json: String,
    /// The log of each controller in the cluster that keeps one: (component, lines as
    /// `t=… message`), the component being `service-mirror-<link>`, `local-service-mirror` or
    /// `destination` (its cluster store).
    pub logs: Vec<(String, String)>,
}

pub struct RunResult {
    pub report: Report,
    pub trace: Option<Vec<TraceRecord>>,
    pub component_names: Vec<String>,
    pub decisions: Tape,
    pub dumps: Vec<ClusterDump>,
    /// The run over time, when [`RunOptions::timeline`] asked for it (and the run was not
    /// ended by an mcsim panic).
    pub timeline: Option<Timeline>,
}

/// The kernel and world of one run, before the first event.
fn setup(
    scenario: &Arc<Scenario>,
    options: &RunOptions,
) -> Result<(u64, Kernel<Msg>, World), String> {
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
    let steps = if options.timeline {
        timeline::boundaries(timeline_step(scenario), scenario.duration)
    } else {
        Vec::new()
    };
    world.set_traffic_boundaries(|flow| {
        let mut at = crate::check::traffic::window_boundaries(scenario, flow, options.until);
        at.extend(&steps);
        at
    });
    Ok((seed, kernel, world))
}

/// The timeline's sampling step for `scenario`.
fn timeline_step(scenario: &Scenario) -> SimDuration {
    timeline::step_for(scenario.duration)
}

/// Builds the world of `scenario` without running it: what `mcsim check` adds to loading, so
/// that it refuses every scenario `mcsim run` would refuse (manifest objects the API server
/// rejects, faults that do not apply to the topology, ...).
pub fn validate(scenario: &Arc<Scenario>) -> Result<(), String> {
    crate::panics::catch(|| setup(scenario, &RunOptions::default()).map(|_| ()))
        .unwrap_or_else(|panic| Err(format!("mcsim panicked while building the world: {panic}")))
}

/// How the event loop of one run ended.
struct Driven {
    outcome: RunOutcome,
    /// The message and location of an mcsim panic that ended the run.
    panic: Option<String>,
}

/// Runs `scenario`. Fails only when the scenario describes a world that cannot be built (a
/// user error reported like a scenario diagnostic). A panic inside mcsim (building the world,
/// a component, a check) ends the run with the verdict `internal-error`, the panic in the
/// report, and whatever the run had reached.
pub fn run(scenario: Arc<Scenario>, options: &RunOptions) -> Result<RunResult, String> {
    let seed = options.seed.unwrap_or(scenario.seed);
    let (seed, mut kernel, mut world) = match crate::panics::catch(|| setup(&scenario, options)) {
        Ok(built) => built?,
        Err(panic) => return Ok(unbuilt(&scenario, seed, panic)),
    };
    if options.cross_check {
        world.enable_cross_checks();
    }
    let mut checker = Checker::new(if options.no_checks {
        Vec::new()
    } else {
        check::checks_for(&world.scenario)
    });
    let end = SimTime::ZERO
        + options
            .until
            .unwrap_or(scenario.duration)
            .min(scenario.duration);
    let mut sampler = options
        .timeline
        .then(|| Sampler::new(&world, timeline_step(&scenario), options.record_trace));
    let driven = drive(
        &mut kernel,
        &mut world,
        &mut checker,
        sampler.as_mut(),
        end,
        scenario.events_max,
    );
    let mut result = match driven.panic {
        None => crate::panics::catch(|| {
            let mut result = conclude(&kernel, &world, checker, driven.outcome, end, options, seed);
            result.timeline = sampler.map(|s| s.finish(&world, SimTime(result.report.reached_ns)));
            result
        })
        .map_err(|panic| (panic, None)),
        Some(panic) => Err((panic, Some(checker))),
    }
    .unwrap_or_else(|(panic, checker)| {
        let checks = checker
            .map(|c| c.abandon("mcsim panicked"))
            .unwrap_or_default();
        abandoned(&kernel, &world, seed, panic, checks)
    });
    result.trace = kernel.trace().records().map(<[TraceRecord]>::to_vec);
    result.component_names = kernel.component_names().to_vec();
    result.decisions = kernel.schedule().recorded();
    Ok(result)
}

/// The event loop: delivers events up to `end` (or the event budget), feeding observations
/// to the checks; stops at an mcsim panic.
fn drive(
    kernel: &mut Kernel<Msg>,
    world: &mut World,
    checker: &mut Checker,
    mut sampler: Option<&mut Sampler>,
    end: SimTime,
    events_max: u64,
) -> Driven {
    // One guard around the whole loop (a guard per event costs ~5% of a fuzz case); after a
    // panic the kernel and world are still there to report what the run had reached.
    let looped = crate::panics::catch(|| {
        kernel.run_observed(world, end, events_max, |world: &mut World, step| {
            let observations = if world.observations.is_empty() {
                Vec::new()
            } else {
                std::mem::take(&mut world.observations)
            };
            for (at, obs) in &observations {
                checker.observe(step.seq, *at, obs, WorldView::new(world));
            }
            if let Some(sampler) = sampler.as_deref_mut() {
                sampler.observe(world, step.at, &observations);
            }
            ControlFlow::Continue(())
        })
    });
    match looped {
        Ok(outcome) => Driven {
            outcome,
            panic: None,
        },
        Err(panic) => Driven {
            outcome: RunOutcome::ReachedTime,
            panic: Some(panic),
        },
    }
}

/// The report of a run whose event loop ended normally (trace, component names and
/// decisions are filled in by the caller).
fn conclude(
    kernel: &Kernel<Msg>,
    world: &World,
    checker: Checker,
    outcome: RunOutcome,
    end: SimTime,
    options: &RunOptions,
    seed: u64,
) -> RunResult {
    let scenario = &world.scenario;
    let scenario_end = SimTime::ZERO + scenario.duration;
    // A run that ran out of events or was quiescent has seen everything up to `end`; one
    // stopped by the event budget has seen only up to its last event.
    let reached = match outcome {
        RunOutcome::EventLimit | RunOutcome::Stopped => kernel.now(),
        RunOutcome::ReachedTime | RunOutcome::Quiescent => end,
    };
    let stopped_early = match outcome {
        RunOutcome::EventLimit => Some(format!(
            "the run stopped at the event limit ([sim] events_max = {}) at t={reached}, before the scenario's end {scenario_end}",
            scenario.events_max
        )),
        _ if end < scenario_end => Some(format!(
            "the run stopped at t={end} (--until), before the scenario's end {scenario_end}"
        )),
        _ => None,
    };
    let unreached = unreached_schedule(world, reached, outcome == RunOutcome::EventLimit);
    // Reports and checks judge requests sent before `judged_end`: the end of the run, a
    // registered boundary of the traffic logs; a run cut by its event budget stopped at no
    // registered instant, so it counts everything it sent, up to and including `reached`.
    let judged_end = match outcome {
        RunOutcome::EventLimit => reached + crate::sim::SimDuration(1),
        _ => reached,
    };
    let view = WorldView::new(world);
    let traffic = crate::check::traffic::rows(view, judged_end);
    let traffic_per_fault = crate::check::traffic::fault_tables(view, judged_end);
    let (mut results, convergence) = checker.finish(view, judged_end, stopped_early.as_deref());
    if options.cross_check {
        let mismatches = world.cross_check_mismatches();
        results.push(crate::check::CheckResult::new(
            "cross-check.incremental",
            crate::check::CheckClass::Internal,
            mismatches.is_empty(),
            match mismatches.first() {
                None => "every incremental kubelet and GC pass matched the full pass".into(),
                Some(first) => format!("{} mismatching pass(es); first: {first}", mismatches.len()),
            },
        ));
    }
    let verdict = Verdict::of(&results, stopped_early.is_some() || !unreached.is_empty());
    let report = Report {
        verdict,
        exit_code: verdict.exit_code(),
        scenario: scenario.name.clone(),
        source: scenario.source.clone(),
        seed,
        trace_hash: crate::sim::trace::format_hash(kernel.trace().hash()),
        events: kernel.delivered(),
        end_time_ns: scenario_end.0,
        reached_ns: reached.0,
        outcome: match outcome {
            RunOutcome::EventLimit => "event-limit",
            RunOutcome::Stopped => "stopped",
            _ if end < scenario_end => "until",
            RunOutcome::ReachedTime => "completed",
            RunOutcome::Quiescent => "quiescent",
        }
        .into(),
        stopped_early,
        unreached,
        panic: None,
        faults: fault_rows(world),
        checks: results,
        convergence,
        traffic,
        traffic_per_fault,
        gateways: gateway_rows(world),
    };
    RunResult {
        dumps: if options.dump {
            dumps(world)
        } else {
            Vec::new()
        },
        report,
        trace: None,
        component_names: Vec::new(),
        decisions: Tape::default(),
        timeline: None,
    }
}

/// The report of a run that mcsim's own panic ended at the kernel's current time: the safety
/// violations seen so far, every other check not judged.
fn abandoned(
    kernel: &Kernel<Msg>,
    world: &World,
    seed: u64,
    panic: String,
    checks: Vec<crate::check::CheckResult>,
) -> RunResult {
    let scenario = &world.scenario;
    let report = Report {
        stopped_early: Some(format!("mcsim panicked at t={}", kernel.now())),
        reached_ns: kernel.now().0,
        events: kernel.delivered(),
        trace_hash: crate::sim::trace::format_hash(kernel.trace().hash()),
        faults: fault_rows(world),
        checks,
        ..Report::internal_error(scenario, seed, panic)
    };
    RunResult {
        dumps: Vec::new(),
        report,
        trace: None,
        component_names: Vec::new(),
        decisions: Tape::default(),
        timeline: None,
    }
}

/// The report of a run whose world panicked while being built.
fn unbuilt(scenario: &Scenario, seed: u64, panic: String) -> RunResult {
    RunResult {
        dumps: Vec::new(),
        report: Report {
            stopped_early: Some("mcsim panicked while building the world".into()),
            ..Report::internal_error(scenario, seed, panic)
        },
        trace: None,
        component_names: Vec::new(),
        decisions: Tape::default(),
        timeline: None,
    }
}

fn fault_rows(world: &World) -> Vec<FaultRow> {
    world
        .fired_faults()
        .iter()
        .map(|f| FaultRow {
            index: f.index,
            kind: f.kind.into(),
            description: f.description.clone(),
            at_ns: f.at.0,
            healed_ns: f.healed_at.map(|t| t.0),
        })
        .collect()
}

/// `linkerd multicluster gateways` of every service mirror at the end.
fn gateway_rows(world: &World) -> Vec<GatewayRow> {
    world
        .link_mirrors()
        .into_iter()
        .map(|(cluster, m)| {
            let metrics = m.probe_metrics();
            GatewayRow {
                mirror: format!(
                    "{}/{}",
                    world.scenario.clusters[cluster].name, m.settings.link_name
                ),
                gateway_alive: metrics.map(|p| p.gateway_alive),
                watcher_alive: m.gateway_alive(),
                probes_successful: metrics.map(|p| p.probes_successful).unwrap_or(0),
                probes_failed: metrics.map(|p| p.probes_failed).unwrap_or(0),
                latency_ms: metrics.and_then(|p| p.gateway_latency_ms),
                endpoint_repairs: m.endpoint_repairs(),
            }
        })
        .collect()
}

/// Every cluster's objects and controller logs at the end (`--dump`).
fn dumps(world: &World) -> Vec<ClusterDump> {
    let mirrors = world.mirrors();
    let render = |log: &[(SimTime, String)]| -> String {
        log.iter()
            .map(|(t, line)| format!("t={t} {line}\n"))
            .collect()
    };
    world
        .apis
        .iter()
        .zip(&world.scenario.clusters)
        .enumerate()
        .map(|(i, (api, c))| {
            let mut logs: Vec<(String, String)> = mirrors
                .iter()
                .filter(|(cluster, _)| *cluster == i)
                .map(|(_, m)| (m.component(), render(&m.log)))
                .collect();
            if let Some(d) = world.destination(i) {
                logs.push(("destination".into(), render(&d.log)));
            }
            ClusterDump {
                cluster: c.name.clone(),
                yaml: crate::k8s::manifest::dump_yaml(api.server.objects()),
                json: crate::k8s::manifest::dump_json(api.server.objects()),
                logs,
            }
        })
        .collect()
}

/// The scripted faults, heals and actions due before the scenario's end that the run did not
/// reach (it stopped at `reached`; with `cut`, at the event budget, so events due at `reached`
/// itself may not have been delivered either).
fn unreached_schedule(world: &World, reached: SimTime, cut: bool) -> Vec<String> {
    let s = &world.scenario;
    let scenario_end = SimTime::ZERO + s.duration;
    let missed = |due: SimTime| due <= scenario_end && (due > reached || (cut && due == reached));
    let mut out = Vec::new();
    for (i, f) in s.faults.iter().enumerate() {
        let due = SimTime::ZERO + f.at;
        let fired = world.fired_faults().iter().find(|x| x.index == i);
        if fired.is_none() && missed(due) {
            out.push(format!("fault #{i} ({}) due at {due}", f.kind));
        } else if let Some(d) = f.duration
            && fired.is_none_or(|x| x.healed_at.is_none())
            && missed(due + d)
        {
            out.push(format!(
                "heal of fault #{i} ({}) due at {}",
                f.kind,
                due + d
            ));
        }
    }
    for (i, a) in s.actions.iter().enumerate() {
        let due = SimTime::ZERO + a.at;
        if missed(due) {
            out.push(format!("action #{i} ({}) due at {due}", a.kind.describe()));
        }
    }
    out
}

/// What [`run_until_converged`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Converged {
    /// Virtual time of the last API-server write before convergence was detected: the world's
    /// stores were already in their converged state then (no write happened between it and the
    /// detection). `None`: not converged by the end of the scenario or its event budget.
    pub at: Option<SimTime>,
    /// Virtual time at which the oracle first passed (at most `poll` after the first instant
    /// the service mirrors were idle in the converged state).
    pub detected_at: Option<SimTime>,
    /// Events delivered until then (or until the end).
    pub events: u64,
    /// Times the convergence oracle ran.
    pub evaluations: u32,
    /// Mirrors the oracle judged at the last evaluation (one per exported service and link).
    pub mirrors: usize,
    /// The oracle's first problems at the last failed evaluation (at most 10).
    pub problems: Vec<String>,
}

/// Every exported service of the scenario has all its replicas ready in its own cluster.
fn targets_ready(world: &World) -> Result<(), String> {
    use crate::k8s::store::ObjectView;
    use crate::k8s::{Kind, ObjectKey};
    let s = &world.scenario;
    let services = s
        .services
        .iter()
        .filter(|v| v.export != crate::scenario::Export::None)
        .map(|v| (&v.cluster, &v.namespace, &v.name, v.replicas));
    let sets = s
        .statefulsets
        .iter()
        .filter(|v| v.export != crate::scenario::Export::None)
        .map(|v| (&v.cluster, &v.namespace, &v.service, v.replicas));
    for (cluster, ns, name, replicas) in services.chain(sets) {
        let Some(ci) = world.cluster_index(cluster) else {
            continue;
        };
        let ready = world.apis[ci]
            .server
            .store()
            .get(&ObjectKey::new(Kind::Endpoints, ns, name))
            .and_then(|o| o.as_endpoints())
            .map_or(0, |e| e.subsets.iter().map(|s| s.addresses.len()).sum());
        if ready != replicas as usize {
            return Err(format!(
                "{cluster}: {ns}/{name} has {ready} of {replicas} endpoints ready"
            ));
        }
    }
    Ok(())
}

/// Runs `scenario` (without checks) until every exported service has all its endpoints ready in
/// its own cluster *and* the convergence oracle (`check::convergence`) finds every mirror
/// exact in every linking cluster, or until the end of the scenario. The oracle runs only when
/// every service mirror is idle, an API server has been written since its last run, and at
/// least `poll` of virtual time has passed since its last run, so its cost stays small.
pub fn run_until_converged(
    scenario: Arc<Scenario>,
    options: &RunOptions,
    poll: SimDuration,
) -> Result<Converged, String> {
    let (_, mut kernel, mut world) = setup(&scenario, options)?;
    let end = SimTime::ZERO
        + options
            .until
            .unwrap_or(scenario.duration)
            .min(scenario.duration);
    let mut result = Converged {
        at: None,
        detected_at: None,
        events: 0,
        evaluations: 0,
        mirrors: 0,
        problems: Vec::new(),
    };
    let mut last_write = SimTime::ZERO;
    let mut written = WorldView::new(&world).revision();
    let mut evaluated: Option<(SimTime, u64)> = None;
    let mut last_event = kernel.now();
    let evaluate = |world: &World, now: SimTime, last_write: SimTime, result: &mut Converged| {
        result.evaluations += 1;
        let eval = crate::check::convergence::Convergence::evaluate(WorldView::new(world));
        result.mirrors = eval.judged.len();
        result.problems = match targets_ready(world) {
            Err(p) => vec![p],
            Ok(()) => eval.problems.into_iter().take(10).collect(),
        };
        if result.problems.is_empty() {
            result.at = Some(last_write);
            result.detected_at = Some(now);
        }
    };
    kernel.run_observed(
        &mut world,
        end,
        scenario.events_max,
        |world: &mut World, step| {
            world.observations.clear();
            let now = step.at;
            last_event = now;
            let view = WorldView::new(world);
            let rev = view.revision();
            if rev != written {
                written = rev;
                last_write = now;
            }
            let due = evaluated.is_none_or(|(t, r)| r != rev && now >= t + poll);
            if due && view.mirrors_idle() {
                evaluated = Some((now, rev));
                evaluate(world, now, last_write, &mut result);
                if result.at.is_some() {
                    return ControlFlow::Break(());
                }
            }
            ControlFlow::Continue(())
        },
    );
    if result.at.is_none() && evaluated.is_none_or(|(_, r)| r != WorldView::new(&world).revision())
    {
        evaluate(&world, last_event, last_write, &mut result);
    }
    result.events = kernel.delivered();
    Ok(result)
}
