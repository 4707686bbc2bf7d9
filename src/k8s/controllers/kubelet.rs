//! Kubelet-lite: the scheduler's binding and one node's kubelet, reduced to the pod lifecycle that
//! endpoints and DNS observe.
//!
//! Rules modelled: an unscheduled pod is bound to the node (`spec.nodeName`), gets the lowest free
//! IP of the cluster's pod CIDR, phase Running, `startTime = now` and `Ready=False`; it becomes
//! `Ready=True` once `start_delay` has passed; a pod being deleted turns not-ready at once and is
//! removed (delete with grace 0) `stop_delay` after its deletion started, or at its
//! `deletionTimestamp` if that comes first; [`kill`] makes a running pod fail (phase Failed, not
//! ready), as a crashed container with `restartPolicy: Never` or an evicted pod would.
//! Inputs: a view with Pods, `now`. Outputs: pod spec/status writes and deletes, plus the next
//! instant the kubelet needs to run again. Must not touch: other nodes' pods, anything but Pods.

use crate::k8s::api::{DeleteOptions, Request};
use crate::k8s::objects::{Kind, ObjectKey, Pod, PodCondition, PodPhase, parse_rfc3339, rfc3339};
use crate::k8s::store::ObjectView;
use crate::k8s::validation::Ipv4Cidr;
use crate::sim::{SimDuration, SimTime};
use std::collections::BTreeSet;

#[derive(Clone, Debug)]
pub struct KubeletConfig {
    pub node_name: String,
    pub pod_cidr: Ipv4Cidr,
    /// Time from start to Ready.
    pub start_delay: SimDuration,
    /// Time from deletion start to removal (at most the grace period).
    pub stop_delay: SimDuration,
}

impl Default for KubeletConfig {
    fn default() -> Self {
        KubeletConfig {
            node_name: "node-0".to_string(),
            pod_cidr: Ipv4Cidr::parse("10.244.0.0/16").unwrap_or_else(|e| unreachable!("{e}")),
            start_delay: SimDuration::from_secs(2),
            stop_delay: SimDuration::from_secs(1),
        }
    }
}

fn ready_condition(ready: bool, now: SimTime) -> PodCondition {
    PodCondition {
        type_: "Ready".to_string(),
        status: if ready { "True" } else { "False" }.to_string(),
        last_transition_time: Some(rfc3339(now)),
    }
}

fn with_ready(pod: &Pod, ready: bool, now: SimTime) -> Pod {
    let mut p = pod.clone();
    p.metadata.resource_version.clear();
    p.status.conditions.retain(|c| c.type_ != "Ready");
    p.status.conditions.push(ready_condition(ready, now));
    p
}

/// The result of one kubelet pass.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct KubeletOutput {
    pub requests: Vec<Request>,
    /// When the kubelet next has something to do (a pod becoming ready or being removed).
    pub next_wakeup: Option<SimTime>,
}

/// One pass over every pod bound (or bindable) to this node.
pub fn sync(view: &dyn ObjectView, now: SimTime, config: &KubeletConfig) -> KubeletOutput {
    let mut out = KubeletOutput::default();
    let pods: Vec<&Pod> = view
        .list(Kind::Pod, None)
        .into_iter()
        .filter_map(|o| o.as_pod())
        .collect();
    let usable = config.pod_cidr.usable();
    let mut used: BTreeSet<u64> = pods
        .iter()
        .filter_map(|p| p.status.pod_ip.parse().ok())
        .filter_map(|ip| config.pod_cidr.offset_of(ip))
        .collect();
    let wake = |t: SimTime, out: &mut KubeletOutput| {
        out.next_wakeup = Some(out.next_wakeup.map_or(t, |w| w.min(t)));
    };
    for pod in pods {
        if !pod.spec.node_name.is_empty() && pod.spec.node_name != config.node_name {
            continue;
        }
        let key = ObjectKey::new(Kind::Pod, &pod.metadata.namespace, &pod.metadata.name);
        if pod.metadata.is_terminating() {
            if pod.is_ready() {
                out.requests
                    .push(Request::update_status(with_ready(pod, false, now)));
            }
            let deadline = pod
                .metadata
                .deletion_timestamp
                .as_deref()
                .and_then(parse_rfc3339)
                .unwrap_or(now);
            let grace = SimDuration::from_secs(1).saturating_mul(
                pod.metadata
                    .deletion_grace_period_seconds
                    .unwrap_or(0)
                    .max(0) as u64,
            );
            let started = SimTime(deadline.0.saturating_sub(grace.0));
            let remove_at = (started + config.stop_delay).min(deadline);
            if now >= remove_at {
                out.requests.push(Request::Delete {
                    key,
                    options: DeleteOptions {
                        grace_period_seconds: Some(0),
                        precondition_uid: Some(pod.metadata.uid.clone()),
                        ..DeleteOptions::default()
                    },
                });
            } else {
                wake(remove_at, &mut out);
            }
            continue;
        }
        if pod.is_terminal() {
            continue;
        }
        if pod.spec.node_name.is_empty() {
            let Some(offset) = usable.clone().find(|o| !used.contains(o)) else {
                continue;
            };
            used.insert(offset);
            let mut bound = pod.clone();
            bound.metadata.resource_version.clear();
            bound.spec.node_name = config.node_name.clone();
            out.requests.push(Request::update(bound.clone()));
            bound.status.phase = Some(PodPhase::Running);
            bound.status.pod_ip = config.pod_cidr.nth(offset).to_string();
            bound.status.start_time = Some(rfc3339(now));
            bound.status.conditions = vec![ready_condition(false, now)];
            out.requests.push(Request::update_status(bound));
            wake(now + config.start_delay, &mut out);
            continue;
        }
        if !pod.is_ready() && pod.phase() == PodPhase::Running {
            let started = pod
                .status
                .start_time
                .as_deref()
                .and_then(parse_rfc3339)
                .unwrap_or(now);
            let ready_at = started + config.start_delay;
            if now >= ready_at {
                out.requests
                    .push(Request::update_status(with_ready(pod, true, now)));
            } else {
                wake(ready_at, &mut out);
            }
        }
    }
    out
}

/// Makes a running pod fail: phase Failed and not ready. Its controller replaces it.
pub fn kill(pod: &Pod, now: SimTime) -> Request {
    let mut p = with_ready(pod, false, now);
    p.status.phase = Some(PodPhase::Failed);
    Request::update_status(p)
}
