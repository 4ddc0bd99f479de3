//! The admin routes of both example apps over real HTTP (127.0.0.1:0), in
//! dev mode against the dev Backend API: only an org admin reaches them
//! (the handlers have no check of their own for the role), an admin acts
//! only on members of their own organization, hostile input is refused
//! before any Backend API call, a throttled Backend API answers 503 with
//! `Retry-After`, and both apps answer byte for byte the same.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use clerk_core::testing::Outage;
use clerk_examples::{AppState, DevMode};
use clerk_tests::{TokenKind, token};
use serde_json::{Value, json};

/// One exchange: status, `Retry-After`, JSON body.
type Seen = (u16, Option<String>, Value);

async fn exercise(base: &str, state: &AppState) -> Vec<Seen> {
    let dev = state.dev.clone().unwrap();
    let backend = state.backend.clone().unwrap();
    let client = reqwest::Client::new();
    let bearer = |persona: &'static str| {
        token(&dev, TokenKind::Persona(persona)).map(|t| format!("Bearer {t}"))
    };
    let send = |method: &str, path: &str, who: Option<String>, body: &str| {
        let mut req = client
            .request(method.parse().unwrap(), format!("{base}{path}"))
            .header("content-type", "application/json")
            .body(body.to_owned());
        if let Some(b) = who {
            req = req.header("authorization", b);
        }
        async move {
            let res = req.send().await.unwrap();
            let status = res.status().as_u16();
            let retry = res
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_owned());
            let body = serde_json::from_slice(&res.bytes().await.unwrap()).unwrap_or(Value::Null);
            (status, retry, body)
        }
    };
    let mut seen = Vec::new();
    let plan = r#"{"plan":"pro"}"#;

    // Members of the admin's active organization, through the pages.
    let got = send("GET", "/api/admin/members", bearer("org-admin"), "").await;
    assert_eq!(got.0, 200, "{got:?}");
    assert_eq!(
        got.2,
        json!({"organization_id": "org_acme", "total_count": 2, "members": [
            {"user_id": "user_admin", "identifier": "admin@example.com", "role": "org:admin"},
            {"user_id": "user_member", "identifier": "member@example.com", "role": "org:member"}]})
    );
    seen.push(got);

    // Not an admin, or not signed in: refused before the handler.
    let calls = backend.calls();
    // The guard's own reason, so a bypass answered by one of the
    // handler's checks (same status, another body) cannot pass.
    for (who, status, reason) in [
        (bearer("member"), 403, "requirement-not-met"),
        (bearer("pro"), 403, "requirement-not-met"),
        (None, 401, "session-token-missing"),
    ] {
        for (method, path) in [
            ("GET", "/api/admin/members"),
            ("POST", "/api/admin/users/user_member/plan"),
            ("POST", "/api/admin/users/user_pro/plan"),
        ] {
            let got = send(method, path, who.clone(), plan).await;
            assert_eq!(
                (got.0, &got.2["reason"]),
                (status, &json!(reason)),
                "{method} {path}: {got:?}"
            );
            seen.push(got);
        }
    }
    assert_eq!(
        backend.calls(),
        calls,
        "no Backend API call for a refused request"
    );

    // The admin sets a member's plan: merged into public_metadata.
    let got = send(
        "POST",
        "/api/admin/users/user_member/plan",
        bearer("org-admin"),
        plan,
    )
    .await;
    assert_eq!(got.0, 200, "{got:?}");
    assert_eq!(got.2["user_id"], "user_member");
    assert_eq!(got.2["plan"], "pro");
    assert!(
        got.2.get("public_metadata").is_none(),
        "only the plan is shown"
    );
    let patch = backend
        .seen()
        .into_iter()
        .rev()
        .find(|r| r.line.starts_with("PATCH"))
        .unwrap();
    assert_eq!(patch.line, "PATCH /v1/users/user_member/metadata");
    assert_eq!(patch.json(), json!({"public_metadata": {"plan": "pro"}}));
    seen.push(got);

    // A user outside the admin's organization (exists or not): 404, and
    // nothing written.
    let writes = |b: &clerk_core::testing::FakeBackendApi| {
        b.seen()
            .iter()
            .filter(|r| !r.line.starts_with("GET"))
            .count()
    };
    let before = writes(&backend);
    for user in ["user_pro", "user_nobody"] {
        let got = send(
            "POST",
            &format!("/api/admin/users/{user}/plan"),
            bearer("org-admin"),
            plan,
        )
        .await;
        assert_eq!(
            (got.0, &got.2),
            (404, &json!({"error": "not-found"})),
            "{user}"
        );
        seen.push(got);
    }
    // The admin's own plan, a user who is also in another organization,
    // a plan nobody sells, a body that is not JSON by content type: refused
    // before any write.
    backend.add_membership(
        "org_acme",
        json!({"id": "orgmem_s1", "role": "org:member",
        "organization": {"id": "org_acme"}, "public_user_data": {"user_id": "user_stale"}}),
    );
    backend.add_membership(
        "org_other",
        json!({"id": "orgmem_s2", "role": "org:admin",
        "organization": {"id": "org_other"}, "public_user_data": {"user_id": "user_stale"}}),
    );
    for (path, body, content_type, want) in [
        (
            "/api/admin/users/user_admin/plan",
            plan,
            "application/json",
            (403, "own-plan"),
        ),
        (
            "/api/admin/users/user_stale/plan",
            plan,
            "application/json",
            (403, "member-of-another-organization"),
        ),
        (
            "/api/admin/users/user_member/plan",
            r#"{"plan":"gold"}"#,
            "application/json",
            (400, "invalid-plan"),
        ),
        (
            "/api/admin/users/user_member/plan",
            plan,
            "text/plain",
            (415, "unsupported-media-type"),
        ),
        (
            "/api/admin/users/user_member/plan",
            plan,
            "application/x-www-form-urlencoded",
            (415, "unsupported-media-type"),
        ),
    ] {
        let req = client
            .post(format!("{base}{path}"))
            .header("authorization", bearer("org-admin").unwrap())
            .header("content-type", content_type)
            .body(body.to_owned());
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let got: Value = serde_json::from_slice(&res.bytes().await.unwrap()).unwrap();
        assert_eq!(
            (status, got),
            (want.0, json!({"error": want.1})),
            "{path} {content_type}"
        );
    }
    // Hostile input: refused with 400 before any write.
    let too_long = format!(r#"{{"plan":"{}"}}"#, "a".repeat(33));
    let err = |reason: &str| json!({"error": reason});
    // An encoded slash never reaches the handler: the guard refuses the path.
    let malformed = json!({"error": "bad_request", "reason": "malformed-path"});
    for (path, body, want) in [
        (
            "/api/admin/users/user_member/plan",
            r#"{"plan":"PRO!"}"#,
            err("invalid-plan"),
        ),
        (
            "/api/admin/users/user_member/plan",
            r#"{"plan":""}"#,
            err("invalid-plan"),
        ),
        (
            "/api/admin/users/user_member/plan",
            too_long.as_str(),
            err("invalid-plan"),
        ),
        (
            "/api/admin/users/user_member/plan",
            r#"{"plan":["pro"]}"#,
            err("invalid-body"),
        ),
        (
            "/api/admin/users/user_member/plan",
            "not json",
            err("invalid-body"),
        ),
        (
            "/api/admin/users/user%20member/plan",
            plan,
            err("invalid-id"),
        ),
        ("/api/admin/users/user.member/plan", plan, err("invalid-id")),
        ("/api/admin/users/..%2Fusers/plan", plan, malformed),
    ] {
        let got = send("POST", path, bearer("org-admin"), body).await;
        assert_eq!((got.0, &got.2), (400, &want), "{path} {body}");
        seen.push(got);
    }
    assert_eq!(writes(&backend), before, "no write for any of them");

    // The Backend API throttles: 503 with Retry-After.
    backend.set_outage(Some(Outage::Status(429, Some(7))));
    let got = send("GET", "/api/admin/members", bearer("org-admin"), "").await;
    assert_eq!((got.0, got.1.as_deref()), (503, Some("7")), "{got:?}");
    assert_eq!(got.2, json!({"error": "backend-api-rate-limited"}));
    seen.push(got);
    seen
}

async fn axum_run() -> Vec<Seen> {
    let state = AppState::start_dev(DevMode::new(), "/sign-in".into())
        .await
        .unwrap();
    exercise(&clerk_tests::serve_axum(&state).await, &state).await
}

#[actix_web::test]
async fn both_apps_guard_and_answer_the_admin_routes_alike() {
    let state = AppState::start_dev(DevMode::new(), "/sign-in".into())
        .await
        .unwrap();
    let app_state = state.clone();
    let (addr, handle) =
        clerk_tests::serve_actix(move || clerk_examples::actix_app::app(app_state.clone()));
    let actix = exercise(&format!("http://{addr}"), &state).await;
    handle.stop(true).await;
    let axum = axum_run().await;
    assert_eq!(axum, actix, "the two apps answer alike");
}
