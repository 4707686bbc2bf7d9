//! `[[action]] apply`: `kubectl apply -f` during a run. West applies east's `link-gen` output at
//! 20 s (the Link starts its service mirror), east's owner applies the `web` Service again with a
//! `tier` label at 40 s (an update: the ClusterIP and uid stay, the resourceVersion moves), and
//! west applies the Link again at 70 s with a selector for the web tier only (a Link spec change
//! the running mirror picks up: `api-east` goes, `web-east` stays).

use mcsim::run::{RunOptions, run};
use mcsim::scenario::load_str;
use mcsim::sim::SimDuration;
use std::path::Path;
use std::sync::Arc;

const SCENARIO: &str = r#"[sim]
name = "apply"
duration = "4m"
[[cluster]]
name = "west"
[[cluster]]
name = "east"
[[service]]
cluster = "east"
name = "web"
ports = [{ name = "http", port = 80 }]
exported = true
[[service]]
cluster = "east"
name = "api"
ports = [{ name = "http", port = 80 }]
exported = true
[[action]]
at = "20s"
cluster = "west"
apply = "link-gen-v1alpha3.yaml"
[[action]]
at = "40s"
cluster = "east"
apply = "web-service-tier.yaml"
[[action]]
at = "70s"
cluster = "west"
apply = "link-east-tier-web.yaml"
"#;

fn file() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/manifests/apply.toml")
        .display()
        .to_string()
}

/// West's and east's objects after running until `until`, and the report.
fn run_until(
    until: Option<SimDuration>,
) -> (
    mcsim::report::Report,
    Vec<serde_json::Value>,
    Vec<serde_json::Value>,
) {
    let s = load_str(&file(), SCENARIO).unwrap_or_else(|d| panic!("{d}"));
    let r = run(
        Arc::new(s),
        &RunOptions {
            dump: true,
            until,
            ..RunOptions::default()
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let items = |c: &str| -> Vec<serde_json::Value> {
        let d = r.dumps.iter().find(|d| d.cluster == c).unwrap();
        let v: serde_json::Value = serde_json::from_str(&d.json).unwrap();
        v["items"].as_array().unwrap().clone()
    };
    let (west, east) = (items("west"), items("east"));
    (r.report, west, east)
}

fn find<'a>(
    items: &'a [serde_json::Value],
    kind: &str,
    ns: &str,
    name: &str,
) -> Option<&'a serde_json::Value> {
    items.iter().find(|o| {
        o["kind"] == kind
            && o["metadata"]["name"] == name
            && o["metadata"]["namespace"].as_str().unwrap_or("") == ns
    })
}

#[test]
fn applied_objects_are_created_updated_and_reach_the_running_mirror() {
    // Before the first apply: no Link, no mirror.
    let (_, west, east) = run_until(Some(SimDuration::from_secs(15)));
    assert!(find(&west, "Link", "linkerd-multicluster", "east").is_none());
    assert!(find(&west, "Service", "default", "web-east").is_none());
    let web_before = find(&east, "Service", "default", "web").unwrap().clone();

    // After the Link and the Service apply, before the Link update: both mirrored.
    let (_, west, east) = run_until(Some(SimDuration::from_secs(60)));
    assert!(find(&west, "Link", "linkerd-multicluster", "east").is_some());
    for name in ["web-east", "api-east"] {
        assert!(
            find(&west, "Service", "default", name).is_some(),
            "{name} mirrored once the Link is applied"
        );
    }
    let web = find(&east, "Service", "default", "web").unwrap();
    assert_eq!(web["metadata"]["labels"]["tier"], "web");
    assert_eq!(web["metadata"]["uid"], web_before["metadata"]["uid"]);
    assert_eq!(web["spec"]["clusterIP"], web_before["spec"]["clusterIP"]);
    let rv = |o: &serde_json::Value| {
        o["metadata"]["resourceVersion"]
            .as_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
    };
    assert!(rv(web) > rv(&web_before));

    // The Link update reaches the running mirror: only the web tier stays mirrored.
    let (report, west, _) = run_until(None);
    let ctx = mcsim::report::text::render(&report);
    assert_eq!(report.verdict, mcsim::report::Verdict::Pass, "{ctx}");
    let link = find(&west, "Link", "linkerd-multicluster", "east").unwrap();
    assert_eq!(link["spec"]["selector"]["matchLabels"]["tier"], "web");
    assert!(
        find(&west, "Service", "default", "web-east").is_some(),
        "{ctx}"
    );
    assert!(
        find(&west, "Service", "default", "api-east").is_none(),
        "{ctx}"
    );
}

/// An `apply` file is checked when the scenario loads: strict fields, `file:line:col`.
#[test]
fn a_bad_apply_file_is_refused_at_load() {
    let dir = std::env::temp_dir().join(format!("mcsim-apply-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("bad.yaml"),
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  ports:\n  - port: 80\n    protocl: TCP\n",
    )
    .unwrap();
    let text = "[sim]\nname = \"x\"\nduration = \"1m\"\n[[cluster]]\nname = \"east\"\n[[action]]\nat = \"10s\"\ncluster = \"east\"\napply = \"bad.yaml\"\n";
    let d = load_str(dir.join("s.toml").to_str().unwrap(), text).unwrap_err();
    let first = d.to_string();
    assert!(
        first.starts_with(&format!(
            "{}:8:5: document 1: unknown field \"spec.ports[0].protocl\"",
            dir.join("bad.yaml").display()
        )),
        "{first}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
