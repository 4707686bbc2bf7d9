//! Bad scenarios as data: every file in `tests/bad_scenarios/` starts with
//! `# expect: LINE:COL: MESSAGE-PREFIX`. `mcsim check` must exit with code 2 and print
//! `FILE:LINE:COL: MESSAGE...` as its first line, without a panic or a debug dump.

use std::path::Path;
use std::process::Command;

#[test]
fn every_bad_scenario_is_rejected_with_file_line_column_and_exit_code_2() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad_scenarios");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(
        files.len() >= 10,
        "expected the bad-scenario corpus, found {} files",
        files.len()
    );
    let mut failures = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let expect = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# expect: "))
            .unwrap_or_else(|| panic!("{} lacks an `# expect:` header", file.display()));
        for command in ["check", "run"] {
            let out = Command::new(env!("CARGO_BIN_EXE_mcsim"))
                .arg(command)
                .arg(file)
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            let first = stderr.lines().next().unwrap_or("");
            let wanted = format!("{}:{}", file.display(), expect);
            if out.status.code() != Some(2)
                || !first.starts_with(&wanted)
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
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
