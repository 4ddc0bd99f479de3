//! A small client for Clerk's Backend API: one reused HTTP client, the
//! secret key sent only to the configured API URL, and every failure mapped
//! to a [`BackendError`] that never carries the secret or a response body.

use std::fmt;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderValue, RETRY_AFTER};
use serde_json::Value;

use crate::error::ConfigError;
use crate::keys::SecretKey;

/// Responses larger than this are refused.
const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// Why a Backend API call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BackendError {
    /// 401/403: the secret key was refused.
    #[error("the Backend API refused the secret key")]
    Unauthorized,
    /// 404, or 400/422 for a token it does not know.
    #[error("not found")]
    NotFound,
    /// 429: rate limited; retry after this long.
    #[error("rate limited")]
    RateLimited(Option<Duration>),
    /// 5xx or another unexpected status.
    #[error("unexpected status {0}")]
    Status(u16),
    /// Timeout, connection failure or unreadable response.
    #[error("the Backend API cannot be reached")]
    Unreachable,
    /// The response is not the JSON expected.
    #[error("unexpected response")]
    InvalidResponse,
}

/// Calls the Backend API with the secret key.
#[derive(Clone)]
pub struct BackendApi {
    client: reqwest::Client,
    base: String,
    authorization: HeaderValue,
}

impl fmt::Debug for BackendApi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BackendApi")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl BackendApi {
    /// A client for `api_url` (e.g. `https://api.clerk.com`) using
    /// `secret` (a secret key, or a machine secret key for M2M).
    ///
    /// # Errors
    /// When the secret cannot be an HTTP header value.
    pub fn new(
        client: reqwest::Client,
        api_url: &str,
        secret: &SecretKey,
    ) -> Result<Self, ConfigError> {
        Self::with_bearer(client, api_url, secret.expose_secret())
    }

    /// A client authenticating with any bearer secret.
    ///
    /// # Errors
    /// When the secret cannot be an HTTP header value.
    pub fn with_bearer(
        client: reqwest::Client,
        api_url: &str,
        secret: &str,
    ) -> Result<Self, ConfigError> {
        let mut authorization = HeaderValue::try_from(format!("Bearer {secret}"))
            .map_err(|_| ConfigError::InvalidSecretKey("not usable in an HTTP header"))?;
        authorization.set_sensitive(true);
        Ok(Self {
            client,
            base: api_url.trim_end_matches('/').to_owned(),
            authorization,
        })
    }

    /// `GET {api}/v1{path}`.
    ///
    /// # Errors
    /// See [`BackendError`].
    pub async fn get(&self, path: &str) -> Result<Value, BackendError> {
        self.send(self.client.get(self.url(path)), path).await
    }

    /// `POST {api}/v1{path}` with a JSON body.
    ///
    /// # Errors
    /// See [`BackendError`].
    pub async fn post(&self, path: &str, body: &Value) -> Result<Value, BackendError> {
        let req = self
            .client
            .post(self.url(path))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string());
        self.send(req, path).await
    }

    fn url(&self, path: &str) -> String {
        format!("{}/v1{path}", self.base)
    }

    async fn send(&self, req: reqwest::RequestBuilder, path: &str) -> Result<Value, BackendError> {
        let started = Instant::now();
        let result = async {
            let res = req
                .header(ACCEPT, "application/json")
                .header(AUTHORIZATION, self.authorization.clone())
                .send()
                .await
                .map_err(|_| BackendError::Unreachable)?;
            let status = res.status();
            match status {
                s if s.is_success() => {}
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                    return Err(BackendError::Unauthorized);
                }
                StatusCode::NOT_FOUND
                | StatusCode::BAD_REQUEST
                | StatusCode::UNPROCESSABLE_ENTITY => {
                    return Err(BackendError::NotFound);
                }
                StatusCode::TOO_MANY_REQUESTS => {
                    let after = res
                        .headers()
                        .get(RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .map(Duration::from_secs);
                    return Err(BackendError::RateLimited(after));
                }
                s => return Err(BackendError::Status(s.as_u16())),
            }
            let body = read_capped(res, MAX_RESPONSE_BYTES)
                .await
                .map_err(|e| match e {
                    CappedRead::TooLarge => BackendError::InvalidResponse,
                    CappedRead::Failed => BackendError::Unreachable,
                })?;
            serde_json::from_slice(&body).map_err(|_| BackendError::InvalidResponse)
        }
        .await;
        let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let endpoint = path.split('/').nth(1).unwrap_or("");
        match &result {
            Ok(_) => tracing::debug!(endpoint, elapsed_ms, "Backend API call succeeded"),
            Err(e) => tracing::warn!(endpoint, error = %e, elapsed_ms, "Backend API call failed"),
        }
        result
    }
}

/// Why a capped read stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CappedRead {
    /// More than the cap arrived.
    TooLarge,
    /// The connection failed or timed out.
    Failed,
}

/// Reads a response body chunk by chunk, stopping as soon as it passes
/// `cap` bytes (a chunked response has no `Content-Length` to check first).
pub(crate) async fn read_capped(
    mut res: reqwest::Response,
    cap: usize,
) -> Result<Vec<u8>, CappedRead> {
    if res.content_length().is_some_and(|n| n > cap as u64) {
        return Err(CappedRead::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = res.chunk().await.map_err(|_| CappedRead::Failed)? {
        if body.len() + chunk.len() > cap {
            return Err(CappedRead::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
