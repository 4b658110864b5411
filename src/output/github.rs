//! GitHub Actions: the workflow commands evctl prints (`::error file=..,line=..,col=..::`
//! annotations, `::add-mask::`) and the files the runner reads afterwards (markdown appended to
//! `$GITHUB_STEP_SUMMARY`, `name=value` entries appended to `$GITHUB_OUTPUT`).
//!
//! The environment is an input ([`Github::detect`] takes a lookup), never read deep inside, so
//! tests point it at temp files. Escaping follows the runner's rules (the same as the
//! `@actions/core` toolkit): in a command's message `%`, CR and LF are percent-encoded; in a
//! property value `:` and `,` are too. Workflow commands go to stderr, which the runner scans as
//! it scans stdout, so that stdout keeps carrying only results (`--output json` stays parseable).

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::spec::{Diagnostic, Severity};

/// `GITHUB_ACTIONS`: `true` inside a GitHub Actions job.
pub const ENV_ACTIONS: &str = "GITHUB_ACTIONS";
/// `GITHUB_STEP_SUMMARY`: the file whose markdown is shown on the run's summary page.
pub const ENV_STEP_SUMMARY: &str = "GITHUB_STEP_SUMMARY";
/// `GITHUB_OUTPUT`: the file of the current step's outputs.
pub const ENV_OUTPUT: &str = "GITHUB_OUTPUT";

/// GitHub Actions integration for one command run: on when `--github` is given or
/// `GITHUB_ACTIONS=true`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Github {
    step_summary: Option<PathBuf>,
    output: Option<PathBuf>,
    /// On because of `--github` (not detected): missing files are worth a warning.
    explicit: bool,
}

impl Github {
    /// The integration if `flag` is set or `env` says this is a GitHub Actions job; `None`
    /// otherwise. `env` looks up an environment variable (empty values count as unset).
    pub fn detect(flag: bool, env: impl Fn(&str) -> Option<String>) -> Option<Github> {
        let get = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        let in_actions = get(ENV_ACTIONS).is_some_and(|v| v.trim() == "true");
        (flag || in_actions).then(|| Github {
            step_summary: get(ENV_STEP_SUMMARY).map(PathBuf::from),
            output: get(ENV_OUTPUT).map(PathBuf::from),
            explicit: flag,
        })
    }

    /// [`Github::detect`] on the process environment: for command entry points only.
    pub fn from_process_env(flag: bool) -> Option<Github> {
        Github::detect(flag, |name| std::env::var(name).ok())
    }

    /// Appends `markdown` to the step summary. Returns a warning for the user when there is no
    /// step summary file although `--github` asked for one; `Ok(None)` when written (or when not
    /// asked for explicitly and absent).
    pub fn append_summary(&self, markdown: &str) -> anyhow::Result<Option<String>> {
        let Some(path) = &self.step_summary else {
            return Ok(self.explicit.then(|| {
                format!("--github: {ENV_STEP_SUMMARY} is not set, so no step summary was written")
            }));
        };
        let mut text = markdown.trim_end().to_string();
        text.push_str("\n\n");
        append(path, &text).with_context(|| {
            format!(
                "could not write the step summary ({ENV_STEP_SUMMARY}={})",
                path.display()
            )
        })?;
        Ok(None)
    }

    /// `$GITHUB_OUTPUT`, or an error saying it is not set (checked before any work that would
    /// be wasted without it).
    pub fn output_file(&self) -> anyhow::Result<&Path> {
        self.output.as_deref().with_context(|| {
            format!(
                "{ENV_OUTPUT} is not set; it names the step's output file inside a GitHub \
                 Actions job (to try it elsewhere: {ENV_OUTPUT}=/tmp/out evctl ...)"
            )
        })
    }

    /// Appends the step outputs to `$GITHUB_OUTPUT` (fails when it is not set: the caller asked
    /// for outputs and would otherwise lose them silently).
    pub fn set_outputs<'a>(
        &self,
        outputs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> anyhow::Result<()> {
        let path = self.output_file()?;
        let mut text = String::new();
        for (name, value) in outputs {
            text.push_str(&output_entry(name, value)?);
        }
        append(path, &text).with_context(|| {
            format!(
                "could not write the step outputs ({ENV_OUTPUT}={})",
                path.display()
            )
        })
    }
}

fn append(path: &Path, text: &str) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    file.write_all(text.as_bytes())?;
    file.flush()
}

/// How serious an annotation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Error,
    Warning,
    Notice,
}

impl Level {
    fn command(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warning => "warning",
            Level::Notice => "notice",
        }
    }
}

/// An annotation on a file (or on the run, without `file`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Annotation<'a> {
    pub file: Option<&'a str>,
    /// 1-based.
    pub line: Option<usize>,
    /// 1-based.
    pub col: Option<usize>,
    pub title: Option<&'a str>,
    pub message: &'a str,
}

/// `::error file=F,line=L,col=C,title=T::message` (properties that are `None` are left out).
pub fn annotation(level: Level, a: &Annotation<'_>) -> String {
    let mut props: Vec<String> = Vec::new();
    if let Some(file) = a.file {
        props.push(format!("file={}", escape_property(file)));
    }
    if let Some(line) = a.line {
        props.push(format!("line={line}"));
    }
    if let Some(col) = a.col {
        props.push(format!("col={col}"));
    }
    if let Some(title) = a.title {
        props.push(format!("title={}", escape_property(title)));
    }
    let props = if props.is_empty() {
        String::new()
    } else {
        format!(" {}", props.join(","))
    };
    format!("::{}{props}::{}", level.command(), escape_data(a.message))
}

/// A spec diagnostic as an annotation on the spec file, at its line and column, titled with its
/// code; the message names the field path and carries the hint.
pub fn spec_annotation(d: &Diagnostic) -> String {
    let level = match d.severity {
        Severity::Error => Level::Error,
        Severity::Warning => Level::Warning,
    };
    let mut message = if d.path.is_empty() {
        d.message.clone()
    } else {
        format!("{}: {}", d.path, d.message)
    };
    if let Some(hint) = &d.hint {
        let _ = write!(message, "\nhelp: {hint}");
    }
    let file = d.file.display().to_string();
    let title = format!("evctl {}", d.code.as_str());
    annotation(
        level,
        &Annotation {
            file: Some(&file),
            line: d.line,
            col: d.column,
            title: Some(&title),
            message: &message,
        },
    )
}

/// `::add-mask::VALUE`: the runner replaces VALUE with `***` in every later log line of the job.
pub fn mask(secret: &str) -> String {
    format!("::add-mask::{}", escape_data(secret))
}

/// Writes workflow commands to stderr, one per line (the runner reads stderr as it reads stdout).
pub fn emit(commands: &[String]) {
    let mut err = std::io::stderr().lock();
    for c in commands {
        let _ = writeln!(err, "{c}");
    }
    let _ = err.flush();
}

/// Escapes a workflow command's message.
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a workflow command's property value.
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// One `$GITHUB_OUTPUT` entry: `name=value\n`, or for a value with line breaks the delimiter
/// form `name<<ghadelimiter_<uuid>\nvalue\nghadelimiter_<uuid>\n` with a delimiter that occurs
/// in neither.
pub fn output_entry(name: &str, value: &str) -> anyhow::Result<String> {
    check_output_name(name)?;
    if !value.contains(['\n', '\r']) {
        return Ok(format!("{name}={value}\n"));
    }
    let delimiter = loop {
        let d = format!("ghadelimiter_{}", uuid::Uuid::new_v4());
        if !value.contains(&d) {
            break d;
        }
    };
    let mut entry = String::new();
    let _ = write!(entry, "{name}<<{delimiter}\n{value}\n{delimiter}\n");
    Ok(entry)
}

/// Output names as GitHub accepts them: start with a letter or `_`, then letters, digits, `-`
/// or `_`.
fn check_output_name(name: &str) -> anyhow::Result<()> {
    let mut chars = name.chars();
    let ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    anyhow::ensure!(
        ok,
        "{name:?} is not a valid GitHub Actions output name (a letter or `_`, then letters, \
         digits, `-` or `_`)"
    );
    Ok(())
}

/// A table cell in GitHub-flavoured markdown: pipes escaped, line breaks folded.
pub fn markdown_cell(text: &str) -> String {
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn it_is_on_in_actions_or_when_asked() {
        assert_eq!(Github::detect(false, env(&[])), None);
        assert_eq!(Github::detect(false, env(&[(ENV_ACTIONS, "false")])), None);
        let on = Github::detect(
            false,
            env(&[
                (ENV_ACTIONS, "true"),
                (ENV_OUTPUT, "/tmp/o"),
                (ENV_STEP_SUMMARY, ""),
            ]),
        )
        .expect("on in actions");
        assert_eq!(on.output, Some(PathBuf::from("/tmp/o")));
        assert_eq!(on.step_summary, None);
        assert!(!on.explicit);
        assert!(Github::detect(true, env(&[])).is_some_and(|g| g.explicit));
    }

    #[test]
    fn annotations_escape_messages_and_properties() {
        let a = Annotation {
            file: Some("specs/a,b:c.yaml"),
            line: Some(14),
            col: Some(5),
            title: Some("evctl unknown-field"),
            message: "100% wrong\r\nhelp: did you mean `x`?",
        };
        assert_eq!(
            annotation(Level::Error, &a),
            "::error file=specs/a%2Cb%3Ac.yaml,line=14,col=5,title=evctl unknown-field::100%25 wrong%0D%0Ahelp: did you mean `x`?"
        );
        let bare = Annotation {
            message: "a: b, c",
            ..Annotation::default()
        };
        assert_eq!(annotation(Level::Warning, &bare), "::warning::a: b, c");
        assert_eq!(mask("da2-x%y"), "::add-mask::da2-x%25y");
    }

    #[test]
    fn spec_diagnostics_annotate_their_location() {
        let d = Diagnostic {
            severity: Severity::Error,
            code: crate::spec::Code::UnknownField,
            file: PathBuf::from("api.yaml"),
            line: Some(14),
            column: Some(5),
            path: "channelNamespaces[2].publishAuthMode".into(),
            message: "unknown field `publishAuthMode`".into(),
            hint: Some("did you mean `publishAuthModes`?".into()),
            source_line: None,
        };
        assert_eq!(
            spec_annotation(&d),
            "::error file=api.yaml,line=14,col=5,title=evctl unknown-field::channelNamespaces[2].publishAuthMode: unknown field `publishAuthMode`%0Ahelp: did you mean `publishAuthModes`?"
        );
    }

    #[test]
    fn outputs_use_the_delimiter_form_only_for_multiline_values() {
        assert_eq!(
            output_entry("api_id", "abc=def").expect("valid"),
            "api_id=abc=def\n"
        );
        let entry = output_entry("plan", "line one\nline two").expect("valid");
        let (head, rest) = entry.split_once('\n').expect("two lines at least");
        let delimiter = head.strip_prefix("plan<<").expect("delimiter form");
        assert!(delimiter.starts_with("ghadelimiter_"));
        assert_eq!(rest, format!("line one\nline two\n{delimiter}\n"));
        assert!(output_entry("bad name", "x").is_err());
        assert!(output_entry("1st", "x").is_err());
        assert!(output_entry("", "x").is_err());
        assert!(output_entry("_ok-name_2", "x").is_ok());
    }

    #[test]
    fn files_are_appended_to() {
        let dir = tempfile::tempdir().expect("temp dir");
        let summary = dir.path().join("summary.md");
        let output = dir.path().join("output");
        std::fs::write(&summary, "# before\n").expect("seed");
        let summary_s = summary.display().to_string();
        let output_s = output.display().to_string();
        let g = Github::detect(
            false,
            env(&[
                (ENV_ACTIONS, "true"),
                (ENV_STEP_SUMMARY, &summary_s),
                (ENV_OUTPUT, &output_s),
            ]),
        )
        .expect("on");
        assert_eq!(g.append_summary("## plan\n\n").expect("written"), None);
        g.set_outputs([("a", "1"), ("b", "2")]).expect("written");
        g.set_outputs([("c", "3")]).expect("written");
        assert_eq!(
            std::fs::read_to_string(&summary).expect("read"),
            "# before\n## plan\n\n"
        );
        assert_eq!(
            std::fs::read_to_string(&output).expect("read"),
            "a=1\nb=2\nc=3\n"
        );
    }

    #[test]
    fn missing_files_are_reported() {
        let asked = Github::detect(true, env(&[])).expect("on");
        assert!(
            asked
                .append_summary("x")
                .expect("no error")
                .is_some_and(|w| w.contains(ENV_STEP_SUMMARY))
        );
        assert!(asked.set_outputs([("a", "1")]).is_err());
        let detected = Github::detect(false, env(&[(ENV_ACTIONS, "true")])).expect("on");
        assert_eq!(detected.append_summary("x").expect("no error"), None);
    }
}
