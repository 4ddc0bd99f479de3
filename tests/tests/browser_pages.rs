//! Page loads Clerk's way through both adapters: an expired session cookie
//! on a `GET` document becomes the same 307 to the Frontend API's handshake
//! in axum and actix, answered by the authenticating layer itself. The
//! handlers have no extractor: they only count calls, so the layer is the
//! only thing deciding.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use actix_web::test as actix_test;
use clerk_core::Clerk;
use clerk_core::testing::{TestIssuer, publishable_key_for};
use tower::ServiceExt;

fn clerk(issuer: &TestIssuer) -> Clerk {
    Clerk::new(
        issuer
            .config()
            .publishable_key(publishable_key_for("clerk.test.invalid", true))
            .build()
            .unwrap(),
    )
    .unwrap()
}

/// (status, sorted headers) of a response.
type Seen = (u16, Vec<(String, String)>);

async fn axum_call(clerk: &Clerk, hits: &Arc<AtomicUsize>, req: http::Request<()>) -> Seen {
    let h = hits.clone();
    let app = axum::Router::new()
        .route(
            "/dashboard",
            axum::routing::get(move || {
                h.fetch_add(1, Ordering::SeqCst);
                async { "page" }
            }),
        )
        .layer(clerk_axum::ClerkLayer::new(clerk.clone()));
    let (parts, ()) = req.into_parts();
    let res = app
        .oneshot(http::Request::from_parts(parts, axum::body::Body::empty()))
        .await
        .unwrap();
    let mut headers: Vec<_> = res
        .headers()
        .iter()
        .filter(|(n, _)| *n != "content-length" && *n != "date")
        .map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_owned()))
        .collect();
    headers.sort();
    (res.status().as_u16(), headers)
}

async fn actix_call(clerk: &Clerk, hits: &Arc<AtomicUsize>, req: &http::Request<()>) -> Seen {
    let h = hits.clone();
    let app = actix_test::init_service(
        actix_web::App::new()
            .route(
                "/dashboard",
                actix_web::web::get().to(move || {
                    h.fetch_add(1, Ordering::SeqCst);
                    async { "page" }
                }),
            )
            .wrap(clerk_actix::ClerkMiddleware::new(clerk.clone())),
    )
    .await;
    let mut test = actix_test::TestRequest::get().uri(&req.uri().to_string());
    for (n, v) in req.headers() {
        test = test.append_header((n.as_str(), v.to_str().unwrap()));
    }
    let res = actix_test::call_service(&app, test.to_request()).await;
    let mut headers: Vec<_> = res
        .headers()
        .iter()
        .filter(|(n, _)| n.as_str() != "content-length" && n.as_str() != "date")
        .map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_owned()))
        .collect();
    headers.sort();
    (res.status().as_u16(), headers)
}

#[actix_web::test]
async fn an_expired_page_session_goes_through_the_handshake_in_both_adapters() {
    let issuer = TestIssuer::new();
    let clerk = clerk(&issuer);
    let expired = issuer.token().issued_at(1_000_000_000).build();
    let page = |cookie: String, dest: &str| {
        http::Request::get("/dashboard?tab=1")
            .header("host", "app.example.com")
            .header("sec-fetch-dest", dest)
            .header("cookie", cookie)
            .body(())
            .unwrap()
    };
    let hits = Arc::new(AtomicUsize::new(0));
    let req = page(
        format!("__client_uat=999999999; __session={expired}"),
        "document",
    );
    let axum = axum_call(&clerk, &hits, req.clone()).await;
    let actix = actix_call(&clerk, &hits, &req).await;
    assert_eq!(axum, actix, "byte-identical answers");
    assert_eq!(axum.0, 307);
    let header = |name: &str| {
        axum.1
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    assert!(header("location").unwrap().starts_with(
        "https://clerk.test.invalid/v1/client/handshake?redirect_url=https%3A%2F%2Fapp.example.com%2Fdashboard%3Ftab%3D1&"
    ));
    assert_eq!(
        header("x-clerk-auth-reason"),
        Some("session-token-expired-refresh-non-eligible-no-refresh-cookie")
    );
    assert_eq!(hits.load(Ordering::SeqCst), 0, "no handler ran");

    // The same cookie on an API request (fetch) reaches the handler
    // signed out, as before: the layer never rejects.
    let req = page(
        format!("__client_uat=999999999; __session={expired}"),
        "empty",
    );
    assert_eq!(axum_call(&clerk, &hits, req.clone()).await.0, 200);
    assert_eq!(actix_call(&clerk, &hits, &req).await.0, 200);
    assert_eq!(hits.load(Ordering::SeqCst), 2);

    // A valid session passes to the handler.
    let fresh = issuer.token().build();
    let req = page(
        format!("__client_uat=999999999; __session={fresh}"),
        "document",
    );
    assert_eq!(axum_call(&clerk, &hits, req.clone()).await.0, 200);
    assert_eq!(actix_call(&clerk, &hits, &req).await.0, 200);
    assert_eq!(hits.load(Ordering::SeqCst), 4);
}
