//! The declarative engine: [`diff`] (desired, observed) -> [`Plan`] (pure), [`observe`] to read
//! what exists, and [`execute`] to carry a plan out against a [`crate::control::ControlPlane`].
//! Knows neither YAML nor the SDK.

pub mod diff;
pub mod execute;
pub mod guard;
pub mod observe;
pub mod plan;
pub mod prepare;
pub mod retry;

#[cfg(test)]
pub(crate) mod memory;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use tokio::sync::watch;

pub use diff::{DiffOptions, diff, diff_destroy};
pub use execute::{Event, ExecOptions, Progress, Report, Silent, Status, Step, Yielded, execute};
pub use observe::{IdentityError, Lookup, Observation, Unowned, find_api, observe};
pub use plan::{Action, Change, FieldChange, Operation, Plan, PlanKind, ResourceKind, Summary};
pub use prepare::{
    Prepared, ReadOptions, StalePlan, find_and_observe, plan_apply, plan_destroy, recheck,
};

/// A Ctrl-C (or SIGTERM) request: once triggered, no new step starts.
#[derive(Debug, Clone)]
pub struct Interrupt {
    tx: Arc<watch::Sender<bool>>,
}

impl Default for Interrupt {
    fn default() -> Self {
        Interrupt {
            tx: Arc::new(watch::channel(false).0),
        }
    }
}

impl Interrupt {
    pub fn new() -> Interrupt {
        Interrupt::default()
    }

    pub fn trigger(&self) {
        self.tx.send_replace(true);
    }

    pub fn is_triggered(&self) -> bool {
        *self.tx.borrow()
    }

    /// Completes once triggered.
    pub async fn triggered(&self) {
        let mut rx = self.tx.subscribe();
        let _ = rx.wait_for(|v| *v).await;
    }
}
