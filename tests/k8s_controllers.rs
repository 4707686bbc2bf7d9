//! Controllers through the single-cluster harness: endpoints (incl. GC on Service deletion and
//! the hostname rule), EndpointSlices, mirroring of selector-less Services, StatefulSets,
//! Deployments, the garbage collector and namespace termination.

use mcsim::k8s::api::{DeleteOptions, Propagation, Request, StatusReason};
use mcsim::k8s::controllers::endpoints::{self, EndpointsConfig};
use mcsim::k8s::objects::{
    Container, ContainerPort, Deployment, EndpointAddress, EndpointSubset, Endpoints, Kind,
    LABEL_MANAGED_BY, LABEL_SERVICE_NAME, Namespace, Object, ObjectKey, Pod, Service, ServicePort,
    StatefulSet,
};
use mcsim::k8s::selector::LabelSelector;
use mcsim::k8s::testing::TestCluster;
use mcsim::sim::SimDuration;

fn labels(pairs: &[(&str, &str)]) -> std::collections::BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn service(ns: &str, name: &str, app: &str, headless: bool) -> Service {
    let mut s = Service::new(ns, name);
    s.spec.selector = labels(&[("app", app)]);
    s.spec.ports.push(ServicePort::tcp("http", 80));
    s.spec.ports[0].target_port = Some(mcsim::k8s::objects::IntOrString::String("web".into()));
    if headless {
        s.spec.cluster_ip = "None".into();
    }
    s.metadata.labels = labels(&[("team", "a")]);
    s
}

fn statefulset(ns: &str, name: &str, svc: &str, replicas: i32) -> StatefulSet {
    let mut s = StatefulSet::default();
    s.metadata.namespace = ns.into();
    s.metadata.name = name.into();
    s.spec.replicas = replicas;
    s.spec.service_name = svc.into();
    s.spec.selector = LabelSelector::eq([("app", name)]);
    s.spec.template.metadata.labels = labels(&[("app", name)]);
    s.spec.template.spec.containers = vec![Container {
        name: "main".into(),
        image: "db:1".into(),
        ports: vec![ContainerPort {
            name: "web".into(),
            container_port: 8080,
            ..Default::default()
        }],
    }];
    s
}

fn pod(c: &TestCluster, ns: &str, name: &str) -> Pod {
    c.get(Kind::Pod, ns, name)
        .and_then(|o| o.as_pod().cloned())
        .unwrap_or_else(|| panic!("pod {ns}/{name}"))
}

fn endpoints_of(c: &TestCluster, ns: &str, name: &str) -> Option<Endpoints> {
    c.get(Kind::Endpoints, ns, name)
        .and_then(|o| o.as_endpoints().cloned())
}

#[test]
fn ordered_ready_statefulset_comes_up_one_pod_at_a_time() {
    let mut c = TestCluster::new(1);
    c.create(service("default", "db", "db", true)).unwrap();
    c.create(statefulset("default", "db", "db", 3)).unwrap();
    // db-0 exists, is bound and running but not ready yet; db-1 waits for it.
    assert!(c.get(Kind::Pod, "default", "db-0").is_some());
    assert!(c.get(Kind::Pod, "default", "db-1").is_none());
    let p0 = pod(&c, "default", "db-0");
    assert_eq!(
        (p0.spec.hostname.as_str(), p0.spec.subdomain.as_str()),
        ("db-0", "db")
    );
    assert_eq!(p0.status.pod_ip, "10.244.0.1");
    assert!(!p0.is_ready());
    c.advance(SimDuration::from_secs(2)).unwrap();
    assert!(pod(&c, "default", "db-0").is_ready());
    assert!(c.get(Kind::Pod, "default", "db-1").is_some());
    c.run_until_stable(SimDuration::from_mins(1)).unwrap();
    let ready: Vec<bool> = (0..3)
        .map(|i| pod(&c, "default", &format!("db-{i}")).is_ready())
        .collect();
    assert_eq!(ready, [true, true, true]);
    let set = c.get(Kind::StatefulSet, "default", "db").unwrap();
    assert_eq!(set.as_stateful_set().unwrap().status.ready_replicas, 3);

    // Scale down removes the highest ordinal (graceful: terminating first, then gone).
    let mut s = set.as_stateful_set().unwrap().clone();
    s.spec.replicas = 1;
    c.apply(s).unwrap();
    c.run_until_stable(SimDuration::from_mins(1)).unwrap();
    assert!(c.get(Kind::Pod, "default", "db-2").is_none());
    assert!(c.get(Kind::Pod, "default", "db-1").is_none());
    assert!(c.get(Kind::Pod, "default", "db-0").is_some());
}

#[test]
fn endpoints_follow_readiness_and_the_hostname_rule() {
    let mut c = TestCluster::new(2);
    c.create(service("default", "db", "db", true)).unwrap();
    // A second headless service selecting the same pods: not their subdomain.
    c.create(service("default", "other", "db", true)).unwrap();
    c.create(statefulset("default", "db", "db", 2)).unwrap();
    let ep = endpoints_of(&c, "default", "db").unwrap();
    assert_eq!(ep.subsets.len(), 1);
    assert!(ep.subsets[0].addresses.is_empty());
    assert_eq!(
        ep.subsets[0].not_ready_addresses.len(),
        1,
        "db-0 is running but not ready"
    );
    assert_eq!(
        ep.subsets[0].ports[0].port, 8080,
        "named targetPort resolved from the container"
    );
    c.run_until_stable(SimDuration::from_mins(1)).unwrap();

    let ep = endpoints_of(&c, "default", "db").unwrap();
    let hosts: Vec<&str> = ep.subsets[0]
        .addresses
        .iter()
        .map(|a| a.hostname.as_str())
        .collect();
    assert_eq!(hosts, ["db-0", "db-1"]);
    assert_eq!(
        ep.metadata
            .labels
            .get("service.kubernetes.io/headless")
            .map(String::as_str),
        Some("")
    );
    assert_eq!(
        ep.metadata.labels.get("team").map(String::as_str),
        Some("a"),
        "Service labels copied"
    );
    assert_eq!(
        ep.metadata
            .labels
            .get("endpointslice.kubernetes.io/skip-mirror")
            .map(String::as_str),
        Some("true")
    );
    let other = endpoints_of(&c, "default", "other").unwrap();
    assert!(
        other.subsets[0]
            .addresses
            .iter()
            .all(|a| a.hostname.is_empty()),
        "subdomain is db, not other"
    );
    assert_eq!(other.subsets[0].addresses.len(), 2);

    // A killed pod leaves the endpoints, then comes back as a fresh pod.
    c.kill_pod("default", "db-1").unwrap();
    let ep = endpoints_of(&c, "default", "db").unwrap();
    let ready: Vec<&str> = ep
        .subsets
        .iter()
        .flat_map(|s| &s.addresses)
        .map(|a| a.hostname.as_str())
        .collect();
    assert_eq!(ready, ["db-0"]);
    c.run_until_stable(SimDuration::from_mins(1)).unwrap();
    let ep = endpoints_of(&c, "default", "db").unwrap();
    assert_eq!(ep.subsets[0].addresses.len(), 2);
}

#[test]
fn publish_not_ready_addresses_counts_unready_pods_as_ready() {
    let mut c = TestCluster::new(3);
    let mut s = service("default", "db", "db", true);
    s.spec.publish_not_ready_addresses = true;
    c.create(s).unwrap();
    c.create(statefulset("default", "db", "db", 1)).unwrap();
    let ep = endpoints_of(&c, "default", "db").unwrap();
    assert_eq!(ep.subsets[0].addresses.len(), 1);
    assert!(ep.subsets[0].not_ready_addresses.is_empty());
}

#[test]
fn endpoints_are_deleted_when_their_service_is_deleted() {
    let mut c = TestCluster::new(4);
    c.create(service("default", "web", "web", false)).unwrap();
    assert!(endpoints_of(&c, "default", "web").is_some());
    // A selector-less service with hand-written Endpoints (what Linkerd's mirror does).
    let mut mirror = Service::new("default", "web-east");
    mirror.spec.ports.push(ServicePort::tcp("http", 80));
    c.create(mirror).unwrap();
    let mut ep = Endpoints::new("default", "web-east");
    ep.subsets.push(EndpointSubset {
        addresses: vec![EndpointAddress::ip("172.18.0.5")],
        ports: vec![mcsim::k8s::objects::EndpointPort {
            name: "http".into(),
            port: 4143,
            ..Default::default()
        }],
        ..Default::default()
    });
    c.create(ep).unwrap();
    assert_eq!(
        endpoints_of(&c, "default", "web-east").unwrap().subsets[0].addresses[0].ip,
        "172.18.0.5"
    );

    c.delete(Kind::Service, "default", "web").unwrap();
    c.delete(Kind::Service, "default", "web-east").unwrap();
    assert!(endpoints_of(&c, "default", "web").is_none());
    assert!(endpoints_of(&c, "default", "web-east").is_none());
    // Slices go too: the controller's by owner reference, the mirrored ones with their Endpoints.
    assert!(c.list(Kind::EndpointSlice, Some("default")).is_empty());
}

/// `syncService` of a Service that is gone deletes its Endpoints by name even when the
/// controller's own cache never saw them (its Endpoints watch was broken when they were made):
/// found by fuzzing, a headless endpoint mirror's Endpoints were left behind for good.
#[test]
fn a_gone_service_deletes_its_endpoints_even_if_the_cache_missed_them() {
    let empty = mcsim::k8s::store::Store::new();
    let reqs = endpoints::sync_service(&empty, "default", "db-2-east", &EndpointsConfig::default());
    let [Request::Delete { key, .. }] = reqs.as_slice() else {
        panic!("{reqs:?}")
    };
    assert_eq!(
        key,
        &ObjectKey::new(Kind::Endpoints, "default", "db-2-east")
    );
}

#[test]
fn endpoints_truncate_at_the_address_cap_and_annotate() {
    let mut c = TestCluster::new(5);
    c.create(service("default", "db", "db", false)).unwrap();
    c.create(statefulset("default", "db", "db", 3)).unwrap();
    c.run_until_stable(SimDuration::from_mins(1)).unwrap();
    let reqs = endpoints::sync_service(
        &c.api,
        "default",
        "db",
        &EndpointsConfig { max_addresses: 2 },
    );
    let Request::Update {
        object: Object::Endpoints(ep),
    } = &reqs[0]
    else {
        panic!("{reqs:?}")
    };
    assert_eq!(ep.subsets[0].addresses.len(), 2);
    assert_eq!(
        ep.metadata.annotations["endpoints.kubernetes.io/over-capacity"],
        "truncated"
    );
    // Nothing to do with the default cap.
    assert!(
        endpoints::sync_service(&c.api, "default", "db", &EndpointsConfig::default()).is_empty()
    );
}

#[test]
fn endpoint_slices_are_chunked_labelled_and_owned() {
    let mut cfg = mcsim::k8s::testing::TestClusterConfig::new(6);
    cfg.endpoint_slices.max_endpoints_per_slice = 2;
    let mut c = TestCluster::with_config(cfg);
    c.create(service("default", "db", "db", true)).unwrap();
    let svc_uid = c
        .get(Kind::Service, "default", "db")
        .unwrap()
        .meta()
        .uid
        .clone();
    // Placeholder before any pod exists.
    let slices = c.list(Kind::EndpointSlice, Some("default"));
    assert_eq!(slices.len(), 1);
    assert!(slices[0].as_endpoint_slice().unwrap().endpoints.is_empty());
    c.create(statefulset("default", "db", "db", 3)).unwrap();
    c.run_until_stable(SimDuration::from_mins(1)).unwrap();
    let slices: Vec<_> = c
        .list(Kind::EndpointSlice, Some("default"))
        .into_iter()
        .filter_map(|o| o.as_endpoint_slice())
        .collect();
    assert_eq!(slices.len(), 2);
    assert_eq!(slices.iter().map(|s| s.endpoints.len()).sum::<usize>(), 3);
    for s in &slices {
        assert!(s.metadata.name.starts_with("db-"));
        assert_eq!(s.metadata.labels[LABEL_SERVICE_NAME], "db");
        assert_eq!(
            s.metadata.labels[LABEL_MANAGED_BY],
            "endpointslice-controller.k8s.io"
        );
        assert_eq!(s.metadata.owner_references[0].uid, svc_uid);
        assert!(
            s.endpoints
                .iter()
                .all(|e| e.conditions.ready == Some(true) && e.hostname.is_some())
        );
    }
}

#[test]
fn mirroring_copies_custom_endpoints_into_slices() {
    let mut c = TestCluster::new(7);
    let mut mirror = Service::new("default", "db-east");
    mirror.spec.cluster_ip = "None".into();
    mirror.spec.ports.push(ServicePort::tcp("web", 8080));
    c.create(mirror).unwrap();
    let mut ep = Endpoints::new("default", "db-east");
    ep.metadata.labels = labels(&[("mirror.linkerd.io/cluster-name", "east")]);
    ep.subsets.push(EndpointSubset {
        addresses: vec![EndpointAddress {
            ip: "10.96.0.20".into(),
            hostname: "db-0".into(),
            ..Default::default()
        }],
        not_ready_addresses: vec![EndpointAddress {
            ip: "10.96.0.21".into(),
            hostname: "db-1".into(),
            ..Default::default()
        }],
        ports: vec![mcsim::k8s::objects::EndpointPort {
            name: "web".into(),
            port: 8080,
            ..Default::default()
        }],
    });
    c.create(ep).unwrap();
    let slices: Vec<_> = c
        .list(Kind::EndpointSlice, Some("default"))
        .into_iter()
        .filter_map(|o| o.as_endpoint_slice())
        .collect();
    assert_eq!(slices.len(), 1);
    let s = slices[0];
    assert_eq!(
        s.metadata.labels[LABEL_MANAGED_BY],
        "endpointslicemirroring-controller.k8s.io"
    );
    assert_eq!(s.metadata.labels["mirror.linkerd.io/cluster-name"], "east");
    assert_eq!(s.metadata.owner_references[0].kind, "Endpoints");
    let ready: Vec<(String, Option<bool>)> = s
        .endpoints
        .iter()
        .map(|e| (e.hostname.clone().unwrap(), e.conditions.ready))
        .collect();
    assert_eq!(
        ready,
        [
            ("db-0".to_string(), Some(true)),
            ("db-1".to_string(), Some(false))
        ]
    );

    // The skip label stops mirroring and removes the mirrored slices.
    let mut ep = c
        .get(Kind::Endpoints, "default", "db-east")
        .unwrap()
        .as_endpoints()
        .unwrap()
        .clone();
    ep.metadata.labels.insert(
        "endpointslice.kubernetes.io/skip-mirror".into(),
        "true".into(),
    );
    c.apply(ep).unwrap();
    assert!(c.list(Kind::EndpointSlice, Some("default")).is_empty());
}

#[test]
fn deployment_pods_get_generated_names_and_are_replaced() {
    let mut c = TestCluster::new(8);
    let mut d = Deployment {
        metadata: mcsim::k8s::objects::ObjectMeta::named("default", "web"),
        ..Default::default()
    };
    d.spec.replicas = 3;
    d.spec.selector = LabelSelector::eq([("app", "web")]);
    d.spec.template.metadata.labels = labels(&[("app", "web")]);
    c.create(d).unwrap();
    c.run_until_stable(SimDuration::from_mins(1)).unwrap();
    let pods = c.list(Kind::Pod, Some("default"));
    assert_eq!(pods.len(), 3);
    assert!(
        pods.iter()
            .all(|p| p.name().starts_with("web-") && p.name().len() == 9)
    );
    let victim = pods[0].name().to_string();
    c.kill_pod("default", &victim).unwrap();
    c.run_until_stable(SimDuration::from_mins(1)).unwrap();
    let pods = c.list(Kind::Pod, Some("default"));
    assert_eq!(pods.len(), 3);
    assert!(
        pods.iter()
            .all(|p| p.name() != victim && p.as_pod().unwrap().is_ready())
    );
}

#[test]
fn garbage_collector_follows_uids_and_propagation_modes() {
    let mut c = TestCluster::new(9);
    c.create(service("default", "db", "db", true)).unwrap();
    c.create(statefulset("default", "db", "db", 2)).unwrap();
    c.run_until_stable(SimDuration::from_mins(1)).unwrap();

    // Orphan: pods lose their owner reference and survive.
    c.request(Request::Delete {
        key: ObjectKey::new(Kind::StatefulSet, "default", "db"),
        options: DeleteOptions {
            propagation_policy: Propagation::Orphan,
            ..Default::default()
        },
    })
    .unwrap();
    c.settle().unwrap();
    assert!(c.get(Kind::StatefulSet, "default", "db").is_none());
    let p = pod(&c, "default", "db-0");
    assert!(p.metadata.owner_references.is_empty());

    // Background: a new owner adopts nothing (uid differs), a recreated set makes new pods... but
    // here we point a pod at an owner uid that no longer exists: collected.
    let mut p = pod(&c, "default", "db-1");
    p.metadata
        .owner_references
        .push(mcsim::k8s::objects::OwnerReference {
            api_version: "apps/v1".into(),
            kind: "StatefulSet".into(),
            name: "db".into(),
            uid: "00000000-0000-4000-8000-000000000000".into(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        });
    c.apply(p).unwrap();
    c.run_until_stable(SimDuration::from_mins(1)).unwrap();
    assert!(
        c.get(Kind::Pod, "default", "db-1").is_none(),
        "owner absent: collected"
    );
    assert!(c.get(Kind::Pod, "default", "db-0").is_some());

    // Cross-namespace owner references resolve to nothing.
    c.create(Namespace::new("other")).unwrap();
    let owner = c.get(Kind::Service, "default", "db").unwrap().clone();
    let mut ep = Endpoints::new("other", "stray");
    ep.metadata
        .owner_references
        .push(mcsim::k8s::objects::OwnerReference::controller_ref(&owner));
    c.create(ep).unwrap();
    assert!(c.get(Kind::Endpoints, "other", "stray").is_none());

    // Foreground: the set stays until its blocking pods are gone.
    c.create(statefulset("default", "web", "db", 1)).unwrap();
    c.run_until_stable(SimDuration::from_mins(1)).unwrap();
    c.request(Request::Delete {
        key: ObjectKey::new(Kind::StatefulSet, "default", "web"),
        options: DeleteOptions {
            propagation_policy: Propagation::Foreground,
            ..Default::default()
        },
    })
    .unwrap();
    c.settle().unwrap();
    assert!(
        c.get(Kind::StatefulSet, "default", "web").is_some(),
        "waiting for web-0 to terminate"
    );
    c.run_until_stable(SimDuration::from_mins(1)).unwrap();
    assert!(c.get(Kind::Pod, "default", "web-0").is_none());
    assert!(c.get(Kind::StatefulSet, "default", "web").is_none());
}

#[test]
fn namespace_termination_forbids_new_content_then_empties_and_removes_it() {
    let mut c = TestCluster::new(10);
    c.create(Namespace::new("prod")).unwrap();
    c.create(service("prod", "db", "db", true)).unwrap();
    c.create(statefulset("prod", "db", "db", 2)).unwrap();
    c.run_until_stable(SimDuration::from_mins(1)).unwrap();
    assert!(c.list(Kind::Pod, Some("prod")).len() == 2);

    c.request(Request::delete(ObjectKey::new(Kind::Namespace, "", "prod")))
        .unwrap();
    let err = c
        .request(Request::create(service("prod", "late", "x", false)))
        .unwrap_err();
    assert_eq!((err.code, err.reason), (403, StatusReason::Forbidden));
    c.settle().unwrap();
    // Pods terminate gracefully, so the namespace is still there.
    assert!(c.get(Kind::Namespace, "", "prod").is_some());
    c.run_until_stable(SimDuration::from_mins(1)).unwrap();
    for kind in Kind::ALL.into_iter().filter(|k| k.namespaced()) {
        assert!(c.list(kind, Some("prod")).is_empty(), "{kind} left in prod");
    }
    assert!(c.get(Kind::Namespace, "", "prod").is_none());
    // And the name can be reused.
    c.create(Namespace::new("prod")).unwrap();
}

#[test]
fn controllers_settle_and_are_deterministic() {
    let run = |seed| {
        let mut c = TestCluster::new(seed);
        c.create(service("default", "db", "db", true)).unwrap();
        c.create(statefulset("default", "db", "db", 3)).unwrap();
        c.run_until_stable(SimDuration::from_mins(1)).unwrap();
        (c.dump_yaml(), c.api.revision())
    };
    assert_eq!(run(11), run(11));
    assert_ne!(run(11).0, run(12).0, "uids differ per seed");
}
