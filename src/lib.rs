//! mcsim: a deterministic discrete-event simulator and test harness for Linkerd-style
//! multi-cluster Kubernetes communication. See `ARCHITECTURE.md` for the module map.

pub mod k8s;
pub mod sim;
