//! Per-Link controller configuration, and the named quirk fixes and test breakages of the
//! service mirror.
//!
//! Owns: [`LinkConfig`] (the Link with defaults applied plus the controller flags of spec
//! §3.1), [`Fix`]/[`Fixes`] (intended behaviour switched on in place of a Linkerd quirk; every
//! fix is documented in `QUIRKS.md`), [`Breakage`]/[`Breakages`] (deliberately broken variants
//! for check tests). Inputs: a Link and names. Outputs: plain values. Must not touch: anything
//! stateful; the registry of names lives in `crate::quirks` and must list the same names.

use crate::k8s::objects::Link;
use crate::sim::SimDuration;
use std::collections::BTreeSet;

/// A quirk of the real Linkerd that mcsim reproduces by default; switching the fix on gives
/// the intended behaviour. `QUIRKS.md` has one row per variant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fix {
    /// §6.3 step 4: `RemoteExportedServiceUpdated` writes gateway addresses without checking
    /// whether the remote Endpoints are empty.
    UpdateChecksEmptyEndpoints,
    /// §6.3 step 4 / §7.5: `RemoteExportedServiceUpdated` overwrites a headless root mirror's
    /// Endpoints (hostname → endpoint-mirror ClusterIP) with gateway addresses.
    HeadlessUpdateKeepsRoot,
    /// §8.3: the probe worker's own state starts "not alive" while the watcher starts alive.
    ProbeStartsAlive,
    /// §5.6: the unexport handler deletes `<svc>-<link>` without checking it is a mirror.
    UnexportChecksOwnership,
    /// §6.1: when creating the mirror Endpoints fails, `<svc>-<link>` is deleted even when the
    /// Service was not created by this attempt (e.g. a user's Service with the same name).
    ExportCleanupChecksOwnership,
    /// §6.1 step 1: with headless mirroring enabled, the Service path writes the status
    /// `InvalidService` / "Headless mirror services are disabled" for every headless Service.
    HeadlessExportStatus,
    /// §7.4: headless root Endpoints are created always-ready but updated through the
    /// liveness rule, so a dead gateway hides per-pod DNS names.
    HeadlessRootAlwaysReady,
    /// §7.2: on creation the root Endpoints hostname is the address's `targetRef.name` (a nil
    /// targetRef is a nil dereference); on update it is the address's `hostname`.
    HeadlessCreateUsesHostname,
    /// §7.1: remote headless Endpoints without subsets make the controller create gateway
    /// Endpoints `<svc>-<link>` with no Service.
    HeadlessEmptyWaits,
    /// §7.1: a missing namespace on the headless path records no Event and keeps retrying a
    /// gateway Endpoints create in the missing namespace.
    HeadlessMissingNamespaceSkips,
    /// §7.1: a headless Service exported for remote discovery is never mirrored while
    /// headless mirroring is enabled.
    HeadlessRemoteDiscoveryMirrors,
    /// §4.3: `createOrUpdateService` returns right after enqueueing `RemoteServiceExported`
    /// (or `CreateFederatedService`), so a Service that is both exported and a federated
    /// member joins the federated Service only on a later event.
    ExportAlsoJoinsFederated,
    /// §6.4 / #9359: `RepairEndpoints` issues one Endpoints UPDATE per mirror per period even
    /// when nothing changed.
    RepairSkipsUnchanged,
    /// §6.1, §7.2 / found by `mcsim fuzz`: at start-up every remote Service and Endpoints is
    /// offered twice; when the local lister has not yet seen the first handler's mirror, the
    /// second handler's creates hit `AlreadyExists`. Gateway and headless root Endpoints then
    /// roll back by deleting the mirror Service (on every retry), and an endpoint mirror
    /// Service that already exists is used as client-go's empty object, so the root Endpoints
    /// get an address with IP "" and are rejected. The fix adopts the existing objects of this
    /// link (read from the API) instead.
    CreateAdoptsExisting,
    /// §4.2, §7.4, §11.3 / found by `mcsim fuzz`: mirror Endpoints and federated Services are
    /// updated over the lister's copy; when that copy is older than the object (the
    /// controller's own previous write, or another watcher's, not yet in its lister), the
    /// update conflicts and the retries (5, 10, 20 ms) read the same stale copy, so the change
    /// is given up until the 10-minute resync. The fix applies the change again to the current
    /// object read from the API (client-go's `retry.RetryOnConflict`).
    UpdateRetriesOnConflict,
    /// §6.2 / found by `mcsim fuzz`: the remote-Endpoints emptiness sync writes the local
    /// Endpoints `<svc>-<link>` from the lister without checking it is a mirror, so a user's
    /// Endpoints of a colliding name get the gateway addresses (or lose theirs).
    EndpointsUpdateChecksOwnership,
    /// §7.5, #8475/#8755 / found by `mcsim fuzz`: the headless path acts on a remote Endpoints
    /// event whose own labels match the export selector, without checking the remote Service
    /// (in the remote lister) is still exported; Endpoints with stale labels (written by a
    /// target endpoints controller whose Service informer lags, or an older version replayed
    /// by a rewatch) recreate the mirrors of an unexported Service until the resync.
    HeadlessEndpointsCheckService,
}

impl Fix {
    pub const ALL: [Fix; 17] = [
        Fix::UpdateChecksEmptyEndpoints,
        Fix::HeadlessUpdateKeepsRoot,
        Fix::ProbeStartsAlive,
        Fix::UnexportChecksOwnership,
        Fix::ExportCleanupChecksOwnership,
        Fix::HeadlessExportStatus,
        Fix::HeadlessRootAlwaysReady,
        Fix::HeadlessCreateUsesHostname,
        Fix::HeadlessEmptyWaits,
        Fix::HeadlessMissingNamespaceSkips,
        Fix::HeadlessRemoteDiscoveryMirrors,
        Fix::ExportAlsoJoinsFederated,
        Fix::RepairSkipsUnchanged,
        Fix::CreateAdoptsExisting,
        Fix::UpdateRetriesOnConflict,
        Fix::EndpointsUpdateChecksOwnership,
        Fix::HeadlessEndpointsCheckService,
    ];

    /// The kebab-case name used in scenarios and `QUIRKS.md`.
    pub fn name(self) -> &'static str {
        match self {
            Fix::UpdateChecksEmptyEndpoints => "update-checks-empty-endpoints",
            Fix::HeadlessUpdateKeepsRoot => "headless-update-keeps-root",
            Fix::ProbeStartsAlive => "probe-starts-alive",
            Fix::UnexportChecksOwnership => "unexport-checks-ownership",
            Fix::ExportCleanupChecksOwnership => "export-cleanup-checks-ownership",
            Fix::HeadlessExportStatus => "headless-export-status",
            Fix::HeadlessRootAlwaysReady => "headless-root-always-ready",
            Fix::HeadlessCreateUsesHostname => "headless-create-uses-hostname",
            Fix::HeadlessEmptyWaits => "headless-empty-waits",
            Fix::HeadlessMissingNamespaceSkips => "headless-missing-namespace-skips",
            Fix::HeadlessRemoteDiscoveryMirrors => "headless-remote-discovery-mirrors",
            Fix::ExportAlsoJoinsFederated => "export-also-joins-federated",
            Fix::RepairSkipsUnchanged => "repair-skips-unchanged",
            Fix::CreateAdoptsExisting => "create-adopts-existing",
            Fix::UpdateRetriesOnConflict => "update-retries-on-conflict",
            Fix::EndpointsUpdateChecksOwnership => "endpoints-update-checks-ownership",
            Fix::HeadlessEndpointsCheckService => "headless-endpoints-check-service",
        }
    }

    pub fn from_name(name: &str) -> Option<Fix> {
        Fix::ALL.into_iter().find(|f| f.name() == name)
    }
}

/// The set of fixes switched on. Empty (the default) = what Linkerd really does.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fixes(BTreeSet<Fix>);

impl Fixes {
    pub fn none() -> Fixes {
        Fixes::default()
    }
    pub fn all() -> Fixes {
        Fixes(Fix::ALL.into_iter().collect())
    }
    /// Parses names; unknown names are skipped (the scenario loader validates names against
    /// `crate::quirks::FIX_NAMES`, which also holds other components' fixes).
    pub fn from_names<S: AsRef<str>>(names: &[S]) -> Fixes {
        Fixes(
            names
                .iter()
                .filter_map(|n| Fix::from_name(n.as_ref()))
                .collect(),
        )
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

/// A deliberately broken variant of the controller, for proving that checks catch bugs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Breakage {
    /// The "not exported any more" path enqueues an unexport for `<svc>-<link>` without
    /// checking the mirror labels, so a user's Service with a colliding name is deleted.
    MirrorTouchesForeign,
    /// Order-sensitive: an Endpoints event for a service whose mirror Endpoints do not exist
    /// yet creates the mirror Endpoints itself, and the later `RemoteServiceExported` sees
    /// Endpoints and assumes the mirror is complete, so the Service is never created. Handled
    /// in the other order (Service first) everything is correct.
    EndpointsBeforeService,
    /// The pre-#8755 behaviour (linkerd2#8475): remote Endpoints updates are handled without
    /// re-checking the export selector, so an update processed after an unexport recreates the
    /// (headless) mirrors.
    EndpointsAfterUnexport,
}

impl Breakage {
    pub const ALL: [Breakage; 3] = [
        Breakage::MirrorTouchesForeign,
        Breakage::EndpointsBeforeService,
        Breakage::EndpointsAfterUnexport,
    ];
    pub fn name(self) -> &'static str {
        match self {
            Breakage::MirrorTouchesForeign => "mirror-touches-foreign",
            Breakage::EndpointsBeforeService => "endpoints-before-service",
            Breakage::EndpointsAfterUnexport => "endpoints-after-unexport",
        }
    }
    pub fn from_name(name: &str) -> Option<Breakage> {
        Breakage::ALL.into_iter().find(|b| b.name() == name)
    }
}

/// The set of breakages switched on. Empty in every real run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Breakages(BTreeSet<Breakage>);

impl Breakages {
    pub fn none() -> Breakages {
        Breakages::default()
    }
    pub fn from_names<S: AsRef<str>>(names: &[S]) -> Breakages {
        Breakages(
            names
                .iter()
                .filter_map(|n| Breakage::from_name(n.as_ref()))
                .collect(),
        )
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
            requeue_limit: 3,
            repair_period: SimDuration::from_mins(1),
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
    fn names_round_trip_and_match_the_registry() {
        for f in Fix::ALL {
            assert_eq!(Fix::from_name(f.name()), Some(f));
            assert!(
                crate::quirks::FIX_NAMES.contains(&f.name()),
                "{} missing from quirks::FIX_NAMES",
                f.name()
            );
        }
        for b in Breakage::ALL {
            assert_eq!(Breakage::from_name(b.name()), Some(b));
            assert!(
                crate::quirks::BREAKAGE_NAMES.contains(&b.name()),
                "{} missing from quirks::BREAKAGE_NAMES",
                b.name()
            );
        }
        let quirks = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/QUIRKS.md"))
            .unwrap_or_default();
        for f in Fix::ALL {
            assert!(
                quirks.contains(&format!("`{}`", f.name())),
                "{} not documented in QUIRKS.md",
                f.name()
            );
        }
    }

    #[test]
    fn fixes_parse_known_names_only() {
        let f = Fixes::from_names(&["probe-starts-alive", "no-such-fix"]);
        assert!(f.has(Fix::ProbeStartsAlive));
        assert!(!f.has(Fix::UnexportChecksOwnership));
        assert_eq!(f.iter().count(), 1);
        assert!(Fixes::all().has(Fix::RepairSkipsUnchanged));
        let b = Breakages::from_names(&["mirror-touches-foreign"]);
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
