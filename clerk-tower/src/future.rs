//! The one response future of both services: wait for what decides the
//! request (its authentication, or the guard's decision), then call the
//! inner service or answer.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker, ready};

use http::Request;
use pin_project_lite::pin_project;
use tower_service::Service;

/// Turns what was waited for into the request to pass on, or the response
/// to send instead.
/// It also names Clerk's debug headers for the response (see
/// [`clerk_core::Auth::debug_headers`]), added when the future was started
/// with them on.
pub(crate) type Pass<W, B, R> =
    fn(<W as Future>::Output, Request<B>) -> Result<(Request<B>, Debug), R>;

/// Clerk's debug headers to add to the response.
pub(crate) type Debug = Option<[(&'static str, &'static str); 2]>;

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
            pass: Pass<W, B, S::Response>,
            debug: bool,
        },
        Calling {
            #[pin]
            fut: S::Future,
            debug: Debug,
        },
        Answered {
            response: Option<S::Response>,
        },
    }
}

impl<S, B, W> ResponseFuture<S, B, W>
where
    S: Service<Request<B>> + Clone,
    W: Future + Unpin,
{
    /// Polls `wait` once: ready (the hot path), the request is passed on or
    /// answered at once, with no allocation and no clone of the service; a
    /// poll with a no-op waker is sound because a pending `wait` is polled
    /// again, with the real waker, by this future. Pending (keys or the
    /// Backend API must be awaited), the service that was driven ready is
    /// kept for the call and a clone takes its place.
    pub(crate) fn start(
        inner: &mut S,
        req: Request<B>,
        mut wait: W,
        pass: Pass<W, B, S::Response>,
        debug: bool,
    ) -> Self {
        let state = match Pin::new(&mut wait).poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(out) => match pass(out, req) {
                Ok((req, tags)) => State::Calling {
                    debug: tags.filter(|_| debug),
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
                StateProj::Calling { fut, debug } => {
                    let mut res = ready!(fut.poll(cx));
                    if let (Ok(res), Some(headers)) = (&mut res, debug.take()) {
                        for (name, value) in headers {
                            if let Ok(v) = http::HeaderValue::from_str(value) {
                                res.headers_mut().insert(name, v);
                            }
                        }
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
                        Ok((req, tags)) => {
                            let debug = tags.filter(|_| *debug);
                            let fut = inner.call(req);
                            state.set(State::Calling { fut, debug });
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
