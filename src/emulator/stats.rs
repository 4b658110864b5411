//! Per-operation request counts (`GET /_emulator/stats`), so tests and benchmarks can count the
//! calls a command makes; `DELETE /_emulator/stats` starts the count again.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::Serialize;

/// What `GET /_emulator/stats` answers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StatsSnapshot {
    /// Control-plane requests, of any operation (unknown routes included).
    pub requests: u64,
    /// Requests per operation name (`CreateApi`, ...), whatever their outcome.
    pub operations: BTreeMap<String, u64>,
    /// Error answers per operation and error type.
    pub errors: BTreeMap<String, BTreeMap<String, u64>>,
    /// Injected faults per kind (`throttle`, `internal`, `conflict`, `lost-response`).
    pub faults: BTreeMap<String, u64>,
}

#[derive(Debug, Default)]
pub struct Stats {
    inner: Mutex<StatsSnapshot>,
}

impl Stats {
    /// Counts one request of `operation`, with its error type if it failed and the fault
    /// injected into it, if any.
    pub fn record(&self, operation: &str, error: Option<&str>, fault: Option<&str>) {
        let mut s = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        s.requests += 1;
        *s.operations.entry(operation.to_string()).or_default() += 1;
        if let Some(error) = error {
            *s.errors
                .entry(operation.to_string())
                .or_default()
                .entry(error.to_string())
                .or_default() += 1;
        }
        if let Some(fault) = fault {
            *s.faults.entry(fault.to_string()).or_default() += 1;
        }
    }

    pub fn snapshot(&self) -> StatsSnapshot {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn reset(&self) {
        *self.inner.lock().unwrap_or_else(|p| p.into_inner()) = StatsSnapshot::default();
    }
}
