//! A TLS 1.3-shaped mutual-TLS handshake as two sans-IO state machines (spec §10.2).
//!
//! Flights (each a [`Flight`] the kernel carries over the simulated network):
//! 1. client → server [`ClientHello`]: `client_random` and `server_name`, the identity the client
//!    expects (its SNI; for gateway traffic the gateway identity pinned by the Link).
//! 2. server → client [`ServerFlight`]: `server_random`, the server chain, and `finished`, the
//!    server leaf key's Ed25519 signature over the transcript hash (TLS 1.3's CertificateVerify:
//!    proof of key possession, bound to both randoms).
//! 3. client → server [`ClientFinished`]: the client chain (possibly empty) and its signature over
//!    the transcript, sent only after the client has verified the server.
//!
//! An [`Alert`] is sent instead by the side that rejects (flight 2 rejected by the client, flight 3
//! by the server). As in TLS 1.3 the client is `Established` once it has sent flight 3; a server
//! that then rejects the client certificate answers with an alert, which moves the client to
//! `Failed(PeerAlert)`.
//!
//! Time: every input carries the true simulation `now`; certificate validity is judged on the
//! local clock of the side verifying (`now` shifted by its configured [`ClockSkew`]), and the
//! handshake deadline (`started + timeout`) on true time. The state machines never send, never
//! sleep: `handle*` return the flight to transmit, [`ClientHandshake::deadline`] tells the caller
//! when to call `handle_timeout`, and a flight the kernel never delivers simply leaves the peer in
//! its waiting state. This file touches no network or Kubernetes state.

use super::ca::Credentials;
use super::cert::{CertChain, SignatureBytes};
use super::verify::{ChainError, ClockSkew, SignatureMemo, TrustBundle, verify_chain};
use crate::sim::hash;
use crate::sim::{Message, Prng, SimDuration, SimTime};
use sha2::{Digest, Sha256};
use std::fmt;
use std::sync::Arc;

/// Default handshake deadline: a stand-in for the proxy's detect/connect timeouts.
pub const DEFAULT_HANDSHAKE_TIMEOUT: SimDuration = SimDuration::from_secs(10);

/// Flight 1.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ClientHello {
    pub client_random: [u8; 32],
    /// The identity the client requires of the server (SNI).
    pub server_name: String,
}

/// Flight 2.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ServerFlight {
    pub server_random: [u8; 32],
    pub chain: CertChain,
    /// Server leaf key's signature over the transcript through `chain`.
    pub finished: SignatureBytes,
}

/// Flight 3. A client without credentials sends an empty chain and no signature.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ClientFinished {
    pub chain: CertChain,
    pub finished: Option<SignatureBytes>,
}

/// TLS alert descriptions used here (RFC 8446 §6.2 names).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AlertReason {
    UnexpectedMessage,
    BadCertificate,
    CertificateExpired,
    UnknownCa,
    DecryptError,
    CertificateRequired,
}

/// A fatal alert: the sender has failed the handshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Alert {
    pub reason: AlertReason,
}

/// Everything that travels between the two sides.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Flight {
    ClientHello(ClientHello),
    ServerFlight(ServerFlight),
    ClientFinished(ClientFinished),
    Alert(Alert),
}

impl Flight {
    /// Short stable name, used as the trace kind.
    pub fn kind(&self) -> &'static str {
        match self {
            Flight::ClientHello(_) => "tls-client-hello",
            Flight::ServerFlight(_) => "tls-server-flight",
            Flight::ClientFinished(_) => "tls-client-finished",
            Flight::Alert(_) => "tls-alert",
        }
    }

    /// Stable digest of the whole content (see [`crate::sim::hash::Digest`]).
    pub fn digest(&self) -> u64 {
        hash::digest(self)
    }
}

/// Tags: ClientHello 0 (client random, server name), ServerFlight 1 (server random, chain,
/// finished signature), ClientFinished 2 (chain, optional signature), Alert 3 (the reason's
/// position among the RFC 8446 names declared in [`AlertReason`]).
impl hash::Digest for Flight {
    fn digest(&self, h: &mut hash::StableHasher) {
        match self {
            Flight::ClientHello(c) => {
                h.word(0);
                h.bytes(&c.client_random);
                h.add(&c.server_name);
            }
            Flight::ServerFlight(s) => {
                h.word(1);
                h.bytes(&s.server_random);
                h.add(&s.chain);
                h.add(&s.finished);
            }
            Flight::ClientFinished(c) => {
                h.word(2);
                h.add(&c.chain);
                h.add(&c.finished);
            }
            Flight::Alert(a) => {
                h.word(3);
                h.word(a.reason as u64);
            }
        }
    }
}

impl Message for Flight {
    fn kind(&self) -> &'static str {
        Flight::kind(self)
    }
    fn digest(&self) -> u64 {
        Flight::digest(self)
    }
    fn details(&self) -> serde_json::Value {
        let subjects = |c: &CertChain| {
            c.certs()
                .iter()
                .map(|c| c.subject.clone())
                .collect::<Vec<_>>()
        };
        match self {
            Flight::ClientHello(h) => serde_json::json!({ "server_name": h.server_name }),
            Flight::ServerFlight(s) => serde_json::json!({ "chain": subjects(&s.chain) }),
            Flight::ClientFinished(c) => serde_json::json!({ "chain": subjects(&c.chain) }),
            Flight::Alert(a) => serde_json::json!({ "alert": format!("{:?}", a.reason) }),
        }
    }
}

/// Why a handshake failed, as seen by the side that failed.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum HandshakeError {
    /// The peer's certificate chain was rejected (unknown anchor, expired, not yet valid, bad
    /// signature, ...).
    PeerCertificate(ChainError),
    /// The server proved an identity other than the one the client pinned.
    IdentityMismatch { expected: String, presented: String },
    /// The server requires client identity (e.g. gateway port 4143) and none was presented:
    /// "direct connections must be mutually authenticated" (#7613).
    MissingClientCertificate,
    /// The transcript signature does not verify under the peer's leaf key: no proof of possession.
    BadFinished,
    /// A flight arrived that this state does not accept.
    UnexpectedFlight {
        state: &'static str,
        got: &'static str,
    },
    /// The peer failed the handshake and said why.
    PeerAlert(AlertReason),
    /// The deadline passed while waiting for `waiting_for`.
    Timeout { waiting_for: &'static str },
    /// The caller closed the connection (reset, refused) before the handshake completed.
    ConnectionClosed,
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HandshakeError::PeerCertificate(e) => write!(f, "peer certificate rejected: {e}"),
            HandshakeError::IdentityMismatch {
                expected,
                presented,
            } => {
                write!(
                    f,
                    "server identity mismatch: expected {expected:?}, presented {presented:?}"
                )
            }
            HandshakeError::MissingClientCertificate => {
                write!(f, "client certificate required but not presented")
            }
            HandshakeError::BadFinished => write!(f, "peer's transcript signature does not verify"),
            HandshakeError::UnexpectedFlight { state, got } => {
                write!(f, "unexpected {got} in state {state}")
            }
            HandshakeError::PeerAlert(r) => write!(f, "peer sent alert {r:?}"),
            HandshakeError::Timeout { waiting_for } => {
                write!(f, "timed out waiting for {waiting_for}")
            }
            HandshakeError::ConnectionClosed => write!(f, "connection closed during handshake"),
        }
    }
}

impl HandshakeError {
    /// The alert a side sends when it fails with this error (rustls's mapping, roughly), or none
    /// when nothing is sent (timeouts, closes, and errors caused by a received alert).
    pub fn alert(&self) -> Option<AlertReason> {
        match self {
            HandshakeError::PeerCertificate(e) => Some(match e {
                ChainError::UnknownAnchor { .. } => AlertReason::UnknownCa,
                ChainError::Expired { .. } | ChainError::NotYetValid { .. } => {
                    AlertReason::CertificateExpired
                }
                ChainError::BadSignature { .. } => AlertReason::DecryptError,
                ChainError::EmptyChain
                | ChainError::ChainTooLong { .. }
                | ChainError::NotACa { .. }
                | ChainError::CaAsLeaf { .. } => AlertReason::BadCertificate,
            }),
            HandshakeError::IdentityMismatch { .. } => Some(AlertReason::BadCertificate),
            HandshakeError::MissingClientCertificate => Some(AlertReason::CertificateRequired),
            HandshakeError::BadFinished => Some(AlertReason::DecryptError),
            HandshakeError::UnexpectedFlight { .. } => Some(AlertReason::UnexpectedMessage),
            HandshakeError::PeerAlert(_)
            | HandshakeError::Timeout { .. }
            | HandshakeError::ConnectionClosed => None,
        }
    }

    fn alert_flight(&self) -> Option<Flight> {
        self.alert().map(|reason| Flight::Alert(Alert { reason }))
    }
}

/// The result of a finished handshake, on either side.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// `peer_identity` is the peer leaf's subject; `None` only on a server that accepted a client
    /// without a certificate (identity not required).
    Established {
        peer_identity: Option<String>,
    },
    Failed(HandshakeError),
}

/// Client-side configuration; share one `Arc` across connections.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// `None` models an unmeshed client (no identity to present).
    pub credentials: Option<Credentials>,
    pub trust: TrustBundle,
    pub clock_skew: ClockSkew,
    pub timeout: SimDuration,
}

/// Server-side configuration; share one `Arc` across connections.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    pub credentials: Credentials,
    pub trust: TrustBundle,
    /// Reject clients that present no certificate (`proxy-require-identity-inbound-ports`).
    pub require_client_identity: bool,
    pub clock_skew: ClockSkew,
    pub timeout: SimDuration,
}

// ---- transcript ----

const TRANSCRIPT_TAG: &[u8] = b"mcsim-tls13-v1";
const SERVER_CONTEXT: &[u8] = b"mcsim tls13 server finished";
const CLIENT_CONTEXT: &[u8] = b"mcsim tls13 client finished";

fn hash_chain(h: &mut Sha256, chain: &CertChain) {
    h.update((chain.len() as u64).to_be_bytes());
    for cert in chain.certs() {
        let enc = cert.encode();
        h.update((enc.len() as u64).to_be_bytes());
        h.update(&enc);
    }
}

/// Transcript through the server chain: what the server's `finished` signs.
fn transcript_server(hello: &ClientHello, server_random: &[u8; 32], chain: &CertChain) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(TRANSCRIPT_TAG);
    h.update(hello.client_random);
    h.update((hello.server_name.len() as u64).to_be_bytes());
    h.update(hello.server_name.as_bytes());
    h.update(server_random);
    hash_chain(&mut h, chain);
    h.finalize().into()
}

/// Transcript through the server's `finished`.
fn transcript_after_server(th_server: &[u8; 32], server_finished: &SignatureBytes) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(th_server);
    h.update(server_finished.0);
    h.finalize().into()
}

/// Transcript through the client chain: what the client's `finished` signs.
fn transcript_client(th_after_server: &[u8; 32], chain: &CertChain) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(th_after_server);
    hash_chain(&mut h, chain);
    h.finalize().into()
}

fn signed_content(context: &[u8], transcript: &[u8; 32]) -> Vec<u8> {
    let mut m = Vec::with_capacity(context.len() + 32);
    m.extend_from_slice(context);
    m.extend_from_slice(transcript);
    m
}

fn random32(rng: &mut Prng) -> [u8; 32] {
    let mut out = [0u8; 32];
    for chunk in out.chunks_exact_mut(8) {
        chunk.copy_from_slice(&rng.next_u64().to_le_bytes());
    }
    out
}

// ---- client ----

/// Where a client handshake is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientState {
    /// Flight 1 sent; waiting for flight 2.
    AwaitingServerFlight {
        hello: ClientHello,
    },
    /// Flight 3 sent (TLS 1.3: the client is done). A later alert from the server still fails it.
    Established {
        peer_identity: String,
    },
    Failed(HandshakeError),
}

impl ClientState {
    pub fn name(&self) -> &'static str {
        match self {
            ClientState::AwaitingServerFlight { .. } => "AwaitingServerFlight",
            ClientState::Established { .. } => "Established",
            ClientState::Failed(_) => "Failed",
        }
    }
}

/// The client side of one connection.
#[derive(Clone, Debug)]
pub struct ClientHandshake {
    config: Arc<ClientConfig>,
    started: SimTime,
    state: ClientState,
}

impl ClientHandshake {
    /// Starts a handshake to a server expected to prove `server_name`; returns flight 1.
    pub fn start(
        config: Arc<ClientConfig>,
        server_name: &str,
        now: SimTime,
        rng: &mut Prng,
    ) -> (ClientHandshake, Flight) {
        let hello = ClientHello {
            client_random: random32(rng),
            server_name: server_name.to_owned(),
        };
        let flight = Flight::ClientHello(hello.clone());
        (
            ClientHandshake {
                config,
                started: now,
                state: ClientState::AwaitingServerFlight { hello },
            },
            flight,
        )
    }

    pub fn state(&self) -> &ClientState {
        &self.state
    }

    /// When this handshake started (its deadline is `started + timeout`).
    pub fn started(&self) -> SimTime {
        self.started
    }

    /// When the caller must call [`Self::handle_timeout`]; `None` once finished.
    pub fn deadline(&self) -> Option<SimTime> {
        match self.state {
            ClientState::AwaitingServerFlight { .. } => Some(self.started + self.config.timeout),
            ClientState::Established { .. } | ClientState::Failed(_) => None,
        }
    }

    /// `Some` once the handshake is finished on this side.
    pub fn outcome(&self) -> Option<Outcome> {
        match &self.state {
            ClientState::AwaitingServerFlight { .. } => None,
            ClientState::Established { peer_identity } => Some(Outcome::Established {
                peer_identity: Some(peer_identity.clone()),
            }),
            ClientState::Failed(e) => Some(Outcome::Failed(e.clone())),
        }
    }

    /// Fails the handshake with `Timeout` if its deadline has passed at `now`; returns whether it
    /// did. Calling it early, or after the handshake finished, changes nothing.
    pub fn handle_timeout(&mut self, now: SimTime) -> bool {
        match self.deadline() {
            Some(d) if now >= d => {
                self.state = ClientState::Failed(HandshakeError::Timeout {
                    waiting_for: "ServerFlight",
                });
                true
            }
            Some(_) | None => false,
        }
    }

    /// The connection closed under the handshake (reset or refused).
    pub fn handle_close(&mut self) {
        if let ClientState::AwaitingServerFlight { .. } = self.state {
            self.state = ClientState::Failed(HandshakeError::ConnectionClosed);
        }
    }

    /// Feeds one flight from the server; returns the flight to send back, if any. A flight that
    /// arrives after the deadline first times the handshake out.
    pub fn handle(
        &mut self,
        now: SimTime,
        flight: &Flight,
        memo: &mut SignatureMemo,
    ) -> Option<Flight> {
        if self.handle_timeout(now) {
            return None;
        }
        let state = std::mem::replace(
            &mut self.state,
            ClientState::Failed(HandshakeError::ConnectionClosed),
        );
        let (next, send) = match (state, flight) {
            (ClientState::AwaitingServerFlight { hello }, Flight::ServerFlight(sf)) => {
                match self.verify_server(now, &hello, sf, memo) {
                    Ok((peer_identity, reply)) => {
                        (ClientState::Established { peer_identity }, Some(reply))
                    }
                    Err(e) => {
                        let alert = e.alert_flight();
                        (ClientState::Failed(e), alert)
                    }
                }
            }
            (ClientState::AwaitingServerFlight { .. }, Flight::Alert(a)) => (
                ClientState::Failed(HandshakeError::PeerAlert(a.reason)),
                None,
            ),
            (
                ClientState::AwaitingServerFlight { .. },
                Flight::ClientHello(_) | Flight::ClientFinished(_),
            ) => {
                let e = HandshakeError::UnexpectedFlight {
                    state: "AwaitingServerFlight",
                    got: flight.kind(),
                };
                let alert = e.alert_flight();
                (ClientState::Failed(e), alert)
            }
            (ClientState::Established { .. }, Flight::Alert(a)) => (
                ClientState::Failed(HandshakeError::PeerAlert(a.reason)),
                None,
            ),
            // A finished handshake ignores stray handshake flights (they cannot occur on an
            // ordered stream; duplicates injected by the kernel are dropped here).
            (
                ClientState::Established { peer_identity },
                Flight::ClientHello(_) | Flight::ServerFlight(_) | Flight::ClientFinished(_),
            ) => (ClientState::Established { peer_identity }, None),
            // A failed handshake stays failed, whatever arrives.
            (
                ClientState::Failed(e),
                Flight::ClientHello(_)
                | Flight::ServerFlight(_)
                | Flight::ClientFinished(_)
                | Flight::Alert(_),
            ) => (ClientState::Failed(e), None),
        };
        self.state = next;
        send
    }

    fn verify_server(
        &self,
        now: SimTime,
        hello: &ClientHello,
        sf: &ServerFlight,
        memo: &mut SignatureMemo,
    ) -> Result<(String, Flight), HandshakeError> {
        let local = self.config.clock_skew.local_time(now);
        let verified = verify_chain(sf.chain.certs(), &self.config.trust, local, memo)
            .map_err(HandshakeError::PeerCertificate)?;
        if verified.leaf_subject != hello.server_name {
            return Err(HandshakeError::IdentityMismatch {
                expected: hello.server_name.clone(),
                presented: verified.leaf_subject,
            });
        }
        let th_server = transcript_server(hello, &sf.server_random, &sf.chain);
        let leaf_key = sf
            .chain
            .leaf()
            .map(|l| l.public_key)
            .ok_or(HandshakeError::BadFinished)?;
        if !leaf_key.verify(&signed_content(SERVER_CONTEXT, &th_server), &sf.finished) {
            return Err(HandshakeError::BadFinished);
        }
        let th_after = transcript_after_server(&th_server, &sf.finished);
        let reply = match &self.config.credentials {
            Some(creds) => {
                let th_client = transcript_client(&th_after, creds.chain());
                let sig = creds
                    .key()
                    .sign(&signed_content(CLIENT_CONTEXT, &th_client));
                ClientFinished {
                    chain: creds.chain().clone(),
                    finished: Some(sig),
                }
            }
            None => ClientFinished {
                chain: CertChain::empty(),
                finished: None,
            },
        };
        Ok((verified.leaf_subject, Flight::ClientFinished(reply)))
    }
}

// ---- server ----

/// Where a server handshake is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerState {
    /// Connection accepted; waiting for flight 1.
    AwaitingClientHello,
    /// Flight 2 sent; waiting for flight 3. Holds the transcript through the server's finished.
    AwaitingClientFinished {
        transcript: [u8; 32],
    },
    Established {
        peer_identity: Option<String>,
    },
    Failed(HandshakeError),
}

impl ServerState {
    pub fn name(&self) -> &'static str {
        match self {
            ServerState::AwaitingClientHello => "AwaitingClientHello",
            ServerState::AwaitingClientFinished { .. } => "AwaitingClientFinished",
            ServerState::Established { .. } => "Established",
            ServerState::Failed(_) => "Failed",
        }
    }
}

/// The server side of one accepted connection. The server has one identity and presents it
/// whatever `server_name` the client asked for; the client is the one that checks the name.
#[derive(Clone, Debug)]
pub struct ServerHandshake {
    config: Arc<ServerConfig>,
    started: SimTime,
    state: ServerState,
}

impl ServerHandshake {
    /// A connection accepted at `now`; waits for flight 1.
    pub fn new(config: Arc<ServerConfig>, now: SimTime) -> ServerHandshake {
        ServerHandshake {
            config,
            started: now,
            state: ServerState::AwaitingClientHello,
        }
    }

    pub fn state(&self) -> &ServerState {
        &self.state
    }

    /// When the connection was accepted (its deadline is `started + timeout`).
    pub fn started(&self) -> SimTime {
        self.started
    }

    /// When the caller must call [`Self::handle_timeout`]; `None` once finished.
    pub fn deadline(&self) -> Option<SimTime> {
        match self.state {
            ServerState::AwaitingClientHello | ServerState::AwaitingClientFinished { .. } => {
                Some(self.started + self.config.timeout)
            }
            ServerState::Established { .. } | ServerState::Failed(_) => None,
        }
    }

    pub fn outcome(&self) -> Option<Outcome> {
        match &self.state {
            ServerState::AwaitingClientHello | ServerState::AwaitingClientFinished { .. } => None,
            ServerState::Established { peer_identity } => Some(Outcome::Established {
                peer_identity: peer_identity.clone(),
            }),
            ServerState::Failed(e) => Some(Outcome::Failed(e.clone())),
        }
    }

    /// Fails the handshake with `Timeout` if its deadline has passed; returns whether it did.
    pub fn handle_timeout(&mut self, now: SimTime) -> bool {
        let waiting_for = match self.state {
            ServerState::AwaitingClientHello => "ClientHello",
            ServerState::AwaitingClientFinished { .. } => "ClientFinished",
            ServerState::Established { .. } | ServerState::Failed(_) => return false,
        };
        match self.deadline() {
            Some(d) if now >= d => {
                self.state = ServerState::Failed(HandshakeError::Timeout { waiting_for });
                true
            }
            Some(_) | None => false,
        }
    }

    /// The connection closed under the handshake.
    pub fn handle_close(&mut self) {
        match self.state {
            ServerState::AwaitingClientHello | ServerState::AwaitingClientFinished { .. } => {
                self.state = ServerState::Failed(HandshakeError::ConnectionClosed);
            }
            ServerState::Established { .. } | ServerState::Failed(_) => {}
        }
    }

    /// Feeds one flight from the client; returns the flight to send back, if any. `rng` supplies
    /// the server random (drawn only when flight 1 is answered).
    pub fn handle(
        &mut self,
        now: SimTime,
        flight: &Flight,
        rng: &mut Prng,
        memo: &mut SignatureMemo,
    ) -> Option<Flight> {
        if self.handle_timeout(now) {
            return None;
        }
        let state = std::mem::replace(
            &mut self.state,
            ServerState::Failed(HandshakeError::ConnectionClosed),
        );
        let unexpected = |state: &'static str| {
            let e = HandshakeError::UnexpectedFlight {
                state,
                got: flight.kind(),
            };
            let alert = e.alert_flight();
            (ServerState::Failed(e), alert)
        };
        let (next, send) = match (state, flight) {
            (ServerState::AwaitingClientHello, Flight::ClientHello(hello)) => {
                let creds = &self.config.credentials;
                let server_random = random32(rng);
                let th_server = transcript_server(hello, &server_random, creds.chain());
                let finished = creds
                    .key()
                    .sign(&signed_content(SERVER_CONTEXT, &th_server));
                let transcript = transcript_after_server(&th_server, &finished);
                let reply = ServerFlight {
                    server_random,
                    chain: creds.chain().clone(),
                    finished,
                };
                (
                    ServerState::AwaitingClientFinished { transcript },
                    Some(Flight::ServerFlight(reply)),
                )
            }
            (ServerState::AwaitingClientHello, Flight::Alert(a)) => (
                ServerState::Failed(HandshakeError::PeerAlert(a.reason)),
                None,
            ),
            (
                ServerState::AwaitingClientHello,
                Flight::ServerFlight(_) | Flight::ClientFinished(_),
            ) => unexpected("AwaitingClientHello"),
            (ServerState::AwaitingClientFinished { transcript }, Flight::ClientFinished(cf)) => {
                match self.verify_client(now, &transcript, cf, memo) {
                    Ok(peer_identity) => (ServerState::Established { peer_identity }, None),
                    Err(e) => {
                        let alert = e.alert_flight();
                        (ServerState::Failed(e), alert)
                    }
                }
            }
            (ServerState::AwaitingClientFinished { .. }, Flight::Alert(a)) => (
                ServerState::Failed(HandshakeError::PeerAlert(a.reason)),
                None,
            ),
            (
                ServerState::AwaitingClientFinished { .. },
                Flight::ClientHello(_) | Flight::ServerFlight(_),
            ) => unexpected("AwaitingClientFinished"),
            (ServerState::Established { .. }, Flight::Alert(a)) => (
                ServerState::Failed(HandshakeError::PeerAlert(a.reason)),
                None,
            ),
            (
                ServerState::Established { peer_identity },
                Flight::ClientHello(_) | Flight::ServerFlight(_) | Flight::ClientFinished(_),
            ) => (ServerState::Established { peer_identity }, None),
            (
                ServerState::Failed(e),
                Flight::ClientHello(_)
                | Flight::ServerFlight(_)
                | Flight::ClientFinished(_)
                | Flight::Alert(_),
            ) => (ServerState::Failed(e), None),
        };
        self.state = next;
        send
    }

    fn verify_client(
        &self,
        now: SimTime,
        transcript: &[u8; 32],
        cf: &ClientFinished,
        memo: &mut SignatureMemo,
    ) -> Result<Option<String>, HandshakeError> {
        if cf.chain.is_empty() {
            return if self.config.require_client_identity {
                Err(HandshakeError::MissingClientCertificate)
            } else {
                Ok(None)
            };
        }
        let local = self.config.clock_skew.local_time(now);
        let verified = verify_chain(cf.chain.certs(), &self.config.trust, local, memo)
            .map_err(HandshakeError::PeerCertificate)?;
        let th_client = transcript_client(transcript, &cf.chain);
        let leaf_key = cf
            .chain
            .leaf()
            .map(|l| l.public_key)
            .ok_or(HandshakeError::BadFinished)?;
        match &cf.finished {
            Some(sig) if leaf_key.verify(&signed_content(CLIENT_CONTEXT, &th_client), sig) => {
                Ok(Some(verified.leaf_subject))
            }
            Some(_) | None => Err(HandshakeError::BadFinished),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::ca::TrustAnchor;

    struct Pair {
        client: Arc<ClientConfig>,
        server: Arc<ServerConfig>,
    }

    fn pair(seed: u64) -> Pair {
        let mut rng = Prng::stream(seed, "pki");
        let root = TrustAnchor::generate(&mut rng, "root", SimTime(0), SimTime(1_000_000));
        let issuer = root.issue_issuer(&mut rng, "issuer", SimTime(0), SimTime(1_000_000));
        let c = issuer.issue_workload(&mut rng, "client", SimTime(0), SimTime(1_000_000));
        let s = issuer.issue_workload(&mut rng, "server", SimTime(0), SimTime(1_000_000));
        let trust = TrustBundle::of(&[root.certificate()]);
        Pair {
            client: Arc::new(ClientConfig {
                credentials: Some(c),
                trust: trust.clone(),
                clock_skew: ClockSkew::NONE,
                timeout: SimDuration(100),
            }),
            server: Arc::new(ServerConfig {
                credentials: s,
                trust,
                require_client_identity: true,
                clock_skew: ClockSkew::NONE,
                timeout: SimDuration(100),
            }),
        }
    }

    #[test]
    fn forged_finished_is_rejected_by_both_sides() {
        let p = pair(1);
        let mut rng = Prng::stream(1, "conn");
        let mut memo = SignatureMemo::default();
        let (mut client, hello) =
            ClientHandshake::start(p.client.clone(), "server", SimTime(1), &mut rng);
        let mut server = ServerHandshake::new(p.server.clone(), SimTime(1));
        let Some(Flight::ServerFlight(mut sf)) =
            server.handle(SimTime(2), &hello, &mut rng, &mut memo)
        else {
            panic!("server must answer a hello with its flight");
        };
        sf.finished.0[0] ^= 1;
        let reply = client.handle(SimTime(3), &Flight::ServerFlight(sf), &mut memo);
        assert_eq!(
            client.outcome(),
            Some(Outcome::Failed(HandshakeError::BadFinished))
        );
        assert_eq!(
            reply,
            Some(Flight::Alert(Alert {
                reason: AlertReason::DecryptError
            }))
        );
        assert_eq!(
            server.handle(SimTime(4), &reply.unwrap(), &mut rng, &mut memo),
            None
        );
        assert_eq!(
            server.outcome(),
            Some(Outcome::Failed(HandshakeError::PeerAlert(
                AlertReason::DecryptError
            )))
        );

        // A client finished replayed from another connection does not prove possession here.
        let (mut c1, h1) =
            ClientHandshake::start(p.client.clone(), "server", SimTime(10), &mut rng);
        let mut s1 = ServerHandshake::new(p.server.clone(), SimTime(10));
        let sf1 = s1.handle(SimTime(10), &h1, &mut rng, &mut memo).unwrap();
        let cf1 = c1.handle(SimTime(10), &sf1, &mut memo).unwrap();
        let (mut c2, h2) =
            ClientHandshake::start(p.client.clone(), "server", SimTime(10), &mut rng);
        let mut s2 = ServerHandshake::new(p.server.clone(), SimTime(10));
        let sf2 = s2.handle(SimTime(10), &h2, &mut rng, &mut memo).unwrap();
        let _ = c2.handle(SimTime(10), &sf2, &mut memo);
        let alert = s2.handle(SimTime(11), &cf1, &mut rng, &mut memo);
        assert_eq!(
            s2.outcome(),
            Some(Outcome::Failed(HandshakeError::BadFinished))
        );
        assert_eq!(
            alert,
            Some(Flight::Alert(Alert {
                reason: AlertReason::DecryptError
            }))
        );
        assert_eq!(s1.handle(SimTime(11), &cf1, &mut rng, &mut memo), None);
        assert_eq!(
            s1.outcome(),
            Some(Outcome::Established {
                peer_identity: Some("client".into())
            })
        );
    }

    #[test]
    fn out_of_order_and_late_flights() {
        let p = pair(2);
        let mut rng = Prng::stream(2, "conn");
        let mut memo = SignatureMemo::default();
        let (_client, hello) =
            ClientHandshake::start(p.client.clone(), "server", SimTime(0), &mut rng);
        let mut server = ServerHandshake::new(p.server.clone(), SimTime(0));
        let stray = Flight::ClientFinished(ClientFinished {
            chain: CertChain::empty(),
            finished: None,
        });
        let alert = server.handle(SimTime(1), &stray, &mut rng, &mut memo);
        assert_eq!(
            alert,
            Some(Flight::Alert(Alert {
                reason: AlertReason::UnexpectedMessage
            }))
        );
        assert_eq!(server.state().name(), "Failed");
        // Finished states ignore further flights.
        assert_eq!(server.handle(SimTime(2), &hello, &mut rng, &mut memo), None);
        assert_eq!(server.state().name(), "Failed");

        let mut late = ServerHandshake::new(p.server.clone(), SimTime(0));
        assert_eq!(late.deadline(), Some(SimTime(100)));
        assert!(!late.handle_timeout(SimTime(99)));
        assert_eq!(late.handle(SimTime(100), &hello, &mut rng, &mut memo), None);
        assert_eq!(
            late.outcome(),
            Some(Outcome::Failed(HandshakeError::Timeout {
                waiting_for: "ClientHello"
            }))
        );
        assert_eq!(late.deadline(), None);
    }

    #[test]
    fn flight_digests_differ_by_content_and_are_reproducible() {
        let p = pair(3);
        let (_, a) = ClientHandshake::start(
            p.client.clone(),
            "server",
            SimTime(0),
            &mut Prng::stream(9, "c"),
        );
        let (_, b) = ClientHandshake::start(
            p.client.clone(),
            "server",
            SimTime(0),
            &mut Prng::stream(9, "c"),
        );
        let (_, c) = ClientHandshake::start(
            p.client.clone(),
            "server",
            SimTime(0),
            &mut Prng::stream(10, "c"),
        );
        assert_eq!(a.digest(), b.digest());
        assert_ne!(a.digest(), c.digest());
        assert_eq!(a.kind(), "tls-client-hello");
        assert_eq!(Message::details(&a)["server_name"], "server");
    }

    #[test]
    fn close_fails_pending_handshakes_only() {
        let p = pair(4);
        let mut rng = Prng::stream(4, "conn");
        let (mut client, _) =
            ClientHandshake::start(p.client.clone(), "server", SimTime(0), &mut rng);
        client.handle_close();
        assert_eq!(
            client.outcome(),
            Some(Outcome::Failed(HandshakeError::ConnectionClosed))
        );
        let mut server = ServerHandshake::new(p.server.clone(), SimTime(0));
        server.handle_close();
        assert_eq!(
            server.outcome(),
            Some(Outcome::Failed(HandshakeError::ConnectionClosed))
        );
    }
}
