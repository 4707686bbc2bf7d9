//! `[[link]]`: a Linkerd Link between two declared clusters, with link-gen's defaults.

use super::{Names, Validator};
use crate::defaults;
use crate::scenario::model::*;
use crate::scenario::schema;
use crate::sim::SimDuration;
use std::collections::BTreeSet;
use toml::Spanned;

impl Validator<'_> {
    pub(super) fn links(
        &mut self,
        raw: &[Spanned<schema::Link>],
        names: &Names,
        clusters: &[ClusterSpec],
        duration: SimDuration,
    ) -> Vec<LinkSpec> {
        let cluster_names = &names.clusters;
        let mut links = Vec::new();
        let mut link_keys = BTreeSet::new();
        for l in raw {
            let l = l.get_ref();
            let from = self.cluster_ref(&l.from, cluster_names);
            let to = self.cluster_ref(&l.to, cluster_names);
            if from == to {
                self.error(
                    &l.to,
                    format!(
                        "a link goes from one cluster to another, found \"{from}\" on both ends"
                    ),
                );
            }
            let name_at = l.name.as_ref().unwrap_or(&l.to);
            let name = self.label(name_at, "link");
            self.unique(
                &mut link_keys,
                format!("{from}/{name}"),
                name_at,
                &format!("link in cluster \"{from}\""),
            );
            let gateway = l.gateway.unwrap_or(true);
            if gateway
                && let Some(target) = clusters.iter().find(|c| c.name == to)
                && !target.gateway
            {
                self.error(&l.to, format!("link to \"{to}\" uses a gateway, but cluster \"{to}\" has `gateway = false`"));
            }
            let probe = l.probe.as_ref();
            links.push(LinkSpec {
                name,
                from,
                to,
                headless: l.headless.unwrap_or(false),
                namespace_creation: l.namespace_creation.unwrap_or(false),
                gateway,
                requeue_limit: l.requeue_limit.unwrap_or(defaults::REQUEUE_LIMIT),
                selector: if gateway {
                    Some(
                        l.selector
                            .as_ref()
                            .map(|s| s.get_ref().clone())
                            .unwrap_or_else(|| defaults::EXPORT_SELECTOR.into()),
                    )
                } else {
                    l.selector.as_ref().map(|s| s.get_ref().clone())
                },
                remote_discovery_selector: Some(
                    l.remote_discovery_selector
                        .as_ref()
                        .map(|s| s.get_ref().clone())
                        .unwrap_or_else(|| defaults::REMOTE_DISCOVERY_SELECTOR.into()),
                ),
                federated_selector: Some(
                    l.federated_selector
                        .as_ref()
                        .map(|s| s.get_ref().clone())
                        .unwrap_or_else(|| {
                            let (key, value) = defaults::FEDERATED_MEMBER;
                            format!("{key}={value}")
                        }),
                ),
                excluded_labels: l.excluded_labels.clone(),
                excluded_annotations: l.excluded_annotations.clone(),
                probe: ProbeSpec {
                    path: if gateway {
                        probe
                            .and_then(|p| p.path.clone())
                            .unwrap_or_else(|| defaults::PROBE_PATH.into())
                    } else {
                        String::new()
                    },
                    period: probe
                        .and_then(|p| p.period)
                        .map(|d| d.0)
                        .unwrap_or(defaults::PROBE_PERIOD),
                    timeout: probe
                        .and_then(|p| p.timeout)
                        .map(|d| d.0)
                        .unwrap_or(defaults::PROBE_TIMEOUT),
                    failure_threshold: (probe.and_then(|p| p.failure_threshold))
                        .unwrap_or(defaults::PROBE_FAILURE_THRESHOLD),
                },
                at: l.at.as_ref().map_or(SimDuration::ZERO, |d| {
                    self.before_end(d, duration, "the link's `at`");
                    d.get_ref().0
                }),
                credentials: l.credentials.unwrap_or(true),
            });
        }
        links
    }
}
