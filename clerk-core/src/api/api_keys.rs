//! `/v1/api_keys`: Clerk's `APIKeysAPI` (`@clerk/backend`,
//! `src/api/endpoints/APIKeysApi.ts`), with Clerk's snake_case body names.

use reqwest::Method;
use serde_json::{Map, Value, json};

use super::{Api, ApiError, ApiKeyRecord, Pages, Secret};

/// API keys your users or organizations hand to their scripts:
/// `clerk.api().api_keys()`. Verifying one is the guard's job
/// ([`AcceptsToken`](crate::machine::AcceptsToken)).
///
/// ```
/// use clerk_core::api::ApiKeyFields;
/// # async fn f(clerk: &clerk_core::Clerk) -> Result<(), clerk_core::api::ApiError> {
/// let keys = clerk.api().api_keys();
/// let key = keys
///     .create(&ApiKeyFields::new("CI deploys", "user_123").scope("deploy:write").seconds_until_expiration(86_400))
///     .await?;
/// // Show it to the user once.
/// let shown = key.secret.as_ref().map(|s| s.expose().to_owned());
/// # let _ = shown;
/// keys.revoke(&key.id, Some("leaked in a log")).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct ApiKeys<'a> {
    pub(super) api: &'a Api,
}

/// An API key to create (name and subject required) or update (subject
/// required, as Clerk's `UpdateAPIKeyParams`); only what you set is sent.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiKeyFields {
    fields: Map<String, Value>,
}

impl ApiKeyFields {
    /// A key named `name` for `subject` (a `user_…` or `org_…` id).
    pub fn new(name: &str, subject: &str) -> Self {
        let mut fields = Map::new();
        fields.insert("name".into(), name.into());
        fields.insert("subject".into(), subject.into());
        Self { fields }
    }

    /// An update of the key of `subject` (Clerk needs the subject).
    pub fn update(subject: &str) -> Self {
        let mut fields = Map::new();
        fields.insert("subject".into(), subject.into());
        Self { fields }
    }

    fn set(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.fields.insert(name.to_owned(), value.into());
        self
    }

    /// Its description.
    #[must_use]
    pub fn description(self, description: &str) -> Self {
        self.set("description", description)
    }

    /// Your claims, read back on verification.
    #[must_use]
    pub fn claims(self, claims: Value) -> Self {
        self.set("claims", claims)
    }

    /// A scope (each call adds one to `scopes`).
    #[must_use]
    pub fn scope(mut self, scope: &str) -> Self {
        match self.fields.get_mut("scopes") {
            Some(Value::Array(s)) => s.push(scope.into()),
            _ => {
                self.fields.insert("scopes".into(), json!([scope]));
            }
        }
        self
    }

    /// Create only: who created it (a `user_…` id).
    #[must_use]
    pub fn created_by(self, user_id: &str) -> Self {
        self.set("created_by", user_id)
    }

    /// Expires after `seconds` (Clerk's default: never).
    #[must_use]
    pub fn seconds_until_expiration(self, seconds: u64) -> Self {
        self.set("seconds_until_expiration", seconds)
    }

    /// The body, its subject checked (a user or an organization).
    fn body(&self) -> Result<Value, ApiError> {
        let subject = self
            .fields
            .get("subject")
            .and_then(Value::as_str)
            .unwrap_or("");
        super::id("API key subject", "user_", subject)
            .or_else(|_| super::id("API key subject", "org_", subject))?;
        Ok(Value::Object(self.fields.clone()))
    }
}

/// Clerk's API key ids: `ak_…` (`@clerk/backend` fixtures,
/// `ak_ey966f1b…`); a key's secret (with `/`, `=`) is never one.
fn key(id: &str) -> Result<&str, ApiError> {
    super::id("API key id", "ak_", id)
}

#[derive(serde::Deserialize)]
struct SecretAnswer {
    secret: Secret,
}

impl ApiKeys<'_> {
    /// `POST /api_keys`: the secret is in the answer, once.
    ///
    /// # Errors
    /// See [`ApiError`].
    pub async fn create(&self, fields: &ApiKeyFields) -> Result<ApiKeyRecord, ApiError> {
        let body = fields.body()?;
        self.api.call(Method::POST, "/api_keys", Some(&body)).await
    }

    /// `GET /api_keys?subject=…`, paginated; revoked and expired keys too
    /// with `include_invalid`.
    pub fn list(&self, subject: &str, include_invalid: bool) -> Pages<ApiKeyRecord> {
        let checked = super::id("API key subject", "user_", subject)
            .or_else(|_| super::id("API key subject", "org_", subject))
            .map(str::to_owned);
        let mut q = Vec::new();
        if let Ok(s) = &checked {
            q.push(("subject".to_owned(), s.clone()));
        }
        if include_invalid {
            q.push(("include_invalid".to_owned(), "true".to_owned()));
        }
        self.api.pages(checked.map(|_| "/api_keys".to_owned()), q)
    }

    /// `GET /api_keys/{id}`.
    ///
    /// # Errors
    /// See [`ApiError`].
    pub async fn get(&self, key_id: &str) -> Result<ApiKeyRecord, ApiError> {
        let id = key(key_id)?;
        self.api
            .call(Method::GET, &format!("/api_keys/{id}"), None)
            .await
    }

    /// `GET /api_keys/{id}/secret`.
    ///
    /// # Errors
    /// See [`ApiError`].
    pub async fn secret(&self, key_id: &str) -> Result<Secret, ApiError> {
        let id = key(key_id)?;
        let a: SecretAnswer = self
            .api
            .call(Method::GET, &format!("/api_keys/{id}/secret"), None)
            .await?;
        Ok(a.secret)
    }

    /// `PATCH /api_keys/{id}`.
    ///
    /// # Errors
    /// See [`ApiError`].
    pub async fn update(
        &self,
        key_id: &str,
        fields: &ApiKeyFields,
    ) -> Result<ApiKeyRecord, ApiError> {
        let id = key(key_id)?;
        let body = fields.body()?;
        self.api
            .call(Method::PATCH, &format!("/api_keys/{id}"), Some(&body))
            .await
    }

    /// `POST /api_keys/{id}/revoke`, with your reason. The guard stops
    /// accepting it within its machine-cache lifetime (see
    /// `docs/machine-tokens.md`).
    ///
    /// # Errors
    /// See [`ApiError`].
    pub async fn revoke(
        &self,
        key_id: &str,
        reason: Option<&str>,
    ) -> Result<ApiKeyRecord, ApiError> {
        let id = key(key_id)?;
        let body = json!({ "revocation_reason": reason });
        let revoked: ApiKeyRecord = self
            .api
            .call(Method::POST, &format!("/api_keys/{id}/revoke"), Some(&body))
            .await?;
        // Every replica stops accepting it now, not at its cache's end.
        #[cfg(feature = "redis")]
        if let Some(fleet) = self.api.backend().and_then(|b| b.fleet()) {
            fleet.revoked(id).await;
        }
        Ok(revoked)
    }

    /// `DELETE /api_keys/{id}`.
    ///
    /// # Errors
    /// See [`ApiError`].
    pub async fn delete(&self, key_id: &str) -> Result<(), ApiError> {
        let id = key(key_id)?;
        self.api.delete(&format!("/api_keys/{id}")).await
    }
}
