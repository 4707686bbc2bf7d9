//! The fault injector: a component of the run that fires the scenario's scripted faults at
//! their times, heals them, and applies the scripted actions (`kubectl`, `linkerd
//! multicluster`) through the clusters' API servers.
//!
//! Owns: each fault's [`plan`] (resolved at build), the topology overlays of the active faults,
//! the record of fired faults for reports and checks, and the scripted actions with their
//! link-gen output. Inputs: its [`FaultMsg`]s and a [`FaultEnv`], the primitive operations the
//! world offers it (take a component down, add an overlay, call an API server, ...). Outputs:
//! calls on that env and observations. Must not touch: component state directly; every effect
//! goes through the env, so a test can drive the injector with a recording env.
//!
//! Adding a fault kind: its variant in `scenario::FaultKind` (with its schema key), then one
//! arm in [`plan::plan`] saying what it does to the topology and to components; if it needs a
//! new primitive, one [`ComponentFault`] variant and one [`FaultEnv`] method.

mod plan;

use super::Observation;
use super::actions;
use super::msg::{FaultMsg, Msg};
use crate::k8s::store::ObjectView;
use crate::k8s::{Object, Request, Response, Status};
use crate::net::fault::{Fault, FaultId};
use crate::net::topology::Topology;
use crate::quirks::Breakage;
use crate::scenario::{ActionKind, Scenario};
use crate::sim::{ComponentId, Kernel, SimTime};
pub(crate) use plan::{ComponentFault, Plan, Wiring};
use std::collections::BTreeMap;

/// A fault that fired during the run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FiredFault {
    pub index: usize,
    pub kind: &'static str,
    pub description: String,
    pub clusters: Vec<String>,
    pub at: SimTime,
    pub healed_at: Option<SimTime>,
}

/// What the fault injector can do to the world.
pub(crate) trait FaultEnv {
    fn now(&self) -> SimTime;
    /// Adds a topology overlay (validated when the world was built).
    fn add_overlay(&mut self, overlay: Fault) -> FaultId;
    fn remove_overlay(&mut self, id: FaultId);
    /// The topology changed: connections re-check their paths.
    fn paths_changed(&mut self);
    /// Takes a component down (a crash: its connections reset, its memory lost) or brings it
    /// back (it restarts with empty caches).
    fn set_down(&mut self, component: ComponentId, down: bool);
    fn set_dns_failing(&mut self, dns: ComponentId, failing: bool);
    fn kill_pod(&mut self, kubelet: ComponentId, namespace: &str, pod: &str);
    fn set_clock_skew(&mut self, cluster: usize, skew_ns: i64);
    /// Compacts the watch history of a cluster's API server.
    fn compact(&mut self, cluster: usize);
    fn set_certs_expired(&mut self, cluster: usize, expired: bool);
    fn rotate_certs(&mut self, cluster: usize);
    fn switch_anchor(&mut self, cluster: usize, anchor: &str, trust_domain: &str);
    /// A cluster's objects now, as `kubectl get` sees them.
    fn store(&self, cluster: usize) -> &dyn ObjectView;
    /// A request to a cluster's API server, as `kubectl` sends it.
    fn api_call(&mut self, cluster: usize, request: Request) -> Result<Response, Status>;
    fn observe(&mut self, observation: Observation);
}

/// A scripted action, resolved at build.
#[derive(Clone, Debug)]
struct ScriptedAction {
    at: crate::sim::SimDuration,
    cluster: usize,
    namespace: String,
    kind: ActionKind,
    /// For `link`: what `linkerd multicluster link-gen` prints for the link.
    link_gen: Vec<Object>,
}

/// One scenario fault: its plan and what reports say about it.
#[derive(Clone, Debug)]
struct ScriptedFault {
    at: crate::sim::SimDuration,
    plan: Plan,
    key: &'static str,
    description: String,
    clusters: Vec<String>,
}

#[derive(Default)]
pub struct FaultInjector {
    faults: Vec<ScriptedFault>,
    actions: Vec<ScriptedAction>,
    /// Topology overlays of each active fault.
    active: BTreeMap<usize, Vec<FaultId>>,
    fired: Vec<FiredFault>,
    /// Test breakage `fault-injector-skips-heal`: faults never heal.
    skips_heal: bool,
    /// Test breakage `fault-injector-panics-on-partition`: an mcsim bug, to show how a run
    /// reports one.
    panics_on_partition: bool,
}

impl FaultInjector {
    /// Resolves every fault and action of `scenario`. `link_gen(cluster, link)` gives the
    /// objects `linkerd multicluster link-gen` prints for a declared link of `cluster`.
    /// Fails when a name does not resolve or a fault's overlays do not apply to `topology`.
    pub(crate) fn new(
        scenario: &Scenario,
        wiring: &Wiring<'_>,
        topology: &Topology,
        link_gen: &dyn Fn(usize, &str) -> Option<Vec<Object>>,
    ) -> Result<FaultInjector, String> {
        // Every overlay must apply to this topology: try them all on a scratch copy.
        let mut scratch = topology.clone();
        let mut faults = Vec::new();
        for f in &scenario.faults {
            let plan = plan::plan(&f.kind, f.duration, wiring)
                .map_err(|e| format!("fault {}: {e}", f.kind))?;
            for overlay in &plan.overlays {
                scratch
                    .add_fault(overlay.clone())
                    .map_err(|e| format!("fault {}: {e}", f.kind))?;
            }
            faults.push(ScriptedFault {
                at: f.at,
                plan,
                key: f.kind.key(),
                description: f.kind.to_string(),
                clusters: f.kind.clusters(),
            });
        }
        let mut actions = Vec::new();
        for a in &scenario.actions {
            let cluster = scenario
                .clusters
                .iter()
                .position(|c| c.name == a.cluster)
                .ok_or_else(|| format!("action at {}: unknown cluster \"{}\"", a.at, a.cluster))?;
            let link_gen = match &a.kind {
                ActionKind::Link { link } => link_gen(cluster, link).ok_or_else(|| {
                    format!(
                        "action at {}: cluster {} has no link {link}",
                        a.at, a.cluster
                    )
                })?,
                _ => Vec::new(),
            };
            actions.push(ScriptedAction {
                at: a.at,
                cluster,
                namespace: a.namespace.clone(),
                kind: a.kind.clone(),
                link_gen,
            });
        }
        Ok(FaultInjector {
            faults,
            actions,
            active: BTreeMap::new(),
            fired: Vec::new(),
            skips_heal: scenario.has_breakage(Breakage::FaultInjectorSkipsHeal),
            panics_on_partition: scenario.has_breakage(Breakage::FaultInjectorPanicsOnPartition),
        })
    }

    /// Schedules every fault, its heal, and every action for the injector `me`.
    pub(crate) fn schedule(&self, kernel: &mut Kernel<Msg>, me: ComponentId) {
        for (i, f) in self.faults.iter().enumerate() {
            kernel.inject(me, SimTime::ZERO + f.at, Msg::Fault(FaultMsg::Inject(i)));
            if let Some(after) = f.plan.heals_after {
                kernel.inject(
                    me,
                    SimTime::ZERO + f.at + after,
                    Msg::Fault(FaultMsg::Heal(i)),
                );
            }
        }
        for (i, a) in self.actions.iter().enumerate() {
            kernel.inject(me, SimTime::ZERO + a.at, Msg::Fault(FaultMsg::Action(i)));
        }
    }

    /// Every fault that fired, in firing order.
    pub fn fired(&self) -> &[FiredFault] {
        &self.fired
    }

    pub(crate) fn handle(&mut self, env: &mut dyn FaultEnv, msg: FaultMsg) {
        match msg {
            FaultMsg::Inject(i) => self.inject(env, i),
            FaultMsg::Heal(_) if self.skips_heal => {}
            FaultMsg::Heal(i) => self.heal(env, i),
            FaultMsg::Action(i) => self.act(env, i),
        }
    }

    fn inject(&mut self, env: &mut dyn FaultEnv, i: usize) {
        let now = env.now();
        let f = &self.faults[i];
        if self.panics_on_partition && f.key == "partition" {
            panic!("fault #{i}: the injector cannot apply a partition (test breakage)");
        }
        self.fired.push(FiredFault {
            index: i,
            kind: f.key,
            description: f.description.clone(),
            clusters: f.clusters.clone(),
            at: now,
            healed_at: None,
        });
        let ids: Vec<FaultId> = f
            .plan
            .overlays
            .iter()
            .map(|o| env.add_overlay(o.clone()))
            .collect();
        if !ids.is_empty() {
            self.active.insert(i, ids);
        }
        apply(env, &f.plan.components, true);
        env.paths_changed();
        env.observe(Observation::FaultInjected { index: i });
    }

    fn heal(&mut self, env: &mut dyn FaultEnv, i: usize) {
        let now = env.now();
        if let Some(f) = self
            .fired
            .iter_mut()
            .find(|f| f.index == i && f.healed_at.is_none())
        {
            f.healed_at = Some(now);
        }
        for id in self.active.remove(&i).unwrap_or_default() {
            env.remove_overlay(id);
        }
        apply(env, &self.faults[i].plan.components, false);
        env.paths_changed();
        env.observe(Observation::FaultHealed { index: i });
    }

    /// A scripted action: its requests computed from the cluster's objects now, then sent one
    /// by one, each result observed.
    fn act(&mut self, env: &mut dyn FaultEnv, i: usize) {
        let a = &self.actions[i];
        let requests = actions::requests(&a.kind, &a.namespace, env.store(a.cluster), &a.link_gen);
        for request in requests {
            let description = request.describe();
            let ok = env.api_call(a.cluster, request).is_ok();
            env.observe(Observation::ActionApplied {
                cluster: a.cluster,
                description,
                ok,
            });
        }
    }
}

/// What a fault does to components when it starts (`inject`) or heals.
fn apply(env: &mut dyn FaultEnv, fault: &ComponentFault, inject: bool) {
    match fault {
        ComponentFault::None => {}
        ComponentFault::Down(ids) => {
            for id in ids {
                env.set_down(*id, inject);
            }
        }
        ComponentFault::DnsFailing(dns) => env.set_dns_failing(*dns, inject),
        ComponentFault::KillPod {
            kubelet,
            namespace,
            pod,
        } => {
            if inject {
                env.kill_pod(*kubelet, namespace, pod);
            }
        }
        ComponentFault::ClockSkew {
            cluster,
            skewed_ns,
            base_ns,
        } => env.set_clock_skew(*cluster, if inject { *skewed_ns } else { *base_ns }),
        ComponentFault::Compact(cluster) => {
            if inject {
                env.compact(*cluster);
            }
        }
        ComponentFault::CertsExpired(cluster) => env.set_certs_expired(*cluster, inject),
        ComponentFault::RotateCerts(cluster) => {
            if inject {
                env.rotate_certs(*cluster);
            }
        }
        ComponentFault::TrustAnchor {
            cluster,
            anchor,
            base,
            trust_domain,
        } => env.switch_anchor(*cluster, if inject { anchor } else { base }, trust_domain),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::k8s::store::Store;
    use crate::scenario::load_str;

    /// An env that records what the injector asks of the world, one line per call.
    #[derive(Default)]
    struct Recorder {
        now: SimTime,
        calls: Vec<String>,
        store: Store,
        next_overlay: u64,
    }

    impl FaultEnv for Recorder {
        fn now(&self) -> SimTime {
            self.now
        }
        fn add_overlay(&mut self, overlay: Fault) -> FaultId {
            self.next_overlay += 1;
            let kind = match overlay {
                Fault::Partition(_) => "partition",
                Fault::Down(_) => "down",
                Fault::Degrade { .. } => "degrade",
            };
            self.calls
                .push(format!("add overlay {} ({kind})", self.next_overlay));
            FaultId(self.next_overlay)
        }
        fn remove_overlay(&mut self, id: FaultId) {
            self.calls.push(format!("remove overlay {}", id.0));
        }
        fn paths_changed(&mut self) {
            self.calls.push("paths changed".into());
        }
        fn set_down(&mut self, component: ComponentId, down: bool) {
            let state = if down { "down" } else { "up" };
            self.calls
                .push(format!("component {} {state}", component.0));
        }
        fn set_dns_failing(&mut self, dns: ComponentId, failing: bool) {
            self.calls.push(format!("dns {} failing {failing}", dns.0));
        }
        fn kill_pod(&mut self, kubelet: ComponentId, namespace: &str, pod: &str) {
            self.calls
                .push(format!("kubelet {} kills {namespace}/{pod}", kubelet.0));
        }
        fn set_clock_skew(&mut self, cluster: usize, skew_ns: i64) {
            self.calls.push(format!("cluster {cluster} skew {skew_ns}"));
        }
        fn compact(&mut self, cluster: usize) {
            self.calls.push(format!("cluster {cluster} compacted"));
        }
        fn set_certs_expired(&mut self, cluster: usize, expired: bool) {
            self.calls
                .push(format!("cluster {cluster} certs expired {expired}"));
        }
        fn rotate_certs(&mut self, cluster: usize) {
            self.calls.push(format!("cluster {cluster} certs rotated"));
        }
        fn switch_anchor(&mut self, cluster: usize, anchor: &str, _trust_domain: &str) {
            self.calls
                .push(format!("cluster {cluster} anchor {anchor}"));
        }
        fn store(&self, _cluster: usize) -> &dyn ObjectView {
            &self.store
        }
        fn api_call(&mut self, cluster: usize, request: Request) -> Result<Response, Status> {
            self.calls
                .push(format!("cluster {cluster}: {}", request.describe()));
            match request {
                Request::Create { object } => Ok(Response::Object(std::sync::Arc::new(object))),
                _ => Err(Status::not_found(crate::k8s::Kind::Service, "web")),
            }
        }
        fn observe(&mut self, observation: Observation) {
            self.calls.push(format!("observe {observation:?}"));
        }
    }

    const HEAD: &str = r#"
[sim]
name = "t"
duration = "10m"
[[cluster]]
name = "west"
[[cluster]]
name = "east"
[[link]]
from = "west"
to = "east"
"#;

    /// The injector of `faults` (TOML appended to a two-cluster scenario) with made-up
    /// component ids: cluster `c`'s API server is `10c`, its kubelet `10c+1`, its CoreDNS
    /// `10c+2`, its gateway `10c+3`, west's service mirror of `east` is 99.
    fn injector(faults: &str) -> FaultInjector {
        let s = load_str("t.toml", &format!("{HEAD}{faults}")).unwrap();
        let id = |c: usize, k: u32| ComponentId(10 * c as u32 + k);
        let net = crate::world::network::build(&s).unwrap();
        let mirrors = [((0, "east".to_string()), ComponentId(99))].into();
        let wiring = Wiring {
            scenario: &s,
            net_nodes: &net.nodes,
            api: &[id(0, 0), id(1, 0)],
            kubelet: &[id(0, 1), id(1, 1)],
            dns: &[id(0, 2), id(1, 2)],
            gateway: &[Some(id(0, 3)), Some(id(1, 3))],
            components: &[
                (0..4).map(|k| id(0, k)).collect(),
                (0..4).map(|k| id(1, k)).collect(),
            ],
            mirrors: &mirrors,
            partition_cuts_whole_cluster: false,
        };
        FaultInjector::new(&s, &wiring, &net.topology, &|_, _| Some(Vec::new())).unwrap()
    }

    fn calls(injector: &mut FaultInjector, msgs: &[FaultMsg]) -> Vec<String> {
        let mut env = Recorder::default();
        for m in msgs {
            injector.handle(&mut env, m.clone());
        }
        env.calls
    }

    #[test]
    fn an_api_server_outage_takes_the_api_server_down_and_back_up() {
        let mut i = injector("[[fault]]\nat = \"1m\"\nfor = \"30s\"\napi_server_down = \"east\"\n");
        assert_eq!(
            calls(&mut i, &[FaultMsg::Inject(0), FaultMsg::Heal(0)]),
            [
                "component 10 down",
                "paths changed",
                "observe FaultInjected { index: 0 }",
                "component 10 up",
                "paths changed",
                "observe FaultHealed { index: 0 }",
            ]
        );
        assert_eq!(i.fired().len(), 1);
        assert!(i.fired()[0].healed_at.is_some());
        assert_eq!(i.fired()[0].description, "API server of east down");
    }

    #[test]
    fn a_cluster_outage_cuts_the_cluster_and_takes_every_component_down() {
        let mut i = injector("[[fault]]\nat = \"1m\"\ncluster_down = \"west\"\n");
        assert_eq!(
            calls(&mut i, &[FaultMsg::Inject(0)]),
            [
                "add overlay 1 (down)",
                "component 0 down",
                "component 1 down",
                "component 2 down",
                "component 3 down",
                "paths changed",
                "observe FaultInjected { index: 0 }",
            ]
        );
    }

    #[test]
    fn a_healed_partition_removes_exactly_its_overlays() {
        let mut i = injector(
            "[[fault]]\nat = \"1m\"\nfor = \"1m\"\npartition = [[\"west\"], [\"east\"]]\n",
        );
        let log = calls(&mut i, &[FaultMsg::Inject(0), FaultMsg::Heal(0)]);
        assert_eq!(log[0], "add overlay 1 (partition)");
        assert!(log.contains(&"remove overlay 1".to_string()), "{log:?}");
    }

    /// A controller crash without a duration is healed by Kubernetes restarting the pod.
    #[test]
    fn a_crashed_controller_restarts_after_its_back_off() {
        let i = injector(
            "[[fault]]\nat = \"1m\"\ncontroller_crash = { cluster = \"west\", link = \"east\" }\n",
        );
        assert_eq!(
            i.faults[0].plan.components,
            ComponentFault::Down(vec![ComponentId(99)])
        );
        assert_eq!(
            i.faults[0].plan.heals_after,
            Some(crate::sim::SimDuration::from_secs(10))
        );
    }

    #[test]
    fn the_skips_heal_breakage_never_heals() {
        let mut i = injector(
            "[[fault]]\nat = \"1m\"\nfor = \"1m\"\ndns_failure = \"east\"\n[testing]\nbreakages = [\"fault-injector-skips-heal\"]\n",
        );
        assert_eq!(
            calls(&mut i, &[FaultMsg::Inject(0), FaultMsg::Heal(0)]),
            [
                "dns 12 failing true",
                "paths changed",
                "observe FaultInjected { index: 0 }",
            ]
        );
        assert_eq!(i.fired()[0].healed_at, None);
    }

    #[test]
    fn a_clock_skew_heals_back_to_the_scenario_skew() {
        let mut i = injector(
            "[[fault]]\nat = \"1m\"\nfor = \"1m\"\nclock_skew = { cluster = \"east\", by = \"-5s\" }\n",
        );
        let log = calls(&mut i, &[FaultMsg::Inject(0), FaultMsg::Heal(0)]);
        assert_eq!(log[0], "cluster 1 skew -5000000000");
        assert_eq!(log[3], "cluster 1 skew 0");
    }

    /// An action's requests go to its cluster's API server one by one, each result observed.
    #[test]
    fn an_action_sends_its_requests_and_observes_each_result() {
        let mut i = injector(
            "[[action]]\nat = \"1m\"\ncluster = \"east\"\ncreate_namespace = \"shop\"\n[[action]]\nat = \"2m\"\ncluster = \"east\"\ndelete_service = \"web\"\n",
        );
        assert_eq!(
            calls(&mut i, &[FaultMsg::Action(0), FaultMsg::Action(1)]),
            [
                "cluster 1: create Namespace shop",
                "observe ActionApplied { cluster: 1, description: \"create Namespace shop\", ok: true }",
                "cluster 1: delete Service default/web",
                "observe ActionApplied { cluster: 1, description: \"delete Service default/web\", ok: false }",
            ]
        );
    }

    #[test]
    fn a_name_that_does_not_resolve_is_an_error() {
        let s = load_str("t.toml", HEAD).unwrap();
        let mut s = s;
        s.faults.push(crate::scenario::FaultSpec {
            at: crate::sim::SimDuration::from_secs(1),
            duration: None,
            kind: crate::scenario::FaultKind::GatewayDown("nowhere".into()),
        });
        let net = crate::world::network::build(&s).unwrap();
        let mirrors = BTreeMap::new();
        let wiring = Wiring {
            scenario: &s,
            net_nodes: &net.nodes,
            api: &[],
            kubelet: &[],
            dns: &[],
            gateway: &[],
            components: &[],
            mirrors: &mirrors,
            partition_cuts_whole_cluster: false,
        };
        let err = FaultInjector::new(&s, &wiring, &net.topology, &|_, _| None)
            .err()
            .expect("an unknown cluster fails the build");
        assert!(err.contains("unknown cluster \"nowhere\""), "{err}");
    }
}
