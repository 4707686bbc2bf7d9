//! Safety checks evaluated on every observation (the run's first violation is reported):
//! - `safety.untrusted-accept`: a gateway never completes a handshake with a client whose chain
//!   does not end at the shared trust anchor (the seed's promise 1, unified trust domain);
//! - `safety.wrong-pod`: a request to a per-pod name (`<host>.<svc>.<ns>.svc.<domain>`, directly
//!   or through a mirror) is never answered by a pod other than `<host>` of the cluster that
//!   serves the name.

use super::traffic::target_cluster;
use super::{Check, CheckResult};
use crate::sim::SimTime;
use crate::world::{Observation, World};

#[derive(Default)]
pub struct UntrustedAccept {
    accepted: u64,
}

impl Check for UntrustedAccept {
    fn name(&self) -> &'static str {
        "safety.untrusted-accept"
    }
    fn observe(&mut self, _at: SimTime, obs: &Observation, world: &World) -> Option<String> {
        let Observation::GatewayAccepted {
            cluster,
            peer_identity,
            peer_root,
        } = obs
        else {
            return None;
        };
        self.accepted += 1;
        let shared = world.identity.shared_anchor_subject();
        if peer_root.is_none() || *peer_root != shared {
            return Some(format!(
                "gateway of {} accepted {} whose chain ends at {} instead of the shared anchor {}",
                world.scenario.clusters[*cluster].name,
                peer_identity.as_deref().unwrap_or("an anonymous client"),
                peer_root.as_deref().unwrap_or("nothing"),
                shared.as_deref().unwrap_or("?")
            ));
        }
        None
    }
    fn finish(&mut self, _world: &World, _end: SimTime) -> CheckResult {
        CheckResult {
            name: self.name().into(),
            passed: true,
            detail: format!(
                "{} gateway handshake(s), all chained to the shared anchor",
                self.accepted
            ),
            first_violation: None,
        }
    }
}

/// `(host, service, namespace)` of a per-pod name, `None` for a service name.
pub fn per_pod_name(host: &str) -> Option<(&str, &str, &str)> {
    let labels: Vec<&str> = host.split('.').collect();
    let svc_at = labels.iter().position(|l| *l == "svc")?;
    match svc_at {
        3 => Some((labels[0], labels[1], labels[2])),
        _ => None,
    }
}

#[derive(Default)]
pub struct WrongPod {
    checked: u64,
}

impl Check for WrongPod {
    fn name(&self) -> &'static str {
        "safety.wrong-pod"
    }
    fn observe(&mut self, _at: SimTime, obs: &Observation, world: &World) -> Option<String> {
        let Observation::RequestDone {
            traffic,
            host,
            result: Ok(served_by),
        } = obs
        else {
            return None;
        };
        let (pod, _svc, ns) = per_pod_name(host)?;
        self.checked += 1;
        let from = &world.scenario.traffic[*traffic].from;
        let cluster = target_cluster(&world.scenario, from, host);
        let designated = format!("{cluster}/{ns}/{pod}");
        (*served_by != designated).then(|| {
            format!("request from {from} to {host} was answered by {served_by}, not {designated}")
        })
    }
    fn finish(&mut self, _world: &World, _end: SimTime) -> CheckResult {
        CheckResult {
            name: self.name().into(),
            passed: true,
            detail: format!(
                "{} per-pod request(s), each answered by the pod its name designates",
                self.checked
            ),
            first_violation: None,
        }
    }
}
