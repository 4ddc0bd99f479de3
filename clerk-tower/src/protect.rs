//! `ProtectLayer`: answer per a `Protect` policy, or call the inner service.

use std::task::{Context, Poll};

use clerk_core::protect::Decision;
use clerk_core::protect::RequestPath;
use clerk_core::{Auth, Protect, Refusal};
use http::{Request, Response};
use tower_layer::Layer;
use tower_service::Service;

use crate::ResponseFuture;

/// Refuses requests that do not satisfy a [`Protect`] policy. Needs the
/// [`Auth`] that [`crate::ClerkLayer`] inserts; without it every request
/// is answered 500 (`clerk-layer-missing`), never treated as signed out.
///
/// Route patterns are matched against `uri().path()`, the path this service
/// is called with. A router that strips a mount prefix before calling it
/// (axum's `Router::nest`) hands it the path *below* the mount point; tell
/// the layer where the router keeps the full URI with
/// [`ProtectLayer::original_uri_from`], and both are matched
/// (`clerk_axum::ProtectLayer` does this for axum's `OriginalUri`).
#[derive(Debug, Clone)]
pub struct ProtectLayer {
    protect: Protect,
    original_uri: Option<OriginalUri>,
}

/// Where a router keeps the full request URI in the request extensions.
pub type OriginalUri = fn(&http::Extensions) -> Option<&http::Uri>;

impl ProtectLayer {
    /// A layer enforcing `protect`.
    pub fn new(protect: Protect) -> Self {
        Self {
            protect,
            original_uri: None,
        }
    }

    /// Also matches route patterns against the full URI that `original_uri`
    /// finds in the request extensions, for routers that strip a mount
    /// prefix from `uri()`. A request is protected when either path matches.
    #[must_use]
    pub fn original_uri_from(mut self, original_uri: OriginalUri) -> Self {
        self.original_uri = Some(original_uri);
        self
    }
}

impl<S> Layer<S> for ProtectLayer {
    type Service = ProtectService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ProtectService {
            inner,
            protect: self.protect.clone(),
            original_uri: self.original_uri,
        }
    }
}

/// The service made by [`ProtectLayer`].
#[derive(Debug, Clone)]
pub struct ProtectService<S> {
    inner: S,
    protect: Protect,
    original_uri: Option<OriginalUri>,
}

impl<S> ProtectService<S> {
    crate::define_inner_service_accessors!();
}

/// The path the guard judges: `uri().path()`, and the full original path
/// when a router keeps one that differs.
fn request_path<B>(req: &Request<B>, original_uri: Option<OriginalUri>) -> RequestPath<'_> {
    let path = req.uri().path();
    let path = match original_uri.and_then(|find| find(req.extensions())) {
        Some(full) => RequestPath::nested(full.path(), path),
        None => path.into(),
    };
    path.with_query(req.uri().query())
}

/// The guard's decision for `req`: by the `Auth` the authenticating layer
/// inserted, or 500 `clerk-layer-missing` without one.
pub(crate) fn decide<B>(
    protect: &Protect,
    req: &Request<B>,
    original_uri: Option<OriginalUri>,
) -> Decision {
    match req.extensions().get::<Auth>() {
        Some(auth) => protect.decide(
            req.method().as_str(),
            request_path(req, original_uri),
            req.headers(),
            auth,
        ),
        None => {
            tracing::error!("a Clerk guard layer is used without ClerkLayer in front of it");
            Decision::ready(Err(Refusal::layer_missing()))
        }
    }
}

impl<S, B, ResBody> Service<Request<B>> for ProtectService<S>
where
    S: Service<Request<B>, Response = Response<ResBody>> + Clone,
    ResBody: From<String>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S, B, Decision>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let decision = decide(&self.protect, &req, self.original_uri);
        ResponseFuture::protect(&mut self.inner, req, decision)
    }
}
