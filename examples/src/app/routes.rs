//! The route table both example apps serve, and the JSON they answer.

use clerk_core::{Preset, Requirement};
use serde_json::{Value, json};

/// A guarded API route: method, path, and what it requires.
#[derive(Debug, Clone)]
pub struct Guard {
    /// `GET` or `POST`.
    pub method: &'static str,
    /// The route path.
    pub path: &'static str,
    /// What a session must satisfy.
    pub requirement: Requirement,
}

/// The guarded API routes of both example apps.
pub fn guards() -> Vec<Guard> {
    vec![
        Guard {
            method: "GET",
            path: "/api/admin",
            requirement: Requirement::role("org:admin"),
        },
        Guard {
            method: "GET",
            path: "/api/reports",
            requirement: Requirement::permission("org:reports:read"),
        },
        Guard {
            method: "GET",
            path: "/api/pro",
            requirement: Requirement::plan("pro"),
        },
        Guard {
            method: "GET",
            path: "/api/export",
            requirement: Requirement::feature("export"),
        },
        Guard {
            method: "GET",
            path: "/api/mfa",
            requirement: Requirement::mfa(),
        },
        Guard {
            method: "POST",
            path: "/api/settings/danger",
            requirement: Requirement::reverification(Preset::Strict),
        },
    ]
}

/// The page area protected by a route matcher: signed-out page requests
/// are redirected to the sign-in URL, API requests get 401.
pub const DASHBOARD_PATTERN: &str = "/dashboard(.*)";

/// `GET /api/public`.
pub fn public_json(auth: &clerk_core::Auth) -> Value {
    json!({"signed_in": auth.is_signed_in(), "user_id": auth.user_id()})
}

/// `GET /api/me/profile`: name, primary email and MFA status.
pub fn profile_json(user: &clerk_core::users::User) -> Value {
    json!({
        "user_id": user.id,
        "name": user.full_name(),
        "primary_email": user.primary_email(),
        "mfa": {
            "two_factor_enabled": user.two_factor_enabled,
            "totp_enabled": user.totp_enabled,
            "backup_code_enabled": user.backup_code_enabled,
        },
    })
}

/// The body of every guarded route that lets a request through.
pub fn allowed_json(path: &str, session: &clerk_core::Session) -> Value {
    json!({"ok": true, "route": path, "user_id": session.user_id()})
}
