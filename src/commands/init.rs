//! `evctl init`: write a starter spec from an embedded template, with its handler files and
//! the JSON Schema its `# yaml-language-server: $schema=` header points to.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::cli::{InitArgs, OutputFormat};
use crate::exit::ExitStatus;
use crate::output::Printer;
use crate::spec::templates::{self, SCHEMA_FILE, TEMPLATES};

pub async fn run(args: InitArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let json = printer.format == OutputFormat::Json;
    if args.list {
        if json {
            let templates: Vec<_> = TEMPLATES
                .iter()
                .map(|t| serde_json::json!({"name": t.name, "summary": t.summary}))
                .collect();
            printer.json(&serde_json::json!({"format_version": "1.0", "templates": templates}))?;
            return Ok(ExitStatus::Success);
        }
        let width = TEMPLATES.iter().map(|t| t.name.len()).max().unwrap_or(0);
        let lines: Vec<String> = TEMPLATES
            .iter()
            .map(|t| format!("{:width$}  {}", t.name, t.summary))
            .collect();
        printer.result(&lines.join("\n"));
        return Ok(ExitStatus::Success);
    }
    let Some(template) = templates::find(&args.template) else {
        let names: Vec<&str> = TEMPLATES.iter().map(|t| t.name).collect();
        bail!(
            "there is no template `{}` (available: {}; see `evctl init --list`)",
            args.template,
            names.join(", ")
        );
    };
    let spec_path = if args.path.is_dir() {
        args.path.join("api.yaml")
    } else {
        args.path.clone()
    };
    // A spec in the current directory has an empty parent: its neighbours are shown as
    // `evctl.schema.json`, like the spec itself, not `./evctl.schema.json`.
    let dir = spec_path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    // The template's comments show commands on its own file name (`evctl apply chat.yaml`):
    // in the copy, on the file's new name.
    let spec_text = rename_in_comments(
        template.spec,
        &format!("{}.yaml", template.name),
        &spec_path.display().to_string(),
    );
    let mut files: Vec<(PathBuf, &str)> = vec![(spec_path.clone(), spec_text.as_str())];
    for (rel, contents) in template.files {
        files.push((dir.join(rel), contents));
    }
    // Check everything before writing anything, so a refusal leaves no half-written set.
    if !args.force {
        let existing: Vec<String> = files
            .iter()
            .filter(|(p, _)| p.exists())
            .map(|(p, _)| p.display().to_string())
            .collect();
        if !existing.is_empty() {
            bail!(
                "{} already exist{}; pass --force to overwrite",
                existing.join(", "),
                if existing.len() == 1 { "s" } else { "" }
            );
        }
    }
    let schema = serde_json::to_string_pretty(&crate::spec::schema())? + "\n";
    // The schema is generated, never edited: keep it current whatever is there.
    let schema_path = dir.join(SCHEMA_FILE);
    for (path, contents) in files
        .iter()
        .map(|(p, c)| (p.as_path(), *c))
        .chain([(schema_path.as_path(), schema.as_str())])
    {
        write(path, contents)?;
        if !json {
            printer.result(&path.display().to_string());
        }
    }
    if json {
        let written: Vec<String> = files
            .iter()
            .map(|(p, _)| p.display().to_string())
            .chain([schema_path.display().to_string()])
            .collect();
        printer.json(&serde_json::json!({
            "format_version": "1.0",
            "template": template.name,
            "spec": spec_path.display().to_string(),
            "files": written,
        }))?;
    }
    let shown = spec_path.display();
    printer.status(&format!(
        "wrote the `{}` template; next: `evctl validate {shown}`, then `evctl dev {shown} --once`",
        template.name
    ));
    Ok(ExitStatus::Success)
}

/// `text` with `from` replaced by `to` in its comment lines only.
fn rename_in_comments(text: &str, from: &str, to: &str) -> String {
    text.split_inclusive('\n')
        .map(|line| {
            if line.trim_start().starts_with('#') {
                line.replace(from, to)
            } else {
                line.to_string()
            }
        })
        .collect()
}

fn write(path: &Path, contents: &str) -> anyhow::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    std::fs::write(path, contents).with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::rename_in_comments;

    #[test]
    fn commands_in_comments_name_the_written_file() {
        let text = "# evctl apply chat.yaml --var STAGE=x\nname: chat.yaml\n  # chat.yaml again\n";
        assert_eq!(
            rename_in_comments(text, "chat.yaml", "api.yaml"),
            "# evctl apply api.yaml --var STAGE=x\nname: chat.yaml\n  # api.yaml again\n"
        );
    }
}
