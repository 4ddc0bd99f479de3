//! The rejection of every extractor in this crate: [`ClerkRejection`],
//! declared with the other extractor types; here it becomes a response.

use axum::body::Body;
use axum::response::{IntoResponse, Response};

use crate::ClerkRejection;

impl IntoResponse for ClerkRejection {
    fn into_response(self) -> Response {
        self.0.into_response::<Body>()
    }
}
