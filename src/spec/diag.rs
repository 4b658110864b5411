//! Diagnostics: what is wrong with a spec, where (file, line, column, field path) and how to fix
//! it; [`SpecError`] carries all of them. Rendering for humans and JSON
//! (GitHub annotations: `crate::output::github::spec_annotation`).

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// How bad a diagnostic is: errors make the spec invalid, warnings do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// A stable, machine-readable kind of diagnostic (the JSON `code` field).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Code {
    /// The file could not be read (missing, a directory, too large, not UTF-8).
    Io,
    /// The file is not valid YAML (or uses YAML features the spec does not allow).
    Syntax,
    /// A field the spec format does not have (often a typo).
    UnknownField,
    /// A required field is absent.
    MissingField,
    /// A value of the wrong kind (a list where a string belongs, ...).
    InvalidType,
    /// A value of the right kind that breaks a rule (pattern, length, range, enum).
    InvalidValue,
    /// `${NAME}` with no value and no default.
    UnsetVariable,
    /// A malformed `${...}` reference.
    BadVariable,
    /// Two things that must be unique share a name.
    Duplicate,
    /// More items than AppSync allows.
    Limit,
    /// Something one part of the spec refers to is not there (an auth mode without its provider).
    Reference,
    /// The spec's `version` is not one this evctl understands.
    Version,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Code::Io => "io",
            Code::Syntax => "syntax",
            Code::UnknownField => "unknown-field",
            Code::MissingField => "missing-field",
            Code::InvalidType => "invalid-type",
            Code::InvalidValue => "invalid-value",
            Code::UnsetVariable => "unset-variable",
            Code::BadVariable => "bad-variable",
            Code::Duplicate => "duplicate",
            Code::Limit => "limit",
            Code::Reference => "reference",
            Code::Version => "version",
        }
    }
}

/// One located problem in a spec file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Diagnostic {
    pub severity: Severity,
    pub code: Code,
    /// The spec file as the user named it.
    pub file: PathBuf,
    /// 1-based; `None` when the problem is the file as a whole.
    pub line: Option<usize>,
    /// 1-based, in characters.
    pub column: Option<usize>,
    /// Field path such as `channelNamespaces[2].publishAuthModes[0]`; empty for the document.
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// The source line the location points into (for the text rendering).
    #[serde(skip)]
    pub source_line: Option<String>,
}

impl Diagnostic {
    /// A diagnostic about the file as a whole (no position).
    pub fn file_level(file: &Path, code: Code, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            code,
            file: file.to_path_buf(),
            line: None,
            column: None,
            path: String::new(),
            message: message.into(),
            hint: None,
            source_line: None,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Diagnostic {
        self.hint = Some(hint.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// `file:line:column`, or just `file` when there is no position.
    pub fn location(&self) -> String {
        match (self.line, self.column) {
            (Some(l), Some(c)) => format!("{}:{l}:{c}", self.file.display()),
            (Some(l), None) => format!("{}:{l}", self.file.display()),
            _ => self.file.display().to_string(),
        }
    }

    /// Human rendering, in the style of compiler errors:
    ///
    /// ```text
    /// error[unknown-field]: unknown field `publishAuthMode`
    ///   --> api.yaml:14:5 (channelNamespaces[2].publishAuthMode)
    ///    |
    /// 14 |     publishAuthMode: [API_KEY]
    ///    |     ^
    ///    = help: did you mean `publishAuthModes`?
    /// ```
    pub fn render(&self) -> String {
        let severity = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let mut out = format!("{severity}[{}]: {}\n", self.code.as_str(), self.message);
        let path = if self.path.is_empty() {
            String::new()
        } else {
            format!(" ({})", self.path)
        };
        let gutter = self.line.map_or(1, |l| l.to_string().len());
        let pad = " ".repeat(gutter);
        out.push_str(&format!("{pad}--> {}{path}\n", self.location()));
        if let (Some(line), Some(column), Some(src)) = (self.line, self.column, &self.source_line) {
            let (src, column) = window(src, column);
            // Keep tabs as tabs so the caret lines up under them.
            let lead: String = src
                .chars()
                .take(column.saturating_sub(1))
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            out.push_str(&format!("{pad} |\n{line} | {src}\n{pad} | {lead}^\n"));
        }
        if let Some(hint) = &self.hint {
            out.push_str(&format!("{pad} = help: {hint}\n"));
        }
        out
    }
}

/// At most ~120 characters of a source line around `column` (long lines are cut with `…`),
/// and the column within what is shown.
fn window(src: &str, column: usize) -> (String, usize) {
    const SIDE: usize = 60;
    let chars: Vec<char> = src.chars().collect();
    if chars.len() <= 2 * SIDE {
        return (src.to_string(), column);
    }
    let at = column.saturating_sub(1).min(chars.len());
    let start = at.saturating_sub(SIDE);
    let end = (at + SIDE).min(chars.len());
    let mut shown = String::new();
    let mut col = at - start + 1;
    if start > 0 {
        shown.push('…');
        col += 1;
    }
    shown.extend(&chars[start..end]);
    if end < chars.len() {
        shown.push('…');
    }
    (shown, col)
}

/// A spec that cannot be used: every diagnostic found in it (errors first reason it failed;
/// warnings ride along so nothing is lost).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct SpecError {
    pub file: PathBuf,
    pub diagnostics: Vec<Diagnostic>,
}

impl SpecError {
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| d.is_error())
    }

    pub fn error_count(&self) -> usize {
        self.errors().count()
    }
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.error_count();
        writeln!(
            f,
            "invalid spec {} ({n} error{})",
            self.file.display(),
            if n == 1 { "" } else { "s" }
        )?;
        for d in &self.diagnostics {
            write!(f, "{}", d.render())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            code: Code::UnknownField,
            file: PathBuf::from("api.yaml"),
            line: Some(14),
            column: Some(5),
            path: "channelNamespaces[2].publishAuthMode".into(),
            message: "unknown field `publishAuthMode`".into(),
            hint: Some("did you mean `publishAuthModes`?".into()),
            source_line: Some("    publishAuthMode: [API_KEY]".into()),
        }
    }

    #[test]
    fn renders_like_a_compiler_error() {
        assert_eq!(
            sample().render(),
            "error[unknown-field]: unknown field `publishAuthMode`\n  --> api.yaml:14:5 (channelNamespaces[2].publishAuthMode)\n   |\n14 |     publishAuthMode: [API_KEY]\n   |     ^\n   = help: did you mean `publishAuthModes`?\n"
        );
    }

    #[test]
    fn long_source_lines_are_cut_around_the_column() {
        let line = format!("{}X{}", "a".repeat(500), "b".repeat(500));
        let (shown, col) = window(&line, 501);
        assert_eq!(shown.chars().nth(col - 1), Some('X'));
        assert!(shown.starts_with('…') && shown.ends_with('…'));
        assert!(shown.chars().count() <= 123);
        assert_eq!(window("short", 3), ("short".to_string(), 3));
    }
}
