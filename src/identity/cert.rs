//! Keys and certificates: Ed25519 key pairs derived from a seeded [`Prng`], and a small
//! X.509-shaped [`Certificate`] whose signature covers a canonical, deterministic byte encoding
//! of its to-be-signed fields ([`Certificate::tbs_bytes`]).
//!
//! Inputs: a `&mut Prng` for key material, the issuer's key for signing. Outputs: certificates
//! (plain data, cheap to clone) and signatures. Verification of chains lives in `verify.rs`;
//! this file never reads a clock and never decides validity.

use crate::sim::{Prng, SimTime};
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};
use std::fmt;
use std::sync::Arc;

/// An Ed25519 public key (32 bytes, compressed Edwards point).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PublicKey(pub [u8; 32]);

impl PublicKey {
    /// The key id used as subject/authority key identifier: the first 8 bytes of SHA-256(key).
    pub fn key_id(&self) -> KeyId {
        let h = Sha256::digest(self.0);
        let mut id = [0u8; 8];
        id.copy_from_slice(&h[..8]);
        KeyId(id)
    }

    /// Checks `signature` over `message`. A key that is not a valid curve point fails as a bad
    /// signature. Uses `verify_strict` (rejects small-order keys and malleable signatures).
    pub fn verify(&self, message: &[u8], signature: &SignatureBytes) -> bool {
        let Ok(key) = VerifyingKey::from_bytes(&self.0) else {
            return false;
        };
        let sig = ed25519_dalek::Signature::from_bytes(&signature.0);
        key.verify_strict(message, &sig).is_ok()
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", hex_prefix(&self.0))
    }
}

/// A short key identifier (X.509's subject/authority key identifier, shortened).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId(pub [u8; 8]);

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({})", hex_prefix(&self.0))
    }
}

/// An Ed25519 signature (64 bytes).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SignatureBytes(pub [u8; 64]);

impl fmt::Debug for SignatureBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({})", hex_prefix(&self.0))
    }
}

fn hex_prefix(bytes: &[u8]) -> String {
    bytes
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect::<String>()
        + ".."
}

/// A private key with its public half. Derived from 32 bytes drawn from a seeded stream, so the
/// same run seed always yields the same keys.
#[derive(Clone)]
pub struct KeyPair {
    signing: SigningKey,
}

impl KeyPair {
    /// Draws a fresh secret from `rng` (four `next_u64` calls).
    pub fn generate(rng: &mut Prng) -> KeyPair {
        let mut secret = [0u8; 32];
        for chunk in secret.chunks_exact_mut(8) {
            chunk.copy_from_slice(&rng.next_u64().to_le_bytes());
        }
        KeyPair {
            signing: SigningKey::from_bytes(&secret),
        }
    }

    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.signing.verifying_key().to_bytes())
    }

    pub fn sign(&self, message: &[u8]) -> SignatureBytes {
        SignatureBytes(self.signing.sign(message).to_bytes())
    }
}

impl fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyPair({:?})", self.public_key())
    }
}

/// An X.509-shaped certificate. `issuer` and `issuer_key_id` name the key that signed it (the
/// authority key identifier lets a verifier tell "signed by a key I do not know" from "claims my
/// anchor's key but the signature is wrong"). Validity is `not_before <= t <= not_after`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Certificate {
    pub serial: u64,
    pub subject: String,
    pub issuer: String,
    pub issuer_key_id: KeyId,
    pub public_key: PublicKey,
    pub not_before: SimTime,
    pub not_after: SimTime,
    pub is_ca: bool,
    pub signature: SignatureBytes,
}

impl crate::sim::hash::Digest for PublicKey {
    fn digest(&self, h: &mut crate::sim::hash::StableHasher) {
        h.bytes(&self.0);
    }
}

impl crate::sim::hash::Digest for KeyId {
    fn digest(&self, h: &mut crate::sim::hash::StableHasher) {
        h.bytes(&self.0);
    }
}

impl crate::sim::hash::Digest for SignatureBytes {
    fn digest(&self, h: &mut crate::sim::hash::StableHasher) {
        h.bytes(&self.0);
    }
}

crate::digest_fields!(Certificate {
    serial,
    subject,
    issuer,
    issuer_key_id,
    public_key,
    not_before,
    not_after,
    is_ca,
    signature,
});

/// The to-be-signed fields of a certificate, before signing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateTemplate {
    pub serial: u64,
    pub subject: String,
    pub public_key: PublicKey,
    pub not_before: SimTime,
    pub not_after: SimTime,
    pub is_ca: bool,
}

const TBS_TAG: &[u8] = b"mcsim-cert-tbs-v1";

fn put_str(out: &mut Vec<u8>, s: &str) {
    // Length-prefixed, so ("ab","c") and ("a","bc") encode differently.
    out.extend_from_slice(&(s.len() as u64).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

impl Certificate {
    /// Signs `template` with `issuer_key`, naming `issuer_subject` as the issuer.
    pub fn sign(
        template: CertificateTemplate,
        issuer_subject: &str,
        issuer_key: &KeyPair,
    ) -> Certificate {
        let mut cert = Certificate {
            serial: template.serial,
            subject: template.subject,
            issuer: issuer_subject.to_owned(),
            issuer_key_id: issuer_key.public_key().key_id(),
            public_key: template.public_key,
            not_before: template.not_before,
            not_after: template.not_after,
            is_ca: template.is_ca,
            signature: SignatureBytes([0; 64]),
        };
        cert.signature = issuer_key.sign(&cert.tbs_bytes());
        cert
    }

    /// The canonical encoding of every field except the signature: a version tag, then each field
    /// in declaration order, integers big-endian, strings length-prefixed.
    pub fn tbs_bytes(&self) -> Vec<u8> {
        let mut out =
            Vec::with_capacity(TBS_TAG.len() + 128 + self.subject.len() + self.issuer.len());
        out.extend_from_slice(TBS_TAG);
        out.extend_from_slice(&self.serial.to_be_bytes());
        put_str(&mut out, &self.subject);
        put_str(&mut out, &self.issuer);
        out.extend_from_slice(&self.issuer_key_id.0);
        out.extend_from_slice(&self.public_key.0);
        out.extend_from_slice(&self.not_before.0.to_be_bytes());
        out.extend_from_slice(&self.not_after.0.to_be_bytes());
        out.push(u8::from(self.is_ca));
        out
    }

    /// The full encoding: to-be-signed bytes followed by the signature.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = self.tbs_bytes();
        out.extend_from_slice(&self.signature.0);
        out
    }

    /// SHA-256 of [`Certificate::encode`]: the certificate's fingerprint.
    pub fn fingerprint(&self) -> [u8; 32] {
        Sha256::digest(self.encode()).into()
    }

    /// True when the subject and the issuer are the same name and key (a root).
    pub fn is_self_issued(&self) -> bool {
        self.subject == self.issuer && self.public_key.key_id() == self.issuer_key_id
    }

    /// Whether `t` lies in `[not_before, not_after]`.
    pub fn is_valid_at(&self, t: SimTime) -> bool {
        self.not_before <= t && t <= self.not_after
    }
}

/// A presented certificate chain, leaf first, then intermediates (the root may follow; a verifier
/// stops at the first certificate issued by one of its anchors). Cheap to clone: flights carry it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct CertChain(Arc<[Certificate]>);

/// The certificates, leaf first, as a sequence.
impl crate::sim::hash::Digest for CertChain {
    fn digest(&self, h: &mut crate::sim::hash::StableHasher) {
        h.add(self.certs());
    }
}

impl CertChain {
    pub fn new(certs: Vec<Certificate>) -> CertChain {
        CertChain(certs.into())
    }
    /// The empty chain (TLS's empty Certificate message: a client with no identity).
    pub fn empty() -> CertChain {
        CertChain::default()
    }
    pub fn certs(&self) -> &[Certificate] {
        &self.0
    }
    pub fn leaf(&self) -> Option<&Certificate> {
        self.0.first()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(rng: &mut Prng, subject: &str) -> (KeyPair, CertificateTemplate) {
        let key = KeyPair::generate(rng);
        let t = CertificateTemplate {
            serial: 7,
            subject: subject.into(),
            public_key: key.public_key(),
            not_before: SimTime(10),
            not_after: SimTime(20),
            is_ca: true,
        };
        (key, t)
    }

    #[test]
    fn keys_are_deterministic_per_stream() {
        let a = KeyPair::generate(&mut Prng::stream(1, "identity/root"));
        let b = KeyPair::generate(&mut Prng::stream(1, "identity/root"));
        let c = KeyPair::generate(&mut Prng::stream(2, "identity/root"));
        assert_eq!(a.public_key(), b.public_key());
        assert_ne!(a.public_key(), c.public_key());
    }

    #[test]
    fn signature_covers_every_field() {
        let mut rng = Prng::stream(3, "t");
        let (key, t) = template(&mut rng, "root");
        let cert = Certificate::sign(t, "root", &key);
        assert!(cert.is_self_issued());
        assert!(key.public_key().verify(&cert.tbs_bytes(), &cert.signature));
        let mutations: [fn(&mut Certificate); 8] = [
            |c| c.serial += 1,
            |c| c.subject.push('x'),
            |c| c.issuer.push('x'),
            |c| c.issuer_key_id.0[0] ^= 1,
            |c| c.public_key.0[0] ^= 1,
            |c| c.not_before.0 += 1,
            |c| c.not_after.0 += 1,
            |c| c.is_ca = !c.is_ca,
        ];
        for m in &mutations {
            let mut tampered = cert.clone();
            m(&mut tampered);
            assert_ne!(tampered.tbs_bytes(), cert.tbs_bytes());
            assert!(
                !key.public_key()
                    .verify(&tampered.tbs_bytes(), &tampered.signature)
            );
        }
    }

    #[test]
    fn encoding_is_unambiguous_and_validity_inclusive() {
        let mut rng = Prng::stream(4, "t");
        let (key, mut t) = template(&mut rng, "ab");
        let a = Certificate::sign(t.clone(), "c", &key);
        t.subject = "a".into();
        let b = Certificate::sign(t, "bc", &key);
        assert_ne!(a.tbs_bytes(), b.tbs_bytes());
        assert!(!a.is_valid_at(SimTime(9)));
        assert!(a.is_valid_at(SimTime(10)));
        assert!(a.is_valid_at(SimTime(20)));
        assert!(!a.is_valid_at(SimTime(21)));
        assert!(!a.is_self_issued());
    }

    #[test]
    fn garbage_public_key_fails_closed() {
        let bogus = PublicKey([0xff; 32]);
        assert!(!bogus.verify(b"m", &SignatureBytes([0; 64])));
    }
}
