//! A controller's memory of its own writes, layered over its informer caches.
//!
//! Real controllers do not act twice on a state they have already changed: the Deployment and
//! ReplicaSet controllers keep *expectations*, the EndpointSlice controller a tracker of the
//! resourceVersions it wrote, and a CNI allocates pod IPs from local state. This overlay is the
//! common stand-in: every successful write's result is remembered (a delete as a tombstone) and
//! read in preference to the cache until the informer delivers that version or a newer one.

use crate::k8s::api::Response;
use crate::k8s::informer::Delta;
use crate::k8s::store::ObjectView;
use crate::k8s::{Kind, Object, ObjectKey};
use std::collections::BTreeMap;
use std::sync::Arc;

fn rv(o: &Object) -> u64 {
    o.meta().resource_version.parse().unwrap_or(0)
}

/// Own writes not yet seen through the informers: `Some(object)` after a create/update,
/// `None` after a delete.
#[derive(Default)]
pub struct OwnWrites {
    entries: BTreeMap<ObjectKey, Option<Arc<Object>>>,
}

impl OwnWrites {
    /// Remembers the result of a successful write.
    pub fn record(&mut self, response: &Response) {
        match response {
            Response::Object(o) => {
                self.entries.insert(o.key(), Some(o.clone()));
            }
            Response::Deleted(o) => {
                self.entries.insert(o.key(), None);
            }
            _ => {}
        }
    }

    /// Forgets entries the informer has caught up with.
    pub fn observe(&mut self, delta: &Delta) {
        let (obj, deleted) = match delta {
            Delta::Added(o) => (o, false),
            Delta::Updated { new, .. } => (new, false),
            Delta::Deleted(d) => (d.object(), true),
            Delta::Synced => return,
        };
        let key = obj.key();
        let caught_up = match self.entries.get(&key) {
            None => false,
            Some(None) => deleted,
            Some(Some(mine)) => rv(obj) >= rv(mine),
        };
        if caught_up {
            self.entries.remove(&key);
        }
    }

    pub fn clear(&mut self) {
        self.entries.clear();
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn over<'a>(&'a self, base: &'a dyn ObjectView) -> Overlay<'a> {
        Overlay { base, writes: self }
    }
}

/// The informer view with own writes applied on top.
pub struct Overlay<'a> {
    base: &'a dyn ObjectView,
    writes: &'a OwnWrites,
}

impl ObjectView for Overlay<'_> {
    fn get(&self, key: &ObjectKey) -> Option<&Arc<Object>> {
        match self.writes.entries.get(key) {
            Some(mine) => mine.as_ref(),
            None => self.base.get(key),
        }
    }

    fn list(&self, kind: Kind, namespace: Option<&str>) -> Vec<&Arc<Object>> {
        // Ordered by key like the stores; within one kind the key is (namespace, name),
        // borrowed from the objects instead of built for each.
        let mut out: BTreeMap<(&str, &str), &Arc<Object>> = self
            .base
            .list(kind, namespace)
            .into_iter()
            .map(|o| {
                let ns = if kind.namespaced() { o.namespace() } else { "" };
                ((ns, o.name()), o)
            })
            .collect();
        for (key, mine) in &self.writes.entries {
            if key.kind != kind || namespace.is_some_and(|ns| key.namespace != ns) {
                continue;
            }
            let k = (key.namespace.as_str(), key.name.as_str());
            match mine {
                Some(o) => {
                    out.insert(k, o);
                }
                None => {
                    out.remove(&k);
                }
            }
        }
        out.into_values().collect()
    }
}
