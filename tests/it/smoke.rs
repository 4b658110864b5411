//! `evctl smoke` against the real emulator process: every template passes with every auth mode
//! the emulator enforces; denied modes, missing namespaces and lost events fail with the reason;
//! modes without credentials are skipped, never passed.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::support::{EmulatorProcess, evctl, write};

/// The JSON report, pinned field by field.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Report {
    format_version: String,
    api: ApiRef,
    run_id: String,
    verdict: String,
    duration_ms: f64,
    summary: Summary,
    checks: Vec<Check>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ApiRef {
    name: String,
    id: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Summary {
    passed: usize,
    failed: usize,
    skipped: usize,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Check {
    namespace: String,
    channel: String,
    path: String,
    auth_mode: Option<String>,
    result: String,
    reason: Option<String>,
    error_type: Option<String>,
    latency_ms: Option<f64>,
    modes: Option<Modes>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Modes {
    connect: String,
    subscribe: String,
    publish: String,
}

impl Report {
    fn rows(&self, namespace: &str, mode: &str) -> Vec<&Check> {
        self.checks
            .iter()
            .filter(|c| c.namespace == namespace && c.auth_mode.as_deref() == Some(mode))
            .collect()
    }

    fn row(&self, namespace: &str, path: &str) -> &Check {
        self.checks
            .iter()
            .find(|c| c.namespace == namespace && c.path == path)
            .unwrap_or_else(|| panic!("no {path} row for {namespace}: {self:#?}"))
    }
}

fn template(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("templates")
        .join(name)
}

/// An emulator process with the spec applied to it.
struct Deployed {
    emulator: EmulatorProcess,
    spec: PathBuf,
}

impl Deployed {
    fn new(spec: PathBuf, emulator_args: &[&str]) -> Deployed {
        let emulator = EmulatorProcess::spawn(emulator_args);
        evctl()
            .arg("apply")
            .arg(&spec)
            .args(["--auto-approve", "--endpoint-url", emulator.endpoint()])
            .assert()
            .success();
        Deployed { emulator, spec }
    }

    /// `evctl smoke` on `spec` against this emulator.
    fn smoke_spec(&self, spec: &Path) -> assert_cmd::Command {
        let mut cmd = evctl();
        cmd.arg("smoke")
            .arg(spec)
            .args(["--endpoint-url", self.emulator.endpoint()]);
        cmd
    }

    fn smoke(&self) -> assert_cmd::Command {
        self.smoke_spec(&self.spec)
    }
}

/// Runs `cmd` with `--output json`, expects `code`, and reads the report.
fn report(mut cmd: assert_cmd::Command, code: i32) -> Report {
    let out = cmd.args(["--output", "json"]).assert().code(code);
    let out = out.get_output();
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not a report ({e}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

/// A JWT with `claims`; the emulator checks claims (signatures only with --jwks).
fn jwt(claims: serde_json::Value) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(b"evctl-test").expect("an HMAC key"),
    )
    .expect("encode a JWT")
}

/// Tokens that multi-auth.yaml's providers (with their default settings) accept.
fn cognito_token() -> String {
    jwt(serde_json::json!({
        "iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_EXAMPLE01",
        "token_use": "access",
        "client_id": "smoke-client",
        "exp": now() + 3600,
    }))
}

fn oidc_token() -> String {
    jwt(serde_json::json!({
        "iss": "https://auth.example.com",
        "aud": "evctl-example",
        "iat": now(),
        "auth_time": now(),
        "exp": now() + 3600,
    }))
}

const LAMBDA_TOKEN: &str = "Bearer smoke-device-1";

fn assert_all_pass(report: &Report) {
    let bad: Vec<&Check> = report
        .checks
        .iter()
        .filter(|c| c.result != "pass")
        .collect();
    assert!(bad.is_empty(), "checks that did not pass: {bad:#?}");
    assert_eq!(report.verdict, "pass");
}

/// Each mode of each namespace is checked over both paths, with its own credentials.
fn assert_checked(report: &Report, namespace: &str, mode: &str) {
    let rows = report.rows(namespace, mode);
    let paths: Vec<&str> = rows.iter().map(|c| c.path.as_str()).collect();
    assert!(
        paths.contains(&"http") && paths.contains(&"ws"),
        "{namespace} {mode}: {rows:#?}"
    );
    for row in rows.iter().filter(|c| c.path == "http" || c.path == "ws") {
        assert_eq!(row.result, "pass", "{row:#?}");
        assert!(row.latency_ms.is_some(), "{row:#?}");
        assert!(
            row.channel
                .starts_with(&format!("/{namespace}/smoke/{}", report.run_id))
        );
    }
}

#[test]
fn the_minimal_template_passes_over_http_websocket_and_a_wildcard() {
    let deployed = Deployed::new(template("minimal.yaml"), &[]);
    let report = report(deployed.smoke(), 0);
    assert_all_pass(&report);
    assert_eq!(report.format_version, "1.0");
    assert_eq!(report.api.name, "evctl-minimal-dev");
    assert!(!report.api.id.is_empty());
    assert!(report.duration_ms > 0.0);
    assert_checked(&report, "default", "API_KEY");
    let wildcard = report.row("default", "wildcard");
    assert!(wildcard.channel.ends_with("-wild/a"), "{wildcard:#?}");
    let unauthenticated = report.row("default", "unauthenticated");
    assert_eq!(unauthenticated.auth_mode, None);
    assert_eq!(
        unauthenticated.error_type.as_deref(),
        Some("UnauthorizedException")
    );
    assert_eq!(
        (
            report.summary.passed,
            report.summary.failed,
            report.summary.skipped
        ),
        (4, 0, 0)
    );
}

#[test]
fn the_chat_template_passes_with_per_namespace_modes() {
    let deployed = Deployed::new(template("chat.yaml"), &[]);
    let report = report(deployed.smoke(), 0);
    for (namespace, modes) in [
        ("rooms", &["API_KEY", "AWS_IAM"][..]),
        ("announcements", &["API_KEY", "AWS_IAM"][..]),
        ("presence", &["API_KEY"][..]),
    ] {
        for mode in modes {
            assert_checked(&report, namespace, mode);
        }
        assert_eq!(report.row(namespace, "unauthenticated").result, "pass");
    }
    // announcements: API_KEY may subscribe but only AWS_IAM may publish.
    let announcements = report.rows("announcements", "API_KEY");
    let modes = announcements[0].modes.as_ref().expect("modes");
    assert_eq!(
        (
            modes.connect.as_str(),
            modes.subscribe.as_str(),
            modes.publish.as_str()
        ),
        ("API_KEY", "API_KEY", "AWS_IAM")
    );
    // rooms' onSubscribe (templates/handlers/chat.js) refuses `/rooms/*`: its decision, so the
    // wildcard check is skipped with that reason, not failed.
    let wildcard = report.row("rooms", "wildcard");
    assert_eq!(wildcard.result, "skipped", "{wildcard:#?}");
    assert!(
        wildcard
            .reason
            .as_deref()
            .is_some_and(|r| r.contains("onSubscribe handler refused") && r.contains("/*")),
        "{wildcard:#?}"
    );
    assert_eq!(report.row("presence", "wildcard").result, "pass");
    assert_eq!(report.summary.failed, 0);
    assert_eq!(report.verdict, "pass");
}

#[test]
fn the_multi_auth_template_passes_with_every_auth_mode() {
    let deployed = Deployed::new(
        template("multi-auth.yaml"),
        &["--lambda-token", LAMBDA_TOKEN],
    );
    let mut cmd = deployed.smoke();
    cmd.args(["--cognito-token", &cognito_token()])
        .args(["--oidc-token", &oidc_token()])
        .env("EVCTL_LAMBDA_TOKEN", LAMBDA_TOKEN);
    let report = report(cmd, 0);
    assert_all_pass(&report);
    assert_checked(&report, "public", "API_KEY");
    assert_checked(&report, "public", "AWS_IAM");
    assert_checked(&report, "users", "AMAZON_COGNITO_USER_POOLS");
    assert_checked(&report, "partners", "OPENID_CONNECT");
    assert_checked(&report, "devices", "AWS_LAMBDA");
    assert_checked(&report, "internal", "AWS_IAM");
}

#[test]
fn modes_without_credentials_are_skipped_with_how_to_supply_them() {
    let deployed = Deployed::new(template("multi-auth.yaml"), &[]);
    let out = deployed.smoke().assert().success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    for (namespace, mode, hint) in [
        (
            "users",
            "AMAZON_COGNITO_USER_POOLS",
            "no token: set EVCTL_COGNITO_TOKEN or pass --cognito-token",
        ),
        (
            "partners",
            "OPENID_CONNECT",
            "no token: set EVCTL_OIDC_TOKEN or pass --oidc-token",
        ),
        (
            "devices",
            "AWS_LAMBDA",
            "no token: set EVCTL_LAMBDA_TOKEN or pass --lambda-token",
        ),
    ] {
        let line = text
            .lines()
            .find(|l| l.contains(namespace) && l.contains(mode) && l.contains(" WS "))
            .unwrap_or_else(|| panic!("no {namespace} {mode} WS row in:\n{text}"));
        assert!(line.contains(&format!("skipped: {hint}")), "{line}");
    }
    assert!(
        text.contains("Smoke test passed:") && text.contains("skipped"),
        "{text}"
    );
}

#[test]
fn a_mode_the_emulator_denies_fails_with_the_service_error() {
    let deployed = Deployed::new(
        template("multi-auth.yaml"),
        &["--lambda-token", LAMBDA_TOKEN],
    );
    let mut cmd = deployed.smoke();
    cmd.args(["--cognito-token", &cognito_token()])
        .args(["--oidc-token", &oidc_token()])
        .args(["--lambda-token", "Bearer not-the-right-one"])
        .env("AWS_SECRET_ACCESS_KEY", "not-the-emulator-secret");
    let report = report(cmd, 1);
    assert_eq!(report.verdict, "fail");
    for row in report.rows("devices", "AWS_LAMBDA") {
        if row.path == "http" || row.path == "ws" {
            assert_eq!(row.result, "fail", "{row:#?}");
            assert_eq!(row.error_type.as_deref(), Some("UnauthorizedException"));
            let reason = row.reason.as_deref().unwrap_or_default();
            assert!(reason.starts_with("connect with AWS_LAMBDA: "), "{reason}");
        }
    }
    let iam = report.rows("internal", "AWS_IAM");
    assert!(
        iam.iter().all(|r| r.result == "fail"
            && r.reason
                .as_deref()
                .is_some_and(|m| m.contains("UnauthorizedException"))),
        "{iam:#?}"
    );
    // The modes with good credentials still pass.
    assert_checked(&report, "users", "AMAZON_COGNITO_USER_POOLS");
    assert_checked(&report, "partners", "OPENID_CONNECT");
}

#[test]
fn a_failing_publish_names_the_mode_that_published_when_it_is_not_the_rows() {
    // chat's announcements: API_KEY may subscribe but only AWS_IAM may publish, so the API_KEY
    // rows publish with AWS_IAM; with a wrong IAM secret their failure must say so, or the row
    // reads as "API_KEY is broken".
    let deployed = Deployed::new(template("chat.yaml"), &[]);
    let mut cmd = deployed.smoke();
    cmd.env("AWS_SECRET_ACCESS_KEY", "not-the-emulator-secret");
    let report = report(cmd, 1);
    let rows = report.rows("announcements", "API_KEY");
    let reasons: Vec<&str> = rows
        .iter()
        .map(|r| r.reason.as_deref().unwrap_or_default())
        .collect();
    assert_eq!(rows.len(), 2, "{rows:#?}");
    assert!(rows.iter().all(|r| r.result == "fail"), "{rows:#?}");
    assert!(
        reasons[0].starts_with("HTTP publish with AWS_IAM: UnauthorizedException"),
        "{reasons:?}"
    );
    assert!(
        reasons[1].starts_with("WebSocket publish with AWS_IAM: UnauthorizedException"),
        "{reasons:?}"
    );
    // presence allows API_KEY for everything: unaffected by the IAM secret.
    assert_checked(&report, "presence", "API_KEY");
}

#[test]
fn a_namespace_missing_on_the_api_fails() {
    let dir = tempfile::tempdir().expect("temp dir");
    let minimal = std::fs::read_to_string(template("minimal.yaml")).expect("template");
    let applied = write(dir.path(), "applied.yaml", &minimal);
    let deployed = Deployed::new(applied, &[]);
    let grown = minimal
        .replace(
            "  - name: default\n",
            "  - name: default\n  - name: orders\n",
        )
        .replace(
            "channels: [/default/smoke]",
            "channels: [/default/smoke, /orders/smoke]",
        );
    let grown = write(dir.path(), "grown.yaml", &grown);
    let out = deployed.smoke_spec(&grown).assert().code(1);
    let text = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("orders"))
        .unwrap_or_else(|| panic!("no orders row:\n{text}"));
    assert!(
        line.contains("FAIL: namespace `orders` is not on the API: run `evctl apply` first"),
        "{line}"
    );
    assert!(
        text.contains("Smoke test FAILED: 4 passed, 1 failed"),
        "{text}"
    );
}

/// The report of a smoke run (300 ms timeout) that is expected to fail for lost events.
fn undelivered(deployed: &Deployed) -> Report {
    let mut cmd = deployed.smoke();
    cmd.args(["--timeout", "300ms"]);
    report(cmd, 1)
}

#[test]
fn events_the_emulator_drops_fail_the_smoke_test() {
    let report = undelivered(&Deployed::new(
        template("minimal.yaml"),
        &["--drop-events", "1.0"],
    ));
    for path in ["http", "ws"] {
        let row = report.row("default", path);
        assert_eq!(row.result, "fail");
        assert_eq!(
            row.reason.as_deref(),
            Some("the event was not delivered within 300ms"),
            "{row:#?}"
        );
    }
    assert_eq!(report.row("default", "wildcard").result, "skipped");
}

#[test]
fn a_handler_that_drops_every_event_fails_the_smoke_test_and_says_so() {
    let dir = tempfile::tempdir().expect("temp dir");
    let spec = write(
        dir.path(),
        "api.yaml",
        r#"version: 1
api:
  name: evctl-silent-handler
  authProviders: [{authType: API_KEY}]
  connectionAuthModes: [API_KEY]
  defaultPublishAuthModes: [API_KEY]
  defaultSubscribeAuthModes: [API_KEY]
channelNamespaces:
  - name: default
    codeHandlers: |
      export function onPublish(ctx) {
        return [];
      }
apiKeys:
  - name: default
"#,
    );
    let report = undelivered(&Deployed::new(spec, &[]));
    for path in ["http", "ws"] {
        let row = report.row("default", path);
        assert_eq!(row.result, "fail");
        let reason = row.reason.as_deref().unwrap_or_default();
        assert!(
            reason.starts_with("the event was not delivered within 300ms")
                && reason.contains("onPublish handler decides what is broadcast"),
            "{row:#?}"
        );
    }
    assert_eq!(report.verdict, "fail");
}

#[test]
fn junit_output_has_one_testcase_per_check() {
    let deployed = Deployed::new(template("minimal.yaml"), &[]);
    let out = deployed
        .smoke()
        .args(["--output", "junit"])
        .assert()
        .success();
    let xml = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(xml.starts_with("<?xml version=\"1.0\""), "{xml}");
    assert!(
        xml.contains(
            "<testsuite name=\"evctl smoke evctl-minimal-dev\" tests=\"4\" failures=\"0\""
        ),
        "{xml}"
    );
    assert_eq!(xml.matches("<testcase ").count(), 4, "{xml}");
    assert!(xml.trim_end().ends_with("</testsuites>"));
}

#[test]
fn an_api_that_was_never_applied_is_a_clear_error() {
    let emulator = EmulatorProcess::spawn(&[]);
    evctl()
        .arg("smoke")
        .arg(template("minimal.yaml"))
        .args(["--endpoint-url", emulator.endpoint()])
        .assert()
        .code(1)
        .stderr(predicates::str::contains(
            "there is no evctl-owned API named \"evctl-minimal-dev\": run `evctl apply` first",
        ));
}

#[test]
fn smoke_speaks_https_and_wss_to_an_emulator_serving_tls() {
    let dir = tempfile::tempdir().expect("temp dir");
    let state = dir.path().join("state.json");
    let emulator = EmulatorProcess::spawn(&["--tls", "--state", state.to_str().expect("utf-8")]);
    let ca = dir.path().join("state.json.tls-ca.pem");
    // The SDK (control plane) trusts SSL_CERT_FILE; the data-plane clients add --ca-cert.
    evctl()
        .arg("apply")
        .arg(template("minimal.yaml"))
        .args(["--auto-approve", "--endpoint-url", emulator.endpoint()])
        .env("SSL_CERT_FILE", &ca)
        .assert()
        .success();
    let mut cmd = evctl();
    cmd.arg("smoke")
        .arg(template("minimal.yaml"))
        .args(["--endpoint-url", emulator.endpoint()])
        .arg("--ca-cert")
        .arg(&ca)
        .env("SSL_CERT_FILE", &ca);
    let out = cmd.assert().success();
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(
        stderr.contains("at https://127.0.0.1:") && stderr.contains(" and wss://127.0.0.1:"),
        "{stderr}"
    );
}
