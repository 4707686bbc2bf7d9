//! The HTML report of `scenarios/partition.toml` rendered by a real headless Chromium: the DOM
//! after the page's script ran shows that every chart series drew a line of non-zero length
//! (measured by the browser's own SVG geometry, `getTotalLength`), and that the checks table
//! is there. `.ci/run` installs Chromium from the distribution's packages and sets
//! `MCSIM_REQUIRE_BROWSER=1`; without a browser the test fails in CI (`CI` or
//! `MCSIM_REQUIRE_BROWSER` set) and is skipped loudly elsewhere. `MCSIM_CHROMIUM` names the
//! browser binary when it is not on the PATH as `chromium`, `chromium-browser`,
//! `google-chrome` or `google-chrome-stable`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// A Chromium that starts (`--version` succeeds: Ubuntu's `chromium-browser` snap stub does not
/// without snapd).
fn chromium() -> Option<PathBuf> {
    let candidates: Vec<PathBuf> = std::env::var_os("MCSIM_CHROMIUM")
        .map(PathBuf::from)
        .into_iter()
        .chain(
            [
                "chromium",
                "chromium-browser",
                "google-chrome",
                "google-chrome-stable",
            ]
            .iter()
            .map(PathBuf::from),
        )
        .collect();
    candidates.into_iter().find(|c| {
        Command::new(c)
            .arg("--version")
            .stdin(Stdio::null())
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

fn browser_required() -> bool {
    let set = |k: &str| std::env::var(k).is_ok_and(|v| !v.is_empty() && v != "0" && v != "false");
    set("CI") || set("MCSIM_REQUIRE_BROWSER")
}

/// Runs Chromium headless on `page` with `args`, killing it after a minute.
fn headless(browser: &Path, profile: &Path, args: &[&str], page: &Path) -> std::process::Output {
    let child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start chromium");
    let id = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(out) => out.expect("chromium output"),
        Err(_) => {
            let _ = Command::new("kill").arg("-9").arg(id.to_string()).status();
            panic!("chromium did not finish within a minute");
        }
    }
}

#[test]
fn the_partition_report_draws_its_charts_in_chromium() {
    let Some(browser) = chromium() else {
        if browser_required() {
            panic!(
                "no headless Chromium found (chromium, chromium-browser, google-chrome, MCSIM_CHROMIUM) and CI / MCSIM_REQUIRE_BROWSER asks for the browser test: install the distribution's chromium package (.ci/run does)"
            );
        }
        eprintln!(
            "\n\n!!! SKIPPED the_partition_report_draws_its_charts_in_chromium: no Chromium on this machine (apt-get install chromium); CI runs it !!!\n"
        );
        return;
    };
    let dir = std::env::temp_dir().join(format!("mcsim-browser-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let html = dir.join("partition.html");
    let status = Command::new(env!("CARGO_BIN_EXE_mcsim"))
        .args(["run", "scenarios/partition.toml", "--html"])
        .arg(&html)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(0));
    let source = std::fs::read_to_string(&html).unwrap();
    let out = headless(&browser, &dir.join("profile"), &["--dump-dom"], &html);
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && dom.contains("<main>"),
        "chromium failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    // The attributes the script writes exist only in the rendered DOM.
    assert!(!source.contains("data-rendered-length=\""));
    let series_in_source = source.matches("<path class=\"series").count();
    assert!(series_in_source >= 12, "{series_in_source} series");
    let lengths: Vec<f64> = dom
        .split("data-rendered-length=\"")
        .skip(1)
        .map(|s| s.split('"').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(lengths.len(), series_in_source, "every series measured");
    assert!(
        lengths.iter().all(|l| *l > 100.0),
        "a series drew (almost) nothing: {lengths:?}"
    );
    let drawn: usize = dom
        .split("data-series-drawn=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .and_then(|s| s.parse().ok())
        .expect("the script ran");
    assert_eq!(drawn, series_in_source);
    // Per chart: its series drew, and its points are there.
    for id in [
        "success-west-east",
        "latency-west-north",
        "gateway-west-east",
    ] {
        let at = dom.find(&format!("id=\"{id}\"")).unwrap();
        let chart = &dom[at..at + dom[at..].find("</svg>").unwrap()];
        assert!(chart.contains("data-rendered-length=\""), "{id}");
        assert!(!chart.contains("data-points=\"0\""), "{id}");
    }
    // The checks table, with every check.
    assert!(dom.contains("<table id=\"checks-table\">"));
    assert!(dom.matches("<tr id=\"check-").count() >= 5);
    let _ = std::fs::remove_dir_all(&dir);
}
