//! Clerk authentication and authorization for Rust services, with no web
//! framework attached: the engine behind `clerk-tower`, `clerk-axum` and
//! `clerk-actix`.
//!
//! One request takes one path, and a handful of types carry it:
//!
//! * [`Clerk`] (built from a [`ClerkConfig`], or [`Clerk::from_env`])
//!   authenticates a request: [`Clerk::authenticate`] takes anything that
//!   is a [`RequestHead`] (a `HeaderMap` for an API call, an
//!   `http::Request` or its `Parts` for page handling too) and returns an
//!   owned future ([`Authenticate`]) of its [`Auth`], ready at once on the
//!   hot path.
//! * [`Auth`] is signed in (a [`Session`]: user, organization role and
//!   permissions, plans, features, factor age, actor, custom claims, and
//!   [`Session::user`], the user's cached Backend API record), a verified
//!   machine token ([`MachineAuth`]), or signed out with Clerk's reason
//!   ([`Reason`]).
//! * [`Requirement`] says what a session must satisfy (Clerk's `has()`:
//!   roles, permissions, plans, features, reverification, MFA, machine
//!   scopes, your own checks).
//! * [`Protect`] is the guard: which routes ([`RouteMatcher`], matched on
//!   every reading of the path, failing closed), which requirement, what to
//!   answer. [`Protect::decide`] returns a [`Decision`](protect::Decision): `Ok(())`, or the
//!   one [`Refusal`] type with its status, headers and body.
//! * [`webhook::WebhookVerifier`] verifies Clerk's webhook deliveries.
//! * [`api`] is the typed Backend API client ([`Clerk::api`]: users,
//!   organizations, sessions) and its cached directory
//!   ([`Clerk::directory`], Clerk's `currentUser()`), under one budget.
//! * [`browser`] handles page loads as Clerk does: cookies, the handshake,
//!   satellites, server-side refresh.
//!
//! ```
//! use clerk_core::{Clerk, Protect, Requirement, RouteMatcher, testing::TestIssuer};
//! use http::{HeaderMap, HeaderValue, header};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! // In production: `Clerk::from_env()?` reads CLERK_JWT_KEY and friends.
//! let issuer = TestIssuer::new();
//! let clerk = Clerk::new(issuer.config().build()?)?;
//!
//! let mut headers = HeaderMap::new();
//! let token = issuer.token().org("org_1", "acme", "admin").build();
//! headers.insert(header::AUTHORIZATION, HeaderValue::from_str(&format!("Bearer {token}"))?);
//! let auth = clerk.authenticate(&headers).await;
//! assert!(auth.has(&Requirement::role("org:admin")));
//!
//! let guard = Protect::new(Requirement::permission("org:billing:manage"))
//!     .routes(RouteMatcher::new(["/billing(.*)"])?);
//! assert!(matches!(
//!     guard.decide("GET", "/", &headers, &auth).await,
//!     Ok(clerk_core::protect::Pass::Handler)
//! ));
//! let refusal = guard.decide("GET", "/billing", &headers, &auth).await.unwrap_err();
//! assert_eq!((refusal.status().as_u16(), refusal.reason()), (403, "requirement-not-met"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! Failures carry Clerk's reason strings ([`Reason`]), never the token.
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[doc(hidden)]
pub mod adapter;
pub mod api;
mod auth;
pub mod authorize;
pub mod browser;
mod clerk;
pub mod clock;
pub mod config;
mod cookies;
mod error;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod instance;
mod json;
mod keys;
pub mod machine;
mod metrics;
#[cfg(feature = "openapi")]
pub mod openapi;
pub mod protect;
mod request;
pub mod session;
#[cfg(feature = "testing")]
pub mod testing;
mod token;
pub mod webhook;

pub use auth::{Auth, PageAnswer};
pub use authorize::{Policy, Preset, Requirement};
pub use clerk::{Authenticate, Clerk};
pub use config::ClerkConfig;
pub use error::{ConfigError, Reason, VerifyError};
pub use machine::{AcceptsToken, MachineAuth, TokenType};
pub use protect::RouteMatcher;
pub use protect::{Protect, Refusal};
pub use request::RequestHead;
pub use session::Session;
