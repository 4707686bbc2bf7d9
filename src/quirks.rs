//! The registry of named options that change modelled behaviour, each a closed enum whose
//! variants carry their scenario names (parsed once, when a scenario is loaded):
//! - [`Fix`]: a quirk of the real Linkerd (documented with its source in `QUIRKS.md`); by
//!   default mcsim does what Linkerd really does, and a scenario can switch the intended
//!   behaviour on with `[linkerd] fixes = ["name"]`;
//! - [`Breakage`]: a deliberately broken component variant that exists only so tests can prove
//!   a check fails (`[testing] breakages = ["name"]`).
//!
//! A variant is added here in the same change that implements it, with its row in `QUIRKS.md`.

crate::named::named! {
    /// A quirk of the real Linkerd that mcsim reproduces by default; switching the fix on gives
    /// the intended behaviour. All are the service mirror's (`crate::multicluster`).
    pub enum Fix {
        /// §6.3 step 4: `RemoteExportedServiceUpdated` writes gateway addresses without checking
        /// whether the remote Endpoints are empty.
        UpdateChecksEmptyEndpoints = "update-checks-empty-endpoints",
        /// §6.3 step 4 / §7.5: `RemoteExportedServiceUpdated` overwrites a headless root mirror's
        /// Endpoints (hostname → endpoint-mirror ClusterIP) with gateway addresses.
        HeadlessUpdateKeepsRoot = "headless-update-keeps-root",
        /// §8.3: the probe worker's own state starts "not alive" while the watcher starts alive.
        ProbeStartsAlive = "probe-starts-alive",
        /// §5.6: the unexport handler deletes `<svc>-<link>` without checking it is a mirror.
        UnexportChecksOwnership = "unexport-checks-ownership",
        /// §6.1: when creating the mirror Endpoints fails, `<svc>-<link>` is deleted even when the
        /// Service was not created by this attempt (e.g. a user's Service with the same name).
        ExportCleanupChecksOwnership = "export-cleanup-checks-ownership",
        /// §6.1 step 1: with headless mirroring enabled, the Service path writes the status
        /// `InvalidService` / "Headless mirror services are disabled" for every headless Service.
        HeadlessExportStatus = "headless-export-status",
        /// §7.4: headless root Endpoints are created always-ready but updated through the
        /// liveness rule, so a dead gateway hides per-pod DNS names.
        HeadlessRootAlwaysReady = "headless-root-always-ready",
        /// §7.2: on creation the root Endpoints hostname is the address's `targetRef.name` (a nil
        /// targetRef is a nil dereference); on update it is the address's `hostname`.
        HeadlessCreateUsesHostname = "headless-create-uses-hostname",
        /// §7.1: remote headless Endpoints without subsets make the controller create gateway
        /// Endpoints `<svc>-<link>` with no Service.
        HeadlessEmptyWaits = "headless-empty-waits",
        /// §7.1: a missing namespace on the headless path records no Event and keeps retrying a
        /// gateway Endpoints create in the missing namespace.
        HeadlessMissingNamespaceSkips = "headless-missing-namespace-skips",
        /// §7.1: a headless Service exported for remote discovery is never mirrored while
        /// headless mirroring is enabled.
        HeadlessRemoteDiscoveryMirrors = "headless-remote-discovery-mirrors",
        /// §4.3: `createOrUpdateService` returns right after enqueueing `RemoteServiceExported`
        /// (or `CreateFederatedService`), so a Service that is both exported and a federated
        /// member joins the federated Service only on a later event.
        ExportAlsoJoinsFederated = "export-also-joins-federated",
        /// §6.4 / #9359: `RepairEndpoints` issues one Endpoints UPDATE per mirror per period even
        /// when nothing changed.
        RepairSkipsUnchanged = "repair-skips-unchanged",
        /// §6.1, §7.2 / found by `mcsim fuzz`: at start-up every remote Service and Endpoints is
        /// offered twice; when the local lister has not yet seen the first handler's mirror, the
        /// second handler's creates hit `AlreadyExists`. Gateway and headless root Endpoints then
        /// roll back by deleting the mirror Service (on every retry), and an endpoint mirror
        /// Service that already exists is used as client-go's empty object, so the root Endpoints
        /// get an address with IP "" and are rejected. The fix adopts the existing objects of this
        /// link (read from the API) instead.
        CreateAdoptsExisting = "create-adopts-existing",
        /// §4.2, §7.4, §11.3 / found by `mcsim fuzz`: mirror Endpoints and federated Services are
        /// updated over the lister's copy; when that copy is older than the object (the
        /// controller's own previous write, or another watcher's, not yet in its lister), the
        /// update conflicts and the retries (5, 10, 20 ms) read the same stale copy, so the change
        /// is given up until the 10-minute resync. The fix applies the change again to the current
        /// object read from the API (client-go's `retry.RetryOnConflict`).
        UpdateRetriesOnConflict = "update-retries-on-conflict",
        /// §6.2 / found by `mcsim fuzz`: the remote-Endpoints emptiness sync writes the local
        /// Endpoints `<svc>-<link>` from the lister without checking it is a mirror, so a user's
        /// Endpoints of a colliding name get the gateway addresses (or lose theirs).
        EndpointsUpdateChecksOwnership = "endpoints-update-checks-ownership",
        /// §7.5, #8475/#8755 / found by `mcsim fuzz`: the headless path acts on a remote Endpoints
        /// event whose own labels match the export selector, without checking the remote Service
        /// (in the remote lister) is still exported; Endpoints with stale labels (written by a
        /// target endpoints controller whose Service informer lags, or an older version replayed
        /// by a rewatch) recreate the mirrors of an unexported Service until the resync.
        HeadlessEndpointsCheckService = "headless-endpoints-check-service",
        /// §5.6 / found by `mcsim fuzz`: the headless unexport deletes the endpoint mirrors it
        /// finds in the local lister; one created moments before, not yet in a lagging lister,
        /// is left behind for good (its Endpoints still rewritten by every repair).
        HeadlessUnexportListsApi = "headless-unexport-lists-api",
    }
}

crate::named::named! {
    /// A deliberately broken variant of a component, for proving that checks catch bugs.
    pub enum Breakage {
        // Service mirror (`crate::multicluster`).
        /// The "not exported any more" path enqueues an unexport for `<svc>-<link>` without
        /// checking the mirror labels, so a user's Service with a colliding name is deleted.
        MirrorTouchesForeign = "mirror-touches-foreign",
        /// Order-sensitive: an Endpoints event for a service whose mirror Endpoints do not exist
        /// yet creates the mirror Endpoints itself, and the later `RemoteServiceExported` sees
        /// Endpoints and assumes the mirror is complete, so the Service is never created. Handled
        /// in the other order (Service first) everything is correct.
        EndpointsBeforeService = "endpoints-before-service",
        /// The pre-#8755 behaviour (linkerd2#8475): remote Endpoints updates are handled without
        /// re-checking the export selector, so an update processed after an unexport recreates the
        /// (headless) mirrors.
        EndpointsAfterUnexport = "endpoints-after-unexport",
        /// The orphan GC at watcher start and the unlink cleanup select local mirrors by
        /// `mirrored-service` alone, without this link's `cluster-name`: every other link's
        /// mirrors look orphaned (their names do not resolve in this link's target) and are
        /// deleted (fails `safety.foreign-writes` scoped by link, and `mirror-stability`).
        MirrorSelectorIgnoresLink = "mirror-selector-ignores-link",
        /// Before linkerd2#13579: every update of the Link, including the controller's own
        /// status writes, restarts the cluster watcher (GC, replay, repair, a new probe worker)
        /// (fails `watcher-restarts`).
        StatusWriteRestartsWatcher = "status-write-restarts-watcher",
        /// The watcher drops the probe worker's "dead" messages (`gatewayAlive` stays true), so
        /// mirrors stay ready while the gateway is unreachable (fails `gateway-readiness`).
        LivenessIgnoresDead = "liveness-ignores-dead",
        /// The orphan GC at watcher start judges an endpoint mirror `<host>-<link>` by its own
        /// name instead of its headless root's: every endpoint mirror looks orphaned and is
        /// deleted at each restart, then recreated by the replay (fails `mirror-stability`).
        OrphanGcIgnoresHeadlessRoot = "orphan-gc-ignores-headless-root",
        /// Before linkerd2#8725: a new watcher starts with `gatewayAlive` false, so a restart
        /// marks every healthy gateway-mode mirror not-ready until the first successful probe
        /// (fails `mirror-stability`).
        WatcherStartsNotAlive = "watcher-starts-not-alive",
        // World (`crate::world`).
        /// The gateway trusts any anchor (fails `safety.untrusted-accept`).
        GatewayAcceptsAnyAnchor = "gateway-accepts-any-anchor",
        /// The gateway routes a per-pod name to any pod of the service (fails `safety.wrong-pod`).
        GatewayIgnoresHostname = "gateway-ignores-hostname",
        /// A partition isolates its first group from *every* other node, not only from the
        /// other groups (fails `failure-domains`).
        PartitionCutsWholeCluster = "partition-cuts-whole-cluster",
        /// The fault injector never heals a fault (fails `faults-fired`).
        FaultInjectorSkipsHeal = "fault-injector-skips-heal",
        /// The fault injector panics on a partition: an mcsim bug, to show how a run reports one.
        FaultInjectorPanicsOnPartition = "fault-injector-panics-on-partition",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every fix and breakage has its row in `QUIRKS.md`, and its name round-trips.
    #[test]
    fn every_fix_and_breakage_is_documented_and_named_once() {
        let doc =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/QUIRKS.md")).unwrap();
        let names = Fix::ALL
            .iter()
            .map(|f| f.name())
            .chain(Breakage::ALL.iter().map(|b| b.name()));
        for name in names {
            assert!(
                doc.contains(&format!("| `{name}` |")),
                "{name} is not documented in QUIRKS.md"
            );
        }
        for f in Fix::ALL {
            assert_eq!(Fix::from_name(f.name()), Some(*f));
        }
        for b in Breakage::ALL {
            assert_eq!(Breakage::from_name(b.name()), Some(*b));
        }
        assert_eq!(Fix::from_name("no-such-fix"), None);
    }
}
