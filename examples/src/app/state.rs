//! What the handlers need: the `Clerk`, dev mode when on, webhooks, and the
//! protections both apps put on their routes.

use std::sync::Arc;

use clerk_core::machine::{AcceptsToken, TokenType};
use clerk_core::protect::RouteMatcher;
use clerk_core::testing::FakeBackendApi;
use clerk_core::webhook::WebhookVerifier;
use clerk_core::{Clerk, ConfigError, Protect};
use serde_json::{Value, json};

use super::frontend::DevFrontendApi;
use super::sync::UserStore;
use super::{
    DASHBOARD_PATTERNS, DEV_SECRET_KEY, DevMode, ORGANIZATION_PATTERNS, PERSONAL_ACCOUNT_PATTERNS,
    PROXY_PATH, WebhookState, check_dev_mode_allowed, env_vars,
};

/// What the handlers need, behind one `Arc`: axum clones the router's
/// state for every request, so a clone is one reference count. Reads go
/// through to [`Shared`] (`state.clerk`).
#[derive(Debug, Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The parts of an [`AppState`].
#[derive(Debug)]
pub struct Shared {
    /// Authenticates requests.
    pub clerk: Clerk,
    /// Present in dev mode only.
    pub dev: Option<Arc<DevMode>>,
    /// Where signed-out page requests are sent (`CLERK_SIGN_IN_URL`).
    pub sign_in_url: String,
    /// Present when a webhook signing secret is configured (always in dev
    /// mode).
    pub webhooks: Option<WebhookState>,
    /// The dev Backend API, in dev mode.
    pub backend: Option<FakeBackendApi>,
    /// The dev Frontend API stand-in (sign-in page, handshake), in dev mode.
    pub frontend: Option<DevFrontendApi>,
}

/// The token kinds the apps' authentication layer verifies: sessions, and
/// the machine tokens `/api/machine` accepts.
pub fn accepted_tokens() -> AcceptsToken {
    AcceptsToken::only([
        TokenType::SessionToken,
        TokenType::ApiKey,
        TokenType::M2mToken,
        TokenType::OAuthToken,
    ])
}

/// True when the environment names any Clerk key.
pub fn has_clerk_keys(lookup: &dyn Fn(&str) -> Option<String>) -> bool {
    ["CLERK_JWT_KEY", "CLERK_SECRET_KEY", "CLERK_PUBLISHABLE_KEY"]
        .iter()
        .any(|k| lookup(k).is_some_and(|v| !v.trim().is_empty()))
}

impl AppState {
    /// From the environment: real keys when any `CLERK_*` key is set
    /// (exactly as `Clerk::from_env()`), else dev mode with a local
    /// Backend API.
    ///
    /// # Errors
    /// When the configured keys are invalid, or the dev Backend API cannot
    /// start.
    pub async fn from_env() -> Result<Self, Box<dyn std::error::Error>> {
        let lookup = |k: &str| std::env::var(k).ok();
        let sign_in_url = lookup("CLERK_SIGN_IN_URL").unwrap_or_else(|| "/sign-in".to_owned());
        if has_clerk_keys(&lookup) {
            let config = clerk_core::config::ClerkConfigBuilder::from_env()?
                .organization_sync(ORGANIZATION_PATTERNS, PERSONAL_ACCOUNT_PATTERNS)
                .build()?;
            let clerk = Clerk::new(config)?.accepting(accepted_tokens());
            // The local users table the webhooks keep (`DATABASE_URL`),
            // opened only when webhooks are configured.
            let webhooks = match WebhookVerifier::from_env_with(lookup)? {
                Some(verifier) => Some(WebhookState::new(
                    verifier,
                    clerk.directory().clone(),
                    Some(super::sync::open_from_env().await?),
                )),
                None => None,
            };
            return Ok(Self(Arc::new(Shared {
                clerk,
                dev: None,
                sign_in_url,
                webhooks,
                backend: None,
                frontend: None,
            })));
        }
        check_dev_mode_allowed(env_vars())?;
        let store = super::sync::open_from_env().await?;
        Self::start_dev_in(DevMode::new(), sign_in_url, dev_token_ttl(), store).await
    }

    /// Dev mode with its local Backend API started, and an in-memory users
    /// table.
    ///
    /// # Errors
    /// When the dev Backend API cannot start.
    pub async fn start_dev(
        dev: DevMode,
        sign_in_url: String,
    ) -> Result<Self, Box<dyn std::error::Error>> {
        let store = UserStore::open("sqlite::memory:").await?;
        Self::start_dev_in(dev, sign_in_url, dev_token_ttl(), store).await
    }

    async fn start_dev_in(
        dev: DevMode,
        sign_in_url: String,
        ttl: i64,
        store: UserStore,
    ) -> Result<Self, Box<dyn std::error::Error>> {
        let clock: Arc<dyn clerk_core::clock::Clock> = Arc::new(clerk_core::clock::SystemClock);
        let backend = dev.start_backend().await?;
        let dev = Arc::new(dev);
        let frontend = DevFrontendApi::start(dev.clone(), ttl, clock.clone()).await?;
        Ok(Self::build_dev(
            dev,
            sign_in_url,
            Some(backend),
            Some((frontend, clock)),
            Some(store),
        )?)
    }

    /// Dev mode whose dev Frontend API mints session tokens living `ttl`
    /// seconds, on `clock` (shared by the app's verification and the
    /// stand-in, so tests move time instead of waiting).
    ///
    /// # Errors
    /// When the dev Backend or Frontend API cannot start.
    pub async fn start_dev_with(
        dev: DevMode,
        sign_in_url: String,
        ttl: i64,
        clock: Arc<dyn clerk_core::clock::Clock>,
    ) -> Result<Self, Box<dyn std::error::Error>> {
        let backend = dev.start_backend().await?;
        let dev = Arc::new(dev);
        let frontend = DevFrontendApi::start(dev.clone(), ttl, clock.clone()).await?;
        let store = UserStore::open("sqlite::memory:").await?;
        Ok(Self::build_dev(
            dev,
            sign_in_url,
            Some(backend),
            Some((frontend, clock)),
            Some(store),
        )?)
    }

    /// Dev mode with the given throwaway issuer.
    ///
    /// # Errors
    /// Only if the throwaway config is invalid.
    pub fn dev(
        dev: DevMode,
        sign_in_url: String,
        backend: Option<FakeBackendApi>,
    ) -> Result<Self, ConfigError> {
        Self::build_dev(Arc::new(dev), sign_in_url, backend, None, None)
    }

    fn build_dev(
        dev: Arc<DevMode>,
        sign_in_url: String,
        backend: Option<FakeBackendApi>,
        frontend: Option<(DevFrontendApi, Arc<dyn clerk_core::clock::Clock>)>,
        store: Option<UserStore>,
    ) -> Result<Self, ConfigError> {
        let mut config = dev
            .config()
            .organization_sync(ORGANIZATION_PATTERNS, PERSONAL_ACCOUNT_PATTERNS);
        if let Some(b) = &backend {
            config = config.secret_key(DEV_SECRET_KEY).api_url(b.base_url());
        }
        if let Some((_, clock)) = &frontend {
            // A development instance whose Frontend API is the stand-in,
            // reached through the app's own proxy at the relative proxy
            // URL `/__clerk` (resolved per request, as Clerk's
            // `CLERK_PROXY_URL=/__clerk`): page loads go through its
            // handshake there.
            config = config
                .clock(clock.clone())
                .publishable_key(clerk_core::testing::publishable_key_for(
                    "clerk.test.invalid",
                    false,
                ))
                .frontend_api_url(PROXY_PATH);
        }
        // Dev mode shows the library's metrics on /metrics.
        super::metrics::handle();
        let clerk = Clerk::new(config.build()?)?.accepting(accepted_tokens());
        let webhooks = Some(WebhookState::new(
            WebhookVerifier::new(&dev.webhook_secret)?,
            clerk.directory().clone(),
            store,
        ));
        Ok(Self(Arc::new(Shared {
            clerk,
            dev: Some(dev),
            sign_in_url,
            webhooks,
            backend,
            frontend: frontend.map(|(f, _)| f),
        })))
    }

    /// `GET /metrics` in dev mode (the recorder is installed when dev mode
    /// starts): Prometheus' text format; `None` outside dev mode.
    pub fn metrics_page(&self) -> Option<String> {
        self.dev.as_ref().and_then(|_| super::metrics::render())
    }

    /// `/api/machine`: machine tokens only (API keys, M2M tokens, OAuth
    /// access tokens), never a session.
    pub fn machine_protect(&self) -> Protect {
        Protect::signed_in().accepts_token(AcceptsToken::only([
            TokenType::ApiKey,
            TokenType::M2mToken,
            TokenType::OAuthToken,
        ]))
    }

    /// Clerk's Frontend API proxy at `/__clerk` (with the secret and
    /// publishable keys; in dev mode to the local Frontend API stand-in);
    /// `None` without them.
    pub fn frontend_api_proxy(&self) -> Option<clerk_core::browser::FrontendApiProxy> {
        let proxy = self.clerk.frontend_api_proxy().ok()?;
        match &self.frontend {
            Some(f) => proxy.upstream(f.base_url()).ok(),
            None => Some(proxy),
        }
    }

    /// Clerk's Content-Security-Policy, sent on every response.
    pub fn content_security_policy(&self) -> clerk_core::browser::ContentSecurityPolicy {
        self.clerk.content_security_policy()
    }

    /// The dashboard protection: route matcher, signed in, page redirect.
    ///
    /// # Panics
    /// Never: the pattern is a constant checked by the tests.
    #[allow(clippy::expect_used)]
    pub fn dashboard_protect(&self) -> Protect {
        Protect::signed_in()
            .routes(RouteMatcher::new(DASHBOARD_PATTERNS).expect("constant patterns"))
            .redirect_pages_to(&self.sign_in_url)
    }

    /// `GET /health`.
    pub fn health(&self) -> Value {
        json!({"status": "ok", "keys_ready": self.clerk.is_ready()})
    }
}

/// `CLERK_DEV_TOKEN_TTL` (seconds, default 60): how long the dev Frontend
/// API's session tokens live.
fn dev_token_ttl() -> i64 {
    std::env::var("CLERK_DEV_TOKEN_TTL")
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(60)
}
