//! Link lifecycle at world level (spec §9.4): `unlink` removes the link's Link, credentials,
//! probe Service and mirrors and leaves the other link alone; deleting only the Link leaves the
//! mirrors behind, as Linkerd does, and the convergence check reports them as orphans.

use mcsim::run::{RunOptions, run};
use mcsim::scenario::load_str;
use std::sync::Arc;

/// What a run leaves in the source cluster `west`.
struct West {
    report: mcsim::report::Report,
    /// Its objects at the end, as `kubectl get -o json` items.
    items: Vec<serde_json::Value>,
    /// Each service mirror's log, by component (`service-mirror-<link>`, `local-service-mirror`).
    logs: Vec<(String, String)>,
}

impl West {
    fn log(&self, link: &str) -> &str {
        self.component_log(&format!("service-mirror-{link}"))
    }

    fn component_log(&self, component: &str) -> &str {
        let (_, log) = self.logs.iter().find(|(c, _)| c == component).unwrap();
        log
    }
}

fn run_west(text: &str) -> West {
    run_west_until(text, None)
}

/// Runs `text`, stopping at `until` if given (`--until`).
fn run_west_until(text: &str, until: Option<mcsim::sim::SimDuration>) -> West {
    let s = Arc::new(load_str("link.toml", text).unwrap());
    let r = run(
        s,
        &RunOptions {
            dump: true,
            until,
            ..RunOptions::default()
        },
    )
    .unwrap();
    let west = r.dumps.into_iter().find(|d| d.cluster == "west").unwrap();
    let list: serde_json::Value = serde_json::from_str(&west.json).unwrap();
    West {
        report: r.report,
        items: list["items"].as_array().unwrap().clone(),
        logs: west.logs,
    }
}

fn named<'a>(
    items: &'a [serde_json::Value],
    kind: &str,
    name: &str,
) -> Option<&'a serde_json::Value> {
    items
        .iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
}

fn mirrors_of<'a>(items: &'a [serde_json::Value], cluster: &str) -> Vec<&'a serde_json::Value> {
    items
        .iter()
        .filter(|o| {
            let labels = &o["metadata"]["labels"];
            labels["mirror.linkerd.io/cluster-name"] == cluster
                && labels["mirror.linkerd.io/mirrored-service"] == "true"
        })
        .collect()
}

#[test]
fn unlink_removes_the_links_objects_and_mirrors_only() {
    let text = std::fs::read_to_string("scenarios/unlink.toml").unwrap();
    let West { report, items, .. } = run_west(&text);
    assert!(report.passed(), "{:?}", report.failed_checks());
    assert!(named(&items, "Link", "east").is_none());
    assert!(named(&items, "Secret", "cluster-credentials-east").is_none());
    assert!(named(&items, "Service", "probe-east").is_none());
    assert!(
        mirrors_of(&items, "east").is_empty(),
        "{:?}",
        mirrors_of(&items, "east")
    );
    // North's link and its mirror are untouched.
    assert!(named(&items, "Link", "north").is_some());
    assert!(named(&items, "Service", "api-north").is_some());
    assert!(named(&items, "Endpoints", "api-north").is_some());
}

#[test]
fn deleting_only_the_link_leaves_orphans_that_convergence_reports() {
    let text = std::fs::read_to_string("scenarios/unlink.toml")
        .unwrap()
        .replace("unlink = \"east\"", "delete_link = \"east\"");
    let West { report, items, .. } = run_west(&text);
    assert!(named(&items, "Link", "east").is_none());
    // Linkerd leaves every mirror in place ("the unlink command will take care of that").
    assert!(named(&items, "Service", "web-east").is_some());
    assert!(named(&items, "Service", "db-0-east").is_some());
    let convergence = report
        .checks
        .iter()
        .find(|c| c.name == "convergence")
        .unwrap();
    assert!(!convergence.passed);
    assert!(
        convergence.detail.contains("default/web-east is an orphan"),
        "{}",
        convergence.detail
    );
}

/// Spec §9.3: without its credentials Secret the controller cannot build a client for the
/// target; it logs it and retries the Link every 10 s, so nothing is mirrored for that link while
/// the other link works.
#[test]
fn a_link_without_credentials_retries_every_ten_seconds() {
    let text = std::fs::read_to_string("scenarios/unlink.toml")
        .unwrap()
        .replace(
            "to = \"east\"\nheadless = true",
            "to = \"east\"\nheadless = true\ncredentials = false",
        )
        .replace(
            "[[action]]\nat = \"2m\"\ncluster = \"west\"\nunlink = \"east\"\n",
            "",
        );
    assert!(text.contains("credentials = false") && !text.contains("unlink = "));
    let west = run_west(&text);
    let east = west.log("east");
    let retries = east.matches("cannot load credentials").count();
    // 4 simulated minutes: about 24 attempts, one every 10 s.
    assert!((20..=25).contains(&retries), "{retries} retries:\n{east}");
    assert!(!east.contains("cluster watcher for east started"), "{east}");
    assert!(
        west.log("north")
            .contains("cluster watcher for north started")
    );
    assert!(mirrors_of(&west.items, "east").is_empty());
    assert!(named(&west.items, "Service", "api-north").is_some());
    assert!(west.report.failed_checks().contains(&"convergence"));
}

const SELECTOR_CHANGE: &str = r#"
[sim]
name = "selector"
duration = "3m"
quiet_period = "1m"
[[cluster]]
name = "west"
[[cluster]]
name = "east"
[[link]]
from = "west"
to = "east"
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
at = "30s"
cluster = "east"
label = { service = "web", key = "tier", value = "web" }
[[action]]
at = "60s"
cluster = "west"
link_selector = { link = "east", selector = "mirror.linkerd.io/exported=true,tier=web" }
[checks]
converged_within = "60s"
"#;

/// Spec §9.4: a Link *spec* change restarts the watcher, and the startup replay unexports the
/// services the new selector no longer selects; the controller's own status writes (one per
/// mirrored service) never restart it.
#[test]
fn a_link_spec_change_restarts_the_watcher_and_status_writes_do_not() {
    let changed = run_west(SELECTOR_CHANGE);
    assert!(
        changed.report.passed(),
        "{:?}",
        changed.report.failed_checks()
    );
    let log = changed.log("east");
    assert_eq!(
        log.matches("cluster watcher for east started").count(),
        2,
        "{log}"
    );
    assert!(named(&changed.items, "Service", "web-east").is_some());
    assert!(named(&changed.items, "Service", "api-east").is_none());
    // Without the spec change: one start, although the Link's status was written many times.
    let unchanged = SELECTOR_CHANGE.replace(
        "link_selector = { link = \"east\", selector = \"mirror.linkerd.io/exported=true,tier=web\" }",
        "label = { service = \"api\", key = \"tier\", value = \"api\" }",
    );
    assert_ne!(unchanged, SELECTOR_CHANGE);
    let unchanged = run_west(&unchanged);
    assert!(
        unchanged.report.passed(),
        "{:?}",
        unchanged.report.failed_checks()
    );
    let log = unchanged.log("east");
    assert_eq!(
        log.matches("cluster watcher for east started").count(),
        1,
        "{log}"
    );
    let link = named(&unchanged.items, "Link", "east").unwrap();
    assert!(
        link["status"]["mirrorServices"].as_array().unwrap().len() >= 2,
        "the status was written: {link}"
    );
    assert!(named(&unchanged.items, "Service", "api-east").is_some());
}

/// `[[link]] at` and the `link` action (spec §2.3): the controller waits for its Link, mirrors
/// from the moment link-gen's output is applied, and a link applied again after an unlink comes
/// back whole.
#[test]
fn a_link_made_later_mirrors_from_then_on_and_can_be_made_again() {
    let text = std::fs::read_to_string("scenarios/link-later.toml").unwrap();
    let west = run_west(&text);
    assert!(west.report.passed(), "{:?}", west.report.failed_checks());
    let log = west.log("east");
    let starts: Vec<f64> = log
        .lines()
        .filter(|l| l.ends_with("cluster watcher for east started"))
        .filter_map(|l| l.strip_prefix("t=")?.split_once("s ")?.0.parse().ok())
        .collect();
    assert_eq!(starts.len(), 2, "{log}");
    assert!((60.0..61.0).contains(&starts[0]), "{log}");
    assert!((240.0..241.0).contains(&starts[1]), "{log}");
    // What is there at the end was made by the second `link`.
    let link = named(&west.items, "Link", "east").unwrap();
    assert_eq!(
        link["metadata"]["creationTimestamp"], "2026-01-01T00:04:00Z",
        "{link}"
    );
    for ns in ["linkerd-multicluster", "linkerd"] {
        assert!(
            west.items.iter().any(|o| o["kind"] == "Secret"
                && o["metadata"]["name"] == "cluster-credentials-east"
                && o["metadata"]["namespace"] == ns),
            "no credentials in {ns}"
        );
    }
    assert!(named(&west.items, "Service", "web-east").is_some());
    assert!(named(&west.items, "Service", "db-1-east").is_some());
    // The destination's cluster store follows the linkerd-namespace Secret: added with the
    // link, removed by the unlink, added again.
    assert_eq!(
        west.component_log("destination"),
        "t=60.000s cluster east added to the cluster store\n\
         t=180.000s cluster east removed from the cluster store\n\
         t=240.000s cluster east added to the cluster store\n"
    );
}

/// Before its Link exists the controller mirrors nothing: cut the run short of the `at`.
#[test]
fn before_its_link_is_made_nothing_is_mirrored() {
    let text = std::fs::read_to_string("scenarios/link-later.toml").unwrap();
    let west = run_west_until(&text, Some(mcsim::sim::SimDuration::from_secs(55)));
    // Stopped before the link is made: the run says it did not test the rest.
    assert_eq!(west.report.verdict, mcsim::report::Verdict::Inconclusive);
    assert!(
        west.report
            .unreached
            .iter()
            .any(|u| u.contains("link east")),
        "{:?}",
        west.report.unreached
    );
    assert!(named(&west.items, "Link", "east").is_none());
    assert!(mirrors_of(&west.items, "east").is_empty());
    assert!(
        !west.log("east").contains("started"),
        "{}",
        west.log("east")
    );
}

/// One answer to "which selectors are in force" (the live Link's): after a `link_selector`
/// action stops exporting a headless service, its per-pod names are no longer promised, so
/// `headless-dns` agrees with `convergence` (which expects its mirrors gone) instead of judging
/// the scenario's original selector.
#[test]
fn checks_judge_the_link_selector_in_force() {
    let text = r#"
[sim]
name = "headless-selector"
duration = "3m"
quiet_period = "1m"
[[cluster]]
name = "west"
[[cluster]]
name = "east"
[[link]]
from = "west"
to = "east"
headless = true
[[statefulset]]
cluster = "east"
name = "web"
replicas = 2
ports = [{ name = "http", port = 80 }]
exported = true
[[action]]
at = "60s"
cluster = "west"
link_selector = { link = "east", selector = "mirror.linkerd.io/exported=true,tier=web" }
[checks]
converged_within = "60s"
"#;
    let west = run_west(text);
    assert!(
        west.report.passed(),
        "{:?}",
        west.report
            .checks
            .iter()
            .filter(|c| c.failed())
            .map(|c| &c.detail)
            .collect::<Vec<_>>()
    );
    assert!(west.report.checks.iter().any(|c| c.name == "headless-dns"));
    assert!(named(&west.items, "Service", "web-east").is_none());
}
