//! Clerk's Content-Security-Policy through both adapters: the same header
//! on every response, and in strict mode a fresh nonce the handler reads
//! from the request's `x-nonce` (never the client's own) and the policy
//! names.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use actix_web::test as actix_test;
use clerk_core::browser::ContentSecurityPolicy;
use tower::ServiceExt;

/// (status, policy header, response `x-nonce`, body = the handler's `x-nonce`).
type Seen = (u16, String, Option<String>, String);

fn nonce_of(headers: impl Fn(&str) -> Option<String>) -> (String, Option<String>) {
    (
        headers("content-security-policy").unwrap_or_default(),
        headers("x-nonce"),
    )
}

async fn via_axum(csp: &ContentSecurityPolicy, client_nonce: Option<&str>) -> Seen {
    let app = axum::Router::new()
        .route(
            "/page",
            axum::routing::get(|h: http::HeaderMap| async move {
                h.get("x-nonce")
                    .map(|v| v.to_str().unwrap().to_owned())
                    .unwrap_or_default()
            }),
        )
        .layer(clerk_tower::ContentSecurityPolicyLayer::new(csp.clone()));
    let mut req = http::Request::get("/page");
    if let Some(n) = client_nonce {
        req = req.header("x-nonce", n);
    }
    let res = app
        .oneshot(req.body(axum::body::Body::empty()).unwrap())
        .await
        .unwrap();
    let (policy, nonce) =
        nonce_of(|n| res.headers().get(n).map(|v| v.to_str().unwrap().to_owned()));
    let status = res.status().as_u16();
    let body = axum::body::to_bytes(res.into_body(), 1 << 16)
        .await
        .unwrap();
    (
        status,
        policy,
        nonce,
        String::from_utf8(body.to_vec()).unwrap(),
    )
}

async fn via_actix(csp: &ContentSecurityPolicy, client_nonce: Option<&str>) -> Seen {
    let app = actix_test::init_service(
        actix_web::App::new()
            .route(
                "/page",
                actix_web::web::get().to(|req: actix_web::HttpRequest| async move {
                    req.headers()
                        .get("x-nonce")
                        .map(|v| v.to_str().unwrap().to_owned())
                        .unwrap_or_default()
                }),
            )
            .wrap(clerk_actix::ContentSecurityPolicyMiddleware::new(
                csp.clone(),
            )),
    )
    .await;
    let mut req = actix_test::TestRequest::get().uri("/page");
    if let Some(n) = client_nonce {
        req = req.insert_header(("x-nonce", n));
    }
    let res = actix_test::call_service(&app, req.to_request()).await;
    let (policy, nonce) =
        nonce_of(|n| res.headers().get(n).map(|v| v.to_str().unwrap().to_owned()));
    let status = res.status().as_u16();
    let body = actix_test::read_body(res).await;
    (
        status,
        policy,
        nonce,
        String::from_utf8(body.to_vec()).unwrap(),
    )
}

#[actix_web::test]
async fn both_adapters_send_clerks_policy_and_a_fresh_nonce() {
    let plain = ContentSecurityPolicy::new("clerk.example.com");
    let (axum, actix) = (via_axum(&plain, None).await, via_actix(&plain, None).await);
    assert_eq!(axum, actix, "identical without a nonce");
    assert!(axum.1.contains("connect-src 'self'") && axum.1.contains("clerk.example.com"));
    assert_eq!((axum.2.as_deref(), axum.3.as_str()), (None, ""));

    let strict = plain.strict(true);
    for seen in [
        via_axum(&strict, Some("forged")).await,
        via_actix(&strict, Some("forged")).await,
    ] {
        let nonce = seen.2.clone().unwrap();
        assert_ne!(nonce, "forged");
        assert_eq!(seen.3, nonce, "the handler reads the layer's nonce");
        assert!(seen.1.contains(&format!("'nonce-{nonce}'")), "{seen:?}");
        assert!(seen.1.contains("'strict-dynamic'"));
        // Apart from the nonce, both send the same policy.
        let plain_policy = seen.1.replace(&nonce, "N");
        let other = via_axum(&strict, None).await;
        assert_eq!(
            plain_policy,
            other.1.replace(other.2.as_deref().unwrap(), "N")
        );
    }
}
