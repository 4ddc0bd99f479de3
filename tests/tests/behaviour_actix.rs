//! The same behaviour table against the actix example app, and a check that
//! actix and axum answer byte-identically (status, challenge, location,
//! JSON body) on every row.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use actix_web::test;
use clerk_tests::{ActixTarget, AxumTarget, Target, dev_state, run_table};
use http::Request;

#[actix_web::test]
async fn actix_app_passes_the_table_and_matches_axum_byte_for_byte() {
    let state = dev_state().await;
    let dev = state.dev.clone().unwrap();
    let actix = test::init_service(clerk_examples::actix_app::app(state.clone())).await;
    let actix_outcomes = run_table(&ActixTarget(actix), &dev).await;
    let axum_outcomes = run_table(&AxumTarget(clerk_examples::axum_app::router(state)), &dev).await;
    assert_eq!(actix_outcomes.len(), axum_outcomes.len());
    for (a, x) in actix_outcomes.iter().zip(&axum_outcomes) {
        assert_eq!(a, x, "actix and axum differ");
    }
}

#[actix_web::test]
async fn hostile_input_never_panics_a_worker() {
    let state = dev_state().await;
    let dev = state.dev.clone().unwrap();
    let app = test::init_service(clerk_examples::actix_app::app(state)).await;
    let target = ActixTarget(app);
    let long = "a".repeat(20_000);
    let many_cookies: String = (0..2000).map(|i| format!("c{i}=v; ")).collect();
    let raw = |name: &str, value: &[u8]| {
        Request::get("/api/me")
            .header(name, http::HeaderValue::from_bytes(value).unwrap())
            .body(String::new())
            .unwrap()
    };
    let cases = vec![
        raw("authorization", b"Bearer \xff\xfe"),
        raw("authorization", format!("Bearer {long}").as_bytes()),
        Request::get("/api/me")
            .header("authorization", "Bearer a")
            .header("authorization", "Bearer b")
            .body(String::new())
            .unwrap(),
        raw("cookie", many_cookies.as_bytes()),
        raw("cookie", b"__session=\xc3\x28"),
    ];
    for req in cases {
        assert_eq!(target.send(req).await.status(), 401);
    }
    for path in ["/dashboard/%zz", "/dashboard/%", "/dashboard/%ff%fe"] {
        let req = Request::get(path)
            .header("authorization", format!("Bearer {}", dev.personas[0].token))
            .body(String::new())
            .unwrap();
        assert_eq!(target.send(req).await.status(), 400, "{path}");
    }
    // The worker still serves normal requests afterwards.
    let ok = Request::get("/health").body(String::new()).unwrap();
    assert_eq!(target.send(ok).await.status(), 200);
}

#[actix_web::test]
async fn extractors_and_protect_without_the_middleware_are_a_clear_500() {
    use actix_web::{App, web};
    use clerk_actix::{ClerkProtect, Requirement, Session};
    let app = test::init_service(
        App::new()
            .route(
                "/me",
                web::get().to(|s: Session| async move { s.user_id().to_owned() }),
            )
            .service(
                web::resource("/guarded")
                    .wrap(ClerkProtect::requiring(Requirement::signed_in()))
                    .to(|| async { "x" }),
            ),
    )
    .await;
    let target = ActixTarget(app);
    for path in ["/me", "/guarded"] {
        let res = target
            .send(Request::get(path).body(String::new()).unwrap())
            .await;
        assert_eq!(res.status(), 500, "{path}");
        assert!(res.body().contains("clerk-layer-missing"), "{path}");
    }
}
