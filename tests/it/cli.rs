//! The command line itself: help, version, unknown commands.

use crate::support::evctl;

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
        let out = evctl()
            .env_remove("NO_COLOR")
            .env("EVCTL_MAX_ATTEMPTS", "1")
            .args(["-vv", "list", "--endpoint-url", "http://127.0.0.1:9"])
            .args(extra)
            .assert()
            .code(1);
        let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
        assert!(stderr.contains("DEBUG"), "{stderr}");
        assert!(!stderr.contains('\x1b'), "escape codes: {stderr:?}");
    }
}
