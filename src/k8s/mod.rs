//! The in-memory Kubernetes model, as sans-IO pieces the simulation kernel wraps in components.
//!
//! Owns: object types ([`objects`]), label selectors ([`selector`]), the wire vocabulary
//! ([`api`]), one API server per cluster ([`apiserver`]), the client side ([`informer`],
//! [`workqueue`]), a copy-on-write list object versions share ([`shared_list`]), the controllers of kube-controller-manager and a kubelet-lite
//! ([`controllers`]), a CoreDNS model ([`dns`]), manifest loading and dumping ([`manifest`]) and
//! a synchronous single-cluster harness for tests ([`testing`]).
//!
//! Inputs: requests, watch events, `now: SimTime` and `&mut Prng` passed in by the caller.
//! Outputs: responses, events and effects as data. Must not touch: the wall clock, threads,
//! hash-ordered containers, the network, or `crate::sim` internals (only its time and RNG
//! types). Nothing here sends a message or arms a real timer.

pub mod api;
pub mod apiserver;
pub mod controllers;
pub mod discovery;
pub mod dns;
pub mod field_validation;
pub mod informer;
pub mod manifest;
pub mod objects;
pub mod sample_snapshot;
pub mod selector;
pub mod shared_list;
pub mod snapshot;
pub mod store;
pub mod testing;
pub mod validation;
pub mod workqueue;

pub use api::{
    DeleteOptions, Propagation, Request, Response, Status, StatusReason, WatchEvent, WatchId,
    WatchRequest,
};
pub use apiserver::{ApiServer, ApiServerConfig};
pub use dns::{Dns, DnsConfig, DnsRecord, DnsResponse, QueryType};
pub use informer::{Delta, Informer, InformerConfig, InformerEffect, InformerInput};
pub use objects::{Kind, Object, ObjectKey, ObjectMeta, OpaqueKind, OpaqueObject};
pub use selector::LabelSelector;
pub use store::{MultiView, ObjectView, Store};
pub use workqueue::WorkQueue;
