//! The `mcsim` command line. `mcsim SCENARIO` is `mcsim run SCENARIO`.
//!
//! Exit codes (README "Exit codes"): 0 = every check held; 1 = a safety check failed; 2 = bad
//! input (scenario diagnostics, unreadable files, bad flags); 3 = a liveness check failed;
//! 4 = inconclusive (the run did not test what it claims: cut short, faults not reached or not
//! fired); 5 = an mcsim internal error (a panic: an mcsim bug). See [`crate::report::Verdict`].
//! The wall clock is read here only, to print how long a run took (on stderr, so reports are
//! byte-identical across runs); never inside a simulation.

use crate::quirks::Fix;
use crate::report::{self, Report};
use crate::run::{self, RunOptions};
use crate::scenario::{self, Diagnostics};
use crate::sim::SimDuration;
use clap::{Parser, Subcommand, ValueEnum};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Parser, Debug)]
#[command(name = "mcsim", version, about = "Deterministic simulator and test harness for Linkerd multi-cluster", long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a scenario and print its report (also: `mcsim SCENARIO`).
    Run(RunArgs),
    /// Validate a scenario without running it.
    Check {
        scenario: PathBuf,
        /// `json`: `{"file", "ok", "clusters", "links", "faults"}` or `{"file", "ok": false,
        /// "diagnostics": [{"file", "line", "column", "message"}]}` on stdout.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) to stdout.
    Completions { shell: clap_complete::Shell },
    /// Print the scenario's network as Graphviz DOT: clusters with their address blocks,
    /// networks, paths, flat networks, gateways and Links.
    Graph { scenario: PathBuf },
    /// Explore event orderings and swarm faults over many seeds.
    Fuzz(FuzzArgs),
    /// Merge the JSON summaries of `mcsim fuzz --shard i/N` runs into one.
    Merge {
        files: Vec<PathBuf>,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Write a starting scenario from cluster snapshots (`kubectl get namespaces,services,
    /// endpoints,endpointslices,statefulsets,deployments,pods,secrets -A -o yaml`) and Link
    /// manifests (`linkerd multicluster link-gen`). Paths are written as given: run it in the
    /// directory the scenario goes in.
    Import(ImportArgs),
    /// Run a case recorded by `mcsim fuzz` again and compare its trace hash.
    Replay {
        file: PathBuf,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
}

#[derive(clap::Args, Debug)]
pub struct ImportArgs {
    /// A cluster and its snapshot, `NAME=FILE` (repeatable; the scenario's cluster order).
    #[arg(long = "cluster", value_name = "NAME=FILE", required = true)]
    pub clusters: Vec<String>,
    /// A Link manifest, `[CLUSTER=]FILE`: CLUSTER is where it is applied (default: the one
    /// cluster that is not its target).
    #[arg(long = "link", value_name = "[CLUSTER=]FILE")]
    pub links: Vec<String>,
    /// The scenario's `[sim] name`.
    #[arg(long, default_value = "imported")]
    pub name: String,
    /// Write the scenario to FILE instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct FuzzArgs {
    pub scenario: PathBuf,
    /// Number of seeds to run.
    #[arg(long, default_value_t = 100)]
    pub seeds: u64,
    /// First seed.
    #[arg(long, default_value_t = 0)]
    pub start: u64,
    /// Parallel jobs (default: the number of cores).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Exploration mode; by default even seeds explore randomly and odd seeds with PCT.
    #[arg(long, value_enum)]
    pub mode: Option<ModeArg>,
    /// Run every seed twice and compare trace hashes (default: 1 seed in 20).
    #[arg(long)]
    pub check_determinism: bool,
    /// Only explore orderings: draw no swarm faults.
    #[arg(long)]
    pub no_swarm: bool,
    /// Switch on a named quirk fix (see QUIRKS.md); repeatable.
    #[arg(long = "fix", value_name = "NAME", value_parser = parse_fix)]
    pub fixes: Vec<Fix>,
    /// Run only shard I of N (0-based) of the seed range, e.g. `--shard 0/4`; merge the JSON
    /// summaries with `mcsim merge`.
    #[arg(long, value_parser = parse_shard)]
    pub shard: Option<(u64, u64)>,
    /// Do not shrink failing cases.
    #[arg(long)]
    pub no_shrink: bool,
    /// Runs each shrink may spend (one shrink per distinct failure signature).
    #[arg(long, default_value_t = 500)]
    pub shrink_budget: usize,
    /// Do not rerun failing cases under each named quirk fix to see which known quirks explain
    /// them.
    #[arg(long)]
    pub no_quirk_hints: bool,
    /// Directory for replay files of failing seeds.
    #[arg(long, default_value = "fuzz-out")]
    pub out: PathBuf,
    /// Write the summary as one self-contained HTML page (signatures, seeds, shrunk cases).
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Write the summary as JUnit XML (one test case per failure signature).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ModeArg {
    Random,
    Pct,
}

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    pub scenario: PathBuf,
    /// Seed for this run (overrides the scenario's `[sim] seed`).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Stop after this much virtual time (e.g. `90s`).
    #[arg(long, value_parser = parse_duration)]
    pub until: Option<SimDuration>,
    /// Write every delivered event as JSON Lines to FILE.
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,
    /// Write the run as a Chrome/Perfetto trace (open it in ui.perfetto.dev).
    #[arg(long, value_name = "FILE")]
    pub trace_perfetto: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Explore orderings like `mcsim fuzz` does (default: FIFO, the reference ordering).
    #[arg(long, value_enum)]
    pub explore: Option<ModeArg>,
    /// Switch on the intended behaviour for a Linkerd quirk (repeatable; see QUIRKS.md).
    #[arg(long = "fix", value_name = "NAME", value_parser = parse_fix)]
    pub fixes: Vec<Fix>,
    /// Write every cluster's objects at the end of the run to DIR/<cluster>.yaml and .json.
    #[arg(long, value_name = "DIR")]
    pub dump: Option<PathBuf>,
    /// Write the report as one self-contained HTML page with charts over time.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Write the checks as JUnit XML (one test case per check).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Write the service mirror's, gateway's and proxies' metrics, under Linkerd's names, as
    /// OpenMetrics text: samples over time and at the end.
    #[arg(long, value_name = "FILE")]
    pub metrics: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

fn parse_duration(s: &str) -> Result<SimDuration, String> {
    SimDuration::parse(s)
}

const SUBCOMMANDS: &[&str] = &[
    "run",
    "check",
    "graph",
    "fuzz",
    "replay",
    "merge",
    "completions",
    "help",
];

/// Inserts `run` when the first argument is a scenario path rather than a subcommand. A first
/// argument that is neither a subcommand nor something that looks like a file (it exists, or
/// has a `/` or an extension) is left alone, so that clap blames it as an unknown subcommand
/// ("did you mean `fuzz`?") instead of a scenario file that cannot be read.
pub fn normalize_args(mut args: Vec<String>) -> Vec<String> {
    if let Some(first) = args.get(1)
        && !first.starts_with('-')
        && !SUBCOMMANDS.contains(&first.as_str())
        && (Path::new(first).exists() || first.contains('/') || first.contains('.'))
    {
        args.insert(1, "run".into());
    }
    args
}

/// Exit code of bad input (scenario diagnostics, unreadable files, bad flags).
pub const EXIT_BAD_INPUT: u8 = 2;

/// Runs the command line; a panic outside a run (a run reports its own) is an mcsim internal
/// error (exit 5) rather than Rust's default exit code.
pub fn main_with_args(args: Vec<String>) -> ExitCode {
    crate::panics::catch(|| dispatch(args)).unwrap_or_else(|panic| {
        eprintln!(
            "mcsim: internal error (an mcsim bug, please report it with the command): {panic}"
        );
        ExitCode::from(crate::report::Verdict::InternalError.exit_code())
    })
}

fn dispatch(args: Vec<String>) -> ExitCode {
    let cli = match Cli::try_parse_from(normalize_args(args)) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(EXIT_BAD_INPUT)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match cli.command {
        Command::Run(args) => cmd_run(args),
        Command::Check { scenario, format } => cmd_check(&scenario, format),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            let mut command = Cli::command();
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut command, "mcsim", &mut script);
            out(&String::from_utf8_lossy(&script));
            ExitCode::SUCCESS
        }
        Command::Fuzz(args) => cmd_fuzz(args),
        Command::Replay { file, format } => cmd_replay(&file, format),
        Command::Import(args) => cmd_import(args),
        Command::Merge { files, format } => cmd_merge(&files, format),
        Command::Graph { scenario } => match load(&scenario) {
            Ok(s) => match crate::world::network::build(&s) {
                Ok(built) => {
                    out(&crate::world::network::to_dot(&s, &built));
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("{}: {e}", scenario.display());
                    ExitCode::from(EXIT_BAD_INPUT)
                }
            },
            Err(code) => code,
        },
    }
}

/// Why `mcsim check` refused a scenario.
enum Refusal {
    /// The file (or a manifest it names) is malformed: located diagnostics.
    Load(Diagnostics),
    /// The world cannot be built (an object the API server rejects, a fault that does not
    /// apply to the topology); the message names its own location where it has one.
    World(String),
}

/// `mcsim check`: everything `mcsim run` would refuse, without running.
fn cmd_check(path: &Path, format: Format) -> ExitCode {
    let file = path.display().to_string();
    let checked = scenario::load_file(path)
        .map_err(Refusal::Load)
        .and_then(|s| {
            let s = Arc::new(s);
            run::validate(&s).map(|()| s).map_err(Refusal::World)
        });
    if format == Format::Json {
        let value = match &checked {
            Ok(s) => serde_json::json!({
                "file": file, "ok": true, "clusters": s.clusters.len(),
                "links": s.links.len(), "faults": s.faults.len(),
            }),
            Err(Refusal::Load(d)) => serde_json::json!({
                "file": file, "ok": false,
                "diagnostics": d.0.iter().map(|x| serde_json::json!({
                    "file": x.file, "line": x.line, "column": x.column, "message": x.message,
                })).collect::<Vec<_>>(),
            }),
            Err(Refusal::World(e)) => serde_json::json!({
                "file": file, "ok": false,
                "diagnostics": [{ "file": file, "message": e }],
            }),
        };
        out(&format!(
            "{}\n",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        ));
    } else {
        match &checked {
            Ok(s) => out(&format!(
                "{file}: ok ({} clusters, {} links, {} faults)\n",
                s.clusters.len(),
                s.links.len(),
                s.faults.len()
            )),
            Err(Refusal::Load(d)) => eprint!("{}", render_diagnostics(d)),
            Err(Refusal::World(e)) => eprintln!("{file}: {e}"),
        }
    }
    match checked {
        Ok(_) => ExitCode::SUCCESS,
        Err(_) => ExitCode::from(EXIT_BAD_INPUT),
    }
}

fn load(path: &Path) -> Result<scenario::Scenario, ExitCode> {
    scenario::load_file(path).map_err(|d: Diagnostics| {
        eprint!("{}", render_diagnostics(&d));
        ExitCode::from(EXIT_BAD_INPUT)
    })
}

/// Each diagnostic's `file:line:col: message` line (what tools parse), then its source line with
/// a caret under the offending token.
pub fn render_diagnostics(d: &Diagnostics) -> String {
    let mut out = String::new();
    for diag in &d.0 {
        out.push_str(&format!("{diag}\n"));
        if let Ok(text) = std::fs::read_to_string(&diag.file)
            && let Some(snippet) = scenario::snippet(diag, &text)
        {
            out.push_str(&snippet);
            out.push('\n');
        }
    }
    out
}

fn cmd_run(args: RunArgs) -> ExitCode {
    let mut scenario = match load(&args.scenario) {
        Ok(s) => s,
        Err(code) => return code,
    };
    apply_fixes(&mut scenario, &args.fixes);
    let scenario = Arc::new(scenario);
    let options = RunOptions {
        seed: args.seed,
        until: args.until,
        record_trace: args.trace.is_some() || args.trace_perfetto.is_some(),
        dump: args.dump.is_some(),
        timeline: args.html.is_some() || args.metrics.is_some() || args.trace_perfetto.is_some(),
        exploration: match args.explore {
            None => crate::sim::Exploration::Fifo,
            Some(ModeArg::Random) => crate::sim::Exploration::Random,
            Some(ModeArg::Pct) => crate::sim::Exploration::Pct,
        },
        ..RunOptions::default()
    };
    #[allow(clippy::disallowed_types, clippy::disallowed_methods)] // wall clock: reporting only
    let started = std::time::Instant::now();
    let result = match run::run(scenario, &options) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{}: {e}", args.scenario.display());
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    };
    let wall = started.elapsed();
    if let Some(path) = &args.trace
        && let Err(e) = write_trace(path, &result)
    {
        eprintln!("{}: cannot write the trace: {e}", path.display());
        return ExitCode::from(EXIT_BAD_INPUT);
    }
    if let Some(path) = &args.trace_perfetto
        && let Err(e) = std::fs::write(
            path,
            report::perfetto::render(
                &result.report,
                result.trace.as_deref().unwrap_or_default(),
                &result.component_names,
                result.timeline.as_ref(),
            ),
        )
    {
        eprintln!("{}: cannot write the Perfetto trace: {e}", path.display());
        return ExitCode::from(EXIT_BAD_INPUT);
    }
    type Render = fn(&run::RunResult) -> String;
    let outputs: [(&Option<PathBuf>, &str, Render); 3] = [
        (&args.html, "HTML report", |r| {
            report::html::render(&r.report, r.timeline.as_ref())
        }),
        (&args.junit, "JUnit report", |r| {
            report::junit::render_run(&r.report)
        }),
        (&args.metrics, "metrics", |r| {
            report::metrics::render(&r.report, r.timeline.as_ref())
        }),
    ];
    for (path, what, render) in outputs {
        let Some(path) = path else { continue };
        if let Err(e) = std::fs::write(path, render(&result)) {
            eprintln!("{}: cannot write the {what}: {e}", path.display());
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    }
    if let Some(dir) = &args.dump
        && let Err(e) = write_dumps(dir, &result)
    {
        eprintln!("{}: cannot write the dump: {e}", dir.display());
        return ExitCode::from(EXIT_BAD_INPUT);
    }
    print_report(&result.report, args.format);
    eprintln!("wall time: {:.3}s", wall.as_secs_f64());
    ExitCode::from(result.report.exit_code)
}

/// A `--fix` name.
fn parse_fix(name: &str) -> Result<Fix, String> {
    Fix::from_name(name)
        .ok_or_else(|| format!("unknown fix \"{name}\" (known fixes: {})", Fix::names()))
}

/// Switches on `--fix`es.
fn apply_fixes(scenario: &mut scenario::Scenario, fixes: &[Fix]) {
    for fix in fixes {
        if !scenario.linkerd.fixes.contains(fix) {
            scenario.linkerd.fixes.push(*fix);
        }
    }
}

fn cmd_import(args: ImportArgs) -> ExitCode {
    let split = |s: &str| match s.split_once('=') {
        Some((name, file)) => (Some(name.to_string()), PathBuf::from(file)),
        None => (None, PathBuf::from(s)),
    };
    let mut input = scenario::import::Import {
        name: args.name,
        ..Default::default()
    };
    for c in &args.clusters {
        match split(c) {
            (Some(name), file) => input.clusters.push((name, file)),
            (None, _) => {
                eprintln!("mcsim import: expected --cluster NAME=FILE, found \"{c}\"");
                return ExitCode::from(EXIT_BAD_INPUT);
            }
        }
    }
    input.links = args.links.iter().map(|l| split(l)).collect();
    match scenario::import::import(&input) {
        Ok(text) => match &args.out {
            Some(path) => match std::fs::write(path, text) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("{}: cannot write the scenario: {e}", path.display());
                    ExitCode::from(EXIT_BAD_INPUT)
                }
            },
            None => {
                out(&text);
                ExitCode::SUCCESS
            }
        },
        Err(errors) => {
            for e in errors {
                eprintln!("{e}");
            }
            ExitCode::from(EXIT_BAD_INPUT)
        }
    }
}

fn write_dumps(dir: &Path, result: &run::RunResult) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for d in &result.dumps {
        std::fs::write(dir.join(format!("{}.yaml", d.cluster)), &d.yaml)?;
        std::fs::write(dir.join(format!("{}.json", d.cluster)), &d.json)?;
        for (component, log) in &d.logs {
            std::fs::write(dir.join(format!("{}-{component}.log", d.cluster)), log)?;
        }
    }
    Ok(())
}

/// Writes to stdout, ignoring a closed pipe (`mcsim ... | head` must not panic).
fn out(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
}

fn print_report(report: &Report, format: Format) {
    match format {
        // On a terminal the tables fit its width; anywhere else, the fixed layout.
        Format::Text => match console::Term::stdout().size_checked() {
            Some((_, cols)) if std::io::stdout().is_terminal() => {
                out(&report::text::render_for_width(report, cols as usize))
            }
            _ => out(&report::text::render(report)),
        },
        Format::Json => match serde_json::to_string_pretty(report) {
            Ok(json) => out(&format!("{json}\n")),
            Err(e) => eprintln!("cannot render the report as JSON: {e}"),
        },
    }
}

/// JSON Lines: one delivered event per line: time, component, kind, details.
fn write_trace(path: &Path, result: &run::RunResult) -> std::io::Result<()> {
    let file = std::fs::File::create(path)?;
    let mut out = std::io::BufWriter::new(file);
    for r in result.trace.as_deref().unwrap_or_default() {
        let line = serde_json::json!({
            "seq": r.seq,
            "time_ns": r.at,
            "component": result.component_names.get(r.component as usize).map(String::as_str).unwrap_or("?"),
            "kind": r.kind,
            "digest": format!("{:016x}", r.digest),
            "details": r.details,
        });
        writeln!(out, "{line}")?;
    }
    out.flush()
}

#[allow(clippy::disallowed_types, clippy::disallowed_methods)] // wall clock: progress and seeds/s only
fn cmd_fuzz(args: FuzzArgs) -> ExitCode {
    use crate::fuzz::{self, FuzzOptions};
    let mut scenario = match load(&args.scenario) {
        Ok(s) => s,
        Err(code) => return code,
    };
    apply_fixes(&mut scenario, &args.fixes);
    let scenario = Arc::new(scenario);
    let jobs = args
        .jobs
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        })
        .max(1);
    // A shard runs a contiguous slice of the seed range.
    let (start, seeds) = match args.shard {
        None => (args.start, args.seeds),
        Some((i, n)) => {
            let from = args.seeds * i / n;
            let to = args.seeds * (i + 1) / n;
            (args.start + from, to - from)
        }
    };
    let options = FuzzOptions {
        seeds,
        start,
        jobs,
        mode: args.mode.map(|m| match m {
            ModeArg::Random => crate::sim::Exploration::Random,
            ModeArg::Pct => crate::sim::Exploration::Pct,
        }),
        check_determinism: args.check_determinism,
        swarm: !args.no_swarm,
        out: Some(args.out.clone()),
        fixes: args.fixes.clone(),
    };
    let started = std::time::Instant::now();
    let total = seeds;
    let tty = std::io::stderr().is_terminal();
    // On a terminal, a bar with the ETA and the failures so far; otherwise a plain line every
    // tenth of the sweep (logs of CI jobs stay short).
    let bar = tty.then(|| {
        let bar = indicatif::ProgressBar::new(total);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "fuzz {bar:30} {pos}/{len} seeds, {msg}, {per_sec}, ETA {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar.set_message("0 failing");
        bar
    });
    let sweep_bar = bar.clone();
    let progress = move |done: u64, failures: u64| match &sweep_bar {
        Some(bar) => {
            bar.set_position(done);
            bar.set_message(format!("{failures} failing"));
        }
        None => {
            let step = (total / 10).max(1);
            if done.is_multiple_of(step) || done == total {
                let rate = done as f64 / started.elapsed().as_secs_f64().max(1e-9);
                eprintln!("fuzz: {done}/{total} seeds, {failures} failing, {rate:.0} seeds/s");
            }
        }
    };
    let results = match fuzz::sweep(scenario.clone(), &options, progress) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{}: {e}", args.scenario.display());
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    };
    let wall = started.elapsed();
    let mut summary = fuzz::summarize(&args.scenario.display().to_string(), &options, &results);
    let replays = match fuzz::write_replays(&args.out, &results) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("{}: cannot write replay files: {e}", args.out.display());
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    };
    if !args.no_shrink && !summary.signatures.is_empty() {
        eprintln!(
            "fuzz: shrinking {} failure signature(s)...",
            summary.signatures.len()
        );
        let shrunk = fuzz::shrink_signatures(
            &scenario,
            &mut summary,
            &results,
            &args.out,
            args.shrink_budget,
            |i, n, seed| match &bar {
                Some(bar) => bar.set_message(format!("shrinking {}/{n} (seed {seed})", i + 1)),
                None => eprintln!("fuzz: shrinking {}/{n} (seed {seed})", i + 1),
            },
        );
        if let Err(e) = shrunk {
            eprintln!("fuzz: shrinking failed: {e}");
        }
    }
    if !args.no_quirk_hints && !summary.signatures.is_empty() {
        let hinted = fuzz::quirk_hints::hint_signatures(
            &scenario,
            &mut summary.signatures,
            &results,
            jobs,
            |i, n| match &bar {
                Some(bar) => {
                    bar.set_message(format!("rerunning signature {}/{n} under each fix", i + 1))
                }
                None => eprintln!(
                    "fuzz: rerunning signature {}/{n} under each named fix",
                    i + 1
                ),
            },
        );
        if let Err(e) = hinted {
            eprintln!("fuzz: rerunning under named fixes failed: {e}");
        }
    }
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    type Page = fn(&crate::fuzz::Summary, Option<&Path>) -> String;
    let pages: [(&Option<PathBuf>, &str, Page); 2] = [
        (&args.html, "HTML summary", report::html::render_fuzz),
        (&args.junit, "JUnit summary", report::junit::render_fuzz),
    ];
    for (path, what, render) in pages {
        if let Some(path) = path
            && let Err(e) = std::fs::write(path, render(&summary, Some(&args.out)))
        {
            eprintln!("{}: cannot write the {what}: {e}", path.display());
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    }
    match args.format {
        Format::Json => match serde_json::to_string_pretty(&summary) {
            Ok(json) => out(&format!("{json}\n")),
            Err(e) => eprintln!("cannot render the summary: {e}"),
        },
        Format::Text => {
            let mut text = summary_text(&summary, Some(&args.out));
            if !replays.is_empty() {
                text.push_str(&format!(
                    "{} replay file(s) in {}\n",
                    replays.len(),
                    args.out.display()
                ));
            }
            out(&text);
        }
    }
    // On stderr, so that two sweeps of the same seeds print byte-identical summaries.
    eprintln!(
        "wall time: {:.2}s ({:.0} seeds/s, {} jobs; shrinking not counted)",
        wall.as_secs_f64(),
        summary.seeds as f64 / wall.as_secs_f64().max(1e-9),
        jobs
    );
    ExitCode::from(summary.exit_code)
}

fn parse_shard(text: &str) -> Result<(u64, u64), String> {
    let bad = || format!("expected a shard I/N with 0 <= I < N, such as 0/4, found \"{text}\"");
    let (i, n) = text.split_once('/').ok_or_else(bad)?;
    let (i, n): (u64, u64) = (
        i.trim().parse().map_err(|_| bad())?,
        n.trim().parse().map_err(|_| bad())?,
    );
    if n == 0 || i >= n {
        return Err(bad());
    }
    Ok((i, n))
}

fn cmd_merge(files: &[PathBuf], format: Format) -> ExitCode {
    let mut parts = Vec::new();
    for file in files {
        let text = match std::fs::read_to_string(file) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("{}: cannot read: {e}", file.display());
                return ExitCode::from(EXIT_BAD_INPUT);
            }
        };
        match serde_json::from_str::<crate::fuzz::Summary>(&text) {
            Ok(s) => parts.push(s),
            Err(e) => {
                eprintln!(
                    "{}:{}:{}: not a fuzz summary (mcsim fuzz --format json): {e}",
                    file.display(),
                    e.line(),
                    e.column()
                );
                return ExitCode::from(EXIT_BAD_INPUT);
            }
        }
    }
    let summary = match crate::fuzz::merge(&parts) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("mcsim merge: {e}");
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    };
    match format {
        Format::Json => match serde_json::to_string_pretty(&summary) {
            Ok(json) => out(&format!("{json}\n")),
            Err(e) => eprintln!("cannot render the summary: {e}"),
        },
        Format::Text => out(&summary_text(&summary, None)),
    }
    ExitCode::from(summary.exit_code)
}

/// The text form of a fuzz summary; `out` is where replay files were written.
fn summary_text(summary: &crate::fuzz::Summary, out: Option<&Path>) -> String {
    let mut text = format!(
        "fuzz {}: {} seeds from {}, {} failing, {} distinct signature(s), {} determinism rerun(s)\n",
        summary.scenario,
        summary.seeds,
        summary.start,
        summary.failures,
        summary.signatures.len(),
        summary.determinism_checked
    );
    for s in &summary.signatures {
        let replay = match out {
            Some(dir) => format!(
                ": mcsim replay {}",
                dir.join(format!("seed-{}.replay.json", s.first_seed))
                    .display()
            ),
            None => String::new(),
        };
        text.push_str(&format!(
            "  FAIL {:<40} {} seed(s), first seed {}{replay}\n",
            s.failing.join(", "),
            s.seeds,
            s.first_seed,
        ));
        if let Some(sh) = &s.shrunk {
            text.push_str(&format!(
                "       shrunk in {} runs to {} fault(s), {} decision(s), {} service(s), {} flow(s), {} action(s), failing {}: mcsim run {}\n",
                sh.runs,
                sh.size.faults,
                sh.size.decisions,
                sh.size.services,
                sh.size.traffic,
                sh.size.actions,
                sh.check,
                sh.file
            ));
        }
        match s.quirk_hints.as_deref() {
            None => {}
            Some([]) => text.push_str(
                "       no named quirk fix makes any of its cases pass: not a known Linkerd quirk\n",
            ),
            Some(hints) => {
                let hints: Vec<String> = hints
                    .iter()
                    .map(|h| format!("--fix {} ({}/{})", h.fix.name(), h.passing, h.tried))
                    .collect();
                text.push_str(&format!(
                    "       known quirk? its cases pass with {} (QUIRKS.md)\n",
                    hints.join(", ")
                ));
            }
        }
    }
    for seed in &summary.nondeterministic {
        text.push_str(&format!(
            "  NONDETERMINISTIC seed {seed}: two runs gave different trace hashes\n"
        ));
    }
    if summary.inconclusive > 0 {
        text.push_str(&format!(
            "  INCONCLUSIVE {} seed(s) tested less than they claim (e.g. stopped at the event limit), first seed {}\n",
            summary.inconclusive,
            summary
                .first_inconclusive
                .map_or_else(|| "?".into(), |s| s.to_string())
        ));
    }
    text.push_str(&format!(
        "verdict: {} (exit code {})\n",
        summary.verdict.headline(),
        summary.exit_code
    ));
    text
}

fn cmd_replay(file: &Path, format: Format) -> ExitCode {
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{}: cannot read: {e}", file.display());
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    };
    let replay: crate::fuzz::Replay = match serde_json::from_str(&text) {
        Ok(r) => r,
        Err(e) => {
            eprintln!(
                "{}:{}:{}: not a replay file: {e}",
                file.display(),
                e.line(),
                e.column()
            );
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    };
    let mut base = match load(Path::new(&replay.scenario)) {
        Ok(s) => s,
        Err(code) => return code,
    };
    apply_fixes(&mut base, &replay.fixes);
    let (result, report, same) = match crate::fuzz::replay(&base, &replay) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{}: {e}", replay.scenario);
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    };
    match format {
        Format::Json => out(&format!(
            "{}\n",
            serde_json::to_string_pretty(&result).unwrap_or_default()
        )),
        Format::Text => out(&format!(
            "{}\nreplay {} seed {} ({:?}, {} swarm fault(s))\ntrace hash {} ({})\nfailing: {}\n",
            report::text::render(&report),
            replay.scenario,
            replay.seed,
            replay.mode,
            replay.faults.len(),
            result.trace_hash,
            if same {
                "same as recorded"
            } else {
                "DIFFERENT from the recorded one"
            },
            if result.failing.is_empty() {
                "none".to_string()
            } else {
                result.failing.join(", ")
            }
        )),
    }
    // The case's own verdict decides; a replay that no longer fails and no longer gives the
    // recorded trace did not reproduce the case, which proves nothing either way.
    if !same && report.verdict == crate::report::Verdict::Pass {
        eprintln!(
            "mcsim replay: the case passes and its trace differs from the recorded one: the replay did not reproduce it (was it recorded by another mcsim build?)"
        );
        return ExitCode::from(crate::report::Verdict::Inconclusive.exit_code());
    }
    ExitCode::from(report.exit_code)
}
