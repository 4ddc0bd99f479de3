//! Reasons with Clerk's exact spellings, and the error types of this crate.
//!
//! [`Reason::as_str`] returns the strings Clerk's own SDKs use
//! (`token-expired`, `token-invalid-signature`, ...), so logs and response
//! bodies read the same as in a Next.js app. Errors never carry the token or a
//! secret: their messages are fixed texts chosen by this crate.
//!
//! ```
//! use clerk_core::Reason;
//!
//! assert_eq!(Reason::TokenExpired.as_str(), "token-expired");
//! assert_eq!(Reason::TokenExpired.to_string(), "token-expired");
//! ```

use std::fmt;

/// Why a request is not signed in, spelled as Clerk spells it: one flat
/// list for token errors, missing tokens and browser (page-load) states.
///
/// The token reasons are Clerk's `TokenVerificationErrorReason`
/// (`@clerk/backend` `errors.ts`), the page reasons its `AuthErrorReason`
/// (`tokens/authStatus.ts`); `TokenInvalidIssuer`, `TokenTypeMismatch`,
/// `SessionPending`, `TokenRevoked` and `BackendApiUnavailable` are this
/// project's additions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reason {
    /// `session-token-missing`: no token in the request.
    SessionTokenMissing,
    /// `token-expired`: `exp` is in the past (beyond the clock skew).
    TokenExpired,
    /// `token-invalid`: not a well-formed compact JWS (size, segments,
    /// base64url, JSON objects, forbidden header fields), or a header that
    /// could not be read (not UTF-8, too long, duplicated).
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
    /// Page: no `__client_uat` and no `__session`.
    SessionTokenAndUatMissing,
    /// Page: `__client_uat` says a client is signed in, but no `__session`.
    ClientUatButNoSessionToken,
    /// Page: a `__session` without a signed-in client (`__client_uat` 0 or none).
    SessionTokenButNoClientUat,
    /// Page: the session token was issued before the client last changed.
    SessionTokenIatBeforeClientUat,
    /// Page: expired; no `__refresh_<suffix>` cookie.
    ExpiredRefreshNonEligibleNoRefreshCookie,
    /// Page: expired, on a request that is not a `GET` (never refreshed).
    ExpiredRefreshNonEligibleNonGet,
    /// Page: expired; a refresh cookie, but no Backend API (no secret key).
    ExpiredRefreshMissingApiClient,
    /// Page: expired; the expired token names no session (`sid`).
    ExpiredRefreshMissingSidClaim,
    /// Page: expired; the refresh call could not be made or answered.
    ExpiredRefreshFetchError,
    /// Page: expired; the Backend API refused the refresh.
    ExpiredRefreshUnexpectedBapiError,
    /// Page: expired; the refresh gave no session cookie.
    ExpiredRefreshUnexpectedSdkError,
    /// Page: expired; the refreshed session token does not verify.
    ExpiredRefreshInvalidSessionToken,
    /// Page: the token is not valid yet (`nbf`).
    SessionTokenNbf,
    /// Page: the token's `iat` is in the future.
    SessionTokenIatInTheFuture,
    /// Page, development instance: the dev-browser token is in the query.
    DevBrowserSync,
    /// Page, development instance: no dev-browser token.
    DevBrowserMissing,
    /// Page: signed in, but arriving from another site: synced through a
    /// handshake first (multi-domain sessions).
    PrimaryDomainCrossOriginSync,
    /// Page: a satellite domain syncs its session with the primary.
    SatelliteNeedsSyncing,
    /// Page: a development primary sends a syncing satellite back.
    PrimaryRespondsToSyncing,
    /// Page: the URL names another organization than the session's
    /// active one (organization sync): a handshake activates it.
    ActiveOrganizationMismatch,
}

impl Reason {
    /// Every reason, in declaration order.
    pub const ALL: [Reason; 39] = [
        Self::SessionTokenMissing,
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
        Self::SessionTokenAndUatMissing,
        Self::ClientUatButNoSessionToken,
        Self::SessionTokenButNoClientUat,
        Self::SessionTokenIatBeforeClientUat,
        Self::ExpiredRefreshNonEligibleNoRefreshCookie,
        Self::ExpiredRefreshNonEligibleNonGet,
        Self::ExpiredRefreshMissingApiClient,
        Self::ExpiredRefreshMissingSidClaim,
        Self::ExpiredRefreshFetchError,
        Self::ExpiredRefreshUnexpectedBapiError,
        Self::ExpiredRefreshUnexpectedSdkError,
        Self::ExpiredRefreshInvalidSessionToken,
        Self::SessionTokenNbf,
        Self::SessionTokenIatInTheFuture,
        Self::DevBrowserSync,
        Self::DevBrowserMissing,
        Self::PrimaryDomainCrossOriginSync,
        Self::SatelliteNeedsSyncing,
        Self::PrimaryRespondsToSyncing,
        Self::ActiveOrganizationMismatch,
    ];

    /// Clerk's spelling of this reason, e.g. `"token-expired"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::SessionTokenMissing => "session-token-missing",
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
            Self::SessionTokenAndUatMissing => "session-token-and-uat-missing",
            Self::ClientUatButNoSessionToken => "client-uat-but-no-session-token",
            Self::SessionTokenButNoClientUat => "session-token-but-no-client-uat",
            Self::SessionTokenIatBeforeClientUat => "session-token-iat-before-client-uat",
            Self::ExpiredRefreshNonEligibleNoRefreshCookie => {
                "session-token-expired-refresh-non-eligible-no-refresh-cookie"
            }
            Self::ExpiredRefreshNonEligibleNonGet => {
                "session-token-expired-refresh-non-eligible-non-get"
            }
            Self::ExpiredRefreshMissingApiClient => {
                "session-token-expired-refresh-missing-api-client"
            }
            Self::ExpiredRefreshMissingSidClaim => {
                "session-token-expired-refresh-expired-session-token-missing-sid-claim"
            }
            Self::ExpiredRefreshFetchError => "session-token-expired-refresh-fetch-error",
            Self::ExpiredRefreshUnexpectedBapiError => {
                "session-token-expired-refresh-unexpected-bapi-error"
            }
            Self::ExpiredRefreshUnexpectedSdkError => {
                "session-token-expired-refresh-unexpected-sdk-error"
            }
            Self::ExpiredRefreshInvalidSessionToken => {
                "session-token-expired-refresh-invalid-session-token"
            }
            Self::SessionTokenNbf => "session-token-nbf",
            Self::SessionTokenIatInTheFuture => "session-token-iat-in-the-future",
            Self::DevBrowserSync => "dev-browser-sync",
            Self::DevBrowserMissing => "dev-browser-missing",
            Self::PrimaryDomainCrossOriginSync => "primary-domain-cross-origin-sync",
            Self::SatelliteNeedsSyncing => "satellite-needs-syncing",
            Self::PrimaryRespondsToSyncing => "primary-responds-to-syncing",
            Self::ActiveOrganizationMismatch => "active-organization-mismatch",
        }
    }

    /// Clerk's `x-clerk-auth-message` for this reason: the fixed part of
    /// the message Clerk's SDK gives (`jwt/assertions.ts`,
    /// `jwt/verifyJwt.ts`, `tokens/keys.ts`), cut before anything it
    /// takes from the token or the configuration (dates, `kid`, `azp`,
    /// the JWKS URL), so the header names the failure and reveals nothing
    /// else. Empty where Clerk sends none (page states, a missing token)
    /// or where its message is only token content.
    pub(crate) const fn message(self) -> &'static str {
        match self {
            Self::TokenExpired => "JWT is expired.",
            Self::TokenInvalid => "Invalid JWT form.",
            Self::TokenInvalidAlgorithm => "Invalid JWT algorithm.",
            Self::TokenInvalidAuthorizedParties => "Invalid JWT Authorized party claim (azp).",
            Self::TokenInvalidSignature => "JWT signature is invalid.",
            Self::TokenNotActiveYet => "JWT cannot be used prior to not before date claim (nbf).",
            Self::TokenIatInTheFuture => "JWT issued at date claim (iat) is in the future.",
            Self::JwkLocalMissing => "Missing local JWK.",
            Self::JwkRemoteFailedToLoad => {
                "Failed to load JWKS from Clerk Backend or Frontend API."
            }
            Self::JwkFailedToResolve | Self::JwkKidMismatch => {
                "Unable to find a signing key in JWKS that matches the kid of the provided session token."
            }
            _ => "",
        }
    }

    /// Parses Clerk's spelling back into a reason.
    #[cfg(test)]
    pub(crate) fn parse(reason: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == reason)
    }

    /// True when the failure is about key or Backend API availability
    /// rather than the token: answered 503 instead of 401.
    pub const fn is_unavailable(self) -> bool {
        matches!(
            self,
            Self::JwkRemoteFailedToLoad
                | Self::JwkFailedToResolve
                | Self::SecretKeyInvalid
                | Self::BackendApiUnavailable
        )
    }

    /// True when a token (or something meant as one) was sent and refused:
    /// a 401 then says `error="invalid_token"`.
    pub(crate) const fn token_presented(self) -> bool {
        !matches!(
            self,
            Self::SessionTokenMissing | Self::SessionTokenAndUatMissing
        )
    }
}

impl fmt::Display for Reason {
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
    reason: Reason,
    message: &'static str,
}

impl VerifyError {
    /// Creates an error from a reason and a fixed message.
    pub(crate) const fn new(reason: Reason, message: &'static str) -> Self {
        Self { reason, message }
    }

    /// Clerk's reason for the failure.
    pub const fn reason(&self) -> Reason {
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
    /// An organization-sync pattern cannot be used (the pattern and why).
    #[error("organization sync: {0}")]
    OrganizationSync(String),
    /// A satellite-domain setting is missing or not usable.
    #[error("satellite configuration: {0}")]
    Satellite(&'static str),
    /// The configured key source is not available in this build.
    #[error("key source not supported yet: {0}")]
    Unsupported(&'static str),
}
