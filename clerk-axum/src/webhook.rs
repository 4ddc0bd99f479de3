//! The `Webhook` extractor: a verified, typed Clerk webhook event.

use axum::extract::{FromRef, FromRequest, Request};
use clerk_core::Refusal;
use clerk_core::webhook::{WebhookError, WebhookEvent, WebhookVerifier};

use crate::ClerkRejection;

/// A verified Clerk webhook event, read from the raw body. The router state
/// must provide a [`WebhookVerifier`] (via `FromRef`). Refusals are
/// [`ClerkRejection`]s made in core: bad signatures and bodies answer 400
/// with the error kind, bodies over the verifier's limit (default 1 MiB)
/// 413.
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

impl<S> FromRequest<S> for Webhook
where
    S: Send + Sync,
    WebhookVerifier: FromRef<S>,
{
    type Rejection = ClerkRejection;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let verifier = WebhookVerifier::from_ref(state);
        let (parts, body) = req.into_parts();
        verifier
            .check_declared_length(&parts.headers)
            .map_err(Refusal::from)?;
        // Over the limit is 413; a body that breaks off or times out (the
        // server's body timeout) is unreadable: 400.
        let bytes = axum::body::to_bytes(body, verifier.max_body_bytes())
            .await
            .map_err(|e| {
                let too_large = std::error::Error::source(&e)
                    .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
                Refusal::from(if too_large {
                    WebhookError::TooLarge
                } else {
                    WebhookError::InvalidBody
                })
            })?;
        let event = verifier
            .verify(&parts.headers, &bytes)
            .map_err(Refusal::from)?;
        tracing::info!(kind = %event.kind, delivery_id = %event.delivery_id, "Clerk webhook verified");
        Ok(Self(event))
    }
}
