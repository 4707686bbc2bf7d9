//! The StatefulSet controller (`pkg/controller/statefulset`), reduced to what service discovery
//! sees: stable pod names `<set>-<ordinal>` with `hostname = <pod name>` and
//! `subdomain = spec.serviceName` (which is why `<pod>.<governing-svc>` resolves, spec §B.9).
//!
//! Rules modelled: `OrderedReady` creates ordinal *i* only once 0..i are Running and Ready and
//! scales down from the highest ordinal, one at a time, only while every kept pod is Ready;
//! `Parallel` creates and deletes all at once; failed pods are deleted (and so recreated); pods
//! get the template's labels plus `statefulset.kubernetes.io/pod-name` and
//! `apps.kubernetes.io/pod-index`, and a controller owner reference; `status.replicas`,
//! `readyReplicas`, `observedGeneration` are kept up to date. Not modelled: revisions and rolling
//! updates, PVCs, adoption/orphaning of pods by label.
//! Inputs: a view with StatefulSets and Pods. Outputs: pod creates/deletes, set status updates.
//! Must not touch: Services (the governing Service is the user's).

use crate::k8s::api::{DeleteOptions, Request};
use crate::k8s::objects::{
    Kind, Object, ObjectKey, ObjectMeta, OwnerReference, Pod, PodManagementPolicy, StatefulSet,
};
use crate::k8s::store::ObjectView;
use std::collections::BTreeMap;

pub const LABEL_POD_NAME: &str = "statefulset.kubernetes.io/pod-name";
pub const LABEL_POD_INDEX: &str = "apps.kubernetes.io/pod-index";

fn delete_pod(pod: &Pod) -> Request {
    Request::Delete {
        key: ObjectKey::new(Kind::Pod, &pod.metadata.namespace, &pod.metadata.name),
        options: DeleteOptions {
            precondition_uid: Some(pod.metadata.uid.clone()),
            ..DeleteOptions::default()
        },
    }
}

/// The pod a set wants at `ordinal`.
pub fn new_pod(set_obj: &Object, set: &StatefulSet, ordinal: u32) -> Pod {
    let name = format!("{}-{ordinal}", set.metadata.name);
    let mut labels = set.spec.template.metadata.labels.clone();
    labels.insert(LABEL_POD_NAME.to_string(), name.clone());
    labels.insert(LABEL_POD_INDEX.to_string(), ordinal.to_string());
    let mut spec = set.spec.template.spec.clone();
    spec.hostname = name.clone();
    spec.subdomain = set.spec.service_name.clone();
    spec.node_name.clear();
    Pod {
        metadata: ObjectMeta {
            name,
            namespace: set.metadata.namespace.clone(),
            labels,
            annotations: set.spec.template.metadata.annotations.clone(),
            owner_references: vec![OwnerReference::controller_ref(set_obj)],
            ..ObjectMeta::default()
        },
        spec,
        status: Default::default(),
    }
}

/// Syncs StatefulSet `namespace/name`.
pub fn sync_statefulset(view: &dyn ObjectView, namespace: &str, name: &str) -> Vec<Request> {
    let Some(set_obj) = view.get_by(Kind::StatefulSet, namespace, name) else {
        return vec![];
    };
    let Some(set) = set_obj.as_stateful_set() else {
        return vec![];
    };
    if set.metadata.is_terminating() {
        return vec![];
    }
    let prefix = format!("{name}-");
    let mut pods: BTreeMap<u32, &Pod> = BTreeMap::new();
    for p in view
        .list_controlled_by(Kind::Pod, namespace, &set.metadata.uid)
        .into_iter()
        .filter_map(|o| o.as_pod())
    {
        let owned = p
            .metadata
            .controller_ref()
            .is_some_and(|r| r.uid == set.metadata.uid);
        let ordinal = p
            .metadata
            .name
            .strip_prefix(&prefix)
            .and_then(|s| s.parse::<u32>().ok());
        if let (true, Some(i)) = (owned, ordinal) {
            pods.insert(i, p);
        }
    }
    let replicas = u32::try_from(set.spec.replicas).unwrap_or(0);
    let mut out = vec![];
    // Failed pods are deleted so they get recreated.
    for p in pods.values() {
        if p.is_terminal() && !p.metadata.is_terminating() {
            out.push(delete_pod(p));
        }
    }
    let healthy = |p: &Pod| p.is_ready() && !p.metadata.is_terminating() && !p.is_terminal();
    match set.spec.pod_management_policy {
        PodManagementPolicy::Parallel => {
            for i in 0..replicas {
                if !pods.contains_key(&i) {
                    out.push(Request::create(new_pod(set_obj, set, i)));
                }
            }
            for (i, p) in pods.iter().rev() {
                if *i >= replicas && !p.metadata.is_terminating() {
                    out.push(delete_pod(p));
                }
            }
        }
        PodManagementPolicy::OrderedReady => {
            let mut all_kept_healthy = true;
            for i in 0..replicas {
                match pods.get(&i) {
                    None => {
                        out.push(Request::create(new_pod(set_obj, set, i)));
                        all_kept_healthy = false;
                        break;
                    }
                    Some(p) if !healthy(p) => {
                        all_kept_healthy = false;
                        break;
                    }
                    Some(_) => {}
                }
            }
            let condemned: Vec<&&Pod> = pods.range(replicas..).map(|(_, p)| p).collect();
            if all_kept_healthy
                && !condemned.iter().any(|p| p.metadata.is_terminating())
                && let Some(last) = condemned.last()
            {
                out.push(delete_pod(last));
            }
        }
    }
    // Status.
    let replicas_now = pods
        .values()
        .filter(|p| !p.metadata.is_terminating())
        .count() as i32;
    let ready_now = pods.values().filter(|p| healthy(p)).count() as i32;
    let st = &set.status;
    if st.replicas != replicas_now
        || st.ready_replicas != ready_now
        || st.observed_generation != set.metadata.generation
    {
        let mut new = set.clone();
        new.status.replicas = replicas_now;
        new.status.ready_replicas = ready_now;
        new.status.observed_generation = set.metadata.generation;
        out.push(Request::update_status(new));
    }
    out
}

/// Every StatefulSet.
pub fn reconcile_all(view: &dyn ObjectView) -> Vec<Request> {
    view.list(Kind::StatefulSet, None)
        .iter()
        .flat_map(|s| sync_statefulset(view, s.namespace(), s.name()))
        .collect()
}

/// StatefulSet key an informer event on `obj` should enqueue.
pub fn keys_for(obj: &Object) -> Vec<(String, String)> {
    match obj {
        Object::StatefulSet(_) => vec![(obj.namespace().to_string(), obj.name().to_string())],
        Object::Pod(p) => p
            .metadata
            .controller_ref()
            .filter(|r| r.kind == "StatefulSet")
            .map(|r| vec![(obj.namespace().to_string(), r.name.clone())])
            .unwrap_or_default(),
        _ => vec![],
    }
}
