//! `[[traffic]]` and `[[action]]`: the client load and the scripted workload changes (a
//! `[[link]] at` becomes a `link` action at that time).

use super::{Names, Validator};
use crate::defaults;
use crate::scenario::model::*;
use crate::scenario::schema;
use crate::sim::SimDuration;
use toml::Spanned;

impl Validator<'_> {
    pub(super) fn traffic(
        &mut self,
        raw: &[Spanned<schema::Traffic>],
        names: &Names,
        duration: SimDuration,
    ) -> Vec<TrafficSpec> {
        let cluster_names = &names.clusters;
        let mut traffic = Vec::new();
        for t in raw {
            let t = t.get_ref();
            let from = self.cluster_ref(&t.from, cluster_names);
            let (host, port) = match t.to.get_ref().rsplit_once(':') {
                Some((h, p)) if !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p > 0) => {
                    (h.to_ascii_lowercase(), p.parse().unwrap_or(80))
                }
                _ => {
                    self.error(&t.to, format!("expected `host:port` such as \"web-east.default.svc.cluster.local:80\", found \"{}\"", t.to.get_ref()));
                    (String::new(), 0)
                }
            };
            let interval = match t.rate.interval() {
                Some(i) => i,
                None => {
                    self.error(&t.to, "traffic rate must be greater than zero");
                    SimDuration::from_secs(1)
                }
            };
            traffic.push(TrafficSpec {
                from,
                namespace: t
                    .namespace
                    .clone()
                    .unwrap_or_else(|| defaults::NAMESPACE.into()),
                service_account: t
                    .service_account
                    .clone()
                    .unwrap_or_else(|| defaults::TRAFFIC_SERVICE_ACCOUNT.into()),
                host,
                port,
                interval,
                start: t.start.as_ref().map_or(SimDuration::ZERO, |d| {
                    self.before_end(d, duration, "the traffic's `start`");
                    d.get_ref().0
                }),
                stop: t.stop.map(|d| d.0),
                timeout: t.timeout.map(|d| d.0).unwrap_or(defaults::TRAFFIC_TIMEOUT),
            });
        }
        traffic
    }

    pub(super) fn actions(
        &mut self,
        raw: &[Spanned<schema::Action>],
        names: &Names,
        links: &[LinkSpec],
        duration: SimDuration,
    ) -> Vec<ActionSpec> {
        let cluster_names = &names.clusters;
        let mut actions = Vec::new();
        for a in raw {
            let span = a.span();
            let a = a.get_ref();
            self.before_end(&a.at, duration, "the action's `at`");
            let cluster = self.cluster_ref(&a.cluster, cluster_names);
            let mut kinds = Vec::new();
            if let Some(s) = &a.scale {
                kinds.push(ActionKind::Scale {
                    workload: s.workload.clone(),
                    replicas: s.replicas,
                });
            }
            if let Some(s) = &a.export {
                kinds.push(ActionKind::Export { service: s.clone() });
            }
            if let Some(s) = &a.unexport {
                kinds.push(ActionKind::Unexport { service: s.clone() });
            }
            if let Some(s) = &a.delete_service {
                kinds.push(ActionKind::DeleteService { service: s.clone() });
            }
            if let Some(s) = &a.delete_link {
                kinds.push(ActionKind::DeleteLink { link: s.clone() });
            }
            if let Some(s) = &a.unlink {
                kinds.push(ActionKind::Unlink { link: s.clone() });
            }
            if let Some(s) = &a.link {
                if !links.iter().any(|l| l.name == *s && l.from == cluster) {
                    self.diags.push(self.map.at(
                        Some(span.clone()),
                        format!("expected `link` to name a [[link]] from cluster \"{cluster}\", found \"{s}\""),
                    ));
                }
                kinds.push(ActionKind::Link { link: s.clone() });
            }
            if let Some(c) = &a.link_selector {
                if let Err(e) = crate::k8s::LabelSelector::parse(c.selector.get_ref()) {
                    self.error(&c.selector, format!("expected a label selector: {e}"));
                }
                kinds.push(ActionKind::LinkSelector {
                    link: c.link.clone(),
                    selector: c.selector.get_ref().clone(),
                });
            }
            if let Some(s) = &a.create_namespace {
                kinds.push(ActionKind::CreateNamespace { name: s.clone() });
            }
            if let Some(l) = &a.label {
                kinds.push(ActionKind::Label {
                    service: l.service.clone(),
                    key: l.key.clone(),
                    value: l.value.clone(),
                });
            }
            if let Some(l) = &a.annotate {
                kinds.push(ActionKind::Annotate {
                    service: l.service.clone(),
                    key: l.key.clone(),
                    value: l.value.clone(),
                });
            }
            if let Some(path) = &a.apply {
                kinds.push(self.apply(path, a.namespace.as_deref()));
            }
            if kinds.len() != 1 {
                self.diags.push(self.map.at(
                    Some(span),
                    format!(
                        "expected exactly one action kind (scale, export, unexport, delete_service, delete_link, unlink, link, link_selector, create_namespace, label, annotate, apply), found {}",
                        kinds.len()
                    ),
                ));
                continue;
            }
            actions.push(ActionSpec {
                at: a.at.get_ref().0,
                cluster,
                namespace: a
                    .namespace
                    .clone()
                    .unwrap_or_else(|| defaults::NAMESPACE.into()),
                kind: kinds.remove(0),
            });
        }
        // A link made after the start is a `link` action at that time.
        for l in links.iter().filter(|l| !l.at.is_zero()) {
            actions.push(ActionSpec {
                at: l.at,
                cluster: l.from.clone(),
                namespace: defaults::NAMESPACE.into(),
                kind: ActionKind::Link {
                    link: l.name.clone(),
                },
            });
        }
        actions.sort_by_key(|a| a.at);
        actions
    }

    /// An `apply` action: its file read and checked now, as `kubectl apply` would check it
    /// against a server with the built-in kinds (and the Link CRD).
    fn apply(&mut self, at: &Spanned<String>, namespace: Option<&str>) -> ActionKind {
        let path = std::path::Path::new(self.map.file)
            .parent()
            .unwrap_or(std::path::Path::new(""))
            .join(at.get_ref());
        let target = match namespace {
            Some(n) => crate::k8s::manifest::ApplyTarget {
                namespace: n.to_string(),
                explicit: true,
            },
            None => crate::k8s::manifest::ApplyTarget::default(),
        };
        let mut discovery = crate::k8s::discovery::Discovery::new();
        let objects = self.manifest_objects(at, &path, &mut discovery, &target);
        ActionKind::Apply {
            path,
            explicit_namespace: namespace.is_some(),
            objects,
        }
    }
}
