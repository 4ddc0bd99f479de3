//! `ProtectLayer`: answer per a `Protect` policy, or call the inner service.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use std::sync::Arc;

use clerk_core::users::UserDirectory;
use clerk_core::{Auth, Decision, Protect, Rejection};
use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

/// Refuses requests that do not satisfy a [`Protect`] policy. Needs the
/// [`Auth`] that [`crate::ClerkLayer`] inserts; without it every request
/// is answered 500 (`clerk-layer-missing`), never treated as signed out.
#[derive(Debug, Clone)]
pub struct ProtectLayer {
    protect: Protect,
}

impl ProtectLayer {
    /// A layer enforcing `protect`.
    pub fn new(protect: Protect) -> Self {
        Self { protect }
    }
}

impl<S> Layer<S> for ProtectLayer {
    type Service = ProtectService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ProtectService {
            inner,
            protect: self.protect.clone(),
        }
    }
}

/// The service made by [`ProtectLayer`].
#[derive(Debug, Clone)]
pub struct ProtectService<S> {
    inner: S,
    protect: Protect,
}

impl<S> ProtectService<S> {
    crate::define_inner_service_accessors!();
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
            Some(auth) => self
                .protect
                .decide(req.method(), req.uri().path(), req.headers(), auth),
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
                                            req.uri().path(),
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
