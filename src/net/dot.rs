//! Graphviz DOT rendering of a [`Topology`]: clusters as boxes (with their address blocks),
//! networks as ellipses, paths as edges labelled with latency, jitter, loss and bandwidth, flat
//! pod networks as dotted edges between their members, and the
//! active overlays styled (down nodes grey, degraded links orange, partitions as red dashed edges
//! between their sides, cut links red).
//!
//! Input: a topology. Output: a `String`, byte-for-byte deterministic (nodes in id order, edges
//! in insertion order, overlays in id order). Reads only; never changes the topology.

use super::fault::{BlockMode, Direction, Fault};
use super::topology::{NetworkKind, Node, NodeId, PathSpec, Topology};
use std::fmt::Write;

/// A DOT quoted id or string.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn path_label(spec: &PathSpec) -> String {
    let mut label = spec.latency.to_string();
    if !spec.jitter.is_zero() {
        let _ = write!(label, " ±{}", spec.jitter);
    }
    if !spec.loss.is_zero() {
        let _ = write!(label, " loss {}/{}", spec.loss.num, spec.loss.den);
    }
    if let Some(bw) = spec.bandwidth_bytes_per_sec {
        let _ = write!(label, " {bw}B/s");
    }
    label
}

impl Topology {
    /// The topology as a DOT `graph`.
    pub fn to_dot(&self) -> String {
        self.to_dot_with(&[])
    }

    /// The topology as a DOT `graph`, with `extra` statements (each a full line, e.g. what the
    /// scenario adds: gateways and links) before its end.
    pub fn to_dot_with(&self, extra: &[String]) -> String {
        let mut out = String::new();
        out.push_str("graph topology {\n");
        out.push_str("  node [fontname=\"monospace\"];\n");
        out.push_str("  edge [fontname=\"monospace\"];\n");
        for id in self.node_ids() {
            let Some(node) = self.node_info(id) else {
                continue;
            };
            let down = self.is_down(id);
            let (shape, mut label) = match node {
                Node::Cluster(c) => (
                    "box",
                    format!(
                        "{}\npods {}\nsvc {}\ngw {}",
                        c.name, c.addresses.pod_cidr, c.addresses.service_cidr, c.addresses.gateway
                    ),
                ),
                Node::Network(n) => {
                    let kind = match n.kind {
                        NetworkKind::Vpc => "vpc",
                        NetworkKind::OnPrem => "on-prem",
                        NetworkKind::Internet => "internet",
                    };
                    ("ellipse", format!("{}\n({kind})", n.name))
                }
            };
            let mut style = String::new();
            if down {
                label.push_str("\nDOWN");
                style.push_str(", style=filled, fillcolor=gray80");
            }
            let _ = writeln!(
                out,
                "  {} [shape={shape}, label={}{style}];",
                quote(node.name()),
                quote(&label)
            );
        }
        let cut = |u: NodeId, v: NodeId| {
            self.faults()
                .any(|(_, f)| matches!(f, Fault::Partition(p) if p.cuts(u, v)))
        };
        // Ids of the degradations on the directed link u -> v.
        let degraded = |u: NodeId, v: NodeId| -> Vec<u64> {
            self.faults()
                .filter(|(_, f)| {
                    matches!(f, Fault::Degrade { a, b, direction, .. }
                        if (*a == u && *b == v) || (*direction == Direction::Both && *a == v && *b == u))
                })
                .map(|(id, _)| id.0)
                .collect()
        };
        for (u, v, spec) in self.edges() {
            let reverse = self.path(v, u);
            // A symmetric pair is drawn once, from the lower id; anything else as an arrow.
            let symmetric = reverse == Some(spec);
            if symmetric && u > v {
                continue;
            }
            let mut ids = degraded(u, v);
            if symmetric {
                ids.extend(degraded(v, u));
                ids.sort_unstable();
                ids.dedup();
            }
            let mut label = path_label(spec);
            if !ids.is_empty() {
                let list: Vec<String> = ids.iter().map(|id| format!("#{id}")).collect();
                let _ = write!(label, " degraded {}", list.join(","));
            }
            let mut attrs = format!("label={}", quote(&label));
            if !symmetric {
                attrs.push_str(", dir=forward");
            }
            if cut(u, v) || (symmetric && cut(v, u)) {
                attrs.push_str(", color=red");
            } else if !ids.is_empty() {
                attrs.push_str(", color=orange");
            }
            let _ = writeln!(
                out,
                "  {} -- {} [{attrs}];",
                quote(self.name(u)),
                quote(self.name(v))
            );
        }
        for (id, fault) in self.faults() {
            let Fault::Partition(p) = fault else { continue };
            let mode = match p.mode {
                BlockMode::Drop => "drop",
                BlockMode::Reject => "reject",
            };
            let dir = match p.direction {
                Direction::Both => "",
                Direction::AtoB => ", dir=forward",
            };
            for a in &p.a {
                for b in &p.b {
                    let _ = writeln!(
                        out,
                        "  {} -- {} [style=dashed, color=red, constraint=false{dir}, label={}];",
                        quote(self.name(*a)),
                        quote(self.name(*b)),
                        quote(&format!("partition #{} {mode}", id.0))
                    );
                }
            }
        }
        for (i, group) in self.flat_groups().iter().enumerate() {
            let members: Vec<NodeId> = group.iter().copied().collect();
            for (k, a) in members.iter().enumerate() {
                for b in &members[k + 1..] {
                    let _ = writeln!(
                        out,
                        "  {} -- {} [style=dotted, color=darkgreen, constraint=false, label={}];",
                        quote(self.name(*a)),
                        quote(self.name(*b)),
                        quote(&format!("flat network #{i} (pod to pod)"))
                    );
                }
            }
        }
        for line in extra {
            out.push_str(line);
            out.push('\n');
        }
        out.push_str("}\n");
        out
    }
}
