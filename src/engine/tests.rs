//! Unit tests of the engine against the in-memory control plane: the diff's normalisation, the
//! ownership rule, execution order, retries, lost answers and interrupts.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::memory::{Fault, Memory};
use super::*;
use crate::control::{ControlPlane, ErrorKind, RetryPolicy};
use crate::model::{
    ApiConfig, AuthProvider, AuthType, DesiredState, KeyConfig, KeyExpiry, NamespaceConfig,
    OWNER_TAG_KEY, Tags,
};

const NOW: i64 = 1_750_000_000;
const DAY: i64 = 86_400;

fn retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 5,
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(2),
    }
}

fn provider(t: AuthType) -> AuthProvider {
    AuthProvider {
        auth_type: t,
        cognito_config: None,
        openid_connect_config: None,
        lambda_authorizer_config: None,
    }
}

fn modes(ts: &[AuthType]) -> BTreeSet<AuthType> {
    ts.iter().copied().collect()
}

fn namespace(name: &str) -> NamespaceConfig {
    NamespaceConfig {
        name: name.into(),
        publish_auth_modes: BTreeSet::new(),
        subscribe_auth_modes: BTreeSet::new(),
        code_handlers: None,
        handler_configs: Default::default(),
        tags: Tags::new(),
    }
}

fn key(name: &str, validity_days: i64) -> KeyConfig {
    KeyConfig {
        name: name.into(),
        description: None,
        expiry: KeyExpiry::Validity {
            seconds: validity_days * DAY,
        },
    }
}

fn spec(namespaces: &[NamespaceConfig], keys: &[KeyConfig]) -> DesiredState {
    DesiredState {
        api: ApiConfig {
            name: "chat".into(),
            owner_contact: Some("team".into()),
            tags: [("env".to_string(), "dev".to_string())].into(),
            auth_providers: vec![provider(AuthType::ApiKey), provider(AuthType::AwsIam)],
            connection_auth_modes: modes(&[AuthType::ApiKey]),
            default_publish_auth_modes: modes(&[AuthType::ApiKey]),
            default_subscribe_auth_modes: modes(&[AuthType::ApiKey]),
            log_config: None,
        },
        namespaces: namespaces
            .iter()
            .map(|n| (n.name.clone(), n.clone()))
            .collect(),
        keys: keys.iter().map(|k| (k.name.clone(), k.clone())).collect(),
    }
}

fn options(now: i64) -> DiffOptions {
    DiffOptions {
        now,
        prune: true,
        adopt: false,
    }
}

async fn look(mem: &Memory, desired: &DesiredState, unowned: Unowned) -> Observation {
    let lookup = find_api(mem, &desired.api.name, &retry())
        .await
        .expect("list");
    let (api, notes) = lookup.select(unowned).expect("identity");
    let code_for = desired.namespaces.keys().cloned().collect();
    let mut obs = observe(mem, api, &code_for, 4, &retry())
        .await
        .expect("observe");
    obs.notes = notes;
    obs
}

async fn plan_with(mem: &Memory, desired: &DesiredState, opts: DiffOptions) -> (Plan, Observation) {
    let unowned = if opts.adopt {
        Unowned::Adopt
    } else {
        Unowned::Refuse
    };
    let obs = look(mem, desired, unowned).await;
    (diff(desired, &obs, mem.target(), opts), obs)
}

async fn run(
    plan: &Plan,
    obs: &Observation,
    mem: &Memory,
    concurrency: usize,
    interrupt: &Interrupt,
) -> Report {
    let options = ExecOptions {
        concurrency,
        retry: retry(),
        create_settle: Duration::ZERO,
    };
    execute(plan, &obs.state, mem, options, &Silent, interrupt).await
}

async fn apply_with(mem: &Memory, desired: &DesiredState, opts: DiffOptions) -> (Plan, Report) {
    let (plan, obs) = plan_with(mem, desired, opts).await;
    let report = run(&plan, &obs, mem, 4, &Interrupt::new()).await;
    (plan, report)
}

fn actions(plan: &Plan) -> Vec<(String, Action)> {
    plan.changes
        .iter()
        .map(|c| (c.address.clone(), c.action))
        .collect()
}

fn paths(change: &Change) -> Vec<&str> {
    change.fields.iter().map(|f| f.path.as_str()).collect()
}

#[tokio::test]
async fn a_new_api_is_created_and_a_second_plan_is_empty() {
    let mem = Memory::new();
    let desired = spec(
        &[namespace("default"), namespace("rooms")],
        &[key("ci", 30)],
    );
    let (plan, report) = apply_with(&mem, &desired, options(NOW)).await;
    assert_eq!(
        actions(&plan),
        [
            ("api".to_string(), Action::Create),
            ("namespace.default".to_string(), Action::Create),
            ("namespace.rooms".to_string(), Action::Create),
            ("key.ci".to_string(), Action::Create),
        ]
    );
    assert_eq!(
        (plan.summary.add, plan.summary.change, plan.summary.destroy),
        (4, 0, 0)
    );
    assert!(report.succeeded(), "{report:?}");
    assert_eq!(report.done(), plan.summary);

    let (again, _) = plan_with(&mem, &desired, options(NOW + 60)).await;
    assert!(!again.has_changes(), "{:#?}", again.changes);
    assert_eq!(mem.api_count("chat"), 1);
}

#[tokio::test]
async fn equal_meanings_do_not_churn() {
    let mem = Memory::new();
    let mut ns = namespace("rooms");
    ns.code_handlers = Some("export function onPublish(ctx) {\n  return ctx.events;\n}\n".into());
    let desired = spec(&[ns.clone()], &[]);
    apply_with(&mem, &desired, options(NOW)).await;

    // CRLF line endings, extra trailing newlines, providers in another order, TTLs of zero.
    let mut same = desired.clone();
    let crlf = ns
        .code_handlers
        .as_deref()
        .unwrap_or_default()
        .replace('\n', "\r\n")
        + "\r\n\r\n";
    same.namespaces.get_mut("rooms").expect("ns").code_handlers = Some(crlf);
    same.api.auth_providers.reverse();
    same.api.owner_contact = Some("team".into());
    let (plan, _) = plan_with(&mem, &same, options(NOW)).await;
    assert!(!plan.has_changes(), "{:#?}", plan.changes);
}

#[tokio::test]
async fn each_kind_of_field_change_is_shown_by_path() {
    let mem = Memory::new();
    let desired = spec(&[namespace("rooms")], &[]);
    apply_with(&mem, &desired, options(NOW)).await;

    let mut changed = desired.clone();
    changed.api.owner_contact = Some("platform".into());
    changed.api.default_publish_auth_modes = modes(&[AuthType::ApiKey, AuthType::AwsIam]);
    changed.api.tags.insert("team".into(), "x".into());
    changed.api.tags.remove("env");
    let rooms = changed.namespaces.get_mut("rooms").expect("ns");
    rooms.subscribe_auth_modes = modes(&[AuthType::AwsIam]);
    rooms.code_handlers = Some("export const onPublish = (ctx) => ctx.events;".into());
    rooms.tags.insert("tier".into(), "1".into());

    let (plan, obs) = plan_with(&mem, &changed, options(NOW)).await;
    let api = &plan.changes[0];
    assert_eq!(api.action, Action::Update);
    assert_eq!(
        paths(api),
        [
            "defaultPublishAuthModes",
            "ownerContact",
            "tags[\"env\"]",
            "tags[\"team\"]"
        ]
    );
    let owner = &api.fields[1];
    assert_eq!(owner.old, Some("team".into()));
    assert_eq!(owner.new, Some("platform".into()));
    let ns = &plan.changes[1];
    assert_eq!(ns.address, "namespace.rooms");
    assert_eq!(
        paths(ns),
        ["codeHandlers", "subscribeAuthModes", "tags[\"tier\"]"]
    );
    // The code was read (GetChannelNamespace) because the listing leaves it out.
    assert!(obs.code_read.contains("rooms"));

    let report = run(&plan, &obs, &mem, 2, &Interrupt::new()).await;
    assert!(report.succeeded(), "{report:?}");
    let (after, _) = plan_with(&mem, &changed, options(NOW)).await;
    assert!(!after.has_changes(), "{:#?}", after.changes);
}

#[tokio::test]
async fn handler_code_is_read_only_for_namespaces_the_spec_has() {
    let mem = Memory::new();
    let desired = spec(&[namespace("a"), namespace("b"), namespace("c")], &[]);
    apply_with(&mem, &desired, options(NOW)).await;
    let before = mem.calls("GetChannelNamespace");
    let fewer = spec(&[namespace("a")], &[]);
    let _ = plan_with(&mem, &fewer, options(NOW)).await;
    assert_eq!(mem.calls("GetChannelNamespace") - before, 1);
}

#[tokio::test]
async fn removed_children_are_pruned_unless_told_not_to() {
    let mem = Memory::new();
    let desired = spec(
        &[namespace("a"), namespace("b")],
        &[key("ci", 30), key("web", 30)],
    );
    let (_, report) = apply_with(&mem, &desired, options(NOW)).await;
    let id = report.api.as_ref().map(|a| a.id.clone()).expect("api id");
    mem.insert_key(&id, "made by hand", NOW + 10 * DAY);

    let smaller = spec(&[namespace("a")], &[key("ci", 30)]);
    let keep = DiffOptions {
        prune: false,
        ..options(NOW)
    };
    let (kept, _) = plan_with(&mem, &smaller, keep).await;
    assert!(!kept.has_changes(), "{:#?}", kept.changes);
    assert_eq!(kept.notes.len(), 3, "{:?}", kept.notes);

    let (plan, report) = apply_with(&mem, &smaller, options(NOW)).await;
    let got = actions(&plan);
    assert_eq!(got.len(), 3, "{got:?}");
    assert_eq!(got[0], ("namespace.b".to_string(), Action::Delete));
    assert_eq!(got[1], ("key.web".to_string(), Action::Delete));
    assert!(got[2].0.starts_with("key.(unnamed …"), "{got:?}");
    assert_eq!(got[2].1, Action::Delete);
    assert!(report.succeeded(), "{report:?}");
    assert_eq!(mem.namespace_names(&id), ["a"]);
    assert_eq!(mem.key_count(&id), 1);
}

#[tokio::test]
async fn a_renamed_namespace_is_replaced_and_says_so() {
    let mem = Memory::new();
    let desired = spec(&[namespace("chat")], &[]);
    let (_, report) = apply_with(&mem, &desired, options(NOW)).await;
    let id = report.api.as_ref().map(|a| a.id.clone()).expect("api id");

    let renamed = spec(&[namespace("rooms")], &[]);
    let (plan, report) = apply_with(&mem, &renamed, options(NOW)).await;
    assert_eq!(
        actions(&plan),
        [("namespace.rooms".to_string(), Action::Replace)]
    );
    assert!(
        plan.changes[0]
            .reason
            .as_deref()
            .unwrap_or("")
            .contains("renamed from \"chat\"")
    );
    assert_eq!((plan.summary.add, plan.summary.destroy), (1, 1));
    assert!(report.succeeded());
    assert_eq!(mem.namespace_names(&id), ["rooms"]);
}

#[tokio::test]
async fn keys_are_renewed_by_policy_and_only_then() {
    let mem = Memory::new();
    let desired = spec(&[], &[key("ci", 30)]);
    apply_with(&mem, &desired, options(NOW)).await;

    // A new key gets twice the policy; it is not renewed while 30 days or more remain.
    for later in [DAY, 10 * DAY, 29 * DAY] {
        let (plan, _) = plan_with(&mem, &desired, options(NOW + later)).await;
        assert!(
            !plan.has_changes(),
            "renewed after {later}s: {:#?}",
            plan.changes
        );
    }
    let (plan, report) = apply_with(&mem, &desired, options(NOW + 31 * DAY)).await;
    assert_eq!(actions(&plan), [("key.ci".to_string(), Action::Update)]);
    let reason = plan.changes[0].reason.clone().unwrap_or_default();
    assert!(
        reason.starts_with("renewal: 28d of validity left"),
        "{reason}"
    );
    assert!(report.succeeded());
    let (after, _) = plan_with(&mem, &desired, options(NOW + 31 * DAY + 60)).await;
    assert!(!after.has_changes());
}

#[test]
fn renewal_never_churns_even_at_the_maximum_policy() {
    for days in [1, 7, 30, 182, 200, 364, 365] {
        let policy = days * DAY;
        let validity = diff::renewal_validity(policy);
        // Right after a renewal (and AppSync's rounding down to the hour), no renewal is due.
        assert!(
            validity - 3600 >= diff::renewal_threshold(policy),
            "{days}d"
        );
        assert!(validity <= diff::MAX_KEY_VALIDITY);
    }
}

#[tokio::test]
async fn an_unowned_api_is_refused_then_adopted_on_request() {
    let mem = Memory::new();
    let desired = spec(&[namespace("a")], &[]);
    let id = mem.insert_api(&desired.api, &desired.api.tags);

    let lookup = find_api(&mem, "chat", &retry()).await.expect("list");
    let err = lookup.select(Unowned::Refuse).expect_err("refused");
    assert!(err.to_string().contains(&id), "{err}");
    assert!(err.to_string().contains("--adopt"), "{err}");

    let adopt = DiffOptions {
        adopt: true,
        ..options(NOW)
    };
    let (plan, report) = apply_with(&mem, &desired, adopt).await;
    assert_eq!(plan.changes[0].action, Action::Update);
    assert!(paths(&plan.changes[0]).contains(&format!("tags[{:?}]", OWNER_TAG_KEY).as_str()));
    assert!(report.succeeded(), "{report:?}");
    let (after, _) = plan_with(&mem, &desired, options(NOW)).await;
    assert!(!after.has_changes(), "{:#?}", after.changes);
    assert_eq!(mem.api_count("chat"), 1);
}

#[tokio::test]
async fn two_owned_apis_with_one_name_are_an_error_naming_both() {
    let mem = Memory::new();
    let desired = spec(&[], &[]);
    let owner: Tags = [(OWNER_TAG_KEY.to_string(), "evctl".to_string())].into();
    let a = mem.insert_api(&desired.api, &owner);
    let b = mem.insert_api(&desired.api, &owner);
    let err = find_api(&mem, "chat", &retry())
        .await
        .expect("list")
        .select(Unowned::Refuse)
        .expect_err("ambiguous");
    let text = err.to_string();
    assert!(text.contains(&a) && text.contains(&b), "{text}");
}

#[tokio::test]
async fn a_lost_answer_never_makes_a_duplicate() {
    let mem = Memory::new();
    mem.script("CreateApi", [Fault::LostAnswer]);
    mem.script(
        "CreateApiKey",
        [Fault::LostAnswer, Fault::Fail(ErrorKind::Service)],
    );
    mem.script("CreateChannelNamespace", [Fault::LostAnswer]);
    let desired = spec(&[namespace("a")], &[key("ci", 30)]);
    let (_, report) = apply_with(&mem, &desired, options(NOW)).await;
    assert!(report.succeeded(), "{report:?}");
    assert_eq!(mem.api_count("chat"), 1);
    assert_eq!(mem.calls("CreateApi"), 1);
    let id = report.api.as_ref().map(|a| a.id.clone()).expect("id");
    assert_eq!(mem.key_count(&id), 1);
    let (again, _) = plan_with(&mem, &desired, options(NOW)).await;
    assert!(!again.has_changes(), "{:#?}", again.changes);
}

#[tokio::test]
async fn conflicts_are_retried_and_give_up_after_the_policy() {
    let mem = Memory::new();
    let desired = spec(&[namespace("a")], &[]);
    apply_with(&mem, &desired, options(NOW)).await;
    let mut changed = desired.clone();
    changed.api.owner_contact = Some("other".into());

    mem.script("UpdateApi", [Fault::Fail(ErrorKind::Conflict); 2]);
    let (_, report) = apply_with(&mem, &changed, options(NOW)).await;
    assert!(report.succeeded(), "{report:?}");
    assert_eq!(mem.calls("UpdateApi"), 3);

    changed.api.owner_contact = Some("third".into());
    mem.script("UpdateApi", [Fault::Fail(ErrorKind::Conflict); 5]);
    let (_, report) = apply_with(&mem, &changed, options(NOW)).await;
    assert!(!report.succeeded());
    let failures: Vec<_> = report.failures().collect();
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].0, "api");
}

#[tokio::test]
async fn a_failed_api_step_starts_nothing_else_and_the_next_run_converges() {
    let mem = Memory::new();
    mem.script("CreateApi", [Fault::Fail(ErrorKind::BadRequest)]);
    let desired = spec(&[namespace("a"), namespace("b")], &[key("ci", 30)]);
    let (_, report) = apply_with(&mem, &desired, options(NOW)).await;
    assert!(!report.succeeded());
    assert_eq!(report.not_started(), 3);
    let (_, report) = apply_with(&mem, &desired, options(NOW)).await;
    assert!(report.succeeded(), "{report:?}");
}

#[tokio::test]
async fn an_interrupt_starts_nothing_new() {
    let mem = Memory::new();
    let desired = spec(&[namespace("a"), namespace("b")], &[]);
    let (plan, obs) = plan_with(&mem, &desired, options(NOW)).await;
    let interrupt = Interrupt::new();
    interrupt.trigger();
    let report = run(&plan, &obs, &mem, 4, &interrupt).await;
    assert!(report.interrupted);
    assert_eq!(report.not_started(), 3);
    assert_eq!(mem.calls("CreateApi"), 0);
}

#[tokio::test]
async fn destroy_deletes_the_api_with_its_children() {
    let mem = Memory::new();
    let desired = spec(&[namespace("a")], &[key("ci", 30)]);
    apply_with(&mem, &desired, options(NOW)).await;
    let obs = look(&mem, &desired, Unowned::Ignore).await;
    let plan = diff_destroy("chat", &obs, mem.target(), NOW);
    assert_eq!(
        actions(&plan),
        [
            ("api".to_string(), Action::Delete),
            ("namespace.a".to_string(), Action::Delete),
            ("key.ci".to_string(), Action::Delete),
        ]
    );
    let report = run(&plan, &obs, &mem, 4, &Interrupt::new()).await;
    assert!(report.succeeded(), "{report:?}");
    assert_eq!(mem.calls("DeleteChannelNamespace"), 0);
    assert_eq!(mem.api_count("chat"), 0);
    let gone = look(&mem, &desired, Unowned::Ignore).await;
    assert!(!diff_destroy("chat", &gone, mem.target(), NOW).has_changes());
}

#[tokio::test]
async fn plans_are_deterministic_and_carry_no_key_values() {
    let mem = Memory::new();
    let desired = spec(
        &[namespace("a"), namespace("b")],
        &[key("ci", 30), key("old", 30)],
    );
    let (_, report) = apply_with(&mem, &desired, options(NOW)).await;
    let id = report.api.as_ref().map(|a| a.id.clone()).expect("id");
    let secret = mem.insert_key(&id, "by hand", NOW + 5 * DAY);

    let smaller = spec(&[namespace("a")], &[key("ci", 1)]);
    let (one, _) = plan_with(&mem, &smaller, options(NOW + 60 * DAY)).await;
    let (two, _) = plan_with(&mem, &smaller, options(NOW + 60 * DAY)).await;
    assert_eq!(one, two);
    let json = serde_json::to_string(&one).expect("json");
    assert!(!json.contains(secret.expose()));
    assert!(!json.contains("da2-"), "{json}");
    let back: Plan = serde_json::from_str(&json).expect("round trip");
    assert_eq!(back, one);
}

#[test]
fn namespace_auth_modes_filled_in_by_the_service_count_as_inherited() {
    let desired = spec(&[namespace("a")], &[]);
    let mut filled = desired.namespaces["a"].clone();
    filled.publish_auth_modes = modes(&[AuthType::ApiKey]);
    let observed = Observation {
        state: crate::model::ObservedState {
            api: None,
            namespaces: BTreeMap::from([(
                "a".to_string(),
                crate::model::ObservedNamespace {
                    arn: "arn".into(),
                    config: filled,
                },
            )]),
            keys: Vec::new(),
        },
        code_read: BTreeSet::new(),
        fingerprint: String::new(),
        notes: Vec::new(),
    };
    let plan = diff(&desired, &observed, Default::default(), options(NOW));
    assert!(
        plan.changes
            .iter()
            .all(|c| c.resource != ResourceKind::Namespace),
        "{:#?}",
        plan.changes
    );
}

#[tokio::test]
async fn an_auth_provider_goes_away_only_after_the_namespaces_that_use_it() {
    let mem = Memory::new();
    let mut iam = namespace("rooms");
    iam.publish_auth_modes = modes(&[AuthType::AwsIam]);
    let desired = spec(&[iam], &[]);
    apply_with(&mem, &desired, options(NOW)).await;

    let mut without = spec(&[namespace("rooms")], &[]);
    without.api.auth_providers = vec![provider(AuthType::ApiKey)];
    let (plan, report) = apply_with(&mem, &without, options(NOW)).await;
    assert!(report.succeeded(), "{report:?}");
    let reason = plan.changes[0].reason.clone().unwrap_or_default();
    assert!(
        reason.contains("AWS_IAM removed only after the namespaces"),
        "{reason}"
    );
    let log = mem.call_log();
    let updates: Vec<usize> = log
        .iter()
        .enumerate()
        .filter(|(_, c)| **c == "UpdateApi")
        .map(|(i, _)| i)
        .collect();
    let ns = log
        .iter()
        .position(|c| *c == "UpdateChannelNamespace")
        .expect("namespace updated");
    assert_eq!(updates.len(), 2, "{log:?}");
    assert!(updates[0] < ns && ns < updates[1], "{log:?}");
    let (after, _) = plan_with(&mem, &without, options(NOW)).await;
    assert!(!after.has_changes(), "{:#?}", after.changes);
}

#[tokio::test]
async fn children_wait_for_a_new_api_to_propagate() {
    let mem = Memory::new();
    // Eventual consistency: the first namespace create does not find the new API yet.
    mem.script("CreateChannelNamespace", [Fault::Fail(ErrorKind::NotFound)]);
    let desired = spec(&[namespace("a")], &[]);
    let (_, report) = apply_with(&mem, &desired, options(NOW)).await;
    assert!(report.succeeded(), "{report:?}");
    assert_eq!(mem.calls("CreateChannelNamespace"), 2);
    assert_eq!(
        mem.calls("GetChannelNamespace"),
        0,
        "a refused create needs no re-read"
    );
}

// ---- the concurrent-apply guard ----

#[tokio::test]
async fn two_runs_that_both_create_leave_one_api_and_the_younger_yields() {
    let mem = Memory::new();
    let desired = spec(&[namespace("a")], &[key("ci", 30)]);
    // Both runs plan before either creates: both plans create the API.
    let (plan_a, obs_a) = plan_with(&mem, &desired, options(NOW)).await;
    let (plan_b, obs_b) = plan_with(&mem, &desired, options(NOW)).await;
    let first = run(&plan_a, &obs_a, &mem, 4, &Interrupt::new()).await;
    let second = run(&plan_b, &obs_b, &mem, 4, &Interrupt::new()).await;
    assert_eq!(first.yielded, None);
    let kept = first.api.as_ref().map(|a| a.id.clone()).expect("first API");
    let yielded = second.yielded.clone().expect("the second run yields");
    assert_eq!(yielded.survivor, kept);
    assert_ne!(yielded.deleted, kept);
    assert_eq!(
        second.api.as_ref().map(|a| a.id.as_str()),
        Some(kept.as_str())
    );
    assert_eq!(mem.api_count("chat"), 1);
    assert_eq!(mem.calls("DeleteApi"), 1);
    let (again, _) = plan_with(&mem, &desired, options(NOW)).await;
    assert!(!again.has_changes(), "{:#?}", again.changes);
    // A run that did not create checks nothing.
    let before = mem.calls("ListApis");
    apply_with(&mem, &desired, options(NOW)).await;
    assert_eq!(mem.calls("ListApis") - before, 1);
}

#[tokio::test]
async fn the_oldest_api_survives_by_created_then_id() {
    let mem = Memory::new();
    let desired = spec(&[], &[]);
    let mut tags = desired.api.tags.clone();
    tags.insert(OWNER_TAG_KEY.into(), "evctl".into());
    let older = mem.insert_api(&desired.api, &tags);
    let mine = mem.insert_api(&desired.api, &tags);
    let mine_api = mem.get_api(&mine).await.expect("mine");
    let resolution = guard::resolve(&mem, &mine_api, std::time::Instant::now(), &retry())
        .await
        .expect("resolve");
    match resolution {
        guard::Resolution::Yielded { survivor, deleted } => {
            assert_eq!(
                (survivor.id.as_str(), deleted.as_str()),
                (older.as_str(), mine.as_str())
            );
        }
        other => panic!("expected to yield, got {other:?}"),
    }
    let older_api = mem.get_api(&older).await.expect("older");
    assert_eq!(
        guard::resolve(&mem, &older_api, std::time::Instant::now(), &retry())
            .await
            .expect("resolve"),
        guard::Resolution::Survived
    );
    assert_eq!(mem.api_count("chat"), 1);
}

#[tokio::test]
async fn a_yielding_run_waits_for_convergence_and_finishes_a_stalled_job() {
    let mem = Memory::new();
    let desired = spec(&[namespace("a"), namespace("b")], &[]);
    let read = ReadOptions {
        concurrency: 4,
        retry: retry(),
    };
    let interrupt = Interrupt::new();
    let wait = |stall: Duration| {
        guard::await_other_run(
            &mem,
            &desired,
            options(NOW),
            read,
            || NOW,
            Duration::from_millis(1),
            stall,
            &interrupt,
        )
    };
    // The winner got as far as one namespace and stopped: the yielding run takes over once
    // nothing changes for the stall time.
    let partial = spec(&[namespace("a")], &[]);
    apply_with(&mem, &partial, options(NOW)).await;
    match wait(Duration::from_millis(20)).await.expect("wait") {
        guard::Wait::Stalled(prepared) => {
            assert_eq!(
                actions(&prepared.plan),
                [("namespace.b".to_string(), Action::Create)]
            );
        }
        other => panic!("expected a stall, got {other:?}"),
    }
    apply_with(&mem, &desired, options(NOW)).await;
    assert!(matches!(
        wait(Duration::from_secs(60)).await.expect("wait"),
        guard::Wait::Converged(_)
    ));
    // A second owned API that never goes away is an error once the stall time has passed.
    let mut tags = desired.api.tags.clone();
    tags.insert(OWNER_TAG_KEY.into(), "evctl".into());
    mem.insert_api(&desired.api, &tags);
    let err = wait(Duration::from_millis(20))
        .await
        .expect_err("duplicates");
    assert!(
        err.to_string().contains("carry evctl's ownership tag"),
        "{err}"
    );
}
