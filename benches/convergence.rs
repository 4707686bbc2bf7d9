//! Mirror convergence (issue 8, the headline): virtual time and wall time until every exported
//! service is mirrored (mirror Service plus its Endpoints pointing at the gateway, with the
//! exported service's E endpoints ready in its own cluster) in every linking cluster.
//!
//! Worlds are built in code: `1to1` is two clusters, the source linking the target, S services
//! with E replicas each exported from the target; `meshN` is N clusters, every cluster linking
//! every other and exporting S services (so N·(N−1)·S mirrors). Each point is a criterion
//! benchmark (one iteration = one whole run from an empty world, world build included; scenario
//! construction excluded) that stops at convergence (`mcsim::run::run_until_converged`).
//!
//! After criterion, the bench prints a table (virtual convergence time, events, median wall
//! time, peak heap of one run) and the least-squares fit of wall time against S for each
//! (topology, E) with three or more sizes: slope in ms per 1 000 services and R².
//!
//! `cargo bench --bench convergence` runs the quick profile (S ∈ {100, 300, 1 000}, E ∈ {1, 3}, 1→1,
//! and a 10-cluster mesh with S = 10); `MCSIM_BENCH_FULL=1 cargo bench --bench convergence`
//! runs the full sweep: S ∈ {100, 300, 1 000, 3 000, 10 000} × E ∈ {1, 3} for 1→1, the
//! 10-cluster mesh with S ∈ {10, 50, 100} and the 20-cluster mesh with S ∈ {10, 100, 500}.
//!
//! Points that take longer than 5 s per run are timed by one run (printed as such) instead of
//! criterion's ten samples, so the sweep finishes.
//!
//! Peak heap is measured by a counting global allocator in this binary (live bytes, high-water
//! mark reset before the measured run), so it is the simulation's own heap, not the RSS.

// A benchmark measures wall time; the simulation it drives never reads a clock.
#![allow(clippy::disallowed_types)]

use criterion::{BenchmarkId, Criterion, SamplingMode};
use mcsim::run::{Converged, RunOptions, run_until_converged};
use mcsim::scenario::{Scenario, load_str};
use mcsim::sim::SimDuration;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::RefCell;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                let live = LIVE.fetch_add(new_size - layout.size(), Ordering::Relaxed) + new_size
                    - layout.size();
                PEAK.fetch_max(live, Ordering::Relaxed);
            } else {
                LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// How often (virtual time) the convergence oracle may run while the mirrors are idle.
const POLL: SimDuration = SimDuration::from_millis(100);

/// Points slower than this per run are measured by one timed run instead of criterion's ten.
const SLOW: Duration = Duration::from_secs(5);

#[derive(Clone, Copy)]
struct Point {
    clusters: usize,
    services: usize,
    replicas: u32,
}

impl Point {
    fn topology(&self) -> String {
        if self.clusters == 2 {
            "1to1".into()
        } else {
            format!("mesh{}", self.clusters)
        }
    }
    fn id(&self) -> String {
        format!(
            "{}/S={}/E={}",
            self.topology(),
            self.services,
            self.replicas
        )
    }
    fn mirrors(&self) -> usize {
        if self.clusters == 2 {
            self.services
        } else {
            self.clusters * (self.clusters - 1) * self.services
        }
    }
}

/// The world of one point: clusters and links from TOML, services added to the model.
fn scenario(p: Point) -> Scenario {
    let mut text = String::from(
        "[sim]\nname = \"convergence\"\nseed = 1\nduration = \"60m\"\nevents_max = 2000000000\n",
    );
    for c in 0..p.clusters {
        writeln!(text, "[[cluster]]\nname = \"c{c}\"").unwrap();
    }
    let exporting: Vec<usize> = if p.clusters == 2 {
        writeln!(text, "[[link]]\nfrom = \"c0\"\nto = \"c1\"").unwrap();
        vec![1]
    } else {
        for from in 0..p.clusters {
            for to in (0..p.clusters).filter(|&t| t != from) {
                writeln!(text, "[[link]]\nfrom = \"c{from}\"\nto = \"c{to}\"").unwrap();
            }
        }
        (0..p.clusters).collect()
    };
    writeln!(
        text,
        "[[service]]\ncluster = \"c{}\"\nname = \"svc-0\"\nports = [{{ name = \"http\", port = 80 }}]\nreplicas = {}\nexported = true",
        exporting[0], p.replicas
    )
    .unwrap();
    let mut s = load_str("convergence.toml", &text).expect("scenario loads");
    let template = s.services.pop().expect("the template service");
    for &c in &exporting {
        for i in 0..p.services {
            let mut svc = template.clone();
            svc.cluster = format!("c{c}");
            svc.name = format!("svc-{i}");
            s.services.push(svc);
        }
    }
    s
}

fn converge(s: &Arc<Scenario>) -> Converged {
    run_until_converged(s.clone(), &RunOptions::default(), POLL).expect("runs")
}

struct Row {
    point: Point,
    converged: Converged,
    walls: Vec<Duration>,
    peak_heap: usize,
}

fn points(full: bool) -> Vec<Point> {
    let mut v = Vec::new();
    let sizes: &[usize] = if full {
        &[100, 300, 1_000, 3_000, 10_000]
    } else {
        &[100, 300, 1_000]
    };
    for &replicas in &[1, 3] {
        for &services in sizes {
            v.push(Point {
                clusters: 2,
                services,
                replicas,
            });
        }
    }
    let meshes: &[(usize, &[usize])] = if full {
        &[(10, &[10, 50, 100]), (20, &[10, 100, 500])]
    } else {
        &[(10, &[10])]
    };
    for &(clusters, sizes) in meshes {
        for &services in sizes {
            v.push(Point {
                clusters,
                services,
                replicas: 3,
            });
        }
    }
    v
}

/// A point outside the sweep, e.g. `MCSIM_BENCH_ONLY=1to1/S=300/E=3` (for profiling).
fn custom_point(id: &str) -> Option<Point> {
    let mut parts = id.split('/');
    let clusters = match parts.next()? {
        "1to1" => 2,
        t => t.strip_prefix("mesh")?.parse().ok()?,
    };
    let services = parts.next()?.strip_prefix("S=")?.parse().ok()?;
    let replicas = parts.next()?.strip_prefix("E=")?.parse().ok()?;
    let p = Point {
        clusters,
        services,
        replicas,
    };
    (!points(true).iter().any(|q| q.id() == p.id())).then_some(p)
}

/// Least squares y = a + b·x; returns (b, R²).
fn fit(xs: &[f64], ys: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let (mx, my) = (xs.iter().sum::<f64>() / n, ys.iter().sum::<f64>() / n);
    let sxy: f64 = xs.iter().zip(ys).map(|(x, y)| (x - mx) * (y - my)).sum();
    let sxx: f64 = xs.iter().map(|x| (x - mx).powi(2)).sum();
    let syy: f64 = ys.iter().map(|y| (y - my).powi(2)).sum();
    let b = sxy / sxx;
    (
        b,
        if syy == 0.0 {
            1.0
        } else {
            sxy * sxy / (sxx * syy)
        },
    )
}

fn median(v: &[Duration]) -> Duration {
    let mut v = v.to_vec();
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let full = std::env::var("MCSIM_BENCH_FULL").is_ok_and(|v| v == "1");
    let mut c = Criterion::default()
        .configure_from_args()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(1))
        .measurement_time(Duration::from_millis(1));
    let rows: RefCell<Vec<Row>> = RefCell::new(Vec::new());
    {
        let mut group = c.benchmark_group("convergence");
        group.sampling_mode(SamplingMode::Flat);
        // `MCSIM_BENCH_ONLY=1to1/S=1000/E=3`: only the points whose id contains the text.
        let only = std::env::var("MCSIM_BENCH_ONLY").unwrap_or_default();
        let custom = custom_point(&only);
        for p in custom
            .into_iter()
            .chain(points(full))
            .filter(|p| p.id().contains(&only))
        {
            let s = Arc::new(scenario(p));
            // One measured run outside criterion: virtual time, events and peak heap.
            PEAK.store(LIVE.load(Ordering::Relaxed), Ordering::Relaxed);
            let base = LIVE.load(Ordering::Relaxed);
            let t = Instant::now();
            let converged = converge(&s);
            let once = t.elapsed();
            let peak_heap = PEAK.load(Ordering::Relaxed) - base;
            assert!(
                converged.at.is_some(),
                "{}: did not converge: {:?}",
                p.id(),
                converged.problems
            );
            assert_eq!(converged.mirrors, p.mirrors(), "{}", p.id());
            // A point slower than SLOW per run is timed by that one run, not by criterion.
            let slow = once > SLOW;
            rows.borrow_mut().push(Row {
                point: p,
                converged,
                walls: if slow { vec![once] } else { Vec::new() },
                peak_heap,
            });
            if slow {
                println!(
                    "convergence/{}: one run, {:.2} s (slower than {} s: not repeated)",
                    p.id(),
                    once.as_secs_f64(),
                    SLOW.as_secs()
                );
                continue;
            }
            group.bench_with_input(BenchmarkId::from_parameter(p.id()), &s, |b, s| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let t = Instant::now();
                        let r = converge(s);
                        let wall = t.elapsed();
                        total += wall;
                        assert!(r.at.is_some());
                        rows.borrow_mut().last_mut().unwrap().walls.push(wall);
                    }
                    total
                })
            });
        }
        group.finish();
    }
    c.final_summary();

    let rows = rows.into_inner();
    println!(
        "\nconvergence ({}; poll {POLL}):",
        if full { "full sweep" } else { "quick profile" }
    );
    println!(
        "{:<22} {:>8} {:>12} {:>12} {:>12} {:>11} {:>6}",
        "point", "mirrors", "virtual", "events", "wall (med)", "peak heap", "runs"
    );
    for r in &rows {
        println!(
            "{:<22} {:>8} {:>12} {:>12} {:>9.1} ms {:>7.1} MiB {:>6}",
            r.point.id(),
            r.point.mirrors(),
            format!("{}", r.converged.at.unwrap() - mcsim::sim::SimTime::ZERO),
            r.converged.events,
            median(&r.walls).as_secs_f64() * 1e3,
            r.peak_heap as f64 / (1024.0 * 1024.0),
            r.walls.len()
        );
    }
    let mut series: Vec<(String, u32)> = rows
        .iter()
        .map(|r| (r.point.topology(), r.point.replicas))
        .collect();
    series.dedup();
    for (topology, replicas) in series {
        let pts: Vec<&Row> = rows
            .iter()
            .filter(|r| r.point.topology() == topology && r.point.replicas == replicas)
            .collect();
        if pts.len() < 3 {
            continue;
        }
        let xs: Vec<f64> = pts.iter().map(|r| r.point.services as f64).collect();
        let ys: Vec<f64> = pts
            .iter()
            .map(|r| median(&r.walls).as_secs_f64() * 1e3)
            .collect();
        let (slope, r2) = fit(&xs, &ys);
        println!(
            "fit {topology} E={replicas}: wall = a + b·S, b = {:.1} ms per 1000 services, R² = {r2:.4} ({} sizes)",
            slope * 1000.0,
            pts.len()
        );
    }
}
