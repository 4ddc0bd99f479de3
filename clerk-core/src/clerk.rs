//! [`Clerk`]: the one object an application holds. It reads the token from
//! request headers, verifies it, and answers with an [`Auth`].
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

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::api::Api;
use crate::auth::Auth;
use crate::backend::BackendApi;
use crate::browser::{Browser, Page, PageCalls, PageRequest, Refresh, RefreshMode, is_eligible};
use crate::budget::Client;
use crate::config::ClerkConfig;
use crate::cookies::{CookieRule, cookie_suffix, has_clerk_cookie};
use crate::error::{ConfigError, Reason, VerifyError};
use crate::machine::{
    AcceptsToken, MachineAuth, MachineVerifier, TokenType, detect, is_opaque_machine_token,
};
use crate::request::{Extracted, RequestHeaders, extract_token};
use crate::session::Session;
use crate::session::verify::{Cached, Verifier};
use crate::users::UserDirectory;

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
}

/// The authentication of one request: a future of its [`Auth`], owned (it
/// borrows neither the `Clerk` nor the headers). It is ready at its first
/// poll, with no allocation, when the token is cached or verifiable with
/// the keys at hand; only a key fetch or a Backend API call boxes the work.
/// Its `Debug` never shows the token.
#[must_use = "futures do nothing unless polled"]
pub struct Authenticate {
    state: AuthState,
}

enum AuthState {
    Ready(Option<Auth>),
    Waiting(Pin<Box<dyn Future<Output = Auth> + Send>>),
}

impl Future for Authenticate {
    type Output = Auth;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Auth> {
        match &mut self.state {
            // Polled again after completion: signed out, never a panic.
            AuthState::Ready(auth) => Poll::Ready(
                auth.take()
                    .unwrap_or_else(|| Auth::SignedOut(Reason::SessionTokenMissing)),
            ),
            AuthState::Waiting(fut) => {
                let auth = std::task::ready!(fut.as_mut().poll(cx));
                // The boxed work is done: drop it, so a further poll
                // answers signed out instead of resuming a finished future.
                self.state = AuthState::Ready(None);
                Poll::Ready(auth)
            }
        }
    }
}

impl std::fmt::Debug for Authenticate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticate")
            .field("ready", &matches!(self.state, AuthState::Ready(_)))
            .finish()
    }
}

/// What must still be awaited for a token (owned, so it can move into the
/// boxed future).
struct PendingAuth {
    token: String,
    kind: TokenType,
    client: Option<Client>,
}

/// A page request to decide again once what it waits for is had (owned,
/// for the boxed future).
struct PendingPage {
    /// `GET` or another method (eligibility and refreshes depend on it).
    get: bool,
    path_and_query: String,
    headers: http::HeaderMap,
    peer: Option<IpAddr>,
    wait: PageWait,
}

/// What a page request waits for.
enum PageWait {
    /// The key `kid`.
    Key(Option<String>),
    /// A server-side session refresh.
    Refresh(Box<Refresh>),
    /// A handshake nonce's directives.
    Nonce(String),
}

enum AuthStep {
    Ready(Auth),
    Pending(PendingAuth),
    /// Boxed: rare, and the step travels by value on the hot path.
    PendingPage(Box<PendingPage>),
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
        let typed_api = Api::new(api.clone());
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
        let browser = match (
            config.publishable_key(),
            &config.frontend_api_url,
            &cookie_rule,
        ) {
            (Some(pk), Some(fapi), Some(rule)) if config.handshake => {
                let browser = Browser::new(fapi, !pk.is_live(), rule.clone());
                Some(Arc::new(match &config.satellite {
                    Some(sign_in) => browser.satellite(sign_in.clone()),
                    None => browser,
                }))
            }
            _ => None,
        };
        let debug_headers = config.debug_headers;
        let trusted_proxies = Arc::from(config.trusted_proxies.as_slice());
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
            }),
        })
    }

    /// A `Clerk` configured from the environment ([`ClerkConfig::from_env`]).
    ///
    /// # Errors
    /// See [`ClerkConfig::from_env`].
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::new(ClerkConfig::from_env()?)
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

    /// Whether the layers add [`Auth::debug_headers`] to responses (the
    /// config's `debug_headers`, default on).
    pub fn debug_headers(&self) -> bool {
        self.inner.debug_headers
    }

    /// Cached Backend API lookups of users and organizations.
    pub fn users(&self) -> &Arc<UserDirectory> {
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

    /// Decides without waiting when it can: always for session tokens with
    /// keys at hand; machine tokens and key fetches must wait.
    fn step<H: RequestHeaders + ?Sized>(&self, headers: &H, peer: Option<IpAddr>) -> AuthStep {
        let extracted = extract_token(headers, self.inner.cookie_rule.as_deref(), || {
            self.inner.verifier.now()
        });
        let (token, from_header) = match &extracted {
            Extracted::Header(t) => (*t, true),
            Extracted::Cookie(t) if self.inner.cookies => (t.as_ref(), false),
            Extracted::Cookie(_) | Extracted::Missing => {
                return AuthStep::Ready(Auth::SignedOut(Reason::SessionTokenMissing));
            }
            Extracted::Malformed => {
                return AuthStep::Ready(Auth::SignedOut(Reason::TokenInvalid));
            }
        };
        let mismatch = || AuthStep::Ready(Auth::SignedOut(Reason::TokenTypeMismatch));
        let mut miss = None;
        if from_header && self.inner.accepts.allows_machines() {
            // A cached session token is a session token (the cache holds no
            // machine subject, and its shape was checked when verified):
            // answer it without decoding the token to detect its kind.
            if self.inner.accepts.allows(TokenType::SessionToken) && !is_opaque_machine_token(token)
            {
                match self.inner.verifier.cached(token) {
                    Cached::Hit(result) => return AuthStep::Ready(session_auth(result)),
                    Cached::Miss(key) => miss = Some(key),
                }
            }
            let kind = detect(token);
            if !self.inner.accepts.allows(kind) {
                return mismatch();
            }
            if kind.is_machine() {
                return AuthStep::Pending(PendingAuth {
                    token: token.to_owned(),
                    kind,
                    client: self.client(headers, peer),
                });
            }
        } else if is_opaque_machine_token(token)
            || !self.inner.accepts.allows(TokenType::SessionToken)
        {
            return mismatch();
        }
        let ready = match miss {
            Some(key) => self.inner.verifier.verify_missed(token, key),
            None => self.inner.verifier.verify_ready(token),
        };
        match ready {
            Some(result) => AuthStep::Ready(session_auth(result)),
            None => AuthStep::Pending(PendingAuth {
                token: token.to_owned(),
                kind: TokenType::SessionToken,
                client: None,
            }),
        }
    }

    /// The client a request from `peer` counts as, for the budget's
    /// per-client fairness: resolved only when a Backend API call may be
    /// made, never on the hot path.
    fn client<H: RequestHeaders + ?Sized>(
        &self,
        headers: &H,
        peer: Option<IpAddr>,
    ) -> Option<Client> {
        peer.map(|peer| {
            Client::resolve(
                peer,
                headers.values("x-forwarded-for"),
                &self.inner.trusted_proxies,
            )
        })
    }

    /// Finishes a page request that had to wait: gets what it waited for,
    /// then decides it again.
    async fn complete_page(&self, page: PendingPage) -> Auth {
        let (path, headers, peer) = (&page.path_and_query, &page.headers, page.peer);
        let client = self.client(headers, peer);
        let (mode, fetched) = match page.wait {
            PageWait::Nonce(nonce) => match self.inner.page_calls.nonce(&nonce, client).await {
                Some(directives) => (self.refresh_mode(), Some(directives)),
                // Not asked (the nonce share is spent, or a 429 pause):
                // 503, the nonce cookie kept for a reload, rather than a
                // finish with no cookies that signs the visitor out.
                None => {
                    return Auth::SignedOut(Reason::BackendApiUnavailable);
                }
            },
            PageWait::Refresh(refresh) => match self.refresh(&refresh, path, headers, client).await
            {
                Ok(answer) => return answer,
                Err(reason) => (RefreshMode::Failed(reason), None),
            },
            PageWait::Key(kid) => {
                // By the key store's rules (cool-down, one fetch at a time).
                if let Err(e) = self.inner.verifier.load_key(kid.as_deref()).await {
                    return Auth::SignedOut(e.reason());
                }
                (self.refresh_mode(), None)
            }
        };
        let method = if page.get { "GET" } else { "POST" };
        match self.page_step(method, path, headers, peer, mode, fetched.as_deref()) {
            Some(AuthStep::Ready(auth)) => auth,
            // Still waiting after the wait: refused, never a loop.
            _ => Auth::SignedOut(Reason::JwkFailedToResolve),
        }
    }

    /// Finishes an authentication that had to wait.
    async fn complete(&self, pending: PendingAuth) -> Auth {
        let rejected = |e: VerifyError| Auth::SignedOut(e.reason());
        let machine = match pending.kind {
            TokenType::SessionToken => {
                return session_auth(self.inner.verifier.verify(&pending.token).await);
            }
            kind if is_opaque_machine_token(&pending.token) => {
                self.inner
                    .machines
                    .verify(&pending.token, kind, pending.client)
                    .await
            }
            kind => self
                .inner
                .verifier
                .verify_machine_jwt(&pending.token, kind)
                .await
                .map(Arc::new),
        };
        match machine {
            Ok(m) if !self.machine_may_call(&m) => rejected(VerifyError::new(
                Reason::TokenVerificationFailed,
                "this machine is not in the M2M token's scopes",
            )),
            Ok(m) => Auth::Machine(m),
            Err(e) => rejected(e),
        }
    }

    /// With a machine id configured, an M2M token must name it in its scopes.
    fn machine_may_call(&self, m: &MachineAuth) -> bool {
        match &self.inner.machine_id {
            Some(id) if m.token_type == TokenType::M2mToken => m.has_scope(id),
            _ => true,
        }
    }

    /// Authenticates a request from its headers: an owned future of its
    /// [`Auth`] ([`Authenticate`]), ready at once on the hot path.
    pub fn authenticate<H: RequestHeaders + ?Sized>(&self, headers: &H) -> Authenticate {
        self.start(self.step(headers, None))
    }

    /// The future for a step: ready, or the waiting boxed.
    fn start(&self, step: AuthStep) -> Authenticate {
        let state = match step {
            AuthStep::Ready(auth) => {
                crate::metrics::auth(auth.labels());
                AuthState::Ready(Some(auth))
            }
            AuthStep::Pending(pending) => {
                let clerk = self.clone();
                AuthState::Waiting(Box::pin(async move {
                    let auth = clerk.complete(pending).await;
                    crate::metrics::auth(auth.labels());
                    auth
                }))
            }
            AuthStep::PendingPage(page) => {
                let clerk = self.clone();
                AuthState::Waiting(Box::pin(async move {
                    let auth = clerk.complete_page(*page).await;
                    crate::metrics::auth(auth.labels());
                    auth
                }))
            }
        };
        Authenticate { state }
    }

    /// Authenticates a request as [`Clerk::authenticate`] does, and page
    /// loads the way Clerk's own middleware does: a `GET` document request
    /// with cookies (no `Authorization` header) on a `Clerk` that knows its
    /// Frontend API (a publishable key) may come back as
    /// [`Auth::Redirect`], the redirect that refreshes its session cookies
    /// (see [`crate::browser`]). `path_and_query` is the request target as
    /// received (`/dashboard?tab=1`); `peer` the address the connection
    /// comes from, when the server knows it: the Backend API calls an
    /// anonymous request can cause are shared fairly between clients by
    /// it (behind a proxy configured as trusted, by its `X-Forwarded-For`).
    /// The layers call this.
    pub fn authenticate_request<H: RequestHeaders + ?Sized>(
        &self,
        method: &str,
        path_and_query: &str,
        headers: &H,
        peer: Option<IpAddr>,
    ) -> Authenticate {
        // Clerk's cookie rules for a page load, and for any other request
        // that carries Clerk's cookies (`authenticateRequestWithTokenInCookie`
        // runs for every request without `Authorization`); a request with
        // neither stays `session-token-missing`.
        let page = self.inner.browser.is_some()
            && self.inner.cookies
            && self.inner.accepts.allows(TokenType::SessionToken)
            && headers.values("authorization").next().is_none()
            && (is_eligible(method, headers) || has_clerk_cookie(headers.values("cookie")));
        let step = match page
            .then(|| {
                self.page_step(
                    method,
                    path_and_query,
                    headers,
                    peer,
                    self.refresh_mode(),
                    None,
                )
            })
            .flatten()
        {
            Some(step) => step,
            None => self.step(headers, peer),
        };
        self.start(step)
    }

    /// The browser path for an eligible page request; `None` when the
    /// request cannot be read as a page (no host): then as an API request.
    fn page_step<H: RequestHeaders + ?Sized>(
        &self,
        method: &str,
        path_and_query: &str,
        headers: &H,
        peer: Option<IpAddr>,
        refresh: RefreshMode,
        fetched: Option<&[String]>,
    ) -> Option<AuthStep> {
        let browser = self.inner.browser.as_ref()?;
        let page = PageRequest::read(method, path_and_query, headers)?;
        let now = self.inner.verifier.now();
        let verify = |t: &str| self.inner.verifier.verify_ready(t);
        let directives = |t: &str| self.inner.verifier.handshake_directives(t);
        let pending = |wait| {
            AuthStep::PendingPage(Box::new(PendingPage {
                get: method == "GET",
                path_and_query: path_and_query.to_owned(),
                headers: owned_headers(headers),
                peer,
                wait,
            }))
        };
        Some(
            match browser.decide(&page, now, &verify, &directives, refresh, fetched) {
                Page::SignedIn(session) => AuthStep::Ready(Auth::SignedIn(session)),
                Page::SignedOut(reason) => AuthStep::Ready(Auth::SignedOut(reason)),
                Page::Redirect(h) => AuthStep::Ready(Auth::Redirect(Arc::new(h))),
                Page::NeedsKeys(kid) => pending(PageWait::Key(kid)),
                Page::Refresh(refresh) => pending(PageWait::Refresh(refresh)),
                Page::Nonce(nonce) => pending(PageWait::Nonce(nonce)),
            },
        )
    }

    fn refresh_mode(&self) -> RefreshMode {
        if self.inner.page_calls.available() {
            RefreshMode::Allowed
        } else {
            RefreshMode::Unavailable
        }
    }

    /// Clerk's server-side refresh (`request.ts` `refreshToken`): the new
    /// cookies from the Backend API, their session verified, answered as a
    /// redirect to the same page; or why it failed.
    async fn refresh(
        &self,
        refresh: &Refresh,
        path: &str,
        headers: &http::HeaderMap,
        client: Option<Client>,
    ) -> Result<Auth, Reason> {
        let cookies = self.inner.page_calls.refresh(refresh, client).await?;
        let token =
            Refresh::session_token(&cookies).ok_or(Reason::ExpiredRefreshUnexpectedSdkError)?;
        self.inner
            .verifier
            .verify(token)
            .await
            .map_err(|_| Reason::ExpiredRefreshInvalidSessionToken)?;
        let back = crate::browser::page_url(path, headers)
            .ok_or(Reason::ExpiredRefreshUnexpectedSdkError)?;
        Ok(Auth::Redirect(Arc::new(Refresh::answer(
            &cookies,
            back.as_str(),
        ))))
    }

    /// Verifies a session token already taken from a request.
    ///
    /// # Errors
    /// A [`VerifyError`] with Clerk's reason string.
    pub async fn verify(&self, token: &str) -> Result<Arc<Session>, VerifyError> {
        self.inner.verifier.verify(token).await
    }
}

/// The headers the browser path reads, owned (for a decision that waits).
fn owned_headers<H: RequestHeaders + ?Sized>(headers: &H) -> http::HeaderMap {
    let mut owned = http::HeaderMap::new();
    for name in [
        "host",
        "x-forwarded-host",
        "x-forwarded-for",
        "x-forwarded-proto",
        "cookie",
        "sec-fetch-dest",
        "accept",
        "referer",
    ] {
        for v in headers.values(name) {
            if let Ok(v) = http::HeaderValue::from_bytes(v) {
                owned.append(name, v);
            }
        }
    }
    owned
}

fn session_auth(result: Result<Arc<Session>, VerifyError>) -> Auth {
    match result {
        Ok(session) => Auth::SignedIn(session),
        Err(e) => Auth::SignedOut(e.reason()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
