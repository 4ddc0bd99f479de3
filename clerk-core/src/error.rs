//! Error reasons with Clerk's exact spellings, and the error types of this crate.
//!
//! [`ErrorReason::as_str`] returns the strings Clerk's own SDKs use
//! (`token-expired`, `token-invalid-signature`, ...), so logs and response
//! bodies read the same as in a Next.js app. Errors never carry the token or a
//! secret: their messages are fixed texts chosen by this crate.
//!
//! ```
//! use clerk_core::ErrorReason;
//!
//! assert_eq!(ErrorReason::TokenExpired.as_str(), "token-expired");
//! assert_eq!(ErrorReason::TokenExpired.to_string(), "token-expired");
//! ```

use std::fmt;

/// Why a session token was not accepted, spelled as Clerk spells it.
///
/// The first thirteen variants are Clerk's own reasons; `TokenInvalidIssuer`,
/// `TokenTypeMismatch` and `SessionPending` are this project's additions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorReason {
    /// `token-expired`: `exp` is in the past (beyond the clock skew).
    TokenExpired,
    /// `token-invalid`: not a well-formed compact JWS (size, segments,
    /// base64url, JSON objects, forbidden header fields).
    TokenInvalid,
    /// `token-invalid-algorithm`: `alg` is not RS256, RS384 or RS512.
    TokenInvalidAlgorithm,
    /// `token-invalid-authorized-parties`: `azp` is missing or not allowed.
    TokenInvalidAuthorizedParties,
    /// `token-invalid-signature`: the signature does not match the key.
    TokenInvalidSignature,
    /// `token-not-active-yet`: `nbf` is in the future (beyond the skew).
    TokenNotActiveYet,
    /// `token-iat-in-the-future`: `iat` is in the future (beyond the skew).
    TokenIatInTheFuture,
    /// `token-verification-failed`: a claim has the wrong type, a required
    /// claim is missing, or the token's algorithm differs from its key's.
    TokenVerificationFailed,
    /// `secret-key-invalid`: the Backend API refused the secret key.
    SecretKeyInvalid,
    /// `jwk-local-missing`: no local key is configured.
    JwkLocalMissing,
    /// `jwk-remote-failed-to-load`: the key set could not be fetched and no
    /// usable key is cached.
    JwkRemoteFailedToLoad,
    /// `jwk-failed-to-resolve`: the key could not be resolved from the source.
    JwkFailedToResolve,
    /// `jwk-kid-mismatch`: no key with the token's `kid`.
    JwkKidMismatch,
    /// `token-invalid-issuer` (ours): `iss` is not the pinned frontend API.
    TokenInvalidIssuer,
    /// `token-type-mismatch` (ours): not a session token (machine token,
    /// JWT template without `sid`).
    TokenTypeMismatch,
    /// `session-pending` (ours): the session's status is `pending` and the
    /// configuration does not accept pending sessions.
    SessionPending,
    /// `token-revoked` (ours): a machine token was revoked.
    TokenRevoked,
    /// `backend-api-unavailable` (ours): the Backend API cannot verify a
    /// machine token now (down, or the per-second budget is spent).
    BackendApiUnavailable,
}

impl ErrorReason {
    /// Every reason, in declaration order.
    pub const ALL: [ErrorReason; 18] = [
        Self::TokenExpired,
        Self::TokenInvalid,
        Self::TokenInvalidAlgorithm,
        Self::TokenInvalidAuthorizedParties,
        Self::TokenInvalidSignature,
        Self::TokenNotActiveYet,
        Self::TokenIatInTheFuture,
        Self::TokenVerificationFailed,
        Self::SecretKeyInvalid,
        Self::JwkLocalMissing,
        Self::JwkRemoteFailedToLoad,
        Self::JwkFailedToResolve,
        Self::JwkKidMismatch,
        Self::TokenInvalidIssuer,
        Self::TokenTypeMismatch,
        Self::SessionPending,
        Self::TokenRevoked,
        Self::BackendApiUnavailable,
    ];

    /// Clerk's spelling of this reason, e.g. `"token-expired"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::TokenExpired => "token-expired",
            Self::TokenInvalid => "token-invalid",
            Self::TokenInvalidAlgorithm => "token-invalid-algorithm",
            Self::TokenInvalidAuthorizedParties => "token-invalid-authorized-parties",
            Self::TokenInvalidSignature => "token-invalid-signature",
            Self::TokenNotActiveYet => "token-not-active-yet",
            Self::TokenIatInTheFuture => "token-iat-in-the-future",
            Self::TokenVerificationFailed => "token-verification-failed",
            Self::SecretKeyInvalid => "secret-key-invalid",
            Self::JwkLocalMissing => "jwk-local-missing",
            Self::JwkRemoteFailedToLoad => "jwk-remote-failed-to-load",
            Self::JwkFailedToResolve => "jwk-failed-to-resolve",
            Self::JwkKidMismatch => "jwk-kid-mismatch",
            Self::TokenInvalidIssuer => "token-invalid-issuer",
            Self::TokenTypeMismatch => "token-type-mismatch",
            Self::SessionPending => "session-pending",
            Self::TokenRevoked => "token-revoked",
            Self::BackendApiUnavailable => "backend-api-unavailable",
        }
    }

    /// Parses Clerk's spelling back into a reason.
    pub fn parse(reason: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == reason)
    }

    /// True when the failure is about key availability rather than the token:
    /// adapters answer 503 for these instead of 401.
    pub const fn is_unavailable(self) -> bool {
        matches!(
            self,
            Self::JwkRemoteFailedToLoad
                | Self::JwkFailedToResolve
                | Self::SecretKeyInvalid
                | Self::BackendApiUnavailable
        )
    }
}

impl fmt::Display for ErrorReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A session token was not accepted.
///
/// Carries Clerk's reason and a fixed, human-readable message. Neither ever
/// contains the token, a claim value or a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}: {message}")]
pub struct VerifyError {
    reason: ErrorReason,
    message: &'static str,
}

impl VerifyError {
    /// Creates an error from a reason and a fixed message.
    pub const fn new(reason: ErrorReason, message: &'static str) -> Self {
        Self { reason, message }
    }

    /// Clerk's reason for the failure.
    pub const fn reason(&self) -> ErrorReason {
        self.reason
    }

    /// A short explanation for humans (fixed text, safe to log and return).
    pub const fn message(&self) -> &'static str {
        self.message
    }
}

/// The configuration cannot produce a working verifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// No key source was configured: without one every token would have to be
    /// refused, so this is an error at build time instead.
    #[error(
        "no key source configured: set CLERK_JWT_KEY, CLERK_SECRET_KEY or CLERK_PUBLISHABLE_KEY"
    )]
    NoKeySource,
    /// Both a PEM key and a JWKS document were given: which one verifies
    /// must not be a silent pick.
    #[error("two key sources configured: set either a PEM key (CLERK_JWT_KEY) or a JWKS document")]
    TwoKeySources,
    /// The publishable key does not have Clerk's `pk_test_`/`pk_live_` shape.
    #[error("invalid publishable key: {0}")]
    InvalidPublishableKey(&'static str),
    /// The secret key does not have Clerk's `sk_test_`/`sk_live_` shape.
    #[error("invalid secret key: {0}")]
    InvalidSecretKey(&'static str),
    /// The PEM public key could not be used.
    #[error("invalid JWT public key: {0}")]
    InvalidJwtKey(&'static str),
    /// The JWKS document could not be used.
    #[error("invalid JWKS: {0}")]
    InvalidJwks(&'static str),
    /// A URL setting is not an absolute `http(s)` URL.
    #[error("invalid URL in {0}")]
    InvalidUrl(&'static str),
    /// A URL the secret key or verification keys travel to is plain
    /// `http://` to a host other than loopback.
    #[error("{0} must use https:// (plain http:// is allowed for loopback hosts only)")]
    InsecureUrl(&'static str),
    /// An environment variable holds a value that cannot be used.
    #[error("invalid value in environment variable {0}")]
    InvalidEnv(&'static str),
    /// The webhook signing secret cannot be used.
    #[error("invalid webhook signing secret: {0}")]
    InvalidWebhookSecret(&'static str),
    /// A satellite-domain setting is missing or not usable.
    #[error("satellite configuration: {0}")]
    Satellite(&'static str),
    /// The configured key source is not available in this build.
    #[error("key source not supported yet: {0}")]
    Unsupported(&'static str),
}
