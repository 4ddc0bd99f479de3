//! Browser sessions the way Clerk's own middleware does them: the request
//! states of a cookie-authenticated page load (signed in, signed out, or a
//! **handshake** with the instance's Frontend API that refreshes the
//! cookies), and the handshake's start and finish.
//!
//! Mirrors `authenticateRequest` in `@clerk/backend`
//! (`packages/backend/src/tokens/request.ts`, `handshake.ts`,
//! `authenticateContext.ts`, `constants.ts`; read at commit `e21ae9a4`,
//! `@clerk/backend` 3.16.10), in Clerk's order and with its reason strings.
//!
//! Every request with no `Authorization` header that is a page load or
//! carries one of Clerk's cookies takes this path, on a `Clerk` that knows
//! its Frontend API (a publishable key or `frontend_api_url`), as Clerk's
//! `authenticateRequestWithTokenInCookie`. Only a page load (`GET` with
//! `Sec-Fetch-Dest: document` or `iframe`, or, without `Sec-Fetch-Dest`, an
//! `Accept` that starts with `text/html`: `isRequestEligibleForHandshake`)
//! is answered with a handshake; any other request is signed out with the
//! handshake's reason, as Clerk's `handleMaybeHandshakeStatus`. A request
//! with no Clerk cookie and no header is `session-token-missing` (Clerk:
//! `session-token-and-uat-missing`, or `dev-browser-missing` on
//! development instances).
//!
//! ```
//! use clerk_core::testing::{TestIssuer, publishable_key_for};
//! use clerk_core::{Auth, Clerk};
//! use http::{HeaderMap, HeaderValue};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let issuer = TestIssuer::new();
//! let pk = publishable_key_for("clerk.test.invalid", true);
//! let clerk = Clerk::new(issuer.config().publishable_key(pk).build()?)?;
//! // A page load whose session cookie expired a while ago.
//! let expired = issuer.token().issued_at(1_700_000_000).build();
//! let mut headers = HeaderMap::new();
//! headers.insert("host", HeaderValue::from_static("app.example.com"));
//! headers.insert("sec-fetch-dest", HeaderValue::from_static("document"));
//! headers.insert("cookie", format!("__client_uat=1; __session={expired}").parse()?);
//! let Auth::Redirect(handshake) = clerk.authenticate_request("GET", "/dashboard", &headers, None).await
//! else { panic!("expected a handshake") };
//! let response = handshake.to_response::<String>();
//! assert_eq!(response.status(), 307);
//! assert!(response.headers()["location"]
//!     .to_str()?
//!     .starts_with("https://clerk.test.invalid/v1/client/handshake?redirect_url="));
//! // The same cookies on a fetch (no Sec-Fetch-Dest: document): signed
//! // out with Clerk's reason, no handshake.
//! headers.insert("sec-fetch-dest", HeaderValue::from_static("empty"));
//! let auth = clerk.authenticate_request("GET", "/api/me", &headers, None).await;
//! assert_eq!(
//!     auth.debug_headers().unwrap()[1],
//!     ("x-clerk-auth-reason", "session-token-expired-refresh-non-eligible-no-refresh-cookie")
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! Deliberately stricter or different from Clerk's SDK:
//! * a handshake token in the query is taken on development instances
//!   only (production reads the `__clerk_handshake` cookie its Frontend
//!   API sets), so a link carrying someone's handshake signs no one in;
//! * a handshake token that does not verify is logged and the request's
//!   own cookies decide (Clerk's production behaviour; on development
//!   instances Clerk answers 500);
//! * a handshake that came by cookie is cleared on the way back; the
//!   finish's `PageRedirect::reason` is `handshake-complete` when it signed
//!   in (Clerk has no reason for signed in);
//! * the redirect loop ends at 3 or more (Clerk: exactly 3);
//! * a development primary answers `__clerk_redirect_url` only with an
//!   `http(s)` URL (Clerk: any URL); like Clerk's, to any host, so it is an
//!   open redirect on development instances, carrying the dev-browser
//!   token (never a session);
//! * two `Host` or `X-Forwarded-Host` lines, a host with user info or an
//!   `X-Forwarded-Proto` other than `http`/`https` make the request an API
//!   request (no page handling, no `redirect_url`);
//! * a handshake token or nonce is resolved on page loads only (Clerk: on
//!   any request); an expired session refreshed on a `GET` that is not a
//!   page load is answered, like a page, with a redirect to the same URL
//!   carrying the new cookies (Clerk: signed in, the cookies on the
//!   response);
//! * no `x-clerk-auth-message`; no 24-hour clock-skew retry on a
//!   development finish.
//!
//! Cookies are read as Clerk reads them, on this path and every other: the
//! `cookie` package's parser (quotes kept, values percent-decoded, the
//! first of a name wins), `usesSuffixedCookies` for which session cookie
//! counts, `parseInt(…) || 0` for `__client_uat`.
//!
//! An expired page session with a `__refresh_<suffix>` cookie is refreshed
//! server-side as Clerk does (`POST /v1/sessions/{sid}/refresh` with the
//! secret key), and answered with a redirect to the same page carrying the
//! new cookies (Clerk adds them to the page's own response); a failed
//! refresh goes on to the handshake with Clerk's
//! `session-token-expired-refresh-*` reason (`-missing-api-client` without
//! a secret key). The request's headers are not forwarded in the refresh
//! call (`request_headers` is empty).
//!
//! A handshake nonce (`__clerk_handshake_nonce`) is resolved through the
//! Backend API (`GET /v1/clients/handshake_payload`), before a handshake
//! token, as Clerk; an unknown nonce gives no cookies (signed out).
//! `format=nonce` is not sent, so the Frontend API answers with a token.
//!
//! Not done (yet): the production form of the finish (cookies added to the
//! page's own response): every finish redirects to the clean URL, as Clerk
//! does on development instances.
//! Organization sync and `satelliteAutoSync` are not done either.

use std::sync::Arc;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;

use crate::auth::PageRedirect;
use crate::cookies::{
    CLIENT_UAT, CookieRule, Cookies, DEV_BROWSER, HANDSHAKE, HANDSHAKE_NONCE, LooseJwt,
    REDIRECT_COUNT, REFRESH, SESSION, client_uat,
};
use crate::error::{Reason, VerifyError};
use crate::request::RequestHeaders;
use crate::session::Session;

/// Query names (`constants.ts` `QueryParameters`); the cookie names are in
/// [`crate::cookies`].
const LEGACY_DEV_BROWSER: &str = "__dev_session";
const HANDSHAKE_HELP: &str = "__clerk_help";
/// The query parameters of a handshake in progress, never kept in a
/// `redirect_url`.
pub(crate) const HANDSHAKE_PARAMS: [&str; 4] =
    [HANDSHAKE, HANDSHAKE_HELP, DEV_BROWSER, HANDSHAKE_NONCE];
const SYNCED: &str = "__clerk_synced";
const REDIRECT_URL: &str = "__clerk_redirect_url";
/// The Backend API version Clerk's SDK names in the handshake URL.
const API_VERSION: &str = "2026-05-12";
/// A handshake redirect loop ends signed out at this count (`handshake.ts`
/// `checkAndTrackRedirectLoop`: Clerk stops at exactly 3; here at 3 or
/// more, so a forged higher count cannot restart the loop).
const MAX_REDIRECTS: u32 = 3;

/// Verifies a session token without waiting (`None`: keys must load).
pub(crate) type VerifyNow<'a> = &'a dyn Fn(&str) -> Option<Result<Arc<Session>, VerifyError>>;
/// Verifies a handshake token without waiting, giving its directives.
pub(crate) type DirectivesNow<'a> = &'a dyn Fn(&str) -> Option<Result<Vec<String>, VerifyError>>;

/// What the browser path decided.
pub(crate) enum Page {
    SignedIn(Arc<Session>),
    SignedOut(Reason),
    Redirect(PageRedirect),
    /// The key `kid` must be fetched before this can be decided.
    NeedsKeys(Option<String>),
    /// An expired session with a refresh cookie: refresh it through the
    /// Backend API first.
    Refresh(Box<Refresh>),
    /// Back from a handshake with a nonce: fetch its cookie directives
    /// from the Backend API (`/v1/clients/handshake_payload`) first.
    Nonce(String),
}

/// Whether `decide` may ask for a server-side refresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RefreshMode {
    /// No Backend API (no secret key).
    Unavailable,
    /// Ask for one.
    Allowed,
    /// One was tried and failed for this reason.
    Failed(Reason),
}

/// A server-side refresh to make (`POST /v1/sessions/{sid}/refresh`,
/// `request.ts` `refreshToken`). Its `Debug` shows the session id only:
/// the body carries the expired token and the refresh token.
pub(crate) struct Refresh {
    /// The expired session's id (checked as Clerk's id shape).
    pub(crate) sid: String,
    /// `/sessions/{sid}/refresh[?suffixed_cookies=true]`.
    pub(crate) path: String,
    /// `{format, expired_token, refresh_token, request_origin,
    /// request_headers}` (no request headers are forwarded).
    pub(crate) body: Value,
}

impl std::fmt::Debug for Refresh {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Refresh")
            .field("sid", &self.sid)
            .finish_non_exhaustive()
    }
}

impl Refresh {
    /// The answer to a refreshed page: its cookies, and back to the same
    /// URL (Clerk adds them to the page's own response instead).
    pub(crate) fn answer(cookies: &[String], back: &str) -> PageRedirect {
        let mut headers = HeaderMap::new();
        for c in cookies {
            insert(&mut headers, header::SET_COOKIE, c);
        }
        insert(&mut headers, header::LOCATION, back);
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        PageRedirect::new(
            "session-token-refreshed",
            Reason::SessionTokenMissing,
            headers,
        )
    }

    /// The session token among refreshed cookies (the last `__session*`).
    pub(crate) fn session_token(cookies: &[String]) -> Option<&str> {
        cookies
            .iter()
            .filter_map(|d| d.split(';').next()?.split_once('='))
            .rfind(|(n, v)| n.starts_with(SESSION) && !v.is_empty())
            .map(|(_, v)| v)
    }
}

/// A `Clerk`'s browser settings, known when it is built.
#[derive(Debug)]
pub(crate) struct Browser {
    /// The Frontend API base URL (or proxy URL), no trailing slash.
    frontend_api: String,
    development: bool,
    /// Which of the plain and suffixed cookies count (shared with the
    /// plain extraction of `Clerk`).
    rule: Arc<CookieRule>,
    /// This app is a satellite domain of the instance.
    satellite: bool,
    /// The primary's sign-in URL (development satellites sync through it).
    sign_in_url: Option<String>,
}

impl Browser {
    /// As a satellite domain: production satellites hand shake with
    /// `frontend_api` (`clerk.<domain>` or the proxy), development ones
    /// sync through the primary's `sign_in_url`.
    pub(crate) fn satellite(mut self, sign_in_url: Option<String>) -> Self {
        self.satellite = true;
        self.sign_in_url = sign_in_url;
        self
    }

    pub(crate) fn new(frontend_api: &str, development: bool, rule: Arc<CookieRule>) -> Self {
        let base = if frontend_api.starts_with("http") {
            frontend_api.to_owned()
        } else {
            format!("https://{frontend_api}")
        };
        Self {
            frontend_api: base.trim_end_matches('/').to_owned(),
            development,
            rule,
            satellite: false,
            sign_in_url: None,
        }
    }
}

/// The request as the browser path reads it.
pub(crate) struct PageRequest<'a> {
    url: url::Url,
    cookies: Cookies<'a>,
    /// Clerk would answer with a handshake ([`is_eligible`]); when not
    /// (an API request with cookies, a `POST`), each handshake Clerk's
    /// rules reach is a signed-out answer with its reason, as Clerk's
    /// `handleMaybeHandshakeStatus`.
    eligible: bool,
    /// The method is `GET` (refreshes and syncs are for `GET` only).
    get: bool,
    /// `Sec-Fetch-Dest` is exactly `document` (not an iframe, not absent).
    document: bool,
    /// The `Referer`, when it parses.
    referer: Option<url::Url>,
}

/// True when Clerk would send this request through a handshake
/// (`isRequestEligibleForHandshake`, `handshake.ts`).
pub(crate) fn is_eligible<H: RequestHeaders + ?Sized>(method: &str, headers: &H) -> bool {
    if method != "GET" {
        return false;
    }
    match first(headers, "sec-fetch-dest") {
        Some("document" | "iframe") => true,
        Some(_) => false,
        None => first(headers, "accept").is_some_and(|a| a.starts_with("text/html")),
    }
}

fn first<'a, H: RequestHeaders + ?Sized>(headers: &'a H, name: &'static str) -> Option<&'a str> {
    headers
        .values(name)
        .next()
        .and_then(|v| std::str::from_utf8(v).ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// The absolute URL of a request (Clerk's `clerkUrl`; see
/// [`PageRequest::read`]), when it can be built.
pub(crate) fn page_url<H: RequestHeaders + ?Sized>(
    path_and_query: &str,
    headers: &H,
) -> Option<url::Url> {
    // Two `Host` (or `X-Forwarded-Host`) lines: no URL is trusted.
    if headers.values("host").nth(1).is_some()
        || headers.values("x-forwarded-host").nth(1).is_some()
    {
        return None;
    }
    let host = first(headers, "x-forwarded-host")
        .or_else(|| first(headers, "host"))?
        .split(',')
        .next()?
        .trim();
    let authority: http::uri::Authority = host.parse().ok()?;
    if authority.as_str().contains('@') {
        return None;
    }
    let proto = match first(headers, "x-forwarded-proto").and_then(|p| p.split(',').next()) {
        Some(p) if p.trim() == "http" => "http",
        Some(p) if p.trim() == "https" => "https",
        Some(_) => return None,
        None if matches!(authority.host(), "localhost" | "127.0.0.1" | "[::1]") => "http",
        None => "https",
    };
    if !path_and_query.starts_with('/') || path_and_query.starts_with("//") {
        return None;
    }
    url::Url::parse(&format!("{proto}://{authority}{path_and_query}")).ok()
}

impl<'a> PageRequest<'a> {
    /// The page's absolute URL (Clerk's `clerkUrl`: `X-Forwarded-Host` /
    /// `Host`, `X-Forwarded-Proto`, else `https`, or `http` for a loopback
    /// host) and its cookies (as Clerk parses them: [`Cookies`]); `None`
    /// when the URL cannot be built (no or a malformed host) or a cookie
    /// header cannot be read.
    pub(crate) fn read<H: RequestHeaders + ?Sized>(
        method: &str,
        path_and_query: &str,
        headers: &'a H,
    ) -> Option<Self> {
        let url = page_url(path_and_query, headers)?;
        let cookies = Cookies::read(headers.values("cookie"))?;
        let document = first(headers, "sec-fetch-dest") == Some("document");
        let referer = first(headers, "referer").and_then(|r| url::Url::parse(r).ok());
        Some(Self {
            url,
            cookies,
            eligible: is_eligible(method, headers),
            get: method == "GET",
            document,
            referer,
        })
    }

    /// The first cookie `name` (Clerk's `cookie` parser keeps the first).
    fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies.get(name)
    }

    fn query(&self, name: &str) -> Option<String> {
        self.url
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
            .filter(|v| !v.is_empty())
    }

    fn has_query(&self, name: &str) -> bool {
        self.url.query_pairs().any(|(k, _)| k == name)
    }
}

/// The `kid` of a token's header, for the key to wait for.
fn kid_of(token: &str) -> Option<String> {
    crate::token::parse(token).ok().and_then(|p| p.header.kid)
}

/// Not a machine's token (`sub` `mch_…`), not an OAuth access token
/// (`typ` `at+jwt`), and no category but a session's (`isMachineJwt`,
/// `hasNonSessionJwtCategory`).
fn session_shaped(jwt: &LooseJwt) -> bool {
    use crate::machine::MACHINE_SUBJECT_PREFIX;
    use crate::token::{CATEGORY_IGNORE, CATEGORY_SESSION};
    if LooseJwt::str_claim(jwt.claims.sub.as_ref())
        .is_some_and(|s| s.starts_with(MACHINE_SUBJECT_PREFIX))
    {
        return false;
    }
    !matches!(jwt.typ.as_deref(), Some("at+jwt" | "application/at+jwt"))
        && jwt
            .cat
            .as_deref()
            .is_none_or(|c| c == CATEGORY_SESSION || c == CATEGORY_IGNORE)
}

impl Browser {
    /// Decides a page request (`authenticateRequestWithTokenInCookie`).
    /// `verify` verifies a session token without waiting (`None`: a key
    /// must be fetched first); `handshake_directives` verifies a handshake
    /// token the same way and returns its cookie directives.
    pub(crate) fn decide(
        &self,
        req: &PageRequest<'_>,
        now: i64,
        verify: VerifyNow<'_>,
        handshake_directives: DirectivesNow<'_>,
        refresh: RefreshMode,
        fetched: Option<&[String]>,
    ) -> Page {
        let (suffix, plain) = self.rule.choose(&req.cookies, now);
        let suffixed = suffix.is_some();
        let pick = |name: &str| CookieRule::pick(&req.cookies, suffix, name);
        let session_token = pick(SESSION);
        let uat = client_uat(pick(CLIENT_UAT));
        let dev_browser = req
            .query(DEV_BROWSER)
            .or_else(|| pick(DEV_BROWSER).map(str::to_owned));
        let loops = req
            .cookie(REDIRECT_COUNT)
            .and_then(|c| c.trim().parse::<u32>().ok())
            .unwrap_or(0);

        // A. Back from the Frontend API with a handshake token: in the
        // query only on development instances (production's Frontend API
        // sets a cookie; a link carrying someone's handshake token must not
        // sign a visitor in as them).
        let carried = if self.development {
            req.query(HANDSHAKE)
        } else {
            None
        };
        // A. (and the nonce, first, as Clerk) unless the redirect guard says
        // this has gone round too often: then the cookies decide.
        // Only a page load finishes a handshake (a deliberate difference:
        // Clerk resolves a handshake cookie on any request; a fetch racing
        // the page's redirect is decided from its cookies instead, and
        // spends no nonce call).
        let finishing = loops < MAX_REDIRECTS && req.eligible;
        // The nonce first, as Clerk: its directives come from the Backend
        // API (an empty list when it cannot say, as Clerk's catch).
        let nonce = if self.development {
            req.query(HANDSHAKE_NONCE)
        } else {
            None
        };
        if let Some(nonce) = nonce
            .or_else(|| req.cookie(HANDSHAKE_NONCE).map(str::to_owned))
            .filter(|_| finishing)
        {
            match fetched {
                Some(directives) => return self.finish(req, directives, verify, loops),
                // Clerk's nonce is opaque with no documented length; 256
                // bytes bounds what a forged one can make us remember.
                None if refresh != RefreshMode::Unavailable && nonce.len() <= 256 => {
                    return Page::Nonce(nonce);
                }
                None => return self.finish(req, &[], verify, loops),
            }
        }
        if let Some(token) = carried
            .or_else(|| req.cookie(HANDSHAKE).map(str::to_owned))
            .filter(|_| finishing)
        {
            match handshake_directives(&token) {
                None => return Page::NeedsKeys(kid_of(&token)),
                Some(Ok(directives)) => return self.finish(req, &directives, verify, loops),
                // As Clerk in production: logged, and the request's own
                // cookies decide (a stray or forged handshake never signs
                // anyone out, nor in).
                Some(Err(e)) => tracing::debug!(
                    reason = e.reason().as_str(),
                    "handshake token refused; deciding from the cookies"
                ),
            }
        }
        let redirect = |reason: Reason, elsewhere: Option<String>| -> Page {
            // Not a page load: Clerk's `handleMaybeHandshakeStatus` answers
            // signed out with the handshake's reason.
            if !req.eligible {
                return Page::SignedOut(reason);
            }
            if loops >= MAX_REDIRECTS {
                tracing::warn!(
                    reason = reason.as_str(),
                    "Clerk: refreshing the session token resulted in an infinite redirect loop; \
                     check that the instance keys match"
                );
                return Page::SignedOut(reason);
            }
            Page::Redirect(self.start(
                req,
                reason,
                suffixed,
                session_token,
                dev_browser.as_deref(),
                loops,
                elsewhere,
            ))
        };
        let handshake = |reason: Reason| redirect(reason, None);
        // B–D. A satellite domain syncs a document navigation with the
        // primary until `__clerk_synced=true` says it did.
        let synced = req.query(SYNCED);
        let needs_sync = synced.as_deref() == Some("false");
        let has_cookies = session_token.is_some() || uat != 0.0;
        if self.satellite && req.get && req.document && synced.as_deref() != Some("true") {
            if !has_cookies && !needs_sync {
                return Page::SignedOut(Reason::SessionTokenAndUatMissing);
            }
            if !has_cookies || needs_sync {
                if !self.development {
                    return handshake(Reason::SatelliteNeedsSyncing);
                }
                let to = self
                    .sign_in_url
                    .as_deref()
                    .and_then(|u| url::Url::parse(u).ok());
                if let Some(mut to) = to {
                    to.query_pairs_mut()
                        .append_pair(REDIRECT_URL, req.url.as_str());
                    return redirect(Reason::SatelliteNeedsSyncing, Some(to.into()));
                }
            }
        }
        // E. A development primary sends a syncing satellite back, with
        // its dev browser and `__clerk_synced=true`.
        if self.development
            && !self.satellite
            && let Some(mut back) = req
                .query(REDIRECT_URL)
                .and_then(|u| url::Url::parse(&u).ok())
                .filter(|u| matches!(u.scheme(), "http" | "https"))
        {
            if let Some(db) = &dev_browser {
                back.query_pairs_mut().append_pair(DEV_BROWSER, db);
            }
            remove_query(&mut back, &[SYNCED]);
            back.query_pairs_mut().append_pair(SYNCED, "true");
            return redirect(Reason::PrimaryRespondsToSyncing, Some(back.into()));
        }
        // F, G. Development instances need the dev browser.
        if self.development && req.has_query(DEV_BROWSER) {
            return handshake(Reason::DevBrowserSync);
        }
        if self.development && dev_browser.is_none() {
            return handshake(Reason::DevBrowserMissing);
        }
        // H, I, J.
        let token = match (uat != 0.0, session_token) {
            (false, None) => {
                return Page::SignedOut(Reason::SessionTokenAndUatMissing);
            }
            (false, Some(_)) => return handshake(Reason::SessionTokenButNoClientUat),
            (true, None) => return handshake(Reason::ClientUatButNoSessionToken),
            (true, Some(t)) => t,
        };
        // K. Undecodable (`decodeJwt`); the plain cookie was decoded by
        // the cookie rule already.
        let decoded = match (suffix, plain) {
            (None, Some(plain)) => Some(plain),
            _ => LooseJwt::decode(token),
        };
        let Some(jwt) = decoded else {
            return Page::SignedOut(Reason::TokenInvalid);
        };
        // L. A machine's or an OAuth token in the session cookie.
        if !session_shaped(&jwt) {
            return Page::SignedOut(Reason::TokenTypeMismatch);
        }
        // M. Issued before the client last changed (strict, seconds).
        if jwt.iat().is_some_and(|iat| iat < uat) {
            return handshake(Reason::SessionTokenIatBeforeClientUat);
        }
        // N. Verify.
        match verify(token) {
            None => Page::NeedsKeys(kid_of(token)),
            // A document navigation from another site, not from Clerk's
            // own pages, syncs once through a handshake.
            Some(Ok(_))
                if req.get && req.document && loops == 0 && self.cross_origin_referrer(req) =>
            {
                handshake(Reason::PrimaryDomainCrossOriginSync)
            }
            Some(Ok(session)) => Page::SignedIn(session),
            Some(Err(e)) => match e.reason() {
                // `isRequestEligibleForRefresh` then the reasons in
                // `handleSessionTokenError`'s order: not a GET first.
                Reason::TokenExpired if !req.get => {
                    handshake(Reason::ExpiredRefreshNonEligibleNonGet)
                }
                Reason::TokenExpired => match (self.refresh_cookie(req), refresh) {
                    (None, _) => handshake(Reason::ExpiredRefreshNonEligibleNoRefreshCookie),
                    (Some(_), RefreshMode::Unavailable) => {
                        handshake(Reason::ExpiredRefreshMissingApiClient)
                    }
                    (Some(_), RefreshMode::Failed(reason)) => handshake(reason),
                    (Some(refresh_token), RefreshMode::Allowed) => {
                        // The session id goes into a path: ids only.
                        let sid = LooseJwt::str_claim(jwt.claims.sid.as_ref())
                            .filter(|s| crate::api::id("session id", "sess_", s).is_ok());
                        match sid {
                            None => handshake(Reason::ExpiredRefreshMissingSidClaim),
                            Some(sid) => Page::Refresh(Box::new(Refresh {
                                sid: sid.to_owned(),
                                path: format!(
                                    "/sessions/{sid}/refresh{}",
                                    if suffixed {
                                        "?suffixed_cookies=true"
                                    } else {
                                        ""
                                    }
                                ),
                                body: serde_json::json!({
                                    "format": "cookie",
                                    "expired_token": token,
                                    "refresh_token": refresh_token,
                                    "request_origin": req.url.origin().ascii_serialization(),
                                    "request_headers": {},
                                }),
                            })),
                        }
                    }
                },
                Reason::TokenNotActiveYet => handshake(Reason::SessionTokenNbf),
                Reason::TokenIatInTheFuture => handshake(Reason::SessionTokenIatInTheFuture),
                other => Page::SignedOut(other),
            },
        }
    }

    /// `isCrossOriginReferrer() && !isKnownClerkReferrer()`
    /// (`authenticateContext.ts`): the `Referer` is another origin, and
    /// not the Frontend API or the instance's Account Portal.
    fn cross_origin_referrer(&self, req: &PageRequest<'_>) -> bool {
        let Some(referer) = &req.referer else {
            return false;
        };
        if referer.origin() == req.url.origin() {
            return false;
        }
        let host = referer.host_str().unwrap_or("");
        let fapi_host = url::Url::parse(&self.frontend_api)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_default();
        if host == fapi_host {
            return false;
        }
        if self.development
            && host.ends_with(".accounts.dev")
            && !host.ends_with(".clerk.accounts.dev")
        {
            return false;
        }
        // `buildAccountsBaseUrl`: `clerk.x` → `accounts.x`.
        let accounts = fapi_host
            .replacen("clerk.accounts.", "accounts.", 1)
            .replacen("clerk.", "accounts.", 1);
        !(referer.scheme() == "https" && host == accounts)
    }

    /// `__refresh_<suffix>` (only ever read suffixed).
    fn refresh_cookie<'r>(&self, req: &'r PageRequest<'_>) -> Option<&'r str> {
        req.cookies.suffixed(REFRESH, self.rule.suffix())
    }

    /// The redirect to the Frontend API's handshake
    /// (`buildRedirectToHandshake`), with the loop counter.
    #[allow(clippy::too_many_arguments)]
    fn start(
        &self,
        req: &PageRequest<'_>,
        reason: Reason,
        suffixed: bool,
        session_token: Option<&str>,
        dev_browser: Option<&str>,
        loops: u32,
        elsewhere: Option<String>,
    ) -> PageRedirect {
        let mut back = req.url.clone();
        remove_query(&mut back, &[DEV_BROWSER, LEGACY_DEV_BROWSER]);
        let mut location = format!("{}/v1/client/handshake?", self.frontend_api);
        if let Some(to) = elsewhere {
            // A satellite sync redirect: its own Location, the same guard.
            location = to;
        } else {
            let start = location.len();
            let mut q = url::form_urlencoded::Serializer::for_suffix(&mut location, start);
            q.append_pair("redirect_url", back.as_str());
            q.append_pair("__clerk_api_version", API_VERSION);
            q.append_pair("suffixed_cookies", if suffixed { "true" } else { "false" });
            q.append_pair("__clerk_hs_reason", reason.as_str());
            if let Some(token) = session_token {
                q.append_pair(SESSION, token);
            }
            if self.development
                && let Some(db) = dev_browser
            {
                q.append_pair(DEV_BROWSER, db);
            }
            q.finish();
        }
        let mut headers = HeaderMap::new();
        insert(&mut headers, header::LOCATION, &location);
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        insert(
            &mut headers,
            header::SET_COOKIE,
            &format!(
                "{REDIRECT_COUNT}={}; SameSite=Lax; HttpOnly; Max-Age=2",
                loops + 1
            ),
        );
        debug_headers(&mut headers, "handshake", reason.as_str());
        PageRedirect::new(reason.as_str(), reason, headers)
    }

    /// Back from the handshake: set its cookies and redirect to the page
    /// without the handshake parameters (`resolveHandshake`, development
    /// form).
    fn finish(
        &self,
        req: &PageRequest<'_>,
        directives: &[String],
        verify: VerifyNow<'_>,
        loops: u32,
    ) -> Page {
        let mut headers = HeaderMap::new();
        // A handshake carried by cookie may outlive its clearing (set for a
        // parent domain): its redirect counts, so such a loop ends at the
        // guard's limit. One in the query leaves with the clean URL.
        if req.cookie(HANDSHAKE).is_some() || req.cookie(HANDSHAKE_NONCE).is_some() {
            insert(
                &mut headers,
                header::SET_COOKIE,
                &format!(
                    "{REDIRECT_COUNT}={}; SameSite=Lax; HttpOnly; Max-Age=2",
                    loops + 1
                ),
            );
        }
        let mut session_token = None;
        for d in directives {
            let Ok(value) = HeaderValue::from_str(d) else {
                continue;
            };
            headers.append(header::SET_COOKIE, value);
            let first = d.split(';').next().unwrap_or("");
            let mut kv = first.split('=');
            if kv.next().is_some_and(|n| n.starts_with(SESSION)) {
                session_token = kv.next().filter(|v| !v.is_empty());
            }
        }
        // A handshake carried by cookie is used up here.
        for name in [HANDSHAKE, HANDSHAKE_NONCE] {
            if req.cookie(name).is_some() {
                insert(
                    &mut headers,
                    header::SET_COOKIE,
                    &format!("{name}=; Path=/; Max-Age=0"),
                );
            }
        }
        let mut clean = req.url.clone();
        remove_query(
            &mut clean,
            &[HANDSHAKE, HANDSHAKE_HELP, DEV_BROWSER, HANDSHAKE_NONCE],
        );
        insert(&mut headers, header::LOCATION, clean.as_str());
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(
            HeaderName::from_static("access-control-allow-origin"),
            HeaderValue::from_static("null"),
        );
        headers.insert(
            HeaderName::from_static("access-control-allow-credentials"),
            HeaderValue::from_static("true"),
        );
        let reason = match session_token.map(|t| (t, verify(t))) {
            Some((t, None)) => return Page::NeedsKeys(kid_of(t)),
            Some((_, Some(Ok(_)))) => "handshake-complete",
            Some((_, Some(Err(e)))) => e.reason().as_str(),
            None => "session-token-missing",
        };
        if reason != "handshake-complete" {
            debug_headers(&mut headers, "signed-out", reason);
        }
        Page::Redirect(PageRedirect::new(
            reason,
            Reason::SessionTokenMissing,
            headers,
        ))
    }
}

fn insert(headers: &mut HeaderMap, name: HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        headers.append(name, v);
    }
}

/// `x-clerk-auth-status` and `x-clerk-auth-reason` (`authStatus.ts`).
pub(crate) fn debug_headers(headers: &mut HeaderMap, status: &'static str, reason: &'static str) {
    headers.insert(
        HeaderName::from_static("x-clerk-auth-status"),
        HeaderValue::from_static(status),
    );
    headers.insert(
        HeaderName::from_static("x-clerk-auth-reason"),
        HeaderValue::from_static(reason),
    );
}

/// Removes the query parameters `names` (WHATWG `searchParams.delete`,
/// which re-serializes the rest).
pub(crate) fn remove_query(url: &mut url::Url, names: &[&str]) {
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| !names.contains(&k.as_ref()))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if kept.is_empty() {
        url.set_query(None);
    } else {
        url.query_pairs_mut().clear().extend_pairs(kept);
    }
}

#[cfg(test)]
mod tests {
    //! The request-state table, with Clerk's cookie, query and reason
    //! names, through `Clerk::authenticate_request`, and its hostile rows.
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll, Waker};

    use http::HeaderMap;
    use serde_json::json;

    use super::*;
    use crate::Clerk;
    use crate::auth::Auth;
    use crate::clock::{Clock, SystemClock};
    use crate::testing::{TestIssuer, publishable_key_for};

    const HOST: &str = "clerk.test.invalid";

    fn clerk(issuer: &TestIssuer, live: bool) -> Clerk {
        Clerk::new(
            issuer
                .config()
                .publishable_key(publishable_key_for(HOST, live))
                .build()
                .unwrap(),
        )
        .unwrap()
    }

    fn page(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("host", HeaderValue::from_static("app.example.com"));
        h.insert("sec-fetch-dest", HeaderValue::from_static("document"));
        for (k, v) in pairs {
            h.insert(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    fn run(clerk: &Clerk, method: &str, target: &str, h: &HeaderMap) -> Auth {
        let mut fut = clerk.authenticate_request(method, target, h, None);
        match Pin::new(&mut fut).poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(auth) => auth,
            Poll::Pending => panic!("local keys never wait"),
        }
    }

    fn handshake(auth: &Auth) -> &PageRedirect {
        match auth {
            Auth::Redirect(h) => h,
            other => panic!("expected a handshake, got {other:?}"),
        }
    }

    fn signed_out(auth: &Auth) -> &'static str {
        match auth {
            Auth::SignedOut(r) => r.as_str(),
            other => panic!("expected signed out, got {other:?}"),
        }
    }

    fn now() -> i64 {
        SystemClock.now_unix()
    }

    #[test]
    fn the_state_table_of_a_production_instance() {
        let issuer = TestIssuer::new();
        let c = clerk(&issuer, true);
        let valid = issuer.token().build();
        let uat = format!("__client_uat={}", now() - 3600);
        let cases: Vec<(String, &str)> = vec![
            (String::new(), "session-token-and-uat-missing"),
            ("__client_uat=0".into(), "session-token-and-uat-missing"),
            (
                format!("__client_uat=0; __session={valid}"),
                "session-token-but-no-client-uat",
            ),
            (
                format!("__session={valid}"),
                "session-token-but-no-client-uat",
            ),
            (
                format!("__client_uat=abc; __session={valid}"),
                "session-token-but-no-client-uat",
            ),
            (uat.clone(), "client-uat-but-no-session-token"),
            (
                format!("{uat}; __session={}", issuer.token().expired().build()),
                "session-token-expired-refresh-non-eligible-no-refresh-cookie",
            ),
            (
                format!(
                    "{uat}; __session={}",
                    issuer.token().not_yet_valid().build()
                ),
                "session-token-nbf",
            ),
            (
                format!(
                    "__client_uat={}; __session={}",
                    now() + 30,
                    issuer.token().build()
                ),
                "session-token-iat-before-client-uat",
            ),
        ];
        for (cookie, reason) in cases {
            let h = page(&[("cookie", &cookie)]);
            let auth = run(&c, "GET", "/dashboard", &h);
            let got = match &auth {
                Auth::Redirect(h) => h.reason(),
                Auth::SignedOut(r) => r.as_str(),
                other => panic!("{cookie}: {other:?}"),
            };
            assert_eq!(got, reason, "{cookie}");
        }
        let h = page(&[("cookie", &format!("{uat}; __session={valid}"))]);
        assert!(run(&c, "GET", "/dashboard", &h).is_signed_in());
    }

    /// A signed-in document navigation from another site syncs through
    /// a handshake once; from the same site, the Frontend API or the
    /// Account Portal, or after a redirect, it does not.
    #[test]
    fn cross_origin_navigations_sync_once() {
        let issuer = TestIssuer::new();
        let c = clerk(&issuer, true);
        let cookie = format!(
            "__client_uat={}; __session={}",
            now() - 3600,
            issuer.token().build()
        );
        let with = |referer: &str, extra: &str| {
            page(&[
                ("cookie", &format!("{cookie}{extra}")),
                ("referer", referer),
            ])
        };
        let h = with("https://news.example.org/post", "");
        assert_eq!(
            handshake(&run(&c, "GET", "/", &h)).reason(),
            "primary-domain-cross-origin-sync"
        );
        for (referer, extra) in [
            ("https://app.example.com/other", ""),
            ("https://clerk.test.invalid/v1/client", ""),
            ("https://accounts.test.invalid/sign-in", ""),
            (
                "https://news.example.org/post",
                "; __clerk_redirect_count=1",
            ),
            ("not a url", ""),
        ] {
            let h = with(referer, extra);
            assert!(run(&c, "GET", "/", &h).is_signed_in(), "{referer}{extra}");
        }
        // Only `Sec-Fetch-Dest: document` (not an iframe, not `Accept`).
        let mut h = with("https://news.example.org/post", "");
        h.insert("sec-fetch-dest", HeaderValue::from_static("iframe"));
        assert!(run(&c, "GET", "/", &h).is_signed_in());
    }

    fn satellite(issuer: &TestIssuer, live: bool) -> Clerk {
        Clerk::new(
            issuer
                .config()
                .publishable_key(publishable_key_for(HOST, live))
                .satellite(
                    "sat.example.com",
                    Some("https://primary.example.com/sign-in"),
                )
                .build()
                .unwrap(),
        )
        .unwrap()
    }

    fn location(auth: &Auth) -> String {
        handshake(auth).headers()[header::LOCATION]
            .to_str()
            .unwrap()
            .to_owned()
    }

    /// Satellite domains sync document navigations with the primary
    /// (steps C–E of `authenticateRequestWithTokenInCookie`).
    #[test]
    fn satellites_sync_with_the_primary() {
        let issuer = TestIssuer::new();
        let cookies = format!(
            "__client_uat={}; __session={}",
            now() - 3600,
            issuer.token().build()
        );
        // Production: no cookies and no sync asked: signed out, no hop.
        let prod = satellite(&issuer, true);
        assert_eq!(
            signed_out(&run(&prod, "GET", "/p", &page(&[]))),
            "session-token-and-uat-missing"
        );
        // Asked to sync: a handshake with `clerk.<domain>`.
        let auth = run(&prod, "GET", "/p?__clerk_synced=false", &page(&[]));
        assert_eq!(handshake(&auth).reason(), "satellite-needs-syncing");
        assert!(location(&auth).starts_with("https://clerk.sat.example.com/v1/client/handshake?"));
        // Cookies already there, or the sync done: the usual flow.
        assert!(run(&prod, "GET", "/p", &page(&[("cookie", &cookies)])).is_signed_in());
        assert_eq!(
            signed_out(&run(&prod, "GET", "/p?__clerk_synced=true", &page(&[]))),
            "session-token-and-uat-missing"
        );
        // Only document navigations (not `Accept: text/html` alone).
        let mut accept = HeaderMap::new();
        accept.insert("host", HeaderValue::from_static("app.example.com"));
        accept.insert("accept", HeaderValue::from_static("text/html"));
        assert_eq!(
            signed_out(&run(&prod, "GET", "/p?__clerk_synced=false", &accept)),
            "session-token-and-uat-missing"
        );

        // Development: through the primary's sign-in page.
        let dev = satellite(&issuer, false);
        let auth = run(&dev, "GET", "/p?__clerk_synced=false", &page(&[]));
        assert_eq!(handshake(&auth).reason(), "satellite-needs-syncing");
        assert_eq!(
            location(&auth),
            "https://primary.example.com/sign-in?__clerk_redirect_url=\
             https%3A%2F%2Fapp.example.com%2Fp%3F__clerk_synced%3Dfalse"
        );

        // A development primary sends the satellite back, synced.
        let primary = clerk(&issuer, false);
        let h = page(&[("cookie", "__clerk_db_jwt=dvb_1")]);
        let auth = run(
            &primary,
            "GET",
            "/sign-in?__clerk_redirect_url=https%3A%2F%2Fsat.example.com%2Fx%3F__clerk_synced%3Dfalse",
            &h,
        );
        assert_eq!(handshake(&auth).reason(), "primary-responds-to-syncing");
        assert_eq!(
            location(&auth),
            "https://sat.example.com/x?__clerk_db_jwt=dvb_1&__clerk_synced=true"
        );
        // Only to an http(s) URL.
        let auth = run(
            &primary,
            "GET",
            "/sign-in?__clerk_redirect_url=javascript%3Aalert(1)",
            &h,
        );
        assert!(!matches!(auth, Auth::Redirect(_)), "{auth:?}");
    }

    #[test]
    fn satellites_need_a_domain_and_development_ones_a_sign_in_url() {
        let issuer = TestIssuer::new();
        let base = || {
            issuer
                .config()
                .publishable_key(publishable_key_for(HOST, true))
        };
        let no_domain = crate::ClerkConfig::builder()
            .jwks_json(issuer.jwks_json())
            .publishable_key(publishable_key_for(HOST, true));
        let mut env = std::collections::HashMap::new();
        env.insert("CLERK_IS_SATELLITE", "true");
        let from_env =
            crate::ClerkConfigBuilder::from_env_with(|k| env.get(k).map(|v| (*v).to_owned()))
                .unwrap()
                .jwks_json(issuer.jwks_json())
                .publishable_key(publishable_key_for(HOST, true));
        assert!(matches!(
            from_env.build(),
            Err(crate::ConfigError::Satellite(_))
        ));
        assert!(no_domain.build().is_ok(), "not a satellite");
        assert!(base().satellite("sat.example.com", None).build().is_ok());
        let dev = || {
            issuer
                .config()
                .publishable_key(publishable_key_for(HOST, false))
        };
        for sign_in in [None, Some("/sign-in")] {
            assert!(matches!(
                dev().satellite("sat.example.com", sign_in).build(),
                Err(crate::ConfigError::Satellite(_))
            ));
        }
        assert!(
            dev()
                .satellite(
                    "sat.example.com",
                    Some("https://primary.example.com/sign-in")
                )
                .build()
                .is_ok()
        );
    }

    #[test]
    fn the_handshake_redirect_has_clerks_parameters_and_counts_loops() {
        let issuer = TestIssuer::new();
        let c = clerk(&issuer, true);
        let token = issuer.token().build();
        let h = page(&[("cookie", &format!("__session={token}"))]);
        let auth = run(&c, "GET", "/dashboard?a=1", &h);
        let hs = handshake(&auth);
        let location = hs.headers()[header::LOCATION].to_str().unwrap();
        assert_eq!(
            location,
            format!(
                "https://{HOST}/v1/client/handshake?redirect_url=https%3A%2F%2Fapp.example.com%2Fdashboard%3Fa%3D1\
                 &__clerk_api_version=2026-05-12&suffixed_cookies=false\
                 &__clerk_hs_reason=session-token-but-no-client-uat&__session={token}"
            )
        );
        assert_eq!(hs.to_response::<String>().status(), 307);
        assert_eq!(hs.headers()[header::CACHE_CONTROL], "no-store");
        assert_eq!(
            hs.headers()[header::SET_COOKIE],
            "__clerk_redirect_count=1; SameSite=Lax; HttpOnly; Max-Age=2"
        );
        assert_eq!(hs.headers()["x-clerk-auth-status"], "handshake");
        assert_eq!(
            hs.headers()["x-clerk-auth-reason"],
            "session-token-but-no-client-uat"
        );
        assert!(!format!("{hs:?}").contains(&token), "Debug hides the URL");
        // The third redirect in a row ends signed out with the reason.
        let h = page(&[(
            "cookie",
            &format!("__clerk_redirect_count=3; __session={token}"),
        )]);
        assert_eq!(
            signed_out(&run(&c, "GET", "/dashboard", &h)),
            "session-token-but-no-client-uat"
        );
        let h = page(&[(
            "cookie",
            &format!("__clerk_redirect_count=2; __session={token}"),
        )]);
        let auth = run(&c, "GET", "/dashboard", &h);
        assert_eq!(
            handshake(&auth).headers()[header::SET_COOKIE],
            "__clerk_redirect_count=3; SameSite=Lax; HttpOnly; Max-Age=2"
        );
    }

    /// A request with Clerk's cookies that is not a page load follows
    /// Clerk's cookie rules with no handshake: each handshake is a signed-out
    /// answer with its reason (`handleMaybeHandshakeStatus`). Only a GET
    /// document (or `Accept: text/html` without `Sec-Fetch-Dest`) with no
    /// `Authorization` header is a page; a request whose URL cannot be
    /// built is read as an API request (the plain extraction).
    #[test]
    fn only_page_loads_take_the_browser_path() {
        let issuer = TestIssuer::new();
        let c = clerk(&issuer, true);
        let expired = format!("__session={}", issuer.token().expired().build());
        let api = |pairs: &[(&str, &str)], method: &str| {
            let mut h = HeaderMap::new();
            for (k, v) in pairs {
                h.append(
                    HeaderName::from_bytes(k.as_bytes()).unwrap(),
                    HeaderValue::from_str(v).unwrap(),
                );
            }
            signed_out(&run(&c, method, "/x", &h))
        };
        let host = ("host", "app.example.com");
        let with_uat = format!("__client_uat=1; {expired}");
        for (pairs, method, reason) in [
            (
                vec![host, ("cookie", expired.as_str())],
                "GET",
                "session-token-but-no-client-uat",
            ),
            (
                vec![host, ("cookie", &with_uat)],
                "GET",
                "session-token-expired-refresh-non-eligible-no-refresh-cookie",
            ),
            (
                vec![host, ("cookie", &with_uat), ("sec-fetch-dest", "empty")],
                "GET",
                "session-token-expired-refresh-non-eligible-no-refresh-cookie",
            ),
            (
                vec![host, ("cookie", &with_uat), ("sec-fetch-dest", "document")],
                "POST",
                "session-token-expired-refresh-non-eligible-non-get",
            ),
            (
                vec![host, ("cookie", &with_uat), ("sec-fetch-dest", "document")],
                "get",
                "session-token-expired-refresh-non-eligible-non-get",
            ),
            (
                vec![
                    host,
                    ("cookie", &with_uat),
                    ("accept", "application/json, text/html"),
                ],
                "GET",
                "session-token-expired-refresh-non-eligible-no-refresh-cookie",
            ),
        ] {
            assert_eq!(api(&pairs, method), reason, "{pairs:?} {method}");
        }
        for (pairs, method) in [
            // Two Host (or X-Forwarded-Host) lines: no URL is trusted.
            (
                vec![
                    host,
                    ("host", "evil.example.com"),
                    ("cookie", &expired),
                    ("sec-fetch-dest", "document"),
                ],
                "GET",
            ),
            (
                vec![
                    host,
                    ("cookie", &expired),
                    ("sec-fetch-dest", "document"),
                    ("x-forwarded-host", "a.example.com"),
                    ("x-forwarded-host", "b.example.com"),
                ],
                "GET",
            ),
            // No host, or hosts and schemes that cannot make a URL.
            (
                vec![("cookie", expired.as_str()), ("sec-fetch-dest", "document")],
                "GET",
            ),
            (
                vec![
                    ("host", "evil.com/x"),
                    ("cookie", &expired),
                    ("sec-fetch-dest", "document"),
                ],
                "GET",
            ),
            (
                vec![
                    ("host", "u@evil.com"),
                    ("cookie", &expired),
                    ("sec-fetch-dest", "document"),
                ],
                "GET",
            ),
            (
                vec![
                    host,
                    ("x-forwarded-proto", "javascript"),
                    ("cookie", &expired),
                    ("sec-fetch-dest", "document"),
                ],
                "GET",
            ),
        ] {
            assert_eq!(api(&pairs, method), "token-expired", "{pairs:?} {method}");
        }
        // A cookie header over the size limit is not read as a page either:
        // the API path refuses it.
        let huge = format!(
            "{expired}; pad={}",
            "x".repeat(crate::request::MAX_HEADER_LEN)
        );
        let h = page(&[("cookie", &huge)]);
        assert_eq!(signed_out(&run(&c, "GET", "/x", &h)), "token-invalid");
        // Any Authorization header keeps the API path (another scheme
        // shadows the cookie, as before).
        let h = page(&[("cookie", &expired), ("authorization", "Basic eA==")]);
        assert_eq!(
            signed_out(&run(&c, "GET", "/x", &h)),
            "session-token-missing"
        );
        // `Accept: text/html…` without Sec-Fetch-Dest is a page.
        let h = {
            let mut h = HeaderMap::new();
            h.insert("host", HeaderValue::from_static("app.example.com"));
            h.insert(
                "accept",
                HeaderValue::from_static("text/html,application/xhtml+xml"),
            );
            h.insert(
                "cookie",
                HeaderValue::from_str(&format!("__client_uat=1; {expired}")).unwrap(),
            );
            h
        };
        assert!(matches!(run(&c, "GET", "/x", &h), Auth::Redirect(_)));
        // Without a publishable key there is no browser path at all.
        let plain = Clerk::new(issuer.config().build().unwrap()).unwrap();
        assert_eq!(signed_out(&run(&plain, "GET", "/x", &h)), "token-expired");
    }

    #[test]
    fn odd_cookies_are_refused_not_trusted() {
        let issuer = TestIssuer::new();
        let c = clerk(&issuer, true);
        let uat = format!("__client_uat={}", now() - 3600);
        let m2m = issuer.m2m_token("mch_1", &["read"]).build();
        let other = TestIssuer::new().token().build();
        let oauth = issuer.oauth_token("user_1", "client_1", &["email"]).build();
        let template = issuer.token().header("cat", "cl_B7d4PD222AAA").build();
        let undecodable_header = format!(
            "e30x!.{}",
            issuer.token().build().split_once('.').unwrap().1
        );
        for (session, reason) in [
            ("garbage".to_owned(), "token-invalid"),
            ("a.b".to_owned(), "token-invalid"),
            (undecodable_header, "token-invalid"),
            (m2m, "token-type-mismatch"),
            (oauth, "token-type-mismatch"),
            (template, "token-type-mismatch"),
            (other, "token-invalid-signature"),
        ] {
            let h = page(&[("cookie", &format!("{uat}; __session={session}"))]);
            assert_eq!(signed_out(&run(&c, "GET", "/", &h)), reason, "{session}");
        }
        // An expired token with a refresh cookie: Clerk would refresh it
        // through the Backend API; this SDK reports it has no client for it.
        let suffix = crate::cookies::cookie_suffix(&publishable_key_for(HOST, true));
        let h = page(&[(
            "cookie",
            &format!(
                "{uat}; __session={}; __refresh_{suffix}=r",
                issuer.token().expired().build()
            ),
        )]);
        assert_eq!(
            handshake(&run(&c, "GET", "/", &h)).reason(),
            "session-token-expired-refresh-missing-api-client"
        );
    }

    #[test]
    fn development_instances_need_the_dev_browser() {
        let issuer = TestIssuer::new();
        let c = clerk(&issuer, false);
        let h = page(&[]);
        assert_eq!(
            handshake(&run(&c, "GET", "/", &h)).reason(),
            "dev-browser-missing"
        );
        let auth = run(&c, "GET", "/p?__clerk_db_jwt=dvb_1&x=1", &h);
        let hs = handshake(&auth);
        assert_eq!(hs.reason(), "dev-browser-sync");
        let location = hs.headers()[header::LOCATION].to_str().unwrap();
        assert!(
            location.contains("redirect_url=https%3A%2F%2Fapp.example.com%2Fp%3Fx%3D1&"),
            "{location}"
        );
        assert!(location.ends_with("&__clerk_db_jwt=dvb_1"), "{location}");
        let h = page(&[("cookie", "__clerk_db_jwt=dvb_1")]);
        assert_eq!(
            signed_out(&run(&c, "GET", "/", &h)),
            "session-token-and-uat-missing"
        );
    }

    /// Clerk's server-side refresh: an expired page session with a
    /// `__refresh_<suffix>` cookie is refreshed through the Backend API and
    /// the page reloaded with the new cookies; when the refresh fails, the
    /// handshake goes ahead with the refresh's reason.
    #[tokio::test]
    async fn expired_sessions_with_a_refresh_cookie_refresh_through_the_backend_api() {
        let issuer = TestIssuer::new();
        let backend = crate::testing::FakeBackendApi::start().await.unwrap();
        let pk = publishable_key_for(HOST, true);
        let c = Clerk::new(
            issuer
                .config()
                .publishable_key(pk.clone())
                .secret_key("sk_test_your_clerk_key_here")
                .api_url(backend.base_url())
                .build()
                .unwrap(),
        )
        .unwrap();
        let suffix = crate::cookies::cookie_suffix(&pk);
        // A page whose session `sid` expired long ago, with a refresh cookie.
        let expired = |sid: &str| issuer.token().session(sid).issued_at(1_700_000_000).build();
        let refreshing = |token: &str, refresh: &str| {
            page(&[(
                "cookie",
                &format!("__client_uat=1; __session={token}; __refresh_{suffix}={refresh}"),
            )])
        };
        let h = refreshing(&expired("sess_r0"), "rt_0");
        // The Backend API knows no such session: the handshake, with why.
        let auth = c.authenticate_request("GET", "/p?x=1", &h, None).await;
        assert_eq!(
            handshake(&auth).reason(),
            "session-token-expired-refresh-unexpected-bapi-error"
        );
        let seen = backend.seen();
        let call = seen.last().unwrap();
        assert_eq!(call.line, "POST /v1/sessions/sess_r0/refresh");
        let body: serde_json::Value = serde_json::from_slice(&call.body).unwrap();
        assert_eq!(body["format"], "cookie");
        assert_eq!(body["refresh_token"], "rt_0");
        assert_eq!(body["expired_token"], expired("sess_r0").as_str());
        assert_eq!(body["request_origin"], "https://app.example.com");
        // Clerk's refusal is remembered for the session: asked once, even
        // with other refresh cookies.
        let calls = backend.calls();
        for rt in ["rt_0", "rt_x", "rt_y"] {
            let h = refreshing(&expired("sess_r0"), rt);
            let auth = c.authenticate_request("GET", "/p?x=1", &h, None).await;
            assert_eq!(
                handshake(&auth).reason(),
                "session-token-expired-refresh-unexpected-bapi-error"
            );
        }
        assert_eq!(backend.calls(), calls);
        let h = refreshing(&expired("sess_r1"), "rt_1");

        // It refreshes: the new cookies, back to the same page.
        let fresh = issuer.token().session("sess_r1").build();
        backend.add_session_refresh(
            "sess_r1",
            vec![
                format!("__session_{suffix}={fresh}; Path=/; SameSite=Lax"),
                format!("__client_uat_{suffix}=2; Path=/"),
            ],
        );
        let auth = c.authenticate_request("GET", "/p?x=1", &h, None).await;
        let hs = handshake(&auth);
        assert_eq!(hs.reason(), "session-token-refreshed");
        assert_eq!(
            hs.headers()[header::LOCATION],
            "https://app.example.com/p?x=1"
        );
        assert_eq!(hs.headers().get_all(header::SET_COOKIE).iter().count(), 2);

        // A refresh answer whose session does not verify is not applied.
        let forged = TestIssuer::new().token().session("sess_r2").build();
        backend.add_session_refresh("sess_r2", vec![format!("__session={forged}; Path=/")]);
        let h = refreshing(&expired("sess_r2"), "rt_2");
        let auth = c.authenticate_request("GET", "/p", &h, None).await;
        assert_eq!(
            handshake(&auth).reason(),
            "session-token-expired-refresh-invalid-session-token"
        );
        // A session id that cannot go into a path is never sent.
        let calls = backend.calls();
        let h = refreshing(&expired("../users"), "rt_3");
        let auth = c.authenticate_request("GET", "/p", &h, None).await;
        assert_eq!(
            handshake(&auth).reason(),
            "session-token-expired-refresh-expired-session-token-missing-sid-claim"
        );
        assert_eq!(backend.calls(), calls);
    }

    /// Back from a handshake with a nonce (cookie in production): its
    /// directives come from the Backend API; an unknown nonce gives none,
    /// so the visitor is signed out, as Clerk.
    #[tokio::test]
    async fn a_handshake_nonce_is_resolved_through_the_backend_api() {
        let issuer = TestIssuer::new();
        let backend = crate::testing::FakeBackendApi::start().await.unwrap();
        let c = Clerk::new(
            issuer
                .config()
                .publishable_key(publishable_key_for(HOST, true))
                .secret_key("sk_test_your_clerk_key_here")
                .api_url(backend.base_url())
                .build()
                .unwrap(),
        )
        .unwrap();
        let session = issuer.token().build();
        backend.add_handshake_nonce(
            "n_1",
            vec![
                format!("__session={session}; Path=/"),
                "__client_uat=5; Path=/".to_owned(),
            ],
        );
        let h = page(&[("cookie", "__clerk_handshake_nonce=n_1")]);
        let auth = c.authenticate_request("GET", "/p", &h, None).await;
        let hs = handshake(&auth);
        assert_eq!(hs.reason(), "handshake-complete");
        assert_eq!(hs.headers()[header::LOCATION], "https://app.example.com/p");
        let cookies: Vec<_> = hs.headers().get_all(header::SET_COOKIE).iter().collect();
        assert!(
            cookies
                .iter()
                .any(|c| c.to_str().unwrap().starts_with("__session="))
        );
        assert!(
            cookies
                .iter()
                .any(|c| *c == "__clerk_handshake_nonce=; Path=/; Max-Age=0")
        );
        assert!(
            backend
                .seen()
                .iter()
                .any(|r| r.line == "GET /v1/clients/handshake_payload?nonce=n_1")
        );

        let h = page(&[("cookie", "__clerk_handshake_nonce=unknown")]);
        let auth = c.authenticate_request("GET", "/p", &h, None).await;
        assert_eq!(handshake(&auth).reason(), "session-token-missing");
        // An oversized nonce is never sent to the Backend API.
        let calls = backend.calls();
        let long = format!("__clerk_handshake_nonce={}", "n".repeat(300));
        let auth = c
            .authenticate_request("GET", "/p", &page(&[("cookie", &long)]), None)
            .await;
        assert_eq!(handshake(&auth).reason(), "session-token-missing");
        assert_eq!(backend.calls(), calls);
        // In production the query form is ignored.
        let auth = c
            .authenticate_request("GET", "/p?__clerk_handshake_nonce=n_1", &page(&[]), None)
            .await;
        assert_eq!(signed_out(&auth), "session-token-and-uat-missing");
    }

    fn handshake_token(issuer: &TestIssuer, directives: &[String]) -> String {
        issuer.sign_raw(
            &json!({"alg": "RS256", "kid": issuer.kid(), "typ": "JWT"}),
            &json!({"handshake": directives}),
        )
    }

    #[test]
    fn finishing_sets_the_cookies_and_returns_to_the_clean_url() {
        let issuer = TestIssuer::new();
        let c = clerk(&issuer, false);
        let session = issuer.token().build();
        let directives = vec![
            format!("__session={session}; Path=/; SameSite=Lax"),
            format!("__client_uat={}; Path=/; Max-Age=315360000", now()),
        ];
        let token = handshake_token(&issuer, &directives);
        let h = page(&[]);
        let target = format!("/dashboard?tab=2&__clerk_handshake={token}&__clerk_db_jwt=dvb_1");
        let auth = run(&c, "GET", &target, &h);
        let hs = handshake(&auth);
        assert_eq!(hs.reason(), "handshake-complete");
        assert_eq!(
            hs.headers()[header::LOCATION],
            "https://app.example.com/dashboard?tab=2"
        );
        let cookies: Vec<_> = hs.headers().get_all(header::SET_COOKIE).iter().collect();
        assert_eq!(
            cookies.len(),
            2,
            "the two directives (a query finish is not counted)"
        );
        assert!(hs.headers().get("x-clerk-auth-status").is_none());
        // Round too often: the handshake is not applied again, the cookies
        // decide (here: no dev browser yet).
        let token = handshake_token(&issuer, &directives);
        let looping = page(&[(
            "cookie",
            &format!("__clerk_redirect_count=3; __clerk_handshake={token}"),
        )]);
        let auth = run(&c, "GET", "/dashboard", &looping);
        assert!(!matches!(&auth, Auth::Redirect(h) if h.reason() == "handshake-complete"));

        // No session among the directives: back, signed out.
        let token = handshake_token(&issuer, &["__client_uat=0; Path=/".to_owned()]);
        let auth = run(&c, "GET", &format!("/?__clerk_handshake={token}"), &h);
        let hs = handshake(&auth);
        assert_eq!(hs.reason(), "session-token-missing");
        assert_eq!(hs.headers()["x-clerk-auth-status"], "signed-out");
        assert_eq!(hs.headers()[header::LOCATION], "https://app.example.com/");

        // Forged (another key) or not a JWT: never its cookies; the
        // request's own cookies decide (here: no dev browser yet).
        let forged = handshake_token(&TestIssuer::new(), &directives);
        for bad in [forged, "x.y.z".to_owned(), "garbage".to_owned()] {
            let auth = run(&c, "GET", &format!("/?__clerk_handshake={bad}"), &h);
            let hs = handshake(&auth);
            assert_eq!(hs.reason(), "dev-browser-missing", "{auth:?}");
            assert!(
                hs.headers()
                    .get_all(header::SET_COOKIE)
                    .iter()
                    .all(|c| c.to_str().unwrap().starts_with("__clerk_redirect_count=")),
                "{auth:?}"
            );
        }
        // A production instance takes a handshake from its cookie only: a
        // link carrying someone's handshake token signs no one in.
        let prod = clerk(&issuer, true);
        let token = handshake_token(&issuer, &directives);
        let auth = run(&prod, "GET", &format!("/?__clerk_handshake={token}"), &h);
        assert_eq!(signed_out(&auth), "session-token-and-uat-missing");
        // From a cookie, the handshake cookie is cleared on the way back.
        let token = handshake_token(&issuer, &directives);
        let h = page(&[("cookie", &format!("__clerk_handshake={token}"))]);
        let auth = run(&c, "GET", "/", &h);
        let cleared = handshake(&auth)
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .any(|v| v == "__clerk_handshake=; Path=/; Max-Age=0");
        assert!(cleared);
        assert!(
            handshake(&auth)
                .headers()
                .get_all(header::SET_COOKIE)
                .iter()
                .any(|v| v.to_str().unwrap().starts_with("__clerk_redirect_count=1;")),
            "a finish from a cookie counts"
        );
    }
}
