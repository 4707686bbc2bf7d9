//! Loading ordinary Kubernetes manifests as `kubectl apply -f` takes them, and dumping objects
//! in the same shape.
//!
//! YAML values come from `serde_yaml_ng` (a maintained continuation of dtolnay's archived
//! `serde_yaml`, libyaml-based); source positions of individual fields come from `saphyr`, whose
//! nodes carry spans, parsed only when an error needs a position. So multi-document streams,
//! aliases and the familiar output style come without a YAML parser of our own, and an error
//! points at the offending field's own line and column.
//!
//! Owns: [`load_for_apply`] (multi-document YAML, a JSON document, or a `kind: List` in either:
//! each object's kind resolved through a [`Discovery`], checked by server-side strict field
//! validation, a namespace-less namespaced object put in the target namespace as
//! `kubectl apply -n` does, CRDs learnt so later objects may use their kinds), [`load`] (the
//! same with the built-in kinds and namespace `default`), and [`dump_yaml`]/[`dump_json`] (a
//! `List` sorted by kind, namespace, name). Outputs: objects with the line and column they start
//! at, or [`ManifestError`]s naming the document (1-based), the line and column, and the field
//! path. Never panics on input. Must not touch: the API server (loading does not check what
//! only the server can, such as names already taken).

use super::discovery::Discovery;
use super::field_validation::{self, Segment, render_path};
use super::objects::Object;
use saphyr::{LoadableYamlNode, MarkedYaml, Scalar, YamlData};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManifestError {
    /// 1-based index of the document in the stream.
    pub document: usize,
    /// 1-based line (of the offending field, or of the document's start).
    pub line: Option<usize>,
    /// 1-based column.
    pub column: Option<usize>,
    pub message: String,
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "document {}", self.document)?;
        match (self.line, self.column) {
            (Some(l), Some(c)) => write!(f, " (line {l}, column {c})")?,
            (Some(l), None) => write!(f, " (starting at line {l})")?,
            _ => {}
        }
        write!(f, ": {}", self.message)
    }
}

/// How the manifest is applied: the namespace of `kubectl apply -n NAMESPACE`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApplyTarget {
    /// Where namespaced objects without `metadata.namespace` go.
    pub namespace: String,
    /// Whether the namespace was asked for (`-n`): an object naming another namespace is then
    /// an error, as for kubectl ("the namespace from the provided object ... does not match").
    pub explicit: bool,
}

impl Default for ApplyTarget {
    /// No `-n`: the context's namespace, `default`.
    fn default() -> Self {
        ApplyTarget {
            namespace: "default".to_string(),
            explicit: false,
        }
    }
}

/// An object of a manifest and where it starts (1-based line and column).
#[derive(Clone, Debug, PartialEq)]
pub struct Located {
    pub line: usize,
    pub column: usize,
    pub object: Object,
}

/// Parses every object in `text` as `kubectl apply -f` would take it against a server with the
/// built-in kinds, into namespace `default`. All errors are reported; no partial result.
pub fn load(text: &str) -> Result<Vec<Object>, Vec<ManifestError>> {
    load_for_apply(text, &mut Discovery::new(), &ApplyTarget::default())
        .map(|objects| objects.into_iter().map(|l| l.object).collect())
}

/// One document's JSON, where it starts, and the path of each object inside it (`[]` for the
/// document itself, `items[i]` in a `List`).
struct Document {
    index: usize,
    start_line: usize,
    value: serde_json::Value,
}

/// Field positions, from a second parse with a span-keeping parser (only once an error needs
/// one). `None` when that parser disagrees with the first about the documents.
struct Spans<'a> {
    text: &'a str,
    docs: Option<Option<Vec<MarkedYaml<'a>>>>,
    expected_documents: usize,
}

impl<'a> Spans<'a> {
    fn new(text: &'a str, expected_documents: usize) -> Spans<'a> {
        Spans {
            text,
            docs: None,
            expected_documents,
        }
    }

    /// 1-based (line, column) of the field at `path` in document `doc` (0-based).
    fn locate(&mut self, doc: usize, path: &[Segment]) -> Option<(usize, usize)> {
        let expected = self.expected_documents;
        let text = self.text;
        let docs = self.docs.get_or_insert_with(|| {
            MarkedYaml::load_from_str(text)
                .ok()
                .filter(|d| d.len() == expected)
        });
        let mut node = docs.as_ref()?.get(doc)?;
        let mut at = node.span.start;
        for (i, seg) in path.iter().enumerate() {
            while let YamlData::Tagged(_, inner) = &node.data {
                node = inner;
            }
            match (seg, &node.data) {
                (Segment::Field(name), YamlData::Mapping(m)) => {
                    let (key, value) = m.iter().find(
                        |(k, _)| matches!(&k.data, YamlData::Value(Scalar::String(s)) if s == name),
                    )?;
                    at = if i + 1 == path.len() {
                        key.span.start
                    } else {
                        value.span.start
                    };
                    node = value;
                }
                (Segment::Index(n), YamlData::Sequence(items)) => {
                    node = items.get(*n)?;
                    at = node.span.start;
                }
                _ => return None,
            }
        }
        Some((at.line(), at.col() + 1))
    }
}

/// [`load`] against `discovery` (which learns the CRDs the manifest creates) into `target`'s
/// namespace, with the position each object starts at.
pub fn load_for_apply(
    text: &str,
    discovery: &mut Discovery,
    target: &ApplyTarget,
) -> Result<Vec<Located>, Vec<ManifestError>> {
    let mut errors = vec![];
    let documents = match parse_documents(text) {
        Ok(d) => d,
        Err(e) => return Err(vec![e]),
    };
    let json = text.trim_start().starts_with(['{', '[']);
    let document_count = if json { 1 } else { documents.total };
    let mut spans = Spans::new(text, document_count);
    let mut objects = vec![];
    for doc in documents.documents {
        let mut error = |path: &[Segment], message: String, spans: &mut Spans<'_>| {
            let (line, column) = spans
                .locate(doc.index - 1, path)
                .map_or((Some(doc.start_line), None), |(l, c)| (Some(l), Some(c)));
            errors.push(ManifestError {
                document: doc.index,
                line,
                column,
                message,
            });
        };
        let items: Vec<(Vec<Segment>, serde_json::Value)> = match doc.value {
            serde_json::Value::Array(items) => items
                .into_iter()
                .enumerate()
                .map(|(i, v)| (vec![Segment::Index(i)], v))
                .collect(),
            serde_json::Value::Object(ref m)
                if m.get("kind").and_then(|k| k.as_str()) == Some("List") =>
            {
                match m.get("items") {
                    Some(serde_json::Value::Array(items)) => items
                        .iter()
                        .cloned()
                        .enumerate()
                        .map(|(i, v)| (vec![Segment::Field("items".into()), Segment::Index(i)], v))
                        .collect(),
                    Some(serde_json::Value::Null) | None => vec![],
                    Some(_) => {
                        error(
                            &[Segment::Field("items".into())],
                            "items: expected a sequence".to_string(),
                            &mut spans,
                        );
                        continue;
                    }
                }
            }
            serde_json::Value::Object(_) => vec![(vec![], doc.value)],
            other => {
                error(
                    &[],
                    format!("expected a Kubernetes object, found {}", type_name(&other)),
                    &mut spans,
                );
                continue;
            }
        };
        for (prefix, value) in items {
            let here = |suffix: &[Segment]| {
                let mut p = prefix.clone();
                p.extend_from_slice(suffix);
                p
            };
            let label = |message: String| {
                if prefix.is_empty() {
                    message
                } else {
                    format!("{}: {message}", render_path(&prefix))
                }
            };
            match apply_one(value, discovery, target) {
                Ok(object) => {
                    let (line, column) = spans
                        .locate(doc.index - 1, &prefix)
                        .unwrap_or((doc.start_line, 1));
                    objects.push(Located {
                        line,
                        column,
                        object,
                    });
                }
                Err(problems) => {
                    for (path, message) in problems {
                        error(&here(&path), label(message), &mut spans);
                    }
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(objects)
    } else {
        Err(errors)
    }
}

/// One object: kind, strict fields, namespace, typed conversion; a CRD is learnt.
fn apply_one(
    mut value: serde_json::Value,
    discovery: &mut Discovery,
    target: &ApplyTarget,
) -> Result<Object, Vec<(Vec<Segment>, String)>> {
    let field = |name: &str| vec![Segment::Field(name.to_string())];
    let Some(map) = value.as_object() else {
        return Err(vec![(
            vec![],
            format!("expected a Kubernetes object, found {}", type_name(&value)),
        )]);
    };
    let text = |k: &str| {
        map.get(k)
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string()
    };
    let (api_version, kind_name) = (text("apiVersion"), text("kind"));
    if kind_name.is_empty() {
        return Err(vec![(vec![], "missing field `kind`".to_string())]);
    }
    if api_version.is_empty() {
        return Err(vec![(vec![], "missing field `apiVersion`".to_string())]);
    }
    let kind = discovery
        .resolve(&api_version, &kind_name)
        .map_err(|e| vec![(field("kind"), e)])?;
    let problems = field_validation::validate(&value, kind, discovery);
    if !problems.is_empty() {
        return Err(problems.into_iter().map(|e| (e.path, e.message)).collect());
    }
    if kind.namespaced() {
        let given = value
            .pointer("/metadata/namespace")
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string();
        if given.is_empty() {
            if let Some(m) = value.as_object_mut() {
                let meta = m
                    .entry("metadata")
                    .or_insert_with(|| serde_json::Value::Object(Default::default()));
                if !meta.is_object() {
                    *meta = serde_json::Value::Object(Default::default());
                }
                if let Some(meta) = meta.as_object_mut() {
                    meta.insert(
                        "namespace".to_string(),
                        serde_json::Value::String(target.namespace.clone()),
                    );
                }
            }
        } else if target.explicit && given != target.namespace {
            return Err(vec![(
                vec![
                    Segment::Field("metadata".into()),
                    Segment::Field("namespace".into()),
                ],
                format!(
                    "the namespace from the provided object \"{given}\" does not match the namespace \"{}\". You must pass '--namespace={given}' to perform this operation (the [[manifest]] entry's namespace)",
                    target.namespace
                ),
            )]);
        }
    }
    let object = Object::from_json_value_in(value, discovery).map_err(|e| vec![(vec![], e)])?;
    discovery.learn(&object);
    Ok(object)
}

struct Documents {
    documents: Vec<Document>,
    /// Documents in the stream, empty ones included.
    total: usize,
}

fn parse_documents(text: &str) -> Result<Documents, ManifestError> {
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        return match serde_json::from_str::<serde_json::Value>(text) {
            Ok(value) => Ok(Documents {
                documents: vec![Document {
                    index: 1,
                    start_line: 1,
                    value,
                }],
                total: 1,
            }),
            Err(e) => Err(ManifestError {
                document: 1,
                line: Some(e.line()),
                column: Some(e.column()),
                message: e.to_string(),
            }),
        };
    }
    let starts = document_start_lines(text);
    let mut documents = vec![];
    let mut total = 0;
    for (i, doc) in serde_yaml_ng::Deserializer::from_str(text).enumerate() {
        total = i + 1;
        match serde_json::Value::deserialize(doc) {
            Ok(serde_json::Value::Null) => {}
            Ok(value) => documents.push(Document {
                index: i + 1,
                start_line: starts.get(i).copied().unwrap_or(1),
                value,
            }),
            // The parser cannot resynchronise after a syntax error.
            Err(e) => {
                return Err(ManifestError {
                    document: i + 1,
                    line: e.location().map(|l| l.line()),
                    column: e.location().map(|l| l.column()),
                    message: e.to_string(),
                });
            }
        }
    }
    Ok(Documents { documents, total })
}

fn type_name(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "a sequence",
        serde_json::Value::Object(_) => "a mapping",
    }
}

/// 1-based first line of each YAML document, found from `---` markers at column 0.
fn document_start_lines(text: &str) -> Vec<usize> {
    let is_marker = |l: &str| l == "---" || l.starts_with("--- ") || l.starts_with("---\t");
    let mut starts = vec![];
    let mut content_seen = false;
    for (i, line) in text.lines().enumerate() {
        if is_marker(line) {
            starts.push(i + 2);
            content_seen = true;
            continue;
        }
        let t = line.trim();
        if !content_seen && !t.is_empty() && !t.starts_with('#') {
            starts.push(i + 1);
            content_seen = true;
        }
    }
    starts
}

#[derive(Serialize)]
struct List<'a> {
    #[serde(rename = "apiVersion")]
    api_version: &'static str,
    kind: &'static str,
    items: Vec<&'a Object>,
}

fn sorted<'a>(objects: impl IntoIterator<Item = &'a Arc<Object>>) -> Vec<&'a Object> {
    let mut v: Vec<&Object> = objects.into_iter().map(|o| &**o).collect();
    v.sort_by_key(|o| o.key());
    v
}

/// Objects as a YAML `List` (`apiVersion: v1`, `kind: List`), sorted by kind, namespace, name.
pub fn dump_yaml<'a>(objects: impl IntoIterator<Item = &'a Arc<Object>>) -> String {
    let list = List {
        api_version: "v1",
        kind: "List",
        items: sorted(objects),
    };
    serde_yaml_ng::to_string(&list).unwrap_or_else(|e| format!("# cannot render: {e}\n"))
}

/// The same `List` as pretty JSON.
pub fn dump_json<'a>(objects: impl IntoIterator<Item = &'a Arc<Object>>) -> String {
    let list = List {
        api_version: "v1",
        kind: "List",
        items: sorted(objects),
    };
    serde_json::to_string_pretty(&list).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

/// One object as YAML.
pub fn to_yaml(object: &Object) -> String {
    serde_yaml_ng::to_string(object).unwrap_or_else(|e| format!("# cannot render: {e}\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::k8s::objects::Kind;

    const TWO_DOCS: &str = "# a comment\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: prod\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  namespace: prod\nspec:\n  clusterIP: None\n  ports:\n  - name: http\n    port: 80\n    targetPort: http\n";

    #[test]
    fn loads_multi_document_yaml() {
        let objs = load(TWO_DOCS).unwrap();
        assert_eq!(objs.len(), 2);
        assert_eq!(objs[0].kind(), Kind::Namespace);
        let svc = objs[1].as_service().unwrap();
        assert!(svc.is_headless());
        assert_eq!(svc.spec.ports[0].port, 80);
    }

    #[test]
    fn loads_lists_in_yaml_and_json() {
        let yaml = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Namespace\n  metadata: {name: a}\n- apiVersion: v1\n  kind: Namespace\n  metadata: {name: b}\n";
        assert_eq!(load(yaml).unwrap().len(), 2);
        let json = r#"{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"a"}}]}"#;
        assert_eq!(load(json).unwrap().len(), 1);
        assert_eq!(load("").unwrap().len(), 0);
        assert_eq!(load("---\n---\n").unwrap().len(), 0);
    }

    #[test]
    fn errors_name_the_document_and_position() {
        let bad = TWO_DOCS.replace("port: 80", "port: eighty");
        let errs = load(&bad).unwrap_err();
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].document, 2);
        assert_eq!((errs[0].line, errs[0].column), (Some(16), Some(5)));
        assert!(
            errs[0]
                .message
                .starts_with("spec.ports[0].port: Invalid value: \"eighty\""),
            "{}",
            errs[0]
        );
        let syntax = "apiVersion: v1\nkind: Namespace\nmetadata: {name: a\n";
        let errs = load(syntax).unwrap_err();
        assert_eq!(errs[0].document, 1);
        assert!(errs[0].line.is_some(), "{:?}", errs[0]);
        let errs = load("{\"kind\": ").unwrap_err();
        assert_eq!(errs[0].line, Some(1));
        let errs = load("- 1\n- 2\n").unwrap_err();
        assert!(
            errs[0].message.contains("expected a Kubernetes object"),
            "{}",
            errs[0]
        );
        let errs = load("kind: Gadget\napiVersion: v1\n").unwrap_err();
        assert_eq!(
            errs[0].to_string(),
            "document 1 (line 1, column 1): no matches for kind \"Gadget\" in version \"v1\" (ensure CRDs are installed first)"
        );
    }

    #[test]
    fn unknown_fields_point_at_their_key() {
        let bad = TWO_DOCS.replace(
            "    targetPort: http",
            "    targetPort: http\n    protocl: TCP",
        );
        let errs = load(&bad).unwrap_err();
        assert_eq!(errs.len(), 1);
        assert_eq!(
            errs[0].to_string(),
            "document 2 (line 18, column 5): unknown field \"spec.ports[0].protocl\""
        );
        // Inside a List, in JSON too.
        let list = r#"{"apiVersion": "v1", "kind": "List", "items": [
  {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {}, "dta": {}}
]}"#;
        let errs = load(list).unwrap_err();
        assert_eq!(
            errs[0].to_string(),
            "document 1 (line 2, column 84): items[0]: unknown field \"dta\""
        );
    }

    #[test]
    fn namespace_less_objects_go_to_the_target_namespace() {
        let text = "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: web}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: \"system:web\"}\nrules: []\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: other, namespace: prod}\n";
        let objs = load(text).unwrap();
        assert_eq!(objs[0].namespace(), "default");
        assert_eq!(objs[0].kind().as_str(), "ServiceAccount");
        assert_eq!(objs[1].namespace(), "", "cluster-scoped");
        assert_eq!(objs[2].namespace(), "prod");
        let target = ApplyTarget {
            namespace: "shop".into(),
            explicit: true,
        };
        let errs = load_for_apply(text, &mut Discovery::new(), &target).unwrap_err();
        assert_eq!(errs.len(), 1);
        assert_eq!(
            (errs[0].document, errs[0].line, errs[0].column),
            (3, Some(12), Some(25))
        );
        assert!(errs[0].message.starts_with("the namespace from the provided object \"prod\" does not match the namespace \"shop\""), "{}", errs[0]);
        let fixed = text.replace(", namespace: prod", "");
        let objs = load_for_apply(&fixed, &mut Discovery::new(), &target).unwrap();
        assert_eq!(objs[0].object.namespace(), "shop");
        assert_eq!(objs[2].object.namespace(), "shop");
        assert_eq!((objs[2].line, objs[2].column), (10, 1));
    }

    #[test]
    fn a_crd_in_the_manifest_defines_the_kind_of_later_objects() {
        let crd = "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: gadgets.example.com}\nspec:\n  group: example.com\n  scope: Namespaced\n  names: {kind: Gadget, plural: gadgets}\n  versions:\n  - name: v1\n    served: true\n    storage: true\n    schema:\n      openAPIV3Schema:\n        type: object\n        properties:\n          spec:\n            type: object\n            properties: {size: {type: integer}}\n";
        let cr = "apiVersion: example.com/v1\nkind: Gadget\nmetadata: {name: g}\nspec: {size: 3}\n";
        assert!(load(cr).is_err(), "no CRD, no kind");
        let objs = load(&format!("{crd}---\n{cr}")).unwrap();
        assert_eq!(objs[1].kind().resource(), "gadgets.example.com");
        assert_eq!(objs[1].namespace(), "default");
        let errs = load(&format!(
            "{crd}---\n{}",
            cr.replace("size: 3", "size: 3, colour: red")
        ))
        .unwrap_err();
        assert_eq!(errs[0].message, "unknown field \"spec.colour\"");
        assert_eq!((errs[0].line, errs[0].column), (Some(23), Some(17)));
    }

    #[test]
    fn every_link_version_loads_as_the_stored_version() {
        for v in ["v1alpha1", "v1alpha2", "v1alpha3"] {
            let text = format!(
                "apiVersion: multicluster.linkerd.io/{v}\nkind: Link\nmetadata: {{name: east, namespace: linkerd-multicluster}}\nspec:\n  targetClusterName: east\n  selector: {{matchLabels: {{mirror.linkerd.io/exported: \"true\"}}}}\n"
            );
            let objs = load(&text).unwrap();
            let link = objs[0].as_link().unwrap();
            assert_eq!(link.spec.target_cluster_name, "east");
            assert!(link.spec.selector.is_some());
            assert_eq!(objs[0].api_version(), "multicluster.linkerd.io/v1alpha3");
        }
    }

    #[test]
    fn hostile_input_never_panics() {
        let inputs = [
            "\u{0}",
            "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
            "a: &x [*x]",
            "? [a]\n: b",
            "kind: List\napiVersion: v1\nitems: 3",
            "!!binary x",
            "apiVersion: v1\nkind: Service\nspec:\n  ports: [{port: 99999999999999999999}]",
        ];
        for input in inputs {
            let _ = load(input);
        }
        let deep = "[".repeat(10_000);
        assert!(load(&deep).is_err());
    }

    #[test]
    fn dump_round_trips() {
        let objs: Vec<Arc<Object>> = load(TWO_DOCS).unwrap().into_iter().map(Arc::new).collect();
        let yaml = dump_yaml(objs.iter().rev());
        assert!(
            yaml.starts_with("apiVersion: v1\nkind: List\nitems:\n"),
            "{yaml}"
        );
        let back = load(&yaml).unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!(back[0].kind(), Kind::Namespace, "sorted by kind");
        let json = dump_json(objs.iter());
        assert_eq!(load(&json).unwrap(), back);
    }
}
