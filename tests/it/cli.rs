//! The command line itself: help, version, unknown commands.

use crate::support::evctl;

/// Runs `cmd`, expects exit code 1 and returns its stderr.
fn fails(cmd: &mut assert_cmd::Command) -> String {
    let out = cmd.assert().code(1);
    String::from_utf8_lossy(&out.get_output().stderr).into_owned()
}

#[test]
fn help_lists_every_command_with_an_example() {
    let out = evctl()
        .arg("--help")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let help = String::from_utf8(out).expect("utf-8 help");
    for cmd in [
        "validate", "init", "schema", "plan", "apply", "destroy", "outputs", "smoke", "emulator",
        "dev", "list", "gc", "keys",
    ] {
        assert!(
            help.contains(&format!("  {cmd} ")),
            "help does not list {cmd}:\n{help}"
        );
    }
    assert!(help.contains("Exit codes"));
}

#[test]
fn an_unknown_command_is_a_usage_error() {
    evctl().arg("frobnicate").assert().failure().code(1);
}

/// A spec with one unknown field: `validate` prints an `error:` line, coloured when it may be.
fn invalid_spec(dir: &std::path::Path) -> std::path::PathBuf {
    crate::support::write(dir, "bad.yaml", "version: 1\napi:\n  name: x\n  bogus: 1\n")
}

#[test]
fn stderr_redirected_to_a_file_gets_no_colours_even_when_stdout_is_a_terminal() {
    let dir = tempfile::tempdir().expect("temp dir");
    let spec = invalid_spec(dir.path());
    let log = dir.path().join("stderr.log");
    // stdout on a pseudo-terminal (util-linux `script`), stderr into a file, NO_COLOR unset.
    let line = format!(
        "'{}' validate '{}' 2>'{}'",
        env!("CARGO_BIN_EXE_evctl"),
        spec.display(),
        log.display()
    );
    let status = std::process::Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("TERM", "xterm")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .status()
        .expect("util-linux `script` runs the command on a pseudo-terminal");
    assert_eq!(status.code(), Some(1));
    let stderr = std::fs::read_to_string(&log).expect("stderr log");
    assert!(stderr.contains("error:"), "{stderr}");
    assert!(
        !stderr.contains('\x1b'),
        "escape codes in a file: {stderr:?}"
    );
}

#[test]
fn logs_have_no_colours_with_no_color_or_in_a_pipe() {
    // -vv logs the AWS configuration chain; the request fails at once (nothing listens).
    for extra in [&["--no-color"][..], &[]] {
        let stderr = fails(
            evctl()
                .env_remove("NO_COLOR")
                .env("EVCTL_MAX_ATTEMPTS", "1")
                .args(["-vv", "list", "--endpoint-url", "http://127.0.0.1:9"])
                .args(extra),
        );
        assert!(stderr.contains("DEBUG"), "{stderr}");
        assert!(!stderr.contains('\x1b'), "escape codes: {stderr:?}");
    }
}

#[test]
fn an_output_format_a_command_cannot_print_is_refused_before_it_runs() {
    for (args, format, prints) in [
        (&["plan", "api.yaml"][..], "junit", "text, json, markdown"),
        (
            &["apply", "api.yaml", "--auto-approve"],
            "markdown",
            "text, json",
        ),
        (&["list"], "markdown", "text, json"),
        (&["validate", "api.yaml"], "junit", "text, json"),
        (&["outputs", "api.yaml"], "markdown", "text, json"),
        (&["init", "--list"], "junit", "text, json"),
        (&["dev", "api.yaml", "--once"], "json", "text;"),
    ] {
        let out = evctl()
            .args(["--output", format])
            .args(args)
            .assert()
            .code(1);
        let out = out.get_output();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(&format!(
                "`evctl {}` cannot print --output {format}: it prints {prints}",
                args[0]
            )),
            "{args:?} -o {format}: {stderr}"
        );
        assert!(out.stdout.is_empty(), "{args:?} -o {format}");
    }
}

#[test]
fn outputs_refuses_two_formats_at_once() {
    let stderr = fails(evctl().args(["-o", "json", "outputs", "api.yaml", "--format", "env"]));
    assert!(
        stderr.contains("--output json and --format env ask for two formats"),
        "{stderr}"
    );
}

#[test]
fn init_prints_one_json_document_with_output_json() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = evctl()
        .current_dir(dir.path())
        .args(["-o", "json", "init", "--template", "chat", "api.yaml"])
        .assert()
        .success();
    let doc: serde_json::Value =
        serde_json::from_slice(&out.get_output().stdout).expect("one JSON document");
    assert_eq!(doc["template"], "chat");
    assert_eq!(doc["spec"], "api.yaml");
    assert_eq!(
        doc["files"],
        serde_json::json!(["api.yaml", "handlers/chat.js", "evctl.schema.json"])
    );
    let files: Vec<&str> = doc["files"]
        .as_array()
        .expect("files")
        .iter()
        .filter_map(|f| f.as_str())
        .collect();
    assert_eq!(files.len(), 3, "{files:?}");
    for file in files {
        assert!(dir.path().join(file).is_file(), "{file} was not written");
    }

    let out = evctl()
        .args(["-o", "json", "init", "--list"])
        .assert()
        .success();
    let doc: serde_json::Value =
        serde_json::from_slice(&out.get_output().stdout).expect("one JSON document");
    let names: Vec<&str> = doc["templates"]
        .as_array()
        .expect("templates")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(names, ["minimal", "chat", "multi-auth"]);
}

fn minimal_template() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/minimal.yaml")
}

/// An `http://` endpoint on loopback where nothing listens (a port just freed).
fn nothing_listening() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    format!("http://127.0.0.1:{port}")
}

/// `evctl plan` on the minimal template against `endpoint`, one attempt per request.
fn plan_against(endpoint: &str) -> String {
    fails(
        evctl()
            .env("EVCTL_MAX_ATTEMPTS", "1")
            .arg("plan")
            .arg(minimal_template())
            .args(["--endpoint-url", endpoint]),
    )
}

#[test]
fn attempts_that_get_no_answer_are_reported_while_the_sdk_retries() {
    // Nothing listening: without a line per failed attempt, the retries' backoff looks like a
    // hang before the error.
    let endpoint = nothing_listening();
    let plan = |global: &[&str]| {
        fails(
            evctl()
                .env("EVCTL_MAX_ATTEMPTS", "3")
                .env("EVCTL_RETRY_INITIAL_BACKOFF", "10ms")
                .args(global)
                .arg("plan")
                .arg(minimal_template())
                .args(["--endpoint-url", &endpoint]),
        )
    };
    let stderr = plan(&[]);
    for attempt in [1, 2] {
        assert!(
            stderr.contains(&format!(
                "ListApis: attempt {attempt} of 3 got no answer: Connection refused"
            )),
            "{stderr}"
        );
    }
    // The last attempt's failure is the error itself, said once.
    assert!(!stderr.contains("attempt 3 of 3"), "{stderr}");
    assert!(
        stderr.contains("nothing accepts connections there"),
        "{stderr}"
    );
    // -q keeps stderr to the error.
    let quiet = plan(&["-q"]);
    assert!(!quiet.contains("attempt 1"), "{quiet}");
}

#[test]
fn a_wrong_endpoint_is_named_with_what_to_check() {
    // Nothing listening.
    let endpoint = nothing_listening();
    let stderr = plan_against(&endpoint);
    assert!(
        stderr.contains(&format!("could not list the Event APIs at {endpoint}"))
            && stderr.contains("nothing accepts connections there"),
        "{stderr}"
    );

    // A web server that is not AppSync: a bare 404.
    let server = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let endpoint = format!("http://{}", server.local_addr().expect("addr"));
    std::thread::spawn(move || {
        for stream in server.incoming().flatten() {
            let mut stream = stream;
            let mut buf = [0u8; 4096];
            let _ = std::io::Read::read(&mut stream, &mut buf);
            let _ = std::io::Write::write_all(
                &mut stream,
                b"HTTP/1.1 404 Not Found\r\ncontent-length: 9\r\nconnection: close\r\n\r\nnot here\n",
            );
        }
    });
    let stderr = plan_against(&endpoint);
    assert!(
        stderr.contains("HTTP 404 without an AWS error type: the endpoint does not look like the AppSync control plane"),
        "{stderr}"
    );

    // Not a URL at all: refused before any request, naming the setting.
    let stderr = plan_against("localhost:4510");
    assert!(
        stderr.contains("--endpoint-url \"localhost:4510\" is not an http:// or https:// URL"),
        "{stderr}"
    );
    let out = evctl()
        .env("AWS_ENDPOINT_URL_APPSYNC", "127.0.0.1:4510")
        .arg("list")
        .assert()
        .code(1);
    assert!(
        String::from_utf8_lossy(&out.get_output().stderr)
            .contains("AWS_ENDPOINT_URL_APPSYNC \"127.0.0.1:4510\" is not an http://"),
    );
}

#[test]
fn apply_reports_an_invalid_spec_before_looking_for_aws_configuration() {
    let dir = tempfile::tempdir().expect("temp dir");
    let spec = invalid_spec(dir.path());
    let stderr = fails(
        evctl()
            .env_remove("AWS_REGION")
            .arg("apply")
            .arg(&spec)
            .arg("--auto-approve"),
    );
    assert!(
        stderr.contains("unknown field `bogus`") && !stderr.contains("no AWS region"),
        "{stderr}"
    );
}

#[test]
fn without_a_region_the_error_says_what_to_do_and_nothing_else() {
    // Instance metadata is looked for on loopback, where nothing answers (offline).
    let stderr = fails(
        evctl()
            .env_remove("AWS_REGION")
            .env_remove("AWS_EC2_METADATA_DISABLED")
            .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:9")
            .arg("plan")
            .arg(minimal_template()),
    );
    assert_eq!(
        stderr,
        "error: no AWS region: pass --region or set AWS_REGION (or a region in the profile)\n"
    );
}

#[test]
fn sigterm_interrupts_every_command_with_130() {
    // Every call takes 10 s, so each command is waiting on the control plane when stopped.
    let emulator = crate::support::EmulatorProcess::spawn(&["--latency", "10s", "-q"]);
    let spec = minimal_template();
    let spec = spec.to_str().expect("utf-8 path");
    let commands: [&[&str]; 6] = [
        &["plan", spec],
        &["smoke", spec],
        &["outputs", spec],
        &["keys", spec],
        &["list"],
        &["gc", "-l", "a=b", "--dry-run"],
    ];
    let children: Vec<(&[&str], std::process::Child)> = commands
        .iter()
        .map(|args| {
            let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_evctl"));
            cmd.env_clear()
                .env("PATH", std::env::var_os("PATH").unwrap_or_default())
                .envs(crate::support::CLEAN_ENV.iter().copied())
                .args(*args)
                .args(["--endpoint-url", emulator.endpoint()])
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped());
            (*args, cmd.spawn().expect("spawn evctl"))
        })
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    for (args, child) in children {
        std::process::Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("kill -TERM");
        let out = child.wait_with_output().expect("wait");
        assert_eq!(
            out.status.code(),
            Some(130),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn outputs_for_github_without_github_output_fails_before_doing_anything() {
    // No spec file and no control plane: the missing output file is the first thing said.
    let stderr = fails(
        evctl()
            .args(["outputs", "missing.yaml", "--format", "github"])
            .args(["--endpoint-url", "http://127.0.0.1:9"]),
    );
    assert!(
        stderr.starts_with("error: GITHUB_OUTPUT is not set") && !stderr.contains("::add-mask::"),
        "{stderr}"
    );
}
