//! Fault overlays: data describing a partition, a degraded link or a node that is down. The
//! topology keeps the base graph untouched and applies the active overlays when it recomputes
//! path states, so removing an overlay (healing) restores exactly the base behaviour.
//!
//! Inputs: node ids from the topology. Outputs: plain values and a few predicates
//! ([`Partition::blocks`], [`Partition::cuts`]). No state, no randomness, no time.

use super::topology::NodeId;
use crate::sim::{Ratio, SimDuration};
use std::collections::BTreeSet;

/// Identifies an active overlay so it can be removed on heal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FaultId(pub u64);

/// What a blocked path does to a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BlockMode {
    /// Silently black-holed: the sender learns nothing until its own timeout (probe waits the
    /// full 30 s, spec §8.3).
    Drop,
    /// Refused or reset quickly: the sender learns at once (connection refused / RST).
    Reject,
}

/// Which directions a partition or link fault covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Direction {
    Both,
    /// Only traffic from side `a` to side `b` (a one-way partition: `b` can still send to `a`).
    AtoB,
}

/// Two sets of nodes (clusters or networks) that cannot talk.
///
/// A message from `src` to `dst` is blocked when its endpoints are on opposite sides in a covered
/// direction, and a link `u → v` is cut when its ends are; routes avoid cut links, so a partition
/// between a cluster and its only network isolates the cluster even from third parties.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Partition {
    pub a: BTreeSet<NodeId>,
    pub b: BTreeSet<NodeId>,
    pub direction: Direction,
    pub mode: BlockMode,
}

impl Partition {
    /// Whether `from → to` crosses this partition in a covered direction.
    pub fn blocks(&self, from: NodeId, to: NodeId) -> bool {
        let forward = self.a.contains(&from) && self.b.contains(&to);
        let backward = self.b.contains(&from) && self.a.contains(&to);
        match self.direction {
            Direction::Both => forward || backward,
            Direction::AtoB => forward,
        }
    }

    /// Whether the directed link `u → v` is cut (same rule as [`Self::blocks`]).
    pub fn cuts(&self, u: NodeId, v: NodeId) -> bool {
        self.blocks(u, v)
    }
}

/// Extra trouble on the link between two adjacent nodes: added latency (a clogged or slow path)
/// and added loss, duplication and reordering ratios. Zero fields change nothing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Degradation {
    pub extra_latency: SimDuration,
    pub extra_jitter: SimDuration,
    pub loss: Ratio,
    pub duplicate: Ratio,
    pub reorder: Ratio,
}

/// One overlay.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Fault {
    Partition(Partition),
    /// The link between adjacent `a` and `b` degrades; `direction` `AtoB` affects `a → b` only.
    Degrade {
        a: NodeId,
        b: NodeId,
        direction: Direction,
        degradation: Degradation,
    },
    /// A whole cluster (or network) is unreachable: nothing enters, leaves or crosses it.
    Down(NodeId),
}

impl Fault {
    /// A symmetric partition between two sets.
    pub fn partition(a: &[NodeId], b: &[NodeId], mode: BlockMode) -> Fault {
        Fault::Partition(Partition {
            a: a.iter().copied().collect(),
            b: b.iter().copied().collect(),
            direction: Direction::Both,
            mode,
        })
    }

    /// A one-way partition: `from` cannot reach `to`; `to` can still reach `from`.
    pub fn partition_one_way(from: &[NodeId], to: &[NodeId], mode: BlockMode) -> Fault {
        Fault::Partition(Partition {
            a: from.iter().copied().collect(),
            b: to.iter().copied().collect(),
            direction: Direction::AtoB,
            mode,
        })
    }

    /// A slow (clogged) link in both directions.
    pub fn slow(a: NodeId, b: NodeId, extra_latency: SimDuration) -> Fault {
        Fault::Degrade {
            a,
            b,
            direction: Direction::Both,
            degradation: Degradation {
                extra_latency,
                ..Degradation::default()
            },
        }
    }

    /// A lossy link in both directions.
    pub fn lossy(a: NodeId, b: NodeId, loss: Ratio) -> Fault {
        Fault::Degrade {
            a,
            b,
            direction: Direction::Both,
            degradation: Degradation {
                loss,
                ..Degradation::default()
            },
        }
    }

    /// Short label for logs and the DOT rendering.
    pub fn label(&self) -> &'static str {
        match self {
            Fault::Partition(_) => "partition",
            Fault::Degrade { .. } => "degrade",
            Fault::Down(_) => "down",
        }
    }
}
