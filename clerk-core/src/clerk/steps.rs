//! One request's decision: its answer at once, or the one thing it must
//! wait for (a key, a machine token's verification, a refresh or a nonce).

use std::net::IpAddr;
use std::sync::Arc;

use super::Clerk;
use crate::api::budget::Client;
use crate::auth::Auth;
use crate::browser::{Page, PageRequest, Refresh, RefreshMode, is_eligible};
use crate::cookies::has_clerk_cookie;
use crate::error::{Reason, VerifyError};
use crate::machine::{MachineAuth, TokenType, detect, is_opaque_machine_token};
use crate::request::{Extracted, RequestHead, extract_token};
use crate::session::Session;
use crate::session::verify::Cached;

/// What must still be awaited for a token (owned, so it can move into the
/// boxed future).
pub(super) struct PendingAuth {
    pub(super) token: String,
    pub(super) kind: TokenType,
    pub(super) client: Option<Client>,
}

/// A page request to decide again once what it waits for is had (owned,
/// for the boxed future).
pub(super) struct PendingPage {
    /// `GET` or another method (eligibility and refreshes depend on it).
    pub(super) get: bool,
    pub(super) path_and_query: String,
    pub(super) headers: http::HeaderMap,
    pub(super) peer: Option<IpAddr>,
    pub(super) wait: PageWait,
}

/// What a page request waits for.
pub(super) enum PageWait {
    /// The key `kid`.
    Key(Option<String>),
    /// A server-side session refresh.
    Refresh(Box<Refresh>),
    /// A handshake nonce's directives.
    Nonce(String),
}

pub(super) enum AuthStep {
    Ready(Auth),
    Pending(PendingAuth),
    /// Boxed: rare, and the step travels by value on the hot path.
    PendingPage(Box<PendingPage>),
}

impl Clerk {
    /// What a request needs: its answer, or what to wait for. Page loads
    /// first (Clerk's cookie rules for a page load, and for any other
    /// request that carries Clerk's cookies:
    /// `authenticateRequestWithTokenInCookie` runs for every request without
    /// `Authorization`); a request with neither stays
    /// `session-token-missing`.
    pub(super) fn decide<R: RequestHead + ?Sized>(&self, request: &R) -> AuthStep {
        let peer = request.peer();
        if let Some((method, target)) = request.method_and_target() {
            let page = self.inner.browser.is_some()
                && self.inner.cookies
                && self.inner.accepts.allows(TokenType::SessionToken)
                && request.values("authorization").next().is_none()
                && (is_eligible(method, request) || has_clerk_cookie(request.values("cookie")));
            if page
                && let Some(step) =
                    self.page_step(method, target, request, peer, self.refresh_mode(), None)
            {
                return step;
            }
        }
        self.step(request, peer)
    }

    /// Decides without waiting when it can: always for session tokens with
    /// keys at hand; machine tokens and key fetches must wait.
    pub(super) fn step<H: RequestHead + ?Sized>(
        &self,
        headers: &H,
        peer: Option<IpAddr>,
    ) -> AuthStep {
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
    pub(super) fn client<H: RequestHead + ?Sized>(
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

    /// The browser path for an eligible page request; `None` when the
    /// request cannot be read as a page (no host): then as an API request.
    pub(super) fn page_step<H: RequestHead + ?Sized>(
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
        if browser.serves_proxy(&page) {
            return None;
        }
        let now = self.inner.verifier.now();
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
            match browser.decide(&page, now, &self.inner.verifier, refresh, fetched) {
                Page::SignedIn(session) => AuthStep::Ready(Auth::SignedIn(session)),
                Page::SignedOut(reason) => AuthStep::Ready(Auth::SignedOut(reason)),
                Page::Answer(h) => AuthStep::Ready(Auth::Page(Arc::new(h))),
                Page::NeedsKeys(kid) => pending(PageWait::Key(kid)),
                Page::Refresh(refresh) => pending(PageWait::Refresh(refresh)),
                Page::Nonce(nonce) => pending(PageWait::Nonce(nonce)),
            },
        )
    }

    pub(super) fn refresh_mode(&self) -> RefreshMode {
        if self.inner.page_calls.available() {
            RefreshMode::Allowed
        } else {
            RefreshMode::Unavailable
        }
    }

    /// With a machine id configured, an M2M token must name it in its scopes.
    pub(super) fn machine_may_call(&self, m: &MachineAuth) -> bool {
        match &self.inner.machine_id {
            Some(id) if m.token_type == TokenType::M2mToken => m.has_scope(id),
            _ => true,
        }
    }
}

/// The headers the browser path reads, owned (for a decision that waits).
pub(super) fn owned_headers<H: RequestHead + ?Sized>(headers: &H) -> http::HeaderMap {
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

pub(super) fn session_auth(result: Result<Arc<Session>, VerifyError>) -> Auth {
    match result {
        Ok(session) => Auth::SignedIn(session),
        Err(e) => Auth::SignedOut(e.reason()),
    }
}
