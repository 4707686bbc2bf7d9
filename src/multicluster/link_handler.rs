//! The controller's Link handlers (spec §3.2 step 5, §9.4): of the Link informer's deltas, which
//! concern *our* Link and whether they restart the cluster watcher.
//!
//! Add of our Link → restart; update → restart only when the *spec* changed (status-only
//! updates are ignored since linkerd2#13579, so the controller's own status writes do not
//! restart it); delete (a tombstone included) → stop the watcher, leaving the mirrors in place.
//! Deltas of other Links are not ours.
//!
//! Inputs: Link informer deltas. Outputs: a [`LinkUpdate`] or nothing. No state beyond the
//! Link's name.

use crate::k8s::informer::Delta;

/// What a Link delta means for the controller of that Link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkUpdate {
    /// The Link was created or its spec changed: (re)start the watcher from the cached Link.
    Applied,
    /// The Link was deleted: stop the watcher and the probe; mirrors stay.
    Deleted,
}

/// The Link handlers of the controller of Link `name`.
#[derive(Clone, Debug)]
pub struct LinkHandler {
    name: String,
    /// Breakage `status-write-restarts-watcher`: any update of the Link restarts the watcher,
    /// as before linkerd2#13579.
    restart_on_any_update: bool,
}

impl LinkHandler {
    pub fn new(name: &str) -> LinkHandler {
        LinkHandler {
            name: name.to_string(),
            restart_on_any_update: false,
        }
    }

    /// The handlers with the switched-on breakages.
    pub fn with_breakages(mut self, breakages: &crate::multicluster::Breakages) -> LinkHandler {
        self.restart_on_any_update =
            breakages.has(crate::multicluster::Breakage::StatusWriteRestartsWatcher);
        self
    }

    pub fn on_delta(&self, delta: &Delta) -> Option<LinkUpdate> {
        let ours = |name: &str| name == self.name;
        match delta {
            Delta::Added(o) => ours(o.name()).then_some(LinkUpdate::Applied),
            Delta::Updated { old, new } => {
                let changed = self.restart_on_any_update || !old.spec_eq(new);
                (ours(new.name()) && changed).then_some(LinkUpdate::Applied)
            }
            Delta::Deleted(d) => ours(d.object().name()).then_some(LinkUpdate::Deleted),
            Delta::Synced => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::k8s::Object;
    use crate::k8s::informer::{DeletedFinalStateUnknown, DeletedObject};
    use crate::k8s::objects::{Link, ObjectMeta};
    use std::sync::Arc;

    fn link(name: &str, gateway: &str, status_entries: usize) -> Arc<Object> {
        let mut l = Link {
            metadata: ObjectMeta::named("linkerd-multicluster", name),
            ..Link::default()
        };
        l.spec.target_cluster_name = name.into();
        l.spec.gateway_address = gateway.into();
        l.metadata.resource_version = status_entries.to_string();
        for _ in 0..status_entries {
            l.status.mirror_services.push(Default::default());
        }
        Arc::new(Object::Link(l))
    }

    #[test]
    fn only_our_link_is_ours() {
        let h = LinkHandler::new("east");
        assert_eq!(
            h.on_delta(&Delta::Added(link("east", "1.2.3.4", 0))),
            Some(LinkUpdate::Applied)
        );
        assert_eq!(h.on_delta(&Delta::Added(link("north", "1.2.3.4", 0))), None);
        assert_eq!(h.on_delta(&Delta::Synced), None);
    }

    /// linkerd2#13579: the controller's own status writes must not restart it.
    #[test]
    fn a_status_only_update_is_ignored_and_a_spec_change_restarts() {
        let h = LinkHandler::new("east");
        let status = Delta::Updated {
            old: link("east", "1.2.3.4", 0),
            new: link("east", "1.2.3.4", 2),
        };
        assert_eq!(h.on_delta(&status), None);
        let spec = Delta::Updated {
            old: link("east", "1.2.3.4", 0),
            new: link("east", "5.6.7.8", 0),
        };
        assert_eq!(h.on_delta(&spec), Some(LinkUpdate::Applied));
    }

    #[test]
    fn a_deletion_stops_the_watcher_even_when_only_inferred_by_a_relist() {
        let h = LinkHandler::new("east");
        let seen = Delta::Deleted(DeletedObject::Final(link("east", "", 0)));
        assert_eq!(h.on_delta(&seen), Some(LinkUpdate::Deleted));
        let obj = link("east", "", 0);
        let tombstone = Delta::Deleted(DeletedObject::Tombstone(DeletedFinalStateUnknown {
            key: obj.key(),
            obj,
        }));
        assert_eq!(h.on_delta(&tombstone), Some(LinkUpdate::Deleted));
        let other = Delta::Deleted(DeletedObject::Final(link("north", "", 0)));
        assert_eq!(h.on_delta(&other), None);
    }
}
