//! `/v1/machines` and `/v1/m2m_tokens`: Clerk's `MachineApi` and
//! `M2MTokenApi` (`@clerk/backend`, `src/api/endpoints/MachineApi.ts`,
//! `M2MTokenApi.ts`). Bodies are sent with Clerk's snake_case names, as
//! the SDK's `request.ts` sends them (top-level keys only: your claims
//! keep their own names).

use reqwest::Method;
use serde_json::{Map, Value, json};

use super::{Api, ApiError, M2mTokenRecord, MachineRecord, MachineScope, Pages, Secret};

/// Machines (services that call each other with M2M tokens):
/// `clerk.api().machines()`.
///
/// ```
/// use clerk_core::api::MachineFields;
/// # async fn f(clerk: &clerk_core::Clerk) -> Result<(), clerk_core::api::ApiError> {
/// let machines = clerk.api().machines();
/// let billing = machines.create(&MachineFields::new().name("billing").default_token_ttl(3600)).await?;
/// let reports = machines.create(&MachineFields::new().name("reports")).await?;
/// // billing's M2M tokens may be sent to reports.
/// machines.add_scope(&billing.id, &reports.id).await?;
/// // Shown once at creation; store it as billing's CLERK_MACHINE_SECRET_KEY.
/// let secret = billing.secret_key.as_ref().map(|s| s.expose().to_owned());
/// # let _ = secret;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Machines<'a> {
    pub(super) api: &'a Api,
}

/// M2M tokens: `clerk.api().m2m_tokens()`. Creating one needs the
/// machine's own secret key (`CLERK_MACHINE_SECRET_KEY`); listing and
/// revoking use it when configured, else the instance's secret key (Clerk
/// takes either).
///
/// ```
/// use clerk_core::api::NewM2mToken;
/// # async fn f(clerk: &clerk_core::Clerk) -> Result<(), clerk_core::api::ApiError> {
/// let tokens = clerk.api().m2m_tokens();
/// let minted = tokens.create(&NewM2mToken::new().seconds_until_expiration(600).jwt()).await?;
/// let bearer = minted.token.as_ref().map(|t| t.expose().to_owned());
/// # let _ = bearer;
/// tokens.revoke(&minted.id, Some("rotated")).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct M2mTokens<'a> {
    pub(super) api: &'a Api,
}

/// A machine to create or update; only what you set is sent.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MachineFields {
    fields: Map<String, Value>,
}

impl MachineFields {
    /// No fields yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Its name (required to create).
    #[must_use]
    pub fn name(mut self, name: &str) -> Self {
        self.fields.insert("name".into(), name.into());
        self
    }

    /// Seconds its M2M tokens live unless asked otherwise.
    #[must_use]
    pub fn default_token_ttl(mut self, seconds: u64) -> Self {
        self.fields
            .insert("default_token_ttl".into(), seconds.into());
        self
    }

    /// Create only: a machine it may send tokens to (each call adds one to
    /// `scoped_machines`).
    #[must_use]
    pub fn scoped_machine(mut self, machine_id: &str) -> Self {
        match self.fields.get_mut("scoped_machines") {
            Some(Value::Array(ids)) => ids.push(machine_id.into()),
            _ => {
                self.fields
                    .insert("scoped_machines".into(), json!([machine_id]));
            }
        }
        self
    }

    /// The body, with every scoped machine id checked.
    fn body(&self) -> Result<Value, ApiError> {
        if let Some(Value::Array(ids)) = self.fields.get("scoped_machines") {
            for id in ids {
                machine(id.as_str().unwrap_or(""))?;
            }
        }
        Ok(Value::Object(self.fields.clone()))
    }
}

/// An M2M token to mint (Clerk's `CreateM2MTokenParams`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewM2mToken {
    seconds: Option<u64>,
    claims: Option<Value>,
    min_remaining: Option<u64>,
    jwt: bool,
}

impl NewM2mToken {
    /// An opaque token, its lifetime unset (Clerk's `null`: see
    /// [`NewM2mToken::seconds_until_expiration`]).
    pub fn new() -> Self {
        Self::default()
    }

    /// Lives `seconds`. Unset, Clerk's `CreateM2MTokenParams` says `null`:
    /// "the token does not expire" (or the machine's `default_token_ttl`,
    /// as the instance applies it).
    #[must_use]
    pub fn seconds_until_expiration(mut self, seconds: u64) -> Self {
        self.seconds = Some(seconds);
        self
    }

    /// Your claims in the token.
    #[must_use]
    pub fn claims(mut self, claims: Value) -> Self {
        self.claims = Some(claims);
        self
    }

    /// Opaque tokens: Clerk answers an existing live token with the same
    /// claims and at least `seconds` left instead of minting one (Clerk's
    /// `min_remaining_ttl_seconds`; it must be below the lifetime).
    #[must_use]
    pub fn min_remaining_ttl_seconds(mut self, seconds: u64) -> Self {
        self.min_remaining = Some(seconds);
        self
    }

    /// A JWT (`token_format: jwt`, verified without a Backend API call)
    /// instead of an opaque token.
    #[must_use]
    pub fn jwt(mut self) -> Self {
        self.jwt = true;
        self
    }

    /// As `@clerk/backend`'s `createToken` sends it: `null` for what is not
    /// set, `min_remaining_ttl_seconds` only when set.
    fn body(&self) -> Value {
        let mut body = json!({
            "seconds_until_expiration": self.seconds,
            "claims": self.claims,
            "token_format": if self.jwt { "jwt" } else { "opaque" },
        });
        if let (Some(s), Some(map)) = (self.min_remaining, body.as_object_mut()) {
            map.insert("min_remaining_ttl_seconds".into(), s.into());
        }
        body
    }
}

/// Clerk's machine ids: `mch_…` (`@clerk/backend` fixtures, `mch_2vYV…`).
fn machine(id: &str) -> Result<&str, ApiError> {
    super::id("machine id", "mch_", id)
}

#[derive(serde::Deserialize)]
struct SecretAnswer {
    secret: Secret,
}

impl Machines<'_> {
    /// `POST /machines`: its secret key is in the answer, once.
    ///
    /// # Errors
    /// See [`ApiError`].
    pub async fn create(&self, fields: &MachineFields) -> Result<MachineRecord, ApiError> {
        let body = fields.body()?;
        self.api.call(Method::POST, "/machines", Some(&body)).await
    }

    /// `GET /machines`, paginated; `query` filters by name or id, `order_by`
    /// is `name`, `created_at` with `+`/`-` (Clerk's `GetMachineListParams`).
    pub fn list(&self, query: Option<&str>, order_by: Option<&str>) -> Pages<MachineRecord> {
        let mut q = Vec::new();
        if let Some(query) = query {
            q.push(("query".to_owned(), query.to_owned()));
        }
        if let Some(order) = order_by {
            q.push(("order_by".to_owned(), order.to_owned()));
        }
        self.api.pages(Ok("/machines".to_owned()), q)
    }

    /// `GET /machines/{id}`.
    ///
    /// # Errors
    /// See [`ApiError`].
    pub async fn get(&self, machine_id: &str) -> Result<MachineRecord, ApiError> {
        let id = machine(machine_id)?;
        self.api
            .call(Method::GET, &format!("/machines/{id}"), None)
            .await
    }

    /// `PATCH /machines/{id}`: name and default token lifetime.
    ///
    /// # Errors
    /// See [`ApiError`].
    pub async fn update(
        &self,
        machine_id: &str,
        fields: &MachineFields,
    ) -> Result<MachineRecord, ApiError> {
        let id = machine(machine_id)?;
        let mut body = fields.body()?;
        // Clerk's `UpdateMachineParams` has no scoped machines (scopes
        // change with `add_scope` / `remove_scope`).
        if let Some(map) = body.as_object_mut() {
            map.remove("scoped_machines");
        }
        self.api
            .call(Method::PATCH, &format!("/machines/{id}"), Some(&body))
            .await
    }

    /// `DELETE /machines/{id}`.
    ///
    /// # Errors
    /// See [`ApiError`].
    pub async fn delete(&self, machine_id: &str) -> Result<MachineRecord, ApiError> {
        let id = machine(machine_id)?;
        self.api
            .call(Method::DELETE, &format!("/machines/{id}"), None)
            .await
    }

    /// `GET /machines/{id}/secret_key`.
    ///
    /// # Errors
    /// See [`ApiError`].
    pub async fn secret_key(&self, machine_id: &str) -> Result<Secret, ApiError> {
        let id = machine(machine_id)?;
        let a: SecretAnswer = self
            .api
            .call(Method::GET, &format!("/machines/{id}/secret_key"), None)
            .await?;
        Ok(a.secret)
    }

    /// `POST /machines/{id}/secret_key/rotate`: a new secret key; tokens
    /// minted with the previous one keep verifying for
    /// `previous_token_ttl` seconds.
    ///
    /// # Errors
    /// See [`ApiError`].
    pub async fn rotate_secret_key(
        &self,
        machine_id: &str,
        previous_token_ttl: u64,
    ) -> Result<Secret, ApiError> {
        let id = machine(machine_id)?;
        let body = json!({ "previous_token_ttl": previous_token_ttl });
        let a: SecretAnswer = self
            .api
            .call(
                Method::POST,
                &format!("/machines/{id}/secret_key/rotate"),
                Some(&body),
            )
            .await?;
        Ok(a.secret)
    }

    /// `POST /machines/{id}/scopes`: `machine_id` may send tokens to
    /// `to_machine_id`.
    ///
    /// # Errors
    /// See [`ApiError`].
    pub async fn add_scope(
        &self,
        machine_id: &str,
        to_machine_id: &str,
    ) -> Result<MachineScope, ApiError> {
        let id = machine(machine_id)?;
        let body = json!({ "to_machine_id": machine(to_machine_id)? });
        self.api
            .call(Method::POST, &format!("/machines/{id}/scopes"), Some(&body))
            .await
    }

    /// `DELETE /machines/{id}/scopes/{other}`.
    ///
    /// # Errors
    /// See [`ApiError`].
    pub async fn remove_scope(
        &self,
        machine_id: &str,
        other_machine_id: &str,
    ) -> Result<MachineScope, ApiError> {
        let id = machine(machine_id)?;
        let other = machine(other_machine_id)?;
        self.api
            .call(
                Method::DELETE,
                &format!("/machines/{id}/scopes/{other}"),
                None,
            )
            .await
    }
}

impl M2mTokens<'_> {
    /// `POST /m2m_tokens` with the machine secret key (Clerk: "must be
    /// authenticated by a Machine Secret Key"); the token is in the
    /// answer, once.
    ///
    /// # Errors
    /// [`ApiError::NotConfigured`] without `CLERK_MACHINE_SECRET_KEY`; see
    /// [`ApiError`].
    pub async fn create(&self, token: &NewM2mToken) -> Result<M2mTokenRecord, ApiError> {
        let api = self.api.as_machine().ok_or(ApiError::NotConfigured)?;
        api.call(Method::POST, "/m2m_tokens", Some(&token.body()))
            .await
    }

    /// `GET /m2m_tokens?subject=…`, paginated: a machine's tokens, with the
    /// revoked and expired ones when asked (Clerk's defaults: without).
    pub fn list(&self, machine_id: &str, revoked: bool, expired: bool) -> Pages<M2mTokenRecord> {
        let api = self.api.as_machine().unwrap_or_else(|| self.api.clone());
        let subject = machine(machine_id).map(str::to_owned);
        let mut q = vec![];
        if let Ok(s) = &subject {
            q.push(("subject".to_owned(), s.clone()));
        }
        for (name, on) in [("revoked", revoked), ("expired", expired)] {
            if on {
                q.push((name.to_owned(), "true".to_owned()));
            }
        }
        api.pages(subject.map(|_| "/m2m_tokens".to_owned()), q)
    }

    /// `POST /m2m_tokens/{id}/revoke`, with your reason (kept by Clerk).
    ///
    /// # Errors
    /// See [`ApiError`].
    pub async fn revoke(
        &self,
        token_id: &str,
        reason: Option<&str>,
    ) -> Result<M2mTokenRecord, ApiError> {
        let id = super::id("M2M token id", "mt_", token_id)?;
        let api = self.api.as_machine().unwrap_or_else(|| self.api.clone());
        let body = json!({ "revocation_reason": reason });
        let revoked: M2mTokenRecord = api
            .call(
                Method::POST,
                &format!("/m2m_tokens/{id}/revoke"),
                Some(&body),
            )
            .await?;
        // Every replica stops accepting it now, not at its cache's end.
        #[cfg(feature = "redis")]
        if let Some(fleet) = self.api.backend().and_then(|b| b.fleet()) {
            fleet.revoked(id).await;
        }
        Ok(revoked)
    }
}
