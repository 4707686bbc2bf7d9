//! `mcsim import`: a starting scenario from cluster snapshots (`kubectl get ... -A -o yaml`, one
//! per cluster) and Link manifests (`linkerd multicluster link-gen` output).
//!
//! Owns: what a snapshot says about the scenario around it. Each cluster gets its snapshot, its
//! pod network and service range (the smallest block, at most a /16, holding its pods' IPs and
//! its Services' ClusterIPs, so the restore keeps them). Each Link (from a `--link` file or a
//! snapshot, which is how a `--dump` holds it) becomes a `[[link]]` from the cluster it is
//! applied to, to the cluster its `targetClusterName` names, with its selectors, exclusions and
//! probe. Each Service of a target that a link's selectors export gets one traffic flow from the
//! link's source cluster to its mirror, when the mirror's namespace exists there (the service
//! mirror does not create namespaces); the header comment lists the exported services and why
//! any has no flow.
//!
//! The text is written by loading it through [`super::load_str`] (the snapshots are read and
//! validated as `mcsim run` reads them) and saving it with [`super::save_with`], paths as given
//! (relative to the directory the scenario is written in). Importing the `--dump` of a run of an
//! imported scenario gives the same text: everything here is derived from what the restore keeps
//! and the service mirror does not change (the mesh's run-time state is left out).
//! Must not touch: the files it reads.

use super::load_str;
use super::save::{Paths, save_with};
use crate::k8s::discovery::Discovery;
use crate::k8s::manifest::{ApplyTarget, Located, load_for_apply};
use crate::k8s::objects::{Kind, Link, Object};
use crate::k8s::snapshot::is_mesh_state;
use crate::k8s::validation::Ipv4Cidr;
use crate::sim::SimDuration;
use std::collections::BTreeSet;
use std::fmt::Write;
use std::net::Ipv4Addr;
use std::path::PathBuf;

/// What to import.
#[derive(Clone, Debug, Default)]
pub struct Import {
    /// `[sim] name`.
    pub name: String,
    /// Cluster name and snapshot file, in scenario order.
    pub clusters: Vec<(String, PathBuf)>,
    /// Link manifests and the cluster each is applied to (`None`: the one cluster that is not
    /// the Link's target, when there are two).
    pub links: Vec<(Option<String>, PathBuf)>,
}

/// The namespaces every API server starts with.
const BUILTIN_NAMESPACES: &[&str] = &["default", "kube-system", "kube-public", "kube-node-lease"];
/// Run time of the imported scenario.
const DURATION: &str = "5m";
/// Rate of each imported traffic flow.
const RATE: &str = "1/s";

struct Cluster {
    name: String,
    path: PathBuf,
    objects: Vec<Located>,
}

/// A Link and the cluster it is applied to.
struct FoundLink {
    from: String,
    to: String,
    link: Link,
}

fn read(path: &PathBuf, errors: &mut Vec<String>) -> Vec<Located> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            errors.push(format!("{}:1:1: cannot read it: {e}", path.display()));
            return vec![];
        }
    };
    match load_for_apply(&text, &mut Discovery::new(), &ApplyTarget::default()) {
        Ok(objects) => objects,
        Err(es) => {
            for e in es {
                errors.push(format!(
                    "{}:{}:{}: document {}: {}",
                    path.display(),
                    e.line.unwrap_or(1),
                    e.column.unwrap_or(1),
                    e.document,
                    e.message
                ));
            }
            vec![]
        }
    }
}

/// The smallest block of at most 2^16 addresses (a /16 at most) holding every address, `None`
/// without addresses.
fn block(ips: &[Ipv4Addr]) -> Option<Ipv4Cidr> {
    let first = u32::from(*ips.first()?);
    let differing = ips
        .iter()
        .fold(0u32, |acc, ip| acc | (u32::from(*ip) ^ first));
    let common = differing.leading_zeros().min(16);
    Ipv4Cidr::parse(&format!("{}/{common}", Ipv4Addr::from(first))).ok()
}

fn pod_ips(objects: &[Located]) -> Vec<Ipv4Addr> {
    (objects.iter())
        .filter_map(|l| l.object.as_pod())
        .filter(|p| !p.spec.host_network)
        .filter_map(|p| p.status.pod_ip.parse().ok())
        .collect()
}

fn cluster_ips(objects: &[Located]) -> Vec<Ipv4Addr> {
    (objects.iter())
        .filter(|l| !is_mesh_state(&l.object))
        .filter_map(|l| l.object.as_service())
        .filter_map(|s| s.spec.cluster_ip.parse().ok())
        .collect()
}

fn quote(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// Writes the scenario, or every problem found as `file:line:col: message`.
pub fn import(input: &Import) -> Result<String, Vec<String>> {
    let mut errors = vec![];
    let clusters: Vec<Cluster> = (input.clusters.iter())
        .map(|(name, path)| Cluster {
            name: name.clone(),
            path: path.clone(),
            objects: read(path, &mut errors),
        })
        .collect();
    let names: Vec<&str> = clusters.iter().map(|c| c.name.as_str()).collect();
    let mut links: Vec<FoundLink> = vec![];
    let mut add_link = |from: Option<&str>,
                        path: &PathBuf,
                        l: &Located,
                        errors: &mut Vec<String>| {
        let Some(link) = l.object.as_link() else {
            return;
        };
        let at = format!("{}:{}:{}", path.display(), l.line, l.column);
        let target = &link.spec.target_cluster_name;
        if !names.contains(&target.as_str()) {
            errors.push(format!(
                "{at}: Link {}: targetClusterName \"{target}\" names no --cluster (expected one of: {})",
                link.metadata.name,
                names.join(", ")
            ));
            return;
        }
        let others: Vec<&&str> = names.iter().filter(|n| **n != target).collect();
        let from = match (from, others.as_slice()) {
            (Some(f), _) => f.to_string(),
            (None, [only]) => only.to_string(),
            (None, _) => {
                errors.push(format!(
                    "{at}: Link {}: expected --link CLUSTER={} naming the cluster it is applied to",
                    link.metadata.name,
                    path.display()
                ));
                return;
            }
        };
        if !names.contains(&from.as_str()) || from == *target {
            errors.push(format!(
                "{at}: Link {}: applied to \"{from}\", expected another --cluster than its target \"{target}\"",
                link.metadata.name
            ));
            return;
        }
        if !links
            .iter()
            .any(|f| f.from == from && f.link.metadata.name == link.metadata.name)
        {
            links.push(FoundLink {
                from,
                to: target.clone(),
                link: link.clone(),
            });
        }
    };
    for c in &clusters {
        for l in &c.objects {
            add_link(Some(&c.name), &c.path, l, &mut errors);
        }
    }
    for (cluster, path) in &input.links {
        if let Some(c) = cluster
            && !names.contains(&c.as_str())
        {
            errors.push(format!(
                "{}:1:1: --link {c}=...: \"{c}\" is no --cluster (expected one of: {})",
                path.display(),
                names.join(", ")
            ));
            continue;
        }
        for l in read(path, &mut errors) {
            add_link(cluster.as_deref(), path, &l, &mut errors);
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    links.sort_by(|a, b| (&a.from, &a.link.metadata.name).cmp(&(&b.from, &b.link.metadata.name)));

    let mut toml = format!(
        "[sim]\nname = {}\nduration = \"{DURATION}\"\n",
        quote(&input.name)
    );
    for c in &clusters {
        let _ = writeln!(toml, "[[cluster]]\nname = {}", quote(&c.name));
        let _ = writeln!(toml, "snapshot = {}", quote(&c.path.display().to_string()));
        if let Some(b) = block(&pod_ips(&c.objects)) {
            let _ = writeln!(toml, "pod_cidr = \"{b}\"");
        }
        if let Some(b) = block(&cluster_ips(&c.objects)) {
            let _ = writeln!(toml, "service_cidr = \"{}\"", b);
        }
    }
    let mut header = String::from(
        "# A starting scenario written by `mcsim import`: each cluster from its snapshot, each Link\n# as a [[link]], one traffic flow to the mirror of each exported service.\n",
    );
    let mut flows = String::new();
    for f in &links {
        toml.push_str(&link_toml(f).map_err(|e| vec![e])?);
        let exported = exported(&clusters, f);
        let source = clusters.iter().find(|c| c.name == f.from);
        let namespaces: BTreeSet<&str> = (source.iter().flat_map(|c| &c.objects))
            .filter(|l| l.object.kind() == Kind::Namespace)
            .map(|l| l.object.name())
            .chain(BUILTIN_NAMESPACES.iter().copied())
            .collect();
        let _ = writeln!(
            header,
            "#\n# Link {} ({} -> {}): {} exported service(s)",
            f.link.metadata.name,
            f.from,
            f.to,
            exported.len()
        );
        for (ns, name, port) in exported {
            let mirror = format!("{name}-{}", f.link.metadata.name);
            if !namespaces.contains(ns.as_str()) {
                let _ = writeln!(
                    header,
                    "#   {ns}/{name}: no flow, namespace {ns} does not exist in {} (the service mirror skips it)",
                    f.from
                );
                continue;
            }
            let _ = writeln!(header, "#   {ns}/{name} -> {mirror}.{ns}:{port}");
            let _ = writeln!(
                flows,
                "[[traffic]]\nfrom = {}\nto = \"{mirror}.{ns}.svc.cluster.local:{port}\"\nrate = \"{RATE}\"",
                quote(&f.from)
            );
        }
    }
    toml.push_str(&flows);
    let scenario = load_str("", &toml).map_err(|d| vec![d.to_string()])?;
    let text = save_with(&scenario, Paths::AsGiven).map_err(|e| vec![e])?;
    Ok(format!("{header}\n{text}"))
}

/// The `[[link]]` of a Link.
fn link_toml(f: &FoundLink) -> Result<String, String> {
    let s = &f.link.spec;
    let mut t = format!(
        "[[link]]\nfrom = {}\nto = {}\nname = {}\n",
        quote(&f.from),
        quote(&f.to),
        quote(&f.link.metadata.name)
    );
    let gateway = !s.gateway_address.is_empty();
    if !gateway {
        t.push_str("gateway = false\n");
    }
    let selector = |key: &str, sel: &Option<crate::k8s::LabelSelector>| match sel {
        Some(sel) => format!("{key} = {}\n", quote(&sel.to_string())),
        None => String::new(),
    };
    t.push_str(&selector("selector", &s.selector));
    t.push_str(&selector(
        "remote_discovery_selector",
        &s.remote_discovery_selector,
    ));
    t.push_str(&selector(
        "federated_selector",
        &s.federated_service_selector,
    ));
    let list = |v: &[String]| v.iter().map(|x| quote(x)).collect::<Vec<_>>().join(", ");
    if !s.excluded_labels.is_empty() {
        let _ = writeln!(t, "excluded_labels = [{}]", list(&s.excluded_labels));
    }
    if !s.excluded_annotations.is_empty() {
        let _ = writeln!(
            t,
            "excluded_annotations = [{}]",
            list(&s.excluded_annotations)
        );
    }
    if gateway {
        let p = &s.probe_spec;
        let duration = |what: &str, v: &str| {
            SimDuration::parse(v).map_err(|e| {
                format!(
                    "Link {}: probeSpec.{what} \"{v}\": {e}",
                    f.link.metadata.name
                )
            })
        };
        let _ = write!(t, "probe = {{ path = {}", quote(&p.path));
        if !p.period.is_empty() {
            let _ = write!(t, ", period = \"{}\"", duration("period", &p.period)?);
        }
        if !p.timeout.is_empty() {
            let _ = write!(t, ", timeout = \"{}\"", duration("timeout", &p.timeout)?);
        }
        if let Ok(n) = p.failure_threshold.parse::<u32>() {
            let _ = write!(t, ", failure_threshold = {n}");
        }
        t.push_str(" }\n");
    }
    Ok(t)
}

/// The Services of `f`'s target its selectors export: (namespace, name, first port).
fn exported(clusters: &[Cluster], f: &FoundLink) -> Vec<(String, String, i32)> {
    let Some(target) = clusters.iter().find(|c| c.name == f.to) else {
        return vec![];
    };
    let s = &f.link.spec;
    let selects = |sel: &Option<crate::k8s::LabelSelector>, o: &Object| {
        sel.as_ref()
            .is_some_and(|sel| sel.matches(&o.meta().labels))
    };
    let gateway = !s.gateway_address.is_empty();
    let mut out: Vec<(String, String, i32)> = (target.objects.iter())
        .map(|l| &l.object)
        .filter(|o| !is_mesh_state(o))
        .filter_map(|o| {
            let svc = o.as_service()?;
            let port = svc.spec.ports.first()?.port;
            let exported =
                (gateway && selects(&s.selector, o)) || selects(&s.remote_discovery_selector, o);
            exported.then(|| (o.namespace().to_string(), o.name().to_string(), port))
        })
        .collect();
    out.sort();
    out
}
