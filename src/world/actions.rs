//! The scripted workload changes of a scenario (`[[action]]`), as the operator's tools make
//! them: `kubectl` edits and `linkerd multicluster link-gen` / `unlink` output. Each is a pure
//! function from the cluster's objects as they are now to the API requests the tool sends.
//!
//! Inputs: the action, a read-only view of the cluster's store, and (for `link`) the link-gen
//! objects of the declared link. Outputs: requests, in the order the tool sends them. Must not
//! touch: the world; the fault injector sends the requests and observes each result.

use super::seed::{LABEL_CREDENTIALS_CLUSTER, LABEL_EXPORTED, LINKERD_NAMESPACE, MC_NAMESPACE};
use crate::k8s::objects::Namespace;
use crate::k8s::store::ObjectView;
use crate::k8s::{Kind, LabelSelector, Object, ObjectKey, Request};
use crate::multicluster::names::{LABEL_CLUSTER_NAME, LABEL_MIRRORED_SERVICE};
use crate::scenario::ActionKind;

/// The requests of one scripted action against `store`, the cluster's objects now.
/// `link_gen`: what `linkerd multicluster link-gen` prints for the link a `link` action names.
pub(crate) fn requests(
    kind: &ActionKind,
    namespace: &str,
    store: &dyn ObjectView,
    link_gen: &[Object],
) -> Vec<Request> {
    let get = |kind: Kind, name: &str| store.get(&ObjectKey::new(kind, namespace, name));
    let edit = |kind: Kind, name: &str, change: &dyn Fn(&mut Object)| {
        get(kind, name).map(|o| {
            let mut o = (**o).clone();
            change(&mut o);
            Request::update(o)
        })
    };
    let one = |r: Option<Request>| r.into_iter().collect();
    match kind {
        ActionKind::Scale { workload, replicas } => {
            let replicas = *replicas as i32;
            let scaled = edit(Kind::StatefulSet, workload, &|o| {
                if let Some(s) = o.as_stateful_set_mut() {
                    s.spec.replicas = replicas;
                }
            })
            .or_else(|| {
                edit(Kind::Deployment, workload, &|o| {
                    if let Some(d) = o.as_deployment_mut() {
                        d.spec.replicas = replicas;
                    }
                })
            });
            one(scaled)
        }
        ActionKind::Export { service } => one(edit(Kind::Service, service, &|o| {
            o.meta_mut()
                .labels
                .insert(LABEL_EXPORTED.into(), "true".into());
        })),
        ActionKind::Unexport { service } => one(edit(Kind::Service, service, &|o| {
            o.meta_mut().labels.remove(LABEL_EXPORTED);
        })),
        ActionKind::DeleteService { service } => vec![Request::delete(ObjectKey::new(
            Kind::Service,
            namespace,
            service,
        ))],
        ActionKind::DeleteLink { link } => {
            vec![Request::delete(ObjectKey::new(
                Kind::Link,
                MC_NAMESPACE,
                link,
            ))]
        }
        ActionKind::CreateNamespace { name } => vec![Request::create(Namespace::new(name))],
        ActionKind::Label {
            service,
            key,
            value,
        } => one(edit(Kind::Service, service, &|o| {
            set_or_remove(&mut o.meta_mut().labels, key, value.as_deref())
        })),
        ActionKind::Annotate {
            service,
            key,
            value,
        } => one(edit(Kind::Service, service, &|o| {
            set_or_remove(&mut o.meta_mut().annotations, key, value.as_deref())
        })),
        ActionKind::LinkSelector { link, selector } => {
            let key = ObjectKey::new(Kind::Link, MC_NAMESPACE, link);
            one(store.get(&key).map(|o| {
                let mut o = (**o).clone();
                if let Object::Link(l) = &mut o {
                    l.spec.selector = LabelSelector::parse(selector).ok();
                }
                Request::update(o)
            }))
        }
        ActionKind::Link { .. } => link_gen.iter().cloned().map(Request::create).collect(),
        ActionKind::Apply { objects, .. } => {
            objects.iter().map(|l| apply(store, &l.object)).collect()
        }
        ActionKind::Unlink { link } => unlink(store, link),
    }
}

/// `kubectl apply` of one object: a create, or an update of the stored object with the
/// applied labels, annotations and spec (the server keeps its own metadata and the status;
/// without a resourceVersion the update does not conflict, as apply's patch does not). Owner
/// references and finalizers the applied object does not name are kept.
fn apply(store: &dyn ObjectView, object: &Object) -> Request {
    let Some(stored) = store.get(&object.key()) else {
        return Request::create(object.clone());
    };
    let mut o = object.clone();
    let m = o.meta_mut();
    m.resource_version.clear();
    if m.owner_references.is_empty() {
        m.owner_references = stored.meta().owner_references.clone();
    }
    if m.finalizers.is_empty() {
        m.finalizers = stored.meta().finalizers.clone();
    }
    Request::update(o)
}

fn set_or_remove(
    map: &mut std::collections::BTreeMap<String, String>,
    key: &str,
    value: Option<&str>,
) {
    match value {
        Some(v) => map.insert(key.to_string(), v.to_string()),
        None => map.remove(key),
    };
}

/// What `linkerd multicluster unlink` prints for `kubectl delete` (spec §9.4): the Link first
/// (its controller stops), its credentials Secret, its probe Service, the `linkerd`
/// namespace's credentials Secrets labelled with the cluster, then every Service labelled as a
/// mirror of the link, in every namespace. Nothing when the Link is gone already.
fn unlink(store: &dyn ObjectView, link: &str) -> Vec<Request> {
    let Some(spec) = store
        .get(&ObjectKey::new(Kind::Link, MC_NAMESPACE, link))
        .and_then(|o| o.as_link())
        .map(|l| l.spec.clone())
    else {
        return Vec::new();
    };
    let target = if spec.target_cluster_name.is_empty() {
        link.to_string()
    } else {
        spec.target_cluster_name.clone()
    };
    let mut out = vec![
        Request::delete(ObjectKey::new(Kind::Link, MC_NAMESPACE, link)),
        Request::delete(ObjectKey::new(
            Kind::Secret,
            MC_NAMESPACE,
            &spec.cluster_credentials_secret,
        )),
    ];
    let probe = ObjectKey::new(Kind::Service, MC_NAMESPACE, &format!("probe-{link}"));
    if store.get(&probe).is_some() {
        out.push(Request::delete(probe));
    }
    // The destination controller's credentials for the cluster (remote discovery).
    for secret in store.list(Kind::Secret, Some(LINKERD_NAMESPACE)) {
        if secret.meta().labels.get(LABEL_CREDENTIALS_CLUSTER) == Some(&target) {
            out.push(Request::delete(secret.key()));
        }
    }
    for svc in store.list(Kind::Service, None) {
        let l = &svc.meta().labels;
        if l.get(LABEL_MIRRORED_SERVICE).map(String::as_str) == Some("true")
            && l.get(LABEL_CLUSTER_NAME) == Some(&target)
        {
            out.push(Request::delete(svc.key()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::k8s::objects::{Link, Service};
    use crate::k8s::store::Store;

    fn store(objects: Vec<Object>) -> Store {
        let mut s = Store::default();
        for o in objects {
            s.insert(std::sync::Arc::new(o));
        }
        s
    }

    fn described(requests: &[Request]) -> Vec<String> {
        requests.iter().map(Request::describe).collect()
    }

    fn service(name: &str, labels: &[(&str, &str)]) -> Object {
        let mut s = Service::new("default", name);
        for (k, v) in labels {
            s.metadata.labels.insert(k.to_string(), v.to_string());
        }
        s.into()
    }

    #[test]
    fn export_and_unexport_edit_the_export_label_of_the_service() {
        let s = store(vec![service("web", &[])]);
        let export = ActionKind::Export {
            service: "web".into(),
        };
        let [Request::Update { object }] = &requests(&export, "default", &s, &[])[..] else {
            panic!("one update expected");
        };
        assert_eq!(
            object.labels().get(LABEL_EXPORTED).map(String::as_str),
            Some("true")
        );
        let s = store(vec![service("web", &[(LABEL_EXPORTED, "true")])]);
        let unexport = ActionKind::Unexport {
            service: "web".into(),
        };
        let [Request::Update { object }] = &requests(&unexport, "default", &s, &[])[..] else {
            panic!("one update expected");
        };
        assert!(!object.labels().contains_key(LABEL_EXPORTED));
    }

    #[test]
    fn an_edit_of_a_missing_object_sends_nothing() {
        let s = store(Vec::new());
        for kind in [
            ActionKind::Export {
                service: "web".into(),
            },
            ActionKind::Scale {
                workload: "web".into(),
                replicas: 2,
            },
            ActionKind::LinkSelector {
                link: "east".into(),
                selector: "a=b".into(),
            },
            ActionKind::Unlink {
                link: "east".into(),
            },
        ] {
            assert!(requests(&kind, "default", &s, &[]).is_empty(), "{kind:?}");
        }
    }

    /// `unlink`: the Link first, then its Secrets, its probe Service and its mirrors; a Service
    /// labelled for another link stays.
    #[test]
    fn unlink_deletes_the_link_then_its_secrets_probe_and_mirrors() {
        let mut link = Link {
            metadata: crate::k8s::objects::ObjectMeta::named(MC_NAMESPACE, "east"),
            ..Link::default()
        };
        link.spec.target_cluster_name = "east".into();
        link.spec.cluster_credentials_secret = "cluster-credentials-east".into();
        let mut probe = Service::new(MC_NAMESPACE, "probe-east");
        probe
            .metadata
            .labels
            .insert("mirror.linkerd.io/mirrored-gateway".into(), "true".into());
        let s = store(vec![
            link.into(),
            probe.into(),
            service(
                "web-east",
                &[
                    (LABEL_MIRRORED_SERVICE, "true"),
                    (LABEL_CLUSTER_NAME, "east"),
                ],
            ),
            service(
                "web-north",
                &[
                    (LABEL_MIRRORED_SERVICE, "true"),
                    (LABEL_CLUSTER_NAME, "north"),
                ],
            ),
        ]);
        let unlink = ActionKind::Unlink {
            link: "east".into(),
        };
        assert_eq!(
            described(&requests(&unlink, "default", &s, &[])),
            [
                "delete Link linkerd-multicluster/east",
                "delete Secret linkerd-multicluster/cluster-credentials-east",
                "delete Service linkerd-multicluster/probe-east",
                "delete Service default/web-east",
            ]
        );
    }
}
