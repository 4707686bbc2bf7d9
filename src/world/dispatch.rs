//! Message dispatch: the kernel delivers a message to a component id; this hands it to the
//! component's state machine with an [`Env`] over the rest of the world. Transport messages
//! become connection events first; a down component receives nothing. Every (component,
//! message) pair is matched explicitly: a message a component cannot handle is an mcsim bug and
//! panics with both names.
//!
//! Also here: what taking a component down and bringing it back means (crash, restart), and
//! the [`FaultEnv`] through which the fault injector acts on the world.

use super::env::Env;
use super::fault_injector::FaultEnv;
use super::kubelet_node::PodMsg;
use super::lookup::LookupMsg;
use super::msg::{FaultMsg, Msg, Timer};
use super::transport::{ConnEvent, NetEnv, Transport};
use super::{ApiServerNode, Node, Observation, World};
use crate::k8s::store::ObjectView;
use crate::k8s::{Request, Response, Status};
use crate::net::fault::{Fault, FaultId};
use crate::sim::{ComponentId, Ctx, SimDuration, SimTime};

impl crate::sim::World<Msg> for World {
    fn deliver(&mut self, ctx: &mut Ctx<'_, Msg>, to: ComponentId, msg: Msg) {
        match msg {
            Msg::Fault(f) => self.on_fault(ctx, f),
            Msg::Net(net) => {
                // Transport bookkeeping happens even for a down component (a SYN to a dead
                // process is refused); only the resulting event is withheld from it.
                let event = {
                    let (mut env, transport, _) = self.net_env(ctx);
                    transport.on_net(&mut env, to, net)
                };
                if let Some(event) = event
                    && !self.down[to.index()]
                {
                    self.conn_event(ctx, to, event);
                }
            }
            _ if self.down[to.index()] => {}
            Msg::Start => self.start(ctx, to),
            Msg::Timer(t) => self.timer(ctx, to, t),
            Msg::Lookup(l) => self.lookup(ctx, to, l),
            Msg::Pod(p) => self.pod(ctx, to, p),
        }
    }
}

/// A message reached a component that has no handler for it: an mcsim wiring bug.
fn misrouted(node: &Node, what: &str) -> ! {
    let component = match node {
        Node::FaultInjector => "the fault injector",
        Node::ApiServer(_) => "an API server",
        Node::Controllers(_) => "a controller manager",
        Node::Kubelet(_) => "a kubelet",
        Node::Lookup(_) => "a CoreDNS or destination",
        Node::Gateway(_) => "a gateway",
        Node::Traffic(_) => "a traffic client",
        Node::Mirror(_) => "a service mirror",
    };
    panic!("{what} delivered to {component}, which has no handler for it")
}

impl World {
    /// Hands a connection event to the component it is for.
    fn conn_event(&mut self, ctx: &mut Ctx<'_, Msg>, to: ComponentId, event: ConnEvent) {
        if let Node::ApiServer(c) = self.nodes[to.index()] {
            let (mut net, transport, apis) = self.net_env(ctx);
            apis[c].on_conn(&mut net, transport, event);
            return;
        }
        self.with_env(ctx, to, |node, env| match node {
            Node::Controllers(c) => c.on_conn(env, event),
            Node::Kubelet(k) => k.on_conn(env, event),
            Node::Lookup(l) => l.on_conn(env, event),
            Node::Gateway(g) => g.on_conn(env, event),
            Node::Traffic(t) => t.on_conn(env, event),
            Node::Mirror(m) => m.on_conn(env, event),
            Node::FaultInjector | Node::ApiServer(_) => misrouted(node, "a connection event"),
        });
    }

    fn timer(&mut self, ctx: &mut Ctx<'_, Msg>, to: ComponentId, timer: Timer) {
        if let Node::ApiServer(c) = self.nodes[to.index()] {
            let (mut net, transport, apis) = self.net_env(ctx);
            apis[c].on_expiry_timer(&mut net, transport);
            return;
        }
        let api = self.api_ids[self.cluster_of[to.index()]];
        self.with_env(ctx, to, |node, env| match node {
            Node::Mirror(m) => m.on_timer(env, timer, api),
            Node::Controllers(c) => c.on_timer(env, timer),
            Node::Kubelet(k) => k.on_timer(env, timer),
            Node::Lookup(l) => l.on_timer(env, timer),
            Node::Traffic(tr) => tr.on_timer(env, timer),
            Node::Gateway(_) | Node::FaultInjector | Node::ApiServer(_) => {
                misrouted(node, "a timer")
            }
        });
    }

    fn lookup(&mut self, ctx: &mut Ctx<'_, Msg>, to: ComponentId, msg: LookupMsg) {
        self.with_env(ctx, to, |node, env| match node {
            Node::Lookup(x) => x.on_msg(env, msg),
            Node::Traffic(x) => x.on_lookup(env, msg),
            Node::Gateway(x) => x.on_lookup(env, msg),
            Node::FaultInjector
            | Node::ApiServer(_)
            | Node::Controllers(_)
            | Node::Kubelet(_)
            | Node::Mirror(_) => misrouted(node, "a DNS or destination message"),
        });
    }

    fn pod(&mut self, ctx: &mut Ctx<'_, Msg>, to: ComponentId, msg: PodMsg) {
        self.with_env(ctx, to, |node, env| match node {
            Node::Kubelet(x) => x.on_pod_msg(env, msg),
            Node::Gateway(x) => x.on_pod(env, msg),
            Node::FaultInjector
            | Node::ApiServer(_)
            | Node::Controllers(_)
            | Node::Lookup(_)
            | Node::Traffic(_)
            | Node::Mirror(_) => misrouted(node, "a pod hop"),
        });
    }

    /// `Start`: the first start of a component, or its restart after being down (empty caches).
    fn start(&mut self, ctx: &mut Ctx<'_, Msg>, to: ComponentId) {
        let restart = std::mem::replace(&mut self.started[to.index()], true);
        let api = self.api_ids[self.cluster_of[to.index()]];
        self.with_env(ctx, to, |node, env| match node {
            Node::Controllers(c) if restart => c.restart(env, api),
            Node::Controllers(c) => c.start(env),
            Node::Kubelet(k) if restart => k.restart(env, api),
            Node::Kubelet(k) => k.start(env),
            Node::Lookup(l) if restart => l.restart(env, api),
            Node::Lookup(l) => l.start(env),
            Node::Mirror(m) if restart => m.restart(env, api),
            Node::Mirror(m) => m.start(env),
            Node::Gateway(_) | Node::Traffic(_) | Node::FaultInjector | Node::ApiServer(_) => {
                misrouted(node, "a start")
            }
        });
    }

    fn on_fault(&mut self, ctx: &mut Ctx<'_, Msg>, msg: FaultMsg) {
        let mut injector = std::mem::take(&mut self.faults);
        injector.handle(&mut WorldFaultEnv { world: self, ctx }, msg);
        self.faults = injector;
    }

    /// Runs `f` with the component `to` and an [`Env`] over the rest of the world.
    pub(super) fn with_env<R>(
        &mut self,
        ctx: &mut Ctx<'_, Msg>,
        to: ComponentId,
        f: impl FnOnce(&mut Node, &mut Env<'_, '_>) -> R,
    ) -> R {
        let World {
            nodes,
            transport,
            topology,
            placement,
            down,
            apis,
            api_ids,
            observations,
            identity,
            cluster_of,
            ..
        } = self;
        let mut env = Env {
            ctx,
            transport,
            topology,
            placement,
            down,
            apis,
            api_ids,
            obs: observations,
            identity,
            cluster: cluster_of[to.index()],
        };
        f(&mut nodes[to.index()], &mut env)
    }

    fn net_env<'a, 'b>(
        &'a mut self,
        ctx: &'a mut Ctx<'b, Msg>,
    ) -> (
        NetEnv<'a, 'b>,
        &'a mut Transport,
        &'a mut Vec<ApiServerNode>,
    ) {
        (
            NetEnv {
                ctx,
                topology: &self.topology,
                placement: &self.placement,
                down: &self.down,
            },
            &mut self.transport,
            &mut self.apis,
        )
    }

    /// A process crash: its connections reset, an API server loses its watches, a gateway its
    /// connection state. Its memory is rebuilt when it comes back ([`Self::revive`]).
    fn crash(&mut self, ctx: &mut Ctx<'_, Msg>, id: ComponentId) {
        if self.down[id.index()] {
            return;
        }
        self.down[id.index()] = true;
        {
            let (mut net, transport, _) = self.net_env(ctx);
            transport.on_component_down(&mut net, id);
        }
        match &mut self.nodes[id.index()] {
            Node::ApiServer(c) => {
                let c = *c;
                self.apis[c].crash();
            }
            Node::Gateway(g) => g.restart(),
            // Informer-driven components restart with empty caches on their next `Start`;
            // the fault injector and traffic clients keep no state a crash would lose.
            Node::FaultInjector
            | Node::Controllers(_)
            | Node::Kubelet(_)
            | Node::Lookup(_)
            | Node::Traffic(_)
            | Node::Mirror(_) => {}
        }
    }

    /// Brings a component back; started components get a `Start` and restart, and so does an
    /// active one that crashed before its first `Start` was delivered (both at t=0, the crash
    /// first), as its container would when it comes back.
    fn revive(&mut self, ctx: &mut Ctx<'_, Msg>, id: ComponentId) {
        if !self.down[id.index()] {
            return;
        }
        self.down[id.index()] = false;
        let passive = matches!(
            self.nodes[id.index()],
            Node::FaultInjector | Node::ApiServer(_) | Node::Gateway(_) | Node::Traffic(_)
        );
        if self.started[id.index()] || !passive {
            ctx.send(id, Msg::Start, SimDuration::ZERO);
        }
    }
}

/// The world as the fault injector reaches it, for the length of one fault message.
struct WorldFaultEnv<'w, 'c, 'b> {
    world: &'w mut World,
    ctx: &'c mut Ctx<'b, Msg>,
}

impl FaultEnv for WorldFaultEnv<'_, '_, '_> {
    fn now(&self) -> SimTime {
        self.ctx.now()
    }
    fn add_overlay(&mut self, overlay: Fault) -> FaultId {
        // Validated on a scratch topology when the world was built: failing here is a bug.
        match self.world.topology.add_fault(overlay) {
            Ok(id) => id,
            Err(e) => panic!("a fault overlay no longer applies to the topology: {e}"),
        }
    }
    fn remove_overlay(&mut self, id: FaultId) {
        self.world.topology.remove_fault(id);
    }
    fn paths_changed(&mut self) {
        let (mut net, transport, _) = self.world.net_env(self.ctx);
        transport.on_paths_changed(&mut net);
    }
    fn set_down(&mut self, component: ComponentId, down: bool) {
        if down {
            self.world.crash(self.ctx, component)
        } else {
            self.world.revive(self.ctx, component)
        }
    }
    fn set_dns_failing(&mut self, dns: ComponentId, failing: bool) {
        match &mut self.world.nodes[dns.index()] {
            Node::Lookup(l) => l.failing = failing,
            other => misrouted(other, "a DNS failure"),
        }
    }
    fn kill_pod(&mut self, kubelet: ComponentId, namespace: &str, pod: &str) {
        self.world
            .with_env(self.ctx, kubelet, |node, env| match node {
                Node::Kubelet(k) => k.kill(env, namespace, pod),
                other => misrouted(other, "a pod kill"),
            });
    }
    fn set_clock_skew(&mut self, cluster: usize, skew_ns: i64) {
        self.world.identity.set_skew(cluster, skew_ns);
    }
    fn compact(&mut self, cluster: usize) {
        let (mut net, transport, apis) = self.world.net_env(self.ctx);
        apis[cluster].compact(&mut net, transport);
    }
    fn set_certs_expired(&mut self, cluster: usize, expired: bool) {
        self.world.identity.set_expired(cluster, expired);
    }
    fn rotate_certs(&mut self, cluster: usize) {
        self.world.identity.rotate(cluster);
    }
    fn switch_anchor(&mut self, cluster: usize, anchor: &str, trust_domain: &str) {
        self.world
            .identity
            .switch_anchor(cluster, anchor, trust_domain);
    }
    fn store(&self, cluster: usize) -> &dyn ObjectView {
        self.world.apis[cluster].server.store()
    }
    fn api_call(&mut self, cluster: usize, request: Request) -> Result<Response, Status> {
        let api = self.world.clusters[cluster].api;
        self.world
            .with_env(self.ctx, api, |_, env| env.api_call(request))
    }
    fn observe(&mut self, observation: Observation) {
        let now = self.ctx.now();
        self.world.observations.push((now, observation));
    }
}
