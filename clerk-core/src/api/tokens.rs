//! One-off tokens: `/v1/testing_tokens`, `/v1/sign_in_tokens`,
//! `/v1/actor_tokens` (Clerk's `TestingTokenAPI`, `SignInTokenAPI`,
//! `ActorTokenAPI`, `@clerk/backend` `src/api/endpoints/`).

use reqwest::Method;
use serde_json::{Value, json};

use super::{Api, ApiError, TestingToken, UserTicket, segment};

/// Testing, sign-in and actor (impersonation) tokens:
/// `clerk.api().tokens()`.
///
/// ```
/// use serde_json::json;
/// # async fn f(clerk: &clerk_core::Clerk) -> Result<(), clerk_core::api::ApiError> {
/// let tokens = clerk.api().tokens();
/// // End-to-end tests on a development instance (bot protection off).
/// let testing = tokens.testing().await?;
/// // A support agent signs in as a user; the session's `act` claim names
/// // the agent (read with `session.actor()`).
/// let ticket = tokens.actor("user_123", json!({"sub": "user_agent"}), Some(600), None).await?;
/// let open = ticket.url.as_ref().map(|u| u.expose().to_owned());
/// # let _ = (testing, open);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Tokens<'a> {
    pub(super) api: &'a Api,
}

impl Tokens<'_> {
    /// `POST /testing_tokens` (development instances).
    ///
    /// # Errors
    /// See [`ApiError`].
    pub async fn testing(&self) -> Result<TestingToken, ApiError> {
        self.api.call(Method::POST, "/testing_tokens", None).await
    }

    /// `POST /sign_in_tokens`: a ticket that signs `user_id` in (with
    /// `organization_id` active when given), living `expires_in_seconds`.
    ///
    /// # Errors
    /// See [`ApiError`].
    pub async fn sign_in(
        &self,
        user_id: &str,
        expires_in_seconds: u64,
        organization_id: Option<&str>,
    ) -> Result<UserTicket, ApiError> {
        let user = super::id("user id", "user_", user_id)?;
        let mut body = json!({ "user_id": user, "expires_in_seconds": expires_in_seconds });
        if let (Some(org), Some(map)) = (organization_id, body.as_object_mut()) {
            map.insert(
                "org_id".into(),
                super::id("organization id", "org_", org)?.into(),
            );
        }
        self.api
            .call(Method::POST, "/sign_in_tokens", Some(&body))
            .await
    }

    /// `POST /sign_in_tokens/{id}/revoke`.
    ///
    /// # Errors
    /// See [`ApiError`].
    pub async fn revoke_sign_in(&self, token_id: &str) -> Result<UserTicket, ApiError> {
        // Clerk documents no prefix for these ids: any plain segment.
        let id = segment("sign-in token id", token_id)?;
        self.api
            .call(Method::POST, &format!("/sign_in_tokens/{id}/revoke"), None)
            .await
    }

    /// `POST /actor_tokens`: `actor` (an object with the acting `sub`, and
    /// anything else you want in the `act` claim) signs in as `user_id`;
    /// the ticket lives `expires_in_seconds`, the session it opens
    /// `session_max_duration_in_seconds` (Clerk's defaults when `None`).
    ///
    /// # Errors
    /// [`ApiError::InvalidInput`] when `actor` has no string `sub`; see
    /// [`ApiError`].
    pub async fn actor(
        &self,
        user_id: &str,
        actor: Value,
        expires_in_seconds: Option<u64>,
        session_max_duration_in_seconds: Option<u64>,
    ) -> Result<UserTicket, ApiError> {
        let user = super::id("user id", "user_", user_id)?;
        if !actor.get("sub").is_some_and(Value::is_string) {
            return Err(ApiError::InvalidInput("actor without a sub"));
        }
        let mut body = json!({ "user_id": user, "actor": actor });
        if let Some(map) = body.as_object_mut() {
            for (name, value) in [
                ("expires_in_seconds", expires_in_seconds),
                (
                    "session_max_duration_in_seconds",
                    session_max_duration_in_seconds,
                ),
            ] {
                if let Some(v) = value {
                    map.insert(name.into(), v.into());
                }
            }
        }
        self.api
            .call(Method::POST, "/actor_tokens", Some(&body))
            .await
    }

    /// `POST /actor_tokens/{id}/revoke`.
    ///
    /// # Errors
    /// See [`ApiError`].
    pub async fn revoke_actor(&self, token_id: &str) -> Result<UserTicket, ApiError> {
        let id = segment("actor token id", token_id)?;
        self.api
            .call(Method::POST, &format!("/actor_tokens/{id}/revoke"), None)
            .await
    }
}
