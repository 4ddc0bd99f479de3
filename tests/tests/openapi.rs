//! `GET /api-docs/openapi.json` in both example apps: Clerk's three
//! security schemes, every guarded route listed with the session
//! requirement, the machine route with the machine scheme, public routes
//! with none; both apps serve the same document.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use clerk_tests::{ActixTarget, AxumTarget, Target, dev_state};
use http::Request;
use serde_json::{Value, json};

async fn fetch(target: &impl Target) -> Value {
    let res = target
        .send(
            Request::get("/api-docs/openapi.json")
                .body(String::new())
                .unwrap(),
        )
        .await;
    assert_eq!(res.status(), 200);
    serde_json::from_str(res.body()).unwrap()
}

fn check(doc: &Value) {
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(
        schemes["clerk_session"],
        json!({"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
        "description": "A Clerk session token (getToken() in the frontend), RS256-signed."})
    );
    assert_eq!(schemes["clerk_session_cookie"]["in"], "cookie");
    assert_eq!(schemes["clerk_session_cookie"]["name"], "__session");
    assert_eq!(schemes["clerk_machine_token"]["in"], "header");
    let session = json!([{"clerk_session": []}, {"clerk_session_cookie": []}]);
    let paths = &doc["paths"];
    for guard in clerk_examples::app::guards() {
        let op = &paths[guard.path][guard.method.to_lowercase()];
        assert_eq!(op["security"], session, "{}", guard.path);
    }
    for (path, method) in [
        ("/api/me", "get"),
        ("/api/me/profile", "get"),
        ("/api/admin/users/{id}/plan", "post"),
        ("/api/admin/members", "get"),
    ] {
        assert_eq!(paths[path][method]["security"], session, "{path}");
    }
    assert_eq!(
        paths["/api/machine"]["get"]["security"],
        json!([{"clerk_machine_token": []}])
    );
    for public in ["/health", "/api/public"] {
        assert!(paths[public]["get"].get("security").is_none(), "{public}");
    }
}

#[actix_web::test]
async fn both_apps_serve_the_document_with_clerks_security_schemes() {
    let state = dev_state().await;
    let axum = fetch(&AxumTarget(clerk_examples::axum_app::router(state.clone()))).await;
    check(&axum);
    let actix = actix_web::test::init_service(clerk_examples::actix_app::app(state)).await;
    let actix = fetch(&ActixTarget(actix)).await;
    assert_eq!(axum, actix);
}
