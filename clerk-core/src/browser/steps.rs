//! The states of a page request in Clerk's order
//! (`authenticateRequestWithTokenInCookie`), one decision per request.

use std::sync::Arc;

use super::calls::Refresh;
use super::handshake::{self, MAX_REDIRECTS, REDIRECT_URL, SYNCED, kid_of};
use super::organization::OrganizationSync;
use super::url::{PageRequest, remove_query};
use crate::auth::PageAnswer;
use crate::cookies::{
    CLIENT_UAT, CookieRule, DEV_BROWSER, HANDSHAKE, HANDSHAKE_NONCE, LooseJwt, REDIRECT_COUNT,
    REFRESH, SESSION, client_uat,
};
use crate::error::Reason;
use crate::session::Session;
use crate::session::verify::Verifier;

/// What the browser path decided.
pub(crate) enum Page {
    SignedIn(Arc<Session>),
    SignedOut(Reason),
    Answer(PageAnswer),
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
    /// Clerk's `satelliteAutoSync`: a satellite with no cookies syncs at
    /// once (off: only after `__clerk_synced=false`).
    auto_sync: bool,
    /// Organization sync by URL.
    organizations: Option<Arc<OrganizationSync>>,
    /// A relative proxy URL's path (`/__clerk`).
    relative_proxy: Option<String>,
    /// The proxy on this application: the origin it is on (`None`: the
    /// request's own, for a relative proxy URL) and its path.
    proxy_path: Option<(Option<String>, String)>,
}

impl Browser {
    /// As a satellite domain: production satellites hand shake with
    /// `frontend_api` (`clerk.<domain>` or the proxy), development ones
    /// sync through the primary's `sign_in_url`.
    pub(crate) fn satellite(mut self, sign_in_url: Option<String>, auto_sync: bool) -> Self {
        self.satellite = true;
        self.sign_in_url = sign_in_url;
        self.auto_sync = auto_sync;
        self
    }

    /// Through a proxy on the application's own origin (a relative
    /// `proxyUrl`): the handshake goes to `<page origin><path>`.
    pub(crate) fn relative_proxy(mut self, path: Option<String>) -> Self {
        if let Some(p) = &path {
            self.proxy_path = Some((None, p.clone()));
        }
        self.relative_proxy = path;
        self
    }

    /// True for a request to the Frontend API proxy on this application:
    /// below a relative proxy URL's path, or an absolute proxy URL's path
    /// on the same origin as the request. Clerk's middleware hands those to
    /// the proxy before `authenticateRequest` (`@clerk/nextjs`
    /// `clerkMiddleware`, `frontendApiProxy`), so here they are read as API
    /// requests, never sent through a handshake (the handshake itself goes
    /// through that path). Matched on the one reading the router routes
    /// (`routed_reading`), with no dot segment: a path readable several
    /// ways stays a page load, which is the stricter path.
    pub(crate) fn serves_proxy(&self, req: &PageRequest<'_>) -> bool {
        let Some((origin, p)) = &self.proxy_path else {
            return false;
        };
        if origin
            .as_ref()
            .is_some_and(|o| *o != req.url.origin().ascii_serialization())
        {
            return false;
        }
        let Some(path) = crate::protect::routes::routed_reading(req.path()) else {
            return false;
        };
        let below = path == p.as_str()
            || path
                .strip_prefix(p.as_str())
                .is_some_and(|r| r.starts_with('/'));
        below && !path.split('/').any(|s| s == "." || s == "..")
    }

    /// The Frontend API the handshake goes to for `req`: the configured
    /// one, or a relative proxy URL resolved against the page's URL, as
    /// Clerk's SDK does (`new URL(proxyUrl, clerkRequest.clerkUrl)`,
    /// `@clerk/nextjs` `server/utils.ts` `handleMultiDomainAndProxy`).
    fn frontend_api_for(&self, req: &PageRequest<'_>) -> std::borrow::Cow<'_, str> {
        match &self.relative_proxy {
            Some(path) => format!("{}{path}", req.url.origin().ascii_serialization()).into(),
            None => self.frontend_api.as_str().into(),
        }
    }

    /// With organization sync by URL.
    pub(crate) fn organization_sync(mut self, sync: Option<Arc<OrganizationSync>>) -> Self {
        self.organizations = sync;
        self
    }

    pub(crate) fn new(frontend_api: &str, development: bool, rule: Arc<CookieRule>) -> Self {
        let base = if frontend_api.starts_with("http") {
            frontend_api.to_owned()
        } else {
            format!("https://{frontend_api}")
        };
        // `https://app.example.com/__clerk`: a proxy at that path, on
        // that origin only.
        let proxy_path = url::Url::parse(&base).ok().and_then(|u| {
            let path = u.path().trim_end_matches('/').to_owned();
            (!path.is_empty()).then(|| (Some(u.origin().ascii_serialization()), path))
        });
        Self {
            proxy_path,
            frontend_api: base.trim_end_matches('/').to_owned(),
            development,
            rule,
            satellite: false,
            sign_in_url: None,
            auto_sync: false,
            organizations: None,
            relative_proxy: None,
        }
    }
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
    /// `verifier` verifies session and handshake tokens without waiting
    /// (`None`: a key must be fetched first).
    pub(crate) fn decide(
        &self,
        req: &PageRequest<'_>,
        now: i64,
        verifier: &Verifier,
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
        // The organization the URL names: every handshake carries it, so
        // the Frontend API activates it (`buildRedirectToHandshake`).
        let organization = self.organizations.as_ref().and_then(|o| o.target(req.path));

        // A. Back from the Frontend API with a handshake token: in the
        // query only on development instances (production's Frontend API
        // sets a cookie, so on production a link carrying someone's
        // handshake token cannot sign a visitor in as them; on development
        // instances it can, as with Clerk).
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
                Some(directives) => {
                    return finished(handshake::finish(
                        req,
                        directives,
                        verifier,
                        loops,
                        self.development,
                    ));
                }
                // Clerk's nonce is opaque with no documented length; 256
                // bytes bounds what a forged one can make us remember.
                None if refresh != RefreshMode::Unavailable && nonce.len() <= 256 => {
                    return Page::Nonce(nonce);
                }
                None => {
                    return finished(handshake::finish(
                        req,
                        &[],
                        verifier,
                        loops,
                        self.development,
                    ));
                }
            }
        }
        // One in the query finishes whatever the loop count (Clerk resolves
        // a handshake token before anything else, `request.ts`): the
        // finish only leads to the clean URL, it starts no handshake, so
        // the page past the loop guard is not left carrying the token.
        let from_query = carried.is_some() && req.eligible;
        if let Some(token) = carried.filter(|_| from_query).or_else(|| {
            req.cookie(HANDSHAKE)
                .map(str::to_owned)
                .filter(|_| finishing)
        }) {
            match verifier.handshake_directives(&token) {
                None => return Page::NeedsKeys(kid_of(&token)),
                Some(Ok(directives)) => {
                    return finished(handshake::finish(
                        req,
                        &directives,
                        verifier,
                        loops,
                        self.development,
                    ));
                }
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
            Page::Answer(handshake::start(
                &self.frontend_api_for(req),
                self.development,
                req,
                reason,
                suffixed,
                session_token,
                dev_browser.as_deref(),
                loops,
                elsewhere,
                organization.as_ref(),
            ))
        };
        let handshake = |reason: Reason| redirect(reason, None);
        // B–D. A satellite domain syncs a document navigation with the
        // primary until `__clerk_synced=true` says it did.
        let synced = req.query(SYNCED);
        let needs_sync = synced.as_deref() == Some("false");
        let has_cookies = session_token.is_some() || uat != 0.0;
        if self.satellite && req.get && req.document && synced.as_deref() != Some("true") {
            if !self.auto_sync && !has_cookies && !needs_sync {
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
        match verifier.verify_ready(token) {
            None => Page::NeedsKeys(kid_of(token)),
            // A document navigation from another site, not from Clerk's
            // own pages, syncs once through a handshake.
            Some(Ok(_))
                if req.get && req.document && loops == 0 && self.cross_origin_referrer(req) =>
            {
                handshake(Reason::PrimaryDomainCrossOriginSync)
            }
            // Organization sync (`handleMaybeOrganizationSyncHandshake`):
            // a page load naming another organization hands shake to
            // activate it; an API request, or a page past the loop guard
            // (the visitor is no member), stays signed in as it is.
            Some(Ok(session))
                if req.eligible
                    && loops < MAX_REDIRECTS
                    && organization
                        .as_ref()
                        .is_some_and(|target| !target.is_active_in(&session)) =>
            {
                handshake(Reason::ActiveOrganizationMismatch)
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
}

/// A finish's answer: its redirect, or the key its session token waits for.
fn finished(finish: Result<PageAnswer, Option<String>>) -> Page {
    match finish {
        Ok(redirect) => Page::Answer(redirect),
        Err(kid) => Page::NeedsKeys(kid),
    }
}
