//! `/v1/sessions`: Clerk's `SessionApi` (`@clerk/backend`,
//! `src/api/endpoints/SessionApi.ts`).

use reqwest::Method;
use serde::Deserialize;

use super::{Api, ApiError, Pages, SessionData, SessionStatus, segment, status_filter};

/// Sessions: `clerk.api().sessions()`.
///
/// ```
/// use clerk_core::api::SessionStatus;
/// # async fn f(clerk: &clerk_core::Clerk) -> Result<(), clerk_core::api::ApiError> {
/// // Sign a user out of every device after a password leak: read the
/// // whole list first (revoking while paging by offset would skip some).
/// let sessions = clerk.api().sessions();
/// let mut active = sessions.list("user_123", Some(&SessionStatus::Active));
/// let mut ids = Vec::new();
/// while let Some(page) = active.next_page().await {
///     ids.extend(page?.into_iter().map(|s| s.id));
/// }
/// for id in ids {
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
    /// `GET /sessions?user_id=…`, paginated, optionally only those with
    /// `status` (Clerk refuses `pending` as a filter: 422).
    pub fn list(&self, user_id: &str, status: Option<&SessionStatus>) -> Pages<SessionData> {
        let user = super::id("user id", "user_", user_id);
        // Without `paginated=true` Clerk answers a bare array and no total
        // (the SDK always asks for pages: `SessionApi.ts`).
        let mut q = vec![("paginated".to_owned(), "true".to_owned())];
        if let Ok(u) = user {
            q.push(("user_id".to_owned(), u.to_owned()));
        }
        q.extend(status_filter("status", status.map(SessionStatus::as_str)));
        self.api.pages(user.map(|_| "/sessions".to_owned()), q)
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
        let id = super::id("session id", "sess_", session_id)?;
        let template = segment("JWT template name", template)?;
        let t: Token = self
            .api
            .call(
                Method::POST,
                &format!("/sessions/{id}/tokens/{template}"),
                None,
            )
            .await?;
        Ok(t.jwt)
    }
}
