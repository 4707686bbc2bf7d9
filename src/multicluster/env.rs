//! What a handler sees of the world: the [`HandlerEnv`] (caches, the local API, DNS, effect
//! sinks), the [`LocalApi`] and [`GatewayResolver`] traits the simulation implements, and
//! [`HandlerError`] (the retry classes of spec §4.2).
//!
//! Owns: these interfaces and a [`StaticResolver`] for tests. Inputs/outputs: requests and
//! responses as data. Must not touch: any real network or clock.

use crate::k8s::objects::Object;
use crate::k8s::{ObjectView, Request, Response, Status};
use crate::sim::SimTime;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use super::event::MirrorEvent;

/// Synchronous access to the local (source) cluster's API server. In the simulation each call
/// is served by the local API server (and fails with a `Status` when it is down or
/// unreachable).
pub trait LocalApi {
    fn call(&mut self, req: Request) -> Result<Response, Status>;
}

/// DNS resolution of one gateway address item (`net.LookupIP`). IP literals never reach the
/// resolver (Go resolves them without DNS).
pub trait GatewayResolver {
    fn resolve(&mut self, host: &str) -> Result<Vec<Ipv4Addr>, String>;
}

/// A fixed name → addresses table; unknown names fail with "no such host".
#[derive(Clone, Debug, Default)]
pub struct StaticResolver {
    pub names: BTreeMap<String, Vec<Ipv4Addr>>,
}

impl StaticResolver {
    pub fn new() -> StaticResolver {
        StaticResolver::default()
    }
    pub fn with(mut self, name: &str, ips: &[Ipv4Addr]) -> StaticResolver {
        self.names.insert(name.to_string(), ips.to_vec());
        self
    }
}

impl GatewayResolver for StaticResolver {
    fn resolve(&mut self, host: &str) -> Result<Vec<Ipv4Addr>, String> {
        match self.names.get(host) {
            Some(ips) if !ips.is_empty() => Ok(ips.clone()),
            _ => Err(format!("lookup {host}: no such host")),
        }
    }
}

/// Everything one handler invocation may read or produce.
pub struct HandlerEnv<'a> {
    pub now: SimTime,
    /// Remote informer caches (Services and Endpoints of the target), possibly stale.
    pub remote: &'a dyn ObjectView,
    /// Local listers (Namespaces, Services, Endpoints of the source), possibly stale.
    pub local: &'a dyn ObjectView,
    /// Direct local API calls (GET/LIST/CREATE/UPDATE/PATCH/DELETE).
    pub api: &'a mut dyn LocalApi,
    pub resolver: &'a mut dyn GatewayResolver,
    /// Kubernetes Events the controller records on the REMOTE cluster (its event sink writes
    /// to the target API; best effort).
    pub remote_events: &'a mut Vec<Object>,
    /// Follow-up events, to be queued at the tail in order.
    pub enqueue: &'a mut Vec<MirrorEvent>,
    /// The watcher's atomic `gatewayAlive` flag (§6.5).
    pub gateway_alive: bool,
    /// Log lines (e.g. "will not retry", "giving up").
    pub log: &'a mut Vec<String>,
}

/// How a handler failed (spec §4.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HandlerError {
    /// Linkerd's `RetryableError{Inner}`: requeued with rate limiting up to the requeue limit,
    /// then dropped with "giving up".
    Retryable(Vec<String>),
    /// Any other error: logged "will not retry" and dropped.
    Fatal(String),
    /// Where the Go code would dereference nil and panic: the whole controller process
    /// crashes (the caller should model a container restart). Never a Rust panic.
    Crash(String),
}

impl HandlerError {
    pub fn retryable(msg: impl Into<String>) -> HandlerError {
        HandlerError::Retryable(vec![msg.into()])
    }
}

impl std::fmt::Display for HandlerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HandlerError::Retryable(inner) => {
                write!(f, "Inner errors:\n\t{}", inner.join("\n\t"))
            }
            HandlerError::Fatal(m) => f.write_str(m),
            HandlerError::Crash(m) => write!(f, "panic: {m}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_resolver_knows_only_its_names() {
        let mut r = StaticResolver::new().with("gw.example", &[Ipv4Addr::new(1, 2, 3, 4)]);
        assert_eq!(r.resolve("gw.example"), Ok(vec![Ipv4Addr::new(1, 2, 3, 4)]));
        assert!(r.resolve("other").unwrap_err().contains("no such host"));
    }

    #[test]
    fn retryable_error_renders_like_linkerd() {
        let e = HandlerError::Retryable(vec!["a".into(), "b".into()]);
        assert_eq!(e.to_string(), "Inner errors:\n\ta\n\tb");
    }
}
