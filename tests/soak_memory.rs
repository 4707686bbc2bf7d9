//! Memory does not grow with simulated time (issue 13): a traffic client folds its requests
//! into time segments instead of keeping each one, so `partition.toml` stretched from 1 to 4
//! simulated hours peaks at about the same heap (it used to grow by ~8.6 MB per hour). One test
//! in its own binary: the counting allocator sees the whole process.

use mcsim::run::{RunOptions, run};
use mcsim::scenario::load_str;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

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
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Peak heap (bytes above what was live before) of `partition.toml` run for `duration`.
fn peak_of(duration: &str) -> usize {
    let text = std::fs::read_to_string("scenarios/partition.toml")
        .unwrap()
        .replace("duration = \"8m\"", &format!("duration = \"{duration}\""));
    let scenario = Arc::new(load_str("soak.toml", &text).unwrap());
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let result = run(scenario, &RunOptions::default()).unwrap();
    assert!(
        result.report.passed(),
        "{:?}",
        result.report.failed_checks()
    );
    drop(result);
    PEAK.load(Ordering::Relaxed) - before
}

#[test]
fn a_longer_soak_with_traffic_peaks_at_the_same_heap() {
    let one = peak_of("1h");
    let four = peak_of("4h");
    assert!(
        four < one + one / 5,
        "peak heap grew with simulated time: {} KiB at 1 h, {} KiB at 4 h",
        one / 1024,
        four / 1024
    );
}
