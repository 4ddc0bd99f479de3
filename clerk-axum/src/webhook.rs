//! The `Webhook` extractor: a verified, typed Clerk webhook event.

use axum::body::Body;
use axum::extract::{FromRef, FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use clerk_core::webhook::{WebhookError, WebhookEvent, WebhookVerifier};

/// A verified Clerk webhook event, read from the raw body. The router state
/// must provide a [`WebhookVerifier`] (via `FromRef`). Bad signatures and
/// bodies answer 400 with the error kind; bodies over the verifier's limit
/// (default 1 MiB) answer 413.
///
/// ```
/// use axum::{Router, routing::post};
/// use clerk_axum::Webhook;
/// use clerk_core::webhook::{EventData, WebhookVerifier};
///
/// async fn clerk_webhook(Webhook(event): Webhook) -> &'static str {
///     // Deduplicate on event.delivery_id: deliveries are retried.
///     if let EventData::User(user) = &event.data {
///         let _email = user.primary_email();
///     }
///     "ok"
/// }
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let verifier = WebhookVerifier::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?; // from_env() in production
/// let app: Router = Router::new()
///     .route("/webhooks/clerk", post(clerk_webhook))
///     .with_state(verifier);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Webhook(pub WebhookEvent);

/// Why a webhook was refused: 400 with `{"error":"invalid_webhook","reason":…}`
/// or 413 for an oversized body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebhookRejection(pub WebhookError);

impl IntoResponse for WebhookRejection {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.status()).unwrap_or(StatusCode::BAD_REQUEST);
        let mut res = Response::new(Body::from(self.0.body().to_string()));
        *res.status_mut() = status;
        res.headers_mut().insert(
            axum::http::header::CONTENT_TYPE,
            axum::http::HeaderValue::from_static("application/json"),
        );
        res
    }
}

impl<S> FromRequest<S> for Webhook
where
    S: Send + Sync,
    WebhookVerifier: FromRef<S>,
{
    type Rejection = WebhookRejection;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let verifier = WebhookVerifier::from_ref(state);
        let (parts, body) = req.into_parts();
        let bytes = axum::body::to_bytes(body, verifier.max_body_bytes())
            .await
            .map_err(|_| WebhookRejection(WebhookError::TooLarge))?;
        let event = verifier
            .verify(&parts.headers, &bytes)
            .map_err(WebhookRejection)?;
        tracing::info!(kind = %event.kind, delivery_id = %event.delivery_id, "Clerk webhook verified");
        Ok(Self(event))
    }
}
