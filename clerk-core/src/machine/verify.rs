// Opaque machine tokens verified through the Backend API: one call per
// token, single flight, answers cached by their expiry (positive and
// negative), under the budget's machine share.
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use moka::Expiry;
use serde_json::json;

use super::{MachineAuth, MachineCache, TokenType, has_opaque_shape};
use crate::api::budget::{Caller, Client};
use crate::api::transport::{BackendApi, BackendError};
use crate::clock::Clock;
use crate::error::{Reason, VerifyError};

type Outcome = Result<Arc<MachineAuth>, VerifyError>;

/// What one Backend API call said of a token.
#[derive(Clone)]
enum Verdict {
    /// Verified.
    Verified(Arc<MachineAuth>),
    /// Clerk's refusal (unknown, revoked, expired), or the secret key's.
    Refused(VerifyError),
    /// Clerk could not answer (unreachable, timeout, 5xx, unreadable): a
    /// token verified within the stale window may keep working.
    Outage,
    /// Not asked: the budget or this client's share is spent, or Clerk
    /// answered 429 (and calls are paused). Never served stale: anyone can
    /// spend an anonymous share, and a revoked token must not outlive it.
    NotAsked,
}

/// What [`MachineVerifier::ask`] found: a verdict now, or another
/// replica's with when it was had.
enum Asked {
    Now(Verdict),
    #[cfg(feature = "redis")]
    Shared(Verdict, i64),
}

/// A verdict and when it was had (seconds, by the injected clock, which
/// judges freshness on read; moka's own expiry is a wall-clock backstop).
type Answer = (Verdict, i64);
type Cache = moka::future::Cache<String, Answer, foldhash::fast::RandomState>;

/// Remembers answers: verified tokens until expiry (at most the TTL),
/// refusals briefly, outages and unasked questions not at all.
struct OutcomeExpiry {
    clock: Arc<dyn Clock>,
    policy: MachineCache,
}

impl Expiry<String, Answer> for OutcomeExpiry {
    fn expire_after_create(
        &self,
        _: &String,
        (verdict, _): &Answer,
        _: std::time::Instant,
    ) -> Option<Duration> {
        Some(match verdict {
            Verdict::Verified(m) => {
                let left = m.expires_at.map_or(self.policy.ttl, |e| {
                    Duration::from_secs(
                        u64::try_from(e.saturating_sub(self.clock.now_unix())).unwrap_or(0),
                    )
                });
                left.min(self.policy.ttl)
            }
            Verdict::Refused(e) if e.reason().is_unavailable() => Duration::ZERO,
            Verdict::Refused(_) => self.policy.negative_ttl,
            Verdict::Outage | Verdict::NotAsked => Duration::ZERO,
        })
    }
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

/// The SHA-256 digest of a token: how tokens verified before are
/// remembered for a day without keeping the secret itself.
#[cfg(feature = "redis")]
fn hex(digest: &[u8; 32]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn digest(token: &str) -> [u8; 32] {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
    let mut out = [0; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// How long a token verified once counts as known: its re-checks come out
/// of the reserve, not the share unknown tokens compete for.
const KNOWN_FOR: Duration = Duration::from_secs(24 * 3600);

/// Verifies opaque machine tokens with the Backend API.
pub(crate) struct MachineVerifier {
    api: Option<BackendApi>,
    m2m_api: Option<BackendApi>,
    cache: Cache,
    /// Verified tokens for the stale window: served when Clerk is down.
    recent: moka::sync::Cache<String, (Arc<MachineAuth>, i64), foldhash::fast::RandomState>,
    /// Digests of tokens Clerk verified in the last day.
    known: moka::sync::Cache<[u8; 32], (), foldhash::fast::RandomState>,
    clock: Arc<dyn Clock>,
    policy: MachineCache,
    /// The fleet's revocation listener (feature `redis`).
    #[cfg(feature = "redis")]
    listening: std::sync::atomic::AtomicBool,
    /// Dropped with the verifier: the listener task then ends.
    #[cfg(feature = "redis")]
    stop: std::sync::Mutex<Option<tokio::sync::oneshot::Sender<()>>>,
}

impl fmt::Debug for MachineVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MachineVerifier")
            .field("api", &self.api)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

const fn backend_unavailable(message: &'static str) -> VerifyError {
    VerifyError::new(Reason::BackendApiUnavailable, message)
}

impl MachineVerifier {
    /// A verifier calling `api` (secret key), and `m2m_api` (machine
    /// secret key) for M2M tokens when given.
    pub(crate) fn new(
        api: Option<BackendApi>,
        m2m_api: Option<BackendApi>,
        clock: Arc<dyn Clock>,
        policy: MachineCache,
    ) -> Self {
        let cache = moka::future::Cache::builder()
            .max_capacity(10_000)
            .support_invalidation_closures()
            .expire_after(OutcomeExpiry {
                clock: clock.clone(),
                policy,
            })
            .build_with_hasher(foldhash::fast::RandomState::default());
        let recent = moka::sync::Cache::builder()
            .max_capacity(10_000)
            .support_invalidation_closures()
            .time_to_live(policy.ttl.saturating_add(policy.stale_window))
            .build_with_hasher(foldhash::fast::RandomState::default());
        let known = moka::sync::Cache::builder()
            .max_capacity(100_000)
            .time_to_live(KNOWN_FOR)
            .build_with_hasher(foldhash::fast::RandomState::default());
        Self {
            api,
            m2m_api,
            cache,
            recent,
            known,
            clock,
            policy,
            #[cfg(feature = "redis")]
            listening: std::sync::atomic::AtomicBool::new(false),
            #[cfg(feature = "redis")]
            stop: std::sync::Mutex::new(None),
        }
    }

    /// Verifies an opaque token of `kind` (cached, single-flight per
    /// token) for `client` (the caller's address, for fairness when the
    /// token was never verified before).
    ///
    /// # Errors
    /// `token-invalid` (unknown), `token-revoked`, `token-expired`, or
    /// `backend-api-unavailable` / `secret-key-invalid` (503).
    pub(crate) async fn verify(
        &self,
        token: &str,
        kind: TokenType,
        client: Option<Client>,
    ) -> Outcome {
        if !has_opaque_shape(token, kind) {
            return Err(VerifyError::new(
                Reason::TokenInvalid,
                "not the shape of a Clerk machine token",
            ));
        }
        #[cfg(feature = "redis")]
        self.listen();
        let now = self.clock.now_unix();
        // The verdict and when it was had (a shared one keeps its own age).
        let fetch = || async { self.call(token, kind, client).await };
        let (mut verdict, had_at) = self.cache.get_with_by_ref(token, fetch()).await;
        let max_age = match verdict {
            Verdict::Verified(_) => self.policy.ttl,
            _ => self.policy.negative_ttl,
        };
        if now.saturating_sub(had_at) >= secs(max_age) {
            self.cache.invalidate(token).await;
            verdict = self.cache.get_with_by_ref(token, fetch()).await.0;
        }
        let outcome = match verdict {
            Verdict::Verified(m) => Ok(m),
            Verdict::Refused(e) => Err(e),
            // Clerk is down: a token verified within the stale window
            // keeps working.
            Verdict::Outage => match self.recent.get(token) {
                Some((m, verified_at))
                    if now.saturating_sub(verified_at)
                        < secs(self.policy.ttl.saturating_add(self.policy.stale_window)) =>
                {
                    tracing::debug!("Backend API down; serving a recently verified machine token");
                    Ok(m)
                }
                _ => Err(backend_unavailable(
                    "the Backend API cannot verify tokens now",
                )),
            },
            Verdict::NotAsked => Err(backend_unavailable(
                "the Backend API budget for this token is spent; try again shortly",
            )),
        };
        // A cached answer may have outlived the token.
        match &outcome {
            Ok(m) if m.expires_at.is_some_and(|e| e <= self.clock.now_unix()) => {
                Err(VerifyError::new(Reason::TokenExpired, "token has expired"))
            }
            _ => outcome,
        }
    }

    /// A verdict another replica had within the same freshness: Clerk's
    /// answer read again (so revoked or expired still refuse), or unknown.
    #[cfg(feature = "redis")]
    async fn shared_verdict(
        &self,
        fleet: &crate::api::fleet::Fleet,
        key: &str,
        kind: TokenType,
    ) -> Option<(Verdict, i64)> {
        let (at, text) = fleet.verdict(key).await?;
        let now = self.clock.now_unix();
        let age = now.checked_sub(at).filter(|a| *a >= 0)?;
        if let Some(answer) = text.strip_prefix("ok:") {
            if age >= secs(self.policy.ttl) {
                return None;
            }
            let v: serde_json::Value = serde_json::from_str(answer).ok()?;
            let verdict = match MachineAuth::from_backend(kind, &v, now) {
                Ok(m) => Verdict::Verified(Arc::new(m)),
                Err(e) => Verdict::Refused(e),
            };
            return Some((verdict, at));
        }
        (text == "invalid" && age < secs(self.policy.negative_ttl)).then(|| {
            let unknown = VerifyError::new(Reason::TokenInvalid, "unknown token");
            (Verdict::Refused(unknown), at)
        })
    }

    /// Starts listening for other replicas' revocations, once, when a
    /// fleet is configured and a Tokio runtime runs this: a revoked token's
    /// verdicts are dropped here too.
    #[cfg(feature = "redis")]
    fn listen(&self) {
        use std::sync::atomic::Ordering;
        let Some(fleet) = self.api.as_ref().and_then(BackendApi::fleet) else {
            return;
        };
        if self.listening.load(Ordering::Relaxed) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if self.listening.swap(true, Ordering::AcqRel) {
            return;
        }
        let (cache, recent) = (self.cache.clone(), self.recent.clone());
        let (stop, stopped) = tokio::sync::oneshot::channel();
        if let Ok(mut slot) = self.stop.lock() {
            *slot = Some(stop);
        }
        runtime.spawn(fleet.clone().listen(stopped, move |kind, id| {
            let (cache, recent) = (cache.clone(), recent.clone());
            Box::pin(async move {
                if kind != "machine" {
                    return;
                }
                let of = move |m: &MachineAuth| m.id.as_deref() == Some(id.as_str());
                let id_match = of.clone();
                let _ = cache.invalidate_entries_if(
                    move |_, (v, _)| matches!(v, Verdict::Verified(m) if id_match(m)),
                );
                let _ = recent.invalidate_entries_if(move |_, (m, _)| of(m));
            })
        }));
    }

    async fn call(&self, token: &str, kind: TokenType, client: Option<Client>) -> (Verdict, i64) {
        let verdict = self.ask(token, kind, client).await;
        match verdict {
            #[cfg(feature = "redis")]
            Asked::Shared(v, at) => (v, at),
            Asked::Now(v) => (v, self.clock.now_unix()),
        }
    }

    async fn ask(&self, token: &str, kind: TokenType, client: Option<Client>) -> Asked {
        let (api, path, body) = match kind {
            TokenType::ApiKey => (
                self.api.as_ref(),
                "/api_keys/verify",
                json!({ "secret": token }),
            ),
            TokenType::M2mToken => (
                self.m2m_api.as_ref().or(self.api.as_ref()),
                "/m2m_tokens/verify",
                json!({ "token": token }),
            ),
            TokenType::OAuthToken => (
                self.api.as_ref(),
                "/oauth_applications/access_tokens/verify",
                json!({ "access_token": token }),
            ),
            TokenType::SessionToken => {
                return Asked::Now(Verdict::Refused(VerifyError::new(
                    Reason::TokenTypeMismatch,
                    "not a machine token",
                )));
            }
        };
        let Some(api) = api else {
            return Asked::Now(Verdict::Refused(VerifyError::new(
                Reason::SecretKeyInvalid,
                "machine tokens need CLERK_SECRET_KEY",
            )));
        };
        // A token verified before is re-checked out of the reserve; one
        // never seen competes, per client, for the share of unknown tokens.
        let digest = digest(token);
        // Another replica's fresh verdict saves the call (feature `redis`).
        #[cfg(feature = "redis")]
        let shared = api.fleet().map(|f| (f, hex(&digest)));
        #[cfg(feature = "redis")]
        if let Some((fleet, key)) = &shared
            && let Some((verdict, at)) = self.shared_verdict(fleet, key, kind).await
        {
            // A refusal read here is as final as Clerk's own: never served
            // stale from this replica's outage fallback either.
            if matches!(verdict, Verdict::Refused(_)) {
                self.recent.invalidate(token);
                self.known.invalidate(&digest);
            }
            return Asked::Shared(verdict, at);
        }
        let caller = if self.known.contains_key(&digest) {
            Caller::KnownMachine
        } else {
            Caller::NewMachine(client)
        };
        let forget = || {
            self.recent.invalidate(token);
            self.known.invalidate(&digest);
        };
        let answer = api.post_as(caller, path, &body).await;
        #[cfg(feature = "redis")]
        if let Some((fleet, key)) = &shared {
            let now = self.clock.now_unix();
            match &answer {
                Ok(v) => {
                    // Only the answer, never a secret Clerk might echo.
                    let mut kept = v.clone();
                    if let Some(map) = kept.as_object_mut() {
                        for secret in ["secret", "token", "access_token"] {
                            map.remove(secret);
                        }
                    }
                    let text = format!("ok:{kept}");
                    if text.len() <= 16 * 1024 {
                        let id = v.get("id").and_then(serde_json::Value::as_str);
                        fleet
                            .share_verdict(key, id, now, &text, secs(self.policy.ttl))
                            .await;
                    }
                }
                Err(BackendError::NotFound) => {
                    fleet
                        .share_verdict(key, None, now, "invalid", secs(self.policy.negative_ttl))
                        .await;
                }
                Err(_) => {}
            }
        }
        Asked::Now(match answer {
            Ok(v) => {
                let now = self.clock.now_unix();
                match MachineAuth::from_backend(kind, &v, now) {
                    Ok(m) => {
                        let m = Arc::new(m);
                        self.recent.insert(token.to_owned(), (m.clone(), now));
                        self.known.insert(digest, ());
                        Verdict::Verified(m)
                    }
                    // Revoked or expired: never served stale again.
                    Err(e) => {
                        forget();
                        Verdict::Refused(e)
                    }
                }
            }
            Err(BackendError::NotFound) => {
                forget();
                Verdict::Refused(VerifyError::new(Reason::TokenInvalid, "unknown token"))
            }
            Err(BackendError::Unauthorized) => Verdict::Refused(VerifyError::new(
                Reason::SecretKeyInvalid,
                "the Backend API refused the secret key",
            )),
            Err(BackendError::RateLimited(_)) => Verdict::NotAsked,
            Err(
                BackendError::Unreachable | BackendError::Status(_) | BackendError::InvalidResponse,
            ) => Verdict::Outage,
        })
    }
}
