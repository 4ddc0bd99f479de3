//! Entry points for the fuzz targets in `fuzz/` (feature `fuzzing`): thin
//! calls into the crate-private parsers, so the targets reach exactly the
//! code a request reaches. Not part of the API; never in a default build.
//! Each function must return (never panic, never hang) for every input.

use std::sync::Arc;

use http::{HeaderMap, HeaderName, HeaderValue, Method};

use crate::json::Fields;
use crate::protect::RouteMatcher;
use crate::request::{RequestHead, extract_token};
use crate::session::Session;
use crate::token::{Shape, parse_as};
use crate::{Requirement, authorize::Preset};

/// The token parser, under every header shape.
pub fn token(data: &[u8]) {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    for shape in [Shape::Session, Shape::M2m, Shape::OAuth] {
        let _ = parse_as(token, shape);
    }
    let _ = crate::machine::detect(token);
}

/// The strict JSON reader (one object, no duplicate names at any depth).
pub fn json(data: &[u8]) {
    let slot_of: crate::json::SlotOf = |name| match name {
        "sub" => Some(0),
        "exp" => Some(1),
        "o" => Some(2),
        "fva" => Some(3),
        _ => None,
    };
    if let Some(mut fields) = Fields::<4>::parse(data, slot_of) {
        for slot in 0..4 {
            if let Some(field) = fields.take(slot) {
                let _ = field.as_str();
                let _ = field.into_value();
            }
        }
    }
    let _ = Fields::<4>::parse_first(data, slot_of, 1);
}

/// Claims normalisation (v1 and v2 shapes) from the payload bytes, through
/// the strict reader a token's payload takes, and `has()` over the result.
pub fn claims(data: &[u8]) {
    let Ok(fields) = crate::session::payload::parse_claims(data) else {
        return;
    };
    let Ok(session) = Session::from_fields(fields) else {
        return;
    };
    for requirement in [
        Requirement::role("org:admin"),
        Requirement::permission("org:billing:manage"),
        Requirement::plan("pro"),
        Requirement::feature("u:export"),
        Requirement::reverification(Preset::Strict),
        Requirement::mfa(),
        Requirement::scope("read"),
        Requirement::role("admin").or(Requirement::plan("o:pro").not()),
    ] {
        let _ = requirement.is_met_by(&session);
    }
    let _ = (session.organization(), session.plans().raw().count());
    let _ = (session.factor_age(), session.actor(), session.status());
}

/// Header lines (`name: value`, one per line) as a header map; lines that
/// are not a valid header are skipped.
fn headers(data: &[u8]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for line in data.split(|b| *b == b'\n') {
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name),
            HeaderValue::from_bytes(value.trim_ascii()),
        ) {
            map.append(n, v);
        }
    }
    map
}

/// Token extraction from `Authorization` and cookies, and a page
/// request's URL and cookies.
pub fn extraction(data: &[u8]) {
    let map = headers(data);
    let _ = extract_token(&map, None, || 0);
    let rule = crate::cookies::CookieRule::new(Some("AbCd1234".into()), "clerk.example.com", true);
    let _ = extract_token(&map, Some(&rule), || 0);
    let _ = crate::browser::PageRequest::read("GET", "/dashboard?x=1", &map);
    let _ = RequestHead::values(&map, "authorization").count();
}

/// The route matcher: the first line's patterns (separated by `|`), and
/// every other line a path matched under several methods.
pub fn routes(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut lines = text.lines();
    let patterns: Vec<&str> = lines.next().unwrap_or("").split('|').collect();
    let Ok(matcher) = RouteMatcher::new(patterns) else {
        return;
    };
    for path in lines {
        for method in [Method::GET, Method::HEAD, Method::OPTIONS, Method::POST] {
            let _ = matcher.matches(&method, path);
        }
    }
}

/// Webhook verification: `data` as headers and body (split at the first
/// empty line) verified as sent, then the body signed correctly so the
/// event reader is reached too.
pub fn webhook(data: &[u8]) {
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let clock = Arc::new(crate::clock::ManualClock::new(1_700_000_000));
    let Ok(verifier) = crate::webhook::WebhookVerifier::new(SECRET) else {
        return;
    };
    let verifier = verifier.with_clock(clock);
    let split = data.windows(2).position(|w| w == b"\n\n");
    let (head, body) = match split {
        Some(i) => (&data[..i], &data[i + 2..]),
        None => (&data[..0], data),
    };
    let _ = verifier.verify(&headers(head), body);
    let Ok(signer) = crate::webhook::WebhookSigner::new(SECRET) else {
        return;
    };
    let mut signed = HeaderMap::new();
    for (name, value) in signer.headers("msg_fuzz", 1_700_000_000, body) {
        if let Ok(v) = HeaderValue::from_str(&value) {
            signed.insert(name, v);
        }
    }
    let _ = verifier.verify(&signed, body);
}
