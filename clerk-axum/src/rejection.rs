//! The rejection of every extractor in this crate.

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use clerk_core::protect::{Denial, Refusal};

/// Why an extractor refused a request: core's [`Refusal`], answered with
/// its default response (401 / 403 / reverification 403 / 503), or a 500
/// when [`crate::ClerkLayer`] is missing. The same name and meaning as
/// `clerk_actix::ClerkRejection`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClerkRejection(pub Refusal);

impl ClerkRejection {
    pub(crate) fn denied(denial: &Denial) -> Self {
        Self(Refusal::Denied(*denial))
    }

    pub(crate) fn layer_missing() -> Self {
        Self(Refusal::LayerMissing)
    }
}

impl From<Refusal> for ClerkRejection {
    fn from(refusal: Refusal) -> Self {
        Self(refusal)
    }
}

impl IntoResponse for ClerkRejection {
    fn into_response(self) -> Response {
        clerk_tower::to_response::<Body>(self.0.rejection())
    }
}

impl std::fmt::Display for ClerkRejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for ClerkRejection {}
