//! Helpers for the engine's end-to-end tests (plan, apply, destroy, outputs): a [`Stage`] is an
//! emulator process plus a temp dir for specs, and runs the real `evctl` against it with fast
//! retries. It keeps a transcript of everything evctl printed (outputs excepted, where key
//! values are asked for) so that a test can assert that no key value ever leaked.

#![allow(dead_code)]

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::path::PathBuf;

use crate::support::{CLEAN_ENV, EmulatorProcess, evctl, sdk_client, write};

/// An API as listed: (id, name, tags).
pub type Api = (String, String, std::collections::HashMap<String, String>);

/// One finished `evctl` run.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Asserts the exit code, showing both streams when it differs.
    #[track_caller]
    pub fn code(&self, expected: i32) -> &Run {
        assert_eq!(
            self.code, expected,
            "exit code\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.stdout, self.stderr
        );
        self
    }

    #[track_caller]
    pub fn success(&self) -> &Run {
        self.code(0)
    }

    /// Asserts that stdout contains each of `parts`.
    #[track_caller]
    pub fn stdout_has(&self, parts: &[&str]) -> &Run {
        for part in parts {
            assert!(
                self.stdout.contains(part),
                "stdout lacks {part:?}:\n{}\n--- stderr ---\n{}",
                self.stdout,
                self.stderr
            );
        }
        self
    }

    /// Asserts that stderr contains each of `parts`.
    #[track_caller]
    pub fn stderr_has(&self, parts: &[&str]) -> &Run {
        for part in parts {
            assert!(
                self.stderr.contains(part),
                "stderr lacks {part:?}:\n{}\n--- stdout ---\n{}",
                self.stderr,
                self.stdout
            );
        }
        self
    }
}

/// An emulator and a place for specs.
pub struct Stage {
    pub emulator: EmulatorProcess,
    pub dir: tempfile::TempDir,
    env: Vec<(String, String)>,
    transcript: RefCell<String>,
    keys_seen: RefCell<BTreeSet<String>>,
}

/// Fast retries for tests: the same policy code, shorter pauses (see the README's
/// environment variables). No stage runs two applies of one spec at once, so the
/// concurrent-apply guard checks without its settle (`ci::five_parallel_applies_...` tests it
/// with the default).
const FAST_RETRIES: [(&str, &str); 3] = [
    ("EVCTL_MAX_ATTEMPTS", "10"),
    ("EVCTL_RETRY_INITIAL_BACKOFF", "5ms"),
    ("EVCTL_CREATE_SETTLE", "0s"),
];

impl Stage {
    pub fn new() -> Stage {
        Stage::with(&[])
    }

    /// With extra `evctl emulator` flags (e.g. `--latency 200ms`).
    pub fn with(emulator_args: &[&str]) -> Stage {
        let emulator = EmulatorProcess::spawn(emulator_args);
        let mut env: Vec<(String, String)> = FAST_RETRIES
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        env.push((
            "AWS_ENDPOINT_URL_APPSYNC".into(),
            emulator.endpoint().to_string(),
        ));
        Stage {
            emulator,
            dir: tempfile::tempdir().expect("temp dir"),
            env,
            transcript: RefCell::new(String::new()),
            keys_seen: RefCell::new(BTreeSet::new()),
        }
    }

    /// Sets an environment variable for every later `evctl` run of this stage.
    pub fn set_env(&mut self, key: &str, value: &str) {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.to_string(), value.to_string()));
    }

    pub fn endpoint(&self) -> String {
        self.emulator.endpoint().to_string()
    }

    /// Writes `api.yaml` (or another name) into the stage's dir.
    pub fn spec(&self, name: &str, yaml: &str) -> String {
        write(self.dir.path(), name, yaml)
            .to_string_lossy()
            .into_owned()
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `evctl ARGS` pointed at the emulator.
    pub fn cmd(&self, args: &[&str]) -> assert_cmd::Command {
        let mut cmd = evctl();
        cmd.envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .args(args);
        cmd
    }

    /// `evctl ARGS` as a plain process (to be spawned, e.g. to interrupt it), with the same
    /// clean environment as [`evctl`].
    pub fn process(&self, args: &[&str]) -> std::process::Command {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_evctl"));
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", std::env::temp_dir())
            .envs(CLEAN_ENV.iter().copied())
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .args(args)
            .stdin(std::process::Stdio::null());
        cmd
    }

    /// Runs `evctl ARGS` and records what it printed.
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_cmd(args, self.cmd(args))
    }

    /// Runs a prepared command (e.g. with extra env) and records what it printed.
    pub fn run_cmd(&self, args: &[&str], mut cmd: assert_cmd::Command) -> Run {
        let out = cmd.output().expect("run evctl");
        let run = Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        if args.first() != Some(&"outputs") {
            let mut t = self.transcript.borrow_mut();
            t.push_str(&format!(
                "$ evctl {}\n{}{}",
                args.join(" "),
                run.stdout,
                run.stderr
            ));
        }
        run
    }

    /// Runs `f` on a fresh current-thread runtime (for SDK calls from a sync test).
    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(f)
    }

    pub fn sdk(&self) -> aws_sdk_appsync::Client {
        sdk_client(self.emulator.endpoint())
    }

    /// Creates an API named `name` directly through the SDK (as someone else would), with the
    /// ownership tag when `owned`; returns its id.
    pub fn create_api(&self, name: &str, owned: bool) -> String {
        let client = self.sdk();
        self.block_on(async {
            let mut req = client
                .create_api()
                .name(name)
                .event_config(crate::support::event_config());
            if owned {
                req = req.tags("evctl:managed-by", "evctl");
            }
            let out = req.send().await.expect("CreateApi");
            out.api()
                .and_then(|a| a.api_id())
                .unwrap_or_default()
                .to_string()
        })
    }

    /// Every API: (id, name, tags).
    #[track_caller]
    pub fn apis(&self) -> Vec<Api> {
        self.try_apis().expect("ListApis")
    }

    /// Every API, or `None` if a call failed (e.g. an injected fault).
    pub fn try_apis(&self) -> Option<Vec<Api>> {
        let client = self.sdk();
        self.block_on(async {
            let mut out = Vec::new();
            let mut pages = client.list_apis().into_paginator().items().send();
            while let Some(api) = pages.next().await {
                let api = api.ok()?;
                out.push((
                    api.api_id().unwrap_or_default().to_string(),
                    api.name().unwrap_or_default().to_string(),
                    api.tags().cloned().unwrap_or_default(),
                ));
            }
            Some(out)
        })
    }

    /// The id of the one API named `name`.
    #[track_caller]
    pub fn api_id(&self, name: &str) -> String {
        let ids: Vec<String> = self
            .apis()
            .into_iter()
            .filter(|(_, n, _)| n == name)
            .map(|(id, _, _)| id)
            .collect();
        assert_eq!(ids.len(), 1, "APIs named {name}: {ids:?}");
        ids[0].clone()
    }

    /// The keys of an API: (value, description, expires).
    pub fn keys(&self, api_id: &str) -> Vec<(String, Option<String>, i64)> {
        let client = self.sdk();
        let keys = self.block_on(async {
            let mut out = Vec::new();
            let mut pages = client
                .list_api_keys()
                .api_id(api_id)
                .into_paginator()
                .items()
                .send();
            while let Some(k) = pages.next().await {
                let k = k.expect("ListApiKeys");
                out.push((
                    k.id().unwrap_or_default().to_string(),
                    k.description().map(str::to_string),
                    k.expires(),
                ));
            }
            out
        });
        self.keys_seen
            .borrow_mut()
            .extend(keys.iter().map(|(v, _, _)| v.clone()));
        keys
    }

    /// The namespace names of an API.
    pub fn namespaces(&self, api_id: &str) -> Vec<String> {
        let client = self.sdk();
        self.block_on(async {
            let mut out = Vec::new();
            let mut pages = client
                .list_channel_namespaces()
                .api_id(api_id)
                .into_paginator()
                .items()
                .send();
            while let Some(ns) = pages.next().await {
                out.push(
                    ns.expect("ListChannelNamespaces")
                        .name()
                        .unwrap_or_default()
                        .to_string(),
                );
            }
            out.sort();
            out
        })
    }

    /// Remembers the current key values of every API (so a later deletion does not hide a leak).
    pub fn remember_keys(&self) {
        for (id, _, _) in self.apis() {
            self.keys(&id);
        }
    }

    /// Asserts that no key value seen so far appears in anything evctl printed (outputs
    /// excepted). Returns how many values were checked.
    #[track_caller]
    pub fn assert_no_key_leaks(&self) -> usize {
        self.remember_keys();
        let transcript = self.transcript.borrow();
        let seen = self.keys_seen.borrow();
        for value in seen.iter() {
            assert!(
                !transcript.contains(value.as_str()),
                "a key value appears in evctl's output:\n{transcript}"
            );
        }
        seen.len()
    }
}

/// A spec with API name `name`, the given namespaces (default config) and keys (`expires: 30d`).
pub fn spec_yaml(name: &str, namespaces: &[&str], keys: &[&str]) -> String {
    let mut yaml = format!(
        "version: 1\napi:\n  name: {name}\n  authProviders:\n    - authType: API_KEY\n  \
         connectionAuthModes: [API_KEY]\n  defaultPublishAuthModes: [API_KEY]\n  \
         defaultSubscribeAuthModes: [API_KEY]\n"
    );
    if !namespaces.is_empty() {
        yaml.push_str("channelNamespaces:\n");
        for ns in namespaces {
            yaml.push_str(&format!("  - name: {ns}\n"));
        }
    }
    if !keys.is_empty() {
        yaml.push_str("apiKeys:\n");
        for k in keys {
            yaml.push_str(&format!("  - name: {k}\n    expires: 30d\n"));
        }
    }
    yaml
}
