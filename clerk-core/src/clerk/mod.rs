//! [`Clerk`]: the one object an application holds. It reads the token from
//! request headers, verifies it, and answers with an [`Auth`](crate::Auth).
//!
//! ```
//! use clerk_core::{Clerk, testing::TestIssuer};
//! use http::{HeaderMap, HeaderValue, header};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let issuer = TestIssuer::new();
//! let clerk = Clerk::new(issuer.config().build()?)?; // or Clerk::from_env()?
//! let mut headers = HeaderMap::new();
//! let bearer = format!("Bearer {}", issuer.token().user("user_7").build());
//! headers.insert(header::AUTHORIZATION, HeaderValue::from_str(&bearer)?);
//! let auth = clerk.authenticate(&headers).await;
//! assert_eq!(auth.user_id(), Some("user_7"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! Machine tokens (API keys, M2M, OAuth) are verified only by a `Clerk`
//! that accepts them ([`Clerk::accepting`]); others refuse them as
//! `token-type-mismatch` without any network call. They are read only from
//! the `Authorization` header, never from cookies.

use std::sync::Arc;

use crate::api::Api;
use crate::api::UserDirectory;
use crate::api::transport::BackendApi;
use crate::browser::{Browser, OrganizationSync, OrganizationTarget, PageCalls};
use crate::config::ClerkConfig;
use crate::cookies::{CookieRule, cookie_suffix};
use crate::error::{ConfigError, VerifyError};
use crate::instance::SecretKey;
use crate::machine::{AcceptsToken, MachineVerifier};
use crate::request::RequestHead;
use crate::session::Session;
use crate::session::verify::Verifier;

mod steps;
mod wait;

pub use wait::Authenticate;

/// Authenticates requests. Cheap to clone (one reference count: routers
/// clone their services per request); build one per process (clones share
/// every cache).
#[derive(Clone, Debug)]
pub struct Clerk {
    inner: Arc<Inner>,
}

#[derive(Clone, Debug)]
struct Inner {
    verifier: Verifier,
    /// Which session cookie counts (Clerk's rule; with a publishable key).
    cookie_rule: Option<Arc<CookieRule>>,
    machines: Arc<MachineVerifier>,
    accepts: Arc<AcceptsToken>,
    users: Arc<UserDirectory>,
    /// The Backend API (with a secret key): the typed client, and the
    /// transport of server-side session refresh and handshake nonces.
    api: Api,
    machine_id: Option<Arc<str>>,
    /// Page requests Clerk's way (handshake), when the Frontend API is known.
    browser: Option<Arc<Browser>>,
    /// Whether the layers add `Auth::debug_headers` to responses.
    debug_headers: bool,
    /// Whether session cookies are read (off: the `Authorization` header
    /// only, as gRPC metadata).
    cookies: bool,
    /// Proxies whose `X-Forwarded-For` names the client.
    trusted_proxies: Arc<[ipnet::IpNet]>,
    /// Nonce and refresh calls of page loads, and what they remember.
    page_calls: PageCalls,
    /// Organization sync by URL, when configured.
    organization_sync: Option<Arc<OrganizationSync>>,
    /// For the Frontend API proxy: the secret key (its `Debug` shows none)
    /// and the publishable key's Frontend API host.
    proxy_secret: Option<SecretKey>,
    frontend_api: Option<String>,
    /// A relative proxy URL's path: the proxy's default path.
    proxy_path: Option<String>,
    /// The HTTP client (metadata fetches).
    http: reqwest::Client,
}

/// The rule a multi-instance service picks its `Clerk` by: the request's
/// host in, the instance out (`None`: refused).
pub type InstanceRule = Arc<dyn Fn(&str) -> Option<Clerk> + Send + Sync>;

/// The `Clerk` for a request on a multi-instance service (Clerk's
/// `clerkMiddleware((req) => options)`): `rule` gets the request's host
/// (`X-Forwarded-Host`, else `Host`; lowercase, without a port) and names
/// its instance. No usable host, or no instance for it, is refused 421
/// (`clerk-instance-unknown`): never authenticated by some other instance.
pub fn pick_instance<R: RequestHead + ?Sized>(
    rule: &InstanceRule,
    request: &R,
) -> Result<Clerk, crate::protect::Refusal> {
    let refused = crate::protect::Refusal::unknown_instance;
    let mut forwarded = request.values("x-forwarded-host");
    let mut host = request.values("host");
    let line = match (forwarded.next(), forwarded.next()) {
        (Some(line), None) => line,
        (None, None) => match (host.next(), host.next()) {
            (Some(line), None) => line,
            _ => return Err(refused()),
        },
        _ => return Err(refused()),
    };
    let line = std::str::from_utf8(line).map_err(|_| refused())?;
    let authority: http::uri::Authority = line
        .split(',')
        .next()
        .unwrap_or("")
        .trim()
        .parse()
        .map_err(|_| refused())?;
    if authority.as_str().contains('@') {
        return Err(refused());
    }
    rule(&authority.host().to_ascii_lowercase()).ok_or_else(refused)
}

impl Clerk {
    /// A `Clerk` for `config`, accepting session tokens only.
    ///
    /// # Errors
    /// When an HTTP client for the Backend or Frontend API cannot be
    /// built, or the secret key cannot be a header value.
    pub fn new(config: ClerkConfig) -> Result<Self, ConfigError> {
        let cookie_rule = config.publishable_key().map(|pk| {
            Arc::new(CookieRule::new(
                Some(Arc::from(cookie_suffix(pk.as_str()))),
                pk.frontend_api(),
                !pk.is_live(),
            ))
        });
        // One HTTP client and one budget for every Backend API call.
        let client = config.http.clone();
        let gate = &config.gate;
        let api = config
            .secret_key()
            .map(|sk| BackendApi::new(client.clone(), config.api_url(), sk))
            .transpose()?
            .map(|api| api.gated(gate.clone()));
        let m2m_api = config
            .machine_secret_key
            .as_deref()
            .map(|sk| BackendApi::with_bearer(client, config.api_url(), sk))
            .transpose()?
            .map(|api| api.gated(gate.clone()));
        let typed_api = Api::new(api.clone()).with_machine(m2m_api.clone());
        let users = Arc::new(
            UserDirectory::new(
                typed_api.clone(),
                config.clock.clone(),
                config.user_cache_ttl,
            )
            .with_stale_window(config.user_stale_window),
        );
        let machines = Arc::new(MachineVerifier::new(
            api.clone(),
            m2m_api,
            config.clock.clone(),
            config.machine_cache,
        ));
        let machine_id = config.machine_id.as_deref().map(Arc::from);
        let organization_sync = OrganizationSync::new(
            &config.organization_patterns,
            &config.personal_account_patterns,
        )?
        .map(Arc::new);
        let browser = match (
            config.publishable_key(),
            &config.frontend_api_url,
            &cookie_rule,
        ) {
            (Some(pk), Some(fapi), Some(rule)) if config.handshake => {
                let browser = Browser::new(fapi, !pk.is_live(), rule.clone())
                    .relative_proxy(config.proxy_path.clone())
                    .organization_sync(organization_sync.clone());
                Some(Arc::new(match &config.satellite {
                    Some(sign_in) => browser.satellite(sign_in.clone(), config.satellite_auto_sync),
                    None => browser,
                }))
            }
            _ => None,
        };
        let debug_headers = config.debug_headers;
        let proxy_secret = config.secret_key().cloned();
        let frontend_api = config
            .publishable_key()
            .map(|pk| pk.frontend_api().to_owned());
        let trusted_proxies = Arc::from(config.trusted_proxies.as_slice());
        let proxy_path = config.proxy_path.clone();
        let http = config.http.clone();
        let page_calls = PageCalls::new(typed_api.clone());
        Ok(Self {
            inner: Arc::new(Inner {
                api: typed_api,
                debug_headers,
                cookies: true,
                trusted_proxies,
                page_calls,
                browser,
                verifier: Verifier::with_users(config, Some(users.clone()))?,
                cookie_rule,
                machines,
                accepts: Arc::new(AcceptsToken::default()),
                users,
                machine_id,
                organization_sync,
                proxy_secret,
                frontend_api,
                proxy_path,
                http,
            }),
        })
    }

    /// A `Clerk` configured from the environment ([`ClerkConfigBuilder::from_env`](crate::config::ClerkConfigBuilder::from_env)).
    ///
    /// # Errors
    /// See [`ClerkConfigBuilder::from_env`](crate::config::ClerkConfigBuilder::from_env).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::new(crate::config::ClerkConfigBuilder::from_env()?.build()?)
    }

    /// The same `Clerk` (same caches) accepting `accepts` token kinds.
    #[must_use]
    pub fn accepting(&self, accepts: AcceptsToken) -> Self {
        Self {
            inner: Arc::new(Inner {
                accepts: Arc::new(accepts),
                ..(*self.inner).clone()
            }),
        }
    }

    /// The same `Clerk` (same caches) reading the token from the
    /// `Authorization` header only, never from a cookie, and never taking
    /// a request for a page load: for gRPC, where the token travels in the
    /// `authorization` metadata and a cookie would be ambient authority.
    #[must_use]
    pub fn bearer_only(&self) -> Self {
        Self {
            inner: Arc::new(Inner {
                cookies: false,
                ..(*self.inner).clone()
            }),
        }
    }

    /// Whether the layers add [`Auth::debug_headers`](crate::Auth::debug_headers) to responses (the
    /// config's `debug_headers`, default on).
    #[doc(hidden)] // adapters only
    pub fn debug_headers(&self) -> bool {
        self.inner.debug_headers
    }

    /// The cached directory of users and organizations (Clerk's
    /// `currentUser()` lookups), apart from [`Clerk::api`]'s REST resources.
    pub fn directory(&self) -> &Arc<UserDirectory> {
        &self.inner.users
    }

    /// The typed Backend API client (users, organizations, sessions,
    /// billing), on this `Clerk`'s secret key, HTTP client and budget.
    pub fn api(&self) -> &Api {
        &self.inner.api
    }

    /// True when a usable key set is loaded (for health checks).
    pub fn is_ready(&self) -> bool {
        self.inner.verifier.is_ready()
    }

    /// Fetches the key set now, so the first request does not wait for it.
    ///
    /// # Errors
    /// Why the fetch failed (Clerk's reason); requests still work and the
    /// fetch is retried when a token needs it.
    pub async fn prefetch(&self) -> Result<(), VerifyError> {
        self.inner
            .verifier
            .prefetch()
            .await
            .map_err(|e| VerifyError::new(e.reason, e.message))
    }

    /// Authenticates a request: an owned future of its [`Auth`](crate::Auth)
    /// ([`Authenticate`]), ready at once on the hot path. A whole request
    /// (`http::Request`, `http::request::Parts`, an adapter's request) is
    /// also read the way Clerk's own middleware reads page loads: a `GET`
    /// document request with cookies (no `Authorization` header) on a
    /// `Clerk` that knows its Frontend API (a publishable key) may come back
    /// as [`Auth::Page`](crate::Auth::Page): a redirect that refreshes its
    /// session cookies, or a page to serve as
    /// [`PageAnswer::served`](crate::PageAnswer::served) says with the
    /// answer's cookies added to its response (see [`crate::browser`]).
    /// Headers alone (`http::HeaderMap`) are read as an API call. The
    /// layers call this.
    pub fn authenticate<R: RequestHead + ?Sized>(&self, request: &R) -> Authenticate {
        self.start(self.decide(request))
    }

    /// The organization a request path names by the organization-sync
    /// patterns ([`ClerkConfigBuilder::organization_sync`](crate::config::ClerkConfigBuilder::organization_sync));
    /// `None` without them, when none matches, or when the path is
    /// malformed. `path` is the raw request path (no query). The layers
    /// put it in the request extensions.
    pub fn organization_in_url(&self, path: &str) -> Option<OrganizationTarget> {
        self.inner.organization_sync.as_ref()?.target(path)
    }

    /// Clerk's Frontend API proxy for this instance (`frontendApiProxy`,
    /// served at `/__clerk/*`, or at a relative proxy URL's path): see [`FrontendApiProxy`](crate::browser::FrontendApiProxy).
    ///
    /// # Errors
    /// Without a secret key and a publishable key (the proxy names the
    /// instance with the first, picks Clerk's Frontend API by the second).
    pub fn frontend_api_proxy(&self) -> Result<crate::browser::FrontendApiProxy, ConfigError> {
        let (Some(secret), Some(frontend_api)) =
            (&self.inner.proxy_secret, &self.inner.frontend_api)
        else {
            return Err(ConfigError::Unsupported(
                "the Frontend API proxy needs CLERK_SECRET_KEY and CLERK_PUBLISHABLE_KEY",
            ));
        };
        let proxy = crate::browser::FrontendApiProxy::new(
            secret.expose_secret(),
            frontend_api,
            self.inner.trusted_proxies.clone(),
        )?;
        match &self.inner.proxy_path {
            Some(path) => proxy.path(path),
            None => Ok(proxy),
        }
    }

    /// This application as an OAuth protected resource at `resource_url`
    /// (an MCP server's URL, `https://app.example.com/mcp`), its
    /// authorization server the instance's Frontend API: see
    /// [`ProtectedResource`](crate::machine::ProtectedResource).
    ///
    /// # Errors
    /// Without a publishable key, or when `resource_url` is not an
    /// `https://` URL (`http://` on loopback) without query or fragment.
    pub fn protected_resource(
        &self,
        resource_url: &str,
    ) -> Result<crate::machine::ProtectedResource, ConfigError> {
        let fapi = self
            .inner
            .frontend_api
            .as_deref()
            .ok_or(ConfigError::Unsupported(
                "a protected resource needs CLERK_PUBLISHABLE_KEY (its authorization server)",
            ))?;
        let server = if fapi.starts_with("https://") || fapi.starts_with("http://") {
            fapi.to_owned()
        } else {
            format!("https://{fapi}")
        };
        crate::machine::ProtectedResource::new(
            resource_url,
            &server,
            self.inner.http.clone(),
            self.inner.verifier.clock(),
        )
    }

    /// This machine's M2M token for its outgoing calls, minted as
    /// `request` says and renewed before it expires: see
    /// [`MachineCredential`](crate::machine::MachineCredential).
    ///
    /// # Errors
    /// Without a machine secret key (`CLERK_MACHINE_SECRET_KEY`).
    pub fn machine_credential(
        &self,
        request: crate::api::NewM2mToken,
    ) -> Result<crate::machine::MachineCredential, ConfigError> {
        let api = self.inner.api.as_machine().ok_or(ConfigError::Unsupported(
            "a machine credential needs CLERK_MACHINE_SECRET_KEY",
        ))?;
        Ok(crate::machine::MachineCredential::new(
            api,
            request,
            self.inner.verifier.clock(),
        ))
    }

    /// Clerk's Content-Security-Policy for this instance's pages (its
    /// Frontend API host, from the publishable key, in `connect-src`): see
    /// [`ContentSecurityPolicy`](crate::browser::ContentSecurityPolicy).
    pub fn content_security_policy(&self) -> crate::browser::ContentSecurityPolicy {
        crate::browser::ContentSecurityPolicy::new(self.inner.frontend_api.as_deref().unwrap_or(""))
    }

    /// Verifies a session token already taken from a request.
    ///
    /// # Errors
    /// A [`VerifyError`] with Clerk's reason string.
    pub async fn verify(&self, token: &str) -> Result<Arc<Session>, VerifyError> {
        self.inner.verifier.verify(token).await
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use super::*;
    use crate::auth::Auth;
    use crate::machine::TokenType;
    use crate::testing::TestIssuer;

    fn ready(fut: Authenticate) -> Auth {
        let mut fut = fut;
        match Pin::new(&mut fut).poll(&mut Context::from_waker(std::task::Waker::noop())) {
            Poll::Ready(auth) => auth,
            Poll::Pending => panic!("expected a ready authentication"),
        }
    }

    /// With machine tokens accepted, a session token answered from the
    /// cache stays a session, and a JWT machine token is never read as a
    /// cached session: the cache is asked first only for what it can hold.
    #[test]
    fn cached_sessions_and_machine_jwts_keep_their_kinds() {
        let issuer = TestIssuer::new();
        let clerk = Clerk::new(issuer.config().build().unwrap())
            .unwrap()
            .accepting(AcceptsToken::only([
                TokenType::SessionToken,
                TokenType::M2mToken,
            ]));
        let bearer = |t: String| {
            let mut h = http::HeaderMap::new();
            h.insert(
                http::header::AUTHORIZATION,
                http::HeaderValue::from_str(&format!("Bearer {t}")).unwrap(),
            );
            h
        };
        let session = bearer(issuer.token().build());
        for _ in 0..3 {
            assert!(ready(clerk.authenticate(&session)).is_signed_in());
        }
        let machine = bearer(issuer.m2m_token("mch_1", &["read"]).build());
        for _ in 0..3 {
            assert!(matches!(
                ready(clerk.authenticate(&machine)),
                Auth::Machine(_)
            ));
        }
        let sessions_only = Clerk::new(issuer.config().build().unwrap()).unwrap();
        assert!(matches!(
            ready(sessions_only.authenticate(&machine)),
            Auth::SignedOut(_)
        ));
    }

    /// Polled again after it resolved, the future answers signed out: it
    /// never panics and never repeats an identity.
    #[test]
    fn a_finished_authentication_polled_again_is_signed_out() {
        let issuer = TestIssuer::new();
        let clerk = Clerk::new(issuer.config().build().unwrap()).unwrap();
        let mut headers = http::HeaderMap::new();
        let bearer = format!("Bearer {}", issuer.token().build());
        headers.insert(
            http::header::AUTHORIZATION,
            http::HeaderValue::from_str(&bearer).unwrap(),
        );
        let mut fut = clerk.authenticate(&headers);
        let mut cx = Context::from_waker(std::task::Waker::noop());
        match Pin::new(&mut fut).poll(&mut cx) {
            Poll::Ready(auth) => assert!(auth.is_signed_in()),
            Poll::Pending => panic!("a locally verifiable token is ready at once"),
        }
        match Pin::new(&mut fut).poll(&mut cx) {
            Poll::Ready(auth) => assert!(!auth.is_signed_in()),
            Poll::Pending => panic!("polled again, it still answers"),
        }
        assert!(format!("{fut:?}").contains("ready"));
        assert!(
            !format!("{fut:?}").contains("eyJ"),
            "Debug never shows the token"
        );
    }
}
