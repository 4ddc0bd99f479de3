//! Reading the session token from a request.
//!
//! Clerk's rules: an `Authorization: Bearer <token>` header wins (a value
//! with no space at all is taken whole as the token: `@clerk/backend`
//! `tokens/request.ts` reads `authorization` after removing `Bearer `);
//! only without one is the `__session` cookie read, by Clerk's rule for
//! which of `__session` and `__session_<suffix>` counts
//! (`usesSuffixedCookies`, the same rule on page loads). Header values that
//! are not UTF-8, longer than 16 KiB, or a duplicated `Authorization`
//! header give a clean signed-out result.
//!
//! ```
//! use clerk_core::{Clerk, testing::TestIssuer};
//! use http::{HeaderMap, HeaderValue, header};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let issuer = TestIssuer::new();
//! let clerk = Clerk::new(issuer.config().build()?)?;
//! let mut headers = HeaderMap::new();
//! let cookie = format!("theme=dark; __session={}", issuer.token().user("user_c").build());
//! headers.insert(header::COOKIE, HeaderValue::from_str(&cookie)?);
//! assert_eq!(clerk.authenticate(&headers).await.user_id(), Some("user_c"));
//! // A Bearer header wins over the cookie, even one that does not verify.
//! headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer xyz"));
//! assert!(!clerk.authenticate(&headers).await.is_signed_in());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

use std::borrow::Cow;
use std::net::IpAddr;

use http::HeaderMap;

use crate::cookies::{CookieRule, Cookies, SESSION};

pub(crate) use crate::cookies::MAX_HEADER_LEN;

/// Where a token was found, or why none could be read. Its `Debug` never
/// shows the token.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Extracted<'a> {
    /// From `Authorization: Bearer`.
    Header(&'a str),
    /// From the `__session` (or suffixed) cookie, percent-decoded as
    /// Clerk decodes it.
    Cookie(Cow<'a, str>),
    /// No token anywhere.
    Missing,
    /// A header could not be read (not UTF-8, too long, duplicated).
    Malformed,
}

impl std::fmt::Debug for Extracted<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Header(_) => "Header(…)",
            Self::Cookie(_) => "Cookie(…)",
            Self::Missing => "Missing",
            Self::Malformed => "Malformed",
        })
    }
}

/// A request as clerk-core reads it: its headers, and for a whole request
/// its method, target and peer. Implemented for `http::Request<B>` and
/// `http::request::Parts` (a whole request: page loads are handled Clerk's
/// way) and for `http::HeaderMap` (headers alone: read as an API call, a
/// bearer token or the session cookie, never a page load); adapters for
/// other types wrap them in a type of their own.
pub trait RequestHead {
    /// Every value of the header `name` (given in lowercase), as raw bytes.
    fn values<'a>(&'a self, name: &'static str) -> impl Iterator<Item = &'a [u8]>;

    /// The method and the request target as received (`/dashboard?tab=1`);
    /// `None` for headers alone.
    fn method_and_target(&self) -> Option<(&str, &str)> {
        None
    }

    /// The address the connection comes from, when the server knows it:
    /// the Backend API calls an anonymous request can cause are shared
    /// fairly between clients by it (behind a proxy configured as trusted,
    /// by its `X-Forwarded-For`).
    fn peer(&self) -> Option<IpAddr> {
        None
    }
}

impl RequestHead for HeaderMap {
    fn values<'a>(&'a self, name: &'static str) -> impl Iterator<Item = &'a [u8]> {
        self.get_all(name).iter().map(http::HeaderValue::as_bytes)
    }
}

impl RequestHead for http::request::Parts {
    fn values<'a>(&'a self, name: &'static str) -> impl Iterator<Item = &'a [u8]> {
        RequestHead::values(&self.headers, name)
    }

    fn method_and_target(&self) -> Option<(&str, &str)> {
        Some((self.method.as_str(), target(&self.uri)))
    }
}

impl<B> RequestHead for http::Request<B> {
    fn values<'a>(&'a self, name: &'static str) -> impl Iterator<Item = &'a [u8]> {
        RequestHead::values(self.headers(), name)
    }

    fn method_and_target(&self) -> Option<(&str, &str)> {
        Some((self.method().as_str(), target(self.uri())))
    }
}

/// A request and the address its connection comes from (which the request
/// types themselves do not carry): what a server layer passes to
/// [`Clerk::authenticate`](crate::Clerk::authenticate).
#[derive(Debug, Clone, Copy)]
pub struct WithPeer<'r, R: ?Sized> {
    /// The request.
    pub request: &'r R,
    /// The connection's peer, when known.
    pub peer: Option<IpAddr>,
}

impl<R: RequestHead + ?Sized> RequestHead for WithPeer<'_, R> {
    fn values<'a>(&'a self, name: &'static str) -> impl Iterator<Item = &'a [u8]> {
        self.request.values(name)
    }

    fn method_and_target(&self) -> Option<(&str, &str)> {
        self.request.method_and_target()
    }

    fn peer(&self) -> Option<IpAddr> {
        self.peer
    }
}

/// The request target: path and query, `/` when the URI has none.
fn target(uri: &http::Uri) -> &str {
    uri.path_and_query()
        .map_or("/", http::uri::PathAndQuery::as_str)
}

/// Finds the session token in `headers`; `rule` is the instance's cookie
/// rule (none without a publishable key: the plain cookie only), `now` the
/// time it judges an expired suffixed cookie by (asked only for cookies).
pub(crate) fn extract_token<'a, H: RequestHead + ?Sized>(
    headers: &'a H,
    rule: Option<&CookieRule>,
    now: impl FnOnce() -> i64,
) -> Extracted<'a> {
    let mut auth = headers.values("authorization");
    if let Some(value) = auth.next() {
        if auth.next().is_some() || value.len() > MAX_HEADER_LEN {
            return Extracted::Malformed;
        }
        let Ok(value) = std::str::from_utf8(value) else {
            return Extracted::Malformed;
        };
        return match value.split_once(' ') {
            None if !value.is_empty() => Extracted::Header(value),
            Some(("Bearer", token)) if !token.trim().is_empty() => Extracted::Header(token.trim()),
            // Another scheme (Basic, ...) or an empty value: no session token.
            _ => Extracted::Missing,
        };
    }
    if headers.values("cookie").next().is_none() {
        return Extracted::Missing;
    }
    let Some(cookies) = Cookies::read(headers.values("cookie")) else {
        return Extracted::Malformed;
    };
    let suffix = rule
        .and_then(|r| r.suffix_in_use(&cookies, now()))
        .map(str::to_owned);
    cookies
        .into_value(SESSION, suffix.as_deref())
        .map_or(Extracted::Missing, Extracted::Cookie)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderValue, header};

    /// Extraction with the rule of an instance whose suffix is `suffix`.
    fn ex<'a>(h: &'a HeaderMap, suffix: Option<&str>) -> Extracted<'a> {
        let rule = suffix.map(|s| CookieRule::new(Some(s.into()), "clerk.example.com", false));
        extract_token(h, rule.as_ref(), || 0)
    }

    fn headers(pairs: &[(&str, &[u8])]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in pairs {
            h.append(
                header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_bytes(value).unwrap(),
            );
        }
        h
    }

    #[test]
    fn bearer_header_wins_over_cookies() {
        let h = headers(&[
            ("authorization", b"Bearer tok.en.h"),
            ("cookie", b"__session=cookie.tok.en"),
        ]);
        assert_eq!(ex(&h, None), Extracted::Header("tok.en.h"));
        // A header with another scheme still shadows the cookie.
        let h = headers(&[
            ("authorization", b"Basic dXNlcjpwdw=="),
            ("cookie", b"__session=cookie.tok.en"),
        ]);
        assert_eq!(ex(&h, None), Extracted::Missing);
    }

    #[test]
    fn header_without_space_is_the_token() {
        let h = headers(&[("authorization", b"a.b.c")]);
        assert_eq!(ex(&h, None), Extracted::Header("a.b.c"));
        let h = headers(&[("authorization", b"bearer a.b.c")]);
        assert_eq!(ex(&h, None), Extracted::Missing, "scheme is exact");
        let h = headers(&[("authorization", b"")]);
        assert_eq!(ex(&h, None), Extracted::Missing);
        let h = headers(&[("authorization", b"Bearer ")]);
        assert_eq!(ex(&h, None), Extracted::Missing);
    }

    #[test]
    fn hostile_headers_are_malformed_not_panics() {
        let h = headers(&[("authorization", b"Bearer \xff\xfe")]);
        assert_eq!(ex(&h, None), Extracted::Malformed);
        let long = format!("Bearer {}", "a".repeat(MAX_HEADER_LEN));
        let h = headers(&[("authorization", long.as_bytes())]);
        assert_eq!(ex(&h, None), Extracted::Malformed);
        let h = headers(&[
            ("authorization", b"Bearer a"),
            ("authorization", b"Bearer b"),
        ]);
        assert_eq!(ex(&h, None), Extracted::Malformed);
        let h = headers(&[("cookie", b"__session=\xff")]);
        assert_eq!(ex(&h, None), Extracted::Malformed);
        let long = format!("__session={}", "a".repeat(MAX_HEADER_LEN));
        let h = headers(&[("cookie", long.as_bytes())]);
        assert_eq!(ex(&h, None), Extracted::Malformed);
    }

    #[test]
    fn cookies_plain_and_suffixed() {
        let cookie = |t: &'static str| Extracted::Cookie(t.into());
        let h = headers(&[("cookie", b"a=1; __session=plain; b=2")]);
        assert_eq!(ex(&h, None), cookie("plain"));
        // Neither cookie is a JWT of this instance: Clerk's rule trusts the
        // suffixed one (a plain cookie with no `iss` would be kept instead).
        let h = headers(&[(
            "cookie",
            b"__session=plain; __session_AbCd1234=suffixed; __session_other999=no",
        )]);
        assert_eq!(ex(&h, Some("AbCd1234")), cookie("plain"), "no iss: plain");
        assert_eq!(ex(&h, Some("zzzzzzzz")), cookie("plain"));
        assert_eq!(ex(&h, None), cookie("plain"));
        // Split Cookie headers (HTTP/2) are all read.
        let h = headers(&[("cookie", b"a=1"), ("cookie", b"__session=second")]);
        assert_eq!(ex(&h, None), cookie("second"));
        let h = headers(&[("cookie", b"__sessionx=1; __session=; session=2")]);
        assert_eq!(ex(&h, None), Extracted::Missing);
        let many: String = (0..500).map(|i| format!("c{i}=v; ")).collect();
        let h = headers(&[("cookie", format!("{many}__session=last").as_bytes())]);
        assert_eq!(ex(&h, None), cookie("last"));
        // Values as Clerk reads them: quotes kept, escapes decoded.
        let h = headers(&[("cookie", b"__session=\"a.b.c\"")]);
        assert_eq!(ex(&h, None), cookie("\"a.b.c\""));
        let h = headers(&[("cookie", b"__session=a%2Eb.c")]);
        assert_eq!(ex(&h, None), cookie("a.b.c"));
    }
}
