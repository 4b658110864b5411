//! The data-plane client (HTTP publish, real-time WebSocket, SigV4 signing of both) and the
//! smoke test built on it.
