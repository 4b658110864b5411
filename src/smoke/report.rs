//! The smoke test's results as data ([`Report`]) and their three renderings: a text table with
//! a verdict, JSON (the same data, with a format version) and JUnit XML for CI test reports.
//! Renderers take a report and return a string; they decide nothing.

use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use crate::model::AuthType;

/// Version of the JSON document; bumped on incompatible changes.
pub const FORMAT_VERSION: &str = "1.0";

/// What a check exercised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckPath {
    /// The namespace itself exists on the API.
    Namespace,
    /// Publish over HTTP, receive on a subscription.
    Http,
    /// Publish over the WebSocket, receive on a subscription.
    Ws,
    /// Publish over HTTP, receive on a `/*` subscription.
    Wildcard,
    /// An HTTP publish without credentials must be rejected.
    Unauthenticated,
}

impl CheckPath {
    pub fn label(self) -> &'static str {
        match self {
            CheckPath::Namespace => "namespace",
            CheckPath::Http => "HTTP",
            CheckPath::Ws => "WS",
            CheckPath::Wildcard => "HTTP to /*",
            CheckPath::Unauthenticated => "HTTP no auth",
        }
    }
}

/// How a check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Pass,
    Fail,
    Skipped,
}

/// The auth mode used for each step of a check (they differ when the mode under test is not
/// allowed for every step, e.g. a mode allowed to subscribe but not to connect).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ModesUsed {
    pub connect: AuthType,
    pub subscribe: AuthType,
    pub publish: AuthType,
}

/// One row of the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    pub namespace: String,
    /// The channel published to (for the wildcard check, the subscription is its parent `/*`).
    pub channel: String,
    pub path: CheckPath,
    /// The mode under test; `None` for checks without credentials.
    pub auth_mode: Option<AuthType>,
    pub result: Outcome,
    /// Why it failed or was skipped; what was observed when it passed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The service's `errorType`, when a failure carries one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_type: Option<String>,
    /// Publish to delivery (or request to answer), in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modes: Option<ModesUsed>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiRef {
    pub name: String,
    pub id: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
}

/// The whole result of one smoke run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub format_version: &'static str,
    pub api: ApiRef,
    /// The run's unique id, part of every channel it used.
    pub run_id: String,
    /// `pass` when nothing failed and at least one check passed.
    pub verdict: Outcome,
    pub duration_ms: f64,
    pub summary: Summary,
    pub checks: Vec<Check>,
}

impl Report {
    pub fn new(api: ApiRef, run_id: String, duration: Duration, checks: Vec<Check>) -> Report {
        let mut summary = Summary::default();
        for check in &checks {
            match check.result {
                Outcome::Pass => summary.passed += 1,
                Outcome::Fail => summary.failed += 1,
                Outcome::Skipped => summary.skipped += 1,
            }
        }
        // Everything skipped proves nothing: that is a failure, not a pass.
        let verdict = if summary.failed == 0 && summary.passed > 0 {
            Outcome::Pass
        } else {
            Outcome::Fail
        };
        Report {
            format_version: FORMAT_VERSION,
            api,
            run_id,
            verdict,
            duration_ms: millis(duration),
            summary,
            checks,
        }
    }

    pub fn passed(&self) -> bool {
        self.verdict == Outcome::Pass
    }

    /// One line: the verdict and the counts.
    pub fn verdict_line(&self) -> String {
        let Summary {
            passed,
            failed,
            skipped,
        } = self.summary;
        let word = if self.passed() {
            "Smoke test passed"
        } else {
            "Smoke test FAILED"
        };
        let mut line = format!(
            "{word}: {passed} passed, {failed} failed, {skipped} skipped in {} against {} ({}).",
            format_ms(self.duration_ms),
            self.api.name,
            self.api.id
        );
        if passed == 0 && failed == 0 {
            line.push_str(" Nothing was checked: supply credentials for at least one auth mode.");
        }
        line
    }
}

pub fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 10_000.0).round() / 10.0
}

/// `0.4ms`, `12ms`, `1.3s`.
pub fn format_ms(ms: f64) -> String {
    if ms < 10.0 {
        format!("{ms:.1}ms")
    } else if ms < 1000.0 {
        format!("{ms:.0}ms")
    } else {
        format!("{:.1}s", ms / 1000.0)
    }
}

fn result_text(check: &Check) -> String {
    let word = match check.result {
        Outcome::Pass => "pass",
        Outcome::Fail => "FAIL",
        Outcome::Skipped => "skipped",
    };
    match (&check.reason, check.result) {
        (Some(reason), Outcome::Fail | Outcome::Skipped) => format!("{word}: {reason}"),
        _ => word.to_string(),
    }
}

/// The table (namespace, path, auth mode, result, latency) and the verdict line.
pub fn render_text(report: &Report) -> String {
    let mut builder = tabled::builder::Builder::default();
    // RESULT last: a failure's or skip's reason can be long, and in a middle column it would
    // pad every row of the table to its width.
    builder.push_record(["NAMESPACE", "PATH", "AUTH MODE", "LATENCY", "RESULT"]);
    for check in &report.checks {
        builder.push_record([
            check.namespace.clone(),
            check.path.label().to_string(),
            check
                .auth_mode
                .map_or_else(|| "-".to_string(), |m| m.to_string()),
            check.latency_ms.map_or_else(|| "-".to_string(), format_ms),
            result_text(check),
        ]);
    }
    let mut table = builder.build();
    table.with(tabled::settings::Style::blank());
    let mut text = table.to_string();
    let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
    text = lines.join("\n");
    text.push_str("\n\n");
    text.push_str(&report.verdict_line());
    text.push('\n');
    text
}

/// A Markdown table and the verdict, for pull-request comments and GitHub step summaries.
pub fn render_markdown(report: &Report) -> String {
    let mut md = format!(
        "### evctl smoke: {}\n\n| namespace | path | auth mode | latency | result |\n|---|---|---|---|---|\n",
        if report.passed() { "passed" } else { "FAILED" }
    );
    for check in &report.checks {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} |",
            markdown_cell(&check.namespace),
            check.path.label(),
            check.auth_mode.map_or("-", AuthType::as_str),
            check.latency_ms.map_or_else(|| "-".to_string(), format_ms),
            markdown_cell(&result_text(check)),
        );
    }
    md.push('\n');
    md.push_str(&report.verdict_line());
    md.push('\n');
    md
}

fn markdown_cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// JUnit XML: one `<testsuite>` per run, one `<testcase>` per check.
pub fn render_junit(report: &Report) -> String {
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let suite = format!("evctl smoke {}", report.api.name);
    let seconds = |ms: f64| format!("{:.3}", ms / 1000.0);
    let _ = writeln!(
        xml,
        "<testsuites name=\"{}\" tests=\"{}\" failures=\"{}\" skipped=\"{}\" time=\"{}\">",
        escape(&suite),
        report.checks.len(),
        report.summary.failed,
        report.summary.skipped,
        seconds(report.duration_ms)
    );
    let _ = writeln!(
        xml,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\" time=\"{}\">",
        escape(&suite),
        report.checks.len(),
        report.summary.failed,
        report.summary.skipped,
        seconds(report.duration_ms)
    );
    let _ = writeln!(
        xml,
        "    <properties><property name=\"api_id\" value=\"{}\"/><property name=\"run_id\" value=\"{}\"/></properties>",
        escape(&report.api.id),
        escape(&report.run_id)
    );
    for check in &report.checks {
        // Checks without a mode (the unauthenticated publish, a missing namespace) say so in
        // their label already.
        let name = match check.auth_mode {
            Some(mode) => format!("{} {} {}", check.path.label(), mode.as_str(), check.channel),
            None => format!("{} {}", check.path.label(), check.channel),
        };
        let classname = format!("{}.{}", report.api.name, check.namespace);
        let time = seconds(check.latency_ms.unwrap_or(0.0));
        let _ = write!(
            xml,
            "    <testcase classname=\"{}\" name=\"{}\" time=\"{time}\"",
            escape(&classname),
            escape(&name)
        );
        let reason = check.reason.as_deref().unwrap_or("");
        match check.result {
            Outcome::Pass => xml.push_str("/>\n"),
            Outcome::Fail => {
                let _ = writeln!(
                    xml,
                    ">\n      <failure type=\"{}\" message=\"{}\">{}</failure>\n    </testcase>",
                    escape(check.error_type.as_deref().unwrap_or("SmokeCheckFailed")),
                    escape(reason),
                    escape(reason)
                );
            }
            Outcome::Skipped => {
                let _ = writeln!(
                    xml,
                    ">\n      <skipped message=\"{}\"/>\n    </testcase>",
                    escape(reason)
                );
            }
        }
    }
    xml.push_str("  </testsuite>\n</testsuites>\n");
    xml
}

/// XML attribute and text escaping; drops characters XML 1.0 cannot carry.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\t' | '\r' => out.push(' '),
            c if (c as u32) < 0x20 => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(path: CheckPath, result: Outcome, reason: Option<&str>) -> Check {
        Check {
            namespace: "default".into(),
            channel: "/default/run-1".into(),
            path,
            auth_mode: Some(AuthType::ApiKey),
            result,
            reason: reason.map(str::to_string),
            error_type: None,
            latency_ms: Some(3.0),
            modes: None,
        }
    }

    fn report(checks: Vec<Check>) -> Report {
        Report::new(
            ApiRef {
                name: "demo".into(),
                id: "abc".into(),
            },
            "run-1".into(),
            Duration::from_millis(420),
            checks,
        )
    }

    #[test]
    fn the_verdict_needs_a_pass_and_no_failure() {
        assert!(report(vec![check(CheckPath::Http, Outcome::Pass, None)]).passed());
        assert!(
            !report(vec![
                check(CheckPath::Http, Outcome::Pass, None),
                check(CheckPath::Ws, Outcome::Fail, Some("x"))
            ])
            .passed()
        );
        let all_skipped = report(vec![check(CheckPath::Http, Outcome::Skipped, Some("no"))]);
        assert!(!all_skipped.passed());
        assert!(all_skipped.verdict_line().contains("Nothing was checked"));
    }

    #[test]
    fn the_table_shows_reasons_for_failures_and_skips() {
        let text = render_text(&report(vec![
            check(CheckPath::Http, Outcome::Pass, None),
            check(
                CheckPath::Ws,
                Outcome::Skipped,
                Some("no token: set EVCTL_OIDC_TOKEN"),
            ),
        ]));
        assert!(text.contains("NAMESPACE"), "{text}");
        assert!(
            text.contains("skipped: no token: set EVCTL_OIDC_TOKEN"),
            "{text}"
        );
        assert!(text.contains("3.0ms"), "{text}");
        // The reason is the last column, so it widens no other row.
        let widths: Vec<usize> = text.lines().take(2).map(str::len).collect();
        assert!(widths[1] < widths[0].max(60), "{text}");
        assert!(
            text.trim_end().ends_with(
                "Smoke test passed: 1 passed, 0 failed, 1 skipped in 420ms against demo (abc)."
            ),
            "{text}"
        );
    }

    #[test]
    fn markdown_is_one_row_per_check() {
        let md = render_markdown(&report(vec![
            check(CheckPath::Http, Outcome::Pass, None),
            check(CheckPath::Ws, Outcome::Fail, Some("a | b")),
        ]));
        assert!(md.starts_with("### evctl smoke: FAILED"), "{md}");
        assert!(
            md.contains("| default | WS | API_KEY | 3.0ms | FAIL: a \\| b |"),
            "{md}"
        );
    }

    #[test]
    fn junit_escapes_and_counts() {
        let xml = render_junit(&report(vec![
            check(CheckPath::Http, Outcome::Pass, None),
            check(CheckPath::Ws, Outcome::Fail, Some("expected <a> & \"b\"")),
            check(CheckPath::Wildcard, Outcome::Skipped, Some("later")),
        ]));
        assert!(xml.contains("tests=\"3\" failures=\"1\""), "{xml}");
        assert!(
            xml.contains("message=\"expected &lt;a&gt; &amp; &quot;b&quot;\""),
            "{xml}"
        );
        assert!(xml.contains("<skipped message=\"later\"/>"), "{xml}");
        assert_eq!(xml.matches("<testcase").count(), 3);
        assert_eq!(escape("a\u{1}b\nc"), "ab&#10;c");
        assert!(
            xml.contains("name=\"HTTP API_KEY /default/run-1\""),
            "{xml}"
        );
        let mut unauthenticated = check(CheckPath::Unauthenticated, Outcome::Pass, None);
        unauthenticated.auth_mode = None;
        let xml = render_junit(&report(vec![unauthenticated]));
        assert!(
            xml.contains("name=\"HTTP no auth /default/run-1\""),
            "{xml}"
        );
    }
}
