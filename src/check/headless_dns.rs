//! Headless DNS correctness (the seed's "Headless services" section): for every exported
//! headless service with named hosts, mirrored over a link with headless support, each
//! `<host>.<svc>-<link>.<ns>.svc.<domain>` resolves in the source cluster to the ClusterIP of the
//! endpoint mirror `<host>-<link>`; hosts that existed during the run but no longer do stop
//! resolving; and every traffic flow to such a name ends answered by exactly that pod. Services
//! in a namespace the source cluster lacks are not mirrored (spec §5.5) and not judged.

use super::traffic::{flows, target_cluster};
use super::{Check, CheckResult};
use crate::k8s::store::ObjectView;
use crate::k8s::{Kind, ObjectKey};
use crate::scenario::ActionKind;
use crate::sim::SimTime;
use crate::world::{Node, World};
use std::collections::BTreeSet;

#[derive(Default)]
pub struct HeadlessDns;

impl Check for HeadlessDns {
    fn name(&self) -> &'static str {
        "headless-dns"
    }
    fn class(&self) -> super::CheckClass {
        super::CheckClass::Liveness
    }

    fn finish(&mut self, world: &World, _end: SimTime) -> CheckResult {
        let mut problems = Vec::new();
        let mut names_checked = 0;
        for link in world
            .scenario
            .links
            .iter()
            .filter(|l| l.headless && l.gateway)
        {
            let Some((src, dst)) = world.link_clusters(link) else {
                continue;
            };
            // An unlinked link promises no names (its mirrors are the convergence check's).
            if !world.has_link(src, &link.name) {
                continue;
            }
            let Node::Lookup(dns) = world.node(world.clusters[src].dns) else {
                continue;
            };
            let domain = &world.scenario.clusters[src].domain;
            let target = world.apis[dst].server.store();
            let local = world.apis[src].server.store();
            let selector = link
                .selector
                .as_deref()
                .and_then(|s| crate::k8s::selector::LabelSelector::parse(s).ok());
            for svc in target.list(Kind::Service, None) {
                let Some(s) = svc.as_service() else { continue };
                let exported = selector
                    .as_ref()
                    .is_some_and(|sel| !sel.is_empty() && sel.matches(&s.metadata.labels));
                if !exported || s.spec.cluster_ip != "None" {
                    continue;
                }
                let ns = svc.namespace();
                if super::convergence::namespace_skipped(world, link, src, ns) {
                    continue; // Not mirrored by design: the source lacks the namespace (§5.5).
                }
                let mirror = format!("{}-{}", svc.name(), link.name);
                let hosts: BTreeSet<String> = target
                    .get(&ObjectKey::new(Kind::Endpoints, ns, svc.name()))
                    .and_then(|o| o.as_endpoints())
                    .map(|e| {
                        e.subsets
                            .iter()
                            .flat_map(|x| x.addresses.iter())
                            .filter(|a| !a.hostname.is_empty())
                            .map(|a| a.hostname.clone())
                            .collect()
                    })
                    .unwrap_or_default();
                for h in &hosts {
                    names_checked += 1;
                    let name = format!("{h}.{mirror}.{ns}.svc.{domain}");
                    let ips = dns.answer(&name).ips();
                    let want = local
                        .get(&ObjectKey::new(
                            Kind::Service,
                            ns,
                            &format!("{h}-{}", link.name),
                        ))
                        .and_then(|o| o.as_service())
                        .map(|s| s.spec.cluster_ip.clone());
                    match want {
                        Some(ip) if ips == [ip.clone()] => {}
                        Some(ip) => problems.push(format!(
                            "{name} resolves to {ips:?} in {}, expected {ip}",
                            link.from
                        )),
                        None => problems.push(format!(
                            "{name}: endpoint mirror {h}-{} missing in {}",
                            link.name, link.from
                        )),
                    }
                }
                // Hosts of this service's StatefulSet that existed during the run but not now.
                for set in world.scenario.statefulsets.iter().filter(|x| {
                    x.cluster == link.to && x.service == svc.name() && x.namespace == ns
                }) {
                    let max = world
                        .scenario
                        .actions
                        .iter()
                        .filter_map(|a| match &a.kind {
                            ActionKind::Scale { workload, replicas }
                                if a.cluster == link.to && *workload == set.name =>
                            {
                                Some(*replicas)
                            }
                            _ => None,
                        })
                        .chain([set.replicas])
                        .max()
                        .unwrap_or(0);
                    for ordinal in 0..max {
                        let h = format!("{}-{ordinal}", set.name);
                        if hosts.contains(&h) {
                            continue;
                        }
                        names_checked += 1;
                        let name = format!("{h}.{mirror}.{ns}.svc.{domain}");
                        if !dns.answer(&name).is_nxdomain() {
                            problems.push(format!(
                                "{name} still resolves in {} although {h} is gone",
                                link.from
                            ));
                        }
                    }
                }
            }
        }
        // Flows to per-pod names: the last request must have been answered by the named pod.
        for flow in flows(world) {
            let Some((pod, _, ns)) = super::safety::per_pod_name(&flow.spec.host) else {
                continue;
            };
            let cluster = target_cluster(&world.scenario, &flow.spec.from, &flow.spec.host);
            if cluster == flow.spec.from {
                continue;
            }
            let designated = format!("{cluster}/{ns}/{pod}");
            match flow
                .records
                .iter()
                .max_by_key(|r| r.sent)
                .map(|r| &r.result)
            {
                Some(Ok(served)) if *served == designated => {}
                Some(other) => problems.push(format!(
                    "the last request to {} ended {other:?}, expected an answer from {designated}",
                    flow.spec.host
                )),
                None => problems.push(format!("no request to {} was sent", flow.spec.host)),
            }
        }
        CheckResult {
            name: self.name().into(),
            class: self.class(),
            judged: true,
            passed: problems.is_empty(),
            detail: if problems.is_empty() {
                format!(
                    "{names_checked} per-pod name(s) resolve (or stopped resolving) as the remote pods dictate"
                )
            } else {
                problems.join("; ")
            },
            first_violation: None,
        }
    }
}
