//! The accept loop: one hyper HTTP/1 connection per TCP (or TLS) stream, with the limits
//! that axum's own `serve` does not offer.
//!
//! - **Header-read timeout** (slowloris): a client must send a request's complete headers
//!   within `header_timeout` of starting it, or hyper closes the connection. Without it a
//!   client trickling one header byte a second holds a connection (and a file descriptor)
//!   for as long as it likes.
//! - **TLS handshake timeout**: the handshake of a TLS connection must finish within the same
//!   `header_timeout`, so a client cannot stall before HTTP even starts.
//! - **Graceful shutdown**: on the stop signal the listener closes, open connections finish
//!   the request in progress and close; after the grace period the rest are dropped.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// Serves `router` on `listener` (over TLS when `tls` is given) until `stop` fires, then
/// waits at most `grace` for open connections.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    tls: Option<Arc<rustls::ServerConfig>>,
    header_timeout: Duration,
    grace: Duration,
    mut stop: oneshot::Receiver<()>,
) -> std::io::Result<()> {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .keep_alive(true);
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    let graceful = GracefulShutdown::new();
    loop {
        let (tcp, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // Out of file descriptors and the like: pause rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut stop => break,
        };
        let _ = tcp.set_nodelay(true);
        let service = TowerToHyperService::new(router.clone());
        let builder = builder.clone();
        let watcher = graceful.watcher();
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let result = match acceptor {
                None => {
                    let conn = builder.serve_connection(TokioIo::new(tcp), service);
                    watcher.watch(conn).await
                }
                Some(acceptor) => {
                    let stream =
                        match tokio::time::timeout(header_timeout, acceptor.accept(tcp)).await {
                            Ok(Ok(s)) => s,
                            Ok(Err(e)) => {
                                tracing::debug!(%peer, error = %e, "TLS handshake failed");
                                return;
                            }
                            Err(_) => {
                                tracing::debug!(%peer, "TLS handshake timed out");
                                return;
                            }
                        };
                    let conn = builder.serve_connection(TokioIo::new(stream), service);
                    watcher.watch(conn).await
                }
            };
            if let Err(e) = result {
                // Closed by the client, a header-read timeout, a protocol error: the
                // connection is gone either way; nothing of the request is logged.
                tracing::debug!(%peer, error = %e, "connection closed");
            }
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => Ok(()),
        () = tokio::time::sleep(grace) => Err(std::io::Error::other(format!(
            "connections still open {} s after the shutdown signal (grace period): closed",
            grace.as_secs_f64()
        ))),
    }
}
