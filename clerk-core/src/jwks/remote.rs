//! Key sources over HTTPS: Clerk's Backend API (`/v1/jwks`, with the secret
//! key) and Frontend API (`/.well-known/jwks.json`, no secret).

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderValue};

use std::sync::Arc;

use super::{BoxFuture, KeyFetchError, KeySet, KeySource};
use crate::backend::{Caller, CappedRead, Gate, read_capped};
use crate::error::{ConfigError, ErrorReason};
use crate::keys::SecretKey;

/// A JWKS larger than this is refused (real ones are a few KiB).
const MAX_JWKS_BYTES: usize = 256 * 1024;

/// Builds the one HTTP client a verifier reuses: connect and total
/// timeouts, no redirects (a redirect must never carry the secret key
/// elsewhere), rustls.
///
/// # Errors
/// When the TLS backend cannot be set up.
pub fn http_client(
    connect_timeout: Duration,
    timeout: Duration,
) -> Result<reqwest::Client, ConfigError> {
    reqwest::Client::builder()
        .connect_timeout(connect_timeout)
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("clerk-rs/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|_| ConfigError::Unsupported("HTTP client could not be built"))
}

/// `GET {api_url}/v1/jwks` with `Authorization: Bearer <secret key>`.
pub struct BackendApiSource {
    client: reqwest::Client,
    url: String,
    authorization: HeaderValue,
    gate: Arc<Gate>,
}

impl BackendApiSource {
    /// A source for the Backend API at `api_url` (e.g. `https://api.clerk.com`).
    ///
    /// # Errors
    /// When the secret key cannot be an HTTP header value.
    pub fn new(
        client: reqwest::Client,
        api_url: &str,
        secret: &SecretKey,
    ) -> Result<Self, ConfigError> {
        let mut authorization = HeaderValue::try_from(format!("Bearer {}", secret.expose_secret()))
            .map_err(|_| ConfigError::InvalidSecretKey("not usable in an HTTP header"))?;
        authorization.set_sensitive(true);
        Ok(Self {
            client,
            url: format!("{}/v1/jwks", api_url.trim_end_matches('/')),
            authorization,
            // A budget of its own unless `Verifier` hands it the shared one.
            gate: Arc::new(Gate::new(
                Arc::new(crate::clock::SystemClock),
                crate::backend::BackendBudget::default(),
            )),
        })
    }

    /// Fetches go through `gate`, the process's shared Backend API budget.
    pub(crate) fn gated(mut self, gate: Arc<Gate>) -> Self {
        self.gate = gate;
        self
    }
}

impl std::fmt::Debug for BackendApiSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackendApiSource")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl KeySource for BackendApiSource {
    fn name(&self) -> &'static str {
        "backend-api"
    }

    fn fetch(&self) -> BoxFuture<'_, Result<KeySet, KeyFetchError>> {
        Box::pin(async move {
            if self.gate.acquire(Caller::Keys).is_err() {
                return Err(failed(
                    ErrorReason::JwkRemoteFailedToLoad,
                    "Backend API calls paused after a 429",
                ));
            }
            let result = fetch_jwks(
                &self.client,
                &self.url,
                Some(&self.authorization),
                self.name(),
            )
            .await;
            if let Err((429, retry_after, _)) = &result {
                self.gate.pause(*retry_after);
            }
            result.map_err(|(_, _, e)| e)
        })
    }
}

/// `GET {frontend api}/.well-known/jwks.json`, no credentials.
#[derive(Debug)]
pub struct FrontendApiSource {
    client: reqwest::Client,
    url: String,
}

impl FrontendApiSource {
    /// A source for the frontend API at `base_url` (e.g.
    /// `https://clerk.example.com`, or your proxy URL).
    pub fn new(client: reqwest::Client, base_url: &str) -> Self {
        Self {
            client,
            url: format!("{}/.well-known/jwks.json", base_url.trim_end_matches('/')),
        }
    }
}

impl KeySource for FrontendApiSource {
    fn name(&self) -> &'static str {
        "frontend-api"
    }

    fn fetch(&self) -> BoxFuture<'_, Result<KeySet, KeyFetchError>> {
        Box::pin(async move {
            fetch_jwks(&self.client, &self.url, None, self.name())
                .await
                .map_err(|(_, _, e)| e)
        })
    }
}

const fn failed(reason: ErrorReason, message: &'static str) -> KeyFetchError {
    KeyFetchError { reason, message }
}

/// A failed fetch: the HTTP status (0 when none), `Retry-After` of a 429,
/// and the error.
type Failed = (u16, Option<Duration>, KeyFetchError);

async fn fetch_jwks(
    client: &reqwest::Client,
    url: &str,
    authorization: Option<&HeaderValue>,
    source: &'static str,
) -> Result<KeySet, Failed> {
    let started = Instant::now();
    tracing::debug!(source, "JWKS fetch started");
    let result = fetch_once(client, url, authorization).await;
    let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    match &result {
        Ok((status, set, skipped)) => tracing::info!(
            source,
            status,
            keys = set.len(),
            skipped,
            elapsed_ms,
            "JWKS fetched"
        ),
        Err((status, _, e)) => tracing::warn!(
            source,
            status,
            reason = e.reason.as_str(),
            error = e.message,
            elapsed_ms,
            "JWKS fetch failed"
        ),
    }
    result.map(|(_, set, _)| set)
}

type FetchOutcome = Result<(u16, KeySet, usize), Failed>;

async fn fetch_once(
    client: &reqwest::Client,
    url: &str,
    authorization: Option<&HeaderValue>,
) -> FetchOutcome {
    let remote = ErrorReason::JwkRemoteFailedToLoad;
    let mut request = client.get(url).header(ACCEPT, "application/json");
    if let Some(auth) = authorization {
        request = request.header(AUTHORIZATION, auth.clone());
    }
    let response = request.send().await.map_err(|e| {
        let message = if e.is_timeout() {
            "request timed out"
        } else if e.is_connect() {
            "could not connect"
        } else {
            "request failed"
        };
        (0, None, failed(remote, message))
    })?;
    let status = response.status();
    let code = status.as_u16();
    if authorization.is_some() && matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN)
    {
        return Err((
            code,
            None,
            failed(
                ErrorReason::SecretKeyInvalid,
                "the Backend API refused the secret key",
            ),
        ));
    }
    if status == StatusCode::TOO_MANY_REQUESTS {
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        return Err((code, retry_after, failed(remote, "rate limited (429)")));
    }
    if !status.is_success() {
        return Err((code, None, failed(remote, "unexpected HTTP status")));
    }
    let body = read_capped(response, MAX_JWKS_BYTES)
        .await
        .map_err(|e| match e {
            CappedRead::TooLarge => (code, None, failed(remote, "JWKS response too large")),
            CappedRead::Failed => (code, None, failed(remote, "reading the response failed")),
        })?;
    let (set, report) = KeySet::from_jwks_json(&body).map_err(|_| {
        (
            code,
            None,
            failed(
                ErrorReason::JwkFailedToResolve,
                "response is not a JWKS document",
            ),
        )
    })?;
    if set.is_empty() {
        return Err((
            code,
            None,
            failed(
                ErrorReason::JwkFailedToResolve,
                "JWKS has no usable signing key",
            ),
        ));
    }
    Ok((code, set, report.skipped))
}
