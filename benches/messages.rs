//! Messages: a two-host request/response ping-pong over the simulated network. Each send asks
//! the topology for the path state (latency, jitter, loss), draws the model jitter and the
//! exploration perturbation from the schedule, and schedules the delivery, as the transport
//! does for data on a connection. Reported as deliveries per second (target ≥ 5 M/s).
//!
//! `cargo bench --bench messages`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mcsim::net::topology::{ClusterSpec, NodeId, PathSpec, PathState, Topology};
use mcsim::sim::{ComponentId, Ctx, Kernel, KernelConfig, Message, SimDuration, SimTime, World};

const ROUND_TRIPS: u64 = 100_000;

#[derive(Clone, Copy)]
struct Packet(u64);

impl Message for Packet {
    fn kind(&self) -> &'static str {
        "packet"
    }
    fn kind_code(&self) -> u64 {
        7
    }
    fn digest(&self) -> u64 {
        self.0
    }
}

struct Hosts {
    topology: Topology,
    node: [NodeId; 2],
}

impl World<Packet> for Hosts {
    #[inline]
    fn deliver(&mut self, ctx: &mut Ctx<'_, Packet>, to: ComponentId, msg: Packet) {
        let from = to.index();
        let peer = 1 - from;
        if let PathState::Up(m) = self.topology.path_state(self.node[from], self.node[peer]) {
            let delay =
                m.latency + ctx.schedule().jitter(m.jitter) + ctx.schedule().perturb_delay();
            ctx.send(ComponentId(peer as u32), Packet(msg.0 + 1), delay);
        }
    }
}

fn setup() -> (Kernel<Packet>, Hosts) {
    let mut topology = Topology::default();
    let a = topology.add_cluster(ClusterSpec::named("a")).unwrap();
    let b = topology.add_cluster(ClusterSpec::named("b")).unwrap();
    let spec = PathSpec {
        jitter: SimDuration::from_micros(100),
        ..PathSpec::latency(SimDuration::from_micros(500))
    };
    topology.set_path(a, b, spec).unwrap();
    let mut kernel = Kernel::new(KernelConfig::new(1));
    let ha = kernel.add_component("a/host");
    kernel.add_component("b/host");
    kernel.inject(ha, SimTime::ZERO, Packet(0));
    (
        kernel,
        Hosts {
            topology,
            node: [a, b],
        },
    )
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("messages");
    group.throughput(Throughput::Elements(2 * ROUND_TRIPS));
    group.sample_size(20);
    group.bench_function("ping-pong", |bench| {
        let (mut kernel, mut hosts) = setup();
        bench.iter(|| {
            for _ in 0..2 * ROUND_TRIPS {
                kernel.step(&mut hosts);
            }
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
