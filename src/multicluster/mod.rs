//! The Linkerd service-mirror controller core as sans-IO state machines
//! (linkerd-multicluster spec §2–§9, §11).
//!
//! Owns: the per-Link cluster watcher ([`ClusterWatcher`]: informer-handler logic, the event
//! handlers that create, update and delete mirror Services/Endpoints, federated services, Link
//! status, orphan GC), its event catalogue ([`MirrorEvent`]), its queue with Linkerd's retry
//! policy ([`MirrorQueue`]), the gateway probe worker ([`ProbeWorker`]), the controller's Link
//! handlers ([`LinkHandler`]: which Link deltas restart the watcher), the watcher's gateway
//! liveness and the repairs it triggers ([`GatewayLiveness`]), the local service
//! mirror (a watcher over a synthetic Link with an empty target cluster name, see
//! [`LinkConfig::local_mirror`]), and the named quirk fixes and test breakages of this
//! component ([`Fix`], [`Breakage`]).
//!
//! Inputs: informer deltas, events, `now: SimTime`, a `&mut Prng` (probe jitter only), and a
//! [`HandlerEnv`] giving read access to the remote and local informer caches and synchronous
//! access to the local API server. Outputs: API requests made through [`LocalApi`], follow-up
//! events, Kubernetes Events for the remote cluster, log lines, liveness changes and metrics,
//! all as data.
//!
//! Must not touch: the network, clocks, threads, randomness other than the `Prng` argument,
//! hash-ordered containers; it reads remote state only through the remote caches it is given
//! and never writes to the remote cluster except through the Events it returns. It never sends
//! a message or sleeps: the caller decides when to call back ([`MirrorQueue::next_wakeup`],
//! the probe tick delay).

pub mod config;
pub mod env;
pub mod event;
mod federated;
mod gateway;
mod headless;
pub mod link_handler;
pub mod liveness;
pub mod names;
pub mod probe;
pub mod queue;
mod status;
pub mod watcher;

pub use config::{Breakage, Breakages, Fix, Fixes, LinkConfig};
pub use env::{GatewayResolver, HandlerEnv, HandlerError, LocalApi, StaticResolver};
pub use event::MirrorEvent;
pub use link_handler::{LinkHandler, LinkUpdate};
pub use liveness::GatewayLiveness;
pub use probe::{
    ProbeMetrics, ProbeRequest, ProbeResult, ProbeTick, ProbeWorker, ProbeWorkerState,
};
pub use queue::{MirrorQueue, QueueItem};
pub use watcher::ClusterWatcher;
