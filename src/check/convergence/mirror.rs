//! The convergence check's judgement of one remote service's mirror objects against the
//! oracle: the mirror Service (labels, annotations, ports, no selector) and its Endpoints
//! (gateway mode: the gateway, ready when reachable; headless: a headless root plus one endpoint
//! mirror per ready named host; remote discovery: none).

use crate::check::oracle::{Exported, LinkOracle, Mode, excluded};
use crate::k8s::objects::{Endpoints, Service};
use crate::k8s::store::ObjectView;
use crate::k8s::{Kind, ObjectKey};
use std::collections::BTreeSet;

const ANN_FQ: &str = "mirror.linkerd.io/remote-svc-fq-name";
const ANN_RV: &str = "mirror.linkerd.io/remote-resource-version";

/// What the judgement of one mirror reads: the link, the two stores, and where to report.
struct Ctx<'a, 'v> {
    link: &'a LinkOracle<'v>,
    local: &'v dyn ObjectView,
    target: &'v dyn ObjectView,
    ns: &'a str,
    /// `<source cluster>: <ns>/<mirror>`, the prefix of every problem.
    where_: String,
}

/// The oracle's problems with the mirror of one exported remote service, appended to `out`
/// (none: exact).
pub(crate) fn judge(link: &LinkOracle<'_>, exported: &Exported<'_>, out: &mut Vec<String>) {
    let remote = exported.remote;
    let Some(rsvc) = remote.as_service() else {
        return;
    };
    if exported.skipped {
        return; // Linkerd skips services whose namespace is missing (spec §5.5): nothing expected.
    }
    let view = link.view();
    let ns = remote.namespace();
    let name = link.mirror_name(remote.name());
    let cx = Ctx {
        link,
        local: view.store(link.src),
        target: view.store(link.dst),
        ns,
        where_: format!("{}: {ns}/{name}", view.cluster_name(link.src)),
    };
    let Some(mirror) = cx
        .local
        .get(&ObjectKey::new(Kind::Service, ns, &name))
        .and_then(|o| o.as_service())
    else {
        // A headless service is mirrored from its Endpoints once they have subsets (§7.1).
        let waits = link.spec.headless
            && rsvc.spec.cluster_ip == "None"
            && cx
                .remote_endpoints(remote.name())
                .is_none_or(|e| e.subsets.is_empty());
        if !waits {
            out.push(format!("{}: missing", cx.where_));
        }
        return;
    };
    cx.metadata(exported, rsvc, mirror, out);
    cx.spec(rsvc, mirror, out);
    let endpoints = cx
        .local
        .get(&ObjectKey::new(Kind::Endpoints, ns, &name))
        .and_then(|o| o.as_endpoints());
    if exported.mode == Mode::RemoteDiscovery {
        if endpoints.is_some() {
            out.push(format!(
                "{}: a remote-discovery mirror must not have Endpoints",
                cx.where_
            ));
        }
        return;
    }
    cx.gateway_mode(rsvc, mirror, &name, endpoints, out);
}

impl Ctx<'_, '_> {
    fn remote_endpoints(&self, name: &str) -> Option<&Endpoints> {
        self.target
            .get(&ObjectKey::new(Kind::Endpoints, self.ns, name))
            .and_then(|o| o.as_endpoints())
    }

    /// Labels and annotations (spec §5.2–§5.3).
    fn metadata(
        &self,
        exported: &Exported<'_>,
        rsvc: &Service,
        mirror: &Service,
        out: &mut Vec<String>,
    ) {
        let where_ = &self.where_;
        let labels = self.link.mirror_labels(exported.remote, exported.mode);
        if mirror.metadata.labels != labels {
            out.push(format!(
                "{where_}: labels {:?}, expected {:?}",
                mirror.metadata.labels, labels
            ));
        }
        let view = self.link.view();
        let domain = &view.scenario().clusters[self.link.dst].domain;
        let ann = &mirror.metadata.annotations;
        let fq = format!("{}.{}.svc.{domain}", rsvc.metadata.name, self.ns);
        if ann.get(ANN_FQ) != Some(&fq) {
            out.push(format!(
                "{where_}: {ANN_FQ} is {:?}, expected {fq}",
                ann.get(ANN_FQ)
            ));
        }
        if ann.get(ANN_RV) != Some(&rsvc.metadata.resource_version) {
            out.push(format!(
                "{where_}: mirrors remote version {:?}, the remote is at {}",
                ann.get(ANN_RV),
                rsvc.metadata.resource_version
            ));
        }
        for (k, v) in &rsvc.metadata.annotations {
            let topology = k == "service.kubernetes.io/topology-aware-hints"
                || k == "service.kubernetes.io/topology-mode";
            if !topology
                && !excluded(k, &self.link.spec.excluded_annotations)
                && ann.get(k) != Some(v)
            {
                out.push(format!("{where_}: annotation {k} not copied"));
            }
        }
    }

    /// Ports and selector.
    fn spec(&self, rsvc: &Service, mirror: &Service, out: &mut Vec<String>) {
        let ports = |s: &Service| {
            s.spec
                .ports
                .iter()
                .map(|p| (p.name.clone(), p.protocol, p.port))
                .collect::<Vec<_>>()
        };
        if ports(mirror) != ports(rsvc) {
            out.push(format!(
                "{}: ports {:?}, expected {:?}",
                self.where_,
                ports(mirror),
                ports(rsvc)
            ));
        }
        if !mirror.spec.selector.is_empty() {
            out.push(format!("{}: has a selector", self.where_));
        }
    }

    /// A gateway-mode mirror's Endpoints: the headless root and its endpoint mirrors, or the
    /// gateway when the remote service has ready endpoints, or nothing.
    fn gateway_mode(
        &self,
        rsvc: &Service,
        mirror: &Service,
        name: &str,
        endpoints: Option<&Endpoints>,
        out: &mut Vec<String>,
    ) {
        let where_ = &self.where_;
        let gateway = (
            self.link.view().gateway_address(self.link.dst),
            self.link.gateway_reachable(),
        );
        let remote_eps = self.remote_endpoints(&rsvc.metadata.name);
        let any_named = remote_eps.is_some_and(|e| {
            e.subsets
                .iter()
                .flat_map(|s| s.addresses.iter().chain(&s.not_ready_addresses))
                .any(|a| !a.hostname.is_empty())
        });
        if self.link.spec.headless && rsvc.spec.cluster_ip == "None" && any_named {
            self.headless(rsvc, mirror, remote_eps, endpoints, &gateway, out);
            return;
        }
        if mirror.spec.cluster_ip == "None" {
            out.push(format!("{where_}: should not be headless"));
        }
        let ready_remote =
            remote_eps.is_some_and(|e| e.subsets.iter().any(|s| !s.addresses.is_empty()));
        if ready_remote {
            gateway_endpoints(self.local, self.ns, name, &gateway, rsvc, where_, out);
        } else if endpoints.is_some_and(|e| {
            e.subsets
                .iter()
                .any(|s| !s.addresses.is_empty() || !s.not_ready_addresses.is_empty())
        }) {
            out.push(format!(
                "{where_}: Endpoints should be empty (the remote service has no ready endpoints)"
            ));
        }
    }

    /// A headless mirror (spec §7): a headless root whose Endpoints list one address per ready
    /// named host, each the ClusterIP of that host's endpoint mirror `<host>-<link>`, whose
    /// Endpoints are the gateway's.
    fn headless(
        &self,
        rsvc: &Service,
        mirror: &Service,
        remote_eps: Option<&Endpoints>,
        endpoints: Option<&Endpoints>,
        gateway: &(String, bool),
        out: &mut Vec<String>,
    ) {
        let where_ = &self.where_;
        let ns = self.ns;
        if mirror.spec.cluster_ip != "None" {
            out.push(format!("{where_}: should be a headless mirror"));
        }
        let named: BTreeSet<String> = remote_eps
            .map(|e| {
                e.subsets
                    .iter()
                    .flat_map(|s| s.addresses.iter())
                    .filter(|a| !a.hostname.is_empty())
                    .map(|a| a.hostname.clone())
                    .collect()
            })
            .unwrap_or_default();
        let src_name = self.link.view().cluster_name(self.link.src);
        let mut hosts = BTreeSet::new();
        for h in &named {
            let em = self.link.mirror_name(h);
            match self
                .local
                .get(&ObjectKey::new(Kind::Service, ns, &em))
                .and_then(|o| o.as_service())
            {
                Some(s) => {
                    hosts.insert((h.clone(), s.spec.cluster_ip.clone()));
                    let at = format!("{src_name}: {ns}/{em}");
                    gateway_endpoints(self.local, ns, &em, gateway, rsvc, &at, out);
                }
                None => out.push(format!("{where_}: endpoint mirror {em} missing")),
            }
        }
        let root: BTreeSet<(String, String)> = endpoints
            .map(|e| {
                e.subsets
                    .iter()
                    .flat_map(|s| s.addresses.iter())
                    .map(|a| (a.hostname.clone(), a.ip.clone()))
                    .collect()
            })
            .unwrap_or_default();
        if root != hosts {
            out.push(format!(
                "{where_}: root Endpoints {root:?}, expected {hosts:?}"
            ));
        }
    }
}

/// Gateway-mode Endpoints `ns/name`: the gateway's address, ready when it is reachable from the
/// source and not ready otherwise, on port 4143 under each of the remote service's port names.
fn gateway_endpoints(
    local: &dyn ObjectView,
    ns: &str,
    name: &str,
    (gateway_ip, alive): &(String, bool),
    rsvc: &Service,
    where_: &str,
    out: &mut Vec<String>,
) {
    let (gateway_ip, alive) = (gateway_ip.as_str(), *alive);
    let Some(e) = local
        .get(&ObjectKey::new(Kind::Endpoints, ns, name))
        .and_then(|o| o.as_endpoints())
    else {
        out.push(format!("{where_}: Endpoints missing"));
        return;
    };
    let ready: Vec<&str> = e
        .subsets
        .iter()
        .flat_map(|s| s.addresses.iter())
        .map(|a| a.ip.as_str())
        .collect();
    let not_ready: Vec<&str> = e
        .subsets
        .iter()
        .flat_map(|s| s.not_ready_addresses.iter())
        .map(|a| a.ip.as_str())
        .collect();
    let (want_ready, want_not_ready): (&[&str], &[&str]) = if alive {
        (&[gateway_ip], &[])
    } else {
        (&[], &[gateway_ip])
    };
    if ready != want_ready || not_ready != want_not_ready {
        let state = if alive {
            "ready (the gateway is reachable)"
        } else {
            "not ready (the gateway is unreachable)"
        };
        out.push(format!("{where_}: ready addresses {ready:?}, not ready {not_ready:?}; expected the gateway {gateway_ip} {state}"));
    }
    let ports: BTreeSet<(String, i32)> = e
        .subsets
        .iter()
        .flat_map(|s| s.ports.iter())
        .map(|p| (p.name.clone(), p.port))
        .collect();
    let want: BTreeSet<(String, i32)> = rsvc
        .spec
        .ports
        .iter()
        .map(|p| (p.name.clone(), 4143))
        .collect();
    if ports != want {
        out.push(format!(
            "{where_}: Endpoints ports {ports:?}, expected {want:?}"
        ));
    }
}
