//! The initial Kubernetes objects of each cluster, derived from the scenario: namespaces, the
//! exported services with their backing Deployments or StatefulSets, the Linkerd gateway Service
//! of every cluster with a gateway, and the `Link` resources (with their credentials Secrets)
//! in source clusters, as `linkerd multicluster link-gen` would write them; and the
//! ServiceAccounts every namespace and every generated pod needs.

use crate::k8s::Object;
use crate::k8s::objects::{
    Container, ContainerPort, Deployment, DeploymentSpec, IntOrString, Link, LinkSpec, Namespace,
    ObjectMeta, PodSpec, PodTemplateSpec, ProbeSpec, Protocol, Secret, Service, ServicePort,
    ServiceSpec, ServiceType, StatefulSet, StatefulSetSpec,
};
use crate::k8s::selector::LabelSelector;
use crate::scenario::{Export, LinkSpec as ScenarioLink, PortSpec, Scenario};
use std::collections::{BTreeMap, BTreeSet};

pub const MC_NAMESPACE: &str = "linkerd-multicluster";
/// The control plane's namespace (destination, identity): remote-discovery credentials live here.
pub const LINKERD_NAMESPACE: &str = "linkerd";
/// Labels and annotations of the destination controller's credentials Secrets (spec §2.3, §11.2).
pub const LABEL_CREDENTIALS_CLUSTER: &str = "multicluster.linkerd.io/cluster-name";
pub const ANN_CREDENTIALS_TRUST_DOMAIN: &str = "multicluster.linkerd.io/trust-domain";
pub const ANN_CREDENTIALS_CLUSTER_DOMAIN: &str = "multicluster.linkerd.io/cluster-domain";
/// The label the proxy injector puts on every meshed pod (spec §10.3).
pub const LABEL_CONTROL_PLANE_NS: &str = "linkerd.io/control-plane-ns";
pub const LABEL_EXPORTED: &str = "mirror.linkerd.io/exported";
pub const LABEL_FEDERATED: &str = "mirror.linkerd.io/federated";

fn meta(namespace: &str, name: &str, labels: BTreeMap<String, String>) -> ObjectMeta {
    let mut m = ObjectMeta::named(namespace, name);
    m.labels = labels;
    m
}

fn protocol(p: &str) -> Protocol {
    match p {
        "UDP" => Protocol::Udp,
        "SCTP" => Protocol::Sctp,
        _ => Protocol::Tcp,
    }
}

fn service_ports(ports: &[PortSpec]) -> Vec<ServicePort> {
    ports
        .iter()
        .map(|p| ServicePort {
            name: p.name.clone().unwrap_or_default(),
            protocol: protocol(&p.protocol),
            port: i32::from(p.port),
            target_port: Some(IntOrString::Int(i32::from(p.target_port))),
            ..ServicePort::default()
        })
        .collect()
}

fn pod_template(
    app: &str,
    service_account: &str,
    ports: &[PortSpec],
    extra: &BTreeMap<String, String>,
) -> PodTemplateSpec {
    let mut labels = extra.clone();
    labels.insert("app".into(), app.into());
    // Every workload is meshed: the injector labels its pods with the control plane's namespace.
    labels.insert(LABEL_CONTROL_PLANE_NS.into(), LINKERD_NAMESPACE.into());
    PodTemplateSpec {
        metadata: ObjectMeta {
            labels,
            ..ObjectMeta::default()
        },
        spec: PodSpec {
            service_account_name: service_account.into(),
            containers: vec![Container {
                name: app.into(),
                image: format!("{app}:sim"),
                ports: ports
                    .iter()
                    .map(|p| ContainerPort {
                        name: p.name.clone().unwrap_or_default(),
                        container_port: i32::from(p.target_port),
                        protocol: protocol(&p.protocol),
                    })
                    .collect(),
            }],
            ..PodSpec::default()
        },
    }
}

/// The kubeconfig `link-gen` writes for cluster `cluster`. Its server address is the cluster's
/// API server, which mcsim names by the cluster.
pub fn kubeconfig(cluster: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: {cluster}\n  cluster:\n    server: https://api.{cluster}.mcsim:6443\n"
    )
}

/// The cluster a kubeconfig's server address names (see [`kubeconfig`]).
pub fn kubeconfig_cluster(kubeconfig: &str) -> Option<&str> {
    kubeconfig
        .lines()
        .find_map(|l| l.trim().strip_prefix("server: https://api."))
        .and_then(|rest| rest.strip_suffix(".mcsim:6443"))
}

fn app_selector(app: &str) -> LabelSelector {
    let mut s = LabelSelector::default();
    s.match_labels.insert("app".into(), app.into());
    s
}

fn export_labels(
    export: Export,
    federated: bool,
    labels: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut l = labels.clone();
    match export {
        Export::Gateway => {
            l.insert(LABEL_EXPORTED.into(), "true".into());
        }
        Export::RemoteDiscovery => {
            l.insert(LABEL_EXPORTED.into(), "remote-discovery".into());
        }
        Export::None => {}
    }
    if federated {
        l.insert(LABEL_FEDERATED.into(), "member".into());
    }
    l
}

/// The Link resource `link` as link-gen would write it in the source cluster.
pub fn link_object(
    scenario: &Scenario,
    link: &ScenarioLink,
    gateway_ip: &str,
    gateway_identity: &str,
) -> Link {
    let target = scenario.cluster(&link.to);
    let parse = |s: &Option<String>| s.as_deref().and_then(|s| LabelSelector::parse(s).ok());
    let mut spec = LinkSpec {
        target_cluster_name: link.name.clone(),
        target_cluster_domain: target
            .map(|c| c.domain.clone())
            .unwrap_or_else(|| crate::defaults::CLUSTER_DOMAIN.into()),
        excluded_labels: link.excluded_labels.clone(),
        excluded_annotations: link.excluded_annotations.clone(),
        remote_discovery_selector: parse(&link.remote_discovery_selector),
        federated_service_selector: parse(&link.federated_selector),
        ..LinkSpec::default()
    };
    if link.gateway {
        spec.gateway_address = gateway_ip.into();
        spec.gateway_port = "4143".into();
        spec.gateway_identity = gateway_identity.into();
        spec.selector = parse(&link.selector);
        spec.probe_spec = ProbeSpec {
            path: link.probe.path.clone(),
            port: "4191".into(),
            period: link.probe.period.to_string(),
            timeout: link.probe.timeout.to_string(),
            failure_threshold: link.probe.failure_threshold.to_string(),
        };
    }
    Link {
        metadata: ObjectMeta::named(MC_NAMESPACE, &link.name),
        spec,
        ..Link::default()
    }
    .with_defaults()
}

/// Every object cluster `cluster` starts with (beyond the API server's own namespaces).
pub fn initial_objects(
    scenario: &Scenario,
    cluster: usize,
    gateway_ips: &[String],
    gateway_identity: &dyn Fn(usize) -> String,
) -> Vec<Object> {
    let me = &scenario.clusters[cluster];
    let mut out = namespaces(scenario, &me.name);
    out.extend(workloads(scenario, &me.name));
    if me.gateway {
        out.push(gateway_service(gateway_identity(cluster)));
    }

    // Links in this (source) cluster made at the start, with their credentials; later ones
    // are applied by a `link` action.
    for l in scenario
        .links
        .iter()
        .filter(|l| l.from == me.name && l.at.is_zero())
    {
        let target = scenario
            .clusters
            .iter()
            .position(|c| c.name == l.to)
            .unwrap_or(0);
        out.extend(link_objects(
            scenario,
            l,
            &gateway_ips[target],
            &gateway_identity(target),
        ));
    }
    out
}

/// The ServiceAccounts cluster `me` starts with, as (namespace, name): the serviceaccount
/// controller's `default` in each of `namespaces` (every namespace the API server holds once
/// seeded), and each one a scenario workload's pods run as (`service_account`, by default the
/// workload's name), as the workload's chart would create it.
pub fn service_accounts<'a>(
    scenario: &'a Scenario,
    me: &str,
    namespaces: impl IntoIterator<Item = &'a str>,
) -> BTreeSet<(String, String)> {
    let mut out: BTreeSet<(String, String)> = namespaces
        .into_iter()
        .map(|ns| (ns.to_string(), "default".to_string()))
        .collect();
    let pods = (scenario.services.iter())
        .filter(|s| s.cluster == me && s.replicas > 0)
        .map(|s| (&s.namespace, &s.service_account));
    let sets = (scenario.statefulsets.iter())
        .filter(|s| s.cluster == me)
        .map(|s| (&s.namespace, &s.service_account));
    let deployments = (scenario.deployments.iter())
        .filter(|d| d.cluster == me)
        .map(|d| (&d.namespace, &d.service_account));
    for (ns, sa) in pods.chain(sets).chain(deployments) {
        out.insert((ns.clone(), sa.clone()));
    }
    out
}

/// A ServiceAccount (an opaque object: mcsim does not model tokens).
pub fn service_account(
    namespace: &str,
    name: &str,
    discovery: &crate::k8s::discovery::Discovery,
) -> Result<Object, String> {
    let value = serde_json::json!({
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": name, "namespace": namespace},
    });
    Object::from_json_value_in(value, discovery)
}

/// The namespaces cluster `me` needs beyond Kubernetes' own: Linkerd's two and every one the
/// scenario puts something in.
fn namespaces(scenario: &Scenario, me: &str) -> Vec<Object> {
    let mut out: Vec<Object> = Vec::new();
    let mut namespaces: BTreeSet<String> = BTreeSet::new();
    namespaces.insert(MC_NAMESPACE.into());
    namespaces.insert(LINKERD_NAMESPACE.into());
    for n in scenario.namespaces.iter().filter(|n| n.cluster == me) {
        namespaces.insert(n.name.clone());
    }
    for s in scenario.services.iter().filter(|s| s.cluster == me) {
        namespaces.insert(s.namespace.clone());
    }
    for s in scenario.statefulsets.iter().filter(|s| s.cluster == me) {
        namespaces.insert(s.namespace.clone());
    }
    for d in scenario.deployments.iter().filter(|d| d.cluster == me) {
        namespaces.insert(d.namespace.clone());
    }
    for ns in &namespaces {
        if !matches!(ns.as_str(), "default" | "kube-system" | "kube-public") {
            out.push(Namespace::new(ns).into());
        }
    }

    out
}

/// The scenario's Services, StatefulSets and Deployments of cluster `me`.
fn workloads(scenario: &Scenario, me: &str) -> Vec<Object> {
    let mut out: Vec<Object> = Vec::new();
    for s in scenario.services.iter().filter(|s| s.cluster == me) {
        let mut spec = ServiceSpec {
            ports: service_ports(&s.ports),
            ..ServiceSpec::default()
        };
        spec.selector.insert("app".into(), s.name.clone());
        if s.headless {
            spec.cluster_ip = "None".into();
        }
        let mut m = meta(
            &s.namespace,
            &s.name,
            export_labels(s.export, s.federated, &s.labels),
        );
        m.annotations = s.annotations.clone();
        out.push(
            Service {
                metadata: m,
                spec,
                ..Service::default()
            }
            .into(),
        );
        if s.replicas > 0 {
            let app_labels = BTreeMap::from([("app".to_string(), s.name.clone())]);
            out.push(
                Deployment {
                    metadata: meta(&s.namespace, &s.name, app_labels),
                    spec: DeploymentSpec {
                        replicas: s.replicas as i32,
                        selector: app_selector(&s.name),
                        template: pod_template(
                            &s.name,
                            &s.service_account,
                            &s.ports,
                            &BTreeMap::new(),
                        ),
                    },
                    ..Deployment::default()
                }
                .into(),
            );
        }
    }
    for s in scenario.statefulsets.iter().filter(|s| s.cluster == me) {
        let mut spec = ServiceSpec {
            ports: service_ports(&s.ports),
            cluster_ip: "None".into(),
            ..ServiceSpec::default()
        };
        spec.selector.insert("app".into(), s.name.clone());
        out.push(
            Service {
                metadata: meta(
                    &s.namespace,
                    &s.service,
                    export_labels(s.export, false, &s.labels),
                ),
                spec,
                ..Service::default()
            }
            .into(),
        );
        out.push(
            StatefulSet {
                metadata: meta(
                    &s.namespace,
                    &s.name,
                    BTreeMap::from([("app".to_string(), s.name.clone())]),
                ),
                spec: StatefulSetSpec {
                    replicas: s.replicas as i32,
                    service_name: s.service.clone(),
                    selector: app_selector(&s.name),
                    template: pod_template(&s.name, &s.service_account, &s.ports, &BTreeMap::new()),
                    ..StatefulSetSpec::default()
                },
                ..StatefulSet::default()
            }
            .into(),
        );
    }
    for d in scenario.deployments.iter().filter(|d| d.cluster == me) {
        out.push(
            Deployment {
                metadata: meta(
                    &d.namespace,
                    &d.name,
                    BTreeMap::from([("app".to_string(), d.name.clone())]),
                ),
                spec: DeploymentSpec {
                    replicas: d.replicas as i32,
                    selector: app_selector(&d.name),
                    template: pod_template(&d.name, &d.service_account, &[], &d.labels),
                },
                ..Deployment::default()
            }
            .into(),
        );
    }
    out
}

/// The gateway Service (LoadBalancer with the gateway address as its ingress).
fn gateway_service(identity: String) -> Object {
    let mut m = meta(
        MC_NAMESPACE,
        "linkerd-gateway",
        BTreeMap::from([("app".into(), "linkerd-gateway".into())]),
    );
    m.annotations
        .insert("mirror.linkerd.io/gateway-identity".into(), identity);
    m.annotations
        .insert("mirror.linkerd.io/probe-period".into(), "3".into());
    m.annotations
        .insert("mirror.linkerd.io/probe-path".into(), "/ready".into());
    m.annotations.insert(
        "mirror.linkerd.io/multicluster-gateway".into(),
        "true".into(),
    );
    let port = |name: &str, p: i32| ServicePort {
        name: name.into(),
        port: p,
        target_port: Some(IntOrString::Int(p)),
        ..ServicePort::default()
    };
    let mut spec = ServiceSpec {
        type_: ServiceType::LoadBalancer,
        ports: vec![port("mc-gateway", 4143), port("mc-probe", 4191)],
        ..ServiceSpec::default()
    };
    spec.selector.insert("app".into(), "linkerd-gateway".into());
    Service {
        metadata: m,
        spec,
        ..Service::default()
    }
    .into()
}

/// What `linkerd multicluster link-gen` emits for link `l`, in `kubectl apply` order (spec
/// §2.3): the credentials Secret for the service mirror and its copy for the destination
/// controller (unless the scenario withholds credentials), the probe Service of a gateway
/// link, and the Link.
pub fn link_objects(
    scenario: &Scenario,
    l: &ScenarioLink,
    gateway_ip: &str,
    gateway_identity: &str,
) -> Vec<Object> {
    let mut out: Vec<Object> = Vec::new();
    let link = link_object(scenario, l, gateway_ip, gateway_identity);
    let mut secret = Secret {
        metadata: ObjectMeta::named(MC_NAMESPACE, &link.spec.cluster_credentials_secret),
        ..Secret::default()
    };
    secret.type_ = "mirror.linkerd.io/remote-kubeconfig".into();
    secret
        .string_data
        .insert("kubeconfig".into(), kubeconfig(&l.to));
    if l.credentials {
        // The same kubeconfig for the destination controller (remote discovery), labelled
        // with the target's name and annotated with its trust and cluster domains.
        let mut for_destination = secret.clone();
        for_destination.metadata =
            ObjectMeta::named(LINKERD_NAMESPACE, &link.spec.cluster_credentials_secret);
        for_destination.metadata.labels.insert(
            LABEL_CREDENTIALS_CLUSTER.into(),
            link.spec.target_cluster_name.clone(),
        );
        let ann = &mut for_destination.metadata.annotations;
        ann.insert(
            ANN_CREDENTIALS_TRUST_DOMAIN.into(),
            scenario.linkerd.trust_domain.clone(),
        );
        ann.insert(
            ANN_CREDENTIALS_CLUSTER_DOMAIN.into(),
            link.spec.target_cluster_domain.clone(),
        );
        out.push(secret.into());
        out.push(for_destination.into());
    }
    if l.gateway {
        // The chart's selector-less probe Service, whose Endpoints the controller writes.
        let mut m = meta(MC_NAMESPACE, &format!("probe-{}", l.name), BTreeMap::new());
        m.labels
            .insert("mirror.linkerd.io/mirrored-gateway".into(), "true".into());
        m.labels
            .insert("mirror.linkerd.io/cluster-name".into(), l.name.clone());
        let port = ServicePort {
            name: "mc-probe".into(),
            port: 4191,
            target_port: Some(IntOrString::Int(4191)),
            ..ServicePort::default()
        };
        out.push(
            Service {
                metadata: m,
                spec: ServiceSpec {
                    ports: vec![port],
                    ..ServiceSpec::default()
                },
                ..Service::default()
            }
            .into(),
        );
    }
    out.push(link.into());
    out
}
