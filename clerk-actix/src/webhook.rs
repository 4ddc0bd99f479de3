//! The `Webhook` extractor: a verified, typed Clerk webhook event.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use clerk_core::Refusal;
use clerk_core::webhook::{WebhookError, WebhookEvent, WebhookVerifier};

use crate::ClerkRejection;
use crate::glue::ActixHeaders;

/// A verified Clerk webhook event, read from the raw body. The app must
/// provide `web::Data<WebhookVerifier>`. Refusals are [`ClerkRejection`]s
/// made in core: bad signatures and bodies answer 400 with the error kind,
/// bodies over the verifier's limit (default 1 MiB) 413, and an app with
/// no verifier 500 (`webhook-verifier-missing`).
#[derive(Debug, Clone)]
pub struct Webhook(pub WebhookEvent);

impl FromRequest for Webhook {
    type Error = ClerkRejection;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let verifier = req
            .app_data::<web::Data<WebhookVerifier>>()
            .map(|v| v.get_ref().clone());
        let payload = web::Payload::from_request(req, payload);
        let headers = req.headers().clone();
        Box::pin(async move {
            let refused = |e: WebhookError| ClerkRejection(Refusal::from(e));
            let verifier = verifier.ok_or_else(|| refused(WebhookError::NotConfigured))?;
            verifier
                .check_declared_length(&ActixHeaders(&headers))
                .map_err(refused)?;
            let payload = payload
                .await
                .map_err(|_| refused(WebhookError::InvalidBody))?;
            let bytes = payload
                .to_bytes_limited(verifier.max_body_bytes())
                .await
                .map_err(|_| refused(WebhookError::TooLarge))?
                .map_err(|_| refused(WebhookError::InvalidBody))?;
            let event = verifier
                .verify(&ActixHeaders(&headers), &bytes)
                .map_err(refused)?;
            tracing::info!(kind = %event.kind, delivery_id = %event.delivery_id, "Clerk webhook verified");
            Ok(Self(event))
        })
    }
}
