//! Workload swarm (opt-in with `[fuzz] workload = [...]`): per seed, changes to the workload
//! drawn on top of the scenario, as `kubectl`
//! would make them (scripted actions): a service unexported and exported again, an unexported
//! one exported for a while, a workload scaled (to zero included) and back, a label or an
//! annotation added and removed, a namespace created. Every change is undone before the
//! liveness window, as swarm faults heal, so the end state the checks judge is the scenario's;
//! the handlers that only run on such changes (spec §4.3: export, unexport, updates, scale,
//! namespaces) are exercised by fuzzing all the same.
//!
//! The draw comes from the seed's own `swarm-workload` stream, so adding it left every fault
//! draw as it was; a change is dropped when a swarm fault takes its API server away at that
//! moment (the action would not happen). Service-mirror restarts are the swarm's
//! `controller_crash` faults.

use crate::scenario::{ActionKind, ActionSpec, Export, FaultSpec, Scenario, WorkloadTag};
use crate::sim::{Prng, Ratio, SimDuration};

/// At most this many changes per case.
const MAX_CHANGES: u64 = 3;

/// A service (or a StatefulSet's governing Service) a change can target.
struct Target<'a> {
    cluster: &'a str,
    namespace: &'a str,
    name: &'a str,
    export: Export,
}

fn services(base: &Scenario) -> Vec<Target<'_>> {
    let plain = base.services.iter().map(|s| Target {
        cluster: &s.cluster,
        namespace: &s.namespace,
        name: &s.name,
        export: s.export,
    });
    let sets = base.statefulsets.iter().map(|s| Target {
        cluster: &s.cluster,
        namespace: &s.namespace,
        name: &s.service,
        export: s.export,
    });
    plain.chain(sets).collect()
}

/// Scalable workloads: (cluster, namespace, name, replicas).
fn workloads(base: &Scenario) -> Vec<(&str, &str, &str, u32)> {
    let from_services = base.services.iter().filter(|s| s.replicas > 0).map(|s| {
        (
            s.cluster.as_str(),
            s.namespace.as_str(),
            s.name.as_str(),
            s.replicas,
        )
    });
    let sets = base.statefulsets.iter().map(|s| {
        (
            s.cluster.as_str(),
            s.namespace.as_str(),
            s.name.as_str(),
            s.replicas,
        )
    });
    let deployments = base.deployments.iter().map(|d| {
        (
            d.cluster.as_str(),
            d.namespace.as_str(),
            d.name.as_str(),
            d.replicas,
        )
    });
    from_services.chain(sets).chain(deployments).collect()
}

/// Whether a swarm fault takes `cluster`'s API server away around `at`.
fn voided(faults: &[FaultSpec], cluster: &str, at: SimDuration) -> bool {
    faults.iter().any(|f| {
        let duration = f.duration.unwrap_or(SimDuration::ZERO);
        super::swarm::takes_api_server(&f.kind, f.at, duration, cluster, at)
    })
}

/// The workload changes of case `seed` of `base`, given its swarm `faults`, as actions in time
/// order.
pub fn draw(base: &Scenario, seed: u64, faults: &[FaultSpec]) -> Vec<ActionSpec> {
    let mut rng = Prng::stream(seed, "swarm-workload");
    let allowed: Vec<WorkloadTag> = base.fuzz.workload.clone().unwrap_or_default();
    let kinds: Vec<WorkloadTag> = allowed
        .iter()
        .copied()
        .filter(|_| rng.chance(Ratio::new(1, 2)))
        .collect();
    if kinds.is_empty() {
        return Vec::new();
    }
    let Some(latest_end) = super::swarm::latest_end(base) else {
        return Vec::new();
    };
    let targets = services(base);
    let scalable = workloads(base);
    let mut out = Vec::new();
    let n = rng.range_inclusive(1, MAX_CHANGES);
    for i in 0..n {
        let Some(kind) = rng.pick(&kinds).copied() else {
            break;
        };
        let hold = SimDuration::from_secs(rng.range_inclusive(5, 60));
        let at = SimDuration(rng.range_inclusive(0, latest_end.0.saturating_sub(hold.0)));
        let undo_at = at + hold;
        let pair =
            |cluster: &str, namespace: &str, change: ActionKind, undo: Option<ActionKind>| {
                let mut v = vec![ActionSpec {
                    at,
                    cluster: cluster.to_string(),
                    namespace: namespace.to_string(),
                    kind: change,
                }];
                if let Some(undo) = undo {
                    v.push(ActionSpec {
                        at: undo_at,
                        cluster: cluster.to_string(),
                        namespace: namespace.to_string(),
                        kind: undo,
                    });
                }
                v
            };
        let service_of = |rng: &mut Prng, export: &dyn Fn(Export) -> bool| {
            let eligible: Vec<&Target> = targets.iter().filter(|t| export(t.export)).collect();
            rng.pick(&eligible)
                .map(|t| (t.cluster, t.namespace, t.name))
        };
        let actions = match kind {
            WorkloadTag::Unexport => {
                service_of(&mut rng, &|e| e == Export::Gateway).map(|(c, ns, s)| {
                    pair(
                        c,
                        ns,
                        ActionKind::Unexport { service: s.into() },
                        Some(ActionKind::Export { service: s.into() }),
                    )
                })
            }
            WorkloadTag::Export => {
                service_of(&mut rng, &|e| e == Export::None).map(|(c, ns, s)| {
                    pair(
                        c,
                        ns,
                        ActionKind::Export { service: s.into() },
                        Some(ActionKind::Unexport { service: s.into() }),
                    )
                })
            }
            WorkloadTag::Scale => rng.pick(&scalable).copied().map(|(c, ns, w, replicas)| {
                let to = rng.range_inclusive(0, u64::from(replicas) + 2) as u32;
                pair(
                    c,
                    ns,
                    ActionKind::Scale {
                        workload: w.into(),
                        replicas: to,
                    },
                    Some(ActionKind::Scale {
                        workload: w.into(),
                        replicas,
                    }),
                )
            }),
            WorkloadTag::Label | WorkloadTag::Annotate => {
                service_of(&mut rng, &|_| true).map(|(c, ns, s)| {
                    let key = format!("mcsim.fuzz/change-{i}");
                    let value = format!("v{}", rng.range_inclusive(0, 9));
                    let edit = |value: Option<String>| {
                        let (service, key) = (s.to_string(), key.clone());
                        if kind == WorkloadTag::Label {
                            ActionKind::Label {
                                service,
                                key,
                                value,
                            }
                        } else {
                            ActionKind::Annotate {
                                service,
                                key,
                                value,
                            }
                        }
                    };
                    let (change, undo) = (edit(Some(value)), edit(None));
                    pair(c, ns, change, Some(undo))
                })
            }
            WorkloadTag::Namespace => {
                let clusters: Vec<&str> = base.clusters.iter().map(|c| c.name.as_str()).collect();
                rng.pick(&clusters).copied().map(|c| {
                    pair(
                        c,
                        "default",
                        ActionKind::CreateNamespace {
                            name: format!("mcsim-fuzz-{seed}-{i}"),
                        },
                        None,
                    )
                })
            }
        };
        let Some(actions) = actions else { continue };
        if actions.iter().any(|a| voided(faults, &a.cluster, a.at)) {
            continue;
        }
        out.extend(actions);
    }
    out.sort_by_key(|a| a.at);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::load_str;

    const BASE: &str = r#"
[sim]
name = "x"
duration = "5m"
quiet_period = "1m"
[[cluster]]
name = "west"
[[cluster]]
name = "east"
[[link]]
from = "west"
to = "east"
[[service]]
cluster = "east"
name = "web"
ports = [{ name = "http", port = 80 }]
replicas = 2
exported = true
[[service]]
cluster = "east"
name = "api"
ports = [{ name = "http", port = 80 }]
[fuzz]
workload = ["unexport", "export", "scale", "label", "annotate", "namespace"]
"#;

    /// Every change but a namespace creation is undone by the next action on its object,
    /// before the liveness window; the draw is a function of the seed; without `[fuzz]
    /// workload` nothing is drawn.
    #[test]
    fn changes_are_undone_before_the_liveness_window_and_reproducible() {
        let base = load_str("x.toml", BASE).unwrap();
        let settle =
            base.quiet_period.max(base.checks.converged_within) + SimDuration::from_secs(30);
        let mut drawn = 0;
        for seed in 0..300 {
            let actions = draw(&base, seed, &[]);
            assert_eq!(actions, draw(&base, seed, &[]));
            for (i, a) in actions.iter().enumerate() {
                assert!(
                    a.at + settle <= base.duration,
                    "seed {seed}: {a:?} too late"
                );
                if matches!(a.kind, ActionKind::CreateNamespace { .. }) {
                    continue;
                }
                let on_object = actions
                    .iter()
                    .filter(|b| b.cluster == a.cluster && b.kind.object() == a.kind.object())
                    .count();
                assert!(
                    on_object % 2 == 0,
                    "seed {seed}: {i} {a:?} not undone: {actions:?}"
                );
            }
            drawn += actions.len();
        }
        assert!(drawn > 300, "only {drawn} changes in 300 seeds");
        let mut quiet = base.clone();
        quiet.fuzz.workload = None;
        assert!((0..50).all(|seed| draw(&quiet, seed, &[]).is_empty()));
    }
}
