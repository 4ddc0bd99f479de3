//! The one refusal type: why a request is refused and what to answer.

use std::fmt;

use http::StatusCode;
use http::header::{self, HeaderMap, HeaderValue};
use serde_json::json;

use crate::api::ApiError;
use crate::authorize::Reverification;
use crate::error::Reason;
use crate::webhook::WebhookError;

/// Why a request was refused (crate-private: users read
/// [`Refusal::reason`] and the response).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cause {
    /// No usable session.
    SignedOut(Reason),
    /// Signed in, but the requirement is not met.
    Forbidden,
    /// Signed in, and only a fresher verification is missing.
    Reverification(Reverification),
    /// The request path cannot be decoded.
    MalformedPath,
    /// The request method is not an HTTP token.
    MalformedMethod,
    /// The user's Backend API record was needed and could not be had.
    UserLookup(Lookup),
    /// The authenticating layer is not in front of the route.
    LayerMissing,
    /// No Clerk instance serves the request's host.
    UnknownInstance,
    /// A webhook delivery that is not authentic, or no verifier.
    Webhook(WebhookError),
}

/// How a failed user lookup reads to a guard: a user Clerk no longer
/// knows is signed out; anything else is Clerk (or the key, or our budget)
/// not answering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lookup {
    /// No such user (or not a user id): signed out.
    NotFound,
    /// The Backend API refused the secret key (401/403).
    SecretKeyInvalid,
    /// Rate limited (Clerk's 429 or our budget): retry after this many
    /// seconds.
    RateLimited(u64),
    /// Down, timed out, or an unexpected answer.
    Unavailable,
    /// No secret key is configured.
    NotConfigured,
}

impl Lookup {
    pub(crate) fn of(error: &ApiError) -> Self {
        match error {
            e if e.is_gone() => Self::NotFound,
            ApiError::NotConfigured => Self::NotConfigured,
            ApiError::Clerk {
                status: 401 | 403, ..
            } => Self::SecretKeyInvalid,
            ApiError::RateLimited { retry_after, .. } => {
                Self::RateLimited(retry_after.as_secs().max(1))
            }
            _ => Self::Unavailable,
        }
    }

    const fn as_str(self) -> &'static str {
        match self {
            Self::NotFound => "user-not-found",
            Self::SecretKeyInvalid => "secret-key-invalid",
            Self::RateLimited(_) => "backend-api-rate-limited",
            Self::Unavailable => "backend-api-unavailable",
            Self::NotConfigured => "backend-api-not-configured",
        }
    }
}

impl Cause {
    pub(crate) fn reason(self) -> &'static str {
        match self {
            Self::SignedOut(r) => r.as_str(),
            Self::Forbidden => "requirement-not-met",
            Self::Reverification(_) => "reverification-error",
            Self::MalformedPath => "malformed-path",
            Self::MalformedMethod => "malformed-method",
            Self::UserLookup(e) => e.as_str(),
            Self::LayerMissing => "clerk-layer-missing",
            Self::UnknownInstance => "clerk-instance-unknown",
            Self::Webhook(e) => e.as_str(),
        }
    }
}

/// A refused request: why ([`Refusal::reason`], Clerk's reason strings) and
/// the response to send instead of calling the handler. The one refusal
/// type of every guard and extractor; both clerk-axum and clerk-actix wrap
/// it as `ClerkRejection` and only translate it.
///
/// A renderer ([`Protect::render_with`](crate::Protect::render_with)) rewrites the response through
/// [`Refusal::response_mut`].
#[derive(Debug, Clone)]
pub struct Refusal {
    cause: Cause,
    // Boxed: a refusal travels in `Result`s on the hot path.
    response: Box<http::Response<String>>,
}

impl PartialEq for Refusal {
    fn eq(&self, other: &Self) -> bool {
        self.cause == other.cause
            && self.status() == other.status()
            && self.response.headers() == other.response.headers()
            && self.response.body() == other.response.body()
    }
}

impl Eq for Refusal {}

impl Refusal {
    /// The default response for `cause`: see the module docs.
    pub(crate) fn new(cause: Cause) -> Self {
        let reason = cause.reason();
        let (status, body) = match cause {
            Cause::SignedOut(r) if r.is_unavailable() => (
                StatusCode::SERVICE_UNAVAILABLE,
                json!({"error": "unavailable", "reason": reason}),
            ),
            Cause::SignedOut(_) | Cause::UserLookup(Lookup::NotFound) => (
                StatusCode::UNAUTHORIZED,
                json!({"error": "unauthenticated", "reason": reason}),
            ),
            Cause::Forbidden => (
                StatusCode::FORBIDDEN,
                json!({"error": "forbidden", "reason": reason}),
            ),
            Cause::Reverification(window) => (StatusCode::FORBIDDEN, window.error_body()),
            Cause::MalformedPath | Cause::MalformedMethod => (
                StatusCode::BAD_REQUEST,
                json!({"error": "bad_request", "reason": reason}),
            ),
            Cause::UserLookup(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                json!({"error": "unavailable", "reason": reason}),
            ),
            Cause::UnknownInstance => (
                StatusCode::MISDIRECTED_REQUEST,
                json!({"error": "misdirected", "reason": reason}),
            ),
            Cause::LayerMissing | Cause::Webhook(WebhookError::NotConfigured) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({"error": "misconfigured", "reason": reason}),
            ),
            Cause::Webhook(e) => (
                if e == WebhookError::TooLarge {
                    StatusCode::PAYLOAD_TOO_LARGE
                } else {
                    StatusCode::BAD_REQUEST
                },
                json!({"error": "invalid_webhook", "reason": reason}),
            ),
        };
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        // A valid token for a user Clerk no longer knows reads as signed out.
        let challenge = match cause {
            Cause::SignedOut(r) if !r.is_unavailable() => Some(r.token_presented()),
            Cause::UserLookup(Lookup::NotFound) => Some(false),
            _ => None,
        };
        // A rate-limited lookup tells the client when to come back.
        if let Cause::UserLookup(Lookup::RateLimited(secs)) = cause {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        }
        if let Some(presented) = challenge {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(if presented {
                    r#"Bearer error="invalid_token""#
                } else {
                    "Bearer"
                }),
            );
        }
        Self::with(cause, status, headers, body.to_string())
    }

    fn with(cause: Cause, status: StatusCode, headers: HeaderMap, body: String) -> Self {
        let mut response = http::Response::new(body);
        *response.status_mut() = status;
        *response.headers_mut() = headers;
        Self {
            cause,
            response: Box::new(response),
        }
    }

    pub(crate) fn signed_out(reason: Reason) -> Self {
        Self::new(Cause::SignedOut(reason))
    }

    pub(crate) fn forbidden() -> Self {
        Self::new(Cause::Forbidden)
    }

    /// A 500 for a guard or extractor used without the layer that
    /// authenticates requests (`clerk-layer-missing`): a wiring mistake
    /// must not read as signed out.
    #[doc(hidden)] // adapters only
    pub fn layer_missing() -> Self {
        Self::new(Cause::LayerMissing)
    }

    /// No Clerk instance serves the request (421, `clerk-instance-unknown`).
    #[doc(hidden)] // adapters only
    pub fn unknown_instance() -> Self {
        Self::new(Cause::UnknownInstance)
    }

    /// The signed-in user's record could not be had (`session.user()`
    /// failed): a user Clerk no longer knows reads as signed out (401),
    /// anything else as unavailable (503, with `Retry-After` when rate
    /// limited). Only for that lookup: another Backend API call's 404 is no
    /// sign-out.
    #[doc(hidden)] // adapters only
    pub fn user_lookup(error: &ApiError) -> Self {
        Self::new(Cause::UserLookup(Lookup::of(error)))
    }

    /// The reason string (Clerk's where there is one), for logs and bodies.
    pub fn reason(&self) -> &'static str {
        self.cause.reason()
    }

    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.response.status()
    }

    /// The response to send: its headers (`Content-Type`,
    /// `WWW-Authenticate`, `Location`, `Retry-After`) and body (JSON, or
    /// empty for redirects).
    pub fn response(&self) -> &http::Response<String> {
        &self.response
    }

    /// The response, to rewrite (in a [`Protect::render_with`](crate::Protect::render_with) renderer).
    pub fn response_mut(&mut self) -> &mut http::Response<String> {
        &mut self.response
    }

    /// The response, with any body type made from a `String`.
    pub fn into_response<B: From<String>>(self) -> http::Response<B> {
        self.response.map(B::from)
    }

    /// The status and headers with an empty body (`B::default()`), for
    /// services whose body cannot be made from a `String`.
    #[doc(hidden)] // adapters only
    pub fn into_empty_response<B: Default>(self) -> http::Response<B> {
        let mut res = self.response.map(|_| B::default());
        res.headers_mut().remove(http::header::CONTENT_TYPE);
        res
    }

    /// The refusal as gRPC answers it (a "trailers-only" response): HTTP
    /// 200, `content-type: application/grpc`, `grpc-status` by the HTTP
    /// status (401 → 16 `UNAUTHENTICATED`, 403 → 7 `PERMISSION_DENIED`,
    /// 400 → 3 `INVALID_ARGUMENT`, 413 → 8 `RESOURCE_EXHAUSTED`, 503 → 14
    /// `UNAVAILABLE`, a page redirect → 16, anything else → 13
    /// `INTERNAL`), `grpc-message` the reason (never the token), and
    /// `www-authenticate` / `retry-after` kept as metadata. A hidden route
    /// (404) is 12 `UNIMPLEMENTED` with no message, as an unknown method.
    /// The body is empty (`B::default()`, e.g. tonic's body).
    pub fn into_grpc_response<B: Default>(self) -> http::Response<B> {
        let mut res = http::Response::new(B::default());
        let code: u16 = match self.status().as_u16() {
            401 | 300..=399 => 16,
            403 => 7,
            // Hidden (`hide_as_not_found`): answered as tonic answers a
            // method it does not have, `UNIMPLEMENTED` with no message, so
            // nothing tells the two apart.
            404 => 12,
            400 => 3,
            413 => 8,
            503 => 14,
            _ => 13,
        };
        let headers = res.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/grpc"),
        );
        headers.insert("grpc-status", HeaderValue::from(code));
        if code == 12 {
            return res;
        }
        // Reasons are kebab-case ASCII: valid gRPC percent-encoded text.
        let message = HeaderValue::from_str(self.reason())
            .unwrap_or_else(|_| HeaderValue::from_static("refused"));
        headers.insert("grpc-message", message);
        for name in [header::WWW_AUTHENTICATE, header::RETRY_AFTER] {
            if let Some(v) = self.response.headers().get(&name) {
                headers.insert(name, v.clone());
            }
        }
        res
    }

    pub(crate) fn not_found(self) -> Self {
        let mut hidden = Self::new(Cause::Forbidden);
        hidden.cause = self.cause;
        *hidden.response.status_mut() = StatusCode::NOT_FOUND;
        *hidden.response.body_mut() = json!({"error": "not_found"}).to_string();
        hidden
    }

    pub(crate) fn redirect(self, location: &HeaderValue) -> Self {
        let mut headers = HeaderMap::new();
        headers.insert(header::LOCATION, location.clone());
        Self::with(
            self.cause,
            StatusCode::TEMPORARY_REDIRECT,
            headers,
            String::new(),
        )
    }
}

impl From<super::routes::MalformedPath> for Refusal {
    fn from(_: super::routes::MalformedPath) -> Self {
        Self::new(Cause::MalformedPath)
    }
}

impl From<WebhookError> for Refusal {
    fn from(error: WebhookError) -> Self {
        Self::new(Cause::Webhook(error))
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason())
    }
}

impl std::error::Error for Refusal {}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every Backend API failure of the signed-in user's lookup, as the
    /// guard answers it: gone is signed out, the rest unavailable.
    #[test]
    fn a_failed_user_lookup_reads_as_signed_out_only_when_the_user_is_gone() {
        use std::time::Duration;
        let clerk = |status| ApiError::Clerk {
            status,
            errors: Vec::new(),
            trace_id: None,
        };
        let limited = |ms| ApiError::RateLimited {
            retry_after: Duration::from_millis(ms),
            trace_id: None,
        };
        let cases = [
            (
                ApiError::InvalidInput("user id"),
                401,
                "user-not-found",
                None,
            ),
            (clerk(400), 401, "user-not-found", None),
            (clerk(404), 401, "user-not-found", None),
            (clerk(422), 401, "user-not-found", None),
            (clerk(401), 503, "secret-key-invalid", None),
            (clerk(403), 503, "secret-key-invalid", None),
            (clerk(500), 503, "backend-api-unavailable", None),
            (
                ApiError::InvalidResponse,
                503,
                "backend-api-unavailable",
                None,
            ),
            (ApiError::Unreachable, 503, "backend-api-unavailable", None),
            (
                ApiError::NotConfigured,
                503,
                "backend-api-not-configured",
                None,
            ),
            (limited(0), 503, "backend-api-rate-limited", Some("1")),
            (limited(1_900), 503, "backend-api-rate-limited", Some("1")),
            (limited(30_000), 503, "backend-api-rate-limited", Some("30")),
        ];
        for (error, status, reason, retry) in cases {
            let r = Refusal::user_lookup(&error);
            let headers = r.response().headers();
            assert_eq!(
                (r.status().as_u16(), r.reason()),
                (status, reason),
                "{error:?}"
            );
            assert_eq!(
                headers
                    .get(header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok()),
                retry,
                "{error:?}"
            );
            assert_eq!(
                headers.contains_key(header::WWW_AUTHENTICATE),
                status == 401,
                "only a gone user is challenged: {error:?}"
            );
        }
    }

    fn grpc(r: Refusal) -> (u16, String, String, HeaderMap) {
        let res: http::Response<()> = r.into_grpc_response();
        let h = res.headers().clone();
        let get = |n: &str| {
            h.get(n)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned()
        };
        (
            res.status().as_u16(),
            get("grpc-status"),
            get("grpc-message"),
            h,
        )
    }

    #[test]
    fn refusals_become_grpc_statuses_with_the_reason_and_no_body() {
        let (status, code, message, h) = grpc(Refusal::signed_out(Reason::SessionTokenMissing));
        assert_eq!(
            (status, code.as_str(), message.as_str()),
            (200, "16", "session-token-missing")
        );
        assert_eq!(h["content-type"], "application/grpc");
        assert!(h.contains_key(header::WWW_AUTHENTICATE));
        let (_, code, message, _) = grpc(Refusal::forbidden());
        assert_eq!(
            (code.as_str(), message.as_str()),
            ("7", "requirement-not-met")
        );
        let (_, code, message, h) = grpc(Refusal::new(Cause::UserLookup(Lookup::RateLimited(5))));
        assert_eq!(
            (code.as_str(), message.as_str()),
            ("14", "backend-api-rate-limited")
        );
        assert_eq!(h[header::RETRY_AFTER], "5");
        let (_, code, _, _) = grpc(Refusal::layer_missing());
        assert_eq!(code, "13");
        let (_, code, message, _) = grpc(Refusal::forbidden().not_found());
        assert_eq!(
            (code.as_str(), message.as_str()),
            ("12", ""),
            "hidden: as an unknown method"
        );
        let (_, code, _, _) = grpc(Refusal::new(Cause::MalformedPath));
        assert_eq!(code, "3");
        let (_, code, _, _) = grpc(
            Refusal::signed_out(Reason::SessionTokenMissing)
                .redirect(&HeaderValue::from_static("/sign-in")),
        );
        assert_eq!(code, "16", "a page redirect is unauthenticated");
    }
}
