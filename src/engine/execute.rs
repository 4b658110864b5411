//! Executing a [`Plan`] against a [`ControlPlane`], in dependency order:
//!
//! 1. the API (create or update; nothing else can happen without it);
//! 2. namespace and key creates and updates, a few at a time;
//! 3. namespace and key deletes (after the creates, so a renamed namespace never leaves a gap);
//! 4. the API's deletion (destroy), which takes its namespaces and keys with it.
//!
//! A phase starts only when the previous one fully succeeded. Conflicts are retried with
//! backoff; a create whose answer was lost is re-read before it is tried again, so a retry never
//! makes a second API, namespace or key. On interrupt no new step starts, steps in flight finish,
//! and the [`Report`] says what was done.
//!
//! A run that created the API checks at the end for a duplicate made by a concurrent run of the
//! same spec and keeps exactly one ([`super::guard`]); if its own is not the one kept, it deletes
//! it and says so in [`Report::yielded`].

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures_util::StreamExt;

use super::Interrupt;
use super::guard::{self, Resolution};
use super::observe::{Unowned, find_api};
use super::plan::{Action, Change, KeyRef, Operation, Plan, Summary};
use super::retry::{retry_conflicts, retry_while};
use crate::control::{ControlError, ControlPlane, ErrorKind, RetryPolicy};
use crate::model::{
    ApiConfig, NamespaceConfig, OWNER_TAG_KEY, OWNER_TAG_VALUE, ObservedApi, ObservedState, Secret,
    Tags,
};

/// How to execute.
#[derive(Debug, Clone, Copy)]
pub struct ExecOptions {
    /// Namespace and key operations in flight at once.
    pub concurrency: usize,
    pub retry: RetryPolicy,
    /// After creating the API, how long to wait before checking for a duplicate made by a
    /// concurrent run ([`guard::CREATE_SETTLE`]; overlaps the namespace and key phase).
    pub create_settle: Duration,
}

/// What a step does to its resource, for progress lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Create,
    Update,
    Delete,
}

/// Progress of execution, as it happens.
#[derive(Debug)]
pub enum Event<'a> {
    Started {
        address: &'a str,
        step: Step,
    },
    Retrying {
        address: &'a str,
        step: Step,
        error: &'a ControlError,
        delay: Duration,
    },
    Finished {
        address: &'a str,
        step: Step,
        elapsed: Duration,
        /// e.g. "found it already created: the first answer was lost".
        note: Option<&'a str>,
    },
    Failed {
        address: &'a str,
        step: Step,
        error: &'a ControlError,
    },
}

/// Hears about execution progress (the command renders it on stderr).
pub trait Progress: Sync {
    fn event(&self, event: Event<'_>);
}

/// Ignores progress.
pub struct Silent;

impl Progress for Silent {
    fn event(&self, _: Event<'_>) {}
}

/// How each change ended.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "status", content = "error")]
pub enum Status {
    Done,
    Failed(String),
    NotStarted,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Outcome {
    pub address: String,
    pub action: Action,
    #[serde(flatten)]
    pub status: Status,
}

/// What execution did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    pub outcomes: Vec<Outcome>,
    pub interrupted: bool,
    /// The API after execution (created or updated), when the plan touched it; after
    /// yielding, the other run's API.
    #[serde(skip)]
    pub api: Option<ObservedApi>,
    /// Set when a concurrent run created the same API at the same moment and its API was kept:
    /// this run deleted its own, and its other steps went with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub yielded: Option<Yielded>,
}

/// See [`Report::yielded`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Yielded {
    /// The id of the API that stays (the other run's).
    pub survivor: String,
    /// The id of the duplicate this run created and deleted.
    pub deleted: String,
}

impl Report {
    /// What was done, counted like the plan's summary.
    pub fn done(&self) -> Summary {
        Summary::of(
            self.outcomes
                .iter()
                .filter(|o| o.status == Status::Done)
                .map(|o| o.action),
        )
    }

    pub fn failures(&self) -> impl Iterator<Item = (&str, &str)> {
        self.outcomes.iter().filter_map(|o| match &o.status {
            Status::Failed(e) => Some((o.address.as_str(), e.as_str())),
            _ => None,
        })
    }

    pub fn not_started(&self) -> usize {
        self.outcomes
            .iter()
            .filter(|o| o.status == Status::NotStarted)
            .count()
    }

    pub fn succeeded(&self) -> bool {
        !self.interrupted && self.outcomes.iter().all(|o| o.status == Status::Done)
    }
}

/// Phases, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    Api,
    Children,
    Prune,
    /// The API's final configuration, when auth providers go away (see `Operation::UpdateApi`).
    ApiFinal,
    DestroyApi,
}

struct Ctx<'a, C> {
    cp: &'a C,
    options: ExecOptions,
    progress: &'a dyn Progress,
    interrupt: &'a Interrupt,
    api_name: &'a str,
    keys: HashMap<String, Secret>,
    /// The API this run created (or found after a lost answer) and when.
    created: Mutex<Option<(ObservedApi, Instant)>>,
}

/// Executes `plan`. `observed` is a fresh observation of the same live state (it supplies the
/// key values that the plan only refers to).
pub async fn execute<C: ControlPlane>(
    plan: &Plan,
    observed: &ObservedState,
    cp: &C,
    options: ExecOptions,
    progress: &dyn Progress,
    interrupt: &Interrupt,
) -> Report {
    let ctx = Ctx {
        cp,
        options,
        progress,
        interrupt,
        api_name: &plan.api.name,
        keys: observed
            .keys
            .iter()
            .map(|k| (k.id.handle(), k.id.clone()))
            .collect(),
        created: Mutex::new(None),
    };
    // Per change: the statuses of its steps (a replacement has two).
    let mut steps: Vec<Vec<Status>> = plan.changes.iter().map(|_| Vec::new()).collect();
    let mut api_id = plan.api.id.clone();
    let mut api_after = None;
    let mut blocked = false;

    for phase in [
        Phase::Api,
        Phase::Children,
        Phase::Prune,
        Phase::ApiFinal,
        Phase::DestroyApi,
    ] {
        let work: Vec<(usize, Step)> = plan
            .changes
            .iter()
            .enumerate()
            .flat_map(|(i, c)| {
                steps_of(c)
                    .into_iter()
                    .filter(|(p, _)| *p == phase)
                    .map(move |(_, s)| (i, s))
            })
            .collect();
        if work.is_empty() {
            continue;
        }
        if blocked || interrupt.is_triggered() {
            for (i, _) in work {
                steps[i].push(Status::NotStarted);
            }
            continue;
        }
        let concurrency = match phase {
            Phase::Children | Phase::Prune => options.concurrency.max(1),
            Phase::Api | Phase::ApiFinal | Phase::DestroyApi => 1,
        };
        let id = api_id.clone();
        let results: Vec<(usize, Status, Option<ObservedApi>)> = futures_util::stream::iter(work)
            .map(|(i, step)| {
                let ctx = &ctx;
                let change = &plan.changes[i];
                let id = id.clone();
                async move {
                    if ctx.interrupt.is_triggered() {
                        return (i, Status::NotStarted, None);
                    }
                    let (status, api) = run(ctx, change, phase, step, id.as_deref()).await;
                    (i, status, api)
                }
            })
            .buffer_unordered(concurrency)
            .collect()
            .await;
        for (i, status, api) in results {
            if status != Status::Done {
                blocked = true;
            }
            if let Some(api) = api {
                api_id = Some(api.id.clone());
                api_after = Some(api);
            }
            steps[i].push(status);
        }
    }

    // The concurrent-apply guard, once everything else is done (the settle overlaps it).
    let mut yielded = None;
    let created = ctx.created.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some((mine, at)) = created {
        match guard::resolve(cp, &mine, at + options.create_settle, &options.retry).await {
            Ok(Resolution::Survived) => {}
            Ok(Resolution::Yielded { survivor, deleted }) => {
                yielded = Some(Yielded {
                    survivor: survivor.id.clone(),
                    deleted,
                });
                api_after = Some(*survivor);
            }
            Err(e) => {
                let error = format!(
                    "created, but checking for a duplicate made by a concurrent run failed: {e}"
                );
                for (c, s) in plan.changes.iter().zip(steps.iter_mut()) {
                    if matches!(c.operation, Operation::CreateApi { .. }) {
                        s.push(Status::Failed(error.clone()));
                    }
                }
            }
        }
    }

    let deleted_api = plan.changes.iter().zip(&steps).any(|(c, s)| {
        matches!(c.operation, Operation::DeleteApi { .. }) && s.iter().all(|s| *s == Status::Done)
    });
    let outcomes = plan
        .changes
        .iter()
        .zip(steps)
        .map(|(c, s)| Outcome {
            address: c.address.clone(),
            action: c.action,
            status: if matches!(c.operation, Operation::DeletedWithApi) {
                if deleted_api {
                    Status::Done
                } else {
                    Status::NotStarted
                }
            } else {
                s.iter()
                    .find(|s| **s != Status::Done)
                    .cloned()
                    .unwrap_or(Status::Done)
            },
        })
        .collect();
    Report {
        outcomes,
        interrupted: interrupt.is_triggered(),
        api: api_after,
        yielded,
    }
}

/// The steps of a change and their phases.
fn steps_of(change: &Change) -> Vec<(Phase, Step)> {
    match change.operation {
        Operation::CreateApi { .. } => vec![(Phase::Api, Step::Create)],
        Operation::UpdateApi { ref interim, .. } => match interim {
            Some(_) => vec![(Phase::Api, Step::Update), (Phase::ApiFinal, Step::Update)],
            None => vec![(Phase::Api, Step::Update)],
        },
        Operation::DeleteApi { .. } => vec![(Phase::DestroyApi, Step::Delete)],
        Operation::CreateNamespace { .. } | Operation::CreateKey { .. } => {
            vec![(Phase::Children, Step::Create)]
        }
        Operation::UpdateNamespace { .. } | Operation::UpdateKey { .. } => {
            vec![(Phase::Children, Step::Update)]
        }
        Operation::ReplaceNamespace { .. } => {
            vec![
                (Phase::Children, Step::Create),
                (Phase::Prune, Step::Delete),
            ]
        }
        Operation::DeleteNamespace { .. } | Operation::DeleteKey { .. } => {
            vec![(Phase::Prune, Step::Delete)]
        }
        Operation::DeletedWithApi => Vec::new(),
    }
}

/// Runs one step, reporting progress.
async fn run<C: ControlPlane>(
    ctx: &Ctx<'_, C>,
    change: &Change,
    phase: Phase,
    step: Step,
    api_id: Option<&str>,
) -> (Status, Option<ObservedApi>) {
    let address = change.address.as_str();
    ctx.progress.event(Event::Started { address, step });
    let started = Instant::now();
    let result = perform(ctx, change, phase, api_id).await;
    match result {
        Ok((api, note)) => {
            ctx.progress.event(Event::Finished {
                address,
                step,
                elapsed: started.elapsed(),
                note: note.as_deref(),
            });
            (Status::Done, api)
        }
        Err(error) => {
            ctx.progress.event(Event::Failed {
                address,
                step,
                error: &error,
            });
            (Status::Failed(error.to_string()), None)
        }
    }
}

type StepResult = Result<(Option<ObservedApi>, Option<String>), ControlError>;

const LOST_ANSWER: &str = "found it already made: an earlier answer was lost";

async fn perform<C: ControlPlane>(
    ctx: &Ctx<'_, C>,
    change: &Change,
    phase: Phase,
    api_id: Option<&str>,
) -> StepResult {
    let cp = ctx.cp;
    let retry = &ctx.options.retry;
    let need_id = || {
        api_id.ok_or_else(|| {
            ControlError::new(
                ErrorKind::Other,
                "apply",
                "the API does not exist (its creation did not finish)",
            )
        })
    };
    match (&change.operation, phase) {
        (Operation::CreateApi { config }, _) => create_api(ctx, &change.address, config).await,
        (
            Operation::UpdateApi {
                id,
                config: Some(config),
                ..
            },
            Phase::ApiFinal,
        ) => Ok((
            Some(retry_conflicts(retry, || cp.update_api(id, config)).await?),
            None,
        )),
        (
            Operation::UpdateApi {
                id,
                arn,
                config,
                interim,
                tag,
                untag,
            },
            _,
        ) => {
            // Tag first: an adopted API is owned from here on, even if the update fails.
            set_tags(ctx, arn, tag, untag).await?;
            let api = match interim.as_ref().or(config.as_ref()) {
                Some(config) => Some(retry_conflicts(retry, || cp.update_api(id, config)).await?),
                None => None,
            };
            Ok((api, None))
        }
        (Operation::DeleteApi { id }, _) => {
            ignore_not_found(retry_conflicts(retry, || cp.delete_api(id)).await)?;
            Ok((None, None))
        }
        (Operation::CreateNamespace { config }, _)
        | (Operation::ReplaceNamespace { config, .. }, Phase::Children) => {
            create_namespace(ctx, &change.address, need_id()?, config).await
        }
        (Operation::ReplaceNamespace { old_name, .. }, _)
        | (Operation::DeleteNamespace { name: old_name }, _) => {
            let id = need_id()?;
            ignore_not_found(retry_conflicts(retry, || cp.delete_namespace(id, old_name)).await)?;
            Ok((None, None))
        }
        (
            Operation::UpdateNamespace {
                arn,
                config,
                tag,
                untag,
            },
            _,
        ) => {
            let id = need_id()?;
            if let Some(config) = config {
                retry_conflicts(retry, || cp.update_namespace(id, config)).await?;
            }
            set_tags(ctx, arn, tag, untag).await?;
            Ok((None, None))
        }
        (
            Operation::CreateKey {
                name,
                description,
                expires,
            },
            _,
        ) => {
            create_key(
                ctx,
                &change.address,
                need_id()?,
                name,
                description,
                *expires,
            )
            .await
        }
        (
            Operation::UpdateKey {
                key,
                description,
                expires,
            },
            _,
        ) => {
            let id = need_id()?;
            let secret = resolve(ctx, key)?;
            retry_conflicts(retry, || {
                cp.update_key(id, secret, description.as_deref(), *expires)
            })
            .await?;
            Ok((None, None))
        }
        (Operation::DeleteKey { key }, _) => {
            let id = need_id()?;
            // A key that is gone already is what we wanted.
            let Ok(secret) = resolve(ctx, key) else {
                return Ok((None, Some("already gone".into())));
            };
            ignore_not_found(retry_conflicts(retry, || cp.delete_key(id, secret)).await)?;
            Ok((None, None))
        }
        (Operation::DeletedWithApi, _) => Ok((None, None)),
    }
}

fn resolve<'a, C>(ctx: &'a Ctx<'_, C>, key: &KeyRef) -> Result<&'a Secret, ControlError> {
    ctx.keys.get(&key.handle).ok_or_else(|| {
        ControlError::new(
            ErrorKind::NotFound,
            "apply",
            format!("key {} no longer exists", key.hint),
        )
    })
}

fn ignore_not_found(result: Result<(), ControlError>) -> Result<(), ControlError> {
    match result {
        Err(e) if e.is_not_found() => Ok(()),
        other => other,
    }
}

async fn set_tags<C: ControlPlane>(
    ctx: &Ctx<'_, C>,
    arn: &str,
    tag: &Tags,
    untag: &[String],
) -> Result<(), ControlError> {
    let retry = &ctx.options.retry;
    if !tag.is_empty() {
        retry_conflicts(retry, || ctx.cp.tag_resource(arn, tag)).await?;
    }
    if !untag.is_empty() {
        retry_conflicts(retry, || ctx.cp.untag_resource(arn, untag)).await?;
    }
    Ok(())
}

/// A create, retried after transient errors; before each retry (except after a refusal:
/// throttling, or a parent not found), `reread` checks whether the earlier attempt took effect.
/// With `parent_may_lag`, "not found" is retried too: right after CreateApi, AWS may not know
/// the new API everywhere yet (it is eventually consistent).
async fn create_with_reread<T, C, F, Fut, R, RFut>(
    ctx: &Ctx<'_, C>,
    address: &str,
    parent_may_lag: bool,
    mut create: F,
    mut reread: R,
) -> Result<(T, bool), ControlError>
where
    C: ControlPlane,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, ControlError>>,
    R: FnMut() -> RFut,
    RFut: std::future::Future<Output = Result<Option<T>, ControlError>>,
{
    // After a refusal (throttling) the request surely did not take effect; after anything else
    // it may have.
    let check_first = std::cell::Cell::new(false);
    retry_while(
        &ctx.options.retry,
        Some(ctx.interrupt),
        |e| e.is_transient() || (parent_may_lag && e.is_not_found()),
        || {
            let check = check_first.get();
            let create = create();
            let reread = reread();
            async move {
                if check && let Some(found) = reread.await? {
                    return Ok((found, true));
                }
                create.await.map(|t| (t, false))
            }
        },
        |error, delay| {
            check_first.set(!matches!(
                error.kind,
                ErrorKind::Throttled | ErrorKind::NotFound
            ));
            ctx.progress.event(Event::Retrying {
                address,
                step: Step::Create,
                error,
                delay,
            });
        },
    )
    .await
}

async fn create_api<C: ControlPlane>(
    ctx: &Ctx<'_, C>,
    address: &str,
    config: &ApiConfig,
) -> StepResult {
    let mut tags = config.tags.clone();
    tags.insert(OWNER_TAG_KEY.into(), OWNER_TAG_VALUE.into());
    let retry = ctx.options.retry;
    let (api, found) = create_with_reread(
        ctx,
        address,
        false,
        || ctx.cp.create_api(config, &tags),
        || async move {
            let lookup = find_api(ctx.cp, ctx.api_name, &retry).await?;
            match lookup.select(Unowned::Ignore) {
                Ok((found, _)) => Ok(found.map(|l| l.api)),
                Err(e) => Err(ControlError::new(
                    ErrorKind::Other,
                    "CreateApi",
                    e.to_string(),
                )),
            }
        },
    )
    .await?;
    *ctx.created.lock().unwrap_or_else(|e| e.into_inner()) = Some((api.clone(), Instant::now()));
    Ok((Some(api), found.then(|| LOST_ANSWER.to_string())))
}

async fn create_namespace<C: ControlPlane>(
    ctx: &Ctx<'_, C>,
    address: &str,
    api_id: &str,
    config: &NamespaceConfig,
) -> StepResult {
    let retry = ctx.options.retry;
    let (_, found) = create_with_reread(
        ctx,
        address,
        true,
        || ctx.cp.create_namespace(api_id, config),
        || async move {
            match retry_conflicts(&retry, || ctx.cp.get_namespace(api_id, &config.name)).await {
                Ok(ns) => Ok(Some(ns)),
                Err(e) if e.is_not_found() => Ok(None),
                Err(e) => Err(e),
            }
        },
    )
    .await?;
    Ok((None, found.then(|| LOST_ANSWER.to_string())))
}

async fn create_key<C: ControlPlane>(
    ctx: &Ctx<'_, C>,
    address: &str,
    api_id: &str,
    name: &str,
    description: &str,
    expires: i64,
) -> StepResult {
    let retry = ctx.options.retry;
    let (_, found) = create_with_reread(
        ctx,
        address,
        true,
        || ctx.cp.create_key(api_id, description, expires),
        || async move {
            let keys = retry_conflicts(&retry, || ctx.cp.list_keys(api_id)).await?;
            Ok(keys.into_iter().find(|k| k.name.as_deref() == Some(name)))
        },
    )
    .await?;
    Ok((None, found.then(|| LOST_ANSWER.to_string())))
}
