//! `GrpcProtectLayer`: a [`Protect`] policy for gRPC services (tonic),
//! answering refusals as gRPC statuses instead of HTTP bodies.

use std::task::{Context, Poll};

use clerk_core::Protect;
use clerk_core::protect::Decision;
use http::{Request, Response};
use tower_layer::Layer;
use tower_service::Service;

use crate::ResponseFuture;

/// Refuses gRPC calls that do not satisfy a [`Protect`] policy, with a
/// gRPC status
/// ([`Refusal::into_grpc_response`](clerk_core::Refusal::into_grpc_response):
/// `UNAUTHENTICATED`, `PERMISSION_DENIED`, `UNAVAILABLE`, ...; Clerk's reason in
/// `grpc-message`, never the token). Routes are the gRPC paths,
/// `/package.Service/Method`. Needs the [`Auth`](clerk_core::Auth) that [`crate::ClerkLayer`]
/// inserts; without it every call is `INTERNAL` (`clerk-layer-missing`).
/// Unlike [`crate::ProtectLayer`], the response body only needs `Default`,
/// which tonic's body is.
///
/// For gRPC, authenticate with [`clerk_core::Clerk::bearer_only`]: the
/// token is the `authorization: Bearer …` metadata, never a cookie.
///
/// ```
/// use clerk_core::{Clerk, Protect, Requirement, RouteMatcher, testing::TestIssuer};
/// use clerk_tower::{ClerkLayer, GrpcProtectLayer};
/// use tower::ServiceBuilder;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let clerk = Clerk::new(TestIssuer::new().config().build()?)?;
/// let layers = ServiceBuilder::new()
///     .layer(ClerkLayer::new(clerk.bearer_only()))
///     .layer(GrpcProtectLayer::new(
///         Protect::new(Requirement::role("org:admin"))
///             .routes(RouteMatcher::new(["/admin.Admin/(.*)"])?),
///     ));
/// // tonic: Server::builder().layer(layers).add_service(...)
/// # let _ = layers;
/// # Ok(())
/// # }
/// ```
///
/// A service method reads the caller from the request extensions, which
/// tonic carries over: `request.extensions().get::<clerk_core::Auth>()`.
#[derive(Debug, Clone)]
pub struct GrpcProtectLayer {
    protect: Protect,
}

impl GrpcProtectLayer {
    /// A layer enforcing `protect` on gRPC calls.
    pub fn new(protect: Protect) -> Self {
        Self { protect }
    }
}

impl<S> Layer<S> for GrpcProtectLayer {
    type Service = GrpcProtectService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcProtectService {
            inner,
            protect: self.protect.clone(),
        }
    }
}

/// The service made by [`GrpcProtectLayer`].
#[derive(Debug, Clone)]
pub struct GrpcProtectService<S> {
    inner: S,
    protect: Protect,
}

impl<S> GrpcProtectService<S> {
    crate::define_inner_service_accessors!();
}

impl<S, B, ResBody> Service<Request<B>> for GrpcProtectService<S>
where
    S: Service<Request<B>, Response = Response<ResBody>> + Clone,
    ResBody: Default,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S, B, Decision>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let decision = crate::protect::decide(&self.protect, &req, None);
        ResponseFuture::protect_grpc(&mut self.inner, req, decision)
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use clerk_core::{Auth, Protect, Reason, Requirement, RouteMatcher};
    use http::{Request, Response};
    use tower::{ServiceExt, service_fn};
    use tower_layer::Layer;

    use super::GrpcProtectLayer;

    /// A CORS preflight (gRPC-web from a browser) the guard answers is no
    /// gRPC call: a plain 204 without `grpc-status`, the service never
    /// called; the same request without `Access-Control-Request-Method` is
    /// judged, and refused as a gRPC status.
    #[tokio::test]
    async fn an_answered_preflight_is_a_plain_204_and_never_reaches_the_service() {
        let called = Arc::new(AtomicUsize::new(0));
        let seen = called.clone();
        let inner = service_fn(move |_req: Request<()>| {
            seen.fetch_add(1, Ordering::SeqCst);
            async { Ok::<_, Infallible>(Response::new(String::new())) }
        });
        let protect = Protect::new(Requirement::signed_in())
            .routes(RouteMatcher::new(["/admin.Admin/(.*)"]).unwrap())
            .answer_preflights(true);
        let service = GrpcProtectLayer::new(protect).layer(inner);
        let call = |preflight: bool| {
            let mut req = Request::builder()
                .method("OPTIONS")
                .uri("/admin.Admin/Delete");
            if preflight {
                req = req.header("access-control-request-method", "POST");
            }
            let mut req = req.body(()).unwrap();
            req.extensions_mut()
                .insert(Auth::SignedOut(Reason::SessionTokenMissing));
            service.clone().oneshot(req)
        };
        let answered = call(true).await.unwrap();
        assert_eq!(answered.status(), 204);
        assert!(answered.headers().get("grpc-status").is_none());
        assert_eq!(called.load(Ordering::SeqCst), 0);
        let judged = call(false).await.unwrap();
        assert_eq!(judged.headers()["grpc-status"], "16", "unauthenticated");
        assert_eq!(called.load(Ordering::SeqCst), 0);
    }
}
