//! `diff(desired, observed) -> Plan`: pure and deterministic (the clock is an input).
//!
//! Values are normalised before they are compared so that nothing churns: auth modes are sets,
//! handler code ignores line endings and trailing newlines, zero TTLs equal unset ones, tags are
//! maps, server-owned fields (ids, ARNs, DNS, timestamps) are not compared, a namespace that
//! inherits the API's default auth modes equals one that the service filled in with them, and a
//! key is renewed only when less validity remains than its policy asks for.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::observe::Observation;
use super::plan::{
    Action, ApiRef, Basis, Change, FORMAT_VERSION, FieldChange, KeyRef, Operation, Plan, PlanKind,
    ResourceKind, Summary,
};
use crate::control::Target;
use crate::model::{
    ApiConfig, AuthModes, AuthProvider, DesiredState, HandlerConfigs, InvokeType, KeyConfig,
    KeyExpiry, NamespaceConfig, OWNER_TAG_KEY, OWNER_TAG_VALUE, ObservedApi, ObservedKey,
    ObservedNamespace, Tags, key_description,
};

/// The choices that shape a plan besides the two states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiffOptions {
    /// "Now", in epoch seconds: key expiry is relative to it.
    pub now: i64,
    /// Delete namespaces and keys the spec does not list (default); `--no-prune` keeps them.
    pub prune: bool,
    /// The observed API may lack the ownership tag: take it over.
    pub adopt: bool,
}

/// AppSync accepts key validity up to 365 days from the request.
pub const MAX_KEY_VALIDITY: i64 = 365 * DAY;
const DAY: i64 = 86_400;
const HOUR: i64 = 3_600;

/// Validity given to a new or renewed key under a `Validity { seconds }` policy: twice the
/// policy, so that a renewal is due about once per period, capped an hour below AppSync's
/// maximum (the service rounds expiry down to the hour and checks it against its own clock).
pub fn renewal_validity(policy_seconds: i64) -> i64 {
    policy_seconds
        .saturating_mul(2)
        .min(MAX_KEY_VALIDITY - HOUR)
}

/// Remaining validity below which a key is renewed: the policy itself, but never so close to
/// [`renewal_validity`] that a key renewed a moment ago would be renewed again.
pub fn renewal_threshold(policy_seconds: i64) -> i64 {
    policy_seconds.min(renewal_validity(policy_seconds) - DAY)
}

/// The plan that makes the live API match the spec.
pub fn diff(
    desired: &DesiredState,
    observed: &Observation,
    target: Target,
    options: DiffOptions,
) -> Plan {
    let state = &observed.state;
    let mut changes = Vec::new();
    let mut notes = observed.notes.clone();

    if let Some(change) = api_change(
        &desired.api,
        state.api.as_ref(),
        &state.namespaces,
        options.adopt,
    ) {
        changes.push(change);
    }
    let api_defaults = (
        &desired.api.default_publish_auth_modes,
        &desired.api.default_subscribe_auth_modes,
    );
    changes.extend(namespace_changes(
        &desired.namespaces,
        &state.namespaces,
        api_defaults,
        options.prune,
        &mut notes,
    ));
    changes.extend(key_changes(&desired.keys, &state.keys, options, &mut notes));
    finish(
        PlanKind::Apply,
        &desired.api.name,
        state.api.as_ref(),
        changes,
        notes,
        observed,
        target,
        options,
    )
}

/// The plan that deletes the spec's API (its namespaces and keys go with it).
pub fn diff_destroy(api_name: &str, observed: &Observation, target: Target, now: i64) -> Plan {
    let state = &observed.state;
    let mut changes = Vec::new();
    if let Some(api) = &state.api {
        changes.push(Change {
            address: "api".into(),
            resource: ResourceKind::Api,
            name: api.config.name.clone(),
            action: Action::Delete,
            reason: None,
            fields: Vec::new(),
            operation: Operation::DeleteApi { id: api.id.clone() },
        });
        for name in state.namespaces.keys() {
            changes.push(Change {
                address: format!("namespace.{name}"),
                resource: ResourceKind::Namespace,
                name: name.clone(),
                action: Action::Delete,
                reason: Some("deleted with the API".into()),
                fields: Vec::new(),
                operation: Operation::DeletedWithApi,
            });
        }
        for key in sorted_keys(&state.keys) {
            let name = key_display_name(key);
            changes.push(Change {
                address: format!("key.{name}"),
                resource: ResourceKind::Key,
                name,
                action: Action::Delete,
                reason: Some("deleted with the API".into()),
                fields: Vec::new(),
                operation: Operation::DeletedWithApi,
            });
        }
    }
    let options = DiffOptions {
        now,
        prune: true,
        adopt: false,
    };
    finish(
        PlanKind::Destroy,
        api_name,
        state.api.as_ref(),
        changes,
        observed.notes.clone(),
        observed,
        target,
        options,
    )
}

#[allow(clippy::too_many_arguments)]
fn finish(
    kind: PlanKind,
    api_name: &str,
    api: Option<&ObservedApi>,
    changes: Vec<Change>,
    notes: Vec<String>,
    observed: &Observation,
    target: Target,
    options: DiffOptions,
) -> Plan {
    Plan {
        format_version: FORMAT_VERSION.to_string(),
        kind,
        target,
        api: ApiRef {
            name: api_name.to_string(),
            id: api.map(|a| a.id.clone()),
            arn: api.map(|a| a.arn.clone()).filter(|a| !a.is_empty()),
            account: api.and_then(|a| account_of(&a.arn)),
        },
        summary: Summary::of(changes.iter().map(|c| c.action)),
        changes,
        notes,
        basis: Basis {
            fingerprint: observed.fingerprint.clone(),
            code_read: observed.code_read.clone(),
            adopt: options.adopt,
            planned_at: options.now,
        },
    }
}

/// The account id in an ARN (`arn:aws:appsync:region:account:...`).
pub fn account_of(arn: &str) -> Option<String> {
    arn.split(':')
        .nth(4)
        .filter(|a| !a.is_empty())
        .map(str::to_string)
}

// ---- the API ----

fn api_change(
    desired: &ApiConfig,
    observed: Option<&ObservedApi>,
    namespaces: &BTreeMap<String, ObservedNamespace>,
    adopt: bool,
) -> Option<Change> {
    let Some(api) = observed else {
        return Some(Change {
            address: "api".into(),
            resource: ResourceKind::Api,
            name: desired.name.clone(),
            action: Action::Create,
            reason: None,
            fields: field_changes(&Value::Null, &api_view(desired)),
            operation: Operation::CreateApi {
                config: desired.clone(),
            },
        });
    };
    let want = comparable_api(desired);
    let have = comparable_api(&api.config);
    let mut fields = field_changes(
        &api_view(&without_tags(&have)),
        &api_view(&without_tags(&want)),
    );
    let config_changed = !fields.is_empty();

    let (mut tag, untag) = tag_delta(&api.config.tags, &desired.tags);
    let mut tag_fields = field_changes(&tags_view(&api.config.tags), &tags_view(&desired.tags));
    let mut reason = None;
    if !api.owned && adopt {
        tag.insert(OWNER_TAG_KEY.into(), OWNER_TAG_VALUE.into());
        tag_fields.push(FieldChange {
            path: tag_path(OWNER_TAG_KEY),
            old: None,
            new: Some(Value::String(OWNER_TAG_VALUE.into())),
        });
        reason = Some("adopted: evctl did not create this API; --adopt takes it over".into());
    }
    fields.extend(tag_fields);
    if fields.is_empty() {
        return None;
    }
    // AppSync refuses to drop an auth provider that a namespace still names: keep such
    // providers until the namespaces have been updated or deleted.
    let removed: Vec<&AuthProvider> = api
        .config
        .auth_providers
        .iter()
        .filter(|p| {
            !desired
                .auth_providers
                .iter()
                .any(|d| d.auth_type == p.auth_type)
        })
        .filter(|p| {
            namespaces.values().any(|ns| {
                ns.config.publish_auth_modes.contains(&p.auth_type)
                    || ns.config.subscribe_auth_modes.contains(&p.auth_type)
            })
        })
        .collect();
    let interim = (config_changed && !removed.is_empty()).then(|| {
        let mut interim = desired.clone();
        interim
            .auth_providers
            .extend(removed.iter().map(|p| (*p).clone()));
        interim.normalise();
        interim
    });
    if interim.is_some() {
        let types: Vec<&str> = removed.iter().map(|p| p.auth_type.as_str()).collect();
        let note = format!(
            "{} removed only after the namespaces that use it",
            types.join(", ")
        );
        reason = Some(match reason {
            Some(r) => format!("{r}; {note}"),
            None => note,
        });
    }
    Some(Change {
        address: "api".into(),
        resource: ResourceKind::Api,
        name: desired.name.clone(),
        action: Action::Update,
        reason,
        fields,
        operation: Operation::UpdateApi {
            id: api.id.clone(),
            arn: api.arn.clone(),
            config: config_changed.then(|| Box::new(desired.clone())),
            interim: interim.map(Box::new),
            tag,
            untag,
        },
    })
}

fn without_tags(config: &ApiConfig) -> ApiConfig {
    ApiConfig {
        tags: Tags::new(),
        ..config.clone()
    }
}

/// The API config with everything the service treats as equal made equal.
fn comparable_api(config: &ApiConfig) -> ApiConfig {
    let mut c = config.clone();
    c.owner_contact = c.owner_contact.filter(|s| !s.is_empty());
    for p in &mut c.auth_providers {
        if let Some(cog) = &mut p.cognito_config {
            cog.app_id_client_regex = cog.app_id_client_regex.take().filter(|s| !s.is_empty());
        }
        if let Some(oidc) = &mut p.openid_connect_config {
            oidc.client_id = oidc.client_id.take().filter(|s| !s.is_empty());
            oidc.iat_ttl_ms = oidc.iat_ttl_ms.filter(|v| *v != 0);
            oidc.auth_ttl_ms = oidc.auth_ttl_ms.filter(|v| *v != 0);
        }
        if let Some(l) = &mut p.lambda_authorizer_config {
            l.authorizer_result_ttl_in_seconds =
                l.authorizer_result_ttl_in_seconds.filter(|v| *v != 0);
            l.identity_validation_expression = l
                .identity_validation_expression
                .take()
                .filter(|s| !s.is_empty());
        }
    }
    c.normalise();
    c
}

/// The API config as a JSON tree whose leaves are the fields a user recognises: providers are
/// keyed by type, sets are lists.
fn api_view(c: &ApiConfig) -> Value {
    let mut root = serde_json::Map::new();
    root.insert("name".into(), Value::String(c.name.clone()));
    if let Some(o) = &c.owner_contact {
        root.insert("ownerContact".into(), Value::String(o.clone()));
    }
    root.insert(
        "authProviders".into(),
        Value::Array(
            c.auth_providers
                .iter()
                .map(|p| Value::String(p.auth_type.as_str().into()))
                .collect(),
        ),
    );
    for p in &c.auth_providers {
        let mut detail = serde_json::to_value(p).unwrap_or(Value::Null);
        if let Value::Object(map) = &mut detail {
            map.remove("authType");
            if !map.is_empty() {
                root.insert(format!("authProviders.{}", p.auth_type), detail);
            }
        }
    }
    root.insert(
        "connectionAuthModes".into(),
        modes_value(&c.connection_auth_modes),
    );
    root.insert(
        "defaultPublishAuthModes".into(),
        modes_value(&c.default_publish_auth_modes),
    );
    root.insert(
        "defaultSubscribeAuthModes".into(),
        modes_value(&c.default_subscribe_auth_modes),
    );
    if let Some(l) = &c.log_config {
        root.insert(
            "logConfig".into(),
            serde_json::to_value(l).unwrap_or(Value::Null),
        );
    }
    if let Value::Object(tags) = tags_view(&c.tags) {
        root.extend(tags);
    }
    Value::Object(root)
}

fn modes_value(modes: &AuthModes) -> Value {
    Value::Array(
        modes
            .iter()
            .map(|m| Value::String(m.as_str().into()))
            .collect(),
    )
}

fn tag_path(key: &str) -> String {
    format!("tags[{}]", Value::String(key.to_string()))
}

fn tags_view(tags: &Tags) -> Value {
    Value::Object(
        tags.iter()
            .map(|(k, v)| (tag_path(k), Value::String(v.clone())))
            .collect(),
    )
}

/// Tags to set (new or changed) and keys to remove, going from `have` to `want`.
fn tag_delta(have: &Tags, want: &Tags) -> (Tags, Vec<String>) {
    let tag = want
        .iter()
        .filter(|(k, v)| have.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let untag = have
        .keys()
        .filter(|k| !want.contains_key(*k) && k.as_str() != OWNER_TAG_KEY)
        .cloned()
        .collect();
    (tag, untag)
}

/// Leaf-level differences between two JSON trees, in path order. Objects nest with `.`;
/// arrays, strings, numbers and booleans are leaves; `null` and absent are the same.
fn field_changes(old: &Value, new: &Value) -> Vec<FieldChange> {
    let mut old_leaves = BTreeMap::new();
    let mut new_leaves = BTreeMap::new();
    flatten("", old, &mut old_leaves);
    flatten("", new, &mut new_leaves);
    let paths: BTreeSet<&String> = old_leaves.keys().chain(new_leaves.keys()).collect();
    paths
        .into_iter()
        .filter_map(|path| {
            let (o, n) = (old_leaves.get(path), new_leaves.get(path));
            (o != n).then(|| FieldChange {
                path: path.clone(),
                old: o.cloned(),
                new: n.cloned(),
            })
        })
        .collect()
}

fn flatten(prefix: &str, value: &Value, out: &mut BTreeMap<String, Value>) {
    match value {
        Value::Null => {}
        Value::Object(map) => {
            for (k, v) in map {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&path, v, out);
            }
        }
        leaf => {
            out.insert(prefix.to_string(), leaf.clone());
        }
    }
}

// ---- namespaces ----

fn namespace_changes(
    desired: &BTreeMap<String, NamespaceConfig>,
    observed: &BTreeMap<String, ObservedNamespace>,
    api_defaults: (&AuthModes, &AuthModes),
    prune: bool,
    notes: &mut Vec<String>,
) -> Vec<Change> {
    let mut changes = Vec::new();
    let to_create: Vec<&NamespaceConfig> = desired
        .values()
        .filter(|ns| !observed.contains_key(&ns.name))
        .collect();
    let extras: Vec<&ObservedNamespace> = observed
        .values()
        .filter(|ns| !desired.contains_key(&ns.config.name))
        .collect();

    // A created namespace whose configuration equals a deleted one's is that one renamed.
    let mut renamed: BTreeMap<&str, &str> = BTreeMap::new();
    if prune {
        for old in &extras {
            let old_cmp = comparable_namespace(&old.config, None, api_defaults);
            if let Some(new) = to_create.iter().find(|new| {
                !renamed.contains_key(new.name.as_str())
                    && comparable_namespace(new, None, api_defaults)
                        == NamespaceConfig {
                            name: new.name.clone(),
                            ..old_cmp.clone()
                        }
            }) {
                renamed.insert(new.name.as_str(), old.config.name.as_str());
            }
        }
    }
    let replaced: BTreeSet<&str> = renamed.values().copied().collect();

    for (name, want) in desired {
        let change = match observed.get(name) {
            None => match renamed.get(name.as_str()) {
                Some(old_name) => Change {
                    address: format!("namespace.{name}"),
                    resource: ResourceKind::Namespace,
                    name: name.clone(),
                    action: Action::Replace,
                    reason: Some(format!(
                        "renamed from {old_name:?}: a namespace's name cannot change, so \
                         {name:?} is created and {old_name:?} deleted"
                    )),
                    fields: vec![FieldChange {
                        path: "name".into(),
                        old: Some(Value::String((*old_name).to_string())),
                        new: Some(Value::String(name.clone())),
                    }],
                    operation: Operation::ReplaceNamespace {
                        old_name: (*old_name).to_string(),
                        config: want.clone(),
                    },
                },
                None => Change {
                    address: format!("namespace.{name}"),
                    resource: ResourceKind::Namespace,
                    name: name.clone(),
                    action: Action::Create,
                    reason: None,
                    fields: field_changes(&Value::Null, &namespace_view(want)),
                    operation: Operation::CreateNamespace {
                        config: want.clone(),
                    },
                },
            },
            Some(have) => {
                let want_cmp = comparable_namespace(want, None, api_defaults);
                let have_cmp = comparable_namespace(&have.config, Some(want), api_defaults);
                let mut fields = field_changes(
                    &namespace_view(&NamespaceConfig {
                        tags: Tags::new(),
                        ..have_cmp.clone()
                    }),
                    &namespace_view(&NamespaceConfig {
                        tags: Tags::new(),
                        ..want_cmp.clone()
                    }),
                );
                let config_changed = !fields.is_empty();
                fields.extend(field_changes(
                    &tags_view(&have.config.tags),
                    &tags_view(&want.tags),
                ));
                if fields.is_empty() {
                    continue;
                }
                let (tag, untag) = tag_delta(&have.config.tags, &want.tags);
                Change {
                    address: format!("namespace.{name}"),
                    resource: ResourceKind::Namespace,
                    name: name.clone(),
                    action: Action::Update,
                    reason: None,
                    fields,
                    operation: Operation::UpdateNamespace {
                        arn: have.arn.clone(),
                        config: config_changed.then(|| want.clone()),
                        tag,
                        untag,
                    },
                }
            }
        };
        changes.push(change);
    }

    for extra in extras {
        let name = &extra.config.name;
        if replaced.contains(name.as_str()) {
            continue;
        }
        if !prune {
            notes.push(format!(
                "namespace {name:?} is not in the spec; kept because of --no-prune"
            ));
            continue;
        }
        changes.push(Change {
            address: format!("namespace.{name}"),
            resource: ResourceKind::Namespace,
            name: name.clone(),
            action: Action::Delete,
            reason: Some("not in the spec".into()),
            fields: field_changes(&namespace_view(&extra.config), &Value::Null),
            operation: Operation::DeleteNamespace { name: name.clone() },
        });
    }
    changes
}

/// Handler code as the service treats it: line endings and trailing newlines do not count.
pub fn normalise_code(code: Option<&str>) -> Option<String> {
    let code = code?.replace("\r\n", "\n");
    let trimmed = code.trim_end_matches(['\n', '\r']);
    (!trimmed.is_empty()).then(|| trimmed.to_string())
}

/// A namespace with equal-meaning values made equal. For an observed namespace (`desired` is
/// the spec's version of it), auth modes equal to the API defaults count as "inherited" when
/// the spec inherits them: the service may fill the defaults in.
fn comparable_namespace(
    ns: &NamespaceConfig,
    desired: Option<&NamespaceConfig>,
    (default_publish, default_subscribe): (&AuthModes, &AuthModes),
) -> NamespaceConfig {
    let mut c = ns.clone();
    c.code_handlers = normalise_code(ns.code_handlers.as_deref());
    for h in [
        &mut c.handler_configs.on_publish,
        &mut c.handler_configs.on_subscribe,
    ]
    .into_iter()
    .flatten()
    {
        if h.integration.invoke_type.is_none() {
            h.integration.invoke_type = Some(InvokeType::RequestResponse);
        }
    }
    if let Some(d) = desired {
        if d.publish_auth_modes.is_empty() && &c.publish_auth_modes == default_publish {
            c.publish_auth_modes.clear();
        }
        if d.subscribe_auth_modes.is_empty() && &c.subscribe_auth_modes == default_subscribe {
            c.subscribe_auth_modes.clear();
        }
    }
    c
}

fn namespace_view(ns: &NamespaceConfig) -> Value {
    let mut root = serde_json::Map::new();
    root.insert("name".into(), Value::String(ns.name.clone()));
    if !ns.publish_auth_modes.is_empty() {
        root.insert(
            "publishAuthModes".into(),
            modes_value(&ns.publish_auth_modes),
        );
    }
    if !ns.subscribe_auth_modes.is_empty() {
        root.insert(
            "subscribeAuthModes".into(),
            modes_value(&ns.subscribe_auth_modes),
        );
    }
    if let Some(code) = &ns.code_handlers {
        root.insert("codeHandlers".into(), Value::String(code.clone()));
    }
    if ns.handler_configs != HandlerConfigs::default() {
        root.insert(
            "handlerConfigs".into(),
            serde_json::to_value(&ns.handler_configs).unwrap_or(Value::Null),
        );
    }
    if let Value::Object(tags) = tags_view(&ns.tags) {
        root.extend(tags);
    }
    Value::Object(root)
}

// ---- keys ----

fn key_changes(
    desired: &BTreeMap<String, KeyConfig>,
    observed: &[ObservedKey],
    options: DiffOptions,
    notes: &mut Vec<String>,
) -> Vec<Change> {
    let mut changes = Vec::new();
    let mut by_name: BTreeMap<&str, Vec<&ObservedKey>> = BTreeMap::new();
    let mut unnamed = Vec::new();
    for key in sorted_keys(observed) {
        match &key.name {
            Some(name) => by_name.entry(name.as_str()).or_default().push(key),
            None => unnamed.push(key),
        }
    }

    for (name, want) in desired {
        let description = key_description(name, want.description.as_deref());
        let Some(existing) = by_name.remove(name.as_str()) else {
            let expires = match want.expiry {
                KeyExpiry::Validity { seconds } => options.now + renewal_validity(seconds),
                KeyExpiry::At { epoch_seconds } => epoch_seconds,
            };
            changes.push(Change {
                address: format!("key.{name}"),
                resource: ResourceKind::Key,
                name: name.clone(),
                action: Action::Create,
                reason: None,
                fields: key_fields(None, Some((want.description.as_deref(), expires))),
                operation: Operation::CreateKey {
                    name: name.clone(),
                    description,
                    expires,
                },
            });
            continue;
        };
        // The one to keep: the longest-lived (a duplicate can come from a lost answer).
        let mut existing = existing;
        existing.sort_by_key(|k| (std::cmp::Reverse(k.expires), k.id.handle()));
        let Some((keep, duplicates)) = existing.split_first() else {
            continue;
        };
        let new_description = (normalise_text(keep.description.as_deref())
            != normalise_text(want.description.as_deref()))
        .then(|| description.clone());
        let (new_expires, reason) = expiry_change(keep.expires, want.expiry, options.now);
        if new_description.is_some() || new_expires.is_some() {
            changes.push(Change {
                address: format!("key.{name}"),
                resource: ResourceKind::Key,
                name: name.clone(),
                action: Action::Update,
                reason,
                fields: key_fields(
                    Some((keep.description.as_deref(), keep.expires)),
                    Some((
                        want.description.as_deref(),
                        new_expires.unwrap_or(keep.expires),
                    )),
                ),
                operation: Operation::UpdateKey {
                    key: key_ref(keep),
                    description: new_description,
                    expires: new_expires,
                },
            });
        }
        for dup in duplicates {
            let why = format!("another key is also named {name:?}; the longest-lived one is kept");
            if options.prune {
                changes.push(delete_key(dup, why));
            } else {
                notes.push(format!("{why}; the other is kept because of --no-prune"));
            }
        }
    }

    for (name, keys) in by_name {
        for key in keys {
            if options.prune {
                changes.push(delete_key(key, "not in the spec".into()));
            } else {
                notes.push(format!(
                    "key {name:?} is not in the spec; kept because of --no-prune"
                ));
            }
        }
    }
    for key in unnamed {
        let hint = key.id.hint();
        if options.prune {
            changes.push(delete_key(
                key,
                "not created by evctl (its description carries no evctl name)".into(),
            ));
        } else {
            notes.push(format!(
                "key {hint} was not created by evctl; kept because of --no-prune"
            ));
        }
    }
    changes
}

fn normalise_text(s: Option<&str>) -> Option<&str> {
    s.filter(|s| !s.is_empty())
}

/// The new expiry (if one is due) and why.
fn expiry_change(current: i64, policy: KeyExpiry, now: i64) -> (Option<i64>, Option<String>) {
    match policy {
        KeyExpiry::Validity { seconds } => {
            let remaining = current - now;
            if remaining >= renewal_threshold(seconds) {
                return (None, None);
            }
            let why = if remaining <= 0 {
                format!(
                    "renewal: the key expired {} ago; the policy keeps {} of validity",
                    human(-remaining),
                    human(seconds)
                )
            } else {
                format!(
                    "renewal: {} of validity left, below the policy's {}",
                    human(remaining),
                    human(seconds)
                )
            };
            (Some(now + renewal_validity(seconds)), Some(why))
        }
        KeyExpiry::At { epoch_seconds } => {
            // AppSync stores the expiry rounded down to the hour.
            let rounded = epoch_seconds - epoch_seconds.rem_euclid(HOUR);
            if current == epoch_seconds || current == rounded {
                (None, None)
            } else {
                (Some(epoch_seconds), None)
            }
        }
    }
}

/// A duration in the largest whole unit that fits, e.g. `29d`, `5h`, `40m`.
pub fn human(seconds: i64) -> String {
    let s = seconds.max(0);
    if s >= DAY {
        format!("{}d", s / DAY)
    } else if s >= HOUR {
        format!("{}h", s / HOUR)
    } else if s >= 60 {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

fn key_fields(
    old: Option<(Option<&str>, i64)>,
    new: Option<(Option<&str>, i64)>,
) -> Vec<FieldChange> {
    let view = |k: Option<(Option<&str>, i64)>| match k {
        None => Value::Null,
        Some((description, expires)) => {
            let mut m = serde_json::Map::new();
            if let Some(d) = normalise_text(description) {
                m.insert("description".into(), Value::String(d.to_string()));
            }
            m.insert("expires".into(), Value::String(rfc3339(expires)));
            Value::Object(m)
        }
    };
    field_changes(&view(old), &view(new))
}

/// Epoch seconds as an RFC 3339 UTC timestamp.
pub fn rfc3339(epoch_seconds: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(epoch_seconds)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| epoch_seconds.to_string())
}

fn key_ref(key: &ObservedKey) -> KeyRef {
    KeyRef {
        handle: key.id.handle(),
        hint: key.id.hint(),
    }
}

fn key_display_name(key: &ObservedKey) -> String {
    key.name
        .clone()
        .unwrap_or_else(|| format!("(unnamed {})", key.id.hint()))
}

fn delete_key(key: &ObservedKey, reason: String) -> Change {
    let name = key_display_name(key);
    Change {
        address: format!("key.{name}"),
        resource: ResourceKind::Key,
        name,
        action: Action::Delete,
        reason: Some(reason),
        fields: key_fields(Some((key.description.as_deref(), key.expires)), None),
        operation: Operation::DeleteKey { key: key_ref(key) },
    }
}

/// Keys in a stable order: by name (unnamed last), then handle.
fn sorted_keys(keys: &[ObservedKey]) -> Vec<&ObservedKey> {
    let mut sorted: Vec<&ObservedKey> = keys.iter().collect();
    sorted.sort_by_key(|k| (k.name.is_none(), k.name.clone(), k.id.handle()));
    sorted
}
