// The cached directory: users and organizations by id (Clerk's
// `currentUser()`), one call per id per TTL, stale answers in outages.
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;

use crate::api::{Api, ApiError};
use crate::api::{OrganizationRecord, User};
use crate::clock::Clock;

struct Entry<T> {
    value: Result<Arc<T>, Miss>,
    fetched_at: i64,
}

/// A failed lookup, and whether it may be answered by a stale record:
/// only when Clerk could not answer or asked us to slow down, never when
/// the process's own budget kept the call from being made.
#[derive(Debug, Clone, PartialEq)]
struct Miss {
    error: ApiError,
    stale_ok: bool,
}

fn miss(error: ApiError, stale_ok: bool) -> Miss {
    Miss { error, stale_ok }
}

// Not derived: `Arc<T>` is `Clone` whatever `T` is.
impl<T> Clone for Entry<T> {
    fn clone(&self) -> Self {
        Self {
            value: self.value.clone(),
            fetched_at: self.fetched_at,
        }
    }
}

type Cache<T> = moka::future::Cache<String, Entry<T>, foldhash::fast::RandomState>;

/// The signed-in user and organization from the Backend API (Clerk's
/// `currentUser()`), cached.
///
/// Session tokens carry ids, not people. [`UserDirectory`] fetches
/// `GET /v1/users/{id}` and `GET /v1/organizations/{id}` once, keeps the
/// answer for a TTL (default 60 s, by the injected clock), makes concurrent
/// lookups of one id share one call, and honours `429 Retry-After` (capped,
/// through the process's one Backend API budget) by making no call until it
/// has passed. While Clerk is down (unreachable, timing out, 5xx) or
/// throttling (429), a record fetched within the stale window is served
/// instead of an error; never when the process's own budget refused the
/// call. User lookups spend the budget's reserve, which anonymous requests
/// cannot reach. Call [`UserDirectory::invalidate_user`] /
/// [`UserDirectory::invalidate_organization`] from your webhook handler on
/// `user.updated`, `user.deleted` and `organization.updated` so changes show
/// at once:
///
/// ```
/// use clerk_core::webhook::WebhookEvent;
/// use clerk_core::api::UserDirectory;
///
/// async fn on_webhook(users: &UserDirectory, event: &WebhookEvent) {
///     match event.kind.as_str() {
///         "user.updated" | "user.deleted" => {
///             if let Some(id) = event.object_id() { users.invalidate_user(id).await }
///         }
///         "organization.updated" | "organization.deleted" => {
///             if let Some(id) = event.object_id() { users.invalidate_organization(id).await }
///         }
///         _ => {}
///     }
/// }
/// ```
///
/// Cheap to share (`Arc`); one per process.
pub struct UserDirectory {
    api: Api,
    users: Cache<User>,
    orgs: Cache<OrganizationRecord>,
    last_users: LastGood<User>,
    last_orgs: LastGood<OrganizationRecord>,
    clock: Arc<dyn Clock>,
    ttl: i64,
    stale_window: i64,
    /// The fleet's invalidation listener: started on first use in a
    /// runtime; ends when this directory is dropped.
    #[cfg(feature = "redis")]
    listener: Listener,
}

#[cfg(feature = "redis")]
#[derive(Default)]
struct Listener {
    started: std::sync::atomic::AtomicBool,
    /// Dropped with the directory: the listener task then ends.
    stop: std::sync::Mutex<Option<tokio::sync::oneshot::Sender<()>>>,
}

/// The record kind of a lookup path, as the fleet names it.
#[cfg(feature = "redis")]
fn kind_of(path: &str) -> &'static str {
    if path == "/users/" {
        "user"
    } else {
        "organization"
    }
}

/// The last good answer per id with when it was fetched: served while the
/// Backend API is throttled or down, up to the stale window.
type LastGood<T> = moka::sync::Cache<String, (Arc<T>, i64), foldhash::fast::RandomState>;

fn last_good<T: Send + Sync + 'static>(capacity: u64) -> LastGood<T> {
    moka::sync::Cache::builder()
        .max_capacity(capacity)
        .time_to_live(Duration::from_secs(24 * 3600))
        .build_with_hasher(foldhash::fast::RandomState::default())
}

impl fmt::Debug for UserDirectory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserDirectory")
            .field("api", &self.api)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

fn cache<T: Send + Sync + 'static>(capacity: u64) -> Cache<T> {
    moka::future::Cache::builder()
        .max_capacity(capacity)
        // A backstop: freshness is judged by the injected clock on read.
        .time_to_live(Duration::from_secs(3600))
        .build_with_hasher(foldhash::fast::RandomState::default())
}

impl UserDirectory {
    /// Lookups through `api` (without a secret key: `NotConfigured`),
    /// fresh for `ttl`, by `clock`.
    pub(crate) fn new(api: Api, clock: Arc<dyn Clock>, ttl: Duration) -> Self {
        Self {
            api,
            users: cache(10_000),
            orgs: cache(1_000),
            last_users: last_good(10_000),
            last_orgs: last_good(1_000),
            clock,
            ttl: i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX),
            stale_window: 600,
            #[cfg(feature = "redis")]
            listener: Listener::default(),
        }
    }

    /// The fleet's budget, when the Backend API client has one.
    #[cfg(feature = "redis")]
    fn fleet(&self) -> Option<&Arc<super::fleet::Fleet>> {
        self.api.backend().and_then(|b| b.fleet())
    }

    /// Starts listening for other replicas' invalidations, once, when a
    /// fleet is configured and a Tokio runtime runs this.
    #[cfg(feature = "redis")]
    fn listen(&self) {
        use std::sync::atomic::Ordering;
        let Some(fleet) = self.fleet() else { return };
        if self.listener.started.load(Ordering::Relaxed) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if self.listener.started.swap(true, Ordering::AcqRel) {
            return;
        }
        let (users, orgs) = (self.users.clone(), self.orgs.clone());
        let (last_users, last_orgs) = (self.last_users.clone(), self.last_orgs.clone());
        let (stop, stopped) = tokio::sync::oneshot::channel();
        if let Ok(mut slot) = self.listener.stop.lock() {
            *slot = Some(stop);
        }
        runtime.spawn(fleet.clone().listen(stopped, move |kind, id| {
            let (users, orgs) = (users.clone(), orgs.clone());
            let (last_users, last_orgs) = (last_users.clone(), last_orgs.clone());
            Box::pin(async move {
                match kind.as_str() {
                    "user" => {
                        users.invalidate(&id).await;
                        last_users.invalidate(&id);
                    }
                    "organization" => {
                        orgs.invalidate(&id).await;
                        last_orgs.invalidate(&id);
                    }
                    _ => {}
                }
            })
        }));
    }

    /// Serves a record up to `window` past its freshness while Clerk is
    /// down or throttling (default 600 s), instead of failing.
    #[must_use]
    pub(crate) fn with_stale_window(mut self, window: Duration) -> Self {
        self.stale_window = i64::try_from(window.as_secs()).unwrap_or(i64::MAX);
        self
    }

    /// The user `user_id` (cached, single-flight).
    ///
    /// # Errors
    /// As the Backend API call's ([`ApiError`]): an id that is not a user
    /// id is [`ApiError::InvalidInput`] and no call; a user Clerk does not
    /// know is its 404; while Clerk is down or throttling, a record within
    /// the stale window is served instead of the error.
    pub async fn get_user(&self, user_id: &str) -> Result<Arc<User>, ApiError> {
        #[cfg(feature = "redis")]
        self.listen();
        self.lookup(&self.users, &self.last_users, "/users/", user_id)
            .await
    }

    /// The organization `org_id` (cached, single-flight).
    ///
    /// # Errors
    /// As [`UserDirectory::get_user`].
    pub async fn get_organization(
        &self,
        org_id: &str,
    ) -> Result<Arc<OrganizationRecord>, ApiError> {
        #[cfg(feature = "redis")]
        self.listen();
        self.lookup(&self.orgs, &self.last_orgs, "/organizations/", org_id)
            .await
    }

    /// Forgets a cached user (call it on `user.updated` / `user.deleted`);
    /// with a fleet budget on Redis, every replica forgets it too.
    pub async fn invalidate_user(&self, user_id: &str) {
        self.users.invalidate(user_id).await;
        self.last_users.invalidate(user_id);
        #[cfg(feature = "redis")]
        if let Some(fleet) = self.fleet() {
            fleet.publish("user", user_id).await;
        }
    }

    /// Forgets a cached organization (call it on `organization.updated`);
    /// with a fleet budget on Redis, every replica forgets it too.
    pub async fn invalidate_organization(&self, org_id: &str) {
        self.orgs.invalidate(org_id).await;
        self.last_orgs.invalidate(org_id);
        #[cfg(feature = "redis")]
        if let Some(fleet) = self.fleet() {
            fleet.publish("organization", org_id).await;
        }
    }

    async fn lookup<T: DeserializeOwned + Send + Sync + 'static>(
        &self,
        cache: &Cache<T>,
        last: &LastGood<T>,
        path: &str,
        id: &str,
    ) -> Result<Arc<T>, ApiError> {
        match self.lookup_fresh(cache, last, path, id).await {
            Ok(v) => Ok(v),
            // Clerk is down or throttling: an answer fetched within the
            // stale window beats a 503 for every signed-in user. Not when
            // our own budget refused the call: that is no outage.
            Err(Miss {
                error,
                stale_ok: true,
            }) => {
                let now = self.clock.now_unix();
                match last.get(id) {
                    Some((value, fetched_at))
                        if now.saturating_sub(fetched_at)
                            < self.ttl.saturating_add(self.stale_window) =>
                    {
                        tracing::debug!(
                            age_secs = now.saturating_sub(fetched_at),
                            "Backend API unavailable; serving a stale record"
                        );
                        Ok(value)
                    }
                    _ => Err(error),
                }
            }
            // Gone: never served stale again.
            Err(Miss { error, .. }) if error.is_gone() => {
                last.invalidate(id);
                Err(error)
            }
            Err(Miss { error, .. }) => Err(error),
        }
    }

    async fn lookup_fresh<T: DeserializeOwned + Send + Sync + 'static>(
        &self,
        cache: &Cache<T>,
        last: &LastGood<T>,
        path: &str,
        id: &str,
    ) -> Result<Arc<T>, Miss> {
        // The id goes into a path: Clerk's id of the kind, or no call.
        let (what, prefix) = if path == "/users/" {
            ("user id", "user_")
        } else {
            ("organization id", "org_")
        };
        if let Err(e) = crate::api::id(what, prefix, id) {
            return Err(miss(e, false));
        }
        for _ in 0..2 {
            let entry = cache
                .get_with_by_ref(id, async { self.fetch::<T>(last, path, id).await })
                .await;
            let now = self.clock.now_unix();
            let fresh = now.saturating_sub(entry.fetched_at) < self.ttl;
            match entry.value {
                // Only answers are kept; failures are retried next time.
                Err(m) if !m.error.is_gone() => {
                    cache.invalidate(id).await;
                    return Err(m);
                }
                v if fresh => return v,
                _ => cache.invalidate(id).await,
            }
        }
        Err(miss(ApiError::Unreachable, true))
    }

    /// One Backend API call (single-flight per id); a good answer is also
    /// remembered as the last good one, here and only here.
    async fn fetch<T: DeserializeOwned + Send + Sync + 'static>(
        &self,
        last: &LastGood<T>,
        path: &str,
        id: &str,
    ) -> Entry<T> {
        let now = self.clock.now_unix();
        // Another replica's fresh copy saves the call (feature `redis`).
        #[cfg(feature = "redis")]
        if let Some(fleet) = self.fleet()
            && let Some((fetched_at, bytes)) = fleet.record(kind_of(path), id).await
            && fetched_at <= now
            && now.saturating_sub(fetched_at) < self.ttl
            && let Ok(v) = crate::api::decode::<T>(&bytes)
        {
            let v = Arc::new(v);
            last.insert(id.to_owned(), (v.clone(), fetched_at));
            return Entry {
                value: Ok(v),
                fetched_at,
            };
        }
        let value = self.fetch_value::<T>(path, id, now).await;
        if let Ok(v) = &value {
            last.insert(id.to_owned(), (v.clone(), now));
        }
        Entry {
            value,
            fetched_at: now,
        }
    }

    async fn fetch_value<T: DeserializeOwned>(
        &self,
        path: &str,
        id: &str,
        now: i64,
    ) -> Result<Arc<T>, Miss> {
        use crate::api::budget::Refusal;
        use crate::api::transport::Failure;
        // The shared gate makes no call while a 429 pause (capped) or an
        // exhausted budget lasts, and says which.
        match self
            .api
            .call_raw(
                reqwest::Method::GET,
                &format!("{path}{id}"),
                None,
                crate::api::MAX_RECORD_BYTES,
            )
            .await
        {
            Ok(bytes) => {
                let value = crate::api::decode::<T>(&bytes)
                    .map(Arc::new)
                    .map_err(|_| miss(ApiError::InvalidResponse, true));
                #[cfg(feature = "redis")]
                if let (Ok(_), Some(fleet)) = (&value, self.fleet()) {
                    fleet
                        .share_record(kind_of(path), id, now, &bytes, self.ttl)
                        .await;
                }
                #[cfg(not(feature = "redis"))]
                let _ = now;
                value
            }
            Err(None) => Err(miss(ApiError::NotConfigured, false)),
            Err(Some(f)) => {
                // A stale record may answer for Clerk being down or
                // throttling; never for our own budget, a refused key or a
                // record Clerk says is gone.
                let stale_ok = match &f {
                    Failure::Refused(Refusal::Spent(_)) => false,
                    Failure::Refused(Refusal::Paused(_)) => true,
                    Failure::Status { status, .. } => {
                        !matches!(status, 400 | 401 | 403 | 404 | 422)
                    }
                    Failure::Unreachable | Failure::TooLarge => true,
                };
                Err(miss(ApiError::from(f).trimmed(), stale_ok))
            }
        }
    }
}
