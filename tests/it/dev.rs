//! `evctl dev`: the embedded emulator, apply, smoke test and watch, through the real binary.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::support::{evctl, write};

fn template(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("templates")
        .join(name)
}

/// `evctl dev SPEC --once` on a free port, without any AWS configuration: dev brings its own.
fn dev_once(spec: &Path) -> assert_cmd::Command {
    let mut cmd = evctl();
    cmd.arg("dev")
        .arg(spec)
        .args(["--once", "--listen", "127.0.0.1:0"])
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_REGION");
    cmd
}

fn stdout(out: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&out.get_output().stdout).into_owned()
}

fn stderr(out: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&out.get_output().stderr).into_owned()
}

#[test]
fn dev_once_applies_the_minimal_template_and_passes_the_smoke_test() {
    let out = dev_once(&template("minimal.yaml")).assert().success();
    let (stdout, stderr) = (stdout(&out), stderr(&out));
    assert!(
        stdout.contains("Apply complete! Resources: 3 added, 0 changed, 0 destroyed."),
        "{stdout}"
    );
    assert!(
        stdout.contains("Smoke test passed: 4 passed, 0 failed, 0 skipped"),
        "{stdout}"
    );
    assert!(
        stderr.contains("Plan: 3 to add, 0 to change, 0 to destroy."),
        "{stderr}"
    );
    assert!(stderr.contains("evctl dev: done (--once)"), "{stderr}");
}

#[test]
fn dev_once_exercises_every_auth_mode_of_the_multi_auth_template() {
    let out = dev_once(&template("multi-auth.yaml")).assert().success();
    let stdout = stdout(&out);
    for (namespace, mode) in [
        ("public", "API_KEY"),
        ("public", "AWS_IAM"),
        ("users", "AMAZON_COGNITO_USER_POOLS"),
        ("partners", "OPENID_CONNECT"),
        ("devices", "AWS_LAMBDA"),
        ("internal", "AWS_IAM"),
    ] {
        for path in [" HTTP ", " WS "] {
            assert!(
                stdout.lines().any(|l| l.trim_start().starts_with(namespace)
                    && l.contains(path)
                    && l.contains(mode)
                    && l.ends_with(" pass")),
                "no passing {namespace}{path}{mode} row:\n{stdout}"
            );
        }
    }
    assert!(stdout.contains(" 0 failed, 0 skipped"), "{stdout}");
}

#[test]
fn dev_once_exits_1_when_the_smoke_test_fails() {
    // A token of the user's (here one the API refuses) replaces the minted one.
    let out = dev_once(&template("multi-auth.yaml"))
        .env("EVCTL_OIDC_TOKEN", "not-a-token-the-api-accepts")
        .assert()
        .code(1);
    let stdout = stdout(&out);
    let partners: Vec<&str> = stdout
        .lines()
        .filter(|l| l.trim_start().starts_with("partners") && l.contains("OPENID_CONNECT"))
        .collect();
    assert_eq!(partners.len(), 2, "{stdout}");
    for line in partners {
        assert!(
            line.contains("FAIL: connect with OPENID_CONNECT: UnauthorizedException"),
            "{line}"
        );
    }
    assert!(stdout.contains("Smoke test FAILED"), "{stdout}");
}

#[test]
fn a_busy_address_is_a_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("address").to_string();
    evctl()
        .arg("dev")
        .arg(template("minimal.yaml"))
        .args(["--once", "--listen", &addr])
        .assert()
        .code(1)
        .stderr(predicates::str::contains(format!(
            "could not start the emulator on {addr}"
        )))
        .stderr(predicates::str::contains("--listen"));
}

/// A running `evctl dev` whose output is read line by line. stdout and stderr are read by
/// separate threads, so their relative order is not known: each is searched on its own.
struct Running {
    child: Child,
    lines: mpsc::Receiver<(Stream, String)>,
    seen: Vec<(Stream, String)>,
    /// Per stream, where the next search starts.
    cursor: [usize; 2],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stream {
    Stdout = 0,
    Stderr = 1,
}

impl Running {
    fn spawn(spec: &Path, args: &[&str]) -> Running {
        let mut child = Command::new(env!("CARGO_BIN_EXE_evctl"))
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", std::env::temp_dir())
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .env("NO_COLOR", "1")
            .arg("dev")
            .arg(spec)
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn evctl dev");
        let (tx, lines) = mpsc::channel();
        for (stream, pipe) in [
            (
                Stream::Stdout,
                Box::new(child.stdout.take().expect("stdout")) as Box<dyn std::io::Read + Send>,
            ),
            (
                Stream::Stderr,
                Box::new(child.stderr.take().expect("stderr")),
            ),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines() {
                    let Ok(line) = line else { break };
                    if tx.send((stream, line)).is_err() {
                        break;
                    }
                }
            });
        }
        Running {
            child,
            lines,
            seen: Vec::new(),
            cursor: [0, 0],
        }
    }

    fn transcript(&self) -> String {
        self.seen
            .iter()
            .map(|(s, l)| format!("{s:?}: {l}\n"))
            .collect()
    }

    /// The next line of `stream` (after the last one found there) that satisfies `wanted`;
    /// panics with the output if the process ends first (or after a generous minute).
    fn wait_for(&mut self, stream: Stream, what: &str, wanted: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut next = self.cursor[stream as usize];
        loop {
            while next < self.seen.len() {
                let (s, line) = &self.seen[next];
                next += 1;
                if *s == stream && wanted(line) {
                    self.cursor[stream as usize] = next;
                    return line.clone();
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(_) => panic!(
                    "evctl dev never printed {what} on {stream:?}; output:\n{}",
                    self.transcript()
                ),
            }
        }
    }

    /// Sends SIGTERM and returns the exit code and everything printed.
    fn terminate(mut self) -> (Option<i32>, String) {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(sent.success());
        let status = self.child.wait().expect("wait for evctl dev");
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
            self.seen.push(line);
        }
        (status.code(), self.transcript())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[test]
fn dev_serves_prints_snippets_and_reapplies_the_spec_on_save() {
    let dir = tempfile::tempdir().expect("temp dir");
    let minimal = std::fs::read_to_string(template("minimal.yaml")).expect("template");
    let spec = write(dir.path(), "api.yaml", &minimal);
    let mut dev = Running::spawn(&spec, &["--var", "STAGE=pr-7"]);
    dev.wait_for(Stream::Stdout, "the first verdict", |l| {
        l.starts_with("Smoke test passed: 4 passed") && l.contains("against evctl-minimal-pr-7 ")
    });
    let curl = dev.wait_for(Stream::Stdout, "a curl snippet", |l| {
        l.contains("curl -s http://127.0.0.1:")
    });
    assert!(curl.contains("-H 'x-api-key: da2-"), "{curl}");
    dev.wait_for(Stream::Stdout, "the JavaScript snippet", |l| {
        l.contains("new WebSocket('ws://127.0.0.1:")
    });
    dev.wait_for(Stream::Stderr, "that it watches", |l| {
        l.starts_with("evctl dev: watching the spec")
    });

    let grown = minimal
        .replace(
            "  - name: default\n",
            "  - name: default\n  - name: orders\n",
        )
        .replace(
            "channels: [/default/smoke]",
            "channels: [/default/smoke, /orders/smoke]",
        );
    std::fs::write(&spec, grown).expect("save the spec");
    dev.wait_for(Stream::Stderr, "the re-plan", |l| {
        l.contains("# namespace.orders will be created")
    });
    // The same API (the --var still applies): only the new namespace is planned.
    dev.wait_for(Stream::Stdout, "the second verdict", |l| {
        l.starts_with("Smoke test passed: 8 passed, 0 failed")
            && l.contains("against evctl-minimal-pr-7 ")
    });

    std::fs::write(&spec, "version: 1\napi: {name: [broken\n").expect("save a broken spec");
    dev.wait_for(Stream::Stderr, "the spec error", |l| {
        l.starts_with("error: invalid spec")
    });
    dev.wait_for(Stream::Stderr, "that it keeps serving", |l| {
        l.contains("still serving the last good one")
    });

    let (code, transcript) = dev.terminate();
    assert_eq!(code, Some(130), "{transcript}");
    assert!(
        transcript.contains("evctl dev: stopping the emulator"),
        "{transcript}"
    );
}

#[test]
fn dev_once_with_tls_serves_https_and_wss() {
    let out = dev_once(&template("minimal.yaml"))
        .arg("--tls")
        .assert()
        .success();
    let (stdout, stderr) = (stdout(&out), stderr(&out));
    assert!(stdout.contains("Smoke test passed: 4 passed"), "{stdout}");
    assert!(
        stderr.contains("evctl dev: emulator on https://127.0.0.1:"),
        "{stderr}"
    );
    assert!(
        stderr.contains("at https://127.0.0.1:") && stderr.contains(" and wss://127.0.0.1:"),
        "{stderr}"
    );
}

#[test]
fn trace_logs_of_both_ends_never_show_key_values() {
    // dev is the smoke client and the emulator in one process: at RUST_LOG=trace both ends'
    // WebSocket libraries would log handshakes (the `header-` subprotocol) and frames (a
    // subscribe's `authorization`), which carry the key.
    let out = dev_once(&template("minimal.yaml"))
        .env("RUST_LOG", "trace")
        .assert()
        .success();
    let (stdout, stderr) = (stdout(&out), stderr(&out));
    assert!(
        stderr.contains("TRACE") && stderr.len() > 10_000,
        "RUST_LOG=trace should log a lot:\n{stderr}"
    );
    let key = regex_lite::Regex::new("da2-[a-z0-9]{26}").expect("regex");
    for (stream, text) in [("stdout", &stdout), ("stderr", &stderr)] {
        let leaked: Vec<&str> = key.find_iter(text).map(|m| m.as_str()).collect();
        assert!(leaked.is_empty(), "{stream} shows key values {leaked:?}");
    }
    use base64::Engine as _;
    for encoded in stderr.split("header-").skip(1) {
        let token: String = encoded
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect();
        let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token.as_bytes())
            .unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&decoded).contains("da2-"),
            "stderr shows a key in an encoded header: {token}"
        );
    }
}
