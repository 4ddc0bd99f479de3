//! Machine tokens: API keys (`ak_…`), machine-to-machine tokens (`mt_…`, or
//! JWTs whose `sub` starts with `mch_`) and OAuth access tokens (`oat_…`, or
//! JWTs with `typ: at+jwt`).
//!
//! Which kinds a layer or route accepts is an [`AcceptsToken`]; session
//! tokens only by default. A token of another kind is refused as
//! `token-type-mismatch` before any network call. Opaque tokens are verified
//! by the Backend API; a token that cannot be one by its shape is refused
//! with no call, results are cached (until the
//! token's expiry, at most a TTL), concurrent lookups of one token share one
//! call, refusals are cached briefly. Tokens never verified before spend a
//! share of the process's one Backend API budget (30%, and one client at
//! most a quarter of that: see [`BackendBudget`](crate::api::budget::BackendBudget)), so
//! a flood of distinct well-shaped tokens costs at most that share and
//! leaves new tokens from other clients working; tokens verified in the
//! last day are re-checked out of the reserve no flood reaches.
//! JWT-shaped machine tokens verify locally with the instance's keys.
//!
//! ```
//! use clerk_core::machine::{AcceptsToken, TokenType};
//!
//! let accepts = AcceptsToken::only([TokenType::ApiKey, TokenType::M2mToken]);
//! assert!(accepts.allows(TokenType::ApiKey));
//! assert!(!accepts.allows(TokenType::SessionToken));
//! assert!(AcceptsToken::default().allows(TokenType::SessionToken));
//! ```

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize as _;
use serde_json::{Map, Value, json};

use crate::error::{Reason, VerifyError};
use crate::token::CATEGORY_M2M;

mod credential;
mod resource;
mod verify;

pub use credential::MachineCredential;
pub use resource::ProtectedResource;

pub(crate) use verify::MachineVerifier;

/// The kinds of token Clerk issues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenType {
    /// A session token (a JWT for a signed-in user).
    SessionToken,
    /// An API key (`ak_…`).
    ApiKey,
    /// A machine-to-machine token (`mt_…`, or a JWT with `sub` `mch_…`).
    M2mToken,
    /// An OAuth access token (`oat_…`, or a JWT with `typ: at+jwt`).
    OAuthToken,
}

impl TokenType {
    /// Clerk's spelling: `session_token`, `api_key`, `m2m_token`, `oauth_token`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::SessionToken => "session_token",
            Self::ApiKey => "api_key",
            Self::M2mToken => "m2m_token",
            Self::OAuthToken => "oauth_token",
        }
    }

    /// True for the machine kinds.
    pub(crate) const fn is_machine(self) -> bool {
        !matches!(self, Self::SessionToken)
    }
}

/// True for an opaque (non-JWT) machine token by its prefix.
pub(crate) fn is_opaque_machine_token(token: &str) -> bool {
    ["ak_", "mt_", "oat_"].iter().any(|p| token.starts_with(p))
}

/// Tells a token's kind from its prefix or JWT shape (without verifying it).
/// The `sub` prefix of a machine (an M2M token's subject).
pub(crate) const MACHINE_SUBJECT_PREFIX: &str = "mch_";

pub(crate) fn detect(token: &str) -> TokenType {
    if token.starts_with("ak_") {
        return TokenType::ApiKey;
    }
    if token.starts_with("mt_") {
        return TokenType::M2mToken;
    }
    if token.starts_with("oat_") {
        return TokenType::OAuthToken;
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p)) = (parts.next(), parts.next()) else {
        return TokenType::SessionToken;
    };
    let decode = |s: &str| -> Option<Value> {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(s).ok()?).ok()
    };
    if let Some(header) = decode(h) {
        let typ = header.get("typ").and_then(Value::as_str);
        if matches!(typ, Some("at+jwt" | "application/at+jwt")) {
            return TokenType::OAuthToken;
        }
        if header.get("cat").and_then(Value::as_str) == Some(CATEGORY_M2M) {
            return TokenType::M2mToken;
        }
    }
    match decode(p) {
        Some(payload)
            if payload
                .get("sub")
                .and_then(Value::as_str)
                .is_some_and(|s| s.starts_with(MACHINE_SUBJECT_PREFIX)) =>
        {
            TokenType::M2mToken
        }
        _ => TokenType::SessionToken,
    }
}

/// Which token kinds a layer or route accepts (default: session tokens).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AcceptsToken {
    /// Only these kinds.
    Only(Vec<TokenType>),
    /// Every kind.
    Any,
}

impl Default for AcceptsToken {
    fn default() -> Self {
        Self::Only(vec![TokenType::SessionToken])
    }
}

impl AcceptsToken {
    /// Only these kinds.
    pub fn only(kinds: impl IntoIterator<Item = TokenType>) -> Self {
        Self::Only(kinds.into_iter().collect())
    }

    /// True when `kind` is accepted.
    pub fn allows(&self, kind: TokenType) -> bool {
        match self {
            Self::Any => true,
            Self::Only(kinds) => kinds.contains(&kind),
        }
    }

    /// True when any machine kind is accepted.
    pub(crate) fn allows_machines(&self) -> bool {
        match self {
            Self::Any => true,
            Self::Only(kinds) => kinds.iter().any(|k| k.is_machine()),
        }
    }
}

/// A verified machine identity.
#[derive(Debug, Clone, PartialEq)]
pub struct MachineAuth {
    /// The kind of token.
    pub token_type: TokenType,
    /// The token's id (`ak_…`, `mt_…`, `oat_…`, or the JWT's `jti`).
    pub id: Option<String>,
    /// Who the token acts for (`user_…`, `org_…`, `mch_…`).
    pub subject: String,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// The token's name (API keys).
    pub name: Option<String>,
    /// Custom claims.
    pub claims: Value,
    /// Expiry, seconds since the epoch, when the token has one.
    pub expires_at: Option<i64>,
    /// The OAuth client (OAuth tokens).
    pub client_id: Option<String>,
}

impl MachineAuth {
    /// The user the token belongs to (API keys and OAuth tokens of users).
    pub fn user_id(&self) -> Option<&str> {
        Some(self.subject.as_str()).filter(|s| s.starts_with("user_"))
    }

    /// The organization the API key belongs to.
    pub fn org_id(&self) -> Option<&str> {
        Some(self.subject.as_str()).filter(|s| s.starts_with("org_"))
    }

    /// The machine (M2M tokens).
    pub fn machine_id(&self) -> Option<&str> {
        Some(self.subject.as_str()).filter(|s| s.starts_with(MACHINE_SUBJECT_PREFIX))
    }

    /// True when the token grants `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    /// Reads a Backend API verification answer.
    pub(crate) fn from_backend(kind: TokenType, v: &Value, now: i64) -> Result<Self, VerifyError> {
        // An answer that does not have the documented shape is refused:
        // fields Clerk adds are ignored, a changed type is not guessed at.
        let answer = BackendAnswer::deserialize(v).map_err(|_| {
            VerifyError::new(
                Reason::TokenInvalid,
                "verification answer has an unexpected shape",
            )
        })?;
        if answer.revoked {
            return Err(VerifyError::new(Reason::TokenRevoked, "token was revoked"));
        }
        // Clerk answers expiration in milliseconds.
        let expires_at = answer.expiration.map(|ms| ms / 1000);
        if answer.expired || expires_at.is_some_and(|e| e <= now) {
            return Err(VerifyError::new(Reason::TokenExpired, "token has expired"));
        }
        Ok(Self {
            token_type: kind,
            id: answer.id,
            subject: answer.subject,
            scopes: strings(answer.scopes.as_ref()),
            name: answer.name,
            claims: answer
                .claims
                .filter(|c| !c.is_null())
                .unwrap_or_else(|| json!({})),
            expires_at,
            client_id: answer.client_id,
        })
    }

    /// Reads the claims of a verified JWT machine token.
    pub(crate) fn from_jwt_claims(
        kind: TokenType,
        claims: &Map<String, Value>,
        subject: &str,
        exp: i64,
    ) -> Self {
        let scopes = match (claims.get("scope"), claims.get("scp"), claims.get("scopes")) {
            (Some(Value::String(s)), _, _) => s.split_whitespace().map(str::to_owned).collect(),
            (_, Some(v), _) | (_, _, Some(v)) => strings(Some(v)),
            _ => Vec::new(),
        };
        Self {
            token_type: kind,
            id: claims.get("jti").and_then(Value::as_str).map(str::to_owned),
            subject: subject.to_owned(),
            scopes,
            name: None,
            claims: Value::Object(claims.clone()),
            expires_at: Some(exp),
            client_id: claims
                .get("client_id")
                .and_then(Value::as_str)
                .map(str::to_owned),
        }
    }
}

/// The Backend API's answer to `POST /v1/{api_keys,m2m_tokens,oauth_applications/access_tokens}/verify`
/// (the fields read; see Clerk's `packages/backend/src/api/resources/{APIKey,M2MToken,IdPOAuthAccessToken}.ts`).
#[derive(serde::Deserialize)]
struct BackendAnswer {
    #[serde(default)]
    revoked: bool,
    #[serde(default)]
    expired: bool,
    /// Milliseconds since the epoch.
    expiration: Option<i64>,
    subject: String,
    id: Option<String>,
    /// An array of strings (or, leniently, one space- or comma-separated
    /// string).
    scopes: Option<Value>,
    name: Option<String>,
    claims: Option<Value>,
    client_id: Option<String>,
}

fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        Some(Value::String(s)) => s
            .split([' ', ','])
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

/// Timings of opaque-token verification. How many Backend API calls it
/// may make is the process's one budget
/// ([`BackendBudget`](crate::api::budget::BackendBudget)), of which tokens never
/// verified before share 30%.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MachineCache {
    /// How long a verified token is remembered, at most (default 60 s; never
    /// past the token's own expiry).
    pub ttl: Duration,
    /// How long a refused token is remembered (default 10 s).
    pub negative_ttl: Duration,
    /// How long a verified token keeps working, past `ttl`, while Clerk
    /// is down (unreachable, timing out, 5xx): default 300 s, never past
    /// the token's own expiry. A revocation shows within `ttl` normally,
    /// within this during an outage. Never when the call was not made
    /// because the budget or a share was spent, nor after a 429: anyone can
    /// spend a share, and a revoked token must not outlive a flood.
    pub stale_window: Duration,
}

impl Default for MachineCache {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(60),
            negative_ttl: Duration::from_secs(10),
            stale_window: Duration::from_secs(300),
        }
    }
}

/// The shortest and longest body (after the prefix) of an opaque token.
///
/// Clerk documents no length. What it shows: its own fixture API key has a
/// 44-character body and its fixture M2M and OAuth tokens 36
/// (`packages/backend/src/fixtures/machine.ts` in `clerk/javascript`); the
/// Backend API reference shows M2M secrets as `mt_` and 32 characters
/// (`POST /m2m_tokens`). 16 is half the shortest of those (still 96 bits of
/// base64), 512 sixteen times the longest: room for Clerk to lengthen its
/// secrets, while a body that could only be padding is refused unasked.
const OPAQUE_BODY: std::ops::RangeInclusive<usize> = 16..=512;

/// True when `token` can be an opaque Clerk machine token of `kind`, by
/// shape alone: the kind's prefix (`ak_`, `mt_`, `oat_`; the only rule
/// `@clerk/backend` applies, `tokens/machine.ts` `isMachineTokenByPrefix`),
/// then a body within [`OPAQUE_BODY`] of `[A-Za-z0-9+/=_-]`: standard and
/// URL-safe base64 with padding. Clerk's own fixture API key is standard
/// base64 with `/` and `=` (`ak_LCWGdaM8mv8K4PC/57IICZQXAeWfCgF30DZaFXHoGn9=`,
/// `fixtures/machine.ts`), so both alphabets are Clerk's. Refused with no
/// Backend API call (`token-invalid`): control characters, spaces,
/// non-ASCII, `%`-escapes, quotes and other punctuation, over-long bodies;
/// none can be a secret Clerk issued, and a flood of them costs nothing.
pub(crate) fn has_opaque_shape(token: &str, kind: TokenType) -> bool {
    let prefix = match kind {
        TokenType::ApiKey => "ak_",
        TokenType::M2mToken => "mt_",
        TokenType::OAuthToken => "oat_",
        TokenType::SessionToken => return false,
    };
    token.strip_prefix(prefix).is_some_and(|body| {
        OPAQUE_BODY.contains(&body.len())
            && body
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'_' | b'-'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detection_by_prefix_and_shape() {
        let issuer = crate::testing::TestIssuer::new();
        assert_eq!(detect(&issuer.token().build()), TokenType::SessionToken);
        assert_eq!(
            detect(&issuer.m2m_token("mch_1", &["read"]).build()),
            TokenType::M2mToken
        );
        assert_eq!(
            detect(&issuer.oauth_token("user_1", "client_1", &["email"]).build()),
            TokenType::OAuthToken
        );
        assert_eq!(detect("garbage"), TokenType::SessionToken);
        assert!(is_opaque_machine_token("ak_x") && !is_opaque_machine_token("eyJ"));
    }

    #[test]
    fn backend_answers_map_to_reasons() {
        let ok = json!({"id": "ak_1", "subject": "org_1", "scopes": ["read", "write"], "name": "ci",
            "claims": {"env": "prod"}, "revoked": false, "expired": false, "expiration": null});
        let m = MachineAuth::from_backend(TokenType::ApiKey, &ok, 100).unwrap();
        assert_eq!(
            (m.org_id(), m.user_id(), m.name.as_deref()),
            (Some("org_1"), None, Some("ci"))
        );
        assert!(m.has_scope("write") && !m.has_scope("admin"));
        let revoked = json!({"subject": "user_1", "revoked": true});
        assert_eq!(
            MachineAuth::from_backend(TokenType::ApiKey, &revoked, 100)
                .unwrap_err()
                .reason(),
            Reason::TokenRevoked
        );
        let expired = json!({"subject": "user_1", "expiration": 99_000});
        assert_eq!(
            MachineAuth::from_backend(TokenType::ApiKey, &expired, 100)
                .unwrap_err()
                .reason(),
            Reason::TokenExpired
        );
        let flagged = json!({"subject": "user_1", "expired": true});
        assert_eq!(
            MachineAuth::from_backend(TokenType::ApiKey, &flagged, 100)
                .unwrap_err()
                .reason(),
            Reason::TokenExpired
        );
        assert!(MachineAuth::from_backend(TokenType::ApiKey, &json!({}), 100).is_err());
        // Fields Clerk adds are ignored; a field of another type is refused,
        // never guessed at.
        let extra = json!({"subject": "user_1", "new_field": {"x": 1}, "scopes": ["a"]});
        let m = MachineAuth::from_backend(TokenType::ApiKey, &extra, 100).unwrap();
        assert_eq!(
            (m.subject.as_str(), m.scopes.as_slice()),
            ("user_1", &["a".to_owned()][..])
        );
        for hostile in [
            json!({"subject": 42}),
            json!({"subject": "user_1", "revoked": "yes"}),
            json!({"subject": "user_1", "expiration": "soon"}),
            json!({"subject": "user_1", "id": ["ak_1"]}),
            json!(["subject", "user_1"]),
        ] {
            let e = MachineAuth::from_backend(TokenType::ApiKey, &hostile, 100).unwrap_err();
            assert_eq!(e.reason(), Reason::TokenInvalid, "{hostile}");
        }
    }
}
