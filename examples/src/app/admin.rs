//! The admin routes both apps serve, through the typed Backend API client:
//! set a member's plan (`public_metadata.plan`) and list the active
//! organization's members. Both require `org:admin`; an admin acts only on
//! members of their own active organization.

use clerk_core::api::{Api, ApiError, Metadata, User};
use clerk_core::{Requirement, Session};
use serde::Deserialize;
use serde_json::{Value, json};

/// `POST` here sets a member's plan.
pub const PLAN_PATH: &str = "/api/admin/users/{id}/plan";
/// `GET` here lists the active organization's members.
pub const MEMBERS_PATH: &str = "/api/admin/members";
/// The most members `GET /api/admin/members` lists (the walk stops there).
pub const MAX_MEMBERS: usize = 1000;
/// The most of a user's memberships read to find the admin's organization.
const MAX_MEMBERSHIPS: usize = 500;

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

/// The user as the admin routes answer it.
pub fn user_json(user: &User) -> Value {
    json!({
        "user_id": user.id,
        "name": user.full_name(),
        "primary_email": user.primary_email(),
        "public_metadata": user.public_metadata,
    })
}

/// `POST /api/admin/users/{id}/plan` with `{"plan": "pro"}`: merges
/// `plan` into the member's `public_metadata` and answers the updated user.
/// 400 for a bad body or plan, 404 when the user is not a member of the
/// admin's active organization (whether or not the user exists).
pub async fn set_plan(api: &Api, session: &Session, user_id: &str, body: &[u8]) -> Reply {
    let Some(org_id) = session.organization().map(|o| o.id().to_owned()) else {
        return error(403, "no-active-organization");
    };
    let Ok(PlanBody { plan }) = serde_json::from_slice(body) else {
        return error(400, "invalid-body");
    };
    let plan_ok = (1..=32).contains(&plan.len())
        && plan
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if !plan_ok {
        return error(400, "invalid-plan");
    }
    // Fail closed: only a member of the admin's organization, found by
    // walking the user's memberships (bounded).
    let mut memberships = api.users().organization_memberships(user_id);
    let mut read = 0;
    let mut member = false;
    while let Some(page) = memberships.next_page().await {
        match page {
            Ok(page) => {
                read += page.len();
                member |= page.iter().any(|m| m.organization.id == org_id);
            }
            Err(e) => return api_error(&e),
        }
        if member || read >= MAX_MEMBERSHIPS {
            break;
        }
    }
    if !member {
        return error(404, "not-found");
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
/// page by page (stopping at [`MAX_MEMBERS`]).
pub async fn members(api: &Api, session: &Session) -> Reply {
    let Some(org_id) = session.organization().map(|o| o.id().to_owned()) else {
        return error(403, "no-active-organization");
    };
    let mut pages = api.organizations().memberships(&org_id);
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
        if members.len() >= MAX_MEMBERS {
            members.truncate(MAX_MEMBERS);
            break;
        }
    }
    Reply::new(
        200,
        json!({"organization_id": org_id, "total_count": pages.total_count(), "members": members}),
    )
}
