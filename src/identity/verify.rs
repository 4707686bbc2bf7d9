//! Chain verification: leaf → intermediate(s) → an anchor of the verifier's [`TrustBundle`], with
//! every signature really checked and every certificate's validity window checked against the
//! *verifier's* clock ([`ClockSkew`] turns the simulation's true `now` into that local reading).
//!
//! Inputs: a presented chain, a bundle, the verifier's local time, a [`SignatureMemo`].
//! Outputs: `Ok(Verified)` or a named [`ChainError`]. The memo only caches Ed25519 results keyed by
//! (certificate fingerprint, issuer key); validity times are re-checked on every call. This file
//! never issues certificates and never reads anything but its arguments.

use super::cert::{Certificate, KeyId, PublicKey};
use crate::sim::SimTime;
use std::collections::{BTreeMap, VecDeque};
use std::fmt;

/// Longest chain a verifier accepts (leaf + intermediates), like webpki's path-length limit.
pub const MAX_CHAIN_LEN: usize = 8;

/// A cluster's clock offset from true simulation time, in nanoseconds; positive means the local
/// clock runs ahead. A clock running 2h behind sees a certificate issued "now" as not yet valid.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClockSkew(pub i64);

impl ClockSkew {
    pub const NONE: ClockSkew = ClockSkew(0);

    /// The local clock reading at true time `now` (saturating at both ends of `SimTime`).
    pub fn local_time(self, now: SimTime) -> SimTime {
        if self.0 >= 0 {
            SimTime(now.0.saturating_add(self.0.unsigned_abs()))
        } else {
            SimTime(now.0.saturating_sub(self.0.unsigned_abs()))
        }
    }
}

/// The set of root certificates a verifier trusts. Several anchors are allowed (trust-anchor
/// rotation ships a bundle with the old and the new root). Order is insertion order; duplicates
/// (same fingerprint) are ignored.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct TrustBundle {
    anchors: Vec<Certificate>,
}

impl TrustBundle {
    pub fn new() -> Self {
        TrustBundle::default()
    }

    pub fn of(anchors: &[&Certificate]) -> Self {
        let mut b = TrustBundle::new();
        for a in anchors {
            b.add((*a).clone());
        }
        b
    }

    /// Adds a root; returns false if it was already present.
    pub fn add(&mut self, anchor: Certificate) -> bool {
        let fp = anchor.fingerprint();
        if self.anchors.iter().any(|a| a.fingerprint() == fp) {
            return false;
        }
        self.anchors.push(anchor);
        true
    }

    /// Removes the root with this fingerprint; returns whether it was present.
    pub fn remove(&mut self, fingerprint: &[u8; 32]) -> bool {
        let before = self.anchors.len();
        self.anchors.retain(|a| &a.fingerprint() != fingerprint);
        self.anchors.len() != before
    }

    pub fn anchors(&self) -> &[Certificate] {
        &self.anchors
    }

    pub fn is_empty(&self) -> bool {
        self.anchors.is_empty()
    }

    fn candidates<'a>(
        &'a self,
        issuer: &'a str,
        key_id: KeyId,
    ) -> impl Iterator<Item = &'a Certificate> + 'a {
        self.anchors
            .iter()
            .filter(move |a| a.subject == issuer && a.public_key.key_id() == key_id)
    }
}

/// Why a chain was rejected. Subjects name the certificate at fault; `now` is the verifier's
/// local (possibly skewed) clock reading.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ChainError {
    /// No certificate was presented.
    EmptyChain,
    /// More than [`MAX_CHAIN_LEN`] certificates.
    ChainTooLong { len: usize },
    /// The chain does not reach any anchor in the verifier's bundle; `issuer` is the last name it
    /// could not resolve.
    UnknownAnchor { issuer: String },
    /// A signature in the chain does not verify under the key that claims to have made it.
    BadSignature { subject: String },
    Expired {
        subject: String,
        not_after: SimTime,
        now: SimTime,
    },
    NotYetValid {
        subject: String,
        not_before: SimTime,
        now: SimTime,
    },
    /// An intermediate without the CA flag signed the certificate below it.
    NotACa { subject: String },
    /// The leaf carries the CA flag (webpki: CA used as end entity).
    CaAsLeaf { subject: String },
}

impl fmt::Display for ChainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChainError::EmptyChain => write!(f, "no certificate presented"),
            ChainError::ChainTooLong { len } => {
                write!(f, "chain of {len} certificates exceeds {MAX_CHAIN_LEN}")
            }
            ChainError::UnknownAnchor { issuer } => {
                write!(f, "unknown anchor: chain ends at issuer {issuer:?}")
            }
            ChainError::BadSignature { subject } => write!(f, "bad signature on {subject:?}"),
            ChainError::Expired {
                subject,
                not_after,
                now,
            } => {
                write!(
                    f,
                    "{subject:?} expired: not_after {not_after} < local now {now}"
                )
            }
            ChainError::NotYetValid {
                subject,
                not_before,
                now,
            } => {
                write!(
                    f,
                    "{subject:?} not yet valid: not_before {not_before} > local now {now}"
                )
            }
            ChainError::NotACa { subject } => {
                write!(f, "{subject:?} signed a certificate but is not a CA")
            }
            ChainError::CaAsLeaf { subject } => {
                write!(f, "CA certificate {subject:?} used as leaf")
            }
        }
    }
}

/// A successful verification: who the leaf is and which anchor vouched for it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Verified {
    pub leaf_subject: String,
    pub anchor_subject: String,
    pub anchor_key_id: KeyId,
}

/// A bounded memo of Ed25519 verification results, keyed by (certificate fingerprint, issuer
/// key). When full, the oldest entry is evicted (FIFO), so its contents depend only on the order
/// of calls, never on addresses or hashing.
#[derive(Clone, Debug)]
pub struct SignatureMemo {
    results: BTreeMap<([u8; 32], PublicKey), bool>,
    order: VecDeque<([u8; 32], PublicKey)>,
    capacity: usize,
    hits: u64,
    misses: u64,
}

impl Default for SignatureMemo {
    fn default() -> Self {
        SignatureMemo::with_capacity(1024)
    }
}

impl SignatureMemo {
    /// A memo holding at most `capacity` results; capacity 0 disables memoisation.
    pub fn with_capacity(capacity: usize) -> Self {
        SignatureMemo {
            results: BTreeMap::new(),
            order: VecDeque::new(),
            capacity,
            hits: 0,
            misses: 0,
        }
    }

    /// Whether `cert`'s signature verifies under `issuer_key`, from the memo when known.
    pub fn check(&mut self, cert: &Certificate, issuer_key: &PublicKey) -> bool {
        let key = (cert.fingerprint(), *issuer_key);
        if let Some(ok) = self.results.get(&key) {
            self.hits += 1;
            return *ok;
        }
        self.misses += 1;
        let ok = issuer_key.verify(&cert.tbs_bytes(), &cert.signature);
        if self.capacity > 0 {
            if self.order.len() >= self.capacity
                && let Some(old) = self.order.pop_front()
            {
                self.results.remove(&old);
            }
            self.results.insert(key, ok);
            self.order.push_back(key);
        }
        ok
    }

    /// (hits, misses) so far; a miss is a real Ed25519 verification.
    pub fn stats(&self) -> (u64, u64) {
        (self.hits, self.misses)
    }

    pub fn len(&self) -> usize {
        self.results.len()
    }

    pub fn is_empty(&self) -> bool {
        self.results.is_empty()
    }
}

fn check_time(cert: &Certificate, now: SimTime) -> Result<(), ChainError> {
    if now < cert.not_before {
        return Err(ChainError::NotYetValid {
            subject: cert.subject.clone(),
            not_before: cert.not_before,
            now,
        });
    }
    if now > cert.not_after {
        return Err(ChainError::Expired {
            subject: cert.subject.clone(),
            not_after: cert.not_after,
            now,
        });
    }
    Ok(())
}

/// Verifies `chain` (leaf first) against `bundle` at the verifier's local time `now`.
///
/// Walks up from the leaf. For each certificate: its validity window must contain `now`; every
/// certificate above the leaf must be a CA. If an anchor in the bundle has the certificate's
/// issuer name and key id, the signature is checked with the anchor's key (and the anchor's own
/// validity) and the walk ends. Otherwise the next certificate in the chain must be that issuer,
/// and the signature is checked with its key. A chain that runs out first is `UnknownAnchor`.
pub fn verify_chain(
    chain: &[Certificate],
    bundle: &TrustBundle,
    now: SimTime,
    memo: &mut SignatureMemo,
) -> Result<Verified, ChainError> {
    let Some(leaf) = chain.first() else {
        return Err(ChainError::EmptyChain);
    };
    if chain.len() > MAX_CHAIN_LEN {
        return Err(ChainError::ChainTooLong { len: chain.len() });
    }
    if leaf.is_ca {
        return Err(ChainError::CaAsLeaf {
            subject: leaf.subject.clone(),
        });
    }
    for (i, cert) in chain.iter().enumerate() {
        check_time(cert, now)?;
        if i > 0 && !cert.is_ca {
            return Err(ChainError::NotACa {
                subject: cert.subject.clone(),
            });
        }
        let mut anchor_error = None;
        for anchor in bundle.candidates(&cert.issuer, cert.issuer_key_id) {
            let verdict = check_time(anchor, now).and_then(|()| {
                if memo.check(cert, &anchor.public_key) {
                    Ok(())
                } else {
                    Err(ChainError::BadSignature {
                        subject: cert.subject.clone(),
                    })
                }
            });
            match verdict {
                Ok(()) => {
                    return Ok(Verified {
                        leaf_subject: leaf.subject.clone(),
                        anchor_subject: anchor.subject.clone(),
                        anchor_key_id: anchor.public_key.key_id(),
                    });
                }
                Err(e) => {
                    anchor_error.get_or_insert(e);
                }
            }
        }
        if let Some(e) = anchor_error {
            return Err(e);
        }
        match chain.get(i + 1) {
            Some(next)
                if next.subject == cert.issuer
                    && next.public_key.key_id() == cert.issuer_key_id =>
            {
                if !memo.check(cert, &next.public_key) {
                    return Err(ChainError::BadSignature {
                        subject: cert.subject.clone(),
                    });
                }
            }
            Some(_) | None => {
                return Err(ChainError::UnknownAnchor {
                    issuer: cert.issuer.clone(),
                });
            }
        }
    }
    // The loop returns on every path: the last certificate either meets an anchor or has no
    // next certificate. Kept as an error, not a panic.
    Err(ChainError::UnknownAnchor {
        issuer: chain.last().map(|c| c.issuer.clone()).unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skew_saturates() {
        assert_eq!(ClockSkew(-5).local_time(SimTime(3)), SimTime(0));
        assert_eq!(
            ClockSkew(5).local_time(SimTime(u64::MAX - 1)),
            SimTime(u64::MAX)
        );
        assert_eq!(
            ClockSkew(i64::MIN).local_time(SimTime(u64::MAX)),
            SimTime(u64::MAX - (1 << 63))
        );
        assert_eq!(ClockSkew::NONE.local_time(SimTime(42)), SimTime(42));
    }

    #[test]
    fn empty_chain_is_named() {
        let mut memo = SignatureMemo::default();
        assert_eq!(
            verify_chain(&[], &TrustBundle::new(), SimTime(0), &mut memo),
            Err(ChainError::EmptyChain)
        );
    }
}
