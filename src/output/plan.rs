//! Plan rendering, Terraform-style: a header naming the target, a legend of the symbols used,
//! one block per change with field-level `old -> new` (a unified diff for handler code), and a
//! `Plan: N to add, N to change, N to destroy.` line. Also the apply/destroy summary line and
//! the Markdown form for pull-request comments. Pure: values in, text out.

use serde_json::Value;
use similar::TextDiff;

use super::{Printer, Style};
use crate::engine::{Action, Change, FieldChange, Plan, PlanKind, Report, Summary};

/// The plan as text (colours if the printer has them).
pub fn render(plan: &Plan, p: &Printer) -> String {
    let mut out = header(plan);
    out.push('\n');
    if !plan.has_changes() {
        out.push('\n');
        out.push_str(&p.paint("No changes.", Style::Bold));
        out.push(' ');
        out.push_str(&match (plan.kind, &plan.api.id) {
            (PlanKind::Destroy, _) => format!(
                "Nothing to destroy: there is no evctl-owned API named {:?}.",
                plan.api.name
            ),
            (PlanKind::Apply, _) => "The API matches the spec.".to_string(),
        });
        out.push('\n');
        push_notes(&mut out, plan, p);
        return out;
    }

    out.push_str("\nResource actions are indicated with the following symbols:\n");
    for (action, symbol, meaning) in LEGEND {
        if plan.changes.iter().any(|c| c.action == action) {
            out.push_str(&format!(
                "{} {meaning}\n",
                paint_symbol(p, action, &format!("{symbol:>3}"))
            ));
        }
    }
    out.push_str("\nevctl will perform the following actions:\n");
    for change in &plan.changes {
        out.push('\n');
        out.push_str(&block(change, p));
    }
    out.push('\n');
    out.push_str(&p.paint(&plan_line(&plan.summary), Style::Bold));
    out.push('\n');
    push_notes(&mut out, plan, p);
    out
}

const LEGEND: [(Action, &str, &str); 4] = [
    (Action::Create, "+", "create"),
    (Action::Update, "~", "update in place"),
    (
        Action::Replace,
        "+/-",
        "create a replacement, then destroy the old one",
    ),
    (Action::Delete, "-", "destroy"),
];

fn symbol(action: Action) -> &'static str {
    LEGEND
        .iter()
        .find(|(a, _, _)| *a == action)
        .map_or("?", |(_, s, _)| s)
}

fn paint_symbol(p: &Printer, action: Action, text: &str) -> String {
    let style = match action {
        Action::Create => Style::Green,
        Action::Update | Action::Replace => Style::Yellow,
        Action::Delete => Style::Red,
    };
    p.paint(text, style)
}

/// `Plan: 1 to add, 2 to change, 0 to destroy.`
pub fn plan_line(s: &Summary) -> String {
    format!(
        "Plan: {} to add, {} to change, {} to destroy.",
        s.add, s.change, s.destroy
    )
}

/// `Apply complete! Resources: 1 added, 2 changed, 0 destroyed.` An apply that did not finish
/// says so, with what it left: `Apply interrupted! Resources: 1 added, 0 changed, 0 destroyed;
/// 2 not started.` or `Apply failed! ...; 1 failed, 0 not started.`
pub fn done_line(kind: PlanKind, report: &Report) -> String {
    let what = match kind {
        PlanKind::Apply => "Apply",
        PlanKind::Destroy => "Destroy",
    };
    let s = report.done();
    let failed = report.failures().count();
    let (ending, left) = if report.interrupted {
        (
            "interrupted",
            format!("; {} not started", report.not_started()),
        )
    } else if failed > 0 {
        (
            "failed",
            format!("; {failed} failed, {} not started", report.not_started()),
        )
    } else {
        ("complete", String::new())
    };
    // Like Terraform: a destroy only ever destroys, so its line counts only that.
    let counts = match kind {
        PlanKind::Apply => format!(
            "{} added, {} changed, {} destroyed",
            s.add, s.change, s.destroy
        ),
        PlanKind::Destroy => format!("{} destroyed", s.destroy),
    };
    format!("{what} {ending}! Resources: {counts}{left}.")
}

fn header(plan: &Plan) -> String {
    let api = match (&plan.api.id, plan.kind) {
        (Some(id), _) => format!("API {:?} (id {id})", plan.api.name),
        (None, PlanKind::Apply) => format!("API {:?} (not created yet)", plan.api.name),
        (None, PlanKind::Destroy) => format!("API {:?} (none owned by evctl)", plan.api.name),
    };
    let account = plan
        .api
        .account
        .as_deref()
        .map(|a| format!(", account {a}"))
        .unwrap_or_default();
    let verb = match plan.kind {
        PlanKind::Apply => "Plan",
        PlanKind::Destroy => "Destroy plan",
    };
    format!("{verb} for {api} at {}{account}", plan.target)
}

fn push_notes(out: &mut String, plan: &Plan, p: &Printer) {
    for note in &plan.notes {
        out.push_str(&format!("{} {note}\n", p.paint("Note:", Style::Dim)));
    }
}

fn block(change: &Change, p: &Printer) -> String {
    let what = match change.action {
        Action::Create => "will be created",
        Action::Update => "will be updated in place",
        Action::Replace => "will be replaced",
        Action::Delete => "will be destroyed",
    };
    let reason = change
        .reason
        .as_deref()
        .map(|r| format!(" ({r})"))
        .unwrap_or_default();
    let mut out = p.paint(
        &format!("  # {} {what}{reason}", change.address),
        Style::Bold,
    );
    out.push('\n');
    let sym = paint_symbol(p, change.action, &format!("{:>3}", symbol(change.action)));
    out.push_str(&format!(
        "{sym} {} {:?}",
        change.resource.as_str(),
        change.name
    ));
    if change.fields.is_empty() {
        out.push('\n');
        return out;
    }
    out.push_str(" {\n");
    let width = change
        .fields
        .iter()
        .filter(|f| !is_multiline(f))
        .map(|f| f.path.chars().count())
        .max()
        .unwrap_or(0);
    for field in &change.fields {
        out.push_str(&field_line(field, width, p));
    }
    out.push_str("    }\n");
    out
}

fn is_multiline(f: &FieldChange) -> bool {
    [&f.old, &f.new]
        .into_iter()
        .flatten()
        .any(|v| v.as_str().is_some_and(|s| s.contains('\n')))
}

fn field_line(f: &FieldChange, width: usize, p: &Printer) -> String {
    let (action, sym) = match (&f.old, &f.new) {
        (None, Some(_)) => (Action::Create, "+"),
        (Some(_), None) => (Action::Delete, "-"),
        _ => (Action::Update, "~"),
    };
    let sym = paint_symbol(p, action, sym);
    if is_multiline(f) {
        return multiline_field(f, &sym, p);
    }
    let path = format!("{:<width$}", f.path);
    match (&f.old, &f.new) {
        (None, Some(new)) => format!("      {sym} {path} = {}\n", value(new)),
        (Some(old), None) => format!("      {sym} {path} = {} -> null\n", value(old)),
        (Some(old), Some(new)) => {
            format!("      {sym} {path} = {} -> {}\n", value(old), value(new))
        }
        (None, None) => String::new(),
    }
}

/// Handler code: a heredoc when it appears or goes, a unified diff when it changes.
fn multiline_field(f: &FieldChange, sym: &str, p: &Printer) -> String {
    let text = |v: &Option<Value>| {
        v.as_ref()
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string()
    };
    let (old, new) = (text(&f.old), text(&f.new));
    let mut out = String::new();
    match (&f.old, &f.new) {
        (Some(_), Some(_)) => {
            out.push_str(&format!("      {sym} {} (unified diff):\n", f.path));
            let (old, new) = (with_newline(&old), with_newline(&new));
            let diff = TextDiff::from_lines(old.as_str(), new.as_str())
                .unified_diff()
                .context_radius(3)
                .header("old", "new")
                .to_string();
            for line in diff.lines() {
                let styled = match line.chars().next() {
                    Some('+') if !line.starts_with("+++") => p.paint(line, Style::Green),
                    Some('-') if !line.starts_with("---") => p.paint(line, Style::Red),
                    Some('@') => p.paint(line, Style::Dim),
                    _ => line.to_string(),
                };
                out.push_str(&format!("          {styled}\n"));
            }
        }
        _ => {
            let (body, suffix) = if f.new.is_some() {
                (new, "")
            } else {
                (old, " -> null")
            };
            out.push_str(&format!("      {sym} {} = <<-EOT\n", f.path));
            for line in body.lines() {
                out.push_str(&format!("            {line}\n"));
            }
            out.push_str(&format!("        EOT{suffix}\n"));
        }
    }
    out
}

fn with_newline(s: &str) -> String {
    if s.ends_with('\n') {
        s.to_string()
    } else {
        format!("{s}\n")
    }
}

/// A value as Terraform shows it: strings quoted, lists in brackets.
fn value(v: &Value) -> String {
    match v {
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(value).collect::<Vec<_>>().join(", ")
        ),
        other => other.to_string(),
    }
}

/// The plan as a Markdown fragment for a pull-request comment or step summary: a title, the
/// summary line, and the text plan folded in a `diff` block. GitHub colours only lines that
/// *start* with a diff marker, so each action symbol moves to column 0 (indentation kept
/// after it) and `~` becomes `!` (coloured as a change), as Atlantis does for Terraform. The
/// fence is longer than any run of backticks in the plan (handler code may contain some).
pub fn render_markdown(plan: &Plan) -> String {
    let text = render(plan, &Printer::plain());
    let title = if plan.has_changes() {
        plan_line(&plan.summary)
    } else {
        "No changes.".to_string()
    };
    let body: String = text.lines().map(|l| diff_marked(l) + "\n").collect();
    let longest_run = body.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest_run.max(2) + 1);
    format!(
        "### evctl: {} `{}`\n\n{title}\n\n<details><summary>Show plan</summary>\n\n{fence}diff\n{body}{fence}\n\n</details>\n",
        match plan.kind {
            PlanKind::Apply => "plan for",
            PlanKind::Destroy => "destroy plan for",
        },
        plan.api.name.replace('`', "'"),
    )
}

/// `    + name` -> `+     name`, `  ~ api` -> `!   api` (same width); other lines unchanged.
fn diff_marked(line: &str) -> String {
    let rest = line.trim_start();
    let indent = &line[..line.len() - rest.len()];
    for (symbol, marker) in [
        ("-/+ ", "!"),
        ("+/- ", "!"),
        ("+ ", "+"),
        ("- ", "-"),
        ("~ ", "!"),
    ] {
        if let Some(after) = rest.strip_prefix(symbol) {
            return format!("{marker}{indent}{}{after}", " ".repeat(symbol.len() - 1));
        }
    }
    line.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::Target;
    use crate::engine::plan::{ApiRef, Basis, FORMAT_VERSION, Operation, ResourceKind};

    fn plan(changes: Vec<Change>) -> Plan {
        Plan {
            format_version: FORMAT_VERSION.into(),
            kind: PlanKind::Apply,
            target: Target {
                endpoint: Some("http://127.0.0.1:4510".into()),
                region: "us-east-1".into(),
            },
            api: ApiRef {
                name: "chat".into(),
                id: Some("abc".into()),
                arn: None,
                account: Some("123456789012".into()),
            },
            summary: Summary::of(changes.iter().map(|c| c.action)),
            changes,
            notes: vec!["namespace \"x\" is not in the spec; kept because of --no-prune".into()],
            basis: Basis {
                fingerprint: String::new(),
                code_read: Default::default(),
                adopt: false,
                planned_at: 0,
            },
        }
    }

    fn field(path: &str, old: Option<Value>, new: Option<Value>) -> FieldChange {
        FieldChange {
            path: path.into(),
            old,
            new,
        }
    }

    #[test]
    fn a_plan_reads_like_terraform() {
        let change = Change {
            address: "namespace.rooms".into(),
            resource: ResourceKind::Namespace,
            name: "rooms".into(),
            action: Action::Update,
            reason: None,
            fields: vec![
                field(
                    "codeHandlers",
                    Some("a\nb\nc".into()),
                    Some("a\nB\nc".into()),
                ),
                field(
                    "subscribeAuthModes",
                    Some(serde_json::json!(["API_KEY"])),
                    Some(serde_json::json!(["API_KEY", "AWS_IAM"])),
                ),
                field("tags[\"tier\"]", None, Some("1".into())),
            ],
            operation: Operation::DeletedWithApi,
        };
        let text = render(&plan(vec![change]), &Printer::plain());
        let expected = r#"Plan for API "chat" (id abc) at http://127.0.0.1:4510 (region us-east-1), account 123456789012

Resource actions are indicated with the following symbols:
  ~ update in place

evctl will perform the following actions:

  # namespace.rooms will be updated in place
  ~ namespace "rooms" {
      ~ codeHandlers (unified diff):
          --- old
          +++ new
          @@ -1,3 +1,3 @@
           a
          -b
          +B
           c
      ~ subscribeAuthModes = ["API_KEY"] -> ["API_KEY", "AWS_IAM"]
      + tags["tier"]       = "1"
    }

Plan: 0 to add, 1 to change, 0 to destroy.
Note: namespace "x" is not in the spec; kept because of --no-prune
"#;
        assert_eq!(text, expected);
    }

    #[test]
    fn no_changes_says_so() {
        let text = render(&plan(Vec::new()), &Printer::plain());
        assert!(
            text.contains("\nNo changes. The API matches the spec.\n"),
            "{text}"
        );
        assert!(!text.contains("Plan:"));
    }

    #[test]
    fn markdown_puts_diff_markers_in_column_0_and_fences_code_safely() {
        // Same width as before, so the `=` columns stay aligned.
        assert_eq!(diff_marked("      + name = \"x\""), "+       name = \"x\"");
        assert_eq!(diff_marked("  ~ api \"chat\" {"), "!   api \"chat\" {");
        assert_eq!(
            diff_marked("  -/+ namespace \"a\""),
            "!     namespace \"a\""
        );
        assert_eq!(diff_marked("    }"), "    }");
        assert_eq!(diff_marked("Plan: 1 to add"), "Plan: 1 to add");
        let md = render_markdown(&plan(Vec::new()));
        assert!(
            md.starts_with("### evctl: plan for `chat`\n\nNo changes.\n"),
            "{md}"
        );
        assert!(
            md.contains("\n```diff\n") && md.ends_with("```\n\n</details>\n"),
            "{md}"
        );
    }

    #[test]
    fn the_result_line_says_whether_the_run_finished() {
        use crate::engine::execute::{Outcome, Status};
        let outcome = |address: &str, action, status| Outcome {
            address: address.into(),
            action,
            status,
        };
        let mut report = Report {
            outcomes: vec![
                outcome("api", Action::Create, Status::Done),
                outcome("namespace.a", Action::Create, Status::Done),
                outcome("key.k", Action::Update, Status::NotStarted),
            ],
            interrupted: true,
            api: None,
            yielded: None,
        };
        assert_eq!(
            done_line(PlanKind::Apply, &report),
            "Apply interrupted! Resources: 2 added, 0 changed, 0 destroyed; 1 not started."
        );
        report.interrupted = false;
        report.outcomes[2].status = Status::Failed("UpdateApiKey failed".into());
        assert_eq!(
            done_line(PlanKind::Apply, &report),
            "Apply failed! Resources: 2 added, 0 changed, 0 destroyed; 1 failed, 0 not started."
        );
        report.outcomes = vec![
            outcome("api", Action::Delete, Status::Done),
            outcome("namespace.a", Action::Delete, Status::Done),
        ];
        assert_eq!(
            done_line(PlanKind::Destroy, &report),
            "Destroy complete! Resources: 2 destroyed."
        );
    }
}
