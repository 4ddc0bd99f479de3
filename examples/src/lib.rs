//! What the example apps share: the route table, environment handling, and
//! the dev-mode personas. The axum app (`axum_app`) and the actix app use
//! exactly this, so they answer the same.
#![allow(clippy::print_stdout)] // the dev-mode banner is for humans

pub mod actix_app;
pub mod app;
pub mod axum_app;
pub mod grpc;
pub mod mcp;

pub use app::{AppState, DevMode, Limits, Persona};
