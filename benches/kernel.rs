//! Kernel events/second against a plain `BinaryHeap` discrete-event loop doing the same work
//! (pop the earliest event, draw a delay from a ChaCha8 stream, schedule one new event), at 16,
//! 1 000 and 100 000 pending events. The kernel additionally hashes every event into the trace,
//! asks the schedule for a tie-break rank and dispatches through the `World` trait.
//!
//! `cargo bench --bench kernel`; the ratio kernel/raw is the figure in the README.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use mcsim::sim::{
    ComponentId, Ctx, Kernel, KernelConfig, Message, Prng, SimDuration, SimTime, World,
};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::hint::black_box;

const EVENTS: u64 = 200_000;
const COMPONENTS: u32 = 16;

#[derive(Clone, Copy)]
struct Tick(u64);

impl Message for Tick {
    fn kind(&self) -> &'static str {
        "tick"
    }
    fn kind_code(&self) -> u64 {
        1
    }
    fn digest(&self) -> u64 {
        self.0
    }
}

struct Bouncer;

impl World<Tick> for Bouncer {
    #[inline]
    fn deliver(&mut self, ctx: &mut Ctx<'_, Tick>, to: ComponentId, msg: Tick) {
        let delay = SimDuration(ctx.rng().range_inclusive(1, 10_000));
        let next = ComponentId((to.0 + 1) % COMPONENTS);
        ctx.send(next, Tick(msg.0 + 1), delay);
    }
}

fn kernel_with(pending: usize) -> Kernel<Tick> {
    let mut k = Kernel::new(KernelConfig::new(7));
    for i in 0..COMPONENTS {
        k.add_component(&format!("c{i}"));
    }
    let mut rng = Prng::stream(7, "setup");
    for i in 0..pending {
        let to = ComponentId(i as u32 % COMPONENTS);
        k.inject(to, SimTime(rng.range_inclusive(1, 10_000)), Tick(i as u64));
    }
    k
}

fn run_kernel(k: &mut Kernel<Tick>) {
    let mut w = Bouncer;
    for _ in 0..EVENTS {
        k.step(&mut w);
    }
}

/// The same loop without the kernel: `(time, seq, target, payload)` in a `BinaryHeap`.
struct Raw {
    now: u64,
    seq: u64,
    heap: BinaryHeap<Reverse<(u64, u64, u32, u64)>>,
    rngs: Vec<Prng>,
}

fn raw_with(pending: usize) -> Raw {
    let mut rng = Prng::stream(7, "setup");
    let mut heap = BinaryHeap::new();
    for i in 0..pending {
        heap.push(Reverse((
            rng.range_inclusive(1, 10_000),
            i as u64,
            i as u32 % COMPONENTS,
            i as u64,
        )));
    }
    let rngs = (0..COMPONENTS)
        .map(|i| Prng::stream(7, &format!("c{i}")))
        .collect();
    Raw {
        now: 0,
        seq: pending as u64,
        heap,
        rngs,
    }
}

fn run_raw(r: &mut Raw) {
    for _ in 0..EVENTS {
        let Reverse((at, _seq, to, payload)) = r.heap.pop().unwrap();
        r.now = at;
        let delay = r.rngs[to as usize].range_inclusive(1, 10_000);
        let next = (to + 1) % COMPONENTS;
        r.heap
            .push(Reverse((r.now + delay, r.seq, next, payload + 1)));
        r.seq += 1;
    }
    black_box(r.now);
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("kernel");
    group.throughput(Throughput::Elements(EVENTS));
    group.sample_size(20);
    for pending in [16usize, 1_000, 100_000] {
        group.bench_with_input(
            BenchmarkId::new("raw-binaryheap", pending),
            &pending,
            |b, &p| {
                let mut r = raw_with(p);
                b.iter(|| run_raw(&mut r));
            },
        );
        group.bench_with_input(
            BenchmarkId::new("mcsim-kernel", pending),
            &pending,
            |b, &p| {
                let mut k = kernel_with(p);
                b.iter(|| run_kernel(&mut k));
            },
        );
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
