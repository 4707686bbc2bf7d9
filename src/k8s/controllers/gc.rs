//! The garbage collector (`pkg/controller/garbagecollector`, spec §B.5): deletes dependents whose
//! owners are all gone and carries out foreground and orphan deletion.
//!
//! Rules modelled: an owner reference resolves by kind, name *and uid* (a recreated owner is a
//! different owner); a namespaced owner is looked up in the dependent's namespace, so a reference
//! meant for another namespace resolves to nothing (absent), and a cluster-scoped dependent's
//! reference to a namespaced kind is absent; a dependent whose owners are all absent is deleted
//! (background, uid precondition); one with some absent owners gets the dangling references
//! removed; dependents of an owner being deleted in the foreground are deleted (foreground) and the
//! owner's `foregroundDeletion` finalizer is removed once no dependent with
//! `blockOwnerDeletion: true` remains; for an owner with the `orphan` finalizer the references to
//! it are removed from every dependent, then the finalizer. References to kinds this model does
//! not know are assumed present (never collected): the built-in kinds of the vendored schema are
//! known whether modelled or opaque; kinds defined by a CRD are not (the collector is given no
//! discovery, and resolving them through anything process-wide would make a run depend on what
//! other runs loaded).
//! Inputs: a view of every kind. Outputs: deletes and metadata updates.
//! Must not touch: objects without owner references, except owners being deleted.

use crate::k8s::api::{DeleteOptions, Propagation, Request};
use crate::k8s::apiserver::{FINALIZER_FOREGROUND, FINALIZER_ORPHAN};
use crate::k8s::discovery::Discovery;
use crate::k8s::objects::{Kind, Object, ObjectKey, OpaqueKind, OwnerReference};
use crate::k8s::store::ObjectView;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OwnerState {
    Absent,
    Present,
    /// Present, being deleted in the foreground.
    Foreground,
}

/// The kind an owner reference names, if it is a built-in kind (modelled or not).
fn owner_kind(r: &OwnerReference) -> Option<Kind> {
    Discovery::new().resolve(&r.api_version, &r.kind).ok()
}

fn resolve(view: &dyn ObjectView, dependent: &Object, r: &OwnerReference) -> OwnerState {
    let Some(kind) = owner_kind(r) else {
        return OwnerState::Present;
    };
    if kind.namespaced() && !dependent.kind().namespaced() {
        return OwnerState::Absent;
    }
    match view.get_by(kind, dependent.namespace(), &r.name) {
        Some(owner) if owner.meta().uid == r.uid => {
            let m = owner.meta();
            if m.is_terminating() && m.finalizers.iter().any(|f| f == FINALIZER_FOREGROUND) {
                OwnerState::Foreground
            } else {
                OwnerState::Present
            }
        }
        _ => OwnerState::Absent,
    }
}

fn delete(obj: &Object, propagation: Propagation) -> Request {
    Request::Delete {
        key: obj.key(),
        options: DeleteOptions {
            propagation_policy: propagation,
            precondition_uid: Some(obj.meta().uid.clone()),
            grace_period_seconds: None,
        },
    }
}

fn without_finalizer(obj: &Object, finalizer: &str) -> Request {
    let mut o = obj.clone();
    o.meta_mut().finalizers.retain(|f| f != finalizer);
    Request::update(o)
}

/// Section 1 of a pass for one object: the request for a dependent (with owner references, not
/// being deleted) whose owners are absent or being deleted in the foreground.
fn dependent_request(view: &dyn ObjectView, obj: &Object) -> Option<Request> {
    let refs = &obj.meta().owner_references;
    if refs.is_empty() || obj.meta().is_terminating() {
        return None;
    }
    let states: Vec<OwnerState> = refs.iter().map(|r| resolve(view, obj, r)).collect();
    if states.iter().all(|s| *s == OwnerState::Absent) {
        Some(delete(obj, Propagation::Background))
    } else if states.contains(&OwnerState::Foreground) {
        Some(delete(obj, Propagation::Foreground))
    } else if states.contains(&OwnerState::Absent) {
        let mut o = obj.clone();
        let mut i = 0;
        o.meta_mut().owner_references.retain(|_| {
            let keep = states[i] != OwnerState::Absent;
            i += 1;
            keep
        });
        Some(Request::update(o))
    } else {
        None
    }
}

/// Section 2 of a pass for one owner being deleted: orphaning or finishing a foreground
/// deletion. `deps` are (dependent, blocks owner deletion), one per reference to its uid.
fn owner_requests(
    view: &dyn ObjectView,
    owner: &Object,
    deps: &[(ObjectKey, bool)],
    out: &mut Vec<Request>,
) {
    let m = owner.meta();
    if !m.is_terminating() {
        return;
    }
    if m.finalizers.iter().any(|f| f == FINALIZER_ORPHAN) {
        for (key, _) in deps {
            if let Some(d) = view.get(key) {
                let mut o = (**d).clone();
                o.meta_mut().owner_references.retain(|r| r.uid != m.uid);
                out.push(Request::update(o));
            }
        }
        if deps.is_empty() {
            out.push(without_finalizer(owner, FINALIZER_ORPHAN));
        }
    } else if m.finalizers.iter().any(|f| f == FINALIZER_FOREGROUND)
        && !deps.iter().any(|(_, blocks)| *blocks)
    {
        out.push(without_finalizer(owner, FINALIZER_FOREGROUND));
    }
}

/// One full pass over every object: the reference the incremental [`Gc`] is tested against.
pub fn sync(view: &dyn ObjectView) -> Vec<Request> {
    let mut out = vec![];
    // owner uid -> (dependent key, blocks owner deletion)
    let mut dependents: BTreeMap<&str, Vec<(ObjectKey, bool)>> = BTreeMap::new();
    let mut all: Vec<&Arc<Object>> = vec![];
    for kind in Kind::ALL.into_iter().chain([Kind::Opaque(OpaqueKind::ANY)]) {
        all.extend(view.list(kind, None));
    }
    for obj in &all {
        for r in &obj.meta().owner_references {
            dependents
                .entry(r.uid.as_str())
                .or_default()
                .push((obj.key(), r.block_owner_deletion == Some(true)));
        }
        out.extend(dependent_request(view, obj));
    }
    // Owners being deleted with a GC finalizer.
    for owner in &all {
        let deps = dependents
            .get(owner.meta().uid.as_str())
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        owner_requests(view, owner, deps, &mut out);
    }
    out
}

/// Where `r` of `dependent` is looked up ([`resolve`]); `None` when no object can be its owner
/// (an unknown kind, or a namespaced owner of a cluster-scoped dependent).
fn owner_key(dependent: &ObjectKey, r: &OwnerReference) -> Option<ObjectKey> {
    let kind = owner_kind(r)?;
    if kind.namespaced() && !dependent.kind.namespaced() {
        return None;
    }
    Some(ObjectKey::new(kind, &dependent.namespace, &r.name))
}

/// The garbage collector with memory between passes: a pass looks only at objects touched since
/// they were last looked at (reported with [`Gc::touch`]: the object, the dependents that
/// reference it as owner, the owners being deleted whose dependents changed) and those that
/// still had writes outstanding, instead of every object. It sends the same requests in the same
/// order as [`sync`] over the same view, which a seeded unit test checks.
#[derive(Clone, Debug, Default)]
pub struct Gc {
    dirty: BTreeSet<ObjectKey>,
    /// Each dependent's owner references as last seen.
    refs_of: BTreeMap<ObjectKey, Vec<OwnerReference>>,
    /// Owner key as [`resolve`] looks it up → dependents referencing it.
    by_owner: BTreeMap<ObjectKey, BTreeSet<ObjectKey>>,
    /// Owner uid → dependents with a reference to it → blocks-owner-deletion per reference.
    by_uid: BTreeMap<String, BTreeMap<ObjectKey, Vec<bool>>>,
    /// Objects being deleted: uid → keys, and each one's uid.
    terminating: BTreeMap<String, BTreeSet<ObjectKey>>,
    terminating_uid: BTreeMap<ObjectKey, String>,
}

impl Gc {
    pub fn new() -> Gc {
        Gc::default()
    }

    /// The view's state of `key` may have changed.
    pub fn touch(&mut self, view: &dyn ObjectView, key: &ObjectKey) {
        let now = view.get(key).cloned();
        let current: &[OwnerReference] = now
            .as_deref()
            .map_or(&[], |o| o.meta().owner_references.as_slice());
        let unchanged = self
            .refs_of
            .get(key)
            .map_or(current.is_empty(), |old| old.as_slice() == current);
        if unchanged {
            // The indexes stand; owners being deleted may still depend on this object's state.
            for r in current {
                if let Some(owners) = self.terminating.get(&r.uid) {
                    self.dirty.extend(owners.iter().cloned());
                }
            }
        } else {
            self.reindex(key, current.to_vec());
        }
        // Dependents of this object as an owner.
        if let Some(deps) = self.by_owner.get(key) {
            self.dirty.extend(deps.iter().cloned());
        }
        if let Some(uid) = self.terminating_uid.remove(key)
            && let Some(keys) = self.terminating.get_mut(&uid)
        {
            keys.remove(key);
            if keys.is_empty() {
                self.terminating.remove(&uid);
            }
        }
        if let Some(o) = &now
            && o.meta().is_terminating()
        {
            let uid = o.meta().uid.clone();
            self.terminating
                .entry(uid.clone())
                .or_default()
                .insert(key.clone());
            self.terminating_uid.insert(key.clone(), uid);
        }
        self.dirty.insert(key.clone());
    }

    /// `key`'s owner references changed to `new_refs`: move it in the indexes and mark the
    /// owners being deleted that it referenced before or references now.
    fn reindex(&mut self, key: &ObjectKey, new_refs: Vec<OwnerReference>) {
        let old_refs = self.refs_of.remove(key).unwrap_or_default();
        let mut uids: BTreeSet<String> = BTreeSet::new();
        for r in &old_refs {
            if let Some(owner) = owner_key(key, r)
                && let Some(deps) = self.by_owner.get_mut(&owner)
            {
                deps.remove(key);
                if deps.is_empty() {
                    self.by_owner.remove(&owner);
                }
            }
            if let Some(deps) = self.by_uid.get_mut(&r.uid) {
                deps.remove(key);
                if deps.is_empty() {
                    self.by_uid.remove(&r.uid);
                }
            }
            uids.insert(r.uid.clone());
        }
        for r in &new_refs {
            if let Some(owner) = owner_key(key, r) {
                self.by_owner.entry(owner).or_default().insert(key.clone());
            }
            self.by_uid
                .entry(r.uid.clone())
                .or_default()
                .entry(key.clone())
                .or_default()
                .push(r.block_owner_deletion == Some(true));
            uids.insert(r.uid.clone());
        }
        if !new_refs.is_empty() {
            self.refs_of.insert(key.clone(), new_refs);
        }
        for uid in &uids {
            if let Some(owners) = self.terminating.get(uid) {
                self.dirty.extend(owners.iter().cloned());
            }
        }
    }

    /// One pass.
    pub fn sync(&mut self, view: &dyn ObjectView) -> Vec<Request> {
        let visit = std::mem::take(&mut self.dirty);
        let mut out = vec![];
        for key in &visit {
            if let Some(obj) = view.get(key)
                && let Some(req) = dependent_request(view, obj)
            {
                out.push(req);
                self.dirty.insert(key.clone());
            }
        }
        for key in &visit {
            let Some(owner) = view.get(key) else {
                continue;
            };
            let deps: Vec<(ObjectKey, bool)> = self
                .by_uid
                .get(owner.meta().uid.as_str())
                .into_iter()
                .flatten()
                .flat_map(|(k, blocks)| blocks.iter().map(|b| (k.clone(), *b)))
                .collect();
            let before = out.len();
            owner_requests(view, owner, &deps, &mut out);
            if out.len() > before {
                self.dirty.insert(key.clone());
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::k8s::ApiServer;
    use crate::k8s::api::Response;
    use crate::k8s::objects::{Pod, Service, ServicePort};
    use crate::sim::{Prng, SimTime};

    fn owner_ref(kind: &str, name: &str, uid: &str, blocks: bool) -> OwnerReference {
        OwnerReference {
            api_version: "v1".to_string(),
            kind: kind.to_string(),
            name: name.to_string(),
            uid: uid.to_string(),
            controller: Some(true),
            block_owner_deletion: Some(blocks),
        }
    }

    /// The incremental collector sends exactly what a full pass sends, pass after pass, while
    /// owners and dependents come and go, owners are deleted in the background, foreground or
    /// orphaning, references dangle or point at unknown kinds, and writes are lost.
    #[test]
    fn incremental_passes_match_full_passes() {
        let t = SimTime::ZERO;
        for seed in 0..40 {
            let mut rng = Prng::stream(seed, "gc-test");
            let mut api = ApiServer::new(Default::default(), &mut rng);
            let mut inc = Gc::new();
            let mut passes_with_work = 0;
            for _round in 0..200 {
                let mut touched: Vec<ObjectKey> = Vec::new();
                let owner = format!("o{}", rng.below(4));
                let dep = format!("d{}", rng.below(8));
                let result = match rng.below(8) {
                    0 | 5 | 6 => {
                        let mut svc = Service::new("default", &owner);
                        svc.spec.ports.push(ServicePort::tcp("http", 80));
                        api.handle(t, &mut rng, Request::create(svc))
                    }
                    1 | 2 => {
                        let mut p = Pod::default();
                        p.metadata.namespace = "default".to_string();
                        p.metadata.name = dep.clone();
                        for _ in 0..1 + rng.below(2) {
                            let name = format!("o{}", rng.below(4));
                            let uid = api
                                .get_by(Kind::Service, "default", &name)
                                .map(|o| o.meta().uid.clone())
                                .filter(|_| rng.below(10) != 0)
                                .unwrap_or_else(|| "stale".to_string());
                            let kind =
                                ["Service", "Service", "Service", "Widget"][rng.below(4) as usize];
                            p.metadata.owner_references.push(owner_ref(
                                kind,
                                &name,
                                &uid,
                                rng.below(2) == 0,
                            ));
                        }
                        let key = ObjectKey::new(Kind::Pod, "default", &dep);
                        if api.get(&key).is_some() {
                            api.handle(t, &mut rng, Request::update(p))
                        } else {
                            api.handle(t, &mut rng, Request::create(p))
                        }
                    }
                    3 | 4 => {
                        let propagation = [
                            Propagation::Background,
                            Propagation::Foreground,
                            Propagation::Orphan,
                        ][rng.below(3) as usize];
                        api.handle(
                            t,
                            &mut rng,
                            Request::Delete {
                                key: ObjectKey::new(Kind::Service, "default", &owner),
                                options: DeleteOptions {
                                    propagation_policy: propagation,
                                    ..DeleteOptions::default()
                                },
                            },
                        )
                    }
                    _ => api.handle(
                        t,
                        &mut rng,
                        Request::delete(ObjectKey::new(Kind::Pod, "default", &dep)),
                    ),
                };
                if let Ok(r) = &result
                    && let Some(o) = r.object()
                {
                    touched.push(o.key());
                }
                for key in &touched {
                    inc.touch(&api, key);
                }
                // The controller manager runs a pass only now and then.
                if rng.below(2) == 0 {
                    continue;
                }
                let full = sync(&api);
                let got = inc.sync(&api);
                assert_eq!(got, full, "seed {seed}");
                passes_with_work += usize::from(!full.is_empty());
                for req in full {
                    if rng.below(4) == 0 {
                        continue;
                    }
                    if let Ok(Response::Object(o) | Response::Deleted(o)) =
                        api.handle(t, &mut rng, req)
                    {
                        inc.touch(&api, &o.key());
                    }
                }
            }
            assert!(passes_with_work > 10, "seed {seed}: {passes_with_work}");
        }
    }
}
