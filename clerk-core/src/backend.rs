//! A small client for Clerk's Backend API: one reused HTTP client, the
//! secret key sent only to the configured API URL, and every failure mapped
//! to a [`BackendError`] that never carries the secret or a response body.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use reqwest::Method;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue, RETRY_AFTER, USER_AGENT};
use serde_json::Value;

use crate::clock::Clock;
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

/// How many Backend API calls a process may make, and how long a 429 may
/// pause them. Clerk rate-limits the whole instance (100 requests per 10 s
/// on development instances, 1000 per 10 s on production), so every
/// replica's budget must fit under that together: with `N` replicas, give
/// each at most half the instance limit divided by `N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackendBudget {
    /// Calls per window (default 50: half a development instance's limit).
    pub calls: u32,
    /// The window (default 10 s, as Clerk counts).
    pub window: Duration,
    /// The longest pause a `429 Retry-After` may impose (default 60 s; a
    /// 429 without `Retry-After` pauses 10 s).
    pub max_pause: Duration,
}

impl Default for BackendBudget {
    fn default() -> Self {
        Self {
            calls: 50,
            window: Duration::from_secs(10),
            max_pause: Duration::from_secs(60),
        }
    }
}

/// Who asks the [`Gate`] for a call. Verifying machine tokens not seen
/// lately is what an unauthenticated caller can drive (every new
/// `Bearer ak_…`), so it may use at most half of a window's budget: users,
/// organizations and re-checks of known tokens keep the rest. Key fetches
/// count against the budget but are refused only during a 429 pause: they
/// are already bounded by the key cache's TTL, cool-down and single flight,
/// and a refused key fetch would sign out every user of a rotated key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Caller {
    /// JWKS fetches.
    Keys,
    /// User and organization lookups.
    Users,
    /// Opaque machine-token verification of a token not verified lately:
    /// what a flood of junk keys drives.
    Machines,
    /// Re-verification of a machine token verified lately (still
    /// legitimate or not, its answer matters), outside the half a flood can
    /// use.
    KnownMachine,
}

impl Caller {
    const fn as_str(self) -> &'static str {
        match self {
            Self::Keys => "keys",
            Self::Users => "users",
            Self::Machines => "machines",
            Self::KnownMachine => "known-machine",
        }
    }
}

/// The one Backend API budget of a process, shared by every caller (JWKS,
/// machine tokens, users, organizations), and the pause after a 429. Time
/// comes from the injected clock.
pub(crate) struct Gate {
    clock: Arc<dyn Clock>,
    budget: BackendBudget,
    state: Mutex<GateState>,
}

struct GateState {
    window_start: i64,
    used: u32,
    refused: u64,
    pause_started: i64,
    paused_until: i64,
}

impl fmt::Debug for Gate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gate")
            .field("budget", &self.budget)
            .finish_non_exhaustive()
    }
}

/// Seconds, at least 1, at most `i64::MAX`.
fn whole_secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs().max(1)).unwrap_or(i64::MAX)
}

impl Gate {
    pub(crate) fn new(clock: Arc<dyn Clock>, budget: BackendBudget) -> Self {
        Self {
            clock,
            budget,
            state: Mutex::new(GateState {
                window_start: i64::MIN,
                used: 0,
                refused: 0,
                pause_started: i64::MIN,
                paused_until: i64::MIN,
            }),
        }
    }

    #[cfg(test)]
    pub(crate) fn budget(&self) -> BackendBudget {
        self.budget
    }

    /// Takes one call from the budget, or says how long until one may be
    /// made (no call must be made then).
    pub(crate) fn acquire(&self, caller: Caller) -> Result<(), Duration> {
        let now = self.clock.now_unix();
        let window = whole_secs(self.budget.window);
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        // Paused between the 429 and its end; a clock stepped back to before
        // the 429 ends the pause rather than stretching it past its cap.
        if s.pause_started <= now && now < s.paused_until {
            s.refused += 1;
            return Err(secs_until(now, s.paused_until));
        }
        if now >= s.window_start.saturating_add(window) || now < s.window_start {
            if s.refused > 0 {
                tracing::warn!(
                    refused = s.refused,
                    used = s.used,
                    budget = self.budget.calls,
                    window_secs = window,
                    "Backend API calls refused in the last window (budget or 429 pause)"
                );
            }
            s.window_start = now;
            s.used = 0;
            s.refused = 0;
        }
        let limit = match caller {
            Caller::Machines => self.budget.calls / 2,
            Caller::Keys => u32::MAX,
            Caller::Users | Caller::KnownMachine => self.budget.calls,
        };
        if s.used >= limit {
            s.refused += 1;
            if s.refused == 1 {
                tracing::warn!(
                    caller = caller.as_str(),
                    used = s.used,
                    budget = self.budget.calls,
                    window_secs = window,
                    "Backend API budget exhausted for this window"
                );
            }
            return Err(secs_until(now, s.window_start.saturating_add(window)));
        }
        s.used = s.used.saturating_add(1);
        Ok(())
    }

    /// A 429 arrived: no call for `Retry-After` (capped at `max_pause`).
    pub(crate) fn pause(&self, retry_after: Option<Duration>) -> Duration {
        let requested = retry_after.unwrap_or(Duration::from_secs(10));
        let pause = requested.clamp(
            Duration::from_secs(1),
            self.budget.max_pause.max(Duration::from_secs(1)),
        );
        let now = self.clock.now_unix();
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let until = now.saturating_add(whole_secs(pause));
        if !(s.pause_started <= now && now < s.paused_until) || until > s.paused_until {
            s.pause_started = now;
            s.paused_until = until;
        }
        tracing::warn!(
            requested_secs = requested.as_secs(),
            pause_secs = pause.as_secs(),
            "Backend API answered 429; pausing every Backend API call"
        );
        pause
    }
}

fn secs_until(now: i64, until: i64) -> Duration {
    Duration::from_secs(u64::try_from(until.saturating_sub(now)).unwrap_or(0).max(1))
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
        if let Err(wait) = self.gate.acquire(caller) {
            crate::metrics::backend(endpoint, "refused");
            return Err(Failure::Refused(wait));
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
            }) => Err(Failure::Status {
                status: 429,
                retry_after: Some(self.gate.pause(retry_after)),
                trace_id,
                body,
            }),
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
    /// No call made: the budget is spent or a 429 pause lasts this long.
    Refused(Duration),
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
            Failure::Refused(wait) => Self::RateLimited(Some(*wait)),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    fn gate(calls: u32) -> (Arc<ManualClock>, Gate) {
        let clock = Arc::new(ManualClock::new(1_000));
        let budget = BackendBudget {
            calls,
            ..BackendBudget::default()
        };
        (clock.clone(), Gate::new(clock, budget))
    }

    fn granted(g: &Gate, caller: Caller) -> usize {
        (0..100).filter(|_| g.acquire(caller).is_ok()).count()
    }

    #[test]
    fn machines_get_half_the_window_and_the_rest_stays_for_users_and_known_tokens() {
        let (clock, g) = gate(10);
        assert_eq!(granted(&g, Caller::Machines), 5);
        assert!(g.acquire(Caller::KnownMachine).is_ok());
        assert_eq!(granted(&g, Caller::Users), 4, "10 in all");
        assert!(g.acquire(Caller::KnownMachine).is_err());
        assert!(
            g.acquire(Caller::Keys).is_ok(),
            "key fetches count but are refused only by a 429 pause"
        );
        clock.advance(9);
        assert_eq!(g.acquire(Caller::Users), Err(Duration::from_secs(1)));
        clock.advance(1);
        assert!(g.acquire(Caller::Machines).is_ok(), "a new window");
        let (_, tiny) = gate(1);
        assert_eq!(granted(&tiny, Caller::Machines), 0, "never more than half");
    }

    #[test]
    fn a_429_pauses_every_caller_for_retry_after_capped() {
        let (clock, g) = gate(50);
        assert_eq!(
            g.pause(Some(Duration::from_secs(86_400))),
            Duration::from_secs(60)
        );
        for caller in [Caller::Keys, Caller::Users, Caller::Machines] {
            assert_eq!(g.acquire(caller), Err(Duration::from_secs(60)));
        }
        clock.advance(59);
        assert!(g.acquire(Caller::Users).is_err());
        clock.advance(1);
        assert!(g.acquire(Caller::Users).is_ok());
        assert_eq!(g.pause(None), Duration::from_secs(10), "no Retry-After");
        assert_eq!(g.pause(Some(Duration::ZERO)), Duration::from_secs(1));
        // A shorter pause never shortens a longer one.
        g.pause(Some(Duration::from_secs(30)));
        g.pause(Some(Duration::from_secs(2)));
        clock.advance(29);
        assert!(g.acquire(Caller::Keys).is_err());
    }

    #[test]
    fn a_clock_stepped_back_neither_stretches_a_pause_nor_freezes_the_window() {
        let (clock, g) = gate(4);
        g.pause(Some(Duration::from_secs(60)));
        clock.set(1_000 - 3_600);
        assert!(
            g.acquire(Caller::Users).is_ok(),
            "the pause ends rather than lasting an hour more"
        );
        assert_eq!(granted(&g, Caller::Users), 3);
        clock.set(1_000 - 7_200);
        assert!(
            g.acquire(Caller::Users).is_ok(),
            "a new window, not a frozen one"
        );
    }
}
