//! Verify Clerk session tokens and answer authorization questions, with no
//! web framework attached.
//!
//! `clerk-core` is the engine behind `clerk-tower`, `clerk-axum` and
//! `clerk-actix`. It verifies session JWTs (RS256 with a networkless PEM key
//! or a JWKS), normalises v1 and v2 claims (user, session, organization role
//! and permissions, plan, features, factor-verification age, impersonation)
//! and answers Clerk's `has()` questions with [`Requirement`]s.
//!
//! ```
//! use clerk_core::{Clerk, Requirement, testing::TestIssuer};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! // In production: `Clerk::from_env()?` reads CLERK_JWT_KEY and friends.
//! let issuer = TestIssuer::new();
//! let clerk = Clerk::new(issuer.config().build()?)?;
//!
//! let token = issuer.token().org("org_1", "acme", "admin").build();
//! let session = clerk.verify(&token).await?;
//! assert!(Requirement::role("org:admin").is_met_by(&session));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! Failures carry Clerk's reason strings ([`ErrorReason`]), never the token.
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod adapter;
pub mod authorize;
mod backend;
pub mod clerk;
pub mod clock;
pub mod config;
pub mod error;
mod instance;
mod json;
mod keys;
pub mod machine;
pub mod protect;
pub mod request;
pub mod routes;
pub mod session;
#[cfg(feature = "testing")]
pub mod testing;
mod token;
pub mod users;
pub mod webhook;

pub use authorize::{Level, Policy, Preset, Requirement, Reverification};
pub use backend::BackendBudget;
pub use clerk::{Authenticate, Clerk};
pub use config::{ClerkConfig, ClerkConfigBuilder};
pub use error::{ConfigError, ErrorReason, VerifyError};
pub use machine::{AcceptsToken, MachineAuth, MachineCache, TokenType};
pub use protect::{Decision, Protect, Refusal};
pub use request::{Auth, SignedOutReason};
pub use routes::RouteMatcher;
pub use session::Session;
