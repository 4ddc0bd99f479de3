//! Remote key sets: a verification whose key is in the key cache, against
//! one that must wait for a fetch from a local key endpoint (loopback HTTP).
//!
//! `cargo bench -p clerk-core --features testing --bench jwks`
#![allow(clippy::unwrap_used, missing_docs)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use clerk_core::clock::{Clock, ManualClock};
use clerk_core::testing::{JwksServer, Reply, TEST_ISSUER, TestIssuer};
use clerk_core::{Clerk, ClerkConfig};
use criterion::{Criterion, criterion_group, criterion_main};

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let issuer = TestIssuer::new();
    let server = rt
        .block_on(JwksServer::start(Reply::Json(issuer.jwks_json())))
        .unwrap();
    let clock = Arc::new(ManualClock::new(1_750_000_000));
    let verifier = Clerk::new(
        ClerkConfig::builder()
            .secret_key("sk_test_your_clerk_key_here")
            .api_url(server.base_url())
            .issuer(TEST_ISSUER)
            .token_cache_capacity(0)
            .clock(clock.clone())
            .build()
            .unwrap(),
    )
    .unwrap();
    rt.block_on(verifier.prefetch()).unwrap();
    // Long-lived token so that moving the clock by a TTL keeps it valid.
    let token = issuer
        .token()
        .issued_at(clock.now_unix())
        .ttl(100 * 365 * 24 * 3600)
        .build();

    let mut g = c.benchmark_group("remote_keys");
    g.bench_function("key_cache_hit", |b| {
        b.iter(|| rt.block_on(verifier.verify(black_box(&token))).unwrap())
    });
    g.measurement_time(Duration::from_secs(6));
    g.bench_function("wait_for_fetch", |b| {
        b.iter(|| {
            // Past the TTL: this request refreshes the set inline.
            clock.advance(3600);
            rt.block_on(verifier.verify(black_box(&token))).unwrap()
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    targets = bench
}
criterion_main!(benches);
