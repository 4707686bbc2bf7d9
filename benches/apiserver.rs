//! API server throughput: creates per second, and the cost of watch fan-out with 1, 10 and 100
//! open watches on the written kind. Wall-clock timing is criterion's; the server itself runs on
//! virtual time.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use mcsim::k8s::api::{Request, WatchId, WatchRequest};
use mcsim::k8s::apiserver::{ApiServer, ApiServerConfig};
use mcsim::k8s::objects::{
    EndpointAddress, EndpointPort, EndpointSubset, Endpoints, Kind, Service, ServicePort,
};
use mcsim::sim::{Prng, SimTime};
use std::hint::black_box;

const WRITES: usize = 1_000;

fn service(i: usize) -> Service {
    let mut s = Service::new("default", &format!("svc-{i}"));
    s.spec.ports.push(ServicePort::tcp("http", 80));
    s
}

fn endpoints(i: usize) -> Endpoints {
    let mut e = Endpoints::new("default", &format!("svc-{i}"));
    e.subsets.push(EndpointSubset {
        addresses: (0..3)
            .map(|k| EndpointAddress::ip(&format!("10.1.{}.{k}", i % 250)))
            .collect(),
        not_ready_addresses: vec![],
        ports: vec![EndpointPort {
            name: "http".into(),
            port: 4143,
            ..Default::default()
        }],
    });
    e
}

fn fresh() -> (ApiServer, Prng) {
    let mut rng = Prng::stream(1, "bench/apiserver");
    let api = ApiServer::new(ApiServerConfig::default(), &mut rng);
    (api, rng)
}

fn writes(c: &mut Criterion) {
    let mut g = c.benchmark_group("apiserver_writes");
    g.throughput(Throughput::Elements(2 * WRITES as u64));
    g.bench_function("create_service_and_endpoints", |b| {
        b.iter_batched(
            fresh,
            |(mut api, mut rng)| {
                for i in 0..WRITES {
                    black_box(
                        api.handle(SimTime::ZERO, &mut rng, Request::create(service(i)))
                            .is_ok(),
                    );
                    black_box(
                        api.handle(SimTime::ZERO, &mut rng, Request::create(endpoints(i)))
                            .is_ok(),
                    );
                }
                api
            },
            criterion::BatchSize::LargeInput,
        )
    });
    g.finish();
}

fn fan_out(c: &mut Criterion) {
    let mut g = c.benchmark_group("apiserver_watch_fan_out");
    g.throughput(Throughput::Elements(WRITES as u64));
    for watchers in [1u64, 10, 100] {
        g.bench_with_input(
            BenchmarkId::from_parameter(watchers),
            &watchers,
            |b, &watchers| {
                b.iter_batched(
                    || {
                        let (mut api, rng) = fresh();
                        for w in 0..watchers {
                            let opened = api.open_watch(
                                SimTime::ZERO,
                                WatchId(w),
                                WatchRequest::all(Kind::Endpoints),
                            );
                            assert!(opened.is_ok());
                        }
                        (api, rng)
                    },
                    |(mut api, mut rng)| {
                        let mut delivered = 0usize;
                        for i in 0..WRITES {
                            black_box(
                                api.handle(SimTime::ZERO, &mut rng, Request::create(endpoints(i)))
                                    .is_ok(),
                            );
                            delivered += api.take_watch_events().len();
                        }
                        assert_eq!(delivered, WRITES * watchers as usize);
                        api
                    },
                    criterion::BatchSize::LargeInput,
                )
            },
        );
    }
    g.finish();
}

criterion_group!(benches, writes, fan_out);
criterion_main!(benches);
