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
/// `<persona>:<signed-in-at>[:<active organization id, empty for the
/// personal account>]`.
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
    /// The organization to activate (Clerk's handshake parameter): an id
    /// or slug, empty for the personal account.
    organization_id: Option<String>,
}

/// The path of the `Clerk-Proxy-Url` the app's proxy sent (its links go
/// through the proxy), or none: plain segments only.
fn proxy_prefix(headers: &HeaderMap) -> String {
    headers
        .get("clerk-proxy-url")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<axum::http::Uri>().ok())
        .map(|u| u.path().trim_end_matches('/').to_owned())
        .filter(|p| {
            p.chars()
                .all(|c| c.is_ascii_alphanumeric() || "/_-.".contains(c))
                && !p.contains("..")
        })
        .unwrap_or_default()
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

async fn sign_in_page(
    State(f): State<Fapi>,
    Query(q): Query<Back>,
    headers: HeaderMap,
) -> Html<String> {
    let back = local(q.redirect_url.as_deref());
    let prefix = proxy_prefix(&headers);
    let rows: String = f
        .dev
        .personas
        .iter()
        .map(|p| {
            format!(
                "<li><a class=\"persona\" href=\"{prefix}/v1/dev/sign-in?persona={}&amp;redirect_url={}\">{}</a> <span>{}</span></li>\n",
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
/// now and `exp` after the stand-in's lifetime), with `active` the active
/// organization (`None`: the persona's own; `Some("")`: the personal
/// account; else one of theirs by id).
fn mint(f: &Fapi, persona: &str, active: Option<&str>) -> Option<String> {
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
    match active {
        None => {}
        Some("") => {
            if let Some(claims) = payload.as_object_mut() {
                claims.remove("o");
            }
        }
        Some(id) => {
            let (id, slug, role) = p.organizations.iter().find(|o| o.0 == id)?;
            payload["o"] = json!({"id": id, "slg": slug, "rol": role});
        }
    }
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

/// The dev client of the `__dev_client` cookie: persona, signed-in-at,
/// active organization (as [`mint`] takes it).
struct Client {
    persona: String,
    uat: i64,
    active: Option<String>,
}

impl Client {
    fn read(headers: &HeaderMap) -> Option<Self> {
        let mut parts = cookie(headers, CLIENT)?.splitn(3, ':');
        Some(Self {
            persona: parts.next()?.to_owned(),
            uat: parts.next()?.parse().ok()?,
            active: parts.next().map(str::to_owned),
        })
    }

    fn cookie(&self) -> String {
        let active = self.active.as_deref().map(|a| format!(":{a}"));
        format!(
            "{CLIENT}={}:{}{}; Path=/; HttpOnly; SameSite=Lax",
            self.persona,
            self.uat,
            active.unwrap_or_default()
        )
    }
}

/// The cookies of a signed-in (or, without a persona, signed-out) client.
fn session_cookies(f: &Fapi, signed_in: Option<&Client>) -> Vec<String> {
    let mut cookies = vec![format!(
        "__clerk_db_jwt={DEV_BROWSER}; Path=/; SameSite=Lax"
    )];
    match signed_in.and_then(|c| Some((mint(f, &c.persona, c.active.as_deref())?, c.uat))) {
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
    let client = Client {
        persona,
        uat: f.clock.now_unix(),
        active: None,
    };
    let mut cookies = session_cookies(&f, Some(&client));
    cookies.push(client.cookie());
    redirect(&back, &cookies)
}

async fn sign_out(State(f): State<Fapi>, Query(q): Query<Back>) -> Response {
    let mut cookies = session_cookies(&f, None);
    cookies.push(format!("{CLIENT}=; Path=/; Max-Age=0"));
    redirect(&local(q.redirect_url.as_deref()), &cookies)
}

/// Clerk's `/v1/client/handshake`: the client's cookies as directives in
/// a handshake token, and back to `redirect_url` with it. An
/// `organization_id` the persona belongs to (by id or slug; empty for the
/// personal account) becomes active, as Clerk's `setActive`; one they do
/// not belong to changes nothing.
async fn handshake(State(f): State<Fapi>, Query(q): Query<Back>, headers: HeaderMap) -> Response {
    let back = local(q.redirect_url.as_deref());
    let mut client = Client::read(&headers);
    let mut switched = None;
    if let (Some(c), Some(wanted)) = (client.as_mut(), q.organization_id.as_deref()) {
        let persona = f.dev.personas.iter().find(|p| p.name == c.persona);
        let found = match wanted {
            "" => Some(String::new()),
            w => persona
                .and_then(|p| p.organizations.iter().find(|o| o.0 == w || o.1 == w))
                .map(|o| o.0.to_owned()),
        };
        if let Some(id) = found {
            c.active = Some(id);
            switched = Some(c.cookie());
        }
    }
    let directives = session_cookies(&f, client.as_ref());
    let token = f.dev.issuer.sign_raw(
        &json!({"alg": "RS256", "kid": f.dev.issuer.kid(), "typ": "JWT"}),
        &json!({ "handshake": directives }),
    );
    let sep = if back.contains('?') { '&' } else { '?' };
    let mut res = StatusCode::TEMPORARY_REDIRECT.into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("{back}{sep}__clerk_handshake={token}")) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    if let Some(v) = switched.and_then(|c| HeaderValue::from_str(&c).ok()) {
        res.headers_mut().append(header::SET_COOKIE, v);
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
