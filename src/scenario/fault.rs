//! Scenario faults: what each kind is (its data, its scenario key, the clusters it involves,
//! its one-line description) and how the fuzzer's swarm draws a random one.
//!
//! Adding a fault kind: a variant here (and in [`FaultTag`], with its key), its key in
//! `schema::Fault` read in `load/faults.rs` and written in `save.rs`, and what it does in
//! `world/fault_injector/plan.rs`. The compiler points at every match that needs an arm.

use super::Scenario;
use crate::sim::{Prng, Ratio, SimDuration};

crate::named::named! {
    /// The kinds of fault, by their scenario keys (`[[fault]] <key> = ...`, `[fuzz] faults`).
    pub enum FaultTag {
        Partition = "partition",
        ClusterDown = "cluster_down",
        ApiServerDown = "api_server_down",
        GatewayDown = "gateway_down",
        ControllerCrash = "controller_crash",
        PodKill = "pod_kill",
        DnsFailure = "dns_failure",
        ClockSkew = "clock_skew",
        Compact = "compact",
        CertExpiry = "cert_expiry",
        RotateCerts = "rotate_certs",
        TrustAnchor = "trust_anchor",
        SlowPath = "slow_path",
        LossyPath = "lossy_path",
    }
}

impl FaultTag {
    /// Whether the fuzzer's swarm draws faults of this kind ([`FaultTag::draw`]).
    pub fn swarm_draws(self) -> bool {
        match self {
            FaultTag::Partition
            | FaultTag::ClusterDown
            | FaultTag::ApiServerDown
            | FaultTag::GatewayDown
            | FaultTag::ControllerCrash
            | FaultTag::DnsFailure
            | FaultTag::ClockSkew
            | FaultTag::Compact
            | FaultTag::CertExpiry
            | FaultTag::RotateCerts
            | FaultTag::SlowPath => true,
            FaultTag::PodKill | FaultTag::TrustAnchor | FaultTag::LossyPath => false,
        }
    }

    /// A random fault of this kind for the swarm, involving cluster `a` (and `b`, another
    /// cluster, for kinds between two), from `rng`; `None` when `base` offers nothing to apply
    /// it to (no link for a controller crash, no direct path for a slow path) or the swarm does
    /// not draw the kind.
    pub fn draw(self, rng: &mut Prng, base: &Scenario, a: &str, b: &str) -> Option<FaultKind> {
        Some(match self {
            FaultTag::Partition => FaultKind::Partition {
                groups: vec![vec![a.to_string()], vec![b.to_string()]],
                one_way: rng.chance(Ratio::new(1, 4)),
                mode: if rng.chance(Ratio::new(1, 2)) {
                    PartitionMode::Drop
                } else {
                    PartitionMode::Reject
                },
            },
            FaultTag::ApiServerDown => FaultKind::ApiServerDown(a.into()),
            FaultTag::GatewayDown => FaultKind::GatewayDown(a.into()),
            FaultTag::ClusterDown => FaultKind::ClusterDown(a.into()),
            FaultTag::ControllerCrash => {
                let links: Vec<&super::LinkSpec> = base.links.iter().collect();
                let l = rng.pick(&links)?;
                FaultKind::ControllerCrash {
                    cluster: l.from.clone(),
                    link: l.name.clone(),
                }
            }
            FaultTag::Compact => FaultKind::Compact(a.into()),
            FaultTag::DnsFailure => FaultKind::DnsFailure(a.into()),
            FaultTag::SlowPath => {
                // Only direct paths can be slowed.
                let p = base
                    .paths
                    .iter()
                    .find(|p| (p.a == a && p.b == b) || (p.a == b && p.b == a))?;
                FaultKind::SlowPath {
                    a: p.a.clone(),
                    b: p.b.clone(),
                    latency: SimDuration::from_millis(rng.range_inclusive(100, 2000)),
                }
            }
            FaultTag::CertExpiry => FaultKind::CertExpiry(a.into()),
            FaultTag::RotateCerts => FaultKind::RotateCerts(a.into()),
            FaultTag::ClockSkew => FaultKind::ClockSkew {
                cluster: a.into(),
                by_ns: -(rng.range_inclusive(1, 600) as i64) * 1_000_000_000,
            },
            FaultTag::PodKill | FaultTag::TrustAnchor | FaultTag::LossyPath => return None,
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum PartitionMode {
    /// Packets vanish: detected only by timeouts.
    Drop,
    /// Connections are refused or reset: fails fast.
    Reject,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum FaultKind {
    Partition {
        groups: Vec<Vec<String>>,
        one_way: bool,
        mode: PartitionMode,
    },
    ClusterDown(String),
    ApiServerDown(String),
    GatewayDown(String),
    ControllerCrash {
        cluster: String,
        link: String,
    },
    PodKill {
        cluster: String,
        namespace: String,
        pod: String,
    },
    DnsFailure(String),
    ClockSkew {
        cluster: String,
        by_ns: i64,
    },
    Compact(String),
    CertExpiry(String),
    RotateCerts(String),
    TrustAnchor {
        cluster: String,
        anchor: String,
    },
    SlowPath {
        a: String,
        b: String,
        latency: SimDuration,
    },
    LossyPath {
        a: String,
        b: String,
        loss: Ratio,
        duplicate: Ratio,
        reorder: Ratio,
    },
}

/// The index of the partition group holding cluster `c`.
fn group_of(groups: &[Vec<String>], c: &str) -> Option<usize> {
    groups.iter().position(|g| g.iter().any(|x| x == c))
}

impl FaultKind {
    /// The kind of this fault.
    pub fn tag(&self) -> FaultTag {
        match self {
            FaultKind::Partition { .. } => FaultTag::Partition,
            FaultKind::ClusterDown(_) => FaultTag::ClusterDown,
            FaultKind::ApiServerDown(_) => FaultTag::ApiServerDown,
            FaultKind::GatewayDown(_) => FaultTag::GatewayDown,
            FaultKind::ControllerCrash { .. } => FaultTag::ControllerCrash,
            FaultKind::PodKill { .. } => FaultTag::PodKill,
            FaultKind::DnsFailure(_) => FaultTag::DnsFailure,
            FaultKind::ClockSkew { .. } => FaultTag::ClockSkew,
            FaultKind::Compact(_) => FaultTag::Compact,
            FaultKind::CertExpiry(_) => FaultTag::CertExpiry,
            FaultKind::RotateCerts(_) => FaultTag::RotateCerts,
            FaultKind::TrustAnchor { .. } => FaultTag::TrustAnchor,
            FaultKind::SlowPath { .. } => FaultTag::SlowPath,
            FaultKind::LossyPath { .. } => FaultTag::LossyPath,
        }
    }

    /// The scenario key of this kind (also its name in reports and fuzz configuration).
    pub fn key(&self) -> &'static str {
        self.tag().name()
    }

    /// Whether this fault fails informers' lists and watches (a partition, an API server or a whole
    /// cluster away, a compacted watch history): a reflector that failed through one waits out its
    /// backoff before it watches again, possibly at the cap, and a 410 on that watch costs one more
    /// backoff before the relist (client-go, kubernetes-and-peers spec §B.11).
    pub fn breaks_watches(&self) -> bool {
        match self {
            FaultKind::Partition { .. }
            | FaultKind::ApiServerDown(_)
            | FaultKind::ClusterDown(_)
            | FaultKind::Compact(_) => true,
            FaultKind::GatewayDown(_)
            | FaultKind::ControllerCrash { .. }
            | FaultKind::PodKill { .. }
            | FaultKind::DnsFailure(_)
            | FaultKind::ClockSkew { .. }
            | FaultKind::CertExpiry(_)
            | FaultKind::RotateCerts(_)
            | FaultKind::TrustAnchor { .. }
            | FaultKind::SlowPath { .. }
            | FaultKind::LossyPath { .. } => false,
        }
    }

    /// Whether traffic from cluster `a` to cluster `b` (possibly `a == b`) crosses this fault:
    /// a partition affects a pair whose ends sit in different groups (in the cut direction for
    /// a one-way partition); a path fault affects the pair on its two ends; every other fault
    /// affects each pair that includes its cluster.
    pub fn affects_pair(&self, a: &str, b: &str) -> bool {
        match self {
            FaultKind::Partition {
                groups, one_way, ..
            } => match (group_of(groups, a), group_of(groups, b)) {
                (Some(ga), Some(gb)) if ga != gb => !*one_way || ga == 0 || gb == 0,
                _ => false,
            },
            FaultKind::SlowPath { a: x, b: y, .. } | FaultKind::LossyPath { a: x, b: y, .. } => {
                (a == x && b == y) || (a == y && b == x)
            }
            _ => self.clusters().iter().any(|c| c == a || c == b),
        }
    }

    /// Whether this fault cuts the probe path from a service mirror in cluster `source` to the
    /// gateway of cluster `target` (`Some`), and whether probes then fail fast (`Some(true)`: a
    /// refused connection) or only at their timeout (`Some(false)`: packets vanish). A partial
    /// loss, a slow path or an identity fault is not a cut.
    pub fn gateway_cut(&self, source: &str, target: &str) -> Option<bool> {
        match self {
            FaultKind::GatewayDown(c) if c == target => Some(true),
            FaultKind::ClusterDown(c) if c == target => Some(false),
            // A one-way cut is not judged: whether the probe's request and its answer both
            // fail depends on which side opens the connection.
            FaultKind::Partition {
                groups,
                mode,
                one_way: false,
            } => match (group_of(groups, source), group_of(groups, target)) {
                (Some(a), Some(b)) if a != b => Some(*mode == PartitionMode::Reject),
                _ => None,
            },
            FaultKind::LossyPath { a, b, loss, .. }
                if loss.num >= loss.den
                    && ((a == source && b == target) || (a == target && b == source)) =>
            {
                Some(false)
            }
            _ => None,
        }
    }

    /// Clusters directly involved in this fault (for the failure-domain check).
    pub fn clusters(&self) -> Vec<String> {
        match self {
            FaultKind::Partition { groups, .. } => groups.iter().flatten().cloned().collect(),
            FaultKind::ClusterDown(c)
            | FaultKind::ApiServerDown(c)
            | FaultKind::GatewayDown(c)
            | FaultKind::DnsFailure(c)
            | FaultKind::Compact(c)
            | FaultKind::CertExpiry(c)
            | FaultKind::RotateCerts(c) => vec![c.clone()],
            FaultKind::ControllerCrash { cluster, .. }
            | FaultKind::PodKill { cluster, .. }
            | FaultKind::ClockSkew { cluster, .. }
            | FaultKind::TrustAnchor { cluster, .. } => vec![cluster.clone()],
            FaultKind::SlowPath { a, b, .. } | FaultKind::LossyPath { a, b, .. } => {
                vec![a.clone(), b.clone()]
            }
        }
    }
}

/// One line describing a fault, as reports print it.
impl std::fmt::Display for FaultKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FaultKind::Partition {
                groups,
                one_way,
                mode,
            } => {
                let groups: Vec<String> = groups
                    .iter()
                    .map(|g| format!("[{}]", g.join(",")))
                    .collect();
                let sep = if *one_way { " -/-> " } else { " <-/-> " };
                let mode = match mode {
                    PartitionMode::Drop => "drop",
                    PartitionMode::Reject => "reject",
                };
                write!(f, "partition {} ({mode})", groups.join(sep))
            }
            FaultKind::ClusterDown(c) => write!(f, "cluster {c} down"),
            FaultKind::ApiServerDown(c) => write!(f, "API server of {c} down"),
            FaultKind::GatewayDown(c) => write!(f, "gateway of {c} down"),
            FaultKind::ControllerCrash { cluster, link } => {
                write!(f, "service mirror {cluster}/{link} crashes")
            }
            FaultKind::PodKill {
                cluster,
                namespace,
                pod,
            } => write!(f, "pod {cluster}/{namespace}/{pod} killed"),
            FaultKind::DnsFailure(c) => write!(f, "DNS of {c} fails"),
            FaultKind::ClockSkew { cluster, by_ns } => {
                let d = SimDuration(by_ns.unsigned_abs());
                let sign = if *by_ns < 0 { "-" } else { "+" };
                write!(f, "clock of {cluster} skewed by {sign}{d}")
            }
            FaultKind::Compact(c) => write!(f, "watch history of {c} compacted"),
            FaultKind::CertExpiry(c) => write!(f, "certificates of {c} expire"),
            FaultKind::RotateCerts(c) => write!(f, "certificates of {c} rotated"),
            FaultKind::TrustAnchor { cluster, anchor } => {
                write!(f, "{cluster} switches to trust anchor {anchor}")
            }
            FaultKind::SlowPath { a, b, latency } => {
                write!(f, "path {a}<->{b} slowed by {latency}")
            }
            FaultKind::LossyPath {
                a,
                b,
                loss,
                duplicate,
                reorder,
            } => write!(
                f,
                "path {a}<->{b} lossy (loss {}/{}, dup {}/{}, reorder {}/{})",
                loss.num, loss.den, duplicate.num, duplicate.den, reorder.num, reorder.den
            ),
        }
    }
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FaultSpec {
    pub at: SimDuration,
    /// `None`: the fault is never healed.
    pub duration: Option<SimDuration>,
    pub kind: FaultKind,
}
