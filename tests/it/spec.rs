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
#[serde(deny_unknown_fields)]
struct Report {
    format_version: String,
    valid: bool,
    specs: Vec<FileReport>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileReport {
    file: String,
    valid: bool,
    #[serde(default)]
    summary: Option<Summary>,
    diagnostics: Vec<JsonDiagnostic>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
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
fn a_var_the_spec_never_uses_is_pointed_out() {
    // `${STAGE:-dev}` with `--var stage=pr-42`: without a word, the dev API would be deployed.
    let out = evctl()
        .args(["validate", "templates/chat.yaml", "--var", "stage=pr-42"])
        .current_dir(repo())
        .assert()
        .success()
        .stdout(predicates::str::contains("API `chat-dev`"));
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(
        stderr.contains("--var stage is set, but the spec never uses ${stage}")
            && stderr.contains("did you mean `STAGE`? (names are case-sensitive)"),
        "{stderr}"
    );
    // A spec without variables says so; a used --var is not mentioned.
    let dir = tempfile::tempdir().expect("tempdir");
    let plain = write(
        dir.path(),
        "api.yaml",
        &std::fs::read_to_string(repo().join("templates/minimal.yaml"))
            .expect("template")
            .replace("evctl-minimal-${STAGE:-dev}", "fixed"),
    );
    evctl()
        .arg("validate")
        .arg(&plain)
        .args(["--var", "STAGE=x"])
        .assert()
        .success()
        .stderr(predicates::str::contains("the spec uses no variables"));
    evctl()
        .args(["validate", "templates/chat.yaml", "--var", "STAGE=x"])
        .current_dir(repo())
        .assert()
        .success()
        .stderr("");
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
    assert_eq!(report.format_version, "1.0");
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

fn load_text(text: &str, vars: &Vars) -> Result<spec::LoadedSpec, spec::SpecError> {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(dir.path(), "api.yaml", text);
    spec::load(&path, vars)
}

const MINIMAL_WITH_KEY_DESCRIPTION: &str = "version: 1
api:
  name: app-${STAGE:-dev}
  authProviders: [{authType: API_KEY}]
  connectionAuthModes: [API_KEY]
  defaultPublishAuthModes: [API_KEY]
  defaultSubscribeAuthModes: [API_KEY]
channelNamespaces:
  - name: default
apiKeys:
  - name: ci
    description: \"${DESC}\"
";

#[test]
fn a_variable_value_stays_one_plain_string_whatever_it_holds() {
    let injection =
        "x\"\napiKeys:\n  - name: injected\n    expires: 1d\n*alias ${OTHER} $$ {a: [b]}";
    let loaded = load_text(
        MINIMAL_WITH_KEY_DESCRIPTION,
        &Vars::new([("DESC", injection), ("OTHER", "no")]),
    )
    .expect("valid");
    let keys: Vec<&String> = loaded.desired.keys.keys().collect();
    assert_eq!(keys, vec!["ci"], "the value did not add a key");
    assert_eq!(
        loaded.desired.keys["ci"].description.as_deref(),
        Some(injection),
        "inserted verbatim, not re-expanded"
    );
    // In a field with rules, the injected text is validated like any other value.
    let err = load_text(
        MINIMAL_WITH_KEY_DESCRIPTION,
        &Vars::new([("DESC", "d"), ("STAGE", "x\nchannelNamespaces: []")]),
    )
    .expect_err("a newline is not allowed in an API name");
    let d = err.errors().next().expect("one error");
    assert_eq!(
        (d.path.as_str(), d.line, d.column),
        ("api.name", Some(3), Some(9))
    );
}

#[test]
fn defaults_escapes_and_unset_variables() {
    let loaded = load_text(
        &MINIMAL_WITH_KEY_DESCRIPTION.replace("${DESC}", "costs $$5, ${MISSING:-fallback}"),
        &Vars::none(),
    )
    .expect("valid");
    assert_eq!(loaded.desired.api.name, "app-dev");
    assert_eq!(
        loaded.desired.keys["ci"].description.as_deref(),
        Some("costs $5, fallback")
    );

    let err = load_text(MINIMAL_WITH_KEY_DESCRIPTION, &Vars::none()).expect_err("DESC is unset");
    let d = err.errors().next().expect("one error");
    assert_eq!(d.code, spec::Code::UnsetVariable);
    assert_eq!(
        (d.path.as_str(), d.line, d.column),
        ("apiKeys[0].description", Some(12), Some(18))
    );
    assert!(d.message.contains("`DESC`"), "{}", d.message);
    assert!(
        d.hint
            .as_deref()
            .unwrap_or_default()
            .contains("--var DESC=")
    );
}

#[test]
fn var_flags_win_over_the_environment_of_the_process() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(dir.path(), "api.yaml", MINIMAL_WITH_KEY_DESCRIPTION);
    evctl()
        .arg("validate")
        .arg(&path)
        .args(["--var", "STAGE=from-flag"])
        .env("STAGE", "from-env")
        .env("DESC", "d")
        .assert()
        .success()
        .stdout(predicates::str::contains("API `app-from-flag`"));
    evctl()
        .arg("validate")
        .arg(&path)
        .env("STAGE", "from-env")
        .env("DESC", "d")
        .assert()
        .success()
        .stdout(predicates::str::contains("API `app-from-env`"));
    evctl()
        .arg("validate")
        .arg(&path)
        .args(["--var", "not a pair"])
        .assert()
        .failure()
        .code(1)
        .stderr(predicates::str::contains("invalid --var"));
}

#[test]
fn init_writes_handler_files_with_the_chat_template() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec_path = dir.path().join("chat").join("api.yaml");
    evctl()
        .args(["init", "-t", "chat"])
        .arg(&spec_path)
        .assert()
        .success();
    assert!(dir.path().join("chat/handlers/chat.js").is_file());
    let loaded = spec::load(&spec_path, &Vars::none()).expect("valid");
    let code = loaded.desired.namespaces["rooms"]
        .code_handlers
        .as_deref()
        .unwrap_or_default();
    assert!(code.contains("export function onPublish"));
    // A second init refuses before writing anything.
    std::fs::remove_file(&spec_path).expect("remove spec");
    evctl()
        .args(["init", "-t", "chat"])
        .arg(&spec_path)
        .assert()
        .failure()
        .stderr(predicates::str::contains("handlers/chat.js already exists"));
    assert!(!spec_path.exists());
}

#[test]
fn every_file_under_templates_is_an_embedded_template_or_its_file() {
    let mut embedded: Vec<String> = vec!["evctl.schema.json".into()];
    for t in spec::templates::TEMPLATES {
        embedded.push(format!("{}.yaml", t.name));
        embedded.extend(t.files.iter().map(|(rel, _)| rel.to_string()));
    }
    let root = repo().join("templates");
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read templates").flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let rel = p
                .strip_prefix(&root)
                .unwrap_or(&p)
                .to_string_lossy()
                .replace('\\', "/");
            // Other issues' templates (e.g. CI workflows) are not specs.
            if rel.ends_with(".yaml") || rel.starts_with("handlers/") {
                assert!(
                    embedded.contains(&rel),
                    "templates/{rel} is not registered in spec::templates"
                );
            }
        }
    }
}

#[test]
fn the_chat_and_multi_auth_templates_lower_as_documented() {
    let chat =
        spec::load(&repo().join("templates/chat.yaml"), &Vars::none()).expect("chat is valid");
    let rooms = &chat.desired.namespaces["rooms"];
    assert_eq!(rooms.publish_auth_modes.len(), 2);
    assert!(
        chat.desired.namespaces["announcements"]
            .publish_auth_modes
            .is_empty(),
        "inherits"
    );
    let multi = spec::load(
        &repo().join("templates/multi-auth.yaml"),
        &Vars::new([("OIDC_ISSUER", "https://login.example.org")]),
    )
    .expect("multi-auth is valid");
    let types: Vec<AuthType> = multi
        .desired
        .api
        .auth_providers
        .iter()
        .map(|p| p.auth_type)
        .collect();
    assert_eq!(types.len(), 5);
    for t in AuthType::ALL {
        assert!(types.contains(&t), "{t} missing");
    }
    let oidc = multi
        .desired
        .api
        .auth_providers
        .iter()
        .find_map(|p| p.openid_connect_config.as_ref())
        .expect("oidc");
    assert_eq!(oidc.issuer, "https://login.example.org");
    assert_eq!(oidc.iat_ttl_ms, Some(3_600_000));
    let lambda = multi
        .desired
        .api
        .auth_providers
        .iter()
        .find_map(|p| p.lambda_authorizer_config.as_ref())
        .expect("lambda");
    assert_eq!(lambda.authorizer_result_ttl_in_seconds, Some(300));
}

#[test]
fn github_annotations_point_at_the_file_line_and_column() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(dir.path(), "api.yaml", "version: 1\napi:\n  nmae: x\n");
    let out = evctl()
        .arg("validate")
        .arg(&path)
        .env("GITHUB_ACTIONS", "true")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    // Workflow commands go to stderr (the runner reads both streams; stdout stays results).
    let stderr = String::from_utf8_lossy(&out.stderr);
    let expected = format!(
        "::error file={},line=3,col=3,title=evctl unknown-field::api.nmae: unknown field `nmae` in api%0Ahelp: did you mean `name`?",
        path.display()
            .to_string()
            .replace(':', "%3A")
            .replace(',', "%2C")
    );
    assert!(stderr.lines().any(|l| l == expected), "{stderr}");
}

#[test]
fn every_spec_in_the_valid_corpus_validates() {
    let dir = repo().join("tests/fixtures/spec/valid");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).expect("valid corpus").flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|x| x == "yaml") {
            if let Err(e) = spec::load(&path, &Vars::none()) {
                panic!("{} is invalid:\n{e}", path.display());
            }
            count += 1;
        }
    }
    assert!(count > 0);
    let big = spec::load(&dir.join("fifty-namespaces.yaml"), &Vars::none()).expect("valid");
    assert_eq!(
        (big.desired.namespaces.len(), big.desired.keys.len()),
        (50, 50)
    );
}
