//! Label selectors: the structured form (`matchLabels` + `matchExpressions`) used in specs and
//! the string form (`a=b,c!=d,e in (x,y),!f,g`) used in list/watch requests.
//!
//! Owns: [`LabelSelector`], matching, parsing and printing. Inputs: label maps and text. Outputs:
//! booleans and parse errors. Must not touch: anything stateful.
//!
//! Emptiness is the caller's decision: Kubernetes treats an empty selector as "everything"
//! (list/watch, Deployments), while Linkerd's Link selectors treat nil or empty as "nothing"
//! (linkerd-multicluster spec §2.1). [`LabelSelector::matches`] implements the Kubernetes rule;
//! callers with Linkerd semantics check [`LabelSelector::is_empty`] first.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Operator {
    In,
    NotIn,
    Exists,
    DoesNotExist,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct LabelSelectorRequirement {
    pub key: String,
    pub operator: Operator,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LabelSelector {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub match_labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_expressions: Vec<LabelSelectorRequirement>,
}

impl LabelSelector {
    /// `key=value` for each pair.
    pub fn eq<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> LabelSelector {
        LabelSelector {
            match_labels: pairs
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            match_expressions: Vec::new(),
        }
    }

    /// No `matchLabels` and no `matchExpressions`.
    pub fn is_empty(&self) -> bool {
        self.match_labels.is_empty() && self.match_expressions.is_empty()
    }

    /// Kubernetes semantics: every requirement must hold; an empty selector matches everything.
    /// An invalid requirement (`In`/`NotIn` without values, `Exists` with values) matches
    /// nothing, as `metav1.LabelSelectorAsSelector` would have refused it.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.match_labels
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v))
            && self.match_expressions.iter().all(|r| r.matches(labels))
    }

    /// Checks the requirement shapes the API server validates.
    pub fn validate(&self) -> Result<(), String> {
        for (i, r) in self.match_expressions.iter().enumerate() {
            match r.operator {
                Operator::In | Operator::NotIn if r.values.is_empty() => {
                    return Err(format!(
                        "matchExpressions[{i}].values: Required value: must be specified when `operator` is 'In' or 'NotIn'"
                    ));
                }
                Operator::Exists | Operator::DoesNotExist if !r.values.is_empty() => {
                    return Err(format!(
                        "matchExpressions[{i}].values: Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'"
                    ));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Parses the string form: comma-separated `k=v`, `k==v`, `k!=v`, `k in (a,b)`,
    /// `k notin (a,b)`, `k` (exists) and `!k` (does not exist). The empty string is the empty
    /// selector.
    pub fn parse(text: &str) -> Result<LabelSelector, String> {
        let mut sel = LabelSelector::default();
        let mut rest = text.trim();
        while !rest.is_empty() {
            // Split off one term: up to a comma that is not inside parentheses.
            let mut depth = 0i32;
            let mut end = rest.len();
            for (i, c) in rest.char_indices() {
                match c {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    ',' if depth == 0 => {
                        end = i;
                        break;
                    }
                    _ => {}
                }
            }
            let term = rest[..end].trim();
            rest = if end < rest.len() {
                rest[end + 1..].trim_start()
            } else {
                ""
            };
            if term.is_empty() {
                return Err(format!("empty term in selector \"{text}\""));
            }
            sel.push_term(term)
                .map_err(|e| format!("{e} in selector \"{text}\""))?;
        }
        Ok(sel)
    }

    fn push_term(&mut self, term: &str) -> Result<(), String> {
        let req = |key: &str,
                   operator,
                   values: Vec<String>|
         -> Result<LabelSelectorRequirement, String> {
            let key = key.trim();
            check_key(key)?;
            Ok(LabelSelectorRequirement {
                key: key.to_string(),
                operator,
                values,
            })
        };
        if let Some(key) = term.strip_prefix('!') {
            self.match_expressions
                .push(req(key, Operator::DoesNotExist, vec![])?);
            return Ok(());
        }
        if let Some((k, v)) = term.split_once("!=") {
            self.match_expressions
                .push(req(k, Operator::NotIn, vec![check_value(v.trim())?])?);
            return Ok(());
        }
        if let Some((k, v)) = term.split_once("==").or_else(|| term.split_once('=')) {
            let (k, v) = (k.trim(), check_value(v.trim())?);
            check_key(k)?;
            match self.match_labels.get(k) {
                Some(existing) if *existing != v => {
                    self.match_expressions.push(req(k, Operator::In, vec![v])?);
                }
                _ => {
                    self.match_labels.insert(k.to_string(), v);
                }
            }
            return Ok(());
        }
        for (word, op) in [(" notin ", Operator::NotIn), (" in ", Operator::In)] {
            if let Some(pos) = term.find(word) {
                let key = &term[..pos];
                let list = term[pos + word.len()..].trim();
                let inner = list
                    .strip_prefix('(')
                    .and_then(|l| l.strip_suffix(')'))
                    .ok_or_else(|| {
                        format!(
                            "expected a parenthesised value list after \"{}\"",
                            word.trim()
                        )
                    })?;
                let values = inner
                    .split(',')
                    .map(|v| check_value(v.trim()))
                    .collect::<Result<Vec<_>, _>>()?;
                if values.is_empty() || values.iter().all(String::is_empty) {
                    return Err(format!("empty value list for key \"{}\"", key.trim()));
                }
                self.match_expressions.push(req(key, op, values)?);
                return Ok(());
            }
        }
        self.match_expressions
            .push(req(term, Operator::Exists, vec![])?);
        Ok(())
    }
}

fn check_key(key: &str) -> Result<(), String> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/');
    if key.is_empty() || !key.chars().all(ok_char) {
        return Err(format!("invalid label key \"{key}\""));
    }
    Ok(())
}

fn check_value(value: &str) -> Result<String, String> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if value.len() > 63 || !value.chars().all(ok_char) {
        return Err(format!("invalid label value \"{value}\""));
    }
    Ok(value.to_string())
}

impl LabelSelectorRequirement {
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let value = labels.get(&self.key);
        match self.operator {
            Operator::In => {
                !self.values.is_empty() && value.is_some_and(|v| self.values.contains(v))
            }
            Operator::NotIn => {
                !self.values.is_empty() && value.is_none_or(|v| !self.values.contains(v))
            }
            Operator::Exists => self.values.is_empty() && value.is_some(),
            Operator::DoesNotExist => self.values.is_empty() && value.is_none(),
        }
    }
}

/// The string form, matchLabels first (`a=b,c in (x,y),!d`).
impl fmt::Display for LabelSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        let mut sep = |f: &mut fmt::Formatter<'_>| {
            if first {
                first = false;
                Ok(())
            } else {
                f.write_str(",")
            }
        };
        for (k, v) in &self.match_labels {
            sep(f)?;
            write!(f, "{k}={v}")?;
        }
        for r in &self.match_expressions {
            sep(f)?;
            match r.operator {
                Operator::In => write!(f, "{} in ({})", r.key, r.values.join(","))?,
                Operator::NotIn if r.values.len() == 1 => write!(f, "{}!={}", r.key, r.values[0])?,
                Operator::NotIn => write!(f, "{} notin ({})", r.key, r.values.join(","))?,
                Operator::Exists => write!(f, "{}", r.key)?,
                Operator::DoesNotExist => write!(f, "!{}", r.key)?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn parses_and_matches_every_operator() {
        let s = LabelSelector::parse("a=b, c!=d,e in (x, y),!f,g").unwrap();
        assert_eq!(s.match_labels.len(), 1);
        assert_eq!(s.match_expressions.len(), 4);
        assert!(s.matches(&labels(&[("a", "b"), ("e", "x"), ("g", "1")])));
        assert!(s.matches(&labels(&[("a", "b"), ("c", "z"), ("e", "y"), ("g", "")])));
        assert!(
            !s.matches(&labels(&[("a", "b"), ("c", "d"), ("e", "x"), ("g", "1")])),
            "c!=d"
        );
        assert!(
            !s.matches(&labels(&[("a", "b"), ("e", "z"), ("g", "1")])),
            "e in (x,y)"
        );
        assert!(
            !s.matches(&labels(&[("a", "b"), ("e", "x"), ("f", "1"), ("g", "1")])),
            "!f"
        );
        assert!(!s.matches(&labels(&[("a", "b"), ("e", "x")])), "g exists");
        assert!(!s.matches(&labels(&[("e", "x"), ("g", "1")])), "a=b");
        assert_eq!(LabelSelector::parse(&s.to_string()).unwrap(), s);
        let n = LabelSelector::parse("tier notin (db,cache),app==web").unwrap();
        assert!(n.matches(&labels(&[("app", "web")])));
        assert!(!n.matches(&labels(&[("app", "web"), ("tier", "db")])));
    }

    #[test]
    fn empty_selector_matches_everything_and_reports_empty() {
        let s = LabelSelector::parse("").unwrap();
        assert!(s.is_empty());
        assert!(s.matches(&labels(&[])));
        assert!(s.matches(&labels(&[("x", "y")])));
        assert!(!LabelSelector::eq([("a", "b")]).is_empty());
    }

    #[test]
    fn conflicting_equalities_match_nothing() {
        let s = LabelSelector::parse("a=b,a=c").unwrap();
        assert!(!s.matches(&labels(&[("a", "b")])));
        assert!(!s.matches(&labels(&[("a", "c")])));
    }

    #[test]
    fn malformed_selectors_are_errors_not_panics() {
        for bad in [
            "a in x",
            "a in ()",
            ",",
            "a=b,,c",
            "=b",
            "a=b c",
            "a in (x",
            "!",
            "a=bad value",
        ] {
            assert!(
                LabelSelector::parse(bad).is_err(),
                "{bad:?} should not parse"
            );
        }
    }

    #[test]
    fn invalid_requirements_match_nothing_and_fail_validation() {
        let s = LabelSelector {
            match_labels: BTreeMap::new(),
            match_expressions: vec![LabelSelectorRequirement {
                key: "a".into(),
                operator: Operator::In,
                values: vec![],
            }],
        };
        assert!(!s.matches(&labels(&[("a", "x")])));
        assert!(s.validate().is_err());
        let json = r#"{"matchLabels":{"app":"web"},"matchExpressions":[{"key":"t","operator":"NotIn","values":["x"]}]}"#;
        let s: LabelSelector = serde_json::from_str(json).unwrap();
        assert!(s.validate().is_ok());
        assert!(s.matches(&labels(&[("app", "web")])));
    }
}
