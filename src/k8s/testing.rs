//! A synchronous single-cluster harness for tests: one API server, every controller, the kubelet
//! and a DNS model, driven by a manual virtual clock.
//!
//! Owns: [`TestCluster`]. Inputs: requests and manifests from a test, clock advances. Outputs:
//! responses, the cluster state (dumps, DNS answers). Controllers read the API server directly
//! (no informer lag) and run to a fixpoint after every step; that is a test convenience — the
//! simulation runs them as components behind informers, where staleness is real.
//! Must not touch: anything outside the cluster it owns; not for use by the simulation itself.

use super::api::{DeleteOptions, Request, Response, Status};
use super::apiserver::{ApiServer, ApiServerConfig};
use super::controllers::endpoints::{self, EndpointsConfig};
use super::controllers::endpointslice::{self, EndpointSliceConfig};
use super::controllers::kubelet::{self, KubeletConfig};
use super::controllers::mirroring::{self, MirroringConfig};
use super::controllers::{deployment, gc, namespace, statefulset};
use super::dns::{Dns, DnsConfig, DnsResponse, QueryType};
use super::manifest;
use super::objects::{Kind, Object, ObjectKey};
use super::store::ObjectView;
use super::validation::Ipv4Cidr;
use crate::sim::{Prng, SimDuration, SimTime};
use std::sync::Arc;

#[derive(Clone, Debug)]
pub struct TestClusterConfig {
    pub seed: u64,
    pub api: ApiServerConfig,
    pub kubelet: KubeletConfig,
    pub endpoints: EndpointsConfig,
    pub endpoint_slices: EndpointSliceConfig,
    pub mirroring: MirroringConfig,
    pub dns: DnsConfig,
    /// Controller rounds per settle before giving up ("did not settle").
    pub max_rounds: usize,
}

impl TestClusterConfig {
    pub fn new(seed: u64) -> TestClusterConfig {
        TestClusterConfig {
            seed,
            api: ApiServerConfig::default(),
            kubelet: KubeletConfig::default(),
            endpoints: EndpointsConfig::default(),
            endpoint_slices: EndpointSliceConfig::default(),
            mirroring: MirroringConfig::default(),
            dns: DnsConfig::default(),
            max_rounds: 200,
        }
    }
    /// Sets the service CIDR (panics on a malformed literal: test code only).
    pub fn service_cidr(mut self, cidr: &str) -> Self {
        self.api.service_cidr = Ipv4Cidr::parse(cidr).unwrap_or_else(|e| panic!("{e}"));
        self
    }
}

pub struct TestCluster {
    pub api: ApiServer,
    now: SimTime,
    rng: Prng,
    config: TestClusterConfig,
    dns: Dns,
    /// Controller writes the API server refused (expected now and then: conflicts, races).
    pub controller_errors: Vec<(String, Status)>,
}

impl TestCluster {
    pub fn new(seed: u64) -> TestCluster {
        TestCluster::with_config(TestClusterConfig::new(seed))
    }

    pub fn with_config(config: TestClusterConfig) -> TestCluster {
        let mut rng = Prng::stream(config.seed, "test-cluster/apiserver");
        let api = ApiServer::new(config.api.clone(), &mut rng);
        let dns = Dns::new(config.dns.clone());
        TestCluster {
            api,
            now: SimTime::ZERO,
            rng,
            config,
            dns,
            controller_errors: vec![],
        }
    }

    pub fn now(&self) -> SimTime {
        self.now
    }

    /// Sends one request as a client would (controllers do not run).
    pub fn request(&mut self, req: Request) -> Result<Response, Status> {
        self.api.handle(self.now, &mut self.rng, req)
    }

    /// Creates an object, then lets the controllers settle.
    pub fn create(&mut self, obj: impl Into<Object>) -> Result<Arc<Object>, Status> {
        let r = self.request(Request::create(obj))?;
        self.settle_or_panic();
        r.object()
            .cloned()
            .ok_or_else(|| Status::internal("create returned no object"))
    }

    /// Creates or (unconditionally) updates an object, then lets the controllers settle.
    pub fn apply(&mut self, obj: impl Into<Object>) -> Result<Arc<Object>, Status> {
        let mut obj = obj.into();
        let key = obj.key();
        let r = if self.api.get(&key).is_some() {
            obj.meta_mut().resource_version.clear();
            self.request(Request::update(obj))?
        } else {
            self.request(Request::create(obj))?
        };
        self.settle_or_panic();
        r.object()
            .cloned()
            .ok_or_else(|| Status::internal("apply returned no object"))
    }

    /// Deletes an object (background propagation), then lets the controllers settle.
    pub fn delete(&mut self, kind: Kind, namespace: &str, name: &str) -> Result<Response, Status> {
        let r = self.request(Request::Delete {
            key: ObjectKey::new(kind, namespace, name),
            options: DeleteOptions::default(),
        })?;
        self.settle_or_panic();
        Ok(r)
    }

    /// Applies every object of a manifest (namespaced objects without a namespace go to
    /// `default`), then settles.
    pub fn apply_manifest(&mut self, text: &str) -> Result<(), String> {
        let objs = manifest::load(text).map_err(|errs| {
            errs.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        })?;
        for mut o in objs {
            if o.kind().namespaced() && o.meta().namespace.is_empty() {
                o.meta_mut().namespace = "default".to_string();
            }
            self.apply(o).map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    pub fn get(&self, kind: Kind, namespace: &str, name: &str) -> Option<&Arc<Object>> {
        self.api.get_by(kind, namespace, name)
    }

    pub fn list(&self, kind: Kind, namespace: Option<&str>) -> Vec<&Arc<Object>> {
        self.api.list(kind, namespace)
    }

    /// Runs every controller and the kubelet at the current instant until nothing changes.
    /// Returns the number of rounds, or an error if `max_rounds` was not enough.
    pub fn settle(&mut self) -> Result<usize, String> {
        for round in 1..=self.config.max_rounds {
            let before = self.api.revision();
            self.round();
            if self.api.revision() == before {
                return Ok(round);
            }
        }
        Err(format!(
            "controllers did not settle within {} rounds at {}",
            self.config.max_rounds, self.now
        ))
    }

    fn settle_or_panic(&mut self) {
        if let Err(e) = self.settle() {
            panic!("{e}");
        }
    }

    fn round(&mut self) {
        let now = self.now;
        type Pass = fn(&TestCluster, SimTime) -> Vec<Request>;
        let passes: [Pass; 8] = [
            |c, _| namespace::reconcile_all(&c.api),
            |c, _| gc::sync(&c.api),
            |c, _| statefulset::reconcile_all(&c.api),
            |c, _| deployment::reconcile_all(&c.api),
            |c, now| kubelet::sync(&c.api, now, &c.config.kubelet).requests,
            |c, _| endpoints::reconcile_all(&c.api, &c.config.endpoints),
            |c, _| endpointslice::reconcile_all(&c.api, &c.config.endpoint_slices),
            |c, _| mirroring::reconcile_all(&c.api, &c.config.mirroring),
        ];
        for pass in passes {
            for req in pass(self, now) {
                let what = req.describe();
                if let Err(e) = self.api.handle(now, &mut self.rng, req)
                    && self.controller_errors.len() < 10_000
                {
                    self.controller_errors.push((what, e));
                }
            }
        }
    }

    /// Moves the clock forward by `d`, stopping at every instant the kubelet asked to be woken
    /// at, and settling at each.
    pub fn advance(&mut self, d: SimDuration) -> Result<(), String> {
        let end = self.now + d;
        self.settle()?;
        loop {
            let next = kubelet::sync(&self.api, self.now, &self.config.kubelet).next_wakeup;
            match next {
                Some(t) if t <= end && t > self.now => {
                    self.now = t;
                    self.settle()?;
                }
                _ => break,
            }
        }
        self.now = end;
        self.settle()?;
        Ok(())
    }

    /// Advances until the kubelet has nothing scheduled, at most `limit` of virtual time.
    pub fn run_until_stable(&mut self, limit: SimDuration) -> Result<(), String> {
        let end = self.now + limit;
        self.settle()?;
        while let Some(t) = kubelet::sync(&self.api, self.now, &self.config.kubelet).next_wakeup {
            if t > end {
                return Err(format!(
                    "not stable by {end}: the kubelet still has work at {t}"
                ));
            }
            if t <= self.now {
                break;
            }
            self.now = t.max(self.now);
            self.settle()?;
        }
        Ok(())
    }

    /// Makes a pod fail (see `kubelet::kill`), then settles.
    pub fn kill_pod(&mut self, namespace: &str, name: &str) -> Result<(), Status> {
        let pod = self
            .get(Kind::Pod, namespace, name)
            .and_then(|o| o.as_pod().cloned())
            .ok_or_else(|| Status::not_found(Kind::Pod, name))?;
        self.request(kubelet::kill(&pod, self.now))?;
        self.settle_or_panic();
        Ok(())
    }

    /// A DNS query answered from the current state.
    pub fn resolve(&self, name: &str, qtype: QueryType) -> DnsResponse {
        self.dns.resolve(&self.api, name, qtype)
    }

    /// Every object as a Kubernetes `List` in YAML.
    pub fn dump_yaml(&self) -> String {
        manifest::dump_yaml(self.api.objects())
    }

    /// Objects of the given kinds only, as YAML.
    pub fn dump_kinds_yaml(&self, kinds: &[Kind]) -> String {
        manifest::dump_yaml(self.api.objects().filter(|o| kinds.contains(&o.kind())))
    }
}
