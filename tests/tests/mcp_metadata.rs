//! An MCP server's OAuth metadata (RFC 9728) through both adapters: the
//! same answers, byte for byte, for every method and well-known path,
//! including Clerk's authorization-server metadata when it cannot be had.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use actix_web::test as actix_test;
use clerk_core::machine::ProtectedResource;
use clerk_core::testing::{TestIssuer, publishable_key_for};
use tower::ServiceExt;

/// (status, sorted headers, body).
type Seen = (u16, Vec<(String, String)>, String);

const PATHS: [&str; 4] = [
    "/.well-known/oauth-protected-resource/mcp",
    "/.well-known/oauth-protected-resource",
    "/.well-known/oauth-authorization-server",
    "/.well-known/oauth-protected-resource/other",
];

fn resource() -> ProtectedResource {
    // One for the whole test (clones share the kept metadata), so the one
    // failed fetch is not repeated within its 30 s pause.
    static ONE: std::sync::OnceLock<ProtectedResource> = std::sync::OnceLock::new();
    ONE.get_or_init(build).clone()
}

fn build() -> ProtectedResource {
    // The authorization server is the publishable key's Frontend API, on
    // a reserved name no fetch can reach: its metadata is 502.
    clerk_core::Clerk::new(
        TestIssuer::new()
            .config()
            .publishable_key(publishable_key_for("clerk.test.invalid", true))
            .build()
            .unwrap(),
    )
    .unwrap()
    .protected_resource("https://app.example.com/mcp")
    .unwrap()
    .scopes_supported(["profile"])
}

fn sorted<'a>(headers: impl Iterator<Item = (&'a str, &'a [u8])>) -> Vec<(String, String)> {
    let mut h: Vec<(String, String)> = headers
        .filter(|(n, _)| *n != "date" && *n != "content-length")
        .map(|(n, v)| (n.to_owned(), String::from_utf8_lossy(v).into_owned()))
        .collect();
    h.sort();
    h
}

async fn via_axum(method: &str, path: &str) -> Seen {
    let metadata = clerk_axum::protected_resource_metadata(resource());
    let mut app = axum::Router::new();
    for p in &PATHS[..3] {
        app = app.route_service(p, metadata.clone());
    }
    let req = http::Request::builder()
        .method(method)
        .uri(path)
        .body(axum::body::Body::empty())
        .unwrap();
    let res = app.oneshot(req).await.unwrap();
    let status = res.status().as_u16();
    let headers = sorted(
        res.headers()
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_bytes())),
    );
    let body = axum::body::to_bytes(res.into_body(), 1 << 16)
        .await
        .unwrap();
    (status, headers, String::from_utf8(body.to_vec()).unwrap())
}

async fn via_actix(method: &str, path: &str) -> Seen {
    let handler = || actix_web::web::to(clerk_actix::protected_resource_metadata);
    let mut app = actix_web::App::new().app_data(actix_web::web::Data::new(resource()));
    for p in &PATHS[..3] {
        app = app.route(p, handler());
    }
    let app = actix_test::init_service(app).await;
    let req = actix_test::TestRequest::default()
        .method(actix_web::http::Method::from_bytes(method.as_bytes()).unwrap())
        .uri(path)
        .to_request();
    let res = actix_test::call_service(&app, req).await;
    let status = res.status().as_u16();
    let headers = sorted(
        res.headers()
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_bytes())),
    );
    let body = actix_test::read_body(res).await;
    (status, headers, String::from_utf8(body.to_vec()).unwrap())
}

#[actix_web::test]
async fn both_adapters_serve_the_metadata_alike() {
    for path in PATHS {
        for method in ["GET", "OPTIONS", "POST", "DELETE"] {
            let (x, a) = (via_axum(method, path).await, via_actix(method, path).await);
            assert_eq!(x, a, "{method} {path}");
            let want = match (path, method) {
                (p, _) if p.ends_with("/other") => 404,
                (_, "OPTIONS") => 204,
                (_, "POST" | "DELETE") => 405,
                (p, _) if p.ends_with("authorization-server") => 502,
                _ => 200,
            };
            assert_eq!(x.0, want, "{method} {path}");
        }
    }
    let (_, headers, body) = via_axum("GET", PATHS[0]).await;
    assert!(headers.contains(&("access-control-allow-origin".into(), "*".into())));
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).unwrap()["resource"],
        "https://app.example.com/mcp"
    );
}
