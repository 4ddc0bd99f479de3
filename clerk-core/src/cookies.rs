//! Clerk's cookies, read as `@clerk/backend` reads them, on every path (page
//! loads, API requests with cookies, the layer's plain extraction): one
//! parser, one rule for which of `__session` and `__session_<suffix>`
//! counts, one reading of `__client_uat`.
//!
//! Sources (`clerk/javascript` at `e21ae9a4`):
//! * parsing: `tokens/clerkRequest.ts` hands the raw `Cookie` header to the
//!   `cookie` package 1.x `parse`: pairs split on `;`, the name and value
//!   trimmed of spaces and tabs only, **no** quote stripping, the value
//!   percent-decoded by `decodeURIComponent` when it holds a `%` (kept as
//!   sent when that throws), the first pair of a name wins even when empty;
//!   `getCookie` then treats an empty value as absent;
//! * the rule: `tokens/authenticateContext.ts` `usesSuffixedCookies` and
//!   `getSuffixedOrUnSuffixedCookie`; the suffix is
//!   `getCookieSuffix` (`@clerk/shared` `keys.ts`): the first 8 characters
//!   of base64url(SHA-1(publishable key));
//! * `__client_uat`: `Number.parseInt(value || '') || 0` (`initCookieValues`).
//!
//! Several `Cookie` lines are read as one list, as Node.js joins them with
//! `; ` before Clerk sees them (`http.IncomingMessage.headers`: "for `cookie`
//! headers, duplicates are joined together with `; `").

use std::borrow::Cow;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use crate::request::{MAX_HEADER_LEN, RequestHeaders};

/// Cookie names (`constants.ts` `Cookies`).
pub(crate) const SESSION: &str = "__session";
pub(crate) const CLIENT_UAT: &str = "__client_uat";
pub(crate) const REFRESH: &str = "__refresh";
pub(crate) const DEV_BROWSER: &str = "__clerk_db_jwt";
pub(crate) const HANDSHAKE: &str = "__clerk_handshake";
pub(crate) const HANDSHAKE_NONCE: &str = "__clerk_handshake_nonce";
pub(crate) const REDIRECT_COUNT: &str = "__clerk_redirect_count";

/// The cookies of a request, in order, as Clerk's parser gives them.
pub(crate) struct Cookies<'a> {
    pairs: Vec<(&'a str, Cow<'a, str>)>,
}

impl<'a> Cookies<'a> {
    /// Every `Cookie` line of `headers`; `None` when one cannot be read
    /// (over [`MAX_HEADER_LEN`], the size Node.js refuses by default
    /// (`--max-http-header-size`, 16 KiB), or not UTF-8).
    pub(crate) fn read<H: RequestHeaders + ?Sized>(headers: &'a H) -> Option<Self> {
        let mut pairs = Vec::new();
        for line in headers.values("cookie") {
            if line.len() > MAX_HEADER_LEN {
                return None;
            }
            for pair in std::str::from_utf8(line).ok()?.split(';') {
                if let Some((name, value)) = pair.split_once('=') {
                    pairs.push((trim(name), decode(trim(value))));
                }
            }
        }
        Some(Self { pairs })
    }

    /// The value of the first cookie `name`, when not empty (`getCookie`).
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_ref())
            .filter(|v| !v.is_empty())
    }

    /// The value of `<name>_<suffix>` (`getSuffixedCookie`).
    pub(crate) fn suffixed(&self, name: &str, suffix: Option<&str>) -> Option<&str> {
        let suffix = suffix?;
        self.pairs
            .iter()
            .find(|(n, _)| {
                n.strip_prefix(name)
                    .and_then(|rest| rest.strip_prefix('_'))
                    .is_some_and(|s| s == suffix)
            })
            .map(|(_, v)| v.as_ref())
            .filter(|v| !v.is_empty())
    }

    /// The first cookie `name` with its value owned, for a token that
    /// outlives the parse.
    pub(crate) fn into_value(self, name: &str, suffixed: Option<&str>) -> Option<Cow<'a, str>> {
        self.pairs
            .into_iter()
            .find(|(n, _)| match suffixed {
                Some(suffix) => n
                    .strip_prefix(name)
                    .and_then(|rest| rest.strip_prefix('_'))
                    .is_some_and(|s| s == suffix),
                None => *n == name,
            })
            .map(|(_, v)| v)
            .filter(|v| !v.is_empty())
    }
}

/// True when a `Cookie` line names one of Clerk's cookies (`__session`,
/// `__client_uat`, `__refresh`, `__clerk_*`, each possibly suffixed): the
/// request is then read by Clerk's cookie rules. Cheap: no allocation.
pub(crate) fn has_clerk_cookie<H: RequestHeaders + ?Sized>(headers: &H) -> bool {
    headers.values("cookie").any(|line| {
        line.split(|b| *b == b';').any(|pair| {
            let name = pair.trim_ascii_start();
            [SESSION, CLIENT_UAT, REFRESH, "__clerk_"]
                .iter()
                .any(|p| name.starts_with(p.as_bytes()))
        })
    })
}

/// The `cookie` package's `valueSlice`: spaces and tabs only.
fn trim(s: &str) -> &str {
    s.trim_matches([' ', '\t'])
}

/// The `cookie` package's `decode`: `decodeURIComponent` when the value
/// holds a `%`, the value as sent when that would throw (a `%` not followed
/// by two hex digits, or bytes that are not UTF-8). `percent_decode_str`
/// alone passes malformed escapes through, so they are checked first.
fn decode(value: &str) -> Cow<'_, str> {
    if !value.contains('%') {
        return Cow::Borrowed(value);
    }
    let bytes = value.as_bytes();
    let well_formed = bytes.iter().enumerate().all(|(i, b)| {
        *b != b'%'
            || (bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
    });
    if !well_formed {
        return Cow::Borrowed(value);
    }
    match percent_encoding::percent_decode_str(value).decode_utf8() {
        Ok(decoded) => Cow::Owned(decoded.into_owned()),
        Err(_) => Cow::Borrowed(value),
    }
}

/// The suffix Clerk appends to cookie names for an instance: the first 8
/// characters of base64url(SHA-1(publishable key)) (`getCookieSuffix`).
pub(crate) fn cookie_suffix(publishable_key: &str) -> String {
    let hash = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY,
        publishable_key.as_bytes(),
    );
    let mut suffix = URL_SAFE_NO_PAD.encode(hash.as_ref());
    suffix.truncate(8);
    suffix
}

/// Which of the plain and suffixed cookies count, for one instance.
#[derive(Debug)]
pub(crate) struct CookieRule {
    suffix: Option<Arc<str>>,
    /// The Frontend API host of the publishable key (the issuer check).
    instance_host: String,
    development: bool,
}

impl CookieRule {
    /// The rule for an instance; without a publishable key (`suffix`
    /// `None`) only the plain cookies exist.
    pub(crate) fn new(suffix: Option<Arc<str>>, instance_host: &str, development: bool) -> Self {
        Self {
            suffix,
            instance_host: instance_host
                .trim_start_matches("https://")
                .trim_start_matches("http://")
                .to_owned(),
            development,
        }
    }

    /// The suffix, when the rule says the suffixed cookies count.
    pub(crate) fn suffix_in_use(&self, cookies: &Cookies<'_>, now: i64) -> Option<&str> {
        if self.uses_suffixed(cookies, now) {
            self.suffix.as_deref()
        } else {
            None
        }
    }

    /// The instance's suffix (the refresh cookie is only ever suffixed).
    pub(crate) fn suffix(&self) -> Option<&str> {
        self.suffix.as_deref()
    }

    /// `getSuffixedOrUnSuffixedCookie(name)` once the rule was applied.
    pub(crate) fn pick<'c>(
        cookies: &'c Cookies<'_>,
        suffix_in_use: Option<&str>,
        name: &str,
    ) -> Option<&'c str> {
        match suffix_in_use {
            Some(_) => cookies.suffixed(name, suffix_in_use),
            None => cookies.get(name),
        }
    }

    /// `usesSuffixedCookies()` (`authenticateContext.ts`), in Clerk's order.
    fn uses_suffixed(&self, cookies: &Cookies<'_>, now: i64) -> bool {
        let suffix = self.suffix.as_deref();
        if suffix.is_none() {
            return false;
        }
        let suffixed_uat = cookies.suffixed(CLIENT_UAT, suffix);
        let uat = cookies.get(CLIENT_UAT);
        let suffixed_session = cookies.suffixed(SESSION, suffix).unwrap_or("");
        let session = cookies.get(SESSION).unwrap_or("");
        // A malformed plain session (no `iss`): the plain cookies, for a
        // signed-out answer; one of another instance: trust the suffixed.
        if !session.is_empty() {
            let iss = loose_payload(session).and_then(|p| p.get("iss").cloned());
            let Some(Value::String(iss)) = iss else {
                return false;
            };
            let host = iss
                .trim_start_matches("https://")
                .trim_start_matches("http://");
            if host != self.instance_host {
                return true;
            }
        }
        if suffixed_uat.is_none() && suffixed_session.is_empty() {
            return false;
        }
        let session_payload = loose_payload(session);
        let suffixed_payload = loose_payload(suffixed_session);
        let session_iat = number_claim(session_payload.as_ref(), "iat");
        let suffixed_iat = number_claim(suffixed_payload.as_ref(), "iat");
        if suffixed_uat != Some("0") && uat != Some("0") && session_iat > suffixed_iat {
            return false;
        }
        if suffixed_uat == Some("0") && uat != Some("0") {
            return false;
        }
        if self.development {
            let expired = suffixed_payload
                .as_ref()
                .is_some_and(|p| number_claim(Some(p), "exp") <= now as f64);
            if suffixed_uat != Some("0") && uat == Some("0") && expired {
                return false;
            }
        }
        if suffixed_uat.is_none() && !suffixed_session.is_empty() {
            return false;
        }
        true
    }
}

/// The loosely decoded payload of a JWT (no verification), as Clerk's
/// `decodeJwt`: three parts, a base64url JSON object in the middle.
pub(crate) fn loose_payload(token: &str) -> Option<serde_json::Map<String, Value>> {
    let mut parts = token.split('.');
    let (_, Some(p), Some(_), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    match serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p.trim_end_matches('=')).ok()?) {
        Ok(Value::Object(map)) => Some(map),
        _ => None,
    }
}

/// A numeric claim, `0` when absent (`payload.iat || 0`).
fn number_claim(payload: Option<&serde_json::Map<String, Value>>, name: &str) -> f64 {
    payload
        .and_then(|p| p.get(name))
        .and_then(Value::as_f64)
        .unwrap_or(0.0)
}

/// `Number.parseInt(value || '') || 0` for `__client_uat`: JavaScript's
/// `parseInt` with no radix (leading JavaScript white space, an optional
/// sign, `0x`/`0X` for hexadecimal, then the longest run of digits; none is
/// `NaN`), and `NaN` or zero read as 0. So `-5` and `+5` are an active
/// client, `0x10` is 16, `"12"` (quoted) is 0, and an over-long number is a
/// large (or infinite) float, exactly as Clerk compares it with `iat`.
pub(crate) fn client_uat(value: Option<&str>) -> f64 {
    let s = value.unwrap_or("").trim_start_matches(is_js_space);
    let (negative, s) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let (radix, s) = match s.get(..2) {
        Some("0x" | "0X") => (16, &s[2..]),
        _ => (10, s),
    };
    let digits = &s[..s
        .bytes()
        .position(|b| !(b as char).is_digit(radix))
        .unwrap_or(s.len())];
    if digits.is_empty() {
        return 0.0;
    }
    let magnitude = if radix == 10 {
        // Rust's parse is correctly rounded, as V8's decimal parsing.
        digits.parse::<f64>().unwrap_or(f64::INFINITY)
    } else {
        digits.bytes().fold(0.0, |acc, b| {
            acc * 16.0 + f64::from((b as char).to_digit(16).unwrap_or(0))
        })
    };
    let value = if negative { -magnitude } else { magnitude };
    if value == 0.0 { 0.0 } else { value }
}

/// JavaScript's `StrWhiteSpaceChar` (white space and line terminators),
/// which `parseInt` skips: unlike Rust's `char::is_whitespace`, it holds
/// U+FEFF and not U+0085.
fn is_js_space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\u{b}' | '\u{c}' | '\r' | ' ' | '\u{a0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200a}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202f}'
                | '\u{205f}'
                | '\u{3000}'
                | '\u{feff}'
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::float_cmp)]
    use super::*;
    use http::{HeaderMap, HeaderValue};

    fn headers(lines: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for l in lines {
            h.append("cookie", HeaderValue::from_str(l).unwrap());
        }
        h
    }

    /// The `cookie` package's answers (1.x `parse`, then `getCookie`).
    #[test]
    fn parsed_as_clerk_parses() {
        let h = headers(&[
            "a=1; b = two ;c=\"q\"; d=%31%32; e=%zz%31; f=%C3%28; g=; g=late; noeq; h=x=y",
            "a=second; i=\t tab\t",
        ]);
        let c = Cookies::read(&h).unwrap();
        assert_eq!(c.get("a"), Some("1"), "the first wins, across lines");
        assert_eq!(c.get("b"), Some("two"));
        assert_eq!(c.get("c"), Some("\"q\""), "quotes are kept");
        assert_eq!(c.get("d"), Some("12"), "percent-decoded");
        assert_eq!(c.get("e"), Some("%zz%31"), "a malformed escape: as sent");
        assert_eq!(c.get("f"), Some("%C3%28"), "not UTF-8: as sent");
        assert_eq!(c.get("g"), None, "an empty first value hides a later one");
        assert_eq!(c.get("noeq"), None);
        assert_eq!(c.get("h"), Some("x=y"));
        assert_eq!(c.get("i"), Some("tab"));
    }

    #[test]
    fn client_uat_is_parse_int_or_zero() {
        for (v, want) in [
            (None, 0.0),
            (Some(""), 0.0),
            (Some("0"), 0.0),
            (Some("-0"), 0.0),
            (Some("1700000000"), 1_700_000_000.0),
            (Some("  12abc"), 12.0),
            (Some("-5"), -5.0),
            (Some("+5"), 5.0),
            (Some("0x10"), 16.0),
            (Some("0X1f"), 31.0),
            (Some("0x"), 0.0),
            (Some("\"12\""), 0.0),
            (Some("12.9"), 12.0),
            (Some("1e3"), 1.0),
            (Some("\u{feff}7"), 7.0),
            (Some("\u{85}7"), 0.0),
            (Some("abc"), 0.0),
            (Some("99999999999999999999999"), 1e23),
        ] {
            assert_eq!(client_uat(v), want, "{v:?}");
        }
        assert_eq!(client_uat(Some(&"9".repeat(400))), f64::INFINITY);
    }

    #[test]
    fn clerk_cookies_are_noticed_cheaply() {
        assert!(has_clerk_cookie(&headers(&["theme=dark; __session=x"])));
        assert!(has_clerk_cookie(&headers(&["__client_uat_AbCd1234=0"])));
        assert!(has_clerk_cookie(&headers(&["x=1", "__clerk_db_jwt=d"])));
        assert!(!has_clerk_cookie(&headers(&["theme=dark; session=x"])));
        assert!(!has_clerk_cookie(&HeaderMap::new()));
    }

    #[test]
    fn suffix_is_base64url_sha1_prefix() {
        let s = cookie_suffix("pk_test_Y2xlcmsuZXhhbXBsZS5jb20k");
        assert_eq!(s.len(), 8);
        assert!(
            s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
    }
}
