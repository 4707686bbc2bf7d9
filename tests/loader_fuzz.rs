//! The scenario loader never panics (issue 7, "robust input"): thousands of mutants of every
//! scenario in the repository (bytes deleted, inserted, duplicated, lines swapped, files cut
//! short) are loaded; each must give a scenario or diagnostics that name a line and column.
//! Mutants that still load are built and run for a few simulated seconds, which must not panic
//! either. Mutations come from a seeded ChaCha stream, so a failure names its mutant exactly.

use mcsim::run::{RunOptions, run};
use mcsim::scenario::load_str;
use mcsim::sim::{Prng, SimDuration};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::Arc;

/// Fragments that make mutants look like plausible TOML rather than noise.
const FRAGMENTS: &[&str] = &[
    "[[fault]]\n",
    "[[service]]\n",
    "[sim]\n",
    " = ",
    "\"",
    "[",
    "]",
    "{",
    "}",
    ",",
    "\n",
    "-1",
    "0",
    "99999999999999999999",
    "\"0s\"",
    "\"-5m\"",
    "\"1/0\"",
    "\"1e308%\"",
    "\"\u{1F600}\"",
    "replicas = 4294967296",
    "at = \"1h\"",
    "for = \"0s\"",
    "partition = [[]]",
    "between = [\"west\", \"west\"]",
    "cluster = \"nowhere\"",
    "rate = \"0/s\"",
    "latency = \"999999h\"",
];

fn corpus() -> Vec<(String, String)> {
    let mut files = Vec::new();
    for dir in [
        "scenarios",
        "tests/bad_scenarios",
        "tests/breakages",
        "tests/fuzz",
    ] {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .collect();
        paths.sort();
        for p in paths {
            let text = std::fs::read_to_string(&p).unwrap();
            files.push((p.display().to_string(), text));
        }
    }
    files
}

fn mutate(text: &str, rng: &mut Prng) -> String {
    let mut bytes = text.as_bytes().to_vec();
    for _ in 0..rng.range_inclusive(1, 4) {
        let len = bytes.len() as u64;
        let at = if len == 0 { 0 } else { rng.below(len) as usize };
        match rng.below(6) {
            0 => {
                let n = (rng.range_inclusive(1, 40) as usize).min(bytes.len() - at);
                bytes.drain(at..at + n);
            }
            1 => {
                let f = FRAGMENTS[rng.below(FRAGMENTS.len() as u64) as usize];
                bytes.splice(at..at, f.bytes());
            }
            2 => {
                let n = (rng.range_inclusive(1, 200) as usize).min(bytes.len() - at);
                let copy: Vec<u8> = bytes[at..at + n].to_vec();
                bytes.splice(at..at, copy);
            }
            3 => bytes.truncate(at),
            4 => {
                // Swap two lines.
                let mut lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
                if lines.len() > 2 {
                    let a = rng.below(lines.len() as u64) as usize;
                    let b = rng.below(lines.len() as u64) as usize;
                    lines.swap(a, b);
                }
                bytes = lines.join(&b'\n');
            }
            _ => {
                if at < bytes.len() {
                    bytes[at] = rng.below(256) as u8;
                }
            }
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

#[test]
fn mutated_scenarios_never_panic_the_loader_or_the_world() {
    let files = corpus();
    assert!(files.len() > 30, "corpus too small: {}", files.len());
    let mut rng = Prng::stream(7, "loader-fuzz");
    let (mut loaded, mut rejected, mut ran) = (0, 0, 0);
    for i in 0..4000 {
        let (name, text) = &files[i % files.len()];
        let mutant = mutate(text, &mut rng);
        let result = catch_unwind(AssertUnwindSafe(|| load_str("mutant.toml", &mutant)));
        let Ok(result) = result else {
            panic!("mutant {i} of {name} panicked the loader:\n{mutant}");
        };
        match result {
            Ok(scenario) => {
                loaded += 1;
                // Run a sample of the survivors briefly: building and stepping must not panic.
                if loaded % 8 == 0 {
                    ran += 1;
                    let s = Arc::new(scenario);
                    let options = RunOptions {
                        until: Some(SimDuration::from_secs(5)),
                        ..RunOptions::default()
                    };
                    let r = catch_unwind(AssertUnwindSafe(|| run(s, &options).map(|_| ())));
                    assert!(
                        r.is_ok(),
                        "mutant {i} of {name} loads but panics the run:\n{mutant}"
                    );
                }
            }
            Err(diags) => {
                rejected += 1;
                let msg = diags.to_string();
                assert!(
                    msg.starts_with("mutant.toml:"),
                    "mutant {i} of {name}: a diagnostic without file:line:column: {msg}"
                );
            }
        }
    }
    // Both paths were exercised.
    assert!(
        loaded > 100 && rejected > 100 && ran > 10,
        "{loaded} loaded, {rejected} rejected, {ran} run"
    );
}
