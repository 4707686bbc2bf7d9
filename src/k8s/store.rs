//! An ordered in-memory object map and the read-only view controllers and DNS read through.
//!
//! Owns: [`Store`] (objects keyed by [`ObjectKey`], range queries by kind and namespace) and the
//! [`ObjectView`] trait, implemented by `Store`, by the API server and by [`MultiView`] (several
//! informer caches seen as one). Inputs: objects. Outputs: borrowed objects in key order.
//! Must not touch: revision bookkeeping, validation, events (those belong to the API server and
//! the informer).

use super::objects::{Kind, Object, ObjectKey};
use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

/// Read-only access to a set of objects. Results are in key order (kind, namespace, name).
pub trait ObjectView {
    fn get(&self, key: &ObjectKey) -> Option<&Arc<Object>>;
    /// Objects of `kind`, in `namespace` when given.
    fn list(&self, kind: Kind, namespace: Option<&str>) -> Vec<&Arc<Object>>;

    fn get_by(&self, kind: Kind, namespace: &str, name: &str) -> Option<&Arc<Object>> {
        self.get(&ObjectKey::new(kind, namespace, name))
    }

    /// Objects of `kind` in `namespace` whose name starts with `prefix` (an index lookup in a
    /// [`Store`]).
    fn list_prefix(&self, kind: Kind, namespace: &str, prefix: &str) -> Vec<&Arc<Object>> {
        self.list(kind, Some(namespace))
            .into_iter()
            .filter(|o| o.name().starts_with(prefix))
            .collect()
    }
}

/// Objects ordered by key.
#[derive(Clone, Debug, Default)]
pub struct Store {
    map: BTreeMap<ObjectKey, Arc<Object>>,
}

impl Store {
    pub fn new() -> Store {
        Store::default()
    }
    pub fn len(&self) -> usize {
        self.map.len()
    }
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
    pub fn insert(&mut self, obj: Arc<Object>) -> Option<Arc<Object>> {
        self.map.insert(obj.key(), obj)
    }
    pub fn insert_with_key(&mut self, key: ObjectKey, obj: Arc<Object>) -> Option<Arc<Object>> {
        self.map.insert(key, obj)
    }
    pub fn remove(&mut self, key: &ObjectKey) -> Option<Arc<Object>> {
        self.map.remove(key)
    }
    pub fn clear(&mut self) {
        self.map.clear();
    }
    pub fn iter(&self) -> impl Iterator<Item = (&ObjectKey, &Arc<Object>)> {
        self.map.iter()
    }
    pub fn keys(&self) -> impl Iterator<Item = &ObjectKey> {
        self.map.keys()
    }
    pub fn values(&self) -> impl Iterator<Item = &Arc<Object>> {
        self.map.values()
    }
    pub fn contains(&self, key: &ObjectKey) -> bool {
        self.map.contains_key(key)
    }

    /// Objects of `kind` (in `namespace` when given), in key order, without scanning other
    /// kinds or namespaces.
    pub fn range(&self, kind: Kind, namespace: Option<&str>) -> impl Iterator<Item = &Arc<Object>> {
        let start = ObjectKey {
            kind,
            namespace: namespace.unwrap_or("").to_string(),
            name: String::new(),
        };
        let ns = namespace.map(str::to_string);
        self.map
            .range((Bound::Included(start), Bound::Unbounded))
            .take_while(move |(k, _)| {
                k.kind == kind && ns.as_ref().is_none_or(|ns| &k.namespace == ns)
            })
            .map(|(_, v)| v)
    }
}

impl ObjectView for Store {
    fn get(&self, key: &ObjectKey) -> Option<&Arc<Object>> {
        self.map.get(key)
    }
    fn list(&self, kind: Kind, namespace: Option<&str>) -> Vec<&Arc<Object>> {
        self.range(kind, namespace).collect()
    }
    fn list_prefix(&self, kind: Kind, namespace: &str, prefix: &str) -> Vec<&Arc<Object>> {
        let ns = if kind.namespaced() { namespace } else { "" };
        let start = ObjectKey {
            kind,
            namespace: ns.to_string(),
            name: prefix.to_string(),
        };
        self.map
            .range((Bound::Included(start), Bound::Unbounded))
            .take_while(|(k, _)| k.kind == kind && k.namespace == ns && k.name.starts_with(prefix))
            .map(|(_, v)| v)
            .collect()
    }
}

/// Several views (typically one informer cache per kind) read as one. A lookup asks each view
/// in order and takes the first hit; a list concatenates and re-sorts by key.
pub struct MultiView<'a> {
    views: Vec<&'a dyn ObjectView>,
}

impl<'a> MultiView<'a> {
    pub fn new(views: Vec<&'a dyn ObjectView>) -> MultiView<'a> {
        MultiView { views }
    }
}

impl ObjectView for MultiView<'_> {
    fn get(&self, key: &ObjectKey) -> Option<&Arc<Object>> {
        self.views.iter().find_map(|v| v.get(key))
    }
    fn list(&self, kind: Kind, namespace: Option<&str>) -> Vec<&Arc<Object>> {
        let mut out: Vec<&Arc<Object>> = Vec::new();
        let mut sources = 0;
        for v in &self.views {
            let part = v.list(kind, namespace);
            if !part.is_empty() {
                sources += 1;
                out.extend(part);
            }
        }
        if sources > 1 {
            out.sort_by_key(|o| o.key());
            out.dedup_by_key(|o| o.key());
        }
        out
    }
    fn list_prefix(&self, kind: Kind, namespace: &str, prefix: &str) -> Vec<&Arc<Object>> {
        let mut out: Vec<&Arc<Object>> = self
            .views
            .iter()
            .flat_map(|v| v.list_prefix(kind, namespace, prefix))
            .collect();
        out.sort_by_key(|o| o.key());
        out.dedup_by_key(|o| o.key());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::k8s::objects::{Namespace, Service};

    #[test]
    fn range_stays_within_kind_and_namespace() {
        let mut s = Store::new();
        for (ns, name) in [("a", "x"), ("b", "y"), ("b", "z"), ("c", "w")] {
            s.insert(Arc::new(Object::Service(Service::new(ns, name))));
        }
        s.insert(Arc::new(Object::Namespace(Namespace::new("b"))));
        let names: Vec<&str> = s
            .range(Kind::Service, Some("b"))
            .map(|o| o.name())
            .collect();
        assert_eq!(names, ["y", "z"]);
        assert_eq!(s.list(Kind::Service, None).len(), 4);
        assert_eq!(s.list(Kind::Namespace, None).len(), 1);
        assert_eq!(s.list(Kind::Pod, None).len(), 0);
        assert!(s.get_by(Kind::Service, "c", "w").is_some());
        assert!(s.get_by(Kind::Service, "c", "y").is_none());
    }

    #[test]
    fn multi_view_merges_in_key_order() {
        let mut a = Store::new();
        let mut b = Store::new();
        a.insert(Arc::new(Object::Service(Service::new("n", "z"))));
        b.insert(Arc::new(Object::Service(Service::new("n", "a"))));
        let v = MultiView::new(vec![&a, &b]);
        let names: Vec<&str> = v
            .list(Kind::Service, Some("n"))
            .iter()
            .map(|o| o.name())
            .collect();
        assert_eq!(names, ["a", "z"]);
        assert!(v.get_by(Kind::Service, "n", "a").is_some());
    }
}
