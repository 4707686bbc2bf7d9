//! A controller's memory of its own writes, layered over its informer caches.
//!
//! Real controllers do not act twice on a state they have already changed: the Deployment and
//! ReplicaSet controllers keep *expectations*, the EndpointSlice controller a tracker of the
//! resourceVersions it wrote, and a CNI allocates pod IPs from local state. This overlay is the
//! common stand-in: every successful write's result is remembered (a delete as a tombstone) and
//! read in preference to the cache until the informer delivers that version or a newer one.

use crate::k8s::api::Response;
use crate::k8s::informer::Delta;
use crate::k8s::objects::StringMap;
use crate::k8s::store::{self, ObjectView};
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

impl<'a> Overlay<'a> {
    /// A query's answer from the informers with own writes of `kind` in `namespace` applied:
    /// an own write replaces the cached object (kept if it matches `keep`), a delete removes it.
    fn apply(
        &self,
        kind: Kind,
        namespace: &str,
        base: Vec<&'a Arc<Object>>,
        keep: impl Fn(&Object) -> bool,
    ) -> Vec<&'a Arc<Object>> {
        let ns = if kind.namespaced() { namespace } else { "" };
        let start = ObjectKey {
            kind,
            namespace: ns.to_string(),
            name: String::new(),
        };
        let mut mine = self
            .writes
            .entries
            .range(start..)
            .take_while(|(k, _)| k.kind == kind && k.namespace == ns)
            .peekable();
        if mine.peek().is_none() {
            return base;
        }
        let mut out: BTreeMap<&str, &'a Arc<Object>> =
            base.into_iter().map(|o| (o.name(), o)).collect();
        for (key, write) in mine {
            match write {
                Some(o) if keep(o) => {
                    out.insert(key.name.as_str(), o);
                }
                _ => {
                    out.remove(key.name.as_str());
                }
            }
        }
        out.into_values().collect()
    }
}

impl ObjectView for Overlay<'_> {
    fn get(&self, key: &ObjectKey) -> Option<&Arc<Object>> {
        match self.writes.entries.get(key) {
            Some(mine) => mine.as_ref(),
            None => self.base.get(key),
        }
    }

    fn list_labelled(
        &self,
        kind: Kind,
        namespace: &str,
        key: &str,
        value: &str,
    ) -> Vec<&Arc<Object>> {
        let base = self.base.list_labelled(kind, namespace, key, value);
        self.apply(kind, namespace, base, |o| store::has_label(o, key, value))
    }

    fn list_controlled_by(&self, kind: Kind, namespace: &str, uid: &str) -> Vec<&Arc<Object>> {
        let base = self.base.list_controlled_by(kind, namespace, uid);
        self.apply(kind, namespace, base, |o| store::controlled_by(o, uid))
    }

    fn services_selecting(&self, namespace: &str, labels: &StringMap) -> Vec<&Arc<Object>> {
        let base = self.base.services_selecting(namespace, labels);
        self.apply(Kind::Service, namespace, base, |o| {
            store::selects(o, labels)
        })
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::k8s::Store;
    use crate::k8s::objects::{OwnerReference, Pod, Service};

    fn pod(name: &str, app: &str, owner: &str) -> Arc<Object> {
        let mut p = Pod::default();
        p.metadata.namespace = "n".to_string();
        p.metadata.name = name.to_string();
        p.metadata.labels.insert("app".to_string(), app.to_string());
        p.metadata.owner_references.push(OwnerReference {
            uid: owner.to_string(),
            controller: Some(true),
            ..OwnerReference::default()
        });
        Arc::new(Object::Pod(p))
    }

    /// Indexed queries through the overlay answer like a filtered list of the overlay.
    #[test]
    fn indexed_queries_see_own_writes() {
        let mut base = Store::new();
        for (name, app) in [("a", "x"), ("b", "y"), ("c", "x"), ("d", "x")] {
            base.insert(pod(name, app, "u1"));
        }
        let mut svc = Service::new("n", "s");
        svc.spec.selector.insert("app".to_string(), "x".to_string());
        base.insert(Arc::new(Object::Service(svc.clone())));
        let mut own = OwnWrites::default();
        // b now matches, c no longer does, d is deleted, e is new, the Service selects y.
        own.record(&Response::Object(pod("b", "x", "u1")));
        own.record(&Response::Object(pod("c", "z", "u2")));
        own.record(&Response::Deleted(pod("d", "x", "u1")));
        own.record(&Response::Object(pod("e", "x", "u1")));
        svc.spec.selector.insert("app".to_string(), "y".to_string());
        own.record(&Response::Object(Arc::new(Object::Service(svc))));
        let view = own.over(&base);
        let names =
            |v: Vec<&Arc<Object>>| v.iter().map(|o| o.name().to_string()).collect::<Vec<_>>();
        assert_eq!(
            names(view.list_labelled(Kind::Pod, "n", "app", "x")),
            ["a", "b", "e"]
        );
        assert_eq!(
            names(view.list_controlled_by(Kind::Pod, "n", "u1")),
            ["a", "b", "e"]
        );
        assert_eq!(names(view.list_controlled_by(Kind::Pod, "n", "u2")), ["c"]);
        let labels = |app: &str| {
            let mut m = StringMap::new();
            m.insert("app".to_string(), app.to_string());
            m
        };
        assert!(view.services_selecting("n", &labels("x")).is_empty());
        assert_eq!(names(view.services_selecting("n", &labels("y"))), ["s"]);
        assert!(
            view.list_labelled(Kind::Pod, "other", "app", "x")
                .is_empty()
        );
    }
}
