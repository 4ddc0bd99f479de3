//! The Backend API calls a page load can cause: a handshake nonce's
//! cookie directives and a server-side session refresh. Anyone can cause
//! them (any nonce cookie, any old expired session token with any refresh
//! cookie), so they spend anonymous shares of the budget (per client), and
//! what Clerk answered is remembered where its answer allows: a nonce is
//! asked about once, a session whose refresh Clerk refused is not asked
//! about again for a while. Both memories are bounded.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::api::Api;
use crate::api::transport::BackendError;
use http::header::{self, HeaderMap, HeaderValue};

use super::handshake::insert;
use crate::api::budget::{Caller, Client};
use crate::auth::{Auth, PageAnswer};
use crate::cookies::SESSION;
use crate::error::Reason;
use crate::session::Session;

/// A bounded memory of what anonymous requests already made us ask.
type SeenCache<V> = moka::sync::Cache<String, V, foldhash::fast::RandomState>;

/// How long a spent nonce and a refused refresh are remembered.
const REMEMBER: Duration = Duration::from_secs(300);

fn seen_cache<V: Clone + Send + Sync + 'static>() -> SeenCache<V> {
    moka::sync::Cache::builder()
        .max_capacity(10_000)
        .time_to_live(REMEMBER)
        .build_with_hasher(foldhash::fast::RandomState::default())
}

/// Page-load calls to the Backend API, and what they remember.
#[derive(Clone)]
pub(crate) struct PageCalls {
    api: Api,
    /// Handshake nonces already resolved: asked once.
    spent_nonces: SeenCache<()>,
    /// Sessions whose refresh Clerk refused lately, with the reason.
    failed_refreshes: SeenCache<Reason>,
}

impl std::fmt::Debug for PageCalls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PageCalls").finish_non_exhaustive()
    }
}

impl PageCalls {
    pub(crate) fn new(api: Api) -> Self {
        Self {
            api,
            spent_nonces: seen_cache(),
            failed_refreshes: seen_cache(),
        }
    }

    /// True when a secret key lets page loads call the Backend API.
    pub(crate) fn available(&self) -> bool {
        self.api.backend().is_some()
    }

    /// The cookie directives of a handshake nonce
    /// (`GET /v1/clients/handshake_payload?nonce=`), empty when the Backend
    /// API cannot say (Clerk logs and goes on with none). A nonce is asked
    /// about once: the same nonce again (a replay, or a flood repeating
    /// one) gets no cookies and makes no call. Random nonces spend the
    /// nonce share of the budget, `client`'s part of it; `None` when the
    /// call was not made (share spent, 429 pause).
    pub(crate) async fn nonce(&self, nonce: &str, client: Option<Client>) -> Option<Vec<String>> {
        let Some(api) = self.api.backend() else {
            return Some(Vec::new());
        };
        if self.spent_nonces.contains_key(nonce) {
            tracing::debug!("Clerk: handshake nonce already resolved; no cookies");
            return Some(Vec::new());
        }
        let query = crate::api::query_string(&[("nonce".to_owned(), nonce.to_owned())]);
        match api
            .get_as(
                Caller::Nonce(client),
                &format!("/clients/handshake_payload{query}"),
            )
            .await
        {
            Ok(v) => {
                self.spent_nonces.insert(nonce.to_owned(), ());
                Some(strings(&v, "directives"))
            }
            Err(BackendError::RateLimited(_)) => None,
            Err(e) => {
                // Clerk's answer (unknown nonce) is remembered; no answer
                // (outage) is not.
                if matches!(e, BackendError::NotFound | BackendError::Unauthorized) {
                    self.spent_nonces.insert(nonce.to_owned(), ());
                }
                tracing::warn!(error = %e, "Clerk: could not get the handshake payload");
                Some(Vec::new())
            }
        }
    }

    /// Clerk's server-side refresh (`request.ts` `refreshToken`): the new
    /// cookies, or why there are none. Refreshes spend the refresh share of
    /// the budget (`client`'s part of it: any old expired token will do);
    /// a session whose refresh Clerk refused is not asked about again for
    /// a while. The caller verifies the new session token.
    pub(crate) async fn refresh(
        &self,
        refresh: &Refresh,
        client: Option<Client>,
    ) -> Result<Vec<String>, Reason> {
        let api = self
            .api
            .backend()
            .ok_or(Reason::ExpiredRefreshMissingApiClient)?;
        if let Some(reason) = self.failed_refreshes.get(&refresh.sid) {
            return Err(reason);
        }
        let answer = api
            .post_as(Caller::Refresh(client), &refresh.path, &refresh.body)
            .await
            .map_err(|e| match e {
                // No call made (budget, 429 pause) or no answer.
                BackendError::Unreachable | BackendError::RateLimited(_) => {
                    Reason::ExpiredRefreshFetchError
                }
                // Clerk said no: remembered for this session.
                BackendError::NotFound | BackendError::Unauthorized => {
                    let reason = Reason::ExpiredRefreshUnexpectedBapiError;
                    self.failed_refreshes.insert(refresh.sid.clone(), reason);
                    reason
                }
                BackendError::Status(_) | BackendError::InvalidResponse => {
                    Reason::ExpiredRefreshUnexpectedBapiError
                }
            })?;
        Ok(strings(&answer, "cookies"))
    }
}

/// The strings of the array `key` of a Backend API answer (others
/// skipped; none when absent).
fn strings(answer: &Value, key: &str) -> Vec<String> {
    answer
        .get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|c| c.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// A server-side refresh to make (`POST /v1/sessions/{sid}/refresh`,
/// `request.ts` `refreshToken`). Its `Debug` shows the session id only:
/// the body carries the expired token and the refresh token.
pub(crate) struct Refresh {
    /// The expired session's id (checked as Clerk's id shape).
    pub(crate) sid: String,
    /// `/sessions/{sid}/refresh[?suffixed_cookies=true]`.
    pub(crate) path: String,
    /// `{format, expired_token, refresh_token, request_origin,
    /// request_headers}` (no request headers are forwarded).
    pub(crate) body: Value,
}

impl std::fmt::Debug for Refresh {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Refresh")
            .field("sid", &self.sid)
            .finish_non_exhaustive()
    }
}

impl Refresh {
    /// The answer to a refreshed page, as Clerk: the page served signed
    /// in as `session`, its response setting the new cookies.
    pub(crate) fn answer(cookies: &[String], session: Arc<Session>) -> PageAnswer {
        let mut headers = HeaderMap::new();
        for c in cookies {
            insert(&mut headers, header::SET_COOKIE, c);
        }
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        PageAnswer::serve("session-token-refreshed", Auth::SignedIn(session), headers)
    }

    /// The session token among refreshed cookies (the last `__session*`).
    pub(crate) fn session_token(cookies: &[String]) -> Option<&str> {
        cookies
            .iter()
            .filter_map(|d| d.split(';').next()?.split_once('='))
            .rfind(|(n, v)| n.starts_with(SESSION) && !v.is_empty())
            .map(|(_, v)| v)
    }
}
