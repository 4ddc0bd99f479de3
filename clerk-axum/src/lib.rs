//! Clerk authentication for [axum](https://docs.rs/axum).
//!
//! * [`ClerkLayer`] authenticates every request (never rejects);
//! * [`protect`] guards routes (`MethodRouter::layer` on one route,
//!   `Router::route_layer` on a group);
//! * extractors read the outcome in handlers: [`Auth`] (always),
//!   [`Session`] (401 when signed out; `Option<Session>` never rejects),
//!   [`Require<P>`](Require) (a typed guard, see [`policy!`]),
//!   [`Claims<T>`](Claims) (your custom session claims), [`Machine`] (an
//!   API key, M2M or OAuth token), [`Principal`] (a user or a machine),
//!   [`CurrentUser`] (the user's Backend API record, cached) and
//!   [`Webhook`] (a verified Clerk webhook event).
//!
//! ```
//! use axum::{Router, routing::get};
//! use clerk_axum::{Clerk, ClerkLayer, Requirement, Require, Session, policy, protect};
//!
//! policy!(
//!     /// Organization admins.
//!     pub Admin = Requirement::role("org:admin")
//! );
//!
//! async fn me(session: Session) -> String {
//!     session.user_id().to_owned()
//! }
//!
//! async fn admin(Require(session, ..): Require<Admin>) -> String {
//!     format!("hello admin {}", session.user_id())
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let clerk = Clerk::new(clerk_axum::clerk_core::testing::TestIssuer::new().config().build()?)?;
//! // let clerk = Clerk::from_env()?;
//! let app: Router = Router::new()
//!     .route("/api/me", get(me))
//!     .route("/api/admin", get(admin))
//!     .route(
//!         "/api/reports",
//!         get(|| async { "reports" }).layer(protect(Requirement::permission("org:reports:read"))),
//!     )
//!     .layer(ClerkLayer::new(clerk));
//! # let _ = app;
//! # Ok(())
//! # }
//! ```
//!
//! **Which `layer` for [`protect`]:** on one route's `MethodRouter`, use
//! `layer`: it also wraps the route's 405 fallback, so a method the route
//! lacks (an `OPTIONS` preflight to a `GET` route) is judged like the
//! others (401 when signed out, 405 only for a caller who passes), as
//! actix's `ClerkProtect` on a resource answers; `MethodRouter::route_layer`
//! would answer 405 to anyone. On a whole `Router`, use `route_layer`: it
//! runs only when a route matched, so unknown paths stay 404 instead of
//! turning into 401s that reveal nothing (see axum's middleware docs).
//! [`ClerkLayer`] itself goes on the whole router with `layer`.
#![forbid(unsafe_code)]

mod extract;
mod rejection;
mod webhook;

pub use extract::{
    Auth, Claims, ClerkRejection, CurrentUser, Machine, Principal, Require, Session,
};
pub use webhook::Webhook;

/// Clerk's Content-Security-Policy on every response (tower's layer; see
/// [`clerk_core::browser::ContentSecurityPolicy`]).
pub use clerk_tower::ContentSecurityPolicyLayer;

pub use clerk_core;
pub use clerk_core::{
    AcceptsToken, Clerk, ClerkConfig, MachineAuth, Policy, Preset, Protect, Reason, Refusal,
    Requirement, RouteMatcher, TokenType, policy,
};

/// Authenticates every request (never rejects): the tower `ClerkLayer`
/// reading the peer address from axum's `ConnectInfo<SocketAddr>`. Serve
/// the router with `into_make_service_with_connect_info::<SocketAddr>()`
/// so that one client's flood of anonymous requests cannot spend the
/// Backend API calls other clients need (see [`clerk_core::config::BackendBudget`]).
#[derive(Debug, Clone)]
pub struct ClerkLayer(clerk_tower::ClerkLayer);

impl ClerkLayer {
    /// A layer authenticating with `clerk`.
    pub fn new(clerk: Clerk) -> Self {
        Self(clerk_tower::ClerkLayer::new(clerk).peer_from(connect_info))
    }

    /// One router, several Clerk instances picked by the request's host
    /// (see [`clerk_tower::ClerkLayer::per_host`]); a host naming none is
    /// answered 421.
    pub fn per_host(rule: impl Fn(&str) -> Option<Clerk> + Send + Sync + 'static) -> Self {
        Self(clerk_tower::ClerkLayer::per_host(rule).peer_from(connect_info))
    }
}

fn connect_info(extensions: &axum::http::Extensions) -> Option<std::net::IpAddr> {
    extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|info| info.0.ip())
        .or_else(|| extensions.get::<std::net::SocketAddr>().map(|a| a.ip()))
}

impl<S> tower_layer::Layer<S> for ClerkLayer {
    type Service = clerk_tower::ClerkService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        self.0.layer(inner)
    }
}

/// Clerk's Frontend API proxy (`frontendApiProxy`) as a service for
/// `Router::route_service`, reading the peer address as [`ClerkLayer`]
/// does (the same name as `clerk_actix::frontend_api_proxy`). Mount it on
/// the proxy's whole path, without stripping the prefix:
///
/// ```
/// use axum::Router;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let issuer = clerk_axum::clerk_core::testing::TestIssuer::new();
/// # let clerk = clerk_axum::Clerk::new(issuer.config()
/// #     .publishable_key(clerk_axum::clerk_core::testing::publishable_key_for("clerk.example.com", true))
/// #     .secret_key("sk_test_your_clerk_key_here").build()?)?;
/// let proxy = clerk.frontend_api_proxy()?;
/// let app: Router = Router::new()
///     .route_service("/__clerk/{*path}", clerk_axum::frontend_api_proxy(proxy))
///     .layer(clerk_axum::ClerkLayer::new(clerk));
/// # let _ = app;
/// # Ok(())
/// # }
/// ```
pub fn frontend_api_proxy(
    proxy: clerk_core::browser::FrontendApiProxy,
) -> clerk_tower::FrontendApiProxyService {
    clerk_tower::FrontendApiProxyService::new(proxy).peer_from(connect_info)
}

/// An MCP server's OAuth metadata (RFC 9728) and Clerk's
/// authorization-server metadata, for `Router::route_service` on the
/// well-known paths (the same name as
/// `clerk_actix::protected_resource_metadata`):
///
/// ```
/// use axum::Router;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let issuer = clerk_axum::clerk_core::testing::TestIssuer::new();
/// # let clerk = clerk_axum::Clerk::new(issuer.config()
/// #     .publishable_key(clerk_axum::clerk_core::testing::publishable_key_for("clerk.example.com", true)).build()?)?;
/// let mcp = clerk.protected_resource("https://app.example.com/mcp")?.scopes_supported(["profile"]);
/// let metadata = clerk_axum::protected_resource_metadata(mcp);
/// let app: Router = Router::new()
///     .route_service("/.well-known/oauth-protected-resource/mcp", metadata.clone())
///     .route_service("/.well-known/oauth-protected-resource", metadata.clone())
///     .route_service("/.well-known/oauth-authorization-server", metadata);
/// # let _ = app;
/// # Ok(())
/// # }
/// ```
pub fn protected_resource_metadata(
    resource: clerk_core::machine::ProtectedResource,
) -> clerk_tower::ProtectedResourceService {
    clerk_tower::ProtectedResourceService::new(resource)
}

/// A [`ProtectLayer`] requiring `requirement`, for `MethodRouter::layer`
/// (or `Router::route_layer`). Default responses: 401 / 403 /
/// reverification 403 / 503; build a [`Protect`] yourself for 404-hiding,
/// page redirects or your own renderer.
pub fn protect(requirement: Requirement) -> ProtectLayer {
    ProtectLayer::new(Protect::new(requirement))
}

/// Refuses requests that do not satisfy a [`Protect`] policy: the tower
/// `ProtectLayer` reading axum's paths. Inside `Router::nest`, route
/// patterns are matched against the full original path (axum's
/// `OriginalUri`) **and** the path below the mount point, and a request is
/// protected when either matches, so patterns written either way protect.
///
/// ```
/// use axum::{Router, routing::any};
/// use clerk_axum::{ClerkLayer, Protect, ProtectLayer, Requirement, RouteMatcher};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let clerk = clerk_axum::Clerk::new(clerk_axum::clerk_core::testing::TestIssuer::new().config().build()?)?;
/// let admin = Protect::new(Requirement::role("org:admin"))
///     .routes(RouteMatcher::new(["/nested/admin(.*)"])?);
/// let nested = Router::new()
///     .route("/admin", any(|| async { "admins only" }))
///     .layer(ProtectLayer::new(admin));
/// let app: Router = Router::new()
///     .nest("/nested", nested)
///     .layer(ClerkLayer::new(clerk));
/// # let _ = app;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct ProtectLayer(clerk_tower::ProtectLayer);

impl ProtectLayer {
    /// A layer enforcing `protect`.
    pub fn new(protect: Protect) -> Self {
        Self(clerk_tower::ProtectLayer::new(protect).original_uri_from(original_uri))
    }
}

fn original_uri(extensions: &axum::http::Extensions) -> Option<&axum::http::Uri> {
    extensions
        .get::<axum::extract::OriginalUri>()
        .map(|original| &original.0)
}

impl<S> tower_layer::Layer<S> for ProtectLayer {
    type Service = clerk_tower::ProtectService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        self.0.layer(inner)
    }
}
