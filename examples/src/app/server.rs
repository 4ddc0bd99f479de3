//! How the example apps serve: the limits a production server needs, so
//! that a client cannot hold connections open for free. Headers must
//! arrive within a deadline, a body must keep coming, a declared body over
//! the limit is refused before any of it is read, and connections are
//! capped.
//!
//! `axum::serve` has no header-read timeout, so the axum app is served by
//! hyper's HTTP/1 connection builder (its `header_read_timeout`) in an
//! accept loop of our own, which also inserts `ConnectInfo` for the
//! Clerk layer's per-client fairness. Actix's `HttpServer` has the header
//! deadline (`client_request_timeout`) and the connection cap
//! (`max_connections`) built in; its body deadline is a payload wrapper.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tower::ServiceExt as _;

/// The limits of one example server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The whole request head must arrive within this (default 10 s).
    pub header_timeout: Duration,
    /// Each part of a request body must arrive within this of the last
    /// (default 10 s); a body that stops coming ends the connection.
    pub body_timeout: Duration,
    /// The largest request body (default 1 MiB, the webhook limit): a
    /// larger declared `Content-Length` is answered 413 at once.
    pub max_body_bytes: usize,
    /// The largest request head hyper buffers (default 32 KiB; actix's
    /// own is 32 KiB too).
    pub max_header_bytes: usize,
    /// Open connections at most (default 1024); further clients wait in
    /// the listen backlog.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(10),
            max_body_bytes: 1024 * 1024,
            max_header_bytes: 32 * 1024,
            max_connections: 1024,
        }
    }
}

/// Serves `app` on `listener` with `limits` until `shutdown` resolves.
///
/// # Errors
/// Never for a single connection's failure (logged and dropped); only if
/// the connection cap's semaphore is closed, which it never is.
pub async fn serve_axum(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.map_err(io::Error::other)?,
            () = &mut shutdown => return Ok(()),
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // Out of file descriptors, a reset before accept: the next
                // connection may do better.
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    continue;
                }
            },
            () = &mut shutdown => return Ok(()),
        };
        let app = app
            .clone()
            .map_request(move |mut req: axum::extract::Request<_>| {
                req.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
                req
            });
        tokio::spawn(async move {
            let served = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout)
                .max_buf_size(limits.max_header_bytes.max(8192))
                .serve_connection(TokioIo::new(stream), TowerToHyperService::new(app))
                .await;
            if let Err(e) = served {
                tracing::debug!(error = %e, "connection closed");
            }
            drop(slot);
        });
    }
}

/// The body limits as axum layers: a declared body over the limit is 413
/// before it is read; a body that stops coming fails the read.
pub fn body_limits(router: axum::Router, limits: Limits) -> axum::Router {
    router
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
            limits.body_timeout,
        ))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(
            limits.max_body_bytes,
        ))
}

/// Replaces a request's payload by one that fails when no part of it
/// arrives within `timeout` of the last, and refuses (413) a declared
/// `Content-Length` over `max` before reading (false: answer 413 at
/// once): actix has no body timeout of its own.
pub fn actix_body_deadline(
    req: &mut actix_web::dev::ServiceRequest,
    timeout: Duration,
    max: usize,
) -> bool {
    let declared = req
        .headers()
        .get_all(actix_web::http::header::CONTENT_LENGTH)
        .any(|v| {
            v.to_str()
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .is_none_or(|n| n > max as u64)
        });
    if declared {
        return false;
    }
    let payload = actix_web::HttpMessage::take_payload(req);
    let timed = futures_util::stream::unfold(Some(payload), move |state| async move {
        use futures_util::StreamExt as _;
        let mut payload = state?;
        match actix_web::rt::time::timeout(timeout, payload.next()).await {
            Ok(Some(part)) => Some((part, Some(payload))),
            Ok(None) => None,
            Err(_) => Some((
                Err(actix_web::error::PayloadError::Io(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "request body timed out",
                ))),
                None,
            )),
        }
    });
    req.set_payload(actix_web::dev::Payload::Stream {
        payload: Box::pin(timed),
    });
    true
}
