//! The registry of named options that change modelled behaviour:
//! - **fixes**: each is a quirk of the real Linkerd (documented with its source in
//!   `QUIRKS.md`); by default mcsim does what Linkerd really does, and a scenario can switch the
//!   intended behaviour on with `[linkerd] fixes = ["name"]`;
//! - **breakages**: deliberately broken component variants that exist only so tests can prove a
//!   check fails (`[testing] breakages = ["name"]`).
//!
//! A name is added here in the same change that implements it.

pub const FIX_NAMES: &[&str] = &[
    // Service mirror (`crate::multicluster::Fix`).
    "update-checks-empty-endpoints",
    "headless-update-keeps-root",
    "probe-starts-alive",
    "unexport-checks-ownership",
    "export-cleanup-checks-ownership",
    "headless-export-status",
    "headless-root-always-ready",
    "headless-create-uses-hostname",
    "headless-empty-waits",
    "headless-missing-namespace-skips",
    "headless-remote-discovery-mirrors",
    "export-also-joins-federated",
    "repair-skips-unchanged",
];

pub const BREAKAGE_NAMES: &[&str] = &[
    // Service mirror (`crate::multicluster::Breakage`).
    "mirror-touches-foreign",
    "endpoints-before-service",
    "endpoints-after-unexport",
    // World (`crate::world`).
    "gateway-accepts-any-anchor",
    "gateway-ignores-hostname",
    "partition-cuts-whole-cluster",
    "fault-injector-skips-heal",
];
