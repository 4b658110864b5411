//! Renderers for `evctl list` and `evctl gc`: the APIs of an account as a table, gc's report
//! (what was deleted, what was left and why) as a table, a summary line and markdown for the
//! GitHub step summary. Pure: values in, text out.

use std::fmt::Write as _;

use crate::engine::diff::human;
use crate::inventory::{Entry, GcAction, GcRow};
use crate::output::github::markdown_cell;

fn table(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut builder = tabled::builder::Builder::default();
    builder.push_record(header.iter().map(|h| h.to_string()));
    for row in rows {
        builder.push_record(row);
    }
    let mut table = builder.build();
    table.with(tabled::settings::Style::blank());
    let text = table.to_string();
    let mut out: String = text
        .lines()
        .map(|l| l.strip_prefix(' ').unwrap_or(l).trim_end())
        .collect::<Vec<_>>()
        .join("\n");
    out.push('\n');
    out
}

fn age(e: &Entry) -> String {
    e.age_seconds.map_or_else(|| "-".into(), human)
}

/// The user's tags as `k=v, k=v` (the ownership tag is the OWNED column).
pub fn tags_text(e: &Entry) -> String {
    let tags: Vec<String> = e.user_tags().map(|(k, v)| format!("{k}={v}")).collect();
    if tags.is_empty() {
        "-".into()
    } else {
        tags.join(", ")
    }
}

/// `evctl list`: one row per API.
pub fn render_list(entries: &[Entry]) -> String {
    let rows = entries
        .iter()
        .map(|e| {
            vec![
                e.name.clone(),
                e.id.clone(),
                if e.owned { "yes" } else { "no" }.into(),
                e.created.clone().unwrap_or_else(|| "-".into()),
                age(e),
                e.namespaces.to_string(),
                tags_text(e),
            ]
        })
        .collect();
    table(
        &[
            "NAME",
            "ID",
            "OWNED",
            "CREATED",
            "AGE",
            "NAMESPACES",
            "TAGS",
        ],
        rows,
    )
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn count(rows: &[GcRow], action: GcAction) -> usize {
    rows.iter().filter(|r| r.action == action).count()
}

/// `evctl gc`: one line saying what happened, e.g. `Deleted 2 APIs, kept 1.`
pub fn gc_summary(rows: &[GcRow], dry_run: bool) -> String {
    let kept = count(rows, GcAction::Kept);
    if dry_run {
        let would = count(rows, GcAction::WouldDelete);
        return format!(
            "Dry run: would delete {}, keep {kept}. Nothing was deleted.",
            plural(would, "API", "APIs")
        );
    }
    let mut line = format!(
        "Deleted {}, kept {kept}",
        plural(count(rows, GcAction::Deleted), "API", "APIs")
    );
    let failed = count(rows, GcAction::Failed);
    if failed > 0 {
        let _ = write!(line, ", {failed} failed");
    }
    let not_started = count(rows, GcAction::NotStarted);
    if not_started > 0 {
        let _ = write!(line, ", {not_started} not started");
    }
    line.push('.');
    line
}

/// `evctl gc`: the table of every API the selectors matched, with what happened and why, and
/// the summary line.
pub fn render_gc(rows: &[GcRow], dry_run: bool) -> String {
    let mut text = render_table_only(rows);
    text.push('\n');
    text.push_str(&gc_summary(rows, dry_run));
    text.push('\n');
    text
}

/// gc's table without the summary (the confirmation preview).
pub fn render_table_only(rows: &[GcRow]) -> String {
    let body = rows
        .iter()
        .map(|r| {
            vec![
                r.api.name.clone(),
                r.api.id.clone(),
                age(&r.api),
                r.action.as_str().into(),
                r.reason.clone().unwrap_or_default(),
            ]
        })
        .collect();
    table(&["NAME", "ID", "AGE", "ACTION", "REASON"], body)
}

/// `evctl gc` for a GitHub step summary.
pub fn render_gc_markdown(rows: &[GcRow], dry_run: bool) -> String {
    let mut md = String::from(
        "### evctl gc\n\n| name | id | age | action | reason |\n|---|---|---|---|---|\n",
    );
    for r in rows {
        let _ = writeln!(
            md,
            "| {} | `{}` | {} | {} | {} |",
            markdown_cell(&r.api.name),
            r.api.id,
            age(&r.api),
            r.action.as_str(),
            markdown_cell(r.reason.as_deref().unwrap_or(""))
        );
    }
    let _ = writeln!(md, "\n{}", gc_summary(rows, dry_run));
    md
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{OWNER_TAG_KEY, Tags};

    fn entry(name: &str, owned: bool) -> Entry {
        let mut tags = Tags::new();
        tags.insert("stage".into(), "pr-1".into());
        if owned {
            tags.insert(OWNER_TAG_KEY.into(), "evctl".into());
        }
        Entry {
            name: name.into(),
            id: format!("{name}-id"),
            arn: String::new(),
            owned,
            created_epoch: Some(0),
            created: Some("1970-01-01T00:00:00Z".into()),
            age_seconds: Some(2 * 86_400),
            tags,
            namespaces: 3,
        }
    }

    #[test]
    fn list_is_a_table_without_the_ownership_tag() {
        let text = render_list(&[entry("orders", true), entry("byhand", false)]);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("NAME"), "{text}");
        assert!(
            lines[1].contains("orders") && lines[1].contains("yes"),
            "{text}"
        );
        assert!(
            lines[1].contains("2d") && lines[1].contains("stage=pr-1"),
            "{text}"
        );
        assert!(
            lines[2].contains("byhand") && lines[2].contains(" no "),
            "{text}"
        );
        assert!(!text.contains(OWNER_TAG_KEY), "{text}");
    }

    #[test]
    fn gc_reports_every_api_with_a_reason() {
        let rows = vec![
            GcRow {
                api: entry("old", true),
                action: GcAction::Deleted,
                reason: None,
            },
            GcRow {
                api: entry("byhand", false),
                action: GcAction::Kept,
                reason: Some("not created by evctl".into()),
            },
        ];
        let text = render_gc(&rows, false);
        assert!(text.contains("deleted") && text.contains("not created by evctl"));
        assert!(text.ends_with("Deleted 1 API, kept 1.\n"), "{text}");
        let md = render_gc_markdown(&rows, false);
        assert!(md.contains("| old | `old-id` | 2d | deleted |  |"), "{md}");
        assert_eq!(
            gc_summary(&rows[1..], true),
            "Dry run: would delete 0 APIs, keep 1. Nothing was deleted."
        );
    }
}
