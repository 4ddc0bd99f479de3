//! Clerk authentication for [actix-web](https://actix.rs), with the same
//! names and meanings as `clerk-axum`.
//!
//! * [`ClerkMiddleware`] authenticates every request and stores a
//!   [`clerk_core::Auth`] in the request extensions (never rejects). Build
//!   the [`Clerk`] once, outside `HttpServer::new`, so all workers share one
//!   key cache;
//! * [`ClerkProtect`] guards an `App`, `Scope` or `Resource` with a
//!   [`Protect`] policy (401 / 403 / reverification 403 / 503 / 404-hiding /
//!   page redirect / your renderer);
//! * extractors: [`Auth`] (always), [`Session`] (401 when signed out),
//!   [`Require<P>`](Require) (a typed guard, see [`policy!`]),
//!   [`Claims<T>`](Claims), [`Machine`], [`Principal`], [`CurrentUser`] and
//!   [`Webhook`], as in `clerk-axum`.
//!
//! ```
//! use actix_web::{App, HttpServer, web};
//! use clerk_actix::{Clerk, ClerkMiddleware, ClerkProtect, Requirement, Session};
//!
//! async fn me(session: Session) -> String {
//!     format!("hello {}", session.user_id())
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let clerk = Clerk::new(clerk_actix::clerk_core::testing::TestIssuer::new().config().build()?)?;
//! // let clerk = Clerk::from_env()?;
//! let server = HttpServer::new(move || {
//!     App::new()
//!         .wrap(ClerkMiddleware::new(clerk.clone()))
//!         .route("/api/me", web::get().to(me))
//!         .service(
//!             web::resource("/api/admin")
//!                 .wrap(ClerkProtect::requiring(Requirement::role("org:admin")))
//!                 .to(|| async { "admins only" }),
//!         )
//! });
//! # let _ = server;
//! # Ok(())
//! # }
//! ```
//!
//! Note: actix's blanket `Option<T>` extractor turns every error into
//! `None` (axum's passes 500 and 503 on): `Option<Session>` without the
//! middleware reads as signed out, and `Option<CurrentUser>` is `None` when
//! the Backend API cannot be reached. Take `Session` or `CurrentUser`
//! itself where a wiring mistake or an outage must not read as signed out:
//! they answer 500 (`clerk-layer-missing`) and 503.
#![forbid(unsafe_code)]

mod csp;
mod extract;
mod glue;
mod middleware;
mod protect;
mod proxy;
mod resource;
mod webhook;

pub use csp::{ContentSecurityPolicyMiddleware, ContentSecurityPolicyService};
pub use extract::{
    Auth, Claims, ClerkRejection, CurrentUser, Machine, Principal, Require, Session,
};
pub use glue::ActixHeaders;
pub use middleware::{ClerkMiddleware, ClerkMiddlewareService};
pub use protect::{ClerkProtect, ClerkProtectService};
pub use proxy::frontend_api_proxy;
pub use resource::protected_resource_metadata;
pub use webhook::Webhook;

pub use clerk_core;
pub use clerk_core::{
    AcceptsToken, Clerk, ClerkConfig, MachineAuth, Policy, Preset, Protect, Reason, Refusal,
    Requirement, RouteMatcher, TokenType, policy,
};
