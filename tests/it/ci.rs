//! evctl in CI: GitHub Actions annotations, step summaries and outputs (written to temp files
//! named through the child's environment), `list`, `gc`, `keys`, the markdown plan, concurrent
//! applies, and the example workflow in `templates/github-actions.yml`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::Parser as _;
use serde::Deserialize;

use crate::support::{EmulatorProcess, emulator_stats, evctl, event_config, sdk_client, write};

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

// ---- against the emulator ----

/// A spec whose API is named `name` and tagged with `tags` (and `ci=true`), with the namespaces
/// `chat` and `news` and the keys `(name, expires)`.
fn spec(name: &str, tags: &[(&str, &str)], keys: &[(&str, &str)]) -> String {
    let mut yaml = format!(
        "version: 1
api:
  name: {name}
  authProviders:
    - authType: API_KEY
  connectionAuthModes: [API_KEY]
  defaultPublishAuthModes: [API_KEY]
  defaultSubscribeAuthModes: [API_KEY]
  tags:
    ci: \"true\"
"
    );
    for (k, v) in tags {
        yaml.push_str(&format!("    {k}: {v}\n"));
    }
    yaml.push_str("channelNamespaces:\n  - name: chat\n  - name: news\n");
    if !keys.is_empty() {
        yaml.push_str("apiKeys:\n");
        for (k, expires) in keys {
            yaml.push_str(&format!("  - name: {k}\n    expires: {expires}\n"));
        }
    }
    yaml
}

/// An emulator process and a temp dir for specs and GitHub files.
struct Env {
    emulator: EmulatorProcess,
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        Env {
            emulator: EmulatorProcess::spawn(&[]),
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `evctl ARGS --endpoint-url <emulator>`, run in the temp dir. Only one apply runs at a
    /// time here, so the concurrent-apply guard needs no settle; the concurrency test sets the
    /// default back.
    fn evctl(&self, args: &[&str]) -> assert_cmd::Command {
        let mut cmd = evctl();
        cmd.current_dir(self.dir.path())
            .env("EVCTL_CREATE_SETTLE", "0s")
            .args(args)
            .args(["--endpoint-url", self.emulator.endpoint()]);
        cmd
    }

    fn write(&self, name: &str, contents: &str) -> PathBuf {
        write(self.dir.path(), name, contents)
    }

    fn apply(&self, file: &str) {
        self.apply_with(file, &[]);
    }

    /// `evctl apply FILE --auto-approve EXTRA...`.
    fn apply_with(&self, file: &str, extra: &[&str]) {
        let mut args = vec!["apply", file, "--auto-approve"];
        args.extend(extra);
        self.evctl(&args).assert().success();
    }

    fn list(&self, selectors: &[&str]) -> Vec<ListedApi> {
        let mut args = vec!["list", "--output", "json"];
        for s in selectors {
            args.extend(["--selector", s]);
        }
        let out = self.evctl(&args).assert().success().get_output().clone();
        let listing: Listing = serde_json::from_slice(&out.stdout).expect("list JSON");
        assert_eq!(listing.format_version, "1.0");
        assert_eq!(listing.selectors, selectors);
        listing.apis
    }

    /// Creates an API with the SDK, as someone would by hand: no ownership tag.
    fn create_unowned(&self, name: &str, tags: &[(&str, &str)]) -> String {
        let client = sdk_client(self.emulator.endpoint());
        let mut req = client.create_api().name(name).event_config(event_config());
        for (k, v) in tags {
            req = req.tags(*k, *v);
        }
        let out = runtime().block_on(req.send()).expect("CreateApi");
        out.api()
            .and_then(|a| a.api_id())
            .expect("api id")
            .to_string()
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// Test-side mirror of `evctl list --output json`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Listing {
    format_version: String,
    selectors: Vec<String>,
    apis: Vec<ListedApi>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListedApi {
    name: String,
    id: String,
    arn: String,
    owned: bool,
    created: Option<String>,
    age_seconds: Option<i64>,
    tags: BTreeMap<String, String>,
    namespaces: usize,
}

/// Test-side mirror of `evctl gc --output json`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GcReport {
    format_version: String,
    dry_run: bool,
    selectors: Vec<String>,
    older_than_seconds: Option<u64>,
    apis: Vec<GcRow>,
    interrupted: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GcRow {
    api: ListedApi,
    action: String,
    reason: Option<String>,
}

fn names(apis: &[ListedApi]) -> Vec<&str> {
    apis.iter().map(|a| a.name.as_str()).collect()
}

#[test]
fn list_shows_every_api_with_ownership_age_tags_and_namespaces_filtered_by_selectors() {
    let env = Env::new();
    env.write("a.yaml", &spec("ci-a", &[("stage", "pr-1")], &[]));
    env.write("b.yaml", &spec("ci-b", &[("stage", "pr-2")], &[]));
    env.apply("a.yaml");
    env.apply("b.yaml");
    let byhand = env.create_unowned("byhand", &[("stage", "pr-1")]);

    let all = env.list(&[]);
    assert_eq!(names(&all), ["byhand", "ci-a", "ci-b"]);
    let a = &all[1];
    assert!(a.owned && !all[0].owned);
    assert_eq!(a.namespaces, 2);
    assert_eq!(all[0].namespaces, 0);
    assert_eq!(a.tags.get("stage").map(String::as_str), Some("pr-1"));
    assert_eq!(
        a.tags.get("evctl:managed-by").map(String::as_str),
        Some("evctl")
    );
    assert!(
        a.created.as_deref().is_some_and(|c| c.ends_with('Z')),
        "{a:?}"
    );
    assert!(
        a.age_seconds.is_some_and(|s| (0..600).contains(&s)),
        "{a:?}"
    );
    assert!(a.arn.ends_with(&format!("apis/{}", a.id)));
    assert_eq!(all[0].id, byhand);

    assert_eq!(names(&env.list(&["stage=pr-1"])), ["byhand", "ci-a"]);
    assert_eq!(names(&env.list(&["ci=true", "stage=pr-2"])), ["ci-b"]);
    assert_eq!(names(&env.list(&["stage!=pr-1"])), ["ci-b"]);
    assert_eq!(
        names(&env.list(&["evctl:managed-by=evctl"])),
        ["ci-a", "ci-b"]
    );

    // The table, and an empty result said on stderr.
    let out = env
        .evctl(&["list", "-l", "stage=pr-1"])
        .assert()
        .success()
        .get_output()
        .clone();
    let table = String::from_utf8_lossy(&out.stdout);
    let header = table.lines().next().unwrap_or_default();
    for column in [
        "NAME",
        "ID",
        "OWNED",
        "CREATED",
        "AGE",
        "NAMESPACES",
        "TAGS",
    ] {
        assert!(header.contains(column), "{table}");
    }
    assert!(
        table.contains("stage=pr-1") && !table.contains("evctl:managed-by"),
        "{table}"
    );
    let none = env
        .evctl(&["list", "-l", "stage=pr-9"])
        .assert()
        .success()
        .get_output()
        .clone();
    assert!(none.stdout.is_empty());
    assert!(
        stderr_of(&none).contains("No Event APIs"),
        "{}",
        stderr_of(&none)
    );
    env.evctl(&["list", "-l", "=x"])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("invalid selector"));
}

#[test]
fn gc_deletes_only_owned_matching_apis_older_than_the_cutoff_and_dry_run_changes_nothing() {
    let env = Env::new();
    env.write("a.yaml", &spec("ci-a", &[("stage", "pr-1")], &[]));
    env.write("b.yaml", &spec("ci-b", &[("stage", "pr-2")], &[]));
    env.apply("a.yaml");
    env.apply("b.yaml");
    env.create_unowned("byhand", &[("ci", "true"), ("stage", "pr-1")]);
    let gc = |args: &[&str]| -> GcReport {
        let mut all = vec!["gc", "--output", "json"];
        all.extend(args);
        let out = env.evctl(&all).assert().success().get_output().clone();
        let report: GcReport = serde_json::from_slice(&out.stdout).expect("gc JSON");
        assert_eq!(report.format_version, "1.0");
        assert!(!report.interrupted);
        report
    };
    let rows = |r: &GcReport| -> Vec<(String, String)> {
        r.apis
            .iter()
            .map(|row| (row.api.name.clone(), row.action.clone()))
            .collect()
    };
    let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    };

    // A selector is required, and without a terminal gc needs --auto-approve (or --dry-run).
    env.evctl(&["gc"]).assert().code(1);
    env.evctl(&["gc", "-l", "ci=true"])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("--auto-approve"));

    // Too young for a large cutoff: everything is kept, each with its reason.
    let young = gc(&["-l", "ci=true", "--older-than", "24h", "--auto-approve"]);
    assert_eq!(young.older_than_seconds, Some(86_400));
    assert_eq!(
        rows(&young),
        pairs(&[("byhand", "kept"), ("ci-a", "kept"), ("ci-b", "kept")])
    );
    let reasons: Vec<&str> = young
        .apis
        .iter()
        .filter_map(|r| r.reason.as_deref())
        .collect();
    assert!(reasons[0].contains("not created by evctl"), "{reasons:?}");
    assert!(
        reasons[1].contains("younger than --older-than 1d"),
        "{reasons:?}"
    );

    // A dry run with a zero cutoff says what would go and deletes nothing.
    let dry = gc(&["-l", "ci=true", "--older-than", "0s", "--dry-run"]);
    assert!(dry.dry_run);
    assert_eq!(
        rows(&dry),
        pairs(&[
            ("byhand", "kept"),
            ("ci-a", "would_delete"),
            ("ci-b", "would_delete")
        ])
    );
    assert_eq!(env.list(&[]).len(), 3);
    // --github appends the table to the step summary outside Actions too.
    let summary = env.path("gc-summary.md");
    env.evctl(&["gc", "-l", "ci=true", "--dry-run", "--github"])
        .env("GITHUB_STEP_SUMMARY", &summary)
        .assert()
        .success();
    let md = std::fs::read_to_string(&summary).expect("step summary written with --github");
    assert!(md.contains("| ci-a |"), "{md}");
    env.evctl(&[
        "gc",
        "-l",
        "ci=true",
        "--older-than",
        "0s",
        "--dry-run",
        "-o",
        "markdown",
    ])
    .assert()
    .success()
    .stdout(predicates::str::starts_with("### evctl gc\n"))
    .stdout(predicates::str::contains("| would delete |"));

    // The real sweep of one stage, with a step summary in GitHub Actions.
    let summary = env.path("summary.md");
    let out = env
        .evctl(&[
            "gc",
            "-l",
            "stage=pr-1",
            "--older-than",
            "0s",
            "--auto-approve",
        ])
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", &summary)
        .assert()
        .success()
        .get_output()
        .clone();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("ci-a") && text.contains("deleted"), "{text}");
    assert!(
        text.contains("byhand") && text.contains("not created by evctl"),
        "{text}"
    );
    assert!(
        text.trim_end().ends_with("Deleted 1 API, kept 1."),
        "{text}"
    );
    let md = std::fs::read_to_string(&summary).expect("step summary");
    assert!(
        md.starts_with("### evctl gc") && md.contains("| deleted |"),
        "{md}"
    );
    let left = env.list(&[]);
    assert_eq!(names(&left), ["byhand", "ci-b"]);
    assert!(left.iter().all(|a| a.name != "ci-a"));

    // Nothing left to sweep is success.
    let again = gc(&["-l", "stage=pr-1", "--auto-approve"]);
    assert_eq!(rows(&again), pairs(&[("byhand", "kept")]));
    assert!(
        again
            .apis
            .iter()
            .all(|r| !r.api.id.is_empty() && !r.api.owned)
    );
    assert_eq!(again.selectors, ["stage=pr-1"]);
}

/// Test-side mirror of `evctl keys --output json`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeysReport {
    format_version: String,
    api: KeysApi,
    window_seconds: Option<i64>,
    checked_at: String,
    keys: Vec<KeyRow>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeysApi {
    name: String,
    id: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyRow {
    name: String,
    expires: Option<String>,
    days_left: Option<i64>,
    policy: String,
    next_apply: Option<String>,
    status: String,
}

/// The value of key `name`, from `evctl outputs --format json`.
fn key_value(env: &Env, spec: &str, name: &str) -> String {
    let out = env
        .evctl(&["outputs", spec, "--format", "json"])
        .assert()
        .success()
        .get_output()
        .clone();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("outputs JSON");
    json["keys"]
        .as_array()
        .and_then(|keys| keys.iter().find(|k| k["name"] == name))
        .and_then(|k| k["value"].as_str())
        .expect("key value")
        .to_string()
}

#[test]
fn keys_lists_expiry_and_exits_2_when_a_key_expires_within_the_window() {
    let env = Env::new();
    env.write(
        "api.yaml",
        &spec("ci-keys", &[], &[("ci", "30d"), ("web", "10d")]),
    );
    env.apply("api.yaml");
    let ci_value = key_value(&env, "api.yaml", "ci");

    let keys = |window: Option<&str>, code: i32| -> (KeysReport, String) {
        let mut args = vec!["keys", "api.yaml", "--output", "json"];
        if let Some(w) = window {
            args.extend(["--expiring-within", w]);
        }
        let out = env.evctl(&args).assert().code(code).get_output().clone();
        let report: KeysReport = serde_json::from_slice(&out.stdout).expect("keys JSON");
        assert_eq!(report.format_version, "1.0");
        assert_eq!(report.api.name, "ci-keys");
        assert!(!report.api.id.is_empty() && report.checked_at.ends_with('Z'));
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            stderr_of(&out)
        );
        (report, all)
    };

    // New keys get twice their policy's validity: ci 60 days, web 20 days (AppSync rounds
    // expiry down to the hour, so a day less may show).
    let (report, _) = keys(None, 0);
    let by_name: BTreeMap<&str, &KeyRow> =
        report.keys.iter().map(|k| (k.name.as_str(), k)).collect();
    assert!(
        matches!(by_name["ci"].days_left, Some(59 | 60)),
        "{report:?}"
    );
    assert!(
        matches!(by_name["web"].days_left, Some(19 | 20)),
        "{report:?}"
    );
    assert_eq!(by_name["ci"].policy, "keep 30d valid");
    assert!(
        by_name["ci"]
            .expires
            .as_deref()
            .is_some_and(|e| e.ends_with('Z'))
    );
    assert!(
        report
            .keys
            .iter()
            .all(|k| k.status == "ok" && k.next_apply.is_none())
    );
    assert_eq!(report.window_seconds, None);

    // A 14-day window: both fine. A 30-day window catches web.
    let (fine, _) = keys(Some("14d"), 0);
    assert_eq!(fine.window_seconds, Some(14 * 86_400));
    let (expiring, all) = keys(Some("30d"), 2);
    let status: Vec<(&str, &str)> = expiring
        .keys
        .iter()
        .map(|k| (k.name.as_str(), k.status.as_str()))
        .collect();
    assert_eq!(status, [("ci", "ok"), ("web", "expiring")]);
    assert!(!all.contains(&ci_value), "a key value leaked:\n{all}");

    // The text report says what to do; in GitHub Actions it annotates and summarises too.
    let summary = env.path("summary.md");
    let out = env
        .evctl(&["keys", "api.yaml", "--expiring-within", "30d"])
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", &summary)
        .assert()
        .code(2)
        .get_output()
        .clone();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("1 of 2 keys need attention"), "{text}");
    assert!(text.contains("its policy keeps only 10d"), "{text}");
    assert!(
        stderr_of(&out)
            .contains("::warning file=api.yaml,title=evctl keys::key \"web\" expires in"),
        "{}",
        stderr_of(&out)
    );
    let md = std::fs::read_to_string(&summary).expect("step summary");
    assert!(
        md.starts_with("### evctl keys: ci-keys") && md.contains("| web |"),
        "{md}"
    );

    // --github does the same outside Actions (as it does for plan, apply and smoke).
    let flagged = env.path("flagged.md");
    env.evctl(&["keys", "api.yaml", "--github"])
        .env("GITHUB_STEP_SUMMARY", &flagged)
        .assert()
        .success();
    let md = std::fs::read_to_string(&flagged).expect("step summary written with --github");
    assert!(md.starts_with("### evctl keys: ci-keys"), "{md}");

    env.evctl(&["keys", "api.yaml", "-o", "markdown"])
        .assert()
        .success()
        .stdout(predicates::str::starts_with("### evctl keys: ci-keys\n"));

    // A key the spec adds but the API lacks yet needs attention too.
    env.write(
        "api.yaml",
        &spec(
            "ci-keys",
            &[],
            &[("ci", "30d"), ("web", "10d"), ("new", "30d")],
        ),
    );
    let (missing, _) = keys(Some("14d"), 2);
    let new = missing
        .keys
        .iter()
        .find(|k| k.name == "new")
        .expect("row for new");
    assert_eq!(
        (new.status.as_str(), new.next_apply.as_deref()),
        ("missing", Some("create"))
    );
    assert_eq!(new.expires, None);

    // No API at all is an error, not an empty report.
    env.write("other.yaml", &spec("ci-nothing", &[], &[("ci", "30d")]));
    env.evctl(&["keys", "other.yaml"])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("does not exist"));
}

#[test]
fn github_actions_gets_plan_and_apply_summaries_masked_outputs_and_spec_annotations() {
    let env = Env::new();
    env.write(
        "api.yaml",
        &spec("ci-gh", &[("stage", "pr-7")], &[("ci", "30d")]),
    );
    let summary = env.path("summary.md");
    let output = env.path("output");
    let in_actions = |args: &[&str]| {
        let mut cmd = env.evctl(args);
        cmd.env("GITHUB_ACTIONS", "true")
            .env("GITHUB_STEP_SUMMARY", &summary)
            .env("GITHUB_OUTPUT", &output);
        cmd
    };

    // plan and apply append markdown to the step summary.
    in_actions(&["plan", "api.yaml"]).assert().success();
    in_actions(&["apply", "api.yaml", "--auto-approve"])
        .assert()
        .success();
    let md = std::fs::read_to_string(&summary).expect("step summary");
    assert_eq!(md.matches("### evctl: plan for `ci-gh`").count(), 2, "{md}");
    assert!(
        md.contains("Plan: 4 to add, 0 to change, 0 to destroy."),
        "{md}"
    );
    assert!(md.contains("Apply complete!"), "{md}");

    // outputs --format github: masks on stderr, values only in $GITHUB_OUTPUT.
    let value = key_value(&env, "api.yaml", "ci");
    let out = in_actions(&["outputs", "api.yaml", "--format", "github"])
        .assert()
        .success()
        .get_output()
        .clone();
    assert!(stderr_of(&out).contains(&format!("::add-mask::{value}\n")));
    assert!(!String::from_utf8_lossy(&out.stdout).contains(&value));
    let written = std::fs::read_to_string(&output).expect("GITHUB_OUTPUT");
    assert!(
        written.contains(&format!("api_key_ci={value}\n")),
        "{written}"
    );
    assert!(
        written
            .lines()
            .any(|l| l.starts_with("api_id=") && l.len() > 7),
        "{written}"
    );
    assert!(
        written.contains("realtime_url=ws://127.0.0.1:"),
        "{written}"
    );
    // Without $GITHUB_OUTPUT there is nowhere to write: an error, not silence.
    env.evctl(&["outputs", "api.yaml", "--format", "github"])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("GITHUB_OUTPUT"));

    // plan --output markdown, for a pull-request comment: diff markers in column 0.
    env.write(
        "api.yaml",
        &spec("ci-gh", &[("stage", "pr-8")], &[("ci", "30d")]),
    );
    let out = env
        .evctl(&[
            "plan",
            "api.yaml",
            "--output",
            "markdown",
            "--detailed-exitcode",
        ])
        .assert()
        .code(2)
        .get_output()
        .clone();
    let comment = String::from_utf8_lossy(&out.stdout);
    assert!(
        comment.starts_with(
            "### evctl: plan for `ci-gh`\n\nPlan: 0 to add, 1 to change, 0 to destroy.\n"
        ),
        "{comment}"
    );
    assert!(comment.contains("```diff\n"), "{comment}");
    assert!(
        comment.lines().any(|l| l.starts_with('!')
            && l.contains("tags[\"stage\"]")
            && l.contains("\"pr-7\" -> \"pr-8\"")),
        "{comment}"
    );
    assert!(!comment.contains(&value));

    // An invalid spec is annotated by plan and apply, before any API call.
    env.write("bad.yaml", INVALID_SPEC);
    for cmd in [
        &["plan", "bad.yaml"][..],
        &["apply", "bad.yaml", "--auto-approve"],
    ] {
        let out = in_actions(cmd).assert().code(1).get_output().clone();
        assert!(
            stderr_of(&out)
                .contains("::error file=bad.yaml,line=11,col=5,title=evctl unknown-field::"),
            "{}",
            stderr_of(&out)
        );
    }
}

#[test]
fn five_parallel_applies_of_one_spec_leave_exactly_one_api_and_all_succeed() {
    // Latency makes every run list before any creates, so all of them race to CreateApi.
    let env = Env {
        emulator: EmulatorProcess::spawn(&["--latency", "200ms"]),
        dir: tempfile::tempdir().expect("temp dir"),
    };
    env.write(
        "api.yaml",
        &spec("ci-race", &[("stage", "pr-5")], &[("ci", "30d")]),
    );
    let start = std::sync::Arc::new(std::sync::Barrier::new(5));
    let runs: Vec<_> = (0..5)
        .map(|_| {
            let mut cmd = env.evctl(&["apply", "api.yaml", "--auto-approve"]);
            // The real settle: this is the test of it.
            cmd.env_remove("EVCTL_CREATE_SETTLE");
            let start = std::sync::Arc::clone(&start);
            std::thread::spawn(move || {
                start.wait();
                cmd.output().expect("run evctl apply")
            })
        })
        .collect();
    let outputs: Vec<std::process::Output> = runs
        .into_iter()
        .map(|r| r.join().expect("apply thread"))
        .collect();
    for out in &outputs {
        assert_eq!(
            out.status.code(),
            Some(0),
            "an apply failed:\n{}",
            stderr_of(out)
        );
    }

    let apis = env.list(&["stage=pr-5"]);
    assert_eq!(names(&apis), ["ci-race"], "{apis:?}");
    let stats = runtime().block_on(emulator_stats(env.emulator.endpoint()));
    let calls = |op: &str| stats["operations"][op].as_u64().unwrap_or(0);
    assert!(calls("CreateApi") >= 2, "no race happened: {stats}");
    assert_eq!(calls("DeleteApi"), calls("CreateApi") - 1, "{stats}");
    let yielded = outputs
        .iter()
        .filter(|o| stderr_of(o).contains("this run deleted its duplicate"))
        .count();
    assert_eq!(yielded as u64, calls("CreateApi") - 1);
    for out in outputs
        .iter()
        .filter(|o| stderr_of(o).contains("deleted its duplicate"))
    {
        assert!(
            String::from_utf8_lossy(&out.stdout)
                .contains("No changes left: the other run applied the spec"),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }

    // Converged: nothing left to change, and one copy of each namespace and key.
    env.evctl(&["plan", "api.yaml", "--detailed-exitcode"])
        .assert()
        .code(0);
    let client = sdk_client(env.emulator.endpoint());
    let (keys, namespaces) = runtime().block_on(async {
        let keys = client.list_api_keys().api_id(&apis[0].id).send().await;
        let namespaces = client
            .list_channel_namespaces()
            .api_id(&apis[0].id)
            .send()
            .await;
        (
            keys.expect("ListApiKeys"),
            namespaces.expect("ListChannelNamespaces"),
        )
    });
    assert_eq!(keys.api_keys().len(), 1);
    assert_eq!(namespaces.channel_namespaces().len(), 2);
}

// ---- templates/github-actions.yml ----

/// One `evctl` command line from the workflow: the job, the words after `evctl` (variables
/// expanded from `vars`), and the file its stdout is redirected to, if any.
#[derive(Debug, Clone)]
struct WorkflowCommand {
    job: String,
    args: Vec<String>,
    stdout_to: Option<String>,
}

/// Splits a `run:` script into simple commands (at newlines, `;`, `|`, `&&`, `||`) and words,
/// honouring quotes and line continuations, expanding `$NAME` / `${NAME}` from `vars`. Returns
/// the words of each simple command, redirections kept as words.
fn shell_commands(script: &str, vars: &BTreeMap<&str, String>) -> Vec<Vec<String>> {
    let script = script.replace("\\\n", " ");
    let mut commands = vec![Vec::new()];
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = script.chars().peekable();
    let expand = |chars: &mut std::iter::Peekable<std::str::Chars>, out: &mut String| {
        let braced = chars.peek() == Some(&'{');
        if braced {
            chars.next();
        }
        let mut name = String::new();
        while let Some(&c) = chars.peek() {
            if c.is_ascii_alphanumeric() || c == '_' {
                name.push(c);
                chars.next();
            } else {
                break;
            }
        }
        if braced {
            chars.next();
        }
        match vars.get(name.as_str()) {
            Some(v) => out.push_str(v),
            None => panic!("the workflow uses ${name}, which the test does not know"),
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for c in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    word.push(c);
                }
            }
            '"' => {
                in_word = true;
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '$' => expand(&mut chars, &mut word),
                        c => word.push(c),
                    }
                }
            }
            '$' => {
                in_word = true;
                expand(&mut chars, &mut word);
            }
            ' ' | '\t' | '\n' | ';' | '|' | '&' => {
                if in_word {
                    commands
                        .last_mut()
                        .expect("a command")
                        .push(std::mem::take(&mut word));
                    in_word = false;
                }
                if c != ' ' && c != '\t' {
                    while chars.peek().is_some_and(|n| *n == '|' || *n == '&') {
                        chars.next();
                    }
                    commands.push(Vec::new());
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        commands.last_mut().expect("a command").push(word);
    }
    commands.retain(|c| !c.is_empty());
    commands
}

/// Every `evctl` command of the workflow, job by job, in order.
fn workflow_commands(
    workflow: &serde_yaml::Value,
    vars: &BTreeMap<&str, String>,
) -> Vec<WorkflowCommand> {
    let mut found = Vec::new();
    let jobs = workflow["jobs"].as_mapping().expect("jobs");
    for (name, job) in jobs {
        let job_name = name.as_str().expect("job name").to_string();
        for step in job["steps"].as_sequence().expect("steps") {
            let Some(script) = step["run"].as_str() else {
                continue;
            };
            // GitHub expressions are not shell: stand in a plain word.
            let mut plain = String::new();
            let mut rest = script;
            while let Some(start) = rest.find("${{") {
                plain.push_str(&rest[..start]);
                plain.push_str("EXPR");
                let end = rest[start..].find("}}").expect("closed expression");
                rest = &rest[start + end + 2..];
            }
            plain.push_str(rest);
            for words in shell_commands(&plain, vars) {
                if words[0] != "evctl" {
                    continue;
                }
                let mut args = Vec::new();
                let mut stdout_to = None;
                let mut it = words[1..].iter();
                while let Some(w) = it.next() {
                    if w == ">" {
                        stdout_to = it.next().cloned();
                    } else {
                        args.push(w.clone());
                    }
                }
                found.push(WorkflowCommand {
                    job: job_name.clone(),
                    args,
                    stdout_to,
                });
            }
        }
    }
    found
}

#[test]
fn the_example_workflow_is_valid_yaml_and_its_evctl_commands_run_against_the_emulator() {
    let text = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("templates/github-actions.yml"),
    )
    .expect("templates/github-actions.yml");
    let workflow: serde_yaml::Value = serde_yaml::from_str(&text).expect("valid YAML");

    // The shape GitHub expects, and what the README promises it does.
    let on = &workflow["on"];
    let pr_types: Vec<&str> = on["pull_request"]["types"]
        .as_sequence()
        .expect("pull_request types")
        .iter()
        .filter_map(|t| t.as_str())
        .collect();
    assert!(pr_types.contains(&"closed") && pr_types.contains(&"synchronize"));
    assert!(on["schedule"][0]["cron"].as_str().is_some());
    assert_eq!(workflow["permissions"]["id-token"].as_str(), Some("write"));
    let jobs = workflow["jobs"].as_mapping().expect("jobs");
    for (name, job) in jobs {
        assert!(job["runs-on"].as_str().is_some(), "{name:?} has no runs-on");
        let steps = job["steps"].as_sequence().expect("steps");
        let assumes_role = steps.iter().any(|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("aws-actions/configure-aws-credentials@"))
                && s["with"]["role-to-assume"].as_str().is_some()
        });
        assert!(
            assumes_role,
            "job {name:?} does not assume the AWS role through OIDC"
        );
    }

    let env = Env::new();
    let mut vars: BTreeMap<&str, String> = BTreeMap::new();
    vars.insert("SPEC", "api.yaml".into());
    vars.insert("STAGE", "pr-42".into());
    vars.insert("PERMANENT_STAGE", "prod".into());
    vars.insert("EVCTL_GIT", "https://example.invalid/evctl".into());
    vars.insert("EVCTL_REF", "main".into());
    vars.insert("PR", "42".into());
    vars.insert("EVENTS_HTTP_URL", "http://example.invalid".into());
    let commands = workflow_commands(&workflow, &vars);
    let used: Vec<String> = commands
        .iter()
        .map(|c| format!("{} {}", c.job, c.args.join(" ")))
        .collect();
    for expected in [
        "preview validate api.yaml --var STAGE=pr-42",
        "preview plan api.yaml --var STAGE=pr-42 --var EPHEMERAL=true --output markdown",
        "preview apply api.yaml --var STAGE=pr-42 --var EPHEMERAL=true --auto-approve",
        "preview smoke api.yaml",
        "preview outputs api.yaml --var STAGE=pr-42 --var EPHEMERAL=true --format github",
        "teardown destroy api.yaml --var STAGE=pr-42 --var EPHEMERAL=true --auto-approve",
        "sweep gc --selector ephemeral=true --older-than 72h --auto-approve",
        "keys keys api.yaml --var STAGE=prod --expiring-within 14d",
        "drift plan api.yaml --var STAGE=prod --detailed-exitcode",
    ] {
        assert!(
            used.iter().any(|u| u.starts_with(expected)),
            "the workflow does not run `{expected}`:\n{used:#?}"
        );
    }
    // Every command and flag exists.
    for c in &commands {
        let argv = std::iter::once("evctl".to_string()).chain(c.args.iter().cloned());
        if let Err(e) = evctl::cli::Cli::try_parse_from(argv) {
            panic!(
                "`evctl {}` in job {} does not parse:\n{e}",
                c.args.join(" "),
                c.job
            );
        }
    }

    // And they work, in the order CI runs them: the permanent stage exists; a pull request is
    // previewed; the nightly jobs run; the pull request closes.
    env.write(
        "api.yaml",
        "version: 1
api:
  name: orders-${STAGE:-dev}
  authProviders:
    - authType: API_KEY
  connectionAuthModes: [API_KEY]
  defaultPublishAuthModes: [API_KEY]
  defaultSubscribeAuthModes: [API_KEY]
  tags:
    stage: ${STAGE:-dev}
    ephemeral: \"${EPHEMERAL:-false}\"
channelNamespaces:
  - name: default
apiKeys:
  - name: default
    expires: 30d
",
    );
    env.apply_with("api.yaml", &["--var", "STAGE=prod"]);
    let summary = env.path("summary.md");
    let output = env.path("output");
    for job in ["preview", "sweep", "keys", "drift", "teardown"] {
        for c in commands.iter().filter(|c| c.job == job) {
            // As in CI: no --endpoint-url; the endpoint comes from the environment.
            let mut cmd = evctl();
            cmd.current_dir(env.dir.path())
                .args(&c.args)
                .env("AWS_ENDPOINT_URL_APPSYNC", env.emulator.endpoint())
                .env("GITHUB_ACTIONS", "true")
                .env("GITHUB_STEP_SUMMARY", &summary)
                .env("GITHUB_OUTPUT", &output);
            let out = cmd.output().expect("run evctl");
            assert_eq!(
                out.status.code(),
                Some(0),
                "`evctl {}` (job {job}) failed:\n{}",
                c.args.join(" "),
                stderr_of(&out)
            );
            if let Some(file) = &c.stdout_to {
                std::fs::write(env.path(file), &out.stdout).expect("redirect");
            }
        }
    }
    let plan = std::fs::read_to_string(env.path("plan.md")).expect("plan.md");
    assert!(
        plan.starts_with("### evctl: plan for `orders-pr-42`"),
        "{plan}"
    );
    let junit = std::fs::read_to_string(env.path("smoke-junit.xml")).expect("smoke-junit.xml");
    assert!(
        junit.contains("<testsuites") && junit.contains("failures=\"0\""),
        "{junit}"
    );
    let outputs = std::fs::read_to_string(&output).expect("GITHUB_OUTPUT");
    for name in ["http_url", "realtime_url", "api_key_default"] {
        assert!(
            outputs.contains(&format!("\n{name}=")) || outputs.starts_with(&format!("{name}=")),
            "{outputs}"
        );
    }
    let md = std::fs::read_to_string(&summary).expect("step summary");
    for part in [
        "### evctl: plan for `orders-pr-42`",
        "### evctl smoke",
        "### evctl gc",
        "### evctl keys: orders-prod",
    ] {
        assert!(md.contains(part), "the step summary lacks {part:?}:\n{md}");
    }
    // Torn down; the permanent stage stays.
    assert_eq!(names(&env.list(&[])), ["orders-prod"]);
}

#[test]
fn every_template_passes_the_nightly_key_check_right_after_apply() {
    // The README's nightly job runs `evctl keys --expiring-within 14d`: a template whose key
    // policy keeps less than that would fail it every night.
    let emulator = crate::support::EmulatorProcess::spawn(&[]);
    for name in ["minimal.yaml", "chat.yaml", "multi-auth.yaml"] {
        let spec = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("templates")
            .join(name);
        crate::support::evctl()
            .arg("apply")
            .arg(&spec)
            .args(["--auto-approve", "--endpoint-url", emulator.endpoint()])
            .env("EVCTL_CREATE_SETTLE", "0s")
            .assert()
            .success();
        let out = crate::support::evctl()
            .arg("keys")
            .arg(&spec)
            .args(["--expiring-within", "14d"])
            .args(["--endpoint-url", emulator.endpoint()])
            .assert()
            .get_output()
            .clone();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{name}:\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}
