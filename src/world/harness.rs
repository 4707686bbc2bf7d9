//! Test harness for world components: a world built from a small scenario, driven one
//! delivered message at a time, with what each delivery sent in reply. A test steps to the
//! message it cares about (or hands a component a message of its own, out of band) and asserts
//! on the component's state, the stores and the messages the component queued, the way the
//! cores' tests assert on a handler's effects.

use super::{Msg, Observation, World};
use crate::k8s::store::Store;
use crate::scenario::load_str;
use crate::sim::trace::Message;
use crate::sim::{ComponentId, Kernel, KernelConfig, SimDuration, SimTime};
use std::sync::Arc;

/// A message a delivery scheduled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Sent {
    pub at: SimTime,
    pub to: String,
    pub kind: &'static str,
}

/// One delivered message and what its handling scheduled.
#[derive(Clone, Debug)]
pub(crate) struct Delivery {
    pub at: SimTime,
    pub to: String,
    pub kind: &'static str,
    pub sent: Vec<Sent>,
    pub observed: Vec<Observation>,
}

impl Delivery {
    /// Whether the handling scheduled a message of `kind` for component `to`.
    pub fn sent(&self, to: &str, kind: &str) -> bool {
        self.sent.iter().any(|s| s.to == to && s.kind == kind)
    }
}

pub(crate) struct Harness {
    kernel: Kernel<Msg>,
    pub world: World,
}

impl Harness {
    /// The world of `scenario` (TOML), before its first event.
    pub fn new(scenario: &str) -> Harness {
        let scenario = load_str("harness.toml", scenario)
            .unwrap_or_else(|d| panic!("the test scenario does not load: {d}"));
        let mut kernel = Kernel::new(KernelConfig::new(scenario.seed));
        let world = World::build(Arc::new(scenario), &mut kernel).expect("the world builds");
        Harness { kernel, world }
    }

    pub fn id(&self, component: &str) -> ComponentId {
        let names = self.kernel.component_names();
        let i = names
            .iter()
            .position(|n| n == component)
            .unwrap_or_else(|| panic!("no component {component} (there are {names:?})"));
        ComponentId(i as u32)
    }

    fn name(&self, id: ComponentId) -> String {
        self.kernel.component_name(id).to_string()
    }

    pub fn now(&self) -> SimTime {
        self.kernel.now()
    }

    /// The objects of cluster `cluster`'s API server.
    pub fn store(&self, cluster: &str) -> &Store {
        let ci = self.world.cluster_index(cluster).expect("a cluster");
        self.world.apis[ci].server.store()
    }

    fn sent_since(&self, seq: u64) -> Vec<Sent> {
        self.kernel
            .queued_since(seq)
            .into_iter()
            .map(|(at, to, msg)| Sent {
                at,
                to: self.name(to),
                kind: msg.kind(),
            })
            .collect()
    }

    /// Delivers the next queued message.
    pub fn step(&mut self) -> Option<Delivery> {
        let (at, to, kind) = self
            .kernel
            .peek()
            .map(|(at, to, msg)| (at, to, msg.kind()))?;
        let seq = self.kernel.next_seq();
        self.kernel.step(&mut self.world)?;
        let observed = std::mem::take(&mut self.world.observations);
        Some(Delivery {
            at,
            to: self.name(to),
            kind,
            sent: self.sent_since(seq),
            observed: observed.into_iter().map(|(_, o)| o).collect(),
        })
    }

    /// Delivers messages until one matches `wanted`, and returns it; panics if none does
    /// within `limit` of virtual time.
    pub fn step_until(
        &mut self,
        limit: SimDuration,
        wanted: impl Fn(&Delivery) -> bool,
    ) -> Delivery {
        let end = self.now() + limit;
        while self.kernel.next_event_time().is_some_and(|t| t <= end) {
            let d = self.step().expect("a queued message");
            if wanted(&d) {
                return d;
            }
        }
        panic!("no wanted delivery within {limit}")
    }

    /// Delivers messages until `done` holds for the world; panics if it does not within
    /// `limit` of virtual time.
    pub fn run_until(&mut self, limit: SimDuration, done: impl Fn(&World) -> bool) {
        let end = self.now() + limit;
        while !done(&self.world) {
            assert!(
                self.kernel.next_event_time().is_some_and(|t| t <= end),
                "not done within {limit}"
            );
            self.step();
        }
    }

    /// Delivers every message due up to `t` (virtual time since the start).
    pub fn run_to(&mut self, t: SimDuration) {
        let end = SimTime::ZERO + t;
        while self.kernel.next_event_time().is_some_and(|at| at <= end) {
            self.step();
        }
    }

    /// Hands `msg` to `component` now, ahead of the queue, and returns what it scheduled (its
    /// observations stay in `world.observations`).
    pub fn deliver(&mut self, component: &str, msg: Msg) -> Vec<Sent> {
        let to = self.id(component);
        let seq = self.kernel.next_seq();
        self.kernel.deliver_now(&mut self.world, to, msg);
        self.sent_since(seq)
    }
}
