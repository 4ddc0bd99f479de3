//! `ClerkProtect`: answer per a `Protect` policy, or call the inner service.

use std::future::{Future, Ready};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker, ready};

use actix_web::HttpMessage;
use actix_web::body::EitherBody;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use clerk_core::protect::RequestPath;
use clerk_core::protect::{Decision, Pass};
use clerk_core::{Auth, Protect, Refusal, Requirement};
use pin_project_lite::pin_project;

use crate::glue::{ActixHeaders, from_http};

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
        std::future::ready(Ok(ClerkProtectService {
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
    type Future = ResponseFuture<S, B>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let mut decision = match req.extensions().get::<Auth>() {
            Some(auth) => self.protect.decide(
                req.method().as_str(),
                request_path(&req),
                &ActixHeaders(req.headers()),
                auth,
            ),
            None => {
                tracing::error!("ClerkProtect used without ClerkMiddleware outside it");
                Decision::ready(Err(Refusal::layer_missing()))
            }
        };
        // One poll decides the hot path; a pending decision (the user's
        // record is being fetched) re-registers the real waker when
        // `ResponseFuture` polls it.
        let state = match Pin::new(&mut decision).poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(decided) => match answer(decided) {
                None => State::Calling {
                    fut: self.service.call(req),
                },
                Some(response) => State::Refused {
                    res: Some(answered(req, response)),
                },
            },
            Poll::Pending => State::Deciding {
                decision,
                pending: Some((Rc::clone(&self.service), req)),
            },
        };
        ResponseFuture { state }
    }
}

/// The response to send instead of calling the service, if any: a
/// refusal, or a preflight the guard answers.
fn answer(decided: Result<Pass, Refusal>) -> Option<http::Response<String>> {
    match decided {
        Ok(Pass::Handler) => None,
        Ok(Pass::Preflight(answer)) => Some(answer),
        Err(refusal) => Some(refusal.into_response()),
    }
}

fn answered<B>(
    req: ServiceRequest,
    response: http::Response<String>,
) -> ServiceResponse<EitherBody<B>> {
    let (http_req, _) = req.into_parts();
    ServiceResponse::new(http_req, from_http(response)).map_into_right_body()
}

pin_project! {
    /// Response future of [`ClerkProtectService`].
    pub struct ResponseFuture<S: Service<ServiceRequest>, B> {
        #[pin]
        state: State<S, B>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S: Service<ServiceRequest>, B> {
        Deciding {
            decision: Decision,
            pending: Option<(Rc<S>, ServiceRequest)>,
        },
        Calling { #[pin] fut: S::Future },
        Refused { res: Option<ServiceResponse<EitherBody<B>>> },
    }
}

impl<S, B> Future for ResponseFuture<S, B>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
{
    type Output = Result<ServiceResponse<EitherBody<B>>, actix_web::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.project().state;
        loop {
            match state.as_mut().project() {
                StateProj::Calling { fut } => {
                    return fut
                        .poll(cx)
                        .map(|r| r.map(ServiceResponse::map_into_left_body));
                }
                StateProj::Refused { res } => {
                    return match res.take() {
                        Some(r) => Poll::Ready(Ok(r)),
                        // Only reachable by polling again after completion.
                        None => Poll::Pending,
                    };
                }
                StateProj::Deciding { decision, pending } => {
                    let decided = ready!(Pin::new(decision).poll(cx));
                    let Some((service, req)) = pending.take() else {
                        return Poll::Pending;
                    };
                    match answer(decided) {
                        None => {
                            let fut = service.call(req);
                            state.set(State::Calling { fut });
                        }
                        Some(response) => {
                            state.set(State::Refused {
                                res: Some(answered(req, response)),
                            });
                        }
                    }
                }
            }
        }
    }
}

/// The full raw path, and the (decoded) part below the scopes matched so far.
fn request_path(req: &ServiceRequest) -> RequestPath<'_> {
    RequestPath::nested(req.path(), req.match_info().unprocessed()).with_query(req.uri().query())
}
