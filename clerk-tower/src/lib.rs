//! Tower layers that put Clerk authentication in front of any tower service
//! (axum, tonic, hyper, ...).
//!
//! * [`ClerkLayer`] authenticates every request and inserts a
//!   [`clerk_core::Auth`] into the request extensions. It never rejects.
//! * [`ProtectLayer`] reads that `Auth` and answers per a
//!   [`clerk_core::Protect`] policy (401 / 403 / reverification 403 / 503 /
//!   404-hiding / page redirect), calling the inner service only when
//!   allowed. Put it inside (after) `ClerkLayer`.
//! * [`GrpcProtectLayer`] is the same guard for gRPC (tonic): refusals are
//!   gRPC statuses (`UNAUTHENTICATED`, `PERMISSION_DENIED`, ...).
//!
//! ```
//! use clerk_core::{Clerk, Protect, Requirement, RouteMatcher, testing::TestIssuer};
//! use clerk_tower::{ClerkLayer, ProtectLayer};
//! use tower::{ServiceBuilder, service_fn};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let clerk = Clerk::new(TestIssuer::new().config().build()?)?; // Clerk::from_env()? in production
//! let protect = Protect::new(Requirement::role("org:admin"))
//!     .routes(RouteMatcher::new(["/admin(.*)"])?);
//! let service = ServiceBuilder::new()
//!     .layer(ClerkLayer::new(clerk))
//!     .layer(ProtectLayer::new(protect))
//!     .service(service_fn(|_req: http::Request<String>| async {
//!         Ok::<_, std::convert::Infallible>(http::Response::new(String::from("hello")))
//!     }));
//! # let _ = service;
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]

/// `get_ref`, `get_mut` and `into_inner` for a service wrapping `inner: S`
/// (the tower-http convention).
macro_rules! define_inner_service_accessors {
    () => {
        /// The wrapped service.
        pub fn get_ref(&self) -> &S {
            &self.inner
        }

        /// The wrapped service, mutably.
        pub fn get_mut(&mut self) -> &mut S {
            &mut self.inner
        }

        /// Unwraps the inner service.
        pub fn into_inner(self) -> S {
            self.inner
        }
    };
}
pub(crate) use define_inner_service_accessors;

mod authenticate;
mod credential;
mod csp;
mod future;
mod grpc;
mod protect;
mod proxy;
mod resource;

pub use authenticate::{ClerkLayer, ClerkService, PeerFrom};
pub use credential::{BoxError, MachineCredentialLayer, MachineCredentialService};
pub use csp::{ContentSecurityPolicyLayer, ContentSecurityPolicyService, CspFuture};
pub use future::ResponseFuture;
pub use grpc::{GrpcProtectLayer, GrpcProtectService};
pub use protect::{OriginalUri, ProtectLayer, ProtectService};
pub use proxy::FrontendApiProxyService;
pub use resource::ProtectedResourceService;

pub use clerk_core;
