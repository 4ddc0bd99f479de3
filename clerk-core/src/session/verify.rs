//! The verification pipeline and the verified-token cache.
//!
//! Order, as Clerk's SDK and then stricter: structure and header
//! ([`crate::token`]), key by `kid`, the token's algorithm must be its key's,
//! signature, then claims (`sub`, `exp`, `nbf`, `iat` types and times with
//! clock skew, `azp` allow-list, `aud`, `sid`, `iss` pinning, session status).
//! A verified token is remembered until its `exp`; a cache hit re-checks only
//! `exp`/`nbf` against the clock.
//!
//! ```
//! use std::sync::Arc;
//! use clerk_core::{Clerk, Reason, clock::ManualClock, testing::TestIssuer};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let issuer = TestIssuer::new();
//! let clock = Arc::new(ManualClock::new(1_700_000_000));
//! let verifier = Clerk::new(issuer.config().clock(clock.clone()).build()?)?;
//!
//! let token = issuer.token().issued_at(1_700_000_000).org("org_1", "acme", "admin").build();
//! let session = verifier.verify(&token).await?;
//! assert_eq!(session.org_role(), Some("org:admin"));
//!
//! clock.advance(120); // past exp (60 s) and skew (5 s)
//! let err = verifier.verify(&token).await.unwrap_err();
//! assert_eq!(err.reason(), Reason::TokenExpired);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

use std::sync::Arc;

use serde_json::Value;

use crate::api::UserDirectory;
use crate::api::transport::BackendApi;
use crate::clock::Clock;
use crate::config::{ClerkConfig, KeySourceConfig};
use crate::error::{ConfigError, Reason, VerifyError};
use crate::keys::{
    BackendApiSource, FrontendApiSource, KeyFetchError, KeySource, KeyStore, VerifyingKey,
};
use crate::machine::{MachineAuth, TokenType};
use crate::session::cache::{TokenCache, TokenKey};
use crate::session::{Session, SessionStatus, parse_claims};
use crate::token::{self, Shape};
use std::sync::atomic::{AtomicU64, Ordering};

/// A token cache lookup: the answer for a cached session token, or the
/// token's cache key (`None` without a cache).
pub(crate) enum Cached {
    Hit(Result<Arc<Session>, VerifyError>),
    Miss(Option<TokenKey>),
}

/// Verifies Clerk session tokens. Cheap to clone; share one per process.
#[derive(Clone)]
pub(crate) struct Verifier {
    inner: Arc<Inner>,
}

struct Inner {
    keys: KeyStore,
    /// Where sessions fetch their user's record.
    users: Option<Arc<UserDirectory>>,
    cache: Option<TokenCache>,
    /// `keys.losses()` when the cache was last cleared for a lost key.
    seen_losses: AtomicU64,
    clock: Arc<dyn Clock>,
    rules: ClaimRules,
}

struct ClaimRules {
    skew: i64,
    authorized_parties: Vec<String>,
    audience: Vec<String>,
    issuer: Option<String>,
    accept_pending: bool,
    accept_template_tokens: bool,
}

impl Verifier {
    /// A verifier whose sessions fetch their user's record from `users`.
    pub(crate) fn with_users(
        config: ClerkConfig,
        users: Option<Arc<UserDirectory>>,
    ) -> Result<Self, ConfigError> {
        let remote = |source: Arc<dyn KeySource>| {
            KeyStore::remote(source, config.refresh, config.clock.clone())
        };
        let keys = match &config.key_source {
            KeySourceConfig::Local(set) => KeyStore::fixed(set.clone()),
            KeySourceConfig::BackendApi => {
                let secret = config.secret_key.as_ref().ok_or(ConfigError::NoKeySource)?;
                let api = BackendApi::new(config.http.clone(), &config.api_url, secret)?
                    .gated(config.gate.clone());
                remote(Arc::new(BackendApiSource::from_api(api)))
            }
            KeySourceConfig::FrontendApi => {
                let url = config
                    .frontend_api_url
                    .as_deref()
                    .ok_or(ConfigError::NoKeySource)?;
                remote(Arc::new(FrontendApiSource::new(config.http.clone(), url)))
            }
        };
        let cache =
            (config.token_cache_capacity > 0).then(|| TokenCache::new(config.token_cache_capacity));
        Ok(Self {
            inner: Arc::new(Inner {
                keys,
                users,
                cache,
                seen_losses: AtomicU64::new(0),
                clock: config.clock,
                rules: ClaimRules {
                    skew: config.skew_secs,
                    authorized_parties: config.authorized_parties,
                    audience: config.audience,
                    issuer: config.issuer,
                    accept_pending: config.accept_pending,
                    accept_template_tokens: config.accept_template_tokens,
                },
            }),
        })
    }

    /// Verifies a session token.
    ///
    /// # Errors
    /// A [`VerifyError`] with Clerk's reason string.
    pub(crate) async fn verify(&self, token: &str) -> Result<Arc<Session>, VerifyError> {
        if let Some(result) = self.verify_ready(token) {
            return result;
        }
        // The key set must be fetched first (rare: start-up, TTL, rotation).
        let kid = token::parse(token).ok().and_then(|p| p.header.kid);
        let key = self.inner.keys.key_for(kid.as_deref()).await;
        let now = self.inner.clock.now_unix();
        let result = self
            .pipeline(token, now, |_| Some(key))
            .unwrap_or(Err(VerifyError::new(
                Reason::JwkFailedToResolve,
                "key could not be resolved",
            )));
        self.record(token, None, &result);
        result
    }

    /// Verifies without waiting: `None` only when the key set must be
    /// fetched first, in which case call [`Verifier::verify`].
    /// [`crate::Clerk::authenticate`] uses this to stay allocation-free on
    /// the hot path.
    pub(crate) fn verify_ready(&self, token: &str) -> Option<Result<Arc<Session>, VerifyError>> {
        match self.cached(token) {
            Cached::Hit(result) => Some(result),
            Cached::Miss(key) => self.verify_missed(token, key),
        }
    }

    /// The cached answer for `token` (its times checked), or on a miss its
    /// cache key, for [`Verifier::verify_missed`].
    pub(crate) fn cached(&self, token: &str) -> Cached {
        let inner = &*self.inner;
        let Some(cache) = &inner.cache else {
            return Cached::Miss(None);
        };
        // A refresh found a key gone: forget tokens it may have signed.
        let losses = inner.keys.losses();
        if losses != inner.seen_losses.load(Ordering::Relaxed) {
            inner.seen_losses.store(losses, Ordering::Relaxed);
            cache.clear();
        }
        match cache.get(token) {
            Ok(hit) => {
                crate::metrics::cache(true);
                let now = inner.clock.now_unix();
                Cached::Hit(inner.rules.check_times(&hit, now).map(|()| hit))
            }
            Err(key) => {
                crate::metrics::cache(false);
                Cached::Miss(Some(key))
            }
        }
    }

    /// [`Verifier::verify_ready`] after [`Verifier::cached`] missed.
    pub(crate) fn verify_missed(
        &self,
        token: &str,
        key: Option<TokenKey>,
    ) -> Option<Result<Arc<Session>, VerifyError>> {
        let inner = &*self.inner;
        let now = inner.clock.now_unix();
        let started = crate::metrics::start();
        let result = self.pipeline(token, now, |kid| inner.keys.key_ready(kid))?;
        crate::metrics::verification(started);
        self.record(token, key, &result);
        Some(result)
    }

    /// Logs the outcome and caches a verified session under `key` (the
    /// token's, computed here when the caller has not).
    fn record(
        &self,
        token: &str,
        key: Option<TokenKey>,
        result: &Result<Arc<Session>, VerifyError>,
    ) {
        match result {
            Ok(session) => {
                tracing::debug!(user_id = session.user_id(), "session token verified");
                // Skip the cache if a refresh lost a key meanwhile: the key
                // that verified this token may be gone.
                let unchanged =
                    self.inner.keys.losses() == self.inner.seen_losses.load(Ordering::Relaxed);
                // Never cache a session whose subject is a machine
                // (`mch_`): callers read a cache hit as a session token
                // without looking at the token (see `Clerk::authenticate`).
                if let Some(cache) = &self.inner.cache
                    && unchanged
                    && !session
                        .user_id()
                        .starts_with(crate::machine::MACHINE_SUBJECT_PREFIX)
                {
                    cache.insert(
                        key.unwrap_or_else(|| crate::session::cache::token_key(token)),
                        session.clone(),
                    );
                }
            }
            Err(e) => tracing::debug!(reason = e.reason().as_str(), "session token rejected"),
        }
    }

    /// The uncached pipeline; `key` answers `None` when it would have to
    /// wait for a fetch.
    fn pipeline(
        &self,
        token: &str,
        now: i64,
        key: impl FnOnce(Option<&str>) -> Option<Result<Arc<VerifyingKey>, VerifyError>>,
    ) -> Option<Result<Arc<Session>, VerifyError>> {
        let parsed = match token::parse(token) {
            Ok(p) => p,
            Err(e) => return Some(Err(e)),
        };
        let fields = match parse_claims(&parsed.payload) {
            Ok(f) => f,
            Err(e) => return Some(Err(e)),
        };
        let key = match key(parsed.header.kid.as_deref())? {
            Ok(k) => k,
            Err(e) => return Some(Err(e)),
        };
        if key.algorithm() != parsed.header.alg {
            return Some(Err(VerifyError::new(
                Reason::TokenVerificationFailed,
                "token algorithm differs from its key's algorithm",
            )));
        }
        if !key.verify(parsed.signing_input.as_bytes(), &parsed.signature) {
            return Some(Err(VerifyError::new(
                Reason::TokenInvalidSignature,
                "signature does not match the key",
            )));
        }
        let claims = match Session::from_fields(fields) {
            Ok(c) => c.with_payload(parsed.payload),
            Err(e) => return Some(Err(e)),
        };
        Some(
            self.inner
                .rules
                .check_claims(&claims, now)
                .map(|()| Arc::new(claims.verified_by(self.inner.users.clone()))),
        )
    }

    /// Verifies a handshake token from the Frontend API without waiting
    /// (`None`: a key must be fetched first): Clerk's `verifyHandshakeJwt`
    /// (`typ`, algorithm, session category, signature by the instance's
    /// key; no claim checks) and returns its cookie directives (`handshake`).
    pub(crate) fn handshake_directives(
        &self,
        token: &str,
    ) -> Option<Result<Vec<String>, VerifyError>> {
        let parsed = match token::parse(token) {
            Ok(p) => p,
            Err(e) => return Some(Err(e)),
        };
        let key = match self.inner.keys.key_ready(parsed.header.kid.as_deref())? {
            Ok(k) => k,
            Err(e) => return Some(Err(e)),
        };
        if key.algorithm() != parsed.header.alg
            || !key.verify(parsed.signing_input.as_bytes(), &parsed.signature)
        {
            return Some(Err(VerifyError::new(
                Reason::TokenInvalidSignature,
                "handshake signature is invalid",
            )));
        }
        let payload: Value = match serde_json::from_slice(&parsed.payload) {
            Ok(v) => v,
            Err(_) => {
                return Some(Err(VerifyError::new(
                    Reason::TokenInvalid,
                    "handshake payload is not JSON",
                )));
            }
        };
        Some(Ok(payload
            .get("handshake")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|d| d.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()))
    }

    /// Verifies a JWT-shaped machine token (M2M, or an OAuth access token)
    /// with the instance's keys: signature, times and issuer as for session
    /// tokens; `typ` and `cat` per kind; no `sid` or `azp`.
    ///
    /// # Errors
    /// As [`Verifier::verify`]; `token-type-mismatch` for a session token or
    /// an M2M token whose `sub` is not a machine.
    pub(crate) async fn verify_machine_jwt(
        &self,
        token: &str,
        kind: TokenType,
    ) -> Result<MachineAuth, VerifyError> {
        let shape = match kind {
            TokenType::M2mToken => Shape::M2m,
            TokenType::OAuthToken => Shape::OAuth,
            _ => {
                return Err(VerifyError::new(
                    Reason::TokenTypeMismatch,
                    "not a JWT machine token",
                ));
            }
        };
        let parsed = token::parse_as(token, shape)?;
        parse_claims(&parsed.payload)?;
        let key = self
            .inner
            .keys
            .key_for(parsed.header.kid.as_deref())
            .await?;
        if key.algorithm() != parsed.header.alg {
            return Err(VerifyError::new(
                Reason::TokenVerificationFailed,
                "token algorithm differs from its key's algorithm",
            ));
        }
        if !key.verify(parsed.signing_input.as_bytes(), &parsed.signature) {
            return Err(VerifyError::new(
                Reason::TokenInvalidSignature,
                "signature does not match the key",
            ));
        }
        let claims = Session::from_fields(parse_claims(&parsed.payload)?)?
            .with_payload(parsed.payload.clone());
        let now = self.inner.clock.now_unix();
        self.inner.rules.check_machine(&claims, now, kind)?;
        if kind == TokenType::M2mToken
            && !claims
                .user_id()
                .starts_with(crate::machine::MACHINE_SUBJECT_PREFIX)
        {
            return Err(VerifyError::new(
                Reason::TokenTypeMismatch,
                "an M2M token's subject must be a machine",
            ));
        }
        Ok(MachineAuth::from_jwt_claims(
            kind,
            claims.raw(),
            claims.user_id(),
            claims.expires_at(),
        ))
    }

    /// Waits for the key `kid` by the key store's rules (cool-down, one
    /// fetch at a time, the shared budget).
    pub(crate) async fn load_key(&self, kid: Option<&str>) -> Result<(), VerifyError> {
        self.inner.keys.key_for(kid).await.map(|_| ())
    }

    /// Now, by the verifier's clock (unix seconds).
    pub(crate) fn now(&self) -> i64 {
        self.inner.clock.now_unix()
    }

    /// The configured clock.
    pub(crate) fn clock(&self) -> Arc<dyn Clock> {
        self.inner.clock.clone()
    }

    /// True when a usable key set is loaded (for health checks).
    pub(crate) fn is_ready(&self) -> bool {
        self.inner.keys.is_ready()
    }

    /// Fetches the key set now, so the first request does not wait for it.
    ///
    /// # Errors
    /// Why the fetch failed; the verifier still works and retries later.
    pub(crate) async fn prefetch(&self) -> Result<(), KeyFetchError> {
        self.inner.keys.prefetch().await
    }
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("keys", &self.inner.keys)
            .finish_non_exhaustive()
    }
}

impl ClaimRules {
    #[allow(clippy::cast_precision_loss)] // seconds since the epoch fit f64 exactly
    fn check_times(&self, c: &Session, now: i64) -> Result<(), VerifyError> {
        let earliest = now.saturating_sub(self.skew) as f64;
        let latest = now.saturating_add(self.skew) as f64;
        if c.exp_f64() <= earliest {
            return Err(VerifyError::new(Reason::TokenExpired, "token has expired"));
        }
        if c.nbf_f64().is_some_and(|nbf| nbf > latest) {
            return Err(VerifyError::new(
                Reason::TokenNotActiveYet,
                "token is not active yet",
            ));
        }
        Ok(())
    }

    /// `exp`, `nbf` and `iat` against the clock: the first claim checks of
    /// every token kind.
    #[allow(clippy::cast_precision_loss)]
    fn check_all_times(&self, c: &Session, now: i64) -> Result<(), VerifyError> {
        self.check_times(c, now)?;
        if c.iat_f64()
            .is_some_and(|iat| iat > now.saturating_add(self.skew) as f64)
        {
            return Err(VerifyError::new(
                Reason::TokenIatInTheFuture,
                "token was issued in the future",
            ));
        }
        Ok(())
    }

    /// Times and issuer, as for sessions; and the audience: an OAuth access
    /// token must name a configured audience (as `@clerk/backend` requires
    /// for OAuth tokens), an M2M token's `aud`, when present, must match.
    fn check_machine(&self, c: &Session, now: i64, kind: TokenType) -> Result<(), VerifyError> {
        self.check_all_times(c, now)?;
        self.check_issuer(c)?;
        let audience_required = kind == TokenType::OAuthToken;
        if !self.audience.is_empty()
            && ((audience_required && c.audience().is_none()) || !self.audience_ok(c.audience()))
        {
            return Err(VerifyError::new(
                Reason::TokenVerificationFailed,
                "aud is missing or does not match the configured audience",
            ));
        }
        Ok(())
    }

    fn check_issuer(&self, c: &Session) -> Result<(), VerifyError> {
        if let Some(expected) = &self.issuer
            && c.issuer() != Some(expected.as_str())
        {
            return Err(VerifyError::new(
                Reason::TokenInvalidIssuer,
                "iss is not this instance's issuer",
            ));
        }
        Ok(())
    }

    fn check_claims(&self, c: &Session, now: i64) -> Result<(), VerifyError> {
        self.check_all_times(c, now)?;
        if !self.authorized_parties.is_empty()
            && !c
                .authorized_party()
                .is_some_and(|azp| self.authorized_parties.iter().any(|p| p == azp))
        {
            return Err(VerifyError::new(
                Reason::TokenInvalidAuthorizedParties,
                "azp is missing or not an authorized party",
            ));
        }
        if !self.audience.is_empty() && !self.audience_ok(c.audience()) {
            return Err(VerifyError::new(
                Reason::TokenVerificationFailed,
                "aud does not match the configured audience",
            ));
        }
        // A machine's token is never a user's session, whatever its header
        // says (instances stamping Clerk's "ignore" category on every token
        // leave only the subject to tell them apart).
        if c.user_id()
            .starts_with(crate::machine::MACHINE_SUBJECT_PREFIX)
        {
            return Err(VerifyError::new(
                Reason::TokenTypeMismatch,
                "a machine's token is not a session token",
            ));
        }
        if c.session_id().is_none() && !self.accept_template_tokens {
            return Err(VerifyError::new(
                Reason::TokenTypeMismatch,
                "token has no sid: not a session token",
            ));
        }
        self.check_issuer(c)?;
        match c.status() {
            SessionStatus::Active => Ok(()),
            SessionStatus::Pending if self.accept_pending => Ok(()),
            SessionStatus::Pending => Err(VerifyError::new(
                Reason::SessionPending,
                "session is pending",
            )),
            SessionStatus::Other(_) => Err(VerifyError::new(
                Reason::TokenVerificationFailed,
                "unknown session status",
            )),
        }
    }

    fn audience_ok(&self, aud: Option<&Value>) -> bool {
        let listed = |a: &str| self.audience.iter().any(|x| x == a);
        match aud {
            None => true,
            Some(Value::String(a)) => listed(a),
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).any(listed),
            Some(_) => false,
        }
    }
}
