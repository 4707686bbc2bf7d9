//! Network topology: routing (shortest by latency, metrics combined along the route), the
//! gateway-only vs flat reachability rules, fault overlays (one-way partitions, modes, nodes
//! down, degraded links) and healing back to exactly the base, plus the DOT rendering.

use mcsim::net::{
    AddressKind, BlockMode, ClusterSpec, Degradation, Direction, Fault, NetworkKind, NodeId,
    PathSpec, PathState, Reach, Topology, TopologyError, Unroutable,
};
use mcsim::sim::{Prng, Ratio, SimDuration};
use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

fn ms(n: u64) -> SimDuration {
    SimDuration::from_millis(n)
}

fn path(latency_ms: u64, jitter_ms: u64, loss: Ratio) -> PathSpec {
    PathSpec {
        latency: ms(latency_ms),
        jitter: ms(jitter_ms),
        loss,
        bandwidth_bytes_per_sec: None,
    }
}

/// west, east, north clusters; a VPC joining west and east cheaply, the internet joining all,
/// and a slow direct west–east link.
struct World {
    t: Topology,
    west: NodeId,
    east: NodeId,
    north: NodeId,
    vpc: NodeId,
    internet: NodeId,
}

fn world() -> World {
    let mut t = Topology::default();
    let west = t.add_cluster(ClusterSpec::named("west")).unwrap();
    let east = t.add_cluster(ClusterSpec::named("east")).unwrap();
    let north = t.add_cluster(ClusterSpec::named("north")).unwrap();
    let vpc = t.add_network("vpc", NetworkKind::Vpc).unwrap();
    let internet = t.add_network("internet", NetworkKind::Internet).unwrap();
    t.set_path(west, vpc, path(10, 1, Ratio::new(1, 10)))
        .unwrap();
    t.set_path(vpc, east, path(20, 2, Ratio::new(1, 10)))
        .unwrap();
    t.set_path(west, east, path(100, 0, Ratio::ZERO)).unwrap();
    t.set_path(west, internet, path(40, 5, Ratio::ZERO))
        .unwrap();
    t.set_path(east, internet, path(40, 5, Ratio::ZERO))
        .unwrap();
    t.set_path(north, internet, path(60, 5, Ratio::ZERO))
        .unwrap();
    World {
        t,
        west,
        east,
        north,
        vpc,
        internet,
    }
}

fn up(state: PathState) -> mcsim::net::PathMetrics {
    match state {
        PathState::Up(m) => m,
        other => panic!("expected an up path, got {other:?}"),
    }
}

/// Every (src, dst) state and route: the observable behaviour of the tables.
fn snapshot(t: &Topology) -> Vec<(PathState, Vec<NodeId>)> {
    let ids: Vec<NodeId> = t.node_ids().collect();
    let mut out = Vec::new();
    for &s in &ids {
        for &d in &ids {
            out.push((t.path_state(s, d), t.route(s, d).to_vec()));
        }
    }
    out
}

#[test]
fn shortest_route_by_latency_with_combined_metrics() {
    let w = world();
    let m = up(w.t.path_state(w.west, w.east));
    assert_eq!(w.t.route(w.west, w.east), &[w.west, w.vpc, w.east]);
    assert_eq!(m.latency, ms(30));
    assert_eq!(m.jitter, ms(3));
    assert_eq!(m.loss, Ratio::new(19, 100));
    assert_eq!(m.hops, 2);
    // north reaches west only over the internet.
    let n = up(w.t.path_state(w.north, w.west));
    assert_eq!(w.t.route(w.north, w.west), &[w.north, w.internet, w.west]);
    assert_eq!(n.latency, ms(100));
    // Inside a cluster: the cluster's local hop.
    let local = up(w.t.path_state(w.west, w.west));
    assert_eq!(local.latency, SimDuration::from_micros(200));
    assert_eq!(local.hops, 0);
}

#[test]
fn changing_a_path_invalidates_cached_routes() {
    let mut w = world();
    let epoch = w.t.epoch();
    w.t.set_path(w.west, w.east, path(5, 0, Ratio::ZERO))
        .unwrap();
    assert!(w.t.epoch() > epoch);
    assert_eq!(w.t.route(w.west, w.east), &[w.west, w.east]);
    assert_eq!(up(w.t.path_state(w.west, w.east)).latency, ms(5));
    assert!(w.t.remove_path(w.west, w.east));
    assert!(!w.t.remove_path(w.west, w.east));
    assert_eq!(w.t.route(w.west, w.east), &[w.west, w.vpc, w.east]);
}

#[test]
fn equal_cost_routes_prefer_fewer_hops_then_lower_ids() {
    let mut t = Topology::default();
    let a = t.add_cluster(ClusterSpec::named("a")).unwrap();
    let b = t.add_cluster(ClusterSpec::named("b")).unwrap();
    let n1 = t.add_network("n1", NetworkKind::Vpc).unwrap();
    let n2 = t.add_network("n2", NetworkKind::Vpc).unwrap();
    for n in [n2, n1] {
        t.set_path(a, n, path(10, 0, Ratio::ZERO)).unwrap();
        t.set_path(n, b, path(10, 0, Ratio::ZERO)).unwrap();
    }
    assert_eq!(t.route(a, b), &[a, n1, b]);
    t.set_path(a, b, path(20, 0, Ratio::ZERO)).unwrap();
    assert_eq!(t.route(a, b), &[a, b]);
}

#[test]
fn gateway_only_unless_flat() {
    let mut w = world();
    let east = w.t.cluster(w.east).unwrap().addresses;
    let west = w.t.cluster(w.west).unwrap().addresses;
    let east_pod = east.pod_cidr.nth(7).unwrap();
    let east_svc = east.service_cidr.nth(10).unwrap();
    assert_eq!(
        w.t.owner_of(east.gateway),
        Some((w.east, AddressKind::Gateway))
    );
    assert_eq!(w.t.owner_of(east_pod), Some((w.east, AddressKind::Pod)));
    assert_eq!(w.t.owner_of(east_svc), Some((w.east, AddressKind::Service)));
    assert_eq!(w.t.owner_of(Ipv4Addr::new(8, 8, 8, 8)), None);

    match w.t.reach(w.west, east.gateway) {
        Reach::Route {
            dst,
            kind,
            latency,
            loss,
            ..
        } => {
            assert_eq!((dst, kind), (w.east, AddressKind::Gateway));
            assert_eq!(latency, ms(30));
            assert_eq!(loss, Ratio::new(19, 100));
        }
        other => panic!("gateway must be routable: {other:?}"),
    }
    assert_eq!(
        w.t.reach(w.west, east_pod),
        Reach::Unroutable(Unroutable::ForeignPodAddress)
    );
    assert_eq!(
        w.t.reach(w.west, east_svc),
        Reach::Unroutable(Unroutable::ForeignServiceAddress)
    );
    assert_eq!(
        w.t.reach(w.west, Ipv4Addr::new(8, 8, 8, 8)),
        Reach::Unroutable(Unroutable::UnknownAddress)
    );
    assert!(matches!(
        w.t.reach(w.west, west.pod_cidr.nth(3).unwrap()),
        Reach::Local {
            kind: AddressKind::Pod,
            ..
        }
    ));
    assert!(matches!(
        w.t.reach(w.west, west.service_cidr.nth(3).unwrap()),
        Reach::Local { .. }
    ));

    // Pod-to-pod mode between west and east only.
    w.t.declare_flat(&[w.west, w.east]).unwrap();
    assert!(matches!(
        w.t.reach(w.west, east_pod),
        Reach::Route {
            kind: AddressKind::Pod,
            ..
        }
    ));
    assert!(matches!(
        w.t.reach(w.east, west.pod_cidr.nth(1).unwrap()),
        Reach::Route { .. }
    ));
    assert_eq!(
        w.t.reach(w.west, east_svc),
        Reach::Unroutable(Unroutable::ForeignServiceAddress)
    );
    let north_pod =
        w.t.cluster(w.north)
            .unwrap()
            .addresses
            .pod_cidr
            .nth(1)
            .unwrap();
    assert_eq!(
        w.t.reach(w.west, north_pod),
        Reach::Unroutable(Unroutable::ForeignPodAddress)
    );
    assert_eq!(
        w.t.declare_flat(&[w.west, w.vpc]),
        Err(TopologyError::NotACluster(w.vpc))
    );

    // A cluster with no path at all.
    let island = w.t.add_cluster(ClusterSpec::named("island")).unwrap();
    let island_gw = w.t.cluster(island).unwrap().addresses.gateway;
    assert_eq!(
        w.t.reach(w.west, island_gw),
        Reach::Unroutable(Unroutable::NoRoute)
    );
    assert_eq!(w.t.path_state(w.west, island), PathState::NoRoute);
}

#[test]
fn one_way_partition_blocks_one_direction_only() {
    let mut w = world();
    let id =
        w.t.add_fault(Fault::partition_one_way(
            &[w.west],
            &[w.east],
            BlockMode::Drop,
        ))
        .unwrap();
    assert_eq!(
        w.t.path_state(w.west, w.east),
        PathState::Blocked(BlockMode::Drop)
    );
    assert!(w.t.path_state(w.east, w.west).is_up());
    assert_eq!(w.t.route(w.east, w.west), &[w.east, w.vpc, w.west]);
    // Third parties are untouched.
    assert!(w.t.path_state(w.west, w.north).is_up());
    assert!(w.t.path_state(w.north, w.east).is_up());
    assert!(w.t.remove_fault(id).is_some());
    assert!(w.t.path_state(w.west, w.east).is_up());
    // The liveness phase heals everything at once.
    let base = snapshot(&w.t);
    w.t.add_fault(Fault::partition_one_way(
        &[w.east],
        &[w.west],
        BlockMode::Reject,
    ))
    .unwrap();
    w.t.add_fault(Fault::Down(w.vpc)).unwrap();
    assert_eq!(
        w.t.path_state(w.east, w.west),
        PathState::Blocked(BlockMode::Reject)
    );
    assert!(w.t.path_state(w.west, w.east).is_up());
    w.t.clear_faults();
    assert_eq!(snapshot(&w.t), base);
}

#[test]
fn partition_modes_down_nodes_and_cut_links() {
    let mut w = world();
    let base = snapshot(&w.t);
    let p =
        w.t.add_fault(Fault::partition(
            &[w.west],
            &[w.east, w.north],
            BlockMode::Reject,
        ))
        .unwrap();
    assert_eq!(
        w.t.path_state(w.east, w.west),
        PathState::Blocked(BlockMode::Reject)
    );
    assert_eq!(
        w.t.path_state(w.north, w.west),
        PathState::Blocked(BlockMode::Reject)
    );
    assert!(w.t.path_state(w.north, w.east).is_up());
    // A second, black-holing partition over the same pair: drop dominates.
    let q =
        w.t.add_fault(Fault::partition(&[w.east], &[w.west], BlockMode::Drop))
            .unwrap();
    assert_eq!(
        w.t.path_state(w.west, w.east),
        PathState::Blocked(BlockMode::Drop)
    );
    w.t.remove_fault(q);
    w.t.remove_fault(p);
    assert_eq!(snapshot(&w.t), base);

    // Cutting north off the internet isolates it from everyone, and no one else.
    let cut =
        w.t.add_fault(Fault::partition(
            &[w.north],
            &[w.internet],
            BlockMode::Reject,
        ))
        .unwrap();
    assert_eq!(
        w.t.path_state(w.north, w.west),
        PathState::Blocked(BlockMode::Reject)
    );
    assert_eq!(
        w.t.path_state(w.east, w.north),
        PathState::Blocked(BlockMode::Reject)
    );
    assert!(w.t.path_state(w.east, w.west).is_up());
    w.t.remove_fault(cut);

    // Losing the VPC reroutes west–east over the internet (80ms beats the 100ms direct link);
    // losing a cluster is Down.
    let vpc_down = w.t.add_fault(Fault::Down(w.vpc)).unwrap();
    assert_eq!(w.t.route(w.west, w.east), &[w.west, w.internet, w.east]);
    assert_eq!(up(w.t.path_state(w.west, w.east)).latency, ms(80));
    let east_down = w.t.add_fault(Fault::Down(w.east)).unwrap();
    assert_eq!(w.t.path_state(w.west, w.east), PathState::Down);
    assert_eq!(w.t.path_state(w.east, w.east), PathState::Down);
    let east_gw = w.t.cluster(w.east).unwrap().addresses.gateway;
    assert!(
        matches!(w.t.reach(w.west, east_gw), Reach::Route { .. }),
        "reach ignores faults by design"
    );
    // Transit down: north only reaches west through the internet.
    let internet_down = w.t.add_fault(Fault::Down(w.internet)).unwrap();
    assert_eq!(w.t.path_state(w.north, w.west), PathState::Down);
    for id in [vpc_down, internet_down, east_down] {
        w.t.remove_fault(id);
    }
    assert_eq!(snapshot(&w.t), base);
}

#[test]
fn degraded_links_add_latency_and_ratios_and_can_reroute() {
    let mut w = world();
    let lossy =
        w.t.add_fault(Fault::Degrade {
            a: w.west,
            b: w.vpc,
            direction: Direction::AtoB,
            degradation: Degradation {
                extra_latency: ms(5),
                extra_jitter: ms(1),
                loss: Ratio::new(1, 2),
                duplicate: Ratio::new(1, 100),
                reorder: Ratio::new(1, 50),
            },
        })
        .unwrap();
    let m = up(w.t.path_state(w.west, w.east));
    assert_eq!(m.latency, ms(35));
    assert_eq!(m.jitter, ms(4));
    // 1 - (9/10)(1/2)(9/10) = 119/200
    assert_eq!(m.loss, Ratio::new(119, 200));
    assert_eq!(m.duplicate, Ratio::new(1, 100));
    assert_eq!(m.reorder, Ratio::new(1, 50));
    // The reverse direction is untouched.
    assert_eq!(up(w.t.path_state(w.east, w.west)).loss, Ratio::new(19, 100));
    // A clogged VPC link makes the internet path cheaper.
    let slow = w.t.add_fault(Fault::slow(w.vpc, w.east, ms(200))).unwrap();
    assert_eq!(w.t.route(w.west, w.east), &[w.west, w.internet, w.east]);
    // Clog the internet too and the slow direct link wins.
    let slow2 =
        w.t.add_fault(Fault::slow(w.west, w.internet, ms(200)))
            .unwrap();
    assert_eq!(w.t.route(w.west, w.east), &[w.west, w.east]);
    w.t.remove_fault(slow2);
    w.t.remove_fault(slow);
    w.t.remove_fault(lossy);
    assert_eq!(w.t.route(w.west, w.east), &[w.west, w.vpc, w.east]);
    assert_eq!(
        w.t.add_fault(Fault::slow(w.west, w.north, ms(1))),
        Err(TopologyError::NoSuchLink {
            a: w.west,
            b: w.north
        })
    );
    assert_eq!(
        w.t.add_fault(Fault::partition(&[], &[w.west], BlockMode::Drop)),
        Err(TopologyError::EmptyPartitionSide)
    );
}

type Tables = Vec<(PathState, Vec<NodeId>)>;

/// One random add/remove sequence of every overlay kind. After each step the incrementally
/// maintained tables must equal those of a fresh world given the same active overlays (the
/// oracle: no state leaks from healed faults). Returns the tables after every step.
fn heal_run(seed: u64) -> Tables {
    let mut w = world();
    let base = snapshot(&w.t);
    let nodes: Vec<NodeId> = w.t.node_ids().collect();
    let mut rng = Prng::stream(seed, "net/heal");
    let mut active: Vec<(mcsim::net::FaultId, Fault)> = Vec::new();
    let mut trail = Vec::new();
    for _ in 0..12 {
        let pick = |rng: &mut Prng| nodes[rng.below(nodes.len() as u64) as usize];
        let fault = match rng.below(4) {
            0 => {
                let (a, b) = (pick(&mut rng), pick(&mut rng));
                if a == b {
                    continue;
                }
                let mode = if rng.chance(Ratio::new(1, 2)) {
                    BlockMode::Drop
                } else {
                    BlockMode::Reject
                };
                if rng.chance(Ratio::new(1, 2)) {
                    Fault::partition(&[a], &[b], mode)
                } else {
                    Fault::partition_one_way(&[a], &[b], mode)
                }
            }
            1 => Fault::Down(pick(&mut rng)),
            2 => Fault::slow(w.west, w.vpc, ms(rng.below(300))),
            _ => Fault::lossy(w.east, w.internet, Ratio::new(rng.below(10), 10)),
        };
        active.push((w.t.add_fault(fault.clone()).unwrap(), fault));
        if rng.chance(Ratio::new(1, 3)) {
            let i = rng.below(active.len() as u64) as usize;
            let (id, _) = active.swap_remove(i);
            assert!(w.t.remove_fault(id).is_some());
        }
        let mut fresh = world();
        let mut in_order = active.clone();
        in_order.sort_by_key(|(id, _)| *id);
        for (_, f) in in_order {
            fresh.t.add_fault(f).unwrap();
        }
        let now = snapshot(&w.t);
        assert_eq!(
            now,
            snapshot(&fresh.t),
            "seed {seed}: incremental tables differ from a fresh build"
        );
        trail.extend(now);
    }
    rng.shuffle(&mut active);
    for (id, _) in active {
        assert!(w.t.remove_fault(id).is_some());
    }
    assert_eq!(
        snapshot(&w.t),
        base,
        "seed {seed}: healing did not restore the base"
    );
    assert_eq!(w.t.faults().count(), 0);
    trail
}

#[test]
fn healing_restores_exactly_the_base() {
    for seed in 0..40u64 {
        heal_run(seed);
    }
    assert_eq!(heal_run(3), heal_run(3));
    assert_ne!(heal_run(3), heal_run(4));
}

#[test]
fn address_plan_is_deterministic_and_checked() {
    let mut t = Topology::default();
    let mut gateways = BTreeSet::new();
    for i in 1..=95 {
        let id = t.add_cluster(ClusterSpec::named(&format!("c{i}"))).unwrap();
        let a = t.cluster(id).unwrap().addresses;
        assert_eq!(a.pod_cidr.to_string(), format!("10.{i}.0.0/16"));
        assert_eq!(a.service_cidr.to_string(), format!("10.{}.0.0/16", 95 + i));
        assert!(gateways.insert(a.gateway));
        assert_eq!(t.owner_of(a.gateway), Some((id, AddressKind::Gateway)));
    }
    // Cluster 96's default pod block would be cluster 1's service block.
    assert!(matches!(
        t.add_cluster(ClusterSpec::named("c96")),
        Err(TopologyError::AddressOverlap { .. })
    ));
    assert_eq!(
        t.add_cluster(ClusterSpec::named("c1")),
        Err(TopologyError::DuplicateName("c1".into()))
    );
    let mut custom = ClusterSpec::named("custom");
    custom.pod_cidr = mcsim::net::Cidr::parse("172.16.0.0/16");
    custom.service_cidr = mcsim::net::Cidr::parse("172.17.0.0/24");
    custom.gateway = Some(Ipv4Addr::new(198, 51, 100, 7));
    let id = t.add_cluster(custom).unwrap();
    assert_eq!(
        t.owner_of(Ipv4Addr::new(172, 16, 3, 4)),
        Some((id, AddressKind::Pod))
    );
    let mut clash = ClusterSpec::named("clash");
    clash.gateway = Some(Ipv4Addr::new(198, 51, 100, 7));
    clash.pod_cidr = mcsim::net::Cidr::parse("172.20.0.0/16");
    clash.service_cidr = mcsim::net::Cidr::parse("172.21.0.0/24");
    assert!(matches!(
        t.add_cluster(clash),
        Err(TopologyError::AddressOverlap { .. })
    ));
}

/// A tiny DOT reader: enough to prove the output is one well-formed `graph` whose edges only
/// name declared nodes. Returns (node names, edges as (from, to, attributes)).
type Edge = (String, String, BTreeMap<String, String>);

fn parse_dot(text: &str) -> Result<(BTreeSet<String>, Vec<Edge>), String> {
    let body = text
        .strip_prefix("graph topology {\n")
        .and_then(|b| b.strip_suffix("}\n"))
        .ok_or("not a `graph topology { ... }` document")?;
    let mut nodes = BTreeSet::new();
    let mut edges = Vec::new();
    for line in body.lines() {
        let stmt = line
            .trim()
            .strip_suffix(';')
            .ok_or(format!("statement without ';': {line}"))?;
        let (head, attrs) = match stmt.find('[') {
            Some(i) => (
                &stmt[..i],
                stmt[i..]
                    .strip_prefix('[')
                    .and_then(|a| a.strip_suffix(']'))
                    .ok_or("bad [")?,
            ),
            None => (stmt, ""),
        };
        let attrs = parse_attrs(attrs)?;
        let ids = head
            .trim()
            .split(" -- ")
            .map(parse_id)
            .collect::<Result<Vec<_>, _>>()?;
        match ids.as_slice() {
            [keyword] if keyword == "node" || keyword == "edge" => {}
            [id] => {
                nodes.insert(id.clone());
            }
            [a, b] => {
                if !nodes.contains(a) || !nodes.contains(b) {
                    return Err(format!("edge {a} -- {b} names an undeclared node"));
                }
                edges.push((a.clone(), b.clone(), attrs));
            }
            _ => return Err(format!("unexpected statement: {stmt}")),
        }
    }
    Ok((nodes, edges))
}

fn parse_id(s: &str) -> Result<String, String> {
    let s = s.trim();
    match s.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        Some(inner) => Ok(inner.replace("\\\"", "\"")),
        None if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => {
            Ok(s.to_owned())
        }
        None => Err(format!("bad id {s:?}")),
    }
}

fn parse_attrs(s: &str) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        let (key, after) = rest
            .split_once('=')
            .ok_or(format!("attribute without '=': {rest}"))?;
        let after = after.trim_start();
        let (value, tail) = if let Some(q) = after.strip_prefix('"') {
            let mut end = None;
            let mut escaped = false;
            for (i, c) in q.char_indices() {
                match (escaped, c) {
                    (false, '\\') => escaped = true,
                    (false, '"') => {
                        end = Some(i);
                        break;
                    }
                    _ => escaped = false,
                }
            }
            let end = end.ok_or("unterminated string")?;
            (q[..end].to_owned(), &q[end + 1..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].trim().to_owned(), &after[end..])
        };
        out.insert(key.trim().to_owned(), value);
        rest = tail
            .trim_start()
            .strip_prefix(',')
            .unwrap_or(tail)
            .trim_start();
    }
    Ok(out)
}

#[test]
fn dot_output_parses_back_and_styles_faults() {
    let mut w = world();
    w.t.set_path_one_way(w.north, w.vpc, path(7, 0, Ratio::new(1, 1000)))
        .unwrap();
    let (nodes, edges) = parse_dot(&w.t.to_dot()).unwrap();
    assert_eq!(
        nodes,
        ["west", "east", "north", "vpc", "internet"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    );
    // Six symmetric paths drawn once each, plus the one-way path as an arrow.
    assert_eq!(edges.len(), 7);
    let west_vpc = edges
        .iter()
        .find(|(a, b, _)| a == "west" && b == "vpc")
        .unwrap();
    assert_eq!(west_vpc.2["label"], "10ms ±1ms loss 1/10");
    let one_way = edges
        .iter()
        .find(|(a, b, _)| a == "north" && b == "vpc")
        .unwrap();
    assert_eq!(one_way.2["dir"], "forward");

    w.t.add_fault(Fault::partition_one_way(
        &[w.west],
        &[w.east],
        BlockMode::Reject,
    ))
    .unwrap();
    w.t.add_fault(Fault::Down(w.north)).unwrap();
    w.t.add_fault(Fault::Degrade {
        a: w.vpc,
        b: w.west,
        direction: Direction::AtoB,
        degradation: Degradation {
            extra_latency: ms(3),
            ..Degradation::default()
        },
    })
    .unwrap();
    let dot = w.t.to_dot();
    let (_, edges) = parse_dot(&dot).unwrap();
    let partition: Vec<_> = edges
        .iter()
        .filter(|e| e.2.get("style").is_some_and(|s| s == "dashed"))
        .collect();
    assert_eq!(partition.len(), 1);
    assert_eq!(partition[0].2["label"], "partition #1 reject");
    assert_eq!(partition[0].2["dir"], "forward");
    let direct = edges
        .iter()
        .find(|(a, b, at)| a == "west" && b == "east" && !at.contains_key("style"))
        .unwrap();
    assert_eq!(direct.2["color"], "red");
    assert!(dot.contains("DOWN"), "{dot}");
    let west_vpc = edges
        .iter()
        .find(|(a, b, _)| a == "west" && b == "vpc")
        .unwrap();
    assert_eq!(west_vpc.2["label"], "10ms ±1ms loss 1/10 degraded #3");
    assert_eq!(west_vpc.2["color"], "orange");
    assert_eq!(dot, w.t.to_dot(), "rendering is deterministic");
    assert!(parse_dot("graph topology {\n  \"a\" -- \"b\";\n}\n").is_err());
}

#[test]
fn unknown_ids_are_errors_not_panics() {
    let mut w = world();
    let ghost = NodeId(999);
    assert_eq!(w.t.path_state(ghost, w.west), PathState::NoRoute);
    assert_eq!(w.t.path_state(w.west, ghost), PathState::NoRoute);
    assert!(w.t.route(ghost, ghost).is_empty());
    assert_eq!(w.t.name(ghost), "?");
    assert!(!w.t.remove_path(ghost, NodeId(1000)));
    assert_eq!(
        w.t.set_path(w.west, ghost, PathSpec::default()),
        Err(TopologyError::UnknownNode(ghost))
    );
    assert_eq!(
        w.t.set_path(w.west, w.west, PathSpec::default()),
        Err(TopologyError::SelfLoop(w.west))
    );
    assert_eq!(
        w.t.add_fault(Fault::Down(ghost)),
        Err(TopologyError::UnknownNode(ghost))
    );
    assert_eq!(
        w.t.declare_flat(&[ghost]),
        Err(TopologyError::NotACluster(ghost))
    );
    let east_gw = w.t.cluster(w.east).unwrap().addresses.gateway;
    assert_eq!(
        w.t.reach(ghost, east_gw),
        Reach::Unroutable(Unroutable::NoRoute)
    );
    assert!(w.t.remove_fault(mcsim::net::FaultId(77)).is_none());
}
