//! The rejection of every extractor in this crate.

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use clerk_core::Rejection;
use clerk_core::protect::Denial;

/// Why an extractor refused a request; its response is the same one
/// `clerk_core::Protect` gives (401 / 403 / reverification 403 / 503), or a
/// 500 when [`crate::ClerkLayer`] is missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClerkRejection(pub Rejection);

impl ClerkRejection {
    pub(crate) fn denied(denial: &Denial) -> Self {
        Self(Rejection::default_for(denial))
    }

    pub(crate) fn layer_missing() -> Self {
        Self(Rejection::layer_missing())
    }
}

impl IntoResponse for ClerkRejection {
    fn into_response(self) -> Response {
        clerk_tower::to_response::<Body>(self.0)
    }
}

impl std::fmt::Display for ClerkRejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.0.status, self.0.body)
    }
}

impl std::error::Error for ClerkRejection {}
