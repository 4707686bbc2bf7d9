//! Linkerd identity names (spec §10.1): the DNS-like name a workload certificate carries as its
//! subject, `<serviceaccount>.<namespace>.serviceaccount.identity.<linkerd-namespace>.<trust-domain>`.
//!
//! Inputs: service account, namespace and an [`IdentityDomain`] (Linkerd namespace + trust domain).
//! Outputs: identity strings. Pure string functions; this file owns no state and touches nothing else.

/// The part of an identity that is fixed per cluster install: the Linkerd control-plane namespace
/// and the trust domain. Defaults are Linkerd's: `linkerd` and `cluster.local`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IdentityDomain {
    pub linkerd_namespace: String,
    pub trust_domain: String,
}

impl Default for IdentityDomain {
    fn default() -> Self {
        IdentityDomain {
            linkerd_namespace: DEFAULT_LINKERD_NAMESPACE.into(),
            trust_domain: DEFAULT_TRUST_DOMAIN.into(),
        }
    }
}

/// Linkerd's default control-plane namespace.
pub const DEFAULT_LINKERD_NAMESPACE: &str = "linkerd";
/// Linkerd's default identity trust domain.
pub const DEFAULT_TRUST_DOMAIN: &str = crate::defaults::TRUST_DOMAIN;
/// The gateway's service account (chart `linkerd-multicluster`, spec §8.1).
pub const GATEWAY_SERVICE_ACCOUNT: &str = "linkerd-gateway";
/// The namespace the multicluster extension installs the gateway into (spec §8.1).
pub const GATEWAY_NAMESPACE: &str = "linkerd-multicluster";

impl IdentityDomain {
    pub fn new(linkerd_namespace: &str, trust_domain: &str) -> Self {
        IdentityDomain {
            linkerd_namespace: linkerd_namespace.into(),
            trust_domain: trust_domain.into(),
        }
    }

    /// The identity of a workload running as `service_account` in `namespace`.
    pub fn workload(&self, service_account: &str, namespace: &str) -> String {
        workload_identity(service_account, namespace, self)
    }

    /// The multicluster gateway's identity under this domain (the chart computes it the same way,
    /// spec §10.1; a mismatch here is the #9044 failure).
    pub fn gateway(&self) -> String {
        self.workload(GATEWAY_SERVICE_ACCOUNT, GATEWAY_NAMESPACE)
    }
}

/// `<sa>.<ns>.serviceaccount.identity.<linkerd-ns>.<trust-domain>`.
pub fn workload_identity(
    service_account: &str,
    namespace: &str,
    domain: &IdentityDomain,
) -> String {
    format!(
        "{service_account}.{namespace}.serviceaccount.identity.{}.{}",
        domain.linkerd_namespace, domain.trust_domain
    )
}

/// The default gateway identity:
/// `linkerd-gateway.linkerd-multicluster.serviceaccount.identity.linkerd.cluster.local`.
pub fn default_gateway_identity() -> String {
    IdentityDomain::default().gateway()
}

/// The parts of a Linkerd workload identity, if `identity` has that shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedIdentity<'a> {
    pub service_account: &'a str,
    pub namespace: &'a str,
    pub linkerd_namespace: &'a str,
    pub trust_domain: &'a str,
}

/// Splits `identity` at `.serviceaccount.identity.`; the service account and namespace are the
/// first two labels (Kubernetes names contain no dots) and the Linkerd namespace is the next label.
pub fn parse_identity(identity: &str) -> Option<ParsedIdentity<'_>> {
    let (head, tail) = identity.split_once(".serviceaccount.identity.")?;
    let (service_account, namespace) = head.split_once('.')?;
    let (linkerd_namespace, trust_domain) = tail.split_once('.')?;
    let parts = [service_account, namespace, linkerd_namespace, trust_domain];
    if parts.iter().any(|p| p.is_empty()) || namespace.contains('.') {
        return None;
    }
    Some(ParsedIdentity {
        service_account,
        namespace,
        linkerd_namespace,
        trust_domain,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_linkerd_identities() {
        let d = IdentityDomain::default();
        assert_eq!(
            d.workload("slow-cooker", "mc-demo"),
            "slow-cooker.mc-demo.serviceaccount.identity.linkerd.cluster.local"
        );
        assert_eq!(
            default_gateway_identity(),
            "linkerd-gateway.linkerd-multicluster.serviceaccount.identity.linkerd.cluster.local"
        );
        let custom = IdentityDomain::new("l5d", "example.org");
        assert_eq!(
            custom.gateway(),
            "linkerd-gateway.linkerd-multicluster.serviceaccount.identity.l5d.example.org"
        );
    }

    #[test]
    fn parses_back() {
        let id = IdentityDomain::new("l5d", "example.org").workload("web", "prod");
        let p = parse_identity(&id).unwrap();
        assert_eq!(p.service_account, "web");
        assert_eq!(p.namespace, "prod");
        assert_eq!(p.linkerd_namespace, "l5d");
        assert_eq!(p.trust_domain, "example.org");
        assert_eq!(parse_identity("root.linkerd.cluster.local"), None);
        assert_eq!(
            parse_identity(".x.serviceaccount.identity.linkerd.cluster.local"),
            None
        );
        assert_eq!(
            parse_identity("a.b.c.serviceaccount.identity.linkerd.cluster.local"),
            None
        );
    }
}
