//! `ProtectLayer`: answer per a `Protect` policy, or call the inner service.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use std::sync::Arc;

use clerk_core::routes::RequestPath;
use clerk_core::users::UserDirectory;
use clerk_core::{Auth, Decision, Protect, Rejection};
use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

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
    match original_uri.and_then(|find| find(req.extensions())) {
        Some(full) => RequestPath::nested(full.path(), path),
        None => path.into(),
    }
}

/// Turns a core [`Rejection`] into an `http` response.
pub fn to_response<B: From<String>>(rejection: Rejection) -> Response<B> {
    let mut res = Response::new(B::from(rejection.body));
    *res.status_mut() = rejection.status;
    *res.headers_mut() = rejection.headers;
    res
}

type SlowFuture<ResBody, E> = Pin<Box<dyn Future<Output = Result<Response<ResBody>, E>> + Send>>;

impl<S, B, ResBody> Service<Request<B>> for ProtectService<S>
where
    S: Service<Request<B>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: Send,
    B: Send + 'static,
    ResBody: From<String> + Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let decision = match req.extensions().get::<Auth>() {
            Some(auth) => self.protect.decide(
                req.method(),
                request_path(&req, self.original_uri),
                req.headers(),
                auth,
            ),
            None => {
                tracing::error!("ProtectLayer used without ClerkLayer in front of it");
                Decision::Reject(Rejection::layer_missing())
            }
        };
        match decision {
            Decision::Allow => ResponseFuture {
                kind: Kind::Inner {
                    fut: self.inner.call(req),
                },
            },
            Decision::Reject(r) => ResponseFuture {
                kind: Kind::Rejected {
                    response: Some(to_response(r)),
                },
            },
            // The requirement needs the user's record: fetch it (cached)
            // on a boxed slow path, keeping the service driven ready.
            Decision::NeedsUser => {
                let protect = self.protect.clone();
                let original_uri = self.original_uri;
                let clone = self.inner.clone();
                let mut ready = std::mem::replace(&mut self.inner, clone);
                ResponseFuture {
                    kind: Kind::Slow {
                        fut: Box::pin(async move {
                            let auth = req.extensions().get::<Auth>().cloned();
                            let users = req.extensions().get::<Arc<UserDirectory>>().cloned();
                            let decision = match (auth, users) {
                                (Some(auth), Some(users)) => {
                                    protect
                                        .decide_fetching(
                                            req.method(),
                                            request_path(&req, original_uri),
                                            req.headers(),
                                            &auth,
                                            &users,
                                        )
                                        .await
                                }
                                _ => Decision::Reject(Rejection::layer_missing()),
                            };
                            match decision {
                                Decision::Allow => ready.call(req).await,
                                Decision::Reject(r) => Ok(to_response(r)),
                                Decision::NeedsUser => Ok(to_response(Rejection::layer_missing())),
                            }
                        }),
                    },
                }
            }
        }
    }
}

pin_project! {
    /// Response future of [`ProtectService`].
    pub struct ResponseFuture<F, ResBody, E> {
        #[pin]
        kind: Kind<F, ResBody, E>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F, ResBody, E> {
        Inner {
            #[pin]
            fut: F,
        },
        Rejected {
            response: Option<Response<ResBody>>,
        },
        Slow {
            fut: SlowFuture<ResBody, E>,
        },
    }
}

impl<F, ResBody, E> Future for ResponseFuture<F, ResBody, E>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
{
    type Output = Result<Response<ResBody>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Inner { fut } => fut.poll(cx),
            KindProj::Slow { fut } => fut.as_mut().poll(cx),
            KindProj::Rejected { response } => match response.take() {
                Some(r) => Poll::Ready(Ok(r)),
                // Only reachable by polling again after completion.
                None => Poll::Pending,
            },
        }
    }
}
