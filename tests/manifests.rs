//! The manifest corpus (`tests/manifests/`): real-shaped files applied as `kubectl apply` takes
//! them, run, and the mirrors they should produce asserted. East runs the Kubernetes docs'
//! StatefulSet web app (headless Service `nginx`, namespace-less, so in `default`) and an
//! application with Deployments, ServiceAccounts, RBAC, a PDB, an HPA and a NetworkPolicy
//! (namespace-less, applied with `namespace = "shop"`); west gets east's `link-gen` output at
//! each Link version, so west's service mirror comes from the manifest alone (no `[[link]]`).

use mcsim::run::{RunOptions, run};
use mcsim::scenario::load_str;
use std::path::Path;
use std::sync::Arc;

fn corpus() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/manifests")
}

fn scenario(link_file: &str) -> String {
    format!(
        r#"[sim]
name = "corpus"
duration = "1m"
[[cluster]]
name = "west"
[[cluster]]
name = "east"
[[namespace]]
cluster = "west"
name = "shop"
[[manifest]]
cluster = "east"
path = "web-statefulset.yaml"
[[manifest]]
cluster = "east"
path = "shop-namespace.yaml"
[[manifest]]
cluster = "east"
path = "shop-app.yaml"
namespace = "shop"
[[manifest]]
cluster = "west"
path = "{link_file}"
"#
    )
}

/// Runs the corpus with `link_file` in west; returns west's and east's objects at the end.
fn run_corpus(
    link_file: &str,
) -> (
    mcsim::report::Report,
    Vec<serde_json::Value>,
    Vec<serde_json::Value>,
) {
    let file = corpus().join("corpus.toml");
    let s = load_str(file.to_str().unwrap(), &scenario(link_file))
        .unwrap_or_else(|d| panic!("{link_file}: {d}"));
    let r = run(
        Arc::new(s),
        &RunOptions {
            dump: true,
            ..RunOptions::default()
        },
    )
    .unwrap_or_else(|e| panic!("{link_file}: {e}"));
    let items = |cluster: &str| -> Vec<serde_json::Value> {
        let d = r.dumps.iter().find(|d| d.cluster == cluster).unwrap();
        let list: serde_json::Value = serde_json::from_str(&d.json).unwrap();
        list["items"].as_array().unwrap().clone()
    };
    let (west, east) = (items("west"), items("east"));
    (r.report, west, east)
}

fn find<'a>(
    items: &'a [serde_json::Value],
    kind: &str,
    namespace: &str,
    name: &str,
) -> Option<&'a serde_json::Value> {
    items.iter().find(|o| {
        o["kind"] == kind
            && o["metadata"]["name"] == name
            && o["metadata"]["namespace"].as_str().unwrap_or("") == namespace
    })
}

#[test]
fn every_link_gen_version_starts_a_mirror_of_the_exported_services() {
    for version in ["v1alpha1", "v1alpha2", "v1alpha3"] {
        let (report, west, east) = run_corpus(&format!("link-gen-{version}.yaml"));
        let ctx = format!(
            "{version} ({:?}, failed {:?})",
            report.verdict,
            report.failed_checks()
        );
        // East holds what the manifests applied: typed and opaque objects, namespace-less
        // ones in the namespace they were applied to.
        for (kind, ns, name) in [
            ("Service", "default", "nginx"),
            ("StatefulSet", "default", "web"),
            ("ServiceAccount", "shop", "frontend"),
            ("Role", "shop", "frontend-config-reader"),
            ("RoleBinding", "shop", "frontend-config-reader"),
            ("ClusterRole", "", "shop-frontend-node-reader"),
            ("ClusterRoleBinding", "", "shop-frontend-node-reader"),
            ("ConfigMap", "shop", "frontend-config"),
            ("Deployment", "shop", "frontend"),
            ("PodDisruptionBudget", "shop", "frontend"),
            ("HorizontalPodAutoscaler", "shop", "frontend"),
            ("NetworkPolicy", "shop", "frontend-ingress"),
        ] {
            assert!(
                find(&east, kind, ns, name).is_some(),
                "{ctx}: east lacks {kind} {ns}/{name}"
            );
        }
        let pods = east
            .iter()
            .filter(|o| o["kind"] == "Pod" && o["metadata"]["namespace"] == "shop")
            .count();
        assert_eq!(pods, 3, "{ctx}: the frontend Deployment's pods");
        // West stored the Link at the storage version, with the CRD's defaults.
        let link = find(&west, "Link", "linkerd-multicluster", "east")
            .unwrap_or_else(|| panic!("{ctx}: no Link in west"));
        assert_eq!(
            link["apiVersion"], "multicluster.linkerd.io/v1alpha3",
            "{ctx}"
        );
        assert_eq!(link["spec"]["probeSpec"]["timeout"], "30s", "{ctx}");
        assert_eq!(link["spec"]["probeSpec"]["failureThreshold"], "3", "{ctx}");
        // The controller the Link starts mirrored both exported Services, with endpoints at
        // east's gateway.
        for (ns, name) in [("default", "nginx-east"), ("shop", "frontend-east")] {
            let svc = find(&west, "Service", ns, name)
                .unwrap_or_else(|| panic!("{ctx}: west lacks mirror {ns}/{name}"));
            assert_eq!(
                svc["metadata"]["labels"]["mirror.linkerd.io/cluster-name"], "east",
                "{ctx}"
            );
            let ep = find(&west, "Endpoints", ns, name)
                .unwrap_or_else(|| panic!("{ctx}: west lacks Endpoints {ns}/{name}"));
            assert_eq!(
                ep["subsets"][0]["addresses"][0]["ip"], "203.0.113.2",
                "{ctx}: {ep}"
            );
        }
        // Nothing else was exported.
        let mirrors = west
            .iter()
            .filter(|o| {
                o["kind"] == "Service"
                    && o["metadata"]["labels"]["mirror.linkerd.io/mirrored-service"] == "true"
            })
            .count();
        assert_eq!(mirrors, 2, "{ctx}");
    }
}

/// Without the Link (only its credentials), nothing is mirrored: the mirrors above come from
/// the manifest's Link, not from anything else in the corpus.
#[test]
fn credentials_without_a_link_mirror_nothing() {
    let dir = std::env::temp_dir().join(format!("mcsim-corpus-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let text = std::fs::read_to_string(corpus().join("link-gen-v1alpha3.yaml")).unwrap();
    let secrets_only = text
        .split("\n---\napiVersion: multicluster.linkerd.io")
        .next()
        .unwrap();
    let path = dir.join("secrets.yaml");
    std::fs::write(&path, secrets_only).unwrap();
    let (_, west, _) = run_corpus(path.to_str().unwrap());
    assert!(
        find(
            &west,
            "Secret",
            "linkerd-multicluster",
            "cluster-credentials-east"
        )
        .is_some()
    );
    assert!(find(&west, "Link", "linkerd-multicluster", "east").is_none());
    assert!(find(&west, "Service", "shop", "frontend-east").is_none());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Bad manifests as data: every file in `tests/bad_manifests/` starts with
/// `# expect: LINE:COL: MESSAGE-PREFIX` (and, optionally, `# namespace: NS` for the entry's
/// `namespace`). Applied to west by a scenario with clusters west and east, `mcsim check` and
/// `mcsim run` must exit with code 2 and name `MANIFEST:LINE:COL: MESSAGE...` on the first line.
#[test]
fn every_bad_manifest_is_rejected_with_file_line_column_and_exit_code_2() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad_manifests");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 8, "expected the bad-manifest corpus");
    let tmp = std::env::temp_dir().join(format!("mcsim-bad-manifests-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let mut failures = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let mut lines = text.lines();
        let expect = lines
            .next()
            .and_then(|l| l.strip_prefix("# expect: "))
            .unwrap_or_else(|| panic!("{} lacks an `# expect:` header", file.display()));
        let namespace = lines
            .next()
            .and_then(|l| l.strip_prefix("# namespace: "))
            .map(|n| format!("namespace = \"{n}\"\n"))
            .unwrap_or_default();
        let scenario = tmp.join("s.toml");
        std::fs::write(
            &scenario,
            format!(
                "[sim]\nname = \"bad-manifest\"\nduration = \"1m\"\n[[cluster]]\nname = \"west\"\n[[cluster]]\nname = \"east\"\n[[manifest]]\ncluster = \"west\"\npath = \"{}\"\n{namespace}",
                file.display()
            ),
        )
        .unwrap();
        for command in ["check", "run"] {
            let out = std::process::Command::new(env!("CARGO_BIN_EXE_mcsim"))
                .arg(command)
                .arg(&scenario)
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            let first = stderr.lines().next().unwrap_or("");
            let wanted = format!("{}:{}", file.display(), expect);
            if out.status.code() != Some(2)
                || !first.contains(&wanted)
                || stderr.contains("panicked")
            {
                failures.push(format!(
                    "{} {}: exit {:?}\n  wanted: {wanted}\n  got:    {first}",
                    command,
                    file.file_name().unwrap().to_string_lossy(),
                    out.status.code()
                ));
            }
        }
    }
    let _ = std::fs::remove_dir_all(&tmp);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Every object a dump holds is one a real API server would accept: each cluster's `--dump`
/// passes strict field validation against the vendored Kubernetes v1.33 schema and the Link
/// CRD (required fields included: a Link status condition without `message` is refused).
#[test]
fn dumps_validate_against_the_schemas() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for file in [
        "scenarios/federated.toml",
        "scenarios/headless-statefulset.toml",
        "scenarios/remote-discovery.toml",
    ] {
        let s = mcsim::scenario::load_file(&root.join(file)).unwrap();
        let r = run(
            Arc::new(s),
            &RunOptions {
                dump: true,
                ..RunOptions::default()
            },
        )
        .unwrap();
        assert!(!r.dumps.is_empty());
        assert!(
            r.dumps.iter().any(|d| d.json.contains("\"kind\": \"Pod\"")),
            "{file}: pods to check"
        );
        for d in &r.dumps {
            if let Err(errors) = mcsim::k8s::manifest::load(&d.yaml) {
                let all: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
                panic!("{file}: dump of {}:\n{}", d.cluster, all.join("\n"));
            }
            let list: serde_json::Value = serde_json::from_str(&d.json).unwrap();
            let missing = pods_without_service_account(list["items"].as_array().unwrap());
            assert!(missing.is_empty(), "{file}: {}: {missing:?}", d.cluster);
        }
    }
    // The corpus too, opaque objects included.
    let (_, west, east) = run_corpus("link-gen-v1alpha3.yaml");
    for items in [west, east] {
        let missing = pods_without_service_account(&items);
        assert!(missing.is_empty(), "corpus: {missing:?}");
        let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items});
        if let Err(errors) = mcsim::k8s::manifest::load(&list.to_string()) {
            panic!("corpus: {}", errors[0]);
        }
    }
}

/// Pods (`namespace/name -> serviceAccountName`) whose ServiceAccount is not in `items`: the
/// API server's ServiceAccount admission refuses such a pod (an empty name means `default`).
fn pods_without_service_account(items: &[serde_json::Value]) -> Vec<String> {
    let ns = |o: &serde_json::Value| {
        o["metadata"]["namespace"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    let accounts: std::collections::BTreeSet<(String, String)> = items
        .iter()
        .filter(|o| o["kind"] == "ServiceAccount")
        .map(|o| (ns(o), o["metadata"]["name"].as_str().unwrap().to_string()))
        .collect();
    items
        .iter()
        .filter(|o| o["kind"] == "Pod")
        .filter_map(|p| {
            let sa = p["spec"]["serviceAccountName"]
                .as_str()
                .unwrap_or("default");
            (!accounts.contains(&(ns(p), sa.to_string()))).then(|| {
                format!(
                    "{}/{} -> {sa}",
                    ns(p),
                    p["metadata"]["name"].as_str().unwrap_or("")
                )
            })
        })
        .collect()
}
