//! The handshake's start (the redirect to the Frontend API,
//! `buildRedirectToHandshake`) and finish (`resolveHandshake`, development
//! form), and the headers both send.

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

use super::organization::OrganizationTarget;
use super::url::{PageRequest, remove_query};
use crate::auth::{Auth, PageAnswer};
use crate::cookies::{DEV_BROWSER, HANDSHAKE, HANDSHAKE_NONCE, REDIRECT_COUNT, SESSION};

use crate::error::Reason;
use crate::session::verify::Verifier;

/// Query names (`constants.ts` `QueryParameters`); the cookie names are in
/// [`crate::cookies`].
const LEGACY_DEV_BROWSER: &str = "__dev_session";
pub(super) const HANDSHAKE_HELP: &str = "__clerk_help";
/// The query parameters of a handshake in progress, never kept in a
/// `redirect_url`.
pub(crate) const HANDSHAKE_PARAMS: [&str; 4] =
    [HANDSHAKE, HANDSHAKE_HELP, DEV_BROWSER, HANDSHAKE_NONCE];
pub(super) const SYNCED: &str = "__clerk_synced";
pub(super) const REDIRECT_URL: &str = "__clerk_redirect_url";
/// The Backend API version Clerk's SDK names in the handshake URL.
const API_VERSION: &str = "2026-05-12";
/// A handshake redirect loop ends signed out at this count (`handshake.ts`
/// `checkAndTrackRedirectLoop`: Clerk stops at exactly 3; here at 3 or
/// more, so a forged higher count cannot restart the loop).
pub(super) const MAX_REDIRECTS: u32 = 3;

/// The `kid` of a token's header, for the key to wait for.
pub(super) fn kid_of(token: &str) -> Option<String> {
    crate::token::parse(token).ok().and_then(|p| p.header.kid)
}

/// The redirect to the Frontend API's handshake
/// (`buildRedirectToHandshake`), with the loop counter.
#[allow(clippy::too_many_arguments)]
pub(super) fn start(
    frontend_api: &str,
    development: bool,
    req: &PageRequest<'_>,
    reason: Reason,
    suffixed: bool,
    session_token: Option<&str>,
    dev_browser: Option<&str>,
    loops: u32,
    elsewhere: Option<String>,
    organization: Option<&OrganizationTarget>,
) -> PageAnswer {
    let mut back = req.url.clone();
    // Clerk removes the dev browser (`removeDevBrowserFromURL`); the
    // handshake's own parameters go too, so a refused handshake token in a
    // link does not ride along into every round (the Frontend API appends
    // a fresh one, and the first value is read).
    remove_query(
        &mut back,
        &[
            DEV_BROWSER,
            LEGACY_DEV_BROWSER,
            HANDSHAKE,
            HANDSHAKE_NONCE,
            HANDSHAKE_HELP,
        ],
    );
    let mut location = format!("{}/v1/client/handshake?", frontend_api);
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
        if development && let Some(db) = dev_browser {
            q.append_pair(DEV_BROWSER, db);
        }
        if let Some(target) = organization {
            q.append_pair("organization_id", target.query_value());
        }
        q.finish();
    }
    let mut headers = HeaderMap::new();
    insert(&mut headers, header::LOCATION, &location);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    count_redirect(&mut headers, loops);
    debug_headers(&mut headers, "handshake", reason.as_str());
    PageAnswer::redirect(reason.as_str(), reason, headers)
}

/// Back from the handshake (`resolveHandshake`): its cookies set, and on
/// a development instance a redirect to the page without the handshake
/// parameters; on a production instance the page is served as the
/// handshake's session says, with the cookies added to its response.
pub(super) fn finish(
    req: &PageRequest<'_>,
    directives: &[String],
    verifier: &Verifier,
    loops: u32,
    development: bool,
) -> Result<PageAnswer, Option<String>> {
    let mut headers = HeaderMap::new();
    // A handshake carried by cookie may outlive its clearing (set for a
    // parent domain): its finish counts, so such a loop ends at the
    // guard's limit. One in the query leaves with the clean URL.
    if req.cookie(HANDSHAKE).is_some() || req.cookie(HANDSHAKE_NONCE).is_some() {
        count_redirect(&mut headers, loops);
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
    // Clerk sets no cache header on the production form; a page response
    // setting a session cookie must never be stored by a shared cache.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let verified = match session_token.map(|t| (t, verifier.verify_ready(t))) {
        Some((t, None)) => return Err(kid_of(t)),
        Some((_, Some(result))) => Some(result),
        None => None,
    };
    if !development {
        // Clerk also sends `Access-Control-Allow-Origin: null` with
        // credentials here; on a served page that would let any sandboxed
        // (`null`-origin) document read it with the visitor's cookies, so
        // it is left out.
        let auth = match verified {
            Some(Ok(session)) => Auth::SignedIn(session),
            Some(Err(e)) => Auth::SignedOut(e.reason()),
            None => Auth::SignedOut(Reason::SessionTokenMissing),
        };
        let reason = auth.reason().map_or("handshake-complete", Reason::as_str);
        return Ok(PageAnswer::serve(reason, auth, headers));
    }
    let mut clean = req.url.clone();
    remove_query(
        &mut clean,
        &[HANDSHAKE, HANDSHAKE_HELP, DEV_BROWSER, HANDSHAKE_NONCE],
    );
    insert(&mut headers, header::LOCATION, clean.as_str());
    headers.insert(
        HeaderName::from_static("access-control-allow-origin"),
        HeaderValue::from_static("null"),
    );
    headers.insert(
        HeaderName::from_static("access-control-allow-credentials"),
        HeaderValue::from_static("true"),
    );
    let reason = match verified {
        Some(Ok(_)) => "handshake-complete",
        Some(Err(e)) => e.reason().as_str(),
        None => "session-token-missing",
    };
    if reason != "handshake-complete" {
        debug_headers(&mut headers, "signed-out", reason);
    }
    Ok(PageAnswer::redirect(
        reason,
        Reason::SessionTokenMissing,
        headers,
    ))
}

/// The redirect-loop guard's cookie (`handshake.ts`
/// `checkAndTrackRedirectLoop`): this redirect's count, for two seconds.
fn count_redirect(headers: &mut HeaderMap, loops: u32) {
    let cookie = format!(
        "{REDIRECT_COUNT}={}; SameSite=Lax; HttpOnly; Max-Age=2",
        loops + 1
    );
    insert(headers, header::SET_COOKIE, &cookie);
}

pub(super) fn insert(headers: &mut HeaderMap, name: HeaderName, value: &str) {
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
