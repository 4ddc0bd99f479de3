//! Where verification keys come from, and the store that serves them.
//!
//! A [`KeySource`] produces a [`KeySet`]: a PEM key or static JWKS (loaded
//! once), Clerk's Backend API ([`BackendApiSource`]) or Frontend API
//! ([`FrontendApiSource`]), or your own. The [`KeyStore`] holds the current
//! set as an atomically swapped snapshot, so a lookup on the request path
//! never takes a lock that a refresh could hold, and refreshes it under the
//! rules of [`KeyRefresh`]: TTL, unknown-`kid` cool-down, single-flight fetches,
//! backoff, and a stale window that keeps tokens verifying through an outage.

mod key;
pub(crate) mod policy;
mod remote;
mod set;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arc_swap::ArcSwap;

pub(crate) use key::VerifyingKey;
pub(crate) use policy::{CacheState, KeyRefresh};
pub(crate) use remote::http_client;
pub(crate) use remote::{BackendApiSource, FrontendApiSource};
pub(crate) use set::KeySet;

use crate::clock::Clock;
use crate::error::{Reason, VerifyError};
use policy::{FetchCause, KeyStep};

/// A boxed, sendable future: key fetches are rare, so boxing them costs
/// nothing measurable and keeps [`KeySource`] object-safe.
pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why a key source could not produce keys.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}: {message}")]
pub(crate) struct KeyFetchError {
    /// Clerk's reason (`jwk-remote-failed-to-load`, `secret-key-invalid`, ...).
    pub reason: Reason,
    /// A fixed explanation (never a secret or a response body).
    pub message: &'static str,
}

/// Something that can produce the instance's current key set: a local
/// document, Clerk's Backend API, Clerk's Frontend API, or your own.
pub(crate) trait KeySource: Send + Sync + 'static {
    /// A short name for logs, e.g. `"pem"` or `"backend-api"`.
    fn name(&self) -> &'static str;

    /// Fetches the current key set.
    fn fetch(&self) -> BoxFuture<'_, Result<KeySet, KeyFetchError>>;
}

/// Serves verification keys by `kid`.
///
/// Local sources are loaded once. Remote sources follow [`KeyRefresh`]: the
/// current state is an atomically swapped snapshot, so a lookup that needs no
/// fetch takes no lock; fetches are single-flight (one in flight per store,
/// concurrent requests that need it wait for it).
pub(crate) struct KeyStore {
    state: ArcSwap<CacheState>,
    remote: Option<Remote>,
    losses: AtomicU64,
}

struct Remote {
    source: Arc<dyn KeySource>,
    policy: KeyRefresh,
    clock: Arc<dyn Clock>,
    flight: tokio::sync::Mutex<()>,
}

const fn kid_mismatch() -> VerifyError {
    VerifyError::new(Reason::JwkKidMismatch, "no key with the token's kid")
}

impl KeyStore {
    /// A store whose keys never change (PEM key or static JWKS).
    pub(crate) fn fixed(set: KeySet) -> Self {
        Self {
            state: ArcSwap::from_pointee(CacheState {
                keys: Some(Arc::new(set)),
                ..CacheState::default()
            }),
            remote: None,
            losses: AtomicU64::new(0),
        }
    }

    /// A store fed by `source` under `policy`, with time from `clock`.
    /// Nothing is fetched until the first token or [`KeyStore::prefetch`].
    pub(crate) fn remote(
        source: Arc<dyn KeySource>,
        policy: KeyRefresh,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            state: ArcSwap::from_pointee(CacheState::default()),
            remote: Some(Remote {
                source,
                policy,
                clock,
                flight: tokio::sync::Mutex::new(()),
            }),
            losses: AtomicU64::new(0),
        }
    }

    /// The key for a token's `kid`, fetching the set when the policy says so.
    ///
    /// # Errors
    /// `jwk-kid-mismatch` when no key has that `kid` (and no refresh is
    /// allowed); `jwk-remote-failed-to-load`, `jwk-failed-to-resolve` or
    /// `secret-key-invalid` when no usable key set can be had.
    pub(crate) async fn key_for(
        &self,
        kid: Option<&str>,
    ) -> Result<Arc<VerifyingKey>, VerifyError> {
        let Some(remote) = &self.remote else {
            let state = self.state.load();
            return state
                .keys
                .as_ref()
                .and_then(|k| k.find(kid))
                .cloned()
                .ok_or(kid_mismatch());
        };
        let mut waited_for_fetch = false;
        loop {
            let now = remote.clock.now_unix();
            let state = self.state.load_full();
            let found = || {
                state
                    .usable(now, &remote.policy)
                    .and_then(|k| k.find(kid))
                    .cloned()
            };
            match policy::decide(&state, kid, now, &remote.policy) {
                KeyStep::Use { stale } => {
                    if stale {
                        tracing::debug!("serving keys past their TTL while the key endpoint fails");
                    }
                    return found().ok_or(kid_mismatch());
                }
                KeyStep::UseAndRefresh => {
                    // One request refreshes; the others keep using the set.
                    if let Ok(guard) = remote.flight.try_lock() {
                        if Arc::ptr_eq(&state, &self.state.load_full()) {
                            self.fetch(remote, FetchCause::Expired).await;
                        }
                        drop(guard);
                    }
                    let now = remote.clock.now_unix();
                    let latest = self.state.load_full();
                    return latest
                        .usable(now, &remote.policy)
                        .and_then(|k| k.find(kid))
                        .cloned()
                        .or_else(found)
                        .ok_or(kid_mismatch());
                }
                KeyStep::Fetch(cause) if !waited_for_fetch => {
                    let guard = remote.flight.lock().await;
                    // Someone else fetched while we waited: decide again on
                    // their result instead of fetching twice.
                    if Arc::ptr_eq(&state, &self.state.load_full()) {
                        self.fetch(remote, cause).await;
                    }
                    drop(guard);
                    waited_for_fetch = true;
                }
                KeyStep::Fetch(FetchCause::UnknownKid) | KeyStep::KidMismatch => {
                    if !waited_for_fetch {
                        tracing::debug!("unknown kid refused inside the refresh cool-down");
                    }
                    return Err(kid_mismatch());
                }
                KeyStep::Fetch(FetchCause::Expired) | KeyStep::Unavailable => {
                    return Err(unavailable(state.last_error));
                }
            }
        }
    }

    /// The key for `kid` if it can be had without waiting: `None` when the
    /// set must be fetched (or refreshed) first; then use [`KeyStore::key_for`].
    ///
    /// # Errors
    /// As [`KeyStore::key_for`], for answers that need no fetch.
    pub(crate) fn key_ready(
        &self,
        kid: Option<&str>,
    ) -> Option<Result<Arc<VerifyingKey>, VerifyError>> {
        let state = self.state.load();
        let Some(remote) = &self.remote else {
            return Some(
                state
                    .keys
                    .as_ref()
                    .and_then(|k| k.find(kid))
                    .cloned()
                    .ok_or(kid_mismatch()),
            );
        };
        let now = remote.clock.now_unix();
        match policy::decide(&state, kid, now, &remote.policy) {
            KeyStep::Use { .. } => Some(
                state
                    .usable(now, &remote.policy)
                    .and_then(|k| k.find(kid))
                    .cloned()
                    .ok_or(kid_mismatch()),
            ),
            KeyStep::KidMismatch => Some(Err(kid_mismatch())),
            KeyStep::Unavailable => Some(Err(unavailable(state.last_error))),
            KeyStep::UseAndRefresh | KeyStep::Fetch(_) => None,
        }
    }

    /// Fetches once and records the outcome. Call with the flight lock held.
    async fn fetch(&self, remote: &Remote, cause: FetchCause) {
        let result = remote.source.fetch().await;
        crate::metrics::key_fetch(remote.source.name(), result.is_ok());
        let now = remote.clock.now_unix();
        let before = self.state.load_full();
        let next = match result {
            Ok(set) => {
                if let Some(old) = &before.keys
                    && !old.is_subset_of(&set)
                {
                    self.losses.fetch_add(1, Ordering::SeqCst);
                    tracing::info!(
                        source = remote.source.name(),
                        "key set lost a key; verified tokens forgotten"
                    );
                }
                policy::after_success(&before, Arc::new(set), cause, now)
            }
            Err(e) => {
                if before.usable(now, &remote.policy).is_some() {
                    tracing::warn!(
                        source = remote.source.name(),
                        reason = e.reason.as_str(),
                        "key refresh failed; serving the last good keys"
                    );
                }
                policy::after_failure(&before, e.reason, cause, now, &remote.policy)
            }
        };
        self.state.store(Arc::new(next));
    }

    /// Fetches the key set now (for start-up), unless a fetch is in flight.
    ///
    /// # Errors
    /// Why the fetch failed. A store with a local source always succeeds.
    pub(crate) async fn prefetch(&self) -> Result<(), KeyFetchError> {
        let Some(remote) = &self.remote else {
            return Ok(());
        };
        let guard = remote.flight.lock().await;
        self.fetch(remote, FetchCause::Expired).await;
        drop(guard);
        match self.state.load().last_error {
            None => Ok(()),
            Some(reason) => Err(KeyFetchError {
                reason,
                message: "key set could not be fetched",
            }),
        }
    }

    /// True when a usable key set is loaded (for health checks).
    pub(crate) fn is_ready(&self) -> bool {
        let state = self.state.load();
        match &self.remote {
            None => state.keys.as_ref().is_some_and(|k| !k.is_empty()),
            Some(r) => state.usable(r.clock.now_unix(), &r.policy).is_some(),
        }
    }

    /// Counts the refreshes after which a previously served key was gone;
    /// verifiers forget their verified tokens when it changes.
    pub(crate) fn losses(&self) -> u64 {
        self.losses.load(Ordering::Relaxed)
    }
}

fn unavailable(reason: Option<Reason>) -> VerifyError {
    match reason {
        Some(Reason::SecretKeyInvalid) => VerifyError::new(
            Reason::SecretKeyInvalid,
            "the Backend API refused the secret key",
        ),
        Some(Reason::JwkFailedToResolve) => VerifyError::new(
            Reason::JwkFailedToResolve,
            "the key endpoint returned no usable key",
        ),
        _ => VerifyError::new(
            Reason::JwkRemoteFailedToLoad,
            "no usable key set: the key endpoint cannot be reached",
        ),
    }
}

impl std::fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.state.load();
        f.debug_struct("KeyStore")
            .field(
                "source",
                &self.remote.as_ref().map_or("local", |r| r.source.name()),
            )
            .field("keys", &state.keys.as_ref().map_or(0, |k| k.len()))
            .field("fetched_at", &state.fetched_at)
            .field("failures", &state.failures)
            .finish()
    }
}
