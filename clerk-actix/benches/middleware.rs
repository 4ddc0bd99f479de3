//! A full request through actix-web with `ClerkMiddleware` + `ClerkProtect`
//! and a cached token, next to the same app without them.
//!
//! `cargo bench -p clerk-actix`
#![allow(clippy::unwrap_used, missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use actix_web::{App, test, web};
use clerk_actix::{ClerkMiddleware, ClerkProtect, Requirement};
use clerk_core::Clerk;
use clerk_core::testing::TestIssuer;
use criterion::{Criterion, criterion_group, criterion_main};

fn bench(c: &mut Criterion) {
    let rt = actix_web::rt::System::new();
    let issuer = TestIssuer::new();
    let clerk = Clerk::new(issuer.config().build().unwrap()).unwrap();
    let bearer = format!(
        "Bearer {}",
        issuer.token().org("org_1", "acme", "admin").build()
    );
    let guarded = rt.block_on(test::init_service(
        App::new()
            .service(
                web::resource("/api/admin")
                    .wrap(ClerkProtect::requiring(Requirement::role("org:admin")))
                    .to(|| async { "ok" }),
            )
            .wrap(ClerkMiddleware::new(clerk)),
    ));
    let bare = rt.block_on(test::init_service(
        App::new().service(web::resource("/api/admin").to(|| async { "ok" })),
    ));
    let request = || {
        test::TestRequest::get()
            .uri("/api/admin")
            .insert_header(("authorization", bearer.as_str()))
            .to_request()
    };
    rt.block_on(async {
        assert!(
            test::call_service(&guarded, request())
                .await
                .status()
                .is_success()
        )
    });
    let mut g = c.benchmark_group("actix");
    g.bench_function("request_without_clerk", |b| {
        b.iter(|| rt.block_on(test::call_service(&bare, black_box(request()))))
    });
    g.bench_function("request_clerk_and_protect_cached_token", |b| {
        b.iter(|| rt.block_on(test::call_service(&guarded, black_box(request()))))
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
