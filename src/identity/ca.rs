//! Certificate authorities: a [`TrustAnchor`] (self-signed root), [`Issuer`]s (intermediate CAs,
//! one per cluster, signed by the anchor or by another issuer) and workload [`Credentials`] (a
//! leaf certificate, its key and the chain a proxy presents).
//!
//! Inputs: a `&mut Prng` for keys and serials, validity windows as `SimTime`s. Outputs: signed
//! certificates. Rotation is issuing again: a new leaf (new key, new serial) from the same issuer,
//! or a new issuer from the same anchor. This file keeps no registry of what it issued and never
//! decides whether a certificate is valid (that is `verify.rs`).

use super::cert::{CertChain, Certificate, CertificateTemplate, KeyPair};
use crate::sim::{Prng, SimDuration, SimTime};

/// Default root subject (the `step certificate create root.linkerd.cluster.local` of the docs).
pub const DEFAULT_ANCHOR_SUBJECT: &str = "root.linkerd.cluster.local";
/// Default issuer subject (Linkerd's identity issuer).
pub const DEFAULT_ISSUER_SUBJECT: &str = "identity.linkerd.cluster.local";
/// Linkerd's default workload certificate lifetime (`issuanceLifetime`, 24h).
pub const DEFAULT_WORKLOAD_LIFETIME: SimDuration = SimDuration::from_mins(24 * 60);
/// Linkerd proxies renew at 70% of a certificate's lifetime.
pub const RENEW_AT_PERCENT: u64 = 70;

fn serial(rng: &mut Prng) -> u64 {
    // Positive 63-bit serials, as X.509 requires a positive integer.
    rng.next_u64() >> 1
}

/// A signing authority: a key plus the chain that proves it (its own certificate first, then
/// any intermediates above it, never the root).
#[derive(Clone, Debug)]
struct Authority {
    key: KeyPair,
    cert: Certificate,
    above: Vec<Certificate>,
}

impl Authority {
    fn issue(
        &self,
        rng: &mut Prng,
        subject: &str,
        not_before: SimTime,
        not_after: SimTime,
        is_ca: bool,
    ) -> (KeyPair, Certificate) {
        let key = KeyPair::generate(rng);
        let template = CertificateTemplate {
            serial: serial(rng),
            subject: subject.to_owned(),
            public_key: key.public_key(),
            not_before,
            not_after,
            is_ca,
        };
        let cert = Certificate::sign(template, &self.cert.subject, &self.key);
        (key, cert)
    }

    fn chain_below(&self, cert: Certificate, is_anchor: bool) -> Vec<Certificate> {
        let mut chain = vec![cert];
        if !is_anchor {
            chain.push(self.cert.clone());
            chain.extend(self.above.iter().cloned());
        }
        chain
    }
}

/// A self-signed root CA. Clusters that must trust each other share it (spec §10.1).
#[derive(Clone, Debug)]
pub struct TrustAnchor {
    auth: Authority,
}

impl TrustAnchor {
    /// A fresh root with its own key drawn from `rng`.
    pub fn generate(
        rng: &mut Prng,
        subject: &str,
        not_before: SimTime,
        not_after: SimTime,
    ) -> TrustAnchor {
        let key = KeyPair::generate(rng);
        let template = CertificateTemplate {
            serial: serial(rng),
            subject: subject.to_owned(),
            public_key: key.public_key(),
            not_before,
            not_after,
            is_ca: true,
        };
        let cert = Certificate::sign(template, subject, &key);
        TrustAnchor {
            auth: Authority {
                key,
                cert,
                above: Vec::new(),
            },
        }
    }

    pub fn certificate(&self) -> &Certificate {
        &self.auth.cert
    }

    /// Issues an intermediate CA (a cluster's identity issuer). Calling it again is issuer
    /// rotation: new key, new serial, same subject if you pass the same one.
    pub fn issue_issuer(
        &self,
        rng: &mut Prng,
        subject: &str,
        not_before: SimTime,
        not_after: SimTime,
    ) -> Issuer {
        let (key, cert) = self.auth.issue(rng, subject, not_before, not_after, true);
        Issuer {
            auth: Authority {
                key,
                cert,
                above: Vec::new(),
            },
        }
    }
}

/// An intermediate CA that issues workload certificates.
#[derive(Clone, Debug)]
pub struct Issuer {
    auth: Authority,
}

impl Issuer {
    pub fn certificate(&self) -> &Certificate {
        &self.auth.cert
    }

    /// The chain this issuer hands out with every leaf: its own certificate, then the ones above
    /// it up to (not including) the root.
    pub fn chain(&self) -> Vec<Certificate> {
        let mut v = vec![self.auth.cert.clone()];
        v.extend(self.auth.above.iter().cloned());
        v
    }

    /// A CA below this one (a second intermediate level).
    pub fn issue_intermediate(
        &self,
        rng: &mut Prng,
        subject: &str,
        not_before: SimTime,
        not_after: SimTime,
    ) -> Issuer {
        let (key, cert) = self.auth.issue(rng, subject, not_before, not_after, true);
        Issuer {
            auth: Authority {
                key,
                cert,
                above: self.chain(),
            },
        }
    }

    /// A workload (leaf) certificate for `identity`. Calling it again is leaf rotation.
    pub fn issue_workload(
        &self,
        rng: &mut Prng,
        identity: &str,
        not_before: SimTime,
        not_after: SimTime,
    ) -> Credentials {
        let (key, cert) = self.auth.issue(rng, identity, not_before, not_after, false);
        Credentials {
            key,
            chain: CertChain::new(self.auth.chain_below(cert, false)),
        }
    }

    /// A CA-less certificate for tests of misuse: a leaf that wrongly carries the CA flag, or any
    /// certificate with an arbitrary shape.
    pub fn issue_raw(
        &self,
        rng: &mut Prng,
        subject: &str,
        not_before: SimTime,
        not_after: SimTime,
        is_ca: bool,
    ) -> Credentials {
        let (key, cert) = self.auth.issue(rng, subject, not_before, not_after, is_ca);
        Credentials {
            key,
            chain: CertChain::new(self.auth.chain_below(cert, false)),
        }
    }
}

/// What a proxy holds: its private key and the chain it presents (leaf first).
#[derive(Clone, Debug)]
pub struct Credentials {
    key: KeyPair,
    chain: CertChain,
}

impl Credentials {
    /// Assembles credentials from parts (e.g. a chain a test has tampered with).
    pub fn from_parts(key: KeyPair, chain: CertChain) -> Credentials {
        Credentials { key, chain }
    }

    /// The leaf's subject (empty if the chain is empty).
    pub fn identity(&self) -> &str {
        self.chain.leaf().map_or("", |c| c.subject.as_str())
    }

    pub fn leaf(&self) -> Option<&Certificate> {
        self.chain.leaf()
    }

    pub fn chain(&self) -> &CertChain {
        &self.chain
    }

    pub fn key(&self) -> &KeyPair {
        &self.key
    }

    /// When a Linkerd proxy would renew this certificate: 70% of the way through its validity.
    pub fn renew_at(&self) -> SimTime {
        match self.chain.leaf() {
            Some(leaf) => {
                let span = leaf.not_after.0.saturating_sub(leaf.not_before.0);
                let elapsed = u64::try_from(u128::from(span) * u128::from(RENEW_AT_PERCENT) / 100)
                    .unwrap_or(span);
                SimTime(leaf.not_before.0.saturating_add(elapsed))
            }
            None => SimTime::ZERO,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::name::IdentityDomain;
    use crate::identity::verify::{
        ChainError, ClockSkew, SignatureMemo, TrustBundle, verify_chain,
    };

    const YEAR: SimDuration = SimDuration::from_mins(365 * 24 * 60);

    fn pki(seed: u64) -> (TrustAnchor, Issuer, Prng) {
        let mut rng = Prng::stream(seed, "identity");
        let root = TrustAnchor::generate(
            &mut rng,
            DEFAULT_ANCHOR_SUBJECT,
            SimTime::ZERO,
            SimTime::ZERO + YEAR,
        );
        let issuer = root.issue_issuer(
            &mut rng,
            DEFAULT_ISSUER_SUBJECT,
            SimTime::ZERO,
            SimTime::ZERO + YEAR,
        );
        (root, issuer, rng)
    }

    #[test]
    fn leaf_verifies_to_anchor_and_memo_skips_repeat_work() {
        let (root, issuer, mut rng) = pki(1);
        let id = IdentityDomain::default().workload("web", "prod");
        let creds = issuer.issue_workload(
            &mut rng,
            &id,
            SimTime::ZERO,
            SimTime::ZERO + DEFAULT_WORKLOAD_LIFETIME,
        );
        assert_eq!(creds.identity(), id);
        assert_eq!(creds.chain().len(), 2);
        let bundle = TrustBundle::of(&[root.certificate()]);
        let mut memo = SignatureMemo::default();
        let v = verify_chain(creds.chain().certs(), &bundle, SimTime(5), &mut memo).unwrap();
        assert_eq!(v.leaf_subject, id);
        assert_eq!(v.anchor_subject, DEFAULT_ANCHOR_SUBJECT);
        assert_eq!(memo.stats(), (0, 2));
        verify_chain(creds.chain().certs(), &bundle, SimTime(6), &mut memo).unwrap();
        assert_eq!(memo.stats(), (2, 2));
        // Memo never short-cuts validity: the same chain a day later is expired.
        let later = SimTime::ZERO + DEFAULT_WORKLOAD_LIFETIME + SimDuration::from_secs(1);
        assert!(matches!(
            verify_chain(creds.chain().certs(), &bundle, later, &mut memo),
            Err(ChainError::Expired { .. })
        ));
    }

    #[test]
    fn renewal_point_and_rotation() {
        let (root, issuer, mut rng) = pki(2);
        let a = issuer.issue_workload(&mut rng, "a", SimTime(0), SimTime(1000));
        let b = issuer.issue_workload(&mut rng, "a", SimTime(0), SimTime(1000));
        assert_eq!(a.renew_at(), SimTime(700));
        assert_ne!(a.leaf().unwrap().serial, b.leaf().unwrap().serial);
        assert_ne!(a.key().public_key(), b.key().public_key());
        // Issuer rotation: the new issuer's leaves still verify under the same root, and a leaf
        // paired with the wrong issuer certificate does not.
        let issuer2 =
            root.issue_issuer(&mut rng, DEFAULT_ISSUER_SUBJECT, SimTime(0), SimTime(1000));
        let c = issuer2.issue_workload(&mut rng, "a", SimTime(0), SimTime(1000));
        let bundle = TrustBundle::of(&[root.certificate()]);
        let mut memo = SignatureMemo::default();
        assert!(verify_chain(c.chain().certs(), &bundle, SimTime(1), &mut memo).is_ok());
        let mixed = vec![c.leaf().unwrap().clone(), issuer.certificate().clone()];
        assert_eq!(
            verify_chain(&mixed, &bundle, SimTime(1), &mut memo),
            Err(ChainError::UnknownAnchor {
                issuer: DEFAULT_ISSUER_SUBJECT.into()
            })
        );
    }

    #[test]
    fn two_level_intermediates_and_bundles() {
        let (root, issuer, mut rng) = pki(3);
        let sub = issuer.issue_intermediate(&mut rng, "sub.linkerd", SimTime(0), SimTime(100));
        let leaf = sub.issue_workload(&mut rng, "x", SimTime(0), SimTime(100));
        assert_eq!(leaf.chain().len(), 3);
        let other =
            TrustAnchor::generate(&mut rng, DEFAULT_ANCHOR_SUBJECT, SimTime(0), SimTime(100));
        let mut memo = SignatureMemo::default();
        let only_other = TrustBundle::of(&[other.certificate()]);
        assert!(matches!(
            verify_chain(leaf.chain().certs(), &only_other, SimTime(1), &mut memo),
            Err(ChainError::UnknownAnchor { .. })
        ));
        let both = TrustBundle::of(&[other.certificate(), root.certificate()]);
        assert!(verify_chain(leaf.chain().certs(), &both, SimTime(1), &mut memo).is_ok());
    }

    #[test]
    fn named_chain_errors() {
        let (root, issuer, mut rng) = pki(4);
        let bundle = TrustBundle::of(&[root.certificate()]);
        let mut memo = SignatureMemo::with_capacity(0);
        let good = issuer.issue_workload(&mut rng, "w", SimTime(100), SimTime(200));

        let skewed = ClockSkew(-60).local_time(SimTime(150));
        assert_eq!(
            verify_chain(good.chain().certs(), &bundle, skewed, &mut memo),
            Err(ChainError::NotYetValid {
                subject: "w".into(),
                not_before: SimTime(100),
                now: SimTime(90)
            })
        );

        let mut tampered = good.chain().certs().to_vec();
        tampered[0].subject = "admin".into();
        assert_eq!(
            verify_chain(&tampered, &bundle, SimTime(150), &mut memo),
            Err(ChainError::BadSignature {
                subject: "admin".into()
            })
        );

        let ca_leaf = issuer.issue_raw(&mut rng, "ca-leaf", SimTime(0), SimTime(200), true);
        assert_eq!(
            verify_chain(ca_leaf.chain().certs(), &bundle, SimTime(150), &mut memo),
            Err(ChainError::CaAsLeaf {
                subject: "ca-leaf".into()
            })
        );

        let leafy = issuer.issue_raw(&mut rng, "not-ca", SimTime(0), SimTime(200), false);
        let below = Authority {
            key: leafy.key().clone(),
            cert: leafy.leaf().unwrap().clone(),
            above: issuer.chain(),
        };
        let (_, grandchild) = below.issue(&mut rng, "g", SimTime(0), SimTime(200), false);
        let chain = below.chain_below(grandchild, false);
        assert_eq!(
            verify_chain(&chain, &bundle, SimTime(150), &mut memo),
            Err(ChainError::NotACa {
                subject: "not-ca".into()
            })
        );

        let too_long = vec![good.leaf().unwrap().clone(); MAX_LEN_PLUS_ONE];
        assert_eq!(
            verify_chain(&too_long, &bundle, SimTime(150), &mut memo),
            Err(ChainError::ChainTooLong {
                len: MAX_LEN_PLUS_ONE
            })
        );

        let expired_root = TrustAnchor::generate(&mut rng, "r2", SimTime(0), SimTime(120));
        let i2 = expired_root.issue_issuer(&mut rng, "i2", SimTime(0), SimTime(200));
        let l2 = i2.issue_workload(&mut rng, "l2", SimTime(0), SimTime(200));
        assert_eq!(
            verify_chain(
                l2.chain().certs(),
                &TrustBundle::of(&[expired_root.certificate()]),
                SimTime(150),
                &mut memo
            ),
            Err(ChainError::Expired {
                subject: "r2".into(),
                not_after: SimTime(120),
                now: SimTime(150)
            })
        );
    }

    const MAX_LEN_PLUS_ONE: usize = crate::identity::verify::MAX_CHAIN_LEN + 1;
}
