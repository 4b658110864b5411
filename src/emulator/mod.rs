//! The local emulator of AppSync Event APIs: control-plane routes (the AWS wire protocol),
//! HTTP publish, the real-time WebSocket, the broker and the auth checks. Built as axum
//! `Router`s by functions so tests can drive them without sockets.

pub mod dataplane;
