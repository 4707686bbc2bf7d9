//! The kubelet of a cluster (one node hosts every pod) and the inbound side of every pod's
//! proxy. Control plane: a Pod informer feeds `crate::k8s::controllers::kubelet::sync`, whose
//! writes (IP assignment, readiness after the start delay, removal of deleted pods) go to the
//! cluster's API server. Data plane: meshed connections to pod IPs (mTLS with the pod's
//! service-account identity) and in-cluster hops from gateways; a request is answered by the
//! pod that owns the dialled IP if it is running, ready and not killed.

use super::apiclient::{ApiClient, ClientOutput};
use super::env::Env;
use super::mesh_server::MeshServer;
use super::msg::{Msg, Timer};
use super::overlay::OwnWrites;
use super::transport::ConnEvent;
use crate::k8s::controllers::kubelet::{self, Kubelet, KubeletConfig};
use crate::k8s::informer::{Delta, Informer, InformerConfig};
use crate::k8s::objects::Pod;
use crate::k8s::{Kind, ObjectKey};
use crate::sim::{ComponentId, SimDuration, SimTime};
use std::collections::{BTreeMap, BTreeSet};

/// In-cluster hop from a gateway to a pod.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PodMsg {
    Request {
        id: u64,
        from: ComponentId,
        ip: String,
        port: u16,
    },
    Response {
        id: u64,
        result: Result<String, String>,
    },
}

/// Tags: Request 0 (id, from, ip, port), Response 1 (id, result).
impl crate::sim::hash::Digest for PodMsg {
    fn digest(&self, h: &mut crate::sim::hash::StableHasher) {
        match self {
            PodMsg::Request { id, from, ip, port } => {
                h.word(0);
                h.add(id);
                h.add(from);
                h.add(ip);
                h.add(port);
            }
            PodMsg::Response { id, result } => {
                h.word(1);
                h.add(id);
                h.add(result);
            }
        }
    }
}

pub struct KubeletNode {
    cluster: usize,
    cluster_name: String,
    client: ApiClient,
    config: KubeletConfig,
    tick_armed: Option<SimTime>,
    own: OwnWrites,
    /// Which pods the next pass looks at, wake-ups and pod IPs in use.
    kubelet: Kubelet,
    pub mesh: MeshServer,
    by_ip: BTreeMap<String, ObjectKey>,
    /// Pods whose container was killed (not serving even if the API still says Ready).
    killed: BTreeSet<(String, String)>,
    latency: SimDuration,
    pub served: u64,
    /// Tests: compare every incremental pass with the full reference pass over the same view
    /// (`None`: off); mismatches are listed here.
    pub cross_check: Option<Vec<String>>,
}

impl KubeletNode {
    pub fn new(
        cluster: usize,
        cluster_name: &str,
        api_server: ComponentId,
        config: KubeletConfig,
        latency: SimDuration,
    ) -> KubeletNode {
        KubeletNode {
            cluster,
            cluster_name: cluster_name.to_string(),
            client: ApiClient::new(
                0,
                api_server,
                50,
                100,
                vec![Informer::new(InformerConfig::new(Kind::Pod))],
            ),
            config,
            tick_armed: None,
            own: OwnWrites::default(),
            kubelet: Kubelet::new(),
            mesh: MeshServer::default(),
            by_ip: BTreeMap::new(),
            killed: BTreeSet::new(),
            latency,
            served: 0,
            cross_check: None,
        }
    }

    pub fn start(&mut self, env: &mut Env<'_, '_>) {
        let mut out = Vec::new();
        self.client.start(env, &mut out);
        self.absorb(env, out);
    }

    fn absorb(&mut self, env: &mut Env<'_, '_>, out: Vec<ClientOutput>) {
        let mut changed = false;
        for o in out {
            let delta = match o {
                ClientOutput::Delta { delta, .. } => delta,
                // The cache shows a change its handler has not seen: the incremental kubelet
                // must look at that pod as the full pass reading the cache would.
                ClientOutput::Cached { key, .. } => {
                    let view = self.own.over(self.client.informer(0).store());
                    self.kubelet.touch(&view, &key, &self.config);
                    continue;
                }
                ClientOutput::Response { .. } => continue,
            };
            changed = true;
            self.own.observe(&delta);
            if let Some(key) = delta.key() {
                let view = self.own.over(self.client.informer(0).store());
                self.kubelet.touch(&view, &key, &self.config);
            }
            match &delta {
                Delta::Added(o) | Delta::Updated { new: o, .. } => {
                    if let Some(p) = o.as_pod()
                        && !p.status.pod_ip.is_empty()
                    {
                        self.by_ip.insert(p.status.pod_ip.clone(), o.key());
                    }
                }
                Delta::Deleted(d) => {
                    if let Some(p) = d.object().as_pod()
                        && self.by_ip.get(&p.status.pod_ip) == Some(&d.object().key())
                    {
                        self.by_ip.remove(&p.status.pod_ip);
                    }
                }
                Delta::Synced => {}
            }
        }
        if changed && self.client.all_synced() {
            self.arm(env, env.now());
        }
    }

    fn arm(&mut self, env: &mut Env<'_, '_>, at: SimTime) {
        if self.tick_armed.is_none_or(|t| at < t) {
            self.tick_armed = Some(at);
            env.ctx
                .send_at(env.me(), Msg::Timer(Timer::KubeletTick), at);
        }
    }

    pub fn on_timer(&mut self, env: &mut Env<'_, '_>, timer: Timer) {
        match timer {
            Timer::Client { timer, .. } => {
                let mut out = Vec::new();
                self.client.on_timer(env, timer, &mut out);
                self.absorb(env, out);
            }
            Timer::KubeletTick if self.tick_armed.is_some_and(|t| t <= env.now()) => {
                self.tick_armed = None;
                let view = self.own.over(self.client.informer(0).store());
                let reference = self
                    .cross_check
                    .is_some()
                    .then(|| kubelet::sync(&view, env.now(), &self.config).requests);
                let output = self.kubelet.sync(&view, env.now(), &self.config);
                if let (Some(reference), Some(mismatches)) = (reference, &mut self.cross_check)
                    && reference != output.requests
                {
                    mismatches.push(format!(
                        "{} kubelet at {}: incremental pass sent {} request(s), the full pass {}",
                        self.cluster_name,
                        env.now(),
                        output.requests.len(),
                        reference.len()
                    ));
                }
                let mut failed = false;
                for req in output.requests {
                    match env.api_call(req) {
                        Ok(response) => {
                            self.own.record(&response);
                            if let Some(o) = response.object() {
                                let view = self.own.over(self.client.informer(0).store());
                                self.kubelet.touch(&view, &o.key(), &self.config);
                            }
                        }
                        // A conflict means the cache was stale; the resulting event re-runs us.
                        Err(s) if s.is_conflict() || s.is_not_found() => {}
                        // The API server is away: the status manager tries again at its next
                        // sync, as the real kubelet does every 10 s.
                        Err(_) => failed = true,
                    }
                }
                let retry = failed.then(|| env.now() + STATUS_RETRY);
                if let Some(at) = output.next_wakeup.into_iter().chain(retry).min() {
                    self.arm(env, at.max(env.now()));
                }
            }
            _ => {}
        }
    }

    /// The pod answering on `ip`, if it can serve: `Ok(cluster/ns/name)`.
    fn serve(&self, ip: &str) -> Result<String, String> {
        let key = self
            .by_ip
            .get(ip)
            .ok_or_else(|| format!("no pod has address {ip}"))?;
        let pod: &Pod = self
            .client
            .informer(0)
            .get(&key.namespace, &key.name)
            .and_then(|o| o.as_pod())
            .ok_or_else(|| format!("no pod has address {ip}"))?;
        if self
            .killed
            .contains(&(key.namespace.clone(), key.name.clone()))
            || !pod.is_ready()
        {
            return Err(format!("pod {}/{} is not serving", key.namespace, key.name));
        }
        Ok(format!(
            "{}/{}/{}",
            self.cluster_name, key.namespace, key.name
        ))
    }

    pub fn on_conn(&mut self, env: &mut Env<'_, '_>, event: ConnEvent) {
        if self.client.owns(conn_of(&event)) {
            let mut out = Vec::new();
            self.client.on_conn(env, event, &mut out);
            self.absorb(env, out);
            return;
        }
        let cluster = self.cluster;
        // Identities of the pods this node runs: a pod proxy presents its own.
        let identities: BTreeSet<String> = self
            .client
            .informer(0)
            .list(None)
            .iter()
            .filter_map(|o| o.as_pod())
            .map(|p| {
                let sa = if p.spec.service_account_name.is_empty() {
                    "default"
                } else {
                    &p.spec.service_account_name
                };
                env.identity
                    .workload_identity(cluster, sa, &p.metadata.namespace)
            })
            .collect();
        let (inbound, _accepted) = self.mesh.on_conn(env, event, |env, sni| {
            identities
                .contains(sni)
                .then(|| env.identity.server_config(cluster, sni, false, env.now()))
        });
        for r in inbound {
            let (status, served_by, error) = match self.serve(&r.target_ip) {
                Ok(pod) => (200, Some(pod), None),
                Err(e) => (503, None, Some(e)),
            };
            self.served += 1;
            MeshServer::respond(env, r.conn, r.id, status, served_by, error);
        }
    }

    /// An in-cluster hop from a gateway.
    pub fn on_pod_msg(&mut self, env: &mut Env<'_, '_>, msg: PodMsg) {
        if let PodMsg::Request {
            id,
            from,
            ip,
            port: _,
        } = msg
        {
            self.served += 1;
            let result = self.serve(&ip);
            env.ctx.send(
                from,
                Msg::Pod(PodMsg::Response { id, result }),
                self.latency,
            );
        }
    }

    /// `pod_kill`: the container dies; the kubelet reports the pod failed.
    pub fn kill(&mut self, env: &mut Env<'_, '_>, namespace: &str, name: &str) {
        self.killed
            .insert((namespace.to_string(), name.to_string()));
        let pod = self
            .client
            .informer(0)
            .get(namespace, name)
            .and_then(|o| o.as_pod())
            .cloned();
        if let Some(pod) = pod {
            let _ = env.api_call(kubelet::kill(&pod, env.now()));
        }
    }

    /// The node restarted: caches are rebuilt, killed containers are replaced.
    pub fn restart(&mut self, env: &mut Env<'_, '_>, api_server: ComponentId) {
        self.client.stop(env);
        let mut fresh = KubeletNode::new(
            self.cluster,
            &self.cluster_name,
            api_server,
            self.config.clone(),
            self.latency,
        );
        std::mem::swap(self, &mut fresh);
        self.start(env);
    }
}

/// The connection an event is about.
/// The kubelet status manager's sync period: how soon a failed status write is retried.
const STATUS_RETRY: SimDuration = SimDuration::from_secs(10);

pub fn conn_of(event: &ConnEvent) -> super::transport::ConnId {
    match event {
        ConnEvent::Accepted { conn, .. }
        | ConnEvent::Connected { conn }
        | ConnEvent::ConnectFailed { conn, .. }
        | ConnEvent::Data { conn, .. }
        | ConnEvent::Closed { conn, .. } => *conn,
    }
}

#[cfg(test)]
mod tests {
    use crate::k8s::Kind;
    use crate::sim::{SimDuration, SimTime};
    use crate::world::harness::Harness;
    use crate::world::{Node, TEST_SCENARIO};

    fn web_pod(h: &Harness) -> Option<crate::k8s::objects::Pod> {
        h.store("east")
            .range(Kind::Pod, Some("default"))
            .find_map(|o| o.as_pod().cloned())
    }

    /// The Deployment's pod gets an IP from the node's CIDR, then turns Ready after its start
    /// delay; the kubelet serves it by that IP.
    #[test]
    fn a_pod_gets_an_ip_then_turns_ready() {
        let mut h = Harness::new(TEST_SCENARIO);
        h.run_to(SimDuration::from_secs(30));
        let pod = web_pod(&h).expect("the web pod");
        assert!(!pod.status.pod_ip.is_empty());
        assert!(pod.is_ready());
        let Node::Kubelet(k) = h.world.node(h.id("east/kubelet")) else {
            panic!("a kubelet")
        };
        assert!(k.served == 0, "nothing asked it yet");
        assert!(h.now() <= SimTime::ZERO + SimDuration::from_secs(30));
    }

    /// `pod_kill`: the container dies and the kubelet reports the pod not ready.
    #[test]
    fn a_killed_pod_is_reported_not_ready() {
        let scenario = format!(
            "{TEST_SCENARIO}[[fault]]\nat = \"1m\"\npod_kill = {{ cluster = \"east\", pod = \"POD\" }}\n"
        );
        let mut h = Harness::new(TEST_SCENARIO);
        h.run_to(SimDuration::from_secs(50));
        let name = web_pod(&h).expect("the web pod").metadata.name;
        let mut h = Harness::new(&scenario.replace("POD", &name));
        h.run_to(SimDuration::from_secs(61));
        let pod = web_pod(&h).expect("the web pod");
        assert!(!pod.is_ready(), "{:?}", pod.status);
    }
}
