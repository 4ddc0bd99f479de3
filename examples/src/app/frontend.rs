//! Dev mode's stand-in for a Clerk instance's Frontend API, on axum at
//! `http://localhost:<port>` (bound to `127.0.0.1:0`): a sign-in page
//! listing the personas, sign-in and sign-out that set the cookies Clerk's
//! script sets (`__client_uat`, a short-lived `__session`, the dev browser
//! `__clerk_db_jwt`), and `/v1/client/handshake`, which mints a fresh
//! session token for the signed-in dev client and sends the browser back
//! with a `__clerk_handshake` token signed by the dev key, as Clerk's
//! Frontend API does. Cookies ignore ports, so the app on another
//! `localhost` port sees what this sets.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use clerk_core::clock::Clock;
use serde::Deserialize;
use serde_json::{Value, json};

use super::DevMode;

/// The dev client cookie (this stand-in's own, as Clerk's `__client`):
/// `<persona>:<signed-in-at>`.
const CLIENT: &str = "__dev_client";
/// The dev browser token every dev-mode cookie set carries.
const DEV_BROWSER: &str = "dvb_dev_throwaway";

/// The running stand-in.
#[derive(Debug, Clone)]
pub struct DevFrontendApi {
    base_url: String,
}

#[derive(Clone)]
struct Fapi {
    dev: Arc<DevMode>,
    ttl: i64,
    clock: Arc<dyn Clock>,
}

impl DevFrontendApi {
    /// Starts it on `127.0.0.1:0`; session tokens it mints live `ttl`
    /// seconds (Clerk's are 60) by `clock`.
    ///
    /// # Errors
    /// When no local port can be bound.
    pub async fn start(
        dev: Arc<DevMode>,
        ttl: i64,
        clock: Arc<dyn Clock>,
    ) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr: SocketAddr = listener.local_addr()?;
        let app = Router::new()
            .route("/sign-in", get(sign_in_page))
            .route("/v1/dev/sign-in", get(sign_in))
            .route("/v1/dev/sign-out", get(sign_out))
            .route("/v1/client/handshake", get(handshake))
            .with_state(Fapi { dev, ttl, clock });
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self {
            base_url: format!("http://localhost:{}", addr.port()),
        })
    }

    /// `http://localhost:<port>`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }
}

#[derive(Deserialize)]
struct Back {
    redirect_url: Option<String>,
    persona: Option<String>,
}

/// Only back to a local page: this stand-in never redirects elsewhere
/// (an `http` URL whose host is `localhost` or `127.0.0.1`, no user info).
fn local(url: Option<&str>) -> String {
    let ok = url.and_then(|u| {
        let uri: axum::http::Uri = u.parse().ok()?;
        let authority = uri.authority()?;
        let local = uri.scheme_str() == Some("http")
            && !authority.as_str().contains('@')
            && matches!(authority.host(), "localhost" | "127.0.0.1");
        local.then(|| u.to_owned())
    });
    ok.unwrap_or_else(|| "/".to_owned())
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|p| p.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn sign_in_page(State(f): State<Fapi>, Query(q): Query<Back>) -> Html<String> {
    let back = local(q.redirect_url.as_deref());
    let rows: String = f
        .dev
        .personas
        .iter()
        .map(|p| {
            format!(
                "<li><a class=\"persona\" href=\"/v1/dev/sign-in?persona={}&amp;redirect_url={}\">{}</a> <span>{}</span></li>\n",
                encode(p.name),
                encode(&back),
                escape(p.name),
                escape(p.description)
            )
        })
        .collect();
    Html(format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Sign in (dev)</title>\
         <style>{}</style></head><body><main><h1>Sign in</h1>\
         <p class=\"note\">Dev mode: a local stand-in for your Clerk instance. Pick a persona.</p>\
         <ul>{rows}</ul></main></body></html>",
        super::routes::STYLE
    ))
}

/// A fresh session token for `persona` (its claims re-signed with `iat`
/// now and `exp` after the stand-in's lifetime).
fn mint(f: &Fapi, persona: &str) -> Option<String> {
    let p = f.dev.personas.iter().find(|p| p.name == persona)?;
    let mut parts = p.token.split('.');
    let (h, b) = (parts.next()?, parts.next()?);
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header: Value = serde_json::from_slice(&b64.decode(h).ok()?).ok()?;
    let mut payload: Value = serde_json::from_slice(&b64.decode(b).ok()?).ok()?;
    let now = f.clock.now_unix();
    payload["iat"] = json!(now);
    payload["nbf"] = json!(now - 10);
    payload["exp"] = json!(now + f.ttl);
    Some(f.dev.issuer.sign_raw(&header, &payload))
}

fn redirect(to: &str, cookies: &[String]) -> Response {
    let mut res = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(c) {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// The cookies of a signed-in (or, without a persona, signed-out) client.
fn session_cookies(f: &Fapi, signed_in: Option<(&str, i64)>) -> Vec<String> {
    let mut cookies = vec![format!(
        "__clerk_db_jwt={DEV_BROWSER}; Path=/; SameSite=Lax"
    )];
    match signed_in.and_then(|(p, uat)| Some((mint(f, p)?, uat))) {
        Some((token, uat)) => {
            cookies.push(format!("__session={token}; Path=/; SameSite=Lax"));
            cookies.push(format!("__client_uat={uat}; Path=/; SameSite=Lax"));
        }
        None => {
            cookies.push("__session=; Path=/; SameSite=Lax; Max-Age=0".to_owned());
            cookies.push("__client_uat=0; Path=/; SameSite=Lax".to_owned());
        }
    }
    cookies
}

async fn sign_in(State(f): State<Fapi>, Query(q): Query<Back>) -> Response {
    let back = local(q.redirect_url.as_deref());
    let Some(persona) = q
        .persona
        .filter(|p| f.dev.personas.iter().any(|x| x.name == p.as_str()))
    else {
        return (StatusCode::BAD_REQUEST, "unknown persona").into_response();
    };
    let uat = f.clock.now_unix();
    let mut cookies = session_cookies(&f, Some((&persona, uat)));
    cookies.push(format!(
        "{CLIENT}={persona}:{uat}; Path=/; HttpOnly; SameSite=Lax"
    ));
    redirect(&back, &cookies)
}

async fn sign_out(State(f): State<Fapi>, Query(q): Query<Back>) -> Response {
    let mut cookies = session_cookies(&f, None);
    cookies.push(format!("{CLIENT}=; Path=/; Max-Age=0"));
    redirect(&local(q.redirect_url.as_deref()), &cookies)
}

/// Clerk's `/v1/client/handshake`: the client's cookies as directives in
/// a handshake token, and back to `redirect_url` with it.
async fn handshake(State(f): State<Fapi>, Query(q): Query<Back>, headers: HeaderMap) -> Response {
    let back = local(q.redirect_url.as_deref());
    let client = cookie(&headers, CLIENT).and_then(|c| {
        let (p, uat) = c.split_once(':')?;
        Some((p.to_owned(), uat.parse::<i64>().ok()?))
    });
    let directives = session_cookies(&f, client.as_ref().map(|(p, u)| (p.as_str(), *u)));
    let token = f.dev.issuer.sign_raw(
        &json!({"alg": "RS256", "kid": f.dev.issuer.kid(), "typ": "JWT"}),
        &json!({ "handshake": directives }),
    );
    let sep = if back.contains('?') { '&' } else { '?' };
    let mut res = StatusCode::TEMPORARY_REDIRECT.into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("{back}{sep}__clerk_handshake={token}")) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res
}

#[cfg(test)]
mod tests {
    #[test]
    fn redirects_stay_local() {
        for ok in ["http://localhost:3000/dashboard?x=1", "http://127.0.0.1:9/"] {
            assert_eq!(super::local(Some(ok)), ok);
        }
        for bad in [
            "http://localhost:@evil.com/",
            "http://localhost.evil.com/",
            "https://evil.com/",
            "//evil.com/",
            "javascript:alert(1)",
            "http://evil.com/http://localhost:3000/",
            "",
        ] {
            assert_eq!(super::local(Some(bad)), "/", "{bad}");
        }
    }
}
