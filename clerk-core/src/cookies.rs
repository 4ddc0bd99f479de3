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
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::Value;

/// Header values longer than this are refused: Node.js, where Clerk's SDK
/// runs, refuses more by default (`--max-http-header-size`, 16 KiB for all
/// headers), and no token Clerk issues comes near it. (Here, a leaf, so
/// the request module can use it without a circle.)
pub(crate) const MAX_HEADER_LEN: usize = 16 * 1024;

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
    /// Every `Cookie` line (`headers.values("cookie")`); `None` when one
    /// cannot be read (over [`MAX_HEADER_LEN`], or not UTF-8).
    pub(crate) fn read(lines: impl IntoIterator<Item = &'a [u8]>) -> Option<Self> {
        let mut pairs = Vec::new();
        for line in lines {
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
pub(crate) fn has_clerk_cookie<'a>(mut lines: impl Iterator<Item = &'a [u8]>) -> bool {
    lines.any(|line| {
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
        self.choose(cookies, now).0
    }

    /// [`CookieRule::suffix_in_use`], and the plain `__session` as decoded
    /// on the way (when it was), so the caller need not decode it again.
    pub(crate) fn choose(
        &self,
        cookies: &Cookies<'_>,
        now: i64,
    ) -> (Option<&str>, Option<LooseJwt>) {
        let (uses, plain) = self.uses_suffixed(cookies, now);
        (uses.then_some(self.suffix.as_deref()).flatten(), plain)
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
    fn uses_suffixed(&self, cookies: &Cookies<'_>, now: i64) -> (bool, Option<LooseJwt>) {
        let suffix = self.suffix.as_deref();
        if suffix.is_none() {
            return (false, None);
        }
        let mut plain = None;
        let answer = self.uses_suffixed_in(cookies, now, suffix, &mut plain);
        (answer, plain)
    }

    fn uses_suffixed_in(
        &self,
        cookies: &Cookies<'_>,
        now: i64,
        suffix: Option<&str>,
        decoded: &mut Option<LooseJwt>,
    ) -> bool {
        let suffixed_uat = cookies.suffixed(CLIENT_UAT, suffix);
        let uat = cookies.get(CLIENT_UAT);
        let suffixed_session = cookies.suffixed(SESSION, suffix).unwrap_or("");
        let session = cookies.get(SESSION).unwrap_or("");
        *decoded = LooseJwt::decode(session);
        let plain = &*decoded;
        // A malformed plain session (`tokenHasIssuer`: no truthy `iss`):
        // the plain cookies, for a signed-out answer; one of another
        // instance (`tokenBelongsToInstance`): trust the suffixed.
        if !session.is_empty() {
            let iss = plain.as_ref().and_then(|j| j.claims.iss.as_ref());
            if !iss.is_some_and(truthy) {
                return false;
            }
            let belongs = match iss {
                Some(Value::String(iss)) => without_schemes(iss) == self.instance_host,
                _ => false,
            };
            if !belongs {
                return true;
            }
        }
        if suffixed_uat.is_none() && suffixed_session.is_empty() {
            return false;
        }
        let suffixed = LooseJwt::decode(suffixed_session);
        let iat = |j: &Option<LooseJwt>| j.as_ref().and_then(LooseJwt::iat).unwrap_or(0.0);
        if suffixed_uat != Some("0") && uat != Some("0") && iat(plain) > iat(&suffixed) {
            return false;
        }
        if suffixed_uat == Some("0") && uat != Some("0") {
            return false;
        }
        if self.development {
            // `sessionExpired`: `!!jwt && jwt.payload.exp <= now` (no `exp`
            // is not expired).
            let expired = suffixed
                .as_ref()
                .and_then(|j| j.claims.exp.as_ref().and_then(Value::as_f64))
                .is_some_and(|exp| exp <= now as f64);
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

/// A JWT decoded without verification, as Clerk's `decodeJwt`
/// (`jwt/verifyJwt.ts`): three parts, the header and the payload base64url
/// JSON, the signature base64url. Only the claims the cookie rules read
/// are kept (the rest is skimmed, not built: this runs on every cookie
/// request, before the verified-token cache).
#[derive(Debug, Default)]
pub(crate) struct LooseJwt {
    pub(crate) typ: Option<String>,
    pub(crate) cat: Option<String>,
    pub(crate) claims: LooseClaims,
}

/// The claims the cookie rules read, each as sent (any JSON type).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct LooseClaims {
    #[serde(default)]
    pub(crate) iss: Option<Value>,
    #[serde(default)]
    pub(crate) iat: Option<Value>,
    #[serde(default)]
    pub(crate) exp: Option<Value>,
    #[serde(default)]
    pub(crate) sid: Option<Value>,
    #[serde(default)]
    pub(crate) sub: Option<Value>,
}

#[derive(Deserialize)]
struct LooseHeader {
    #[serde(default)]
    typ: Option<Value>,
    #[serde(default)]
    cat: Option<Value>,
}

impl LooseJwt {
    /// `None` where `decodeJwt` errs.
    pub(crate) fn decode(token: &str) -> Option<Self> {
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        let loose = |part: &str| URL_SAFE_NO_PAD.decode(part.trim_end_matches('=')).ok();
        if !s
            .trim_end_matches('=')
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return None;
        }
        let header = loose(h)?;
        let payload = loose(p)?;
        // Any JSON parses (`JSON.parse`); an object gives its claims.
        // Only an object has claims (serde would read an array into the
        // fields by position: `[..]` is parsed, never read).
        let object = |json: &[u8]| json.trim_ascii_start().first() == Some(&b'{');
        let (typ, cat) = if object(&header) {
            let h = serde_json::from_slice::<LooseHeader>(&header).ok()?;
            (string(h.typ), string(h.cat))
        } else {
            serde_json::from_slice::<IgnoredAny>(&header).ok()?;
            (None, None)
        };
        let claims = if object(&payload) {
            serde_json::from_slice::<LooseClaims>(&payload).ok()?
        } else {
            serde_json::from_slice::<IgnoredAny>(&payload).ok()?;
            LooseClaims::default()
        };
        Some(Self { typ, cat, claims })
    }

    /// `payload.iat` as a number, when it is one.
    pub(crate) fn iat(&self) -> Option<f64> {
        self.claims.iat.as_ref().and_then(Value::as_f64)
    }

    /// A string claim.
    pub(crate) fn str_claim(v: Option<&Value>) -> Option<&str> {
        v.and_then(Value::as_str)
    }
}

fn string(v: Option<Value>) -> Option<String> {
    match v {
        Some(Value::String(s)) => Some(s),
        _ => None,
    }
}

/// JavaScript truthiness of a JSON value (`!!value`).
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0 && !f.is_nan()),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

/// `iss.replace(/https?:\/\//gi, '')`: every `http://` and `https://`,
/// in any case, anywhere, removed.
fn without_schemes(iss: &str) -> String {
    let mut out = String::with_capacity(iss.len());
    let mut rest = iss;
    while !rest.is_empty() {
        let starts = |p: &[u8]| {
            rest.as_bytes()
                .get(..p.len())
                .is_some_and(|b| b.eq_ignore_ascii_case(p))
        };
        // The prefixes are ASCII: cutting after them is on a char boundary.
        if starts(b"https://") {
            rest = rest.get(8..).unwrap_or("");
        } else if starts(b"http://") {
            rest = rest.get(7..).unwrap_or("");
        } else {
            let mut chars = rest.chars();
            if let Some(c) = chars.next() {
                out.push(c);
            }
            rest = chars.as_str();
        }
    }
    out
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
        let c = Cookies::read(h.get_all("cookie").iter().map(|v| v.as_bytes())).unwrap();
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

    fn has(h: &HeaderMap) -> bool {
        has_clerk_cookie(h.get_all("cookie").iter().map(|v| v.as_bytes()))
    }

    #[test]
    fn clerk_cookies_are_noticed_cheaply() {
        assert!(has(&headers(&["theme=dark; __session=x"])));
        assert!(has(&headers(&["__client_uat_AbCd1234=0"])));
        assert!(has(&headers(&["x=1", "__clerk_db_jwt=d"])));
        assert!(!has(&headers(&["theme=dark; session=x"])));
        assert!(!has(&HeaderMap::new()));
    }

    #[test]
    fn issuers_and_loose_jwts_as_clerk_reads_them() {
        assert_eq!(without_schemes("https://clerk.x.com"), "clerk.x.com");
        assert_eq!(without_schemes("HTTPS://clerk.x.comhttp://"), "clerk.x.com");
        assert_eq!(without_schemes("hthttps://tp://é"), "http://é");
        assert!(truthy(&Value::from(1)) && !truthy(&Value::from(0)) && !truthy(&Value::from("")));
        let enc = |v: &str| URL_SAFE_NO_PAD.encode(v);
        let jwt = |h: &str, p: &str| format!("{}.{}.c2ln", enc(h), enc(p));
        let j = LooseJwt::decode(&jwt(
            r#"{"typ":"at+jwt"}"#,
            r#"{"iat":5,"iss":7,"x":[1,{}]}"#,
        ))
        .unwrap();
        assert_eq!((j.typ.as_deref(), j.iat()), (Some("at+jwt"), Some(5.0)));
        assert_eq!(j.claims.iss, Some(Value::from(7)));
        // Any JSON parses (no claims); broken JSON, parts or signature do not.
        assert!(
            LooseJwt::decode(&jwt("5", "[1]"))
                .unwrap()
                .claims
                .iss
                .is_none()
        );
        assert!(LooseJwt::decode(&jwt("{", "{}")).is_none());
        assert!(LooseJwt::decode("a.b").is_none());
        assert!(
            LooseJwt::decode(&jwt("{}", r#"["clerk.x", 5]"#))
                .unwrap()
                .iat()
                .is_none()
        );
        assert!(LooseJwt::decode(&format!("{}.{}.*", enc("{}"), enc("{}"))).is_none());
    }

    #[test]
    fn suffix_is_base64url_sha1_prefix() {
        // Built at run time from a placeholder host, never a real key.
        let pk = crate::testing::publishable_key_for("clerk.example.com", false);
        let s = cookie_suffix(&pk);
        assert_eq!(s.len(), 8);
        assert!(
            s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
    }
}
