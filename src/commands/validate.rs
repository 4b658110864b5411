//! `evctl validate`: check spec files without calling AWS; report every problem with its
//! location, or a one-line summary per valid file.

use serde::Serialize;

use crate::cli::{OutputFormat, ValidateArgs};
use crate::exit::ExitStatus;
use crate::model::DesiredState;
use crate::output::Printer;
use crate::output::github::{self, Github};
use crate::spec::{self, Diagnostic, Vars};

/// `--output json`: the result of every file, as data.
#[derive(Debug, Serialize)]
struct Report {
    format_version: &'static str,
    valid: bool,
    specs: Vec<FileReport>,
}

#[derive(Debug, Serialize)]
struct FileReport {
    file: String,
    valid: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    summary: Option<Summary>,
    diagnostics: Vec<Diagnostic>,
}

#[derive(Debug, Serialize)]
struct Summary {
    api: String,
    auth_providers: Vec<String>,
    namespaces: usize,
    api_keys: usize,
}

impl Summary {
    fn of(d: &DesiredState) -> Summary {
        Summary {
            api: d.api.name.clone(),
            auth_providers: d
                .api
                .auth_providers
                .iter()
                .map(|p| p.auth_type.to_string())
                .collect(),
            namespaces: d.namespaces.len(),
            api_keys: d.keys.len(),
        }
    }

    fn line(&self) -> String {
        let plural =
            |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        format!(
            "API `{}`, {} ({}), {}, {}",
            self.api,
            plural(self.auth_providers.len(), "auth provider", "auth providers"),
            self.auth_providers.join(", "),
            plural(self.namespaces, "namespace", "namespaces"),
            plural(self.api_keys, "API key", "API keys"),
        )
    }
}

pub async fn run(args: ValidateArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let vars = Vars::from_args_and_env(&args.vars)?;
    let gh = Github::from_process_env(args.github);
    let mut specs = Vec::with_capacity(args.specs.len());
    for path in &args.specs {
        let report = match spec::load(path, &vars) {
            Ok(loaded) => FileReport {
                file: path.display().to_string(),
                valid: true,
                summary: Some(Summary::of(&loaded.desired)),
                diagnostics: loaded.warnings,
            },
            Err(err) => FileReport {
                file: path.display().to_string(),
                valid: false,
                summary: None,
                diagnostics: err.diagnostics,
            },
        };
        specs.push(report);
    }
    let valid = specs.iter().all(|s| s.valid);

    if gh.is_some() {
        let annotations: Vec<String> = specs
            .iter()
            .flat_map(|s| &s.diagnostics)
            .map(github::spec_annotation)
            .collect();
        github::emit(&annotations);
    }
    if printer.format == OutputFormat::Json {
        printer.json(&Report {
            format_version: "1.0",
            valid,
            specs,
        })?;
    } else {
        for s in &specs {
            if s.valid {
                for d in &s.diagnostics {
                    printer.status(d.render().trim_end());
                }
            } else {
                let errors = s.diagnostics.iter().filter(|d| d.is_error()).count();
                let text: String = s.diagnostics.iter().map(Diagnostic::render).collect();
                printer.error(&anyhow::anyhow!(
                    "{} is invalid ({errors} error{}):\n{}",
                    s.file,
                    if errors == 1 { "" } else { "s" },
                    text.trim_end()
                ));
            }
            if let Some(summary) = &s.summary {
                printer.result(&format!("{}: valid: {}", s.file, summary.line()));
            }
        }
        let invalid = specs.iter().filter(|s| !s.valid).count();
        if invalid > 0 && specs.len() > 1 {
            printer.status(&format!("{invalid} of {} specs are invalid", specs.len()));
        }
    }
    Ok(if valid {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    })
}
