//! `ProtectedResourceService`: an MCP server's OAuth metadata (RFC 9728)
//! and Clerk's authorization-server metadata, as a tower service.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use clerk_core::machine::ProtectedResource;
use http::{Request, Response};
use tower_service::Service;

/// Serves [`ProtectedResource::answer`]: route the well-known paths to it
/// (axum: `route_service("/.well-known/oauth-protected-resource/mcp", ..)`
/// and the same for `/.well-known/oauth-protected-resource` and
/// `/.well-known/oauth-authorization-server`); any other path is 404.
#[derive(Clone, Debug)]
pub struct ProtectedResourceService {
    resource: ProtectedResource,
}

impl ProtectedResourceService {
    /// A service answering for `resource`.
    pub fn new(resource: ProtectedResource) -> Self {
        Self { resource }
    }
}

impl<B> Service<Request<B>> for ProtectedResourceService {
    type Response = Response<String>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<String>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let resource = self.resource.clone();
        let method = req.method().as_str().to_owned();
        let path = req.uri().path().to_owned();
        Box::pin(async move { Ok(resource.answer(&method, &path).await) })
    }
}
