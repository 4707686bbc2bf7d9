//! What a component can reach while it handles one event: the kernel context (time, its RNG,
//! sending), the transport, read-only topology and placement, the API servers of the clusters
//! (for *direct* same-cluster writes, see [`Env::api_call`]) and the observation log.

use super::Payload;
use super::apiserver_node::ApiServerNode;
use super::identity_book::IdentityBook;
use super::msg::Msg;
use super::observe::Observation;
use super::transport::{ConnId, NetEnv, Side, Transport};
use crate::k8s::{Request, Response, Status, StatusReason};
use crate::net::topology::{NodeId, Topology};
use crate::sim::{ComponentId, Ctx, SimTime};

pub struct Env<'a, 'b> {
    pub ctx: &'a mut Ctx<'b, Msg>,
    pub transport: &'a mut Transport,
    pub topology: &'a Topology,
    pub placement: &'a [NodeId],
    pub down: &'a [bool],
    /// API server state per cluster (index = scenario cluster order).
    pub apis: &'a mut [ApiServerNode],
    /// API server component per cluster.
    pub api_ids: &'a [ComponentId],
    pub obs: &'a mut Vec<(SimTime, Observation)>,
    /// Trust anchors, issuers, workload credentials and the signature memo.
    pub identity: &'a mut IdentityBook,
    /// Scenario cluster index of the component handling the event.
    pub cluster: usize,
}

impl<'a, 'b> Env<'a, 'b> {
    pub fn now(&self) -> SimTime {
        self.ctx.now()
    }
    pub fn me(&self) -> ComponentId {
        self.ctx.me()
    }
    pub fn observe(&mut self, obs: Observation) {
        let now = self.ctx.now();
        self.obs.push((now, obs));
    }

    fn net<'s>(&'s mut self) -> (NetEnv<'s, 'b>, &'s mut Transport) {
        (
            NetEnv {
                ctx: self.ctx,
                topology: self.topology,
                placement: self.placement,
                down: self.down,
            },
            self.transport,
        )
    }

    pub fn connect(&mut self, server: ComponentId) -> ConnId {
        let me = self.ctx.me();
        let (mut net, transport) = self.net();
        transport.connect(&mut net, me, server)
    }
    pub fn send(&mut self, conn: ConnId, from: Side, payload: Payload) {
        let (mut net, transport) = self.net();
        transport.send(&mut net, conn, from, payload);
    }
    pub fn close(&mut self, conn: ConnId, by: Side) {
        let (mut net, transport) = self.net();
        transport.close(&mut net, conn, by);
    }

    /// A write (or read) by an in-cluster component straight to its own cluster's API server,
    /// as a controller's client in the same cluster does over a sub-millisecond hop. Fails like
    /// a refused connection when the API server is down. The API server serves the call as
    /// itself ([`crate::sim::Ctx::on_behalf_of`]): on its own random stream, not the caller's.
    pub fn api_call(&mut self, req: Request) -> Result<Response, Status> {
        let cluster = self.cluster;
        let api = self.api_ids[cluster];
        if self.down[api.index()] || self.topology.is_down(self.placement[api.index()]) {
            return Err(Status::new(
                503,
                StatusReason::ServiceUnavailable,
                "connection refused: the API server is down",
            ));
        }
        let Env {
            ctx,
            transport,
            topology,
            placement,
            down,
            apis,
            ..
        } = self;
        let mut ctx = ctx.on_behalf_of(api);
        let mut net = NetEnv {
            ctx: &mut ctx,
            topology,
            placement,
            down,
        };
        apis[cluster].call_direct(&mut net, transport, req)
    }
}
