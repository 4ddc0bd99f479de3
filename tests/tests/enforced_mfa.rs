//! A requirement on the user's Backend API record (MFA enrolled) through
//! the adapters' slow path: axum's `protect()` and actix's `ClerkProtect`,
//! against the dev Backend API.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use actix_web::test;
use clerk_core::Requirement;
use clerk_examples::{AppState, DevMode};
use http_body_util::BodyExt;
use tower::ServiceExt;

fn token(state: &AppState, persona: &str) -> String {
    let dev = state.dev.clone().unwrap();
    dev.personas
        .iter()
        .find(|p| p.name == persona)
        .unwrap()
        .token
        .clone()
}

#[tokio::test]
async fn axum_protect_fetches_the_user_once() {
    let state = AppState::start_dev(DevMode::new(), "/sign-in".into())
        .await
        .unwrap();
    let app: axum::Router = axum::Router::new()
        .route(
            "/enforced",
            axum::routing::get(|| async { "ok" })
                .route_layer(clerk_axum::protect(Requirement::mfa_enrolled())),
        )
        .layer(clerk_axum::ClerkLayer::new(state.clerk.clone()));
    let call = |persona: &str| {
        let req = http::Request::get("/enforced")
            .header(
                "authorization",
                format!("Bearer {}", token(&state, persona)),
            )
            .body(axum::body::Body::empty())
            .unwrap();
        app.clone().oneshot(req)
    };
    assert_eq!(call("fresh-mfa").await.unwrap().status(), 200);
    let res = call("member").await.unwrap();
    assert_eq!(res.status(), 403);
    let body = res.into_body().collect().await.unwrap().to_bytes();
    assert!(String::from_utf8_lossy(&body).contains("requirement-not-met"));
    let backend = state.backend.clone().unwrap();
    let before = backend.calls();
    assert_eq!(call("fresh-mfa").await.unwrap().status(), 200);
    assert_eq!(backend.calls(), before, "the user record is cached");
}

#[actix_web::test]
async fn actix_protect_fetches_the_user() {
    use actix_web::{App, web};
    let state = AppState::start_dev(DevMode::new(), "/sign-in".into())
        .await
        .unwrap();
    let app = test::init_service(
        App::new()
            .service(
                web::resource("/enforced")
                    .wrap(clerk_actix::ClerkProtect::requiring(
                        Requirement::mfa_enrolled(),
                    ))
                    .to(|| async { "ok" }),
            )
            .wrap(clerk_actix::ClerkMiddleware::new(state.clerk.clone())),
    )
    .await;
    for (persona, status) in [("fresh-mfa", 200), ("member", 403), ("stale-mfa", 200)] {
        let req = test::TestRequest::get()
            .uri("/enforced")
            .insert_header((
                "authorization",
                format!("Bearer {}", token(&state, persona)),
            ))
            .to_request();
        assert_eq!(
            test::call_service(&app, req).await.status().as_u16(),
            status,
            "{persona}"
        );
    }
}

/// A decision or an authentication that had to wait (a user record, a
/// Backend API answer for an API key) and has resolved answers a further
/// poll with a refusal: never a panic, never the identity again.
#[tokio::test]
async fn finished_waiting_futures_polled_again_refuse() {
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll, Waker};
    let state = AppState::start_dev(DevMode::new(), "/sign-in".into())
        .await
        .unwrap();
    let mut cx = Context::from_waker(Waker::noop());

    let dev = state.dev.clone().unwrap();
    let mut headers = http::HeaderMap::new();
    headers.insert(
        "authorization",
        format!("Bearer {}", dev.api_key).parse().unwrap(),
    );
    let mut auth = state.clerk.authenticate(&headers);
    assert!(
        Pin::new(&mut auth).poll(&mut cx).is_pending(),
        "an API key waits for the Backend API"
    );
    let first = (&mut auth).await;
    assert!(matches!(first, clerk_core::Auth::Machine(_)), "{first:?}");
    match Pin::new(&mut auth).poll(&mut cx) {
        Poll::Ready(again) => assert!(matches!(again, clerk_core::Auth::SignedOut(_)), "{again:?}"),
        Poll::Pending => panic!("a finished authentication answers at once"),
    }

    let headers = http::HeaderMap::new();
    let session = state
        .clerk
        .authenticate(&{
            let mut h = http::HeaderMap::new();
            h.insert(
                "authorization",
                format!("Bearer {}", token(&state, "fresh-mfa"))
                    .parse()
                    .unwrap(),
            );
            h
        })
        .await;
    let protect = clerk_core::Protect::new(Requirement::mfa_enrolled());
    let mut decision = protect.decide("GET", "/enforced", &headers, &session);
    assert!(
        Pin::new(&mut decision).poll(&mut cx).is_pending(),
        "the user record is fetched"
    );
    assert!((&mut decision).await.is_ok());
    match Pin::new(&mut decision).poll(&mut cx) {
        Poll::Ready(again) => assert_eq!(again.unwrap_err().status(), 403),
        Poll::Pending => panic!("a finished decision answers at once"),
    }
}
