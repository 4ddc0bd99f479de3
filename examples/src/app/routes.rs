//! The route table both example apps serve, and the JSON they answer.

use clerk_core::{Preset, Requirement};
use serde_json::{Value, json};

/// The little CSS of the example pages and the dev sign-in page.
pub const STYLE: &str = "body{font-family:system-ui,sans-serif;background:#f6f7fb;color:#1f2330;margin:0}\
main{max-width:40rem;margin:3rem auto;background:#fff;padding:2rem 2.5rem;border-radius:12px;\
box-shadow:0 2px 12px rgba(0,0,0,.08)}h1{margin-top:0}a.persona,a.button{display:inline-block;\
padding:.4rem .9rem;margin:.2rem 0;border-radius:8px;background:#6c47ff;color:#fff;text-decoration:none}\
li{list-style:none;margin:.5rem 0}ul{padding:0}.note{color:#667}span{color:#556}";

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

/// The page areas protected by a route matcher: signed-out page requests
/// are redirected to the sign-in URL, API requests get 401.
pub const DASHBOARD_PATTERNS: [&str; 3] =
    ["/dashboard(.*)", "/orgs/:slug/dashboard", "/me/dashboard"];

/// Where the apps serve Clerk's Frontend API proxy (Clerk's default
/// `proxyPath`); dev mode's relative proxy URL.
pub const PROXY_PATH: &str = "/__clerk";

/// Organization sync: URLs naming an organization by slug...
pub const ORGANIZATION_PATTERNS: [&str; 2] = ["/orgs/:slug", "/orgs/:slug/(.*)"];
/// ...and the personal account.
pub const PERSONAL_ACCOUNT_PATTERNS: [&str; 2] = ["/me", "/me/(.*)"];

/// The dashboard pages (`/dashboard`, `/orgs/{slug}/dashboard`,
/// `/me/dashboard`): who is signed in, their active organization, the one
/// the URL names (organization sync by URL: a member lands with it
/// active; anyone else lands signed in with no switch, as Clerk does),
/// and a script that runs only under the page's CSP nonce.
pub fn dashboard_html(
    session: &clerk_core::Session,
    named: Option<&clerk_core::browser::OrganizationTarget>,
    nonce: Option<&str>,
) -> String {
    use clerk_core::browser::OrganizationTarget;
    let escape = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let active = session.organization().map_or_else(
        || "personal account".to_owned(),
        |o| o.slug().unwrap_or(o.id()).to_owned(),
    );
    let named = match named {
        Some(OrganizationTarget::Slug(s) | OrganizationTarget::Id(s)) => s.clone(),
        Some(OrganizationTarget::PersonalAccount) => "personal account".to_owned(),
        _ => String::new(),
    };
    let nonce = nonce
        .map(|n| format!(" nonce=\"{}\"", escape(n)))
        .unwrap_or_default();
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Dashboard</title><style>{STYLE}</style></head>\
         <body><main><h1>Dashboard</h1><p>Signed in as <strong id=\"user\">{}</strong></p>\
         <p>Active organization: <strong id=\"org\">{}</strong></p>\
         <p>This page names: <strong id=\"named\">{}</strong></p>\
         <p id=\"scripts\">scripts blocked</p>\
         <script{nonce}>document.getElementById('scripts').textContent = 'scripts run';</script>\
         <p><a class=\"button\" href=\"/sign-out\">Sign out</a></p></main></body></html>",
        escape(session.user_id()),
        escape(&active),
        escape(&named),
    )
}

/// `GET /api/public`.
pub fn public_json(auth: &clerk_core::Auth) -> Value {
    json!({"signed_in": auth.is_signed_in(), "user_id": auth.user_id()})
}

/// `GET /api/me/profile`: name, primary email and MFA status.
pub fn profile_json(user: &clerk_core::api::User) -> Value {
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

/// `GET /api/me`, and what `clerk-token verify` prints: the normalised
/// session as JSON: `user_id`, `session_id`, `org_id`, `org_role`,
/// `org_slug`, `org_permissions`, `plan` (the raw `pla` entries,
/// comma-joined), `features` (raw entries), `factor_age` (`[first, second]`,
/// `-1` for never), `status` and `actor`; absent values are `null`.
///
/// A struct serialized straight to the response, borrowing from the
/// session: no JSON tree is built per request. Fields in alphabetical
/// order, as a JSON object map would write them.
pub fn session_json(session: &clerk_core::Session) -> SessionJson<'_> {
    use clerk_core::session::{Actor, FactorAge, Organization};
    let org = session.organization();
    let plans = session.plans();
    SessionJson {
        actor: session.actor().map(Actor::raw),
        factor_age: session.factor_age().map(FactorAge::as_array),
        features: session.features().raw().collect(),
        org_id: org.map(Organization::id),
        org_permissions: session.org_permissions(),
        org_role: org.and_then(Organization::role),
        org_slug: org.and_then(Organization::slug),
        plan: (!plans.is_empty()).then(|| plans.raw().collect::<Vec<_>>().join(",")),
        session_id: session.session_id(),
        status: if session.is_pending() {
            "pending"
        } else {
            "active"
        },
        user_id: session.user_id(),
    }
}

/// The JSON shape of [`session_json`].
#[derive(Debug, serde::Serialize)]
#[allow(missing_docs)]
pub struct SessionJson<'a> {
    pub actor: Option<&'a serde_json::Map<String, Value>>,
    pub factor_age: Option<[i64; 2]>,
    pub features: Vec<&'a str>,
    pub org_id: Option<&'a str>,
    pub org_permissions: &'a [String],
    pub org_role: Option<&'a str>,
    pub org_slug: Option<&'a str>,
    pub plan: Option<String>,
    pub session_id: Option<&'a str>,
    pub status: &'a str,
    pub user_id: &'a str,
}

/// `GET /api/machine`: the machine identity as JSON.
pub fn machine_json(m: &clerk_core::MachineAuth) -> Value {
    json!({
        "token_type": m.token_type.as_str(),
        "id": m.id,
        "subject": m.subject,
        "scopes": m.scopes,
        "name": m.name,
        "claims": m.claims,
        "user_id": m.user_id(),
        "org_id": m.org_id(),
        "machine_id": m.machine_id(),
        "client_id": m.client_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(v: Value) -> clerk_core::Session {
        clerk_core::Session::from_payload(v.as_object().unwrap().clone()).unwrap()
    }

    #[test]
    fn session_json_has_every_field() {
        let c = claims(
            json!({"sub":"u","sid":"s","exp":1,"pla":"o:pro","fva":[1,-1],
            "org_id":"org_1","org_role":"admin","org_slug":"acme","org_permissions":["org:a:b"],
            "act":{"sub":"user_x"}}),
        );
        assert_eq!(
            serde_json::to_value(session_json(&c)).unwrap(),
            json!({"user_id":"u","session_id":"s","org_id":"org_1","org_role":"org:admin",
                "org_slug":"acme","org_permissions":["org:a:b"],"plan":"o:pro","features":[],
                "factor_age":[1,-1],"status":"active","actor":{"sub":"user_x"}})
        );
        let bare = claims(json!({"sub":"u","exp":1}));
        let bare = serde_json::to_value(session_json(&bare)).unwrap();
        for key in [
            "session_id",
            "org_id",
            "org_role",
            "org_slug",
            "plan",
            "factor_age",
            "actor",
        ] {
            assert!(bare[key].is_null(), "{key}");
        }
    }
}
