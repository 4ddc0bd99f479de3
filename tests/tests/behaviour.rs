//! The behaviour table against the tower layers alone and against the axum
//! example app; both must pass it and answer identically.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::result_large_err,
    missing_docs
)]

use std::convert::Infallible;

use clerk_core::{Auth, Protect, Refusal};
use clerk_examples::{AppState, app};
use clerk_tests::{AxumTarget, Target, dev_state, run_table};
use clerk_tower::{ClerkLayer, ProtectLayer};
use http::{Method, Request, Response, StatusCode};
use tower::{Layer, ServiceBuilder, ServiceExt, service_fn};

/// The same route table with tower layers and a hand-written dispatcher
/// only: no axum.
struct TowerTarget(AppState);

fn json(status: StatusCode, v: &impl serde::Serialize) -> Response<String> {
    let mut r = Response::new(serde_json::to_string(v).unwrap());
    *r.status_mut() = status;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    r
}

fn empty(status: StatusCode) -> Response<String> {
    let mut r = Response::new(String::new());
    *r.status_mut() = status;
    r
}

async fn dispatch(state: AppState, req: Request<String>) -> Result<Response<String>, Infallible> {
    let auth = req.extensions().get::<Auth>().cloned().unwrap();
    let path = req.uri().path().to_owned();
    let session = || {
        auth.require_session()
            .cloned()
            .map_err(Refusal::into_response::<String>)
    };
    if let Some(guard) = app::guards().into_iter().find(|g| g.path == path) {
        // The guard judges every method of the path; only a caller it lets
        // through learns that the method is not served.
        let method = guard.method;
        let handler = service_fn(move |req: Request<String>| {
            let path = path.clone();
            async move {
                if req.method().as_str() != method {
                    return Ok(empty(StatusCode::METHOD_NOT_ALLOWED));
                }
                let auth = req.extensions().get::<Auth>().cloned().unwrap();
                let s = auth.session().unwrap().clone();
                Ok::<_, Infallible>(json(StatusCode::OK, &app::allowed_json(&path, &s)))
            }
        });
        return ProtectLayer::new(Protect::new(guard.requirement))
            .layer(handler)
            .oneshot(req)
            .await;
    }
    if req.method() != Method::GET {
        return Ok(empty(StatusCode::METHOD_NOT_ALLOWED));
    }
    if path == "/api/machine" {
        let handler = service_fn(|req: Request<String>| async move {
            let auth = req.extensions().get::<Auth>().cloned().unwrap();
            let m = auth.machine().unwrap().clone();
            Ok::<_, Infallible>(json(StatusCode::OK, &app::machine_json(&m)))
        });
        return ProtectLayer::new(state.machine_protect())
            .layer(handler)
            .oneshot(req)
            .await;
    }
    if path == "/api/me/profile" {
        return Ok(match session() {
            Ok(s) => match s.user().await {
                Ok(u) => json(StatusCode::OK, &app::profile_json(&u)),
                Err(e) => Refusal::user_lookup(&e).into_response(),
            },
            Err(r) => r,
        });
    }
    Ok(match path.as_str() {
        "/health" => json(StatusCode::OK, &state.health()),
        "/api/public" => json(StatusCode::OK, &app::public_json(&auth)),
        "/api/me" => match session() {
            Ok(s) => json(StatusCode::OK, &app::session_json(&s)),
            Err(r) => r,
        },
        p if p == "/dashboard" || p.starts_with("/dashboard/") => match session() {
            Ok(s) => Response::new(format!("dashboard {}", s.user_id())),
            Err(r) => r,
        },
        _ => empty(StatusCode::NOT_FOUND),
    })
}

impl Target for TowerTarget {
    async fn send(&self, req: Request<String>) -> Response<String> {
        let state = self.0.clone();
        let svc = ServiceBuilder::new()
            .layer(ClerkLayer::new(state.clerk.clone()))
            .layer(ProtectLayer::new(state.dashboard_protect()))
            .service(service_fn(move |req| dispatch(state.clone(), req)));
        svc.oneshot(req).await.unwrap()
    }
}

#[tokio::test]
async fn tower_layers_pass_the_table() {
    let state = dev_state().await;
    let dev = state.dev.clone().unwrap();
    run_table(&TowerTarget(state), &dev).await;
}

#[tokio::test]
async fn axum_app_passes_the_table_and_matches_tower() {
    let state = dev_state().await;
    let dev = state.dev.clone().unwrap();
    let axum_outcomes = run_table(
        &AxumTarget(clerk_examples::axum_app::router(state.clone())),
        &dev,
    )
    .await;
    let tower_outcomes = run_table(&TowerTarget(state), &dev).await;
    for (a, t) in axum_outcomes.iter().zip(&tower_outcomes) {
        assert_eq!(a, t, "axum and tower differ");
    }
}

#[tokio::test]
async fn extractors_without_the_layer_are_a_clear_500() {
    use axum::routing::get;
    let app: axum::Router = axum::Router::new()
        .route(
            "/me",
            get(|s: clerk_axum::Session| async move { s.user_id().to_owned() }),
        )
        .route(
            "/guarded",
            get(|| async { "x" })
                .route_layer(clerk_axum::protect(clerk_core::Requirement::signed_in())),
        );
    for path in ["/me", "/guarded"] {
        let res = AxumTarget(app.clone())
            .send(Request::get(path).body(String::new()).unwrap())
            .await;
        assert_eq!(res.status(), 500, "{path}");
        assert!(res.body().contains("clerk-layer-missing"), "{path}");
    }
}

#[tokio::test]
async fn hostile_headers_never_panic() {
    let state = dev_state().await;
    let app = clerk_examples::axum_app::router(state);
    let target = AxumTarget(app);
    let long = "a".repeat(20_000);
    let many_cookies: String = (0..2000).map(|i| format!("c{i}=v; ")).collect();
    let cases: Vec<Request<String>> = vec![
        Request::get("/api/me")
            .header(
                "authorization",
                http::HeaderValue::from_bytes(b"Bearer \xff\xfe").unwrap(),
            )
            .body(String::new())
            .unwrap(),
        Request::get("/api/me")
            .header("authorization", format!("Bearer {long}"))
            .body(String::new())
            .unwrap(),
        Request::get("/api/me")
            .header("authorization", "Bearer a")
            .header("authorization", "Bearer b")
            .body(String::new())
            .unwrap(),
        Request::get("/api/me")
            .header("cookie", many_cookies)
            .body(String::new())
            .unwrap(),
        Request::get("/api/me")
            .header(
                "cookie",
                http::HeaderValue::from_bytes(b"__session=\xc3\x28").unwrap(),
            )
            .body(String::new())
            .unwrap(),
    ];
    for req in cases {
        let res = target.send(req).await;
        assert_eq!(res.status(), 401);
    }
}
