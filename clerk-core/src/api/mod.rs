//! Clerk's Backend API, typed: users, organizations (memberships and
//! invitations), sessions, billing subscriptions and session tokens, and
//! machine credentials (machines, M2M tokens, API keys, testing, sign-in
//! and actor tokens).
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

mod api_keys;
pub(crate) mod budget;
mod credentials;
mod directory;
mod error;
#[cfg(feature = "redis")]
pub(crate) mod fleet;
mod lists;
mod machines;
mod models;
mod organizations;
mod pages;
mod sessions;
mod tokens;
pub(crate) mod transport;
mod users;

use std::fmt;

use reqwest::Method;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::api::budget::Caller;
use crate::api::transport::{BackendApi, Failure};

pub use api_keys::{ApiKeyFields, ApiKeys};
pub use credentials::{
    ApiKeyRecord, M2mTokenRecord, MachineRecord, MachineScope, Secret, TestingToken, UserTicket,
};
pub use directory::UserDirectory;
pub use error::{ApiError, ErrorDetail};
pub use lists::{MembershipList, OrganizationList, UserList};
pub use machines::{M2mTokens, MachineFields, Machines, NewM2mToken};
pub(crate) use models::DeletedObject;
pub use models::{
    EmailAddress, Feature, InvitationData, InvitationStatus, MembershipData, OrganizationRecord,
    PhoneNumber, Plan, PublicUserData, SessionData, SessionStatus, Subscription, SubscriptionItem,
    SubscriptionStatus, User,
};
pub use organizations::{NewInvitation, OrganizationFields, Organizations};
pub use pages::Pages;
pub(crate) use pages::TotalCount;
pub use sessions::Sessions;
pub use tokens::Tokens;
pub use transport::API_VERSION;
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
    /// The machine secret key's transport (`CLERK_MACHINE_SECRET_KEY`).
    machine: Option<BackendApi>,
}

impl fmt::Debug for Api {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Api")
            .field("backend", &self.backend)
            .field("machine", &self.machine)
            .finish()
    }
}

impl Api {
    pub(crate) fn new(backend: Option<BackendApi>) -> Self {
        Self {
            backend,
            machine: None,
        }
    }

    /// With the machine secret key's transport, for what a machine does
    /// as itself (minting M2M tokens).
    pub(crate) fn with_machine(mut self, machine: Option<BackendApi>) -> Self {
        self.machine = machine;
        self
    }

    /// The client calling as the machine, when its secret key is set.
    pub(crate) fn as_machine(&self) -> Option<Api> {
        self.machine.as_ref().map(|m| Self {
            backend: Some(m.clone()),
            machine: Some(m.clone()),
        })
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

    /// Machines: create, list, get, update, delete, secret keys, scopes.
    pub fn machines(&self) -> Machines<'_> {
        Machines { api: self }
    }

    /// M2M tokens: mint (with the machine secret key), list, revoke.
    pub fn m2m_tokens(&self) -> M2mTokens<'_> {
        M2mTokens { api: self }
    }

    /// API keys: create, list, get, secret, update, revoke, delete.
    pub fn api_keys(&self) -> ApiKeys<'_> {
        ApiKeys { api: self }
    }

    /// Testing, sign-in and actor tokens.
    pub fn tokens(&self) -> Tokens<'_> {
        Tokens { api: self }
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
