//! Finding the spec's API and reading what exists, in as few round trips as AppSync allows:
//! ListApis (all pages); then GetApi (only if the listing lacked the configuration),
//! ListChannelNamespaces and ListApiKeys at once; then GetChannelNamespace for the namespaces
//! whose handler code the listing did not report, a few at a time.
//!
//! Shared by plan/apply/destroy/outputs and by the commands that look an API up by name (smoke,
//! list, keys): [`find_api`] + [`Lookup::select`] is the one ownership rule.

use std::collections::BTreeSet;

use futures_util::{StreamExt, TryStreamExt};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::retry::retry_conflicts;
use crate::control::{ControlError, ControlPlane, ListedApi, RetryPolicy};
use crate::model::{OWNER_TAG_KEY, OWNER_TAG_VALUE, ObservedApi, ObservedState};

/// What exists, and how it was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    pub state: ObservedState,
    /// Namespaces whose handler code is known exactly (read with GetChannelNamespace, or
    /// reported by the listing).
    pub code_read: BTreeSet<String>,
    /// See [`fingerprint`].
    pub fingerprint: String,
    /// Facts worth telling the user (e.g. a same-name API evctl leaves alone).
    pub notes: Vec<String>,
}

/// The APIs with the spec's name, split by ownership.
#[derive(Debug, Clone, Default)]
pub struct Lookup {
    pub name: String,
    pub owned: Vec<ListedApi>,
    pub unowned: Vec<ListedApi>,
}

/// Why the spec's API cannot be identified safely.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    #[error(
        "{} APIs named {name:?} carry evctl's ownership tag ({}); evctl cannot tell which one the \
         spec means. Delete the extra ones (e.g. `aws appsync delete-api --api-id ID`) and run again",
        ids.len(), ids.join(", ")
    )]
    DuplicateOwned { name: String, ids: Vec<String> },
    #[error(
        "an API named {name:?} exists ({}) but evctl did not create it (it has no \
         {OWNER_TAG_KEY}={OWNER_TAG_VALUE} tag), so evctl will not touch it. Run with --adopt to \
         take it over, or give the spec's API another name",
        ids.join(", ")
    )]
    Unowned { name: String, ids: Vec<String> },
    #[error(
        "cannot adopt: {} APIs are named {name:?} ({}) and none is owned by evctl; delete or \
         rename all but one first",
        ids.len(), ids.join(", ")
    )]
    AmbiguousAdoption { name: String, ids: Vec<String> },
}

/// What to do with a same-name API that evctl does not own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unowned {
    /// Refuse (plan/apply without --adopt).
    Refuse,
    /// Take it over (plan/apply with --adopt).
    Adopt,
    /// Leave it alone and carry on as if it did not exist (destroy, outputs).
    Ignore,
}

/// Lists every API (all pages) and keeps those named `name`.
pub async fn find_api<C: ControlPlane>(
    cp: &C,
    name: &str,
    retry: &RetryPolicy,
) -> Result<Lookup, ControlError> {
    let all = retry_conflicts(retry, || cp.list_apis()).await?;
    let (owned, unowned) = all
        .into_iter()
        .filter(|l| l.api.config.name == name)
        .partition(|l| l.api.owned);
    Ok(Lookup {
        name: name.to_string(),
        owned,
        unowned,
    })
}

impl Lookup {
    /// The API the spec means, if any, by evctl's ownership rule; plus notes for the user.
    pub fn select(
        self,
        unowned: Unowned,
    ) -> Result<(Option<ListedApi>, Vec<String>), IdentityError> {
        let ids = |v: &[ListedApi]| v.iter().map(|l| l.api.id.clone()).collect::<Vec<_>>();
        let name = self.name.clone();
        let mut notes = Vec::new();
        if self.owned.len() > 1 {
            return Err(IdentityError::DuplicateOwned {
                name,
                ids: ids(&self.owned),
            });
        }
        if !self.unowned.is_empty() && (!self.owned.is_empty() || unowned == Unowned::Ignore) {
            notes.push(format!(
                "an API named {name:?} that evctl did not create ({}) is left alone",
                ids(&self.unowned).join(", ")
            ));
        }
        if let Some(api) = self.owned.into_iter().next() {
            return Ok((Some(api), notes));
        }
        match (unowned, self.unowned.len()) {
            (_, 0) | (Unowned::Ignore, _) => Ok((None, notes)),
            (Unowned::Refuse, _) => Err(IdentityError::Unowned {
                name,
                ids: ids(&self.unowned),
            }),
            (Unowned::Adopt, 1) => Ok((self.unowned.into_iter().next(), notes)),
            (Unowned::Adopt, _) => Err(IdentityError::AmbiguousAdoption {
                name,
                ids: ids(&self.unowned),
            }),
        }
    }
}

/// Reads the API's configuration, namespaces and keys. Handler code is read (GetChannelNamespace)
/// for the namespaces in `code_for` whose listing did not report it.
pub async fn observe<C: ControlPlane>(
    cp: &C,
    api: Option<ListedApi>,
    code_for: &BTreeSet<String>,
    concurrency: usize,
    retry: &RetryPolicy,
) -> Result<Observation, ControlError> {
    let Some(listed) = api else {
        let state = ObservedState::default();
        return Ok(Observation {
            fingerprint: fingerprint(&state),
            state,
            code_read: BTreeSet::new(),
            notes: Vec::new(),
        });
    };
    let id = listed.api.id.clone();
    let api_read = async {
        if listed.complete {
            Ok(listed.api.clone())
        } else {
            retry_conflicts(retry, || cp.get_api(&id)).await
        }
    };
    let (api, namespaces, keys) = tokio::try_join!(
        api_read,
        retry_conflicts(retry, || cp.list_namespaces(&id)),
        retry_conflicts(retry, || cp.list_keys(&id)),
    )?;

    let mut state = ObservedState {
        api: Some(api),
        namespaces: namespaces
            .into_iter()
            .map(|ns| (ns.config.name.clone(), ns))
            .collect(),
        keys,
    };
    let to_read: Vec<String> = state
        .namespaces
        .values()
        .filter(|ns| code_for.contains(&ns.config.name) && ns.config.code_handlers.is_none())
        .map(|ns| ns.config.name.clone())
        .collect();
    let id = id.as_str();
    let full: Vec<_> = futures_util::stream::iter(to_read.iter())
        .map(|name| retry_conflicts(retry, move || cp.get_namespace(id, name)))
        .buffer_unordered(concurrency.max(1))
        .try_collect()
        .await?;
    for ns in full {
        state.namespaces.insert(ns.config.name.clone(), ns);
    }
    let code_read = state
        .namespaces
        .values()
        .filter(|ns| code_for.contains(&ns.config.name))
        .map(|ns| ns.config.name.clone())
        .collect();
    Ok(Observation {
        fingerprint: fingerprint(&state),
        state,
        code_read,
        notes: Vec::new(),
    })
}

/// A digest of everything observed (key values replaced by their handles), so that a saved
/// plan can tell whether the live state moved since it was made.
pub fn fingerprint(state: &ObservedState) -> String {
    #[derive(Serialize)]
    struct Key<'a> {
        handle: String,
        name: &'a Option<String>,
        description: &'a Option<String>,
        expires: i64,
        deletes: i64,
    }
    #[derive(Serialize)]
    struct View<'a> {
        api: &'a Option<ObservedApi>,
        namespaces: &'a std::collections::BTreeMap<String, crate::model::ObservedNamespace>,
        keys: Vec<Key<'a>>,
    }
    let mut keys: Vec<Key> = state
        .keys
        .iter()
        .map(|k| Key {
            handle: k.id.handle(),
            name: &k.name,
            description: &k.description,
            expires: k.expires,
            deletes: k.deletes,
        })
        .collect();
    keys.sort_by(|a, b| a.handle.cmp(&b.handle));
    let view = View {
        api: &state.api,
        namespaces: &state.namespaces,
        keys,
    };
    let json = serde_json::to_vec(&view).unwrap_or_default();
    hex::encode(Sha256::digest(&json))
}
