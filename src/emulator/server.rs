//! The one function that serves every emulator listener (the control plane and each API's data
//! plane): accept loop, optional TLS, HTTP/1.1 and HTTP/2 with upgrades (WebSockets), graceful
//! stop, and the ability of a handler to drop its own connection without answering (the
//! "lost response" fault).
//!
//! Upgraded connections (WebSockets) leave hyper's hands once upgraded; their handlers end them
//! when the listener's stop token fires (see `dataplane::http::router_until`).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt as _;

/// How long in-flight requests may take to finish once a listener is told to stop.
pub const GRACE: Duration = Duration::from_secs(5);

/// Request extension: lets a handler close its connection without sending a response.
#[derive(Debug, Clone)]
pub struct DropConnection(CancellationToken);

impl DropConnection {
    /// Closes the connection that carries this request; the response is never sent.
    pub fn drop_now(&self) {
        self.0.cancel();
    }
}

/// Serves `router` on `listener` until `stop` fires, then lets in-flight requests finish (up to
/// [`GRACE`]) and returns once every connection is closed. With `tls`, every connection is a
/// TLS connection. Handlers can read the peer address through `ConnectInfo<SocketAddr>` and
/// drop their connection through the [`DropConnection`] extension.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    tls: Option<TlsAcceptor>,
    stop: CancellationToken,
) {
    let connections = TaskTracker::new();
    let abort = CancellationToken::new();
    loop {
        let (stream, peer) = tokio::select! {
            _ = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let tls = tls.clone();
        let stop = stop.clone();
        let abort = abort.clone();
        connections.spawn(async move {
            match tls {
                None => connection(stream, peer, router, stop, abort).await,
                Some(acceptor) => {
                    let handshake = tokio::select! {
                        _ = abort.cancelled() => return,
                        _ = stop.cancelled() => return,
                        result = acceptor.accept(stream) => result,
                    };
                    match handshake {
                        Ok(stream) => connection(stream, peer, router, stop, abort).await,
                        Err(e) => tracing::debug!("TLS handshake with {peer} failed: {e}"),
                    }
                }
            }
        });
    }
    drop(listener);
    connections.close();
    if tokio::time::timeout(GRACE, connections.wait())
        .await
        .is_err()
    {
        abort.cancel();
        connections.wait().await;
    }
}

async fn connection<I>(
    io: I,
    peer: SocketAddr,
    router: Router,
    stop: CancellationToken,
    abort: CancellationToken,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let kill = CancellationToken::new();
    let control = DropConnection(kill.clone());
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(control.clone());
        req.extensions_mut().insert(ConnectInfo(peer));
        let router = router.clone();
        async move {
            let response: Result<_, Infallible> = router.oneshot(req.map(Body::new)).await;
            response
        }
    });
    let builder = auto::Builder::new(TokioExecutor::new());
    let conn = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
    tokio::pin!(conn);
    let mut draining = false;
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!("connection from {peer} ended: {e}");
                }
                break;
            }
            // Dropping `conn` closes the socket without a response.
            _ = kill.cancelled() => break,
            _ = abort.cancelled() => break,
            _ = stop.cancelled(), if !draining => {
                conn.as_mut().graceful_shutdown();
                draining = true;
            }
        }
    }
}
