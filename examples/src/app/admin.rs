//! The admin routes both apps serve, through the typed Backend API client:
//! set a member's plan (`public_metadata.plan`) and list the active
//! organization's members. Both require `org:admin`.
//!
//! A plan lives on the user, across organizations, so an admin may set it
//! only for another user whose one organization is the admin's own (a user
//! also in another organization is refused), and only to a known plan:
//! otherwise anyone could create an organization, become its admin, and
//! change their own or a shared user's plan.

use clerk_core::api::{Api, ApiError, Metadata, User};
use clerk_core::{Requirement, Session};
use serde::Deserialize;
use serde_json::{Value, json};

/// `POST` here sets a member's plan.
pub const PLAN_PATH: &str = "/api/admin/users/{id}/plan";
/// `GET` here lists the active organization's members.
pub const MEMBERS_PATH: &str = "/api/admin/members";
/// The most members `GET /api/admin/members` lists: one page, one Backend
/// API call per request (the budget is shared by every user).
pub const MAX_MEMBERS: u32 = 500;
/// The plans an admin may set.
pub const PLANS: [&str; 3] = ["free", "pro", "enterprise"];
/// The largest request body the admin routes read.
const MAX_BODY: usize = 1024;

/// What both admin routes require.
pub fn requirement() -> Requirement {
    Requirement::role("org:admin")
}

/// A status and JSON body (and `Retry-After`), that each framework only
/// translates.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// JSON body.
    pub body: Value,
    /// Seconds for `Retry-After`, when the Backend API is rate limited.
    pub retry_after: Option<u64>,
}

impl Reply {
    /// `status` with `body`.
    pub fn new(status: u16, body: Value) -> Self {
        Self {
            status,
            body,
            retry_after: None,
        }
    }
}

fn error(status: u16, reason: &str) -> Reply {
    Reply::new(status, json!({"error": reason}))
}

/// How a Backend API failure is answered: never Clerk's body, never the key.
fn api_error(e: &ApiError) -> Reply {
    match e {
        ApiError::InvalidInput(_) => error(400, "invalid-id"),
        ApiError::RateLimited { retry_after, .. } => Reply {
            retry_after: Some(retry_after.as_secs().max(1)),
            ..error(503, "backend-api-rate-limited")
        },
        ApiError::NotConfigured => error(503, "backend-api-not-configured"),
        e if e.status() == Some(404) => error(404, "not-found"),
        e => {
            tracing::warn!(error = %e, trace_id = ?e.trace_id(), "admin route: Backend API call failed");
            error(502, "backend-api-error")
        }
    }
}

#[derive(Deserialize)]
struct PlanBody {
    plan: String,
}

/// The user as the admin routes answer it: who, and the plan (not the
/// rest of the user's metadata).
pub fn user_json(user: &User) -> Value {
    json!({
        "user_id": user.id,
        "name": user.full_name(),
        "primary_email": user.primary_email(),
        "plan": user.public_metadata.get("plan"),
    })
}

/// `POST /api/admin/users/{id}/plan` with `{"plan": "pro"}` (JSON only:
/// a form post cannot make one): merges `plan` into the user's
/// `public_metadata` and answers the updated user. 415 for another content
/// type, 413 over 1 KiB, 400 for a bad body or an unknown plan, 403 for the
/// admin's own plan or a user who is also in another organization, 404
/// when the user is not a member of the admin's active organization
/// (whether or not the user exists).
pub async fn set_plan(
    api: &Api,
    session: &Session,
    user_id: &str,
    content_type: Option<&str>,
    body: &[u8],
) -> Reply {
    let Some(org_id) = session.organization().map(|o| o.id().to_owned()) else {
        return error(403, "no-active-organization");
    };
    let json = content_type
        .and_then(|c| c.split(';').next())
        .is_some_and(|c| c.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        return error(415, "unsupported-media-type");
    }
    if body.len() > MAX_BODY {
        return error(413, "body-too-large");
    }
    let Ok(PlanBody { plan }) = serde_json::from_slice(body) else {
        return error(400, "invalid-body");
    };
    if !PLANS.contains(&plan.as_str()) {
        return error(400, "invalid-plan");
    }
    if user_id == session.user_id() {
        return error(403, "own-plan");
    }
    // Fail closed: the user's memberships, one page (a user in more
    // organizations than a page holds is refused).
    let mut pages = api
        .users()
        .organization_memberships(user_id)
        .page_size(MAX_MEMBERS);
    let memberships = match pages.next_page().await {
        Some(Ok(page)) => page,
        Some(Err(e)) => return api_error(&e),
        None => Vec::new(),
    };
    if !memberships.iter().any(|m| m.organization.id == org_id) {
        return error(404, "not-found");
    }
    let complete = pages
        .total_count()
        .is_some_and(|t| t <= memberships.len() as u64);
    if !complete || memberships.iter().any(|m| m.organization.id != org_id) {
        return error(403, "member-of-another-organization");
    }
    match api
        .users()
        .update_metadata(user_id, &Metadata::new().public(json!({ "plan": plan })))
        .await
    {
        Ok(user) => Reply::new(200, user_json(&user)),
        Err(e) => api_error(&e),
    }
}

/// `GET /api/admin/members`: the active organization's members, walked
/// page by page up to [`MAX_MEMBERS`] (one call on Clerk, which serves 500
/// a page).
pub async fn members(api: &Api, session: &Session) -> Reply {
    let Some(org_id) = session.organization().map(|o| o.id().to_owned()) else {
        return error(403, "no-active-organization");
    };
    let mut pages = api
        .organizations()
        .memberships(&org_id, &clerk_core::api::MembershipList::new())
        .page_size(MAX_MEMBERS);
    let mut members = Vec::new();
    while let Some(page) = pages.next_page().await {
        match page {
            Ok(page) => members.extend(page.into_iter().map(|m| {
                json!({
                    "user_id": m.public_user_data.user_id,
                    "identifier": m.public_user_data.identifier,
                    "role": m.role,
                })
            })),
            Err(e) => return api_error(&e),
        }
        if members.len() >= MAX_MEMBERS as usize {
            members.truncate(MAX_MEMBERS as usize);
            break;
        }
    }
    Reply::new(
        200,
        json!({"organization_id": org_id, "total_count": pages.total_count(), "members": members}),
    )
}
