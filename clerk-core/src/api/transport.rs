//! A small client for Clerk's Backend API: one reused HTTP client, the
//! secret key sent only to the configured API URL, and every failure mapped
//! to a [`BackendError`] that never carries the secret or a response body.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Method;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue, RETRY_AFTER, USER_AGENT};
use serde_json::Value;

use crate::api::budget::{BackendBudget, Caller, Gate, Refusal};
use crate::error::ConfigError;
use crate::instance::SecretKey;

/// Responses larger than this are refused.
const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// Why a Backend API call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum BackendError {
    /// 401/403: the secret key was refused.
    #[error("the Backend API refused the secret key")]
    Unauthorized,
    /// 404, or 400/422 for a token it does not know.
    #[error("not found")]
    NotFound,
    /// 429, or no call made because the process's Backend API budget is
    /// spent or calls are paused after a 429: retry after this long.
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
pub(crate) struct BackendApi {
    client: reqwest::Client,
    // Shared: a `Clerk`, cloned per request by routers, holds clients.
    base: Arc<str>,
    authorization: HeaderValue,
    gate: Arc<Gate>,
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
    pub(crate) fn new(
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
    pub(crate) fn with_bearer(
        client: reqwest::Client,
        api_url: &str,
        secret: &str,
    ) -> Result<Self, ConfigError> {
        let mut authorization = HeaderValue::try_from(format!("Bearer {secret}"))
            .map_err(|_| ConfigError::InvalidSecretKey("not usable in an HTTP header"))?;
        authorization.set_sensitive(true);
        Ok(Self {
            client,
            base: Arc::from(api_url.trim_end_matches('/')),
            authorization,
            // A client of its own has a budget of its own (the default);
            // `Clerk` hands every client it builds the one shared gate.
            gate: Arc::new(Gate::new(
                Arc::new(crate::clock::SystemClock),
                BackendBudget::default(),
            )),
        })
    }

    /// The fleet's budget on Redis, when configured.
    #[cfg(feature = "redis")]
    pub(crate) fn fleet(&self) -> Option<&Arc<crate::api::fleet::Fleet>> {
        self.gate.fleet()
    }

    /// Calls go through `gate` (the process's shared budget).
    pub(crate) fn gated(mut self, gate: Arc<Gate>) -> Self {
        self.gate = gate;
        self
    }

    /// `GET {api}/v1{path}`.
    pub(crate) async fn get_as(&self, caller: Caller, path: &str) -> Result<Value, BackendError> {
        let body = self
            .call(caller, Method::GET, path, None, MAX_RESPONSE_BYTES)
            .await?;
        serde_json::from_slice(&body).map_err(|_| BackendError::InvalidResponse)
    }

    /// `POST {api}/v1{path}` with a JSON body.
    pub(crate) async fn post_as(
        &self,
        caller: Caller,
        path: &str,
        body: &Value,
    ) -> Result<Value, BackendError> {
        let body = self
            .call(caller, Method::POST, path, Some(body), MAX_RESPONSE_BYTES)
            .await?;
        serde_json::from_slice(&body).map_err(|_| BackendError::InvalidResponse)
    }

    /// `GET {api}/v1{path}`: the body as bytes, at most `cap` of them.
    pub(crate) async fn get_bytes_as(
        &self,
        caller: Caller,
        path: &str,
        cap: usize,
    ) -> Result<Vec<u8>, BackendError> {
        Ok(self.call(caller, Method::GET, path, None, cap).await?)
    }

    /// Every call goes through here: the gate, the secret, the version and
    /// agent headers, the capped read, the 429 pause and the timing log.
    /// `path_and_query` starts with `/` and is already validated and
    /// encoded by the caller. No retry here: the typed client retries
    /// idempotent reads itself.
    pub(crate) async fn call(
        &self,
        caller: Caller,
        method: Method,
        path_and_query: &str,
        body: Option<&Value>,
        cap: usize,
    ) -> Result<Vec<u8>, Failure> {
        let endpoint = path_and_query.split(['/', '?']).nth(1).unwrap_or("");
        if let Err(refusal) = self.gate.acquire(caller) {
            crate::metrics::backend(endpoint, "refused");
            return Err(Failure::Refused(refusal));
        }
        // The fleet's budget, after this process's: one Redis round trip
        // (50 ms at most) before a call that costs one to Clerk anyway.
        #[cfg(feature = "redis")]
        if let Some(fleet) = self.gate.fleet() {
            use crate::api::fleet::Verdict;
            let refusal = match fleet.acquire(caller == Caller::Keys).await {
                Verdict::Granted => None,
                Verdict::Spent(d) => Some(Refusal::Spent(d)),
                Verdict::Paused(d) => Some(Refusal::Paused(self.gate.pause_locally(d))),
            };
            if let Some(refusal) = refusal {
                crate::metrics::backend(endpoint, "refused");
                return Err(Failure::Refused(refusal));
            }
        }
        let mut req = self
            .client
            .request(method, format!("{}/v1{path_and_query}", self.base));
        if let Some(body) = body {
            req = req
                .header(CONTENT_TYPE, "application/json")
                .body(body.to_string());
        }
        let result = self.send_now(req, path_and_query, cap).await;
        crate::metrics::backend(
            endpoint,
            match &result {
                Ok(_) => "ok",
                Err(Failure::Status { status: 429, .. }) => "rate_limited",
                Err(Failure::Status {
                    status: 400..=499, ..
                }) => "client_error",
                Err(Failure::Status { .. } | Failure::TooLarge) => "server_error",
                Err(Failure::Unreachable | Failure::Refused(_)) => "unreachable",
            },
        );
        match result {
            Err(Failure::Status {
                status: 429,
                retry_after,
                trace_id,
                body,
            }) => {
                let pause = self.gate.pause(retry_after);
                // Every replica pauses, not only this one.
                #[cfg(feature = "redis")]
                if let Some(fleet) = self.gate.fleet() {
                    fleet.pause(pause).await;
                }
                Err(Failure::Status {
                    status: 429,
                    retry_after: Some(pause),
                    trace_id,
                    body,
                })
            }
            other => other,
        }
    }

    async fn send_now(
        &self,
        req: reqwest::RequestBuilder,
        path: &str,
        cap: usize,
    ) -> Result<Vec<u8>, Failure> {
        let started = Instant::now();
        let result = async {
            let res = req
                .header(ACCEPT, "application/json")
                .header(USER_AGENT, AGENT)
                .header(API_VERSION_HEADER, API_VERSION)
                .header(AUTHORIZATION, self.authorization.clone())
                .send()
                .await
                .map_err(|_| Failure::Unreachable)?;
            let status = res.status();
            if !status.is_success() {
                let retry_after = res
                    .headers()
                    .get(RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs);
                let trace_id = res
                    .headers()
                    .get(TRACE_HEADER)
                    .and_then(|v| v.to_str().ok())
                    .filter(|v| v.len() <= 128)
                    .map(str::to_owned);
                // Clerk's error body, read for its codes; what cannot be
                // read in time or is too large is simply not there.
                let body = read_capped(res, MAX_ERROR_BYTES).await.unwrap_or_default();
                return Err(Failure::Status {
                    status: status.as_u16(),
                    retry_after,
                    trace_id,
                    body,
                });
            }
            read_capped(res, cap).await.map_err(|e| match e {
                CappedRead::TooLarge => Failure::TooLarge,
                CappedRead::Failed => Failure::Unreachable,
            })
        }
        .await;
        let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let endpoint = path.split(['/', '?']).nth(1).unwrap_or("");
        match &result {
            Ok(_) => tracing::debug!(endpoint, elapsed_ms, "Backend API call succeeded"),
            Err(e) => {
                tracing::warn!(endpoint, error = %BackendError::from(e), elapsed_ms, "Backend API call failed")
            }
        }
        result
    }
}

/// The `Clerk-API-Version` every Backend API call sends: the dated version
/// this crate is written against, the one `@clerk/backend` 3.7+ sends
/// (`packages/backend/src/constants.ts`, `SUPPORTED_BAPI_VERSION`). Under it,
/// metadata is changed only through the `/metadata` endpoints.
pub const API_VERSION: &str = "2026-05-12";
const API_VERSION_HEADER: &str = "clerk-api-version";
/// Where Clerk's trace id is when the body has no `clerk_trace_id`
/// (`@clerk/backend`, `src/api/request.ts`, `getTraceId`).
const TRACE_HEADER: &str = "cf-ray";
/// `User-Agent`: this crate and its version.
const AGENT: &str = concat!("clerk-core/", env!("CARGO_PKG_VERSION"), " (Rust)");
/// Error bodies larger than this are not read.
const MAX_ERROR_BYTES: usize = 64 * 1024;

/// How one call failed, before a caller reads it as a [`BackendError`]
/// (token and key paths) or a public `ApiError` (the typed client).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    /// No call made: the budget is spent, or a 429 pause lasts.
    Refused(Refusal),
    /// A non-2xx answer; a 429's `retry_after` is the pause imposed.
    Status {
        status: u16,
        retry_after: Option<Duration>,
        trace_id: Option<String>,
        body: Vec<u8>,
    },
    /// Timeout, connection failure or a body cut short.
    Unreachable,
    /// A success body over the cap.
    TooLarge,
}

impl From<&Failure> for BackendError {
    fn from(f: &Failure) -> Self {
        match f {
            Failure::Refused(r) => Self::RateLimited(Some(r.wait())),
            Failure::Status {
                status,
                retry_after,
                ..
            } => match *status {
                401 | 403 => Self::Unauthorized,
                400 | 404 | 422 => Self::NotFound,
                429 => Self::RateLimited(*retry_after),
                s => Self::Status(s),
            },
            Failure::Unreachable => Self::Unreachable,
            Failure::TooLarge => Self::InvalidResponse,
        }
    }
}

impl From<Failure> for BackendError {
    fn from(f: Failure) -> Self {
        Self::from(&f)
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
