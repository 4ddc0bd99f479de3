//! Strict parsing of a compact JWS (`header.payload.signature`).
//!
//! Stricter than Clerk's SDK, on purpose: a size cap before any split,
//! exactly three segments, canonical unpadded base64url, header and payload
//! must be JSON objects with no duplicate member names (at any depth), `crit`
//! and `cty` are refused, `typ` must be absent or `JWT`, and key-locating
//! header fields (`jku`, `x5u`, `jwk`, `x5c`) are never read. The signature is
//! not checked here; see `verify.rs`.
//!
//! ```
//! use clerk_core::{Clerk, Reason, testing::TestIssuer};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let issuer = TestIssuer::new();
//! let verifier = Clerk::new(issuer.config().build()?)?;
//! // Refused before the signature is looked at: a `crit` header, two segments.
//! let crit = issuer.token().header("crit", vec!["exp"]).build();
//! for token in [crit.as_str(), "a.b"] {
//!     assert_eq!(verifier.verify(token).await.unwrap_err().reason(), Reason::TokenInvalid);
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::{Reason, VerifyError};
use crate::json::{Field, Fields};

/// Tokens longer than this many bytes are refused before any other work.
/// Clerk's session tokens live in a cookie, which browsers cap at 4 KB, and
/// Clerk's docs keep custom claims under 1.2 KB for that reason
/// (clerk.com/docs/backend-requests/custom-session-token); machine JWTs are
/// smaller. Twice the cookie cap leaves room and bounds the work.
pub(crate) const MAX_TOKEN_LEN: usize = 8 * 1024;

// Token categories (`cat`), from `@clerk/backend` (`JWT_CATEGORY_*` and
// `isNonSessionJwtCategory`, kept in sync there with clerk_go's
// `pkg/jwt/jwt.go`). They are read as allow-lists: a category this crate
// does not know is not a session token.
/// The header `cat` of Clerk's session tokens.
pub(crate) const CATEGORY_SESSION: &str = "cl_B7d4PD111AAA";
/// The header `cat` of Clerk's machine-to-machine tokens.
pub(crate) const CATEGORY_M2M: &str = "cl_B7d4PD333AAA";
/// The header `cat` of Clerk's JWT-template tokens.
#[cfg(test)]
pub(crate) const CATEGORY_JWT_TEMPLATE: &str = "cl_B7d4PD222AAA";
/// The header `cat` that instances with `use_ignore_jwt_cat` stamp on every
/// token class: it says nothing about the kind, so it is read as absent.
pub(crate) const CATEGORY_IGNORE: &str = "cl_I7d4PD111III";

/// The RSA PKCS#1 v1.5 signature algorithms a Clerk session token may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (what Clerk issues).
    Rs256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    Rs384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    Rs512,
}

impl Algorithm {
    /// Reads a JOSE `alg` name; anything but `RS256`/`RS384`/`RS512` is `None`.
    pub(crate) fn from_name(name: &str) -> Option<Self> {
        match name {
            "RS256" => Some(Self::Rs256),
            "RS384" => Some(Self::Rs384),
            "RS512" => Some(Self::Rs512),
            _ => None,
        }
    }

    /// The JOSE name, e.g. `"RS256"`.
    pub(crate) const fn name(self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
            Self::Rs384 => "RS384",
            Self::Rs512 => "RS512",
        }
    }

    /// The aws-lc-rs verification parameters (2048–8192-bit moduli only).
    pub(crate) fn verification(self) -> &'static aws_lc_rs::signature::RsaParameters {
        use aws_lc_rs::signature as sig;
        match self {
            Self::Rs256 => &sig::RSA_PKCS1_2048_8192_SHA256,
            Self::Rs384 => &sig::RSA_PKCS1_2048_8192_SHA384,
            Self::Rs512 => &sig::RSA_PKCS1_2048_8192_SHA512,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The header fields this crate reads. Everything else is ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Header {
    /// The signature algorithm (already restricted to the RS family).
    pub alg: Algorithm,
    /// The key id, used to pick the key from a key set.
    pub kid: Option<String>,
    /// Clerk's token category (`cat`), when present.
    pub cat: Option<String>,
}

/// A token split and decoded, signature not yet checked. Its `Debug` shows
/// only the header and lengths, never enough to rebuild the token.
pub(crate) struct ParsedToken<'a> {
    /// The checked header.
    pub header: Header,
    /// The decoded payload JSON; [`crate::session`] reads it (its structure
    /// before the signature is checked, its claims after).
    pub payload: Vec<u8>,
    /// `header.payload`, the bytes the signature covers.
    pub signing_input: &'a str,
    /// The decoded signature.
    pub signature: Vec<u8>,
}

impl std::fmt::Debug for ParsedToken<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParsedToken")
            .field("header", &self.header)
            .field("payload_len", &self.payload.len())
            .field("signature_len", &self.signature.len())
            .finish_non_exhaustive()
    }
}

const fn invalid(message: &'static str) -> VerifyError {
    VerifyError::new(Reason::TokenInvalid, message)
}

/// What kind of JWT a parse expects; it decides the `typ` and `cat` rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// A session token: `typ` absent or `JWT`; `cat` absent or the session
    /// category.
    Session,
    /// A JWT machine-to-machine token: `typ` absent or `JWT`; `cat` absent
    /// or the M2M category.
    M2m,
    /// A JWT OAuth access token: `typ` must be `at+jwt` (RFC 9068).
    OAuth,
}

/// Splits, decodes and checks a compact JWS as a session token. See the
/// module docs for the rules.
///
/// # Errors
/// `token-invalid` for structural problems, `token-invalid-algorithm` for a
/// non-RS `alg`, `token-type-mismatch` for machine or template categories.
pub(crate) fn parse(token: &str) -> Result<ParsedToken<'_>, VerifyError> {
    parse_as(token, Shape::Session)
}

/// Like [`parse`], with the header rules of `shape`.
///
/// # Errors
/// As [`parse`].
pub(crate) fn parse_as(token: &str, shape: Shape) -> Result<ParsedToken<'_>, VerifyError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(invalid("token is larger than 8 KiB"));
    }
    let mut parts = token.split('.');
    let (Some(h64), Some(p64), Some(s64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid("token must have exactly three segments"));
    };
    let header = URL_SAFE_NO_PAD
        .decode(h64)
        .map_err(|_| invalid("header is not canonical base64url"))?;
    let header = Fields::parse(&header, header_slot).ok_or(invalid(
        "header is not a JSON object without duplicate members",
    ))?;
    let payload = URL_SAFE_NO_PAD
        .decode(p64)
        .map_err(|_| invalid("payload is not canonical base64url"))?;
    let signature = URL_SAFE_NO_PAD
        .decode(s64)
        .map_err(|_| invalid("signature is not canonical base64url"))?;
    let header = check_header(header, shape).map_err(|e| {
        // Structure (step 1) outranks the header rules (step 2): a payload
        // that is not a JSON object makes the token `token-invalid`
        // whatever its header says. Checked only on this error path.
        if crate::session::parse_claims(&payload).is_err() {
            invalid("payload is not a JSON object without duplicate members")
        } else {
            e
        }
    })?;
    Ok(ParsedToken {
        header,
        payload,
        signing_input: &token[..h64.len() + 1 + p64.len()],
        signature,
    })
}

// The header members this crate reads; the rest are checked and ignored
// (`jku`, `x5u`, `jwk` and `x5c` included: keys never come from a token).
const ALG: usize = 0;
const TYP: usize = 1;
const KID: usize = 2;
const CAT: usize = 3;
const CRIT: usize = 4;
const CTY: usize = 5;

fn header_slot(name: &str) -> Option<usize> {
    Some(match name {
        "alg" => ALG,
        "typ" => TYP,
        "kid" => KID,
        "cat" => CAT,
        "crit" => CRIT,
        "cty" => CTY,
        _ => return None,
    })
}

fn check_header(mut header: Fields<'_, 6>, shape: Shape) -> Result<Header, VerifyError> {
    let alg = header
        .get(ALG)
        .and_then(Field::as_str)
        .and_then(Algorithm::from_name)
        .ok_or(VerifyError::new(
            Reason::TokenInvalidAlgorithm,
            "alg must be RS256, RS384 or RS512",
        ))?;
    let typ = header.get(TYP).map(|t| t.as_str());
    match (shape, typ) {
        (Shape::Session | Shape::M2m, None | Some(Some("JWT"))) => {}
        (Shape::OAuth, Some(Some("at+jwt" | "application/at+jwt"))) => {}
        (Shape::OAuth, _) => return Err(invalid("typ must be at+jwt for an OAuth access token")),
        (Shape::Session, Some(Some("at+jwt" | "application/at+jwt"))) => {
            return Err(VerifyError::new(
                Reason::TokenTypeMismatch,
                "an OAuth access token is not a session token",
            ));
        }
        _ => return Err(invalid("typ must be JWT when present")),
    }
    if header.get(CRIT).is_some() {
        return Err(invalid("crit header parameter is not supported"));
    }
    if header.get(CTY).is_some() {
        return Err(invalid("cty header parameter is not allowed"));
    }
    let kid = match header.take(KID) {
        None => None,
        Some(Field::Str(k)) => Some(k.into_owned()),
        Some(_) => return Err(invalid("kid must be a string")),
    };
    let cat = header.take(CAT).and_then(Field::into_string);
    let category_ok = match shape {
        Shape::Session => matches!(
            cat.as_deref(),
            None | Some(CATEGORY_SESSION | CATEGORY_IGNORE)
        ),
        Shape::M2m => matches!(cat.as_deref(), None | Some(CATEGORY_M2M | CATEGORY_IGNORE)),
        Shape::OAuth => true,
    };
    if !category_ok {
        return Err(VerifyError::new(
            Reason::TokenTypeMismatch,
            "the token category is not the kind expected",
        ));
    }
    Ok(Header { alg, kid, cat })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        URL_SAFE_NO_PAD.encode(s)
    }

    fn token(header: &str, payload: &str) -> String {
        format!("{}.{}.{}", b64(header), b64(payload), b64("sig"))
    }

    const H: &str = r#"{"alg":"RS256","kid":"k1","typ":"JWT"}"#;
    const P: &str = r#"{"sub":"user_1"}"#;

    /// Structure errors of the payload are found by `claims`, right after
    /// `parse` and before the signature; check both here.
    fn reason(t: &str) -> Reason {
        parse(t)
            .and_then(|p| crate::session::parse_claims(&p.payload).map(|_| ()))
            .unwrap_err()
            .reason()
    }

    #[test]
    fn parses_a_well_formed_token() {
        let t = token(H, P);
        let p = parse(&t).unwrap();
        assert_eq!(p.header.alg, Algorithm::Rs256);
        assert_eq!(p.header.kid.as_deref(), Some("k1"));
        assert_eq!(p.signature, b"sig");
        assert_eq!(p.signing_input, &t[..t.rfind('.').unwrap()]);
    }

    #[test]
    fn size_cap_applies_before_split() {
        let big = "a".repeat(MAX_TOKEN_LEN + 1);
        assert_eq!(reason(&big), Reason::TokenInvalid);
        let payload = format!(r#"{{"sub":"user_1","pad":"{}"}}"#, "x".repeat(7000));
        assert_eq!(reason(&token(H, &payload)), Reason::TokenInvalid);
    }

    #[test]
    fn exactly_three_segments() {
        let t = token(H, P);
        assert_eq!(reason(&format!("{t}.x")), Reason::TokenInvalid);
        assert_eq!(
            reason(&format!("{}.{}", b64(H), b64(P))),
            Reason::TokenInvalid
        );
        assert_eq!(reason(""), Reason::TokenInvalid);
        assert_eq!(reason("abc"), Reason::TokenInvalid);
    }

    #[test]
    fn base64url_must_be_strict() {
        let good = token(H, P);
        let (h, rest) = good.split_once('.').unwrap();
        // Padding.
        assert_eq!(reason(&format!("{h}=.{rest}")), Reason::TokenInvalid);
        // Standard alphabet characters.
        let std_h = h.replace('_', "/").replace('-', "+");
        let with_plus = format!("{}+.{rest}", &std_h[..std_h.len() - 1]);
        assert_eq!(reason(&with_plus), Reason::TokenInvalid);
        // Whitespace.
        assert_eq!(reason(&format!(" {h}.{rest}")), Reason::TokenInvalid);
        assert_eq!(reason(&format!("{h}.{rest}\n")), Reason::TokenInvalid);
        // Non-canonical trailing bits: "sig" is c2ln; c2lo decodes to the
        // same bytes only if trailing bits were ignored... use a 2-byte tail.
        let t = format!("{}.{}.AB", b64(H), b64(P)); // 'B' leaves non-zero trailing bits
        assert_eq!(reason(&t), Reason::TokenInvalid);
        let t = format!("{}.{}.AA", b64(H), b64(P));
        assert!(parse(&t).is_ok());
    }

    #[test]
    fn header_and_payload_must_be_objects() {
        assert_eq!(reason(&token("[1]", P)), Reason::TokenInvalid);
        assert_eq!(reason(&token(H, "\"str\"")), Reason::TokenInvalid);
        assert_eq!(reason(&token(H, "{")), Reason::TokenInvalid);
        assert_eq!(reason(&token(H, r#"{"a":1} {}"#)), Reason::TokenInvalid);
    }

    #[test]
    fn duplicate_members_are_rejected_at_any_depth() {
        let dup_header = r#"{"alg":"RS256","alg":"none"}"#;
        assert_eq!(reason(&token(dup_header, P)), Reason::TokenInvalid);
        let dup_payload = r#"{"sub":"user_1","sub":"user_2"}"#;
        assert_eq!(reason(&token(H, dup_payload)), Reason::TokenInvalid);
        let nested = r#"{"sub":"user_1","o":{"rol":"a","rol":"b"}}"#;
        assert_eq!(reason(&token(H, nested)), Reason::TokenInvalid);
        let in_array = r#"{"sub":"user_1","x":[{"a":1,"a":2}]}"#;
        assert_eq!(reason(&token(H, in_array)), Reason::TokenInvalid);
        // Many members (the hash-set path): the duplicate is still found.
        let many: String = (0..40).map(|i| format!(r#""m{i}":1,"#)).collect();
        assert_eq!(
            reason(&token(H, &format!(r#"{{{many}"m3":2}}"#))),
            Reason::TokenInvalid
        );
        let nested = format!(r#"{{"sub":"u","o":{{{many}"m39":2}}}}"#);
        assert_eq!(reason(&token(H, &nested)), Reason::TokenInvalid);
        let ok = format!(r#"{{{many}"sub":"u"}}"#);
        assert!(parse(&token(H, &ok)).is_ok());
    }

    #[test]
    fn only_rs_algorithms() {
        for alg in ["none", "HS256", "ES256", "PS256", "rs256", ""] {
            let h = format!(r#"{{"alg":"{alg}","kid":"k1"}}"#);
            assert_eq!(reason(&token(&h, P)), Reason::TokenInvalidAlgorithm);
        }
        assert_eq!(
            reason(&token(r#"{"kid":"k1"}"#, P)),
            Reason::TokenInvalidAlgorithm
        );
        assert_eq!(
            reason(&token(r#"{"alg":256}"#, P)),
            Reason::TokenInvalidAlgorithm
        );
        for alg in ["RS384", "RS512"] {
            let h = format!(r#"{{"alg":"{alg}","kid":"k1"}}"#);
            assert_eq!(parse(&token(&h, P)).unwrap().header.alg.name(), alg);
        }
    }

    #[test]
    fn crit_and_cty_are_refused() {
        for h in [
            r#"{"alg":"RS256","crit":["exp"]}"#,
            r#"{"alg":"RS256","cty":"JWT"}"#,
        ] {
            assert_eq!(reason(&token(h, P)), Reason::TokenInvalid, "{h}");
        }
    }

    #[test]
    fn typ_absent_or_jwt() {
        assert!(parse(&token(r#"{"alg":"RS256"}"#, P)).is_ok());
        for typ in [r#""jwt""#, "1", "null", r#""JOSE""#] {
            let h = format!(r#"{{"alg":"RS256","typ":{typ}}}"#);
            assert_eq!(reason(&token(&h, P)), Reason::TokenInvalid);
        }
        // An OAuth access token is a token of another type.
        let h = r#"{"alg":"RS256","typ":"at+jwt"}"#;
        assert_eq!(reason(&token(h, P)), Reason::TokenTypeMismatch);
        assert!(parse_as(&token(h, P), Shape::OAuth).is_ok());
        assert!(parse_as(&token(r#"{"alg":"RS256"}"#, P), Shape::OAuth).is_err());
    }

    #[test]
    fn structure_outranks_header_rules() {
        // alg "none" with a payload that is not JSON: structure first.
        let h = r#"{"alg":"none"}"#;
        assert_eq!(reason(&token(h, "not json")), Reason::TokenInvalid);
        assert_eq!(reason(&token(h, P)), Reason::TokenInvalidAlgorithm);
        let t = token(H, P);
        let p = parse(&t).unwrap();
        let shown = format!("{p:?}");
        assert!(!shown.contains(&t[..20]) && shown.contains("payload_len"));
    }

    #[test]
    fn kid_must_be_a_string() {
        let h = r#"{"alg":"RS256","kid":7}"#;
        assert_eq!(reason(&token(h, P)), Reason::TokenInvalid);
    }

    #[test]
    fn key_locating_headers_are_ignored() {
        let h = r#"{"alg":"RS256","kid":"k1","jku":"https://evil.example/jwks","x5u":"https://evil.example/x5u","jwk":{"kty":"RSA"},"x5c":["AAAA"]}"#;
        let t = token(h, P);
        let p = parse(&t).unwrap();
        assert_eq!(p.header.kid.as_deref(), Some("k1"));
    }

    #[test]
    fn categories_are_allow_lists() {
        // Session tokens: absent, the session category, or the "ignore" one.
        for cat in [
            CATEGORY_M2M,
            CATEGORY_JWT_TEMPLATE,
            "cl_B7d4PD444AAA", // a category Clerk may add later
            "",
            "CL_B7D4PD111AAA",
        ] {
            let h = format!(r#"{{"alg":"RS256","cat":"{cat}"}}"#);
            assert_eq!(reason(&token(&h, P)), Reason::TokenTypeMismatch, "{cat}");
        }
        for cat in [CATEGORY_SESSION, CATEGORY_IGNORE] {
            let h = format!(r#"{{"alg":"RS256","cat":"{cat}"}}"#);
            assert!(parse(&token(&h, P)).is_ok(), "{cat}");
        }
        // M2M JWTs: absent, the M2M category, or the "ignore" one.
        for (cat, ok) in [
            (CATEGORY_M2M, true),
            (CATEGORY_IGNORE, true),
            (CATEGORY_SESSION, false),
            (CATEGORY_JWT_TEMPLATE, false),
            ("cl_B7d4PD444AAA", false),
        ] {
            let h = format!(r#"{{"alg":"RS256","cat":"{cat}"}}"#);
            assert_eq!(parse_as(&token(&h, P), Shape::M2m).is_ok(), ok, "{cat}");
        }
        assert!(parse_as(&token(r#"{"alg":"RS256"}"#, P), Shape::M2m).is_ok());
        let h = r#"{"alg":"RS256","cat":"cl_B7d4PD111AAA","oiat":1}"#;
        assert_eq!(
            parse(&token(h, P)).unwrap().header.cat.as_deref(),
            Some("cl_B7d4PD111AAA")
        );
    }

    #[test]
    fn garbage_never_panics() {
        for t in [
            "..",
            "...",
            ".a.",
            "a..",
            "\u{1F600}.\u{1F600}.\u{1F600}",
            "eyJ.eyJ.eyJ",
        ] {
            assert!(parse(t).is_err(), "{t:?}");
        }
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        let t = format!("{}.{}.", b64(H), b64(&deep));
        assert!(t.len() > MAX_TOKEN_LEN || parse(&t).is_err());
        let deep = format!("{{\"a\":{}1{}}}", "[".repeat(2000), "]".repeat(2000));
        assert_eq!(reason(&token(H, &deep)), Reason::TokenInvalid);
    }
}
