//! The README against the program: its first screen is the two set-up commands that `.ci/run`
//! runs, and every command, flag and environment variable that `--help` knows is documented.

use std::path::Path;

use clap::CommandFactory as _;

fn read(file: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(file))
        .unwrap_or_else(|e| panic!("read {file}: {e}"))
}

const SETUP: [&str; 2] = [
    "cargo run --locked -- dev templates/minimal.yaml --once",
    "cargo test --locked",
];

#[test]
fn the_first_screen_is_the_two_setup_commands_and_ci_runs_exactly_them() {
    let readme = read("README.md");
    let first_block = readme
        .split("```sh\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("a sh block in the README");
    let commands: Vec<&str> = first_block
        .lines()
        .map(|l| l.split(" #").next().unwrap_or(l).trim())
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(commands, SETUP, "the README's first commands");
    let ci = read(".ci/run");
    for command in SETUP {
        assert!(
            ci.lines().any(|l| l.trim() == command),
            ".ci/run does not run `{command}`"
        );
    }
}

#[test]
fn every_command_flag_and_environment_variable_is_documented() {
    let readme = read("README.md");
    let cli = evctl::cli::Cli::command();
    let mut missing = Vec::new();
    let global = cli.get_arguments().cloned().collect::<Vec<_>>();
    for command in cli.get_subcommands().filter(|c| !c.is_hide_set()) {
        let name = command.get_name();
        if !readme.contains(&format!("`evctl {name}")) {
            missing.push(format!("command {name}"));
        }
        for arg in command.get_arguments().chain(global.iter()) {
            if let Some(long) = arg.get_long()
                && !["help", "version"].contains(&long)
                && !readme.contains(&format!("--{long}"))
            {
                missing.push(format!("{name} --{long}"));
            }
            if let Some(env) = arg.get_env()
                && !readme.contains(&format!("`{}`", env.to_string_lossy()))
            {
                missing.push(format!("{name}: environment variable {env:?}"));
            }
        }
    }
    for env in [
        "NO_COLOR",
        "RUST_LOG",
        "EVCTL_MAX_ATTEMPTS",
        "EVCTL_RETRY_INITIAL_BACKOFF",
        "EVCTL_CREATE_SETTLE",
        "GITHUB_ACTIONS",
        "GITHUB_STEP_SUMMARY",
        "GITHUB_OUTPUT",
    ] {
        if !readme.contains(&format!("| `{env}`")) {
            missing.push(format!("environment variable {env} in the table"));
        }
    }
    missing.dedup();
    assert!(missing.is_empty(), "not in the README: {missing:#?}");
}
