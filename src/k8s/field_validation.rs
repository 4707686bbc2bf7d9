//! Server-side field validation, as `kubectl apply` gets it by default (`--validate=strict`):
//! an object is checked against its kind's API schema before anything is stored; an unknown
//! field is an error (`unknown field "spec.ports[0].protocl"`), and so is a value of the wrong
//! type or a missing required field.
//!
//! Owns: the vendored schemas (`schemas/README.md`: Kubernetes v1.33.0 in strict form, the Link
//! CRD), compiled once per process with the `jsonschema` crate, and the conversion of a CRD's
//! structural OpenAPI v3 schema into a strict JSON Schema ([`CrdValidators`]), so custom
//! resources and Links at every served version are checked the same way. Inputs: an object's
//! JSON and its kind. Outputs: [`FieldError`]s with the field path as a list of segments, so a
//! caller holding source spans can point at the offending line and column.
//! Must not touch: objects (validation only reads), the API server's own rules (names, ports,
//! immutability: `validation.rs`).

use super::discovery::{CRD_GROUP, CRD_KIND, Discovery};
use super::objects::Kind;
use jsonschema::error::ValidationErrorKind;
use jsonschema::paths::LocationSegment;
use jsonschema::{Validator, ValidatorMap};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::OnceLock;

const KUBERNETES_SCHEMA: &str = include_str!("../../schemas/kubernetes-v1.33.0-strict.json");
const LINK_CRD: &str = include_str!("../../schemas/link-crd.yaml");
const OBJECT_META: &str = "#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";

/// One step of a field path.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Segment {
    Field(String),
    Index(usize),
}

/// `spec.ports[0].protocl`.
pub fn render_path(path: &[Segment]) -> String {
    let mut out = String::new();
    for s in path {
        match s {
            Segment::Field(f) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(f);
            }
            Segment::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// A field the API server refuses: where, and why (the message includes the path).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    pub path: Vec<Segment>,
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

fn kubernetes_document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| {
        serde_json::from_str(KUBERNETES_SCHEMA)
            .unwrap_or_else(|e| panic!("vendored Kubernetes schema does not parse: {e}"))
    })
}

/// The definitions that are API kinds rather than request or list types.
fn is_resource_definition(name: &str, kind: &str) -> bool {
    !kind.ends_with("List") && !name.starts_with("io.k8s.apimachinery.pkg.apis.meta.")
}

/// Every (group, version, kind) of the vendored schema that names a stored resource.
pub fn builtin_kinds() -> Vec<(String, String, String)> {
    builtin_definitions()
        .keys()
        .map(|(api_version, kind)| {
            let (group, version) = match api_version.rsplit_once('/') {
                Some((g, v)) => (g.to_string(), v.to_string()),
                None => (String::new(), api_version.clone()),
            };
            (group, version, kind.clone())
        })
        .collect()
}

/// (apiVersion, kind) → JSON pointer of its definition.
fn builtin_definitions() -> &'static BTreeMap<(String, String), String> {
    static DEFS: OnceLock<BTreeMap<(String, String), String>> = OnceLock::new();
    DEFS.get_or_init(|| {
        let mut out = BTreeMap::new();
        let defs = kubernetes_document()
            .get("$defs")
            .and_then(Value::as_object)
            .into_iter()
            .flatten();
        for (name, def) in defs {
            for gvk in def
                .get("x-kubernetes-group-version-kind")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let field = |k: &str| gvk.get(k).and_then(Value::as_str).unwrap_or_default();
                let (group, version, kind) = (field("group"), field("version"), field("kind"));
                if !is_resource_definition(name, kind) {
                    continue;
                }
                let api_version = if group.is_empty() {
                    version.to_string()
                } else {
                    format!("{group}/{version}")
                };
                out.insert((api_version, kind.to_string()), format!("#/$defs/{name}"));
            }
        }
        out
    })
}

fn builtin_validators() -> &'static ValidatorMap {
    static MAP: OnceLock<ValidatorMap> = OnceLock::new();
    MAP.get_or_init(|| {
        jsonschema::options()
            .build_map(kubernetes_document())
            .unwrap_or_else(|e| panic!("vendored Kubernetes schema does not compile: {e}"))
    })
}

fn link_validators() -> &'static CrdValidators {
    static LINK: OnceLock<CrdValidators> = OnceLock::new();
    LINK.get_or_init(|| {
        let crd: Value = serde_yaml_ng::from_str(LINK_CRD)
            .unwrap_or_else(|e| panic!("vendored Link CRD does not parse: {e}"));
        CrdValidators::compile(&crd_schemas(&crd))
    })
}

/// (apiVersion, openAPIV3Schema) of every served version of a CRD object.
pub fn crd_schemas(crd: &Value) -> Vec<(String, Value)> {
    let spec = crd.get("spec");
    let group = spec
        .and_then(|s| s.get("group"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    spec.and_then(|s| s.get("versions"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| {
            let name = v.get("name")?.as_str()?;
            let schema = v.get("schema")?.get("openAPIV3Schema")?;
            Some((format!("{group}/{name}"), schema.clone()))
        })
        .collect()
}

/// The compiled schemas of a CRD, per served `apiVersion`.
#[derive(Clone, Default)]
pub struct CrdValidators {
    by_version: BTreeMap<String, Validator>,
}

impl fmt::Debug for CrdValidators {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.by_version.keys()).finish()
    }
}

impl CrdValidators {
    /// Compiles each version's structural schema; a schema that does not compile is left out
    /// (objects of that version are then checked for their metadata only).
    pub fn compile(schemas: &[(String, Value)]) -> CrdValidators {
        let mut by_version = BTreeMap::new();
        for (api_version, schema) in schemas {
            let mut root = strict_schema(schema);
            if let Some(props) = root.get_mut("properties").and_then(Value::as_object_mut) {
                for k in ["apiVersion", "kind"] {
                    props.insert(k.to_string(), json!({"type": "string"}));
                }
                // Checked against ObjectMeta separately.
                props.insert("metadata".to_string(), json!({}));
            }
            if let Ok(v) = jsonschema::options().build(&root) {
                by_version.insert(api_version.clone(), v);
            }
        }
        CrdValidators { by_version }
    }
}

/// A CRD's structural schema (OpenAPI v3 subset) as a strict JSON Schema: an object with
/// declared properties refuses others unless `x-kubernetes-preserve-unknown-fields` is set;
/// `nullable` admits null; `x-kubernetes-int-or-string` admits both. Descriptions, defaults and
/// formats are dropped (formats are not checked by the real server's field validation either).
pub fn strict_schema(schema: &Value) -> Value {
    let Some(map) = schema.as_object() else {
        return json!({});
    };
    let mut out = Map::new();
    let preserve = map
        .get("x-kubernetes-preserve-unknown-fields")
        .and_then(Value::as_bool)
        .unwrap_or(false)
        || map
            .get("x-kubernetes-embedded-resource")
            .and_then(Value::as_bool)
            .unwrap_or(false);
    let nullable = map
        .get("nullable")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let int_or_string = map
        .get("x-kubernetes-int-or-string")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    for (k, v) in map {
        match k.as_str() {
            "properties" => {
                let props: Map<String, Value> = v
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(name, s)| (name.clone(), strict_schema(s)))
                    .collect();
                out.insert(k.clone(), Value::Object(props));
            }
            "items" | "not" => {
                out.insert(k.clone(), strict_schema(v));
            }
            "additionalProperties" => {
                let converted = match v {
                    Value::Bool(b) => Value::Bool(*b),
                    other => strict_schema(other),
                };
                out.insert(k.clone(), converted);
            }
            "allOf" | "anyOf" | "oneOf" => {
                let list = v
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(strict_schema)
                    .collect();
                out.insert(k.clone(), Value::Array(list));
            }
            "type" if !int_or_string => {
                let t = if nullable {
                    json!([v, "null"])
                } else {
                    v.clone()
                };
                out.insert(k.clone(), t);
            }
            "required" | "enum" | "pattern" | "minLength" | "maxLength" | "minimum" | "maximum"
            | "minItems" | "maxItems" | "minProperties" | "maxProperties" | "exclusiveMinimum"
            | "exclusiveMaximum" | "multipleOf" | "uniqueItems" => {
                out.insert(k.clone(), v.clone());
            }
            _ => {}
        }
    }
    if int_or_string {
        out.insert(
            "anyOf".to_string(),
            json!([{"type": "integer"}, {"type": "string"}]),
        );
    }
    if out.contains_key("properties") && !out.contains_key("additionalProperties") && !preserve {
        out.insert("additionalProperties".to_string(), Value::Bool(false));
    }
    Value::Object(out)
}

fn to_segments(location: &jsonschema::paths::Location) -> Vec<Segment> {
    location
        .iter()
        .map(|s| match s {
            LocationSegment::Property(p) => Segment::Field(p.to_string()),
            LocationSegment::Index(i) => Segment::Index(i),
        })
        .collect()
}

fn describe(v: &Value) -> String {
    let text = v.to_string();
    if text.len() > 60 {
        format!("{}...", &text[..text.floor_char_boundary(57)])
    } else {
        text
    }
}

/// Every error `validator` finds in `value`, with paths under `prefix`.
fn collect(validator: &Validator, value: &Value, prefix: &[Segment], out: &mut Vec<FieldError>) {
    for e in validator.iter_errors(value) {
        let mut path = prefix.to_vec();
        path.extend(to_segments(e.instance_path()));
        let at = render_path(&path);
        match e.kind() {
            ValidationErrorKind::AdditionalProperties { unexpected } => {
                for field in unexpected {
                    let mut p = path.clone();
                    p.push(Segment::Field(field.clone()));
                    out.push(FieldError {
                        message: format!("unknown field \"{}\"", render_path(&p)),
                        path: p,
                    });
                }
            }
            ValidationErrorKind::Required { property } => {
                let name = property.as_str().unwrap_or_default().to_string();
                let mut p = path.clone();
                p.push(Segment::Field(name));
                out.push(FieldError {
                    message: format!("{}: Required value", render_path(&p)),
                    path,
                });
            }
            ValidationErrorKind::Type { kind } => out.push(FieldError {
                message: format!(
                    "{at}: Invalid value: {}: expected {}",
                    describe(e.instance()),
                    type_words(&format!("{kind:?}"))
                ),
                path,
            }),
            ValidationErrorKind::AnyOf { .. } | ValidationErrorKind::OneOfNotValid { .. } => out
                .push(FieldError {
                    message: format!(
                        "{at}: Invalid value: {}: expected an integer or a string",
                        describe(e.instance())
                    ),
                    path,
                }),
            _ => out.push(FieldError {
                message: format!("{at}: Invalid value: {e}"),
                path,
            }),
        }
    }
}

/// `Multiple(["string", "null"])` → `string`.
fn type_words(debug: &str) -> String {
    for t in ["integer", "number", "string", "boolean", "array", "object"] {
        if debug.to_ascii_lowercase().contains(t) {
            return match t {
                "array" => "a list".to_string(),
                "object" => "a mapping".to_string(),
                "integer" => "an integer".to_string(),
                other => format!("a {other}"),
            };
        }
    }
    debug.to_string()
}

/// Checks `value` (one object, with `apiVersion` and `kind`) against the schema of `kind` at
/// the object's `apiVersion`. `discovery` supplies CRD-defined kinds' schemas.
pub fn validate(value: &Value, kind: Kind, discovery: &Discovery) -> Vec<FieldError> {
    let api_version = value
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let kind_name = kind.as_str();
    let mut out = Vec::new();
    let builtin = builtin_definitions().get(&(api_version.to_string(), kind_name.to_string()));
    if let Some(pointer) = builtin
        && let Some(v) = builtin_validators().get(pointer)
    {
        collect(v, value, &[], &mut out);
        return out;
    }
    let crd = if kind == Kind::Link {
        Some(link_validators())
    } else {
        discovery.crd_validators(api_version, kind_name)
    };
    if let Some(v) = crd.and_then(|c| c.by_version.get(api_version)) {
        collect(v, value, &[], &mut out);
    }
    if let (Some(meta), Some(v)) = (value.get("metadata"), builtin_validators().get(OBJECT_META)) {
        collect(v, meta, &[Segment::Field("metadata".into())], &mut out);
    }
    out
}

/// Whether `kind`/`api_version` is the CustomResourceDefinition kind.
pub fn is_crd(api_version: &str, kind: &str) -> bool {
    kind == CRD_KIND && super::objects::api_group(api_version) == CRD_GROUP
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(v: Value) -> Vec<String> {
        let d = Discovery::new();
        let api_version = v["apiVersion"].as_str().unwrap().to_string();
        let kind = d
            .resolve(&api_version, v["kind"].as_str().unwrap())
            .unwrap();
        validate(&v, kind, &d)
            .into_iter()
            .map(|e| e.message)
            .collect()
    }

    #[test]
    fn unknown_fields_are_named_by_path() {
        let e = errors(json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "web", "lables": {"a": "b"}},
            "spec": {"ports": [{"port": 80, "protocl": "TCP"}], "sessionAffinity": "None"}
        }));
        assert_eq!(
            e,
            vec![
                "unknown field \"metadata.lables\"".to_string(),
                "unknown field \"spec.ports[0].protocl\"".to_string()
            ]
        );
    }

    #[test]
    fn valid_fields_mcsim_does_not_model_pass() {
        let e = errors(json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "managedFields": [], "resourceVersion": "7"},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                "strategy": {"type": "RollingUpdate"},
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": {
                    "containers": [{"name": "web", "image": "nginx",
                        "resources": {"limits": {"cpu": "500m"}},
                        "livenessProbe": {"httpGet": {"path": "/", "port": 80}}}]}}}
        }));
        assert!(e.is_empty(), "{e:?}");
        let e = errors(json!({"apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": "web"}, "automountServiceAccountToken": false}));
        assert!(e.is_empty(), "{e:?}");
    }

    #[test]
    fn types_and_required_fields_are_checked() {
        let e = errors(json!({
            "apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "labels": {"v": 1}},
            "spec": {"ports": [{"port": "eighty"}, {"name": "x"}]}
        }));
        assert_eq!(e.len(), 3, "{e:?}");
        assert!(
            e.iter()
                .any(|m| m.starts_with("metadata.labels.v: Invalid value: 1: expected a string")),
            "{e:?}"
        );
        assert!(
            e.iter()
                .any(|m| m.starts_with("spec.ports[0].port: Invalid value: \"eighty\"")),
            "{e:?}"
        );
        assert!(
            e.contains(&"spec.ports[1].port: Required value".to_string()),
            "{e:?}"
        );
    }

    #[test]
    fn every_link_version_has_its_own_schema() {
        let link = |v: &str, extra: Value| {
            let mut spec = json!({"targetClusterName": "east"});
            for (k, val) in extra.as_object().unwrap() {
                spec[k] = val.clone();
            }
            json!({"apiVersion": format!("multicluster.linkerd.io/{v}"), "kind": "Link",
                "metadata": {"name": "east", "namespace": "linkerd-multicluster"}, "spec": spec})
        };
        assert!(errors(link("v1alpha1", json!({}))).is_empty());
        let fed = json!({"federatedServiceSelector": {"matchLabels": {"a": "b"}}});
        assert_eq!(
            errors(link("v1alpha1", fed.clone())),
            vec!["unknown field \"spec.federatedServiceSelector\"".to_string()]
        );
        assert!(errors(link("v1alpha2", fed)).is_empty());
        let excluded = json!({"excludedLabels": ["a"]});
        assert_eq!(
            errors(link("v1alpha2", excluded.clone())),
            vec!["unknown field \"spec.excludedLabels\"".to_string()]
        );
        assert!(errors(link("v1alpha3", excluded)).is_empty());
        assert_eq!(
            errors(link("v1alpha3", json!({"gatewayPort": 4143}))),
            vec!["spec.gatewayPort: Invalid value: 4143: expected a string".to_string()]
        );
    }

    #[test]
    fn crd_schemas_become_strict() {
        let s = strict_schema(&json!({
            "type": "object",
            "properties": {
                "spec": {"type": "object", "properties": {"size": {"type": "integer"}}},
                "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": true,
                    "properties": {"a": {"type": "string"}}},
                "port": {"x-kubernetes-int-or-string": true},
                "note": {"type": "string", "nullable": true, "description": "dropped"}
            }
        }));
        let v = Validator::new(&s).unwrap();
        assert!(v.is_valid(
            &json!({"spec": {"size": 1}, "extra": {"b": 1}, "port": "http", "note": null})
        ));
        assert!(!v.is_valid(&json!({"spec": {"size": 1, "colour": "red"}})));
        assert!(!v.is_valid(&json!({"port": true})));
    }
}
