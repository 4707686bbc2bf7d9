//! The namespace controller (`pkg/controller/namespace`, spec §B.7): empties a Terminating
//! namespace, then removes the `kubernetes` finalizer from `spec.finalizers` (through the
//! `/finalize` subresource) so the API server can remove the namespace.
//!
//! Rules modelled: every namespaced object in the namespace, opaque ones included, is deleted
//! (background); objects
//! still terminating (finalizers, graceful pods) keep the namespace Terminating; the finalizer is
//! removed only when nothing is left. Not modelled: the status conditions
//! (`NamespaceDeletionContentFailure`, ...).
//! Inputs: a view of every namespaced kind and Namespaces. Outputs: deletes and a Finalize.
//! Must not touch: namespaces that are not being deleted.

use crate::k8s::api::{DeleteOptions, Request};
use crate::k8s::apiserver::FINALIZER_KUBERNETES;
use crate::k8s::objects::{Kind, NamespacePhase, Object, OpaqueKind};
use crate::k8s::store::ObjectView;

/// Syncs namespace `name`.
pub fn sync_namespace(view: &dyn ObjectView, name: &str) -> Vec<Request> {
    let Some(obj) = view.get_by(Kind::Namespace, "", name) else {
        return vec![];
    };
    let Some(ns) = obj.as_namespace() else {
        return vec![];
    };
    if !ns.metadata.is_terminating() && ns.phase() != NamespacePhase::Terminating {
        return vec![];
    }
    let mut out = vec![];
    let mut remaining = 0usize;
    let kinds = Kind::ALL
        .into_iter()
        .filter(|k| k.namespaced())
        .chain([Kind::Opaque(OpaqueKind::ANY)]);
    for kind in kinds {
        for o in view.list(kind, Some(name)) {
            remaining += 1;
            if !o.meta().is_terminating() {
                out.push(Request::Delete {
                    key: o.key(),
                    options: DeleteOptions {
                        precondition_uid: Some(o.meta().uid.clone()),
                        ..DeleteOptions::default()
                    },
                });
            }
        }
    }
    if remaining == 0 && ns.spec.finalizers.iter().any(|f| f == FINALIZER_KUBERNETES) {
        let mut n = ns.clone();
        n.spec.finalizers.retain(|f| f != FINALIZER_KUBERNETES);
        out.push(Request::Finalize {
            object: Object::Namespace(n),
        });
    }
    out
}

/// Every namespace.
pub fn reconcile_all(view: &dyn ObjectView) -> Vec<Request> {
    view.list(Kind::Namespace, None)
        .iter()
        .flat_map(|n| sync_namespace(view, n.name()))
        .collect()
}
