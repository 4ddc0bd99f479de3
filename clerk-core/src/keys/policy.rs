//! The key cache's refresh policy, as pure functions of (state, kid, now):
//! no network, no clock, no locks, so every branch is unit-tested.
//!
//! * the whole set is refreshed after `ttl` (a hit never extends it);
//! * an unknown `kid` triggers at most one refresh per `cooldown`; inside
//!   the cool-down it is refused at once (`jwk-kid-mismatch`);
//! * after a failed fetch the next one waits an exponential backoff; in the
//!   meantime the last good set keeps serving for `stale_window` past its
//!   TTL; with no usable set left the answer is "unavailable" (503).

use std::sync::Arc;

use super::KeySet;
use crate::error::Reason;

/// Timings of the key cache, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct KeyRefresh {
    /// A fetched set is fresh this long (default 1 hour).
    pub ttl: i64,
    /// At most one refresh for unknown `kid`s per this long (default 5 minutes).
    pub cooldown: i64,
    /// A set keeps serving this long past its TTL while fetches fail
    /// (default 24 hours).
    pub stale_window: i64,
    /// First wait after a failed fetch; doubles per failure (default 5 s).
    pub backoff_base: i64,
    /// Longest wait between failed fetches (default 5 minutes).
    pub backoff_max: i64,
}

impl Default for KeyRefresh {
    fn default() -> Self {
        Self {
            ttl: 3600,
            cooldown: 300,
            stale_window: 24 * 3600,
            backoff_base: 5,
            backoff_max: 300,
        }
    }
}

impl KeyRefresh {
    /// The wait before the next fetch after `failures` consecutive failures.
    pub(crate) fn backoff(&self, failures: u32) -> i64 {
        let doublings = failures.saturating_sub(1).min(30);
        self.backoff_base
            .saturating_mul(1i64 << doublings)
            .min(self.backoff_max)
            .max(0)
    }
}

/// What the store knows: the last good set and the fetch history.
#[derive(Debug, Clone, Default)]
pub(crate) struct CacheState {
    /// The last set fetched successfully.
    pub keys: Option<Arc<KeySet>>,
    /// When `keys` was fetched.
    pub fetched_at: Option<i64>,
    /// When an unknown `kid` last triggered a refresh.
    pub kid_refresh_at: Option<i64>,
    /// Consecutive failed fetches.
    pub failures: u32,
    /// No fetch before this time (backoff after failures).
    pub retry_at: Option<i64>,
    /// Why the last fetch failed, when it did.
    pub last_error: Option<Reason>,
}

/// Why a fetch is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FetchCause {
    /// No usable set, or the set's TTL passed.
    Expired,
    /// The token's `kid` is not in the set.
    UnknownKid,
}

/// What to do for one token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyStep {
    /// Use the current set; `stale` when it is past its TTL and a refresh
    /// is not allowed yet (backoff).
    Use {
        /// The set is past its TTL.
        stale: bool,
    },
    /// Use the current set, and refresh it if no refresh is in flight
    /// (without making other requests wait).
    UseAndRefresh,
    /// Fetch first (waiting for a fetch already in flight), then decide again.
    Fetch(FetchCause),
    /// The `kid` is unknown and a refresh is not allowed now.
    KidMismatch,
    /// No usable set and no fetch allowed now.
    Unavailable,
}

impl CacheState {
    /// True when `keys` may still be used at `now` (fresh or stale).
    pub(crate) fn usable(&self, now: i64, p: &KeyRefresh) -> Option<&Arc<KeySet>> {
        let at = self.fetched_at?;
        let keys = self.keys.as_ref()?;
        (now.saturating_sub(at) < p.ttl.saturating_add(p.stale_window)).then_some(keys)
    }

    fn may_fetch(&self, now: i64) -> bool {
        self.retry_at.is_none_or(|t| now >= t)
    }
}

/// Decides what to do for a token with `kid` at `now`.
pub(crate) fn decide(state: &CacheState, kid: Option<&str>, now: i64, p: &KeyRefresh) -> KeyStep {
    let may_fetch = state.may_fetch(now);
    let Some(keys) = state.usable(now, p) else {
        return if may_fetch {
            KeyStep::Fetch(FetchCause::Expired)
        } else {
            KeyStep::Unavailable
        };
    };
    let fresh = state
        .fetched_at
        .is_some_and(|at| now.saturating_sub(at) < p.ttl);
    if keys.find(kid).is_some() {
        return match (fresh, may_fetch) {
            (true, _) => KeyStep::Use { stale: false },
            (false, true) => KeyStep::UseAndRefresh,
            (false, false) => KeyStep::Use { stale: true },
        };
    }
    let cooled = state
        .kid_refresh_at
        .is_none_or(|t| now.saturating_sub(t) >= p.cooldown);
    if cooled && may_fetch {
        KeyStep::Fetch(FetchCause::UnknownKid)
    } else {
        KeyStep::KidMismatch
    }
}

/// The state after a successful fetch of `keys` at `now`.
pub(crate) fn after_success(
    state: &CacheState,
    keys: Arc<KeySet>,
    cause: FetchCause,
    now: i64,
) -> CacheState {
    CacheState {
        keys: Some(keys),
        fetched_at: Some(now),
        kid_refresh_at: match cause {
            FetchCause::UnknownKid => Some(now),
            FetchCause::Expired => state.kid_refresh_at,
        },
        failures: 0,
        retry_at: None,
        last_error: None,
    }
}

/// The state after a failed fetch at `now`: the last good set is kept.
pub(crate) fn after_failure(
    state: &CacheState,
    reason: Reason,
    cause: FetchCause,
    now: i64,
    p: &KeyRefresh,
) -> CacheState {
    let failures = state.failures.saturating_add(1);
    CacheState {
        keys: state.keys.clone(),
        fetched_at: state.fetched_at,
        kid_refresh_at: match cause {
            FetchCause::UnknownKid => Some(now),
            FetchCause::Expired => state.kid_refresh_at,
        },
        failures,
        retry_at: Some(now.saturating_add(p.backoff(failures))),
        last_error: Some(reason),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestIssuer;

    const P: KeyRefresh = KeyRefresh {
        ttl: 3600,
        cooldown: 300,
        stale_window: 86_400,
        backoff_base: 5,
        backoff_max: 300,
    };

    fn set(kid: &str) -> Arc<KeySet> {
        let issuer = TestIssuer::with_kid(kid);
        Arc::new(
            KeySet::from_jwks_json(issuer.jwks_json().as_bytes())
                .unwrap()
                .0,
        )
    }

    fn fetched(at: i64) -> CacheState {
        CacheState {
            keys: Some(set("k1")),
            fetched_at: Some(at),
            ..CacheState::default()
        }
    }

    #[test]
    fn empty_state_fetches_or_is_unavailable_during_backoff() {
        let s = CacheState::default();
        assert_eq!(
            decide(&s, Some("k1"), 0, &P),
            KeyStep::Fetch(FetchCause::Expired)
        );
        let failed = after_failure(
            &s,
            Reason::JwkRemoteFailedToLoad,
            FetchCause::Expired,
            0,
            &P,
        );
        assert_eq!(failed.retry_at, Some(5));
        assert_eq!(decide(&failed, Some("k1"), 4, &P), KeyStep::Unavailable);
        assert_eq!(
            decide(&failed, Some("k1"), 5, &P),
            KeyStep::Fetch(FetchCause::Expired)
        );
    }

    #[test]
    fn fresh_known_kid_is_used() {
        assert_eq!(
            decide(&fetched(0), Some("k1"), 3599, &P),
            KeyStep::Use { stale: false }
        );
    }

    #[test]
    fn ttl_passed_refreshes_in_the_background_of_one_request() {
        assert_eq!(
            decide(&fetched(0), Some("k1"), 3600, &P),
            KeyStep::UseAndRefresh
        );
    }

    #[test]
    fn stale_set_serves_during_backoff_and_until_the_window_ends() {
        let s = after_failure(
            &fetched(0),
            Reason::JwkRemoteFailedToLoad,
            FetchCause::Expired,
            3600,
            &P,
        );
        assert_eq!(
            decide(&s, Some("k1"), 3601, &P),
            KeyStep::Use { stale: true }
        );
        assert_eq!(decide(&s, Some("k1"), 3605, &P), KeyStep::UseAndRefresh);
        // Last usable second of the stale window, then nothing.
        let s = CacheState {
            retry_at: Some(i64::MAX),
            ..s
        };
        assert_eq!(
            decide(&s, Some("k1"), 3600 + 86_399, &P),
            KeyStep::Use { stale: true }
        );
        assert_eq!(
            decide(&s, Some("k1"), 3600 + 86_400, &P),
            KeyStep::Unavailable
        );
        let s = CacheState {
            retry_at: None,
            ..s
        };
        assert_eq!(
            decide(&s, Some("k1"), 3600 + 86_400, &P),
            KeyStep::Fetch(FetchCause::Expired)
        );
    }

    #[test]
    fn unknown_kid_refreshes_once_per_cooldown() {
        let s = fetched(0);
        assert_eq!(
            decide(&s, Some("k2"), 10, &P),
            KeyStep::Fetch(FetchCause::UnknownKid)
        );
        let s = after_success(&s, set("k1"), FetchCause::UnknownKid, 10);
        assert_eq!(s.kid_refresh_at, Some(10));
        assert_eq!(decide(&s, Some("k2"), 309, &P), KeyStep::KidMismatch);
        assert_eq!(decide(&s, Some("k3"), 309, &P), KeyStep::KidMismatch);
        assert_eq!(
            decide(&s, Some("k2"), 310, &P),
            KeyStep::Fetch(FetchCause::UnknownKid)
        );
        assert_eq!(
            decide(&s, None, 10, &P),
            KeyStep::KidMismatch,
            "no kid: never in a set"
        );
    }

    #[test]
    fn unknown_kid_during_backoff_is_refused() {
        let s = after_failure(
            &fetched(0),
            Reason::JwkRemoteFailedToLoad,
            FetchCause::Expired,
            100,
            &P,
        );
        assert_eq!(decide(&s, Some("k2"), 101, &P), KeyStep::KidMismatch);
        assert_eq!(
            s.kid_refresh_at, None,
            "an expiry refresh does not start the kid cool-down"
        );
        let s = after_failure(
            &s,
            Reason::JwkRemoteFailedToLoad,
            FetchCause::UnknownKid,
            200,
            &P,
        );
        assert_eq!(s.kid_refresh_at, Some(200));
    }

    #[test]
    fn success_resets_failures_and_keeps_kid_cooldown_for_expiry_refreshes() {
        let s = CacheState {
            kid_refresh_at: Some(7),
            failures: 3,
            retry_at: Some(99),
            last_error: Some(Reason::SecretKeyInvalid),
            ..fetched(0)
        };
        let s = after_success(&s, set("k9"), FetchCause::Expired, 50);
        assert_eq!((s.failures, s.retry_at, s.last_error), (0, None, None));
        assert_eq!(s.kid_refresh_at, Some(7));
        assert_eq!(s.fetched_at, Some(50));
        assert!(s.keys.unwrap().find(Some("k9")).is_some());
    }

    #[test]
    fn failure_keeps_the_last_good_set() {
        let s = after_failure(
            &fetched(0),
            Reason::SecretKeyInvalid,
            FetchCause::Expired,
            10,
            &P,
        );
        assert!(s.keys.is_some());
        assert_eq!(s.fetched_at, Some(0));
        assert_eq!(s.last_error, Some(Reason::SecretKeyInvalid));
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let got: Vec<i64> = (1..=8).map(|n| P.backoff(n)).collect();
        assert_eq!(got, [5, 10, 20, 40, 80, 160, 300, 300]);
        assert_eq!(P.backoff(u32::MAX), 300);
        let zero = KeyRefresh {
            backoff_base: 0,
            ..P
        };
        assert_eq!(zero.backoff(3), 0);
    }
}
