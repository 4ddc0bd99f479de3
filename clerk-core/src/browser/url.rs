//! The page request as the browser path reads it: its absolute URL
//! (Clerk's `clerkUrl`), cookies, and whether Clerk would answer it with a
//! handshake.

use crate::cookies::Cookies;
use crate::request::RequestHead;

/// The request as the browser path reads it.
pub(crate) struct PageRequest<'a> {
    pub(super) url: url::Url,
    /// The raw request path, as the router routes it (no query).
    pub(super) path: &'a str,
    pub(super) cookies: Cookies<'a>,
    /// Clerk would answer with a handshake ([`is_eligible`]); when not
    /// (an API request with cookies, a `POST`), each handshake Clerk's
    /// rules reach is a signed-out answer with its reason, as Clerk's
    /// `handleMaybeHandshakeStatus`.
    pub(super) eligible: bool,
    /// The method is `GET` (refreshes and syncs are for `GET` only).
    pub(super) get: bool,
    /// `Sec-Fetch-Dest` is exactly `document` (not an iframe, not absent).
    pub(super) document: bool,
    /// The `Referer`, when it parses.
    pub(super) referer: Option<url::Url>,
}

/// True when Clerk would send this request through a handshake
/// (`isRequestEligibleForHandshake`, `handshake.ts`).
pub(crate) fn is_eligible<H: RequestHead + ?Sized>(method: &str, headers: &H) -> bool {
    if method != "GET" {
        return false;
    }
    match first(headers, "sec-fetch-dest") {
        Some("document" | "iframe") => true,
        Some(_) => false,
        None => first(headers, "accept").is_some_and(|a| a.starts_with("text/html")),
    }
}

fn first<'a, H: RequestHead + ?Sized>(headers: &'a H, name: &'static str) -> Option<&'a str> {
    headers
        .values(name)
        .next()
        .and_then(|v| std::str::from_utf8(v).ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// The absolute URL of a request (Clerk's `clerkUrl`; see
/// [`PageRequest::read`]), when it can be built.
pub(crate) fn page_url<H: RequestHead + ?Sized>(
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
    pub(crate) fn read<H: RequestHead + ?Sized>(
        method: &str,
        path_and_query: &'a str,
        headers: &'a H,
    ) -> Option<Self> {
        let url = page_url(path_and_query, headers)?;
        let cookies = Cookies::read(headers.values("cookie"))?;
        let document = first(headers, "sec-fetch-dest") == Some("document");
        let referer = first(headers, "referer").and_then(|r| url::Url::parse(r).ok());
        let path = path_and_query
            .split_once('?')
            .map_or(path_and_query, |(p, _)| p);
        Some(Self {
            url,
            path,
            cookies,
            eligible: is_eligible(method, headers),
            get: method == "GET",
            document,
            referer,
        })
    }

    /// The raw request path (no query).
    pub(crate) fn path(&self) -> &str {
        self.path
    }

    /// The first cookie `name` (Clerk's `cookie` parser keeps the first).
    pub(super) fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies.get(name)
    }

    pub(super) fn query(&self, name: &str) -> Option<String> {
        self.url
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
            .filter(|v| !v.is_empty())
    }

    pub(super) fn has_query(&self, name: &str) -> bool {
        self.url.query_pairs().any(|(k, _)| k == name)
    }
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
