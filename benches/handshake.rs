//! Cost of one full mTLS handshake (both sides: 2 Ed25519 signs, 2 transcript verifies, and the
//! chain verifies, which the memo absorbs after the first handshake), and of issuing a leaf.
//! Wall-clock measurement is fine here: benches are outside the simulation.

use criterion::{Criterion, criterion_group, criterion_main};
use mcsim::identity::handshake::DEFAULT_HANDSHAKE_TIMEOUT;
use mcsim::identity::{
    ClientConfig, ClientHandshake, ClockSkew, Outcome, ServerConfig, ServerHandshake,
    SignatureMemo, TrustAnchor, TrustBundle, default_gateway_identity,
};
use mcsim::sim::{Prng, SimTime};
use std::hint::black_box;
use std::sync::Arc;

fn setup() -> (
    Arc<ClientConfig>,
    Arc<ServerConfig>,
    mcsim::identity::Issuer,
) {
    let mut rng = Prng::stream(1, "bench/pki");
    let root = TrustAnchor::generate(
        &mut rng,
        "root.linkerd.cluster.local",
        SimTime(0),
        SimTime(u64::MAX),
    );
    let issuer = root.issue_issuer(
        &mut rng,
        "identity.linkerd.cluster.local",
        SimTime(0),
        SimTime(u64::MAX),
    );
    let client = issuer.issue_workload(
        &mut rng,
        "web.default.serviceaccount.identity.linkerd.cluster.local",
        SimTime(0),
        SimTime(u64::MAX),
    );
    let gateway = issuer.issue_workload(
        &mut rng,
        &default_gateway_identity(),
        SimTime(0),
        SimTime(u64::MAX),
    );
    let trust = TrustBundle::of(&[root.certificate()]);
    let c = ClientConfig {
        credentials: Some(client),
        trust: trust.clone(),
        clock_skew: ClockSkew::NONE,
        timeout: DEFAULT_HANDSHAKE_TIMEOUT,
    };
    let s = ServerConfig {
        credentials: gateway,
        trust,
        require_client_identity: true,
        clock_skew: ClockSkew::NONE,
        timeout: DEFAULT_HANDSHAKE_TIMEOUT,
    };
    (Arc::new(c), Arc::new(s), issuer)
}

fn handshake(
    c: &Arc<ClientConfig>,
    s: &Arc<ServerConfig>,
    rng: &mut Prng,
    mc: &mut SignatureMemo,
    ms: &mut SignatureMemo,
) -> bool {
    let now = SimTime(1);
    let (mut client, hello) =
        ClientHandshake::start(c.clone(), &default_gateway_identity(), now, rng);
    let mut server = ServerHandshake::new(s.clone(), now);
    let Some(f2) = server.handle(now, &hello, rng, ms) else {
        return false;
    };
    let Some(f3) = client.handle(now, &f2, mc) else {
        return false;
    };
    let _ = server.handle(now, &f3, rng, ms);
    matches!(server.outcome(), Some(Outcome::Established { .. }))
}

fn bench(crit: &mut Criterion) {
    let (c, s, issuer) = setup();
    let mut rng = Prng::stream(2, "bench/conn");
    crit.bench_function("handshake/cold-memo", |b| {
        b.iter(|| {
            let (mut mc, mut ms) = (
                SignatureMemo::with_capacity(0),
                SignatureMemo::with_capacity(0),
            );
            assert!(handshake(&c, &s, &mut rng, &mut mc, &mut ms));
        })
    });
    let (mut mc, mut ms) = (SignatureMemo::default(), SignatureMemo::default());
    crit.bench_function("handshake/warm-memo", |b| {
        b.iter(|| assert!(handshake(&c, &s, &mut rng, &mut mc, &mut ms)))
    });
    crit.bench_function("issue/workload-leaf", |b| {
        b.iter(|| black_box(issuer.issue_workload(&mut rng, "x", SimTime(0), SimTime(10))))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
