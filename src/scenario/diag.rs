//! Diagnostics for scenario files: `file:line:column: what was expected`.
//!
//! Byte offsets (from toml's spans) are turned into 1-based line and column numbers counted in
//! characters, as editors show them.

use std::fmt;
use std::ops::Range;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )
    }
}

/// The candidate closest to `word` by edit distance, if it is close enough to be a typo (at
/// most a third of the word's length, and at least one edit allowed).
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|c| (strsim::levenshtein(word, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, c)| (*d, *c))
        .map(|(_, c)| c)
}

/// The diagnostic's source line with a caret under the offending token, as
/// ```text
///    |
/// 11 | to = "eest"
///    |      ^^^^^^
/// ```
/// `text` is the file's content; `None` when the line is not in it.
pub fn snippet(d: &Diagnostic, text: &str) -> Option<String> {
    let line = text.lines().nth(d.line.checked_sub(1)?)?;
    let before: String = line.chars().take(d.column.saturating_sub(1)).collect();
    let rest: Vec<char> = line.chars().skip(d.column.saturating_sub(1)).collect();
    // Underline a quoted string, or a word, starting at the column.
    let width = match rest.first() {
        Some(q @ ('"' | '\'')) => rest[1..]
            .iter()
            .position(|c| c == q)
            .map_or(rest.len(), |i| i + 2),
        Some(_) => rest
            .iter()
            .position(|c| !(c.is_alphanumeric() || matches!(c, '_' | '-' | '.')))
            .unwrap_or(rest.len())
            .max(1),
        None => 1,
    };
    let number = d.line.to_string();
    let pad = " ".repeat(number.len());
    let indent: String = before
        .chars()
        .map(|c| if c == '\t' { '\t' } else { ' ' })
        .collect();
    Some(format!(
        "{pad} |\n{number} | {line}\n{pad} | {indent}{}",
        "^".repeat(width)
    ))
}

/// All diagnostics of one load, in source order.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

/// Maps byte offsets of one source text to line/column.
pub struct SourceMap<'a> {
    pub file: &'a str,
    pub text: &'a str,
}

impl SourceMap<'_> {
    pub fn position(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let mut line = 1;
        let mut line_start = 0;
        for (i, b) in self.text.bytes().enumerate().take(offset) {
            if b == b'\n' {
                line += 1;
                line_start = i + 1;
            }
        }
        // Count characters, not bytes; stay on a char boundary.
        let mut end = offset;
        while end > line_start && !self.text.is_char_boundary(end) {
            end -= 1;
        }
        let column = self.text[line_start..end].chars().count() + 1;
        (line, column)
    }

    pub fn at(&self, span: Option<Range<usize>>, message: impl Into<String>) -> Diagnostic {
        let (line, column) = span.map(|s| self.position(s.start)).unwrap_or((1, 1));
        Diagnostic {
            file: self.file.to_string(),
            line,
            column,
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_and_count_chars() {
        let map = SourceMap {
            file: "f.toml",
            text: "a = 1\nbé = 2\n",
        };
        assert_eq!(map.position(0), (1, 1));
        assert_eq!(map.position(4), (1, 5));
        assert_eq!(map.position(6), (2, 1));
        // 'é' is two bytes; the '=' after "bé " is column 4.
        assert_eq!(map.position(10), (2, 4));
        assert_eq!(map.at(Some(6..7), "x").to_string(), "f.toml:2:1: x");
    }

    #[test]
    fn typos_get_a_suggestion_and_a_caret() {
        assert_eq!(did_you_mean("eest", ["east", "west"]), Some("east"));
        assert_eq!(
            did_you_mean("quiet_periode", ["quiet_period", "seed"]),
            Some("quiet_period")
        );
        assert_eq!(did_you_mean("zzz", ["east", "west"]), None);
        let d = Diagnostic {
            file: "f.toml".into(),
            line: 2,
            column: 6,
            message: "m".into(),
        };
        assert_eq!(
            snippet(&d, "[x]\nto = \"eest\"\n").unwrap(),
            "  |\n2 | to = \"eest\"\n  |      ^^^^^^"
        );
    }
}
