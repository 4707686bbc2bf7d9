//! A CoreDNS `kubernetes` plugin model (kubernetes/dns `docs/specification.md`, spec §B.10),
//! answering from a view of Services and EndpointSlices — in the simulation the caches of its own
//! informers, so it answers from possibly stale state, as the real one does.
//!
//! Owns: name parsing and the record rules. Inputs: a query name and type, plus an
//! [`ObjectView`] holding Services and EndpointSlices. Outputs: [`DnsResponse`] (records + TTL,
//! or NXDOMAIN). Must not touch: Endpoints (DNS reads EndpointSlices only; selector-less Services
//! become visible through the mirroring controller), the API server.
//!
//! Rules: `<svc>.<ns>.svc.<zone>` A → the ClusterIP; for a headless Service one A per ready
//! endpoint (NXDOMAIN when none is ready); `<host>.<svc>.<ns>.svc.<zone>` → the ready endpoint
//! whose hostname is `<host>` (or, without a hostname, whose dashed IP `1-2-3-4` is); SRV
//! `_<port>._<proto>.<svc>.<ns>.svc.<zone>` for named ports (headless: one per ready endpoint,
//! targeting its per-endpoint name); ExternalName → CNAME. Names compare case-insensitively;
//! endpoints count as ready when `ready` is true or unset, or when the Service publishes
//! not-ready addresses. Slices are found by name prefix `<svc>-` (how both slice controllers name
//! them) and then by the `kubernetes.io/service-name` label.

use super::objects::{EndpointSlice, Kind, LABEL_SERVICE_NAME, Protocol, Service, ServiceType};
use super::store::ObjectView;
use crate::sim::SimDuration;
use serde::Serialize;
use std::collections::BTreeSet;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnsConfig {
    pub cluster_domain: String,
    pub ttl: SimDuration,
}

impl Default for DnsConfig {
    fn default() -> Self {
        DnsConfig {
            cluster_domain: crate::defaults::CLUSTER_DOMAIN.to_string(),
            ttl: SimDuration::from_secs(5),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum QueryType {
    A,
    #[serde(rename = "SRV")]
    Srv,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(tag = "type")]
pub enum DnsRecord {
    A {
        name: String,
        ip: String,
    },
    #[serde(rename = "SRV")]
    Srv {
        name: String,
        priority: u16,
        weight: u16,
        port: u16,
        target: String,
    },
    #[serde(rename = "CNAME")]
    Cname {
        name: String,
        target: String,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DnsAnswer {
    /// Empty for a name that exists without records of the asked type (NODATA).
    pub records: Vec<DnsRecord>,
    #[serde(serialize_with = "display")]
    pub ttl: SimDuration,
}

fn display<S: serde::Serializer>(d: &SimDuration, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(d)
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum DnsResponse {
    Answer(DnsAnswer),
    NxDomain,
}

impl DnsResponse {
    /// The A record addresses, sorted (empty for NXDOMAIN).
    pub fn ips(&self) -> Vec<String> {
        match self {
            DnsResponse::Answer(a) => a
                .records
                .iter()
                .filter_map(|r| match r {
                    DnsRecord::A { ip, .. } => Some(ip.clone()),
                    _ => None,
                })
                .collect(),
            DnsResponse::NxDomain => vec![],
        }
    }
    pub fn is_nxdomain(&self) -> bool {
        matches!(self, DnsResponse::NxDomain)
    }
}

/// A ready endpoint of a headless Service, with its DNS label.
struct ReadyEndpoint {
    label: String,
    ip: String,
    /// (port name, protocol, port) of the slice it came from.
    ports: Vec<(String, Protocol, i32)>,
}

#[derive(Clone, Debug)]
pub struct Dns {
    config: DnsConfig,
}

impl Dns {
    pub fn new(config: DnsConfig) -> Dns {
        Dns { config }
    }
    pub fn config(&self) -> &DnsConfig {
        &self.config
    }

    fn answer(&self, records: Vec<DnsRecord>) -> DnsResponse {
        DnsResponse::Answer(DnsAnswer {
            records,
            ttl: self.config.ttl,
        })
    }

    /// Answers one query.
    pub fn resolve(&self, view: &dyn ObjectView, name: &str, qtype: QueryType) -> DnsResponse {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        let suffix = format!(".svc.{}", self.config.cluster_domain.to_ascii_lowercase());
        let Some(rest) = name.strip_suffix(&suffix) else {
            return DnsResponse::NxDomain;
        };
        let labels: Vec<&str> = rest.split('.').collect();
        match labels.as_slice() {
            [svc, ns] => self.service(view, svc, ns, qtype),
            [port, proto, svc, ns] if port.starts_with('_') && proto.starts_with('_') => {
                self.srv(view, &port[1..], &proto[1..], svc, ns, qtype)
            }
            [host, svc, ns] => self.endpoint(view, host, svc, ns, qtype),
            _ => DnsResponse::NxDomain,
        }
    }

    fn fqdn(&self, parts: &[&str]) -> String {
        format!(
            "{}.svc.{}",
            parts.join("."),
            self.config.cluster_domain.to_ascii_lowercase()
        )
    }

    fn find_service<'a>(view: &'a dyn ObjectView, ns: &str, svc: &str) -> Option<&'a Service> {
        view.get_by(Kind::Service, ns, svc)
            .and_then(|o| o.as_service())
    }

    fn ready_endpoints(view: &dyn ObjectView, svc: &Service) -> Vec<ReadyEndpoint> {
        let ns = &svc.metadata.namespace;
        let name = &svc.metadata.name;
        let mut seen = BTreeSet::new();
        let mut out = vec![];
        let slices: Vec<&EndpointSlice> = view
            .list_prefix(Kind::EndpointSlice, ns, &format!("{name}-"))
            .into_iter()
            .filter_map(|o| o.as_endpoint_slice())
            .filter(|s| s.metadata.labels.get(LABEL_SERVICE_NAME) == Some(name))
            .collect();
        for slice in slices {
            let ports: Vec<(String, Protocol, i32)> = slice
                .ports
                .iter()
                .map(|p| (p.name.clone(), p.protocol, p.port))
                .collect();
            for ep in &slice.endpoints {
                if !(ep.is_ready() || svc.spec.publish_not_ready_addresses) {
                    continue;
                }
                for ip in &ep.addresses {
                    let label = ep
                        .hostname
                        .clone()
                        .unwrap_or_else(|| ip.replace(['.', ':'], "-"))
                        .to_ascii_lowercase();
                    if seen.insert((label.clone(), ip.clone())) {
                        out.push(ReadyEndpoint {
                            label,
                            ip: ip.clone(),
                            ports: ports.clone(),
                        });
                    }
                }
            }
        }
        out.sort_by(|a, b| (&a.label, &a.ip).cmp(&(&b.label, &b.ip)));
        out
    }

    fn service(
        &self,
        view: &dyn ObjectView,
        svc_name: &str,
        ns: &str,
        qtype: QueryType,
    ) -> DnsResponse {
        let Some(svc) = Self::find_service(view, ns, svc_name) else {
            return DnsResponse::NxDomain;
        };
        let fqdn = self.fqdn(&[svc_name, ns]);
        if svc.spec.type_ == ServiceType::ExternalName {
            return self.answer(vec![DnsRecord::Cname {
                name: fqdn,
                target: svc.spec.external_name.to_ascii_lowercase(),
            }]);
        }
        if !svc.is_headless() {
            return match qtype {
                QueryType::A => self.answer(vec![DnsRecord::A {
                    name: fqdn,
                    ip: svc.spec.cluster_ip.clone(),
                }]),
                QueryType::Srv => self.answer(vec![]),
            };
        }
        let eps = Self::ready_endpoints(view, svc);
        if eps.is_empty() {
            return DnsResponse::NxDomain;
        }
        match qtype {
            QueryType::A => {
                let ips: BTreeSet<&String> = eps.iter().map(|e| &e.ip).collect();
                self.answer(
                    ips.into_iter()
                        .map(|ip| DnsRecord::A {
                            name: fqdn.clone(),
                            ip: ip.clone(),
                        })
                        .collect(),
                )
            }
            QueryType::Srv => self.answer(vec![]),
        }
    }

    fn endpoint(
        &self,
        view: &dyn ObjectView,
        host: &str,
        svc_name: &str,
        ns: &str,
        qtype: QueryType,
    ) -> DnsResponse {
        let Some(svc) = Self::find_service(view, ns, svc_name) else {
            return DnsResponse::NxDomain;
        };
        if !svc.is_headless() {
            return DnsResponse::NxDomain;
        }
        let fqdn = self.fqdn(&[host, svc_name, ns]);
        let ips: BTreeSet<String> = Self::ready_endpoints(view, svc)
            .into_iter()
            .filter(|e| e.label == host)
            .map(|e| e.ip)
            .collect();
        if ips.is_empty() {
            return DnsResponse::NxDomain;
        }
        match qtype {
            QueryType::A => self.answer(
                ips.into_iter()
                    .map(|ip| DnsRecord::A {
                        name: fqdn.clone(),
                        ip,
                    })
                    .collect(),
            ),
            QueryType::Srv => self.answer(vec![]),
        }
    }

    fn srv(
        &self,
        view: &dyn ObjectView,
        port: &str,
        proto: &str,
        svc_name: &str,
        ns: &str,
        qtype: QueryType,
    ) -> DnsResponse {
        let Some(svc) = Self::find_service(view, ns, svc_name) else {
            return DnsResponse::NxDomain;
        };
        let protocol = match proto {
            "tcp" => Protocol::Tcp,
            "udp" => Protocol::Udp,
            "sctp" => Protocol::Sctp,
            _ => return DnsResponse::NxDomain,
        };
        let Some(sp) = svc.spec.ports.iter().find(|p| {
            !p.name.is_empty() && p.name.eq_ignore_ascii_case(port) && p.protocol == protocol
        }) else {
            return DnsResponse::NxDomain;
        };
        let name = self.fqdn(&[&format!("_{port}"), &format!("_{proto}"), svc_name, ns]);
        if qtype == QueryType::A {
            return self.answer(vec![]);
        }
        if !svc.is_headless() {
            let port = u16::try_from(sp.port).unwrap_or(0);
            return self.answer(vec![DnsRecord::Srv {
                name,
                priority: 0,
                weight: 100,
                port,
                target: self.fqdn(&[svc_name, ns]),
            }]);
        }
        let eps = Self::ready_endpoints(view, svc);
        // CoreDNS spreads a weight of 100 over the records of one priority.
        let weight = u16::try_from(100 / eps.len().max(1)).unwrap_or(100);
        let records: Vec<DnsRecord> = eps
            .into_iter()
            .filter_map(|e| {
                let p = e
                    .ports
                    .iter()
                    .find(|(n, pr, _)| n.eq_ignore_ascii_case(&sp.name) && *pr == protocol)?;
                Some(DnsRecord::Srv {
                    name: name.clone(),
                    priority: 0,
                    weight,
                    port: u16::try_from(p.2).unwrap_or(0),
                    target: self.fqdn(&[&e.label, svc_name, ns]),
                })
            })
            .collect();
        if records.is_empty() {
            DnsResponse::NxDomain
        } else {
            self.answer(records)
        }
    }
}
