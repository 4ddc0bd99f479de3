//! `ProtectLayer`: answer per a `Protect` policy, or call the inner service.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker, ready};

use clerk_core::routes::RequestPath;
use clerk_core::{Auth, Decision, Protect, Refusal};
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

impl<S, B, ResBody> Service<Request<B>> for ProtectService<S>
where
    S: Service<Request<B>, Response = Response<ResBody>> + Clone,
    ResBody: From<String>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S, B>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let mut decision = match req.extensions().get::<Auth>() {
            Some(auth) => self.protect.decide(
                req.method().as_str(),
                request_path(&req, self.original_uri),
                req.headers(),
                auth,
            ),
            None => {
                tracing::error!("ProtectLayer used without ClerkLayer in front of it");
                Decision::ready(Err(Refusal::layer_missing()))
            }
        };
        // One poll decides the hot path; a pending decision (the user's
        // record is being fetched) re-registers the real waker when
        // `ResponseFuture` polls it.
        let state = match Pin::new(&mut decision).poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(Ok(())) => State::Calling {
                fut: self.inner.call(req),
            },
            Poll::Ready(Err(refusal)) => State::Refused {
                response: Some(refusal.into_response()),
            },
            Poll::Pending => {
                let clone = self.inner.clone();
                let ready = std::mem::replace(&mut self.inner, clone);
                State::Deciding {
                    decision,
                    pending: Some((ready, req)),
                }
            }
        };
        ResponseFuture { state }
    }
}

pin_project! {
    /// Response future of [`ProtectService`].
    pub struct ResponseFuture<S: Service<Request<B>>, B> {
        #[pin]
        state: State<S, B>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S: Service<Request<B>>, B> {
        Deciding {
            decision: Decision,
            pending: Option<(S, Request<B>)>,
        },
        Calling {
            #[pin]
            fut: S::Future,
        },
        Refused {
            response: Option<S::Response>,
        },
    }
}

impl<S, B, ResBody> Future for ResponseFuture<S, B>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
    ResBody: From<String>,
{
    type Output = Result<S::Response, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.project().state;
        loop {
            match state.as_mut().project() {
                StateProj::Calling { fut } => return fut.poll(cx),
                StateProj::Refused { response } => {
                    return match response.take() {
                        Some(r) => Poll::Ready(Ok(r)),
                        // Only reachable by polling again after completion.
                        None => Poll::Pending,
                    };
                }
                StateProj::Deciding { decision, pending } => {
                    let decided = ready!(Pin::new(decision).poll(cx));
                    let Some((mut inner, req)) = pending.take() else {
                        return Poll::Pending;
                    };
                    match decided {
                        Ok(()) => {
                            let fut = inner.call(req);
                            state.set(State::Calling { fut });
                        }
                        Err(refusal) => {
                            state.set(State::Refused {
                                response: Some(refusal.into_response()),
                            });
                        }
                    }
                }
            }
        }
    }
}
