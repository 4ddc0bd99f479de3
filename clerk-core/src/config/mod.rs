//! Configuration: which keys verify tokens, which parties and issuer are
//! accepted, clock skew, and cache size.
//!
//! Build one with [`ClerkConfig::builder`] or read the variables Clerk users
//! already know with [`ClerkConfigBuilder::from_env`] (or [`Clerk::from_env`](crate::Clerk::from_env)) (every variable is listed
//! below, from `docs/configuration.md`). The key source is a PEM key
//! (networkless) or a JWKS document when one is set (both is an error),
//! else the Backend API (secret key), else the Frontend API (publishable
//! key).
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
//!
#![doc = include_str!("../../../docs/configuration.md")]

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::clock::Clock;

use crate::instance::{PublishableKey, SecretKey};
use crate::keys::{KeyRefresh, KeySet};

pub use crate::api::budget::BackendBudget;
#[cfg(feature = "redis")]
pub use crate::api::fleet::FleetBudget;

mod build;
mod env;
#[cfg(test)]
mod tests;
mod urls;

pub use build::ClerkConfigBuilder;
pub(crate) use urls::{checked_proxy_path, checked_remote_url};

use ipnet::IpNet;

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
    /// A relative proxy URL (`/__clerk`), resolved per request.
    pub(crate) proxy_path: Option<String>,
    /// Page loads through Clerk's handshake (default on).
    pub(crate) handshake: bool,
    /// This app is a satellite domain, and the primary's sign-in URL.
    pub(crate) satellite: Option<Option<String>>,
    /// `x-clerk-auth-*` debug headers on signed-out responses (default on).
    pub(crate) debug_headers: bool,
    /// Organization sync by URL (none by default), compiled by `Clerk::new`.
    pub(crate) organization_patterns: Vec<String>,
    pub(crate) personal_account_patterns: Vec<String>,
    /// Clerk's `satelliteAutoSync` (default off).
    pub(crate) satellite_auto_sync: bool,
    pub(crate) machine_secret_key: Option<String>,
    pub(crate) machine_id: Option<String>,
    pub(crate) machine_cache: crate::machine::MachineCache,
    pub(crate) user_cache_ttl: Duration,
    pub(crate) user_stale_window: Duration,
    /// Proxies whose `X-Forwarded-For` names the client.
    pub(crate) trusted_proxies: Vec<IpNet>,
    /// The process's one Backend API budget, shared by every `Clerk`
    /// built from this configuration.
    pub(crate) gate: Arc<crate::api::budget::Gate>,
    /// The one HTTP client every Backend and Frontend API call of a `Clerk`
    /// built from this configuration uses.
    pub(crate) http: reqwest::Client,
}

impl ClerkConfig {
    /// A builder with Clerk's defaults and no key source yet.
    pub fn builder() -> ClerkConfigBuilder {
        ClerkConfigBuilder::default()
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
            .field("proxy_path", &self.proxy_path)
            .finish_non_exhaustive()
    }
}

pub(super) fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}
