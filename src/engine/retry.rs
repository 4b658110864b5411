//! evctl's own retries, on top of the SDK's: 409 conflicts (ConflictException,
//! ConcurrentModificationException), which the SDK does not retry and AWS asks clients to retry
//! after a pause.

use std::future::Future;
use std::time::Duration;

use super::Interrupt;
use crate::control::{ControlError, ErrorKind, RetryPolicy};

/// Runs `attempt` until it succeeds, fails with something other than a conflict, or the policy's
/// attempts are used up.
pub async fn retry_conflicts<T, F, Fut>(policy: &RetryPolicy, attempt: F) -> Result<T, ControlError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ControlError>>,
{
    retry_while(
        policy,
        None,
        |e| e.kind == ErrorKind::Conflict,
        attempt,
        |_, _| {},
    )
    .await
}

/// Runs `attempt` again after a backoff while `retryable` says so and attempts remain;
/// `on_retry` hears about each retry before the pause. An interrupt cuts a pause short and
/// returns the last error (nothing is in flight during a pause).
pub async fn retry_while<T, F, Fut>(
    policy: &RetryPolicy,
    interrupt: Option<&Interrupt>,
    retryable: impl Fn(&ControlError) -> bool,
    mut attempt: F,
    mut on_retry: impl FnMut(&ControlError, Duration),
) -> Result<T, ControlError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ControlError>>,
{
    let mut n = 1;
    loop {
        match attempt().await {
            Err(e) if retryable(&e) && n < policy.max_attempts => {
                let delay = policy.backoff(n);
                on_retry(&e, delay);
                if !pause(delay, interrupt).await {
                    return Err(e);
                }
                n += 1;
            }
            other => return other,
        }
    }
}

/// Sleeps for `delay`; `false` if interrupted first.
pub async fn pause(delay: Duration, interrupt: Option<&Interrupt>) -> bool {
    match interrupt {
        None => {
            tokio::time::sleep(delay).await;
            true
        }
        Some(i) => tokio::select! {
            _ = tokio::time::sleep(delay) => true,
            _ = i.triggered() => false,
        },
    }
}
