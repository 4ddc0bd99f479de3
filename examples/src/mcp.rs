//! An MCP server (rmcp, streamable HTTP, on axum) whose tools are guarded
//! by Clerk OAuth access tokens, as Clerk's `@clerk/mcp-tools` guards
//! Express and Next.js ones:
//!
//! * `POST /mcp` needs an OAuth access token (`ClerkLayer` verifies it,
//!   `ProtectLayer` refuses anything else with a 401 whose challenge points
//!   at this server's own metadata, RFC 9728);
//! * each tool needs its own scope (`whoami`: `profile`, `token_info`:
//!   `email`), checked in the tool against the verified token;
//! * `/.well-known/oauth-protected-resource/mcp` (and the root form) serve
//!   the metadata, `/.well-known/oauth-authorization-server` passes Clerk's
//!   through.
//!
//! Dev mode signs OAuth tokens with the throwaway key (the banner prints
//! one); with real keys, set `MCP_RESOURCE_URL` to the server's public URL.

use rmcp::model::{CallToolResult, ContentBlock, ServerCapabilities, ServerInfo};
use rmcp::service::RequestContext;
use rmcp::transport::StreamableHttpServerConfig;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::tower::StreamableHttpService;
use rmcp::{ErrorData, RoleServer, ServerHandler, tool, tool_handler, tool_router};

use axum::Router;
use clerk_axum::{AcceptsToken, ClerkLayer, Protect, ProtectLayer, RouteMatcher, TokenType};
use clerk_core::machine::{MachineAuth, ProtectedResource};
use clerk_core::{Auth, ConfigError};

use crate::AppState;

/// The scopes the tools need, advertised as `scopes_supported`.
pub const SCOPES: [&str; 2] = ["profile", "email"];

/// The MCP server's tools (rmcp routes them with `Self::tool_router()`).
#[derive(Clone, Debug, Default)]
pub struct Tools;

/// The verified OAuth token of the request carrying this tool call, when
/// it grants `scope` (the MCP spec's `insufficient_scope` otherwise).
fn granted<'a>(
    ctx: &'a RequestContext<RoleServer>,
    scope: &str,
) -> Result<&'a MachineAuth, ErrorData> {
    // The guard let only OAuth tokens through: anything else here is a
    // wiring mistake, refused.
    let token = ctx
        .extensions
        .get::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<Auth>())
        .and_then(Auth::machine)
        .filter(|m| m.token_type == TokenType::OAuthToken)
        .ok_or_else(|| ErrorData::invalid_request("not authenticated", None))?;
    if token.has_scope(scope) {
        Ok(token)
    } else {
        Err(ErrorData::invalid_request(
            format!("insufficient_scope: this tool needs the {scope} scope"),
            Some(serde_json::json!({"error": "insufficient_scope", "scope": scope})),
        ))
    }
}

#[tool_router]
impl Tools {
    #[tool(description = "The user this token acts for (needs the profile scope)")]
    fn whoami(&self, ctx: RequestContext<RoleServer>) -> Result<CallToolResult, ErrorData> {
        let token = granted(&ctx, "profile")?;
        Ok(CallToolResult::success(vec![ContentBlock::text(
            token.subject.clone(),
        )]))
    }

    #[tool(description = "The OAuth client and scopes of this token (needs the email scope)")]
    fn token_info(&self, ctx: RequestContext<RoleServer>) -> Result<CallToolResult, ErrorData> {
        let token = granted(&ctx, "email")?;
        let info = serde_json::json!({
            "client_id": token.client_id,
            "scopes": token.scopes,
        });
        Ok(CallToolResult::success(vec![ContentBlock::text(
            info.to_string(),
        )]))
    }
}

#[tool_handler]
impl ServerHandler for Tools {
    fn get_info(&self) -> ServerInfo {
        ServerInfo::new(ServerCapabilities::builder().enable_tools().build())
            .with_instructions("Tools guarded by Clerk OAuth access tokens.".to_owned())
    }
}

/// The MCP server as an axum router: `/mcp` guarded, the metadata open,
/// all behind the Clerk layer. `resource_url` is the server's public
/// `…/mcp` URL (its host is the one `Host` header rmcp accepts).
///
/// # Errors
/// When the state has no publishable key (the authorization server) or
/// `resource_url` is not a resource URL.
pub fn router(state: &AppState, resource_url: &str) -> Result<Router, ConfigError> {
    let resource = state
        .clerk
        .protected_resource(resource_url)?
        .scopes_supported(SCOPES);
    let host = url_authority(resource.resource());
    // The route is the resource's own path, so the guard's pattern and the
    // mount can never differ.
    let path = resource_path(resource.resource());
    let config = StreamableHttpServerConfig::default().with_allowed_hosts(host);
    let mcp =
        StreamableHttpService::new(|| Ok(Tools), LocalSessionManager::default().into(), config);
    let guard = Protect::signed_in()
        .accepts_token(AcceptsToken::only([TokenType::OAuthToken]))
        .oauth_resource(&resource)
        .routes(
            RouteMatcher::new([path.clone(), format!("{path}/(.*)")])
                .map_err(|_| ConfigError::Unsupported("the MCP route pattern"))?,
        );
    Ok(Router::new()
        .nest_service(&path, mcp)
        .layer(ProtectLayer::new(guard))
        .merge(metadata_routes(resource))
        .layer(ClerkLayer::new(
            state
                .clerk
                .clone()
                .accepting(AcceptsToken::only([TokenType::OAuthToken])),
        )))
}

/// The well-known routes of `resource`.
fn metadata_routes(resource: ProtectedResource) -> Router {
    let path = resource
        .metadata_url()
        .split_once("/.well-known/")
        .map(|(_, rest)| format!("/.well-known/{rest}"))
        .unwrap_or_default();
    let metadata = clerk_axum::protected_resource_metadata(resource);
    let root = "/.well-known/oauth-protected-resource";
    let mut routes = Router::new()
        .route_service(root, metadata.clone())
        .route_service("/.well-known/oauth-authorization-server", metadata.clone());
    if path != root {
        routes = routes.route_service(&path, metadata);
    }
    routes
}

/// The path of a resource URL (`/mcp`); `/mcp` when it has none.
fn resource_path(url: &str) -> String {
    url.split_once("://")
        .and_then(|(_, rest)| rest.find('/').map(|i| rest[i..].to_owned()))
        .filter(|p| p.len() > 1)
        .unwrap_or_else(|| "/mcp".to_owned())
}

/// `host[:port]` of a URL (what rmcp checks the `Host` header against).
fn url_authority(url: &str) -> Vec<String> {
    url.split_once("://")
        .map(|(_, rest)| rest.split('/').next().unwrap_or("").to_owned())
        .into_iter()
        .collect()
}
