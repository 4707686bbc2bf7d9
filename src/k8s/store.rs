//! An ordered in-memory object map and the read-only view controllers and DNS read through.
//!
//! Owns: [`Store`] (objects keyed by [`ObjectKey`], range queries by kind and namespace, and the
//! indexes controllers look objects up by, as client-go's indexers do: Pods and EndpointSlices
//! by label, Pods by controller, Services by selector) and the [`ObjectView`] trait, implemented
//! by `Store`, by the API server and by [`MultiView`] (several informer caches seen as one).
//! Inputs: objects. Outputs: borrowed objects in key order.
//! Must not touch: revision bookkeeping, validation, events (those belong to the API server and
//! the informer).

use super::objects::{Kind, Object, ObjectKey, StringMap};
use std::collections::{BTreeMap, BTreeSet};
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

    /// Objects of `kind` in `namespace` labelled `key=value`, in key order (an index lookup in a
    /// [`Store`] for Pods and EndpointSlices).
    fn list_labelled(
        &self,
        kind: Kind,
        namespace: &str,
        key: &str,
        value: &str,
    ) -> Vec<&Arc<Object>> {
        self.list(kind, Some(namespace))
            .into_iter()
            .filter(|o| has_label(o, key, value))
            .collect()
    }

    /// Objects of `kind` in `namespace` whose controller reference has `uid`, in key order (an
    /// index lookup in a [`Store`] for Pods).
    fn list_controlled_by(&self, kind: Kind, namespace: &str, uid: &str) -> Vec<&Arc<Object>> {
        self.list(kind, Some(namespace))
            .into_iter()
            .filter(|o| controlled_by(o, uid))
            .collect()
    }

    /// Services in `namespace` with a non-empty selector that `labels` match, in key order (an
    /// index lookup in a [`Store`]).
    fn services_selecting(&self, namespace: &str, labels: &StringMap) -> Vec<&Arc<Object>> {
        self.list(Kind::Service, Some(namespace))
            .into_iter()
            .filter(|o| selects(o, labels))
            .collect()
    }
}

pub fn has_label(o: &Object, key: &str, value: &str) -> bool {
    o.labels().get(key).is_some_and(|v| v == value)
}

pub fn controlled_by(o: &Object, uid: &str) -> bool {
    o.meta().controller_ref().is_some_and(|r| r.uid == uid)
}

/// Whether `o` is a Service whose non-empty selector matches `labels`.
pub fn selects(o: &Object, labels: &StringMap) -> bool {
    o.as_service().is_some_and(|s| {
        !s.spec.selector.is_empty()
            && s.spec
                .selector
                .iter()
                .all(|(k, v)| labels.get(k) == Some(v))
    })
}

/// (kind, namespace, label key, label value).
type LabelKey = (Kind, String, String, String);
/// (kind, namespace, controller uid).
type ControllerKey = (Kind, String, String);
/// (namespace, a selector's first key, its value).
type SelectorKey = (String, String, String);

/// Index entries of one object.
#[derive(PartialEq)]
struct Entries<'a> {
    labels: Vec<(&'a str, &'a str)>,
    controller: Option<&'a str>,
    selector: Option<(&'a str, &'a str)>,
}

fn entries(o: &Object) -> Entries<'_> {
    let kind = o.kind();
    let labelled = matches!(kind, Kind::Pod | Kind::EndpointSlice);
    Entries {
        labels: if labelled {
            o.labels()
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect()
        } else {
            Vec::new()
        },
        controller: (kind == Kind::Pod)
            .then(|| o.meta().controller_ref().map(|r| r.uid.as_str()))
            .flatten(),
        selector: o
            .as_service()
            .and_then(|s| s.spec.selector.iter().next())
            .map(|(k, v)| (k.as_str(), v.as_str())),
    }
}

/// Objects ordered by key, with the indexes of [`ObjectView::list_labelled`],
/// [`ObjectView::list_controlled_by`] and [`ObjectView::services_selecting`] (names per index
/// value).
#[derive(Clone, Debug, Default)]
pub struct Store {
    map: BTreeMap<ObjectKey, Arc<Object>>,
    by_label: BTreeMap<LabelKey, BTreeSet<String>>,
    by_controller: BTreeMap<ControllerKey, BTreeSet<String>>,
    by_selector: BTreeMap<SelectorKey, BTreeSet<String>>,
}

fn unlink<K: Ord>(index: &mut BTreeMap<K, BTreeSet<String>>, key: K, name: &str) {
    if let Some(names) = index.get_mut(&key) {
        names.remove(name);
        if names.is_empty() {
            index.remove(&key);
        }
    }
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
        self.insert_with_key(obj.key(), obj)
    }
    pub fn insert_with_key(&mut self, key: ObjectKey, obj: Arc<Object>) -> Option<Arc<Object>> {
        let old = self.map.insert(key.clone(), obj.clone());
        match &old {
            Some(o) if entries(o) == entries(&obj) => {}
            Some(o) => {
                self.unindex(&key, o);
                self.index(&key, &obj);
            }
            None => self.index(&key, &obj),
        }
        old
    }
    pub fn remove(&mut self, key: &ObjectKey) -> Option<Arc<Object>> {
        let old = self.map.remove(key)?;
        self.unindex(key, &old);
        Some(old)
    }
    pub fn clear(&mut self) {
        self.map.clear();
        self.by_label.clear();
        self.by_controller.clear();
        self.by_selector.clear();
    }

    fn index(&mut self, key: &ObjectKey, o: &Object) {
        let e = entries(o);
        let ns = &key.namespace;
        for (k, v) in e.labels {
            self.by_label
                .entry((key.kind, ns.clone(), k.to_string(), v.to_string()))
                .or_default()
                .insert(key.name.clone());
        }
        if let Some(uid) = e.controller {
            self.by_controller
                .entry((key.kind, ns.clone(), uid.to_string()))
                .or_default()
                .insert(key.name.clone());
        }
        if let Some((k, v)) = e.selector {
            self.by_selector
                .entry((ns.clone(), k.to_string(), v.to_string()))
                .or_default()
                .insert(key.name.clone());
        }
    }

    fn unindex(&mut self, key: &ObjectKey, o: &Object) {
        let e = entries(o);
        let ns = &key.namespace;
        for (k, v) in e.labels {
            let ik = (key.kind, ns.clone(), k.to_string(), v.to_string());
            unlink(&mut self.by_label, ik, &key.name);
        }
        if let Some(uid) = e.controller {
            let ik = (key.kind, ns.clone(), uid.to_string());
            unlink(&mut self.by_controller, ik, &key.name);
        }
        if let Some((k, v)) = e.selector {
            let ik = (ns.clone(), k.to_string(), v.to_string());
            unlink(&mut self.by_selector, ik, &key.name);
        }
    }

    fn named<'a>(
        &'a self,
        kind: Kind,
        namespace: &str,
        names: Option<&'a BTreeSet<String>>,
    ) -> Vec<&'a Arc<Object>> {
        names
            .into_iter()
            .flatten()
            .filter_map(|n| self.map.get(&ObjectKey::new(kind, namespace, n)))
            .collect()
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
    /// kinds or namespaces. [`OpaqueKind::ANY`](super::objects::OpaqueKind::ANY) lists every
    /// opaque object (in `namespace` when given).
    pub fn range(&self, kind: Kind, namespace: Option<&str>) -> impl Iterator<Item = &Arc<Object>> {
        let wildcard = matches!(kind, Kind::Opaque(o) if o.is_any());
        let start = ObjectKey {
            kind,
            namespace: if wildcard {
                String::new()
            } else {
                namespace.unwrap_or("").to_string()
            },
            name: String::new(),
        };
        let ns = namespace.map(str::to_string);
        let ns_filter = ns.clone();
        self.map
            .range((Bound::Included(start), Bound::Unbounded))
            .take_while(move |(k, _)| {
                kind.covers(k.kind) && (wildcard || ns.as_ref().is_none_or(|ns| &k.namespace == ns))
            })
            .filter(move |(k, _)| ns_filter.as_ref().is_none_or(|ns| &k.namespace == ns))
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
    fn list_labelled(
        &self,
        kind: Kind,
        namespace: &str,
        key: &str,
        value: &str,
    ) -> Vec<&Arc<Object>> {
        if !matches!(kind, Kind::Pod | Kind::EndpointSlice) {
            return self
                .range(kind, Some(namespace))
                .filter(|o| has_label(o, key, value))
                .collect();
        }
        let ik = (
            kind,
            namespace.to_string(),
            key.to_string(),
            value.to_string(),
        );
        self.named(kind, namespace, self.by_label.get(&ik))
    }
    fn list_controlled_by(&self, kind: Kind, namespace: &str, uid: &str) -> Vec<&Arc<Object>> {
        if kind != Kind::Pod {
            return self
                .range(kind, Some(namespace))
                .filter(|o| controlled_by(o, uid))
                .collect();
        }
        let ik = (kind, namespace.to_string(), uid.to_string());
        self.named(kind, namespace, self.by_controller.get(&ik))
    }
    fn services_selecting(&self, namespace: &str, labels: &StringMap) -> Vec<&Arc<Object>> {
        // A Service is indexed under its selector's first pair, which a match must carry.
        let mut names: BTreeSet<&String> = BTreeSet::new();
        for (k, v) in labels {
            let ik = (namespace.to_string(), k.clone(), v.clone());
            names.extend(self.by_selector.get(&ik).into_iter().flatten());
        }
        names
            .into_iter()
            .filter_map(|n| self.map.get(&ObjectKey::new(Kind::Service, namespace, n)))
            .filter(|o| selects(o, labels))
            .collect()
    }
}

/// Several views' answers to one query as one: concatenated, re-sorted by key when more than
/// one view answered (a lookup's first hit wins, as in [`MultiView::get`]).
fn merge_answers<'a>(parts: impl Iterator<Item = Vec<&'a Arc<Object>>>) -> Vec<&'a Arc<Object>> {
    let mut out: Vec<&Arc<Object>> = Vec::new();
    let mut sources = 0;
    for part in parts {
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
        merge_answers(self.views.iter().map(|v| v.list(kind, namespace)))
    }
    fn list_labelled(
        &self,
        kind: Kind,
        namespace: &str,
        key: &str,
        value: &str,
    ) -> Vec<&Arc<Object>> {
        merge_answers(
            self.views
                .iter()
                .map(|v| v.list_labelled(kind, namespace, key, value)),
        )
    }
    fn list_controlled_by(&self, kind: Kind, namespace: &str, uid: &str) -> Vec<&Arc<Object>> {
        merge_answers(
            self.views
                .iter()
                .map(|v| v.list_controlled_by(kind, namespace, uid)),
        )
    }
    fn services_selecting(&self, namespace: &str, labels: &StringMap) -> Vec<&Arc<Object>> {
        merge_answers(
            self.views
                .iter()
                .map(|v| v.services_selecting(namespace, labels)),
        )
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

    /// A view that answers every query by listing and filtering: the reference for the
    /// indexed answers of [`Store`].
    struct Scan<'a>(&'a Store);
    impl ObjectView for Scan<'_> {
        fn get(&self, key: &ObjectKey) -> Option<&Arc<Object>> {
            self.0.get(key)
        }
        fn list(&self, kind: Kind, namespace: Option<&str>) -> Vec<&Arc<Object>> {
            self.0.list(kind, namespace)
        }
    }

    #[test]
    fn indexes_answer_like_a_scan() {
        use crate::k8s::objects::{EndpointSlice, OwnerReference, Pod};
        let mut rng = crate::sim::Prng::stream(5, "store-index");
        let mut s = Store::new();
        let label = |rng: &mut crate::sim::Prng| {
            let mut m = StringMap::new();
            for k in ["app", "tier", "kubernetes.io/service-name"] {
                if rng.below(3) != 0 {
                    m.insert(k.to_string(), format!("v{}", rng.below(3)));
                }
            }
            m
        };
        for step in 0..3000 {
            let ns = ["a", "b"][rng.below(2) as usize];
            let name = format!("o{}", rng.below(40));
            let labels = label(&mut rng);
            let obj = match rng.below(4) {
                0 => {
                    let mut p = Pod::default();
                    p.metadata.labels = labels;
                    if rng.below(2) == 0 {
                        p.metadata.owner_references.push(OwnerReference {
                            uid: format!("u{}", rng.below(3)),
                            controller: Some(rng.below(4) != 0),
                            ..OwnerReference::default()
                        });
                    }
                    Object::Pod(p)
                }
                1 => {
                    let mut svc = Service::new(ns, &name);
                    svc.spec.selector = label(&mut rng);
                    Object::Service(svc)
                }
                2 => {
                    let mut e = EndpointSlice::default();
                    e.metadata.labels = labels;
                    Object::EndpointSlice(e)
                }
                _ => {
                    let kind =
                        [Kind::Pod, Kind::Service, Kind::EndpointSlice][rng.below(3) as usize];
                    s.remove(&ObjectKey::new(kind, ns, &name));
                    continue;
                }
            };
            let mut obj = obj;
            obj.meta_mut().namespace = ns.to_string();
            obj.meta_mut().name = name;
            s.insert(Arc::new(obj));
            if step % 50 != 0 {
                continue;
            }
            let scan = Scan(&s);
            for ns in ["a", "b"] {
                for kind in [Kind::Pod, Kind::EndpointSlice, Kind::Service] {
                    for k in ["app", "tier", "kubernetes.io/service-name"] {
                        for v in ["v0", "v1", "v2"] {
                            assert_eq!(
                                s.list_labelled(kind, ns, k, v),
                                scan.list_labelled(kind, ns, k, v)
                            );
                        }
                    }
                }
                for uid in ["u0", "u1", "u2"] {
                    assert_eq!(
                        s.list_controlled_by(Kind::Pod, ns, uid),
                        scan.list_controlled_by(Kind::Pod, ns, uid)
                    );
                }
                for _ in 0..5 {
                    let labels = label(&mut rng);
                    assert_eq!(
                        s.services_selecting(ns, &labels),
                        scan.services_selecting(ns, &labels)
                    );
                }
            }
        }
        assert!(!s.by_label.is_empty() && !s.by_selector.is_empty());
        s.clear();
        assert!(s.by_label.is_empty() && s.by_controller.is_empty() && s.by_selector.is_empty());
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
