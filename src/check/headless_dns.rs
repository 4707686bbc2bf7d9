//! Headless DNS correctness (the seed's "Headless services" section): for every exported
//! headless service with named hosts, mirrored over a link with headless support, each
//! `<host>.<svc>-<link>.<ns>.svc.<domain>` resolves in the source cluster to the ClusterIP of the
//! endpoint mirror `<host>-<link>`; hosts that existed during the run but no longer do stop
//! resolving; and every traffic flow to such a name ends answered by exactly that pod. Services
//! in a namespace the source cluster lacks are not mirrored (spec §5.5) and not judged.

use super::oracle::{self, LinkOracle, Mode, per_pod_name, target_cluster};
use super::{Check, CheckResult};
use crate::k8s::dns::DnsResponse;
use crate::k8s::{Kind, ObjectKey};
use crate::scenario::ActionKind;
use crate::sim::SimTime;
use crate::world::view::WorldView;
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

    fn finish(&mut self, view: WorldView<'_>, _end: SimTime) -> CheckResult {
        let mut problems = Vec::new();
        let mut names_checked = 0;
        for link in oracle::links(view)
            .iter()
            .filter(|l| l.spec.headless && l.spec.gateway)
        {
            names_checked += per_pod_names(link, &mut problems);
        }
        // Flows to per-pod names: the last request must have been answered by the named pod.
        for flow in view.flows() {
            let Some((pod, _, ns)) = per_pod_name(&flow.spec.host) else {
                continue;
            };
            let cluster = target_cluster(view.scenario(), &flow.spec.from, &flow.spec.host);
            if cluster == flow.spec.from {
                continue;
            }
            let designated = format!("{cluster}/{ns}/{pod}");
            match flow.log.last().map(|r| &r.result) {
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

/// The per-pod names of `link`'s exported headless services, resolved by the source's CoreDNS:
/// each ready named host resolves to its endpoint mirror's ClusterIP, each host its StatefulSet
/// had during the run but has no more does not resolve. Returns how many names it judged. An
/// unlinked link promises no names (its mirrors are the convergence check's).
fn per_pod_names(link: &LinkOracle<'_>, problems: &mut Vec<String>) -> usize {
    let view = link.view();
    let scenario = view.scenario();
    let spec = link.spec;
    let domain = &scenario.clusters[link.src].domain;
    let resolve = |name: &str| view.dns_answer(link.src, name);
    let target = view.store(link.dst);
    let local = view.store(link.src);
    let mut names_checked = 0;
    for exported in link.exported() {
        let svc = exported.remote;
        let Some(s) = svc.as_service() else { continue };
        // Not mirrored by design: the source lacks the namespace (§5.5).
        if exported.mode != Mode::Gateway || s.spec.cluster_ip != "None" || exported.skipped {
            continue;
        }
        let ns = svc.namespace();
        let mirror = link.mirror_name(svc.name());
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
            let ips = resolve(&name).map(|a| a.ips()).unwrap_or_default();
            let want = local
                .get(&ObjectKey::new(Kind::Service, ns, &link.mirror_name(h)))
                .and_then(|o| o.as_service())
                .map(|s| s.spec.cluster_ip.clone());
            match want {
                Some(ip) if ips == [ip.clone()] => {}
                Some(ip) => problems.push(format!(
                    "{name} resolves to {ips:?} in {}, expected {ip}",
                    spec.from
                )),
                None => problems.push(format!(
                    "{name}: endpoint mirror {h}-{} missing in {}",
                    spec.name, spec.from
                )),
            }
        }
        // Hosts of this service's StatefulSet that existed during the run but not now.
        for set in scenario
            .statefulsets
            .iter()
            .filter(|x| x.cluster == spec.to && x.service == svc.name() && x.namespace == ns)
        {
            let max = scenario
                .actions
                .iter()
                .filter_map(|a| match &a.kind {
                    ActionKind::Scale { workload, replicas }
                        if a.cluster == spec.to && *workload == set.name =>
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
                if !resolve(&name).is_some_and(|a: DnsResponse| a.is_nxdomain()) {
                    problems.push(format!(
                        "{name} still resolves in {} although {h} is gone",
                        spec.from
                    ));
                }
            }
        }
    }
    names_checked
}
