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
use std::collections::{BTreeMap, BTreeSet};

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

/// What one pod needs from the kubelet: requests to send now, the next instant it has something
/// to do, and whether it waits for a free pod IP.
#[derive(Default)]
struct Step {
    requests: Vec<Request>,
    wake: Option<SimTime>,
    no_address: bool,
}

/// The kubelet's rules for one pod. `allocate` hands out the lowest free pod IP offset.
fn step(
    pod: &Pod,
    now: SimTime,
    config: &KubeletConfig,
    allocate: &mut dyn FnMut() -> Option<u64>,
) -> Step {
    let mut out = Step::default();
    if !pod.spec.node_name.is_empty() && pod.spec.node_name != config.node_name {
        return out;
    }
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
                key: ObjectKey::new(Kind::Pod, &pod.metadata.namespace, &pod.metadata.name),
                options: DeleteOptions {
                    grace_period_seconds: Some(0),
                    precondition_uid: Some(pod.metadata.uid.clone()),
                    ..DeleteOptions::default()
                },
            });
        } else {
            out.wake = Some(remove_at);
        }
        return out;
    }
    if pod.is_terminal() {
        return out;
    }
    if pod.spec.node_name.is_empty() {
        let Some(offset) = allocate() else {
            out.no_address = true;
            return out;
        };
        let mut bound = pod.clone();
        bound.metadata.resource_version.clear();
        bound.spec.node_name = config.node_name.clone();
        out.requests.push(Request::update(bound.clone()));
        bound.status.phase = Some(PodPhase::Running);
        bound.status.pod_ip = config.pod_cidr.nth(offset).to_string();
        bound.status.start_time = Some(rfc3339(now));
        bound.status.conditions = vec![ready_condition(false, now)];
        out.requests.push(Request::update_status(bound));
        out.wake = Some(now + config.start_delay);
        return out;
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
            out.wake = Some(ready_at);
        }
    }
    out
}

fn ip_offset(pod: &Pod, config: &KubeletConfig) -> Option<u64> {
    pod.status
        .pod_ip
        .parse()
        .ok()
        .and_then(|ip| config.pod_cidr.offset_of(ip))
}

fn earliest(a: Option<SimTime>, b: Option<SimTime>) -> Option<SimTime> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// One pass over every pod bound (or bindable) to this node: the reference the incremental
/// [`Kubelet`] is tested against, and what the single-cluster test harness runs.
pub fn sync(view: &dyn ObjectView, now: SimTime, config: &KubeletConfig) -> KubeletOutput {
    let mut out = KubeletOutput::default();
    let pods: Vec<&Pod> = view
        .list(Kind::Pod, None)
        .into_iter()
        .filter_map(|o| o.as_pod())
        .collect();
    let usable = config.pod_cidr.usable();
    let mut used: BTreeSet<u64> = pods.iter().filter_map(|p| ip_offset(p, config)).collect();
    for pod in pods {
        let mut allocate = || {
            let offset = usable.clone().find(|o| !used.contains(o))?;
            used.insert(offset);
            Some(offset)
        };
        let s = step(pod, now, config, &mut allocate);
        out.requests.extend(s.requests);
        out.next_wakeup = earliest(out.next_wakeup, s.wake);
    }
    out
}

/// The kubelet with memory between passes: a pass visits only the pods that changed since they
/// were last looked at (reported with [`Kubelet::touch`]), that still had writes outstanding,
/// or whose wake-up is due, so its cost does not grow with the number of pods. It sends the
/// same requests in the same order as [`sync`] over the same view: a pod that is not visited
/// would get no request from `sync` either (its state is unchanged and its wake-up not due).
#[derive(Clone, Debug, Default)]
pub struct Kubelet {
    /// Pods to look at in the next pass.
    dirty: BTreeSet<ObjectKey>,
    /// Wake-ups: (instant, pod) and each pod's current one.
    agenda: BTreeSet<(SimTime, ObjectKey)>,
    wake_of: BTreeMap<ObjectKey, SimTime>,
    /// Pod IP offsets held in the view, per pod and counted per offset.
    ip_of: BTreeMap<ObjectKey, u64>,
    used: BTreeMap<u64, usize>,
    /// Every usable offset below this one is held (None until the first allocation).
    free_floor: Option<u64>,
}

impl Kubelet {
    pub fn new() -> Kubelet {
        Kubelet::default()
    }

    /// The view's state of pod `key` may have changed: remember its IP and look at it next pass.
    pub fn touch(&mut self, view: &dyn ObjectView, key: &ObjectKey, config: &KubeletConfig) {
        if key.kind != Kind::Pod {
            return;
        }
        let now_ip = view
            .get(key)
            .and_then(|o| o.as_pod())
            .and_then(|p| ip_offset(p, config));
        let before = self.ip_of.get(key).copied();
        if before != now_ip {
            if let Some(old) = before {
                self.ip_of.remove(key);
                if let Some(n) = self.used.get_mut(&old) {
                    *n -= 1;
                    if *n == 0 {
                        self.used.remove(&old);
                        if self.free_floor.is_some_and(|f| old < f) {
                            self.free_floor = Some(old);
                        }
                    }
                }
            }
            if let Some(new) = now_ip {
                self.ip_of.insert(key.clone(), new);
                *self.used.entry(new).or_insert(0) += 1;
            }
        }
        self.dirty.insert(key.clone());
    }

    /// One pass at `now`.
    pub fn sync(
        &mut self,
        view: &dyn ObjectView,
        now: SimTime,
        config: &KubeletConfig,
    ) -> KubeletOutput {
        let mut out = KubeletOutput::default();
        let mut visit = std::mem::take(&mut self.dirty);
        while let Some((at, key)) = self.agenda.first().cloned() {
            if at > now {
                break;
            }
            self.agenda.pop_first();
            visit.insert(key);
        }
        let usable = config.pod_cidr.usable();
        // Offsets handed out in this pass (not yet in the view) and where the search resumes:
        // allocations in one pass ascend, and nothing is freed during a pass.
        let mut given: BTreeSet<u64> = BTreeSet::new();
        let mut cursor = self.free_floor.unwrap_or(usable.start).max(usable.start);
        for key in visit {
            if let Some(at) = self.wake_of.remove(&key) {
                self.agenda.remove(&(at, key.clone()));
            }
            let Some(pod) = view.get(&key).and_then(|o| o.as_pod()) else {
                continue;
            };
            let used = &self.used;
            let mut allocate = || {
                while cursor < usable.end && (used.contains_key(&cursor) || given.contains(&cursor))
                {
                    cursor += 1;
                }
                (cursor < usable.end).then(|| {
                    given.insert(cursor);
                    cursor
                })
            };
            let s = step(pod, now, config, &mut allocate);
            if !s.requests.is_empty() || s.no_address {
                // Looked at again next pass: the writes' results (or failures) decide.
                self.dirty.insert(key.clone());
            }
            if let Some(at) = s.wake {
                self.agenda.insert((at, key.clone()));
                self.wake_of.insert(key, at);
            }
            out.requests.extend(s.requests);
        }
        // Everything below the first offset this pass did not find held is held.
        let floor = given.first().copied().unwrap_or(cursor);
        self.free_floor = Some(floor.min(cursor));
        out.next_wakeup = self.agenda.first().map(|(at, _)| *at);
        out
    }
}

/// Makes a running pod fail: phase Failed and not ready. Its controller replaces it.
pub fn kill(pod: &Pod, now: SimTime) -> Request {
    let mut p = with_ready(pod, false, now);
    p.status.phase = Some(PodPhase::Failed);
    Request::update_status(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::k8s::ApiServer;
    use crate::k8s::api::{DeleteOptions, Response};
    use crate::k8s::objects::{Object, ObjectMeta};
    use crate::sim::Prng;

    fn pod(name: &str) -> Pod {
        Pod {
            metadata: ObjectMeta {
                name: name.to_string(),
                namespace: "default".to_string(),
                ..ObjectMeta::default()
            },
            ..Pod::default()
        }
    }

    /// The incremental kubelet sends exactly what a full pass sends, pass after pass, while pods
    /// come and go, writes fail, pods are killed and the pod CIDR runs full.
    #[test]
    fn incremental_passes_match_full_passes() {
        for seed in 0..40 {
            let mut rng = Prng::stream(seed, "kubelet-test");
            let mut api = ApiServer::new(Default::default(), &mut rng);
            let config = KubeletConfig {
                // 6 usable addresses: allocation runs out and frees up again.
                pod_cidr: crate::k8s::validation::Ipv4Cidr::parse("10.244.0.0/29").unwrap(),
                ..KubeletConfig::default()
            };
            let mut inc = Kubelet::new();
            let mut now = SimTime::ZERO;
            let mut next = 0u32;
            for _round in 0..60 {
                let mut touched: Vec<ObjectKey> = Vec::new();
                match rng.below(5) {
                    0 | 1 => {
                        let name = format!("p{next}");
                        next += 1;
                        if let Ok(Response::Object(o)) =
                            api.handle(now, &mut rng, Request::create(pod(&name)))
                        {
                            touched.push(o.key());
                        }
                    }
                    2 if next > 0 => {
                        let name = format!("p{}", rng.below(u64::from(next)));
                        let key = ObjectKey::new(Kind::Pod, "default", &name);
                        let options = DeleteOptions {
                            grace_period_seconds: Some(rng.below(3) as i64),
                            ..DeleteOptions::default()
                        };
                        if api
                            .handle(
                                now,
                                &mut rng,
                                Request::Delete {
                                    key: key.clone(),
                                    options,
                                },
                            )
                            .is_ok()
                        {
                            touched.push(key);
                        }
                    }
                    3 if next > 0 => {
                        let name = format!("p{}", rng.below(u64::from(next)));
                        let key = ObjectKey::new(Kind::Pod, "default", &name);
                        let p = api.get(&key).and_then(|o| o.as_pod()).cloned();
                        if let Some(p) = p
                            && api.handle(now, &mut rng, kill(&p, now)).is_ok()
                        {
                            touched.push(key);
                        }
                    }
                    _ => {
                        now += SimDuration::from_millis(rng.below(3_000));
                    }
                }
                for key in &touched {
                    inc.touch(&api, key, &config);
                }
                let full = sync(&api, now, &config);
                let got = inc.sync(&api, now, &config);
                assert_eq!(got, full, "seed {seed} at {now:?}");
                for req in full.requests {
                    // Some writes are lost (a refused connection): the pod must come back.
                    if rng.below(4) == 0 {
                        continue;
                    }
                    if let Ok(r) = api.handle(now, &mut rng, req)
                        && let Some(o) = r.object()
                    {
                        let o: &Object = o;
                        inc.touch(&api, &o.key(), &config);
                    }
                }
                if let Some(t) = full.next_wakeup
                    && rng.below(2) == 0
                {
                    now = now.max(t);
                }
            }
        }
    }
}
