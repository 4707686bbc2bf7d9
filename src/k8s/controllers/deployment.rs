//! Deployment-lite: the Deployment and ReplicaSet controllers (`pkg/controller/deployment`,
//! `pkg/controller/replicaset`) folded into one, keeping what discovery sees: `replicas` pods
//! from the template with random names.
//!
//! Rules modelled: pods are created with `generateName: <deployment>-` (the real name has a
//! ReplicaSet hash in the middle) and a controller owner reference to the Deployment (no
//! ReplicaSet objects); failed pods are deleted; surplus pods are deleted not-ready first, then by
//! descending name; status `replicas`/`readyReplicas`/`observedGeneration`. Not modelled:
//! rollouts, ReplicaSets, and the controller's "expectations", so a caller that runs this against
//! a cache lagging behind its own creates would create duplicates (the test harness writes
//! synchronously, so it does not).
//! Inputs: a view with Deployments and Pods. Outputs: pod creates/deletes, status updates.
//! Must not touch: pods owned by anything else.

use crate::k8s::api::{DeleteOptions, Request};
use crate::k8s::objects::{Deployment, Kind, Object, ObjectKey, ObjectMeta, OwnerReference, Pod};
use crate::k8s::store::ObjectView;

fn new_pod(obj: &Object, d: &Deployment) -> Pod {
    let mut spec = d.spec.template.spec.clone();
    spec.node_name.clear();
    Pod {
        metadata: ObjectMeta {
            generate_name: format!("{}-", d.metadata.name),
            namespace: d.metadata.namespace.clone(),
            labels: d.spec.template.metadata.labels.clone(),
            annotations: d.spec.template.metadata.annotations.clone(),
            owner_references: vec![OwnerReference::controller_ref(obj)],
            ..ObjectMeta::default()
        },
        spec,
        status: Default::default(),
    }
}

/// Syncs Deployment `namespace/name`.
pub fn sync_deployment(view: &dyn ObjectView, namespace: &str, name: &str) -> Vec<Request> {
    let Some(obj) = view.get_by(Kind::Deployment, namespace, name) else {
        return vec![];
    };
    let Some(d) = obj.as_deployment() else {
        return vec![];
    };
    if d.metadata.is_terminating() {
        return vec![];
    }
    let owned: Vec<&Pod> = view
        .list_controlled_by(Kind::Pod, namespace, &d.metadata.uid)
        .into_iter()
        .filter_map(|o| o.as_pod())
        .filter(|p| {
            p.metadata
                .controller_ref()
                .is_some_and(|r| r.uid == d.metadata.uid)
        })
        .collect();
    let mut out = vec![];
    let delete = |p: &Pod| Request::Delete {
        key: ObjectKey::new(Kind::Pod, namespace, &p.metadata.name),
        options: DeleteOptions {
            precondition_uid: Some(p.metadata.uid.clone()),
            ..DeleteOptions::default()
        },
    };
    for p in &owned {
        if p.is_terminal() && !p.metadata.is_terminating() {
            out.push(delete(p));
        }
    }
    let mut active: Vec<&Pod> = owned
        .iter()
        .copied()
        .filter(|p| !p.metadata.is_terminating() && !p.is_terminal())
        .collect();
    let want = usize::try_from(d.spec.replicas).unwrap_or(0);
    if active.len() < want {
        for _ in active.len()..want {
            out.push(Request::create(new_pod(obj, d)));
        }
    } else if active.len() > want {
        // Not-ready first, then the highest names.
        active.sort_by(|a, b| {
            a.is_ready()
                .cmp(&b.is_ready())
                .then_with(|| b.metadata.name.cmp(&a.metadata.name))
        });
        for p in &active[..active.len() - want] {
            out.push(delete(p));
        }
    }
    let replicas_now = active.len() as i32;
    let ready_now = active.iter().filter(|p| p.is_ready()).count() as i32;
    let st = &d.status;
    if st.replicas != replicas_now
        || st.ready_replicas != ready_now
        || st.observed_generation != d.metadata.generation
    {
        let mut new = d.clone();
        new.status.replicas = replicas_now;
        new.status.ready_replicas = ready_now;
        new.status.observed_generation = d.metadata.generation;
        out.push(Request::update_status(new));
    }
    out
}

/// Every Deployment.
pub fn reconcile_all(view: &dyn ObjectView) -> Vec<Request> {
    view.list(Kind::Deployment, None)
        .iter()
        .flat_map(|d| sync_deployment(view, d.namespace(), d.name()))
        .collect()
}
