//! `/v1/sessions`: Clerk's `SessionApi` (`@clerk/backend`,
//! `src/api/endpoints/SessionApi.ts`).

use reqwest::Method;
use serde::Deserialize;

use super::{Api, ApiError, Pages, SessionData, SessionStatus, segment};

/// Sessions: `clerk.api().sessions()`.
///
/// ```
/// use clerk_core::api::SessionStatus;
/// # async fn f(clerk: &clerk_core::Clerk) -> Result<(), clerk_core::api::ApiError> {
/// // Sign a user out of every device after a password leak: read the
/// // whole list first (revoking while paging by offset would skip some).
/// let sessions = clerk.api().sessions();
/// let active = sessions.of_user("user_123", Some(&SessionStatus::Active));
/// for id in active.collect_all().await?.into_iter().map(|s| s.id) {
///     sessions.revoke(&id).await?;
/// }
/// // A token for a third-party service, from the JWT template `supabase`.
/// let jwt: String = sessions.token("sess_123", "supabase").await?;
/// # let _ = jwt;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Sessions<'a> {
    pub(super) api: &'a Api,
}

#[derive(Deserialize)]
struct Token {
    jwt: String,
}

impl Sessions<'_> {
    /// `GET /sessions?user_id=…`, paginated: the user's sessions, only
    /// those with `status` when given (Clerk refuses `pending` as a
    /// filter: 422). Clerk's `SessionListParams` needs a user or a client
    /// (`SessionApi.ts`).
    pub fn of_user(&self, user_id: &str, status: Option<&SessionStatus>) -> Pages<SessionData> {
        let owner = super::id("user id", "user_", user_id).map(|u| ("user_id", u));
        self.list(owner, status)
    }

    /// `GET /sessions?client_id=…`, paginated: a client's (a browser's)
    /// sessions, as [`Sessions::of_user`].
    pub fn of_client(&self, client_id: &str, status: Option<&SessionStatus>) -> Pages<SessionData> {
        let owner = super::id("client id", "client_", client_id).map(|c| ("client_id", c));
        self.list(owner, status)
    }

    fn list(
        &self,
        owner: Result<(&str, &str), ApiError>,
        status: Option<&SessionStatus>,
    ) -> Pages<SessionData> {
        // Without `paginated=true` Clerk answers a bare array and no total
        // (the SDK always asks for pages: `SessionApi.ts`).
        let mut q = vec![("paginated".to_owned(), "true".to_owned())];
        if let Ok((name, value)) = owner {
            q.push((name.to_owned(), value.to_owned()));
        }
        if let Some(status) = status.map(SessionStatus::as_str).filter(|s| !s.is_empty()) {
            q.push(("status".to_owned(), status.to_owned()));
        }
        self.api.pages(owner.map(|_| "/sessions".to_owned()), q)
    }

    /// `GET /sessions/{id}`.
    ///
    /// # Errors
    /// See [`ApiError`].
    pub async fn get(&self, session_id: &str) -> Result<SessionData, ApiError> {
        let id = super::id("session id", "sess_", session_id)?;
        self.api
            .call(Method::GET, &format!("/sessions/{id}"), None)
            .await
    }

    /// `POST /sessions/{id}/revoke`: the session ends at once; its tokens
    /// stop verifying when they expire (within a minute) or at the next
    /// refresh.
    ///
    /// # Errors
    /// See [`ApiError`].
    pub async fn revoke(&self, session_id: &str) -> Result<SessionData, ApiError> {
        let id = super::id("session id", "sess_", session_id)?;
        self.api
            .call(Method::POST, &format!("/sessions/{id}/revoke"), None)
            .await
    }

    /// `POST /sessions/{id}/tokens/{template}`: a token for the session
    /// from a JWT template (e.g. for a third-party service).
    ///
    /// # Errors
    /// See [`ApiError`].
    pub async fn token(&self, session_id: &str, template: &str) -> Result<String, ApiError> {
        self.token_expiring(session_id, template, None).await
    }

    /// As [`Sessions::token`], living `expires_in_seconds` (Clerk's
    /// `expires_in_seconds`; `None`: the template's lifetime).
    ///
    /// # Errors
    /// See [`ApiError`].
    pub async fn token_expiring(
        &self,
        session_id: &str,
        template: &str,
        expires_in_seconds: Option<u64>,
    ) -> Result<String, ApiError> {
        let id = super::id("session id", "sess_", session_id)?;
        let template = segment("JWT template name", template)?;
        let body = expires_in_seconds.map(|s| serde_json::json!({ "expires_in_seconds": s }));
        let t: Token = self
            .api
            .call(
                Method::POST,
                &format!("/sessions/{id}/tokens/{template}"),
                body.as_ref(),
            )
            .await?;
        Ok(t.jwt)
    }
}
