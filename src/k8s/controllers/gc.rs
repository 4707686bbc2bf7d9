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
//! not know are assumed present (never collected).
//! Inputs: a view of every kind. Outputs: deletes and metadata updates.
//! Must not touch: objects without owner references, except owners being deleted.

use crate::k8s::api::{DeleteOptions, Propagation, Request};
use crate::k8s::apiserver::{FINALIZER_FOREGROUND, FINALIZER_ORPHAN};
use crate::k8s::objects::{Kind, Object, ObjectKey, OwnerReference};
use crate::k8s::store::ObjectView;
use std::collections::BTreeMap;
use std::sync::Arc;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OwnerState {
    Absent,
    Present,
    /// Present, being deleted in the foreground.
    Foreground,
}

fn resolve(view: &dyn ObjectView, dependent: &Object, r: &OwnerReference) -> OwnerState {
    let Some(kind) = Kind::ALL.into_iter().find(|k| k.as_str() == r.kind) else {
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

/// One full pass.
pub fn sync(view: &dyn ObjectView) -> Vec<Request> {
    let mut out = vec![];
    // owner uid -> (dependent key, blocks owner deletion)
    let mut dependents: BTreeMap<&str, Vec<(ObjectKey, bool)>> = BTreeMap::new();
    let mut all: Vec<&Arc<Object>> = vec![];
    for kind in Kind::ALL {
        all.extend(view.list(kind, None));
    }
    for obj in &all {
        let refs = &obj.meta().owner_references;
        if refs.is_empty() {
            continue;
        }
        for r in refs {
            dependents
                .entry(r.uid.as_str())
                .or_default()
                .push((obj.key(), r.block_owner_deletion == Some(true)));
        }
        if obj.meta().is_terminating() {
            continue;
        }
        let states: Vec<OwnerState> = refs.iter().map(|r| resolve(view, obj, r)).collect();
        if states.iter().all(|s| *s == OwnerState::Absent) {
            out.push(delete(obj, Propagation::Background));
        } else if states.contains(&OwnerState::Foreground) {
            out.push(delete(obj, Propagation::Foreground));
        } else if states.contains(&OwnerState::Absent) {
            let mut o = (***obj).clone();
            let mut i = 0;
            o.meta_mut().owner_references.retain(|_| {
                let keep = states[i] != OwnerState::Absent;
                i += 1;
                keep
            });
            out.push(Request::update(o));
        }
    }
    // Owners being deleted with a GC finalizer.
    for owner in &all {
        let m = owner.meta();
        if !m.is_terminating() {
            continue;
        }
        let deps = dependents
            .get(m.uid.as_str())
            .map(Vec::as_slice)
            .unwrap_or(&[]);
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
    out
}
