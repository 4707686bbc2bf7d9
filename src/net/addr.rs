//! IPv4 address plan: CIDR blocks, the deterministic per-cluster plan (pod `/16`, service `/16`,
//! one public-looking gateway address), and address kinds.
//!
//! Inputs: a cluster's ordinal (1-based, the order clusters were added) and an [`AddressPlan`].
//! Outputs: [`ClusterAddresses`]. Pure functions over integers; the topology owns the assignment
//! and the overlap checks. Nothing here knows about routes or faults.

use std::fmt;
use std::net::Ipv4Addr;

/// An IPv4 block `addr/prefix_len`; the address is stored with its host bits cleared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cidr {
    addr: u32,
    prefix_len: u8,
}

impl Cidr {
    /// `None` when `prefix_len > 32`. Host bits of `addr` are cleared.
    pub fn new(addr: Ipv4Addr, prefix_len: u8) -> Option<Cidr> {
        if prefix_len > 32 {
            return None;
        }
        Some(Cidr {
            addr: u32::from(addr) & mask(prefix_len),
            prefix_len,
        })
    }

    /// Parses `a.b.c.d/n`.
    pub fn parse(text: &str) -> Option<Cidr> {
        let (ip, len) = text.trim().split_once('/')?;
        Cidr::new(ip.parse().ok()?, len.parse().ok()?)
    }

    pub fn network(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.addr)
    }

    pub fn prefix_len(&self) -> u8 {
        self.prefix_len
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & mask(self.prefix_len) == self.addr
    }

    /// Whether the two blocks share any address.
    pub fn overlaps(&self, other: &Cidr) -> bool {
        let shorter = self.prefix_len.min(other.prefix_len);
        self.addr & mask(shorter) == other.addr & mask(shorter)
    }

    /// The `n`-th address of the block (0 is the network address), if inside it.
    pub fn nth(&self, n: u32) -> Option<Ipv4Addr> {
        let size = 1u64 << (32 - u32::from(self.prefix_len));
        if u64::from(n) >= size {
            return None;
        }
        Some(Ipv4Addr::from(self.addr + n))
    }
}

fn mask(prefix_len: u8) -> u32 {
    if prefix_len == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix_len.min(32)))
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network(), self.prefix_len)
    }
}

/// What an address belongs to inside its cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AddressKind {
    /// A pod IP (routable across clusters only in a declared flat network).
    Pod,
    /// A ClusterIP: virtual, meaningful only inside its own cluster.
    Service,
    /// The multicluster gateway's load-balancer address: the one address routable from anywhere.
    Gateway,
}

/// A cluster's address blocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ClusterAddresses {
    pub pod_cidr: Cidr,
    pub service_cidr: Cidr,
    pub gateway: Ipv4Addr,
}

/// How default addresses are derived from a cluster's 1-based ordinal `i`: pods
/// `pod_base + i·2^16` as a `/16` (so `10.i.0.0/16`), services `service_base + i·2^16` as a
/// `/16` (`10.(95+i).0.0/16`: the range the cluster's API server allocates ClusterIPs from, room
/// for 65 534 Services), gateway `gateway_base + i` (`203.0.113.i`, the TEST-NET-3 documentation
/// range: public-looking and never a real host).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AddressPlan {
    pub pod_base: Ipv4Addr,
    pub service_base: Ipv4Addr,
    pub gateway_base: Ipv4Addr,
}

impl Default for AddressPlan {
    fn default() -> Self {
        AddressPlan {
            pod_base: Ipv4Addr::new(10, 0, 0, 0),
            service_base: Ipv4Addr::new(10, 95, 0, 0),
            gateway_base: Ipv4Addr::new(203, 0, 113, 0),
        }
    }
}

impl AddressPlan {
    /// The default addresses of the cluster with 1-based `ordinal`, or `None` once a block would
    /// run past the end of its range (more than 255 clusters, or wrapping the address space).
    /// Overlaps between kinds (e.g. cluster 96's pods and everyone's services under the default
    /// plan) are caught by the topology, which checks every assignment.
    pub fn for_cluster(&self, ordinal: u32) -> Option<ClusterAddresses> {
        if ordinal == 0 || ordinal > 255 {
            return None;
        }
        let pod = u32::from(self.pod_base).checked_add(ordinal << 16)?;
        let svc = u32::from(self.service_base).checked_add(ordinal << 16)?;
        let gw = u32::from(self.gateway_base).checked_add(ordinal)?;
        Some(ClusterAddresses {
            pod_cidr: Cidr::new(Ipv4Addr::from(pod), 16)?,
            service_cidr: Cidr::new(Ipv4Addr::from(svc), 16)?,
            gateway: Ipv4Addr::from(gw),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_basics() {
        let c = Cidr::parse("10.1.2.3/16").unwrap();
        assert_eq!(c.to_string(), "10.1.0.0/16");
        assert!(c.contains(Ipv4Addr::new(10, 1, 255, 255)));
        assert!(!c.contains(Ipv4Addr::new(10, 2, 0, 0)));
        assert!(c.overlaps(&Cidr::parse("10.0.0.0/8").unwrap()));
        assert!(!c.overlaps(&Cidr::parse("10.2.0.0/16").unwrap()));
        assert_eq!(c.nth(5), Some(Ipv4Addr::new(10, 1, 0, 5)));
        assert_eq!(c.nth(65_536), None);
        assert_eq!(Cidr::parse("10.0.0.0/33"), None);
        assert_eq!(Cidr::parse("nonsense"), None);
        let all = Cidr::parse("0.0.0.0/0").unwrap();
        assert!(all.contains(Ipv4Addr::new(255, 1, 2, 3)));
        assert_eq!(all.nth(u32::MAX), Some(Ipv4Addr::new(255, 255, 255, 255)));
    }

    #[test]
    fn default_plan() {
        let plan = AddressPlan::default();
        let a = plan.for_cluster(1).unwrap();
        assert_eq!(a.pod_cidr.to_string(), "10.1.0.0/16");
        assert_eq!(a.service_cidr.to_string(), "10.96.0.0/16");
        assert_eq!(a.gateway, Ipv4Addr::new(203, 0, 113, 1));
        assert_eq!(plan.for_cluster(0), None);
        assert_eq!(plan.for_cluster(256), None);
        let b = plan.for_cluster(2).unwrap();
        assert!(!a.pod_cidr.overlaps(&b.pod_cidr));
        assert!(!a.service_cidr.overlaps(&b.service_cidr));
        assert_ne!(a.gateway, b.gateway);
    }
}
