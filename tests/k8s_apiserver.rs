//! API server semantics through the public API: optimistic concurrency, admission, validation,
//! allocation, generateName, finalizers, and watches (resume, 410, selector transitions).

use mcsim::k8s::api::{
    DeleteOptions, Propagation, Request, Response, StatusReason, Subresource, WatchEvent, WatchId,
    WatchRequest,
};
use mcsim::k8s::apiserver::{ApiServer, ApiServerConfig, FINALIZER_KUBERNETES};
use mcsim::k8s::informer::{
    DeletedObject, Delta, Informer, InformerConfig, InformerEffect, InformerInput,
};
use mcsim::k8s::objects::{
    Kind, Namespace, NamespacePhase, Object, ObjectKey, Secret, Service, ServicePort,
};
use mcsim::k8s::selector::LabelSelector;
use mcsim::k8s::store::ObjectView;
use mcsim::k8s::validation::Ipv4Cidr;
use mcsim::sim::{Prng, SimDuration, SimTime};
use std::sync::Arc;

const T0: SimTime = SimTime::ZERO;

fn server(cidr: &str) -> (ApiServer, Prng) {
    let mut rng = Prng::stream(7, "apiserver-test");
    let api = ApiServer::new(
        ApiServerConfig::new(Ipv4Cidr::parse(cidr).unwrap()),
        &mut rng,
    );
    (api, rng)
}

fn svc(ns: &str, name: &str) -> Service {
    let mut s = Service::new(ns, name);
    s.spec.ports.push(ServicePort::tcp("http", 80));
    s
}

fn obj(r: Result<Response, mcsim::k8s::Status>) -> Arc<Object> {
    r.expect("request should succeed")
        .object()
        .expect("an object")
        .clone()
}

fn key(kind: Kind, ns: &str, name: &str) -> ObjectKey {
    ObjectKey::new(kind, ns, name)
}

#[test]
fn stale_resource_version_conflicts_and_empty_one_overwrites() {
    let (mut api, mut rng) = server("10.96.0.0/16");
    let v1 = obj(api.handle(T0, &mut rng, Request::create(svc("default", "web"))));
    let mut a = v1.as_service().unwrap().clone();
    a.metadata.labels.insert("a".into(), "1".into());
    let v2 = obj(api.handle(T0, &mut rng, Request::update(a)));
    assert_ne!(v2.meta().resource_version, v1.meta().resource_version);

    // A writer still holding v1 loses.
    let mut b = v1.as_service().unwrap().clone();
    b.metadata.labels.insert("b".into(), "1".into());
    let err = api
        .handle(T0, &mut rng, Request::update(b.clone()))
        .unwrap_err();
    assert_eq!((err.code, err.reason), (409, StatusReason::Conflict));
    assert_eq!(
        err.message,
        "Operation cannot be fulfilled on services \"web\": the object has been modified; please apply your changes to the latest version and try again"
    );
    // Without a resourceVersion the update is unconditional.
    b.metadata.resource_version.clear();
    let v3 = obj(api.handle(T0, &mut rng, Request::update(b)));
    assert!(v3.labels().contains_key("b"));
    assert!(
        !v3.labels().contains_key("a"),
        "unconditional update replaces the labels"
    );
}

#[test]
fn already_exists_not_found_and_terminating_names() {
    let (mut api, mut rng) = server("10.96.0.0/16");
    api.handle(T0, &mut rng, Request::create(svc("default", "web")))
        .unwrap();
    let err = api
        .handle(T0, &mut rng, Request::create(svc("default", "web")))
        .unwrap_err();
    assert_eq!((err.code, err.reason), (409, StatusReason::AlreadyExists));
    assert_eq!(err.message, "services \"web\" already exists");
    let err = api
        .handle(T0, &mut rng, Request::get(Kind::Service, "default", "nope"))
        .unwrap_err();
    assert_eq!(
        (err.code, err.message.as_str()),
        (404, "services \"nope\" not found")
    );
    let err = api
        .handle(T0, &mut rng, Request::update(svc("default", "nope")))
        .unwrap_err();
    assert_eq!(err.code, 404);
    let err = api
        .handle(
            T0,
            &mut rng,
            Request::delete(key(Kind::Service, "default", "nope")),
        )
        .unwrap_err();
    assert_eq!(err.code, 404);

    // A name held by an object with a pending finalizer is still taken.
    let mut s = svc("default", "held");
    s.metadata.finalizers.push("example.com/hold".into());
    api.handle(T0, &mut rng, Request::create(s)).unwrap();
    let r = api
        .handle(
            T0,
            &mut rng,
            Request::delete(key(Kind::Service, "default", "held")),
        )
        .unwrap();
    assert!(matches!(r, Response::Object(_)), "marked, not removed");
    let err = api
        .handle(T0, &mut rng, Request::create(svc("default", "held")))
        .unwrap_err();
    assert_eq!(err.reason, StatusReason::AlreadyExists);
    assert!(
        err.message.starts_with("object is being deleted: "),
        "{}",
        err.message
    );
}

#[test]
fn finalizers_give_two_phase_deletion_and_no_new_finalizers_after_marking() {
    let (mut api, mut rng) = server("10.96.0.0/16");
    let mut s = Secret::default();
    s.metadata.namespace = "default".into();
    s.metadata.name = "creds".into();
    s.metadata.finalizers.push("example.com/a".into());
    s.string_data.insert("kubeconfig".into(), "x".into());
    let created = obj(api.handle(T0, &mut rng, Request::create(s)));
    let secret = created.as_secret().unwrap();
    assert_eq!(
        secret.data["kubeconfig"], "eA==",
        "stringData folded into base64 data"
    );
    assert!(secret.string_data.is_empty());
    assert_eq!(secret.decoded("kubeconfig").unwrap(), b"x");

    let watch = WatchRequest::all(Kind::Secret);
    api.open_watch(
        T0,
        WatchId(1),
        WatchRequest {
            resource_version: Some(api.revision()),
            ..watch
        },
    )
    .unwrap();
    let t1 = T0 + SimDuration::from_secs(5);
    let marked = obj(api.handle(
        t1,
        &mut rng,
        Request::delete(key(Kind::Secret, "default", "creds")),
    ));
    assert_eq!(
        marked.meta().deletion_timestamp.as_deref(),
        Some("2026-01-01T00:00:05Z")
    );

    let mut more = marked.as_secret().unwrap().clone();
    more.metadata.finalizers.push("example.com/b".into());
    let err = api.handle(t1, &mut rng, Request::update(more)).unwrap_err();
    assert_eq!((err.code, err.reason), (422, StatusReason::Invalid));
    assert!(
        err.message
            .contains("no new finalizers can be added if the object is being deleted"),
        "{}",
        err.message
    );

    let mut done = marked.as_secret().unwrap().clone();
    done.metadata.finalizers.clear();
    let r = api.handle(t1, &mut rng, Request::update(done)).unwrap();
    assert!(matches!(r, Response::Deleted(_)));
    assert!(
        api.get_obj(&key(Kind::Secret, "default", "creds"))
            .is_none()
    );
    let events: Vec<WatchEvent> = api
        .take_watch_events()
        .into_iter()
        .map(|(_, e)| e)
        .collect();
    assert!(matches!(&events[0], WatchEvent::Modified(o) if o.meta().deletion_timestamp.is_some()));
    assert!(
        matches!(&events[1], WatchEvent::Deleted(o) if o.meta().resource_version == api.revision().to_string())
    );
    assert_eq!(events.len(), 2);
}

/// Small helper so tests read naturally.
trait GetObj {
    fn get_obj(&self, key: &ObjectKey) -> Option<Arc<Object>>;
}
impl GetObj for ApiServer {
    fn get_obj(&self, key: &ObjectKey) -> Option<Arc<Object>> {
        use mcsim::k8s::ObjectView;
        self.get(key).cloned()
    }
}

#[test]
fn cluster_ip_is_immutable_but_may_be_omitted_on_update() {
    let (mut api, mut rng) = server("10.96.0.0/16");
    let created = obj(api.handle(T0, &mut rng, Request::create(svc("default", "web"))));
    let ip = created.as_service().unwrap().spec.cluster_ip.clone();
    // Omitted clusterIP is copied from the stored object.
    let mut resend = svc("default", "web");
    resend.metadata.labels.insert("v".into(), "2".into());
    let updated = obj(api.handle(T0, &mut rng, Request::update(resend)));
    assert_eq!(updated.as_service().unwrap().spec.cluster_ip, ip);
    assert_eq!(
        updated.as_service().unwrap().spec.cluster_ips,
        vec![ip.clone()]
    );
    // Turning it headless is rejected.
    let mut headless = svc("default", "web");
    headless.spec.cluster_ip = "None".into();
    let err = api
        .handle(T0, &mut rng, Request::update(headless))
        .unwrap_err();
    assert_eq!((err.code, err.reason), (422, StatusReason::Invalid));
    assert_eq!(
        err.message,
        "Service \"web\" is invalid: spec.clusterIP: Invalid value: \"None\": field is immutable"
    );
}

#[test]
fn service_validation_rejects_bad_ports_names_and_headless_types() {
    let (mut api, mut rng) = server("10.96.0.0/16");
    let mut s = svc("default", "web");
    s.spec.ports.push(ServicePort::tcp("http", 80));
    let err = api.handle(T0, &mut rng, Request::create(s)).unwrap_err();
    assert_eq!(err.code, 422);
    assert!(
        err.message
            .contains("spec.ports[1].name: Duplicate value: \"http\""),
        "{}",
        err.message
    );
    assert!(
        err.message
            .contains("spec.ports[1]: Duplicate value: \"80/TCP\""),
        "{}",
        err.message
    );

    let mut s = svc("default", "web");
    s.spec.ports.push(ServicePort::tcp("", 81));
    let err = api.handle(T0, &mut rng, Request::create(s)).unwrap_err();
    assert!(
        err.message.contains("spec.ports[1].name: Required value"),
        "{}",
        err.message
    );

    let err = api
        .handle(T0, &mut rng, Request::create(svc("default", "Web_1")))
        .unwrap_err();
    assert!(
        err.message
            .contains("metadata.name: Invalid value: \"Web_1\": a DNS-1035 label"),
        "{}",
        err.message
    );

    let mut s = svc("default", "lb");
    s.spec.cluster_ip = "None".into();
    s.spec.type_ = mcsim::k8s::objects::ServiceType::LoadBalancer;
    let err = api.handle(T0, &mut rng, Request::create(s)).unwrap_err();
    assert!(
        err.message
            .contains("may not be set to 'None' for LoadBalancer services"),
        "{}",
        err.message
    );
    // Nothing leaked from failed creates.
    assert_eq!(api.cluster_ips_allocated(), 0);
}

#[test]
fn cluster_ips_exhaust_and_are_released_on_delete() {
    // A /29 has 6 usable addresses.
    let (mut api, mut rng) = server("10.0.0.0/29");
    let mut ips = vec![];
    for i in 0..6 {
        let o = obj(api.handle(
            T0,
            &mut rng,
            Request::create(svc("default", &format!("s{i}"))),
        ));
        ips.push(o.as_service().unwrap().spec.cluster_ip.clone());
    }
    assert_eq!(
        ips,
        [
            "10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"
        ]
    );
    let err = api
        .handle(T0, &mut rng, Request::create(svc("default", "full")))
        .unwrap_err();
    assert_eq!((err.code, err.reason), (500, StatusReason::InternalError));
    assert_eq!(
        err.message,
        "Internal error occurred: failed to allocate a serviceIP: range is full"
    );
    // Headless services need no IP.
    let mut h = svc("default", "headless");
    h.spec.cluster_ip = "None".into();
    api.handle(T0, &mut rng, Request::create(h)).unwrap();
    // Static requests: in use, out of range.
    api.handle(
        T0,
        &mut rng,
        Request::delete(key(Kind::Service, "default", "s2")),
    )
    .unwrap();
    let mut taken = svc("default", "taken");
    taken.spec.cluster_ip = "10.0.0.4".into();
    let err = api
        .handle(T0, &mut rng, Request::create(taken))
        .unwrap_err();
    assert!(
        err.message.contains("provided IP is already allocated"),
        "{}",
        err.message
    );
    let mut outside = svc("default", "outside");
    outside.spec.cluster_ip = "10.1.0.4".into();
    let err = api
        .handle(T0, &mut rng, Request::create(outside))
        .unwrap_err();
    assert!(
        err.message
            .contains("is not in the valid range. The range of valid IPs is 10.0.0.0/29"),
        "{}",
        err.message
    );
    let mut fits = svc("default", "fits");
    fits.spec.cluster_ip = "10.0.0.3".into();
    let o = obj(api.handle(T0, &mut rng, Request::create(fits)));
    assert_eq!(
        o.as_service().unwrap().spec.cluster_ip,
        "10.0.0.3",
        "released by the delete"
    );
}

#[test]
fn generate_name_uses_the_seeded_rng_and_the_no_vowel_alphabet() {
    let run = || {
        let (mut api, mut rng) = server("10.96.0.0/16");
        let mut names = vec![];
        for _ in 0..50 {
            let mut s = svc("default", "");
            s.metadata.generate_name = "web-".into();
            names.push(
                obj(api.handle(T0, &mut rng, Request::create(s)))
                    .name()
                    .to_string(),
            );
        }
        names
    };
    let names = run();
    assert_eq!(names, run(), "same seed, same names");
    for n in &names {
        let suffix = n.strip_prefix("web-").unwrap();
        assert_eq!(suffix.len(), 5);
        assert!(
            suffix
                .chars()
                .all(|c| "bcdfghjklmnpqrstvwxz2456789".contains(c)),
            "{n}"
        );
    }
    let mut sorted = names.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), names.len());
}

#[test]
fn namespace_lifecycle_admission() {
    let (mut api, mut rng) = server("10.96.0.0/16");
    let err = api
        .handle(T0, &mut rng, Request::create(svc("nowhere", "web")))
        .unwrap_err();
    assert_eq!(
        (err.code, err.message.as_str()),
        (404, "namespaces \"nowhere\" not found")
    );
    for ns in ["default", "kube-system", "kube-public"] {
        let err = api
            .handle(T0, &mut rng, Request::delete(key(Kind::Namespace, "", ns)))
            .unwrap_err();
        assert_eq!((err.code, err.reason), (403, StatusReason::Forbidden));
    }
    api.handle(T0, &mut rng, Request::create(Namespace::new("prod")))
        .unwrap();
    let ns = obj(api.handle(
        T0,
        &mut rng,
        Request::delete(key(Kind::Namespace, "", "prod")),
    ));
    let ns = ns.as_namespace().unwrap();
    assert_eq!(ns.phase(), NamespacePhase::Terminating);
    assert_eq!(ns.spec.finalizers, vec![FINALIZER_KUBERNETES.to_string()]);
    let err = api
        .handle(T0, &mut rng, Request::create(svc("prod", "web")))
        .unwrap_err();
    assert_eq!((err.code, err.reason), (403, StatusReason::Forbidden));
    assert_eq!(
        err.message,
        "services \"web\" is forbidden: unable to create new content in namespace prod because it is being terminated"
    );
}

#[test]
fn generation_tracks_spec_changes_only() {
    let (mut api, mut rng) = server("10.96.0.0/16");
    let link: Object = mcsim::k8s::manifest::load(
        "apiVersion: multicluster.linkerd.io/v1alpha3\nkind: Link\nmetadata: {name: east, namespace: default}\nspec: {targetClusterName: east}\n",
    )
    .unwrap()
    .remove(0);
    let v1 = obj(api.handle(T0, &mut rng, Request::create(link)));
    assert_eq!(v1.meta().generation, 1);
    assert_eq!(
        v1.as_link().unwrap().spec.probe_spec.timeout,
        "30s",
        "CRD default applied"
    );
    // Status patch: no generation bump.
    let patch = serde_json::json!({"status": {"mirrorServices": [{"controllerName": "linkerd.io/service-mirror",
        "remoteRef": {"group": "", "kind": "Service", "name": "web", "namespace": "default"}}]}});
    let v2 = obj(api.handle(
        T0,
        &mut rng,
        Request::Patch {
            key: v1.key(),
            subresource: Subresource::Status,
            patch,
        },
    ));
    assert_eq!(v2.meta().generation, 1);
    assert_eq!(v2.as_link().unwrap().status.mirror_services.len(), 1);
    // Spec patch: bump.
    let patch = serde_json::json!({"spec": {"gatewayAddress": "1.2.3.4"}});
    let v3 = obj(api.handle(
        T0,
        &mut rng,
        Request::Patch {
            key: v1.key(),
            subresource: Subresource::Main,
            patch,
        },
    ));
    assert_eq!(v3.meta().generation, 2);
    assert_eq!(
        v3.as_link().unwrap().status.mirror_services.len(),
        1,
        "spec writes keep the status"
    );
    // A spec update through the main resource ignores a status in the body.
    let mut l = v3.as_link().unwrap().clone();
    l.status.mirror_services.clear();
    let v4 = obj(api.handle(T0, &mut rng, Request::update(l)));
    assert_eq!(
        v4.meta().resource_version,
        v3.meta().resource_version,
        "no-op: status ignored"
    );
}

fn events(api: &mut ApiServer, id: u64) -> Vec<WatchEvent> {
    api.take_watch_events()
        .into_iter()
        .filter(|(w, _)| w.0 == id)
        .map(|(_, e)| e)
        .collect()
}

fn names(events: &[WatchEvent]) -> Vec<String> {
    events
        .iter()
        .map(|e| match e {
            WatchEvent::Added(o) => format!("ADDED {}", o.name()),
            WatchEvent::Modified(o) => format!("MODIFIED {}", o.name()),
            WatchEvent::Deleted(o) => format!("DELETED {}", o.name()),
            WatchEvent::Bookmark(rv) => format!("BOOKMARK {rv}"),
            WatchEvent::Error(s) => format!("ERROR {}", s.code),
        })
        .collect()
}

#[test]
fn watch_resumes_from_a_revision_without_loss_or_duplication() {
    let (mut api, mut rng) = server("10.96.0.0/16");
    api.handle(T0, &mut rng, Request::create(svc("default", "a")))
        .unwrap();
    let initial = api
        .open_watch(T0, WatchId(1), WatchRequest::all(Kind::Service))
        .unwrap();
    assert_eq!(names(&initial), ["ADDED a"]);
    api.handle(T0, &mut rng, Request::create(svc("default", "b")))
        .unwrap();
    let seen = events(&mut api, 1);
    let resume_rv = seen.last().and_then(WatchEvent::resource_version).unwrap();
    // The client disconnects; meanwhile three changes happen.
    api.close_watch(WatchId(1));
    api.handle(T0, &mut rng, Request::create(svc("default", "c")))
        .unwrap();
    api.handle(
        T0,
        &mut rng,
        Request::delete(key(Kind::Service, "default", "a")),
    )
    .unwrap();
    api.handle(T0, &mut rng, Request::create(Namespace::new("other")))
        .unwrap();
    let replay = api
        .open_watch(
            T0,
            WatchId(2),
            WatchRequest {
                resource_version: Some(resume_rv),
                ..WatchRequest::all(Kind::Service)
            },
        )
        .unwrap();
    assert_eq!(
        names(&replay),
        ["ADDED c", "DELETED a"],
        "exactly the changes after the RV, once each"
    );
    api.handle(T0, &mut rng, Request::create(svc("default", "d")))
        .unwrap();
    assert_eq!(names(&events(&mut api, 2)), ["ADDED d"]);
    // A future revision is refused.
    let err = api
        .open_watch(
            T0,
            WatchId(3),
            WatchRequest {
                resource_version: Some(10_000),
                ..WatchRequest::all(Kind::Service)
            },
        )
        .unwrap_err();
    assert_eq!(err.code, 504);
}

#[test]
fn label_selector_watches_see_entering_and_leaving_as_added_and_deleted() {
    let (mut api, mut rng) = server("10.96.0.0/16");
    let req = WatchRequest {
        selector: Some(LabelSelector::parse("mirror.linkerd.io/exported=true").unwrap()),
        ..WatchRequest::all(Kind::Service)
    };
    api.open_watch(T0, WatchId(1), req).unwrap();
    let v1 = obj(api.handle(T0, &mut rng, Request::create(svc("default", "web"))));
    let mut s = v1.as_service().unwrap().clone();
    s.metadata
        .labels
        .insert("mirror.linkerd.io/exported".into(), "true".into());
    let v2 = obj(api.handle(T0, &mut rng, Request::update(s)));
    let mut s = v2.as_service().unwrap().clone();
    s.metadata.labels.insert("x".into(), "y".into());
    let v3 = obj(api.handle(T0, &mut rng, Request::update(s)));
    let mut s = v3.as_service().unwrap().clone();
    s.metadata.labels.clear();
    let v4 = obj(api.handle(T0, &mut rng, Request::update(s)));
    let evs = events(&mut api, 1);
    assert_eq!(names(&evs), ["ADDED web", "MODIFIED web", "DELETED web"]);
    // The DELETED carries the last selected state at the new revision.
    match &evs[2] {
        WatchEvent::Deleted(o) => {
            assert!(o.labels().contains_key("mirror.linkerd.io/exported"));
            assert_eq!(o.meta().resource_version, v4.meta().resource_version);
        }
        other => panic!("expected DELETED, got {other:?}"),
    }
}

#[test]
fn server_side_watch_timeout_closes_old_watches_only() {
    let (mut api, _rng) = server("10.96.0.0/16");
    api.open_watch(T0, WatchId(1), WatchRequest::all(Kind::Service))
        .unwrap();
    let later = T0 + SimDuration::from_secs(100);
    api.open_watch(later, WatchId(2), WatchRequest::all(Kind::Service))
        .unwrap();
    assert_eq!(
        api.next_watch_expiry(),
        Some(T0 + SimDuration::from_secs(290))
    );
    assert!(
        api.expire_watches(T0 + SimDuration::from_secs(289))
            .is_empty()
    );
    assert_eq!(
        api.expire_watches(T0 + SimDuration::from_secs(290)),
        [WatchId(1)]
    );
    assert_eq!(api.open_watches().collect::<Vec<_>>(), [WatchId(2)]);
}

#[test]
fn history_window_expires_old_revisions() {
    let (mut api, mut rng) = server("10.96.0.0/16");
    api.handle(T0, &mut rng, Request::create(svc("default", "a")))
        .unwrap();
    let old_rv = api.revision();
    let much_later = T0 + SimDuration::from_mins(6);
    api.handle(much_later, &mut rng, Request::create(svc("default", "b")))
        .unwrap();
    let err = api
        .open_watch(
            much_later,
            WatchId(1),
            WatchRequest {
                resource_version: Some(old_rv - 1),
                ..WatchRequest::all(Kind::Service)
            },
        )
        .unwrap_err();
    assert_eq!((err.code, err.reason), (410, StatusReason::Expired));
    assert!(
        err.message.starts_with("too old resource version"),
        "{}",
        err.message
    );
}

/// Drives an informer against the API server synchronously (what a kernel component does).
struct Client {
    inf: Informer,
    rng: Prng,
    deltas: Vec<Delta>,
    watch: Option<(u64, WatchId)>,
    timers: Vec<mcsim::k8s::informer::InformerTimer>,
    next_watch_id: u64,
}

impl Client {
    fn new(kind: Kind) -> Client {
        Client {
            inf: Informer::new(InformerConfig::new(kind)),
            rng: Prng::stream(1, "client"),
            deltas: vec![],
            watch: None,
            timers: vec![],
            next_watch_id: 100,
        }
    }
    fn feed(&mut self, api: &mut ApiServer, now: SimTime, input: InformerInput) {
        let mut queue = vec![input];
        while let Some(input) = queue.pop() {
            for effect in self.inf.handle(now, &mut self.rng, input) {
                match effect {
                    InformerEffect::SendList(l) => {
                        let result = match api.handle(now, &mut self.rng, l.to_request()) {
                            Ok(Response::List {
                                items,
                                resource_version,
                            }) => Ok((items, resource_version)),
                            Ok(other) => panic!("unexpected {other:?}"),
                            Err(e) => Err(e),
                        };
                        queue.insert(0, InformerInput::ListResult { list: l.id, result });
                    }
                    InformerEffect::OpenWatch { watch, request } => {
                        self.next_watch_id += 1;
                        let id = WatchId(self.next_watch_id);
                        let result = api.open_watch(now, id, request);
                        if result.is_ok() {
                            self.watch = Some((watch, id));
                        }
                        queue.insert(0, InformerInput::WatchOpened { watch, result });
                    }
                    InformerEffect::CancelWatch { .. } => {}
                    InformerEffect::SetTimer { timer, .. } => self.timers.push(timer),
                    InformerEffect::Deliver(d) => self.deltas.push(d),
                }
            }
        }
    }
    /// Delivers pending watch events from the server.
    fn pump(&mut self, api: &mut ApiServer, now: SimTime) {
        let Some((watch, id)) = self.watch else {
            return;
        };
        for (w, event) in api.take_watch_events() {
            if w == id {
                self.feed(api, now, InformerInput::WatchEvent { watch, event });
            }
        }
    }
    fn fire_timers(&mut self, api: &mut ApiServer, now: SimTime) {
        for t in std::mem::take(&mut self.timers) {
            self.feed(api, now, InformerInput::Timer(t));
        }
    }
}

#[test]
fn gone_after_compaction_then_relist_with_tombstones() {
    let (mut api, mut rng) = server("10.96.0.0/16");
    for n in ["a", "b"] {
        api.handle(T0, &mut rng, Request::create(svc("default", n)))
            .unwrap();
    }
    let mut c = Client::new(Kind::Service);
    c.feed(&mut api, T0, InformerInput::Start);
    assert!(c.inf.has_synced());
    assert_eq!(c.inf.list(None).len(), 2);
    c.deltas.clear();

    // "b" is deleted and the history compacted while the client is not looking: its watch gets
    // an in-stream 410 and the informer relists after backoff.
    let (_, wid) = c.watch.unwrap();
    api.close_watch(wid); // connection drop: the delete event is lost to this client
    api.handle(
        T0,
        &mut rng,
        Request::delete(key(Kind::Service, "default", "b")),
    )
    .unwrap();
    api.handle(T0, &mut rng, Request::create(svc("default", "c")))
        .unwrap();
    let (watch, _) = c.watch.unwrap();
    let now = T0 + SimDuration::from_secs(10);
    c.feed(&mut api, now, InformerInput::WatchClosed { watch });
    // The rewatch from the old RV works (history intact); now force a compaction.
    let closed = api.compact();
    assert_eq!(closed.len(), 1);
    c.pump(&mut api, now);
    assert!(
        c.deltas
            .iter()
            .any(|d| matches!(d, Delta::Deleted(DeletedObject::Final(o)) if o.name() == "b"))
    );
    assert!(
        c.deltas
            .iter()
            .any(|d| matches!(d, Delta::Added(o) if o.name() == "c"))
    );
    c.deltas.clear();

    // After the 410, the retry timer relists (consistent read) and rewatches.
    api.handle(
        now,
        &mut rng,
        Request::delete(key(Kind::Service, "default", "a")),
    )
    .unwrap();
    c.fire_timers(&mut api, now + SimDuration::from_secs(2));
    assert_eq!(
        c.inf
            .list(None)
            .iter()
            .map(|o| o.name())
            .collect::<Vec<_>>(),
        ["c"]
    );
    assert!(
        c.deltas
            .iter()
            .any(|d| matches!(d, Delta::Deleted(DeletedObject::Tombstone(t)) if t.key.name == "a")),
        "{:?}",
        c.deltas
    );
    assert_eq!(c.inf.last_resource_version(), api.revision());
    // Later changes flow again.
    api.handle(now, &mut rng, Request::create(svc("default", "d")))
        .unwrap();
    c.pump(&mut api, now);
    assert!(c.inf.get("default", "d").is_some());
}

#[test]
fn watch_from_a_compacted_revision_is_gone_as_a_request_error() {
    let (mut api, mut rng) = server("10.96.0.0/16");
    api.handle(T0, &mut rng, Request::create(svc("default", "a")))
        .unwrap();
    let rv = api.revision();
    api.handle(T0, &mut rng, Request::create(svc("default", "b")))
        .unwrap();
    api.compact();
    let err = api
        .open_watch(
            T0,
            WatchId(9),
            WatchRequest {
                resource_version: Some(rv),
                ..WatchRequest::all(Kind::Service)
            },
        )
        .unwrap_err();
    assert!(err.is_gone());
    // From the current revision it works.
    api.open_watch(
        T0,
        WatchId(9),
        WatchRequest {
            resource_version: Some(api.revision()),
            ..WatchRequest::all(Kind::Service)
        },
    )
    .unwrap();
}

#[test]
fn foreground_and_orphan_deletes_set_their_finalizers() {
    let (mut api, mut rng) = server("10.96.0.0/16");
    for (name, p) in [("fg", Propagation::Foreground), ("or", Propagation::Orphan)] {
        api.handle(T0, &mut rng, Request::create(svc("default", name)))
            .unwrap();
        let o = obj(api.handle(
            T0,
            &mut rng,
            Request::Delete {
                key: key(Kind::Service, "default", name),
                options: DeleteOptions {
                    propagation_policy: p,
                    ..Default::default()
                },
            },
        ));
        assert!(o.meta().deletion_timestamp.is_some());
        assert_eq!(o.meta().finalizers.len(), 1, "{name}");
    }
}

/// Random request sequences (odd names, stale and garbage RVs, hostile patches, propagation
/// modes, watches) never panic, and the revision never goes backwards.
#[test]
fn random_requests_never_panic_and_revisions_only_grow() {
    let mut pick = Prng::stream(99, "random-requests");
    let (mut api, mut rng) = server("10.0.0.0/28");
    let names = [
        "a",
        "b",
        "Bad_Name",
        "",
        "a-very-long-name-that-is-still-fine",
        "c.d",
    ];
    let nss = ["default", "prod", "gone", ""];
    let patches = [
        serde_json::json!({"spec": {"clusterIP": "None"}}),
        serde_json::json!({"metadata": {"resourceVersion": "1"}}),
        serde_json::json!({"metadata": {"name": "other"}}),
        serde_json::json!({"spec": {"ports": "x"}}),
        serde_json::json!(null),
        serde_json::json!({"metadata": {"finalizers": ["x/y"]}}),
        serde_json::json!({"status": {"phase": "Terminating"}}),
    ];
    let mut last_rv = api.revision();
    for step in 0..3000u64 {
        let now = SimTime::ZERO + SimDuration::from_secs(step);
        let name = *pick.pick(&names).unwrap();
        let ns = *pick.pick(&nss).unwrap();
        let kind = *pick.pick(&Kind::ALL).unwrap();
        let key = ObjectKey::new(kind, ns, name);
        let req = match pick.below(9) {
            0 => Request::create(Namespace::new(if ns.is_empty() { name } else { ns })),
            1 => {
                let mut s = svc(ns, name);
                if pick.chance(mcsim::sim::Ratio::new(1, 3)) {
                    s.spec.cluster_ip =
                        ["None", "10.0.0.3", "10.9.9.9", "nonsense"][pick.below(4) as usize].into();
                }
                if pick.chance(mcsim::sim::Ratio::new(1, 4)) {
                    s.metadata.generate_name = "g-".into();
                    s.metadata.name.clear();
                }
                if pick.chance(mcsim::sim::Ratio::new(1, 4)) {
                    s.metadata.finalizers.push("x/y".into());
                }
                Request::create(s)
            }
            2 => {
                let mut s = svc(ns, name);
                s.metadata.resource_version =
                    ["", "1", "999999", "abc"][pick.below(4) as usize].into();
                Request::update(s)
            }
            3 => Request::update_status(svc(ns, name)),
            4 => Request::Patch {
                key,
                subresource: if pick.chance(mcsim::sim::Ratio::new(1, 2)) {
                    Subresource::Main
                } else {
                    Subresource::Status
                },
                patch: pick.pick(&patches).unwrap().clone(),
            },
            5 => Request::Delete {
                key,
                options: DeleteOptions {
                    propagation_policy: [
                        Propagation::Background,
                        Propagation::Foreground,
                        Propagation::Orphan,
                    ][pick.below(3) as usize],
                    grace_period_seconds: [None, Some(0), Some(-5), Some(i64::MAX)]
                        [pick.below(4) as usize],
                    precondition_uid: None,
                },
            },
            6 => Request::List {
                kind,
                namespace: Some(ns.to_string()),
                selector: None,
            },
            7 => {
                let rv = [None, Some(0), Some(1), Some(u64::MAX)][pick.below(4) as usize];
                let id = WatchId(pick.below(4));
                let _ = api.open_watch(
                    now,
                    id,
                    WatchRequest {
                        resource_version: rv,
                        ..WatchRequest::all(kind)
                    },
                );
                if pick.chance(mcsim::sim::Ratio::new(1, 20)) {
                    api.compact();
                }
                api.expire_watches(now);
                Request::Version
            }
            _ => {
                // Strip finalizers from whatever is there.
                match api.get_obj(&key) {
                    Some(o) => {
                        let mut o = (*o).clone();
                        o.meta_mut().finalizers.clear();
                        Request::Update { object: o }
                    }
                    None => Request::Get { key },
                }
            }
        };
        let _ = api.handle(now, &mut rng, req);
        api.take_watch_events();
        assert!(api.revision() >= last_rv, "revision went backwards");
        last_rv = api.revision();
    }
    assert!(api.revision() > 10, "the sequence made progress");
}

/// The merge patch the service mirror used to send: the Link's whole list with the entries of
/// `ns/name` given `cond` (or appended), or without them.
fn link_status_merge_patch(
    link: &mcsim::k8s::objects::Link,
    federated: bool,
    ns: &str,
    name: &str,
    cond: Option<&mcsim::k8s::objects::LinkCondition>,
) -> serde_json::Value {
    use mcsim::k8s::objects::{LinkServiceStatus, TypedRef};
    let current = if federated {
        &link.status.federated_services
    } else {
        &link.status.mirror_services
    };
    let is_entry =
        |s: &LinkServiceStatus| s.remote_ref.name == name && s.remote_ref.namespace == ns;
    let mut list: Vec<LinkServiceStatus> = Vec::new();
    let mut found = false;
    for s in current.iter() {
        if !is_entry(s) {
            list.push(s.clone());
        } else if let Some(c) = cond {
            found = true;
            list.push(LinkServiceStatus {
                conditions: vec![c.clone()],
                ..s.clone()
            });
        }
    }
    if let (Some(c), false) = (cond, found) {
        list.push(LinkServiceStatus {
            controller_name: "linkerd.io/service-mirror".to_string(),
            remote_ref: TypedRef {
                group: String::new(),
                kind: "Service".to_string(),
                name: name.to_string(),
                namespace: ns.to_string(),
            },
            conditions: vec![c.clone()],
        });
    }
    let field = if federated {
        "federatedServices"
    } else {
        "mirrorServices"
    };
    serde_json::json!({ "status": { field: list } })
}

/// `Request::PatchLinkStatus` leaves the same object, revision and watch events as the merge
/// patch of the whole list built from a GET at the same revision, through upserts, repeated
/// identical writes (no-ops), removals, both lists and a spec change in between.
#[test]
fn typed_link_status_patch_matches_the_merge_patch() {
    use mcsim::k8s::api::LinkStatusSection;
    use mcsim::k8s::objects::LinkCondition;
    let link: Object = mcsim::k8s::manifest::load(
        "apiVersion: multicluster.linkerd.io/v1alpha3\nkind: Link\nmetadata: {name: east, namespace: default}\nspec: {targetClusterName: east}\n",
    )
    .unwrap()
    .remove(0);
    let (mut merge, mut rng_a) = server("10.96.0.0/16");
    let (mut typed, mut rng_b) = server("10.96.0.0/16");
    let key = obj(merge.handle(T0, &mut rng_a, Request::create(link.clone()))).key();
    obj(typed.handle(T0, &mut rng_b, Request::create(link)));
    let watch = |api: &mut ApiServer| {
        api.open_watch(T0, WatchId(1), WatchRequest::all(Kind::Link))
            .unwrap();
    };
    watch(&mut merge);
    watch(&mut typed);
    let mut pick = Prng::stream(3, "typed-patch");
    for step in 0..400u64 {
        let now = T0 + SimDuration::from_millis(step / 3);
        let federated = pick.below(4) == 0;
        let (ns, name) = (
            ["a", "b"][pick.below(2) as usize],
            format!("s{}", pick.below(90)),
        );
        let cond = (pick.below(5) != 0).then(|| LinkCondition {
            type_: "Mirrored".to_string(),
            status: ["True", "False"][pick.below(2) as usize].to_string(),
            reason: "Mirrored".to_string(),
            message: String::new(),
            last_transition_time: Some(format!("t{}", now.0 / 1_000_000)),
            local_ref: None,
        });
        if step % 97 == 50 {
            // Someone else changes the Link (the index must notice).
            for (api, rng) in [(&mut merge, &mut rng_a), (&mut typed, &mut rng_b)] {
                let patch =
                    serde_json::json!({"spec": {"gatewayAddress": format!("1.2.3.{step}")}});
                obj(api.handle(
                    now,
                    rng,
                    Request::Patch {
                        key: key.clone(),
                        subresource: Subresource::Main,
                        patch,
                    },
                ));
            }
        }
        let stored = merge.store().get(&key).unwrap().clone();
        let patch = link_status_merge_patch(
            stored.as_link().unwrap(),
            federated,
            ns,
            &name,
            cond.as_ref(),
        );
        let a = merge.handle(
            now,
            &mut rng_a,
            Request::Patch {
                key: key.clone(),
                subresource: Subresource::Status,
                patch,
            },
        );
        let b = typed.handle(
            now,
            &mut rng_b,
            Request::PatchLinkStatus {
                key: key.clone(),
                section: if federated {
                    LinkStatusSection::FederatedServices
                } else {
                    LinkStatusSection::MirrorServices
                },
                namespace: ns.to_string(),
                name: name.clone(),
                controller_name: "linkerd.io/service-mirror".to_string(),
                condition: cond,
            },
        );
        assert_eq!(a, b, "step {step}");
        assert_eq!(merge.revision(), typed.revision(), "step {step}");
        assert_eq!(
            merge.take_watch_events(),
            typed.take_watch_events(),
            "step {step}"
        );
    }
    let l = merge.store().get(&key).unwrap().clone();
    assert!(
        l.as_link().unwrap().status.mirror_services.len() > 20,
        "the lists grew"
    );
    // Removing an entry from the middle shifts the others: a later upsert must still find them.
    assert_eq!(Some(&l), typed.store().get(&key));
}
