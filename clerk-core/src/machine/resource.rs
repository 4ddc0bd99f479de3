//! An OAuth protected resource (RFC 9728) whose authorization server is the
//! Clerk instance: the metadata an MCP client reads to find where to get a
//! token (`@clerk/mcp-tools` `server.ts`
//! `generateClerkProtectedResourceMetadata`), served by the resource
//! itself, and Clerk's authorization-server metadata passed through.

use std::sync::Arc;

use http::{HeaderValue, Method, Response, StatusCode, header};
use serde_json::{Value, json};

use crate::clock::Clock;
use crate::error::ConfigError;

/// RFC 9728's well-known path.
const WELL_KNOWN: &str = "/.well-known/oauth-protected-resource";
/// RFC 8414's, asked by MCP clients of the 2025-03-26 spec.
const AUTHORIZATION_SERVER: &str = "/.well-known/oauth-authorization-server";
/// Clerk's authorization-server metadata is kept this long.
const AS_TTL_SECS: i64 = 3600;
/// After a failed fetch, none for this long.
const AS_RETRY_SECS: i64 = 30;
/// A metadata document larger than this is not Clerk's.
const AS_MAX_BYTES: usize = 64 * 1024;

/// This application as an OAuth protected resource of the Clerk instance
/// (for MCP servers, RFC 9728): built by
/// [`Clerk::protected_resource`](crate::Clerk::protected_resource) with the
/// resource's URL, e.g. `https://app.example.com/mcp`.
///
/// * [`ProtectedResource::answer`] serves its metadata at
///   `/.well-known/oauth-protected-resource/mcp` (RFC 9728's path-suffixed
///   form) and at `/.well-known/oauth-protected-resource`, with
///   `resource`, `authorization_servers` (the instance's Frontend API),
///   `scopes_supported` and `bearer_methods_supported`, and passes
///   `/.well-known/oauth-authorization-server` through to the Frontend
///   API's (cached an hour), for clients that still ask the resource for it.
/// * [`Protect::oauth_resource`](crate::Protect::oauth_resource) points the
///   401 challenge at that metadata and names the missing scope on 403
///   (`insufficient_scope`).
#[derive(Clone)]
pub struct ProtectedResource {
    inner: Arc<Inner>,
    remote: Arc<Remote>,
}

#[derive(Clone)]
struct Inner {
    resource: String,
    metadata_url: String,
    metadata_path: String,
    authorization_server: String,
    scopes: Vec<String>,
}

/// Clerk's authorization-server metadata: how to fetch it, and the copy
/// kept.
struct Remote {
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
    /// The last good copy, readable while a fetch is under way.
    body: arc_swap::ArcSwapOption<String>,
    /// Held by the one fetch; when the next may be made.
    next_fetch: tokio::sync::Mutex<i64>,
}

impl std::fmt::Debug for ProtectedResource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProtectedResource")
            .field("resource", &self.inner.resource)
            .field("authorization_server", &self.inner.authorization_server)
            .field("scopes", &self.inner.scopes)
            .finish_non_exhaustive()
    }
}

impl ProtectedResource {
    /// `resource_url`: `https://` (or `http://` on loopback), no query,
    /// fragment or user info; `authorization_server`: the Frontend API's
    /// origin.
    pub(crate) fn new(
        resource_url: &str,
        authorization_server: &str,
        http: reqwest::Client,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, ConfigError> {
        let what = "protected resource URL";
        let checked = crate::config::checked_remote_url(resource_url, what)?;
        let url = url::Url::parse(&checked).map_err(|_| ConfigError::InvalidUrl(what))?;
        if !url.username().is_empty()
            || url.password().is_some()
            || url.query().is_some()
            || url.fragment().is_some()
        {
            return Err(ConfigError::InvalidUrl(what));
        }
        let path = url.path().trim_end_matches('/');
        let origin = url.origin().ascii_serialization();
        let resource = format!("{origin}{path}");
        // RFC 9728 §3.1: the well-known segment goes between the host and
        // the resource's path.
        let metadata_path = format!("{WELL_KNOWN}{path}");
        Ok(Self {
            inner: Arc::new(Inner {
                metadata_url: format!("{origin}{metadata_path}"),
                metadata_path,
                resource,
                authorization_server: authorization_server.trim_end_matches('/').to_owned(),
                scopes: Vec::new(),
            }),
            remote: Arc::new(Remote {
                http,
                clock,
                body: arc_swap::ArcSwapOption::empty(),
                next_fetch: tokio::sync::Mutex::new(i64::MIN),
            }),
        })
    }

    /// The scopes the resource understands, listed as `scopes_supported`
    /// (Clerk's OAuth scopes: `profile`, `email`, `openid`,
    /// `public_metadata`, `private_metadata`, or your own).
    #[must_use]
    pub fn scopes_supported<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Arc::make_mut(&mut self.inner).scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// The resource's URL, as `resource` in its metadata.
    pub fn resource(&self) -> &str {
        &self.inner.resource
    }

    /// Where its metadata is served (the challenge's `resource_metadata`).
    pub fn metadata_url(&self) -> &str {
        &self.inner.metadata_url
    }

    /// RFC 9728 metadata, as JSON.
    pub fn metadata(&self) -> Value {
        let i = &self.inner;
        let mut m = json!({
            "resource": i.resource,
            "authorization_servers": [i.authorization_server],
            "bearer_methods_supported": ["header"],
        });
        if let (false, Some(map)) = (i.scopes.is_empty(), m.as_object_mut()) {
            map.insert("scopes_supported".into(), json!(i.scopes));
        }
        m
    }

    /// True for the paths [`ProtectedResource::answer`] serves.
    pub fn serves(&self, path: &str) -> bool {
        path == self.inner.metadata_path || path == WELL_KNOWN || path == AUTHORIZATION_SERVER
    }

    /// The answer for `method` on `path` (a raw request path), what every
    /// adapter sends as it is: 404 (empty) when the path is not one it
    /// serves; `GET`/`HEAD` the metadata (JSON,
    /// `Access-Control-Allow-Origin: *` as `@clerk/mcp-tools`'
    /// `corsHeaders`, cacheable for an hour), `OPTIONS` a CORS preflight
    /// (204), anything else 405. Clerk's authorization-server metadata:
    /// fetched once an hour at most, one fetch at a time; 502 when it
    /// cannot be had and none is kept.
    pub async fn answer(&self, method: &str, path: &str) -> Response<String> {
        match self.answer_served(method, path).await {
            Some(res) => res,
            None => {
                let mut res = Response::new(String::new());
                *res.status_mut() = StatusCode::NOT_FOUND;
                res
            }
        }
    }

    async fn answer_served(&self, method: &str, path: &str) -> Option<Response<String>> {
        if !self.serves(path) {
            return None;
        }
        let method = Method::from_bytes(method.as_bytes()).unwrap_or(Method::TRACE);
        if method == Method::OPTIONS {
            return Some(reply(StatusCode::NO_CONTENT, String::new()));
        }
        if method != Method::GET && method != Method::HEAD {
            let mut res = reply(StatusCode::METHOD_NOT_ALLOWED, String::new());
            res.headers_mut().insert(
                header::ALLOW,
                HeaderValue::from_static("GET, HEAD, OPTIONS"),
            );
            return Some(res);
        }
        let body = if path == AUTHORIZATION_SERVER {
            match self.authorization_server_metadata().await {
                Some(body) => body,
                None => {
                    let body = json!({"error": "authorization_server_unavailable"}).to_string();
                    return Some(reply(StatusCode::BAD_GATEWAY, body));
                }
            }
        } else {
            self.metadata().to_string()
        };
        let mut res = reply(StatusCode::OK, body);
        res.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=3600"),
        );
        Some(res)
    }

    /// `<frontend api>/.well-known/oauth-authorization-server`
    /// (`fetchClerkAuthorizationServerMetadata`): a JSON object of at most
    /// 64 KiB, kept an hour; the last good one serves when a refetch fails.
    /// Anonymous requests can cause at most one fetch at a time and, after
    /// a failure, none for 30 seconds: a request arriving while a fetch is
    /// under way gets the kept copy (or 502) at once.
    async fn authorization_server_metadata(&self) -> Option<String> {
        let r = &self.remote;
        let now = r.clock.now_unix();
        let kept = || r.body.load_full().map(|b| String::clone(&b));
        let Ok(mut next_fetch) = r.next_fetch.try_lock() else {
            // A fetch is under way: never queue behind it.
            return kept();
        };
        if now < *next_fetch {
            return kept();
        }
        // Set before the fetch: a request dropped mid-fetch still leaves
        // the pause.
        *next_fetch = now.saturating_add(AS_RETRY_SECS);
        let url = format!("{}{AUTHORIZATION_SERVER}", self.inner.authorization_server);
        match fetch_json_object(&r.http, &url).await {
            Some(body) => {
                r.body.store(Some(Arc::new(body)));
                *next_fetch = now.saturating_add(AS_TTL_SECS);
            }
            None => {
                tracing::warn!("Clerk: the authorization server metadata could not be fetched");
            }
        }
        kept()
    }
}

async fn fetch_json_object(http: &reqwest::Client, url: &str) -> Option<String> {
    let mut res = http
        .get(url)
        .timeout(std::time::Duration::from_secs(5))
        .send()
        .await
        .ok()?;
    if !res.status().is_success() {
        return None;
    }
    let mut body = Vec::new();
    while let Some(chunk) = res.chunk().await.ok()? {
        body.extend_from_slice(&chunk);
        if body.len() > AS_MAX_BYTES {
            return None;
        }
    }
    let value: Value = serde_json::from_slice(&body).ok()?;
    value.is_object().then(|| value.to_string())
}

fn reply(status: StatusCode, body: String) -> Response<String> {
    let mut res = Response::new(body);
    *res.status_mut() = status;
    let h = res.headers_mut();
    if status != StatusCode::NO_CONTENT {
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
    // `@clerk/mcp-tools` `corsHeaders`: metadata is public.
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, OPTIONS"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("*"),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("86400"),
    );
    res
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::clock::ManualClock;
    use crate::testing::{FakeBackendApi, Outage};

    async fn resource(server: &str, clock: Arc<ManualClock>) -> ProtectedResource {
        ProtectedResource::new(
            "https://app.example.com/mcp/",
            server,
            reqwest::Client::new(),
            clock,
        )
        .unwrap()
        .scopes_supported(["profile", "email"])
    }

    /// RFC 9728 at both well-known paths, CORS as `@clerk/mcp-tools`,
    /// preflights, other methods 405, other paths not served.
    #[tokio::test]
    async fn metadata_is_served_at_the_path_suffixed_and_root_forms() {
        let r = resource("https://clerk.example.com", Arc::new(ManualClock::new(0))).await;
        assert_eq!(r.resource(), "https://app.example.com/mcp");
        assert_eq!(
            r.metadata_url(),
            "https://app.example.com/.well-known/oauth-protected-resource/mcp"
        );
        let want = json!({"resource": "https://app.example.com/mcp",
            "authorization_servers": ["https://clerk.example.com"],
            "bearer_methods_supported": ["header"], "scopes_supported": ["profile", "email"]});
        for path in [
            "/.well-known/oauth-protected-resource/mcp",
            "/.well-known/oauth-protected-resource",
        ] {
            let res = r.answer("GET", path).await;
            assert_eq!(res.status(), 200);
            assert_eq!(serde_json::from_str::<Value>(res.body()).unwrap(), want);
            assert_eq!(res.headers()["access-control-allow-origin"], "*");
            assert_eq!(res.headers()["content-type"], "application/json");
        }
        let res = r
            .answer("OPTIONS", "/.well-known/oauth-protected-resource/mcp")
            .await;
        assert_eq!((res.status().as_u16(), res.body().as_str()), (204, ""));
        let res = r
            .answer("POST", "/.well-known/oauth-protected-resource")
            .await;
        assert_eq!(res.status(), 405);
        for other in [
            "/mcp",
            "/.well-known/oauth-protected-resource/other",
            "/.well-known/oauth-protected-resourcex",
        ] {
            let res = r.answer("GET", other).await;
            assert_eq!(
                (res.status().as_u16(), res.body().as_str()),
                (404, ""),
                "{other}"
            );
        }
    }

    /// Clerk's authorization-server metadata, fetched once an hour, kept
    /// through an outage, 502 when there is none, refused when not JSON.
    #[tokio::test]
    async fn the_authorization_server_metadata_passes_through_cached() {
        let fake = FakeBackendApi::start().await.unwrap();
        let clock = Arc::new(ManualClock::new(1_000));
        let r = resource(&fake.base_url(), clock.clone()).await;
        let path = "/.well-known/oauth-authorization-server";
        fake.set_outage(Some(Outage::Status(503, None)));
        assert_eq!(r.answer("GET", path).await.status(), 502);
        let calls = fake.calls();
        assert_eq!(r.answer("GET", path).await.status(), 502);
        assert_eq!(fake.calls(), calls, "no fetch for 30 s after a failure");
        clock.advance(30);
        fake.set_outage(None);
        let doc = json!({"issuer": "https://clerk.example.com", "authorization_endpoint": "https://clerk.example.com/oauth/authorize"});
        fake.respond("GET", path, 200, &[], &doc);
        let before = fake.calls();
        for _ in 0..3 {
            let res = r.answer("GET", path).await;
            assert_eq!(serde_json::from_str::<Value>(res.body()).unwrap(), doc);
        }
        assert_eq!(fake.calls(), before + 1, "one fetch for three answers");
        clock.advance(3_601);
        fake.set_outage(Some(Outage::Status(500, None)));
        let res = r.answer("GET", path).await;
        assert_eq!(
            (res.status().as_u16(), fake.calls()),
            (200, before + 2),
            "kept through an outage"
        );
        fake.set_outage(None);
        fake.respond("GET", path, 200, &[], &json!(["not", "an", "object"]));
        let fresh = resource(&fake.base_url(), clock).await;
        assert_eq!(fresh.answer("GET", path).await.status(), 502);
    }
}
