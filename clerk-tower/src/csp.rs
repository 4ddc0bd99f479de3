//! `ContentSecurityPolicyLayer`: Clerk's Content-Security-Policy on every
//! response, with a per-request nonce in strict mode.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use clerk_core::browser::ContentSecurityPolicy;
use http::{HeaderName, HeaderValue, Request, Response};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

/// Sends a [`ContentSecurityPolicy`] on every response (Clerk's
/// `contentSecurityPolicy` option of `clerkMiddleware`). In strict mode
/// each request gets a fresh nonce, set as the request's `x-nonce` header
/// for the handler (any `x-nonce` the client sent is replaced) and sent
/// back as the response's, as Clerk's middleware does.
#[derive(Debug, Clone)]
pub struct ContentSecurityPolicyLayer {
    policy: ContentSecurityPolicy,
}

impl ContentSecurityPolicyLayer {
    /// A layer sending `policy`.
    pub fn new(policy: ContentSecurityPolicy) -> Self {
        Self { policy }
    }
}

impl<S> Layer<S> for ContentSecurityPolicyLayer {
    type Service = ContentSecurityPolicyService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ContentSecurityPolicyService {
            inner,
            policy: self.policy.clone(),
        }
    }
}

/// The service made by [`ContentSecurityPolicyLayer`].
#[derive(Debug, Clone)]
pub struct ContentSecurityPolicyService<S> {
    inner: S,
    policy: ContentSecurityPolicy,
}

impl<S> ContentSecurityPolicyService<S> {
    crate::define_inner_service_accessors!();
}

const NONCE: HeaderName = HeaderName::from_static("x-nonce");

impl<S, B, ResBody> Service<Request<B>> for ContentSecurityPolicyService<S>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = CspFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        let (policy, nonce) = self.policy.for_request();
        match &nonce {
            Some(n) => req.headers_mut().insert(NONCE, n.clone()),
            None => req.headers_mut().remove(NONCE),
        };
        CspFuture {
            fut: self.inner.call(req),
            headers: Some(Headers {
                name: HeaderName::from_static(self.policy.header_name()),
                policy,
                nonce,
                reporting: self.policy.reporting_endpoints(),
            }),
        }
    }
}

struct Headers {
    name: HeaderName,
    policy: HeaderValue,
    nonce: Option<HeaderValue>,
    reporting: Option<HeaderValue>,
}

pin_project! {
    /// Response future of [`ContentSecurityPolicyService`].
    pub struct CspFuture<F> {
        #[pin]
        fut: F,
        headers: Option<Headers>,
    }
}

impl<F, ResBody, E> Future for CspFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut res = ready!(this.fut.poll(cx));
        if let (Ok(res), Some(h)) = (&mut res, this.headers.take()) {
            let headers = res.headers_mut();
            headers.insert(h.name, h.policy);
            if let Some(n) = h.nonce {
                headers.insert(NONCE, n);
            }
            if let Some(r) = h.reporting {
                headers.insert(HeaderName::from_static("reporting-endpoints"), r);
            }
        }
        Poll::Ready(res)
    }
}
