//! An MCP server's OAuth metadata as an actix handler.

use actix_web::web::Data;
use actix_web::{HttpRequest, HttpResponse};
use clerk_core::machine::ProtectedResource;

/// Serves [`ProtectedResource::answer`] (RFC 9728 metadata and Clerk's
/// authorization-server metadata), registered as app data, on the
/// well-known paths:
///
/// ```no_run
/// use actix_web::{App, web};
/// # fn app(clerk: clerk_core::Clerk) -> Result<(), clerk_core::ConfigError> {
/// let mcp = clerk.protected_resource("https://app.example.com/mcp")?;
/// let metadata = || web::to(clerk_actix::protected_resource_metadata);
/// let app = App::new()
///     .app_data(web::Data::new(mcp))
///     .route("/.well-known/oauth-protected-resource/mcp", metadata())
///     .route("/.well-known/oauth-protected-resource", metadata())
///     .route("/.well-known/oauth-authorization-server", metadata());
/// # let _ = app; Ok(()) }
/// ```
///
/// Without the app data every request is answered 500; any other path,
/// 404.
pub async fn protected_resource_metadata(
    req: HttpRequest,
    resource: Option<Data<ProtectedResource>>,
) -> HttpResponse {
    let Some(resource) = resource else {
        tracing::error!(
            "clerk_actix::protected_resource_metadata without a ProtectedResource in app data"
        );
        return HttpResponse::InternalServerError().finish();
    };
    crate::glue::from_http(resource.answer(req.method().as_str(), req.path()).await)
}
