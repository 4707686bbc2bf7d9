//! Per-Link controller configuration, and the named quirk fixes and test breakages of the
//! service mirror.
//!
//! Owns: [`LinkConfig`] (the Link with defaults applied plus the controller flags of spec
//! §3.1), [`Fix`]/[`Fixes`] (intended behaviour switched on in place of a Linkerd quirk; every
//! fix is documented in `QUIRKS.md`), [`Breakage`]/[`Breakages`] (deliberately broken variants
//! for check tests; the enums and their names live in `crate::quirks`). Inputs: a Link and the
//! switched-on variants. Outputs: plain values. Must not touch: anything stateful.

use crate::k8s::objects::Link;
pub use crate::quirks::{Breakage, Fix};
use crate::sim::SimDuration;
use std::collections::BTreeSet;

/// The set of fixes switched on. Empty (the default) = what Linkerd really does.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fixes(BTreeSet<Fix>);

impl Fixes {
    pub fn none() -> Fixes {
        Fixes::default()
    }
    pub fn all() -> Fixes {
        Fixes(Fix::ALL.iter().copied().collect())
    }
    pub fn of(fixes: &[Fix]) -> Fixes {
        Fixes(fixes.iter().copied().collect())
    }
    pub fn with(mut self, fix: Fix) -> Fixes {
        self.0.insert(fix);
        self
    }
    pub fn has(&self, fix: Fix) -> bool {
        self.0.contains(&fix)
    }
    pub fn iter(&self) -> impl Iterator<Item = Fix> + '_ {
        self.0.iter().copied()
    }
}

/// The set of breakages switched on. Empty in every real run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Breakages(BTreeSet<Breakage>);

impl Breakages {
    pub fn none() -> Breakages {
        Breakages::default()
    }
    /// The switched-on breakages (the service mirror looks only for its own).
    pub fn of(breakages: &[Breakage]) -> Breakages {
        Breakages(breakages.iter().copied().collect())
    }
    pub fn with(mut self, b: Breakage) -> Breakages {
        self.0.insert(b);
        self
    }
    pub fn has(&self, b: Breakage) -> bool {
        self.0.contains(&b)
    }
}

/// Configuration of one controller (one per Link; spec §3.1 flags).
#[derive(Clone, Debug)]
pub struct LinkConfig {
    /// The Link as stored (defaults applied, `metadata.namespace`/`name` set: status writes
    /// address it). For the local mirror: the synthetic Link `local` with an empty
    /// `targetClusterName`.
    pub link: Link,
    /// The controller namespace (`linkerd-multicluster`): probe Endpoints live there.
    pub controller_namespace: String,
    /// `-enable-headless-services`.
    pub enable_headless: bool,
    /// `-enable-namespace-creation`.
    pub enable_namespace_creation: bool,
    /// `-event-requeue-limit` (chart default 3).
    pub requeue_limit: u32,
    /// `-endpoint-refresh-period` (default 1 minute): the `RepairEndpoints` period.
    pub repair_period: SimDuration,
    /// Name of the probe Service whose Endpoints the controller writes: `probe-<link>` for
    /// chart-managed controllers (default), `probe-gateway-<link>` for the legacy link chart.
    pub probe_service: String,
    pub fixes: Fixes,
    pub breakages: Breakages,
}

/// Namespace of the multicluster extension.
pub const DEFAULT_CONTROLLER_NAMESPACE: &str = "linkerd-multicluster";

impl LinkConfig {
    /// A controller for `link` with the chart defaults: namespace `linkerd-multicluster`,
    /// headless and namespace creation off, requeue limit 3, repair every minute, probe
    /// Service `probe-<targetClusterName>`, no fixes, no breakages. The Link is taken as
    /// given (apply `Link::with_defaults` first for link-gen defaults); an empty
    /// `metadata.namespace` is set to the controller namespace.
    pub fn new(mut link: Link) -> LinkConfig {
        if link.metadata.namespace.is_empty() {
            link.metadata.namespace = DEFAULT_CONTROLLER_NAMESPACE.to_string();
        }
        if link.metadata.name.is_empty() {
            link.metadata.name = link.spec.target_cluster_name.clone();
        }
        let probe_service = format!("probe-{}", link.spec.target_cluster_name);
        LinkConfig {
            link,
            controller_namespace: DEFAULT_CONTROLLER_NAMESPACE.to_string(),
            enable_headless: false,
            enable_namespace_creation: false,
            requeue_limit: crate::defaults::REQUEUE_LIMIT,
            repair_period: crate::defaults::ENDPOINT_REFRESH_PERIOD,
            probe_service,
            fixes: Fixes::none(),
            breakages: Breakages::none(),
        }
    }

    /// The local service mirror (`-local-mirror`, spec §1, §11.3): a synthetic Link `local`
    /// with an empty target cluster name, no export selectors and the given federated
    /// selector (default `mirror.linkerd.io/federated=member`). Its "remote" caches are the
    /// local cluster's.
    pub fn local_mirror(federated_selector: crate::k8s::LabelSelector) -> LinkConfig {
        let mut link = Link::default();
        link.metadata.name = "local".to_string();
        link.metadata.namespace = DEFAULT_CONTROLLER_NAMESPACE.to_string();
        link.spec.federated_service_selector = Some(federated_selector);
        let mut cfg = LinkConfig::new(link);
        cfg.probe_service = String::new();
        cfg
    }

    /// `targetClusterName`.
    pub fn target(&self) -> &str {
        &self.link.spec.target_cluster_name
    }

    /// Whether this is the local mirror (empty target cluster name: no status writes).
    pub fn is_local_mirror(&self) -> bool {
        self.link.spec.target_cluster_name.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_hold_what_is_switched_on() {
        let f = Fixes::of(&[Fix::ProbeStartsAlive]);
        assert!(f.has(Fix::ProbeStartsAlive));
        assert!(!f.has(Fix::UnexportChecksOwnership));
        assert_eq!(f.iter().count(), 1);
        assert!(Fixes::all().has(Fix::RepairSkipsUnchanged));
        let b = Breakages::of(&[
            Breakage::MirrorTouchesForeign,
            Breakage::GatewayIgnoresHostname,
        ]);
        assert!(b.has(Breakage::MirrorTouchesForeign));
        assert!(!b.has(Breakage::EndpointsBeforeService));
    }

    #[test]
    fn local_mirror_has_no_target_and_no_export_selectors() {
        let c = LinkConfig::local_mirror(crate::k8s::LabelSelector::eq([(
            "mirror.linkerd.io/federated",
            "member",
        )]));
        assert!(c.is_local_mirror());
        assert_eq!(c.link.metadata.name, "local");
        assert!(c.link.spec.selector.is_none());
        assert!(c.link.spec.remote_discovery_selector.is_none());
    }
}
