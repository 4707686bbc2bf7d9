//! Field validation the API server applies before a write, with the real apiserver's wording.
//!
//! Owns: name-format checks (DNS-1123 label/subdomain, DNS-1035 label, IANA service names),
//! label checks, IPv4 CIDRs, and the per-kind validation of specs (Service ports, Endpoints and
//! EndpointSlice addresses, workload selectors). Inputs: objects. Outputs: lists of field
//! causes (`spec.ports[1].name: Duplicate value: "http"`), empty when valid. Must not touch:
//! server state (allocation, existence and immutability checks live in `apiserver.rs`).

use super::objects::{IntOrString, Object, Service, ServiceType};
use std::collections::BTreeSet;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

const LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const DNS1035_MSG: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";
const SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

fn label_chars_ok(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

/// RFC 1123 label: `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, at most 63 characters.
pub fn is_dns1123_label(s: &str) -> bool {
    s.len() <= 63 && label_chars_ok(s)
}

/// RFC 1035 label: like an RFC 1123 label but starting with a letter.
pub fn is_dns1035_label(s: &str) -> bool {
    is_dns1123_label(s) && s.as_bytes()[0].is_ascii_lowercase()
}

/// RFC 1123 subdomain: dot-separated labels, at most 253 characters.
pub fn is_dns1123_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(label_chars_ok)
}

/// IANA service name (port names used as `targetPort`): at most 15 characters, lowercase
/// alphanumerics and '-', at least one letter, no leading/trailing or double '-'.
pub fn is_iana_svc_name(s: &str) -> bool {
    s.len() <= 15
        && label_chars_ok(s)
        && s.bytes().any(|c| c.is_ascii_lowercase())
        && !s.contains("--")
}

/// The `metadata.name` rule of each kind.
pub fn name_errors(obj: &Object, name: &str) -> Vec<String> {
    use super::objects::Kind;
    let (ok, msg) = match obj.kind() {
        Kind::Namespace => (is_dns1123_label(name), LABEL_MSG),
        Kind::Service => (is_dns1035_label(name), DNS1035_MSG),
        // RBAC objects are named by path segments (`system:controller:...`).
        Kind::Opaque(o) if o.group() == "rbac.authorization.k8s.io" => (
            !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '%']),
            "may not be '.' or '..' and may not contain '/' or '%'",
        ),
        _ => (is_dns1123_subdomain(name), SUBDOMAIN_MSG),
    };
    if ok {
        vec![]
    } else {
        vec![format!("metadata.name: Invalid value: \"{name}\": {msg}")]
    }
}

fn label_key_ok(key: &str) -> bool {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    let name_ok = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name.as_bytes()[name.len() - 1].is_ascii_alphanumeric();
    name_ok && prefix.is_none_or(is_dns1123_subdomain)
}

fn label_value_ok(v: &str) -> bool {
    v.is_empty()
        || (v.len() <= 63
            && v.bytes()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
            && v.as_bytes()[0].is_ascii_alphanumeric()
            && v.as_bytes()[v.len() - 1].is_ascii_alphanumeric())
}

/// Label keys must be qualified names and values valid label values.
pub fn label_errors(
    labels: &std::collections::BTreeMap<String, String>,
    path: &str,
) -> Vec<String> {
    let mut out = vec![];
    for (k, v) in labels {
        if !label_key_ok(k) {
            out.push(format!("{path}: Invalid value: \"{k}\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"));
        }
        if !label_value_ok(v) {
            out.push(format!("{path}: Invalid value: \"{v}\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"));
        }
    }
    out
}

/// An IPv4 range such as `10.96.0.0/16`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ipv4Cidr {
    base: u32,
    prefix: u8,
}

impl Ipv4Cidr {
    pub fn parse(text: &str) -> Result<Ipv4Cidr, String> {
        let (ip, len) = text
            .split_once('/')
            .ok_or_else(|| format!("CIDR \"{text}\" has no prefix length"))?;
        let ip: Ipv4Addr = ip
            .parse()
            .map_err(|_| format!("invalid IPv4 address in CIDR \"{text}\""))?;
        let prefix: u8 = len
            .parse()
            .map_err(|_| format!("invalid prefix length in CIDR \"{text}\""))?;
        if prefix > 32 {
            return Err(format!(
                "prefix length in CIDR \"{text}\" is larger than 32"
            ));
        }
        let mask = Self::mask(prefix);
        Ok(Ipv4Cidr {
            base: u32::from(ip) & mask,
            prefix,
        })
    }
    fn mask(prefix: u8) -> u32 {
        if prefix == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(prefix))
        }
    }
    /// Number of addresses in the range (network and broadcast included).
    pub fn size(self) -> u64 {
        1u64 << (32 - u32::from(self.prefix))
    }
    pub fn contains(self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & Self::mask(self.prefix) == self.base
    }
    /// Offset of `ip` within the range.
    pub fn offset_of(self, ip: Ipv4Addr) -> Option<u64> {
        self.contains(ip)
            .then(|| u64::from(u32::from(ip) - self.base))
    }
    /// The address at `offset` (no bounds check beyond wrapping into the range).
    pub fn nth(self, offset: u64) -> Ipv4Addr {
        Ipv4Addr::from(self.base.wrapping_add((offset % self.size()) as u32))
    }
    /// Offsets usable for allocation: all but the network and broadcast addresses (for ranges
    /// of at least 4 addresses, as the Kubernetes allocator does).
    pub fn usable(self) -> std::ops::Range<u64> {
        if self.size() >= 4 {
            1..self.size() - 1
        } else {
            0..self.size()
        }
    }
}

impl fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", Ipv4Addr::from(self.base), self.prefix)
    }
}

/// Stateless Service spec checks (run after defaulting, on create and update).
pub fn service_errors(svc: &Service) -> Vec<String> {
    let mut out = vec![];
    let spec = &svc.spec;
    let headless = svc.is_headless();
    if headless && spec.type_ != ServiceType::ClusterIP {
        out.push(format!(
            "spec.clusterIPs[0]: Invalid value: \"None\": may not be set to 'None' for {} services",
            spec.type_.as_str()
        ));
    }
    if !headless && !spec.cluster_ip.is_empty() && spec.cluster_ip.parse::<IpAddr>().is_err() {
        out.push(format!(
            "spec.clusterIPs[0]: Invalid value: \"{}\": must be a valid IP address",
            spec.cluster_ip
        ));
    }
    if let Some(first) = spec.cluster_ips.first()
        && !spec.cluster_ip.is_empty()
        && *first != spec.cluster_ip
    {
        out.push(format!(
            "spec.clusterIPs[0]: Invalid value: \"{first}\": must match `spec.clusterIP` \"{}\"",
            spec.cluster_ip
        ));
    }
    if spec.cluster_ips.len() > 2 {
        out.push("spec.clusterIPs: Invalid value: may specify no more than two IPs".to_string());
    }
    if spec.type_ == ServiceType::ExternalName {
        if spec.external_name.is_empty() {
            out.push("spec.externalName: Required value".to_string());
        }
    } else if spec.ports.is_empty() && !headless {
        out.push("spec.ports: Required value".to_string());
    }
    let mut names = BTreeSet::new();
    let mut pairs = BTreeSet::new();
    for (i, p) in spec.ports.iter().enumerate() {
        if spec.ports.len() > 1 && p.name.is_empty() {
            out.push(format!("spec.ports[{i}].name: Required value"));
        }
        if !p.name.is_empty() {
            if !is_dns1123_label(&p.name) {
                out.push(format!(
                    "spec.ports[{i}].name: Invalid value: \"{}\": {LABEL_MSG}",
                    p.name
                ));
            }
            if !names.insert(p.name.as_str()) {
                out.push(format!(
                    "spec.ports[{i}].name: Duplicate value: \"{}\"",
                    p.name
                ));
            }
        }
        if !(1..=65535).contains(&p.port) {
            out.push(format!(
                "spec.ports[{i}].port: Invalid value: {}: must be between 1 and 65535, inclusive",
                p.port
            ));
        }
        if !pairs.insert((p.port, p.protocol)) {
            out.push(format!(
                "spec.ports[{i}]: Duplicate value: \"{}/{}\"",
                p.port,
                p.protocol.as_str()
            ));
        }
        match &p.target_port {
            Some(IntOrString::Int(t)) if !(1..=65535).contains(t) => out.push(format!(
                "spec.ports[{i}].targetPort: Invalid value: {t}: must be between 1 and 65535, inclusive"
            )),
            Some(IntOrString::String(s)) if !is_iana_svc_name(s) => out.push(format!(
                "spec.ports[{i}].targetPort: Invalid value: \"{s}\": must contain only lowercase alphanumerics and '-', at least one letter, at most 15 characters"
            )),
            _ => {}
        }
        if let Some(np) = p.node_port {
            if spec.type_ == ServiceType::ClusterIP {
                out.push(format!("spec.ports[{i}].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"));
            } else if !(1..=65535).contains(&np) {
                out.push(format!(
                    "spec.ports[{i}].nodePort: Invalid value: {np}: must be between 1 and 65535, inclusive"
                ));
            }
        }
    }
    out.extend(label_errors(&spec.selector, "spec.selector"));
    out
}

fn ip_errors(ip: &str, path: &str) -> Option<String> {
    ip.parse::<IpAddr>()
        .is_err()
        .then(|| format!("{path}: Invalid value: \"{ip}\": must be a valid IP address"))
}

/// Endpoints: valid IPs, port ranges, port names unique (and present when several).
pub fn endpoints_errors(obj: &super::objects::Endpoints) -> Vec<String> {
    let mut out = vec![];
    for (i, s) in obj.subsets.iter().enumerate() {
        for (field, list) in [
            ("addresses", &s.addresses),
            ("notReadyAddresses", &s.not_ready_addresses),
        ] {
            for (j, a) in list.iter().enumerate() {
                out.extend(ip_errors(&a.ip, &format!("subsets[{i}].{field}[{j}].ip")));
            }
        }
        let mut names = BTreeSet::new();
        for (j, p) in s.ports.iter().enumerate() {
            if !(1..=65535).contains(&p.port) {
                out.push(format!(
                    "subsets[{i}].ports[{j}].port: Invalid value: {}: must be between 1 and 65535, inclusive",
                    p.port
                ));
            }
            if s.ports.len() > 1 && p.name.is_empty() {
                out.push(format!("subsets[{i}].ports[{j}].name: Required value"));
            }
            if !p.name.is_empty() && !names.insert(p.name.as_str()) {
                out.push(format!(
                    "subsets[{i}].ports[{j}].name: Duplicate value: \"{}\"",
                    p.name
                ));
            }
        }
    }
    out
}

/// EndpointSlice: at most 1000 endpoints of 1..=100 addresses each, valid IPs for IP slices,
/// at most 100 ports.
pub fn endpoint_slice_errors(obj: &super::objects::EndpointSlice) -> Vec<String> {
    use super::objects::AddressType;
    let mut out = vec![];
    if obj.endpoints.len() > 1000 {
        out.push(format!(
            "endpoints: Too many: {}: must have at most 1000 items",
            obj.endpoints.len()
        ));
    }
    if obj.ports.len() > 100 {
        out.push(format!(
            "ports: Too many: {}: must have at most 100 items",
            obj.ports.len()
        ));
    }
    for (i, e) in obj.endpoints.iter().enumerate() {
        if e.addresses.is_empty() || e.addresses.len() > 100 {
            out.push(format!(
                "endpoints[{i}].addresses: Required value: must contain between 1 and 100 addresses"
            ));
        }
        if obj.address_type != AddressType::Fqdn {
            for (j, a) in e.addresses.iter().enumerate() {
                out.extend(ip_errors(a, &format!("endpoints[{i}].addresses[{j}]")));
            }
        }
    }
    for (i, p) in obj.ports.iter().enumerate() {
        if !(1..=65535).contains(&p.port) {
            out.push(format!(
                "ports[{i}].port: Invalid value: {}: must be between 1 and 65535, inclusive",
                p.port
            ));
        }
    }
    out
}

/// StatefulSet/Deployment: a non-empty valid selector that matches the template's labels.
pub fn workload_errors(
    replicas: i32,
    selector: &super::selector::LabelSelector,
    template_labels: &std::collections::BTreeMap<String, String>,
) -> Vec<String> {
    let mut out = vec![];
    if replicas < 0 {
        out.push(format!(
            "spec.replicas: Invalid value: {replicas}: must be greater than or equal to 0"
        ));
    }
    if selector.is_empty() {
        out.push(
            "spec.selector: Invalid value: \"null\": empty selector is invalid for deployment"
                .to_string(),
        );
    } else if let Err(e) = selector.validate() {
        out.push(format!("spec.selector.{e}"));
    } else if !selector.matches(template_labels) {
        out.push(format!(
            "spec.template.metadata.labels: Invalid value: {:?}: `selector` does not match template `labels`",
            template_labels
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::k8s::objects::ServicePort;

    #[test]
    fn dns_name_rules() {
        assert!(is_dns1123_label("web-0"));
        assert!(is_dns1123_label("0abc"));
        assert!(!is_dns1123_label("Web"));
        assert!(!is_dns1123_label("-a"));
        assert!(!is_dns1123_label(&"a".repeat(64)));
        assert!(is_dns1035_label("web"));
        assert!(!is_dns1035_label("0web"));
        assert!(is_dns1123_subdomain("a.b-c.d"));
        assert!(!is_dns1123_subdomain("a..b"));
        assert!(!is_dns1123_subdomain(""));
        assert!(is_iana_svc_name("http"));
        assert!(!is_iana_svc_name("8080"));
        assert!(!is_iana_svc_name("a--b"));
    }

    #[test]
    fn cidr_arithmetic() {
        let c = Ipv4Cidr::parse("10.96.0.0/16").unwrap();
        assert_eq!(c.size(), 65_536);
        assert!(c.contains("10.96.255.1".parse().unwrap()));
        assert!(!c.contains("10.97.0.1".parse().unwrap()));
        assert_eq!(c.nth(1).to_string(), "10.96.0.1");
        assert_eq!(c.usable(), 1..65_535);
        assert_eq!(c.to_string(), "10.96.0.0/16");
        assert_eq!(
            Ipv4Cidr::parse("10.0.0.7/30").unwrap().to_string(),
            "10.0.0.4/30"
        );
        assert!(Ipv4Cidr::parse("10.0.0.0").is_err());
        assert!(Ipv4Cidr::parse("10.0.0.0/33").is_err());
        assert!(Ipv4Cidr::parse("x/8").is_err());
    }

    #[test]
    fn service_port_rules() {
        let mut svc = Service::new("default", "web");
        svc.spec.ports = vec![
            ServicePort::tcp("http", 80),
            ServicePort::tcp("", 81),
            ServicePort::tcp("http", 80),
        ];
        let errs = service_errors(&svc);
        assert!(
            errs.contains(&"spec.ports[1].name: Required value".to_string()),
            "{errs:?}"
        );
        assert!(
            errs.contains(&"spec.ports[2].name: Duplicate value: \"http\"".to_string()),
            "{errs:?}"
        );
        assert!(
            errs.contains(&"spec.ports[2]: Duplicate value: \"80/TCP\"".to_string()),
            "{errs:?}"
        );
        svc.spec.ports = vec![];
        assert_eq!(service_errors(&svc), ["spec.ports: Required value"]);
        svc.spec.cluster_ip = "None".into();
        assert!(service_errors(&svc).is_empty());
        svc.spec.type_ = ServiceType::NodePort;
        assert!(service_errors(&svc)[0].contains("may not be set to 'None' for NodePort services"));
    }
}
