//! The accept loop: a connection cap, hyper's header-read timeout (which also closes idle
//! keep-alive connections), and graceful shutdown that gives in-flight requests 10 s.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use super::Shared;
use super::client::ClientKey;
use super::service::serve_request;

const DRAIN: Duration = Duration::from_secs(10);
/// Request line plus headers; larger heads are answered 431 by hyper.
const MAX_HEADER_BYTES: usize = 32 * 1024;
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// Serves until `shutdown` resolves, then stops accepting and drains in-flight requests.
pub async fn serve(listener: TcpListener, shared: Arc<Shared>, shutdown: impl Future<Output = ()>) {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(shared.config.header_timeout)
        // Bounds what one client can make us buffer before its request is even routed.
        .max_header_size(MAX_HEADER_BYTES)
        .max_headers(100)
        .max_buf_size(64 * 1024);
    let permits = Arc::new(Semaphore::new(shared.config.max_connections));
    let graceful = GracefulShutdown::new();
    let sweeper = tokio::spawn(sweep_limiters(Arc::clone(&shared)));
    tokio::pin!(shutdown);
    loop {
        // Taking the permit before accepting leaves excess clients in the kernel's backlog.
        let permit = tokio::select! {
            () = &mut shutdown => break,
            permit = Arc::clone(&permits).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        // One client address holds at most its share of the connection slots: the rest of its
        // connections are closed at once, so it cannot starve other clients (half-sent heads
        // hold a slot until the header timeout).
        let place = match &shared.connections {
            Some(caps) => match caps.take(ClientKey::of(peer.ip())) {
                Some(place) => Some(place),
                None => {
                    tracing::debug!(%peer, cap = caps.cap(), "too many connections from one client: closed");
                    continue;
                }
            },
            None => None,
        };
        let _ = stream.set_nodelay(true);
        // A client that stops taking what we send (an event stream it no longer reads) is
        // dropped after the write timeout instead of holding its connection forever.
        let mut stream = tokio_io_timeout::TimeoutStream::new(stream);
        stream.set_write_timeout(Some(shared.config.write_timeout));
        let io = TokioIo::new(Box::pin(stream));
        let conn_shared = Arc::clone(&shared);
        let service = service_fn(move |req| serve_request(Arc::clone(&conn_shared), peer, req));
        let conn = graceful.watch(builder.serve_connection(io, service));
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, %peer, "connection ended with an error");
            }
            drop((permit, place));
        });
    }
    drop(listener);
    sweeper.abort();
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("all connections closed"),
        () = tokio::time::sleep(DRAIN) => tracing::warn!("connections still open after {DRAIN:?}; closing them"),
    }
}

async fn sweep_limiters(shared: Arc<Shared>) {
    let mut every = tokio::time::interval(SWEEP_EVERY);
    loop {
        every.tick().await;
        shared.sweep_limiters();
    }
}
