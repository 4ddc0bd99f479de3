//! Clerk authentication for [axum](https://docs.rs/axum).
//!
//! * [`ClerkLayer`] authenticates every request (never rejects);
//! * [`protect`] guards routes through `Router::route_layer`;
//! * extractors read the outcome in handlers: [`Auth`] (always),
//!   [`Session`] (401 when signed out; `Option<Session>` never rejects),
//!   [`Require<P>`](Require) (a typed guard, see [`policy!`]), and
//!   [`Claims<T>`](Claims) (your custom session claims).
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
//!         get(|| async { "reports" }).route_layer(protect(Requirement::permission("org:reports:read"))),
//!     )
//!     .layer(ClerkLayer::new(clerk));
//! # let _ = app;
//! # Ok(())
//! # }
//! ```
//!
//! **Why `route_layer`, not `layer`, for [`protect`]:** `route_layer` runs
//! only when a route matched, so unknown paths stay 404 instead of turning
//! into 401s that reveal nothing and confuse clients (see axum's middleware
//! docs). [`ClerkLayer`] itself goes on the whole router with `layer`.
#![forbid(unsafe_code)]

mod extract;
mod rejection;
mod webhook;

pub use extract::{Auth, Claims, CurrentUser, Machine, Principal, Require, Session};
pub use rejection::ClerkRejection;
pub use webhook::{Webhook, WebhookRejection};

pub use clerk_core;
pub use clerk_core::{
    AcceptsToken, Clerk, ClerkConfig, Decision, MachineAuth, Policy, Preset, Protect, Rejection,
    Requirement, RouteMatcher, SignedOutReason, TokenType, policy,
};
pub use clerk_tower::{ClerkLayer, ProtectLayer};

/// A [`ProtectLayer`] requiring `requirement`, for `Router::route_layer`
/// (or `MethodRouter::route_layer`). Default responses: 401 / 403 /
/// reverification 403 / 503; build a [`Protect`] yourself for 404-hiding,
/// page redirects or your own renderer.
pub fn protect(requirement: Requirement) -> ProtectLayer {
    ProtectLayer::new(Protect::new(requirement))
}
