//! Cluster snapshots (`[[cluster]] snapshot`): a `kubectl get namespaces,services,endpoints,
//! endpointslices,statefulsets,deployments,pods,secrets -A -o yaml` `List` of 300 services
//! (`mcsim::k8s::sample_snapshot`: uids, resourceVersions, managedFields, status, pods owned by
//! ReplicaSets, kube-proxy on the host network, a mirror Service of an earlier link) seeds east;
//! west links to east. Asserted: what is restored, that pods keep their IPs and readiness, that
//! the controllers adopt what they own (no pod is created or replaced), and that west mirrors
//! every exported service.

use mcsim::k8s::sample_snapshot::SampleSnapshot;
use mcsim::run::{RunOptions, run};
use mcsim::scenario::load_str;
use std::collections::BTreeMap;
use std::sync::Arc;

const SERVICES: usize = 300;
const EXPORT_EVERY: usize = 3;

fn snapshot() -> String {
    SampleSnapshot {
        cluster: "east",
        services: SERVICES,
        namespaces: 10,
        export_every: EXPORT_EVERY,
        pod_net: [10, 244],
        linked: "west",
    }
    .yaml()
}

fn scenario(path: &str) -> String {
    let mut s = format!(
        r#"[sim]
name = "snapshot"
duration = "3m"
[[cluster]]
name = "west"
[[cluster]]
name = "east"
snapshot = "{path}"
pod_cidr = "10.244.0.0/16"
service_cidr = "10.96.0.0/12"
[[link]]
from = "west"
to = "east"
"#
    );
    for i in 0..10 {
        s.push_str(&format!(
            "[[namespace]]\ncluster = \"west\"\nname = \"team-{i}\"\n"
        ));
    }
    s
}

fn tmp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("mcsim-snapshot-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn items(list: &str) -> Vec<serde_json::Value> {
    let v: serde_json::Value = if list.trim_start().starts_with('{') {
        serde_json::from_str(list).unwrap()
    } else {
        serde_yaml_ng::from_str(list).unwrap()
    };
    v["items"].as_array().unwrap().clone()
}

fn of_kind<'a>(items: &'a [serde_json::Value], kind: &str) -> Vec<&'a serde_json::Value> {
    items.iter().filter(|o| o["kind"] == kind).collect()
}

fn key(o: &serde_json::Value) -> String {
    format!(
        "{}/{}",
        o["metadata"]["namespace"].as_str().unwrap_or(""),
        o["metadata"]["name"].as_str().unwrap_or("")
    )
}

#[test]
fn a_300_service_snapshot_loads_runs_and_mirrors() {
    let dir = tmp("300");
    let text = snapshot();
    std::fs::write(dir.join("east.yaml"), &text).unwrap();
    // `MCSIM_KEEP_SNAPSHOT=DIR`: keep the snapshot and its scenario there (to time `mcsim check`).
    if let Some(keep) = std::env::var_os("MCSIM_KEEP_SNAPSHOT") {
        let keep = std::path::Path::new(&keep);
        std::fs::write(keep.join("east.yaml"), &text).unwrap();
        std::fs::write(keep.join("snapshot.toml"), scenario("east.yaml")).unwrap();
    }
    let original = items(&text);
    let file = dir.join("scenario.toml");
    let s =
        load_str(file.to_str().unwrap(), &scenario("east.yaml")).unwrap_or_else(|d| panic!("{d}"));
    let loaded = s.clusters[1].snapshot.as_ref().unwrap();
    assert_eq!(
        loaded.objects.len(),
        original.len(),
        "every object of the List"
    );
    assert_eq!(original.len(), 1683, "the generator's 300-service snapshot");
    let r = run(
        Arc::new(s),
        &RunOptions {
            dump: true,
            ..RunOptions::default()
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let dump = |c: &str| items(&r.dumps.iter().find(|d| d.cluster == c).unwrap().json);
    let (west, east) = (dump("west"), dump("east"));
    let ctx = format!(
        "{:?}, failed {:?}",
        r.report.verdict,
        r.report.failed_checks()
    );
    assert_eq!(
        r.report.verdict,
        mcsim::report::Verdict::Pass,
        "{ctx}\n{}",
        mcsim::report::text::render(&r.report)
    );

    // Every application Service is there with its ClusterIP; the mirror Service an earlier
    // link left is not (the service mirror rebuilds mirrors).
    let services: BTreeMap<String, &serde_json::Value> = of_kind(&east, "Service")
        .into_iter()
        .map(|o| (key(o), o))
        .collect();
    for o in of_kind(&original, "Service") {
        let k = key(o);
        if k == "team-0/svc-000-west" {
            assert!(!services.contains_key(&k), "mirror state left out");
            continue;
        }
        if k == "linkerd-multicluster/linkerd-gateway" {
            continue; // The scenario's own gateway Service.
        }
        let got = services
            .get(&k)
            .unwrap_or_else(|| panic!("east lacks Service {k}"));
        assert_eq!(got["spec"]["clusterIP"], o["spec"]["clusterIP"], "{k}");
    }
    // Pods: the same pods (none created, none replaced), with their IPs, ready; the
    // DaemonSet's kube-proxy pod is collected with its absent owner, as a real garbage
    // collector does; ReplicaSet pods belong to their Deployment now.
    let before: BTreeMap<String, &serde_json::Value> = of_kind(&original, "Pod")
        .into_iter()
        .filter(|o| o["metadata"]["ownerReferences"][0]["kind"] != "DaemonSet")
        .map(|o| (key(o), o))
        .collect();
    let after: BTreeMap<String, &serde_json::Value> = of_kind(&east, "Pod")
        .into_iter()
        .map(|o| (key(o), o))
        .collect();
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>(),
        "the controllers adopted the snapshot's pods"
    );
    assert!(before.len() > 450, "{}", before.len());
    for (k, o) in &before {
        let a = after[k];
        assert_eq!(a["status"]["podIP"], o["status"]["podIP"], "{k}");
        let ready = a["status"]["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["type"] == "Ready" && c["status"] == "True");
        assert!(ready, "{k}: {a}");
        let owner = &a["metadata"]["ownerReferences"][0];
        assert!(
            owner["kind"] == "Deployment" || owner["kind"] == "StatefulSet",
            "{k}: {owner}"
        );
    }
    // Each Service has one EndpointSlice (the snapshot's, adopted), listing its pods.
    let slices = of_kind(&east, "EndpointSlice");
    let slice_names: Vec<String> = slices.iter().map(|o| key(o)).collect();
    for o in of_kind(&original, "EndpointSlice") {
        assert!(slice_names.contains(&key(o)), "{} kept", key(o));
    }
    assert_eq!(
        slices.len(),
        SERVICES + 3,
        "kube-dns, db and the 300 apps: {slice_names:?}"
    );

    // West mirrors every exported service, with endpoints at east's gateway.
    let mirrors: Vec<&serde_json::Value> = of_kind(&west, "Service")
        .into_iter()
        .filter(|o| o["metadata"]["labels"]["mirror.linkerd.io/mirrored-service"] == "true")
        .collect();
    assert_eq!(mirrors.len(), SERVICES.div_ceil(EXPORT_EVERY), "{ctx}");
    assert!(mirrors.iter().any(|m| key(m) == "team-3/svc-003-east"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A snapshot the API server cannot take names the offending object's line and column.
#[test]
fn snapshot_objects_the_api_server_refuses_are_located() {
    let dir = tmp("bad");
    let text = SampleSnapshot {
        cluster: "east",
        services: 3,
        namespaces: 1,
        export_every: 1,
        pod_net: [10, 244],
        linked: "west",
    }
    .yaml();
    std::fs::write(dir.join("east.yaml"), &text).unwrap();
    let line_of = |needle: &str| {
        text.lines()
            .position(|l| l.contains(needle))
            .map(|i| i + 1)
            .unwrap()
    };
    let build = |extra: &str| {
        let toml = format!(
            "[sim]\nname = \"x\"\nduration = \"10s\"\n[[cluster]]\nname = \"west\"\n[[cluster]]\nname = \"east\"\nsnapshot = \"east.yaml\"\n{extra}"
        );
        let s = load_str(dir.join("s.toml").to_str().unwrap(), &toml).unwrap();
        mcsim::run::validate(&Arc::new(s))
    };
    // East is the second cluster: its default service range is 10.97.0.0/16, where the
    // `kubernetes` Service's 10.96.0.1 is refused, as the API server refuses it.
    let e = build("").unwrap_err();
    let at = line_of("kind: Service") - 1;
    assert!(
        e.starts_with(&format!(
            "snapshot {}:{at}:3: ",
            dir.join("east.yaml").display()
        )),
        "{e}"
    );
    assert!(e.contains("is not in the valid range"), "{e}");
    // The right service range, the default pod network: the pods' IPs are not east's.
    let e = build("service_cidr = \"10.96.0.0/12\"\n").unwrap_err();
    assert!(
        e.contains("is not in the cluster's pod network 10.2.0.0/16"),
        "{e}"
    );
    build("pod_cidr = \"10.244.0.0/16\"\nservice_cidr = \"10.96.0.0/12\"\n").unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
