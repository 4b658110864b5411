//! Fault injection for testing clients: a seeded random draw per control-plane call decides
//! whether it fails, and how (`--fault-rate`, `--faults`, `--seed`).
//!
//! The draws come from one seeded generator in arrival order, so a sequential client replays
//! the same faults with the same seed.

use std::sync::Mutex;

use rand::rngs::StdRng;
use rand::{RngExt as _, SeedableRng as _};

use crate::cli::FaultKind;

/// What to inject.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultSettings {
    /// Fraction of calls (0.0 to 1.0) that fail.
    pub rate: f64,
    /// The kinds drawn from (all four when empty).
    pub kinds: Vec<FaultKind>,
    /// Seed of the draws (random when `None`; see [`Faults::seed`]).
    pub seed: Option<u64>,
}

impl Default for FaultSettings {
    fn default() -> Self {
        FaultSettings {
            rate: 0.0,
            kinds: Vec::new(),
            seed: None,
        }
    }
}

/// The seeded draws.
#[derive(Debug)]
pub struct Faults {
    rate: f64,
    kinds: Vec<FaultKind>,
    seed: u64,
    rng: Mutex<StdRng>,
}

impl FaultKind {
    /// The name used on the command line, in logs and in stats.
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Throttle => "throttle",
            FaultKind::Internal => "internal",
            FaultKind::Conflict => "conflict",
            FaultKind::LostResponse => "lost-response",
        }
    }
}

impl Faults {
    pub fn new(settings: &FaultSettings) -> Faults {
        let seed = settings.seed.unwrap_or_else(|| rand::rng().random());
        let kinds = if settings.kinds.is_empty() {
            vec![
                FaultKind::Throttle,
                FaultKind::Internal,
                FaultKind::Conflict,
                FaultKind::LostResponse,
            ]
        } else {
            settings.kinds.clone()
        };
        Faults {
            rate: settings.rate,
            kinds,
            seed,
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
        }
    }

    /// Whether any fault can be injected.
    pub fn enabled(&self) -> bool {
        self.rate > 0.0
    }

    /// The seed in use (print it so a failing run can be replayed with `--seed`).
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Draws for one call: `None` to serve it normally.
    pub fn draw(&self) -> Option<FaultKind> {
        if !self.enabled() {
            return None;
        }
        let mut rng = self.rng.lock().unwrap_or_else(|p| p.into_inner());
        if rng.random::<f64>() >= self.rate {
            return None;
        }
        Some(self.kinds[rng.random_range(0..self.kinds.len())])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draws(settings: &FaultSettings, n: usize) -> Vec<Option<FaultKind>> {
        let faults = Faults::new(settings);
        (0..n).map(|_| faults.draw()).collect()
    }

    #[test]
    fn the_same_seed_replays_the_same_faults() {
        let settings = FaultSettings {
            rate: 0.5,
            kinds: vec![],
            seed: Some(42),
        };
        let a = draws(&settings, 200);
        assert_eq!(a, draws(&settings, 200));
        let injected = a.iter().filter(|d| d.is_some()).count();
        assert!(
            (50..150).contains(&injected),
            "{injected} of 200 at rate 0.5"
        );
        for kind in [
            FaultKind::Throttle,
            FaultKind::Internal,
            FaultKind::Conflict,
            FaultKind::LostResponse,
        ] {
            assert!(a.contains(&Some(kind)), "{kind:?} never drawn");
        }
    }

    #[test]
    fn rate_zero_and_one_are_exact() {
        let never = FaultSettings::default();
        assert!(draws(&never, 100).iter().all(Option::is_none));
        let always = FaultSettings {
            rate: 1.0,
            kinds: vec![FaultKind::Throttle],
            seed: None,
        };
        assert!(
            draws(&always, 100)
                .iter()
                .all(|d| *d == Some(FaultKind::Throttle))
        );
    }
}
