//! Loading ordinary Kubernetes manifests and dumping objects in the same shape.
//!
//! YAML goes through `serde_yaml_ng`, a maintained continuation of dtolnay's archived
//! `serde_yaml` with the same API and libyaml-based parser, so multi-document streams, error
//! locations and the familiar output style come without writing a YAML parser of our own.
//!
//! Owns: [`load`] (multi-document YAML, a JSON document, or a `kind: List` in either) and
//! [`dump_yaml`]/[`dump_json`] (a `List` sorted by kind, namespace, name). Inputs: text or
//! objects. Outputs: objects, text, or [`ManifestError`]s naming the document (1-based), the line
//! and column when the parser knows them, and the field path for type errors. Never panics on
//! input. Must not touch: the API server (loading does not validate what the server would).

use super::objects::Object;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManifestError {
    /// 1-based index of the document in the stream.
    pub document: usize,
    /// 1-based line (of the error, or of the document's start for field errors).
    pub line: Option<usize>,
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

/// Parses every object in `text`. All errors are reported; no partial result.
pub fn load(text: &str) -> Result<Vec<Object>, Vec<ManifestError>> {
    load_located(text).map(|objects| objects.into_iter().map(|(_, o)| o).collect())
}

/// [`load`], with the 1-based line where each object's document starts (for diagnostics about
/// the object later, e.g. when the API server refuses it).
pub fn load_located(text: &str) -> Result<Vec<(usize, Object)>, Vec<ManifestError>> {
    let trimmed = text.trim_start();
    let mut objects = vec![];
    let mut errors = vec![];
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        match serde_json::from_str::<serde_json::Value>(text) {
            Ok(v) => collect(v, 1, Some(1), &mut objects, &mut errors),
            Err(e) => errors.push(ManifestError {
                document: 1,
                line: Some(e.line()),
                column: Some(e.column()),
                message: e.to_string(),
            }),
        }
    } else {
        let starts = document_start_lines(text);
        for (i, doc) in serde_yaml_ng::Deserializer::from_str(text).enumerate() {
            let document = i + 1;
            match serde_json::Value::deserialize(doc) {
                Ok(serde_json::Value::Null) => {}
                Ok(v) => collect(
                    v,
                    document,
                    starts.get(i).copied(),
                    &mut objects,
                    &mut errors,
                ),
                Err(e) => {
                    errors.push(ManifestError {
                        document,
                        line: e.location().map(|l| l.line()),
                        column: e.location().map(|l| l.column()),
                        message: e.to_string(),
                    });
                    // The parser cannot resynchronise after a syntax error.
                    break;
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

fn collect(
    value: serde_json::Value,
    document: usize,
    line: Option<usize>,
    objects: &mut Vec<(usize, Object)>,
    errors: &mut Vec<ManifestError>,
) {
    let err = |message: String| ManifestError {
        document,
        line,
        column: None,
        message,
    };
    let items = match value {
        serde_json::Value::Array(items) => items
            .into_iter()
            .enumerate()
            .map(|(i, v)| (format!("[{i}]"), v))
            .collect(),
        serde_json::Value::Object(ref m)
            if m.get("kind").and_then(|k| k.as_str()) == Some("List") =>
        {
            match m.get("items") {
                Some(serde_json::Value::Array(items)) => items
                    .iter()
                    .cloned()
                    .enumerate()
                    .map(|(i, v)| (format!("items[{i}]"), v))
                    .collect(),
                Some(serde_json::Value::Null) | None => vec![],
                Some(_) => {
                    errors.push(err("items: expected a sequence".to_string()));
                    return;
                }
            }
        }
        serde_json::Value::Object(_) => vec![(String::new(), value)],
        other => {
            errors.push(err(format!(
                "expected a Kubernetes object, found {}",
                type_name(&other)
            )));
            return;
        }
    };
    for (prefix, v) in items {
        if !v.is_object() {
            errors.push(err(format!(
                "{prefix}: expected a Kubernetes object, found {}",
                type_name(&v)
            )));
            continue;
        }
        match Object::from_json_value(v) {
            Ok(o) => objects.push((line.unwrap_or(1), o)),
            Err(e) if prefix.is_empty() => errors.push(err(e)),
            Err(e) => errors.push(err(format!("{prefix}: {e}"))),
        }
    }
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
        assert_eq!(errs[0].line, Some(7));
        assert!(
            errs[0].message.contains("spec.ports[0].port"),
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
        assert!(
            errs[0]
                .to_string()
                .starts_with("document 1 (starting at line 1)"),
            "{}",
            errs[0]
        );
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
