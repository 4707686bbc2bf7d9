//! Writing a scenario back: [`model::Scenario`] → [`schema::File`] → TOML, the inverse of
//! [`super::load`]: loading what [`save`] writes gives the same scenario (`source` aside, and
//! manifest paths made absolute). Values equal to their default are left out, so a saved
//! scenario reads like a hand-written one. The fuzzer writes its case files with it.

use super::fault::{FaultKind, FaultSpec, PartitionMode};
use super::model::*;
use super::schema::{self, Name};
use super::values::{Dur, Probability, Rate, SignedDur};
use crate::defaults;
use crate::sim::{Exploration, Ratio, SimDuration};
use toml::Spanned;

/// The scenario as TOML, `[sim]` first, with manifest and snapshot paths made absolute (so it
/// loads from any directory).
pub fn save(s: &Scenario) -> Result<String, String> {
    save_with(s, Paths::Absolute)
}

/// How [`save_with`] writes the paths of manifests and snapshots.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Paths {
    /// Canonical absolute paths.
    Absolute,
    /// As the model holds them (`mcsim import` writes them as given on its command line,
    /// relative to the scenario it writes).
    AsGiven,
}

/// The scenario as TOML with paths written as `paths` says.
pub fn save_with(s: &Scenario, paths: Paths) -> Result<String, String> {
    toml::to_string(&file(s, paths)).map_err(|e| format!("cannot write the scenario as TOML: {e}"))
}

fn file_path(p: &std::path::Path, paths: Paths) -> String {
    match paths {
        Paths::Absolute => std::fs::canonicalize(p)
            .unwrap_or_else(|_| p.to_path_buf())
            .display()
            .to_string(),
        Paths::AsGiven => p.display().to_string(),
    }
}

/// A value without a source position (spans only matter for diagnostics of loaded text).
fn sp<T>(value: T) -> Spanned<T> {
    Spanned::new(0..0, value)
}

fn name(value: &str) -> Name {
    sp(value.to_string())
}

/// `Some(value)` unless it is the default.
fn unless<T: PartialEq>(value: T, default: T) -> Option<T> {
    (value != default).then_some(value)
}

fn dur_unless(value: SimDuration, default: SimDuration) -> Option<Dur> {
    unless(value, default).map(Dur)
}

fn file(s: &Scenario, paths: Paths) -> schema::File {
    schema::File {
        sim: sim(s),
        linkerd: linkerd(&s.linkerd),
        clusters: s.clusters.iter().map(|c| sp(cluster(c, paths))).collect(),
        networks: (s.networks.iter())
            .map(|n| sp(schema::Network { name: name(n) }))
            .collect(),
        paths: s.paths.iter().map(|p| sp(path(p))).collect(),
        flat_networks: (s.flat_networks.iter())
            .map(|f| {
                sp(schema::FlatNetwork {
                    clusters: f.iter().map(|c| name(c)).collect(),
                })
            })
            .collect(),
        links: s.links.iter().map(|l| sp(link(l))).collect(),
        namespaces: (s.namespaces.iter())
            .map(|n| {
                sp(schema::Namespace {
                    cluster: name(&n.cluster),
                    name: name(&n.name),
                })
            })
            .collect(),
        services: s.services.iter().map(|v| sp(service(v))).collect(),
        statefulsets: s.statefulsets.iter().map(|v| sp(statefulset(v))).collect(),
        deployments: s.deployments.iter().map(|v| sp(deployment(v))).collect(),
        manifests: s.manifests.iter().map(|m| sp(manifest(m, paths))).collect(),
        traffic: s.traffic.iter().map(|t| sp(traffic(t))).collect(),
        faults: s.faults.iter().map(|f| sp(fault(f))).collect(),
        actions: (s.explicit_actions().into_iter())
            .map(|a| sp(action(a, paths)))
            .collect(),
        checks: checks(&s.checks),
        expect: s.expect.as_ref().map(expect),
        fuzz: fuzz(&s.fuzz),
        testing: (!s.breakages.is_empty()).then(|| schema::Testing {
            breakages: s.breakages.iter().map(|b| name(b.name())).collect(),
        }),
    }
}

fn sim(s: &Scenario) -> schema::Sim {
    let exploration = match s.exploration {
        Exploration::Fifo => None,
        Exploration::Random => Some("random"),
        Exploration::Pct => Some("pct"),
    };
    schema::Sim {
        name: s.name.clone(),
        seed: s.seed,
        duration: Dur(s.duration),
        quiet_period: dur_unless(s.quiet_period, defaults::QUIET_PERIOD),
        events_max: unless(s.events_max, defaults::EVENTS_MAX),
        exploration: exploration.map(name),
        // Entries not listed read as 0.
        decisions: s.decisions.as_ref().map(|t| {
            (t.entries.iter())
                .filter(|(_, v)| *v != 0)
                .map(|(i, v)| sp(format!("{i}:{v:x}")))
                .collect()
        }),
    }
}

fn linkerd(l: &LinkerdOptions) -> Option<schema::Linkerd> {
    let trust_domain = unless(l.trust_domain.as_str(), defaults::TRUST_DOMAIN);
    (!l.fixes.is_empty() || trust_domain.is_some()).then(|| schema::Linkerd {
        fixes: l.fixes.iter().map(|f| name(f.name())).collect(),
        trust_domain: trust_domain.map(str::to_string),
    })
}

fn cluster(c: &ClusterSpec, paths: Paths) -> schema::Cluster {
    let api = schema::Api {
        watch_history: unless(c.watch_history, defaults::WATCH_HISTORY_EVENTS),
        watch_timeout: dur_unless(c.watch_timeout, defaults::WATCH_TIMEOUT),
        client_qps: unless(c.client_qps, defaults::CLIENT_QPS),
        client_burst: unless(c.client_burst, defaults::CLIENT_BURST),
    };
    let api_set = api.watch_history.is_some()
        || api.watch_timeout.is_some()
        || api.client_qps.is_some()
        || api.client_burst.is_some();
    schema::Cluster {
        name: name(&c.name),
        domain: unless(c.domain.as_str(), defaults::CLUSTER_DOMAIN).map(str::to_string),
        network: c.network.as_deref().map(name),
        trust_anchor: unless(c.trust_anchor.as_str(), defaults::TRUST_ANCHOR).map(str::to_string),
        trusts: c.trusts.clone(),
        gateway: unless(c.gateway, true),
        gateway_replicas: None,
        local_service_mirror: unless(c.local_service_mirror, true),
        clock_skew: unless(c.clock_skew_ns, 0).map(SignedDur),
        api: api_set.then_some(api),
        in_cluster_latency: dur_unless(c.in_cluster_latency, defaults::IN_CLUSTER_LATENCY),
        pod_cidr: c.pod_cidr.map(|p| sp(p.to_string())),
        service_cidr: c.service_cidr.map(|p| sp(p.to_string())),
        snapshot: c.snapshot.as_ref().map(|s| sp(file_path(&s.path, paths))),
    }
}

fn path(p: &PathSpec) -> schema::Path {
    schema::Path {
        between: sp(vec![name(&p.a), name(&p.b)]),
        latency: Dur(p.latency),
        jitter: dur_unless(p.jitter, SimDuration::ZERO),
        loss: unless(p.loss, Ratio::ZERO).map(Probability),
        bandwidth: p.bandwidth,
    }
}

fn link(l: &LinkSpec) -> schema::Link {
    let (key, value) = defaults::FEDERATED_MEMBER;
    let federated = format!("{key}={value}");
    let selector =
        |s: &Option<String>, default: &str| s.as_deref().filter(|s| *s != default).map(name);
    let probe = schema::Probe {
        path: unless(l.probe.path.as_str(), defaults::PROBE_PATH)
            .filter(|_| l.gateway)
            .map(str::to_string),
        period: dur_unless(l.probe.period, defaults::PROBE_PERIOD),
        timeout: dur_unless(l.probe.timeout, defaults::PROBE_TIMEOUT),
        failure_threshold: unless(l.probe.failure_threshold, defaults::PROBE_FAILURE_THRESHOLD),
    };
    let probe_set = probe.path.is_some()
        || probe.period.is_some()
        || probe.timeout.is_some()
        || probe.failure_threshold.is_some();
    schema::Link {
        from: name(&l.from),
        to: name(&l.to),
        name: unless(l.name.as_str(), l.to.as_str()).map(name),
        headless: unless(l.headless, false),
        namespace_creation: unless(l.namespace_creation, false),
        gateway: unless(l.gateway, true),
        requeue_limit: unless(l.requeue_limit, defaults::REQUEUE_LIMIT),
        // Without a gateway a missing selector matches nothing (it has no default).
        selector: if l.gateway {
            selector(&l.selector, defaults::EXPORT_SELECTOR)
        } else {
            l.selector.as_deref().map(name)
        },
        remote_discovery_selector: selector(
            &l.remote_discovery_selector,
            defaults::REMOTE_DISCOVERY_SELECTOR,
        ),
        federated_selector: selector(&l.federated_selector, &federated),
        excluded_labels: l.excluded_labels.clone(),
        excluded_annotations: l.excluded_annotations.clone(),
        probe: probe_set.then_some(probe),
        at: unless(l.at, SimDuration::ZERO).map(|d| sp(Dur(d))),
        credentials: unless(l.credentials, true),
    }
}

fn ports(ports: &[PortSpec]) -> Vec<schema::Port> {
    ports
        .iter()
        .map(|p| schema::Port {
            name: p.name.clone(),
            port: p.port,
            target_port: unless(p.target_port, p.port),
            protocol: unless(p.protocol.as_str(), "TCP").map(str::to_string),
        })
        .collect()
}

fn export(e: Export) -> Option<schema::ExportField> {
    match e {
        Export::None => None,
        Export::Gateway => Some(schema::ExportField::Flag(true)),
        Export::RemoteDiscovery => Some(schema::ExportField::Mode(
            schema::ExportMode::RemoteDiscovery,
        )),
    }
}

fn namespace(ns: &str) -> Option<Name> {
    unless(ns, defaults::NAMESPACE).map(name)
}

fn service(v: &ServiceSpec) -> schema::Service {
    schema::Service {
        cluster: name(&v.cluster),
        namespace: namespace(&v.namespace),
        name: name(&v.name),
        ports: ports(&v.ports),
        replicas: unless(v.replicas, 1),
        headless: unless(v.headless, false),
        exported: export(v.export),
        federated: unless(v.federated, false),
        labels: v.labels.clone(),
        annotations: v.annotations.clone(),
        service_account: unless(v.service_account.as_str(), v.name.as_str()).map(str::to_string),
    }
}

fn statefulset(v: &StatefulSetSpec) -> schema::StatefulSet {
    schema::StatefulSet {
        cluster: name(&v.cluster),
        namespace: namespace(&v.namespace),
        name: name(&v.name),
        service: unless(v.service.as_str(), v.name.as_str()).map(name),
        replicas: v.replicas,
        ports: Some(ports(&v.ports)),
        exported: export(v.export),
        labels: v.labels.clone(),
        service_account: unless(v.service_account.as_str(), v.name.as_str()).map(str::to_string),
    }
}

fn deployment(v: &DeploymentSpec) -> schema::Deployment {
    schema::Deployment {
        cluster: name(&v.cluster),
        namespace: namespace(&v.namespace),
        name: name(&v.name),
        replicas: v.replicas,
        labels: v.labels.clone(),
        service_account: unless(v.service_account.as_str(), v.name.as_str()).map(str::to_string),
    }
}

fn manifest(m: &ManifestSpec, paths: Paths) -> schema::Manifest {
    schema::Manifest {
        cluster: name(&m.cluster),
        path: sp(file_path(&m.path, paths)),
        namespace: m.namespace.as_deref().map(name),
    }
}

fn traffic(t: &TrafficSpec) -> schema::Traffic {
    schema::Traffic {
        from: name(&t.from),
        namespace: unless(t.namespace.as_str(), defaults::NAMESPACE).map(str::to_string),
        service_account: unless(
            t.service_account.as_str(),
            defaults::TRAFFIC_SERVICE_ACCOUNT,
        )
        .map(str::to_string),
        to: sp(format!("{}:{}", t.host, t.port)),
        rate: Rate {
            count: 1,
            per: t.interval,
        },
        start: unless(t.start, SimDuration::ZERO).map(|d| sp(Dur(d))),
        stop: t.stop.map(Dur),
        timeout: dur_unless(t.timeout, defaults::TRAFFIC_TIMEOUT),
    }
}

fn fault(f: &FaultSpec) -> schema::Fault {
    let mut out = schema::Fault {
        at: sp(Dur(f.at)),
        duration: f.duration.map(Dur),
        partition: None,
        cluster_down: None,
        api_server_down: None,
        gateway_down: None,
        controller_crash: None,
        pod_kill: None,
        dns_failure: None,
        clock_skew: None,
        compact: None,
        cert_expiry: None,
        rotate_certs: None,
        trust_anchor: None,
        slow_path: None,
        lossy_path: None,
        one_way: None,
        mode: None,
    };
    match &f.kind {
        FaultKind::Partition {
            groups,
            one_way,
            mode,
        } => {
            let groups = groups.iter().map(|g| g.iter().map(|c| name(c)).collect());
            out.partition = Some(sp(groups.collect()));
            out.one_way = unless(*one_way, false);
            out.mode = Some(name(match mode {
                PartitionMode::Drop => "drop",
                PartitionMode::Reject => "reject",
            }));
        }
        FaultKind::ClusterDown(c) => out.cluster_down = Some(name(c)),
        FaultKind::ApiServerDown(c) => out.api_server_down = Some(name(c)),
        FaultKind::GatewayDown(c) => out.gateway_down = Some(name(c)),
        FaultKind::ControllerCrash { cluster, link } => {
            out.controller_crash = Some(schema::ControllerRef {
                cluster: name(cluster),
                link: name(link),
            })
        }
        FaultKind::PodKill {
            cluster,
            namespace,
            pod,
        } => {
            out.pod_kill = Some(schema::PodRef {
                cluster: name(cluster),
                namespace: unless(namespace.as_str(), defaults::NAMESPACE).map(str::to_string),
                pod: pod.clone(),
            })
        }
        FaultKind::DnsFailure(c) => out.dns_failure = Some(name(c)),
        FaultKind::ClockSkew { cluster, by_ns } => {
            out.clock_skew = Some(schema::ClockSkew {
                cluster: name(cluster),
                by: SignedDur(*by_ns),
            })
        }
        FaultKind::Compact(c) => out.compact = Some(name(c)),
        FaultKind::CertExpiry(c) => out.cert_expiry = Some(name(c)),
        FaultKind::RotateCerts(c) => out.rotate_certs = Some(name(c)),
        FaultKind::TrustAnchor { cluster, anchor } => {
            out.trust_anchor = Some(schema::AnchorChange {
                cluster: name(cluster),
                anchor: anchor.clone(),
            })
        }
        FaultKind::SlowPath { a, b, latency } => {
            out.slow_path = Some(schema::SlowPath {
                between: vec![name(a), name(b)],
                latency: Dur(*latency),
            })
        }
        FaultKind::LossyPath {
            a,
            b,
            loss,
            duplicate,
            reorder,
        } => {
            let p = |r: &Ratio| unless(*r, Ratio::ZERO).map(Probability);
            out.lossy_path = Some(schema::LossyPath {
                between: vec![name(a), name(b)],
                loss: p(loss),
                duplicate: p(duplicate),
                reorder: p(reorder),
            })
        }
    }
    out
}

fn action(a: &ActionSpec, paths: Paths) -> schema::Action {
    let explicit = matches!(
        a.kind,
        ActionKind::Apply {
            explicit_namespace: true,
            ..
        }
    );
    let mut out = schema::Action {
        at: sp(Dur(a.at)),
        cluster: name(&a.cluster),
        namespace: if explicit {
            Some(a.namespace.clone())
        } else {
            unless(a.namespace.as_str(), defaults::NAMESPACE).map(str::to_string)
        },
        apply: None,
        scale: None,
        export: None,
        unexport: None,
        delete_service: None,
        delete_link: None,
        unlink: None,
        link: None,
        link_selector: None,
        create_namespace: None,
        label: None,
        annotate: None,
    };
    let change = |service: &String, key: &String, value: &Option<String>| schema::LabelChange {
        service: service.clone(),
        key: key.clone(),
        value: value.clone(),
    };
    match &a.kind {
        ActionKind::Scale { workload, replicas } => {
            out.scale = Some(schema::Scale {
                workload: workload.clone(),
                replicas: *replicas,
            })
        }
        ActionKind::Export { service } => out.export = Some(service.clone()),
        ActionKind::Unexport { service } => out.unexport = Some(service.clone()),
        ActionKind::DeleteService { service } => out.delete_service = Some(service.clone()),
        ActionKind::DeleteLink { link } => out.delete_link = Some(link.clone()),
        ActionKind::Unlink { link } => out.unlink = Some(link.clone()),
        ActionKind::Link { link } => out.link = Some(link.clone()),
        ActionKind::LinkSelector { link, selector } => {
            out.link_selector = Some(schema::LinkSelectorChange {
                link: link.clone(),
                selector: sp(selector.clone()),
            })
        }
        ActionKind::CreateNamespace { name } => out.create_namespace = Some(name.clone()),
        ActionKind::Label {
            service,
            key,
            value,
        } => out.label = Some(change(service, key, value)),
        ActionKind::Annotate {
            service,
            key,
            value,
        } => out.annotate = Some(change(service, key, value)),
        ActionKind::Apply { path, .. } => out.apply = Some(sp(file_path(path, paths))),
    }
    out
}

fn checks(c: &CheckSpec) -> Option<schema::Checks> {
    let out = schema::Checks {
        converged_within: dur_unless(c.converged_within, defaults::CONVERGED_WITHIN),
        failure_domains: c.failure_domain_tolerance.map(|t| schema::FailureDomains {
            tolerance: Probability(t),
        }),
        headless_dns: unless(c.headless_dns, true),
        identity: unless(c.identity, true),
        safety: unless(c.safety, true),
        link_status: unless(c.link_status, false),
        needless_writes: c.needless_writes.map(|b| Rate {
            count: b.count,
            per: b.per,
        }),
    };
    let set = out.converged_within.is_some()
        || out.failure_domains.is_some()
        || out.headless_dns.is_some()
        || out.identity.is_some()
        || out.safety.is_some()
        || out.link_status.is_some()
        || out.needless_writes.is_some();
    set.then_some(out)
}

fn expect(e: &Expectation) -> schema::Expect {
    schema::Expect {
        verdict: name(match e.verdict {
            ExpectedVerdict::Pass => "pass",
            ExpectedVerdict::Fail => "fail",
            ExpectedVerdict::Inconclusive => "inconclusive",
            ExpectedVerdict::Error => "error",
        }),
        failing: e.failing.iter().map(|c| name(c)).collect(),
        fix: e.fix.map(|f| name(f.name())),
    }
}

fn fuzz(f: &FuzzSpec) -> Option<schema::Fuzz> {
    (f.faults.is_some() || f.workload.is_some() || f.delay_perturbation_max.is_some()).then(|| {
        schema::Fuzz {
            faults: (f.faults.as_ref()).map(|t| t.iter().map(|t| name(t.name())).collect()),
            workload: (f.workload.as_ref()).map(|t| t.iter().map(|t| name(t.name())).collect()),
            delay_perturbation_max: f.delay_perturbation_max.map(Dur),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{load_file, load_str};
    use std::path::Path;

    fn files(dir: &str) -> Vec<std::path::PathBuf> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
        let mut v: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .collect();
        v.sort();
        v
    }

    /// Every scenario of the library, breakage and fuzz target loads back from what `save`
    /// writes as the same scenario.
    #[test]
    fn every_scenario_round_trips_through_save() {
        let all = ["scenarios", "tests/breakages", "tests/fuzz"];
        for path in all.iter().flat_map(|d| files(d)) {
            let original = load_file(&path).unwrap();
            let text = save(&original).unwrap();
            let file = path.display().to_string();
            let mut again =
                load_str(&file, &text).unwrap_or_else(|d| panic!("{file}: {d}\n{text}"));
            again.source = original.source.clone();
            for (m, o) in again.manifests.iter_mut().zip(&original.manifests) {
                m.path = o.path.clone();
            }
            for (c, o) in again.clusters.iter_mut().zip(&original.clusters) {
                if let (Some(s), Some(o)) = (&mut c.snapshot, &o.snapshot) {
                    s.path = o.path.clone();
                }
            }
            assert_eq!(again, original, "{file} saved as\n{text}");
        }
    }
}
