//! The spec language: templates, `evctl validate` / `init` / `schema`, the loader's public API.

use std::path::PathBuf;

use evctl::model::{AuthType, KeyExpiry};
use evctl::spec::{self, Vars};
use serde::Deserialize;

use crate::support::{evctl, write};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Test-side mirror of `evctl validate --output json`: unknown fields fail the test.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Report {
    format_version: u32,
    valid: bool,
    specs: Vec<FileReport>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct FileReport {
    file: String,
    valid: bool,
    #[serde(default)]
    summary: Option<Summary>,
    diagnostics: Vec<JsonDiagnostic>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Summary {
    api: String,
    auth_providers: Vec<String>,
    namespaces: usize,
    api_keys: usize,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct JsonDiagnostic {
    severity: String,
    code: String,
    file: String,
    line: Option<usize>,
    column: Option<usize>,
    path: String,
    message: String,
    #[serde(default)]
    hint: Option<String>,
}

fn validate_json(args: &[&str]) -> (Report, i32) {
    let out = evctl()
        .args(["validate", "--output", "json"])
        .args(args)
        .output()
        .expect("run evctl");
    let report: Report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not the JSON report ({e}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (report, out.status.code().unwrap_or(-1))
}

#[test]
fn the_minimal_template_loads_into_the_desired_state() {
    let loaded = spec::load(&repo().join("templates/minimal.yaml"), &Vars::none())
        .expect("minimal.yaml is valid");
    let d = &loaded.desired;
    assert_eq!(d.api.name, "evctl-minimal-dev");
    assert_eq!(d.api.auth_providers.len(), 1);
    assert_eq!(d.api.auth_providers[0].auth_type, AuthType::ApiKey);
    for modes in [
        &d.api.connection_auth_modes,
        &d.api.default_publish_auth_modes,
        &d.api.default_subscribe_auth_modes,
    ] {
        assert_eq!(
            modes.iter().copied().collect::<Vec<_>>(),
            vec![AuthType::ApiKey]
        );
    }
    assert_eq!(d.namespaces.keys().collect::<Vec<_>>(), vec!["default"]);
    let key = &d.keys["default"];
    assert_eq!(
        key.expiry,
        KeyExpiry::Validity {
            seconds: 30 * 86400
        }
    );
    assert_eq!(loaded.smoke.channels, vec!["/default/smoke".to_string()]);
    assert_eq!(loaded.smoke.timeout, std::time::Duration::from_secs(10));
    assert_eq!(loaded.dir, repo().join("templates"));
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
}

#[test]
fn variables_come_from_explicit_values_then_the_injected_environment() {
    let path = repo().join("templates/minimal.yaml");
    let from_var = spec::load(&path, &Vars::new([("STAGE", "pr-42")])).expect("valid");
    assert_eq!(from_var.desired.api.name, "evctl-minimal-pr-42");
    let from_env = spec::load(
        &path,
        &Vars::none().with_env(|n| (n == "STAGE").then(|| "ci".into())),
    )
    .expect("valid");
    assert_eq!(from_env.desired.api.name, "evctl-minimal-ci");
}

#[test]
fn validate_prints_a_summary_and_exits_0_for_a_valid_spec() {
    evctl()
        .args(["validate", "templates/minimal.yaml", "--var", "STAGE=x"])
        .current_dir(repo())
        .assert()
        .success()
        .stdout("templates/minimal.yaml: valid: API `evctl-minimal-x`, 1 auth provider (API_KEY), 1 namespace, 1 API key\n");
}

#[test]
fn validate_json_reports_valid_and_invalid_files_as_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = write(dir.path(), "bad.yaml", "version: 1\napi:\n  nmae: x\n");
    let good = repo().join("templates/minimal.yaml");
    let (report, code) = validate_json(&[
        good.to_str().unwrap_or_default(),
        bad.to_str().unwrap_or_default(),
    ]);
    assert_eq!(code, 1);
    assert_eq!(report.format_version, 1);
    assert!(!report.valid);
    let [good_report, bad_report] = &report.specs[..] else {
        panic!("two reports: {report:?}")
    };
    assert!(good_report.valid);
    let summary = good_report.summary.as_ref().expect("summary");
    assert_eq!(
        (
            summary.api.as_str(),
            summary.auth_providers.len(),
            summary.namespaces,
            summary.api_keys
        ),
        ("evctl-minimal-dev", 1, 1, 1)
    );
    assert!(!bad_report.valid);
    assert!(bad_report.file.ends_with("bad.yaml"));
    let unknown = bad_report
        .diagnostics
        .iter()
        .find(|d| d.code == "unknown-field")
        .expect("unknown field reported");
    assert_eq!(unknown.severity, "error");
    assert_eq!((unknown.line, unknown.column), (Some(3), Some(3)));
    assert_eq!(unknown.path, "api.nmae");
    assert!(unknown.file.ends_with("bad.yaml"));
    assert!(unknown.message.contains("nmae"));
    assert_eq!(unknown.hint.as_deref(), Some("did you mean `name`?"));
}

#[test]
fn the_schema_is_json_schema_for_the_spec_and_the_committed_copy_is_current() {
    let out = evctl()
        .arg("schema")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let schema: serde_json::Value = serde_json::from_slice(&out).expect("schema is JSON");
    assert_eq!(schema["title"], "evctl spec");
    assert_eq!(schema["additionalProperties"], false);
    for field in ["version", "api", "channelNamespaces", "apiKeys", "smoke"] {
        assert!(
            schema["properties"][field].is_object(),
            "schema lacks {field}"
        );
    }
    let committed =
        std::fs::read_to_string(repo().join("templates/evctl.schema.json")).unwrap_or_default();
    assert_eq!(
        committed,
        String::from_utf8_lossy(&out),
        "templates/evctl.schema.json is stale: run `cargo run -- schema > templates/evctl.schema.json`"
    );
}

#[test]
fn init_writes_a_valid_spec_with_its_schema_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec_path = dir.path().join("api.yaml");
    evctl()
        .args(["init", "--template", "minimal"])
        .arg(&spec_path)
        .assert()
        .success();
    let text = std::fs::read_to_string(&spec_path).expect("spec written");
    assert!(text.starts_with("# yaml-language-server: $schema=./evctl.schema.json\n"));
    assert!(dir.path().join("evctl.schema.json").is_file());
    spec::load(&spec_path, &Vars::none()).expect("the written spec is valid");

    std::fs::write(&spec_path, "edited").expect("edit");
    evctl()
        .arg("init")
        .arg(&spec_path)
        .assert()
        .failure()
        .code(1)
        .stderr(predicates::str::contains("pass --force to overwrite"));
    assert_eq!(
        std::fs::read_to_string(&spec_path).unwrap_or_default(),
        "edited"
    );
    evctl()
        .arg("init")
        .arg("--force")
        .arg(&spec_path)
        .assert()
        .success();
    assert!(
        std::fs::read_to_string(&spec_path)
            .unwrap_or_default()
            .starts_with("# yaml-language-server")
    );
}

#[test]
fn init_lists_templates_and_rejects_unknown_ones() {
    let out = evctl()
        .args(["init", "--list"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let listed = String::from_utf8_lossy(&out);
    for t in spec::templates::TEMPLATES {
        assert!(listed.contains(t.name), "--list lacks {}", t.name);
    }
    let dir = tempfile::tempdir().expect("tempdir");
    evctl()
        .args(["init", "--template", "nope"])
        .arg(dir.path().join("x.yaml"))
        .assert()
        .failure()
        .stderr(predicates::str::contains("no template `nope`"));
    assert!(!dir.path().join("x.yaml").exists());
}

#[test]
fn every_template_validates() {
    for t in spec::templates::TEMPLATES {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write(dir.path(), &format!("{}.yaml", t.name), t.spec);
        for (rel, contents) in t.files {
            write(dir.path(), rel, contents);
        }
        if let Err(e) = spec::load(&path, &Vars::none()) {
            panic!("template {} is invalid:\n{e}", t.name);
        }
        // The copy in templates/ is the one embedded.
        let on_disk =
            std::fs::read_to_string(repo().join("templates").join(format!("{}.yaml", t.name)))
                .unwrap_or_default();
        assert_eq!(
            on_disk, t.spec,
            "templates/{}.yaml differs from the embedded copy",
            t.name
        );
    }
}
