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
