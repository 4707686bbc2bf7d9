//! `mcsim import` and the README's "Your own mesh" walkthrough, run with the binary:
//! snapshots (`tests/manifests/snapshot-*.yaml`, `k8s::sample_snapshot` output) and `link-gen`
//! output → a scenario → a partition run with `--dump` → importing the dumps gives the same
//! scenario, byte for byte.

use mcsim::k8s::sample_snapshot::SampleSnapshot;
use std::path::{Path, PathBuf};
use std::process::Command;

fn corpus(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/manifests")
        .join(file)
}

fn east() -> SampleSnapshot<'static> {
    SampleSnapshot {
        cluster: "east",
        services: 8,
        namespaces: 2,
        export_every: 2,
        pod_net: [10, 244],
        linked: "west",
    }
}

fn west() -> SampleSnapshot<'static> {
    SampleSnapshot {
        cluster: "west",
        services: 3,
        namespaces: 2,
        export_every: 0,
        pod_net: [10, 245],
        linked: "east",
    }
}

/// Runs `mcsim ARGS` in `dir`: (exit code, stdout, stderr).
fn mcsim(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_mcsim"))
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mcsim-import-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The corpus' snapshots are the generator's output (regenerate them with
/// `MCSIM_WRITE_SNAPSHOTS=1 cargo test --release --test import`).
#[test]
fn the_corpus_snapshots_are_the_generators_output() {
    for (file, s) in [
        ("snapshot-east.yaml", east()),
        ("snapshot-west.yaml", west()),
    ] {
        if std::env::var_os("MCSIM_WRITE_SNAPSHOTS").is_some() {
            std::fs::write(corpus(file), s.yaml()).unwrap();
        }
        let committed = std::fs::read_to_string(corpus(file)).unwrap();
        assert!(
            committed == s.yaml(),
            "{file} differs from the generator's output"
        );
    }
}

/// The README's walkthrough: import, add a partition, run; then the round trip.
#[test]
fn import_run_dump_import_gives_the_same_scenario() {
    let dir = tmp("walkthrough");
    for (from, to) in [
        ("snapshot-east.yaml", "east.yaml"),
        ("snapshot-west.yaml", "west.yaml"),
        ("link-gen-v1alpha3.yaml", "link-east.yaml"),
    ] {
        std::fs::copy(corpus(from), dir.join(to)).unwrap();
    }
    let (code, _, err) = mcsim(
        &dir,
        &[
            "import",
            "--cluster",
            "west=west.yaml",
            "--cluster",
            "east=east.yaml",
            "--link",
            "west=link-east.yaml",
            "-o",
            "mesh.toml",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let imported = std::fs::read_to_string(dir.join("mesh.toml")).unwrap();
    // Four of east's eight services are exported (svc-000, -002, -004, -006), each with a flow
    // from west to its mirror.
    for svc in ["svc-000", "svc-002", "svc-004", "svc-006"] {
        assert!(
            imported.contains(&format!("to = \"{svc}-east.team-0.svc.cluster.local:80\"")),
            "{svc}: {imported}"
        );
    }
    assert_eq!(imported.matches("[[traffic]]").count(), 4, "{imported}");
    assert!(imported.contains("snapshot = \"east.yaml\""), "{imported}");
    assert!(
        imported.contains("pod_cidr = \"10.244.0.0/16\""),
        "{imported}"
    );
    assert!(
        imported.contains("service_cidr = \"10.96.0.0/16\""),
        "{imported}"
    );
    assert!(
        imported.contains("[[link]]\nfrom = \"west\"\nto = \"east\""),
        "{imported}"
    );
    // Without `west=`, the Link goes to the one cluster that is not its target.
    let (code, again, err) = mcsim(
        &dir,
        &[
            "import",
            "--cluster",
            "west=west.yaml",
            "--cluster",
            "east=east.yaml",
            "--link",
            "link-east.yaml",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(again, imported);

    let mut with_partition = imported.clone();
    with_partition.push_str(
        "\n[[fault]]\nat = \"1m\"\nfor = \"30s\"\npartition = [[\"west\"], [\"east\"]]\n",
    );
    std::fs::write(dir.join("mesh.toml"), &with_partition).unwrap();
    let (code, out, err) = mcsim(&dir, &["run", "mesh.toml", "--dump", "out"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("verdict: PASS"), "{out}");

    // The dumps import as the same scenario.
    let dumps = dir.join("out");
    let (code, from_dumps, err) = mcsim(
        &dumps,
        &[
            "import",
            "--cluster",
            "west=west.yaml",
            "--cluster",
            "east=east.yaml",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        from_dumps == imported,
        "import of the dumps differs:\n--- first\n{imported}\n--- from the dumps\n{from_dumps}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Bad input: a Link to a cluster that was not imported, an unreadable snapshot, a bad field.
#[test]
fn import_refuses_bad_input_with_file_line_column() {
    let dir = tmp("bad");
    std::fs::copy(corpus("snapshot-east.yaml"), dir.join("east.yaml")).unwrap();
    std::fs::copy(corpus("link-gen-v1alpha3.yaml"), dir.join("link.yaml")).unwrap();
    let (code, _, err) = mcsim(
        &dir,
        &[
            "import",
            "--cluster",
            "west=east.yaml",
            "--link",
            "link.yaml",
        ],
    );
    assert_eq!(code, 2);
    assert!(
        err.starts_with("link.yaml:27:1: Link east: targetClusterName \"east\" names no --cluster"),
        "{err}"
    );
    let (code, _, err) = mcsim(&dir, &["import", "--cluster", "east=nope.yaml"]);
    assert_eq!(code, 2);
    assert!(err.starts_with("nope.yaml:1:1: cannot read it"), "{err}");
    let text = std::fs::read_to_string(dir.join("east.yaml")).unwrap();
    std::fs::write(
        dir.join("typo.yaml"),
        text.replacen("    sessionAffinity: None", "    sessionAfinity: None", 1),
    )
    .unwrap();
    let (code, _, err) = mcsim(&dir, &["import", "--cluster", "east=typo.yaml"]);
    assert_eq!(code, 2);
    assert!(err.starts_with("typo.yaml:"), "{err}");
    assert!(
        err.contains("unknown field \"spec.sessionAfinity\""),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
