//! actix-web middleware and extractors for Clerk authentication.
//!
//! Work in progress: the middleware arrives with the actix issue. Until then
//! this crate only re-exports [`clerk_core`].
#![forbid(unsafe_code)]

pub use clerk_core;
