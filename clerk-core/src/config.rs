//! Configuration: which keys verify tokens, which parties and issuer are
//! accepted, clock skew, and cache size.
//!
//! Build one with [`ClerkConfig::builder`] or read the variables Clerk users
//! already know with [`ClerkConfig::from_env`]: `CLERK_JWT_KEY`,
//! `CLERK_SECRET_KEY`, `CLERK_PUBLISHABLE_KEY`, `CLERK_API_URL` and
//! `CLERK_AUTHORIZED_PARTIES` (comma-separated), plus the key cache's
//! `CLERK_JWKS_TTL_SECS`, `CLERK_JWKS_COOLDOWN_SECS` and
//! `CLERK_JWKS_STALE_SECS`. The key source is a PEM key (networkless) or a
//! JWKS document when one is set (both is an error), else the Backend API
//! (secret key), else the Frontend API (publishable key).
//!
//! **Set the authorized parties.** A Clerk session token names the origin it
//! was minted for in `azp`. Without an allow-list, a token minted for any
//! other site on the same Clerk instance (a staging app, a partner's
//! front-end) is accepted by your API too.
//!
//! ```
//! use std::time::Duration;
//! use clerk_core::{ClerkConfig, testing::TestIssuer};
//!
//! let issuer = TestIssuer::new();
//! let config = ClerkConfig::builder()
//!     .jwt_key(issuer.public_key_pem())
//!     .issuer(issuer.issuer())
//!     .authorized_parties(["https://app.example.com"])
//!     .clock_skew(Duration::from_secs(5))
//!     .build()?;
//! let clerk = clerk_core::Clerk::new(config)?;
//! # Ok::<(), clerk_core::ConfigError>(())
//! ```
//!
//! With no key source at all, `build()` fails: a verifier that cannot check
//! signatures is never produced.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::clock::{Clock, SystemClock};
use crate::error::ConfigError;
use crate::instance::{PublishableKey, SecretKey};
use crate::keys::{KeyRefresh, KeySet, VerifyingKey};

/// An address or network of trusted proxies (from the `ipnet` crate):
/// `"10.0.0.0/8".parse()?`, or `IpNet::from(ip)` for one address.
pub use ipnet::IpNet;

/// Clerk's Backend API, unless `CLERK_API_URL` says otherwise.
pub const DEFAULT_API_URL: &str = "https://api.clerk.com";
/// Default clock skew tolerated on `exp`, `nbf` and `iat`.
pub const DEFAULT_SKEW: Duration = Duration::from_secs(5);
/// Default number of verified tokens remembered.
pub const DEFAULT_TOKEN_CACHE_CAPACITY: u64 = 10_000;
/// Default time to establish a connection to a key endpoint.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Default time for a whole key fetch.
pub const DEFAULT_HTTP_TIMEOUT: Duration = Duration::from_secs(5);

/// Where verification keys come from.
#[derive(Clone)]
pub(crate) enum KeySourceConfig {
    /// A fixed set: a PEM key (`CLERK_JWT_KEY`, matches any `kid`) or a
    /// static JWKS document.
    Local(KeySet),
    /// The Backend API's `/v1/jwks`, authenticated with the secret key.
    BackendApi,
    /// The Frontend API's `/.well-known/jwks.json` (host from the
    /// publishable key).
    FrontendApi,
}

impl fmt::Debug for KeySourceConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Local(set) => f.debug_tuple("Local").field(&set.len()).finish(),
            Self::BackendApi => f.write_str("BackendApi"),
            Self::FrontendApi => f.write_str("FrontendApi"),
        }
    }
}

/// A checked configuration; build it with [`ClerkConfig::builder`].
#[derive(Clone)]
pub struct ClerkConfig {
    pub(crate) key_source: KeySourceConfig,
    pub(crate) secret_key: Option<SecretKey>,
    pub(crate) publishable_key: Option<PublishableKey>,
    pub(crate) api_url: String,
    pub(crate) authorized_parties: Vec<String>,
    pub(crate) issuer: Option<String>,
    pub(crate) audience: Vec<String>,
    pub(crate) skew_secs: i64,
    pub(crate) accept_pending: bool,
    pub(crate) accept_template_tokens: bool,
    pub(crate) token_cache_capacity: u64,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) refresh: KeyRefresh,
    pub(crate) connect_timeout: Duration,
    pub(crate) http_timeout: Duration,
    pub(crate) frontend_api_url: Option<String>,
    /// Page loads through Clerk's handshake (default on).
    pub(crate) handshake: bool,
    /// This app is a satellite domain, and the primary's sign-in URL.
    pub(crate) satellite: Option<Option<String>>,
    /// `x-clerk-auth-*` debug headers on signed-out responses (default on).
    pub(crate) debug_headers: bool,
    pub(crate) machine_secret_key: Option<String>,
    pub(crate) machine_id: Option<String>,
    pub(crate) machine_cache: crate::machine::MachineCache,
    pub(crate) user_cache_ttl: Duration,
    pub(crate) user_stale_window: Duration,
    /// Proxies whose `X-Forwarded-For` names the client.
    pub(crate) trusted_proxies: Vec<IpNet>,
    /// The process's one Backend API budget, shared by every `Clerk`
    /// built from this configuration.
    pub(crate) gate: Arc<crate::budget::Gate>,
    /// The one HTTP client every Backend and Frontend API call of a `Clerk`
    /// built from this configuration uses.
    pub(crate) http: reqwest::Client,
}

impl ClerkConfig {
    /// A builder with Clerk's defaults and no key source yet.
    pub fn builder() -> ClerkConfigBuilder {
        ClerkConfigBuilder::default()
    }

    /// Reads the process environment (see the module docs).
    ///
    /// # Errors
    /// When a variable holds an invalid value or no key source is set.
    pub fn from_env() -> Result<Self, ConfigError> {
        ClerkConfigBuilder::from_env()?.build()
    }

    /// Where keys come from.
    #[cfg(test)]
    pub(crate) fn key_source(&self) -> &KeySourceConfig {
        &self.key_source
    }

    /// The accepted `azp` values; empty means `azp` is not checked.
    #[cfg(test)]
    pub(crate) fn authorized_parties(&self) -> &[String] {
        &self.authorized_parties
    }

    /// The pinned issuer (`iss`), when known.
    #[cfg(test)]
    pub(crate) fn issuer(&self) -> Option<&str> {
        self.issuer.as_deref()
    }

    /// The Backend API base URL.
    pub(crate) fn api_url(&self) -> &str {
        &self.api_url
    }

    /// The secret key, when configured.
    pub(crate) fn secret_key(&self) -> Option<&SecretKey> {
        self.secret_key.as_ref()
    }

    /// The publishable key, when configured.
    pub(crate) fn publishable_key(&self) -> Option<&PublishableKey> {
        self.publishable_key.as_ref()
    }

    /// The key cache's timings.
    #[cfg(test)]
    pub(crate) fn refresh_policy(&self) -> KeyRefresh {
        self.refresh
    }
}

impl fmt::Debug for ClerkConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClerkConfig")
            .field("key_source", &self.key_source)
            .field("secret_key", &self.secret_key)
            .field("publishable_key", &self.publishable_key)
            .field("api_url", &self.api_url)
            .field("authorized_parties", &self.authorized_parties)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("skew_secs", &self.skew_secs)
            .field("accept_pending", &self.accept_pending)
            .field("accept_template_tokens", &self.accept_template_tokens)
            .field("token_cache_capacity", &self.token_cache_capacity)
            .field("refresh", &self.refresh)
            .field("connect_timeout", &self.connect_timeout)
            .field("http_timeout", &self.http_timeout)
            .field("frontend_api_url", &self.frontend_api_url)
            .finish_non_exhaustive()
    }
}

/// Builds a [`ClerkConfig`]; values are checked in [`build`](Self::build).
#[derive(Clone)]
pub struct ClerkConfigBuilder {
    jwt_key: Option<String>,
    jwks_json: Option<String>,
    secret_key: Option<String>,
    publishable_key: Option<String>,
    api_url: Option<String>,
    authorized_parties: Vec<String>,
    issuer: Option<String>,
    audience: Vec<String>,
    skew: Duration,
    accept_pending: bool,
    accept_template_tokens: bool,
    token_cache_capacity: u64,
    clock: Arc<dyn Clock>,
    refresh: KeyRefresh,
    connect_timeout: Duration,
    http_timeout: Duration,
    frontend_api_url: Option<String>,
    handshake: bool,
    debug_headers: bool,
    is_satellite: bool,
    domain: Option<String>,
    sign_in_url: Option<String>,
    machine_secret_key: Option<String>,
    machine_id: Option<String>,
    machine_cache: crate::machine::MachineCache,
    user_cache_ttl: Duration,
    user_stale_window: Duration,
    trusted_proxies: Vec<IpNet>,
    backend_budget: crate::budget::BackendBudget,
}

impl Default for ClerkConfigBuilder {
    fn default() -> Self {
        Self {
            jwt_key: None,
            jwks_json: None,
            secret_key: None,
            publishable_key: None,
            api_url: None,
            authorized_parties: Vec::new(),
            issuer: None,
            audience: Vec::new(),
            skew: DEFAULT_SKEW,
            accept_pending: false,
            accept_template_tokens: false,
            token_cache_capacity: DEFAULT_TOKEN_CACHE_CAPACITY,
            clock: Arc::new(SystemClock),
            refresh: KeyRefresh::default(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            http_timeout: DEFAULT_HTTP_TIMEOUT,
            frontend_api_url: None,
            handshake: true,
            debug_headers: true,
            is_satellite: false,
            domain: None,
            sign_in_url: None,
            machine_secret_key: None,
            machine_id: None,
            machine_cache: crate::machine::MachineCache::default(),
            user_cache_ttl: Duration::from_secs(60),
            user_stale_window: Duration::from_secs(600),
            trusted_proxies: Vec::new(),
            backend_budget: crate::budget::BackendBudget::default(),
        }
    }
}

impl fmt::Debug for ClerkConfigBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClerkConfigBuilder")
            .field("jwt_key", &self.jwt_key.is_some())
            .field("jwks_json", &self.jwks_json.is_some())
            .field("secret_key", &self.secret_key.as_ref().map(|_| "…"))
            .field("publishable_key", &self.publishable_key)
            .field("authorized_parties", &self.authorized_parties)
            .finish_non_exhaustive()
    }
}

impl ClerkConfigBuilder {
    /// A builder preset from the process environment.
    ///
    /// # Errors
    /// When `CLERK_AUTHORIZED_PARTIES` or another variable cannot be read.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_env_with(|name| std::env::var(name).ok())
    }

    /// A builder preset from `lookup` (the environment, or a map in tests).
    /// Empty values count as unset.
    ///
    /// Read: the key variables (`CLERK_JWT_KEY`, `CLERK_SECRET_KEY`,
    /// `CLERK_PUBLISHABLE_KEY`), `CLERK_API_URL`, `CLERK_AUTHORIZED_PARTIES`,
    /// `CLERK_MACHINE_SECRET_KEY` (verifies M2M tokens), `CLERK_MACHINE_ID`
    /// (required in M2M scopes); `CLERK_JWKS_TTL_SECS`,
    /// `CLERK_JWKS_COOLDOWN_SECS` and `CLERK_JWKS_STALE_SECS` (the key
    /// cache's TTL, unknown-`kid` cool-down and stale window);
    /// `CLERK_API_BUDGET` and `CLERK_API_MAX_PAUSE_SECS` (the Backend API
    /// budget per 10 s and the longest 429 pause); `CLERK_USER_STALE_SECS`;
    /// `CLERK_TRUSTED_PROXIES` (comma-separated addresses or networks).
    ///
    /// # Errors
    /// When a number variable is not a whole number of seconds, or a
    /// trusted proxy is neither an address nor a network.
    pub(crate) fn from_env_with(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let secs = |name: &'static str, default: i64| -> Result<i64, ConfigError> {
            get(name).map_or(Ok(default), |v| {
                v.trim()
                    .parse::<u32>()
                    .map(i64::from)
                    .map_err(|_| ConfigError::InvalidEnv(name))
            })
        };
        let defaults = KeyRefresh::default();
        let refresh = KeyRefresh {
            ttl: secs("CLERK_JWKS_TTL_SECS", defaults.ttl)?,
            cooldown: secs("CLERK_JWKS_COOLDOWN_SECS", defaults.cooldown)?,
            stale_window: secs("CLERK_JWKS_STALE_SECS", defaults.stale_window)?,
            ..defaults
        };
        let budget_defaults = crate::budget::BackendBudget::default();
        let count = |name: &'static str, default: u32| -> Result<u32, ConfigError> {
            get(name).map_or(Ok(default), |v| {
                v.trim()
                    .parse::<u32>()
                    .ok()
                    .filter(|n| *n >= 2)
                    .ok_or(ConfigError::InvalidEnv(name))
            })
        };
        let seconds = |name: &'static str, default: Duration| -> Result<Duration, ConfigError> {
            Ok(Duration::from_secs(
                secs(name, i64::try_from(default.as_secs()).unwrap_or(i64::MAX))?.unsigned_abs(),
            ))
        };
        let backend_budget = crate::budget::BackendBudget {
            calls: count("CLERK_API_BUDGET", budget_defaults.calls)?,
            max_pause: seconds("CLERK_API_MAX_PAUSE_SECS", budget_defaults.max_pause)?,
            ..budget_defaults
        };
        let defaults_builder = Self::default();
        let trusted_proxies = get("CLERK_TRUSTED_PROXIES")
            .map(|list| {
                crate::budget::parse_trusted_proxies(&list)
                    .ok_or(ConfigError::InvalidEnv("CLERK_TRUSTED_PROXIES"))
            })
            .transpose()?
            .unwrap_or_default();
        Ok(Self {
            trusted_proxies,
            refresh,
            backend_budget,
            user_stale_window: seconds(
                "CLERK_USER_STALE_SECS",
                defaults_builder.user_stale_window,
            )?,
            jwt_key: get("CLERK_JWT_KEY"),
            secret_key: get("CLERK_SECRET_KEY").map(|s| s.trim().to_owned()),
            publishable_key: get("CLERK_PUBLISHABLE_KEY").map(|s| s.trim().to_owned()),
            api_url: get("CLERK_API_URL"),
            is_satellite: get("CLERK_IS_SATELLITE").is_some_and(|v| v.trim() == "true"),
            domain: get("CLERK_DOMAIN")
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty()),
            sign_in_url: get("CLERK_SIGN_IN_URL").map(|s| s.trim().to_owned()),
            // A relative proxy path (`/__clerk`) is resolved per request by
            // Clerk's SDK; here only an absolute proxy URL is used.
            frontend_api_url: get("CLERK_PROXY_URL")
                .map(|s| s.trim().to_owned())
                .filter(|s| s.starts_with("http")),
            machine_secret_key: get("CLERK_MACHINE_SECRET_KEY").map(|s| s.trim().to_owned()),
            machine_id: get("CLERK_MACHINE_ID").map(|s| s.trim().to_owned()),
            authorized_parties: get("CLERK_AUTHORIZED_PARTIES")
                .map(|p| split_list(&p))
                .unwrap_or_default(),
            ..Self::default()
        })
    }

    /// Networkless verification with the instance's PEM public key
    /// (`CLERK_JWT_KEY`).
    #[must_use]
    pub fn jwt_key(mut self, pem: impl Into<String>) -> Self {
        self.jwt_key = Some(pem.into());
        self
    }

    /// Verification with a fixed JWKS document.
    #[must_use]
    pub fn jwks_json(mut self, json: impl Into<String>) -> Self {
        self.jwks_json = Some(json.into());
        self
    }

    /// The secret key (`CLERK_SECRET_KEY`), for the Backend API.
    #[must_use]
    pub fn secret_key(mut self, key: impl Into<String>) -> Self {
        self.secret_key = Some(key.into());
        self
    }

    /// The publishable key (`CLERK_PUBLISHABLE_KEY`); also pins the issuer.
    #[must_use]
    pub fn publishable_key(mut self, key: impl Into<String>) -> Self {
        self.publishable_key = Some(key.into());
        self
    }

    /// The Backend API base URL (`CLERK_API_URL`).
    #[must_use]
    pub fn api_url(mut self, url: impl Into<String>) -> Self {
        self.api_url = Some(url.into());
        self
    }

    /// The origins tokens may be minted for (`azp`), compared exactly.
    #[must_use]
    pub fn authorized_parties<I, S>(mut self, parties: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.authorized_parties = parties.into_iter().map(Into::into).collect();
        self
    }

    /// The exact issuer tokens must carry (your frontend API URL, or your
    /// proxy URL). Derived from the publishable key when not set.
    #[must_use]
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// Accepted audiences; `aud` is checked only when this is set and the
    /// token has one.
    #[must_use]
    pub fn audience<I, S>(mut self, audience: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.audience = audience.into_iter().map(Into::into).collect();
        self
    }

    /// Clock skew tolerated on `exp`, `nbf` and `iat` (default 5 s).
    #[must_use]
    pub fn clock_skew(mut self, skew: Duration) -> Self {
        self.skew = skew;
        self
    }

    /// Treat `pending` sessions as signed in (default: signed out).
    #[must_use]
    pub fn accept_pending_sessions(mut self, accept: bool) -> Self {
        self.accept_pending = accept;
        self
    }

    /// Accept tokens without `sid` (JWT-template tokens) as sessions
    /// (default: refused with `token-type-mismatch`).
    #[must_use]
    pub fn accept_template_tokens(mut self, accept: bool) -> Self {
        self.accept_template_tokens = accept;
        self
    }

    /// How many verified tokens to remember (default 10,000; 0 disables),
    /// keyed by the SHA-256 digest of the token (about 1.3 KiB each), plus
    /// up to 128 recently reused tokens kept whole. Every hit is checked
    /// against the token's `exp` and `nbf`.
    #[must_use]
    pub fn token_cache_capacity(mut self, capacity: u64) -> Self {
        self.token_cache_capacity = capacity;
        self
    }

    /// The clock used for `exp`/`nbf`/`iat` checks and the key cache's
    /// timings (tests inject one).
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// How long a fetched key set is fresh (default 1 hour). A cache hit
    /// never extends it.
    #[must_use]
    pub fn jwks_ttl(mut self, ttl: Duration) -> Self {
        self.refresh.ttl = secs(ttl);
        self
    }

    /// At most one refresh for unknown `kid`s per this long (default 5
    /// minutes; 0 for tests). Inside it, unknown `kid`s are refused at once.
    #[must_use]
    pub fn jwks_cooldown(mut self, cooldown: Duration) -> Self {
        self.refresh.cooldown = secs(cooldown);
        self
    }

    /// How long past its TTL a key set keeps serving while the key endpoint
    /// fails (default 24 hours).
    #[must_use]
    pub fn jwks_stale_window(mut self, window: Duration) -> Self {
        self.refresh.stale_window = secs(window);
        self
    }

    /// Connect timeout for key fetches (default 3 s).
    #[must_use]
    pub fn http_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Total timeout for one key fetch (default 5 s).
    #[must_use]
    pub fn http_timeout(mut self, timeout: Duration) -> Self {
        self.http_timeout = timeout;
        self
    }

    /// The frontend API base URL (default `https://<host from the
    /// publishable key>`); set it to your proxy URL when you proxy Clerk.
    #[must_use]
    pub fn frontend_api_url(mut self, url: impl Into<String>) -> Self {
        self.frontend_api_url = Some(url.into());
        self
    }

    /// Page loads Clerk's way (default on, with a publishable key): a
    /// `GET` document request whose session cookie is expired, missing or
    /// outdated is sent through a handshake with the Frontend API instead
    /// of being called signed out (see [`crate::browser`]).
    #[must_use]
    pub fn handshake(mut self, enabled: bool) -> Self {
        self.handshake = enabled;
        self
    }

    /// This app runs on a satellite domain of the instance (Clerk's
    /// `isSatellite`, `domain` and `signInUrl`; `CLERK_IS_SATELLITE`,
    /// `CLERK_DOMAIN`, `CLERK_SIGN_IN_URL`): document navigations sync the
    /// session with the primary. A development satellite syncs through the
    /// primary's absolute `sign_in_url`, which it then needs.
    #[must_use]
    pub fn satellite(mut self, domain: impl Into<String>, sign_in_url: Option<&str>) -> Self {
        self.is_satellite = true;
        self.domain = Some(domain.into());
        self.sign_in_url = sign_in_url.map(str::to_owned);
        self
    }

    /// Clerk's `x-clerk-auth-status` / `x-clerk-auth-reason` headers on
    /// the responses to signed-out requests (default on, as Clerk); they
    /// name why a request is signed out, never a token.
    #[must_use]
    pub fn debug_headers(mut self, enabled: bool) -> Self {
        self.debug_headers = enabled;
        self
    }

    /// A machine secret key (`ak_…`) used to verify M2M tokens
    /// (`CLERK_MACHINE_SECRET_KEY`); the secret key is used otherwise.
    #[must_use]
    pub fn machine_secret_key(mut self, key: impl Into<String>) -> Self {
        self.machine_secret_key = Some(key.into());
        self
    }

    /// This service's machine id (`mch_…`, `CLERK_MACHINE_ID`): M2M tokens,
    /// opaque and JWT alike, are accepted only when their `scopes` name it
    /// (Clerk's "which machines may talk to this one"); others are refused
    /// as `token-verification-failed`.
    #[must_use]
    pub fn machine_id(mut self, id: impl Into<String>) -> Self {
        self.machine_id = Some(id.into());
        self
    }

    /// Caching and budgets of opaque machine-token verification.
    #[must_use]
    pub fn machine_cache(mut self, policy: crate::machine::MachineCache) -> Self {
        self.machine_cache = policy;
        self
    }

    /// The process's Backend API budget and the longest 429 pause
    /// (`CLERK_API_BUDGET` calls per 10 s, default 50;
    /// `CLERK_API_MAX_PAUSE_SECS`, default 60). See [`BackendBudget`](crate::budget::BackendBudget).
    #[must_use]
    pub fn backend_budget(mut self, budget: crate::budget::BackendBudget) -> Self {
        self.backend_budget = budget;
        self
    }

    /// Proxies (addresses or networks, `CLERK_TRUSTED_PROXIES`) in front of
    /// this service: for a request from one of them, the client is the
    /// nearest address in `X-Forwarded-For` that is not one of them. The
    /// client decides whose share of the Backend API budget an anonymous
    /// request spends (see [`BackendBudget`](crate::BackendBudget)).
    /// Without it the connection's peer is the client: behind a proxy
    /// that is not configured here, every request is the proxy's.
    #[must_use]
    pub fn trusted_proxies(mut self, proxies: impl IntoIterator<Item = IpNet>) -> Self {
        self.trusted_proxies = proxies.into_iter().collect();
        self
    }

    /// How long past its freshness a user or organization record may still
    /// be served while Clerk is down (unreachable, timing out, 5xx) or
    /// throttling (429); never when the process's own budget refused it
    /// (`CLERK_USER_STALE_SECS`, default 600 s).
    #[must_use]
    pub fn user_stale_window(mut self, window: Duration) -> Self {
        self.user_stale_window = window;
        self
    }

    /// How long a fetched user or organization is reused (default 60 s).
    #[must_use]
    pub fn user_cache_ttl(mut self, ttl: Duration) -> Self {
        self.user_cache_ttl = ttl;
        self
    }

    /// Checks everything and picks the key source. An explicit source (a
    /// PEM key, [`jwt_key`](Self::jwt_key), or a JWKS document,
    /// [`jwks_json`](Self::jwks_json)) is used when set, as in Clerk's SDKs
    /// (the secret key then serves only the Backend API); setting both is
    /// an error. Without one, keys come from the Backend API (secret key),
    /// else from the Frontend API (publishable key).
    ///
    /// # Errors
    /// Invalid keys or URLs, two explicit key sources, or none at all.
    pub fn build(self) -> Result<ClerkConfig, ConfigError> {
        let secret_key = self.secret_key.as_deref().map(str::parse).transpose()?;
        let publishable_key: Option<PublishableKey> = self
            .publishable_key
            .as_deref()
            .map(str::parse)
            .transpose()?;
        let api_url = match self.api_url {
            Some(url) => checked_remote_url(&url, "CLERK_API_URL")?,
            None => DEFAULT_API_URL.to_owned(),
        };
        let issuer = match self.issuer {
            Some(iss) => Some(checked_url(&iss, "issuer")?),
            None => publishable_key.as_ref().map(PublishableKey::issuer),
        };
        // A satellite (`isSatellite`, `domain`, `signInUrl` in Clerk's
        // SDK): production satellites use `clerk.<domain>` unless proxied;
        // development satellites sync through the primary's sign-in page.
        let live = publishable_key
            .as_ref()
            .is_some_and(PublishableKey::is_live);
        let satellite_api = match (self.is_satellite, &self.domain, &self.frontend_api_url) {
            (false, _, _) | (true, _, Some(_)) => None,
            (true, Some(domain), None) if live => {
                let domain = domain.trim().trim_start_matches("https://");
                Some(format!("https://clerk.{}", domain.trim_end_matches('/')))
            }
            (true, Some(_), None) => None,
            (true, None, None) => {
                return Err(ConfigError::Satellite(
                    "a satellite needs a domain (CLERK_DOMAIN) or a proxy URL (CLERK_PROXY_URL)",
                ));
            }
        };
        if self.is_satellite
            && !live
            && !self
                .sign_in_url
                .as_deref()
                .is_some_and(|u| u.starts_with("https://") || u.starts_with("http://"))
        {
            return Err(ConfigError::Satellite(
                "a development satellite needs the primary's absolute sign-in URL (CLERK_SIGN_IN_URL)",
            ));
        }
        let frontend_api_url = match self.frontend_api_url.or(satellite_api) {
            Some(url) => Some(checked_remote_url(&url, "frontend API URL")?),
            None => publishable_key.as_ref().map(PublishableKey::issuer),
        };
        let key_source = if self.jwt_key.is_some() && self.jwks_json.is_some() {
            return Err(ConfigError::TwoKeySources);
        } else if let Some(pem) = self.jwt_key {
            KeySourceConfig::Local(KeySet::single_any_kid(VerifyingKey::from_pem(&pem)?))
        } else if let Some(json) = self.jwks_json {
            let (set, _) = KeySet::from_jwks_json(json.as_bytes())?;
            if set.is_empty() {
                return Err(ConfigError::InvalidJwks(
                    "no usable RS256/384/512 signing key",
                ));
            }
            KeySourceConfig::Local(set)
        } else if secret_key.is_some() {
            KeySourceConfig::BackendApi
        } else if publishable_key.is_some() {
            KeySourceConfig::FrontendApi
        } else {
            return Err(ConfigError::NoKeySource);
        };
        if self.backend_budget.calls < 2 {
            return Err(ConfigError::InvalidEnv("CLERK_API_BUDGET"));
        }
        let gate = Arc::new(crate::budget::Gate::new(
            self.clock.clone(),
            self.backend_budget,
        ));
        Ok(ClerkConfig {
            key_source,
            secret_key,
            publishable_key,
            api_url,
            authorized_parties: self
                .authorized_parties
                .into_iter()
                .map(|p| p.trim().to_owned())
                .filter(|p| !p.is_empty())
                .collect(),
            issuer,
            audience: self.audience,
            skew_secs: secs(self.skew),
            accept_pending: self.accept_pending,
            accept_template_tokens: self.accept_template_tokens,
            token_cache_capacity: self.token_cache_capacity,
            clock: self.clock,
            refresh: self.refresh,
            connect_timeout: self.connect_timeout,
            http_timeout: self.http_timeout,
            frontend_api_url,
            handshake: self.handshake,
            satellite: self.is_satellite.then_some(self.sign_in_url),
            debug_headers: self.debug_headers,
            machine_secret_key: self.machine_secret_key,
            machine_id: self.machine_id,
            user_stale_window: self.user_stale_window,
            trusted_proxies: self.trusted_proxies,
            gate,
            http: crate::keys::http_client(self.connect_timeout, self.http_timeout)?,
            machine_cache: self.machine_cache,
            user_cache_ttl: self.user_cache_ttl,
        })
    }
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

fn split_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect()
}

fn checked_url(url: &str, what: &'static str) -> Result<String, ConfigError> {
    let url = url.trim().trim_end_matches('/');
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or(ConfigError::InvalidUrl(what))?;
    if rest.is_empty() || rest.chars().any(char::is_whitespace) {
        return Err(ConfigError::InvalidUrl(what));
    }
    Ok(url.to_owned())
}

/// A URL that secrets or verification keys travel over: `https://`, or
/// plain `http://` to a loopback host only (local tests and proxies), so a
/// typo cannot send the secret key, or fetch keys, in clear text.
fn checked_remote_url(url: &str, what: &'static str) -> Result<String, ConfigError> {
    let url = checked_url(url, what)?;
    if url.starts_with("http://") && !is_loopback_url(&url) {
        return Err(ConfigError::InsecureUrl(what));
    }
    Ok(url)
}

/// `localhost` or a loopback address, read by the URL parser reqwest sends
/// with, so the host judged is the host connected to. User info
/// (`localhost:80@evil.example`) or a URL that does not parse is not.
fn is_loopback_url(url: &str) -> bool {
    let Ok(parsed) = reqwest::Url::parse(url) else {
        return false;
    };
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return false;
    }
    let Some(host) = parsed.host_str() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestIssuer;
    use std::collections::HashMap;

    static PK: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| crate::testing::publishable_key_for("clerk.example.com", true));

    fn env(vars: &[(&str, &str)]) -> Result<ClerkConfig, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        ClerkConfigBuilder::from_env_with(|k| map.get(k).cloned())?.build()
    }

    #[test]
    fn no_key_source_is_an_error() {
        assert_eq!(env(&[]).unwrap_err(), ConfigError::NoKeySource);
        assert_eq!(
            env(&[("CLERK_AUTHORIZED_PARTIES", "https://a.example")]).unwrap_err(),
            ConfigError::NoKeySource
        );
        assert_eq!(
            env(&[("CLERK_JWT_KEY", "  ")]).unwrap_err(),
            ConfigError::NoKeySource
        );
    }

    #[test]
    fn env_picks_pem_first_and_reads_parties() {
        let issuer = TestIssuer::new();
        let pem = issuer.public_key_pem();
        let c = env(&[
            ("CLERK_JWT_KEY", &pem),
            ("CLERK_SECRET_KEY", "sk_test_your_clerk_key_here"),
            ("CLERK_PUBLISHABLE_KEY", PK.as_str()),
            (
                "CLERK_AUTHORIZED_PARTIES",
                " https://a.example ,https://b.example,, ",
            ),
            ("CLERK_API_URL", "https://api.example.com/"),
        ])
        .unwrap();
        assert!(matches!(c.key_source(), KeySourceConfig::Local(_)));
        assert_eq!(
            c.authorized_parties(),
            ["https://a.example", "https://b.example"]
        );
        assert_eq!(c.issuer(), Some("https://clerk.example.com"));
        assert_eq!(c.api_url(), "https://api.example.com");
        assert!(!format!("{c:?}").contains("your_clerk_key"));
    }

    #[test]
    fn env_falls_back_to_remote_sources() {
        let c = env(&[("CLERK_SECRET_KEY", "sk_test_your_clerk_key_here")]).unwrap();
        assert!(matches!(c.key_source(), KeySourceConfig::BackendApi));
        assert_eq!(c.api_url(), DEFAULT_API_URL);
        let c = env(&[("CLERK_PUBLISHABLE_KEY", PK.as_str())]).unwrap();
        assert!(matches!(c.key_source(), KeySourceConfig::FrontendApi));
    }

    #[test]
    fn invalid_values_are_clear_errors() {
        assert!(matches!(
            env(&[("CLERK_JWT_KEY", "not a key")]),
            Err(ConfigError::InvalidJwtKey(_))
        ));
        assert!(matches!(
            env(&[("CLERK_SECRET_KEY", "pk_test_oops")]),
            Err(ConfigError::InvalidSecretKey(_))
        ));
        assert!(matches!(
            env(&[("CLERK_PUBLISHABLE_KEY", "pk_test_bad")]),
            Err(ConfigError::InvalidPublishableKey(_))
        ));
        assert!(matches!(
            env(&[
                ("CLERK_SECRET_KEY", "sk_test_your_clerk_key_here"),
                ("CLERK_API_URL", "ftp://x")
            ]),
            Err(ConfigError::InvalidUrl("CLERK_API_URL"))
        ));
        assert!(matches!(
            ClerkConfig::builder().jwks_json(r#"{"keys":[]}"#).build(),
            Err(ConfigError::InvalidJwks(_))
        ));
        assert!(matches!(
            ClerkConfig::builder().jwks_json("[]").build(),
            Err(ConfigError::InvalidJwks(_))
        ));
        let sk = ("CLERK_SECRET_KEY", "sk_test_your_clerk_key_here");
        assert!(matches!(
            env(&[sk, ("CLERK_TRUSTED_PROXIES", "10.0.0.0/8, lb.internal")]),
            Err(ConfigError::InvalidEnv("CLERK_TRUSTED_PROXIES"))
        ));
        let c = env(&[sk, ("CLERK_TRUSTED_PROXIES", "10.0.0.0/8, ::1")]).unwrap();
        assert_eq!(c.trusted_proxies.len(), 2);
    }

    #[test]
    fn backend_budget_stale_window_and_machine_id_from_env() {
        let c = env(&[
            ("CLERK_PUBLISHABLE_KEY", PK.as_str()),
            ("CLERK_API_BUDGET", "125"),
            ("CLERK_API_MAX_PAUSE_SECS", "30"),
            ("CLERK_USER_STALE_SECS", "0"),
            ("CLERK_MACHINE_ID", " mch_1 "),
        ])
        .unwrap();
        assert_eq!(
            (c.gate.budget().calls, c.gate.budget().max_pause.as_secs()),
            (125, 30)
        );
        assert_eq!(c.user_stale_window, Duration::ZERO);
        assert_eq!(c.machine_id.as_deref(), Some("mch_1"));
        let d = env(&[("CLERK_PUBLISHABLE_KEY", PK.as_str())]).unwrap();
        assert_eq!(d.gate.budget(), crate::budget::BackendBudget::default());
        assert_eq!(d.user_stale_window, Duration::from_secs(600));
        for (name, bad) in [
            ("CLERK_API_BUDGET", "0"),
            ("CLERK_API_BUDGET", "1"),
            ("CLERK_API_BUDGET", "-5"),
            ("CLERK_API_BUDGET", "lots"),
            ("CLERK_API_MAX_PAUSE_SECS", "1.5"),
            ("CLERK_USER_STALE_SECS", "-1"),
        ] {
            assert_eq!(
                env(&[("CLERK_PUBLISHABLE_KEY", PK.as_str()), (name, bad)]).unwrap_err(),
                ConfigError::InvalidEnv(name),
                "{name}={bad}"
            );
        }
    }

    #[test]
    fn jwks_timings_from_env() {
        let c = env(&[
            ("CLERK_PUBLISHABLE_KEY", PK.as_str()),
            ("CLERK_JWKS_TTL_SECS", "60"),
            ("CLERK_JWKS_COOLDOWN_SECS", "0"),
            ("CLERK_JWKS_STALE_SECS", " 120 "),
        ])
        .unwrap();
        let p = c.refresh_policy();
        assert_eq!((p.ttl, p.cooldown, p.stale_window), (60, 0, 120));
        assert_eq!(
            c.frontend_api_url.as_deref(),
            Some("https://clerk.example.com")
        );
        let d = KeyRefresh::default();
        assert_eq!((d.ttl, d.cooldown, d.stale_window), (3600, 300, 86_400));
        for bad in ["-1", "1.5", "soon"] {
            assert_eq!(
                env(&[
                    ("CLERK_PUBLISHABLE_KEY", PK.as_str()),
                    ("CLERK_JWKS_TTL_SECS", bad),
                ])
                .unwrap_err(),
                ConfigError::InvalidEnv("CLERK_JWKS_TTL_SECS")
            );
        }
    }

    #[test]
    fn explicit_issuer_wins_over_publishable_key() {
        let issuer = TestIssuer::new();
        let c = ClerkConfig::builder()
            .jwt_key(issuer.public_key_pem())
            .publishable_key(PK.as_str())
            .issuer("https://auth.example.com/")
            .build()
            .unwrap();
        assert_eq!(c.issuer(), Some("https://auth.example.com"));
    }

    #[test]
    fn plain_http_api_urls_only_for_loopback() {
        let build = |url: &str| {
            ClerkConfig::builder()
                .secret_key("sk_test_your_clerk_key_here")
                .api_url(url)
                .build()
                .map(|c| c.api_url().to_owned())
        };
        for ok in [
            "https://api.clerk.com",
            "http://127.0.0.1:8080",
            "http://127.0.0.1",
            "http://localhost:3000/",
            "http://LOCALHOST",
            "http://[::1]:9000",
            "http://127.1.2.3:1/base",
        ] {
            assert!(build(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://api.clerk.com",
            "http://10.0.0.1:8080",
            "http://127.0.0.1@evil.example",
            "http://localhost.evil.example",
            "http://[::2]:80",
            "http://0.0.0.0:80",
            "http://localhost:80@evil.example",
            "http://[::1]@evil.example",
            "http://[::1]:80@evil.example",
            "http://localhost:x@evil.example",
            "http://localhost:80:81",
            "http://[::1]x",
            "http://localhost.",
        ] {
            assert_eq!(
                build(bad),
                Err(ConfigError::InsecureUrl("CLERK_API_URL")),
                "{bad}"
            );
        }
        let fapi = ClerkConfig::builder()
            .jwt_key(TestIssuer::new().public_key_pem())
            .frontend_api_url("http://clerk.example.com")
            .build();
        assert_eq!(
            fapi.map(|_| ()),
            Err(ConfigError::InsecureUrl("frontend API URL"))
        );
    }
}
