//! The rejection of every extractor in this crate.

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use clerk_core::Rejection;
use clerk_core::protect::Denial;

/// Why an extractor refused a request. Its response is the one
/// `clerk_core::Protect` gives by default (401 / 403 / reverification 403 /
/// 503), or a 500 when [`crate::ClerkLayer`] is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClerkRejection {
    /// The request does not satisfy the extractor.
    Denied(Denial),
    /// No `Auth` in the request: `ClerkLayer` is not in front of the route.
    LayerMissing,
}

impl ClerkRejection {
    pub(crate) fn denied(denial: &Denial) -> Self {
        Self::Denied(*denial)
    }

    pub(crate) fn layer_missing() -> Self {
        Self::LayerMissing
    }

    /// The response this rejection produces.
    pub fn rejection(&self) -> Rejection {
        match self {
            Self::Denied(d) => Rejection::default_for(d),
            Self::LayerMissing => Rejection::layer_missing(),
        }
    }
}

impl IntoResponse for ClerkRejection {
    fn into_response(self) -> Response {
        clerk_tower::to_response::<Body>(self.rejection())
    }
}

impl std::fmt::Display for ClerkRejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Denied(d) => f.write_str(d.reason()),
            Self::LayerMissing => f.write_str("clerk-layer-missing"),
        }
    }
}

impl std::error::Error for ClerkRejection {}
