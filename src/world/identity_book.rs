//! The trust setup of a run: one trust anchor per anchor name used by the clusters (normally a
//! single shared `root`), one identity issuer per cluster signed by its anchor, and workload
//! credentials issued on demand per identity (as Linkerd's identity controller does when a proxy
//! starts), renewed when they reach their renewal point.
//!
//! Identity time runs on an epoch one day ahead of simulation time, so a cluster whose clock is
//! *behind* still has a meaningful (earlier) local time. Faults change what this book hands out:
//! clock skew, certificate expiry (the cluster's proxies are left with expired certificates),
//! rotation (fresh keys and serials), and a switch to another trust anchor.

use crate::identity::ca::{DEFAULT_ISSUER_SUBJECT, DEFAULT_WORKLOAD_LIFETIME};
use crate::identity::{
    ClientConfig, ClockSkew, Credentials, IdentityDomain, Issuer, ServerConfig, SignatureMemo,
    TrustAnchor, TrustBundle,
};
use crate::scenario::Scenario;
use crate::sim::{Prng, SimDuration, SimTime};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Identity time = simulation time + this.
pub const IDENTITY_EPOCH: SimDuration = SimDuration::from_mins(24 * 60);
const ANCHOR_LIFETIME: SimDuration = SimDuration::from_mins(10 * 365 * 24 * 60);
const ISSUER_LIFETIME: SimDuration = SimDuration::from_mins(365 * 24 * 60);
/// Handshake deadline of the proxies.
pub const HANDSHAKE_TIMEOUT: SimDuration = SimDuration::from_secs(10);

pub struct ClusterIdentity {
    pub anchor: String,
    /// Names of every anchor in this cluster's trust bundle.
    pub trusted: std::collections::BTreeSet<String>,
    issuer: Issuer,
    pub trust: TrustBundle,
    pub skew: ClockSkew,
    /// Proxies hold expired certificates (the `cert_expiry` fault).
    pub expired: bool,
    creds: BTreeMap<String, Credentials>,
    pub domain: IdentityDomain,
}

pub struct IdentityBook {
    anchors: BTreeMap<String, TrustAnchor>,
    pub clusters: Vec<ClusterIdentity>,
    pub memo: SignatureMemo,
    rng: Prng,
    /// The anchor every cluster is supposed to share (the scenario's most common anchor).
    pub shared_anchor: String,
}

impl IdentityBook {
    pub fn new(scenario: &Scenario, seed: u64) -> IdentityBook {
        let mut rng = Prng::stream(seed, "identity");
        let epoch = SimTime::ZERO + IDENTITY_EPOCH;
        let mut anchors = BTreeMap::new();
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for c in &scenario.clusters {
            *counts.entry(c.trust_anchor.as_str()).or_default() += 1;
        }
        let mut names: std::collections::BTreeSet<&str> = counts.keys().copied().collect();
        names.extend(
            scenario
                .clusters
                .iter()
                .flat_map(|c| c.trusts.iter().map(String::as_str)),
        );
        let shared_anchor = counts
            .iter()
            .max_by_key(|(name, n)| (**n, std::cmp::Reverse(**name)))
            .map(|(n, _)| n.to_string())
            .unwrap_or_default();
        for name in &names {
            let subject = format!("{name}.linkerd.{}", scenario.linkerd.trust_domain);
            anchors.insert(
                name.to_string(),
                TrustAnchor::generate(&mut rng, &subject, SimTime::ZERO, epoch + ANCHOR_LIFETIME),
            );
        }
        let domain = IdentityDomain::new("linkerd", &scenario.linkerd.trust_domain);
        let clusters = scenario
            .clusters
            .iter()
            .map(|c| {
                let anchor = &anchors[&c.trust_anchor];
                ClusterIdentity {
                    anchor: c.trust_anchor.clone(),
                    trusted: std::iter::once(c.trust_anchor.clone())
                        .chain(c.trusts.iter().cloned())
                        .collect(),
                    issuer: anchor.issue_issuer(
                        &mut rng,
                        DEFAULT_ISSUER_SUBJECT,
                        SimTime::ZERO,
                        epoch + ISSUER_LIFETIME,
                    ),
                    trust: {
                        let mut certs = vec![anchor.certificate()];
                        certs.extend(
                            c.trusts
                                .iter()
                                .filter_map(|t| anchors.get(t))
                                .map(|a| a.certificate()),
                        );
                        TrustBundle::of(&certs)
                    },
                    skew: ClockSkew(c.clock_skew_ns),
                    expired: false,
                    creds: BTreeMap::new(),
                    domain: domain.clone(),
                }
            })
            .collect();
        IdentityBook {
            anchors,
            clusters,
            memo: SignatureMemo::default(),
            rng,
            shared_anchor,
        }
    }

    /// Identity time for a true simulation instant.
    pub fn clock(now: SimTime) -> SimTime {
        now + IDENTITY_EPOCH
    }

    /// The credentials a proxy of `cluster` holds for `identity` at `now`.
    pub fn credentials(&mut self, cluster: usize, identity: &str, now: SimTime) -> Credentials {
        let t = Self::clock(now);
        let c = &mut self.clusters[cluster];
        let fresh = c.creds.get(identity).is_some_and(|cr| {
            let valid = cr
                .leaf()
                .is_some_and(|l| l.not_before <= t && t < l.not_after);
            // An expired cluster keeps its stale credentials; a healthy one renews at 70%.
            c.expired || (valid && t < cr.renew_at())
        });
        if !fresh {
            let (nb, na) = if c.expired {
                (SimTime(t.0.saturating_sub(DEFAULT_WORKLOAD_LIFETIME.0)), t)
            } else {
                (t, t + DEFAULT_WORKLOAD_LIFETIME)
            };
            let cr = c.issuer.issue_workload(&mut self.rng, identity, nb, na);
            c.creds.insert(identity.to_string(), cr);
        }
        c.creds[identity].clone()
    }

    pub fn client_config(
        &mut self,
        cluster: usize,
        identity: &str,
        now: SimTime,
    ) -> Arc<ClientConfig> {
        let credentials = Some(self.credentials(cluster, identity, now));
        let c = &self.clusters[cluster];
        Arc::new(ClientConfig {
            credentials,
            trust: c.trust.clone(),
            clock_skew: c.skew,
            timeout: HANDSHAKE_TIMEOUT,
        })
    }

    pub fn server_config(
        &mut self,
        cluster: usize,
        identity: &str,
        require_client_identity: bool,
        now: SimTime,
    ) -> Arc<ServerConfig> {
        let credentials = self.credentials(cluster, identity, now);
        let c = &self.clusters[cluster];
        Arc::new(ServerConfig {
            credentials,
            trust: c.trust.clone(),
            require_client_identity,
            clock_skew: c.skew,
            timeout: HANDSHAKE_TIMEOUT,
        })
    }

    pub fn workload_identity(
        &self,
        cluster: usize,
        service_account: &str,
        namespace: &str,
    ) -> String {
        self.clusters[cluster]
            .domain
            .workload(service_account, namespace)
    }

    pub fn gateway_identity(&self, cluster: usize) -> String {
        self.clusters[cluster].domain.gateway()
    }

    // ---- faults ----

    /// Every credential of `cluster` is replaced by an expired one (`cert_expiry`), or, on heal,
    /// by a fresh one.
    pub fn set_expired(&mut self, cluster: usize, expired: bool) {
        let c = &mut self.clusters[cluster];
        c.expired = expired;
        c.creds.clear();
    }

    /// New keys and serials for every workload of `cluster` (`rotate_certs`).
    pub fn rotate(&mut self, cluster: usize) {
        self.clusters[cluster].creds.clear();
    }

    pub fn set_skew(&mut self, cluster: usize, skew_ns: i64) {
        self.clusters[cluster].skew = ClockSkew(skew_ns);
    }

    /// `cluster` is re-rooted under anchor `name` (created on first use) and trusts only it.
    pub fn switch_anchor(&mut self, cluster: usize, name: &str, trust_domain: &str) {
        let epoch = SimTime::ZERO + IDENTITY_EPOCH;
        if !self.anchors.contains_key(name) {
            let subject = format!("{name}.linkerd.{trust_domain}");
            let a = TrustAnchor::generate(
                &mut self.rng,
                &subject,
                SimTime::ZERO,
                epoch + ANCHOR_LIFETIME,
            );
            self.anchors.insert(name.to_string(), a);
        }
        let anchor = &self.anchors[name];
        let c = &mut self.clusters[cluster];
        c.anchor = name.to_string();
        c.trusted = std::iter::once(name.to_string()).collect();
        c.issuer = anchor.issue_issuer(
            &mut self.rng,
            DEFAULT_ISSUER_SUBJECT,
            SimTime::ZERO,
            epoch + ISSUER_LIFETIME,
        );
        c.trust = TrustBundle::of(&[anchor.certificate()]);
        c.creds.clear();
    }

    /// A bundle of every anchor (used only by a deliberately broken gateway variant).
    pub fn all_anchors(&self) -> TrustBundle {
        let certs: Vec<&crate::identity::Certificate> =
            self.anchors.values().map(|a| a.certificate()).collect();
        TrustBundle::of(&certs)
    }

    /// Whether proxies of `client` and the gateway of `server` can complete an mTLS handshake:
    /// each trusts the other's anchor and neither holds expired certificates. `any_anchor`: the
    /// server's gateway is the broken variant that trusts every anchor.
    pub fn can_handshake(&self, client: usize, server: usize, any_anchor: bool) -> bool {
        let (c, s) = (&self.clusters[client], &self.clusters[server]);
        c.trusted.contains(&s.anchor)
            && (any_anchor || s.trusted.contains(&c.anchor))
            && !c.expired
            && !s.expired
    }

    /// Subject of the anchor every cluster is supposed to share.
    pub fn shared_anchor_subject(&self) -> Option<String> {
        self.anchors
            .get(&self.shared_anchor)
            .map(|a| a.certificate().subject.clone())
    }
}
