//! The one response future of both services: wait for what decides the
//! request (its authentication, or the guard's decision), then call the
//! inner service or answer.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker, ready};

use clerk_core::adapter::DebugHeaders;
use clerk_core::protect::{Decision, Pass};
use clerk_core::{Auth, Authenticate, PageAnswer};
use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_service::Service;

/// Turns what was waited for into the request to pass on, or the response
/// to send instead.
/// It also names the headers to add to the response.
pub(crate) type PassOn<W, B, R> =
    fn(<W as Future>::Output, Request<B>) -> Result<(Request<B>, Extra), R>;

/// What the response gets besides the inner service's answer.
#[derive(Default)]
pub(crate) struct Extra {
    /// Clerk's debug headers (see [`clerk_core::Auth::debug_headers`]),
    /// added when the future was started with them on.
    debug: Option<DebugHeaders>,
    /// A page served with new cookies (see [`PageAnswer::served`]): its
    /// headers, appended.
    page: Option<Arc<PageAnswer>>,
}

impl Extra {
    fn apply<R>(self, res: &mut Response<R>, debug: bool) {
        if let Some(page) = self.page {
            for (name, value) in page.headers() {
                res.headers_mut().append(name, value.clone());
            }
        }
        for (name, value) in self
            .debug
            .filter(|_| debug)
            .into_iter()
            .flat_map(DebugHeaders::iter)
        {
            res.headers_mut()
                .insert(name, http::HeaderValue::from_static(value));
        }
    }
}

pin_project! {
    /// Response future of [`ClerkService`](crate::ClerkService) (waiting on
    /// an [`Authenticate`](clerk_core::Authenticate)) and
    /// [`ProtectService`](crate::ProtectService) (waiting on a
    /// [`Decision`](clerk_core::protect::Decision)). Neither waits on the hot path:
    /// it then only drives the inner service's future.
    pub struct ResponseFuture<S: Service<Request<B>>, B, W: Future> {
        #[pin]
        state: State<S, B, W>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S: Service<Request<B>>, B, W: Future> {
        Waiting {
            wait: W,
            pending: Option<(S, Request<B>)>,
            pass: PassOn<W, B, S::Response>,
            debug: bool,
        },
        Calling {
            #[pin]
            fut: S::Future,
            extra: Option<Extra>,
            debug: bool,
        },
        Answered {
            response: Option<S::Response>,
        },
    }
}

/// `ClerkService`: a page load Clerk refreshes through a handshake is
/// answered with its redirect; anything else passes on with its `Auth`.
fn pass_authenticated<B, R: Default>(
    auth: Auth,
    mut req: Request<B>,
) -> Result<(Request<B>, Extra), Response<R>> {
    let (auth, page) = match auth {
        Auth::Page(page) => match page.served() {
            None => return Err(page.to_response()),
            Some(served) => (served.clone(), Some(page)),
        },
        auth => (auth, None),
    };
    let debug = auth.debug_headers();
    req.extensions_mut().insert(auth);
    Ok((req, Extra { debug, page }))
}

/// `ProtectService`: the guard's answer as an HTTP response.
fn pass_http<B, R: From<String>>(
    decided: Result<Pass, clerk_core::Refusal>,
    req: Request<B>,
) -> Result<(Request<B>, Extra), Response<R>> {
    match decided {
        Ok(Pass::Handler) => Ok((req, Extra::default())),
        Ok(Pass::Preflight(answer)) => Err(answer.map(R::from)),
        Err(refusal) => Err(refusal.into_response()),
    }
}

/// `GrpcProtectService`: the guard's answer as a gRPC status; a CORS
/// preflight (gRPC-web from a browser) is no gRPC call, its plain 204
/// stays.
fn pass_grpc<B, R: Default>(
    decided: Result<Pass, clerk_core::Refusal>,
    req: Request<B>,
) -> Result<(Request<B>, Extra), Response<R>> {
    match decided {
        Ok(Pass::Handler) => Ok((req, Extra::default())),
        Ok(Pass::Preflight(answer)) => Err(answer.map(|_| R::default())),
        Err(refusal) => Err(refusal.into_grpc_response()),
    }
}

impl<S, B, ResBody> ResponseFuture<S, B, Authenticate>
where
    S: Service<Request<B>, Response = Response<ResBody>> + Clone,
    ResBody: Default,
{
    /// Waits for the request's authentication (`ClerkService`), adding
    /// Clerk's debug headers to the response when `debug`.
    pub(crate) fn authenticate(
        inner: &mut S,
        req: Request<B>,
        auth: Authenticate,
        debug: bool,
    ) -> Self {
        Self::start(inner, req, auth, pass_authenticated, debug)
    }
}

impl<S, B, ResBody> ResponseFuture<S, B, Decision>
where
    S: Service<Request<B>, Response = Response<ResBody>> + Clone,
{
    /// Waits for the guard's decision (`ProtectService`), answering a
    /// refusal as HTTP.
    pub(crate) fn protect(inner: &mut S, req: Request<B>, decision: Decision) -> Self
    where
        ResBody: From<String>,
    {
        Self::start(inner, req, decision, pass_http, false)
    }

    /// Waits for the guard's decision (`GrpcProtectService`), answering a
    /// refusal as a gRPC status.
    pub(crate) fn protect_grpc(inner: &mut S, req: Request<B>, decision: Decision) -> Self
    where
        ResBody: Default,
    {
        Self::start(inner, req, decision, pass_grpc, false)
    }
}

impl<S, B, W> ResponseFuture<S, B, W>
where
    S: Service<Request<B>> + Clone,
    W: Future + Unpin,
{
    /// Answered before anything was waited for (no Clerk instance for
    /// the request).
    pub(crate) fn answered(response: S::Response) -> Self {
        Self {
            state: State::Answered {
                response: Some(response),
            },
        }
    }

    /// Polls `wait` once: ready (the hot path), the request is passed on or
    /// answered at once, with no allocation and no clone of the service; a
    /// poll with a no-op waker is sound because a pending `wait` is polled
    /// again, with the real waker, by this future. Pending (keys or the
    /// Backend API must be awaited), the service that was driven ready is
    /// kept for the call and a clone takes its place.
    fn start(
        inner: &mut S,
        req: Request<B>,
        mut wait: W,
        pass: PassOn<W, B, S::Response>,
        debug: bool,
    ) -> Self {
        let state = match Pin::new(&mut wait).poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(out) => match pass(out, req) {
                Ok((req, extra)) => State::Calling {
                    extra: Some(extra),
                    debug,
                    fut: inner.call(req),
                },
                Err(response) => State::Answered {
                    response: Some(response),
                },
            },
            Poll::Pending => {
                let clone = inner.clone();
                let ready = std::mem::replace(inner, clone);
                State::Waiting {
                    wait,
                    pending: Some((ready, req)),
                    pass,
                    debug,
                }
            }
        };
        Self { state }
    }
}

impl<S, B, W, ResBody> Future for ResponseFuture<S, B, W>
where
    S: Service<Request<B>, Response = http::Response<ResBody>>,
    W: Future + Unpin,
{
    type Output = Result<S::Response, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.project().state;
        loop {
            match state.as_mut().project() {
                StateProj::Calling { fut, extra, debug } => {
                    let mut res = ready!(fut.poll(cx));
                    if let (Ok(res), Some(extra)) = (&mut res, extra.take()) {
                        extra.apply(res, *debug);
                    }
                    return Poll::Ready(res);
                }
                StateProj::Answered { response } => {
                    return match response.take() {
                        Some(r) => Poll::Ready(Ok(r)),
                        // Only reachable by polling again after completion.
                        None => Poll::Pending,
                    };
                }
                StateProj::Waiting {
                    wait,
                    pending,
                    pass,
                    debug,
                } => {
                    let out = ready!(Pin::new(wait).poll(cx));
                    let Some((mut inner, req)) = pending.take() else {
                        return Poll::Pending;
                    };
                    match pass(out, req) {
                        Ok((req, extra)) => {
                            let debug = *debug;
                            let fut = inner.call(req);
                            state.set(State::Calling {
                                fut,
                                extra: Some(extra),
                                debug,
                            });
                        }
                        Err(response) => state.set(State::Answered {
                            response: Some(response),
                        }),
                    }
                }
            }
        }
    }
}
