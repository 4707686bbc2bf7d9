//! API discovery: which kinds one API server knows, at which versions and with which scope, as
//! `kubectl apply` asks before it sends anything (the REST mapping).
//!
//! Owns: the built-in kinds of Kubernetes v1.33 (every group/version/kind the vendored schema
//! lists, `schemas/README.md`; cluster-scoped ones from [`CLUSTER_SCOPED`]) and the kinds
//! CustomResourceDefinitions add ([`Discovery::learn`]). Resolution gives the modelled [`Kind`]
//! (a Link at any version the Link CRD serves), or an interned [`OpaqueKind`] for a kind the
//! server stores without mcsim modelling it, or kubectl's error for a kind nobody defined.
//! Inputs: `apiVersion` and `kind` strings, CRD objects. Outputs: kinds and error text.
//! Must not touch: objects' contents beyond a CRD's names, scope and versions.

use super::field_validation::{self, CrdValidators};
use super::objects::{Kind, Object, OpaqueKind, api_group};
use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

/// Group and kind of the CustomResourceDefinition kind itself.
pub const CRD_GROUP: &str = "apiextensions.k8s.io";
pub const CRD_KIND: &str = "CustomResourceDefinition";

/// Every built-in kind that is cluster-scoped (`kubectl api-resources --namespaced=false` on
/// Kubernetes v1.33), as (group, kind); every other built-in kind is namespaced.
pub const CLUSTER_SCOPED: &[(&str, &str)] = &[
    ("", "ComponentStatus"),
    ("", "Namespace"),
    ("", "Node"),
    ("", "PersistentVolume"),
    ("admissionregistration.k8s.io", "MutatingAdmissionPolicy"),
    (
        "admissionregistration.k8s.io",
        "MutatingAdmissionPolicyBinding",
    ),
    (
        "admissionregistration.k8s.io",
        "MutatingWebhookConfiguration",
    ),
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"),
    (
        "admissionregistration.k8s.io",
        "ValidatingAdmissionPolicyBinding",
    ),
    (
        "admissionregistration.k8s.io",
        "ValidatingWebhookConfiguration",
    ),
    ("apiextensions.k8s.io", "CustomResourceDefinition"),
    ("apiregistration.k8s.io", "APIService"),
    ("authentication.k8s.io", "SelfSubjectReview"),
    ("authentication.k8s.io", "TokenReview"),
    ("authorization.k8s.io", "SelfSubjectAccessReview"),
    ("authorization.k8s.io", "SelfSubjectRulesReview"),
    ("authorization.k8s.io", "SubjectAccessReview"),
    ("certificates.k8s.io", "CertificateSigningRequest"),
    ("certificates.k8s.io", "ClusterTrustBundle"),
    ("flowcontrol.apiserver.k8s.io", "FlowSchema"),
    ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration"),
    ("internal.apiserver.k8s.io", "StorageVersion"),
    ("networking.k8s.io", "IPAddress"),
    ("networking.k8s.io", "IngressClass"),
    ("networking.k8s.io", "ServiceCIDR"),
    ("node.k8s.io", "RuntimeClass"),
    ("rbac.authorization.k8s.io", "ClusterRole"),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
    ("resource.k8s.io", "DeviceClass"),
    ("resource.k8s.io", "DeviceTaintRule"),
    ("resource.k8s.io", "ResourceSlice"),
    ("scheduling.k8s.io", "PriorityClass"),
    ("storage.k8s.io", "CSIDriver"),
    ("storage.k8s.io", "CSINode"),
    ("storage.k8s.io", "StorageClass"),
    ("storage.k8s.io", "VolumeAttachment"),
    ("storage.k8s.io", "VolumeAttributesClass"),
    ("storagemigration.k8s.io", "StorageVersionMigration"),
];

/// The versions the Link CRD serves (`schemas/link-crd.yaml`); the last is stored.
pub const LINK_VERSIONS: [&str; 3] = [
    "multicluster.linkerd.io/v1alpha1",
    "multicluster.linkerd.io/v1alpha2",
    "multicluster.linkerd.io/v1alpha3",
];

/// One built-in kind: the versions the schema lists and where its objects live.
#[derive(Clone, Debug)]
struct BuiltinType {
    /// Full `apiVersion`s, preferred (GA before beta before alpha, newest first) first.
    versions: Vec<String>,
    namespaced: bool,
    plural: String,
}

/// Kubernetes' version priority (`v2` > `v1` > `v1beta2` > `v1beta1` > `v1alpha1`).
fn version_priority(version: &str) -> (u8, u32, u32) {
    let rest = version.strip_prefix('v').unwrap_or(version);
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    let major: u32 = digits.parse().unwrap_or(0);
    let tail = &rest[digits.len()..];
    let (stage, minor) = if let Some(m) = tail.strip_prefix("beta") {
        (1, m.parse().unwrap_or(0))
    } else if let Some(m) = tail.strip_prefix("alpha") {
        (0, m.parse().unwrap_or(0))
    } else {
        (2, 0)
    };
    (stage, major, minor)
}

/// The lowercase plural Kubernetes derives for a built-in kind (`ConfigMap` → `configmaps`,
/// `NetworkPolicy` → `networkpolicies`, `Ingress` → `ingresses`, `Endpoints` → `endpoints`).
pub fn plural_of(kind: &str) -> String {
    let lower = kind.to_ascii_lowercase();
    if lower == "endpoints" {
        return lower;
    }
    if let Some(stem) = lower.strip_suffix('y')
        && !stem.ends_with(['a', 'e', 'i', 'o', 'u'])
    {
        return format!("{stem}ies");
    }
    if lower.ends_with('s') || lower.ends_with('x') || lower.ends_with("ch") {
        return format!("{lower}es");
    }
    format!("{lower}s")
}

/// (group, kind) → the built-in kind, from the vendored schema's group/version/kind lists.
fn builtins() -> &'static BTreeMap<(String, String), BuiltinType> {
    static BUILTINS: OnceLock<BTreeMap<(String, String), BuiltinType>> = OnceLock::new();
    BUILTINS.get_or_init(|| {
        let mut out: BTreeMap<(String, String), BuiltinType> = BTreeMap::new();
        for (group, version, kind) in field_validation::builtin_kinds() {
            let api_version = if group.is_empty() {
                version.clone()
            } else {
                format!("{group}/{version}")
            };
            let namespaced = !CLUSTER_SCOPED.contains(&(group.as_str(), kind.as_str()));
            let entry = out
                .entry((group.clone(), kind.clone()))
                .or_insert_with(|| BuiltinType {
                    versions: Vec::new(),
                    namespaced,
                    plural: plural_of(&kind),
                });
            entry.versions.push(api_version);
        }
        for t in out.values_mut() {
            t.versions.sort_by(|a, b| {
                let va = a.rsplit('/').next().unwrap_or(a);
                let vb = b.rsplit('/').next().unwrap_or(b);
                version_priority(vb).cmp(&version_priority(va))
            });
        }
        out
    })
}

/// A kind a CustomResourceDefinition defines.
#[derive(Clone, Debug)]
struct CrdType {
    plural: String,
    namespaced: bool,
    /// Served `apiVersion`s; the storage version first.
    versions: Vec<String>,
    /// The CRD's schemas, per served version, compiled.
    validators: Arc<CrdValidators>,
}

/// The kinds one API server (or one `kubectl apply` against it) knows: the built-ins plus those
/// of the CRDs created so far. Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct Discovery {
    crds: BTreeMap<(String, String), CrdType>,
}

impl Discovery {
    /// The built-in kinds only (no CRD installed yet).
    pub fn new() -> Discovery {
        Discovery::default()
    }

    /// The kind `apiVersion`/`kind` names, or kubectl's error when the server does not serve
    /// that kind at that version.
    pub fn resolve(&self, api_version: &str, kind: &str) -> Result<Kind, String> {
        if let Some(k) = Kind::from_type(api_version, kind) {
            return Ok(k);
        }
        if kind == Kind::Link.as_str() && LINK_VERSIONS.contains(&api_version) {
            return Ok(Kind::Link);
        }
        let group = api_group(api_version);
        let key = (group.to_string(), kind.to_string());
        let modelled = Kind::ALL
            .into_iter()
            .any(|k| k.as_str() == kind && k.group() == group);
        if !modelled {
            if let Some(b) = builtins().get(&key)
                && b.versions.iter().any(|v| v == api_version)
            {
                return Ok(Kind::Opaque(OpaqueKind::intern(
                    &b.versions[0],
                    kind,
                    &b.plural,
                    b.namespaced,
                )));
            }
            if let Some(c) = self.crds.get(&key)
                && c.versions.iter().any(|v| v == api_version)
            {
                return Ok(Kind::Opaque(OpaqueKind::intern(
                    &c.versions[0],
                    kind,
                    &c.plural,
                    c.namespaced,
                )));
            }
        }
        Err(format!(
            "no matches for kind \"{kind}\" in version \"{api_version}\" (ensure CRDs are installed first)"
        ))
    }

    /// Whether `kind` (an opaque kind) is served: built in, or its CRD was created.
    pub fn serves(&self, kind: Kind) -> bool {
        match kind {
            Kind::Opaque(o) => {
                let key = (o.group().to_string(), o.kind().to_string());
                builtins()
                    .get(&key)
                    .is_some_and(|b| b.namespaced == o.namespaced())
                    || self
                        .crds
                        .get(&key)
                        .is_some_and(|c| c.namespaced == o.namespaced())
            }
            _ => true,
        }
    }

    /// The compiled schema of a CRD-defined kind at `api_version`, if the CRD gave one.
    pub fn crd_validators(&self, api_version: &str, kind: &str) -> Option<&CrdValidators> {
        self.crds
            .get(&(api_group(api_version).to_string(), kind.to_string()))
            .map(|c| &*c.validators)
    }

    /// Registers the kind `obj` defines if it is a CustomResourceDefinition; returns whether it
    /// was one. A CRD of a modelled or built-in kind changes nothing (the built-in wins, as
    /// for a real server, which refuses such a CRD's names).
    pub fn learn(&mut self, obj: &Object) -> bool {
        let Some(crd) = obj.as_opaque() else {
            return false;
        };
        if crd.kind.group() != CRD_GROUP || crd.kind.kind() != CRD_KIND {
            return false;
        }
        let text = |v: Option<&serde_json::Value>| {
            v.and_then(|v| v.as_str()).unwrap_or_default().to_string()
        };
        let spec = crd.content.get("spec");
        let group = text(spec.and_then(|s| s.get("group")));
        let names = spec.and_then(|s| s.get("names"));
        let kind = text(names.and_then(|n| n.get("kind")));
        let plural = text(names.and_then(|n| n.get("plural")));
        let namespaced = text(spec.and_then(|s| s.get("scope"))) != "Cluster";
        if group.is_empty() || kind.is_empty() {
            return false;
        }
        let builtin = builtins().contains_key(&(group.clone(), kind.clone()))
            || Kind::ALL
                .into_iter()
                .any(|k| k.as_str() == kind && k.group() == group);
        if builtin {
            return true;
        }
        let mut versions: Vec<(bool, String)> = Vec::new();
        let mut schemas = Vec::new();
        for v in spec
            .and_then(|s| s.get("versions"))
            .and_then(|v| v.as_array())
            .into_iter()
            .flatten()
        {
            let name = text(v.get("name"));
            let served = v.get("served").and_then(|s| s.as_bool()).unwrap_or(false);
            if name.is_empty() || !served {
                continue;
            }
            let storage = v.get("storage").and_then(|s| s.as_bool()).unwrap_or(false);
            let api_version = format!("{group}/{name}");
            if let Some(schema) = v.get("schema").and_then(|s| s.get("openAPIV3Schema")) {
                schemas.push((api_version.clone(), schema.clone()));
            }
            versions.push((!storage, api_version));
        }
        versions.sort();
        self.crds.insert(
            (group, kind),
            CrdType {
                plural,
                namespaced,
                versions: versions.into_iter().map(|(_, v)| v).collect(),
                validators: Arc::new(CrdValidators::compile(&schemas)),
            },
        );
        true
    }

    /// Unregisters the kind of a deleted CustomResourceDefinition.
    pub fn forget(&mut self, obj: &Object) {
        let Some(crd) = obj.as_opaque() else {
            return;
        };
        if crd.kind.group() != CRD_GROUP || crd.kind.kind() != CRD_KIND {
            return;
        }
        let spec = crd.content.get("spec");
        let group = spec
            .and_then(|s| s.get("group"))
            .and_then(|g| g.as_str())
            .unwrap_or_default();
        let kind = spec
            .and_then(|s| s.get("names"))
            .and_then(|n| n.get("kind"))
            .and_then(|k| k.as_str())
            .unwrap_or_default();
        self.crds.remove(&(group.to_string(), kind.to_string()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plurals_follow_kubernetes() {
        for (kind, plural) in [
            ("ConfigMap", "configmaps"),
            ("NetworkPolicy", "networkpolicies"),
            ("Ingress", "ingresses"),
            ("Endpoints", "endpoints"),
            ("PriorityClass", "priorityclasses"),
            ("ServiceAccount", "serviceaccounts"),
            ("HorizontalPodAutoscaler", "horizontalpodautoscalers"),
            ("Gateway", "gateways"),
        ] {
            assert_eq!(plural_of(kind), plural);
        }
    }

    #[test]
    fn built_in_kinds_resolve_with_their_scope() {
        let d = Discovery::new();
        assert_eq!(d.resolve("v1", "Service"), Ok(Kind::Service));
        let sa = d.resolve("v1", "ServiceAccount").unwrap();
        assert!(sa.namespaced());
        assert_eq!(sa.resource(), "serviceaccounts");
        let cr = d
            .resolve("rbac.authorization.k8s.io/v1", "ClusterRole")
            .unwrap();
        assert!(!cr.namespaced());
        assert_eq!(cr.resource(), "clusterroles.rbac.authorization.k8s.io");
        let hpa1 = d
            .resolve("autoscaling/v1", "HorizontalPodAutoscaler")
            .unwrap();
        let hpa2 = d
            .resolve("autoscaling/v2", "HorizontalPodAutoscaler")
            .unwrap();
        assert_eq!(hpa1, hpa2, "one resource served at two versions");
        assert_eq!(hpa1.api_version(), "autoscaling/v2", "preferred version");
        for v in LINK_VERSIONS {
            assert_eq!(d.resolve(v, "Link"), Ok(Kind::Link));
        }
    }

    #[test]
    fn unknown_kinds_and_versions_are_kubectl_errors() {
        let d = Discovery::new();
        let err = d.resolve("example.com/v1", "Gadget").unwrap_err();
        assert!(err.starts_with("no matches for kind \"Gadget\" in version \"example.com/v1\""));
        assert!(d.resolve("apps/v1beta1", "Deployment").is_err());
        assert!(d.resolve("v2", "Service").is_err());
        assert!(
            d.resolve("multicluster.linkerd.io/v1beta1", "Link")
                .is_err()
        );
    }

    #[test]
    fn a_crd_adds_its_kind_at_its_served_versions() {
        let mut d = Discovery::new();
        let crd: Object = serde_json::from_value(serde_json::json!({
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": "gadgets.example.com"},
            "spec": {
                "group": "example.com",
                "scope": "Cluster",
                "names": {"kind": "Gadget", "plural": "gadgets"},
                "versions": [
                    {"name": "v1", "served": true, "storage": true},
                    {"name": "v0", "served": false, "storage": false}
                ]
            }
        }))
        .unwrap();
        assert!(d.learn(&crd));
        let k = d.resolve("example.com/v1", "Gadget").unwrap();
        assert!(!k.namespaced());
        assert_eq!(k.resource(), "gadgets.example.com");
        assert!(d.serves(k));
        assert!(d.resolve("example.com/v0", "Gadget").is_err(), "not served");
        d.forget(&crd);
        assert!(!d.serves(k));
        assert!(d.resolve("example.com/v1", "Gadget").is_err());
    }
}
