//! evctl: provision, test and emulate AWS AppSync Event APIs from a declarative YAML spec.
//!
//! The crate is one library plus the thin `evctl` binary. Modules are drawn as if they were
//! crates; data flows one way: spec file -> [`spec`] -> desired [`model`] state; the control
//! plane ([`control`]) -> observed state; [`engine`] diffs them into a `Plan`, which [`output`]
//! renders or the engine executes. [`emulator`] is a local AppSync Event API, and [`smoke`] is a
//! data-plane client that proves a deployed API works.

pub mod cli;
pub mod commands;
pub mod control;
pub mod emulator;
pub mod engine;
pub mod exit;
pub mod inventory;
pub mod model;
pub mod output;
pub mod signing;
pub mod smoke;
pub mod spec;
pub mod wire;
