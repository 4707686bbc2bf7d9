//! The CoreDNS model against a live single-cluster harness, plus insta snapshots of the objects
//! and DNS answers for a StatefulSet of 2 behind a headless Service (stored in `snapshots/`).

use mcsim::k8s::dns::{DnsResponse, QueryType};
use mcsim::k8s::objects::Kind;
use mcsim::k8s::testing::TestCluster;
use mcsim::sim::SimDuration;

const MANIFEST: &str = r#"
apiVersion: v1
kind: Service
metadata:
  name: db
  namespace: default
  labels:
    app: db
spec:
  clusterIP: None
  selector:
    app: db
  ports:
  - name: tcp-db
    port: 5432
    targetPort: db
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: default
spec:
  selector:
    app: web
  ports:
  - name: http
    port: 80
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
  namespace: default
spec:
  replicas: 2
  serviceName: db
  selector:
    matchLabels:
      app: db
  template:
    metadata:
      labels:
        app: db
    spec:
      containers:
      - name: postgres
        image: postgres:16
        ports:
        - name: db
          containerPort: 5432
"#;

fn cluster() -> TestCluster {
    let mut c = TestCluster::new(42);
    c.apply_manifest(MANIFEST).unwrap();
    c
}

fn settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path("../snapshots");
    s.set_prepend_module_to_snapshot(false);
    s
}

#[test]
fn headless_service_answers_with_ready_endpoints_only() {
    let mut c = cluster();
    // db-0 is running but not ready: nothing is published yet.
    assert!(
        c.resolve("db.default.svc.cluster.local", QueryType::A)
            .is_nxdomain()
    );
    assert!(
        c.resolve("db-0.db.default.svc.cluster.local", QueryType::A)
            .is_nxdomain()
    );
    c.advance(SimDuration::from_secs(2)).unwrap();
    assert_eq!(
        c.resolve("db.default.svc.cluster.local", QueryType::A)
            .ips(),
        ["10.244.0.1"]
    );
    c.run_until_stable(SimDuration::from_mins(1)).unwrap();
    assert_eq!(
        c.resolve("db.default.svc.cluster.local.", QueryType::A)
            .ips(),
        ["10.244.0.1", "10.244.0.2"]
    );
    assert_eq!(
        c.resolve("DB-1.Db.Default.SVC.cluster.local", QueryType::A)
            .ips(),
        ["10.244.0.2"],
        "case-insensitive"
    );
    assert!(
        c.resolve("db-2.db.default.svc.cluster.local", QueryType::A)
            .is_nxdomain()
    );
    assert!(
        c.resolve("db.other.svc.cluster.local", QueryType::A)
            .is_nxdomain()
    );
    assert!(
        c.resolve("db.default.svc.example.org", QueryType::A)
            .is_nxdomain()
    );
    // A ClusterIP service answers with its VIP even with no endpoints.
    assert_eq!(
        c.resolve("web.default.svc.cluster.local", QueryType::A)
            .ips(),
        ["10.96.0.1"]
    );

    // Scale to zero: NXDOMAIN again.
    let mut set = c
        .get(Kind::StatefulSet, "default", "db")
        .unwrap()
        .as_stateful_set()
        .unwrap()
        .clone();
    set.spec.replicas = 0;
    c.apply(set).unwrap();
    c.run_until_stable(SimDuration::from_mins(1)).unwrap();
    assert!(
        c.resolve("db.default.svc.cluster.local", QueryType::A)
            .is_nxdomain()
    );
}

#[test]
fn srv_records_for_named_ports() {
    let mut c = cluster();
    c.run_until_stable(SimDuration::from_mins(1)).unwrap();
    let DnsResponse::Answer(a) =
        c.resolve("_tcp-db._tcp.db.default.svc.cluster.local", QueryType::Srv)
    else {
        panic!("expected an answer")
    };
    assert_eq!(a.records.len(), 2);
    let DnsResponse::Answer(a) =
        c.resolve("_http._tcp.web.default.svc.cluster.local", QueryType::Srv)
    else {
        panic!("expected an answer")
    };
    assert_eq!(a.records.len(), 1);
    assert!(
        c.resolve("_nope._tcp.web.default.svc.cluster.local", QueryType::Srv)
            .is_nxdomain()
    );
    assert!(
        c.resolve("_http._udp.web.default.svc.cluster.local", QueryType::Srv)
            .is_nxdomain()
    );
}

#[test]
fn snapshot_statefulset_of_two_behind_a_headless_service() {
    let mut c = cluster();
    c.run_until_stable(SimDuration::from_mins(1)).unwrap();
    let yaml = c.dump_kinds_yaml(&[
        Kind::Service,
        Kind::Endpoints,
        Kind::EndpointSlice,
        Kind::Pod,
        Kind::StatefulSet,
    ]);
    settings().bind(|| insta::assert_snapshot!("k8s_statefulset_headless_objects", yaml));

    let queries = [
        ("db.default.svc.cluster.local", QueryType::A),
        ("db-0.db.default.svc.cluster.local", QueryType::A),
        ("db-1.db.default.svc.cluster.local", QueryType::A),
        ("_tcp-db._tcp.db.default.svc.cluster.local", QueryType::Srv),
        ("web.default.svc.cluster.local", QueryType::A),
        ("db-2.db.default.svc.cluster.local", QueryType::A),
    ];
    let answers: Vec<(String, QueryType, DnsResponse)> = queries
        .iter()
        .map(|(q, t)| (q.to_string(), *t, c.resolve(q, *t)))
        .collect();
    settings().bind(|| insta::assert_yaml_snapshot!("k8s_statefulset_headless_dns", answers));
}
