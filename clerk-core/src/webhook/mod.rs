//! Clerk webhooks (svix / standard-webhooks): verify the signature of the
//! raw body, then read a typed [`WebhookEvent`].
//!
//! The signed content is `"{id}.{timestamp}.{raw body}"` under HMAC-SHA256
//! with the secret after `whsec_`; the signature header lists `v1,<base64>`
//! entries (space-separated) and one matching entry is enough (compared in
//! constant time). Timestamps must be within ±300 s of now (inclusive).
//! Both `svix-*` and `webhook-*` header spellings are read.
//!
//! **Idempotency:** Clerk (svix) retries deliveries. The `svix-id` header is
//! the delivery id: store it and skip events you have already processed. It
//! is [`WebhookEvent::delivery_id`].
//!
//! **Cached users:** on `user.updated` / `user.deleted` call
//! [`crate::api::UserDirectory::invalidate_user`] (and
//! `invalidate_organization` on `organization.updated`) so the next
//! `CurrentUser` lookup sees the change; see [`UserDirectory`](crate::api::UserDirectory).
//!
//! ```
//! use std::sync::Arc;
//! use clerk_core::clock::ManualClock;
//! use clerk_core::webhook::{WebhookVerifier, WebhookError};
//! use http::{HeaderMap, HeaderValue};
//!
//! let verifier = WebhookVerifier::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?
//!     .with_clock(Arc::new(ManualClock::new(1614265330)));
//! let mut headers = HeaderMap::new();
//! headers.insert("svix-id", HeaderValue::from_static("msg_p5jXN8AQM9LWM0D4loKWxJek"));
//! headers.insert("svix-timestamp", HeaderValue::from_static("1614265330"));
//! headers.insert("svix-signature", HeaderValue::from_static("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="));
//! verifier.verify_signature(&headers, br#"{"test": 2432232314}"#)?;
//! assert_eq!(
//!     verifier.verify_signature(&headers, br#"{"test":2432232314}"#),
//!     Err(WebhookError::NoMatchingSignature)
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod event;

use std::fmt;
use std::sync::Arc;

use aws_lc_rs::{constant_time, hmac};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

pub use event::{EmailData, EventData, WebhookEvent};

use crate::clock::{Clock, SystemClock};
use crate::error::ConfigError;
use crate::request::RequestHead;

/// How far a timestamp may be from now, in seconds (both ways, inclusive):
/// the tolerance of Svix's own libraries, which sign Clerk's webhooks
/// (`svix` `Webhook.verify`, 5 minutes). Headers are Svix's (`svix-id`,
/// `svix-timestamp` in Unix seconds, `svix-signature` as space-separated
/// `v1,<base64>`) or the Standard Webhooks names; `svix-id` has no format
/// Svix documents, so any value is accepted (it is only signed over).
pub const TOLERANCE_SECS: i64 = 300;
/// Where the signing secret is read from, in order: Clerk's SDK name, then
/// the name of Clerk's older guides.
const WEBHOOK_SECRET_VARS: [&str; 2] = ["CLERK_WEBHOOK_SIGNING_SECRET", "CLERK_WEBHOOK_SECRET"];
/// Default largest webhook body the adapters read.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;

/// Why a webhook was refused. Never carries the secret or the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    /// A required header is missing (its `svix-` name).
    #[error("missing header {0}")]
    MissingHeader(&'static str),
    /// The timestamp is not a non-negative whole number of seconds.
    #[error("invalid timestamp")]
    InvalidTimestamp,
    /// The timestamp is more than 300 s in the past.
    #[error("timestamp too old")]
    TooOld,
    /// The timestamp is more than 300 s in the future.
    #[error("timestamp too new")]
    TooNew,
    /// No `v1` signature matches.
    #[error("no matching signature")]
    NoMatchingSignature,
    /// The body is not a Clerk event (after a valid signature).
    #[error("invalid body")]
    InvalidBody,
    /// The body is larger than the configured limit (answered 413).
    #[error("body too large")]
    TooLarge,
    /// No verifier was given to the webhook extractor (answered 500).
    #[error("no webhook verifier configured")]
    NotConfigured,
}

impl WebhookError {
    /// A stable kebab-case kind for responses and logs.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::MissingHeader(_) => "missing-header",
            Self::InvalidTimestamp => "invalid-timestamp",
            Self::TooOld => "timestamp-too-old",
            Self::TooNew => "timestamp-too-new",
            Self::NoMatchingSignature => "no-matching-signature",
            Self::InvalidBody => "invalid-body",
            Self::TooLarge => "body-too-large",
            Self::NotConfigured => "webhook-verifier-missing",
        }
    }
}

/// Verifies Clerk webhook deliveries. Cheap to clone.
#[derive(Clone)]
pub struct WebhookVerifier {
    key: Arc<hmac::Key>,
    clock: Arc<dyn Clock>,
    max_body_bytes: usize,
}

impl fmt::Debug for WebhookVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookVerifier")
            .field("max_body_bytes", &self.max_body_bytes)
            .finish_non_exhaustive()
    }
}

impl WebhookVerifier {
    /// A verifier for the signing secret (`whsec_<base64>`; the prefix is
    /// optional).
    ///
    /// # Errors
    /// When the secret is empty or not base64.
    pub fn new(secret: &str) -> Result<Self, ConfigError> {
        let secret = secret.trim();
        let b64 = secret.strip_prefix("whsec_").unwrap_or(secret);
        let bytes = STANDARD
            .decode(b64)
            .map_err(|_| ConfigError::InvalidWebhookSecret("not base64 after whsec_"))?;
        if bytes.is_empty() {
            return Err(ConfigError::InvalidWebhookSecret("empty secret"));
        }
        Ok(Self {
            key: Arc::new(hmac::Key::new(hmac::HMAC_SHA256, &bytes)),
            clock: Arc::new(SystemClock),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        })
    }

    /// A verifier for `CLERK_WEBHOOK_SIGNING_SECRET` (Clerk's SDK name), or
    /// else `CLERK_WEBHOOK_SECRET` (the name of Clerk's older guides).
    ///
    /// # Errors
    /// When neither variable is set, or the secret is invalid.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_env_with(|k| std::env::var(k).ok())?
            .ok_or(ConfigError::InvalidEnv(WEBHOOK_SECRET_VARS[0]))
    }

    /// Like [`WebhookVerifier::from_env`] with your own variable lookup;
    /// `None` when neither variable is set (or both are blank). The first
    /// name wins; a debug log says which was read.
    ///
    /// # Errors
    /// When the secret is invalid.
    pub fn from_env_with(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, ConfigError> {
        for name in WEBHOOK_SECRET_VARS {
            if let Some(secret) = lookup(name).filter(|s| !s.trim().is_empty()) {
                tracing::debug!(variable = name, "webhook signing secret read");
                return Self::new(&secret).map(Some);
            }
        }
        Ok(None)
    }

    /// Uses `clock` for the timestamp tolerance (tests inject one).
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Sets the largest body adapters read (default 1 MiB).
    #[must_use]
    pub fn with_max_body_bytes(mut self, max: usize) -> Self {
        self.max_body_bytes = max;
        self
    }

    /// The largest body adapters read.
    pub fn max_body_bytes(&self) -> usize {
        self.max_body_bytes
    }

    /// Whether a delivery may be read at all, before any of its body
    /// arrives: a declared `Content-Length` over the limit is
    /// [`WebhookError::TooLarge`] at once, so a server never waits for a
    /// body it would refuse. Adapters call it first.
    ///
    /// # Errors
    /// [`WebhookError::TooLarge`].
    #[doc(hidden)] // adapters only
    pub fn check_declared_length<H: RequestHead + ?Sized>(
        &self,
        headers: &H,
    ) -> Result<(), WebhookError> {
        let declared = headers.values("content-length").any(|v| {
            // Digits only (RFC 9110 §8.6); an unreadable or absurd value is
            // as good as too large: nobody sends a webhook that long.
            std::str::from_utf8(v)
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .is_none_or(|n| n > self.max_body_bytes as u64)
        });
        if declared {
            return Err(WebhookError::TooLarge);
        }
        Ok(())
    }

    /// Checks the signature headers against the raw body.
    ///
    /// # Errors
    /// Why the delivery is not authentic.
    pub fn verify_signature<H: RequestHead + ?Sized>(
        &self,
        headers: &H,
        body: &[u8],
    ) -> Result<(), WebhookError> {
        let id = header(headers, "svix-id", "webhook-id")?;
        let timestamp = header(headers, "svix-timestamp", "webhook-timestamp")?;
        let signatures = header(headers, "svix-signature", "webhook-signature")?;
        let ts = parse_timestamp(timestamp)?;
        let now = self.clock.now_unix();
        if now.saturating_sub(ts) > TOLERANCE_SECS {
            return Err(WebhookError::TooOld);
        }
        if ts.saturating_sub(now) > TOLERANCE_SECS {
            return Err(WebhookError::TooNew);
        }
        let mut ctx = hmac::Context::with_key(&self.key);
        ctx.update(id.as_bytes());
        ctx.update(b".");
        ctx.update(timestamp.as_bytes());
        ctx.update(b".");
        ctx.update(body);
        let expected = ctx.sign();
        let matched = signatures
            .split(' ')
            .filter_map(|entry| entry.split_once(','))
            .filter(|(version, _)| *version == "v1")
            .filter_map(|(_, sig)| STANDARD.decode(sig).ok())
            .any(|sig| constant_time::verify_slices_are_equal(&sig, expected.as_ref()).is_ok());
        if matched {
            Ok(())
        } else {
            Err(WebhookError::NoMatchingSignature)
        }
    }

    /// Verifies the delivery and reads the event.
    ///
    /// # Errors
    /// Why the delivery is not authentic, or [`WebhookError::InvalidBody`].
    pub fn verify<H: RequestHead + ?Sized>(
        &self,
        headers: &H,
        body: &[u8],
    ) -> Result<WebhookEvent, WebhookError> {
        if body.len() > self.max_body_bytes {
            return Err(WebhookError::TooLarge);
        }
        self.verify_signature(headers, body)?;
        let id = header(headers, "svix-id", "webhook-id")?;
        WebhookEvent::from_json(id, body).ok_or(WebhookError::InvalidBody)
    }
}

fn header<'a, H: RequestHead + ?Sized>(
    headers: &'a H,
    svix: &'static str,
    standard: &'static str,
) -> Result<&'a str, WebhookError> {
    headers
        .values(svix)
        .next()
        .or_else(|| headers.values(standard).next())
        .and_then(|v| std::str::from_utf8(v).ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or(WebhookError::MissingHeader(svix))
}

fn parse_timestamp(s: &str) -> Result<i64, WebhookError> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(WebhookError::InvalidTimestamp);
    }
    s.parse().map_err(|_| WebhookError::InvalidTimestamp)
}

/// Signs webhook payloads like Clerk does, for testing your handlers
/// (feature `testing`).
#[cfg(any(test, feature = "testing"))]
#[derive(Clone)]
pub struct WebhookSigner {
    key: hmac::Key,
}

#[cfg(any(test, feature = "testing"))]
impl WebhookSigner {
    /// A signer for the `whsec_` secret.
    ///
    /// # Errors
    /// When the secret is empty or not base64.
    pub fn new(secret: &str) -> Result<Self, ConfigError> {
        let b64 = secret
            .trim()
            .strip_prefix("whsec_")
            .unwrap_or(secret.trim());
        let bytes = STANDARD
            .decode(b64)
            .map_err(|_| ConfigError::InvalidWebhookSecret("not base64 after whsec_"))?;
        Ok(Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, &bytes),
        })
    }

    /// A fresh random `whsec_` secret (for dev servers and tests).
    ///
    /// # Panics
    /// Only if the operating system's random source fails.
    #[allow(clippy::expect_used)] // no OS randomness means nothing can work
    pub fn random_secret() -> String {
        let mut bytes = [0u8; 24];
        aws_lc_rs::rand::fill(&mut bytes).expect("OS random source");
        format!("whsec_{}", STANDARD.encode(bytes))
    }

    /// The `svix-signature` value (`v1,<base64>`) for a delivery.
    pub fn signature(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let mut ctx = hmac::Context::with_key(&self.key);
        ctx.update(format!("{id}.{timestamp}.").as_bytes());
        ctx.update(body);
        format!("v1,{}", STANDARD.encode(ctx.sign().as_ref()))
    }

    /// The three `svix-*` headers for a delivery, as (name, value) pairs.
    pub fn headers(&self, id: &str, timestamp: i64, body: &[u8]) -> [(&'static str, String); 3] {
        [
            ("svix-id", id.to_owned()),
            ("svix-timestamp", timestamp.to_string()),
            ("svix-signature", self.signature(id, timestamp, body)),
        ]
    }
}

#[cfg(test)]
mod tests;
