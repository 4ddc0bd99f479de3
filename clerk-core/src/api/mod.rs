//! Clerk's Backend API, typed: users, organizations (memberships and
//! invitations), sessions, billing subscriptions and session tokens.
//!
//! [`Api`] (from [`Clerk::api`](crate::Clerk::api)) uses the same secret
//! key, HTTP client and Backend API budget as the rest of the crate. Every
//! call sends `Clerk-API-Version` ([`API_VERSION`]) and a `User-Agent`
//! naming this crate. Records ignore fields they do not know and keep
//! unknown status values as `Other(..)`, so a change on Clerk's side never
//! fails a call. Ids, slugs and template names are checked before they go
//! into a path (no call is made for a bad one).
//!
//! Reads (`GET`) are retried once after a 5xx or a timeout; writes are
//! never retried: a timed-out write may have happened, and only you know
//! whether repeating it is safe. A 429 pauses every Backend API call of the
//! process for its `Retry-After` (capped) and answers
//! [`ApiError::RateLimited`] at once.
//!
//! ```
//! use clerk_core::{Clerk, api::{Metadata, UserList}};
//! use serde_json::json;
//!
//! async fn upgrade(clerk: &Clerk, user_id: &str) -> Result<(), clerk_core::api::ApiError> {
//!     // Merged into public_metadata, as Clerk's metadata endpoint does.
//!     let user = clerk
//!         .api()
//!         .users()
//!         .update_metadata(user_id, &Metadata::new().public(json!({"plan": "pro"})))
//!         .await?;
//!     assert_eq!(user.public_metadata["plan"], "pro");
//!
//!     // A paginated list, walked page by page; stop whenever you like.
//!     let mut pages = clerk.api().users().list(&UserList::new().query("example.com"));
//!     while let Some(page) = pages.next_page().await {
//!         for user in page? {
//!             if user.banned { return Ok(()) }
//!         }
//!     }
//!     Ok(())
//! }
//! ```

mod lists;
mod models;
mod organizations;
mod sessions;
mod users;

use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use reqwest::Method;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::backend::{BackendApi, Failure};
use crate::budget::Caller;

pub use crate::backend::API_VERSION;
pub use lists::{InvitationList, MembershipList, OrganizationList, SessionList, UserList};
pub use models::{
    DeletedObject, EmailAddress, Feature, InvitationData, InvitationStatus, MembershipData,
    OrganizationRecord, PhoneNumber, Plan, PublicUserData, SessionData, SessionStatus,
    Subscription, SubscriptionItem, SubscriptionStatus, User,
};
pub use organizations::{NewInvitation, OrganizationFields, Organizations};
pub use sessions::Sessions;
pub use users::{UserFields, Users};

/// A single record larger than this is refused.
pub(crate) const MAX_RECORD_BYTES: usize = 1024 * 1024;
/// A page larger than this is refused (500 users of typical size fit;
/// use a smaller page size for users with large metadata).
const MAX_PAGE_BYTES: usize = 8 * 1024 * 1024;
/// The most pages one walk reads: a list that never ends (an endpoint or
/// proxy ignoring `offset`) stops with an error instead of looping.
const MAX_PAGES: u32 = 10_000;
/// Items per page unless the caller says otherwise.
const DEFAULT_PAGE: u32 = 100;
/// Clerk's largest page.
const MAX_PAGE: u32 = 500;

/// The typed Backend API client. Cheap to clone; get it from
/// [`Clerk::api`](crate::Clerk::api).
#[derive(Clone)]
pub struct Api {
    backend: Option<BackendApi>,
}

impl fmt::Debug for Api {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Api")
            .field("backend", &self.backend)
            .finish()
    }
}

impl Api {
    pub(crate) fn new(backend: Option<BackendApi>) -> Self {
        Self { backend }
    }

    /// The transport, when a secret key is configured (session refresh
    /// and handshake nonces call it directly).
    pub(crate) fn backend(&self) -> Option<&BackendApi> {
        self.backend.as_ref()
    }

    /// Users: get, list, count, create, update, metadata, delete, ban,
    /// lock, MFA, memberships, subscription.
    pub fn users(&self) -> Users<'_> {
        Users { api: self }
    }

    /// Organizations, their memberships, invitations and subscription.
    pub fn organizations(&self) -> Organizations<'_> {
        Organizations { api: self }
    }

    /// Sessions: list, get, revoke, and tokens from JWT templates.
    pub fn sessions(&self) -> Sessions<'_> {
        Sessions { api: self }
    }

    /// One call, decoded as `T`. `GET` is retried once after a 5xx or a
    /// timeout; nothing else is retried.
    pub(crate) async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<&Value>,
    ) -> Result<T, ApiError> {
        let bytes = self
            .call_bytes(method, path_and_query, body, MAX_RECORD_BYTES)
            .await?;
        decode(&bytes)
    }

    async fn call_bytes(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<&Value>,
        cap: usize,
    ) -> Result<Vec<u8>, ApiError> {
        match self.call_raw(method, path_and_query, body, cap).await {
            Ok(bytes) => Ok(bytes),
            Err(None) => Err(ApiError::NotConfigured),
            Err(Some(f)) => Err(ApiError::from(f)),
        }
    }

    /// One call, its transport failure kept (`None`: no secret key), so
    /// the user directory can tell Clerk being down from a call never
    /// made.
    pub(crate) async fn call_raw(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<&Value>,
        cap: usize,
    ) -> Result<Vec<u8>, Option<Failure>> {
        let Some(backend) = &self.backend else {
            return Err(None);
        };
        let call = || backend.call(Caller::Users, method.clone(), path_and_query, body, cap);
        match call().await {
            Ok(bytes) => Ok(bytes),
            // A read is tried once more after a 5xx or a timeout; when the
            // budget refuses that second try, the first failure is the
            // answer (it says what happened).
            Err(
                first @ (Failure::Unreachable
                | Failure::Status {
                    status: 500..=599, ..
                }),
            ) if method == Method::GET => match call().await {
                Ok(bytes) => Ok(bytes),
                Err(Failure::Refused(_)) => Err(Some(first)),
                Err(again) => Err(Some(again)),
            },
            Err(f) => Err(Some(f)),
        }
    }

    /// `metadata` sent to a `/metadata` endpoint (`PATCH` merges, `PUT`
    /// replaces), answered by the record.
    pub(crate) async fn metadata<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        metadata: &Metadata,
    ) -> Result<T, ApiError> {
        self.call(method, path, Some(&metadata.to_value())).await
    }

    /// `DELETE`, answered by Clerk's deleted object.
    pub(crate) async fn delete(&self, path: &str) -> Result<(), ApiError> {
        let _: DeletedObject = self.call(Method::DELETE, path, None).await?;
        Ok(())
    }

    /// A walk of `path`; a path refused by [`segment`] gives its error on
    /// the first page, with no call made.
    pub(crate) fn pages<T>(
        &self,
        path: Result<String, ApiError>,
        query: Vec<(String, String)>,
    ) -> Pages<T> {
        let (path, refused) = match path {
            Ok(p) => (p, None),
            Err(e) => (String::new(), Some(e)),
        };
        Pages {
            api: self.clone(),
            path,
            count_path: None,
            refused,
            query,
            limit: DEFAULT_PAGE,
            offset: 0,
            pages: 0,
            total: None,
            done: false,
            item: PhantomData,
        }
    }
}

/// Decodes a record or page: an explicit `null` where a value was
/// expected reads as absent (a record never fails on one), and fields it
/// does not know are ignored.
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let value: Value = serde_json::from_slice(bytes).map_err(|_| ApiError::InvalidResponse)?;
    T::deserialize(without_nulls(value)).map_err(|_| ApiError::InvalidResponse)
}

/// Drops `null` members of objects, at every depth except inside
/// metadata (kept exactly as stored), so `#[serde(default)]` fills them.
pub(crate) fn without_nulls(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| {
                    let v = if k.ends_with("metadata") {
                        v
                    } else {
                        without_nulls(v)
                    };
                    (k, v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(without_nulls).collect()),
        other => other,
    }
}

/// Checks an id, slug or template name before it goes into a path: 1 to
/// 128 ASCII letters, digits, `_` or `-`. Clerk documents ids only by
/// example, a prefix and base62 (`user_2NNEqL2nrIRdJ194ndJqAHwEfxC`, the
/// Backend API reference; `@clerk/backend`'s fixtures use `user_cafebabe`
/// and `org_2abc`), and organization slugs as lowercase letters, digits
/// and `-`; this admits all of those (four times Clerk's longest) and
/// refuses only what could change the endpoint called: `/`, `.`, `%`, `?`,
/// `#`, spaces, non-ASCII.
pub(crate) fn segment<'a>(what: &'static str, s: &'a str) -> Result<&'a str, ApiError> {
    let ok = (1..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(s)
    } else {
        Err(ApiError::InvalidInput(what))
    }
}

/// A Clerk id of one kind: [`segment`], and Clerk's prefix for the kind
/// (`user_`, `sess_`, ...), so no id can name another endpoint under the
/// same path (`/users/count`).
pub(crate) fn id<'a>(what: &'static str, prefix: &str, s: &'a str) -> Result<&'a str, ApiError> {
    match segment(what, s)? {
        s if s.len() > prefix.len() && s.starts_with(prefix) => Ok(s),
        _ => Err(ApiError::InvalidInput(what)),
    }
}

/// `?a=1&b=2`, form-encoded (empty when there is nothing).
pub(crate) fn query_string(pairs: &[(String, String)]) -> String {
    if pairs.is_empty() {
        return String::new();
    }
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        q.append_pair(k, v);
    }
    format!("?{}", q.finish())
}

/// Metadata to merge (`update_metadata`: Clerk deep-merges it; a key set to
/// `null` is removed) or to replace (`replace_metadata`: the whole object).
/// Only the kinds you set are sent.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metadata {
    fields: Map<String, Value>,
}

impl Metadata {
    /// Nothing to change yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// `public_metadata`: readable by the frontend, writable by the backend
    /// only (and what session claims usually carry).
    #[must_use]
    pub fn public(self, value: Value) -> Self {
        self.set("public_metadata", value)
    }

    /// `private_metadata`: backend only.
    #[must_use]
    pub fn private(self, value: Value) -> Self {
        self.set("private_metadata", value)
    }

    /// `unsafe_metadata` (users only): writable by the user from the
    /// frontend, so never trust it for authorization.
    #[must_use]
    pub fn unsafe_metadata(self, value: Value) -> Self {
        self.set("unsafe_metadata", value)
    }

    fn set(mut self, key: &str, value: Value) -> Self {
        self.fields.insert(key.to_owned(), value);
        self
    }

    pub(crate) fn to_value(&self) -> Value {
        Value::Object(self.fields.clone())
    }
}

/// A paginated list, fetched one page at a time as you ask: stop whenever
/// you like and no further call is made. An error ends the walk.
///
/// ```
/// use clerk_core::api::{MembershipList, UserList};
/// # async fn f(clerk: &clerk_core::Clerk) -> Result<(), clerk_core::api::ApiError> {
/// let admins = MembershipList::new().role("org:admin");
/// let mut members = clerk.api().organizations().memberships("org_123", &admins);
/// while let Some(page) = members.next_page().await {
///     for m in page? {
///         println!("{} is {}", m.public_user_data.user_id, m.role);
///     }
/// }
/// // Page 3 of 10 in one call, and the total (Clerk's `/users/count`).
/// let mut third = clerk.api().users().list(&UserList::new()).page_size(10).starting_at(20);
/// let total = third.total().await?;
/// let page = third.next_page().await.transpose()?.unwrap_or_default();
/// # let _ = (total, page);
/// // A small list, whole.
/// let everyone = clerk.api().users().list(&UserList::new()).collect_all().await?;
/// # let _ = everyone;
/// # Ok(()) }
/// ```
pub struct Pages<T> {
    api: Api,
    path: String,
    /// Where the total is asked when pages do not carry it (`/users`
    /// answers a bare array; the SDK asks `/users/count`).
    count_path: Option<String>,
    refused: Option<ApiError>,
    query: Vec<(String, String)>,
    limit: u32,
    offset: u64,
    pages: u32,
    total: Option<u64>,
    done: bool,
    item: PhantomData<fn() -> T>,
}

impl<T> fmt::Debug for Pages<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pages")
            .field("path", &self.path)
            .field("offset", &self.offset)
            .field("total", &self.total)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

/// `{ "total_count": n }` (`/users/count`).
#[derive(Deserialize)]
pub(crate) struct TotalCount {
    pub(crate) total_count: u64,
}

/// A page as Clerk answers it: `{ "data": [...], "total_count": n }`, or a
/// bare array (users; sessions without `paginated`).
#[derive(Deserialize)]
struct Counted<T> {
    data: Vec<T>,
    #[serde(default)]
    total_count: Option<u64>,
}

impl<T> Pages<T> {
    /// Items per page (1 to 500), before the first page. The default is
    /// 100 (Clerk's is 10): fewer calls for a walk, same budget per call.
    #[must_use]
    pub fn page_size(mut self, size: u32) -> Self {
        self.limit = size.clamp(1, MAX_PAGE);
        self
    }

    /// Starts the walk at `offset` items in (Clerk's `offset`), before the
    /// first page: page 3 of 10 is `.page_size(10).starting_at(20)`, one
    /// call.
    #[must_use]
    pub fn starting_at(mut self, offset: u64) -> Self {
        if self.pages == 0 {
            self.offset = offset;
        }
        self
    }

    pub(crate) fn with_count_path(mut self, path: String) -> Self {
        self.count_path = Some(path);
        self
    }
}

impl<T: DeserializeOwned> Pages<T> {
    /// The next page, `None` once the list is walked (or after an error).
    pub async fn next_page(&mut self) -> Option<Result<Vec<T>, ApiError>> {
        let page = self.fetch().await;
        if !matches!(page, Some(Ok(_))) {
            self.done = true;
        }
        page
    }

    async fn fetch(&mut self) -> Option<Result<Vec<T>, ApiError>> {
        if self.done {
            return None;
        }
        if let Some(e) = self.refused.take() {
            return Some(Err(e));
        }
        if self.pages >= MAX_PAGES {
            tracing::warn!(path = %self.path, "Backend API list did not end; walk stopped");
            return Some(Err(ApiError::InvalidResponse));
        }
        self.pages += 1;
        let mut query = self.query.clone();
        query.push(("limit".to_owned(), self.limit.to_string()));
        query.push(("offset".to_owned(), self.offset.to_string()));
        let target = format!("{}{}", self.path, query_string(&query));
        let bytes = match self
            .api
            .call_bytes(Method::GET, &target, None, MAX_PAGE_BYTES)
            .await
        {
            Ok(b) => b,
            Err(e) => return Some(Err(e)),
        };
        // A bare array or a counted page, told apart by the first byte.
        let items = if bytes.trim_ascii_start().first() == Some(&b'[') {
            match decode::<Vec<T>>(&bytes) {
                Ok(items) => items,
                Err(e) => return Some(Err(e)),
            }
        } else {
            match decode::<Counted<T>>(&bytes) {
                Ok(page) => {
                    self.total = page.total_count.or(self.total);
                    page.data
                }
                Err(e) => return Some(Err(e)),
            }
        };
        if items.is_empty() {
            return None;
        }
        self.offset = self.offset.saturating_add(items.len() as u64);
        // The end: past the total when the list gives one (a page cut
        // short by the server does not end it early), else a short page.
        self.done = match self.total {
            Some(total) => self.offset >= total,
            None => items.len() < self.limit as usize,
        };
        Some(Ok(items))
    }

    /// The list's total, once a page that carries it has arrived.
    pub fn total_count(&self) -> Option<u64> {
        self.total
    }

    /// The list's total: the one a page carried, else one call (users: to
    /// `/users/count` with the same filters, as the SDK's `getUserList`;
    /// other lists: a one-item page, whose `total_count` it reads).
    ///
    /// # Errors
    /// See [`ApiError`]; the walk itself is unaffected.
    pub async fn total(&mut self) -> Result<u64, ApiError> {
        if let Some(total) = self.total {
            return Ok(total);
        }
        if let Some(e) = &self.refused {
            return Err(e.clone());
        }
        let total = match &self.count_path {
            Some(path) => {
                let c: TotalCount = self.api.call(Method::GET, path, None).await?;
                c.total_count
            }
            None => {
                let mut query = self.query.clone();
                query.push(("limit".to_owned(), "1".to_owned()));
                query.push(("offset".to_owned(), "0".to_owned()));
                let target = format!("{}{}", self.path, query_string(&query));
                let bytes = self
                    .api
                    .call_bytes(Method::GET, &target, None, MAX_PAGE_BYTES)
                    .await?;
                decode::<Counted<serde::de::IgnoredAny>>(&bytes)?
                    .total_count
                    .ok_or(ApiError::InvalidResponse)?
            }
        };
        self.total = Some(total);
        Ok(total)
    }

    /// Every remaining item, page after page (at most the walk's page
    /// bound): for lists you know are small. Stops at the first error.
    ///
    /// # Errors
    /// The first page's error; items already fetched are dropped.
    pub async fn collect_all(mut self) -> Result<Vec<T>, ApiError> {
        let mut all = Vec::new();
        while let Some(page) = self.next_page().await {
            all.extend(page?);
        }
        Ok(all)
    }
}

/// Why a Backend API call failed. Never carries the secret key.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// An id, slug or template name not safe in a path: no call was made.
    #[error("invalid {0}: no Backend API call made")]
    InvalidInput(&'static str),
    /// No secret key is configured.
    #[error("no secret key configured for the Backend API")]
    NotConfigured,
    /// Clerk answered with an error status (other than 429).
    #[error("{0}")]
    Clerk(ErrorResponse),
    /// A 429, or no call made because the process's Backend API budget is
    /// spent or calls are paused after a 429: retry after this long.
    #[error("rate limited by the Backend API; retry after {}s", .retry_after.as_secs())]
    RateLimited {
        /// When a call may be made again.
        retry_after: Duration,
        /// Clerk's trace id, when a 429 carried one.
        trace_id: Option<String>,
    },
    /// Timeout or connection failure (a read was tried twice).
    #[error("the Backend API cannot be reached")]
    Unreachable,
    /// A success whose body is not what the endpoint documents.
    #[error("unexpected response from the Backend API")]
    InvalidResponse,
}

impl ApiError {
    /// The HTTP status: Clerk's, or 429 for [`ApiError::RateLimited`]
    /// (also when the pause after an earlier 429 kept the call from being
    /// made).
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Clerk(r) => Some(r.status),
            Self::RateLimited { .. } => Some(429),
            _ => None,
        }
    }

    /// Clerk's first error code (`errors[0].code`, e.g.
    /// `resource_not_found`, `form_identifier_exists`).
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Clerk(r) => r.errors.first().map(|e| e.code.as_str()),
            _ => None,
        }
    }

    /// Clerk's trace id (`clerk_trace_id`), to quote to Clerk's support.
    pub fn trace_id(&self) -> Option<&str> {
        match self {
            Self::Clerk(r) => r.trace_id.as_deref(),
            Self::RateLimited { trace_id, .. } => trace_id.as_deref(),
            _ => None,
        }
    }
}

/// Clerk's error answer: the status, `errors[]` and `clerk_trace_id`.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct ErrorResponse {
    /// The HTTP status.
    pub status: u16,
    /// Clerk's errors, first the main one.
    pub errors: Vec<ErrorDetail>,
    /// Clerk's trace id (from the body, else its header).
    pub trace_id: Option<String>,
}

impl fmt::Display for ErrorResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the Backend API answered {}", self.status)?;
        if let Some(e) = self.errors.first() {
            write!(f, " ({}): {}", e.code, e.message)?;
        }
        Ok(())
    }
}

/// One of Clerk's errors.
#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(default)]
#[non_exhaustive]
pub struct ErrorDetail {
    /// A stable code, e.g. `resource_not_found`.
    pub code: String,
    /// A short message.
    pub message: String,
    /// A longer message.
    pub long_message: Option<String>,
    /// Details, e.g. `{"param_name": "email_address"}`.
    pub meta: Value,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ErrorBody {
    errors: Vec<ErrorDetail>,
    clerk_trace_id: Option<String>,
}

impl From<Failure> for ApiError {
    fn from(f: Failure) -> Self {
        match f {
            Failure::Refused(refusal) => Self::RateLimited {
                retry_after: refusal.wait(),
                trace_id: None,
            },
            Failure::Status {
                status,
                retry_after,
                trace_id,
                body,
            } => {
                let parsed: ErrorBody = decode(&body).unwrap_or_default();
                let trace_id = parsed
                    .clerk_trace_id
                    .filter(|t| t.len() <= 128)
                    .or(trace_id);
                if status == 429 {
                    return Self::RateLimited {
                        retry_after: retry_after.unwrap_or(Duration::from_secs(1)),
                        trace_id,
                    };
                }
                Self::Clerk(ErrorResponse {
                    status,
                    errors: parsed.errors,
                    trace_id,
                })
            }
            Failure::Unreachable => Self::Unreachable,
            Failure::TooLarge => Self::InvalidResponse,
        }
    }
}
