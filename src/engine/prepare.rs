//! From a spec's desired state (or a saved plan) to a [`Plan`] and the observation it was made
//! from: find the API by evctl's ownership rule, observe it, diff. One function per use, so
//! that plan, apply, destroy and a saved plan's re-check all observe the same way.

use std::collections::BTreeSet;

use anyhow::Context as _;

use super::diff::{DiffOptions, diff, diff_destroy};
use super::observe::{Observation, Unowned, find_api, observe};
use super::plan::{FORMAT_VERSION, Plan, PlanKind};
use crate::control::{ControlPlane, RetryPolicy};
use crate::model::DesiredState;

/// How to read.
#[derive(Debug, Clone, Copy)]
pub struct ReadOptions {
    /// Reads in flight at once (handler-code reads).
    pub concurrency: usize,
    pub retry: RetryPolicy,
}

/// A plan and the observation it was computed from.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub plan: Plan,
    pub observation: Observation,
}

/// Finds the spec's API by name and observes it, with the given treatment of an unowned
/// same-name API. Reads the handler code of the namespaces in `code_for`.
pub async fn find_and_observe<C: ControlPlane>(
    cp: &C,
    api_name: &str,
    unowned: Unowned,
    code_for: &BTreeSet<String>,
    read: ReadOptions,
) -> anyhow::Result<Observation> {
    let lookup = find_api(cp, api_name, &read.retry)
        .await
        .with_context(|| format!("could not list the Event APIs at {}", cp.target()))?;
    let (api, notes) = lookup.select(unowned)?;
    let mut observation = observe(cp, api, code_for, read.concurrency, &read.retry)
        .await
        .with_context(|| format!("could not read the API {api_name:?}"))?;
    observation.notes.extend(notes);
    Ok(observation)
}

/// The plan that makes the live API match `desired`.
pub async fn plan_apply<C: ControlPlane>(
    cp: &C,
    desired: &DesiredState,
    options: DiffOptions,
    read: ReadOptions,
) -> anyhow::Result<Prepared> {
    let unowned = if options.adopt {
        Unowned::Adopt
    } else {
        Unowned::Refuse
    };
    let code_for = desired.namespaces.keys().cloned().collect();
    let observation = find_and_observe(cp, &desired.api.name, unowned, &code_for, read).await?;
    let plan = diff(desired, &observation, cp.target(), options);
    Ok(Prepared { plan, observation })
}

/// The plan that deletes the evctl-owned API named `api_name` (never an unowned one).
pub async fn plan_destroy<C: ControlPlane>(
    cp: &C,
    api_name: &str,
    now: i64,
    read: ReadOptions,
) -> anyhow::Result<Prepared> {
    let observation =
        find_and_observe(cp, api_name, Unowned::Ignore, &BTreeSet::new(), read).await?;
    let plan = diff_destroy(api_name, &observation, cp.target(), now);
    Ok(Prepared { plan, observation })
}

/// Why a saved plan cannot be applied.
#[derive(Debug, thiserror::Error)]
pub enum StalePlan {
    #[error(
        "the plan was made for {planned}, but this run targets {now}; pass the same \
         --endpoint-url/--region (or environment) as when planning"
    )]
    OtherTarget { planned: String, now: String },
    #[error(
        "the live state of API {api:?} has changed since the plan was made, so the plan may no \
         longer be right; run `evctl plan` again and apply the new plan"
    )]
    Moved { api: String },
    #[error("this plan file has format version {found}; this evctl reads {FORMAT_VERSION}")]
    Version { found: String },
}

/// Observes again the way `saved` was observed and refuses if anything moved since.
pub async fn recheck<C: ControlPlane>(
    cp: &C,
    saved: &Plan,
    read: ReadOptions,
) -> anyhow::Result<Observation> {
    let major = |v: &str| v.split('.').next().unwrap_or("").to_string();
    if major(&saved.format_version) != major(FORMAT_VERSION) {
        return Err(StalePlan::Version {
            found: saved.format_version.clone(),
        }
        .into());
    }
    let target = cp.target();
    if target != saved.target {
        return Err(StalePlan::OtherTarget {
            planned: saved.target.to_string(),
            now: target.to_string(),
        }
        .into());
    }
    let unowned = match (saved.kind, saved.basis.adopt) {
        (PlanKind::Destroy, _) => Unowned::Ignore,
        (PlanKind::Apply, true) => Unowned::Adopt,
        (PlanKind::Apply, false) => Unowned::Refuse,
    };
    let observation =
        find_and_observe(cp, &saved.api.name, unowned, &saved.basis.code_read, read).await?;
    if observation.fingerprint != saved.basis.fingerprint {
        return Err(StalePlan::Moved {
            api: saved.api.name.clone(),
        }
        .into());
    }
    Ok(observation)
}
