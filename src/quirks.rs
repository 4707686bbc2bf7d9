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
    "create-adopts-existing",
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
    "fault-injector-panics-on-partition",
];

#[cfg(test)]
mod tests {
    /// Every registered name has its row in `QUIRKS.md`.
    #[test]
    fn every_fix_and_breakage_is_documented() {
        let doc =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/QUIRKS.md")).unwrap();
        for name in super::FIX_NAMES.iter().chain(super::BREAKAGE_NAMES) {
            assert!(
                doc.contains(&format!("| `{name}` |")),
                "{name} is not documented in QUIRKS.md"
            );
        }
    }
}
