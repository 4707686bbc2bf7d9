//! The mTLS handshake matrix (spec §10): a client proxy in `west` dials the `east` gateway on
//! port 4143 (require-identity), pinning the gateway identity from the Link. Each case changes
//! one thing (anchor, validity, clock skew, presented identity, client certificate, a lost
//! flight) and records both sides' outcomes in an insta snapshot under `snapshots/`.
//!
//! The driver below plays the kernel: it carries flights between the two state machines and can
//! stop delivering after a given number of flights, as a partition would.

use mcsim::identity::ca::{DEFAULT_ANCHOR_SUBJECT, DEFAULT_ISSUER_SUBJECT};
use mcsim::identity::handshake::{DEFAULT_HANDSHAKE_TIMEOUT, Outcome};
use mcsim::identity::{
    ClientConfig, ClientHandshake, ClockSkew, Credentials, Flight, IdentityDomain, Issuer,
    ServerConfig, ServerHandshake, SignatureMemo, TrustAnchor, TrustBundle,
    default_gateway_identity,
};
use mcsim::sim::{Prng, SimDuration, SimTime};
use std::fmt::Write;
use std::sync::Arc;

const HOUR: SimDuration = SimDuration::from_mins(60);
const YEAR: SimDuration = SimDuration::from_mins(365 * 24 * 60);
/// Every handshake starts at t = 100h, well inside the anchors' and issuers' validity.
const T0: SimTime = SimTime(100 * 3_600_000_000_000);

fn hours(h: u64) -> SimDuration {
    HOUR.saturating_mul(h)
}
fn at(base: SimTime, plus: SimDuration) -> SimTime {
    base + plus
}
fn before(base: SimTime, minus: SimDuration) -> SimTime {
    SimTime(base.0 - minus.0)
}

/// One cluster's PKI: the shared (or not) root and the cluster's own issuer.
struct Pki {
    root: TrustAnchor,
    issuer: Issuer,
}

fn pki(rng: &mut Prng) -> Pki {
    let root = TrustAnchor::generate(
        rng,
        DEFAULT_ANCHOR_SUBJECT,
        SimTime::ZERO,
        SimTime::ZERO + YEAR,
    );
    let issuer = root.issue_issuer(
        rng,
        DEFAULT_ISSUER_SUBJECT,
        SimTime::ZERO,
        SimTime::ZERO + YEAR,
    );
    Pki { root, issuer }
}

fn fresh_leaf(issuer: &Issuer, rng: &mut Prng, identity: &str) -> Credentials {
    issuer.issue_workload(
        rng,
        identity,
        before(T0, HOUR),
        at(T0, SimDuration::from_mins(23 * 60)),
    )
}

/// Everything a case can vary.
struct Case {
    name: &'static str,
    client: ClientConfig,
    server: ServerConfig,
    expected_server: String,
    /// How many flights the "network" delivers before it stops (None: all of them).
    deliver_max: Option<usize>,
}

/// Delivery log plus outcomes, as text for the snapshot.
fn run(case: &Case, seed: u64) -> (String, Vec<u64>) {
    let mut rng = Prng::stream(seed, case.name);
    let mut memo_c = SignatureMemo::default();
    let mut memo_s = SignatureMemo::default();
    let latency = SimDuration::from_millis(20);
    let mut now = T0;
    let (mut client, hello) = ClientHandshake::start(
        Arc::new(case.client.clone()),
        &case.expected_server,
        now,
        &mut rng,
    );
    let mut server = ServerHandshake::new(Arc::new(case.server.clone()), now);
    let mut log = String::new();
    let mut digests = Vec::new();
    // (flight, to_server)
    let mut in_flight = Some((hello, true));
    let mut delivered = 0usize;
    while let Some((flight, to_server)) = in_flight.take() {
        let arrow = if to_server { "c->s" } else { "s->c" };
        digests.push(flight.digest());
        if case.deliver_max.is_some_and(|max| delivered >= max) {
            let _ = writeln!(log, "  {arrow} {:<20} LOST", flight.kind());
            break;
        }
        now += latency;
        delivered += 1;
        let reply = if to_server {
            server.handle(now, &flight, &mut rng, &mut memo_s)
        } else {
            client.handle(now, &flight, &mut memo_c)
        };
        let _ = writeln!(log, "  {arrow} {:<20} delivered", flight.kind());
        in_flight = reply.map(|f| (f, !to_server));
    }
    // The caller applies deadlines: jump to the later deadline, if any, and fire them.
    let deadline = client.deadline().max(server.deadline());
    if let Some(d) = deadline {
        let _ = writeln!(log, "  deadline {d} reached");
        client.handle_timeout(d);
        server.handle_timeout(d);
    }
    let _ = writeln!(log, "  client: {}", show(client.outcome()));
    let _ = writeln!(log, "  server: {}", show(server.outcome()));
    (log, digests)
}

fn show(o: Option<Outcome>) -> String {
    match o {
        None => "still handshaking".into(),
        Some(Outcome::Established {
            peer_identity: Some(id),
        }) => format!("Established peer={id}"),
        Some(Outcome::Established {
            peer_identity: None,
        }) => "Established peer=<none>".into(),
        Some(Outcome::Failed(e)) => format!("Failed: {e} [{e:?}]"),
    }
}

fn cases(seed: u64) -> Vec<Case> {
    let mut rng = Prng::stream(seed, "identity/pki");
    let shared = pki(&mut rng);
    let east_issuer = shared.root.issue_issuer(
        &mut rng,
        DEFAULT_ISSUER_SUBJECT,
        SimTime::ZERO,
        SimTime::ZERO + YEAR,
    );
    let foreign = pki(&mut rng); // same subject names, different keys
    let bundle = TrustBundle::of(&[shared.root.certificate()]);
    let domain = IdentityDomain::default();
    let gateway_id = default_gateway_identity();
    let client_id = domain.workload("slow-cooker", "mc-demo");

    let client = |creds: Option<Credentials>, trust: &TrustBundle, skew: ClockSkew| ClientConfig {
        credentials: creds,
        trust: trust.clone(),
        clock_skew: skew,
        timeout: DEFAULT_HANDSHAKE_TIMEOUT,
    };
    let gateway = |creds: Credentials, trust: &TrustBundle, skew: ClockSkew| ServerConfig {
        credentials: creds,
        trust: trust.clone(),
        require_client_identity: true,
        clock_skew: skew,
        timeout: DEFAULT_HANDSHAKE_TIMEOUT,
    };
    let west_leaf = fresh_leaf(&shared.issuer, &mut rng, &client_id);
    let east_gw = fresh_leaf(&east_issuer, &mut rng, &gateway_id);
    let none = ClockSkew::NONE;

    let mut out = vec![Case {
        name: "good: shared anchor, per-cluster issuers",
        client: client(Some(west_leaf.clone()), &bundle, none),
        server: gateway(east_gw.clone(), &bundle, none),
        expected_server: gateway_id.clone(),
        deliver_max: None,
    }];

    let foreign_gw = fresh_leaf(&foreign.issuer, &mut rng, &gateway_id);
    let foreign_bundle = TrustBundle::of(&[foreign.root.certificate()]);
    out.push(Case {
        name: "wrong anchor: east under a different root",
        client: client(Some(west_leaf.clone()), &bundle, none),
        server: gateway(foreign_gw, &foreign_bundle, none),
        expected_server: gateway_id.clone(),
        deliver_max: None,
    });

    let rotated = TrustBundle::of(&[foreign.root.certificate(), shared.root.certificate()]);
    out.push(Case {
        name: "anchor bundle: client trusts old and new roots",
        client: client(Some(west_leaf.clone()), &rotated, none),
        server: gateway(east_gw.clone(), &bundle, none),
        expected_server: gateway_id.clone(),
        deliver_max: None,
    });

    let expired_gw = east_issuer.issue_workload(
        &mut rng,
        &gateway_id,
        before(T0, hours(30)),
        before(T0, hours(6)),
    );
    out.push(Case {
        name: "expired gateway certificate",
        client: client(Some(west_leaf.clone()), &bundle, none),
        server: gateway(expired_gw, &bundle, none),
        expected_server: gateway_id.clone(),
        deliver_max: None,
    });

    // The gateway renewed its certificate a minute ago; west's clock runs 5 minutes behind.
    let just_issued = east_issuer.issue_workload(
        &mut rng,
        &gateway_id,
        before(T0, SimDuration::from_mins(1)),
        at(T0, hours(23)),
    );
    out.push(Case {
        name: "not yet valid: west clock 5m behind",
        client: client(
            Some(west_leaf.clone()),
            &bundle,
            ClockSkew(-5 * 60 * 1_000_000_000),
        ),
        server: gateway(just_issued.clone(), &bundle, none),
        expected_server: gateway_id.clone(),
        deliver_max: None,
    });
    out.push(Case {
        name: "same certificates, no skew",
        client: client(Some(west_leaf.clone()), &bundle, none),
        server: gateway(just_issued, &bundle, none),
        expected_server: gateway_id.clone(),
        deliver_max: None,
    });

    // West's workload renewed a minute ago; east's clock runs 5 minutes behind: the gateway rejects.
    let west_renewed = shared.issuer.issue_workload(
        &mut rng,
        &client_id,
        before(T0, SimDuration::from_mins(1)),
        at(T0, hours(23)),
    );
    out.push(Case {
        name: "not yet valid: east clock 5m behind (server side)",
        client: client(Some(west_renewed), &bundle, none),
        server: gateway(east_gw.clone(), &bundle, ClockSkew(-5 * 60 * 1_000_000_000)),
        expected_server: gateway_id.clone(),
        deliver_max: None,
    });

    // #9044: east uses trust domain example.org but west's Link pins the default gateway identity.
    let custom_gw = fresh_leaf(
        &east_issuer,
        &mut rng,
        &IdentityDomain::new("linkerd", "example.org").gateway(),
    );
    out.push(Case {
        name: "wrong gateway identity (trust domain #9044)",
        client: client(Some(west_leaf.clone()), &bundle, none),
        server: gateway(custom_gw, &bundle, none),
        expected_server: gateway_id.clone(),
        deliver_max: None,
    });

    out.push(Case {
        name: "unmeshed client against require-identity gateway (#7613)",
        client: client(None, &bundle, none),
        server: gateway(east_gw.clone(), &bundle, none),
        expected_server: gateway_id.clone(),
        deliver_max: None,
    });

    let mut lenient = gateway(east_gw.clone(), &bundle, none);
    lenient.require_client_identity = false;
    out.push(Case {
        name: "unmeshed client, identity not required",
        client: client(None, &bundle, none),
        server: lenient,
        expected_server: gateway_id.clone(),
        deliver_max: None,
    });

    out.push(Case {
        name: "flight 3 lost (partition after flight 2)",
        client: client(Some(west_leaf.clone()), &bundle, none),
        server: gateway(east_gw.clone(), &bundle, none),
        expected_server: gateway_id.clone(),
        deliver_max: Some(2),
    });

    out.push(Case {
        name: "flight 2 lost (partition after flight 1)",
        client: client(Some(west_leaf), &bundle, none),
        server: gateway(east_gw, &bundle, none),
        expected_server: gateway_id,
        deliver_max: Some(1),
    });
    out
}

#[test]
fn handshake_matrix() {
    let mut text = String::new();
    for case in cases(42) {
        let (log, _) = run(&case, 42);
        let _ = writeln!(text, "{}\n{log}", case.name);
    }
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("../snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| insta::assert_snapshot!("identity_handshake_matrix", text));
}

#[test]
fn matrix_is_deterministic_per_seed() {
    let digests = |seed| {
        cases(seed)
            .iter()
            .map(|c| run(c, seed).1)
            .collect::<Vec<_>>()
    };
    let a = digests(7);
    assert_eq!(a, digests(7));
    assert_ne!(a, digests(8));
}

#[test]
fn lost_flight_leaves_server_waiting_until_the_caller_times_it_out() {
    let case = cases(1)
        .into_iter()
        .find(|c| c.deliver_max == Some(2))
        .expect("lost-flight case");
    let mut rng = Prng::stream(1, "lost");
    let mut memo = SignatureMemo::default();
    let (mut client, hello) =
        ClientHandshake::start(Arc::new(case.client), &case.expected_server, T0, &mut rng);
    let mut server = ServerHandshake::new(Arc::new(case.server), T0);
    let flight2 = server
        .handle(T0, &hello, &mut rng, &mut memo)
        .expect("flight 2");
    let flight3 = client.handle(T0, &flight2, &mut memo).expect("flight 3");
    assert!(matches!(flight3, Flight::ClientFinished(_)));
    // Flight 3 is never delivered. The server waits, and says until when.
    assert_eq!(server.state().name(), "AwaitingClientFinished");
    let deadline = server
        .deadline()
        .expect("a pending handshake has a deadline");
    assert_eq!(deadline, T0 + DEFAULT_HANDSHAKE_TIMEOUT);
    assert!(!server.handle_timeout(SimTime(deadline.0 - 1)));
    assert_eq!(server.state().name(), "AwaitingClientFinished");
    assert!(server.handle_timeout(deadline));
    assert_eq!(server.state().name(), "Failed");
    // A late flight 3 cannot revive it.
    assert_eq!(
        server.handle(deadline + HOUR, &flight3, &mut rng, &mut memo),
        None
    );
    assert_eq!(server.state().name(), "Failed");
}
