//! Tower layers that put Clerk authentication in front of any tower service.
//!
//! Work in progress: the `ClerkLayer` and `ProtectLayer` arrive with the next
//! adapter issue. Until then this crate only re-exports [`clerk_core`].
#![forbid(unsafe_code)]

pub use clerk_core;
