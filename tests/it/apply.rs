//! `evctl apply` against the emulator: pruning and `--no-prune`, renamed namespaces, key renewal
//! by policy, confirmation rules, Ctrl-C, convergence under injected faults, and key values kept
//! out of every log.

use std::io::{BufRead as _, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::plan_support::{Stage, spec_yaml};

#[test]
fn creates_everything_then_has_nothing_to_do() {
    let stage = Stage::new();
    let spec = stage.spec(
        "api.yaml",
        &spec_yaml("chat", &["default", "rooms"], &["ci", "web"]),
    );
    let run = stage.run(&["apply", &spec, "--auto-approve"]);
    run.success();
    assert_eq!(
        run.stdout,
        "Apply complete! Resources: 5 added, 0 changed, 0 destroyed.\n"
    );
    // The plan and the progress go to stderr, the API first.
    run.stderr_has(&[
        "Plan: 5 to add, 0 to change, 0 to destroy.",
        "api: Creating...",
        "api: Creation complete after",
        "namespace.rooms: Creation complete after",
        "key.web: Creation complete after",
    ]);
    let api_done = run
        .stderr
        .find("api: Creation complete")
        .unwrap_or(usize::MAX);
    let first_child = run.stderr.find("namespace.default: Creating").unwrap_or(0);
    assert!(api_done < first_child, "{}", run.stderr);

    let (id, _, tags) = stage.apis().into_iter().next().expect("one API");
    assert_eq!(
        tags.get("evctl:managed-by").map(String::as_str),
        Some("evctl")
    );
    assert_eq!(stage.namespaces(&id), ["default", "rooms"]);
    let descriptions: Vec<Option<String>> = stage.keys(&id).into_iter().map(|k| k.1).collect();
    assert_eq!(descriptions.len(), 2);
    assert!(descriptions.contains(&Some("evctl:ci".to_string())));

    let again = stage.run(&["apply", &spec, "--auto-approve"]);
    again.success();
    assert_eq!(again.stdout, "No changes.\n");
    assert!(stage.assert_no_key_leaks() >= 2);
}

#[test]
fn removed_namespaces_and_keys_are_deleted_unless_no_prune() {
    let stage = Stage::new();
    let full = stage.spec(
        "full.yaml",
        &spec_yaml("chat", &["a", "b", "c"], &["ci", "web"]),
    );
    stage.run(&["apply", &full, "--auto-approve"]).success();
    let id = stage.api_id("chat");
    stage.remember_keys();
    // A key made by hand on an evctl-owned API.
    let client = stage.sdk();
    stage.block_on(async {
        client
            .create_api_key()
            .api_id(&id)
            .description("made in the console")
            .send()
            .await
            .expect("CreateApiKey")
    });

    let smaller = stage.spec("small.yaml", &spec_yaml("chat", &["a"], &["ci"]));
    stage
        .run(&["plan", &smaller, "--no-prune", "--detailed-exitcode"])
        .code(0)
        .stdout_has(&[
            "No changes.",
            "Note: namespace \"b\" is not in the spec; kept because of --no-prune",
            "Note: key \"web\" is not in the spec; kept because of --no-prune",
            "was not created by evctl; kept because of --no-prune",
        ]);
    stage
        .run(&["apply", &smaller, "--no-prune", "--auto-approve"])
        .success();
    assert_eq!(stage.namespaces(&id), ["a", "b", "c"]);
    assert_eq!(stage.keys(&id).len(), 3);

    let plan = stage.run(&["plan", &smaller]);
    plan.success().stdout_has(&[
        "  # namespace.b will be destroyed (not in the spec)\n  - namespace \"b\" {\n",
        "  # key.web will be destroyed (not in the spec)\n",
        "(not created by evctl (its description carries no evctl name))",
        "Plan: 0 to add, 0 to change, 4 to destroy.",
    ]);
    stage
        .run(&["apply", &smaller, "--auto-approve"])
        .success()
        .stdout_has(&["Resources: 0 added, 0 changed, 4 destroyed."]);
    assert_eq!(stage.namespaces(&id), ["a"]);
    let keys = stage.keys(&id);
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].1.as_deref(), Some("evctl:ci"));
    stage.assert_no_key_leaks();
}

#[test]
fn a_renamed_namespace_is_replaced_new_first() {
    let stage = Stage::new();
    let before = stage.spec("before.yaml", &spec_yaml("chat", &["default", "chat"], &[]));
    stage.run(&["apply", &before, "--auto-approve"]).success();
    let after = stage.spec("after.yaml", &spec_yaml("chat", &["default", "rooms"], &[]));

    stage.run(&["plan", &after]).success().stdout_has(&[
        "+/- create a replacement, then destroy the old one",
        "  # namespace.rooms will be replaced (renamed from \"chat\": a namespace's name cannot \
         change, so \"rooms\" is created and \"chat\" deleted)\n\
         +/- namespace \"rooms\" {\n      ~ name = \"chat\" -> \"rooms\"\n    }\n",
        "Plan: 1 to add, 0 to change, 1 to destroy.",
    ]);
    let run = stage.run(&["apply", &after, "--auto-approve"]);
    run.success();
    let created = run.stderr.find("namespace.rooms: Creation complete");
    let deleted = run.stderr.find("namespace.rooms: Destruction complete");
    assert!(created.is_some() && created < deleted, "{}", run.stderr);
    assert_eq!(
        stage.namespaces(&stage.api_id("chat")),
        ["default", "rooms"]
    );
}

#[test]
fn a_key_is_renewed_only_when_its_validity_falls_below_the_policy() {
    let stage = Stage::new();
    let spec = stage.spec("api.yaml", &spec_yaml("chat", &[], &["ci"]));
    stage.run(&["apply", &spec, "--auto-approve"]).success();
    let id = stage.api_id("chat");
    let (value, _, expires) = stage.keys(&id).remove(0);
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    // A new key gets twice the policy (60 days), so it is not due for a month.
    assert!(expires > now + 59 * 86_400, "expires {expires}, now {now}");

    // Time passes: only two days of validity are left.
    let client = stage.sdk();
    stage.block_on(async {
        client
            .update_api_key()
            .api_id(&id)
            .id(&value)
            // AppSync rounds expiry down to the hour: 2d 1h 30m leaves 2d 30m to 2d 1h 30m.
            .expires(now + 2 * 86_400 + 5400)
            .send()
            .await
            .expect("UpdateApiKey")
    });
    stage.run(&["plan", &spec, "--detailed-exitcode"]).code(2).stdout_has(&[
        "  # key.ci will be updated in place (renewal: 2d of validity left, below the policy's 30d)\n",
        "      ~ expires = \"",
        "Plan: 0 to add, 1 to change, 0 to destroy.",
    ]);
    stage.run(&["apply", &spec, "--auto-approve"]).success();
    let (same, _, renewed) = stage.keys(&id).remove(0);
    assert_eq!(same, value, "renewal keeps the key");
    assert!(renewed > now + 59 * 86_400);
    stage.run(&["plan", &spec, "--detailed-exitcode"]).code(0);
    stage.assert_no_key_leaks();
}

#[test]
fn without_a_terminal_apply_needs_auto_approve_and_calls_nothing() {
    let stage = Stage::new();
    let spec = stage.spec("api.yaml", &spec_yaml("chat", &["default"], &[]));
    stage
        .run(&["apply", &spec])
        .code(1)
        .stderr_has(&["stdin is not a terminal", "--auto-approve"]);
    stage
        .run(&["destroy", &spec])
        .code(1)
        .stderr_has(&["--auto-approve"]);
    let stats = stage.block_on(crate::support::emulator_stats(&stage.endpoint()));
    assert_eq!(stats["requests"], 0, "{stats}");
}

#[test]
fn ctrl_c_finishes_the_steps_in_flight_reports_and_exits_130() {
    let stage = Stage::with(&["--latency", "150ms"]);
    let names: Vec<String> = (1..=12).map(|i| format!("ns{i:02}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let spec = stage.spec("api.yaml", &spec_yaml("chat", &refs, &[]));

    let mut child = stage
        .process(&["apply", &spec, "--auto-approve", "--concurrency", "2"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn evctl apply");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let mut seen = String::new();
    // Interrupt once the first namespace is done.
    for line in lines.by_ref() {
        let line = line.expect("stderr line");
        seen.push_str(&line);
        seen.push('\n');
        if line.contains("namespace.") && line.contains("Creation complete") {
            break;
        }
    }
    let sent = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill -INT");
    assert!(sent.success());
    for line in lines {
        seen.push_str(&line.expect("stderr line"));
        seen.push('\n');
    }
    let out = child.wait_with_output().expect("wait");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(130),
        "stdout:\n{stdout}\nstderr:\n{seen}"
    );
    assert!(seen.contains("Interrupted."), "{seen}");
    assert!(seen.contains("not started"), "{seen}");
    // Every step that started also finished.
    let started = seen.matches(": Creating...").count();
    let finished = seen.matches(": Creation complete").count();
    assert_eq!(started, finished, "{seen}");
    assert!(finished < 13, "{seen}");
    // The result line says the apply did not finish, and what it left.
    assert!(
        stdout.starts_with("Apply interrupted! Resources: ") && stdout.contains(" not started."),
        "{stdout}"
    );

    // Running it again finishes the job.
    stage.run(&["apply", &spec, "--auto-approve"]).success();
    stage.run(&["plan", &spec, "--detailed-exitcode"]).code(0);
    assert_eq!(stage.namespaces(&stage.api_id("chat")).len(), 12);
}

#[test]
fn apply_converges_under_injected_faults_without_duplicates() {
    const RUNS: u64 = 20;
    let names: Vec<String> = (1..=20).map(|i| format!("ns{i:02}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let yaml = spec_yaml("faulty", &refs, &["ci", "web"]);
    let started = Instant::now();
    // A few seeds at a time: each run has its own emulator.
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4u64)
            .map(|lane| {
                let yaml = &yaml;
                scope.spawn(move || {
                    let mut seeds = Vec::new();
                    let mut seed = lane;
                    while seed < RUNS {
                        one_faulty_run(seed, yaml);
                        seeds.push(seed);
                        seed += 4;
                    }
                    seeds
                })
            })
            .collect();
        let done: usize = handles
            .into_iter()
            .map(|h| h.join().expect("a faulty run panicked").len())
            .sum();
        assert_eq!(done as u64, RUNS);
    });
    eprintln!("{RUNS} faulty runs in {:?}", started.elapsed());
}

fn one_faulty_run(seed: u64, yaml: &str) {
    let seed_arg = seed.to_string();
    let mut stage = Stage::with(&[
        "--fault-rate",
        "0.3",
        "--faults",
        "throttle,internal,conflict,lost-response",
        "--seed",
        &seed_arg,
    ]);
    // Patient enough that a run of bad luck (0.3^15 per call) never decides the outcome.
    stage.set_env("EVCTL_MAX_ATTEMPTS", "15");
    let spec = stage.spec("api.yaml", yaml);
    let apply = stage.run(&["apply", &spec, "--auto-approve"]);
    assert_eq!(
        apply.code, 0,
        "seed {seed}: apply did not converge\n{}\n{}",
        apply.stdout, apply.stderr
    );
    let plan = stage.run(&["plan", &spec, "--detailed-exitcode"]);
    assert_eq!(
        plan.code, 0,
        "seed {seed}: a second plan is not empty\n{}{}",
        plan.stdout, plan.stderr
    );
    // Exactly one API, 20 namespaces, 2 keys: read without faults getting in the way.
    let apis = retrying(|| stage.try_apis());
    assert_eq!(apis.len(), 1, "seed {seed}: {apis:?}");
    let stats = stage.block_on(crate::support::emulator_stats(&stage.endpoint()));
    assert!(
        stats["faults"].as_object().is_some_and(|f| !f.is_empty()),
        "seed {seed}: no fault was injected: {stats}"
    );
}

/// Calls `f` until it succeeds (the emulator injects faults into the test's own reads too).
fn retrying<T>(f: impl Fn() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "gave up reading through the faults"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn trace_logs_never_show_key_values() {
    let stage = Stage::new();
    let v1 = stage.spec(
        "v1.yaml",
        &spec_yaml("chat", &["default"], &["ci", "web", "old"]),
    );
    let apply = stage.cmd(&["-vv", "apply", &v1, "--auto-approve"]);
    stage.run_cmd(&["-vv", "apply"], apply).success();
    stage.remember_keys();
    // Update one key (its id is in the request path), delete another.
    let v2 = stage.spec(
        "v2.yaml",
        &spec_yaml("chat", &["default"], &["ci", "web"]).replace(
            "  - name: web\n    expires: 30d\n",
            "  - name: web\n    description: renamed\n    expires: 30d\n",
        ),
    );
    // The most a user can ask for: RUST_LOG=trace (the SDK would log bodies and URIs).
    let mut cmd = stage.cmd(&["-vv", "apply", &v2, "--auto-approve"]);
    cmd.env("RUST_LOG", "trace");
    let run = stage.run_cmd(&["-vv", "apply"], cmd);
    run.success().stdout_has(&["1 changed, 1 destroyed"]);
    assert!(
        run.stderr.len() > 1000,
        "-vv should log a lot: {}",
        run.stderr
    );
    assert!(stage.assert_no_key_leaks() >= 3);
}

/// Runs `evctl ARGS` on a pseudo-terminal (util-linux `script`), typing `answer` once asked.
fn on_a_terminal(stage: &Stage, args: &[&str], answer: &str) -> (Option<i32>, String) {
    let mut line = vec![env!("CARGO_BIN_EXE_evctl").to_string()];
    line.extend(args.iter().map(|a| format!("'{a}'")));
    let mut cmd = stage.process(&[]);
    cmd.env("TERM", "dumb");
    let mut child = std::process::Command::new("script")
        .args(["-qec", &line.join(" "), "/dev/null"])
        .env_clear()
        .envs(cmd.get_envs().filter_map(|(k, v)| Some((k, v?))))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("util-linux `script` runs the command on a pseudo-terminal");
    let mut stdin = child.stdin.take().expect("stdin");
    let stdout = child.stdout.take().expect("stdout");
    // Answer once the question is on the terminal.
    let answer = answer.to_string();
    let reader = std::thread::spawn(move || {
        let mut seen = String::new();
        let mut buf = [0u8; 1024];
        let mut stdout = stdout;
        let mut answered = false;
        loop {
            let n = std::io::Read::read(&mut stdout, &mut buf).unwrap_or(0);
            if n == 0 {
                break;
            }
            seen.push_str(&String::from_utf8_lossy(&buf[..n]));
            if !answered && seen.contains("Enter a value:") {
                let _ = std::io::Write::write_all(&mut stdin, answer.as_bytes());
                answered = true;
            }
        }
        seen
    });
    let status = child.wait().expect("wait");
    (status.code(), reader.join().expect("reader"))
}

#[test]
fn on_a_terminal_apply_asks_and_only_yes_approves() {
    let stage = Stage::new();
    let spec = stage.spec("api.yaml", &spec_yaml("chat", &["default"], &[]));

    let (code, screen) = on_a_terminal(&stage, &["apply", &spec], "no\n");
    assert_eq!(code, Some(1), "{screen}");
    assert!(
        screen.contains("Do you want to perform these actions on API \"chat\"?"),
        "{screen}"
    );
    assert!(
        screen.contains("not confirmed: nothing was changed"),
        "{screen}"
    );
    assert!(stage.apis().is_empty());

    let (code, screen) = on_a_terminal(&stage, &["apply", &spec], "yes\n");
    assert_eq!(code, Some(0), "{screen}");
    assert!(
        screen.contains("Apply complete! Resources: 2 added"),
        "{screen}"
    );
    assert_eq!(stage.apis().len(), 1);
}

#[test]
fn json_output_reports_the_plan_and_every_outcome() {
    let stage = Stage::new();
    let spec = stage.spec("api.yaml", &spec_yaml("chat", &["a", "b"], &["ci"]));
    let run = stage.run(&["-o", "json", "apply", &spec, "--auto-approve"]);
    run.success();
    let v: serde_json::Value = serde_json::from_str(&run.stdout).expect("one JSON document");
    assert_eq!(v["format_version"], "1.0");
    assert_eq!(v["status"], "applied");
    assert_eq!(v["plan"]["summary"]["add"], 4);
    assert_eq!(
        v["done"],
        serde_json::json!({"add": 4, "change": 0, "destroy": 0})
    );
    let outcomes = v["result"]["outcomes"].as_array().expect("outcomes");
    assert_eq!(outcomes.len(), 4);
    assert!(
        outcomes.iter().all(|o| o["status"] == "done"),
        "{outcomes:?}"
    );
    // The human-readable plan went to stderr, not into the document.
    run.stderr_has(&["Plan: 4 to add"]);

    let again = stage.run(&["-o", "json", "apply", &spec, "--auto-approve"]);
    let v: serde_json::Value = serde_json::from_str(&again.stdout).expect("JSON");
    assert_eq!(v["status"], "no_changes");
    stage.assert_no_key_leaks();
}

#[test]
fn lists_longer_than_a_page_are_read_to_the_end() {
    let stage = Stage::new();
    // More APIs than one ListApis page, the spec's own among the last ones.
    for i in 0..27 {
        stage.create_api(&format!("other-{i:02}"), i % 2 == 0);
    }
    let names: Vec<String> = (1..=30).map(|i| format!("ns{i:02}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let keys: Vec<String> = (1..=27).map(|i| format!("k{i:02}")).collect();
    let key_refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    let spec = stage.spec("api.yaml", &spec_yaml("zz-chat", &refs, &key_refs));
    stage.run(&["apply", &spec, "--auto-approve"]).success();
    stage
        .run(&["plan", &spec, "--detailed-exitcode"])
        .code(0)
        .stdout_has(&["No changes."]);
    let id = stage.api_id("zz-chat");
    assert_eq!(stage.namespaces(&id).len(), 30);
    assert_eq!(stage.keys(&id).len(), 27);
    // Dropping the last namespace and key is seen too (they are on the second page).
    let fewer = stage.spec(
        "fewer.yaml",
        &spec_yaml("zz-chat", &refs[..29], &key_refs[..26]),
    );
    stage.run(&["plan", &fewer]).success().stdout_has(&[
        "  # namespace.ns30 will be destroyed (not in the spec)",
        "  # key.k27 will be destroyed (not in the spec)",
        "Plan: 0 to add, 0 to change, 2 to destroy.",
    ]);
}
