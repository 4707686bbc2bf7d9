//! Identity and trust (spec §10): trust anchors, per-cluster issuers, workload certificates with
//! real Ed25519 signatures, chain verification against a skewable local clock, and a TLS
//! 1.3-shaped mutual-TLS handshake as two sans-IO state machines.
//!
//! Inputs: seeded [`crate::sim::Prng`] streams (keys, serials, handshake randoms), the true
//! simulation time plus a per-cluster [`ClockSkew`], and handshake flights handed in by the
//! kernel. Outputs: certificates, verdicts, and flights for the kernel to carry. Nothing here
//! sends, sleeps, reads a clock or touches the network model or Kubernetes state.

pub mod ca;
pub mod cert;
pub mod handshake;
pub mod name;
pub mod verify;

pub use ca::{Credentials, Issuer, TrustAnchor};
pub use cert::{CertChain, Certificate, KeyPair, PublicKey};
pub use handshake::{
    Alert, ClientConfig, ClientFinished, ClientHandshake, ClientHello, ClientState, Flight,
    HandshakeError, Outcome, ServerConfig, ServerFlight, ServerHandshake, ServerState,
};
pub use name::{IdentityDomain, default_gateway_identity, workload_identity};
pub use verify::{ChainError, ClockSkew, SignatureMemo, TrustBundle, Verified, verify_chain};
