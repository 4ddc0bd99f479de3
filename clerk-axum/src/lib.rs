//! Axum extractors and guards for Clerk authentication.
//!
//! Work in progress: extractors and `protect()` arrive with the axum issue.
//! Until then this crate only re-exports [`clerk_core`].
#![forbid(unsafe_code)]

pub use clerk_core;
