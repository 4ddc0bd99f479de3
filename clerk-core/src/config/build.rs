//! The builder: every setter, and the checks `build` makes.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::urls::{checked_proxy_path, checked_remote_url, checked_url};
use super::{
    ClerkConfig, DEFAULT_API_URL, DEFAULT_CONNECT_TIMEOUT, DEFAULT_HTTP_TIMEOUT, DEFAULT_SKEW,
    DEFAULT_TOKEN_CACHE_CAPACITY, KeySourceConfig, secs,
};
use crate::clock::{Clock, SystemClock};
use crate::error::ConfigError;
use crate::instance::PublishableKey;
use crate::keys::{KeyRefresh, KeySet, VerifyingKey};
use ipnet::IpNet;

/// Builds a [`ClerkConfig`]; values are checked in [`build`](Self::build).
#[derive(Clone)]
pub struct ClerkConfigBuilder {
    pub(super) jwt_key: Option<String>,
    pub(super) jwks_json: Option<String>,
    pub(super) secret_key: Option<String>,
    pub(super) publishable_key: Option<String>,
    pub(super) api_url: Option<String>,
    pub(super) authorized_parties: Vec<String>,
    pub(super) issuer: Option<String>,
    pub(super) audience: Vec<String>,
    pub(super) skew: Duration,
    pub(super) accept_pending: bool,
    pub(super) accept_template_tokens: bool,
    pub(super) token_cache_capacity: u64,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) refresh: KeyRefresh,
    pub(super) connect_timeout: Duration,
    pub(super) http_timeout: Duration,
    pub(super) frontend_api_url: Option<String>,
    pub(super) handshake: bool,
    pub(super) debug_headers: bool,
    pub(super) organization_patterns: Vec<String>,
    pub(super) personal_account_patterns: Vec<String>,
    pub(super) satellite_auto_sync: bool,
    pub(super) is_satellite: bool,
    pub(super) domain: Option<String>,
    pub(super) sign_in_url: Option<String>,
    pub(super) machine_secret_key: Option<String>,
    pub(super) machine_id: Option<String>,
    pub(super) machine_cache: crate::machine::MachineCache,
    pub(super) user_cache_ttl: Duration,
    pub(super) user_stale_window: Duration,
    pub(super) trusted_proxies: Vec<IpNet>,
    pub(super) backend_budget: crate::api::budget::BackendBudget,
    #[cfg(feature = "redis")]
    pub(super) fleet_budget: Option<crate::api::fleet::FleetBudget>,
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
            organization_patterns: Vec::new(),
            personal_account_patterns: Vec::new(),
            satellite_auto_sync: false,
            is_satellite: false,
            domain: None,
            sign_in_url: None,
            machine_secret_key: None,
            machine_id: None,
            machine_cache: crate::machine::MachineCache::default(),
            user_cache_ttl: Duration::from_secs(60),
            user_stale_window: Duration::from_secs(600),
            trusted_proxies: Vec::new(),
            backend_budget: crate::api::budget::BackendBudget::default(),
            #[cfg(feature = "redis")]
            fleet_budget: None,
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

    /// The key cache: a fetched key set is fresh for `ttl` (default 1
    /// hour, `CLERK_JWKS_TTL_SECS`; a cache hit never extends it), and
    /// keeps serving up to `stale_window` past it while the key endpoint
    /// fails (default 24 hours, `CLERK_JWKS_STALE_SECS`).
    #[must_use]
    pub fn key_cache(mut self, ttl: Duration, stale_window: Duration) -> Self {
        self.refresh.ttl = secs(ttl);
        self.refresh.stale_window = secs(stale_window);
        self
    }

    /// At most one refresh for unknown `kid`s per this long (default 5
    /// minutes; 0 for tests). Inside it, unknown `kid`s are refused at once.
    #[must_use]
    pub fn jwks_cooldown(mut self, cooldown: Duration) -> Self {
        self.refresh.cooldown = secs(cooldown);
        self
    }

    /// Total timeout for one key fetch (default 5 s).
    #[must_use]
    pub fn http_timeout(mut self, timeout: Duration) -> Self {
        self.http_timeout = timeout;
        self
    }

    /// The frontend API base URL (default `https://<host from the
    /// publishable key>`); set it to your proxy URL when you proxy Clerk
    /// (Clerk's `proxyUrl`, `CLERK_PROXY_URL`). A path such as `/__clerk`
    /// is a proxy on the application's own origin, resolved per request
    /// from the page's URL as Clerk's SDK does (`new URL(proxyUrl,
    /// clerkUrl)`, `@clerk/nextjs` `server/utils.ts`); keys are then
    /// fetched from the publishable key's Frontend API directly.
    #[must_use]
    pub fn frontend_api_url(mut self, url: impl Into<String>) -> Self {
        self.frontend_api_url = Some(url.into());
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

    /// Clerk's `satelliteAutoSync` (default off, as Clerk's Core 3): on,
    /// a satellite's first page load with no Clerk cookie syncs with the
    /// primary at once; off, it is signed out until the primary sends the
    /// visitor back with `__clerk_synced=false` (after a sign-in).
    #[must_use]
    pub fn satellite_auto_sync(mut self, enabled: bool) -> Self {
        self.satellite_auto_sync = enabled;
        self
    }

    /// Clerk's `organizationSyncOptions`: page URLs that name an
    /// organization (`organization_patterns`, each with an `:id` or
    /// `:slug` parameter, e.g. `/orgs/:slug` and `/orgs/:slug/(.*)`) or
    /// the personal account (`personal_account_patterns`, e.g. `/me` and
    /// `/me/(.*)`), in route-pattern syntax
    /// ([`RouteMatcher`](crate::RouteMatcher)). A signed-in page load whose
    /// URL names another organization than the session's active one goes
    /// through Clerk's handshake, which activates it
    /// (`active-organization-mismatch`); API requests never sync. The
    /// layers put the URL's [`OrganizationTarget`](crate::browser::OrganizationTarget)
    /// in the request extensions. Invalid patterns fail `Clerk::new`.
    #[must_use]
    pub fn organization_sync<I, J, S, T>(
        mut self,
        organization_patterns: I,
        personal_account_patterns: J,
    ) -> Self
    where
        I: IntoIterator<Item = S>,
        J: IntoIterator<Item = T>,
        S: Into<String>,
        T: Into<String>,
    {
        self.organization_patterns = organization_patterns.into_iter().map(Into::into).collect();
        self.personal_account_patterns = personal_account_patterns
            .into_iter()
            .map(Into::into)
            .collect();
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

    /// The process's Backend API budget and the longest 429 pause
    /// (`CLERK_API_BUDGET` calls per 10 s, default 50;
    /// `CLERK_API_MAX_PAUSE_SECS`, default 60). See [`BackendBudget`](crate::api::budget::BackendBudget).
    #[must_use]
    pub fn backend_budget(mut self, budget: crate::api::budget::BackendBudget) -> Self {
        self.backend_budget = budget;
        self
    }

    /// A Backend API budget shared by every replica through Redis (feature
    /// `redis`; `CLERK_REDIS_URL`, `CLERK_FLEET_CALLS`, `CLERK_FLEET_REPLICAS`),
    /// asked after this process's own [`backend_budget`](Self::backend_budget):
    /// see [`FleetBudget`](crate::config::FleetBudget).
    #[cfg(feature = "redis")]
    #[must_use]
    pub fn fleet_budget(mut self, fleet: crate::api::fleet::FleetBudget) -> Self {
        self.fleet_budget = Some(fleet);
        self
    }

    /// Proxies (addresses or networks, `CLERK_TRUSTED_PROXIES`) in front of
    /// this service: for a request from one of them, the client is the
    /// nearest address in `X-Forwarded-For` that is not one of them. The
    /// client decides whose share of the Backend API budget an anonymous
    /// request spends (see [`BackendBudget`](crate::config::BackendBudget)).
    /// Without it the connection's peer is the client: behind a proxy
    /// that is not configured here, every request is the proxy's.
    /// Each is an `ipnet::IpNet` (`"10.0.0.0/8".parse()?`) or a single
    /// `std::net::IpAddr`.
    #[must_use]
    pub fn trusted_proxies<N: Into<IpNet>>(mut self, proxies: impl IntoIterator<Item = N>) -> Self {
        self.trusted_proxies = proxies.into_iter().map(Into::into).collect();
        self
    }

    /// The user directory's cache ([`Clerk::directory`](crate::Clerk::directory)):
    /// a fetched user or organization is reused for `ttl` (default 60 s),
    /// and may still be served up to `stale_window` past it (default 600 s,
    /// `CLERK_USER_STALE_SECS`) while Clerk is down (unreachable, timing
    /// out, 5xx) or throttling (429); never when the process's own budget
    /// refused the call, nor once Clerk has said the record is gone.
    #[must_use]
    pub fn user_cache(mut self, ttl: Duration, stale_window: Duration) -> Self {
        self.user_cache_ttl = ttl;
        self.user_stale_window = stale_window;
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
        // A relative proxy URL (`/__clerk`) is kept apart: it names no host
        // until a request gives the origin.
        let (proxy_path, frontend_api_given) = match self.frontend_api_url {
            Some(url) if url.trim().starts_with('/') => {
                (Some(checked_proxy_path(url.trim(), "proxy URL")?), None)
            }
            other => (None, other),
        };
        let proxied = proxy_path.is_some() || frontend_api_given.is_some();
        let satellite_api = match (self.is_satellite, &self.domain, proxied) {
            (false, _, _) | (true, _, true) => None,
            (true, Some(domain), false) if live => {
                let domain = domain.trim().trim_start_matches("https://");
                let domain = domain.trim_end_matches('/');
                // Clerk's `domain` is a host (`satellite.dev`); a path or
                // user info would move where handshakes go.
                if domain.contains('@') || domain.parse::<http::uri::Authority>().is_err() {
                    return Err(ConfigError::Satellite(
                        "CLERK_DOMAIN must be a host name, such as satellite.example.com",
                    ));
                }
                Some(format!("https://clerk.{domain}"))
            }
            (true, Some(_), false) => None,
            (true, None, false) => {
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
        let frontend_api_url = match frontend_api_given.or(satellite_api) {
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
        let gate = crate::api::budget::Gate::new(self.clock.clone(), self.backend_budget);
        #[cfg(feature = "redis")]
        let gate = {
            let named = secret_key
                .as_ref()
                .map(|k: &crate::instance::SecretKey| k.expose_secret().to_owned())
                .or_else(|| publishable_key.as_ref().map(|p| p.as_str().to_owned()))
                .unwrap_or_default();
            let fleet = self
                .fleet_budget
                .as_ref()
                .map(|f| {
                    crate::api::fleet::Fleet::of_instance(
                        f,
                        &named,
                        self.backend_budget.window,
                        self.clock.clone(),
                    )
                })
                .transpose()?;
            gate.with_fleet(fleet.map(Arc::new))
        };
        let gate = Arc::new(gate);
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
            proxy_path,
            handshake: self.handshake,
            satellite: self.is_satellite.then_some(self.sign_in_url),
            debug_headers: self.debug_headers,
            organization_patterns: self.organization_patterns,
            personal_account_patterns: self.personal_account_patterns,
            satellite_auto_sync: self.satellite_auto_sync,
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
