//! `[[fault]]`: one kind per fault, every name resolved.

use super::{Names, Validator};
use crate::defaults;
use crate::scenario::fault::*;
use crate::scenario::model::*;
use crate::scenario::schema;
use crate::sim::{Ratio, SimDuration};
use std::collections::BTreeSet;
use toml::Spanned;

impl Validator<'_> {
    pub(super) fn faults(
        &mut self,
        raw: &[Spanned<schema::Fault>],
        names: &Names,
        links: &[LinkSpec],
        duration: SimDuration,
    ) -> Vec<FaultSpec> {
        let (cluster_names, networks) = (&names.clusters, &names.networks);
        let mut faults = Vec::new();
        for f in raw {
            self.before_end(&f.get_ref().at, duration, "the fault's `at`");
            if let Some(kind) = self.fault_kind(f, cluster_names, networks, links) {
                faults.push(FaultSpec {
                    at: f.get_ref().at.get_ref().0,
                    duration: f.get_ref().duration.map(|d| d.0),
                    kind,
                });
            }
        }
        faults.sort_by_key(|f| f.at);
        faults
    }

    fn fault_kind(
        &mut self,
        f: &Spanned<schema::Fault>,
        clusters: &BTreeSet<String>,
        networks: &BTreeSet<String>,
        links: &[LinkSpec],
    ) -> Option<FaultKind> {
        let span = f.span();
        let f = f.get_ref();
        let mut kinds: Vec<FaultKind> = Vec::new();
        if let Some(p) = &f.partition {
            kinds.push(self.partition(p, f, &span, clusters, networks));
        } else if f.one_way.is_some() || f.mode.is_some() {
            self.diags.push(self.map.at(
                Some(span.clone()),
                "`one_way` and `mode` only apply to a `partition` fault",
            ));
        }
        if let Some(c) = &f.cluster_down {
            kinds.push(FaultKind::ClusterDown(self.cluster_ref(c, clusters)));
        }
        if let Some(c) = &f.api_server_down {
            kinds.push(FaultKind::ApiServerDown(self.cluster_ref(c, clusters)));
        }
        if let Some(c) = &f.gateway_down {
            kinds.push(FaultKind::GatewayDown(self.cluster_ref(c, clusters)));
        }
        if let Some(c) = &f.controller_crash {
            let cluster = self.cluster_ref(&c.cluster, clusters);
            if !links
                .iter()
                .any(|l| l.from == cluster && &l.name == c.link.get_ref())
            {
                self.error(
                    &c.link,
                    format!(
                        "cluster \"{cluster}\" has no link named \"{}\"",
                        c.link.get_ref()
                    ),
                );
            }
            kinds.push(FaultKind::ControllerCrash {
                cluster,
                link: c.link.get_ref().clone(),
            });
        }
        if let Some(p) = &f.pod_kill {
            kinds.push(FaultKind::PodKill {
                cluster: self.cluster_ref(&p.cluster, clusters),
                namespace: p
                    .namespace
                    .clone()
                    .unwrap_or_else(|| defaults::NAMESPACE.into()),
                pod: p.pod.clone(),
            });
        }
        if let Some(c) = &f.dns_failure {
            kinds.push(FaultKind::DnsFailure(self.cluster_ref(c, clusters)));
        }
        if let Some(s) = &f.clock_skew {
            kinds.push(FaultKind::ClockSkew {
                cluster: self.cluster_ref(&s.cluster, clusters),
                by_ns: s.by.0,
            });
        }
        if let Some(c) = &f.compact {
            kinds.push(FaultKind::Compact(self.cluster_ref(c, clusters)));
        }
        if let Some(c) = &f.cert_expiry {
            kinds.push(FaultKind::CertExpiry(self.cluster_ref(c, clusters)));
        }
        if let Some(c) = &f.rotate_certs {
            kinds.push(FaultKind::RotateCerts(self.cluster_ref(c, clusters)));
        }
        if let Some(t) = &f.trust_anchor {
            kinds.push(FaultKind::TrustAnchor {
                cluster: self.cluster_ref(&t.cluster, clusters),
                anchor: t.anchor.clone(),
            });
        }
        if let Some(s) = &f.slow_path {
            let at = Spanned::new(span.clone(), String::new());
            let (a, b) = self.pair(&s.between, &at, clusters, networks);
            kinds.push(FaultKind::SlowPath {
                a,
                b,
                latency: s.latency.0,
            });
        }
        if let Some(l) = &f.lossy_path {
            let at = Spanned::new(span.clone(), String::new());
            let (a, b) = self.pair(&l.between, &at, clusters, networks);
            kinds.push(FaultKind::LossyPath {
                a,
                b,
                loss: l.loss.map(|p| p.0).unwrap_or(Ratio::ZERO),
                duplicate: l.duplicate.map(|p| p.0).unwrap_or(Ratio::ZERO),
                reorder: l.reorder.map(|p| p.0).unwrap_or(Ratio::ZERO),
            });
        }
        if kinds.len() != 1 {
            self.diags.push(self.map.at(
                Some(span),
                format!(
                    "expected exactly one fault kind ({}), found {}",
                    FaultTag::names(),
                    kinds.len()
                ),
            ));
            return None;
        }
        kinds.pop()
    }

    /// A `partition` fault: at least two groups of clusters or networks, none named twice,
    /// mode `drop` (default) or `reject`.
    fn partition(
        &mut self,
        p: &Spanned<Vec<Vec<schema::Name>>>,
        f: &schema::Fault,
        span: &std::ops::Range<usize>,
        clusters: &BTreeSet<String>,
        networks: &BTreeSet<String>,
    ) -> FaultKind {
        let mut groups = Vec::new();
        for g in p.get_ref() {
            if g.is_empty() {
                self.error(
                    p,
                    "expected each partition group to name at least one cluster or network",
                );
            }
            groups.push(
                g.iter()
                    .map(|n| self.endpoint_ref(n, clusters, networks))
                    .collect::<Vec<_>>(),
            );
        }
        if groups.len() < 2 {
            self.error(
                p,
                "expected a partition of at least two groups, e.g. [[\"west\"], [\"east\"]]",
            );
        }
        let mut seen = BTreeSet::new();
        for name in groups.iter().flatten() {
            if !seen.insert(name.clone()) {
                self.error(
                    p,
                    format!("\"{name}\" appears in more than one partition group"),
                );
            }
        }
        let mode = match f.mode.as_ref().map(|m| m.get_ref().as_str()) {
            None | Some("drop") => PartitionMode::Drop,
            Some("reject") => PartitionMode::Reject,
            Some(other) => {
                let m = f
                    .mode
                    .as_ref()
                    .map(|m| Spanned::new(m.span(), ()))
                    .unwrap_or_else(|| Spanned::new(span.clone(), ()));
                self.error(
                    &m,
                    format!("expected partition mode \"drop\" or \"reject\", found \"{other}\""),
                );
                PartitionMode::Drop
            }
        };
        FaultKind::Partition {
            groups,
            one_way: f.one_way.unwrap_or(false),
            mode,
        }
    }
}
