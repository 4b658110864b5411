//! The concurrent-apply guard. AppSync's CreateApi has no idempotency token, so two applies of
//! one spec started at the same moment (two CI jobs) both see no API and both create one. After
//! creating, each run checks the owned APIs of its name and exactly one survives,
//! deterministically: the oldest by `created`, then the lowest id. A run whose API is not the
//! survivor deletes its own ([`resolve`]) and then waits for the survivor to converge
//! ([`await_other_run`]) instead of racing the winner on its namespaces and keys.
//!
//! Why the check waits [`CREATE_SETTLE`] after the create: `created` has one-second
//! resolution, so an API created later in the same second could sort before this one by id. By
//! the time the settle has passed, the service's clock has moved past this API's second, so
//! every API that could still sort before it is already created and listed; all runs then see
//! the same oldest API and agree. The settle overlaps the namespace and key phase (the check
//! runs when execution is done), so it costs at most what is left of it. This assumes ListApis
//! shows an API once its CreateApi has answered (the emulator does; AWS is eventually
//! consistent, and the settle also absorbs a short lag).

use std::time::{Duration, Instant};

use super::observe::{IdentityError, find_api};
use super::prepare::{Prepared, ReadOptions, plan_apply};
use super::retry::{pause, retry_conflicts};
use super::{DiffOptions, Interrupt};
use crate::control::{ControlError, ControlPlane, RetryPolicy};
use crate::model::{DesiredState, ObservedApi};

/// How long after its CreateApi answered a run checks for concurrent duplicates (more than the
/// one-second resolution of `created`).
pub const CREATE_SETTLE: Duration = Duration::from_millis(1100);

/// Environment variable overriding [`CREATE_SETTLE`], e.g. `2s` (or `0s` where no two applies of
/// one spec can ever run at once, such as most tests).
pub const ENV_CREATE_SETTLE: &str = "EVCTL_CREATE_SETTLE";

/// [`CREATE_SETTLE`], or the `EVCTL_CREATE_SETTLE` override from `env` (a lookup, so tests need no
/// process environment).
pub fn settle_from_env(env: impl Fn(&str) -> Option<String>) -> anyhow::Result<Duration> {
    match env(ENV_CREATE_SETTLE) {
        None => Ok(CREATE_SETTLE),
        Some(v) => humantime::parse_duration(v.trim())
            .map_err(|e| anyhow::anyhow!("{ENV_CREATE_SETTLE}={v:?}: {e} (e.g. 1100ms, 2s, 0s)")),
    }
}

/// How often a run that yielded re-plans against the surviving API.
pub const POLL_INTERVAL: Duration = Duration::from_millis(500);

/// How long the survivor's state may stay unchanged (and unconverged) before the yielding run
/// stops waiting and finishes the work itself (the winner may have failed or been cancelled).
pub const STALL_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a set of same-name owned APIs must stay unchanged before apply treats it as a real
/// duplicate rather than a creation race that other runs are still resolving.
pub const RACE_QUIET: Duration = Duration::from_millis(3 * 1100);

/// The outcome of the check after a create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// This run's API is the one that stays.
    Survived,
    /// Another run's API stays; this run deleted its own duplicate (`deleted`).
    Yielded {
        survivor: Box<ObservedApi>,
        deleted: String,
    },
}

/// Waits until `settle_until`, lists the owned APIs named like `mine`, and keeps the oldest
/// (then lowest id). If that is not `mine`, deletes `mine` (its namespaces and keys go with it).
pub async fn resolve<C: ControlPlane>(
    cp: &C,
    mine: &ObservedApi,
    settle_until: Instant,
    retry: &RetryPolicy,
) -> Result<Resolution, ControlError> {
    // Not cut short by an interrupt: leaving a duplicate behind would be worse than a second's
    // wait.
    tokio::time::sleep_until(settle_until.into()).await;
    let lookup = find_api(cp, &mine.config.name, retry).await?;
    let survivor = lookup.owned.into_iter().map(|l| l.api).min_by(|a, b| {
        (a.created.unwrap_or(i64::MAX), &a.id).cmp(&(b.created.unwrap_or(i64::MAX), &b.id))
    });
    match survivor {
        // Not listed yet (eventual consistency) or ours: ours stays.
        None => Ok(Resolution::Survived),
        Some(s) if s.id == mine.id => Ok(Resolution::Survived),
        Some(survivor) => {
            match retry_conflicts(retry, || cp.delete_api(&mine.id)).await {
                Err(e) if !e.is_not_found() => return Err(e),
                _ => {}
            }
            Ok(Resolution::Yielded {
                survivor: Box::new(survivor),
                deleted: mine.id.clone(),
            })
        }
    }
}

/// [`plan_apply`] for `evctl apply`, waiting out a creation race in progress: a run that starts
/// while concurrent runs are still deleting their duplicates sees several owned APIs of one
/// name. While that set of ids keeps changing it plans again every `poll`; once the set has
/// stayed the same for `quiet`, the duplicates are real and the error stands.
pub async fn plan_apply_after_races<C: ControlPlane>(
    cp: &C,
    desired: &DesiredState,
    options: DiffOptions,
    read: ReadOptions,
    poll: Duration,
    quiet: Duration,
) -> anyhow::Result<Prepared> {
    let mut last: Option<(Vec<String>, Instant)> = None;
    loop {
        let err = match plan_apply(cp, desired, options, read).await {
            Ok(prepared) => return Ok(prepared),
            Err(err) => err,
        };
        let Some(IdentityError::DuplicateOwned { ids, .. }) = err.downcast_ref::<IdentityError>()
        else {
            return Err(err);
        };
        let mut ids = ids.clone();
        ids.sort();
        match &last {
            Some((seen, since)) if *seen == ids => {
                if since.elapsed() >= quiet {
                    return Err(err);
                }
            }
            _ => last = Some((ids, Instant::now())),
        }
        tokio::time::sleep(poll).await;
    }
}

/// How waiting for the surviving run ended.
#[derive(Debug)]
pub enum Wait {
    /// The survivor matches the spec: nothing left to do (the plan is empty).
    Converged(Prepared),
    /// The survivor stopped changing before matching the spec: this plan finishes the job.
    Stalled(Prepared),
    Interrupted,
}

/// Re-plans against the surviving API every `poll` until the plan is empty, or until the live
/// state has not changed for `stall` (then the caller executes the returned plan itself).
/// A transient second owned API (another yielding run not done deleting its own) is waited
/// out too, up to `stall`. `now` gives the plan's clock (epoch seconds) at each poll.
#[allow(clippy::too_many_arguments)]
pub async fn await_other_run<C: ControlPlane>(
    cp: &C,
    desired: &DesiredState,
    options: DiffOptions,
    read: ReadOptions,
    now: impl Fn() -> i64,
    poll: Duration,
    stall: Duration,
    interrupt: &Interrupt,
) -> anyhow::Result<Wait> {
    let mut last: Option<(String, Instant)> = None;
    let started = Instant::now();
    loop {
        if interrupt.is_triggered() {
            return Ok(Wait::Interrupted);
        }
        let options = DiffOptions {
            now: now(),
            ..options
        };
        match plan_apply(cp, desired, options, read).await {
            Ok(prepared) if !prepared.plan.has_changes() => return Ok(Wait::Converged(prepared)),
            Ok(prepared) => {
                let fingerprint = prepared.observation.fingerprint.clone();
                match &last {
                    Some((seen, since)) if *seen == fingerprint => {
                        if since.elapsed() >= stall {
                            return Ok(Wait::Stalled(prepared));
                        }
                    }
                    _ => last = Some((fingerprint, Instant::now())),
                }
            }
            Err(e)
                if matches!(
                    e.downcast_ref::<IdentityError>(),
                    Some(IdentityError::DuplicateOwned { .. })
                ) && started.elapsed() < stall => {}
            Err(e) => return Err(e),
        }
        if !pause(poll, Some(interrupt)).await {
            return Ok(Wait::Interrupted);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_settle_can_be_overridden_from_the_environment() {
        assert_eq!(settle_from_env(|_| None).expect("default"), CREATE_SETTLE);
        let set = |v: &'static str| move |k: &str| (k == ENV_CREATE_SETTLE).then(|| v.to_string());
        assert_eq!(
            settle_from_env(set("2s")).expect("2s"),
            Duration::from_secs(2)
        );
        assert_eq!(settle_from_env(set(" 0s ")).expect("0s"), Duration::ZERO);
        assert!(settle_from_env(set("soon")).is_err());
    }
}
