//! The `Webhook` extractor: a verified, typed Clerk webhook event.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, web};
use clerk_core::webhook::{WebhookError, WebhookEvent, WebhookVerifier};

use crate::glue::ActixHeaders;

/// A verified Clerk webhook event, read from the raw body. The app must
/// provide `web::Data<WebhookVerifier>`. Bad signatures and bodies answer
/// 400 with the error kind; bodies over the verifier's limit (default
/// 1 MiB) answer 413.
#[derive(Debug, Clone)]
pub struct Webhook(pub WebhookEvent);

/// Why a webhook was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookRejection {
    /// The delivery is not authentic or not an event (400, or 413).
    Invalid(WebhookError),
    /// No `web::Data<WebhookVerifier>` in the app (500).
    NotConfigured,
}

impl std::fmt::Display for WebhookRejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Invalid(e) => f.write_str(e.as_str()),
            Self::NotConfigured => f.write_str("webhook-verifier-missing"),
        }
    }
}

impl ResponseError for WebhookRejection {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Invalid(e) => StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST),
            Self::NotConfigured => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let body = match self {
            Self::Invalid(e) => e.body(),
            Self::NotConfigured => {
                serde_json::json!({"error": "misconfigured", "reason": "webhook-verifier-missing"})
            }
        };
        HttpResponse::build(self.status_code()).json(body)
    }
}

impl FromRequest for Webhook {
    type Error = WebhookRejection;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let verifier = req
            .app_data::<web::Data<WebhookVerifier>>()
            .map(|v| v.get_ref().clone());
        let payload = web::Payload::from_request(req, payload);
        let headers = req.headers().clone();
        Box::pin(async move {
            let verifier = verifier.ok_or(WebhookRejection::NotConfigured)?;
            let payload = payload
                .await
                .map_err(|_| WebhookRejection::Invalid(WebhookError::InvalidBody))?;
            let bytes = payload
                .to_bytes_limited(verifier.max_body_bytes())
                .await
                .map_err(|_| WebhookRejection::Invalid(WebhookError::TooLarge))?
                .map_err(|_| WebhookRejection::Invalid(WebhookError::InvalidBody))?;
            let event = verifier
                .verify(&ActixHeaders(&headers), &bytes)
                .map_err(WebhookRejection::Invalid)?;
            tracing::info!(kind = %event.kind, delivery_id = %event.delivery_id, "Clerk webhook verified");
            Ok(Self(event))
        })
    }
}
