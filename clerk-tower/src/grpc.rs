//! `GrpcProtectLayer`: a [`Protect`] policy for gRPC services (tonic),
//! answering refusals as gRPC statuses instead of HTTP bodies.

use std::task::{Context, Poll};

use clerk_core::protect::Decision;
use clerk_core::{Protect, Refusal};
use http::{Request, Response};
use tower_layer::Layer;
use tower_service::Service;

use crate::ResponseFuture;

/// Refuses gRPC calls that do not satisfy a [`Protect`] policy, with a
/// gRPC status ([`Refusal::into_grpc_response`]: `UNAUTHENTICATED`,
/// `PERMISSION_DENIED`, `UNAVAILABLE`, ...; Clerk's reason in
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
        ResponseFuture::start(
            &mut self.inner,
            req,
            decision,
            |decided, req| {
                decided
                    .map(|()| (req, None))
                    .map_err(Refusal::into_grpc_response)
            },
            false,
        )
    }
}
