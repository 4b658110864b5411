//! The data-plane client (HTTP publish, real-time WebSocket, the auth each mode puts on them)
//! and the smoke test built on it: prove that a deployed API delivers events with each auth
//! mode its spec declares.
//!
//! Everything here speaks the shapes of [`crate::wire`], so the client and the emulator agree by
//! construction; SigV4 comes from [`crate::signing`], never from a second signer. Finding the
//! API and its keys is the control plane's job ([`crate::control`]); the command module turns
//! those into a [`Target`] and [`Credentials`].

pub mod auth;
pub mod check;
pub mod client;
pub mod http;
pub mod report;
pub mod tls;
pub mod ws;

pub use auth::{Credential, Credentials};
pub use check::{Scope, ScopeModes, Settings, Target};
pub use client::{DataPlaneError, Endpoints};
pub use report::Report;
