//! A full request through `ClerkLayer` + `ProtectLayer` over a trivial
//! service with a cached token, and route matching on its own.
//!
//! `cargo bench -p clerk-tower`
#![allow(clippy::unwrap_used, missing_docs)]

use std::convert::Infallible;
use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use clerk_core::testing::TestIssuer;
use clerk_core::{Clerk, Protect, Requirement, RouteMatcher};
use clerk_tower::{ClerkLayer, ProtectLayer};
use criterion::{Criterion, criterion_group, criterion_main};
use http::{Method, Request, Response};
use tower::{Service, ServiceBuilder, service_fn};

/// Cached tokens and local keys never suspend: one poll completes.
fn ready<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => unreachable!("nothing here suspends"),
    }
}

fn bench(c: &mut Criterion) {
    let patterns = [
        "/dashboard(.*)",
        "/api/admin(.*)",
        "/api/orgs/:id",
        "/api/orgs/:id/members/:member",
        "/docs/:path*",
        "/settings/(.*)",
    ];
    let matcher = RouteMatcher::new(patterns).unwrap();
    c.bench_function("routes/match_6_patterns", |b| {
        b.iter(|| {
            matcher
                .matches(
                    &Method::GET,
                    black_box("/api/orgs/org_2d3ZBq1J6gM0/members/user_1"),
                )
                .unwrap()
        })
    });
    c.bench_function("routes/miss_6_patterns", |b| {
        b.iter(|| {
            matcher
                .matches(&Method::GET, black_box("/api/public/feed"))
                .unwrap()
        })
    });

    let issuer = TestIssuer::new();
    let clerk = Clerk::new(issuer.config().build().unwrap()).unwrap();
    let token = issuer
        .token()
        .org("org_1", "acme", "admin")
        .permissions(["org:reports:read"])
        .build();
    let bearer = format!("Bearer {token}");
    let mut svc = ServiceBuilder::new()
        .layer(ClerkLayer::new(clerk))
        .layer(ProtectLayer::new(
            Protect::new(Requirement::role("org:admin"))
                .routes(RouteMatcher::new(["/api/admin(.*)"]).unwrap()),
        ))
        .service(service_fn(|_req: Request<String>| async {
            Ok::<_, Infallible>(Response::new(String::from("ok")))
        }));
    let request = || {
        Request::get("/api/admin/reports")
            .header("authorization", bearer.as_str())
            .body(String::new())
            .unwrap()
    };
    // Warm the verified-token cache.
    ready(svc.call(request())).unwrap();
    c.bench_function("tower/build_request_only", |b| {
        b.iter(|| black_box(request()))
    });
    c.bench_function("tower/clerk_and_protect_cached_token", |b| {
        b.iter(|| {
            let res = ready(svc.call(black_box(request()))).unwrap();
            assert_eq!(res.status(), 200);
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
