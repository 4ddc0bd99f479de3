//! `FrontendApiProxyService`: Clerk's Frontend API proxy as a tower service.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use clerk_core::browser::{FrontendApiProxy, ProxyBody};
use http::{Request, Response};
use tower_service::Service;

use crate::PeerFrom;

/// Serves [`FrontendApiProxy`] (Clerk's `frontendApiProxy`) at its path,
/// `/__clerk` by default. Route the whole path to it without stripping
/// the prefix (axum: `route_service("/__clerk/{*path}", ..)`); every other
/// path is answered 400. The peer address (for `X-Forwarded-For`) is read
/// as [`crate::ClerkLayer`] reads it.
#[derive(Clone, Debug)]
pub struct FrontendApiProxyService {
    proxy: FrontendApiProxy,
    peer: PeerFrom,
}

impl FrontendApiProxyService {
    /// A service forwarding through `proxy`.
    pub fn new(proxy: FrontendApiProxy) -> Self {
        Self {
            proxy,
            peer: crate::authenticate::socket_addr,
        }
    }

    /// Reads the peer address with `peer` (axum's `ConnectInfo`, ...).
    #[must_use]
    pub fn peer_from(mut self, peer: PeerFrom) -> Self {
        self.peer = peer;
        self
    }
}

impl<B> Service<Request<B>> for FrontendApiProxyService
where
    B: http_body::Body + Send + 'static,
    B::Data: Into<bytes::Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = Response<ProxyBody>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let peer = (self.peer)(req.extensions());
        let proxy = self.proxy.clone();
        Box::pin(async move { Ok(proxy.forward(req, peer).await) })
    }
}
