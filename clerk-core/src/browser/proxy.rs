//! The Frontend API proxy (Clerk's `frontendApiProxy`,
//! `@clerk/backend` `proxy.ts` `clerkFrontendApiProxy`): the browser talks
//! to `/__clerk/*` on the application's own domain, so ad blockers that
//! block `clerk.<domain>` do not break sign-in. Requests are forwarded to
//! Clerk's Frontend API with `Clerk-Proxy-Url`, `Clerk-Secret-Key` and
//! `X-Forwarded-For`, bodies stream both ways, and hop-by-hop headers are
//! stripped.
//!
//! It can never be an open proxy: the upstream is fixed when it is built
//! (never taken from the request), the target URL is the upstream's origin
//! joined with the path below the proxy path (checked to keep that host),
//! absolute-form targets, dot segments, encoded separators and controls
//! are refused, redirects are never followed, and header and body sizes
//! and the upstream's time are bounded (431 / 413 / 502 / 504).

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited};

use super::proxy_body::SyncBody;
use super::url::page_url;
use crate::error::ConfigError;
use crate::protect::routes::routed_reading;

/// The body of a proxied response (streamed from the Frontend API, or a
/// small JSON error).
pub type ProxyBody = BoxBody<Bytes, Box<dyn std::error::Error + Send + Sync>>;

/// Clerk's default proxy path (`DEFAULT_PROXY_PATH`).
const DEFAULT_PATH: &str = "/__clerk";
/// Clerk's Frontend API for proxies (`PROD_FAPI_URL`, `@clerk/shared`
/// `constants.ts`); the instance is named by the secret key.
const PROD_FAPI_URL: &str = "https://frontend-api.clerk.dev";
/// `STAGING_FAPI_URL`, for `.accountsstage.dev` instances.
const STAGING_FAPI_URL: &str = "https://frontend-api.clerkstage.dev";
/// Request headers, all names and values together: browsers send a few
/// KiB (Clerk's cookies are the largest part); 32 KiB is generous and
/// bounds what one request makes us copy.
const MAX_HEADER_BYTES: usize = 32 * 1024;
const MAX_HEADERS: usize = 100;
/// Request bodies: the Frontend API takes small form posts.
const MAX_REQUEST_BODY: usize = 1024 * 1024;
/// Response bodies: the largest is Clerk's JavaScript bundle (well under
/// this); the cap bounds what a misbehaving upstream can stream through.
const MAX_RESPONSE_BODY: usize = 16 * 1024 * 1024;
/// The upstream's whole answer, body included (Clerk's own proxy has no
/// timeout yet; its source suggests 30 s).
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(30);

/// Hop-by-hop headers (`proxy.ts` `HOP_BY_HOP_HEADERS`), and the ones this
/// proxy sets itself.
const NOT_FORWARDED: [&str; 13] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
    "clerk-proxy-url",
    "clerk-secret-key",
    "x-forwarded-for",
];

/// Forwards `/__clerk/*` to Clerk's Frontend API. Build one with
/// [`Clerk::frontend_api_proxy`](crate::Clerk::frontend_api_proxy); serve
/// it with `clerk_tower::FrontendApiProxyService` or
/// `clerk_actix::frontend_api_proxy`. Its `Debug` never shows the secret.
#[derive(Clone, Debug)]
pub struct FrontendApiProxy {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// `/__clerk`, no trailing slash.
    path: String,
    /// The upstream's origin, no trailing slash.
    upstream: String,
    /// Its `host[:port]`, which every target must keep.
    upstream_host: String,
    /// `Clerk-Secret-Key` (marked sensitive: never shown).
    secret: HeaderValue,
    http: reqwest::Client,
    timeout: Duration,
    trusted_proxies: Arc<[ipnet::IpNet]>,
}

impl FrontendApiProxy {
    /// A proxy for the instance of `secret_key`, to Clerk's Frontend API
    /// for the publishable key's environment (`fapiUrlFromPublishableKey`).
    pub(crate) fn new(
        secret_key: &str,
        frontend_api: &str,
        trusted_proxies: Arc<[ipnet::IpNet]>,
    ) -> Result<Self, ConfigError> {
        let mut secret = HeaderValue::from_str(secret_key)
            .map_err(|_| ConfigError::InvalidSecretKey("not a header value"))?;
        secret.set_sensitive(true);
        let upstream = if frontend_api.ends_with(".accountsstage.dev") {
            STAGING_FAPI_URL
        } else {
            PROD_FAPI_URL
        };
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|_| ConfigError::Unsupported("HTTP client could not be built"))?;
        let proxy = Self {
            inner: Arc::new(Inner {
                path: DEFAULT_PATH.to_owned(),
                upstream: String::new(),
                upstream_host: String::new(),
                secret,
                http,
                timeout: UPSTREAM_TIMEOUT,
                trusted_proxies,
            }),
        };
        proxy.upstream(upstream)
    }

    fn edit(mut self, f: impl FnOnce(&mut Inner)) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            f(inner);
            return self;
        }
        let i = &self.inner;
        let mut inner = Inner {
            path: i.path.clone(),
            upstream: i.upstream.clone(),
            upstream_host: i.upstream_host.clone(),
            secret: i.secret.clone(),
            http: i.http.clone(),
            timeout: i.timeout,
            trusted_proxies: i.trusted_proxies.clone(),
        };
        f(&mut inner);
        Self {
            inner: Arc::new(inner),
        }
    }

    /// Serves below `path` instead of `/__clerk` (Clerk's `proxyPath`).
    ///
    /// # Errors
    /// When `path` is not an absolute path of plain segments.
    pub fn path(self, path: &str) -> Result<Self, ConfigError> {
        let path = crate::config::checked_proxy_path(path, "frontend API proxy path")?;
        Ok(self.edit(|i| i.path = path))
    }

    /// Forwards to `url` instead of Clerk's Frontend API (Clerk's
    /// `fapiUrl` / `CLERK_FAPI_URL`; dev mode's local stand-in).
    ///
    /// # Errors
    /// When `url` is not an `https://` origin (or `http://` on loopback)
    /// without credentials, query or fragment.
    pub fn upstream(self, url: &str) -> Result<Self, ConfigError> {
        let what = "frontend API proxy upstream";
        let checked = crate::config::checked_remote_url(url, what)?;
        let parsed = url::Url::parse(&checked).map_err(|_| ConfigError::InvalidUrl(what))?;
        if !parsed.username().is_empty()
            || parsed.password().is_some()
            || parsed.query().is_some()
            || parsed.fragment().is_some()
            || parsed.path() != "/"
        {
            return Err(ConfigError::InvalidUrl(what));
        }
        let host = match (parsed.host_str(), parsed.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_owned(),
            (None, _) => return Err(ConfigError::InvalidUrl(what)),
        };
        let origin = parsed.origin().ascii_serialization();
        Ok(self.edit(|i| {
            i.upstream = origin;
            i.upstream_host = host;
        }))
    }

    /// Bounds the upstream's whole answer, body included, to `timeout`
    /// (default 30 s); past it the answer is 504, or a body cut short.
    #[must_use]
    pub fn timeout(self, timeout: Duration) -> Self {
        self.edit(|i| i.timeout = timeout)
    }

    /// True when `path` (a raw request path) is this proxy's
    /// (`matchProxyPath`).
    pub fn matches(&self, path: &str) -> bool {
        let p = &self.inner.path;
        path == p
            || path
                .strip_prefix(p.as_str())
                .is_some_and(|r| r.starts_with('/'))
    }

    /// Forwards `req` (from `peer`, the connection's address) and streams
    /// the answer back; refusals and upstream failures are Clerk's JSON
    /// errors (`{"errors":[{"code":…,"message":…}]}`).
    pub async fn forward<B>(&self, req: Request<B>, peer: Option<IpAddr>) -> Response<ProxyBody>
    where
        B: http_body::Body + Send + 'static,
        B::Data: Into<Bytes>,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let (parts, body) = req.into_parts();
        let target = match self.target(&parts) {
            Ok(t) => t,
            Err(Refused(status, code, message)) => return error(status, code, message),
        };
        let headers = match self.headers(&parts, peer) {
            Ok(h) => h,
            Err(Refused(status, code, message)) => return error(status, code, message),
        };
        let declared = parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if declared.is_some_and(|n| n > MAX_REQUEST_BODY as u64) {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "proxy_request_failed",
                "request body too large",
            );
        }
        let Ok(method) = reqwest::Method::from_bytes(parts.method.as_str().as_bytes()) else {
            return error(
                StatusCode::BAD_REQUEST,
                "proxy_request_failed",
                "unsupported method",
            );
        };
        let body = reqwest::Body::wrap(SyncBody::new(
            Limited::new(body, MAX_REQUEST_BODY).map_frame(|f| f.map_data(Into::into)),
        ));
        let sent = self
            .inner
            .http
            .request(method, target)
            .timeout(self.inner.timeout)
            .headers(headers)
            .body(body)
            .send()
            .await;
        match sent {
            Ok(answer) => self.answer(answer),
            Err(e) if e.is_timeout() => error(
                StatusCode::GATEWAY_TIMEOUT,
                "proxy_request_failed",
                "the Frontend API did not answer in time",
            ),
            Err(e) if too_large(&e) => error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "proxy_request_failed",
                "request body too large",
            ),
            Err(_) => error(
                StatusCode::BAD_GATEWAY,
                "proxy_request_failed",
                "failed to proxy the request to Clerk's Frontend API",
            ),
        }
    }

    /// The upstream URL for a request, or why it is refused.
    fn target(&self, parts: &http::request::Parts) -> Result<String, Refused> {
        let bad = |message| {
            Err(Refused(
                StatusCode::BAD_REQUEST,
                "proxy_path_mismatch",
                message,
            ))
        };
        // Absolute-form (`GET http://other/ HTTP/1.1`) or authority-form
        // targets never name the upstream.
        if parts.uri.scheme().is_some() || parts.uri.authority().is_some() {
            return bad("absolute-form request targets are not proxied");
        }
        let path = parts.uri.path();
        if !self.matches(path) {
            return bad("the request path is not below the proxy path");
        }
        // One reading only: no dot segments, encoded separators, `//`,
        // `\\`, `;` or controls (no Frontend API path has them).
        if routed_reading(path).is_none() {
            return bad("malformed path");
        }
        let rest = &path[self.inner.path.len()..];
        let rest = if rest.is_empty() { "/" } else { rest };
        // Joined, not resolved (`new URL(path, base)` would honour `//host`).
        let mut target = format!("{}{rest}", self.inner.upstream);
        if let Some(q) = parts.uri.query() {
            target.push('?');
            target.push_str(q);
        }
        match url::Url::parse(&target) {
            Ok(u) if u.origin().ascii_serialization() == self.inner.upstream => Ok(target),
            _ => bad("the target does not stay on the Frontend API"),
        }
    }

    /// The headers sent upstream, or 431 when the request's are too many.
    fn headers(
        &self,
        parts: &http::request::Parts,
        peer: Option<IpAddr>,
    ) -> Result<HeaderMap, Refused> {
        let incoming = &parts.headers;
        let size: usize = incoming
            .iter()
            .map(|(n, v)| n.as_str().len() + v.len())
            .sum();
        if incoming.len() > MAX_HEADERS || size > MAX_HEADER_BYTES {
            return Err(Refused(
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "proxy_request_failed",
                "request headers too large",
            ));
        }
        let nominated = nominated(incoming);
        let mut out = HeaderMap::with_capacity(incoming.len() + 6);
        for (name, value) in incoming {
            let n = name.as_str();
            if !NOT_FORWARDED.contains(&n) && !nominated.iter().any(|x| x == n) {
                out.append(name.clone(), value.clone());
            }
        }
        // The browser-visible origin, read as the handshake reads it
        // (`Host` / `X-Forwarded-Host`, `X-Forwarded-Proto`).
        // Without one the Frontend API cannot answer for this proxy.
        let Some(origin) =
            page_url(self.inner.path.as_str(), incoming).map(|u| u.origin().ascii_serialization())
        else {
            return Err(Refused(
                StatusCode::BAD_REQUEST,
                "proxy_request_failed",
                "the request names no usable host",
            ));
        };
        if let Ok(v) = HeaderValue::from_str(&format!("{origin}{}", self.inner.path)) {
            out.insert(HeaderName::from_static("clerk-proxy-url"), v);
        }
        out.insert(
            HeaderName::from_static("clerk-secret-key"),
            self.inner.secret.clone(),
        );
        if let Ok(v) = HeaderValue::from_str(&self.inner.upstream_host) {
            out.insert(header::HOST, v);
        }
        out.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("identity"),
        );
        if let Some(peer) = peer {
            // The client as the budget reads it: the peer, or behind
            // trusted proxies the nearest other `X-Forwarded-For` hop
            // (Clerk takes `CF-Connecting-IP` / `X-Real-IP` / the first
            // hop, which any client can write).
            let ip = crate::api::budget::client_ip(
                peer,
                incoming
                    .get_all("x-forwarded-for")
                    .iter()
                    .map(HeaderValue::as_bytes),
                &self.inner.trusted_proxies,
            );
            if let Ok(v) = HeaderValue::from_str(&ip.to_string()) {
                out.insert(HeaderName::from_static("x-forwarded-for"), v);
            }
        }
        if let Ok(origin) = url::Url::parse(&origin) {
            if !out.contains_key("x-forwarded-host")
                && let Some(host) = origin.host_str()
                && let Ok(v) = HeaderValue::from_str(&match origin.port() {
                    Some(p) => format!("{host}:{p}"),
                    None => host.to_owned(),
                })
            {
                out.insert(HeaderName::from_static("x-forwarded-host"), v);
            }
            if !out.contains_key("x-forwarded-proto")
                && let Ok(v) = HeaderValue::from_str(origin.scheme())
            {
                out.insert(HeaderName::from_static("x-forwarded-proto"), v);
            }
        }
        Ok(out)
    }

    /// The upstream's answer, streamed: hop-by-hop headers and
    /// `Content-Length` stripped, a redirect to the Frontend API rewritten
    /// to go through the proxy.
    fn answer(&self, answer: reqwest::Response) -> Response<ProxyBody> {
        let answer: Response<reqwest::Body> = answer.into();
        let (mut parts, body) = answer.into_parts();
        let nominated = nominated(&parts.headers);
        let mut headers = HeaderMap::with_capacity(parts.headers.len());
        for (name, value) in &parts.headers {
            let n = name.as_str();
            let hop = NOT_FORWARDED[..8].contains(&n) || n == "content-length";
            if !hop && !nominated.iter().any(|x| x == n) {
                headers.append(name.clone(), value.clone());
            }
        }
        if let Some(location) = headers.get(header::LOCATION).and_then(|v| v.to_str().ok())
            && let Ok(to) = url::Url::parse(&self.inner.upstream).and_then(|b| b.join(location))
            && to.origin().ascii_serialization() == self.inner.upstream
        {
            let mut rewritten = format!("{}{}", self.inner.path, to.path());
            if let Some(q) = to.query() {
                rewritten.push('?');
                rewritten.push_str(q);
            }
            if let Ok(v) = HeaderValue::from_str(&rewritten) {
                headers.insert(header::LOCATION, v);
            }
        }
        parts.headers = headers;
        let body = Limited::new(body, MAX_RESPONSE_BODY)
            .map_err(|e| -> Box<dyn std::error::Error + Send + Sync> { e })
            .boxed();
        Response::from_parts(parts, body)
    }
}

/// Headers a `Connection` header names as hop-by-hop (RFC 9110 §7.6.1).
fn nominated(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|h| h.trim().to_ascii_lowercase())
        .filter(|h| !h.is_empty())
        .collect()
}

/// Whether a failed send was the request body's size limit.
fn too_large(e: &reqwest::Error) -> bool {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if s.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = s.source();
    }
    false
}

/// A refusal before any upstream call: status, Clerk's code, message.
struct Refused(StatusCode, &'static str, &'static str);

/// Clerk's proxy error (`createErrorResponse`): JSON, `no-store`.
fn error(status: StatusCode, code: &'static str, message: &'static str) -> Response<ProxyBody> {
    let body = serde_json::json!({"errors": [{"code": code, "message": message}]}).to_string();
    let mut res = Response::new(
        Full::new(Bytes::from(body))
            .map_err(|never| match never {})
            .boxed(),
    );
    *res.status_mut() = status;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}
