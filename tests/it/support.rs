//! Test helpers shared by every module: a story-like runner for the `evctl` binary with a clean,
//! explicit environment, and the emulator in its two forms with a real `aws-sdk-appsync`
//! client pointed at it.
//!
//! - [`evctl`]: the binary as an `assert_cmd::Command` (fake credentials, no AWS config).
//! - [`EmulatorProcess::spawn`]: the real `evctl emulator` on a free port; its endpoint is read
//!   from the first line it prints; [`EmulatorProcess::terminate`] sends SIGTERM and returns
//!   the exit status and stderr. Dropping it kills the process.
//! - [`start_emulator`] / [`start_emulator_with`]: the emulator in-process (quiet, in memory,
//!   on a free port), returning its `Handle` (`endpoint()`, `state()`, `shutdown()`).
//! - [`sdk_client`]: an AppSync client for an endpoint, with test credentials, region
//!   us-east-1 and retries off (so errors surface at once); [`sdk_config`] to adjust it.
//! - [`emulator_stats`]: `GET /_emulator/stats`, to count the calls a command made.
//! - [`event_config`]: a minimal API_KEY-only `EventConfig`.

#![allow(dead_code)]

use std::io::{BufRead as _, BufReader, Read as _};
use std::path::Path;
use std::process::{Child, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_appsync::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_appsync::types::{AuthMode, AuthProvider, AuthenticationType, EventConfig};

/// The environment every child process gets: fake credentials, no profile files, no instance
/// metadata, no colours (plus PATH and HOME).
pub const CLEAN_ENV: &[(&str, &str)] = &[
    ("AWS_ACCESS_KEY_ID", "test"),
    ("AWS_SECRET_ACCESS_KEY", "test"),
    ("AWS_REGION", "us-east-1"),
    ("AWS_EC2_METADATA_DISABLED", "true"),
    ("AWS_CONFIG_FILE", "/dev/null"),
    ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null"),
    ("NO_COLOR", "1"),
];

/// The `evctl` binary with an environment that never reaches real AWS. Tests add what they
/// need with `.env(..)`.
pub fn evctl() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::new(env!("CARGO_BIN_EXE_evctl"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", std::env::temp_dir())
        .envs(CLEAN_ENV.iter().copied());
    cmd
}

/// Writes `contents` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, contents: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("create parent dir");
    }
    std::fs::write(&path, contents).expect("write file");
    path
}

/// A free loopback port below the OS's ephemeral range (which starts at 32768 on Linux), so
/// that no `127.0.0.1:0` listener of a concurrently running test can be handed it. For tests
/// that need a fixed port to stay free (`--data-plane-ports P-P` across a restart).
pub fn free_port_outside_ephemeral_range() -> u16 {
    let seed = std::process::id() as u64
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos() as u64);
    let span = 10_000u64;
    for i in 0..span {
        let port = 20_000 + ((seed + i) % span) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port in 20000-29999");
}

/// How long a spawned emulator may take to print its endpoint or to stop.
const PROCESS_TIMEOUT: Duration = Duration::from_secs(30);

/// A running `evctl emulator` process.
pub struct EmulatorProcess {
    child: Child,
    endpoint: String,
    stderr: Arc<Mutex<String>>,
    /// Reads stderr until the process closes it.
    stderr_reader: Option<std::thread::JoinHandle<()>>,
}

/// How an emulator process ended.
#[derive(Debug)]
pub struct Exited {
    pub status: ExitStatus,
    pub stderr: String,
}

impl EmulatorProcess {
    /// Runs `evctl emulator ARGS` (with `--listen 127.0.0.1:0` unless ARGS has `--listen`) and
    /// waits for the endpoint it prints. Panics with its stderr if it exits first.
    pub fn spawn(args: &[&str]) -> EmulatorProcess {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_evctl"));
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", std::env::temp_dir())
            .envs(CLEAN_ENV.iter().copied())
            .arg("emulator")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if !args.contains(&"--listen") {
            cmd.args(["--listen", "127.0.0.1:0"]);
        }
        let mut child = cmd.spawn().expect("spawn evctl emulator");
        let stderr = Arc::new(Mutex::new(String::new()));
        let stderr_reader = child.stderr.take().map(|mut pipe| {
            let sink = Arc::clone(&stderr);
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = pipe.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                    sink.lock().expect("stderr lock").push_str(&text);
                }
            })
        });
        let (tx, rx) = mpsc::channel();
        if let Some(pipe) = child.stdout.take() {
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines() {
                    let Ok(line) = line else { break };
                    let _ = tx.send(line);
                }
            });
        }
        let endpoint = match rx.recv_timeout(PROCESS_TIMEOUT) {
            Ok(line) => line.trim().to_string(),
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                if let Some(reader) = stderr_reader {
                    let _ = reader.join();
                }
                panic!(
                    "evctl emulator printed no endpoint; stderr:\n{}",
                    stderr.lock().expect("stderr lock")
                );
            }
        };
        assert!(
            endpoint.starts_with("http://") || endpoint.starts_with("https://"),
            "unexpected first line: {endpoint}"
        );
        EmulatorProcess {
            child,
            endpoint,
            stderr,
            stderr_reader,
        }
    }

    /// The control-plane endpoint it printed, e.g. `http://127.0.0.1:41234`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What it has written to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().expect("stderr lock").clone()
    }

    /// Waits until the emulator's stderr contains `needle` and returns it all. The endpoint on
    /// stdout can arrive before the reader thread has drained the stderr pipe, so a test that
    /// looks for a line printed at start-up waits for it (bounded) instead of reading once.
    pub fn stderr_containing(&self, needle: &str) -> String {
        let deadline = std::time::Instant::now() + PROCESS_TIMEOUT;
        loop {
            let text = self.stderr();
            if text.contains(needle) || std::time::Instant::now() >= deadline {
                return text;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Sends SIGTERM and waits for it to exit.
    pub fn terminate(mut self) -> Exited {
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -TERM failed");
        let deadline = std::time::Instant::now() + PROCESS_TIMEOUT;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                break status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "evctl emulator did not stop after SIGTERM; stderr:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        // The process has closed stderr: the reader ends with its last lines.
        if let Some(reader) = self.stderr_reader.take() {
            let _ = reader.join();
        }
        Exited {
            status,
            stderr: self.stderr(),
        }
    }
}

impl Drop for EmulatorProcess {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The emulator in-process: quiet, in memory, on a free loopback port.
pub async fn start_emulator() -> evctl::emulator::Handle {
    start_emulator_with(|_| {}).await
}

/// The emulator in-process with an adjusted [`evctl::emulator::Config`].
pub async fn start_emulator_with(
    adjust: impl FnOnce(&mut evctl::emulator::Config),
) -> evctl::emulator::Handle {
    let mut config = evctl::emulator::Config::default();
    adjust(&mut config);
    evctl::emulator::Emulator::start(config)
        .await
        .expect("start the emulator")
}

/// The AppSync client configuration the helpers use: `endpoint`, region us-east-1, the
/// credentials test:test, retries off. Adjust it and build a client with
/// `aws_sdk_appsync::Client::from_conf(sdk_config(endpoint).retry_config(..).build())`.
pub fn sdk_config(endpoint: &str) -> aws_sdk_appsync::config::Builder {
    aws_sdk_appsync::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("test", "test", None, None, "evctl-tests"))
        .retry_config(aws_sdk_appsync::config::retry::RetryConfig::disabled())
}

/// An AppSync client for `endpoint` (see [`sdk_config`]).
pub fn sdk_client(endpoint: &str) -> aws_sdk_appsync::Client {
    aws_sdk_appsync::Client::from_conf(sdk_config(endpoint).build())
}

/// `GET /_emulator/stats` of the emulator at `endpoint`: `{"requests": n, "operations":
/// {"CreateApi": n, ...}, "errors": {...}, "faults": {...}}`.
pub async fn emulator_stats(endpoint: &str) -> serde_json::Value {
    reqwest::get(format!("{endpoint}/_emulator/stats"))
        .await
        .expect("GET /_emulator/stats")
        .json()
        .await
        .expect("stats JSON")
}

/// An `EventConfig` with API_KEY as the only provider and mode.
pub fn event_config() -> EventConfig {
    event_config_with(&[AuthenticationType::ApiKey])
}

/// An `EventConfig` providing `types` (without provider-specific configuration, so only
/// API_KEY and AWS_IAM are valid alone), each allowed to connect, publish and subscribe.
pub fn event_config_with(types: &[AuthenticationType]) -> EventConfig {
    let modes: Vec<AuthMode> = types
        .iter()
        .map(|t| {
            AuthMode::builder()
                .auth_type(t.clone())
                .build()
                .expect("auth mode")
        })
        .collect();
    EventConfig::builder()
        .set_auth_providers(Some(
            types
                .iter()
                .map(|t| {
                    AuthProvider::builder()
                        .auth_type(t.clone())
                        .build()
                        .expect("auth provider")
                })
                .collect(),
        ))
        .set_connection_auth_modes(Some(modes.clone()))
        .set_default_publish_auth_modes(Some(modes.clone()))
        .set_default_subscribe_auth_modes(Some(modes))
        .build()
        .expect("event config")
}
