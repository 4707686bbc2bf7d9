//! Parsing and validation: TOML text → [`schema::File`] → [`model::Scenario`], one table kind
//! per file (`topology`, `links`, `workloads`, `script`, `faults`, `options`).
//! Syntax, type and unknown-key errors come from toml with their spans; cross-reference and
//! consistency errors are collected here, every one with the span of the offending value.

mod faults;
mod links;
mod options;
mod script;
mod topology;
mod workloads;

use super::diag::{Diagnostic, Diagnostics, SourceMap};
use super::fault::*;
use super::model::*;
use super::schema::{self, ExportField, ExportMode, Name};
use crate::defaults;
use crate::quirks::Fix;
use crate::sim::SimDuration;
use std::collections::BTreeSet;
use std::path::Path;
use toml::Spanned;

/// Names of the checks a scenario can expect to fail.
pub const CHECK_NAMES: &[&str] = &[
    "safety.foreign-writes",
    "safety.untrusted-accept",
    "safety.wrong-pod",
    "safety.unexported-mirror",
    "convergence",
    "failure-domains",
    "headless-dns",
    "faults-fired",
    "availability",
    "link-status",
    "write-amplification",
    "watcher-restarts",
    "gateway-readiness",
    "mirror-stability",
];

/// Reads and validates a scenario file.
pub fn load_file(path: &Path) -> Result<Scenario, Diagnostics> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        Diagnostics(vec![Diagnostic {
            file: file.clone(),
            line: 1,
            column: 1,
            message: format!("cannot read the scenario: {e}"),
        }])
    })?;
    load_str(&file, &text)
}

/// Parses and validates scenario text; `file` is used in diagnostics, and `[[manifest]]` paths
/// are read relative to its directory.
pub fn load_str(file: &str, text: &str) -> Result<Scenario, Diagnostics> {
    let map = SourceMap { file, text };
    let raw: schema::File = match toml::from_str(text) {
        Ok(raw) => raw,
        Err(e) => {
            let mut message = e.message().trim_end().replace('\n', " ");
            if let Some(hint) = unknown_key_hint(&message) {
                message.push_str(&hint);
            }
            return Err(Diagnostics(vec![map.at(e.span(), message)]));
        }
    };
    let mut v = Validator {
        map: &map,
        diags: Vec::new(),
    };
    let scenario = v.convert(raw, file);
    if v.diags.is_empty() {
        Ok(scenario)
    } else {
        v.diags.sort_by_key(|d| (d.line, d.column));
        Err(Diagnostics(v.diags))
    }
}

/// "; did you mean `x`?" for serde's "unknown field `y`, expected one of `a`, `b`" (or
/// "unknown variant").
fn unknown_key_hint(message: &str) -> Option<String> {
    let rest = message
        .strip_prefix("unknown field `")
        .or_else(|| message.strip_prefix("unknown variant `"))?;
    let (word, expected) = rest.split_once('`')?;
    let candidates: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    super::diag::did_you_mean(word, candidates).map(|c| format!("; did you mean `{c}`?"))
}

struct Validator<'a> {
    map: &'a SourceMap<'a>,
    diags: Vec<Diagnostic>,
}

/// The cluster and network names a scenario declares; every reference must name one.
struct Names {
    clusters: BTreeSet<String>,
    networks: BTreeSet<String>,
}

fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

impl Validator<'_> {
    fn error<T>(&mut self, spanned: &Spanned<T>, message: impl Into<String>) {
        self.diags.push(self.map.at(Some(spanned.span()), message));
    }

    /// A scheduled time must fall inside the run: something due at or after the end of the run
    /// would never happen, and a run that silently skips it tests less than it claims.
    fn before_end(&mut self, at: &Spanned<super::values::Dur>, end: SimDuration, what: &str) {
        let at_value = at.get_ref().0;
        if !end.is_zero() && at_value >= end {
            self.error(
                at,
                format!(
                    "expected {what} before the end of the run ([sim] duration = {end}), found {at_value}: the run would end before it could have any effect"
                ),
            );
        }
    }

    /// Reads and parses a `[[manifest]]` file: an unreadable file is blamed on the scenario's
    /// `path`, a parse error on the manifest's own line and column.
    fn manifest_objects(
        &mut self,
        at: &Spanned<String>,
        path: &Path,
        discovery: &mut crate::k8s::discovery::Discovery,
        target: &crate::k8s::manifest::ApplyTarget,
    ) -> Vec<crate::k8s::manifest::Located> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                self.error(
                    at,
                    format!(
                        "expected a readable manifest file, cannot read {}: {e}",
                        path.display()
                    ),
                );
                return Vec::new();
            }
        };
        match crate::k8s::manifest::load_for_apply(&text, discovery, target) {
            Ok(objects) => objects,
            Err(errors) => {
                for e in errors {
                    self.diags.push(Diagnostic {
                        file: path.display().to_string(),
                        line: e.line.unwrap_or(1),
                        column: e.column.unwrap_or(1),
                        message: format!("document {}: {}", e.document, e.message),
                    });
                }
                Vec::new()
            }
        }
    }

    /// A fault kind of `[fuzz] faults`: one the swarm draws.
    fn swarm_fault(&mut self, name: &Name) -> Option<FaultTag> {
        let Some(tag) = FaultTag::from_name(name.get_ref()) else {
            self.error(
                name,
                format!(
                    "unknown fault kind \"{}\" (known: {})",
                    name.get_ref(),
                    FaultTag::names()
                ),
            );
            return None;
        };
        if !tag.swarm_draws() {
            let drawn: Vec<&str> = (FaultTag::ALL.iter())
                .filter(|t| t.swarm_draws())
                .map(|t| t.name())
                .collect();
            self.error(
                name,
                format!(
                    "the fuzzer's swarm does not draw {tag} faults (it draws: {})",
                    drawn.join(", ")
                ),
            );
            return None;
        }
        Some(tag)
    }

    fn fix(&mut self, name: &Name) -> Option<Fix> {
        let fix = Fix::from_name(name.get_ref());
        if fix.is_none() {
            self.error(
                name,
                format!(
                    "unknown fix \"{}\" (known fixes: {})",
                    name.get_ref(),
                    Fix::names()
                ),
            );
        }
        fix
    }

    fn label(&mut self, name: &Name, what: &str) -> String {
        if !is_dns_label(name.get_ref()) {
            self.error(
                name,
                format!(
                    "expected a {what} name made of lowercase letters, digits and '-' (at most 63 characters), found \"{}\"",
                    name.get_ref()
                ),
            );
        }
        name.get_ref().clone()
    }

    fn cluster_ref(&mut self, name: &Name, clusters: &BTreeSet<String>) -> String {
        if !clusters.contains(name.get_ref()) {
            let known: Vec<&str> = clusters.iter().map(String::as_str).collect();
            let hint = super::diag::did_you_mean(name.get_ref(), known.iter().copied())
                .map(|c| format!("; did you mean \"{c}\"?"))
                .unwrap_or_default();
            self.error(
                name,
                format!(
                    "unknown cluster \"{}\" (expected one of: {}){hint}",
                    name.get_ref(),
                    known.join(", ")
                ),
            );
        }
        name.get_ref().clone()
    }

    fn unique(&mut self, seen: &mut BTreeSet<String>, key: String, at: &Name, what: &str) {
        if !seen.insert(key) {
            self.error(at, format!("duplicate {what} \"{}\"", at.get_ref()));
        }
    }

    fn namespace(&mut self, ns: &Option<Name>) -> String {
        match ns {
            Some(n) => self.label(n, "namespace"),
            None => defaults::NAMESPACE.to_string(),
        }
    }

    fn ports(&mut self, ports: &[schema::Port], at: &Name) -> Vec<PortSpec> {
        let mut names = BTreeSet::new();
        let mut out = Vec::new();
        for p in ports {
            if let Some(n) = &p.name
                && !names.insert(n.clone())
            {
                self.error(
                    at,
                    format!("duplicate port name \"{n}\" in \"{}\"", at.get_ref()),
                );
            }
            if ports.len() > 1 && p.name.is_none() {
                self.error(
                    at,
                    format!(
                        "\"{}\" has several ports, so every port needs a name",
                        at.get_ref()
                    ),
                );
            }
            let protocol = p.protocol.clone().unwrap_or_else(|| "TCP".into());
            if !matches!(protocol.as_str(), "TCP" | "UDP" | "SCTP") {
                self.error(
                    at,
                    format!("expected port protocol TCP, UDP or SCTP, found \"{protocol}\""),
                );
            }
            if p.port == 0 {
                self.error(
                    at,
                    format!("port 0 is not a valid service port in \"{}\"", at.get_ref()),
                );
            }
            out.push(PortSpec {
                name: p.name.clone(),
                port: p.port,
                target_port: p.target_port.unwrap_or(p.port),
                protocol,
            });
        }
        out
    }

    fn export(field: Option<ExportField>) -> Export {
        match field {
            None | Some(ExportField::Flag(false)) => Export::None,
            Some(ExportField::Flag(true)) | Some(ExportField::Mode(ExportMode::Gateway)) => {
                Export::Gateway
            }
            Some(ExportField::Mode(ExportMode::RemoteDiscovery)) => Export::RemoteDiscovery,
        }
    }

    fn endpoint_ref(
        &mut self,
        name: &Name,
        clusters: &BTreeSet<String>,
        networks: &BTreeSet<String>,
    ) -> String {
        if !clusters.contains(name.get_ref()) && !networks.contains(name.get_ref()) {
            self.error(
                name,
                format!("unknown cluster or network \"{}\"", name.get_ref()),
            );
        }
        name.get_ref().clone()
    }

    fn pair(
        &mut self,
        between: &[Name],
        at: &Name,
        clusters: &BTreeSet<String>,
        networks: &BTreeSet<String>,
    ) -> (String, String) {
        if between.len() != 2 {
            self.error(
                at,
                format!(
                    "expected exactly two cluster or network names in `between`, found {}",
                    between.len()
                ),
            );
            return (String::new(), String::new());
        }
        let a = self.endpoint_ref(&between[0], clusters, networks);
        let b = self.endpoint_ref(&between[1], clusters, networks);
        if a == b {
            self.error(
                &between[1],
                format!("a path needs two different ends, found \"{a}\" twice"),
            );
        }
        (a, b)
    }

    fn convert(&mut self, raw: schema::File, source: &str) -> Scenario {
        let schema::File {
            sim,
            linkerd,
            clusters,
            networks,
            paths,
            flat_networks,
            links,
            namespaces,
            services,
            statefulsets,
            deployments,
            manifests,
            traffic,
            faults,
            actions,
            checks,
            expect,
            fuzz,
            testing,
        } = raw;
        // Clusters and networks first: everything else refers to them.
        let names = self.names(&clusters, &networks);
        let clusters = self.clusters(&clusters, &names);
        let duration = sim.duration.0;
        if duration.is_zero() {
            // No span for the value itself is kept; point at the start of [sim].
            self.diags.push(
                self.map
                    .at(Some(0..0), "expected [sim] duration greater than zero"),
            );
        }
        let linkerd_raw = linkerd.unwrap_or_default();
        let fixes = linkerd_raw
            .fixes
            .iter()
            .filter_map(|f| self.fix(f))
            .collect();
        let paths = self.paths(&paths, &names);
        let flat_networks = self.flat_networks(&flat_networks, &names);
        let links = self.links(&links, &names, &clusters, duration);
        let workloads = self.workloads(
            workloads::RawWorkloads {
                namespaces: &namespaces,
                services: &services,
                statefulsets: &statefulsets,
                deployments: &deployments,
                manifests: &manifests,
            },
            &names,
        );
        let traffic = self.traffic(&traffic, &names, duration);
        let faults = self.faults(&faults, &names, &links, duration);
        let actions = self.actions(&actions, &names, &links, duration);
        let options = self.options(options::RawOptions {
            sim: &sim,
            checks,
            expect,
            fuzz,
            testing,
        });
        Scenario {
            name: sim.name,
            source: source.to_string(),
            seed: sim.seed,
            duration,
            quiet_period: sim.quiet_period.map_or(defaults::QUIET_PERIOD, |d| d.0),
            events_max: sim.events_max.unwrap_or(defaults::EVENTS_MAX),
            exploration: options.exploration,
            decisions: options.decisions,
            linkerd: LinkerdOptions {
                fixes,
                trust_domain: linkerd_raw
                    .trust_domain
                    .unwrap_or_else(|| defaults::TRUST_DOMAIN.into()),
            },
            clusters,
            networks: names.networks.into_iter().collect(),
            paths,
            flat_networks,
            links,
            namespaces: workloads.namespaces,
            services: workloads.services,
            statefulsets: workloads.statefulsets,
            deployments: workloads.deployments,
            manifests: workloads.manifests,
            traffic,
            faults,
            actions,
            checks: options.checks,
            expect: options.expect,
            fuzz: options.fuzz,
            breakages: options.breakages,
        }
    }
}
