//! `ClerkLayer`: authenticate every request, never reject.

use std::net::{IpAddr, SocketAddr};
use std::task::{Context, Poll};

use std::sync::Arc;

use clerk_core::adapter::{WithPeer, pick_instance};
use clerk_core::{Authenticate, Clerk};
use http::Request;
use tower_layer::Layer;
use tower_service::Service;

use crate::ResponseFuture;

/// Authenticates each request and inserts its [`clerk_core::Auth`] into the request
/// extensions; the inner service runs, except for a page load Clerk
/// redirects through a handshake ([`clerk_core::Auth::Page`]): the layer
/// answers that redirect itself. A page Clerk serves with new cookies (a
/// production handshake finish, a refreshed session) reaches the inner
/// service signed in, and the cookies are added to its response.
///
/// The connection's peer address (read from the request extensions by
/// [`ClerkLayer::peer_from`]; by default a [`SocketAddr`] there) tells
/// clients apart, so that one client's flood of anonymous requests cannot
/// spend the Backend API calls others need (see
/// [`clerk_core::config::BackendBudget`]). Without it, all anonymous requests share
/// one allowance.
#[derive(Debug, Clone)]
pub struct ClerkLayer {
    clerk: Instance,
    peer: PeerFrom,
}

/// The `Clerk` of every request, or the rule that picks it per host.
#[derive(Clone)]
enum Instance {
    One(Clerk),
    PerHost(clerk_core::adapter::InstanceRule),
}

impl std::fmt::Debug for Instance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::One(clerk) => clerk.fmt(f),
            Self::PerHost(_) => f.write_str("PerHost(..)"),
        }
    }
}

/// Reads the connection's peer address from a request's extensions.
pub type PeerFrom = fn(&http::Extensions) -> Option<IpAddr>;

/// A [`SocketAddr`] in the extensions (what a hand-written hyper server
/// inserts per connection).
pub(crate) fn socket_addr(extensions: &http::Extensions) -> Option<IpAddr> {
    extensions.get::<SocketAddr>().map(SocketAddr::ip)
}

impl ClerkLayer {
    /// A layer authenticating with `clerk`.
    pub fn new(clerk: Clerk) -> Self {
        Self {
            clerk: Instance::One(clerk),
            peer: socket_addr,
        }
    }

    /// One service, several Clerk instances (Clerk's
    /// `clerkMiddleware((req) => options)`, for multi-tenant apps with
    /// per-domain keys): `rule` gets each request's host (`X-Forwarded-Host`,
    /// else `Host`; lowercase, no port) and names its `Clerk`, each with its
    /// own keys, caches and budget. A request whose host names none is
    /// answered 421 (`clerk-instance-unknown`) and never reaches the inner
    /// service.
    pub fn per_host(rule: impl Fn(&str) -> Option<Clerk> + Send + Sync + 'static) -> Self {
        Self {
            clerk: Instance::PerHost(Arc::new(rule)),
            peer: socket_addr,
        }
    }

    /// Reads the peer address with `peer` (axum's `ConnectInfo`, tonic's
    /// `TcpConnectInfo`, ...) instead of a plain [`SocketAddr`].
    #[must_use]
    pub fn peer_from(mut self, peer: PeerFrom) -> Self {
        self.peer = peer;
        self
    }
}

impl<S> Layer<S> for ClerkLayer {
    type Service = ClerkService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ClerkService {
            inner,
            clerk: self.clerk.clone(),
            peer: self.peer,
        }
    }
}

/// The service made by [`ClerkLayer`].
#[derive(Debug, Clone)]
pub struct ClerkService<S> {
    inner: S,
    clerk: Instance,
    peer: PeerFrom,
}

impl<S> ClerkService<S> {
    crate::define_inner_service_accessors!();
}

impl<S, B, ResBody> Service<Request<B>> for ClerkService<S>
where
    S: Service<Request<B>, Response = http::Response<ResBody>> + Clone,
    ResBody: Default,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S, B, Authenticate>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        let picked;
        let clerk = match &self.clerk {
            Instance::One(clerk) => clerk,
            Instance::PerHost(rule) => match pick_instance(rule, req.headers()) {
                Ok(clerk) => {
                    picked = clerk;
                    &picked
                }
                Err(refusal) => return ResponseFuture::answered(refusal.into_empty_response()),
            },
        };
        if let Some(target) = clerk.organization_in_url(req.uri().path()) {
            req.extensions_mut().insert(target);
        }
        let auth = clerk.authenticate(&WithPeer {
            peer: (self.peer)(req.extensions()),
            request: &req,
        });
        ResponseFuture::authenticate(&mut self.inner, req, auth, clerk.debug_headers())
    }
}
