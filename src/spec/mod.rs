//! The user's YAML spec: read it, expand variables, validate it against every AppSync
//! constraint, and turn it into the desired [`crate::model::DesiredState`]. Knows nothing of AWS
//! calls; nothing outside this module parses YAML.
//!
//! # Using it
//!
//! One entry point, [`load`]:
//!
//! ```no_run
//! use std::path::Path;
//! use evctl::spec::{self, Vars};
//!
//! // The CLI: `--var NAME=VALUE` pairs, then the process environment.
//! let vars = Vars::from_args_and_env(&["STAGE=pr-42".to_string()])?;
//! // Tests and library callers: explicit values and an injected lookup, no process environment.
//! let vars = Vars::new([("STAGE", "pr-42")]).with_env(|name| (name == "HOME").then(|| "/x".into()));
//! match spec::load(Path::new("api.yaml"), &vars) {
//!     Ok(loaded) => {
//!         let desired = &loaded.desired;   // model::DesiredState: api, namespaces, keys
//!         let smoke = &loaded.smoke;       // channels to test, per-check timeout
//!         let dir = &loaded.dir;           // the spec's directory
//!         for w in &loaded.warnings { eprint!("{}", w.render()); }
//!     }
//!     // Every problem in the file, each with file, line, column, field path and a hint.
//!     // `Display` renders them all; `diagnostics` gives them as data.
//!     Err(err) => eprint!("{err}"),
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [`load`] never panics or hangs on hostile input: the file is read with a size cap
//! ([`MAX_SPEC_BYTES`]), YAML nesting and alias expansion are bounded by the parser, and every
//! failure (missing file, directory, non-UTF-8, syntax error) is a [`SpecError`].
//! [`schema`] is the JSON Schema of the format, derived from the same types that parse it.
//!
//! # How it works
//!
//! 1. The text is parsed by `serde_yaml` into a YAML tree (syntax errors carry a location).
//!    `serde_yaml`'s upstream is archived; it is used only here, so swapping it is local.
//! 2. A second, marked event scan ([`locate`], saphyr-parser) indexes where every field path
//!    is written, because `serde_yaml` keeps no positions for valid values.
//! 3. An error-collecting deserializer ([`de`]) maps the tree onto the typed [`types::Spec`],
//!    expanding `${NAME}` in string values (after parsing, so a value can never change the
//!    document's structure), and records unknown fields (with "did you mean"), missing fields,
//!    wrong types and bad enum values without stopping at the first.
//! 4. [`lower`] checks every AppSync constraint and builds the desired state in one walk.
//! 5. Findings get their line and column from the index; problems under a path that already
//!    has a structural error are dropped (they would only repeat it).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_yaml::Value;

use crate::model::DesiredState;

mod de;
mod diag;
mod locate;
mod lower;
mod rules;
mod suggest;
pub mod templates;
pub mod types;
mod vars;

pub use diag::{Code, Diagnostic, Severity, SpecError};
pub use lower::{
    CLOCK_SKEW, DEFAULT_KEY_VALIDITY, DEFAULT_SMOKE_TIMEOUT, MAX_CODE_CHARS, MAX_KEY_VALIDITY,
    MAX_KEYS, MAX_NAMESPACES, MIN_KEY_VALIDITY,
};
pub use vars::{VarArgError, Vars, parse_var_args};

/// The only format version this evctl reads.
pub const SPEC_VERSION: u32 = 1;
/// Larger files are refused before parsing (50 namespaces with maximal inline handlers fit in
/// under 2 MiB).
pub const MAX_SPEC_BYTES: u64 = 4 * 1024 * 1024;

/// A valid spec, ready for the engine and the smoke test.
#[derive(Debug, Clone)]
pub struct LoadedSpec {
    /// The spec file as given.
    pub path: PathBuf,
    /// The directory handler files were read relative to (the spec file's directory).
    pub dir: PathBuf,
    /// What the spec asks for.
    pub desired: DesiredState,
    /// What the smoke test checks.
    pub smoke: SmokeConfig,
    /// Problems that do not make the spec invalid.
    pub warnings: Vec<Diagnostic>,
    /// The handler files the spec names (what `evctl dev` watches besides the spec).
    pub handler_files: Vec<PathBuf>,
}

/// The smoke section with its defaults applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmokeConfig {
    /// Concrete channel paths (`/namespace/...`), each in a namespace of the spec. Default:
    /// `/<namespace>/evctl-smoke` for every namespace.
    pub channels: Vec<String>,
    /// How long each check may take. Default [`DEFAULT_SMOKE_TIMEOUT`].
    pub timeout: Duration,
}

/// Reads, expands, validates and lowers the spec at `path`. All problems in the file are in the
/// error, not only the first.
pub fn load(path: &Path, vars: &Vars) -> Result<LoadedSpec, SpecError> {
    load_at(path, vars, time::OffsetDateTime::now_utc())
}

/// [`load`] with an explicit clock (key expiry dates are checked against `now`).
pub fn load_at(
    path: &Path,
    vars: &Vars,
    now: time::OffsetDateTime,
) -> Result<LoadedSpec, SpecError> {
    let fail = |d: Box<Diagnostic>| SpecError {
        file: path.to_path_buf(),
        diagnostics: vec![*d],
    };
    let text = read_source(path).map_err(fail)?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    load_str(path, &dir, &text, vars, now)
}

/// Validates spec text as if read from `path` (handler files resolve against `dir`).
pub fn load_str(
    path: &Path,
    dir: &Path,
    text: &str,
    vars: &Vars,
    now: time::OffsetDateTime,
) -> Result<LoadedSpec, SpecError> {
    let fail = |diagnostics: Vec<Diagnostic>| SpecError {
        file: path.to_path_buf(),
        diagnostics,
    };
    vars.forget_lookups();
    if let Some(d) = flow_too_deep(path, text) {
        return Err(fail(vec![d]));
    }
    let mut value: Value = match serde_yaml::from_str(text) {
        Ok(v) => v,
        Err(e) => return Err(fail(vec![syntax_error(path, text, &e)])),
    };
    if matches!(value, Value::Null) {
        return Err(fail(vec![
            Diagnostic::file_level(path, Code::Syntax, "the spec is empty")
                .with_hint("start from a template: `evctl init --template minimal`"),
        ]));
    }
    if let Err(e) = value.apply_merge() {
        return Err(fail(vec![syntax_error(path, text, &e)]));
    }
    let index = locate::Index::build(text);
    let resolve = |findings: Vec<de::Finding>| -> Vec<Diagnostic> {
        let lines: Vec<&str> = text.lines().collect();
        let mut out: Vec<Diagnostic> = findings
            .into_iter()
            .map(|f| {
                let pos = index.locate(&f.path, f.at_key);
                Diagnostic {
                    severity: if f.warning {
                        Severity::Warning
                    } else {
                        Severity::Error
                    },
                    code: f.code,
                    file: path.to_path_buf(),
                    line: pos.map(|p| p.line),
                    column: pos.map(|p| p.column),
                    path: f.path,
                    message: f.message,
                    hint: f.hint,
                    source_line: pos
                        .and_then(|p| lines.get(p.line - 1))
                        .map(|l| l.to_string()),
                }
            })
            .collect();
        out.sort_by(|a, b| {
            (a.line, a.column, &a.path, a.code).cmp(&(b.line, b.column, &b.path, b.code))
        });
        out.dedup();
        out
    };

    if let Some(finding) = version_problem(&value) {
        return Err(fail(resolve(vec![finding])));
    }

    let cx = de::Ctx::new(vars);
    let spec = de::from_value::<types::Spec>(&value, &cx);
    let mut findings = cx.into_findings();
    let structural: Vec<String> = findings.iter().map(|f| f.path.clone()).collect();
    let lowered = match spec {
        Ok(spec) => Some(lower::lower(&spec, dir, now)),
        Err(e) => {
            findings.push(de::Finding::error("", Code::InvalidValue, e.to_string()));
            None
        }
    };
    let Some(lowered) = lowered else {
        return Err(fail(resolve(findings)));
    };
    findings.extend(
        lowered
            .findings
            .into_iter()
            .filter(|f| !structural.iter().any(|s| is_under(&f.path, s))),
    );
    let mut diagnostics = resolve(findings);
    diagnostics.extend(unused_vars(path, vars));
    if diagnostics.iter().any(Diagnostic::is_error) {
        return Err(fail(diagnostics));
    }
    Ok(LoadedSpec {
        path: path.to_path_buf(),
        dir: dir.to_path_buf(),
        desired: lowered.desired,
        smoke: lowered.smoke,
        warnings: diagnostics,
        handler_files: lowered.handler_files,
    })
}

/// A warning for each `--var` that no `${NAME}` of the spec uses: a misspelt or wrongly cased
/// name would otherwise leave the default in place (`--var stage=pr-42` for `${STAGE:-dev}`
/// deploys the `dev` API).
fn unused_vars(path: &Path, vars: &Vars) -> Vec<Diagnostic> {
    vars.unused()
        .into_iter()
        .map(|(name, used)| {
            let hint = match suggest::did_you_mean(&name, used.iter().map(String::as_str)) {
                Some(meant) => format!("did you mean `{meant}`? (names are case-sensitive)"),
                None if used.is_empty() => "the spec uses no variables".to_string(),
                None => format!("the spec uses: {}", used.join(", ")),
            };
            let mut d = Diagnostic::file_level(
                path,
                Code::BadVariable,
                format!("--var {name} is set, but the spec never uses ${{{name}}}"),
            )
            .with_hint(hint);
            d.severity = Severity::Warning;
            d
        })
        .collect()
}

/// The JSON Schema (draft-07, which yaml-language-server reads) of the spec format.
pub fn schema() -> serde_json::Value {
    let schema = schemars::generate::SchemaSettings::draft07()
        .into_generator()
        .into_root_schema_for::<types::Spec>();
    schema.to_value()
}

/// `path` is `base` or inside it (`a.b[1]` is inside `a.b`; `a.bc` is not).
fn is_under(path: &str, base: &str) -> bool {
    base.is_empty()
        || path == base
        || path
            .strip_prefix(base)
            .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
}

/// A version other than 1 means the rest of the file follows rules this evctl does not know:
/// report that alone.
fn version_problem(value: &Value) -> Option<de::Finding> {
    let v = value.as_mapping()?.get("version")?;
    if v.as_u64() == Some(u64::from(SPEC_VERSION)) {
        return None;
    }
    let shown = match v {
        Value::Number(n) => n.to_string(),
        Value::String(s) => format!("{s:?}"),
        _ => return None,
    };
    let hint = if v.as_u64().is_some_and(|n| n > u64::from(SPEC_VERSION)) {
        "this spec was written for a newer evctl: upgrade evctl"
    } else {
        "write `version: 1`"
    };
    Some(
        de::Finding::error(
            "version",
            Code::Version,
            format!("unsupported spec version {shown}; this evctl reads version {SPEC_VERSION}"),
        )
        .hint(hint),
    )
}

fn syntax_error(path: &Path, text: &str, e: &serde_yaml::Error) -> Diagnostic {
    let mut d = Diagnostic::file_level(path, Code::Syntax, strip_location(&e.to_string()));
    let msg = d.message.clone();
    let pos = match e.location() {
        Some(loc) => Some((loc.line(), loc.column())),
        None if msg.contains("more than one document") => {
            locate::second_document(text).map(|p| (p.line, p.column))
        }
        None => None,
    };
    if let Some((line, column)) = pos {
        d.line = Some(line);
        d.column = Some(column);
        d.source_line = text.lines().nth(line.saturating_sub(1)).map(str::to_string);
    }
    if msg.contains("recursion limit") {
        d.hint = Some("the document nests too deeply to be a spec".into());
    } else if msg.contains("repetition limit") {
        d.hint = Some("YAML aliases expand to too much data (an alias bomb?)".into());
    } else if msg.contains("more than one document") {
        d.hint = Some("a spec file holds one document: remove the extra `---`".into());
    } else if msg.contains("duplicate entry") {
        d.hint = Some("each key may appear once per mapping: remove or rename the repeat".into());
    } else if msg.contains("control characters") || msg.contains("invalid") {
        d.hint = Some("is this a YAML spec? `evctl init` writes a starting point".into());
    }
    d
}

/// Deeper unclosed `[`/`{` than this is refused before YAML parsing (the parser's own depth
/// limit applies later, but its time grows with the square of flow nesting).
const MAX_FLOW_DEPTH: usize = 1000;

/// A linear pre-scan for absurd flow nesting. It ignores quoting, so brackets inside strings
/// (handler code) count too; balanced code never comes near the limit.
fn flow_too_deep(path: &Path, text: &str) -> Option<Diagnostic> {
    let (mut depth, mut line, mut column) = (0usize, 1usize, 0usize);
    for c in text.chars() {
        column += 1;
        match c {
            '\n' => {
                line += 1;
                column = 0;
            }
            '[' | '{' => {
                depth += 1;
                if depth > MAX_FLOW_DEPTH {
                    let mut d = Diagnostic::file_level(
                        path,
                        Code::Syntax,
                        format!("recursion limit exceeded: more than {MAX_FLOW_DEPTH} nested `[` or `{{`"),
                    )
                    .with_hint("the document nests too deeply to be a spec");
                    d.line = Some(line);
                    d.column = Some(column);
                    return Some(d);
                }
            }
            ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

/// serde_yaml appends " at line L column C" to messages; the location is reported separately.
fn strip_location(msg: &str) -> String {
    match msg.find(" at line ") {
        Some(i) => {
            let (head, tail) = msg.split_at(i);
            // Keep any context after the location (", while parsing ...").
            match tail.find(", ") {
                Some(j) => format!("{head}{}", strip_location(&tail[j..])),
                None => head.to_string(),
            }
        }
        None => msg.to_string(),
    }
}

/// Reads the spec file, refusing directories, oversized files and non-UTF-8 text with a
/// located diagnostic.
fn read_source(path: &Path) -> Result<String, Box<Diagnostic>> {
    let io = |msg: String| Diagnostic::file_level(path, Code::Io, msg);
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => io("no such file".into())
            .with_hint("check the path; `evctl init` writes a starter spec"),
        _ => io(format!("cannot read the spec: {e}")),
    })?;
    if meta.is_dir() {
        return Err(Box::new(
            io("this is a directory, not a spec file".into())
                .with_hint("name the YAML file, e.g. api.yaml"),
        ));
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_SPEC_BYTES + 1).read_to_end(&mut bytes))
        .map_err(|e| io(format!("cannot read the spec: {e}")))?;
    if bytes.len() as u64 > MAX_SPEC_BYTES {
        return Err(Box::new(
            io(format!(
                "the file is larger than {} MiB, which no spec needs",
                MAX_SPEC_BYTES / (1024 * 1024)
            ))
            .with_hint("is this the right file?"),
        ));
    }
    String::from_utf8(bytes).map_err(|e| {
        let valid = e.utf8_error().valid_up_to();
        let before = &e.as_bytes()[..valid];
        let line = before.iter().filter(|b| **b == b'\n').count() + 1;
        let line_start = before
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |p| p + 1);
        let column = String::from_utf8_lossy(&before[line_start..])
            .chars()
            .count()
            + 1;
        let mut d = io(format!(
            "the file is not UTF-8 text (invalid byte at offset {valid})"
        ))
        .with_hint("save the spec as UTF-8");
        d.code = Code::Syntax;
        d.line = Some(line);
        d.column = Some(column);
        Box::new(d)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_are_stripped_from_yaml_messages() {
        assert_eq!(
            strip_location(
                "did not find expected key at line 3 column 5, while parsing a block mapping at line 1 column 1"
            ),
            "did not find expected key, while parsing a block mapping"
        );
        assert_eq!(strip_location("plain"), "plain");
    }

    #[test]
    fn paths_nest() {
        assert!(is_under("api.name", "api"));
        assert!(is_under("api", "api"));
        assert!(is_under("apiKeys[0]", "apiKeys"));
        assert!(!is_under("apiKeys", "api"));
        assert!(is_under("anything", ""));
    }
}
