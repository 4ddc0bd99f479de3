//! `ClerkLayer`: authenticate every request, never reject.

use std::task::{Context, Poll};

use clerk_core::{Authenticate, Clerk};
use http::Request;
use tower_layer::Layer;
use tower_service::Service;

use crate::ResponseFuture;

/// Authenticates each request and inserts its [`clerk_core::Auth`] into the request
/// extensions; the inner service always runs.
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

impl<S, B> Service<Request<B>> for ClerkService<S>
where
    S: Service<Request<B>> + Clone,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S, B, Authenticate>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let auth = self.clerk.authenticate(req.headers());
        ResponseFuture::start(&mut self.inner, req, auth, |auth, mut req| {
            req.extensions_mut().insert(auth);
            Ok(req)
        })
    }
}
