//! `ClerkProtect`: answer per a `Protect` policy, or call the inner service.

use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::task::{Context, Poll};

use actix_web::HttpMessage;
use actix_web::body::EitherBody;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use std::rc::Rc;
use std::sync::Arc;

use clerk_core::routes::RequestPath;
use clerk_core::users::UserDirectory;
use clerk_core::{Auth, Decision, Protect, Rejection, Requirement};

type SlowFuture<B> =
    Pin<Box<dyn Future<Output = Result<ServiceResponse<EitherBody<B>>, actix_web::Error>>>>;
use pin_project_lite::pin_project;

use crate::glue::{ActixHeaders, method, to_http_response};

/// Guards an `App`, `Scope` or `Resource` with a [`Protect`] policy. Needs
/// [`crate::ClerkMiddleware`] outside it; without it every request is
/// answered 500 (`clerk-layer-missing`), never treated as signed out.
///
/// Route patterns are matched against the full request path and, inside a
/// `Scope`, also against the path below the scope's prefix: a request is
/// protected when either matches, so patterns written either way protect.
#[derive(Debug, Clone)]
pub struct ClerkProtect {
    protect: Protect,
}

impl ClerkProtect {
    /// Enforces `protect`.
    pub fn new(protect: Protect) -> Self {
        Self { protect }
    }

    /// Requires `requirement` on every request it wraps (default responses).
    pub fn requiring(requirement: Requirement) -> Self {
        Self::new(Protect::new(requirement))
    }
}

impl<S, B> Transform<S, ServiceRequest> for ClerkProtect
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Transform = ClerkProtectService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(ClerkProtectService {
            service: Rc::new(service),
            protect: self.protect.clone(),
        }))
    }
}

/// The service made by [`ClerkProtect`].
#[derive(Debug)]
pub struct ClerkProtectService<S> {
    service: Rc<S>,
    protect: Protect,
}

impl<S, B> Service<ServiceRequest> for ClerkProtectService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Future = ResponseFuture<S::Future, B>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let decision = {
            let extensions = req.extensions();
            match (extensions.get::<Auth>(), method(req.method())) {
                (Some(auth), Some(m)) => {
                    self.protect
                        .decide(&m, request_path(&req), &ActixHeaders(req.headers()), auth)
                }
                (None, _) => {
                    tracing::error!("ClerkProtect used without ClerkMiddleware outside it");
                    Decision::Reject(Rejection::layer_missing())
                }
                (Some(_), None) => Decision::Reject(Rejection::default_for(
                    &clerk_core::protect::Denial::MalformedPath,
                )),
            }
        };
        match decision {
            Decision::Allow => ResponseFuture {
                kind: Kind::Inner {
                    fut: self.service.call(req),
                },
            },
            Decision::Reject(r) => {
                let (http_req, _) = req.into_parts();
                let res = ServiceResponse::new(http_req, to_http_response(r)).map_into_right_body();
                ResponseFuture {
                    kind: Kind::Rejected { res: Some(res) },
                }
            }
            // The requirement needs the user's record: fetch it (cached) on
            // a boxed slow path.
            Decision::NeedsUser => {
                let protect = self.protect.clone();
                let service = Rc::clone(&self.service);
                ResponseFuture {
                    kind: Kind::Slow {
                        fut: Box::pin(async move {
                            let (auth, users) = {
                                let ext = req.extensions();
                                (
                                    ext.get::<Auth>().cloned(),
                                    ext.get::<Arc<UserDirectory>>().cloned(),
                                )
                            };
                            let decision = match (auth, users, method(req.method())) {
                                (Some(auth), Some(users), Some(m)) => {
                                    protect
                                        .decide_fetching(
                                            &m,
                                            request_path(&req),
                                            &ActixHeaders(req.headers()),
                                            &auth,
                                            &users,
                                        )
                                        .await
                                }
                                _ => Decision::Reject(Rejection::layer_missing()),
                            };
                            match decision {
                                Decision::Allow => service
                                    .call(req)
                                    .await
                                    .map(ServiceResponse::map_into_left_body),
                                Decision::Reject(r) => {
                                    let (http_req, _) = req.into_parts();
                                    Ok(ServiceResponse::new(http_req, to_http_response(r))
                                        .map_into_right_body())
                                }
                                Decision::NeedsUser => {
                                    let (http_req, _) = req.into_parts();
                                    Ok(ServiceResponse::new(
                                        http_req,
                                        to_http_response(Rejection::layer_missing()),
                                    )
                                    .map_into_right_body())
                                }
                            }
                        }),
                    },
                }
            }
        }
    }
}

pin_project! {
    /// Response future of [`ClerkProtectService`].
    pub struct ResponseFuture<F, B> {
        #[pin]
        kind: Kind<F, B>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F, B> {
        Inner { #[pin] fut: F },
        Rejected { res: Option<ServiceResponse<EitherBody<B>>> },
        Slow { fut: SlowFuture<B> },
    }
}

impl<F, B> Future for ResponseFuture<F, B>
where
    F: Future<Output = Result<ServiceResponse<B>, actix_web::Error>>,
{
    type Output = Result<ServiceResponse<EitherBody<B>>, actix_web::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Inner { fut } => fut
                .poll(cx)
                .map(|r| r.map(ServiceResponse::map_into_left_body)),
            KindProj::Slow { fut } => fut.as_mut().poll(cx),
            KindProj::Rejected { res } => match res.take() {
                Some(r) => Poll::Ready(Ok(r)),
                // Only reachable by polling again after completion.
                None => Poll::Pending,
            },
        }
    }
}

/// The full raw path, and the (decoded) part below the scopes matched so far.
fn request_path(req: &ServiceRequest) -> RequestPath<'_> {
    RequestPath::nested(req.path(), req.match_info().unprocessed())
}
