//! Swarm faults (Groce et al., ISSTA 2012; TigerBeetle's `options_swarm`): each seed first
//! decides which fault kinds are switched on, then draws a few faults of those kinds with random
//! targets, start times and durations. The draw comes from the seed's own `swarm` stream, so it
//! is reproducible and independent of every component's randomness.
//!
//! Faults respect the scenario's promise: every swarm fault heals before the liveness window
//! (the last scenario fault's heal plus the quiet period), so the convergence and availability
//! checks judge a world that had the chance to recover; and no swarm fault takes away the API
//! server a scripted action is applied through at that moment (the script is `kubectl`: with
//! its API server gone the action would simply not happen, and the case would judge another
//! scenario than the one written).

use crate::scenario::{FaultKind, FaultSpec, FaultTag, Scenario};
use crate::sim::{Prng, Ratio, SimDuration};

/// Fault kinds the swarm may draw when the scenario's `[fuzz] faults` does not say.
pub const DEFAULT_KINDS: &[FaultTag] = &[
    FaultTag::Partition,
    FaultTag::ApiServerDown,
    FaultTag::GatewayDown,
    FaultTag::ControllerCrash,
    FaultTag::Compact,
    FaultTag::SlowPath,
    FaultTag::DnsFailure,
];

/// At most this many swarm faults per case.
const MAX_FAULTS: u64 = 3;

/// Faults whose lost work Linkerd only recovers at the informer resync: the source cluster's
/// own API server or DNS away (writes and gateway lookups fail past the retry budget of a few
/// milliseconds; spec §4.2), or the whole source cluster down.
pub fn needs_resync(base: &Scenario, kind: &FaultKind) -> bool {
    let is_source = |c: &str| base.links.iter().any(|l| l.from == c);
    match kind {
        FaultKind::ApiServerDown(c) | FaultKind::DnsFailure(c) | FaultKind::ClusterDown(c) => {
            is_source(c)
        }
        _ => false,
    }
}

/// Whether `fault`, active from `at` for `duration`, takes `cluster`'s API server away at
/// `when` (one second of margin either side for in-flight calls), so an action applied through
/// it then would fail.
pub(crate) fn takes_api_server(
    fault: &FaultKind,
    at: SimDuration,
    duration: SimDuration,
    cluster: &str,
    when: SimDuration,
) -> bool {
    let (FaultKind::ApiServerDown(c) | FaultKind::ClusterDown(c)) = fault else {
        return false;
    };
    let margin = SimDuration::from_secs(1);
    c == cluster && when + margin >= at && when <= at + duration + margin
}

/// Whether `fault` would make one of the scenario's scripted actions fail.
fn voids_an_action(
    base: &Scenario,
    fault: &FaultKind,
    at: SimDuration,
    duration: SimDuration,
) -> bool {
    base.actions
        .iter()
        .any(|a| takes_api_server(fault, at, duration, &a.cluster, a.at))
}

/// The latest time a swarm change may end (a fault heal, an undone workload change), so that
/// the liveness checks judge a recovered world; `None` when the scenario leaves too little room.
pub(crate) fn latest_end(base: &Scenario) -> Option<SimDuration> {
    let settle = base.quiet_period.max(base.checks.converged_within) + SimDuration::from_secs(30);
    let latest = SimDuration(base.duration.0.checked_sub(settle.0)?);
    (latest >= SimDuration::from_secs(20)).then_some(latest)
}

pub fn draw(base: &Scenario, seed: u64) -> Vec<FaultSpec> {
    let mut rng = Prng::stream(seed, "swarm");
    let allowed: Vec<FaultTag> = base
        .fuzz
        .faults
        .clone()
        .unwrap_or_else(|| DEFAULT_KINDS.to_vec());
    // Swarm: switch each kind on with probability 1/2.
    let kinds: Vec<FaultTag> = allowed
        .iter()
        .copied()
        .filter(|_| rng.chance(Ratio::new(1, 2)))
        .collect();
    let clusters: Vec<&str> = base.clusters.iter().map(|c| c.name.as_str()).collect();
    if kinds.is_empty() || clusters.len() < 2 {
        return Vec::new();
    }
    let Some(latest_end) = latest_end(base) else {
        return Vec::new();
    };
    let n = rng.range_inclusive(1, MAX_FAULTS);
    let mut out = Vec::new();
    for _ in 0..n {
        let Some(kind) = rng.pick(&kinds) else { break };
        let a = *rng.pick(&clusters).unwrap_or(&clusters[0]);
        let others: Vec<&str> = clusters.iter().copied().filter(|c| *c != a).collect();
        let b = *rng.pick(&others).unwrap_or(&others[0]);
        let duration = SimDuration::from_secs(rng.range_inclusive(5, 60));
        let latest_start = latest_end.0.saturating_sub(duration.0);
        let at = SimDuration(rng.range_inclusive(0, latest_start));
        let Some(fault) = kind.draw(&mut rng, base, a, b) else {
            continue;
        };
        if voids_an_action(base, &fault, at, duration) {
            continue;
        }
        out.push(FaultSpec {
            at,
            duration: Some(duration),
            kind: fault,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::load_str;

    /// A scripted action at 60 s in west: across many seeds the swarm draws API-server and
    /// cluster outages of west, but none that is active at 60 s.
    #[test]
    fn no_swarm_fault_takes_away_the_api_server_of_a_scripted_action() {
        let text = r#"
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
[[action]]
at = "60s"
cluster = "west"
create_namespace = "shop"
[fuzz]
faults = ["api_server_down", "cluster_down"]
"#;
        let base = load_str("x.toml", text).unwrap();
        let action = SimDuration::from_secs(60);
        let mut west_outages = 0;
        for seed in 0..2000 {
            for f in draw(&base, seed) {
                let (FaultKind::ApiServerDown(c) | FaultKind::ClusterDown(c)) = &f.kind else {
                    continue;
                };
                if c != "west" {
                    continue;
                }
                west_outages += 1;
                let end = f.at + f.duration.unwrap_or(SimDuration::ZERO);
                assert!(
                    action + SimDuration::from_secs(1) < f.at
                        || end + SimDuration::from_secs(1) < action,
                    "seed {seed}: {f:?} covers the action at 60s"
                );
            }
        }
        assert!(
            west_outages > 100,
            "only {west_outages} outages of west drawn"
        );
    }
}
