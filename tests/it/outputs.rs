//! `evctl outputs` against the emulator, in every format: the one place key values appear.

use crate::plan_support::{Stage, spec_yaml};

fn applied() -> (Stage, String, String, String) {
    let stage = Stage::new();
    let spec = stage.spec("api.yaml", &spec_yaml("chat", &["default"], &["ci-bot"]));
    stage.run(&["apply", &spec, "--auto-approve"]).success();
    let id = stage.api_id("chat");
    let key = stage.keys(&id).remove(0).0;
    (stage, spec, id, key)
}

#[test]
fn text_and_json_name_everything_a_client_needs() {
    let (stage, spec, id, key) = applied();
    let text = stage.run(&["outputs", &spec]);
    text.success().stdout_has(&[
        &format!("api_id                 = {id}\n"),
        &format!("api_arn                = arn:aws:appsync:us-east-1:123456789012:apis/{id}\n"),
        "http_url               = http://127.0.0.1:",
        "/event\n",
        "realtime_url           = ws://127.0.0.1:",
        "/event/realtime\n",
        &format!("api_key.ci-bot         = {key}\n"),
        "api_key.ci-bot_expires = 20",
    ]);

    let json = stage.run(&["outputs", &spec, "--format", "json"]);
    json.success();
    let v: serde_json::Value = serde_json::from_str(&json.stdout).expect("json");
    assert_eq!(v["api_id"], id.as_str());
    assert_eq!(v["format_version"], "1.0");
    assert_eq!(v["api_name"], "chat");
    let http = v["http_host"].as_str().expect("http_host");
    assert!(http.starts_with("127.0.0.1:"), "{http}");
    assert_eq!(v["http_url"], format!("http://{http}/event").as_str());
    assert_eq!(
        v["realtime_url"],
        format!(
            "ws://{}/event/realtime",
            v["realtime_host"].as_str().unwrap_or("")
        )
        .as_str()
    );
    assert_eq!(v["keys"][0]["name"], "ci-bot");
    assert_eq!(v["keys"][0]["value"], key.as_str());
    // -o json means the same.
    let global = stage.run(&["-o", "json", "outputs", &spec]);
    assert_eq!(global.stdout, json.stdout);
}

#[test]
fn env_lines_can_be_sourced_by_a_shell() {
    let (stage, spec, id, key) = applied();
    let env = stage.run(&["outputs", &spec, "--format", "env"]);
    env.success();
    let file = stage.path("outputs.env");
    std::fs::write(&file, &env.stdout).expect("write env");
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            ". '{}' && printf '%s|%s|%s' \"$EVCTL_API_ID\" \"$EVCTL_API_KEY_CI_BOT\" \"$EVCTL_REALTIME_URL\"",
            file.display()
        ))
        .output()
        .expect("sh");
    let got = String::from_utf8_lossy(&out.stdout);
    let parts: Vec<&str> = got.split('|').collect();
    assert_eq!(parts[0], id);
    assert_eq!(parts[1], key);
    assert!(parts[2].starts_with("ws://127.0.0.1:"), "{got}");
}

#[test]
fn github_appends_outputs_and_masks_every_key_value_first() {
    let (stage, spec, id, key) = applied();
    let github_output = stage.path("github_output");
    std::fs::write(&github_output, "earlier=kept\n").expect("write");
    let mut cmd = stage.cmd(&["outputs", &spec, "--format", "github"]);
    cmd.env("GITHUB_OUTPUT", &github_output);
    let run = stage.run_cmd(&["outputs"], cmd);
    run.success();
    // Workflow commands go to stderr (the runner reads both streams); the mask comes before
    // anything else could show the value.
    assert!(
        run.stderr.starts_with(&format!("::add-mask::{key}\n")),
        "{}",
        run.stderr
    );
    assert_eq!(
        run.stderr.matches(key.as_str()).count(),
        1,
        "{}",
        run.stderr
    );
    assert!(!run.stdout.contains(&key), "{}", run.stdout);
    let written = std::fs::read_to_string(&github_output).expect("read");
    assert!(written.starts_with("earlier=kept\n"), "{written}");
    assert!(written.contains(&format!("api_id={id}\n")), "{written}");
    assert!(
        written.contains(&format!("api_key_ci_bot={key}\n")),
        "{written}"
    );

    // Without $GITHUB_OUTPUT it says what is missing.
    stage
        .run(&["outputs", &spec, "--format", "github"])
        .code(1)
        .stderr_has(&["GITHUB_OUTPUT"]);
}

#[test]
fn outputs_of_an_api_that_does_not_exist_is_an_error() {
    let stage = Stage::new();
    let spec = stage.spec("api.yaml", &spec_yaml("chat", &[], &["ci"]));
    stage
        .run(&["outputs", &spec])
        .code(1)
        .stderr_has(&["there is no evctl-owned API named \"chat\"", "evctl apply"]);
}
