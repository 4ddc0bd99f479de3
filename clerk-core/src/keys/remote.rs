//! Key sources over HTTPS: Clerk's Backend API (`/v1/jwks`, with the secret
//! key, through the one Backend API client) and Frontend API
//! (`/.well-known/jwks.json`, no secret, not a Backend API call).

use std::time::{Duration, Instant};

use reqwest::header::ACCEPT;

use super::{BoxFuture, KeyFetchError, KeySet, KeySource};
use crate::api::budget::Caller;
use crate::api::transport::{BackendApi, BackendError, CappedRead, read_capped};
use crate::error::{ConfigError, Reason};

/// A JWKS larger than this is refused (real ones are a few KiB).
const MAX_JWKS_BYTES: usize = 256 * 1024;

/// Builds the one HTTP client a verifier reuses: connect and total
/// timeouts, no redirects (a redirect must never carry the secret key
/// elsewhere), rustls.
///
/// # Errors
/// When the TLS backend cannot be set up.
pub(crate) fn http_client(
    connect_timeout: Duration,
    timeout: Duration,
) -> Result<reqwest::Client, ConfigError> {
    reqwest::Client::builder()
        .connect_timeout(connect_timeout)
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("clerk-kit/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|_| ConfigError::Unsupported("HTTP client could not be built"))
}

/// `GET {api_url}/v1/jwks` with `Authorization: Bearer <secret key>`,
/// through the one Backend API client (its budget, 429 pauses, status
/// mapping and capped reads).
pub(crate) struct BackendApiSource {
    api: BackendApi,
}

impl BackendApiSource {
    /// A source fetching through `api`.
    pub(crate) fn from_api(api: BackendApi) -> Self {
        Self { api }
    }
}

impl std::fmt::Debug for BackendApiSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackendApiSource")
            .field("api", &self.api)
            .finish()
    }
}

impl KeySource for BackendApiSource {
    fn name(&self) -> &'static str {
        "backend-api"
    }

    fn fetch(&self) -> BoxFuture<'_, Result<KeySet, KeyFetchError>> {
        Box::pin(async move {
            let remote = Reason::JwkRemoteFailedToLoad;
            let body = self
                .api
                .get_bytes_as(Caller::Keys, "/jwks", MAX_JWKS_BYTES)
                .await
                .map_err(|e| match e {
                    BackendError::Unauthorized => failed(
                        Reason::SecretKeyInvalid,
                        "the Backend API refused the secret key",
                    ),
                    BackendError::RateLimited(_) => {
                        failed(remote, "rate limited, or calls paused after a 429")
                    }
                    BackendError::InvalidResponse => failed(remote, "JWKS response too large"),
                    BackendError::NotFound | BackendError::Status(_) => {
                        failed(remote, "unexpected HTTP status")
                    }
                    BackendError::Unreachable => failed(remote, "request failed or timed out"),
                })?;
            let (set, report) = parse_jwks(&body)?;
            tracing::info!(
                source = self.name(),
                keys = set.len(),
                skipped = report,
                "JWKS fetched"
            );
            Ok(set)
        })
    }
}

/// A JWKS document with at least one usable signing key, and how many keys
/// were skipped.
fn parse_jwks(body: &[u8]) -> Result<(KeySet, usize), KeyFetchError> {
    let (set, report) = KeySet::from_jwks_json(body).map_err(|_| {
        failed(
            Reason::JwkFailedToResolve,
            "response is not a JWKS document",
        )
    })?;
    if set.is_empty() {
        return Err(failed(
            Reason::JwkFailedToResolve,
            "JWKS has no usable signing key",
        ));
    }
    Ok((set, report.skipped))
}

/// `GET {frontend api}/.well-known/jwks.json`, no credentials.
#[derive(Debug)]
pub(crate) struct FrontendApiSource {
    client: reqwest::Client,
    url: String,
}

impl FrontendApiSource {
    /// A source for the frontend API at `base_url` (e.g.
    /// `https://clerk.example.com`, or your proxy URL).
    pub(crate) fn new(client: reqwest::Client, base_url: &str) -> Self {
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
            let started = Instant::now();
            let result = fetch_frontend(&self.client, &self.url).await;
            let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            match &result {
                Ok((set, skipped)) => tracing::info!(
                    source = self.name(),
                    keys = set.len(),
                    skipped,
                    elapsed_ms,
                    "JWKS fetched"
                ),
                Err(e) => tracing::warn!(
                    source = self.name(),
                    reason = e.reason.as_str(),
                    error = e.message,
                    elapsed_ms,
                    "JWKS fetch failed"
                ),
            }
            result.map(|(set, _)| set)
        })
    }
}

const fn failed(reason: Reason, message: &'static str) -> KeyFetchError {
    KeyFetchError { reason, message }
}

/// The Frontend API's public JWKS: no secret, not a Backend API call (not
/// in the budget), the same size cap and document checks.
async fn fetch_frontend(
    client: &reqwest::Client,
    url: &str,
) -> Result<(KeySet, usize), KeyFetchError> {
    let remote = Reason::JwkRemoteFailedToLoad;
    let response = client
        .get(url)
        .header(ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| {
            failed(
                remote,
                if e.is_timeout() {
                    "request timed out"
                } else if e.is_connect() {
                    "could not connect"
                } else {
                    "request failed"
                },
            )
        })?;
    if !response.status().is_success() {
        return Err(failed(remote, "unexpected HTTP status"));
    }
    let body = read_capped(response, MAX_JWKS_BYTES)
        .await
        .map_err(|e| match e {
            CappedRead::TooLarge => failed(remote, "JWKS response too large"),
            CappedRead::Failed => failed(remote, "reading the response failed"),
        })?;
    parse_jwks(&body)
}
