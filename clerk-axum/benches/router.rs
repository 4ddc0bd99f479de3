//! A full request through an axum router with `ClerkLayer` + `protect()`
//! and a cached token, next to the same router without them.
//!
//! `cargo bench -p clerk-axum`
#![allow(clippy::unwrap_used, missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use clerk_axum::{ClerkLayer, Requirement, protect};
use clerk_core::Clerk;
use clerk_core::testing::TestIssuer;
use criterion::{Criterion, criterion_group, criterion_main};
use http::Request;
use tower::ServiceExt;

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let issuer = TestIssuer::new();
    let clerk = Clerk::new(issuer.config().build().unwrap()).unwrap();
    let bearer = format!(
        "Bearer {}",
        issuer.token().org("org_1", "acme", "admin").build()
    );
    let guarded: Router = Router::new()
        .route(
            "/api/admin",
            get(|| async { "ok" }).route_layer(protect(Requirement::role("org:admin"))),
        )
        .layer(ClerkLayer::new(clerk));
    let bare: Router = Router::new().route("/api/admin", get(|| async { "ok" }));
    let request = || {
        Request::get("/api/admin")
            .header("authorization", bearer.as_str())
            .body(Body::empty())
            .unwrap()
    };
    rt.block_on(async {
        assert!(
            guarded
                .clone()
                .oneshot(request())
                .await
                .unwrap()
                .status()
                .is_success()
        )
    });
    let mut g = c.benchmark_group("axum");
    g.bench_function("request_without_clerk", |b| {
        b.iter(|| {
            rt.block_on(bare.clone().oneshot(black_box(request())))
                .unwrap()
        })
    });
    g.bench_function("request_clerk_and_protect_cached_token", |b| {
        b.iter(|| {
            rt.block_on(guarded.clone().oneshot(black_box(request())))
                .unwrap()
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
