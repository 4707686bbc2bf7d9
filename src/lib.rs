//! mcsim: a deterministic discrete-event simulator and test harness for Linkerd-style
//! multi-cluster Kubernetes communication. See `ARCHITECTURE.md` for the module map.

pub mod check;
pub mod cli;
pub mod defaults;
pub mod fuzz;
pub mod identity;
pub mod k8s;
pub mod multicluster;
mod named;
pub mod net;
pub mod panics;
pub mod quirks;
pub mod report;
pub mod run;
pub mod scenario;
pub mod sim;
pub mod world;
