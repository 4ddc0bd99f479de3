//! `ClerkLayer`: authenticate every request, never reject.

use std::task::{Context, Poll};

use clerk_core::{Auth, Authenticate, Clerk};
use http::Request;
use tower_layer::Layer;
use tower_service::Service;

use crate::ResponseFuture;

/// Authenticates each request and inserts its [`clerk_core::Auth`] into the request
/// extensions; the inner service runs, except for a page load that Clerk
/// refreshes through a handshake ([`clerk_core::Auth::Handshake`]): the
/// layer answers that redirect itself.
#[derive(Debug, Clone)]
pub struct ClerkLayer {
    clerk: Clerk,
}

impl ClerkLayer {
    /// A layer authenticating with `clerk`.
    pub fn new(clerk: Clerk) -> Self {
        Self { clerk }
    }
}

impl<S> Layer<S> for ClerkLayer {
    type Service = ClerkService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ClerkService {
            inner,
            clerk: self.clerk.clone(),
        }
    }
}

/// The service made by [`ClerkLayer`].
#[derive(Debug, Clone)]
pub struct ClerkService<S> {
    inner: S,
    clerk: Clerk,
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

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let target = req.uri().path_and_query().map_or("/", |p| p.as_str());
        let auth = self
            .clerk
            .authenticate_request(req.method().as_str(), target, req.headers());
        ResponseFuture::start(
            &mut self.inner,
            req,
            auth,
            |auth, mut req| {
                // A page load Clerk refreshes through a handshake: answer it.
                if let Auth::Handshake(h) = &auth {
                    return Err(h.to_response());
                }
                let debug = auth.debug_headers();
                req.extensions_mut().insert(auth);
                Ok((req, debug))
            },
            self.clerk.debug_headers(),
        )
    }
}
