//! evctl in CI: GitHub Actions annotations, step summaries and outputs (written to temp files
//! named through the child's environment), `list`, `gc`, `keys`, the markdown plan, concurrent
//! applies, and the example workflow in `templates/github-actions.yml`.

use crate::support::{evctl, write};

const INVALID_SPEC: &str = "\
version: 1
api:
  name: orders, ltd
  authProviders:
    - authType: API_KEY
  connectionAuthModes: [API_KEY]
  defaultPublishAuthModes: [API_KEY]
  defaultSubscribeAuthModes: [API_KEY]
channelNamespaces:
  - name: chat
    publishAuthMode: [API_KEY]
";

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn validation_errors_become_annotations_in_github_actions_and_stdout_stays_json() {
    let dir = tempfile::tempdir().expect("temp dir");
    let spec = write(dir.path(), "api.yaml", INVALID_SPEC);
    let out = evctl()
        .current_dir(dir.path())
        .env("GITHUB_ACTIONS", "true")
        .args(["validate", "--output", "json", "api.yaml"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let stderr = stderr_of(&out);
    let annotations: Vec<&str> = stderr.lines().filter(|l| l.starts_with("::")).collect();
    assert!(
        annotations.iter().any(|a| a.starts_with(
            "::error file=api.yaml,line=11,col=5,title=evctl unknown-field::channelNamespaces[0].publishAuthMode: unknown field"
        ) && a.contains("%0Ahelp: did you mean `publishAuthModes`?")),
        "no located annotation for the unknown field:\n{stderr}"
    );
    assert!(
        annotations
            .iter()
            .any(|a| a.starts_with("::error file=api.yaml,line=3,col=") && a.contains("api.name")),
        "no annotation for the bad API name:\n{stderr}"
    );
    // stdout is still one JSON document.
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    assert_eq!(json["valid"], false);

    // Outside GitHub Actions, no annotations unless asked with --github.
    let quiet = evctl()
        .current_dir(dir.path())
        .args(["validate", "api.yaml"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    assert!(!stderr_of(&quiet).contains("::error"));
    let asked = evctl()
        .current_dir(dir.path())
        .args(["validate", "--github", spec.to_str().expect("utf-8 path")])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let path = spec
        .display()
        .to_string()
        .replace(':', "%3A")
        .replace(',', "%2C");
    assert!(
        stderr_of(&asked).contains(&format!("::error file={path},line=11,col=5,")),
        "{}",
        stderr_of(&asked)
    );
}
