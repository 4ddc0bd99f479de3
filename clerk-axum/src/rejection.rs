//! The rejection of every extractor in this crate.

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use clerk_core::Refusal;

/// Why an extractor refused a request: core's [`Refusal`] (401 / 403 /
/// reverification 403 / 503, a webhook's 400 or 413, or a 500 when
/// [`crate::ClerkLayer`] is missing), answered as core made it. The same
/// name and meaning as `clerk_actix::ClerkRejection`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClerkRejection(pub Refusal);

impl From<Refusal> for ClerkRejection {
    fn from(refusal: Refusal) -> Self {
        Self(refusal)
    }
}

impl IntoResponse for ClerkRejection {
    fn into_response(self) -> Response {
        self.0.into_response::<Body>()
    }
}

impl std::fmt::Display for ClerkRejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for ClerkRejection {}
