//! The calling side of M2M: a token this machine mints with its secret key
//! and hands to every outgoing request, renewed before it expires.
//!
//! Hand-written rather than a generic token-cache crate: the rules are
//! Clerk's (a minted M2M token's `expiration`, the Backend API's 429 and
//! the process's shared budget) and fit in one small state machine.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwapOption;

use crate::api::{Api, ApiError, NewM2mToken, Secret};
use crate::clock::Clock;

/// A token expiring within this many seconds is never handed out: a
/// request must have time to arrive.
const SKEW_SECS: i64 = 5;
/// Renewal starts this long before expiry unless told otherwise.
const DEFAULT_REFRESH_BEFORE: Duration = Duration::from_secs(60);
/// A token that never expires is renewed this often.
const NEVER_EXPIRING_RENEWAL_SECS: i64 = 3600;
/// The longest pause after failures.
const MAX_BACKOFF_SECS: i64 = 60;

/// An M2M token for this machine's outgoing calls (Clerk's
/// `m2m.createToken` with `CLERK_MACHINE_SECRET_KEY`), shared by every
/// caller: minted on first use, renewed by one caller at a time before it
/// expires (others keep using the current token meanwhile), never handed
/// out within 5 seconds of its expiry. When Clerk answers 429 or fails,
/// the current token serves while it is valid and no new mint is tried
/// before a pause (Clerk's `Retry-After`, else 1, 2, 4 … 60 seconds);
/// with no valid token the error is answered at once, without a call.
/// Cheap to clone.
///
/// ```
/// # async fn f(clerk: &clerk_core::Clerk) -> Result<(), Box<dyn std::error::Error>> {
/// use clerk_core::api::NewM2mToken;
/// let credential = clerk.machine_credential(NewM2mToken::new().seconds_until_expiration(3600))?;
/// let client = reqwest::Client::new();
/// let res = credential
///     .authorize(client.get("https://reports.internal/api/export"))
///     .await?
///     .send()
///     .await?;
/// # let _ = res;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct MachineCredential {
    inner: Arc<Inner>,
}

struct Inner {
    api: Api,
    request: NewM2mToken,
    clock: Arc<dyn Clock>,
    refresh_before: i64,
    current: ArcSwapOption<Current>,
    /// Held by the one caller minting; the pause after failures.
    flight: tokio::sync::Mutex<Backoff>,
}

struct Current {
    token: Secret,
    /// Seconds since the epoch; `None`: never expires.
    expires_at: Option<i64>,
    /// When renewal starts.
    refresh_at: Option<i64>,
}

#[derive(Default)]
struct Backoff {
    failures: u32,
    not_before: i64,
    last: Option<ApiError>,
}

impl std::fmt::Debug for MachineCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let expires_at = self.inner.current.load().as_ref().map(|c| c.expires_at);
        f.debug_struct("MachineCredential")
            .field("expires_at", &expires_at)
            .finish_non_exhaustive()
    }
}

impl Current {
    fn fresh(&self, now: i64) -> bool {
        self.refresh_at.is_none_or(|r| now < r) && self.usable(now)
    }

    fn usable(&self, now: i64) -> bool {
        self.expires_at.is_none_or(|e| now < e - SKEW_SECS)
    }
}

impl MachineCredential {
    /// A credential minting `request` through `api` (which calls as the
    /// machine), on `clock`.
    pub(crate) fn new(api: Api, request: NewM2mToken, clock: Arc<dyn Clock>) -> Self {
        Self {
            inner: Arc::new(Inner {
                api,
                request,
                clock,
                refresh_before: secs(DEFAULT_REFRESH_BEFORE),
                current: ArcSwapOption::empty(),
                flight: tokio::sync::Mutex::new(Backoff::default()),
            }),
        }
    }

    /// Starts renewing `ahead` before expiry (default 60 s; a token living
    /// less than twice that is renewed at half its life). Set it before
    /// first use: a token already minted is dropped.
    #[must_use]
    pub fn refresh_before(self, ahead: Duration) -> Self {
        let inner = Inner {
            api: self.inner.api.clone(),
            request: self.inner.request.clone(),
            clock: self.inner.clock.clone(),
            refresh_before: secs(ahead),
            current: ArcSwapOption::empty(),
            flight: tokio::sync::Mutex::new(Backoff::default()),
        };
        Self {
            inner: Arc::new(inner),
        }
    }

    /// The token to send as `Authorization: Bearer`.
    ///
    /// # Errors
    /// When no valid token is at hand and minting one failed, now or within
    /// the pause after a failure (then no call is made).
    pub async fn bearer(&self) -> Result<Secret, ApiError> {
        let inner = &self.inner;
        let now = inner.clock.now_unix();
        let current = inner.current.load_full();
        if let Some(c) = current.as_ref().filter(|c| c.fresh(now)) {
            return Ok(c.token.clone());
        }
        // Due for renewal: one caller renews; while it does, the others
        // keep the current token if it is still valid.
        let mut backoff = match inner.flight.try_lock() {
            Ok(guard) => guard,
            Err(_) => match current.as_ref().filter(|c| c.usable(now)) {
                Some(c) => return Ok(c.token.clone()),
                None => inner.flight.lock().await,
            },
        };
        let now = inner.clock.now_unix();
        let current = inner.current.load_full();
        if let Some(c) = current.as_ref().filter(|c| c.fresh(now)) {
            return Ok(c.token.clone());
        }
        let usable = current.as_ref().filter(|c| c.usable(now));
        if now < backoff.not_before {
            return match (usable, &backoff.last) {
                (Some(c), _) => Ok(c.token.clone()),
                (None, Some(e)) => Err(e.clone()),
                (None, None) => Err(ApiError::Unreachable),
            };
        }
        match self.mint(now).await {
            Ok(fresh) => {
                let token = fresh.token.clone();
                inner.current.store(Some(Arc::new(fresh)));
                *backoff = Backoff::default();
                Ok(token)
            }
            Err(e) => {
                backoff.failures = backoff.failures.saturating_add(1);
                let pause = match &e {
                    ApiError::RateLimited { retry_after, .. } => secs(*retry_after).max(1),
                    _ => 1_i64
                        .checked_shl(backoff.failures.saturating_sub(1).min(6))
                        .unwrap_or(MAX_BACKOFF_SECS),
                };
                backoff.not_before = now.saturating_add(pause.min(MAX_BACKOFF_SECS));
                backoff.last = Some(e.clone());
                tracing::warn!(
                    error = %e,
                    pause_secs = pause.min(MAX_BACKOFF_SECS),
                    "Clerk: minting this machine's M2M token failed"
                );
                match usable {
                    Some(c) => Ok(c.token.clone()),
                    None => Err(e),
                }
            }
        }
    }

    /// Drops the current token, so the next call mints one (after the
    /// service it was sent to answered 401: revoked, or the machine's key
    /// rotated). The pause after a failed mint still holds.
    pub fn invalidate(&self) {
        self.inner.current.store(None);
    }

    /// `request` with `Authorization: Bearer <token>`.
    ///
    /// # Errors
    /// As [`MachineCredential::bearer`].
    pub async fn authorize(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::RequestBuilder, ApiError> {
        let token = self.bearer().await?;
        Ok(request.bearer_auth(token.expose()))
    }

    /// One mint: the token and when it expires (Clerk's `expiration`, in
    /// milliseconds). A token already expired, or missing, is a bad answer.
    async fn mint(&self, now: i64) -> Result<Current, ApiError> {
        let record = self
            .inner
            .api
            .m2m_tokens()
            .create(&self.inner.request)
            .await?;
        let token = record.token.ok_or(ApiError::InvalidResponse)?;
        let expires_at = record.expiration.map(|ms| ms.div_euclid(1000));
        if expires_at.is_some_and(|e| e <= now + SKEW_SECS) {
            return Err(ApiError::InvalidResponse);
        }
        // A short-lived token is renewed at half its life, and any token
        // before the last 5 seconds it is never handed out in; one that
        // never expires is renewed hourly (revoked or rotated away, it is
        // not kept for ever).
        let refresh_at = Some(match expires_at {
            Some(e) => (e - self.inner.refresh_before.min((e - now) / 2)).min(e - SKEW_SECS),
            None => now.saturating_add(NEVER_EXPIRING_RENEWAL_SECS),
        });
        Ok(Current {
            token,
            expires_at,
            refresh_at,
        })
    }
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}
