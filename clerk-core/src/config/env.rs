//! The variables Clerk users already know, read into a builder.

use std::time::Duration;

use super::ClerkConfigBuilder;
use crate::error::ConfigError;
use crate::keys::KeyRefresh;

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
        let budget_defaults = crate::api::budget::BackendBudget::default();
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
        let backend_budget = crate::api::budget::BackendBudget {
            calls: count("CLERK_API_BUDGET", budget_defaults.calls)?,
            max_pause: seconds("CLERK_API_MAX_PAUSE_SECS", budget_defaults.max_pause)?,
            ..budget_defaults
        };
        let defaults_builder = Self::default();
        let trusted_proxies = get("CLERK_TRUSTED_PROXIES")
            .map(|list| {
                crate::api::budget::parse_trusted_proxies(&list)
                    .ok_or(ConfigError::InvalidEnv("CLERK_TRUSTED_PROXIES"))
            })
            .transpose()?
            .unwrap_or_default();
        #[cfg(feature = "redis")]
        let fleet_budget = match get("CLERK_REDIS_URL").filter(|u| !u.trim().is_empty()) {
            Some(url) => {
                let defaults = crate::api::fleet::FleetBudget::new(url.trim());
                Some(
                    defaults
                        .clone()
                        .calls_per_window(count("CLERK_FLEET_CALLS", defaults.calls)?)
                        .replicas(count("CLERK_FLEET_REPLICAS", defaults.replicas)?),
                )
            }
            None => None,
        };
        Ok(Self {
            #[cfg(feature = "redis")]
            fleet_budget,
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
            // Absolute, or a path (`/__clerk`) resolved per request.
            frontend_api_url: get("CLERK_PROXY_URL")
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty()),
            machine_secret_key: get("CLERK_MACHINE_SECRET_KEY").map(|s| s.trim().to_owned()),
            machine_id: get("CLERK_MACHINE_ID").map(|s| s.trim().to_owned()),
            authorized_parties: get("CLERK_AUTHORIZED_PARTIES")
                .map(|p| split_list(&p))
                .unwrap_or_default(),
            ..Self::default()
        })
    }
}

fn split_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect()
}
