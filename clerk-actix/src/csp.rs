//! `ContentSecurityPolicyMiddleware`: Clerk's Content-Security-Policy on
//! every response, with a per-request nonce in strict mode.

use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::rc::Rc;

use actix_web::Error;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::header::{HeaderName, HeaderValue};
use clerk_core::browser::ContentSecurityPolicy;

/// Sends a [`ContentSecurityPolicy`] on every response (Clerk's
/// `contentSecurityPolicy` option). In strict mode each request gets a
/// fresh nonce, set as the request's `x-nonce` header for the handler (any
/// the client sent is replaced) and sent back as the response's.
#[derive(Debug, Clone)]
pub struct ContentSecurityPolicyMiddleware {
    policy: Rc<ContentSecurityPolicy>,
}

impl ContentSecurityPolicyMiddleware {
    /// Middleware sending `policy`.
    pub fn new(policy: ContentSecurityPolicy) -> Self {
        Self {
            policy: Rc::new(policy),
        }
    }
}

impl<S, B> Transform<S, ServiceRequest> for ContentSecurityPolicyMiddleware
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: 'static,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Transform = ContentSecurityPolicyService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, ()>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(ContentSecurityPolicyService {
            service: Rc::new(service),
            policy: self.policy.clone(),
        }))
    }
}

/// The service made by [`ContentSecurityPolicyMiddleware`].
#[derive(Debug)]
pub struct ContentSecurityPolicyService<S> {
    service: Rc<S>,
    policy: Rc<ContentSecurityPolicy>,
}

/// An `http` 1 header value as actix's.
fn value(v: &http::HeaderValue) -> Option<HeaderValue> {
    HeaderValue::from_bytes(v.as_bytes()).ok()
}

impl<S, B> Service<ServiceRequest> for ContentSecurityPolicyService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: 'static,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<ServiceResponse<B>, Error>>>>;

    forward_ready!(service);

    fn call(&self, mut req: ServiceRequest) -> Self::Future {
        let nonce_name = HeaderName::from_static("x-nonce");
        let (policy, nonce) = self.policy.for_request();
        let nonce = nonce.as_ref().and_then(value);
        // A client's own `x-nonce` never reaches the handler.
        req.headers_mut().remove(nonce_name.clone());
        if let Some(n) = &nonce {
            req.headers_mut().insert(nonce_name.clone(), n.clone());
        }
        let name = HeaderName::from_static(self.policy.header_name());
        let policy = value(&policy);
        let reporting = self.policy.reporting_endpoints().as_ref().and_then(value);
        let fut = self.service.call(req);
        Box::pin(async move {
            let mut res = fut.await?;
            let headers = res.headers_mut();
            if let Some(p) = policy {
                headers.insert(name, p);
            }
            if let Some(n) = nonce {
                headers.insert(nonce_name, n);
            }
            if let Some(r) = reporting {
                headers.insert(HeaderName::from_static("reporting-endpoints"), r);
            }
            Ok(res)
        })
    }
}
