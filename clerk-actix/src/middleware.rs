//! `ClerkMiddleware`: authenticate every request, never reject.

use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Waker, ready};

use actix_web::HttpMessage;
use actix_web::body::EitherBody;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use clerk_core::PageAnswer;
use clerk_core::{Auth, Clerk};
use pin_project_lite::pin_project;

use crate::glue::{ActixRequest, from_http};

/// Authenticates each request and stores its [`clerk_core::Auth`] in the
/// request extensions; the inner service runs, except for a page load
/// Clerk redirects through a handshake ([`clerk_core::Auth::Page`]): the
/// middleware answers that redirect itself. A page Clerk serves with new
/// cookies (a production handshake finish, a refreshed session) reaches
/// the service signed in, and the cookies are added to its response.
#[derive(Debug, Clone)]
pub struct ClerkMiddleware {
    clerk: Instance,
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

impl ClerkMiddleware {
    /// Middleware authenticating with `clerk` (clone one `Clerk` into every
    /// worker so they share its key and token caches).
    pub fn new(clerk: Clerk) -> Self {
        Self {
            clerk: Instance::One(clerk),
        }
    }

    /// One app, several Clerk instances (Clerk's
    /// `clerkMiddleware((req) => options)`): `rule` gets each request's
    /// host (`X-Forwarded-Host`, else `Host`; lowercase, no port) and names
    /// its `Clerk`. A request whose host names none is answered 421
    /// (`clerk-instance-unknown`) and never reaches the service.
    pub fn per_host(rule: impl Fn(&str) -> Option<Clerk> + Send + Sync + 'static) -> Self {
        Self {
            clerk: Instance::PerHost(Arc::new(rule)),
        }
    }
}

impl<S, B> Transform<S, ServiceRequest> for ClerkMiddleware
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Transform = ClerkMiddlewareService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(ClerkMiddlewareService {
            service: Rc::new(service),
            clerk: self.clerk.clone(),
        }))
    }
}

/// The service made by [`ClerkMiddleware`].
#[derive(Debug)]
pub struct ClerkMiddlewareService<S> {
    service: Rc<S>,
    clerk: Instance,
}

type Slow<B> =
    Pin<Box<dyn Future<Output = Result<ServiceResponse<EitherBody<B>>, actix_web::Error>>>>;

/// What the response gets besides the service's answer.
#[derive(Default)]
struct Extra {
    /// Clerk's debug headers, when on.
    debug: Option<clerk_core::adapter::DebugHeaders>,
    /// A page served with new cookies: its headers, appended.
    page: Option<Arc<PageAnswer>>,
}

/// The `Auth` the service gets and what its response gets, or the
/// redirect to answer instead.
fn pass(on: bool, auth: Auth) -> Result<(Auth, Extra), Arc<PageAnswer>> {
    let (auth, page) = match auth {
        Auth::Page(page) => match page.served() {
            None => return Err(page),
            Some(served) => (served.clone(), Some(page)),
        },
        auth => (auth, None),
    };
    let debug = if on { auth.debug_headers() } else { None };
    Ok((auth, Extra { debug, page }))
}

fn with_extra<B>(mut res: ServiceResponse<B>, extra: Extra) -> ServiceResponse<B> {
    use actix_web::http::header::{HeaderName, HeaderValue};
    if let Some(page) = extra.page {
        for (name, value) in page.headers() {
            if let (Ok(n), Ok(v)) = (
                HeaderName::from_bytes(name.as_str().as_bytes()),
                HeaderValue::from_bytes(value.as_bytes()),
            ) {
                res.headers_mut().append(n, v);
            }
        }
    }
    for (name, value) in extra
        .debug
        .into_iter()
        .flat_map(clerk_core::adapter::DebugHeaders::iter)
    {
        res.headers_mut().insert(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
    res
}

/// A handshake redirect answered instead of calling the service.
fn answer<B>(req: ServiceRequest, handshake: &PageAnswer) -> ServiceResponse<EitherBody<B>> {
    let (http_req, _) = req.into_parts();
    ServiceResponse::new(http_req, from_http(handshake.to_response::<String>()))
        .map_into_right_body()
}

impl<S, B> Service<ServiceRequest> for ClerkMiddlewareService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Future = ResponseFuture<S::Future, B>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let picked;
        let clerk = match &self.clerk {
            Instance::One(clerk) => clerk,
            Instance::PerHost(rule) => {
                match clerk_core::adapter::pick_instance(rule, &ActixRequest(&req)) {
                    Ok(clerk) => {
                        picked = clerk;
                        &picked
                    }
                    Err(refusal) => {
                        let (http_req, _) = req.into_parts();
                        let res = from_http(refusal.into_empty_response::<String>());
                        return ResponseFuture {
                            kind: Kind::Answered {
                                res: Some(
                                    ServiceResponse::new(http_req, res).map_into_right_body(),
                                ),
                            },
                        };
                    }
                }
            }
        };
        if let Some(target) = clerk.organization_in_url(req.path()) {
            req.extensions_mut().insert(target);
        }
        let mut auth = clerk.authenticate(&ActixRequest(&req));
        // One poll decides the hot path (no boxing of the service call); a
        // pending future re-registers the real waker when polled again.
        match Pin::new(&mut auth).poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(auth) => match pass(clerk.debug_headers(), auth) {
                Err(redirect) => ResponseFuture {
                    kind: Kind::Answered {
                        res: Some(answer(req, &redirect)),
                    },
                },
                Ok((auth, extra)) => {
                    req.extensions_mut().insert(auth);
                    ResponseFuture {
                        kind: Kind::Ready {
                            fut: self.service.call(req),
                            extra: Some(extra),
                        },
                    }
                }
            },
            // Keys must be fetched first, or a machine token needs the
            // Backend API: rarer, boxed.
            Poll::Pending => {
                let service = Rc::clone(&self.service);
                let on = clerk.debug_headers();
                ResponseFuture {
                    kind: Kind::Slow {
                        fut: Box::pin(async move {
                            let (auth, extra) = match pass(on, auth.await) {
                                Err(redirect) => return Ok(answer(req, &redirect)),
                                Ok(passed) => passed,
                            };
                            req.extensions_mut().insert(auth);
                            service
                                .call(req)
                                .await
                                .map(|res| with_extra(res, extra))
                                .map(ServiceResponse::map_into_left_body)
                        }),
                    },
                }
            }
        }
    }
}

pin_project! {
    /// Response future of [`ClerkMiddlewareService`].
    pub struct ResponseFuture<F, B> {
        #[pin]
        kind: Kind<F, B>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F, B> {
        Ready { #[pin] fut: F, extra: Option<Extra> },
        Slow { fut: Slow<B> },
        Answered { res: Option<ServiceResponse<EitherBody<B>>> },
    }
}

impl<F, B> Future for ResponseFuture<F, B>
where
    F: Future<Output = Result<ServiceResponse<B>, actix_web::Error>>,
{
    type Output = Result<ServiceResponse<EitherBody<B>>, actix_web::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Ready { fut, extra } => {
                let res = ready!(fut.poll(cx));
                let extra = extra.take().unwrap_or_default();
                Poll::Ready(res.map(|r| with_extra(r, extra).map_into_left_body()))
            }
            KindProj::Slow { fut } => fut.as_mut().poll(cx),
            KindProj::Answered { res } => match res.take() {
                Some(r) => Poll::Ready(Ok(r)),
                // Only reachable by polling again after completion.
                None => Poll::Pending,
            },
        }
    }
}
