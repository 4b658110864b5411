//! `evctl plan` against the emulator: Terraform-style text, `--detailed-exitcode`, the JSON plan
//! read back as data, ownership (unowned APIs refused and adopted, duplicates named), and saved
//! plans (applied exactly, refused when stale).

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::plan_support::{Stage, spec_yaml};

#[test]
fn a_new_api_plans_every_resource_and_detailed_exitcode_says_changes() {
    let stage = Stage::new();
    let spec = stage.spec(
        "api.yaml",
        &spec_yaml("chat", &["default", "rooms"], &["ci"]),
    );

    let plan = stage.run(&["plan", &spec, "--detailed-exitcode"]);
    plan.code(2).stdout_has(&[
        "Plan for API \"chat\" (not created yet) at http://127.0.0.1:",
        "Resource actions are indicated with the following symbols:\n  + create\n\n",
        "  # api will be created\n  + api \"chat\" {\n",
        "      + connectionAuthModes       = [\"API_KEY\"]\n",
        "  # namespace.default will be created\n  + namespace \"default\" {\n      + name = \"default\"\n    }\n",
        "  # key.ci will be created\n",
        "Plan: 4 to add, 0 to change, 0 to destroy.\n",
    ]);
    assert!(!plan.stdout.contains("~ update"), "{}", plan.stdout);
    // Nothing was created by planning.
    assert!(stage.apis().is_empty());
}

#[test]
fn after_apply_a_second_plan_is_empty_and_exits_zero() {
    let stage = Stage::new();
    let spec = stage.spec("api.yaml", &spec_yaml("chat", &["default"], &["ci"]));
    stage.run(&["apply", &spec, "--auto-approve"]).success();

    let id = stage.api_id("chat");
    stage
        .run(&["plan", &spec, "--detailed-exitcode"])
        .code(0)
        .stdout_has(&[
            &format!("Plan for API \"chat\" (id {id}) at http://127.0.0.1:"),
            "account 123456789012",
            "No changes. The API matches the spec.",
        ]);
    stage.assert_no_key_leaks();
}

/// The JSON plan, pinned by test-side types that reject unknown fields.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlanJson {
    format_version: String,
    kind: String,
    target: TargetJson,
    api: ApiJson,
    changes: Vec<ChangeJson>,
    notes: Vec<String>,
    summary: SummaryJson,
    basis: BasisJson,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TargetJson {
    endpoint: Option<String>,
    region: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ApiJson {
    name: String,
    id: Option<String>,
    arn: Option<String>,
    account: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangeJson {
    address: String,
    resource: String,
    name: String,
    action: String,
    reason: Option<String>,
    fields: Vec<FieldJson>,
    operation: serde_json::Value,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FieldJson {
    path: String,
    old: Option<serde_json::Value>,
    new: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
struct SummaryJson {
    add: usize,
    change: usize,
    destroy: usize,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BasisJson {
    fingerprint: String,
    code_read: Vec<String>,
    adopt: bool,
    planned_at: i64,
}

fn json_plan(stage: &Stage, args: &[&str]) -> PlanJson {
    let run = stage.run(args);
    run.success();
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}:\n{}", run.stdout))
}

#[test]
fn the_json_plan_is_the_same_plan_as_data() {
    let stage = Stage::new();
    let v1 = stage.spec("api.yaml", &spec_yaml("chat", &["default", "old"], &["ci"]));
    stage.run(&["apply", &v1, "--auto-approve"]).success();
    let id = stage.api_id("chat");

    let yaml = spec_yaml("chat", &["default"], &["ci"]).replace(
        "  name: chat\n",
        "  name: chat\n  ownerContact: platform-team\n",
    );
    let v2 = stage.spec("v2.yaml", &yaml);
    let plan = json_plan(&stage, &["plan", &v2, "-o", "json"]);
    assert_eq!(plan.format_version, "1.0");
    assert_eq!(plan.kind, "apply");
    assert_eq!(
        plan.target.endpoint.as_deref(),
        Some(stage.endpoint().as_str())
    );
    assert_eq!(plan.target.region, "us-east-1");
    assert_eq!(plan.api.name, "chat");
    assert_eq!(plan.api.id.as_deref(), Some(id.as_str()));
    assert!(plan.api.arn.as_deref().is_some_and(|a| a.ends_with(&id)));
    assert_eq!(plan.api.account.as_deref(), Some("123456789012"));
    assert_eq!(
        plan.summary,
        SummaryJson {
            add: 0,
            change: 1,
            destroy: 1
        }
    );
    let by_address: BTreeMap<&str, &ChangeJson> = plan
        .changes
        .iter()
        .map(|c| (c.address.as_str(), c))
        .collect();
    let api = by_address["api"];
    assert_eq!(
        (
            api.resource.as_str(),
            api.action.as_str(),
            api.name.as_str()
        ),
        ("api", "update", "chat")
    );
    assert_eq!(api.fields.len(), 1);
    assert_eq!(api.fields[0].path, "ownerContact");
    assert_eq!(api.fields[0].old, None);
    assert_eq!(api.fields[0].new, Some("platform-team".into()));
    assert_eq!(api.operation["type"], "update_api");
    let old = by_address["namespace.old"];
    assert_eq!(old.action, "delete");
    assert_eq!(old.reason.as_deref(), Some("not in the spec"));
    assert!(plan.notes.is_empty());
    assert_eq!(plan.basis.fingerprint.len(), 64);
    assert_eq!(plan.basis.code_read, ["default"]);
    assert!(!plan.basis.adopt);
    assert!(plan.basis.planned_at > 1_700_000_000);
}

#[test]
fn each_kind_of_field_change_shows_its_exact_diff_and_applies() {
    let stage = Stage::new();
    let v1 = "version: 1
api:
  name: chat
  ownerContact: team-a
  tags: {env: dev}
  authProviders:
    - authType: API_KEY
  connectionAuthModes: [API_KEY]
  defaultPublishAuthModes: [API_KEY]
  defaultSubscribeAuthModes: [API_KEY]
channelNamespaces:
  - name: rooms
    publishAuthModes: [API_KEY]
    codeHandlers: |
      export function onPublish(ctx) {
        return ctx.events;
      }
apiKeys:
  - name: ci
    description: for CI
    expires: 30d
";
    let v2 = "version: 1
api:
  name: chat
  ownerContact: team-b
  tags: {env: prod, team: x}
  authProviders:
    - authType: AWS_IAM
    - authType: API_KEY
  connectionAuthModes: [API_KEY]
  defaultPublishAuthModes: [API_KEY]
  defaultSubscribeAuthModes: [AWS_IAM, API_KEY]
channelNamespaces:
  - name: rooms
    publishAuthModes: [AWS_IAM]
    tags: {tier: gold}
    codeHandlers: |
      export function onPublish(ctx) {
        return ctx.events.filter((e) => e.payload !== null);
      }
apiKeys:
  - name: ci
    description: for the CI pipeline
    expires: 30d
";
    let first = stage.spec("v1.yaml", v1);
    stage.run(&["apply", &first, "--auto-approve"]).success();
    let second = stage.spec("v2.yaml", v2);

    let plan = stage.run(&["plan", &second, "--detailed-exitcode"]);
    plan.code(2).stdout_has(&[
        "  # api will be updated in place\n  ~ api \"chat\" {\n\
        \x20     ~ authProviders             = [\"API_KEY\"] -> [\"API_KEY\", \"AWS_IAM\"]\n\
        \x20     ~ defaultSubscribeAuthModes = [\"API_KEY\"] -> [\"API_KEY\", \"AWS_IAM\"]\n\
        \x20     ~ ownerContact              = \"team-a\" -> \"team-b\"\n\
        \x20     ~ tags[\"env\"]               = \"dev\" -> \"prod\"\n\
        \x20     + tags[\"team\"]              = \"x\"\n\
        \x20   }\n",
        "  # namespace.rooms will be updated in place\n  ~ namespace \"rooms\" {\n\
        \x20     ~ codeHandlers (unified diff):\n\
        \x20         --- old\n\
        \x20         +++ new\n\
        \x20         @@ -1,3 +1,3 @@\n\
        \x20          export function onPublish(ctx) {\n\
        \x20         -  return ctx.events;\n\
        \x20         +  return ctx.events.filter((e) => e.payload !== null);\n\
        \x20          }\n\
        \x20     ~ publishAuthModes = [\"API_KEY\"] -> [\"AWS_IAM\"]\n\
        \x20     + tags[\"tier\"]     = \"gold\"\n\
        \x20   }\n",
        "  # key.ci will be updated in place\n  ~ key \"ci\" {\n\
        \x20     ~ description = \"for CI\" -> \"for the CI pipeline\"\n\
        \x20   }\n",
        "Plan: 0 to add, 3 to change, 0 to destroy.\n",
    ]);

    stage
        .run(&["apply", &second, "--auto-approve"])
        .success()
        .stdout_has(&["Apply complete! Resources: 0 added, 3 changed, 0 destroyed."]);
    stage
        .run(&["plan", &second, "--detailed-exitcode"])
        .code(0)
        .stdout_has(&["No changes."]);
    // Going back is a change again, and converges too.
    stage.run(&["apply", &first, "--auto-approve"]).success();
    stage.run(&["plan", &first, "--detailed-exitcode"]).code(0);
    stage.assert_no_key_leaks();
}

#[test]
fn line_endings_and_trailing_newlines_in_handler_code_do_not_churn() {
    let stage = Stage::new();
    let code = "export function onPublish(ctx) {\n  return ctx.events;\n}\n";
    let spec = |file: &str| {
        spec_yaml("chat", &[], &[])
            + &format!("channelNamespaces:\n  - name: rooms\n    codeHandlers: {{file: {file}}}\n")
    };
    std::fs::write(stage.path("lf.js"), code).expect("write");
    std::fs::write(
        stage.path("crlf.js"),
        code.replace('\n', "\r\n") + "\r\n\r\n",
    )
    .expect("write");
    let lf = stage.spec("lf.yaml", &spec("lf.js"));
    let crlf = stage.spec("crlf.yaml", &spec("crlf.js"));
    stage.run(&["apply", &lf, "--auto-approve"]).success();
    stage
        .run(&["plan", &crlf, "--detailed-exitcode"])
        .code(0)
        .stdout_has(&["No changes."]);
}

#[test]
fn a_same_name_api_that_evctl_did_not_create_is_refused_then_adopted() {
    let stage = Stage::new();
    let id = stage.create_api("chat", false);
    let spec = stage.spec("api.yaml", &spec_yaml("chat", &["default"], &[]));

    let refusal = format!("an API named \"chat\" exists ({id}) but evctl did not create it");
    stage
        .run(&["plan", &spec])
        .code(1)
        .stderr_has(&[&refusal, "--adopt"]);
    stage
        .run(&["apply", &spec, "--auto-approve"])
        .code(1)
        .stderr_has(&[&refusal]);
    stage
        .run(&["plan", &spec, "--adopt"])
        .success()
        .stdout_has(&[
            "  # api will be updated in place (adopted: evctl did not create this API; --adopt takes it over)\n",
            "      + tags[\"evctl:managed-by\"] = \"evctl\"\n",
            "  # namespace.default will be created\n",
        ]);
    stage
        .run(&["apply", &spec, "--adopt", "--auto-approve"])
        .success();
    // Owned now: plain runs find it, and there is still exactly one API.
    stage.run(&["plan", &spec, "--detailed-exitcode"]).code(0);
    assert_eq!(stage.api_id("chat"), id);
}

#[test]
fn two_owned_apis_with_one_name_are_an_error_that_lists_their_ids() {
    let stage = Stage::new();
    let ids = [
        stage.create_api("chat", true),
        stage.create_api("chat", true),
    ];
    let spec = stage.spec("api.yaml", &spec_yaml("chat", &[], &[]));
    let run = stage.run(&["plan", &spec]);
    run.code(1)
        .stderr_has(&[&ids[0], &ids[1], "2 APIs named \"chat\""]);
}

#[test]
fn a_saved_plan_is_applied_exactly_and_refused_once_the_live_state_moved() {
    let stage = Stage::new();
    let spec = stage.spec("api.yaml", &spec_yaml("chat", &["default"], &["ci"]));
    let saved = stage.path("create.json").to_string_lossy().into_owned();
    stage
        .run(&["plan", &spec, "--out", &saved])
        .success()
        .stderr_has(&["Saved the plan to"]);
    // A saved plan needs no confirmation and no spec; it does exactly what it showed.
    stage
        .run(&["apply", &saved])
        .success()
        .stdout_has(&["Apply complete! Resources: 3 added, 0 changed, 0 destroyed."]);
    let file = std::fs::read_to_string(&saved).expect("read plan");
    for (value, _, _) in stage.keys(&stage.api_id("chat")) {
        assert!(!file.contains(&value), "the saved plan holds a key value");
    }

    let changed = stage.spec("v2.yaml", &spec_yaml("chat", &["default", "more"], &["ci"]));
    let stale = stage.path("stale.json").to_string_lossy().into_owned();
    stage.run(&["plan", &changed, "--out", &stale]).success();
    // Someone changes the API in between.
    let other = stage.spec(
        "other.yaml",
        &spec_yaml("chat", &["default", "other"], &["ci"]),
    );
    stage.run(&["apply", &other, "--auto-approve"]).success();
    stage
        .run(&["apply", &stale])
        .code(1)
        .stderr_has(&["has changed since the plan was made", "evctl plan"]);
    assert_eq!(
        stage.namespaces(&stage.api_id("chat")),
        ["default", "other"]
    );

    // Given where a spec belongs, a saved plan is recognised and the way to apply it named.
    stage
        .run(&["plan", &stale])
        .code(1)
        .stderr_has(&["is a plan saved with `evctl plan --out`, not a spec"]);

    // A saved plan made against another endpoint is refused too.
    let elsewhere = Stage::new();
    elsewhere
        .run(&["apply", &saved])
        .code(1)
        .stderr_has(&["the plan was made for"]);
    assert!(elsewhere.apis().is_empty());
    stage.assert_no_key_leaks();
}
