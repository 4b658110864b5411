//! `evctl keys`: the report (each spec key's live expiry, days left, policy, what the next apply
//! does to it, and whether it needs attention within the `--expiring-within` window) and its
//! renderings as a table, JSON and markdown. Key values never enter it: keys are named by
//! their evctl names only.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::engine::diff::{human, rfc3339};
use crate::engine::{Action, Plan, ResourceKind};
use crate::model::{KeyConfig, KeyExpiry, ObservedKey};
use crate::output::github::markdown_cell;

const DAY: i64 = 86_400;

/// What `evctl keys` reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeysReport {
    pub format_version: &'static str,
    pub api: ApiRef,
    /// `--expiring-within`, in seconds.
    pub window_seconds: Option<i64>,
    /// When the report was made (RFC 3339).
    pub checked_at: String,
    pub keys: Vec<KeyRow>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiRef {
    pub name: String,
    pub id: String,
}

/// One key of the spec.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyRow {
    pub name: String,
    /// RFC 3339; `None` when the key does not exist on the API.
    pub expires: Option<String>,
    /// Whole days until expiry (negative once expired).
    pub days_left: Option<i64>,
    /// The spec's expiry policy, e.g. `keep 30d valid` or `expires 2027-01-01T00:00:00Z`.
    pub policy: String,
    /// What the next `evctl apply` does to it, e.g. `renew to 2027-03-01T00:00:00Z`.
    pub next_apply: Option<String>,
    pub status: KeyStatus,
    #[serde(skip)]
    seconds_left: Option<i64>,
    #[serde(skip)]
    expiry: KeyExpiry,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyStatus {
    Ok,
    /// Expires within the window.
    Expiring,
    Expired,
    /// The spec declares it but the API does not have it.
    Missing,
}

impl KeyStatus {
    fn as_str(self) -> &'static str {
        match self {
            KeyStatus::Ok => "ok",
            KeyStatus::Expiring => "EXPIRING",
            KeyStatus::Expired => "EXPIRED",
            KeyStatus::Missing => "MISSING",
        }
    }
}

impl KeysReport {
    /// `observed` are the API's keys; where several carry one name, the longest-lived counts
    /// (the one apply keeps). `plan` is the apply plan for the same observation.
    pub fn new(
        api_name: &str,
        api_id: &str,
        desired: &BTreeMap<String, KeyConfig>,
        observed: &[ObservedKey],
        plan: &Plan,
        now: i64,
        window: Option<i64>,
    ) -> KeysReport {
        let keys = desired
            .values()
            .map(|want| {
                let live = observed
                    .iter()
                    .filter(|k| k.name.as_deref() == Some(want.name.as_str()))
                    .map(|k| k.expires)
                    .max();
                let seconds_left = live.map(|e| e - now);
                let status = match seconds_left {
                    None => KeyStatus::Missing,
                    Some(s) if s <= 0 => KeyStatus::Expired,
                    Some(s) if window.is_some_and(|w| s < w) => KeyStatus::Expiring,
                    Some(_) => KeyStatus::Ok,
                };
                KeyRow {
                    name: want.name.clone(),
                    expires: live.map(rfc3339),
                    days_left: seconds_left.map(|s| s.div_euclid(DAY)),
                    policy: policy_text(want.expiry),
                    next_apply: next_apply(plan, &want.name),
                    status,
                    seconds_left,
                    expiry: want.expiry,
                }
            })
            .collect();
        KeysReport {
            format_version: "1.0",
            api: ApiRef {
                name: api_name.into(),
                id: api_id.into(),
            },
            window_seconds: window,
            checked_at: rfc3339(now),
            keys,
        }
    }

    /// The keys that need attention: missing, expired, or expiring within the window.
    pub fn attention(&self) -> impl Iterator<Item = &KeyRow> {
        self.keys.iter().filter(|k| k.status != KeyStatus::Ok)
    }
}

fn policy_text(expiry: KeyExpiry) -> String {
    match expiry {
        KeyExpiry::Validity { seconds } => format!("keep {} valid", human(seconds)),
        KeyExpiry::At { epoch_seconds } => format!("expires {}", rfc3339(epoch_seconds)),
    }
}

/// What the plan does to `key.<name>`.
fn next_apply(plan: &Plan, name: &str) -> Option<String> {
    let address = format!("key.{name}");
    let change = plan
        .changes
        .iter()
        .find(|c| c.resource == ResourceKind::Key && c.address == address)?;
    Some(match change.action {
        Action::Create => "create".into(),
        Action::Delete => "delete".into(),
        Action::Replace => "replace".into(),
        Action::Update => match change
            .fields
            .iter()
            .find(|f| f.path.ends_with("expires"))
            .and_then(|f| f.new.as_ref())
            .and_then(|v| v.as_str())
        {
            Some(new) => format!("renew to {new}"),
            None => "update description".into(),
        },
    })
}

/// One sentence on what to do about a key that needs attention.
pub fn advice(key: &KeyRow, report: &KeysReport) -> String {
    let name = &key.name;
    let left = |s: i64| human(s);
    match key.status {
        KeyStatus::Ok => format!("key {name:?} is fine"),
        KeyStatus::Missing => format!(
            "key {name:?} does not exist on API {}: `evctl apply` creates it",
            report.api.name
        ),
        KeyStatus::Expired | KeyStatus::Expiring => {
            let when = match key.seconds_left {
                Some(s) if s <= 0 => format!("expired {} ago", left(-s)),
                Some(s) => format!("expires in {}", left(s)),
                None => String::new(),
            };
            let window = report
                .window_seconds
                .map(|w| format!(" (window {})", human(w)))
                .unwrap_or_default();
            let what = match (&key.next_apply, key.expiry) {
                (Some(next), _) => format!("the next `evctl apply` will {next}"),
                (None, KeyExpiry::Validity { seconds }) => format!(
                    "its policy keeps only {} of validity, so apply does not renew it yet; raise \
                     the key's `expires` policy above the window or shorten the window",
                    human(seconds)
                ),
                (None, KeyExpiry::At { .. }) => {
                    "its expiry is a fixed date in the spec: move the date and run `evctl apply`"
                        .into()
                }
            };
            format!("key {name:?} {when}{window}: {what}")
        }
    }
}

fn dash(v: Option<String>) -> String {
    v.unwrap_or_else(|| "-".into())
}

/// The table and a verdict.
pub fn render_text(report: &KeysReport) -> String {
    let mut builder = tabled::builder::Builder::default();
    builder.push_record([
        "NAME",
        "EXPIRES",
        "DAYS LEFT",
        "POLICY",
        "NEXT APPLY",
        "STATUS",
    ]);
    for k in &report.keys {
        builder.push_record([
            k.name.clone(),
            dash(k.expires.clone()),
            dash(k.days_left.map(|d| d.to_string())),
            k.policy.clone(),
            dash(k.next_apply.clone()),
            k.status.as_str().to_string(),
        ]);
    }
    let mut table = builder.build();
    table.with(tabled::settings::Style::blank());
    let mut text: String = table
        .to_string()
        .lines()
        .map(|l| l.strip_prefix(' ').unwrap_or(l).trim_end())
        .collect::<Vec<_>>()
        .join("\n");
    text.push_str("\n\n");
    text.push_str(&verdict(report));
    text.push('\n');
    text
}

fn verdict(report: &KeysReport) -> String {
    let n = report.keys.len();
    let attention: Vec<String> = report.attention().map(|k| advice(k, report)).collect();
    if report.keys.is_empty() {
        return format!("The spec declares no API keys for {}.", report.api.name);
    }
    if attention.is_empty() {
        return match report.window_seconds {
            Some(w) if n == 1 => format!("The key stays valid for at least {}.", human(w)),
            Some(w) => format!("All {n} keys stay valid for at least {}.", human(w)),
            None => format!("{n} key{} checked.", if n == 1 { "" } else { "s" }),
        };
    }
    let mut out = format!("{} of {n} keys need attention:", attention.len());
    for a in attention {
        let _ = write!(out, "\n  {a}");
    }
    out
}

/// For the GitHub step summary.
pub fn render_markdown(report: &KeysReport) -> String {
    let mut md = format!(
        "### evctl keys: {}\n\n| key | expires | days left | policy | next apply | status |\n|---|---|---|---|---|---|\n",
        markdown_cell(&report.api.name)
    );
    for k in &report.keys {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} |",
            markdown_cell(&k.name),
            dash(k.expires.clone()),
            dash(k.days_left.map(|d| d.to_string())),
            markdown_cell(&k.policy),
            dash(k.next_apply.clone()),
            k.status.as_str()
        );
    }
    let _ = writeln!(md, "\n{}", verdict(report).replace("\n  ", "\n- "));
    md
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::Target;
    use crate::engine::plan::{
        ApiRef as PlanApi, Basis, Change, FORMAT_VERSION, FieldChange, KeyRef, Operation, PlanKind,
        Summary,
    };
    use crate::model::Secret;

    const NOW: i64 = 1_750_000_000;

    fn want(name: &str, expiry: KeyExpiry) -> (String, KeyConfig) {
        (
            name.to_string(),
            KeyConfig {
                name: name.into(),
                description: None,
                expiry,
            },
        )
    }

    fn live(name: &str, expires: i64) -> ObservedKey {
        ObservedKey {
            id: Secret::new(format!("da2-secretvalue{name}")),
            name: Some(name.into()),
            description: None,
            expires,
            deletes: expires + 60 * DAY,
        }
    }

    fn plan(changes: Vec<Change>) -> Plan {
        Plan {
            format_version: FORMAT_VERSION.into(),
            kind: PlanKind::Apply,
            target: Target::default(),
            api: PlanApi {
                name: "orders".into(),
                id: Some("id".into()),
                arn: None,
                account: None,
            },
            changes,
            notes: vec![],
            summary: Summary::default(),
            basis: Basis {
                fingerprint: String::new(),
                code_read: Default::default(),
                adopt: false,
                planned_at: NOW,
            },
        }
    }

    fn renewal(name: &str, new: i64) -> Change {
        Change {
            address: format!("key.{name}"),
            resource: ResourceKind::Key,
            name: name.into(),
            action: Action::Update,
            reason: None,
            fields: vec![FieldChange {
                path: "expires".into(),
                old: None,
                new: Some(serde_json::Value::String(rfc3339(new))),
            }],
            operation: Operation::UpdateKey {
                key: KeyRef {
                    handle: "h".into(),
                    hint: "…x".into(),
                },
                description: None,
                expires: Some(new),
            },
        }
    }

    #[test]
    fn keys_are_checked_against_the_window_and_never_show_values() {
        let desired: BTreeMap<String, KeyConfig> = [
            want("fresh", KeyExpiry::Validity { seconds: 30 * DAY }),
            want("renewing", KeyExpiry::Validity { seconds: 30 * DAY }),
            want("short", KeyExpiry::Validity { seconds: 7 * DAY }),
            want(
                "fixed",
                KeyExpiry::At {
                    epoch_seconds: NOW + 3 * DAY,
                },
            ),
            want("gone", KeyExpiry::Validity { seconds: 30 * DAY }),
            want(
                "dead",
                KeyExpiry::At {
                    epoch_seconds: NOW - DAY,
                },
            ),
        ]
        .into_iter()
        .collect();
        let observed = vec![
            live("fresh", NOW + 50 * DAY),
            live("fresh", NOW + 2 * DAY),
            live("renewing", NOW + 10 * DAY),
            live("short", NOW + 10 * DAY),
            live("fixed", NOW + 3 * DAY),
            live("dead", NOW - DAY),
        ];
        let p = plan(vec![renewal("renewing", NOW + 60 * DAY)]);
        let report = KeysReport::new("orders", "id", &desired, &observed, &p, NOW, Some(14 * DAY));
        let status: BTreeMap<&str, (KeyStatus, Option<i64>)> = report
            .keys
            .iter()
            .map(|k| (k.name.as_str(), (k.status, k.days_left)))
            .collect();
        assert_eq!(status["fresh"], (KeyStatus::Ok, Some(50)));
        assert_eq!(status["renewing"], (KeyStatus::Expiring, Some(10)));
        assert_eq!(status["short"], (KeyStatus::Expiring, Some(10)));
        assert_eq!(status["fixed"], (KeyStatus::Expiring, Some(3)));
        assert_eq!(status["gone"], (KeyStatus::Missing, None));
        assert_eq!(status["dead"], (KeyStatus::Expired, Some(-1)));
        assert_eq!(report.attention().count(), 5);

        let text = render_text(&report);
        assert!(text.contains("5 of 6 keys need attention"), "{text}");
        assert!(
            text.contains("the next `evctl apply` will renew to"),
            "{text}"
        );
        assert!(text.contains("policy keeps only 7d"), "{text}");
        assert!(text.contains("fixed date in the spec"), "{text}");
        assert!(text.contains("expired 1d ago"), "{text}");
        let json = serde_json::to_string(&report).expect("json");
        for out in [text, json, render_markdown(&report)] {
            assert!(!out.contains("secretvalue"), "a key value leaked: {out}");
        }

        let relaxed = KeysReport::new("orders", "id", &desired, &observed[..1], &p, NOW, None);
        assert_eq!(relaxed.keys[1].status, KeyStatus::Missing);
        assert_eq!(
            relaxed
                .keys
                .iter()
                .find(|k| k.name == "fresh")
                .map(|k| k.status),
            Some(KeyStatus::Ok)
        );
    }
}
