//! The [`Plan`]: computed once by [`super::diff`], then rendered (text or JSON, by
//! `crate::output`), saved to a file, or executed (by [`super::execute`]). It carries both what
//! to show (field-level changes) and what to do ([`Operation`]s), and never a key value: keys
//! are referred to by a [`KeyRef`] that is resolved against a fresh observation at execution.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::control::Target;
use crate::model::{ApiConfig, NamespaceConfig, Tags};

/// Version of the plan's JSON form (`plan --output json`, `plan --out FILE`). The minor number
/// grows with additions; the major number changes when a field changes meaning or goes away.
pub const FORMAT_VERSION: &str = "1.0";

/// What apply (or destroy) would do, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    pub format_version: String,
    /// `apply` or `destroy`.
    pub kind: PlanKind,
    /// Where the calls go.
    pub target: Target,
    /// The spec's API as found (or not yet created).
    pub api: ApiRef,
    /// In execution order within each phase (see `engine::execute`).
    pub changes: Vec<Change>,
    /// Things the user should know that are not changes (kept extras, unowned same-name APIs).
    pub notes: Vec<String>,
    pub summary: Summary,
    /// What the plan was computed from; `apply FILE` refuses when the live state moved since.
    pub basis: Basis,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanKind {
    Apply,
    Destroy,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiRef {
    pub name: String,
    /// `None` when the API does not exist yet.
    pub id: Option<String>,
    pub arn: Option<String>,
    /// From the API's ARN, when known.
    pub account: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Summary {
    pub add: usize,
    pub change: usize,
    pub destroy: usize,
}

impl Summary {
    pub fn is_empty(&self) -> bool {
        self.add == 0 && self.change == 0 && self.destroy == 0
    }
}

/// The observation a plan was computed from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Basis {
    /// SHA-256 of the observed state (key values replaced by handles).
    pub fingerprint: String,
    /// Namespaces whose handler code was read (needed to observe the same way again).
    pub code_read: BTreeSet<String>,
    /// The plan was made with `--adopt`.
    pub adopt: bool,
    /// When the plan was computed (epoch seconds); key renewals are relative to it.
    pub planned_at: i64,
}

/// One change to one resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Change {
    /// `api`, `namespace.<name>`, `key.<name>`.
    pub address: String,
    pub resource: ResourceKind,
    /// The resource's name (for an unnamed key: a non-secret hint).
    pub name: String,
    pub action: Action,
    /// Why, when it is not obvious (e.g. "renamed from chat", "not in the spec").
    pub reason: Option<String>,
    pub fields: Vec<FieldChange>,
    /// What execution does.
    pub operation: Operation,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResourceKind {
    Api,
    Namespace,
    Key,
}

impl ResourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceKind::Api => "api",
            ResourceKind::Namespace => "namespace",
            ResourceKind::Key => "key",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Create,
    Update,
    /// Delete and create (a renamed namespace).
    Replace,
    Delete,
}

/// One field's old and new value (JSON values; `None` = absent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldChange {
    /// e.g. `ownerContact`, `tags["env"]`, `authProviders.AWS_LAMBDA.lambdaAuthorizerConfig.authorizerUri`.
    pub path: String,
    pub old: Option<serde_json::Value>,
    pub new: Option<serde_json::Value>,
}

/// A key without its value: the handle is a one-way digest of the key (see
/// [`crate::model::Secret::handle`]), the hint its last four characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyRef {
    pub handle: String,
    pub hint: String,
}

/// What executing a change does (the payload of a saved plan).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Operation {
    /// Create the API with the ownership tag added to its tags.
    CreateApi {
        config: ApiConfig,
    },
    /// Update the API (when `config` is set) and its tags. When auth providers that
    /// namespaces still use go away, `interim` (the new configuration that still keeps them) is
    /// set first and `config` only after the namespaces were updated or deleted.
    UpdateApi {
        id: String,
        arn: String,
        config: Option<Box<ApiConfig>>,
        interim: Option<Box<ApiConfig>>,
        tag: Tags,
        untag: Vec<String>,
    },
    DeleteApi {
        id: String,
    },
    CreateNamespace {
        config: NamespaceConfig,
    },
    /// Update the namespace (when `config` is set) and its tags.
    UpdateNamespace {
        arn: String,
        config: Option<NamespaceConfig>,
        tag: Tags,
        untag: Vec<String>,
    },
    /// Create `config`, then delete `old_name` (create before destroy: no gap for clients).
    ReplaceNamespace {
        old_name: String,
        config: NamespaceConfig,
    },
    DeleteNamespace {
        name: String,
    },
    /// `description` is the full AppSync description (carrying the key's evctl name).
    CreateKey {
        name: String,
        description: String,
        expires: i64,
    },
    UpdateKey {
        key: KeyRef,
        description: Option<String>,
        expires: Option<i64>,
    },
    DeleteKey {
        key: KeyRef,
    },
    /// Goes away with the API (destroy): nothing to call.
    DeletedWithApi,
}

impl Plan {
    pub fn has_changes(&self) -> bool {
        !self.changes.is_empty()
    }
}

impl Summary {
    /// Counts actions the way Terraform does: a replacement is one add and one destroy.
    pub fn of(actions: impl IntoIterator<Item = Action>) -> Summary {
        let mut s = Summary::default();
        for action in actions {
            match action {
                Action::Create => s.add += 1,
                Action::Update => s.change += 1,
                Action::Delete => s.destroy += 1,
                Action::Replace => {
                    s.add += 1;
                    s.destroy += 1;
                }
            }
        }
        s
    }
}
