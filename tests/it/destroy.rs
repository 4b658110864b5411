//! `evctl destroy` against the emulator: deletes the owned API with everything in it, says so
//! when there is nothing to destroy, and never touches an API evctl did not create.

use crate::plan_support::{Stage, spec_yaml};

#[test]
fn destroy_deletes_the_api_and_a_second_destroy_has_nothing_to_do() {
    let stage = Stage::new();
    let spec = stage.spec(
        "api.yaml",
        &spec_yaml("chat", &["default", "rooms"], &["ci"]),
    );
    stage.run(&["apply", &spec, "--auto-approve"]).success();
    stage.remember_keys();

    stage
        .run(&["plan", &spec, "--destroy", "--detailed-exitcode"])
        .code(2)
        .stdout_has(&[
            "Destroy plan for API \"chat\" (id ",
            "  # api will be destroyed\n  - api \"chat\"\n",
            "  # namespace.rooms will be destroyed (deleted with the API)\n",
            "  # key.ci will be destroyed (deleted with the API)\n",
            "Plan: 0 to add, 0 to change, 4 to destroy.",
        ]);
    let run = stage.run(&["destroy", &spec, "--auto-approve"]);
    run.success()
        .stderr_has(&["api: Destroying...", "api: Destruction complete after"]);
    assert_eq!(run.stdout, "Destroy complete! Resources: 4 destroyed.\n");
    assert!(stage.apis().is_empty());

    let again = stage.run(&["destroy", &spec, "--auto-approve"]);
    again.success().stderr_has(&[
        "No changes. Nothing to destroy: there is no evctl-owned API named \"chat\".",
    ]);
    assert_eq!(again.stdout, "No changes. Nothing to destroy.\n");
    stage.assert_no_key_leaks();
}

#[test]
fn destroy_never_touches_an_api_evctl_did_not_create() {
    let stage = Stage::new();
    stage.create_api("chat", false);
    let spec = stage.spec("api.yaml", &spec_yaml("chat", &[], &[]));
    stage
        .run(&["destroy", &spec, "--auto-approve"])
        .success()
        .stdout_has(&["Nothing to destroy."])
        .stderr_has(&[
            "Destroy plan for API \"chat\" (none owned by evctl)",
            "that evctl did not create",
            "is left alone",
        ]);
    assert_eq!(stage.apis().len(), 1);
}

#[test]
fn a_saved_destroy_plan_is_applied_like_any_plan() {
    let stage = Stage::new();
    let spec = stage.spec("api.yaml", &spec_yaml("chat", &["default"], &[]));
    stage.run(&["apply", &spec, "--auto-approve"]).success();
    let saved = stage.path("destroy.json").to_string_lossy().into_owned();
    stage
        .run(&["plan", &spec, "--destroy", "--out", &saved])
        .success();
    stage
        .run(&["apply", &saved])
        .success()
        .stdout_has(&["Destroy complete! Resources: 2 destroyed."]);
    assert!(stage.apis().is_empty());
}
