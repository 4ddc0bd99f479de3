//! `ClerkLayer`: authenticate every request, never reject.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker, ready};

use clerk_core::{Authenticate, Clerk};
use http::Request;
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

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
    type Future = ResponseFuture<S, B>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        let mut auth = self.clerk.authenticate(req.headers());
        // One poll decides the hot path: a cached or locally verifiable
        // token is ready at once (no boxing, no clone of the inner service).
        // A poll with a no-op waker is sound: a pending future re-registers
        // the real waker when `ResponseFuture` polls it.
        match Pin::new(&mut auth).poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(auth) => {
                req.extensions_mut().insert(auth);
                ResponseFuture {
                    state: State::Calling {
                        fut: self.inner.call(req),
                    },
                }
            }
            // Keys must be fetched first (start-up, rotation), or a machine
            // token needs the Backend API: keep the service that was driven
            // ready, and call it once the Auth is known.
            Poll::Pending => {
                let clone = self.inner.clone();
                let ready = std::mem::replace(&mut self.inner, clone);
                ResponseFuture {
                    state: State::Fetching {
                        auth,
                        pending: Some((ready, req)),
                    },
                }
            }
        }
    }
}

pin_project! {
    /// Response future of [`ClerkService`].
    pub struct ResponseFuture<S: Service<Request<B>>, B> {
        #[pin]
        state: State<S, B>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S: Service<Request<B>>, B> {
        Fetching {
            auth: Authenticate,
            pending: Option<(S, Request<B>)>,
        },
        Calling {
            #[pin]
            fut: S::Future,
        },
    }
}

impl<S, B> Future for ResponseFuture<S, B>
where
    S: Service<Request<B>>,
{
    type Output = Result<S::Response, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.project().state;
        loop {
            match state.as_mut().project() {
                StateProj::Calling { fut } => return fut.poll(cx),
                StateProj::Fetching { auth, pending } => {
                    let auth = ready!(Pin::new(auth).poll(cx));
                    let Some((mut inner, mut req)) = pending.take() else {
                        // Only reachable by polling again after completion.
                        return Poll::Pending;
                    };
                    req.extensions_mut().insert(auth);
                    let fut = inner.call(req);
                    state.set(State::Calling { fut });
                }
            }
        }
    }
}
